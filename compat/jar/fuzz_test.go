package jar_test

import (
	"bytes"
	"testing"

	"github.com/flinkplane/flinkplane/compat/jar"
)

// FuzzReader: malformed archives return errors, never panic; zip bombs and
// oversized entries stop at the limits.
func FuzzReader(f *testing.F) {
	inner := makeZip(f, entry{name: "a/B.class", data: []byte("cafebabe")})
	f.Add(makeZip(f,
		entry{name: "META-INF/MANIFEST.MF", data: []byte("Main-Class: x\n")},
		entry{name: "META-INF/maven/g/a/pom.properties", data: []byte("version=1-1.20\n")},
		entry{name: "META-INF/versions/11/a/B.class", data: []byte("x")},
		entry{name: "lib/in.jar", data: inner, store: true},
	))
	f.Add(makeZip(f, entry{name: "z.class", data: make([]byte, 1<<16)}))
	lim := jar.Limits{MaxEntrySize: 1 << 20, MaxTotal: 4 << 20, MaxEntries: 1000, MaxRatio: 100, RatioMinSize: 1 << 10}
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := jar.NewReader(bytes.NewReader(b), int64(len(b)), lim)
		if err != nil {
			return
		}
		for _, f := range r.Files() {
			if data, err := r.Read(f); err == nil && int64(len(data)) > lim.MaxEntrySize {
				t.Fatalf("read %d bytes past the limit", len(data))
			}
		}
	})
}
