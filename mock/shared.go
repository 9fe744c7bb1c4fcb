package mock

import (
	"context"
	"fmt"
	"os"
	"strings"
	"syscall"

	"github.com/flinkplane/flinkplane"
)

var _ flinkplane.ClusterDriver = (*SharedClusterDriver)(nil)

// SharedClusterDriver is the fake Flink of LoadClusterDriver shared by
// several processes (the replicas of a multi-replica test), as real
// clusters are: every call takes an exclusive lock on File+".lock",
// loads the state from File, runs, and writes the state back before
// unlocking. A process killed in the middle of a call loses its lock and
// leaves the state as the last finished call wrote it.
//
// Submit also checks the invariant "at most one job of an application
// runs": a submission while another job runs is appended to
// File+".overlaps" (Overlaps reads them).
type SharedClusterDriver struct {
	File string
	// Configure, if set, adjusts the driver loaded for each call (faults,
	// scripted job states).
	Configure func(*ClusterDriver)
}

// with runs fn on the shared state under the lock.
func (s *SharedClusterDriver) with(fn func(d *ClusterDriver) error) error {
	f, err := os.OpenFile(s.File+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		return err
	}
	defer syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	d, err := LoadClusterDriver(s.File)
	if err != nil {
		return err
	}
	if s.Configure != nil {
		s.Configure(d)
	}
	err = fn(d)
	d.mu.Lock()
	d.persist()
	d.mu.Unlock()
	return err
}

// Load returns a copy of the shared state (for a test's checks).
func (s *SharedClusterDriver) Load() (*ClusterDriver, error) {
	var out *ClusterDriver
	err := s.with(func(d *ClusterDriver) error { out = d; return nil })
	return out, err
}

// Overlaps returns the submissions made while another job ran.
func (s *SharedClusterDriver) Overlaps() []string {
	b, _ := os.ReadFile(s.File + ".overlaps")
	return strings.Fields(string(b))
}

func (s *SharedClusterDriver) Ready(runtime flinkplane.RuntimeID) error { return nil }

func (s *SharedClusterDriver) Start(ctx context.Context, spec flinkplane.ClusterSpec) (h flinkplane.ClusterHandle, err error) {
	err = s.with(func(d *ClusterDriver) (err error) { h, err = d.Start(ctx, spec); return err })
	return h, err
}

func (s *SharedClusterDriver) Adopt(ctx context.Context, h flinkplane.ClusterHandle) (alive bool, err error) {
	err = s.with(func(d *ClusterDriver) (err error) { alive, err = d.Adopt(ctx, h); return err })
	return alive, err
}

func (s *SharedClusterDriver) Submit(ctx context.Context, h flinkplane.ClusterHandle, job flinkplane.JobSpec) (id string, err error) {
	err = s.with(func(d *ClusterDriver) (err error) {
		if running := d.Running(); len(running) > 0 {
			f, ferr := os.OpenFile(s.File+".overlaps", os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
			if ferr == nil {
				fmt.Fprintf(f, "submit-%s-while-%s\n", job.JobID, strings.Join(running, ","))
				f.Close()
			}
		}
		id, err = d.Submit(ctx, h, job)
		return err
	})
	return id, err
}

func (s *SharedClusterDriver) JobHealth(ctx context.Context, h flinkplane.ClusterHandle, jobID string) (jh flinkplane.JobHealth, err error) {
	err = s.with(func(d *ClusterDriver) (err error) { jh, err = d.JobHealth(ctx, h, jobID); return err })
	return jh, err
}

func (s *SharedClusterDriver) TriggerSavepoint(ctx context.Context, h flinkplane.ClusterHandle, jobID, dir string) (id string, err error) {
	err = s.with(func(d *ClusterDriver) (err error) { id, err = d.TriggerSavepoint(ctx, h, jobID, dir); return err })
	return id, err
}

func (s *SharedClusterDriver) StopWithSavepoint(ctx context.Context, h flinkplane.ClusterHandle, jobID, dir string) (id string, err error) {
	err = s.with(func(d *ClusterDriver) (err error) { id, err = d.StopWithSavepoint(ctx, h, jobID, dir); return err })
	return id, err
}

func (s *SharedClusterDriver) PollSavepoint(ctx context.Context, h flinkplane.ClusterHandle, jobID, triggerID string) (st flinkplane.SavepointStatus, err error) {
	err = s.with(func(d *ClusterDriver) (err error) { st, err = d.PollSavepoint(ctx, h, jobID, triggerID); return err })
	return st, err
}

func (s *SharedClusterDriver) Cancel(ctx context.Context, h flinkplane.ClusterHandle, jobID string) error {
	return s.with(func(d *ClusterDriver) error { return d.Cancel(ctx, h, jobID) })
}

func (s *SharedClusterDriver) Stop(ctx context.Context, h flinkplane.ClusterHandle) error {
	return s.with(func(d *ClusterDriver) error { return d.Stop(ctx, h) })
}

func (s *SharedClusterDriver) DisposeSavepoint(ctx context.Context, location string) error {
	return s.with(func(d *ClusterDriver) error { return d.DisposeSavepoint(ctx, location) })
}

func (s *SharedClusterDriver) ClusterHealth(ctx context.Context, h flinkplane.ClusterHandle) (ch flinkplane.ClusterHealth, err error) {
	err = s.with(func(d *ClusterDriver) (err error) { ch, err = d.ClusterHealth(ctx, h); return err })
	return ch, err
}

func (s *SharedClusterDriver) ReplaceTaskManagers(ctx context.Context, h flinkplane.ClusterHandle) (out flinkplane.ClusterHandle, err error) {
	err = s.with(func(d *ClusterDriver) (err error) { out, err = d.ReplaceTaskManagers(ctx, h); return err })
	return out, err
}

func (s *SharedClusterDriver) LatestCheckpoint(ctx context.Context, h flinkplane.ClusterHandle, jobID string) (c flinkplane.CheckpointInfo, err error) {
	err = s.with(func(d *ClusterDriver) (err error) { c, err = d.LatestCheckpoint(ctx, h, jobID); return err })
	return c, err
}
