package engine

import (
	"context"
	"errors"
	"fmt"

	"github.com/flinkplane/flinkplane"
)

// Steps of an operation's plan.
const (
	StepCancelJob         = "CANCEL_JOB"
	StepStopWithSavepoint = "STOP_WITH_SAVEPOINT"
	StepTriggerSavepoint  = "TRIGGER_SAVEPOINT"
	// StepKeepCheckpoint records the job's newest completed checkpoint as
	// an automatic snapshot (the restore point) when no savepoint was
	// taken: a stop whose savepoint failed, a job gone, a recovery.
	StepKeepCheckpoint = "KEEP_CHECKPOINT"
	StepStopCluster    = "STOP_CLUSTER"
	StepResolveRestore = "RESOLVE_RESTORE"
	StepStartCluster   = "START_CLUSTER"
	StepSubmit         = "SUBMIT"
	// StepWaitRunning waits until the job runs with all its tasks and then
	// holds it on probation (see probation.go).
	StepWaitRunning = "WAIT_RUNNING"
	// StepReplaceTaskManagers starts the lost TaskManagers of the cluster
	// again; StepWaitFailover waits until Flink has restarted the job on
	// them (or switches the plan to a fresh cluster).
	StepReplaceTaskManagers = "REPLACE_TASKMANAGERS"
	StepWaitFailover        = "WAIT_FAILOVER"
	StepDisposeSavepoint    = "DISPOSE_SAVEPOINT"
	// StepVerifyRestore checks, before a rollback stops anything, that the
	// snapshot it will restore can be restored (SnapshotFiles.Verify).
	StepVerifyRestore     = "VERIFY_RESTORE"
	StepDeleteApplication = "DELETE_APPLICATION"
	// StepSuspend is where a Maintenance operation waits while the server
	// is down: a shutting-down engine stops there, a starting one goes on.
	StepSuspend = "SUSPEND"
	// StepCompile builds the job on its runtime (the dry compile) before
	// anything starts or stops: the graph the job is submitted as
	// (compile.go).
	StepCompile = "COMPILE_JOB"
	// StepStartTargetCluster starts the cluster an update or a rollback
	// moves the application to while its job still runs (a warm start);
	// StepSubmit moves the application to it, and StepStopPreviousCluster
	// stops the cluster it left.
	StepStartTargetCluster  = "START_TARGET_CLUSTER"
	StepStopPreviousCluster = "STOP_PREVIOUS_CLUSTER"
)

// stepRun is what a step works on: the operation (which it may change and
// save) and the application and its current version as read before the
// step.
type stepRun struct {
	op  *flinkplane.Operation
	app *flinkplane.Application
	ver *flinkplane.ApplicationVersion
}

// stepDef is one entry of the step table.
type stepDef struct {
	run func(e *Engine, ctx context.Context, r *stepRun) error
	// noDriver marks steps that run without a cluster driver.
	noDriver bool
}

// steps is the step table: each plan is a list of names from it. A step
// records what it is about to do (and any handle it can know in advance)
// before acting, so that re-running it after a crash repeats no side
// effect. New steps are added here; plans are data (plans.go), so an
// operation can be given another plan (a failed TaskManager replacement
// continues on a fresh cluster) and new kinds of operations are new lists.
var steps = map[string]stepDef{
	StepCancelJob:           {run: (*Engine).stepCancelJob},
	StepStopWithSavepoint:   {run: (*Engine).stepStopWithSavepoint},
	StepTriggerSavepoint:    {run: (*Engine).stepTriggerSavepoint},
	StepKeepCheckpoint:      {run: (*Engine).stepKeepCheckpoint},
	StepStopCluster:         {run: (*Engine).stepStopCluster},
	StepResolveRestore:      {run: (*Engine).stepResolveRestore, noDriver: true},
	StepStartCluster:        {run: (*Engine).stepStartCluster},
	StepSubmit:              {run: (*Engine).stepSubmit},
	StepWaitRunning:         {run: (*Engine).stepWaitRunning},
	StepReplaceTaskManagers: {run: (*Engine).stepReplaceTaskManagers},
	StepWaitFailover:        {run: (*Engine).stepWaitFailover},
	StepDisposeSavepoint:    {run: (*Engine).stepDisposeSavepoint},
	StepVerifyRestore:       {run: (*Engine).stepVerifyRestore, noDriver: true},
	StepDeleteApplication:   {run: func(*Engine, context.Context, *stepRun) error { return nil }, noDriver: true},
	StepSuspend:             {run: (*Engine).stepSuspend, noDriver: true},
	StepMigrateState:        {run: (*Engine).stepMigrateState, noDriver: true},
	StepCompile:             {run: (*Engine).stepCompile},
	StepStartTargetCluster:  {run: (*Engine).stepStartTargetCluster},
	StepStopPreviousCluster: {run: (*Engine).stepStopPreviousCluster},
}

