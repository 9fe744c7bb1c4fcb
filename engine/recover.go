package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/flinkplane/flinkplane"
)

// The operations the watch starts. Each is created in one transaction that
// first checks that the application is still RUNNING on the cluster and job
// the watch looked at, with no operation in progress: otherwise the watch's
// view is stale (a user's call got there first) and nothing is started.

// stillAsSeen reports whether app (read in tx) is still what the watch
// saw: RUNNING on the same cluster and job, no failed update held, no
// operation in progress.
func stillAsSeen(tx flinkplane.Tx, a *flinkplane.Application, clusterID, jobID string) (bool, error) {
	if a.Status != flinkplane.StatusRunning || a.FailedOperation != "" || a.Cluster == nil || a.Cluster.ID != clusterID || a.JobID != jobID {
		return false, nil
	}
	busy, err := tx.Operations(a.Name, flinkplane.OperationFilter{Status: flinkplane.OperationInProgress, Limit: 1})
	return len(busy) == 0, err
}

// startRecovery records a Recovery operation with the given plan (a fresh
// cluster, or replacing TaskManagers) and sets the application STARTING.
// It returns "" when the application is no longer as the watch saw it.
func (e *Engine) startRecovery(ctx context.Context, app *flinkplane.Application, clusterID, jobID string, checkpoint *flinkplane.CheckpointInfo,
	cause string, plan []string, baseline int64, runningSince time.Time) (string, error) {
	now := e.now()
	op := &flinkplane.Operation{ID: newID(), ApplicationName: app.Name, Kind: flinkplane.OpRecovery, Status: flinkplane.OperationInProgress,
		StartTime: now, System: true, Cause: cause, Checkpoint: checkpoint, Plan: plan, RestoreType: flinkplane.RestoreLatest,
		RestartsBaseline: baseline, JobRunningSince: runningSince}
	op.SnapshotName = autoSnapshotName("recovery", now, op.ID)
	ok := false
	err := e.Store.Update(ctx, func(tx flinkplane.Tx) error {
		a, err := tx.Application(app.Name)
		if err != nil {
			return err
		}
		if ok, err = stillAsSeen(tx, a, clusterID, jobID); !ok || err != nil {
			return err
		}
		op.VersionFrom, op.VersionTo = a.VersionID, a.VersionID
		a.Status = flinkplane.StatusStarting
		a.UpdateTime = now
		if err := tx.PutApplication(a); err != nil {
			return err
		}
		return tx.PutOperation(op)
	})
	if err != nil || !ok {
		return "", err
	}
	e.Logger.Warn("recovering the application", "application", app.Name, "operation", op.ID, "plan", op.Plan, "cause", cause)
	e.kick(app.Name)
	return op.ID, nil
}

// startJobEnded records a system StopApplication for a job that ended
// outside flinkplane: the application becomes READY (STOPPING meanwhile)
// with its newest checkpoint kept as a snapshot; the job is not restarted.
func (e *Engine) startJobEnded(ctx context.Context, app *flinkplane.Application, s *flinkplane.HealthSample, checkpoint *flinkplane.CheckpointInfo, cause string) (string, error) {
	now := e.now()
	op := &flinkplane.Operation{ID: newID(), ApplicationName: app.Name, Kind: flinkplane.OpStopApplication, Status: flinkplane.OperationInProgress,
		StartTime: now, System: true, Cause: cause, Checkpoint: checkpoint, Plan: planJobEnded()}
	op.SnapshotName = autoSnapshotName("stop", now, op.ID)
	ok := false
	err := e.Store.Update(ctx, func(tx flinkplane.Tx) error {
		a, err := tx.Application(app.Name)
		if err != nil {
			return err
		}
		if ok, err = stillAsSeen(tx, a, s.ClusterID, s.JobID); !ok || err != nil {
			return err
		}
		a.Status = flinkplane.StatusStopping
		a.UpdateTime = now
		if err := tx.PutApplication(a); err != nil {
			return err
		}
		return tx.PutOperation(op)
	})
	if err != nil || !ok {
		return "", err
	}
	e.Logger.Warn("the application's job ended outside flinkplane; stopping the application", "application", app.Name, "operation", op.ID, "cause", cause)
	e.kick(app.Name)
	return op.ID, nil
}

