package compat

import (
	"context"
	"encoding/binary"
	"testing"

	"github.com/flinkplane/flinkplane"
)

// classWriter assembles minimal class files for tests.
type classWriter struct {
	pool  []byte
	count uint16
	idx   map[string]uint16
}

func newClassWriter() *classWriter { return &classWriter{count: 1, idx: map[string]uint16{}} }

func (w *classWriter) add(key string, entry []byte) uint16 {
	if i, ok := w.idx[key]; ok {
		return i
	}
	i := w.count
	w.count++
	w.pool = append(w.pool, entry...)
	w.idx[key] = i
	return i
}

func u2(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }

func (w *classWriter) utf8(s string) uint16 {
	return w.add("u:"+s, append(append([]byte{1}, u2(uint16(len(s)))...), s...))
}

func (w *classWriter) class(name string) uint16 {
	n := w.utf8(name)
	return w.add("c:"+name, append([]byte{7}, u2(n)...))
}

func (w *classWriter) methodref(owner, name, desc string) uint16 {
	o := w.class(owner)
	nt := w.add("nt:"+name+desc, append(append([]byte{12}, u2(w.utf8(name))...), u2(w.utf8(desc))...))
	return w.add("m:"+owner+name+desc, append(append([]byte{10}, u2(o)...), u2(nt)...))
}

type testMethod struct {
	name, desc string
	code       func(w *classWriter) []byte // nil: abstract
}

// classFile returns a Java 11 class file.
func classFile(name, super string, methods ...testMethod) []byte {
	w := newClassWriter()
	this, sup := w.class(name), w.class(super)
	codeAttr := w.utf8("Code")
	var body []byte
	body = append(body, 0, 0x21) // public super
	body = append(body, u2(this)...)
	body = append(body, u2(sup)...)
	body = append(body, 0, 0) // interfaces
	body = append(body, 0, 0) // fields
	body = append(body, u2(uint16(len(methods)))...)
	for _, m := range methods {
		body = append(body, 0, 1) // public
		body = append(body, u2(w.utf8(m.name))...)
		body = append(body, u2(w.utf8(m.desc))...)
		if m.code == nil {
			body = append(body, 0, 0)
			continue
		}
		code := m.code(w)
		body = append(body, 0, 1)
		body = append(body, u2(codeAttr)...)
		body = binary.BigEndian.AppendUint32(body, uint32(12+len(code)))
		body = append(body, 0, 4, 0, 4) // max stack, max locals
		body = binary.BigEndian.AppendUint32(body, uint32(len(code)))
		body = append(body, code...)
		body = append(body, 0, 0, 0, 0) // exception table, attributes
	}
	body = append(body, 0, 0) // class attributes
	out := []byte{0xca, 0xfe, 0xba, 0xbe, 0, 0, 0, 55}
	out = append(out, u2(w.count)...)
	out = append(out, w.pool...)
	return append(out, body...)
}

// TestScanJar_PooledReferenceAttributed: a class without Flink constants is
// checked from its constant pool (its bytecode is not walked), yet an
// unresolved call through a user class onto a Flink supertype is still
// reported and attributed to the method that makes it.
func TestScanJar_PooledReferenceAttributed(t *testing.T) {
	base := "org/apache/flink/api/Base"
	ix := &Index{Runtime: flinkplane.RuntimeFlink22, Classes: map[string]*ClassInfo{
		base: {Super: "java/lang/Object", Methods: map[string]uint16{"kept()V": 1}, Fields: map[string]uint16{}},
	}}
	call := func(name string) func(w *classWriter) []byte {
		return func(w *classWriter) []byte {
			r := w.methodref("app/Job", name, "()V")
			return append(append([]byte{0x2a, 0xb6}, u2(r)...), 0xb1) // aload_0; invokevirtual; return
		}
	}
	p := writeJar(t, map[string][]byte{
		"META-INF/MANIFEST.MF": []byte("Manifest-Version: 1.0\nMain-Class: app.Main\n"),
		// Job extends the Flink class: its constants name Flink.
		"app/Job.class": classFile("app/Job", base),
		// Main names no Flink class at all.
		"app/Main.class": classFile("app/Main", "java/lang/Object",
			testMethod{name: "first", desc: "()V", code: call("kept")},
			testMethod{name: "second", desc: "()V", code: call("gone")},
			testMethod{name: "third", desc: "()V", code: call("gone")}),
	})
	rep, err := ScanJar(context.Background(), p, ix)
	if err != nil {
		t.Fatal(err)
	}
	var got []flinkplane.Finding
	for _, f := range rep.Findings {
		if f.Code == CodeUnresolvedMethod {
			got = append(got, f)
		}
	}
	if len(got) != 1 {
		t.Fatalf("unresolved methods %+v, want one (app.Job#gone from app.Main.second)", got)
	}
	if f := got[0]; f.Class != "app.Main" || f.Method != "second()" || f.Symbol != "app.Job#gone()" {
		t.Errorf("finding %+v, want class app.Main, method second(), symbol app.Job#gone()", f)
	}
	if rep.Summary.Classes != 2 {
		t.Errorf("%d classes checked, want 2", rep.Summary.Classes)
	}
}
