package local

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
)

// fakeCluster starts shell processes that carry a cluster's markers, in one
// process group, with pid files: what Adopt, Stop and Sweep see of a
// cluster, without a JVM.
func fakeCluster(t *testing.T, d *Driver, app string, n int) flinkplane.ClusterHandle {
	t.Helper()
	id := newClusterID()
	h := flinkplane.ClusterHandle{ID: id, Dir: filepath.Join(d.DataDir, "clusters", app, id), RESTURL: "http://127.0.0.1:1"}
	os.MkdirAll(h.Dir, 0o755)
	pgid := 0
	for i := 0; i < n; i++ {
		cmd := exec.Command("sh", "-c", "sleep 600 & wait", markerCluster(id), markerDataDir(d.DataDir))
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pgid: pgid}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		c := &child{cmd: cmd, done: make(chan struct{})}
		d.mu.Lock()
		d.children[cmd.Process.Pid] = c
		d.mu.Unlock()
		go func() { cmd.Wait(); close(c.done) }()
		if pgid == 0 {
			pgid = cmd.Process.Pid
		}
		h.PIDs = append(h.PIDs, cmd.Process.Pid)
		os.WriteFile(filepath.Join(h.Dir, "p"+strconv.Itoa(i)+".pid"), []byte(strconv.Itoa(cmd.Process.Pid)), 0o644)
	}
	t.Cleanup(func() { syscall.Kill(-pgid, syscall.SIGKILL) })
	return h
}

func groupAlive(pgid int) bool { return syscall.Kill(-pgid, 0) == nil }

func TestSweep_KillsOnlyOrphans(t *testing.T) {
	d := New(t.TempDir(), t.TempDir())
	d.Logf = t.Logf
	d.StopTimeout = 2 * time.Second
	owned := fakeCluster(t, d, "a", 2)
	orphan := fakeCluster(t, d, "b", 2)
	other := New(t.TempDir(), t.TempDir()) // another data directory: not ours
	foreign := fakeCluster(t, other, "c", 1)

	stopped, err := d.Sweep(context.Background(), []flinkplane.ClusterHandle{owned})
	if err != nil {
		t.Fatal(err)
	}
	if len(stopped) != 1 || stopped[0] != orphan.ID {
		t.Fatalf("stopped = %v, want [%s]", stopped, orphan.ID)
	}
	if n := len(d.ClusterProcesses(orphan)); n != 0 {
		t.Fatalf("%d orphan processes survive", n)
	}
	for i := 0; i < 100 && groupAlive(orphan.PIDs[0]); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	if groupAlive(orphan.PIDs[0]) {
		out, _ := exec.Command("ps", "-eo", "pid,ppid,pgid,stat,args").CombinedOutput()
		t.Fatalf("orphan's process group (sleep children) survives:\n%s", out)
	}
	if n := len(d.ClusterProcesses(owned)); n != 2 {
		t.Fatalf("owned cluster has %d processes, want 2", n)
	}
	if n := len(other.ClusterProcesses(foreign)); n != 1 {
		t.Fatalf("foreign cluster has %d processes, want 1", n)
	}
}

func TestAdopt_PartlyAliveIsStopped(t *testing.T) {
	d := New(t.TempDir(), t.TempDir())
	d.Logf = t.Logf
	d.StopTimeout = 2 * time.Second
	h := fakeCluster(t, d, "a", 2)
	// The "JobManager" dies; the "TaskManager" is left.
	syscall.Kill(h.PIDs[0], syscall.SIGKILL)
	for i := 0; i < 50 && processMatches(h.PIDs[0], markerCluster(h.ID)); i++ {
		time.Sleep(20 * time.Millisecond)
	}
	d2 := New(d.DataDir, d.RuntimesDir) // restarted control plane
	d2.Logf = t.Logf
	d2.StopTimeout = 2 * time.Second
	alive, err := d2.Adopt(context.Background(), flinkplane.ClusterHandle{ID: h.ID, Dir: h.Dir, RESTURL: h.RESTURL})
	if err != nil || alive {
		t.Fatalf("adopt = %v, %v; want false", alive, err)
	}
	if n := len(d.ClusterProcesses(h)); n != 0 {
		t.Fatalf("%d processes survive", n)
	}
}

func TestAdopt_PidReuseIsNotAdopted(t *testing.T) {
	d := New(t.TempDir(), t.TempDir())
	h := flinkplane.ClusterHandle{ID: "fc-000000000000", Dir: t.TempDir(), RESTURL: "http://127.0.0.1:1"}
	// A pid file naming an unrelated live process (this test).
	os.WriteFile(filepath.Join(h.Dir, "jobmanager.pid"), []byte(strconv.Itoa(os.Getpid())), 0o644)
	alive, err := d.Adopt(context.Background(), h)
	if err != nil || alive {
		t.Fatalf("adopt = %v, %v", alive, err)
	}
	if err := d.Stop(context.Background(), h); err != nil {
		t.Fatal(err)
	}
	// We are still alive: Stop did not signal a process without the marker.
}

func TestStopAllAndRemoveApplication(t *testing.T) {
	d := New(t.TempDir(), t.TempDir())
	d.Logf = t.Logf
	d.StopTimeout = 2 * time.Second
	a := fakeCluster(t, d, "a", 2)
	b := fakeCluster(t, d, "b", 1)
	if err := d.RemoveApplication(context.Background(), "a"); err != nil {
		t.Fatal(err)
	}
	if n := len(d.ClusterProcesses(a)); n != 0 {
		t.Fatalf("%d processes of a survive", n)
	}
	if _, err := os.Stat(a.Dir); !os.IsNotExist(err) {
		t.Fatal("cluster dir of a kept")
	}
	if n := len(d.ClusterProcesses(b)); n != 1 {
		t.Fatalf("b has %d processes, want 1", n)
	}
	if err := d.StopAll(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := len(d.ClusterProcesses(b)); n != 0 {
		t.Fatalf("%d processes of b survive StopAll", n)
	}
	if err := d.RemoveApplication(context.Background(), "../x"); flinkplane.ErrorCode(err) != flinkplane.EINVALID {
		t.Fatalf("bad id: %v", err)
	}
}
