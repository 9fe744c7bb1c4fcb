package local

import (
	"archive/zip"
	"encoding/binary"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/flinkrest"
)

func TestRewriteJar_ConfigProperties(t *testing.T) {
	dir := t.TempDir()
	src := filepath.Join(dir, "app.jar")
	f, _ := os.Create(src)
	zw := zip.NewWriter(f)
	w, _ := zw.Create("META-INF/MANIFEST.MF")
	w.Write([]byte("Manifest-Version: 1.0\r\nMain-Class: x.Y\r\n\r\n"))
	w, _ = zw.Create("config.properties")
	w.Write([]byte("application_properties_file = /etc/flink/application_properties.json\nother = 1"))
	w, _ = zw.Create("x/Y.class")
	w.Write([]byte("cafebabe"))
	zw.Close()
	f.Close()

	dst := filepath.Join(dir, "out.jar")
	if err := RewriteJar(src, dst, "/data/c 1/conf/application_properties.json"); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(dst)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var names []string
	var props string
	for _, e := range zr.File {
		names = append(names, e.Name)
		if e.Name == "config.properties" {
			rc, _ := e.Open()
			b, _ := io.ReadAll(rc)
			rc.Close()
			props = string(b)
		}
	}
	if got, want := strings.Join(names, ","), "META-INF/MANIFEST.MF,x/Y.class,config.properties"; got != want {
		t.Fatalf("entries %s, want %s", got, want)
	}
	// The last definition wins in java.util.Properties.
	lines := strings.Split(strings.TrimSpace(props), "\n")
	if got, want := lines[len(lines)-1], "application_properties_file = /data/c 1/conf/application_properties.json"; got != want {
		t.Fatalf("last line %q, want %q", got, want)
	}
	if !strings.Contains(props, "other = 1\n") {
		t.Fatalf("existing keys lost: %q", props)
	}
}

func TestRewriteJar_Fixtures(t *testing.T) {
	// Real shaded jars (maven-shade-plugin) if built: directory entries
	// and all.
	jars, _ := filepath.Glob("../../testdata/apps/build/*.jar")
	if len(jars) == 0 {
		t.Skip("no fixture jars built")
	}
	for _, j := range jars {
		if strings.Contains(j, "big-shaded") {
			continue
		}
		if err := RewriteJar(j, filepath.Join(t.TempDir(), "x.jar"), "/p.json"); err != nil {
			t.Errorf("%s: %v", j, err)
		}
	}
}

func TestRewriteJar_NotAJar(t *testing.T) {
	src := filepath.Join(t.TempDir(), "x.jar")
	os.WriteFile(src, []byte("not a zip"), 0o644)
	if err := RewriteJar(src, src+".out", "/p"); flinkplane.ErrorCode(err) != flinkplane.ECODE {
		t.Fatalf("err = %v, want ECODE", err)
	}
}

func writeMetadata(t *testing.T, version uint32) string {
	dir := filepath.Join(t.TempDir(), "savepoint-1")
	os.MkdirAll(dir, 0o755)
	var b [8]byte
	binary.BigEndian.PutUint32(b[:4], metadataMagic)
	binary.BigEndian.PutUint32(b[4:], version)
	os.WriteFile(filepath.Join(dir, "_metadata"), append(b[:], 1, 2, 3), 0o644)
	return dir
}

