package deploy

import (
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/runtime"
)

var update = flag.Bool("update", false, "rewrite the generated files of images/")

// TestImages: the image definitions in the repository are what the
// runtime catalog generates (go generate ./deploy rewrites them).
func TestImages(t *testing.T) {
	files := ImageFiles()
	for path, want := range files {
		if *update {
			os.MkdirAll(filepath.Dir(path), 0o755)
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != want {
			t.Errorf("deploy/%s is not what the runtime catalog generates (run go generate ./deploy): %v", path, err)
		}
	}
	// Every runtime of the catalog has its image, and nothing else is
	// generated there.
	dirs, _ := filepath.Glob("images/FLINK-*")
	if len(dirs) != len(runtime.IDs()) {
		t.Errorf("images/: %v, want one directory per runtime %v", dirs, runtime.IDs())
	}
	v, _ := runtime.Lookup(flinkplane.RuntimeFlink22)
	cf := files["images/FLINK-2_2/Containerfile"]
	for _, s := range []string{"FROM flink:2.2.1-scala_2.12-java17", "flink-dist-2.2.1.jar", "copy-dependencies"} {
		if !strings.Contains(cf, s) {
			t.Errorf("FLINK-2_2 Containerfile lacks %q", s)
		}
	}
	if pom := files["images/FLINK-2_2/pom.xml"]; pom != runtime.Pom(v) || !strings.Contains(pom, "flink-s3-fs-presto") {
		t.Error("the FLINK-2_2 image's POM is not the runtime's")
	}
}
