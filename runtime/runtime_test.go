package runtime

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flinkplane/flinkplane"
)

func TestCatalog(t *testing.T) {
	for id, want := range map[flinkplane.RuntimeID]string{
		flinkplane.RuntimeFlink118: "1.18.1", flinkplane.RuntimeFlink119: "1.19.3",
		flinkplane.RuntimeFlink120: "1.20.5", flinkplane.RuntimeFlink22: "2.2.1", flinkplane.RuntimeFlink23: "2.3.0",
	} {
		v, err := Lookup(id)
		if err != nil || v.FlinkVersion != want {
			t.Errorf("%s = %+v, %v; want %s", id, v, err, want)
		}
		pom := Pom(v)
		if strings.Contains(pom, "flink-dist") {
			t.Errorf("%s: pom uses flink-dist", id)
		}
		for _, a := range []string{"flink-runtime", "flink-clients", "flink-runtime-web", "log4j-core"} {
			if !strings.Contains(pom, "<artifactId>"+a+"</artifactId>") {
				t.Errorf("%s: pom lacks %s", id, a)
			}
		}
	}
	if _, err := Lookup("FLINK-1_13"); flinkplane.ErrorCode(err) != flinkplane.EINVALID {
		t.Errorf("unknown runtime: %v", err)
	}
	if ids := IDs(); ids[0] != flinkplane.RuntimeFlink118 || ids[len(ids)-1] != flinkplane.RuntimeFlink23 {
		t.Errorf("ids = %v", ids)
	}
}

// fakeMaven writes a mvn script that "resolves" by creating the direct
// artifacts' jars in -DoutputDirectory and counts its runs.
func fakeMaven(t *testing.T, fail bool) (string, string) {
	dir := t.TempDir()
	count := filepath.Join(dir, "runs")
	script := `#!/bin/sh
echo run >> ` + count + `
out=""; pom=""
while [ $# -gt 0 ]; do
  case "$1" in -DoutputDirectory=*) out="${1#-DoutputDirectory=}";; -f) shift; pom="$1";; esac
  shift
done
mkdir -p "$out"
`
	if fail {
		script += "touch \"$out/partial.jar\"; echo '[ERROR] Could not resolve dependencies'; exit 1\n"
	} else {
		script += `grep -o '<artifactId>[^<]*</artifactId><version>[^<]*</version>' "$pom" | sed 's#<artifactId>\([^<]*\)</artifactId><version>\([^<]*\)</version>#\1-\2.jar#' | while read j; do echo jar > "$out/$j"; done
echo "Downloaded from central: https://repo/x/flink-core-1.20.5.jar (1 kB at 1 MB/s)"
`
	}
	p := filepath.Join(dir, "mvn")
	os.WriteFile(p, []byte(script), 0o755)
	return p, count
}

func runs(t *testing.T, count string) int {
	b, _ := os.ReadFile(count)
	return strings.Count(string(b), "run")
}

func TestInstall_IdempotentAndPartial(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()

	// A failed install leaves nothing that looks installed.
	mvn, _ := fakeMaven(t, true)
	in := NewInstaller(dir)
	in.Mvn = mvn
	if _, err := in.Install(ctx, flinkplane.RuntimeFlink120); err == nil || !strings.Contains(err.Error(), "Could not resolve") {
		t.Fatalf("failed install: %v", err)
	}
	if _, err := ReadManifest(dir, flinkplane.RuntimeFlink120); flinkplane.ErrorCode(err) != flinkplane.ENOTFOUND {
		t.Fatalf("manifest after failure: %v", err)
	}
	// A partial directory (no runtime.json) is redone.
	os.MkdirAll(filepath.Join(dir, "FLINK-1_20", "lib"), 0o755)
	os.WriteFile(filepath.Join(dir, "FLINK-1_20", "lib", "stale.jar"), nil, 0o644)

	mvn, count := fakeMaven(t, false)
	in.Mvn = mvn
	var out strings.Builder
	in.Out = &out
	m, err := in.Install(ctx, flinkplane.RuntimeFlink120)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Complete || m.FlinkVersion != "1.20.5" || len(m.Jars) == 0 {
		t.Fatalf("manifest = %+v", m)
	}
	for _, j := range m.Jars {
		if strings.Contains(j, "stale") {
			t.Fatal("partial install not removed")
		}
	}
	if !strings.Contains(out.String(), "downloaded flink-core-1.20.5.jar") || !strings.Contains(out.String(), "installed Flink 1.20.5") {
		t.Fatalf("progress = %q", out.String())
	}
	if _, err := Check(dir, flinkplane.RuntimeFlink120, 17); err != nil {
		t.Fatal(err)
	}
	if _, err := Check(dir, flinkplane.RuntimeFlink120, 25); flinkplane.ErrorCode(err) != flinkplane.EINVALIDCONFIG {
		t.Fatalf("java 25 for 1.20: %v", err)
	}
	// A complete install is skipped.
	if _, err := in.Install(ctx, flinkplane.RuntimeFlink120); err != nil {
		t.Fatal(err)
	}
	if n := runs(t, count); n != 1 {
		t.Fatalf("maven ran %d times, want 1", n)
	}
	// A missing jar makes the runtime unusable.
	os.Remove(filepath.Join(dir, "FLINK-1_20", m.Jars[0]))
	if _, err := Check(dir, flinkplane.RuntimeFlink120, 17); flinkplane.ErrorCode(err) != flinkplane.EINVALIDCONFIG {
		t.Fatalf("damaged: %v", err)
	}
	_, err = Check(dir, flinkplane.RuntimeFlink22, 17)
	if got, want := flinkplane.ErrorMessage(err), "Runtime FLINK-2_2 is not installed. Run: flinkplane runtime install FLINK-2_2"; got != want {
		t.Fatalf("message %q, want %q", got, want)
	}
}

func TestJavaVersion(t *testing.T) {
	v, err := JavaVersion(context.Background(), JavaCommand())
	if err != nil {
		t.Skip("no java: ", err)
	}
	if v < 8 {
		t.Fatalf("java version %d", v)
	}
}
