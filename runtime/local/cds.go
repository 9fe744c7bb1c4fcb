package local

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/internal/atomicfile"
)

// Class data sharing for the cluster JVMs (docs/runtimes.md).
//
// A JobManager or TaskManager spends a good part of its start-up CPU
// loading, parsing and verifying the same few thousand classes from the
// runtime's jars. The first cluster of a runtime that finds no archive
// records the classes its JVMs load (-XX:DumpLoadedClassList, written as
// they load, so a killed JVM leaves a usable list). When that cluster is
// stopped, one JVM builds a static AppCDS archive from the lists
// (-Xshare:dump), in the background; it is checked (`java -Xshare:on …
// -version` on the same class path) and only then put in place. Later
// JVMs of that runtime map it (-XX:SharedArchiveFile). The JVM checks an
// archive against its own build and the class path (every jar's path,
// size and modification time) and ignores one that does not match
// (-Xshare:auto), so a stale archive can cost the saving, never a start;
// the archive's name also carries a hash of those, so a reinstalled
// runtime or another Java gets an archive of its own. User code and
// plugins (their own class loaders) are not archived. Nothing of it is on
// the path of a stop: a cluster stops as fast with it as without.

// cdsMu serialises this process's builds' start (cdsStopped).
var cdsMu sync.Mutex

// cdsQuiet keeps the JVM's class-data-sharing warnings (one line per class
// it cannot archive) out of the cluster's logs.
const cdsQuiet = "-Xlog:cds*=off"

// cdsRecording is the lock file of an archive being recorded: which
// cluster records the class lists, and what the archive is built from.
type cdsRecording struct {
	Cluster string   `json:"cluster"`
	PID     int      `json:"pid"` // the control plane that started the recording
	Key     string   `json:"key"`
	Class   []string `json:"classpath"`
	Flags   []string `json:"flags"`
	// Building: the recording cluster stopped and PID builds the archive.
	Building bool `json:"building,omitempty"`
}

// cdsKey names the archive of one runtime and JVM command: a hash of the
// java executable, the class path (with each jar's size and modification
// time) and the JVM flags that shape class loading. The JobManager and the
// TaskManagers share one.
func (d *Driver) cdsKey(id flinkplane.RuntimeID, cp, flags []string) string {
	h := sha256.New()
	java, _ := exec.LookPath(d.Java)
	if r, err := filepath.EvalSymlinks(java); err == nil {
		java = r
	}
	fmt.Fprintf(h, "java %s\n", java)
	if fi, err := os.Stat(java); err == nil {
		fmt.Fprintf(h, "%d %d\n", fi.Size(), fi.ModTime().UnixNano())
	}
	for _, p := range cp {
		fi, err := os.Stat(p)
		if err != nil {
			fmt.Fprintf(h, "cp %s missing\n", p)
			continue
		}
		fmt.Fprintf(h, "cp %s %d %d\n", p, fi.Size(), fi.ModTime().UnixNano())
	}
	for _, f := range flags {
		fmt.Fprintf(h, "flag %s\n", f)
	}
	sum := h.Sum(nil)
	return fmt.Sprintf("%s-%s", id, hex.EncodeToString(sum[:8]))
}

// cdsArgs returns the class-data-sharing flags for one JVM of cluster h:
// the archive when there is one, else the class list to record when this
// cluster records it (the first cluster of the runtime to ask), else none.
func (d *Driver) cdsArgs(h flinkplane.ClusterHandle, role string, cp, flags []string) []string {
	if d.ClassDataDir == "" {
		return nil
	}
	if err := os.MkdirAll(d.ClassDataDir, 0o755); err != nil {
		return nil
	}
	key := d.cdsKey(h.Runtime, cp, flags)
	archive := filepath.Join(d.ClassDataDir, key+".jsa")
	if fi, err := os.Stat(archive); err == nil && fi.Size() > 0 {
		return []string{cdsQuiet, "-XX:SharedArchiveFile=" + archive}
	}
	lock := filepath.Join(d.ClassDataDir, key+".lock")
	rec, err := readRecording(lock)
	switch {
	case err == nil && rec.Cluster == h.ID && !rec.Building:
		// this cluster records: every JVM of it
	case err == nil && rec.Building && processAlive(rec.PID):
		return nil // the archive is being built
	case err == nil && processAlive(rec.PID) && rec.PID != os.Getpid():
		return nil // another control plane records it
	case err == nil && rec.PID == os.Getpid() && clusterLive(rec.Cluster):
		return nil // another cluster of this control plane records it
	default:
		// No recording, or a dead one: this cluster takes it over.
		os.Remove(lock)
		rec = cdsRecording{Cluster: h.ID, PID: os.Getpid(), Key: key, Class: cp, Flags: flags}
		b, _ := json.Marshal(rec)
		f, err := os.OpenFile(lock, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return nil // another one won the race
		}
		f.Write(b)
		f.Close()
		// What a dead recording or build left: its lists, its union, its
		// unfinished archive.
		for _, pattern := range []string{".*.classlist", ".*.classes", ".jsa.*.tmp"} {
			old, _ := filepath.Glob(filepath.Join(d.ClassDataDir, key+pattern))
			for _, o := range old {
				os.Remove(o)
			}
		}
	}
	return []string{cdsQuiet, "-XX:DumpLoadedClassList=" + filepath.Join(d.ClassDataDir, key+"."+h.ID+"-"+role+".classlist")}
}

