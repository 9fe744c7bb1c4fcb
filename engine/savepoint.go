package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/flinkplane/flinkplane"
)

// stepStopWithSavepoint stops the job with a savepoint. When the savepoint
// fails, a stop (and a maintenance stop) does not give up: it falls back to
// the newest checkpoint (StepKeepCheckpoint) when the job is unhealthy or a
// checkpoint exists, so that an unhealthy job can always be stopped
// without losing its restore point; an update falls back only for an
// unhealthy job that has a checkpoint. Otherwise the failure stands and
// the job is left running untouched.
func (e *Engine) stepStopWithSavepoint(ctx context.Context, r *stepRun) error {
	op, app := r.op, r.app
	if app.FailedOperation != "" {
		// The job never became healthy on this version (a failed update
		// left it): its state is the snapshot it was restored from, which
		// the next start restores again. Nothing to save.
		return nil
	}
	err := e.savepoint(ctx, op, app, true)
	if err == nil || errors.Is(err, errCancelled) || ctx.Err() != nil {
		return err
	}
	healthy := e.jobHealthy(ctx, app)
	hasCheckpoint := e.knownCheckpoint(ctx, op, app) != nil
	fallback := false
	switch op.Kind {
	case flinkplane.OpStopApplication, flinkplane.OpMaintenance:
		fallback = !healthy || hasCheckpoint
	case flinkplane.OpUpdateApplication:
		fallback = !healthy && hasCheckpoint
	}
	if !fallback {
		return err
	}
	e.Logger.Warn("savepoint failed; keeping the newest checkpoint as the restore point instead", "application", app.Name,
		"operation", op.ID, "error", err)
	op.SavepointFailure = errorInfo("", err)
	op.TriggerID = ""
	return e.save(ctx, op, nil)
}

// jobHealthy reports whether the application's job runs with all its tasks
// on a cluster whose processes are all alive.
func (e *Engine) jobHealthy(ctx context.Context, app *flinkplane.Application) bool {
	if app.Cluster == nil || app.JobID == "" {
		return false
	}
	h, err := e.Driver.JobHealth(ctx, *app.Cluster, app.JobID)
	if err != nil || h.State != "RUNNING" || !h.AllTasksRunning {
		return false
	}
	ch, err := e.Driver.ClusterHealth(ctx, *app.Cluster)
	return err == nil && ch.Healthy()
}

// knownCheckpoint returns the newest completed checkpoint (or savepoint)
// of the application's current job that anyone knows of: the operation's
// own record (from the watch), the newest health sample, Flink (if its
// JobManager answers) and the driver's checkpoint storage.
func (e *Engine) knownCheckpoint(ctx context.Context, op *flinkplane.Operation, app *flinkplane.Application) *flinkplane.CheckpointInfo {
	best := op.Checkpoint
	if app.Cluster == nil || app.JobID == "" {
		return best
	}
	e.Store.View(ctx, func(tx flinkplane.Tx) error {
		if s, err := tx.Health(app.Name); err == nil && s.JobID == app.JobID && s.ClusterID == app.Cluster.ID {
			best = best.Newer(s.LatestCheckpoint)
		}
		return nil
	})
	if h, err := e.Driver.JobHealth(ctx, *app.Cluster, app.JobID); err == nil {
		best = best.Newer(h.LatestCheckpoint)
	}
	if c, err := e.Driver.LatestCheckpoint(ctx, *app.Cluster, app.JobID); err == nil {
		best = best.Newer(&c)
	}
	if best != nil && best.Path == "" {
		return nil
	}
	return best
}

// stepKeepCheckpoint records the newest checkpoint of the job as an
// automatic snapshot (named by the operation's SnapshotName) and as the
// operation's SavepointLocation, unless a savepoint was taken. It is the
// restore point of a recovery, of a stop whose savepoint failed and of a
// job that ended outside flinkplane: RESTORE_FROM_LATEST_SNAPSHOT finds it.
// Checkpoints are kept on cancellation (the driver's retention), so the
// snapshot stays valid after the job and its cluster are gone.
func (e *Engine) stepKeepCheckpoint(ctx context.Context, r *stepRun) error {
	op, app := r.op, r.app
	if op.SavepointLocation != "" || app.FailedOperation != "" {
		return nil
	}
	best := e.knownCheckpoint(ctx, op, app)
	if best == nil {
		return nil // no checkpoint: the newest snapshot stays the restore point
	}
	if op.SnapshotName == "" {
		op.SnapshotName = autoSnapshotName("checkpoint", e.now(), op.ID)
		if err := e.save(ctx, op, nil); err != nil {
			return err
		}
	}
	op.SavepointLocation = best.Path
	// A checkpoint refers to FileSink part files in progress as a savepoint
	// does: keep them before it becomes a snapshot.
	if err := e.keepFiles(ctx, op); err != nil {
		return err
	}
	return e.save(ctx, op, func(tx flinkplane.Tx, a *flinkplane.Application) error {
		snaps, err := tx.Snapshots(a.Name, "", 0)
		if err != nil {
			return err
		}
		for _, s := range snaps {
			if s.Location == best.Path && s.Status == flinkplane.SnapshotReady {
				if s.Name != op.SnapshotName {
					op.SnapshotName = s.Name // already a snapshot (a savepoint taken by CreateApplicationSnapshot)
				}
				return nil
			}
		}
		e.Logger.Info("keeping the newest checkpoint as a snapshot", "application", a.Name, "operation", op.ID,
			"snapshot", op.SnapshotName, "checkpoint", best.ID, "path", best.Path)
		return e.recordSnapshot(tx, op, a, best.Path)
	})
}

