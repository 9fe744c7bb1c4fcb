package engine

import (
	"context"

	"github.com/flinkplane/flinkplane"
)

// finish commits a successful operation.
func (e *Engine) finish(ctx context.Context, op *flinkplane.Operation) error {
	removeID := ""
	var refs []string
	err := e.Store.Update(ctx, func(tx flinkplane.Tx) error {
		cur, err := tx.Operation(op.ApplicationName, op.ID)
		if err != nil {
			return err
		}
		if cur.Status != flinkplane.OperationInProgress {
			return errCancelled
		}
		if op.Kind == flinkplane.OpDeleteApplication {
			app, err := tx.Application(op.ApplicationName)
			if err != nil {
				return err
			}
			removeID = app.ID
			if refs, err = zipRefs(tx, op.ApplicationName); err != nil {
				return err
			}
			return tx.DeleteApplication(op.ApplicationName)
		}
		app, err := tx.Application(op.ApplicationName)
		if err != nil {
			return err
		}
		switch op.Kind {
		case flinkplane.OpStartApplication, flinkplane.OpUpdateApplication, flinkplane.OpRollbackApplication, flinkplane.OpMaintenance,
			flinkplane.OpRecovery:
			app.Status = flinkplane.StatusRunning
			app.RunningVersionID = app.VersionID
			if op.Kind != flinkplane.OpMaintenance || app.Cluster != nil {
				// A maintenance of a failed update (no job to bring back)
				// leaves it as it was.
				app.FailedOperation = ""
			}
		case flinkplane.OpStopApplication:
			app.Status = flinkplane.StatusReady
			app.Cluster, app.JobID, app.RunningVersionID, app.FailedOperation = nil, "", 0, ""
		case flinkplane.OpDeleteApplicationSnapshot:
			if err := tx.DeleteSnapshot(op.ApplicationName, op.SnapshotName); err != nil && flinkplane.ErrorCode(err) != flinkplane.ENOTFOUND {
				return err
			}
		}
		app.UpdateTime = e.now()
		if err := tx.PutApplication(app); err != nil {
			return err
		}
		op.Status = flinkplane.OperationSuccessful
		op.EndTime = e.now()
		return tx.PutOperation(op)
	})
	if err == nil && removeID != "" {
		e.removeOwned(ctx, removeID, refs)
	}
	if err == nil {
		e.watch(op.ApplicationName)
		if op.System || op.Cause != "" {
			e.Logger.Info("operation succeeded", "application", op.ApplicationName, "operation", op.ID, "kind", op.Kind, "cause", op.Cause)
		}
	}
	return err
}

