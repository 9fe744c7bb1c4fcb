package engine_test

import (
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/engine"
	"github.com/flinkplane/flinkplane/mock"
)

// watchEnv is an engine with the watch on (1 s) and no probation window,
// inside a synctest bubble: the watch's clock is the bubble's.
func watchEnv(t *testing.T) *env {
	t.Helper()
	v := &env{t: t, dir: t.TempDir(), driver: mock.NewClusterDriver(), code: mock.NewCodeStore(bucket+"/app-1.20.jar", bucket+"/app-2.2.jar"),
		probation: -1, watch: time.Second, poll: 100 * time.Millisecond}
	v.open()
	t.Cleanup(v.close)
	return v
}

// operations returns the application's operations of a kind, newest first.
func (v *env) operations(app, kind string) []*flinkplane.Operation {
	v.t.Helper()
	var ops []*flinkplane.Operation
	if err := v.db.View(ctx, func(tx flinkplane.Tx) (err error) {
		ops, err = tx.Operations(app, flinkplane.OperationFilter{Kind: kind})
		return err
	}); err != nil {
		v.t.Fatal(err)
	}
	return ops
}

// waitOp waits for the first operation of a kind to appear and to end.
func (v *env) waitKind(app, kind string) *flinkplane.Operation {
	v.t.Helper()
	for i := 0; i < 600; i++ {
		if ops := v.operations(app, kind); len(ops) > 0 {
			return v.wait(app, ops[0].ID)
		}
		time.Sleep(100 * time.Millisecond)
	}
	v.t.Fatalf("no %s operation", kind)
	return nil
}

func (v *env) health(app string) *flinkplane.HealthSample {
	v.t.Helper()
	var s *flinkplane.HealthSample
	if err := v.db.View(ctx, func(tx flinkplane.Tx) (err error) { s, err = tx.Health(app); return err }); err != nil {
		v.t.Fatal(err)
	}
	return s
}

// waitHealth waits until the newest health sample has the status.
func (v *env) waitHealth(app, status string) *flinkplane.HealthSample {
	v.t.Helper()
	var last *flinkplane.HealthSample
	for i := 0; i < 600; i++ {
		v.db.View(ctx, func(tx flinkplane.Tx) error { last, _ = tx.Health(app); return nil })
		if last != nil && last.Status == status {
			return last
		}
		time.Sleep(100 * time.Millisecond)
	}
	v.t.Fatalf("health never %s; last %+v", status, last)
	return nil
}

func TestWatch_RecordsHealth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := watchEnv(t)
		v.create("a", nil)
		v.start("a")
		time.Sleep(5 * time.Second)
		s := v.waitHealth("a", flinkplane.HealthHealthy)
		a := v.app("a")
		if s.JobID != a.JobID || s.ClusterID != a.Cluster.ID || s.Runtime != flinkplane.RuntimeFlink120 || s.VersionID != 1 ||
			s.Cluster == nil || !s.Cluster.Healthy() || s.Cluster.TaskManagers != 1 || s.LatestCheckpoint == nil || s.LatestCheckpoint.Path == "" ||
			s.CompletedCheckpoints == 0 || !s.AllTasksRunning || s.JobState != "RUNNING" {
			t.Fatalf("sample %+v", s)
		}
		var hist []*flinkplane.HealthSample
		v.db.View(ctx, func(tx flinkplane.Tx) (err error) { hist, err = tx.HealthHistory("a", time.Time{}, 0); return err })
		if len(hist) < 4 || len(hist) > 7 {
			t.Fatalf("%d samples in 5 s at 1 s", len(hist))
		}
		// Nothing happens to a healthy application.
		if ops := v.operations("a", ""); len(ops) != 1 {
			t.Fatalf("operations %+v", ops)
		}
	})
}

