package local

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flinkplane/flinkplane"
)

// deadPID returns the pid of a process that has exited.
func deadPID(t *testing.T) int {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatal(err)
	}
	return cmd.Process.Pid
}

func TestCDSArgs(t *testing.T) {
	cp := []string{"/nonexistent/lib/flink-dist.jar"}
	flags := []string{"-XX:+UseSerialGC"}
	h := flinkplane.ClusterHandle{ID: "fc-one", Runtime: flinkplane.RuntimeFlink22}
	tests := []struct {
		name    string
		archive bool
		lock    *cdsRecording // nil: none
		want    string        // prefix of the flag, "" for none
		records bool          // the lock names h afterwards
	}{
		{name: "no archive, no recording: this cluster records", want: "-XX:DumpLoadedClassList=", records: true},
		{name: "archive: mapped", archive: true, want: "-XX:SharedArchiveFile="},
		{name: "this cluster records: its TaskManagers too", lock: &cdsRecording{Cluster: "fc-one", PID: os.Getpid()}, want: "-XX:DumpLoadedClassList=", records: true},
		{name: "another live control plane records", lock: &cdsRecording{Cluster: "fc-other", PID: os.Getppid()}, want: ""},
		{name: "a dead control plane's recording is taken over", lock: &cdsRecording{Cluster: "fc-other", PID: -1}, want: "-XX:DumpLoadedClassList=", records: true},
		{name: "being built by a live process", lock: &cdsRecording{Cluster: "fc-other", PID: os.Getpid(), Building: true}, want: ""},
		{name: "a dead build is taken over", lock: &cdsRecording{Cluster: "fc-other", PID: -1, Building: true}, want: "-XX:DumpLoadedClassList=", records: true},
		{name: "this control plane's dead cluster's recording is taken over", lock: &cdsRecording{Cluster: "fc-gone", PID: os.Getpid()}, want: "-XX:DumpLoadedClassList=", records: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := New(t.TempDir(), t.TempDir())
			d.ClassDataDir = filepath.Join(t.TempDir(), "cds")
			os.MkdirAll(d.ClassDataDir, 0o755)
			key := d.cdsKey(h.Runtime, cp, flags)
			if tt.archive {
				os.WriteFile(filepath.Join(d.ClassDataDir, key+".jsa"), []byte("archive"), 0o644)
			}
			lock := filepath.Join(d.ClassDataDir, key+".lock")
			if tt.lock != nil {
				if tt.lock.PID == -1 {
					tt.lock.PID = deadPID(t)
				}
				tt.lock.Key = key
				b, _ := json.Marshal(tt.lock)
				os.WriteFile(lock, b, 0o644)
			}
			args := d.cdsArgs(h, "taskmanager-0", cp, flags)
			got := ""
			for _, a := range args {
				if strings.HasPrefix(a, "-XX:") {
					got = a
				}
			}
			if !strings.HasPrefix(got, tt.want) || (tt.want == "") != (got == "") {
				t.Fatalf("args %q, want %q", args, tt.want)
			}
			if tt.want != "" && !contains(args, cdsQuiet) {
				t.Fatalf("args %q without %s", args, cdsQuiet)
			}
			if tt.records {
				rec, err := readRecording(lock)
				if err != nil || rec.Cluster != h.ID || rec.PID != os.Getpid() || rec.Key != key {
					t.Fatalf("recording %+v, %v", rec, err)
				}
			}
		})
	}
	t.Run("off", func(t *testing.T) {
		d := New(t.TempDir(), t.TempDir())
		d.ClassDataDir = ""
		if args := d.cdsArgs(h, "jobmanager", cp, flags); args != nil {
			t.Fatalf("args %q", args)
		}
	})
	t.Run("key follows the class path's jars", func(t *testing.T) {
		d := New(t.TempDir(), t.TempDir())
		jar := filepath.Join(t.TempDir(), "a.jar")
		os.WriteFile(jar, []byte("one"), 0o644)
		k1 := d.cdsKey(h.Runtime, []string{jar}, flags)
		os.WriteFile(jar, []byte("other"), 0o644)
		if k2 := d.cdsKey(h.Runtime, []string{jar}, flags); k1 == k2 {
			t.Fatal("a changed jar keeps the archive's key")
		}
		if k3 := d.cdsKey(h.Runtime, []string{jar}, append(flags, "-Dx=y")); k3 == d.cdsKey(h.Runtime, []string{jar}, flags) {
			t.Fatal("other flags keep the archive's key")
		}
	})
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// TestCDSBuild drives the archive build with a fake java that records its
// command lines: the union of the cluster's class lists is dumped, the
// archive is checked, moved into place, and the lock and lists are gone;
// a failing check keeps no archive.
func TestCDSBuild(t *testing.T) {
	for _, checkFails := range []bool{false, true} {
		dir := t.TempDir()
		calls := filepath.Join(dir, "calls")
		java := filepath.Join(dir, "java")
		script := `#!/bin/sh
echo "$@" >> ` + calls + `
for a in "$@"; do
  case "$a" in
    -XX:SharedClassListFile=*) cp "${a#*=}" ` + filepath.Join(dir, "union") + ` ;;
  esac
done
for a in "$@"; do
  case "$a" in
    -Xshare:dump) cat ` + filepath.Join(dir, "cds") + `/*.lock > ` + filepath.Join(dir, "lock-during-build") + `; for b in "$@"; do case "$b" in -XX:SharedArchiveFile=*) echo jsa > "${b#*=}";; esac; done; exit 0 ;;
    -Xshare:on) exit ` + map[bool]string{false: "0", true: "1"}[checkFails] + ` ;;
  esac
done
`
		os.WriteFile(java, []byte(script), 0o755)
		d := New(t.TempDir(), t.TempDir())
		d.Java = java
		d.Logf = t.Logf
		d.ClassDataDir = filepath.Join(dir, "cds")
		os.MkdirAll(d.ClassDataDir, 0o755)
		h := flinkplane.ClusterHandle{ID: "fc-one", Runtime: flinkplane.RuntimeFlink22}
		cp := []string{"/r/lib/a.jar", "/r/lib/b.jar"}
		args := d.cdsArgs(h, "jobmanager", cp, []string{"-XX:+UseSerialGC"})
		d.cdsArgs(h, "taskmanager-0", cp, []string{"-XX:+UseSerialGC"})
		list := strings.TrimPrefix(args[len(args)-1], "-XX:DumpLoadedClassList=")
		os.WriteFile(list, []byte("# header\njava/lang/Object\norg/apache/flink/A\n"), 0o644)
		os.WriteFile(strings.Replace(list, "jobmanager", "taskmanager-0", 1), []byte("# header\njava/lang/Object\norg/apache/flink/B\n"), 0o644)
		// An archive of an earlier installation of the same runtime goes
		// when the new one is in place; another runtime's stays.
		os.WriteFile(filepath.Join(d.ClassDataDir, "FLINK-2_2-0000000000000000.jsa"), []byte("old"), 0o644)
		os.WriteFile(filepath.Join(d.ClassDataDir, "FLINK-1_20-0000000000000000.jsa"), []byte("other"), 0o644)
		// A list an earlier recording left goes with the build.
		os.WriteFile(strings.Replace(list, "fc-one-jobmanager", "fc-old-jobmanager", 1), []byte("x\n"), 0o644)
		d.cdsStopped("fc-other") // not the recording cluster: nothing
		d.WaitClassData()
		if _, err := os.Stat(calls); err == nil {
			t.Fatal("built for another cluster")
		}
		d.cdsStopped(h.ID)
		d.cdsStopped(h.ID) // a second stop of the cluster (Stop, then Sweep) builds nothing more
		d.WaitClassData()
		if during, _ := os.ReadFile(filepath.Join(dir, "lock-during-build")); !strings.Contains(string(during), `"building":true`) {
			t.Fatalf("lock during the build: %s", during)
		}
		union, _ := os.ReadFile(filepath.Join(dir, "union"))
		if string(union) != "java/lang/Object\norg/apache/flink/A\norg/apache/flink/B\n" {
			t.Fatalf("class list %q", union)
		}
		log, _ := os.ReadFile(calls)
		if n := strings.Count(string(log), "-Xshare:dump"); n != 1 {
			t.Fatalf("%d dumps, want 1:\n%s", n, log)
		}
		if !strings.Contains(string(log), "-Xshare:dump") || !strings.Contains(string(log), "-classpath /r/lib/a.jar:/r/lib/b.jar") ||
			!strings.Contains(string(log), "-Xshare:on") {
			t.Fatalf("java calls:\n%s", log)
		}
		left, _ := os.ReadDir(d.ClassDataDir)
		var names []string
		for _, e := range left {
			names = append(names, e.Name())
		}
		key := d.cdsKey(h.Runtime, cp, []string{"-XX:+UseSerialGC"})
		want := []string{"FLINK-1_20-0000000000000000.jsa", key + ".jsa"}
		if checkFails {
			want = []string{"FLINK-1_20-0000000000000000.jsa", "FLINK-2_2-0000000000000000.jsa"}
		}
		if strings.Join(names, ",") != strings.Join(want, ",") {
			t.Fatalf("check fails %v: left %q, want %q", checkFails, names, want)
		}
	}
}
