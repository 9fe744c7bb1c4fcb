package jar_test

import (
	"archive/zip"
	"bytes"
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"github.com/flinkplane/flinkplane/compat/jar"
)

type entry struct {
	name  string
	data  []byte
	store bool
}

func makeZip(tb testing.TB, entries ...entry) []byte {
	tb.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, e := range entries {
		h := &zip.FileHeader{Name: e.name, Method: zip.Deflate}
		if e.store {
			h.Method = zip.Store
		}
		f, err := w.CreateHeader(h)
		if err != nil {
			tb.Fatal(err)
		}
		f.Write(e.data)
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	return buf.Bytes()
}

func open(tb testing.TB, b []byte, lim jar.Limits) (*jar.Reader, error) {
	tb.Helper()
	return jar.NewReader(bytes.NewReader(b), int64(len(b)), lim)
}

func TestReader_ManifestPomNestedMultiRelease(t *testing.T) {
	inner := makeZip(t,
		entry{name: "com/lib/Lib.class", data: []byte("lib")},
		entry{name: "META-INF/maven/org.apache.flink/flink-connector-kafka/pom.properties",
			data: []byte("#x\nversion=3.4.0-1.20\ngroupId=org.apache.flink\nartifactId=flink-connector-kafka\n")},
	)
	outer := makeZip(t,
		entry{name: "META-INF/MANIFEST.MF", data: []byte("Manifest-Version: 1.0\r\nMain-Class: com.example.Ma\r\n in\r\nCreated-By: Maven\r\nBuild-Jdk-Spec: 17\r\n\r\nName: x\r\nMain-Class: no\r\n")},
		entry{name: "com/example/Main.class", data: []byte("main")},
		entry{name: "META-INF/versions/21/com/example/Main.class", data: []byte("main21")},
		entry{name: "lib/inner.jar", data: inner, store: true},
		entry{name: "dir/", data: nil},
	)
	r, err := open(t, outer, jar.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if got, want := r.Manifest["Main-Class"], "com.example.Main"; got != want {
		t.Errorf("Main-Class = %q, want %q", got, want)
	}
	if got, want := r.Manifest["Build-Jdk-Spec"], "17"; got != want {
		t.Errorf("Build-Jdk-Spec = %q, want %q", got, want)
	}
	if len(r.Poms) != 1 || r.Poms[0].Version != "3.4.0-1.20" || r.Poms[0].Nested != "lib/inner.jar" || r.Poms[0].ArtifactID != "flink-connector-kafka" {
		t.Errorf("Poms = %+v", r.Poms)
	}
	var classes []string
	for _, f := range r.Files() {
		if f.ClassName != "" {
			classes = append(classes, f.Path())
			if f.Name == "META-INF/versions/21/com/example/Main.class" && (f.Release != 21 || f.ClassName != "com/example/Main") {
				t.Errorf("versioned entry: Release %d ClassName %q", f.Release, f.ClassName)
			}
		}
	}
	want := []string{"com/example/Main.class", "META-INF/versions/21/com/example/Main.class", "lib/inner.jar!/com/lib/Lib.class"}
	if len(classes) != len(want) {
		t.Fatalf("classes = %q, want %q", classes, want)
	}
	for _, f := range r.Files() {
		if f.Nested == "lib/inner.jar" && f.ClassName == "com/lib/Lib" {
			b, err := r.Read(f)
			if err != nil || string(b) != "lib" {
				t.Errorf("Read nested = %q, %v", b, err)
			}
		}
	}
}

func TestReader_ZipBomb(t *testing.T) {
	bomb := makeZip(t, entry{name: "a.class", data: make([]byte, 50<<20)})
	r, err := open(t, bomb, jar.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(r.Files()[0]); !errors.Is(err, jar.ErrLimit) {
		t.Fatalf("Read(bomb) = %v, want ErrLimit", err)
	}
}

func TestReader_EntryAndTotalLimits(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789abcdef"), 1<<12) // 64 KiB, low ratio
	z := makeZip(t, entry{name: "a.class", data: data, store: true}, entry{name: "b.class", data: data, store: true})
	lim := jar.DefaultLimits
	lim.MaxEntrySize = 32 << 10
	r, err := open(t, z, lim)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(r.Files()[0]); !errors.Is(err, jar.ErrLimit) {
		t.Errorf("Read(oversized) = %v, want ErrLimit", err)
	}
	lim = jar.DefaultLimits
	lim.MaxTotal = 100 << 10
	r, _ = open(t, z, lim)
	if _, err := r.Read(r.Files()[0]); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(r.Files()[1]); !errors.Is(err, jar.ErrLimit) {
		t.Errorf("Read past total = %v, want ErrLimit", err)
	}
	lim = jar.DefaultLimits
	lim.MaxEntries = 1
	if _, err := open(t, z, lim); !errors.Is(err, jar.ErrLimit) {
		t.Errorf("open with too many entries = %v, want ErrLimit", err)
	}
}

func TestReader_NestedBomb(t *testing.T) {
	inner := makeZip(t, entry{name: "x.class", data: make([]byte, 20<<20)})
	outer := makeZip(t, entry{name: "lib/inner.jar", data: inner})
	r, err := open(t, outer, jar.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Files() {
		if f.Nested != "" {
			if _, err := r.Read(f); !errors.Is(err, jar.ErrLimit) {
				t.Errorf("Read nested bomb = %v, want ErrLimit", err)
			}
		}
	}
}

func TestReader_NotAZip(t *testing.T) {
	if _, err := open(t, []byte("definitely not a zip file"), jar.DefaultLimits); err == nil {
		t.Fatal("no error for a non-zip")
	}
}

// TestOpen_Mapped: Open maps the file; entries read the same, and a file
// truncated while mapped makes reads fail with an error, not a crash.
func TestOpen_Mapped(t *testing.T) {
	big := make([]byte, 300000) // spans pages of the mapped file
	rnd := rand.New(rand.NewPCG(1, 2))
	for i := range big {
		big[i] = byte(rnd.Uint32())
	}
	b := makeZip(t, entry{name: "a/A.class", data: []byte("cafebabe")}, entry{name: "b/Big.class", data: big}, entry{name: "c/S.class", data: []byte("stored"), store: true})
	p := filepath.Join(t.TempDir(), "app.jar")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	r, err := jar.Open(p, jar.DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	want := map[string][]byte{"a/A.class": []byte("cafebabe"), "b/Big.class": big, "c/S.class": []byte("stored")}
	for _, f := range r.Files() {
		got, err := r.Read(f)
		if err != nil || !bytes.Equal(got, want[f.Name]) {
			t.Fatalf("%s: %d bytes, %v", f.Name, len(got), err)
		}
	}
	if err := os.Truncate(p, 0); err != nil {
		t.Fatal(err)
	}
	for _, f := range r.Files() {
		if _, err := r.Read(f); err == nil {
			t.Errorf("%s read from a truncated file without an error", f.Name)
		}
	}
}
