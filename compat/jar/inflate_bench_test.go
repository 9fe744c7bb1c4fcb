package jar

import (
	"archive/zip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// BenchmarkInflateClasses inflates the class entries of the benchmark jar
// (bench/make-big-jar.sh; COMPAT_BENCH_JAR overrides) with the fast
// inflater, in memory: the inflater's throughput on real class files.
func BenchmarkInflateClasses(b *testing.B) {
	p := os.Getenv("COMPAT_BENCH_JAR")
	if p == "" {
		p = filepath.Join("..", "..", "testdata", "apps", "build", "big-shaded.jar")
	}
	z, err := zip.OpenReader(p)
	if err != nil {
		b.Skipf("no benchmark jar %s (bench/make-big-jar.sh)", p)
	}
	defer z.Close()
	type entry struct {
		c    []byte
		size int
	}
	var es []entry
	var total int64
	for _, f := range z.File {
		if !strings.HasSuffix(f.Name, ".class") || f.Method != zip.Deflate || len(es) >= 20000 {
			continue
		}
		r, err := f.OpenRaw()
		if err != nil {
			b.Fatal(err)
		}
		c, err := io.ReadAll(r)
		if err != nil {
			b.Fatal(err)
		}
		es = append(es, entry{c, int(f.UncompressedSize64)})
		total += int64(f.UncompressedSize64)
	}
	dst := make([]byte, 1<<20)
	b.SetBytes(total)
	for b.Loop() {
		for _, e := range es {
			if err := fastInflate(e.c, dst[:e.size]); err != nil {
				b.Fatal(err)
			}
		}
	}
}