func TestCheckSavepointVersion(t *testing.T) {
	v6 := writeMetadata(t, 6)
	v4 := writeMetadata(t, 4)
	for _, tc := range []struct {
		loc    string
		target flinkplane.RuntimeID
		ok     bool
	}{
		{v4, flinkplane.RuntimeFlink120, true},
		{"file:" + v4, flinkplane.RuntimeFlink22, true},
		{v6, flinkplane.RuntimeFlink22, true},
		{"file://" + v6, flinkplane.RuntimeFlink120, false},
		{v6 + "/_metadata", flinkplane.RuntimeFlink118, false},
		{"/nonexistent/savepoint", flinkplane.RuntimeFlink120, true}, // left to Flink
	} {
		err := CheckSavepointVersion(tc.loc, tc.target)
		if tc.ok != (err == nil) {
			t.Errorf("%s → %s: err = %v", tc.loc, tc.target, err)
		}
		if err != nil && flinkplane.ErrorCode(err) != flinkplane.EINVALIDCONFIG {
			t.Errorf("code %s", flinkplane.ErrorCode(err))
		}
	}
	bad := filepath.Join(t.TempDir(), "_metadata")
	os.WriteFile(bad, []byte("garbage!"), 0o644)
	if err := CheckSavepointVersion(bad, flinkplane.RuntimeFlink120); flinkplane.ErrorCode(err) != flinkplane.EINVALIDCONFIG {
		t.Errorf("bad magic: %v", err)
	}
}

func TestDisposeSavepoint_OnlyUnderDataDir(t *testing.T) {
	d := New(t.TempDir(), t.TempDir())
	in := filepath.Join(d.DataDir, "savepoints", "app", "savepoint-1")
	os.MkdirAll(in, 0o755)
	os.WriteFile(filepath.Join(in, "_metadata"), []byte("x"), 0o644)
	out := writeMetadata(t, 4)
	if err := d.DisposeSavepoint(t.Context(), out); flinkplane.ErrorCode(err) != flinkplane.EINVALID {
		t.Fatalf("outside: %v", err)
	}
	if _, err := os.Stat(out); err != nil {
		t.Fatal("outside savepoint removed")
	}
	if err := d.DisposeSavepoint(t.Context(), "file:"+in); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(in); !os.IsNotExist(err) {
		t.Fatal("savepoint not removed")
	}
	if err := d.DisposeSavepoint(t.Context(), "file:"+in); err != nil {
		t.Fatalf("second dispose: %v", err)
	}
	if err := d.DisposeSavepoint(t.Context(), d.DataDir); err == nil {
		t.Fatal("disposed the data directory")
	}
}

func TestClusterConfig(t *testing.T) {
	d := New("/data", "/rt")
	spec := flinkplane.ClusterSpec{ApplicationID: "app", Runtime: flinkplane.RuntimeFlink22, Parallelism: 5, ParallelismPerKPU: 2,
		Checkpoint: flinkplane.CheckpointSpec{Enabled: true, Interval: 60e9, MinPauseBetweenCheckpoints: 5e9}}
	info := clusterInfo{RESTPort: 1, RPCPort: 2, BlobPort: 3, Slots: 2, TaskManagers: 3, SavepointDir: "/data/savepoints/app"}
	c := d.clusterConfig(spec, info, "/data/clusters/app/fc-1", 5)
	for k, want := range map[string]string{
		"taskmanager.numberOfTaskSlots":         "2",
		"parallelism.default":                   "5",
		"execution.checkpointing.interval":      "60000ms",
		"execution.checkpointing.min-pause":     "5000ms",
		"execution.checkpointing.dir":           "file:///data/checkpoints/app/fc-1",
		"execution.checkpointing.savepoint-dir": "file:///data/savepoints/app",
		"rest.port":                             "1",
		"taskmanager.memory.task.heap.size":     "384m",
	} {
		if got := c[k]; got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	spec.Checkpoint.Enabled = false
	if c := d.clusterConfig(spec, info, "/data/clusters/app/fc-1", 5); c["execution.checkpointing.interval"] != "" {
		t.Error("checkpointing configured although disabled")
	}
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "conf"), 0o755)
	if err := writeConfig(dir, flinkplane.RuntimeFlink118, c); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "conf", "flink-conf.yaml")); err != nil {
		t.Fatal("1.18 needs flink-conf.yaml")
	}
}