// The JobManager process dies: within one poll the health says so and a
// Recovery brings the job back on a fresh cluster from its newest
// checkpoint, kept as a snapshot first.
func TestWatch_JobManagerLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := watchEnv(t)
		v.create("a", nil)
		v.start("a")
		time.Sleep(3 * time.Second)
		old := v.app("a")
		v.driver.KillJobManager(old.Cluster.ID)
		killed := time.Now()
		op := v.waitKind("a", flinkplane.OpRecovery)
		wantStatus(t, op.Status, flinkplane.OperationSuccessful)
		time.Sleep(2 * time.Second) // the health writer's batch
		var hist []*flinkplane.HealthSample
		v.db.View(ctx, func(tx flinkplane.Tx) (err error) { hist, err = tx.HealthHistory("a", time.Time{}, 0); return err })
		truth := false
		for _, s := range hist {
			if s.Status == flinkplane.HealthJobManagerLost && s.ClusterID == old.Cluster.ID && s.Time.Sub(killed) <= time.Second {
				truth = true
			}
		}
		if !truth {
			for _, s := range hist {
				t.Logf("%s %s %s", s.Time, s.Status, s.ClusterID)
			}
			t.Fatalf("the health never showed the lost JobManager within a poll (killed %s)", killed)
		}
		if !op.System || !strings.Contains(op.Cause, "JobManager process") || op.StartTime.Sub(killed) > 2*time.Second {
			t.Fatalf("recovery %+v (killed at %s)", op, killed)
		}
		a := v.app("a")
		if a.Status != flinkplane.StatusRunning || a.Cluster == nil || a.Cluster.ID == old.Cluster.ID || a.JobID == old.JobID {
			t.Fatalf("app %+v", a)
		}
		if !strings.HasPrefix(op.RestoreFrom, "/checkpoints/"+old.Cluster.ID+"/"+old.JobID+"/chk-") {
			t.Fatalf("restored from %q", op.RestoreFrom)
		}
		snaps := v.snapshots("a")
		if len(snaps) != 1 || snaps[0].Location != op.RestoreFrom || !snaps[0].Automatic || snaps[0].Runtime != flinkplane.RuntimeFlink120 ||
			!strings.HasPrefix(snaps[0].Name, "flinkplane-recovery-") {
			t.Fatalf("restore point not kept: %+v", snaps)
		}
		if r := v.driver.Running(); len(r) != 1 || r[0] != a.JobID || v.driver.LiveClusters() != 1 {
			t.Fatalf("jobs %v clusters %d", r, v.driver.LiveClusters())
		}
	})
}

// A TaskManager process dies: it is replaced on the same cluster and
// Flink fails the job over onto it (one restart), no new cluster.
func TestWatch_TaskManagerLost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := watchEnv(t)
		v.driver.FailoverPolls = 3
		v.create("a", func(c *flinkplane.ApplicationConfig) { c.Parallelism.Parallelism = 2 })
		v.start("a")
		time.Sleep(3 * time.Second)
		old := v.app("a")
		v.driver.Calls()
		v.driver.KillTaskManager(old.Cluster.ID, 1)
		s := v.waitHealth("a", flinkplane.HealthDegraded)
		if s.Cluster.TaskManagersAlive != 1 || s.Cluster.TaskManagers != 2 || len(s.Cluster.Lost) != 1 || s.Cluster.Lost[0] != "taskmanager-1" {
			t.Fatalf("sample %+v", s.Cluster)
		}
		op := v.waitKind("a", flinkplane.OpRecovery)
		wantStatus(t, op.Status, flinkplane.OperationSuccessful)
		if !strings.Contains(op.Cause, "taskmanager-1") || op.Plan[0] != engine.StepReplaceTaskManagers || len(op.Plan) != 3 {
			t.Fatalf("recovery %+v", op)
		}
		calls := v.driver.Calls()
		if count(calls, "ReplaceTaskManagers") != 1 || count(calls, "Start(") != 0 || count(calls, "Submit") != 0 || count(calls, "Stop") != 0 {
			t.Fatalf("calls %q", calls)
		}
		a := v.app("a")
		if a.Status != flinkplane.StatusRunning || a.Cluster.ID != old.Cluster.ID || a.JobID != old.JobID || a.Cluster.PIDs[2] == old.Cluster.PIDs[2] {
			t.Fatalf("app %+v (was %+v)", a.Cluster, old.Cluster)
		}
		time.Sleep(2 * time.Second)
		if s := v.health("a"); s.Status != flinkplane.HealthHealthy || s.Restarts != 1 {
			t.Fatalf("after the recovery: %+v", s)
		}
	})
}

