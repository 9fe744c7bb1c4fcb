package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flinkplane/flinkplane"
)

// The watch keeps the truth about running applications. One loop per
// application that has a cluster (watchApplication) asks the driver every
// WatchInterval how the cluster's processes and the job are
// (ClusterHealth, JobHealth), records the answer as a health sample in the
// Store (a bounded history; the newest is the application's health) and,
// when the job or its cluster is lost, starts an operation that the
// application's worker runs like any other: it never acts on a cluster
// itself. Decisions are taken only for a RUNNING application with no
// operation in progress, in the same transaction that records the new
// operation, so a user's call and the watch never both act.
//
//	JobManager process gone, job unknown,  -> Recovery: a fresh cluster from the
//	job FAILED, JobManager unreachable        newest checkpoint (STARTING until probation)
//	TaskManager process gone               -> Recovery: TaskManagers replaced, Flink
//	                                          fails over from its checkpoint
//	job CANCELED or FINISHED outside us    -> StopApplication (system): READY, the newest
//	                                          checkpoint kept as a snapshot
//	restarts (or FAILED) soon after an     -> RollbackApplication (system), when the
//	update                                    auto-rollback policy is on
//
// Operations in progress poll the job themselves (WAIT_RUNNING's probation)
// and record their observations through observe, so health is current
// during an operation too.

// unreachableLimit is how long a JobManager whose process runs may not
// answer before the watch replaces its cluster.
func (e *Engine) unreachableLimit() time.Duration {
	return max(30*time.Second, 10*e.WatchInterval)
}

// openWatch starts the watch and the health writer (called by Open).
func (e *Engine) openWatch() {
	if e.WatchInterval <= 0 || e.health == nil {
		return
	}
	e.wg.Add(2)
	go e.writeHealth(e.ctx)
	go e.monitorApplications(e.ctx)
}

// monitorApplications makes sure every application with a cluster has its
// watch loop; loops end by themselves when their application stops.
func (e *Engine) monitorApplications(ctx context.Context) {
	defer e.wg.Done()
	for {
		var names []string
		others := e.othersLeases(ctx) // watched by their lease holders
		err := e.Store.View(ctx, func(tx flinkplane.Tx) error {
			after := ""
			for {
				page, err := tx.Applications(after, 500)
				if err != nil {
					return err
				}
				for _, a := range page {
					if a.Cluster != nil && a.Status != flinkplane.StatusReady && a.Status != flinkplane.StatusDeleting && !others[a.Name] {
						names = append(names, a.Name)
					}
				}
				if len(page) < 500 {
					return nil
				}
				after = page[len(page)-1].Name
			}
		})
		if err != nil && ctx.Err() == nil {
			e.Logger.Error("cannot list applications to watch, retrying", "error", err)
		}
		for _, n := range names {
			e.watch(n)
		}
		if !e.sleep(ctx, e.WatchInterval) {
			return
		}
	}
}

// watch starts the watch loop of an application unless it runs.
func (e *Engine) watch(name string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.WatchInterval <= 0 || e.ctx == nil || e.ctx.Err() != nil || e.watching[name] {
		return
	}
	e.watching[name] = true
	e.wg.Add(1)
	go e.watchApplication(name)
}

// watcher is the state of one application's watch loop.
type watcher struct {
	e    *Engine
	name string
	// last is the previous sample; lastHealthy the newest one with every
	// process alive and the job running (its restart count is the baseline
	// of a TaskManager recovery).
	last, lastHealthy *flinkplane.HealthSample
	// checkpoint is the newest checkpoint seen of the current job.
	checkpoint *flinkplane.CheckpointInfo
	// unreachableSince is when the JobManager stopped answering.
	unreachableSince time.Time
}

func (e *Engine) watchApplication(name string) {
	defer e.wg.Done()
	defer func() {
		e.mu.Lock()
		delete(e.watching, name)
		e.mu.Unlock()
	}()
	// The watch runs on the holder of the application's lease only
	// (lease.go); ctx ends when it is lost.
	ctx, ok := e.hold(name)
	if !ok {
		return
	}
	defer e.drop(name, ctx)
	w := &watcher{e: e, name: name}
	e.Store.View(ctx, func(tx flinkplane.Tx) error {
		if s, err := tx.Health(name); err == nil {
			w.last = s
			w.checkpoint = s.LatestCheckpoint
		}
		return nil
	})
	for {
		app, busy, err := e.watchState(ctx, name)
		switch {
		case ctx.Err() != nil:
			return
		case flinkplane.ErrorCode(err) == flinkplane.ENOTFOUND:
			return
		case err != nil:
			e.Logger.Error("cannot read application, retrying", "application", name, "error", err)
		case app.Cluster == nil || app.Status == flinkplane.StatusReady || app.Status == flinkplane.StatusDeleting:
			return
		case busy || app.Status != flinkplane.StatusRunning:
			// The operation in progress watches its job itself.
		default:
			w.tick(ctx, app)
		}
		if !e.sleep(ctx, e.WatchInterval) {
			return
		}
	}
}

