package savepoint_test

import (
	"testing"

	"github.com/flinkplane/flinkplane/compat/savepoint"
)

// FuzzParseMetadata: malformed _metadata returns an error, never panics.
func FuzzParseMetadata(f *testing.F) {
	for _, n := range []string{"pojo-list-1.20", "counter-2.2", "pojo-list-1.20-files"} {
		f.Add(readMetadata(f, n))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		md, err := savepoint.ParseMetadata(b)
		if err != nil {
			return
		}
		for _, op := range md.Operators {
			for _, st := range op.Subtasks {
				if h := st.ManagedKeyed; h != nil && h.Stream != nil && h.Stream.Data != nil {
					savepoint.ParseKeyedProxy(h.Stream.Data)
				}
				if h := st.ManagedOp; h != nil && h.Stream != nil && h.Stream.Data != nil {
					savepoint.ParseOperatorProxy(h.Stream.Data)
				}
			}
		}
	})
}

// FuzzParseKeyedProxy: malformed serializer snapshots (deep nesting, huge
// counts) return an error or fall back to the string scan, never panic.
func FuzzParseKeyedProxy(f *testing.F) {
	md, err := savepoint.ParseMetadata(readMetadata(f, "pojo-list-1.20"))
	if err != nil {
		f.Fatal(err)
	}
	for _, op := range md.Operators {
		for _, st := range op.Subtasks {
			if h := st.ManagedKeyed; h != nil && h.Stream != nil && h.Stream.Data != nil {
				f.Add(h.Stream.Data)
			}
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := savepoint.ParseKeyedProxy(b)
		if err != nil {
			return
		}
		for _, s := range p.States {
			for _, snap := range s.Serializers {
				snap.Walk(func([]string, *savepoint.Snapshot) {})
			}
		}
	})
}