// savepoint triggers (or, resumed, keeps polling) a savepoint of the
// running job and records it as a snapshot.
func (e *Engine) savepoint(ctx context.Context, op *flinkplane.Operation, app *flinkplane.Application, stop bool) error {
	if op.TriggerID == "" && e.jobStateOf(ctx, app) == jobGone {
		if stop {
			return nil // nothing runs: nothing to save
		}
		return flinkplane.Errorf(flinkplane.EINUSE, "Application %s has no running job.", app.Name)
	}
	if op.SavepointLocation != "" {
		// Resumed after the savepoint completed: keep its files, record it.
		return e.recordSavepoint(ctx, op)
	}
	if app.Cluster == nil {
		return flinkplane.Errorf(flinkplane.EINUSE, "Application %s has no running job.", app.Name)
	}
	h, jobID := *app.Cluster, app.JobID
	if op.TriggerID == "" {
		var id string
		var err error
		if stop {
			id, err = e.Driver.StopWithSavepoint(ctx, h, jobID, e.savepointDir(app))
		} else {
			id, err = e.Driver.TriggerSavepoint(ctx, h, jobID, e.savepointDir(app))
		}
		if err != nil {
			return fmt.Errorf("trigger savepoint: %w", err)
		}
		op.TriggerID = id
		if err := e.save(ctx, op, nil); err != nil {
			return err
		}
	}
	begun := e.now()
	deadline := begun.Add(e.SavepointTimeout)
	for {
		st, err := e.Driver.PollSavepoint(ctx, h, jobID, op.TriggerID)
		if err != nil {
			return fmt.Errorf("poll savepoint: %w", err)
		}
		if st.Done {
			if st.Failure != "" {
				return fmt.Errorf("savepoint failed: %s", st.Failure)
			}
			op.SavepointLocation = st.Location
			if err := e.save(ctx, op, func(tx flinkplane.Tx, a *flinkplane.Application) error {
				if stop {
					a.JobID = "" // the job stopped with the savepoint
				}
				return nil
			}); err != nil {
				return err
			}
			return e.recordSavepoint(ctx, op)
		}
		if e.now().After(deadline) {
			return fmt.Errorf("savepoint did not complete within %s", e.SavepointTimeout)
		}
		if err := e.alive(ctx, op); err != nil {
			return err
		}
		if !e.sleep(ctx, e.fastPoll(begun, 50*time.Millisecond)) {
			return ctx.Err()
		}
	}
}

// recordSavepoint keeps what the completed savepoint of op refers to
// outside itself, then records its snapshot READY.
func (e *Engine) recordSavepoint(ctx context.Context, op *flinkplane.Operation) error {
	if err := e.keepFiles(ctx, op); err != nil {
		return err
	}
	return e.save(ctx, op, func(tx flinkplane.Tx, a *flinkplane.Application) error {
		return e.recordSnapshot(tx, op, a, op.SavepointLocation)
	})
}

// recordSnapshot marks the operation's snapshot READY (creating it for an
// automatic one).
func (e *Engine) recordSnapshot(tx flinkplane.Tx, op *flinkplane.Operation, app *flinkplane.Application, location string) error {
	runtime := app.RuntimeEnvironment
	if app.Cluster != nil {
		runtime = app.Cluster.Runtime
	}
	s, err := tx.Snapshot(app.Name, op.SnapshotName)
	if flinkplane.ErrorCode(err) == flinkplane.ENOTFOUND {
		ver := app.RunningVersionID
		if ver == 0 {
			ver = app.VersionID
		}
		return tx.CreateSnapshot(&flinkplane.Snapshot{ApplicationName: app.Name, Name: op.SnapshotName,
			Status: flinkplane.SnapshotReady, VersionID: ver, Runtime: runtime, CreateTime: e.now(),
			Location: location, OperationID: op.ID, Automatic: true})
	} else if err != nil {
		return err
	}
	s.Status, s.Location, s.Runtime = flinkplane.SnapshotReady, location, runtime
	return tx.PutSnapshot(s)
}