// watchState reads the application and whether an operation is in
// progress.
func (e *Engine) watchState(ctx context.Context, name string) (app *flinkplane.Application, busy bool, err error) {
	err = e.Store.View(ctx, func(tx flinkplane.Tx) error {
		if app, err = tx.Application(name); err != nil {
			return err
		}
		ops, err := tx.Operations(name, flinkplane.OperationFilter{Status: flinkplane.OperationInProgress, Limit: 1})
		busy = len(ops) > 0
		return err
	})
	return app, busy, err
}

// tick polls the application once, records the sample and acts on it.
func (w *watcher) tick(ctx context.Context, app *flinkplane.Application) {
	e := w.e
	pctx, cancel := context.WithTimeout(ctx, max(10*time.Second, 2*e.WatchInterval))
	defer cancel()
	ch, cerr := e.Driver.ClusterHealth(pctx, *app.Cluster)
	if cerr != nil {
		// The driver cannot tell: assume the processes run and ask Flink.
		ch = flinkplane.ClusterHealth{JobManagerAlive: true}
	}
	var job *flinkplane.JobHealth
	var jerr error
	if ch.JobManagerAlive && app.JobID != "" {
		h, err := e.Driver.JobHealth(pctx, *app.Cluster, app.JobID)
		if err == nil {
			job = &h
		} else {
			jerr = err
		}
	}
	if ctx.Err() != nil {
		return
	}
	s := e.sample(app, job, &ch, jerr)
	e.record(s)
	e.recordMetrics(ctx, app, job)
	if s.JobID != "" && (w.last == nil || w.last.JobID != s.JobID) {
		w.checkpoint = nil
	}
	w.checkpoint = w.checkpoint.Newer(s.LatestCheckpoint)
	if s.Status == flinkplane.HealthUnreachable {
		if w.unreachableSince.IsZero() {
			w.unreachableSince = s.Time
		}
	} else {
		w.unreachableSince = time.Time{}
	}
	w.act(ctx, app, s)
	w.last = s
	if s.Status == flinkplane.HealthHealthy {
		w.lastHealthy = s
	}
}

// act starts the operation a sample calls for, if any.
func (w *watcher) act(ctx context.Context, app *flinkplane.Application, s *flinkplane.HealthSample) {
	e := w.e
	e.mu.Lock()
	suspending := e.suspending
	e.mu.Unlock()
	if suspending || app.FailedOperation != "" {
		// A failed update without system rollback stays as it is (the
		// managed service's "running without data processing") until the
		// user rolls back, updates or stops it.
		return
	}
	where := fmt.Sprintf("cluster %s, job %s", s.ClusterID, s.JobID)
	var err error
	switch s.Status {
	case flinkplane.HealthJobManagerLost:
		_, err = e.startRecovery(ctx, app, s.ClusterID, s.JobID, w.checkpoint,
			fmt.Sprintf("The JobManager process of the application's cluster is gone (%s).", where), planRecover(), 0, time.Time{})
	case flinkplane.HealthNoJob:
		_, err = e.startRecovery(ctx, app, s.ClusterID, s.JobID, w.checkpoint,
			fmt.Sprintf("The JobManager does not know the application's job any more (%s).", where), planRecover(), 0, time.Time{})
	case flinkplane.HealthUnreachable:
		if !w.unreachableSince.IsZero() && s.Time.Sub(w.unreachableSince) >= e.unreachableLimit() {
			_, err = e.startRecovery(ctx, app, s.ClusterID, s.JobID, w.checkpoint,
				fmt.Sprintf("The JobManager has not answered since %s (%s): %s.", w.unreachableSince.Format(time.RFC3339), where, s.Error), planRecover(), 0, time.Time{})
		}
	case flinkplane.HealthFailed:
		if done, rerr := e.autoRollback(ctx, app, s, true); done || rerr != nil {
			err = rerr
			break
		}
		cause := "The job reached FAILED (Flink's restart strategy gave up)"
		if s.Cause != "" {
			cause += ": " + s.Cause
		}
		_, err = e.startRecovery(ctx, app, s.ClusterID, s.JobID, w.checkpoint, cause+" ("+where+").", planRecover(), 0, time.Time{})
	case flinkplane.HealthCanceled:
		_, err = e.startJobEnded(ctx, app, s, w.checkpoint,
			fmt.Sprintf("The Flink job was cancelled outside flinkplane (through Flink's REST API or web UI; %s). It is not restarted: the application is READY and its newest checkpoint is kept as a snapshot.", where))
	case flinkplane.HealthFinished:
		_, err = e.startJobEnded(ctx, app, s, w.checkpoint,
			fmt.Sprintf("The Flink job finished (%s): its sources ended, or it was stopped outside flinkplane. The application is READY.", where))
	default:
		if s.Cluster != nil && s.Cluster.JobManagerAlive && s.Cluster.TaskManagersAlive < s.Cluster.TaskManagers {
			// What the job looked like before the loss: the restart count
			// and RUNNING time Flink's failover will move on from.
			baseline, since := s.Restarts, time.Time{}
			switch {
			case w.lastHealthy != nil && w.lastHealthy.JobID == s.JobID:
				baseline, since = min(baseline, w.lastHealthy.Restarts), w.lastHealthy.RunningSince
			case s.JobState == "RUNNING" && s.AllTasksRunning:
				since = s.RunningSince // Flink has not noticed yet
			case baseline > 0:
				baseline-- // Flink already restarted the job
			}
			_, err = e.startRecovery(ctx, app, s.ClusterID, s.JobID, w.checkpoint,
				fmt.Sprintf("TaskManager process(es) %s of the application's cluster are gone (%s).", strings.Join(s.Cluster.Lost, ", "), where),
				planReplaceTaskManagers(), baseline, since)
			break
		}
		if s.Restarts > 0 {
			_, err = e.autoRollback(ctx, app, s, false)
		}
	}
	if err != nil && ctx.Err() == nil {
		e.Logger.Error("cannot start an operation for the application's health, retrying", "application", app.Name, "error", err)
	}
}

