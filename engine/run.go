package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flinkplane/flinkplane"
)

// run executes an operation's remaining steps, then finishes it. It
// returns false if the operation is still in progress in the store because
// recording failed (not because the engine is closing).
func (e *Engine) run(op *flinkplane.Operation) bool {
	ctx := e.ctx
	for op.CurrentStep() != "" {
		step := op.CurrentStep()
		err := e.step(ctx, op, step)
		if ctx.Err() != nil {
			return true // closing: resume at this step next time
		}
		if errors.Is(err, errCancelled) || errors.Is(err, errSuspended) {
			return true
		}
		if err != nil {
			e.Logger.Warn("operation failed", "application", op.ApplicationName, "operation", op.ID, "step", step, "error", err)
			return e.fail(ctx, op, step, err)
		}
		op.Step++
		if err := e.save(ctx, op, nil); err != nil {
			if errors.Is(err, errCancelled) || ctx.Err() != nil {
				return true
			}
			e.Logger.Error("cannot record step", "operation", op.ID, "error", err)
			return false
		}
	}
	if err := e.finish(ctx, op); err != nil && ctx.Err() == nil && !errors.Is(err, errCancelled) {
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

func (e *Engine) step(ctx context.Context, op *flinkplane.Operation, step string) error {
	if e.Driver == nil && step != StepResolveRestore && step != StepDeleteApplication && step != StepSuspend {
		return flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "No Flink runtime is available to this server.")
	}
	app, ver, err := e.application(ctx, op.ApplicationName)
	if err != nil {
		return err
	}
	switch step {
	case StepCancelJob:
		if app.Cluster == nil || app.JobID == "" {
			return nil
		}
		// A job that does not run (never submitted, failed, already
		// stopped, or its cluster gone) needs no cancelling.
		if e.jobStateOf(ctx, app) != jobGone {
			if err := e.Driver.Cancel(ctx, *app.Cluster, app.JobID); err != nil && e.jobStateOf(ctx, app) != jobGone {
				return fmt.Errorf("cancel job: %w", err)
			}
		}
		return e.save(ctx, op, func(tx flinkplane.Tx, a *flinkplane.Application) error { a.JobID = ""; return nil })

	case StepStopWithSavepoint, StepTriggerSavepoint:
		return e.savepoint(ctx, op, app, step == StepStopWithSavepoint)

	case StepStopCluster:
		if app.Cluster == nil {
			return nil
		}
		if err := e.Driver.Stop(ctx, *app.Cluster); err != nil {
			return fmt.Errorf("stop cluster: %w", err)
		}
		return e.save(ctx, op, func(tx flinkplane.Tx, a *flinkplane.Application) error {
			a.Cluster, a.JobID, a.RunningVersionID = nil, "", 0
			return nil
		})

	case StepResolveRestore:
		var from string
		err := e.Store.View(ctx, func(tx flinkplane.Tx) error {
			snaps, err := tx.Snapshots(op.ApplicationName, "", 0)
			if err != nil {
				return err
			}
			if op.Kind == flinkplane.OpMaintenance && op.SavepointLocation != "" {
				from = op.SavepointLocation // exactly the state the job stopped with
				return nil
			}
			s, err := chooseRestore(snaps, op.RestoreType, op.RestoreSnapshotName, ver.Config.RuntimeEnvironment, maxVersion(op))
			if s != nil {
				from = s.Location
			}
			return err
		})
		if err != nil {
			return err
		}
		op.RestoreFrom = from
		return nil

	case StepStartCluster:
		if err := e.Driver.Ready(ver.Config.RuntimeEnvironment); err != nil {
			return err
		}
		if app.Cluster != nil {
			if app.Cluster.Runtime == ver.Config.RuntimeEnvironment {
				alive, err := e.Driver.Adopt(ctx, *app.Cluster)
				if err == nil && alive {
					return nil
				}
			}
			// A cluster of another runtime, or a dead one: end it first.
			if err := e.Driver.Stop(ctx, *app.Cluster); err != nil {
				return fmt.Errorf("stop old cluster: %w", err)
			}
		}
		h, err := e.Driver.Start(ctx, clusterSpec(app, ver))
		if err != nil {
			return err
		}
		op.Cluster = &h
		err = e.save(ctx, op, func(tx flinkplane.Tx, a *flinkplane.Application) error {
			a.Cluster, a.JobID = &h, ""
			return nil
		})
		if errors.Is(err, errCancelled) {
			// Cancelled while the cluster started: nobody owns it, end it.
			if serr := e.Driver.Stop(context.WithoutCancel(ctx), h); serr != nil {
				e.Logger.Error("cannot stop the cluster of a cancelled operation", "operation", op.ID, "error", serr)
			}
		}
		return err

	case StepSubmit:
		if app.Cluster == nil {
			return fmt.Errorf("no cluster to submit to")
		}
		if op.JobID != "" {
			// Resumed: the job may have been submitted before the crash.
			if _, err := e.Driver.JobHealth(ctx, *app.Cluster, op.JobID); err == nil {
				return nil
			}
		} else {
			op.JobID = newJobID()
			jobID := op.JobID
			if err := e.save(ctx, op, func(tx flinkplane.Tx, a *flinkplane.Application) error { a.JobID = jobID; return nil }); err != nil {
				return err
			}
		}
		if e.Code == nil {
			return flinkplane.Errorf(flinkplane.ECODE, "No code store is configured.")
		}
		jar, err := e.Code.Fetch(ctx, ver.Config.Code)
		if err != nil {
			return err
		}
		allow := ver.Config.AllowNonRestoredState || op.AllowNonRestoredState
		got, err := e.Driver.Submit(ctx, *app.Cluster, flinkplane.JobSpec{
			JarPath:               jar,
			JobID:                 op.JobID,
			Parallelism:           ver.Config.Parallelism.Parallelism,
			RestoreFrom:           op.RestoreFrom,
			AllowNonRestoredState: allow,
		})
		if err != nil {
			return err
		}
		if got != op.JobID {
			op.JobID = got
			return e.save(ctx, op, func(tx flinkplane.Tx, a *flinkplane.Application) error { a.JobID = got; return nil })
		}
		return nil

	case StepWaitRunning:
		return e.waitRunning(ctx, op, app)

	case StepDisposeSavepoint:
		var snap *flinkplane.Snapshot
		if err := e.Store.View(ctx, func(tx flinkplane.Tx) (err error) {
			snap, err = tx.Snapshot(op.ApplicationName, op.SnapshotName)
			return err
		}); err != nil {
			if flinkplane.ErrorCode(err) == flinkplane.ENOTFOUND {
				return nil
			}
			return err
		}
		if snap.Location == "" {
			return nil
		}
		if err := e.Driver.DisposeSavepoint(ctx, snap.Location); err != nil {
			return fmt.Errorf("dispose savepoint: %w", err)
		}
		return nil

	case StepDeleteApplication:
		return nil

	case StepSuspend:
		e.mu.Lock()
		suspending := e.suspending
		e.mu.Unlock()
		if suspending {
			return errSuspended
		}
		return nil
	}
	return fmt.Errorf("unknown step %q", step)
}

func maxVersion(op *flinkplane.Operation) int64 {
	return op.RestoreMaxVersion
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
	c := ver.Config
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

// savepoint triggers (or, resumed, keeps polling) a savepoint of the
// running job and records it as a snapshot.
func (e *Engine) savepoint(ctx context.Context, op *flinkplane.Operation, app *flinkplane.Application, stop bool) error {
	if op.TriggerID == "" && e.jobStateOf(ctx, app) == jobGone {
		if stop {
			return nil // nothing runs: nothing to save
		}
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
	deadline := e.now().Add(e.SavepointTimeout)
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
			return e.save(ctx, op, func(tx flinkplane.Tx, a *flinkplane.Application) error {
				if stop {
					a.JobID = "" // the job stopped with the savepoint
				}
				return e.recordSnapshot(tx, op, a, st.Location)
			})
		}
		if e.now().After(deadline) {
			return fmt.Errorf("savepoint did not complete within %s", e.SavepointTimeout)
		}
		if err := e.alive(ctx, op); err != nil {
			return err
		}
		if !e.sleep(ctx, e.PollInterval) {
			return ctx.Err()
		}
	}
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

func (e *Engine) waitRunning(ctx context.Context, op *flinkplane.Operation, app *flinkplane.Application) error {
	if app.Cluster == nil || app.JobID == "" {
		return fmt.Errorf("no job to wait for")
	}
	deadline := e.now().Add(e.StartTimeout)
	for {
		h, err := e.Driver.JobHealth(ctx, *app.Cluster, app.JobID)
		if err != nil {
			return fmt.Errorf("job status: %w", err)
		}
		switch {
		case h.State == "RUNNING" && h.AllTasksRunning:
			return nil
		case h.State == "FAILED" || h.State == "CANCELED" || h.State == "FINISHED" || h.Restarts > 0 && h.RootCause != "":
			return jobFailure(h)
		}
		if e.now().After(deadline) {
			msg := fmt.Sprintf("The job did not reach RUNNING with all tasks running within %s (last status %s).", e.StartTimeout, h.State)
			if h.RootCause != "" {
				msg += " Root cause: " + h.RootCause
			}
			return errors.New(msg)
		}
		if err := e.alive(ctx, op); err != nil {
			return err
		}
		if !e.sleep(ctx, e.PollInterval) {
			return ctx.Err()
		}
	}
}

func jobFailure(h flinkplane.JobHealth) error {
	if h.RootCause != "" {
		return errors.New(h.RootCause)
	}
	return fmt.Errorf("the job ended in status %s", h.State)
}

// errorInfo is the ErrorString of a failed operation (1-512 characters).
func errorInfo(step string, err error) string {
	msg := err.Error()
	var fe *flinkplane.Error
	if errors.As(err, &fe) {
		msg = fe.Message
	}
	msg = strings.TrimSpace(step + ": " + msg)
	if len(msg) > 512 {
		msg = msg[:509] + "..."
	}
	return msg
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
