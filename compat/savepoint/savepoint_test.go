package savepoint_test

import (
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/flinkplane/flinkplane/compat/savepoint"
)

// The vectors are real savepoints taken by compat/testdata/gen-savepoints.sh
// on Flink 1.20.5 (metadata version 4) and 2.2.1 (version 6).
const vectors = "../testdata/savepoints"

func readMetadata(tb testing.TB, name string) []byte {
	tb.Helper()
	b, err := os.ReadFile(filepath.Join(vectors, name, "_metadata"))
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func TestParseMetadata_Flink120(t *testing.T) {
	md, err := savepoint.ParseMetadata(readMetadata(t, "pojo-list-1.20"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := md.Version, 4; got != want {
		t.Errorf("Version = %d, want %d", got, want)
	}
	if got, want := len(md.Operators), 4; got != want {
		t.Fatalf("%d operators, want %d", got, want)
	}
	// Flink derives operator ids from uids with murmur3_128.
	var keyed *savepoint.Operator
	for _, op := range md.Operators {
		if op.ID == savepoint.OperatorIDForUID("pojo-state") {
			keyed = op
		}
	}
	if keyed == nil {
		t.Fatalf("no operator with the id of uid pojo-state (%s)", savepoint.OperatorIDForUID("pojo-state"))
	}
	if len(keyed.Subtasks) != 1 || keyed.Subtasks[0].ManagedKeyed == nil {
		t.Fatalf("pojo-state has no keyed state: %+v", keyed.Subtasks)
	}
	h := keyed.Subtasks[0].ManagedKeyed
	if h.Stream == nil || h.Stream.Data == nil || len(h.Offsets) != int(keyed.MaxParallelism) {
		t.Fatalf("keyed handle %+v: want inline data and one offset per key group", h)
	}
	p, err := savepoint.ParseKeyedProxy(h.Stream.Data)
	if err != nil {
		t.Fatal(err)
	}
	if p.Scanned {
		t.Error("proxy needed the string-scan fallback")
	}
	var state *savepoint.StateMeta
	for _, s := range p.States {
		if s.Name == "key-state" {
			state = s
		}
	}
	if state == nil {
		t.Fatalf("no key-state in %+v", p.States)
	}
	v := state.Serializers["VALUE_SERIALIZER"]
	if v == nil || v.Class != savepoint.PojoSnapshot || v.TypeClass != "dev.flinkplane.fixtures.pojolist.KeyState" {
		t.Fatalf("VALUE_SERIALIZER = %+v", v)
	}
	fields := map[string]*savepoint.Snapshot{}
	for _, f := range v.Fields {
		fields[f.Name] = f.Snapshot
	}
	if s := fields["recent"]; s == nil || s.Class != savepoint.KryoSnapshot || s.TypeClass != "java.util.List" {
		t.Errorf("field recent = %+v, want Kryo of java.util.List", s)
	}
	if s := fields["count"]; s == nil || s.Class == savepoint.KryoSnapshot {
		t.Errorf("field count = %+v", s)
	}
}

func TestParseMetadata_Flink22(t *testing.T) {
	md, err := savepoint.ParseMetadata(readMetadata(t, "counter-2.2"))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := md.Version, 6; got != want {
		t.Errorf("Version = %d, want %d", got, want)
	}
	uids := map[string]string{}
	for _, op := range md.Operators {
		uids[op.UID] = op.ID
	}
	if id, ok := uids["count-per-key"]; !ok || id != savepoint.OperatorIDForUID("count-per-key") {
		t.Errorf("uids = %v, want count-per-key with id %s", uids, savepoint.OperatorIDForUID("count-per-key"))
	}
}

func TestParseMetadata_RelativeFiles(t *testing.T) {
	md, err := savepoint.ParseMetadata(readMetadata(t, "pojo-list-1.20-files"))
	if err != nil {
		t.Fatal(err)
	}
	var rel int
	for _, op := range md.Operators {
		for _, st := range op.Subtasks {
			if st.ManagedKeyed != nil && st.ManagedKeyed.Stream != nil && st.ManagedKeyed.Stream.Relative != "" {
				rel++
			}
		}
	}
	if rel == 0 {
		t.Error("no keyed state in relative files")
	}
}

func TestParseMetadata_Malformed(t *testing.T) {
	for _, name := range []string{"pojo-list-1.20", "counter-2.2", "pojo-list-1.20-files"} {
		b := readMetadata(t, name)
		for n := 0; n < len(b); n++ {
			savepoint.ParseMetadata(b[:n]) // must not panic
		}
	}
	if _, err := savepoint.ParseMetadata([]byte{0x49, 0x60, 0x67, 0x2d, 0, 0, 0, 9}); !errors.Is(err, savepoint.ErrUnsupportedVersion) {
		t.Errorf("version 9: %v, want ErrUnsupportedVersion", err)
	}
	if _, err := savepoint.ParseMetadata([]byte("not a savepoint")); !errors.Is(err, savepoint.ErrMalformed) {
		t.Errorf("garbage: %v, want ErrMalformed", err)
	}
}

func TestParseKeyedProxy_Truncated(t *testing.T) {
	md, err := savepoint.ParseMetadata(readMetadata(t, "pojo-list-1.20"))
	if err != nil {
		t.Fatal(err)
	}
	for _, op := range md.Operators {
		for _, st := range op.Subtasks {
			if h := st.ManagedKeyed; h != nil && h.Stream != nil && h.Stream.Data != nil {
				hdr := h.Stream.Data[:min(len(h.Stream.Data), 4096)]
				for n := range len(hdr) {
					savepoint.ParseKeyedProxy(hdr[:n]) // must not panic
				}
			}
		}
	}
}

func TestScanClassNames(t *testing.T) {
	b := []byte{0, 0, 0, 5, 'h', 'e', 'l', 'l', 'o', 0, 16}
	b = append(b, "java.util.List.x"...)
	got := savepoint.ScanClassNames(b)
	if len(got) != 1 || got[0] != "java.util.List.x" {
		t.Errorf("ScanClassNames = %q", got)
	}
}

// TestKryoRegistrations: a real Kryo snapshot (kryo-generic, Flink 1.20)
// records its type and Flink's serializer placeholder for Avro.
func TestKryoRegistrations(t *testing.T) {
	b, err := os.ReadFile("../testdata/savepoints/kryo-generic-1.20/_metadata")
	if err != nil {
		t.Fatal(err)
	}
	md, err := savepoint.ParseMetadata(b)
	if err != nil {
		t.Fatal(err)
	}
	var kryo *savepoint.Snapshot
	for _, op := range md.Operators {
		for _, st := range op.Subtasks {
			if h := st.ManagedKeyed; h != nil && h.Stream != nil && h.Stream.Data != nil {
				p, err := savepoint.ParseKeyedProxy(h.Stream.Data)
				if err != nil {
					t.Fatal(err)
				}
				for _, s := range p.States {
					if v := s.Serializers["VALUE_SERIALIZER"]; v != nil && v.Class == savepoint.KryoSnapshot {
						kryo = v
					}
				}
			}
		}
	}
	if kryo == nil || kryo.Kryo == nil {
		t.Fatal("no Kryo snapshot decoded")
	}
	regs := kryo.Kryo.Registrations
	if len(regs) != 2 || regs[0].Class != "dev.flinkplane.fixtures.kryogeneric.Tally" || regs[0].Serializer != "" ||
		regs[1].Class != "org.apache.avro.generic.GenericData$Array" || regs[1].Serializer != savepoint.DummyAvroSerializer {
		t.Errorf("registrations %+v", regs)
	}
	if len(kryo.Kryo.DefaultSerializers)+len(kryo.Kryo.DefaultSerializerClasses) != 0 {
		t.Errorf("default serializers %+v", kryo.Kryo)
	}
}
