package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/flinkplane/flinkplane"
)

var zeroTime time.Time

// probationWindow returns the window a job must run without a restart
// before the operation that started it succeeds: the application's tag
// flinkplane:probation-window, else the server's ProbationWindow, else
// (0) flinkplane.ProbationWindow of its checkpoint configuration. A
// negative server setting means no window.
func (e *Engine) probationWindow(ctx context.Context, app string, cfg flinkplane.ApplicationConfig) time.Duration {
	var tags []flinkplane.Tag
	e.Store.View(ctx, func(tx flinkplane.Tx) (err error) { tags, err = tx.Tags(app); return err })
	if v, ok := flinkplane.TagValue(tags, flinkplane.TagProbationWindow); ok {
		if d, err := flinkplane.ParseWindow(v); err == nil {
			return d
		}
	}
	switch {
	case e.ProbationWindow < 0:
		return 0
	case e.ProbationWindow > 0:
		return e.ProbationWindow
	}
	return flinkplane.ProbationWindow(cfg.Checkpoint)
}

// checkpointAfterRestore reports whether the job completed a checkpoint
// after what it restored from (checkpoint ids continue from the restored
// one, so a newer id means a later checkpoint).
func checkpointAfterRestore(h flinkplane.JobHealth) bool {
	if h.LatestCheckpoint == nil {
		return false
	}
	return h.Restored == nil || h.LatestCheckpoint.ID > h.Restored.ID
}

