package runtime

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flinkplane/flinkplane"
)

// fakeToolMaven writes a mvn script that "copies" -Dartifact=g:a:v as a-v.jar
// into -DoutputDirectory and counts its runs.
func fakeToolMaven(t *testing.T, fail bool) (string, string) {
	dir := t.TempDir()
	count := filepath.Join(dir, "runs")
	script := `#!/bin/sh
echo run >> ` + count + `
out=""; art=""
for a in "$@"; do
  case "$a" in -DoutputDirectory=*) out="${a#-DoutputDirectory=}";; -Dartifact=*) art="${a#-Dartifact=}";; esac
done
`
	if fail {
		script += "echo '[ERROR] Could not resolve'; exit 1\n"
	} else {
		script += `name=$(echo "$art" | cut -d: -f2); ver=$(echo "$art" | cut -d: -f3)
echo jar > "$out/$name-$ver.jar"
`
	}
	p := filepath.Join(dir, "mvn")
	if err := os.WriteFile(p, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	return p, count
}

func TestInstallTools(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := ToolClasspath(dir, flinkplane.RuntimeFlink22, ToolStateProcessor); flinkplane.ErrorCode(err) != flinkplane.ENOTFOUND ||
		!strings.Contains(flinkplane.ErrorMessage(err), "flinkplane runtime install FLINK-2_2") {
		t.Fatalf("not installed: %v", err)
	}
	t.Run("Fails", func(t *testing.T) {
		mvn, _ := fakeToolMaven(t, true)
		in := &Installer{Dir: dir, Mvn: mvn}
		if err := in.InstallTools(ctx, flinkplane.RuntimeFlink22); err == nil {
			t.Fatal("want an error")
		}
		if _, err := ToolClasspath(dir, flinkplane.RuntimeFlink22, ToolStateProcessor); err == nil {
			t.Fatal("a failed install is installed")
		}
		if left, _ := filepath.Glob(filepath.Join(dir, "tools", "FLINK-2_2", ".*staging*")); len(left) != 0 {
			t.Fatalf("staging left: %v", left)
		}
	})
	mvn, runs := fakeToolMaven(t, false)
	in := &Installer{Dir: dir, Mvn: mvn}
	for i := 0; i < 2; i++ { // idempotent: the second install runs no Maven
		if err := in.InstallTools(ctx, flinkplane.RuntimeFlink22); err != nil {
			t.Fatal(err)
		}
	}
	cp, err := ToolClasspath(dir, flinkplane.RuntimeFlink22, ToolStateProcessor)
	if err != nil {
		t.Fatal(err)
	}
	if want := filepath.Join(dir, "tools", "FLINK-2_2", "state-processor-api", "flink-state-processor-api-2.2.0.jar"); len(cp) != 1 || cp[0] != want {
		t.Fatalf("classpath = %v, want %s", cp, want)
	}
	if b, _ := os.ReadFile(runs); strings.Count(string(b), "run") != 1 {
		t.Fatalf("maven ran %d times", strings.Count(string(b), "run"))
	}
	// A damaged install (jar gone) is reported and reinstalled.
	os.Remove(cp[0])
	if _, err := ToolClasspath(dir, flinkplane.RuntimeFlink22, ToolStateProcessor); flinkplane.ErrorCode(err) != flinkplane.ENOTFOUND {
		t.Fatalf("damaged: %v", err)
	}
	if err := in.InstallTools(ctx, flinkplane.RuntimeFlink22); err != nil {
		t.Fatal(err)
	}
	if _, err := ToolClasspath(dir, flinkplane.RuntimeFlink22, ToolStateProcessor); err != nil {
		t.Fatal(err)
	}
	if v := Tools(flinkplane.RuntimeFlink120); len(v) != 1 || v[0].Artifact.Version != "1.20.0" {
		t.Fatalf("FLINK-1_20 tools = %v", v)
	}
}
