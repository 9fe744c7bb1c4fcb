package compat

import (
	"strings"
	"testing"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat/savepoint"
)

// TestStateFindings: the verdicts of Kryo-serialized 1.x state on 2.x, as
// Flink 2.2 behaves (see testdata/apps/kryo-generic, pojo-list, pojo-map).
func TestStateFindings(t *testing.T) {
	kryo := func(typ string) *savepoint.Snapshot {
		return &savepoint.Snapshot{Class: savepoint.KryoSnapshot, TypeClass: typ, Kryo: &savepoint.KryoConfig{
			Registrations: []savepoint.KryoRegistration{{Class: typ}, {Class: "org.apache.avro.generic.GenericData$Array", Serializer: savepoint.DummyAvroSerializer}},
		}}
	}
	custom := kryo("com.example.Money")
	custom.Kryo.DefaultSerializerClasses = []string{"com.example.Money"}
	sers := map[string]*savepoint.Snapshot{
		"VALUE_SERIALIZER": {Class: savepoint.PojoSnapshot, TypeClass: "com.example.Event", Fields: []savepoint.PojoField{
			{Name: "tags", Snapshot: kryo("java.util.Map")},
			{Name: "ids", Snapshot: kryo("java.util.List")},
			{Name: "more", Snapshot: kryo("java.util.ArrayList")},
			{Name: "payload", Snapshot: kryo("com.example.Payload")},
			{Name: "price", Snapshot: custom},
			{Name: "count", Snapshot: &savepoint.Snapshot{Class: "org.apache.flink.api.common.typeutils.base.LongSerializer$LongSerializerSnapshot"}},
		}},
		"USER_KEY_SERIALIZER": {Class: "org.apache.flink.api.common.typeutils.base.ListSerializerSnapshot", Nested: []*savepoint.Snapshot{kryo("java.util.UUID")}},
		"KEY_SERIALIZER":      kryo("java.util.Set"),
	}
	got := map[string]flinkplane.Finding{}
	for _, f := range stateFindings(`operator uid "x"`, "s", sers) {
		got[f.Symbol] = f
	}
	want := map[string]string{ // symbol -> severity code
		"tags: java.util.Map":          "ERROR " + CodePojoCollection,
		"ids: java.util.List":          "ERROR " + CodePojoCollection,
		"more: java.util.ArrayList":    "WARNING " + CodeKryoState, // 2.x keeps Kryo for implementations
		"payload: com.example.Payload": "WARNING " + CodeKryoState,
		"price: com.example.Money":     "WARNING " + CodeKryoState,
		"java.util.UUID":               "WARNING " + CodeKryoState,
		"java.util.Set":                "WARNING " + CodeKryoState,
	}
	if len(got) != len(want) {
		t.Fatalf("findings %v, want %v", got, want)
	}
	for k, v := range want {
		if f := got[k]; f.Severity+" "+f.Code != v {
			t.Errorf("%s: %s %s, want %s", k, f.Severity, f.Code, v)
		}
	}
	if m := got["tags: java.util.Map"].Message; !strings.Contains(m, `Restoring the state of operator uid "x" fails`) || !strings.Contains(m, `field "tags"`) || !strings.Contains(m, "com.example.Event") {
		t.Errorf("POJO map message %q: want the operator, the field and the POJO class", m)
	}
	if m := got["price: com.example.Money"].Message; !strings.Contains(m, "a default serializer class for com.example.Money") {
		t.Errorf("custom serializer message %q: want the registered serializer", m)
	}
	if m := got["java.util.UUID"].Message; strings.Contains(m, "registers Kryo serializers") {
		t.Errorf("Flink's Avro placeholder counted as a custom serializer: %q", m)
	}
	if m := got["java.util.Set"].Message; !strings.Contains(m, "RocksDB") || !strings.Contains(m, "Set<…> with a TypeHint") {
		t.Errorf("key message %q: want the RocksDB note and the TypeHint note", m)
	}
}