// fail ends an operation FAILED and puts the application in the state the
// managed service gives it; a failed update with system rollback enabled
// starts a rollback operation.
func (e *Engine) fail(ctx context.Context, op *flinkplane.Operation, step string, cause error) bool {
	app, ver, err := e.application(ctx, op.ApplicationName)
	if err != nil {
		e.Logger.Error("cannot record failure", "operation", op.ID, "error", err)
		return false
	}
	// Did the failure leave the old job running untouched? Only a failed
	// savepoint of a stop or an update does, and only if the job still runs
	// (or the driver cannot tell: then its state is not put at risk).
	// An update or a rollback also leaves it untouched when it fails in a
	// step before the one that stops it (the warm start, the compile).
	stopAt := stopIndex(op.Plan)
	beforeStop := stopAt >= 0 && op.Step < stopAt && (op.Kind == flinkplane.OpUpdateApplication || op.Kind == flinkplane.OpRollbackApplication)
	jobUntouched := ((step == StepStopWithSavepoint || step == StepTriggerSavepoint) &&
		(op.Kind == flinkplane.OpStopApplication || op.Kind == flinkplane.OpUpdateApplication ||
			op.Kind == flinkplane.OpCreateApplicationSnapshot || op.Kind == flinkplane.OpMaintenance) || beforeStop) && e.jobStateOf(ctx, app) != jobGone
	// A rollback refused before it stopped anything leaves the job as it was.
	refused := op.Kind == flinkplane.OpRollbackApplication && beforeStop
	if refused {
		jobUntouched = e.jobStateOf(ctx, app) != jobGone
	}
	rollback := op.Kind == flinkplane.OpUpdateApplication && ver.Config.RollbackEnabled && !jobUntouched
	// The system rollback of an update whose new job failed takes over the
	// cluster the update left (idle: its job stopped with the savepoint of
	// the update, and it was started for the version the rollback returns
	// to), so that it starts no cluster.
	var handOver *flinkplane.ClusterHandle
	if rollback && op.PreviousCluster != nil && app.Cluster != nil && app.Cluster.ID != op.PreviousCluster.ID {
		handOver = op.PreviousCluster
	}
	// A warm target cluster that did not take over, or the cluster the
	// application left, is ended (the application's own is dealt with
	// below).
	keep := ""
	if handOver != nil {
		keep = handOver.ID
	}
	e.releaseClustersBut(ctx, op, keep)
	// A failed update without system rollback leaves the application
	// RUNNING on the new version with its failing job, as the managed
	// service does ("remain in running state without data processing"):
	// RollbackApplication returns it to the previous version, a corrected
	// UpdateApplication restores the pre-update snapshot.
	hold := op.Kind == flinkplane.OpUpdateApplication && !ver.Config.RollbackEnabled && !jobUntouched
	// Every other failure of a lifecycle operation ends its cluster: no job
	// is left running without the application knowing it. (A system
	// rollback stops it itself; snapshot operations leave the job alone.)
	stopCluster := !jobUntouched && !rollback && !hold && app.Cluster != nil && e.Driver != nil &&
		op.Kind != flinkplane.OpCreateApplicationSnapshot && op.Kind != flinkplane.OpDeleteApplicationSnapshot
	if stopCluster {
		// Never leave a failed job's cluster behind.
		if err := e.Driver.Stop(ctx, *app.Cluster); err != nil {
			e.Logger.Error("cannot stop cluster of failed operation", "operation", op.ID, "error", err)
		}
	}
	handedOver := false
	err = e.Store.Update(ctx, func(tx flinkplane.Tx) error {
		handedOver = false
		cur, err := tx.Operation(op.ApplicationName, op.ID)
		if err != nil {
			return err
		}
		if cur.Status != flinkplane.OperationInProgress {
			return errCancelled
		}
		app, err := tx.Application(op.ApplicationName)
		if err != nil {
			return err
		}
		op.Status = flinkplane.OperationFailed
		op.EndTime = e.now()
		op.ErrorInfo = errorInfoWithLogs(tx, app, op, step, cause)
		if stopCluster {
			app.Cluster, app.JobID, app.RunningVersionID, app.FailedOperation = nil, "", 0, ""
		}
		switch op.Kind {
		case flinkplane.OpCreateApplicationSnapshot:
			if s, err := tx.Snapshot(op.ApplicationName, op.SnapshotName); err == nil {
				s.Status = flinkplane.SnapshotFailed
				if err := tx.PutSnapshot(s); err != nil {
					return err
				}
			}
		case flinkplane.OpDeleteApplicationSnapshot:
			if s, err := tx.Snapshot(op.ApplicationName, op.SnapshotName); err == nil {
				s.Status = flinkplane.SnapshotReady
				if err := tx.PutSnapshot(s); err != nil {
					return err
				}
			}
		default:
			switch {
			case refused:
				// The rollback did not happen: the configuration returns to
				// the version it would have undone.
				if err := e.revertVersion(tx, app, op.VersionFrom); err != nil {
					return err
				}
				app.Status = flinkplane.StatusRunning
				if !jobUntouched {
					app.Status, app.RunningVersionID = flinkplane.StatusReady, 0
				} else if op.System && op.ParentID != "" {
					// The system rollback of a failed update was refused:
					// the application holds on the new version with its
					// failing job, as a failed update without system
					// rollback does (the watch leaves it alone).
					app.FailedOperation = op.ParentID
					app.RunningVersionID = app.VersionID
				}
			case jobUntouched && op.Kind == flinkplane.OpUpdateApplication:
				// The old job still runs: the configuration returns to what
				// runs, as a new version, so that the application shows
				// what it runs.
				if err := e.revertVersion(tx, app, op.VersionFrom); err != nil {
					return err
				}
				app.Status = flinkplane.StatusRunning
			case jobUntouched:
				app.Status = flinkplane.StatusRunning
			case hold:
				app.Status = flinkplane.StatusRunning
				app.FailedOperation = op.ID
				app.RunningVersionID = app.VersionID
			case rollback:
				rb, err := e.newRollback(tx, app, true, op.ID)
				if err != nil {
					// No version to return to: the application stops.
					op.ErrorInfo = errorInfoWithLogs(tx, app, op, step, cause)
					app.Status = flinkplane.StatusReady
					break
				}
				op.RollbackOperationID = rb.ID
				if handOver != nil && rb.RestoreMaxVersion == op.VersionFrom {
					rb.Cluster, handedOver = handOver, true
					if err := tx.PutOperation(rb); err != nil {
						return err
					}
				}
			default:
				app.Status = flinkplane.StatusReady
			}
		}
		app.UpdateTime = e.now()
		if err := tx.PutApplication(app); err != nil {
			return err
		}
		return tx.PutOperation(op)
	})
	if handOver != nil && !handedOver && (err == nil || err == errCancelled) {
		// No rollback took it over: it is ended as any cluster left.
		if serr := e.Driver.Stop(context.WithoutCancel(ctx), *handOver); serr != nil {
			e.Logger.Error("cannot stop a cluster of an ended operation", "operation", op.ID, "cluster", handOver.ID, "error", serr)
		}
	}
	if err != nil {
		if err != errCancelled {
			e.Logger.Error("cannot record failure", "operation", op.ID, "error", err)
			return false
		}
		return true
	}
	if op.RollbackOperationID != "" {
		e.kick(op.ApplicationName)
	}
	if hold {
		e.Logger.Warn("the update failed without system rollback; the application stays RUNNING on the new version with its failing job until it is rolled back, updated or stopped",
			"application", op.ApplicationName, "operation", op.ID)
		e.watch(op.ApplicationName)
	}
	return true
}

