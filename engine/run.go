package engine

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/flinkplane/flinkplane"
)

// run executes an operation's remaining steps, then finishes it, with the
// worker's ctx (which ends when the engine closes or the application's
// lease is lost). It returns false if the operation is still in progress in
// the store because recording failed (not because the engine is closing or
// the lease was lost).
func (e *Engine) run(ctx context.Context, op *flinkplane.Operation) bool {
	for op.CurrentStep() != "" {
		step := op.CurrentStep()
		if ctx.Err() != nil {
			return true // closing, or the lease was lost: resume at this step
		}
		started := e.now()
		err := e.step(ctx, op, step)
		if errors.Is(err, flinkplane.ErrLeaseLost) {
			e.loseHold(op.ApplicationName, ctx)
			return true // the new lease holder resumes at this step
		}
		if ctx.Err() != nil {
			return true // closing: resume at this step next time
		}
		if errors.Is(err, errCancelled) {
			// Ended by another operation: what it started and the
			// application does not own is ended.
			e.releaseClusters(ctx, op)
			return true
		}
		if errors.Is(err, errSuspended) {
			return true
		}
		if err != nil {
			e.Logger.Warn("operation failed", "application", op.ApplicationName, "operation", op.ID, "step", step, "error", err)
			return e.fail(ctx, op, step, err)
		}
		e.Logger.Debug("step done", "application", op.ApplicationName, "operation", op.ID, "step", step, "seconds", e.now().Sub(started).Seconds())
		op.Timings = append(op.Timings, flinkplane.StepTiming{Step: step, Start: started, End: e.now()})
		op.Step++
		if err := e.save(ctx, op, nil); err != nil {
			if errors.Is(err, flinkplane.ErrLeaseLost) {
				e.loseHold(op.ApplicationName, ctx)
				return true
			}
			if errors.Is(err, errCancelled) {
				e.releaseClusters(ctx, op)
				return true
			}
			if ctx.Err() != nil {
				return true
			}
			e.Logger.Error("cannot record step", "operation", op.ID, "error", err)
			return false
		}
	}
	if err := e.finish(ctx, op); err != nil && ctx.Err() == nil && !errors.Is(err, errCancelled) && !errors.Is(err, flinkplane.ErrLeaseLost) {
		e.Logger.Error("cannot finish operation", "operation", op.ID, "error", err)
		return false
	}
	return true
}

// save writes the operation (and lets fn change the application in the
// same transaction). It returns errCancelled if the stored operation is no
// longer IN_PROGRESS.
func (e *Engine) save(ctx context.Context, op *flinkplane.Operation, fn func(tx flinkplane.Tx, app *flinkplane.Application) error) error {
	return e.Store.Update(ctx, func(tx flinkplane.Tx) error {
		cur, err := tx.Operation(op.ApplicationName, op.ID)
		if err != nil {
			return err
		}
		if cur.Status != flinkplane.OperationInProgress {
			return errCancelled
		}
		if fn != nil {
			app, err := tx.Application(op.ApplicationName)
			if err != nil {
				return err
			}
			if err := fn(tx, app); err != nil {
				return err
			}
			if err := tx.PutApplication(app); err != nil {
				return err
			}
		}
		return tx.PutOperation(op)
	})
}

// alive returns errCancelled if the operation was ended by another one.
func (e *Engine) alive(ctx context.Context, op *flinkplane.Operation) error {
	return e.Store.View(ctx, func(tx flinkplane.Tx) error {
		cur, err := tx.Operation(op.ApplicationName, op.ID)
		if err != nil {
			return err
		}
		if cur.Status != flinkplane.OperationInProgress {
			return errCancelled
		}
		return nil
	})
}

func (e *Engine) application(ctx context.Context, name string) (app *flinkplane.Application, ver *flinkplane.ApplicationVersion, err error) {
	err = e.Store.View(ctx, func(tx flinkplane.Tx) error {
		if app, err = tx.Application(name); err != nil {
			return err
		}
		ver, err = tx.Version(name, app.VersionID)
		return err
	})
	return app, ver, err
}