// sample builds a health sample from what the driver answered.
func (e *Engine) sample(app *flinkplane.Application, job *flinkplane.JobHealth, cluster *flinkplane.ClusterHealth, jerr error) *flinkplane.HealthSample {
	s := &flinkplane.HealthSample{ApplicationName: app.Name, Time: e.now(), VersionID: app.RunningVersionID, JobID: app.JobID, Cluster: cluster}
	if s.VersionID == 0 {
		s.VersionID = app.VersionID
	}
	if app.Cluster != nil {
		s.ClusterID, s.Runtime = app.Cluster.ID, app.Cluster.Runtime
	}
	ch := flinkplane.ClusterHealth{JobManagerAlive: true}
	if cluster != nil {
		ch = *cluster
	}
	switch {
	case job != nil:
		s.JobState, s.AllTasksRunning, s.Restarts = job.State, job.AllTasksRunning, job.Restarts
		s.CompletedCheckpoints, s.FailedCheckpoints = job.CompletedCheckpoints, job.FailedCheckpoints
		s.LatestCheckpoint, s.Restored = job.LatestCheckpoint, job.Restored
		s.JobStartTime, s.RunningSince = job.StartTime, job.RunningSince
		s.RootCause = job.RootCause
		if job.RootCause != "" || job.Exception != nil {
			s.Cause = failureCause(*job)
		}
		s.Status = flinkplane.JobStatusHealth(*job, ch)
	case !ch.JobManagerAlive:
		s.Status = flinkplane.HealthJobManagerLost
	case app.JobID == "" || flinkplane.ErrorCode(jerr) == flinkplane.ENOTFOUND:
		s.Status = flinkplane.HealthNoJob
	default:
		s.Status = flinkplane.HealthUnreachable
	}
	if jerr != nil {
		s.Error = errorInfo("", jerr)
	}
	if len(s.Cause) > 1024 {
		s.Cause = s.Cause[:1021] + "..."
	}
	return s
}

// observe records what an operation's own poll saw of its job, at most
// once per WatchInterval per application.
func (e *Engine) observe(app *flinkplane.Application, job *flinkplane.JobHealth, cluster *flinkplane.ClusterHealth, jerr error) {
	if e.WatchInterval <= 0 || e.health == nil {
		return
	}
	now := e.now()
	e.mu.Lock()
	if last, ok := e.observed[app.Name]; ok && now.Sub(last) < e.WatchInterval {
		e.mu.Unlock()
		return
	}
	e.observed[app.Name] = now
	e.mu.Unlock()
	if cluster == nil && app.Cluster != nil && e.Driver != nil {
		// The sample shows the cluster's processes as the watch's do.
		ctx, cancel := context.WithTimeout(e.ctx, 5*time.Second)
		if ch, err := e.Driver.ClusterHealth(ctx, *app.Cluster); err == nil {
			cluster = &ch
		}
		cancel()
	}
	e.record(e.sample(app, job, cluster, jerr))
	e.recordMetrics(e.ctx, app, job)
}