// stepWaitRunning waits until the job runs with all its tasks, then holds
// it on probation: the operation succeeds only when the job has run with
// all tasks, has completed a checkpoint after its restore (when
// checkpointing is on) and has not restarted for the probation window.
// A restart inside the window, a terminal job state or a timeout fails the
// operation with the classified cause of the job's failure. The probation
// start and the restart count it compares against are recorded in the
// operation, so a resumed operation keeps its window.
func (e *Engine) stepWaitRunning(ctx context.Context, r *stepRun) error {
	op, app := r.op, r.app
	if app.Cluster == nil || app.JobID == "" {
		return fmt.Errorf("no job to wait for")
	}
	window := e.probationWindow(ctx, app.Name, r.ver.Config)
	needCheckpoint := r.ver.Config.Checkpoint.CheckpointingEnabled
	// A TaskManager recovery waits on a job that already restarted once
	// more than its baseline may show; fresh jobs must not restart at all.
	tolerant := contains(op.Plan, StepWaitFailover)
	begun := e.now()
	deadline := begun.Add(e.StartTimeout)
	var failingSince, restartSeen time.Time
	// restarted reports whether a restart fails the operation now: once
	// Flink's exception history has its cause (it may lag the restart count
	// by a refresh), or 10 s after the restart was seen.
	restarted := func(h flinkplane.JobHealth) bool {
		if h.RootCause != "" || h.Exception != nil {
			return true
		}
		if restartSeen.IsZero() {
			restartSeen = e.now()
		}
		return e.now().Sub(restartSeen) > 10*time.Second
	}
	for {
		h, err := e.Driver.JobHealth(ctx, *app.Cluster, app.JobID)
		if err != nil {
			// A JobManager that does not answer once is no verdict; one
			// that is gone, or a job it does not know, is.
			if flinkplane.ErrorCode(err) == flinkplane.ENOTFOUND || ctx.Err() != nil {
				return fmt.Errorf("job status: %w", err)
			}
			if ch, cerr := e.Driver.ClusterHealth(ctx, *app.Cluster); cerr == nil && !ch.JobManagerAlive {
				return fmt.Errorf("the JobManager process is gone: %w", err)
			}
			if failingSince.IsZero() {
				failingSince = e.now()
			} else if e.now().Sub(failingSince) > e.StartTimeout {
				return fmt.Errorf("job status: %w", err)
			}
			e.Logger.Warn("cannot ask the job's status, retrying", "application", app.Name, "operation", op.ID, "error", err)
			if !e.sleep(ctx, e.PollInterval) {
				return ctx.Err()
			}
			continue
		}
		failingSince = time.Time{}
		e.observe(app, &h, nil, nil)
		if terminal(h.State) {
			return jobFailureNamed(op, h)
		}
		now := e.now()
		if op.ProbationStart.IsZero() {
			if h.Restarts > op.RestartsBaseline && !tolerant && restarted(h) {
				return jobFailureNamed(op, h)
			}
			if h.State == "RUNNING" && h.AllTasksRunning && (tolerant || h.Restarts <= op.RestartsBaseline) {
				op.ProbationStart, op.RestartsBaseline = now, h.Restarts
				if err := e.save(ctx, op, nil); err != nil {
					return err
				}
			} else if now.After(deadline) {
				msg := fmt.Sprintf("The job did not reach RUNNING with all tasks running within %s (last status %s).", e.StartTimeout, h.State)
				if h.RootCause != "" {
					msg += " Root cause: " + h.RootCause
				}
				return errors.New(msg)
			}
		}
		if !op.ProbationStart.IsZero() && h.Restarts > op.RestartsBaseline && lateRestart(h, op.ProbationStart) {
			// A restart from before the probation that the restart counter
			// reports only now: the new baseline.
			op.RestartsBaseline = h.Restarts
			if err := e.save(ctx, op, nil); err != nil {
				return err
			}
		}
		if !op.ProbationStart.IsZero() && h.Restarts > op.RestartsBaseline {
			if restarted(h) {
				return failuref("The job restarted %d time(s) within its probation window of %s: %s",
					h.Restarts-op.RestartsBaseline, window, flinkplane.NameOperators(failureCause(h), op.Graph, op.PreviousGraph))
			}
		} else if !op.ProbationStart.IsZero() {
			checkpointed := !needCheckpoint || checkpointAfterRestore(h)
			if h.State == "RUNNING" && h.AllTasksRunning && checkpointed && !now.Before(op.ProbationStart.Add(window)) {
				return nil
			}
			if !checkpointed && now.After(op.ProbationStart.Add(window+e.StartTimeout)) {
				return failuref("The job completed no checkpoint within %s of running with all its tasks (%d failed checkpoints).",
					window+e.StartTimeout, h.FailedCheckpoints)
			}
		}
		if err := e.alive(ctx, op); err != nil {
			return err
		}
		// Until the job runs with all its tasks the wait is on the
		// cut-over's critical path: poll it often.
		pause := e.PollInterval
		if op.ProbationStart.IsZero() {
			pause = e.fastPoll(begun, 100*time.Millisecond)
		}
		if !e.sleep(ctx, pause) {
			return ctx.Err()
		}
	}
}

// jobError is the failure of a job as an operation reports it (a sentence
// for ErrorInfo).
type jobError string

func (e jobError) Error() string { return string(e) }

func failuref(format string, args ...any) error { return jobError(fmt.Sprintf(format, args...)) }

// lateRestart reports whether the job's newest failure happened before
// since (so a restart count that rose only now belongs to before).
func lateRestart(h flinkplane.JobHealth, since time.Time) bool {
	return h.Exception != nil && !h.Exception.Time.IsZero() && h.Exception.Time.Before(since)
}

func contains(s []string, v string) bool {
	for _, x := range s {
		if x == v {
			return true
		}
	}
	return false
}

// failureCause is the classified cause of a job's newest failure.
func failureCause(h flinkplane.JobHealth) string {
	if h.Exception != nil && h.Exception.Stacktrace != "" {
		return flinkplane.ClassifyFailure(h.Exception.Stacktrace, h.Exception.Task, h.RootCause)
	}
	if h.RootCause != "" {
		return flinkplane.ClassifyFailure(h.RootCause, "", h.RootCause)
	}
	return "no exception recorded"
}

func jobFailure(h flinkplane.JobHealth) error {
	if h.RootCause != "" || h.Exception != nil {
		return errors.New(failureCause(h))
	}
	if terminal(h.State) {
		return fmt.Errorf("the job ended in status %s", h.State)
	}
	return fmt.Errorf("the job restarted %d time(s); Flink recorded no exception", h.Restarts)
}

