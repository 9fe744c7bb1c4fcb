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
		for _, a := range []string{"flink-runtime", "flink-clients", "flink-runtime-web", "log4j-core", "flink-statebackend-rocksdb"} {
			if !strings.Contains(pom, "<artifactId>"+a+"</artifactId>") {
				t.Errorf("%s: pom lacks %s", id, a)
			}
		}
	}
	// The distribution of the upgrade's runtimes: Table API/SQL, CEP,
	// formats on the class path; the S3 file systems as plugins only.
	for _, id := range []flinkplane.RuntimeID{flinkplane.RuntimeFlink120, flinkplane.RuntimeFlink22} {
		v, _ := Lookup(id)
		pom := Pom(v)
		for _, a := range []string{"flink-table-planner-loader", "flink-table-runtime", "flink-table-api-java-bridge", "flink-cep", "flink-csv", "flink-json"} {
			if !strings.Contains(pom, "<dependency><groupId>org.apache.flink</groupId><artifactId>"+a+"</artifactId>") {
				t.Errorf("%s: lib lacks %s", id, a)
			}
		}
		if strings.Contains(pom, "<dependency><groupId>org.apache.flink</groupId><artifactId>flink-s3-fs") ||
			strings.Contains(pom, "flink-table-planner_2.12") {
			t.Errorf("%s: a plugin or the planner itself on the class path", id)
		}
		if len(v.Plugins) != 2 {
			t.Errorf("%s: plugins %v", id, v.Plugins)
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
out=""; pom=""; plugins=""
while [ $# -gt 0 ]; do
  case "$1" in -DoutputDirectory=*) out="${1#-DoutputDirectory=}";; -Dplugins.dir=*) plugins="${1#-Dplugins.dir=}";; -f) shift; pom="$1";; esac
  shift
done
mkdir -p "$out"
`
	if fail {
		script += "touch \"$out/partial.jar\"; echo '[ERROR] Could not resolve dependencies'; exit 1\n"
	} else {
		script += `grep '<dependency>' "$pom" | grep -o '<artifactId>[^<]*</artifactId><version>[^<]*</version>' | sed 's#<artifactId>\([^<]*\)</artifactId><version>\([^<]*\)</version>#\1-\2.jar#' | while read j; do echo jar > "$out/$j"; done
grep '<artifactItem>' "$pom" | sed 's#.*<artifactId>\([^<]*\)</artifactId><version>\([^<]*\)</version><outputDirectory>[$]{plugins.dir}/\([^<]*\)</outputDirectory>.*#\3 \1-\2.jar#' | while read d j; do mkdir -p "$plugins/$d"; echo plugin > "$plugins/$d/$j"; done
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
	if got, want := len(m.Plugins), 2; got != want || m.Format != ManifestFormat || m.Bytes == 0 {
		t.Fatalf("plugins %v, format %d, bytes %d", m.Plugins, m.Format, m.Bytes)
	}
	for _, p := range m.Plugins {
		if !strings.HasPrefix(p, "plugins/s3-fs-") {
			t.Fatalf("plugin %s not under plugins/<name>/", p)
		}
	}
	for _, j := range m.Jars {
		if strings.Contains(j, "s3-fs") {
			t.Fatalf("plugin %s on the class path", j)
		}
	}
	// A runtime installed by an older catalog (format 0: the DataStream
	// core only) is outdated: not usable, and replaced by Install.
	old := m
	old.Format = 0
	if err := writeJSONAtomic(filepath.Join(dir, "FLINK-1_20", "runtime.json"), old); err != nil {
		t.Fatal(err)
	}
	if _, err := Check(dir, flinkplane.RuntimeFlink120, 17); flinkplane.ErrorCode(err) != flinkplane.EINVALIDCONFIG {
		t.Fatalf("outdated runtime usable: %v", err)
	}
	out.Reset()
	if m, err = in.Install(ctx, flinkplane.RuntimeFlink120); err != nil || m.Format != ManifestFormat {
		t.Fatalf("reinstall outdated: %+v, %v", m, err)
	}
	if n := runs(t, count); n != 2 || !strings.Contains(out.String(), "outdated") {
		t.Fatalf("maven ran %d times, want 2; progress %q", n, out.String())
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
