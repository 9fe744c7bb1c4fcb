package local

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/runtime"
)

// roles returns the process roles of a cluster: "jobmanager" and
// "taskmanager-0" ... "taskmanager-<n-1>".
func roles(tms int) []string {
	out := []string{"jobmanager"}
	for i := 0; i < tms; i++ {
		out = append(out, fmt.Sprintf("taskmanager-%d", i))
	}
	return out
}

// rolePID returns the pid of a role: its pid file, else the handle's pid at
// that position ([jobmanager, taskmanager-0, ...]).
func rolePID(h flinkplane.ClusterHandle, i int, role string) int {
	if h.Dir != "" {
		if pid, err := readPID(pidFile(h.Dir, role)); err == nil {
			return pid
		}
	}
	if i < len(h.PIDs) {
		return h.PIDs[i]
	}
	return 0
}

// taskManagerCount is the number of TaskManagers the cluster was started
// with (cluster.json), else what the handle's pids say.
func taskManagerCount(h flinkplane.ClusterHandle) int {
	if info, err := readInfo(h.Dir); err == nil && info.TaskManagers > 0 {
		return info.TaskManagers
	}
	return max(len(h.PIDs)-1, 0)
}

// ClusterHealth reports which JVMs of the cluster are alive: each role's pid
// (pid file, else the handle) checked against /proc/<pid>/cmdline for the
// cluster's marker. No REST call: it answers when the JobManager is gone.
func (d *Driver) ClusterHealth(ctx context.Context, h flinkplane.ClusterHandle) (flinkplane.ClusterHealth, error) {
	tms := taskManagerCount(h)
	ch := flinkplane.ClusterHealth{TaskManagers: tms}
	marker := markerCluster(h.ID)
	for i, role := range roles(tms) {
		alive := processMatches(rolePID(h, i, role), marker)
		switch {
		case i == 0 && alive:
			ch.JobManagerAlive = true
		case i > 0 && alive:
			ch.TaskManagersAlive++
		default:
			ch.Lost = append(ch.Lost, role)
		}
	}
	return ch, nil
}

// ReplaceTaskManagers starts a new JVM for every TaskManager of the cluster
// whose process is gone, with the same role (its pid file and log files are
// reused, logs appended), and returns the handle with the new pids. The new
// TaskManagers register with the running JobManager, which restarts the
// job's tasks on their slots once it has noticed the loss (heartbeat). With
// every TaskManager alive it changes nothing; with the JobManager gone it
// fails (the cluster must be replaced).
func (d *Driver) ReplaceTaskManagers(ctx context.Context, h flinkplane.ClusterHandle) (flinkplane.ClusterHandle, error) {
	lock := d.clusterLock(h.ID)
	lock.Lock()
	defer lock.Unlock()
	info, err := readInfo(h.Dir)
	if err != nil {
		return h, fmt.Errorf("replace taskmanagers of %s: %w", h.ID, err)
	}
	marker := markerCluster(h.ID)
	tms := info.TaskManagers
	pids := make([]int, tms+1)
	var lost []int
	for i, role := range roles(tms) {
		pids[i] = rolePID(h, i, role)
		if !processMatches(pids[i], marker) {
			if i == 0 {
				return h, fmt.Errorf("replace taskmanagers of %s: the JobManager (pid %d) is gone", h.ID, pids[0])
			}
			lost = append(lost, i)
		}
	}
	out := h
	out.PIDs = pids
	if len(lost) == 0 {
		return out, nil
	}
	m, err := d.manifest(h.Runtime)
	if err != nil {
		return h, err
	}
	cp, err := runtime.Classpath(d.RuntimesDir, m)
	if err != nil {
		return h, err
	}
	for _, i := range lost {
		role := fmt.Sprintf("taskmanager-%d", i-1)
		args := d.tmJVMArgs(info.Slots)
		// Join the JobManager's process group, as at start; a JobManager
		// started by an earlier control plane may sit in another session,
		// then the TaskManager gets a group of its own (Stop finds every
		// JVM by its marker either way).
		pid, err := d.launch(h, cp, role, "org.apache.flink.runtime.taskexecutor.TaskManagerRunner", args, pids[0])
		if errors.Is(err, syscall.EPERM) {
			pid, err = d.launch(h, cp, role, "org.apache.flink.runtime.taskexecutor.TaskManagerRunner", args, 0)
		}
		if err != nil {
			return out, fmt.Errorf("replace %s of %s: %w", role, h.ID, err)
		}
		d.logf("local: cluster %s: %s (pid %d) was gone; started pid %d", h.ID, role, pids[i], pid)
		pids[i] = pid
	}
	info.Handle = out
	if err := writeInfo(h.Dir, info); err != nil {
		return out, err
	}
	return out, nil
}

// LatestCheckpoint returns the newest completed checkpoint of a job in the
// cluster's checkpoint directory
// (<data-dir>/checkpoints/<application>/<cluster>/<job>/chk-<n>): the chk-<n>
// with the highest n that has its _metadata (written last, when the
// checkpoint completes). It reads the directory, not Flink, so it answers
// after the JobManager is gone.
func (d *Driver) LatestCheckpoint(ctx context.Context, h flinkplane.ClusterHandle, jobID string) (flinkplane.CheckpointInfo, error) {
	if !jobIDRe.MatchString(jobID) || h.Dir == "" || h.ID == "" {
		return flinkplane.CheckpointInfo{}, flinkplane.Errorf(flinkplane.ENOTFOUND, "No retained checkpoint of job %s.", jobID)
	}
	app := filepath.Base(filepath.Dir(h.Dir))
	if info, err := readInfo(h.Dir); err == nil && info.Application != "" {
		app = info.Application
	}
	dir := filepath.Join(d.DataDir, "checkpoints", app, h.ID, jobID)
	ents, err := os.ReadDir(dir)
	if err != nil && !os.IsNotExist(err) {
		return flinkplane.CheckpointInfo{}, err
	}
	var best flinkplane.CheckpointInfo
	for _, e := range ents {
		n, err := strconv.ParseInt(strings.TrimPrefix(e.Name(), "chk-"), 10, 64)
		if !e.IsDir() || !strings.HasPrefix(e.Name(), "chk-") || err != nil || n <= best.ID {
			continue
		}
		st, err := os.Stat(filepath.Join(dir, e.Name(), "_metadata"))
		if err != nil {
			continue
		}
		best = flinkplane.CheckpointInfo{ID: n, Path: "file:" + filepath.Join(dir, e.Name()), Time: st.ModTime().UTC(), Size: dirSize(filepath.Join(dir, e.Name()))}
	}
	if best.ID == 0 {
		return flinkplane.CheckpointInfo{}, flinkplane.Errorf(flinkplane.ENOTFOUND, "No retained checkpoint of job %s in %s.", jobID, dir)
	}
	return best, nil
}

func dirSize(dir string) int64 {
	var n int64
	filepath.WalkDir(dir, func(_ string, e os.DirEntry, err error) error {
		if err == nil && !e.IsDir() {
			if fi, err := e.Info(); err == nil {
				n += fi.Size()
			}
		}
		return nil
	})
	return n
}

// millis turns Flink's epoch milliseconds into a time (zero for <= 0).
func millis(ms int64) time.Time {
	if ms <= 0 {
		return time.Time{}
	}
	return time.UnixMilli(ms).UTC()
}