// stepReplaceTaskManagers starts the cluster's lost TaskManagers again and
// records the handle with their new process ids. With the JobManager gone
// the operation continues on a fresh cluster instead.
func (e *Engine) stepReplaceTaskManagers(ctx context.Context, r *stepRun) error {
	op, app := r.op, r.app
	if app.Cluster == nil {
		return fmt.Errorf("no cluster")
	}
	h, err := e.Driver.ReplaceTaskManagers(ctx, *app.Cluster)
	if err != nil {
		if ch, cerr := e.Driver.ClusterHealth(ctx, *app.Cluster); cerr == nil && !ch.JobManagerAlive {
			return e.freshCluster(ctx, op, "the JobManager is gone as well")
		}
		return fmt.Errorf("replace TaskManagers: %w", err)
	}
	op.Cluster = &h
	return e.save(ctx, op, func(tx flinkplane.Tx, a *flinkplane.Application) error {
		a.Cluster = &h
		return nil
	})
}

// stepWaitFailover waits until Flink has noticed the lost TaskManagers and
// restarted the job (its restart count rises above the baseline recorded
// when the loss was seen). A job that ended, a JobManager that is gone or
// a failover that does not come within FailoverTimeout continue the
// operation on a fresh cluster from the newest checkpoint.
func (e *Engine) stepWaitFailover(ctx context.Context, r *stepRun) error {
	op, app := r.op, r.app
	if app.Cluster == nil || app.JobID == "" {
		return e.freshCluster(ctx, op, "no job to fail over")
	}
	deadline := e.now().Add(e.FailoverTimeout)
	// The job has failed over when its restart count rose or when it
	// switched to RUNNING again after the time the watch recorded (Flink's
	// restart counter is a metric that may lag its job status by a
	// refresh).
	for {
		h, err := e.Driver.JobHealth(ctx, *app.Cluster, app.JobID)
		if err == nil {
			e.observe(app, &h, nil, nil)
			e.Logger.Debug("waiting for the failover", "application", app.Name, "state", h.State, "restarts", h.Restarts,
				"baseline", op.RestartsBaseline, "runningSince", h.RunningSince)
		}
		switch {
		case err != nil:
			if ch, cerr := e.Driver.ClusterHealth(ctx, *app.Cluster); (cerr == nil && !ch.JobManagerAlive) || flinkplane.ErrorCode(err) == flinkplane.ENOTFOUND {
				return e.freshCluster(ctx, op, "the JobManager is gone")
			}
		case terminal(h.State):
			return e.freshCluster(ctx, op, "the job ended in state "+h.State)
		case h.Restarts > op.RestartsBaseline || !op.JobRunningSince.IsZero() && h.RunningSince.After(op.JobRunningSince):
			op.RestartsBaseline = max(h.Restarts, op.RestartsBaseline)
			return e.save(ctx, op, nil)
		}
		if e.now().After(deadline) {
			return e.freshCluster(ctx, op, fmt.Sprintf("Flink did not restart the job within %s", e.FailoverTimeout))
		}
		if err := e.alive(ctx, op); err != nil {
			return err
		}
		if !e.sleep(ctx, e.PollInterval) {
			return ctx.Err()
		}
	}
}

// freshCluster gives a recovery the rest of a fresh-cluster plan: the
// current step ends and the operation goes on with planRecover.
func (e *Engine) freshCluster(ctx context.Context, op *flinkplane.Operation, why string) error {
	e.Logger.Warn("recovery continues on a fresh cluster", "application", op.ApplicationName, "operation", op.ID, "reason", why)
	op.Plan = replan(op.Plan, op.Step, planRecover())
	op.RestoreType = flinkplane.RestoreLatest
	op.Cause += " Continued on a fresh cluster: " + why + "."
	return e.save(ctx, op, nil)
}