// metricsPoll is a poll waiting for the metrics recorder.
type metricsPoll struct {
	app *flinkplane.Application
	at  time.Time
	job *flinkplane.JobHealth
}

// recordMetrics hands one poll of an application's job to the metrics
// recorder (nil job: it could not be read, an outage) without waiting for
// it: a reading reads many REST endpoints of the cluster, with waits for
// Flink's metric fetch, and must neither delay the watch's next poll (its
// decisions about a lost JobManager run on time) nor an operation's
// probation. One recording per application runs at a time, on a goroutine
// of its own, bounded like a poll of the watch; a poll that arrives
// meanwhile waits, replaced by any newer one (the recorder reads the job
// itself: the newest poll says what changed). It writes through the store,
// so it is never called inside a transaction.
func (e *Engine) recordMetrics(ctx context.Context, app *flinkplane.Application, job *flinkplane.JobHealth) {
	if e.Metrics == nil || app.Cluster == nil || app.JobID == "" || ctx == nil || ctx.Err() != nil {
		return
	}
	// Copies: the caller (an operation's worker) may change its own.
	a := *app
	c := *app.Cluster
	a.Cluster = &c
	p := &metricsPoll{app: &a, at: e.now()}
	if job != nil {
		j := *job
		p.job = &j
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.recording == nil {
		e.recording = map[string]*metricsPoll{}
	}
	if _, busy := e.recording[app.Name]; busy {
		e.recording[app.Name] = p
		return
	}
	e.recording[app.Name] = nil
	e.wg.Add(1)
	go e.runRecorder(ctx, app.Name, p)
}

// runRecorder records polls of one application until none waits.
func (e *Engine) runRecorder(ctx context.Context, name string, p *metricsPoll) {
	defer e.wg.Done()
	for p != nil {
		rctx, cancel := context.WithTimeout(ctx, max(10*time.Second, 2*e.WatchInterval))
		err := e.Metrics.RecordMetrics(rctx, p.app, p.at, p.job)
		cancel()
		if err != nil && ctx.Err() == nil {
			e.Logger.Warn("cannot record metrics", "application", name, "error", err)
		}
		e.mu.Lock()
		if p = e.recording[name]; p == nil {
			delete(e.recording, name)
		} else {
			e.recording[name] = nil
		}
		e.mu.Unlock()
	}
}

// record queues a sample for the health writer.
func (e *Engine) record(s *flinkplane.HealthSample) {
	if e.health == nil {
		return
	}
	e.mu.Lock()
	e.observed[s.ApplicationName] = s.Time
	e.mu.Unlock()
	select {
	case e.health <- s:
	default:
		e.Logger.Warn("health samples are written too slowly; dropping one", "application", s.ApplicationName)
	}
}

// writeHealth writes queued samples in batches: one transaction per batch.
func (e *Engine) writeHealth(ctx context.Context) {
	defer e.wg.Done()
	flush := min(e.WatchInterval, time.Second)
	for {
		select {
		case <-ctx.Done():
			return
		case s := <-e.health:
			batch := []*flinkplane.HealthSample{s}
			timer := time.NewTimer(flush)
		collect:
			for len(batch) < 256 {
				select {
				case s := <-e.health:
					batch = append(batch, s)
				case <-timer.C:
					break collect
				case <-ctx.Done():
					break collect
				}
			}
			timer.Stop()
			e.putHealth(context.WithoutCancel(ctx), batch)
		}
	}
}

// flushHealth writes what is still queued (at Close).
func (e *Engine) flushHealth() {
	if e.health == nil {
		return
	}
	var batch []*flinkplane.HealthSample
	for {
		select {
		case s := <-e.health:
			batch = append(batch, s)
		default:
			e.putHealth(context.Background(), batch)
			return
		}
	}
}

func (e *Engine) putHealth(ctx context.Context, batch []*flinkplane.HealthSample) {
	if len(batch) == 0 {
		return
	}
	err := e.Store.Update(ctx, func(tx flinkplane.Tx) error {
		for _, s := range batch {
			if err := tx.PutHealth(s, e.HealthHistory); err != nil && flinkplane.ErrorCode(err) != flinkplane.ENOTFOUND {
				return err
			}
		}
		return nil
	})
	if err != nil && !errors.Is(err, context.Canceled) {
		e.Logger.Error("cannot record health samples", "samples", len(batch), "error", err)
	}
}