func TestFlinkCause(t *testing.T) {
	errs := []string{"org.apache.flink.runtime.rest.handler.RestHandlerException: Could not execute application.\n\tat x\nCaused by: org.apache.flink.client.program.ProgramInvocationException: The main method caused an error: boom\n\tat y\nCaused by: java.lang.RuntimeException: boom\n\tat z"}
	if got, want := flinkCause(errs), "java.lang.RuntimeException: boom"; got != want {
		t.Fatalf("got %q want %q", got, want)
	}
	if got := flinkCause([]string{"Only one line"}); got != "Only one line" {
		t.Fatal(got)
	}
}

func TestFreePorts(t *testing.T) {
	ports, err := freePorts(3)
	if err != nil {
		t.Fatal(err)
	}
	seen := map[int]bool{}
	for _, p := range ports {
		if seen[p] || p <= 0 || p >= ephemeralLow() {
			t.Fatalf("ports %v (ephemeral from %d)", ports, ephemeralLow())
		}
		seen[p] = true
	}
}

func TestSizes(t *testing.T) {
	for _, tc := range []struct{ p, ppk, par, slots, tms int }{
		{1, 1, 1, 1, 1}, {5, 2, 5, 2, 3}, {4, 4, 4, 4, 1}, {0, 0, 1, 1, 1}, {7, 1, 7, 1, 7},
	} {
		par, slots, tms := sizes(flinkplane.ClusterSpec{Parallelism: tc.p, ParallelismPerKPU: tc.ppk})
		if par != tc.par || slots != tc.slots || tms != tc.tms {
			t.Errorf("%d/%d: got %d %d %d", tc.p, tc.ppk, par, slots, tms)
		}
	}
	d := New(t.TempDir(), t.TempDir())
	d.javaVersion = 17
	_, err := d.Start(t.Context(), flinkplane.ClusterSpec{ApplicationID: "a", Runtime: flinkplane.RuntimeFlink120, Parallelism: 64, ParallelismPerKPU: 1})
	// Not installed in an empty runtimes dir: EINVALIDCONFIG comes first.
	if flinkplane.ErrorCode(err) != flinkplane.EINVALIDCONFIG {
		t.Fatalf("err = %v", err)
	}
	home, _ := os.UserHomeDir()
	d = New(t.TempDir(), filepath.Join(home, ".cache", "flinkplane", "runtimes"))
	if d.Ready(flinkplane.RuntimeFlink120) != nil {
		return
	}
	_, err = d.Start(t.Context(), flinkplane.ClusterSpec{ApplicationID: "a", Runtime: flinkplane.RuntimeFlink120, Parallelism: 64, ParallelismPerKPU: 1})
	if flinkplane.ErrorCode(err) != flinkplane.ELIMIT {
		t.Fatalf("64 TaskManagers: err = %v, want ELIMIT", err)
	}
}

func TestRootCause_DeepestCause(t *testing.T) {
	e := flinkrest.Exception{ExceptionName: "java.lang.RuntimeException", Stacktrace: "java.lang.RuntimeException: Error while getting state\n" +
		"\tat org.apache.flink.runtime.state.DefaultKeyedStateStore.getState(DefaultKeyedStateStore.java:66)\n" +
		"Caused by: org.apache.flink.util.StateMigrationException: For heap backends, the new state serializer must not be incompatible\n" +
		"\tat org.apache.flink.runtime.state.heap.HeapKeyedStateBackend.tryRegisterStateTable(HeapKeyedStateBackend.java:306)\n\t... 20 more\n"}
	if got := rootCause(e); got != "org.apache.flink.util.StateMigrationException: For heap backends, the new state serializer must not be incompatible" {
		t.Fatalf("rootCause = %q", got)
	}
	if got := rootCause(flinkrest.Exception{ExceptionName: "java.lang.IllegalStateException"}); got != "java.lang.IllegalStateException" {
		t.Fatalf("rootCause without stack trace = %q", got)
	}
	if got := rootCause(flinkrest.Exception{Stacktrace: "java.lang.Exception: boom\n\tat x.y(Z.java:1)"}); got != "java.lang.Exception: boom" {
		t.Fatalf("rootCause without cause = %q", got)
	}
}