// clusterLive reports whether a cluster (of any data directory) has a
// live JVM.
func clusterLive(id string) bool {
	return len(findProcesses(markerCluster(id))) > 0
}

func readRecording(path string) (cdsRecording, error) {
	var r cdsRecording
	b, err := os.ReadFile(path)
	if err != nil {
		return r, err
	}
	if err := json.Unmarshal(b, &r); err != nil {
		return r, err
	}
	return r, nil
}

func processAlive(pid int) bool {
	if pid <= 0 {
		return false
	}
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// cdsStopped builds, in the background, the archives whose class lists
// the stopped cluster id recorded. wait, if set, is called when done (for
// tests and benchmarks).
func (d *Driver) cdsStopped(id string) {
	if d.ClassDataDir == "" {
		return
	}
	cdsMu.Lock() // two stops of one cluster (Stop, Sweep) build once
	defer cdsMu.Unlock()
	locks, _ := filepath.Glob(filepath.Join(d.ClassDataDir, "*.lock"))
	for _, lock := range locks {
		rec, err := readRecording(lock)
		if err != nil || rec.Cluster != id || rec.Building {
			continue
		}
		// The lock stays, marked, while this process builds: no other
		// cluster takes the recording over meanwhile.
		rec.Building, rec.PID = true, os.Getpid()
		b, _ := json.Marshal(rec)
		if err := atomicfile.WriteFile(lock, b, 0o644); err != nil {
			continue
		}
		d.cdsBuilds.Add(1)
		go func() {
			defer d.cdsBuilds.Done()
			defer os.Remove(lock)
			if err := d.buildArchive(rec); err != nil {
				d.logf("local: class data archive for %s not built: %v", rec.Key, err)
			}
		}()
	}
}

// WaitClassData waits for the archives being built (tests, benchmarks).
func (d *Driver) WaitClassData() { d.cdsBuilds.Wait() }

// buildArchive dumps a static archive from the recorded class lists,
// checks it and puts it in place.
func (d *Driver) buildArchive(rec cdsRecording) error {
	lists, _ := filepath.Glob(filepath.Join(d.ClassDataDir, rec.Key+"."+rec.Cluster+"-*.classlist"))
	defer func() {
		// This recording's lists, and what a killed build or an earlier
		// recording left (its lists, union, unfinished archive).
		for _, pattern := range []string{".*.classlist", ".*.classes", ".jsa.*.tmp"} {
			old, _ := filepath.Glob(filepath.Join(d.ClassDataDir, rec.Key+pattern))
			for _, o := range old {
				os.Remove(o)
			}
		}
	}()
	if len(lists) == 0 {
		return fmt.Errorf("no class list recorded")
	}
	sort.Strings(lists)
	// One list of every class any JVM of the cluster loaded, each once.
	seen := map[string]bool{}
	var b strings.Builder
	for _, l := range lists {
		data, err := os.ReadFile(l)
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(data), "\n") {
			if line == "" || strings.HasPrefix(line, "#") || seen[line] {
				continue
			}
			seen[line] = true
			b.WriteString(line)
			b.WriteByte('\n')
		}
	}
	union := filepath.Join(d.ClassDataDir, rec.Key+"."+rec.Cluster+".classes")
	if err := os.WriteFile(union, []byte(b.String()), 0o644); err != nil {
		return err
	}
	defer os.Remove(union)
	archive := filepath.Join(d.ClassDataDir, rec.Key+".jsa")
	tmp := archive + "." + rec.Cluster + ".tmp"
	defer os.Remove(tmp)
	cp := strings.Join(rec.Class, string(os.PathListSeparator))
	args := append([]string{"-Xshare:dump", cdsQuiet, "-XX:SharedClassListFile=" + union, "-XX:SharedArchiveFile=" + tmp},
		rec.Flags...)
	if out, err := helperJVM(d.Java, append(args, "-classpath", cp)...).CombinedOutput(); err != nil {
		return fmt.Errorf("-Xshare:dump: %v: %s", err, tail(string(out), 600))
	}
	check := append([]string{"-Xshare:on", cdsQuiet, "-XX:SharedArchiveFile=" + tmp}, rec.Flags...)
	if out, err := helperJVM(d.Java, append(check, "-classpath", cp, "-version")...).CombinedOutput(); err != nil {
		return fmt.Errorf("archive does not map: %v: %s", err, tail(string(out), 600))
	}
	if err := os.Rename(tmp, archive); err != nil {
		return err
	}
	// Archives of the same runtime built for another installation or Java
	// (~75 MB each) go: the newest installation is the one in use.
	runtimeID := strings.TrimSuffix(rec.Key, "-"+rec.Key[strings.LastIndexByte(rec.Key, '-')+1:])
	others, _ := filepath.Glob(filepath.Join(d.ClassDataDir, runtimeID+"-*.jsa"))
	for _, o := range others {
		if o != archive {
			os.Remove(o)
		}
	}
	d.logf("local: class data archive %s written (%d classes)", archive, len(seen))
	return nil
}

// helperJVM is a JVM that builds or checks an archive: the kernel kills it
// when flinkplane dies (a server stopped meanwhile leaves no JVM behind;
// the next cluster takes the recording over).
func helperJVM(java string, args ...string) *exec.Cmd {
	cmd := exec.Command(java, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	return cmd
}

func tail(s string, n int) string {
	s = strings.TrimSpace(s)
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