// A TaskManager lost together with the JobManager: the replacement fails
// and the recovery continues on a fresh cluster.
func TestWatch_TaskManagerRecoveryMovesToFreshCluster(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := watchEnv(t)
		v.driver.FailoverPolls = 1000 // Flink never notices
		v.e.FailoverTimeout = 10 * time.Second
		v.create("a", nil)
		v.start("a")
		time.Sleep(3 * time.Second)
		old := v.app("a")
		v.driver.KillTaskManager(old.Cluster.ID, 0)
		op := v.waitKind("a", flinkplane.OpRecovery)
		wantStatus(t, op.Status, flinkplane.OperationSuccessful)
		if !strings.Contains(op.Cause, "fresh cluster") || !contains(op.Plan, engine.StepStartCluster) {
			t.Fatalf("recovery %+v", op)
		}
		if a := v.app("a"); a.Status != flinkplane.StatusRunning || a.Cluster.ID == old.Cluster.ID || v.driver.LiveClusters() != 1 {
			t.Fatalf("app %+v, clusters %d", a, v.driver.LiveClusters())
		}
	})
}

func contains(s []string, x string) bool {
	for _, y := range s {
		if y == x {
			return true
		}
	}
	return false
}

// A job whose restart strategy gave up (FAILED) comes back on a fresh
// cluster from its newest checkpoint.
func TestWatch_JobFailed(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := watchEnv(t)
		v.create("a", nil)
		v.start("a")
		time.Sleep(3 * time.Second)
		old := v.app("a")
		v.driver.FailJob(old.JobID, "java.lang.RuntimeException: boom\n\tat com.example.Job$Fn.map(Job.java:42)\n\tat org.apache.flink.streaming.api.operators.StreamMap.processElement(StreamMap.java:38)")
		op := v.waitKind("a", flinkplane.OpRecovery)
		wantStatus(t, op.Status, flinkplane.OperationSuccessful)
		if !strings.Contains(op.Cause, "reached FAILED") || !strings.Contains(op.Cause, "User code exception at com.example.Job$Fn.map(Job.java:42)") {
			t.Fatalf("cause %q", op.Cause)
		}
		if a := v.app("a"); a.Status != flinkplane.StatusRunning || a.JobID == old.JobID || !strings.Contains(op.RestoreFrom, old.JobID) {
			t.Fatalf("app %+v, restored from %s", a, op.RestoreFrom)
		}
	})
}

// A job cancelled outside flinkplane is not restarted: the application is
// READY with a system StopApplication that says so, its newest checkpoint
// kept as a snapshot the next start restores.
func TestWatch_CancelledOutside(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := watchEnv(t)
		v.create("a", nil)
		v.start("a")
		time.Sleep(3 * time.Second)
		old := v.app("a")
		v.driver.CancelJob(old.JobID)
		op := v.waitKind("a", flinkplane.OpStopApplication)
		wantStatus(t, op.Status, flinkplane.OperationSuccessful)
		if !op.System || !strings.Contains(op.Cause, "cancelled outside flinkplane") {
			t.Fatalf("op %+v", op)
		}
		a := v.app("a")
		if a.Status != flinkplane.StatusReady || a.Cluster != nil || v.driver.LiveClusters() != 0 || len(v.driver.Running()) != 0 {
			t.Fatalf("app %+v clusters %d", a, v.driver.LiveClusters())
		}
		snaps := v.snapshots("a")
		if len(snaps) != 1 || !strings.Contains(snaps[0].Location, old.JobID+"/chk-") {
			t.Fatalf("snapshots %+v", snaps)
		}
		if ops := v.operations("a", flinkplane.OpRecovery); len(ops) != 0 {
			t.Fatalf("restarted: %+v", ops)
		}
		v.driver.Calls()
		v.start("a")
		if got := v.driver.Submitted[len(v.driver.Submitted)-1].RestoreFrom; got != snaps[0].Location {
			t.Fatalf("next start restored %q", got)
		}
	})
}