// newRollback records, in tx, a rollback of app to the version its current
// version was updated from: a new version with that configuration, the
// application ROLLING_BACK and an IN_PROGRESS RollbackApplication
// operation. app is modified and must be written by the caller.
func (e *Engine) newRollback(tx flinkplane.Tx, app *flinkplane.Application, system bool, parent string) (*flinkplane.Operation, error) {
	cur, err := tx.Version(app.Name, app.VersionID)
	if err != nil {
		return nil, err
	}
	if cur.UpdatedFrom == 0 {
		return nil, flinkplane.Errorf(flinkplane.EINVALIDREQUEST, "Application %s has no previous version to roll back to.", app.Name)
	}
	target, err := tx.Version(app.Name, cur.UpdatedFrom)
	if err != nil {
		return nil, err
	}
	now := e.now()
	nv := &flinkplane.ApplicationVersion{
		ApplicationName: app.Name,
		VersionID:       app.VersionID + 1,
		CreateTime:      now,
		Status:          flinkplane.StatusRollingBack,
		UpdatedFrom:     target.UpdatedFrom,
		RolledBackFrom:  app.VersionID,
		RolledBackTo:    target.VersionID,
		Config:          target.Config.Clone(),
	}
	if err := tx.CreateVersion(nv); err != nil {
		return nil, err
	}
	op := &flinkplane.Operation{
		ID:                newID(),
		ApplicationName:   app.Name,
		Kind:              flinkplane.OpRollbackApplication,
		Status:            flinkplane.OperationInProgress,
		StartTime:         now,
		Plan:              planRollback(),
		VersionFrom:       app.VersionID,
		VersionTo:         nv.VersionID,
		RestoreType:       flinkplane.RestoreLatest,
		RestoreMaxVersion: target.VersionID,
		System:            system,
		ParentID:          parent,
	}
	if err := tx.PutOperation(op); err != nil {
		return nil, err
	}
	app.VersionID = nv.VersionID
	app.ConditionalToken = NewConditionalToken()
	app.RuntimeEnvironment = nv.Config.RuntimeEnvironment
	app.Status = flinkplane.StatusRollingBack
	return op, nil
}

// revertVersion records, in tx, a new version of app with the
// configuration of version `to` (ApplicationVersionRolledBackFrom/To set).
// app is modified and must be written by the caller.
func (e *Engine) revertVersion(tx flinkplane.Tx, app *flinkplane.Application, to int64) error {
	target, err := tx.Version(app.Name, to)
	if err != nil {
		return err
	}
	nv := &flinkplane.ApplicationVersion{
		ApplicationName: app.Name,
		VersionID:       app.VersionID + 1,
		CreateTime:      e.now(),
		Status:          flinkplane.StatusRunning,
		UpdatedFrom:     target.UpdatedFrom,
		RolledBackFrom:  app.VersionID,
		RolledBackTo:    target.VersionID,
		Config:          target.Config.Clone(),
	}
	if err := tx.CreateVersion(nv); err != nil {
		return err
	}
	app.VersionID = nv.VersionID
	app.ConditionalToken = NewConditionalToken()
	app.RuntimeEnvironment = nv.Config.RuntimeEnvironment
	app.RunningVersionID = nv.VersionID
	return nil
}

// NewConditionalToken returns a fresh ConditionalToken.
func NewConditionalToken() string { return newID() + newID() }

func statusError(app *flinkplane.Application, action, allowed string) error {
	return flinkplane.Errorf(flinkplane.EINUSE, "Application %s is in %s status. %s requires the application to be in %s status.",
		app.Name, app.Status, action, allowed)
}