// chooseRestore picks the snapshot a start restores from: nil to skip.
// maxVersion > 0 limits RESTORE_FROM_LATEST_SNAPSHOT to snapshots taken at
// or before that version (a rollback restores pre-upgrade state).
func chooseRestore(snaps []*flinkplane.Snapshot, restoreType, name string, target flinkplane.RuntimeID, maxVersion int64) (*flinkplane.Snapshot, error) {
	switch restoreType {
	case flinkplane.RestoreSkip:
		return nil, nil
	case flinkplane.RestoreCustom:
		for _, s := range snaps {
			if s.Name != name {
				continue
			}
			if s.Status != flinkplane.SnapshotReady || s.Location == "" {
				return nil, flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "Snapshot %s is in %s status and cannot be restored.", name, s.Status)
			}
			if !flinkplane.CanRestore(s.Runtime, target) {
				return nil, flinkplane.Errorf(flinkplane.EINVALIDCONFIG,
					"Snapshot %s was taken on %s and cannot be restored on %s: a snapshot is never restored on an older Flink version.",
					name, s.Runtime, target)
			}
			return s, nil
		}
		return nil, flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "Snapshot %s does not exist.", name)
	default: // RESTORE_FROM_LATEST_SNAPSHOT
		var cand []*flinkplane.Snapshot
		for _, s := range snaps {
			if maxVersion == 0 || s.VersionID <= maxVersion {
				cand = append(cand, s)
			}
		}
		if s := flinkplane.LatestRestorable(cand, target); s != nil {
			return s, nil
		}
		// Snapshots exist but none can be restored on target (all taken on
		// a newer Flink): starting without state would silently drop the
		// application's state, so refuse (the managed service requires a
		// snapshot taken on a matching or earlier version for a downgrade).
		var newest *flinkplane.Snapshot
		for _, s := range cand {
			if s.Status == flinkplane.SnapshotReady && s.Location != "" && (newest == nil || s.CreateTime.After(newest.CreateTime)) {
				newest = s
			}
		}
		if newest != nil {
			return nil, flinkplane.Errorf(flinkplane.EINVALIDCONFIG,
				"RESTORE_FROM_LATEST_SNAPSHOT: the latest snapshot, %s, was taken on %s and cannot be restored on %s, and no snapshot was taken on %s or earlier: "+
					"a snapshot is never restored on an older Flink version. Use SKIP_RESTORE_FROM_SNAPSHOT to start without state.",
				newest.Name, newest.Runtime, target, target)
		}
		return nil, nil
	}
}

func clusterSpec(app *flinkplane.Application, ver *flinkplane.ApplicationVersion) flinkplane.ClusterSpec {
	return clusterSpecOf(app, ver.Config)
}

// clusterSpecOf is the cluster of app running configuration c.
func clusterSpecOf(app *flinkplane.Application, c flinkplane.ApplicationConfig) flinkplane.ClusterSpec {
	return flinkplane.ClusterSpec{
		ApplicationName:   app.Name,
		ApplicationID:     app.ID,
		Runtime:           c.RuntimeEnvironment,
		Parallelism:       max(c.Parallelism.Parallelism, 1),
		ParallelismPerKPU: max(c.Parallelism.ParallelismPerKPU, 1),
		Checkpoint: flinkplane.CheckpointSpec{
			Enabled:                    c.Checkpoint.CheckpointingEnabled,
			Interval:                   time.Duration(c.Checkpoint.CheckpointInterval) * time.Millisecond,
			MinPauseBetweenCheckpoints: time.Duration(c.Checkpoint.MinPauseBetweenCheckpoints) * time.Millisecond,
		},
		Properties: c.EnvironmentProperties,
	}
}

// errorInfo is the ErrorString of a failed operation (1-512 characters):
// the step and the cause, without server paths, process ids or JVM output
// (errorinfo.go); a cause that was shortened, or is not one of
// flinkplane's own messages, ends with a pointer to the logs.
func errorInfo(step string, err error) string {
	return errorInfoPointing(step, err, logPointer)
}

// errorInfoPointing is errorInfo with the given pointer to the logs ("":
// none, the caller says where the log lines are).
func errorInfoPointing(step string, err error, pointer string) string {
	msg := err.Error()
	var fe *flinkplane.Error
	if errors.As(err, &fe) {
		msg = fe.Message
	}
	clean := sanitizeCause(msg)
	if pointer != "" && (clean != strings.TrimSpace(msg) || fe == nil) {
		clean = strings.TrimRight(clean, ". ") + ". " + pointer
	}
	if step != "" {
		clean = step + ": " + clean
	}
	clean = strings.TrimSpace(clean)
	if len(clean) > 512 {
		clean = clean[:509] + "..."
	}
	return clean
}

// terminal reports whether a Flink job status is final.
func terminal(state string) bool {
	switch state {
	case "FAILED", "CANCELED", "FINISHED", "SUSPENDED":
		return true
	}
	return false
}

// Job states as the engine sees them.
type jobState int

const (
	jobUnknown jobState = iota // the driver could not tell
	jobAlive                   // exists and has not ended (may be restarting)
	jobGone                    // ended, never existed (ENOTFOUND), or its cluster is dead
)

// jobStateOf asks the driver about the application's recorded job. The
// driver returns ENOTFOUND for a job its cluster does not know.
func (e *Engine) jobStateOf(ctx context.Context, app *flinkplane.Application) jobState {
	if e.Driver == nil || app.Cluster == nil || app.JobID == "" {
		return jobGone
	}
	h, err := e.Driver.JobHealth(ctx, *app.Cluster, app.JobID)
	switch {
	case err == nil && terminal(h.State):
		return jobGone
	case err == nil:
		return jobAlive
	case flinkplane.ErrorCode(err) == flinkplane.ENOTFOUND:
		return jobGone
	}
	if alive, aerr := e.Driver.Adopt(ctx, *app.Cluster); aerr == nil && !alive {
		return jobGone
	}
	return jobUnknown
}