// After a failed update without system rollback the watch reports the
// failing job but does not recover it: the user rolls back.
func TestWatch_FailedUpdateIsLeftAlone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := watchEnv(t)
		v.create("a", nil)
		v.start("a")
		v.driver.JobStates = []flinkplane.JobHealth{{State: "RESTARTING", Restarts: 1, RootCause: "org.apache.flink.util.StateMigrationException: incompatible"}}
		cur := int64(1)
		_, _, id, _ := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
		wantStatus(t, v.wait("a", id).Status, flinkplane.OperationFailed)
		v.driver.FailJob(v.app("a").JobID, "org.apache.flink.util.StateMigrationException: incompatible")
		time.Sleep(10 * time.Second)
		s := v.waitHealth("a", flinkplane.HealthFailed)
		if !strings.Contains(s.Cause, "State restore failure") {
			t.Fatalf("health %+v", s)
		}
		if a := v.app("a"); a.Status != flinkplane.StatusRunning || a.FailedOperation != id || len(v.operations("a", flinkplane.OpRecovery)) != 0 {
			t.Fatalf("app %+v", a)
		}
	})
}

// Opt-in automatic rollback: two restarts within a minute after an update
// roll it back; without the policy restarts only show in the health.
func TestWatch_AutoRollback(t *testing.T) {
	for _, on := range []bool{false, true} {
		t.Run(map[bool]string{false: "Off", true: "On"}[on], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				v := watchEnv(t)
				v.create("a", nil)
				if on {
					v.db.Update(ctx, func(tx flinkplane.Tx) error {
						return tx.SetTags("a", []flinkplane.Tag{{Key: flinkplane.TagAutoRollback, Value: "2/1m"}})
					})
				}
				v.start("a")
				cur := int64(1)
				_, _, id, _ := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
				wantStatus(t, v.wait("a", id).Status, flinkplane.OperationSuccessful)
				job := v.app("a").JobID
				v.driver.RestartJob(job, "java.lang.IllegalStateException: bad record\n\tat com.example.Parse.map(Parse.java:7)")
				time.Sleep(2 * time.Second)
				v.driver.RestartJob(job, "java.lang.IllegalStateException: bad record\n\tat com.example.Parse.map(Parse.java:7)")
				time.Sleep(5 * time.Second)
				rbs := v.operations("a", flinkplane.OpRollbackApplication)
				if !on {
					if len(rbs) != 0 || v.app("a").RuntimeEnvironment != flinkplane.RuntimeFlink22 || v.health("a").Restarts != 2 {
						t.Fatalf("rolled back without the policy: %+v", rbs)
					}
					return
				}
				if len(rbs) != 1 || !rbs[0].System || rbs[0].ParentID != id || !strings.Contains(rbs[0].Cause, "restarted 2 times") ||
					!strings.Contains(rbs[0].Cause, "com.example.Parse.map(Parse.java:7)") {
					t.Fatalf("rollback %+v", rbs)
				}
				wantStatus(t, v.wait("a", rbs[0].ID).Status, flinkplane.OperationSuccessful)
				if a := v.app("a"); a.Status != flinkplane.StatusRunning || a.RuntimeEnvironment != flinkplane.RuntimeFlink120 {
					t.Fatalf("app %+v", a)
				}
			})
		})
	}
}

