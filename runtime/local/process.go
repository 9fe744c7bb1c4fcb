package local

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/runtime"

	"github.com/flinkplane/flinkplane/internal/atomicfile"
)

const (
	clusterProp = "-Dflinkplane.cluster="
	dataDirProp = "-Dflinkplane.data-dir="
)

func markerCluster(id string) string  { return clusterProp + id }
func markerDataDir(dir string) string { return dataDirProp + absPath(dir) }
func absPath(p string) string         { a, _ := filepath.Abs(p); return a }
func pidFile(dir, role string) string { return filepath.Join(dir, role+".pid") }
func (d *Driver) markers(id string) []string {
	return []string{markerCluster(id), markerDataDir(d.DataDir)}
}

// launch starts one JVM of the cluster, writes its pid file and returns its
// pid. pgid 0 makes the process the leader of a new process group (the
// JobManager); TaskManagers join the JobManager's group.
func (d *Driver) launch(h flinkplane.ClusterHandle, cp []string, role, mainClass string, mem []string, pgid int) (int, error) {
	conf := filepath.Join(h.Dir, "conf")
	logDir := filepath.Join(h.Dir, "log")
	args := append([]string{}, mem...)
	flags := append(append([]string{}, d.ExtraJVMArgs...), d.javaFlags(h.Runtime)...)
	cds := d.cdsArgs(h, role, cp, flags)
	args = append(args, flags...)
	args = append(args, cds...)
	args = append(args, d.markers(h.ID)...)
	args = append(args,
		"-Dlog.file="+filepath.Join(logDir, role+".log"),
		"-Dlog4j.configuration=file:"+filepath.Join(conf, "log4j.properties"),
		"-Dlog4j.configurationFile=file:"+filepath.Join(conf, "log4j.properties"),
		"-Dlogback.configurationFile=file:"+filepath.Join(conf, "logback.xml"),
		"-Djava.io.tmpdir="+filepath.Join(h.Dir, "tmp"),
		"-classpath", strings.Join(cp, string(os.PathListSeparator)),
		mainClass, "--configDir", conf,
	)
	out, err := os.OpenFile(filepath.Join(logDir, role+".out"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return 0, err
	}
	defer out.Close()
	cmd := exec.Command(d.Java, args...)
	cmd.Dir = h.Dir
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(),
		"FLINK_CONF_DIR="+conf,
		"FLINK_LOG_DIR="+logDir,
		"FLINK_LIB_DIR="+filepath.Dir(cp[0]),
		// The S3 file systems are plugins, each loaded by Flink's plugin
		// manager in its own class loader, as in the distribution.
		"FLINK_PLUGINS_DIR="+runtime.PluginsDir(d.RuntimesDir, h.Runtime),
	)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: pgid}
	if err := cmd.Start(); err != nil {
		return 0, fmt.Errorf("start %s: %w", role, err)
	}
	pid := cmd.Process.Pid
	c := &child{cmd: cmd, role: role, done: make(chan struct{})}
	d.mu.Lock()
	d.children[pid] = c
	d.mu.Unlock()
	go func() {
		cmd.Wait()
		close(c.done)
	}()
	if err := atomicfile.WriteFile(pidFile(h.Dir, role), []byte(strconv.Itoa(pid)+"\n"), 0o644); err != nil {
		return pid, err
	}
	return pid, nil
}

// exited reports whether a child started by this driver has exited.
func (d *Driver) exited(pid int) bool {
	d.mu.Lock()
	c := d.children[pid]
	d.mu.Unlock()
	if c == nil {
		return false
	}
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// exitReport describes how a child exited.
func (d *Driver) exitReport(pid int) string {
	d.mu.Lock()
	c := d.children[pid]
	d.mu.Unlock()
	if c == nil {
		return fmt.Sprintf("process %d exited", pid)
	}
	return fmt.Sprintf("%s (pid %d) exited during start-up: %v", c.role, pid, c.cmd.ProcessState)
}

// reap forgets children that have exited.
func (d *Driver) reap(pids []int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	for _, pid := range pids {
		if c := d.children[pid]; c != nil {
			select {
			case <-c.done:
				delete(d.children, pid)
			default:
			}
		}
	}
}

func readPID(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// cmdline returns the NUL-separated arguments of a live, non-zombie
// process, or nil.
func cmdline(pid int) []string {
	if pid <= 0 {
		return nil
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil || len(b) == 0 {
		return nil
	}
	return strings.Split(string(bytes.TrimRight(b, "\x00")), "\x00")
}

// processMatches reports whether pid is a live process whose command line
// has the argument marker (the identity check against pid reuse).
func processMatches(pid int, marker string) bool {
	for _, a := range cmdline(pid) {
		if a == marker {
			return true
		}
	}
	return false
}

func anyMatches(pids []int, marker string) bool {
	for _, pid := range pids {
		if processMatches(pid, marker) {
			return true
		}
	}
	return false
}

// signalAll signals the process groups and the processes themselves,
// checking identity first so a reused pid is never signalled.
func signalAll(pids []int, marker string, kill bool) {
	sig := syscall.SIGTERM
	if kill {
		sig = syscall.SIGKILL
	}
	for _, pid := range pids {
		if !processMatches(pid, marker) {
			continue
		}
		// The cluster's group (the JobManager's pid); never our own.
		if pgid, err := syscall.Getpgid(pid); err == nil && pgid > 1 && pgid != syscall.Getpgrp() {
			syscall.Kill(-pgid, sig)
		}
		syscall.Kill(pid, sig)
	}
}

type procInfo struct {
	pid     int
	cluster string
}

// findProcesses lists live processes whose command line has marker (the
// data directory marker) with their cluster id.
func findProcesses(marker string) []procInfo {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var out []procInfo
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		args := cmdline(pid)
		has, cluster := false, ""
		for _, a := range args {
			if a == marker {
				has = true
			} else if v, ok := strings.CutPrefix(a, clusterProp); ok {
				cluster = v
			}
		}
		if has && cluster != "" {
			out = append(out, procInfo{pid, cluster})
		}
	}
	return out
}

// ClusterProcesses returns the pids of the live JVMs of a cluster.
func (d *Driver) ClusterProcesses(h flinkplane.ClusterHandle) []int {
	var pids []int
	for _, p := range findProcesses(markerDataDir(d.DataDir)) {
		if p.cluster == h.ID {
			pids = append(pids, p.pid)
		}
	}
	return pids
}

// ResidentMemory returns the sum of VmRSS of the cluster's JVMs, in bytes.
func (d *Driver) ResidentMemory(h flinkplane.ClusterHandle) (int64, error) {
	var total int64
	for _, pid := range d.ClusterProcesses(h) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
				f := strings.Fields(v)
				if len(f) >= 1 {
					kb, _ := strconv.ParseInt(f[0], 10, 64)
					total += kb * 1024
				}
			}
		}
	}
	return total, nil
}
