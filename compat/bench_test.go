package compat_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat"
)

// BenchmarkScanJar measures scan throughput in MB/s of (uncompressed) class
// data on the big shaded jar (bench/make-big-jar.sh; COMPAT_BENCH_JAR
// overrides), with the symbol index loaded once.
func BenchmarkScanJar(b *testing.B) {
	jarPath := os.Getenv("COMPAT_BENCH_JAR")
	if jarPath == "" {
		jarPath = filepath.Join("..", "testdata", "apps", "build", "big-shaded.jar")
	}
	if _, err := os.Stat(jarPath); err != nil {
		b.Skipf("no benchmark jar %s (bench/make-big-jar.sh)", jarPath)
	}
	c := testChecker(b, flinkplane.RuntimeFlink22)
	ix, err := c.Index(context.Background(), flinkplane.RuntimeFlink22)
	if err != nil {
		b.Fatal(err)
	}
	var bytes int64
	for b.Loop() {
		rep, err := compat.ScanJar(context.Background(), jarPath, ix)
		if err != nil {
			b.Fatal(err)
		}
		bytes = rep.Summary.ClassBytes
	}
	b.SetBytes(bytes)
}
