package compat

import (
	"bytes"
	"testing"

	"github.com/flinkplane/flinkplane"
)

func TestIndexCache_RoundTrip(t *testing.T) {
	ix := &Index{Runtime: flinkplane.RuntimeFlink22, FlinkVersion: "2.2.1", Key: "k", HasScala: true, Classes: map[string]*ClassInfo{
		"org/apache/flink/A": {Access: 1, Super: "java/lang/Object", Interfaces: []string{"org/apache/flink/I"},
			Methods: map[string]uint16{"run(Lorg/apache/flink/A;)V": 1, "<init>()V": 1}, Fields: map[string]uint16{"x:J": 2}},
		"org/apache/flink/I": {Access: 0x601, Methods: map[string]uint16{}, Fields: map[string]uint16{}},
	}}
	var b bytes.Buffer
	if err := writeIndexTo(&b, ix); err != nil {
		t.Fatal(err)
	}
	got, err := readIndexFrom(b.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	if got.Runtime != ix.Runtime || got.FlinkVersion != "2.2.1" || got.Key != "k" || !got.HasScala || len(got.Classes) != 2 {
		t.Fatalf("read %+v", got)
	}
	a := got.Class("org/apache/flink/A")
	if a.Super != "java/lang/Object" || len(a.Interfaces) != 1 || a.Interfaces[0] != "org/apache/flink/I" || a.Access != 1 ||
		!a.HasMethod("run(Lorg/apache/flink/A;)V") || !a.HasMethod("<init>()V") || !a.HasField("x:J") || a.HasMethod("x:J") {
		t.Errorf("class A %+v", a)
	}
	if i := got.Class("org/apache/flink/I"); i.Super != "" || i.Access != 0x601 {
		t.Errorf("class I %+v", i)
	}
	for n := range b.Len() {
		if _, err := readIndexFrom(b.Bytes()[:n]); err == nil {
			t.Fatalf("truncated at %d: no error", n)
		}
	}
}

// FuzzIndexCache: a damaged cache file is an error (the index is then
// built again), never a crash.
func FuzzIndexCache(f *testing.F) {
	var b bytes.Buffer
	writeIndexTo(&b, &Index{Key: "k", Classes: map[string]*ClassInfo{"org/apache/flink/A": {Super: "x", Methods: map[string]uint16{"m()V": 1}}}})
	f.Add(b.Bytes())
	f.Fuzz(func(t *testing.T, data []byte) {
		if ix, err := readIndexFrom(data); err == nil {
			for _, c := range ix.Classes {
				c.HasMethod("m()V")
			}
		}
	})
}