// A stop of an unhealthy job (a TaskManager lost, Flink restarting it)
// whose savepoint cannot be taken cancels it and keeps its newest
// checkpoint as the restore point instead of failing and staying RUNNING.
func TestStop_UnhealthyFallsBackToCheckpoint(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := newEnv(t)
		v.create("a", nil)
		v.start("a")
		a := v.app("a")
		v.driver.JobHealth(ctx, *a.Cluster, a.JobID) // one more checkpoint
		v.driver.FailoverPolls = 0
		v.driver.KillTaskManager(a.Cluster.ID, 0)
		v.driver.JobHealth(ctx, *a.Cluster, a.JobID) // Flink notices: RESTARTING
		id, err := v.e.StopApplication(ctx, "a", false)
		if err != nil {
			t.Fatal(err)
		}
		op := v.wait("a", id)
		wantStatus(t, op.Status, flinkplane.OperationSuccessful)
		if !strings.Contains(op.SavepointFailure, "not running") {
			t.Fatalf("op %+v", op)
		}
		snaps := v.snapshots("a")
		if len(snaps) != 1 || !strings.HasPrefix(snaps[0].Name, "flinkplane-stop-") || !strings.Contains(snaps[0].Location, a.JobID+"/chk-") {
			t.Fatalf("snapshots %+v", snaps)
		}
		if a := v.app("a"); a.Status != flinkplane.StatusReady || v.driver.LiveClusters() != 0 {
			t.Fatalf("app %+v", a)
		}
	})
}

// StopApplication without Force is accepted during a recovery: the
// recovery is cancelled and the stop keeps the newest checkpoint.
func TestStop_DuringRecovery(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := watchEnv(t)
		v.create("a", nil)
		v.start("a")
		time.Sleep(3 * time.Second)
		release := v.driver.HoldCall("Start")
		old := v.app("a")
		v.driver.KillJobManager(old.Cluster.ID)
		for v.app("a").Status != flinkplane.StatusStarting {
			time.Sleep(100 * time.Millisecond)
		}
		id, err := v.e.StopApplication(ctx, "a", false)
		if err != nil {
			t.Fatal(err)
		}
		release()
		wantStatus(t, v.wait("a", id).Status, flinkplane.OperationSuccessful)
		rec := v.operations("a", flinkplane.OpRecovery)
		if len(rec) != 1 || rec[0].Status != flinkplane.OperationCancelled {
			t.Fatalf("recovery %+v", rec)
		}
		v.e.Wait(ctx, "a")
		if a := v.app("a"); a.Status != flinkplane.StatusReady || v.driver.LiveClusters() != 0 {
			t.Fatalf("app %+v, clusters %d", a, v.driver.LiveClusters())
		}
		if s := v.snapshots("a"); len(s) == 0 || !strings.Contains(s[len(s)-1].Location, old.JobID) {
			t.Fatalf("snapshots %+v", s)
		}
	})
}

// After an update that failed at its submission (no system rollback), the
// application is RUNNING with no job: the health says so within a poll or
// two, and nothing is recovered.
func TestWatch_FailedSubmitShowsNoJob(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := watchEnv(t)
		v.create("a", nil)
		v.start("a")
		time.Sleep(3 * time.Second)
		v.driver.Fail("Submit", errors.New("java.lang.ClassNotFoundException: org.apache.flink.api.common.time.Time"), true)
		cur := int64(1)
		_, _, id, _ := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
		op := v.wait("a", id)
		wantStatus(t, op.Status, flinkplane.OperationFailed)
		failed := time.Now()
		s := v.waitHealth("a", flinkplane.HealthNoJob)
		if s.Time.Sub(failed) > 3*time.Second || s.Runtime != flinkplane.RuntimeFlink22 {
			t.Fatalf("sample %+v, %s after the failure", s, s.Time.Sub(failed))
		}
		time.Sleep(5 * time.Second)
		if len(v.operations("a", flinkplane.OpRecovery)) != 0 || v.app("a").Status != flinkplane.StatusRunning {
			t.Fatal("a failed update was recovered")
		}
	})
}