func (e *Engine) step(ctx context.Context, op *flinkplane.Operation, name string) error {
	def, ok := steps[name]
	if !ok {
		return fmt.Errorf("unknown step %q", name)
	}
	if e.Driver == nil && !def.noDriver {
		return flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "No Flink runtime is available to this server.")
	}
	app, ver, err := e.application(ctx, op.ApplicationName)
	if err != nil {
		return err
	}
	if e.StepFault != nil {
		if err := e.StepFault(ctx, op, name); err != nil {
			return err
		}
	}
	return def.run(e, ctx, &stepRun{op: op, app: app, ver: ver})
}

func (e *Engine) stepCancelJob(ctx context.Context, r *stepRun) error {
	app := r.app
	if app.Cluster == nil || app.JobID == "" {
		return nil
	}
	// A job that does not run (never submitted, failed, already stopped,
	// or its cluster gone) needs no cancelling.
	if e.jobStateOf(ctx, app) != jobGone {
		if err := e.Driver.Cancel(ctx, *app.Cluster, app.JobID); err != nil && e.jobStateOf(ctx, app) != jobGone {
			return fmt.Errorf("cancel job: %w", err)
		}
	}
	return e.save(ctx, r.op, func(tx flinkplane.Tx, a *flinkplane.Application) error { a.JobID = ""; return nil })
}

func (e *Engine) stepTriggerSavepoint(ctx context.Context, r *stepRun) error {
	return e.savepoint(ctx, r.op, r.app, false)
}

func (e *Engine) stepStopCluster(ctx context.Context, r *stepRun) error {
	if r.app.Cluster == nil {
		return nil
	}
	if err := e.Driver.Stop(ctx, *r.app.Cluster); err != nil {
		return fmt.Errorf("stop cluster: %w", err)
	}
	return e.save(ctx, r.op, func(tx flinkplane.Tx, a *flinkplane.Application) error {
		a.Cluster, a.JobID, a.RunningVersionID = nil, "", 0
		return nil
	})
}

func (e *Engine) stepResolveRestore(ctx context.Context, r *stepRun) error {
	op := r.op
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
		s, err := chooseRestore(snaps, op.RestoreType, op.RestoreSnapshotName, r.ver.Config.RuntimeEnvironment, op.RestoreMaxVersion)
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
}

func (e *Engine) stepStartCluster(ctx context.Context, r *stepRun) error {
	op, app, ver := r.op, r.app, r.ver
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
}

// stepSubmit submits the application's job, restored from op.RestoreFrom:
// the graph the operation compiled (StepCompile) when there is one, else
// the jar, whose main() then runs on the cluster. After a warm start
// (StepStartTargetCluster) it first moves the application to the
// operation's cluster, recording the cluster it leaves as
// op.PreviousCluster, in the transaction that records the job id. A
// resumed step looks for the recorded job before submitting again.
func (e *Engine) stepSubmit(ctx context.Context, r *stepRun) error {
	op, app, ver := r.op, r.app, r.ver
	target := app.Cluster
	switching := op.Cluster != nil && (app.Cluster == nil || app.Cluster.ID != op.Cluster.ID) && contains(op.Plan, StepStartTargetCluster)
	if switching {
		target = op.Cluster
	}
	if target == nil {
		return fmt.Errorf("no cluster to submit to")
	}
	if op.JobID == "" {
		op.JobID = newJobID()
	}
	if !switching && app.JobID == op.JobID {
		// Resumed: the job may have been submitted before the crash.
		if _, err := e.Driver.JobHealth(ctx, *target, op.JobID); err == nil {
			return nil
		}
	} else {
		op.RestartsBaseline, op.ProbationStart = 0, zeroTime
		jobID, h := op.JobID, *target
		if err := e.save(ctx, op, func(tx flinkplane.Tx, a *flinkplane.Application) error {
			if switching {
				op.PreviousCluster = a.Cluster
				a.Cluster = &h
			}
			a.JobID = jobID
			return nil
		}); err != nil {
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
	if err := e.restoreFiles(ctx, op); err != nil {
		return err
	}
	spec := flinkplane.JobSpec{
		JarPath:               jar,
		JobID:                 op.JobID,
		Parallelism:           ver.Config.Parallelism.Parallelism,
		RestoreFrom:           op.RestoreFrom,
		AllowNonRestoredState: allow,
	}
	if compiled(op) && op.Graph.Compiled.Runtime == target.Runtime {
		spec.Graph = op.Graph.Compiled
	}
	got, err := e.Driver.Submit(ctx, *target, spec)
	if err != nil {
		return err
	}
	e.removeGraph(op.ID)
	if got != op.JobID {
		op.JobID = got
		return e.save(ctx, op, func(tx flinkplane.Tx, a *flinkplane.Application) error { a.JobID = got; return nil })
	}
	return nil
}

func (e *Engine) stepDisposeSavepoint(ctx context.Context, r *stepRun) error {
	op := r.op
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
}

func (e *Engine) stepSuspend(ctx context.Context, r *stepRun) error {
	e.mu.Lock()
	suspending := e.suspending
	e.mu.Unlock()
	if suspending {
		return errSuspended
	}
	return nil
}

func (e *Engine) stepVerifyRestore(ctx context.Context, r *stepRun) error {
	return e.verifyRestore(ctx, r.op, r.ver)
}
