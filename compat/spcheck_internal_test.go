package compat

import (
	"testing"

	"github.com/flinkplane/flinkplane/compat/savepoint"
)

func TestStateFindings(t *testing.T) {
	kryo := func(typ string) *savepoint.Snapshot {
		return &savepoint.Snapshot{Class: savepoint.KryoSnapshot, TypeClass: typ}
	}
	sers := map[string]*savepoint.Snapshot{
		"VALUE_SERIALIZER": {Class: savepoint.PojoSnapshot, TypeClass: "com.example.Event", Fields: []savepoint.PojoField{
			{Name: "tags", Snapshot: kryo("java.util.Map")},
			{Name: "payload", Snapshot: kryo("com.example.Payload")},
			{Name: "count", Snapshot: &savepoint.Snapshot{Class: "org.apache.flink.api.common.typeutils.base.LongSerializer$LongSerializerSnapshot"}},
		}},
		"USER_KEY_SERIALIZER": {Class: "org.apache.flink.api.common.typeutils.base.ListSerializerSnapshot", Nested: []*savepoint.Snapshot{kryo("java.util.UUID")}},
	}
	got := map[string]string{}
	for _, f := range stateFindings("operator x", "s", sers) {
		got[f.Symbol] = f.Code
	}
	want := map[string]string{
		"tags: java.util.Map":          CodePojoCollection,
		"payload: com.example.Payload": CodeKryoState,
		"java.util.UUID":               CodeKryoState,
	}
	if len(got) != len(want) {
		t.Fatalf("findings %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
}