// slowRecorder is a metrics recorder whose readings take a minute (a
// cluster that answers its REST API slowly); it records how many ran at
// once.
type slowRecorder struct {
	mu                sync.Mutex
	calls, running    int
	maxRunning        int
	lastAt, lastStart time.Time
}

func (r *slowRecorder) RecordMetrics(ctx context.Context, app *flinkplane.Application, at time.Time, job *flinkplane.JobHealth) error {
	r.mu.Lock()
	r.calls++
	r.running++
	r.maxRunning = max(r.maxRunning, r.running)
	r.lastAt, r.lastStart = at, time.Now()
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.running--
		r.mu.Unlock()
	}()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Minute):
		return nil
	}
}

// A slow metrics recorder neither delays the watch's polls nor piles up:
// one reading per application at a time, bounded like a poll (10 s), the
// newest poll recorded next.
func TestWatch_SlowMetricsRecorder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		rec := &slowRecorder{}
		v := &env{t: t, dir: t.TempDir(), driver: mock.NewClusterDriver(), code: mock.NewCodeStore(bucket+"/app-1.20.jar", bucket+"/app-2.2.jar"),
			probation: -1, watch: time.Second, poll: 100 * time.Millisecond, setup: func(e *engine.Engine) { e.Metrics = rec }}
		v.open()
		t.Cleanup(v.close)
		v.create("a", nil)
		v.start("a")
		started := time.Now()
		time.Sleep(25 * time.Second)
		var hist []*flinkplane.HealthSample
		v.db.View(ctx, func(tx flinkplane.Tx) (err error) { hist, err = tx.HealthHistory("a", time.Time{}, 0); return err })
		n := 0
		for _, s := range hist {
			if s.Time.After(started) {
				n++
			}
		}
		if n < 20 {
			t.Errorf("%d health samples in 25 s at 1 s: the watch waited for the recorder", n)
		}
		rec.mu.Lock()
		defer rec.mu.Unlock()
		if rec.maxRunning != 1 {
			t.Errorf("%d readings of one application at once", rec.maxRunning)
		}
		if rec.calls < 2 || rec.calls > 4 {
			t.Errorf("%d readings in 25 s, each cut at 10 s", rec.calls)
		}
		// The reading that started last took the newest poll waiting then.
		if d := rec.lastStart.Sub(rec.lastAt); d < 0 || d > time.Second {
			t.Errorf("the last reading started at %s with a poll of %s", rec.lastStart, rec.lastAt)
		}
	})
}

// The samples an operation's own probation polls record show the
// cluster's processes as the watch's do.
func TestWatch_ProbationSamplesShowProcesses(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := &env{t: t, dir: t.TempDir(), driver: mock.NewClusterDriver(), code: mock.NewCodeStore(bucket+"/app-1.20.jar", bucket+"/app-2.2.jar"),
			watch: time.Second, poll: 100 * time.Millisecond}
		v.open()
		t.Cleanup(v.close)
		v.create("a", nil)
		v.tag("a", flinkplane.TagProbationWindow, "10s")
		id, err := v.e.StartApplication(ctx, "a", engine.StartInput{})
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(6 * time.Second)
		if a := v.app("a"); a.Status != flinkplane.StatusStarting {
			t.Fatalf("status %s, want STARTING (on probation)", a.Status)
		}
		time.Sleep(2 * time.Second) // the health writer's batch
		var hist []*flinkplane.HealthSample
		v.db.View(ctx, func(tx flinkplane.Tx) (err error) { hist, err = tx.HealthHistory("a", time.Time{}, 0); return err })
		if len(hist) < 3 {
			t.Fatalf("%d samples during the probation", len(hist))
		}
		for _, s := range hist {
			if s.Cluster == nil || !s.Cluster.JobManagerAlive || s.Cluster.TaskManagers != 1 || s.Cluster.TaskManagersAlive != 1 {
				t.Fatalf("sample without the processes: %+v", s)
			}
		}
		wantStatus(t, v.wait("a", id).Status, flinkplane.OperationSuccessful)
	})
}