// autoRollbackPolicy returns the application's automatic rollback policy:
// its tag flinkplane:auto-rollback, else the server's.
func (e *Engine) autoRollbackPolicy(tags []flinkplane.Tag) flinkplane.AutoRollback {
	if v, ok := flinkplane.TagValue(tags, flinkplane.TagAutoRollback); ok {
		if p, err := flinkplane.ParseAutoRollback(v); err == nil {
			return p
		}
	}
	return e.AutoRollback
}

// autoRollback starts a system RollbackApplication when the policy says
// the update that produced the running version has failed after all: its
// job restarted Restarts times (or failed) within Window after the update
// succeeded. It reports whether it started one.
func (e *Engine) autoRollback(ctx context.Context, app *flinkplane.Application, s *flinkplane.HealthSample, failed bool) (bool, error) {
	var tags []flinkplane.Tag
	var upd *flinkplane.Operation
	if err := e.Store.View(ctx, func(tx flinkplane.Tx) (err error) {
		if tags, err = tx.Tags(app.Name); err != nil {
			return err
		}
		ops, err := tx.Operations(app.Name, flinkplane.OperationFilter{Kind: flinkplane.OpUpdateApplication, Status: flinkplane.OperationSuccessful, Limit: 1})
		if len(ops) > 0 {
			upd = ops[0]
		}
		return err
	}); err != nil {
		return false, err
	}
	policy := e.autoRollbackPolicy(tags)
	if !policy.Enabled() || upd == nil || upd.VersionTo != app.VersionID || upd.JobID == "" || upd.JobID != s.JobID ||
		s.Time.After(upd.EndTime.Add(policy.Window)) {
		return false, nil
	}
	restarts := s.Restarts - upd.RestartsBaseline
	if !failed && restarts < policy.Restarts {
		return false, nil
	}
	what := fmt.Sprintf("restarted %d times", restarts)
	if failed {
		what = "failed"
	}
	cause := fmt.Sprintf("Automatic rollback (policy %s): the job of version %d %s within %s after UpdateApplication %s succeeded",
		policy, app.VersionID, what, policy.Window, upd.ID)
	if s.Cause != "" {
		cause += ": " + s.Cause
	}
	var rb *flinkplane.Operation
	err := e.Store.Update(ctx, func(tx flinkplane.Tx) error {
		rb = nil // a store may run this again
		a, err := tx.Application(app.Name)
		if err != nil {
			return err
		}
		if ok, err := stillAsSeen(tx, a, s.ClusterID, s.JobID); !ok || err != nil {
			return err
		}
		cur, err := tx.Version(a.Name, a.VersionID)
		if err != nil {
			return err
		}
		if cur.UpdatedFrom == 0 {
			return nil
		}
		target, err := tx.Version(a.Name, cur.UpdatedFrom)
		if err != nil {
			return err
		}
		snaps, err := tx.Snapshots(a.Name, "", 0)
		if err != nil {
			return err
		}
		if sn, _ := chooseRestore(snaps, flinkplane.RestoreLatest, "", target.Config.RuntimeEnvironment, target.VersionID); sn == nil {
			e.Logger.Warn("cannot roll back automatically: no snapshot to return to", "application", a.Name, "version", target.VersionID)
			return nil
		}
		if rb, err = e.newRollback(tx, a, true, upd.ID); err != nil {
			return err
		}
		rb.Cause = cause
		a.UpdateTime = e.now()
		if err := tx.PutApplication(a); err != nil {
			return err
		}
		return tx.PutOperation(rb)
	})
	if err != nil || rb == nil {
		return false, err
	}
	e.Logger.Warn("rolling the application back automatically", "application", app.Name, "operation", rb.ID, "cause", cause)
	e.kick(app.Name)
	return true, nil
}
