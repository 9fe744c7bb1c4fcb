package engine_test

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/engine"
	"github.com/flinkplane/flinkplane/mock"
)

// probationEnv is an engine whose server-wide probation window is derived
// from the checkpoint interval (0), watch off, in a synctest bubble.
func probationEnv(t *testing.T) *env {
	t.Helper()
	v := &env{t: t, dir: t.TempDir(), driver: mock.NewClusterDriver(), code: mock.NewCodeStore(bucket+"/app-1.20.jar", bucket+"/app-2.2.jar"),
		poll: time.Second}
	v.open()
	v.e.StartTimeout = time.Minute
	t.Cleanup(v.close)
	return v
}

func (v *env) tag(app, key, value string) {
	v.t.Helper()
	if err := v.db.Update(ctx, func(tx flinkplane.Tx) error { return tx.SetTags(app, []flinkplane.Tag{{Key: key, Value: value}}) }); err != nil {
		v.t.Fatal(err)
	}
}

// A start succeeds only after the job has run its probation window without
// a restart; until then the application is STARTING. The window is twice
// the checkpoint interval (10 s at least), or the tag's.
func TestProbation_Window(t *testing.T) {
	for _, tt := range []struct {
		name     string
		interval int64
		tag      string
		want     time.Duration
	}{
		{"Default60s", 60000, "", 2 * time.Minute},
		{"Custom2s", 2000, "", 10 * time.Second},
		{"Custom30s", 30000, "", time.Minute},
		{"Tag", 60000, "25s", 25 * time.Second},
	} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				v := probationEnv(t)
				v.create("a", func(c *flinkplane.ApplicationConfig) { c.Checkpoint.CheckpointInterval = tt.interval })
				if tt.tag != "" {
					v.tag("a", flinkplane.TagProbationWindow, tt.tag)
				}
				start := time.Now()
				id, err := v.e.StartApplication(ctx, "a", engine.StartInput{})
				if err != nil {
					t.Fatal(err)
				}
				time.Sleep(tt.want - 2*time.Second)
				if op, a := v.op("a", id), v.app("a"); op.Done() || a.Status != flinkplane.StatusStarting || op.ProbationStart.IsZero() {
					t.Fatalf("before the window: op %s, app %s", op.Status, a.Status)
				}
				op := v.wait("a", id)
				wantStatus(t, op.Status, flinkplane.OperationSuccessful)
				if took := op.EndTime.Sub(start); took < tt.want || took > tt.want+2*time.Second {
					t.Fatalf("succeeded after %s, want %s", took, tt.want)
				}
				wantStatus(t, v.app("a").Status, flinkplane.StatusRunning)
			})
		})
	}
}

// A restart inside the window fails the start with the classified cause;
// the application is READY, its cluster stopped.
func TestProbation_RestartFailsStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := probationEnv(t)
		v.create("a", func(c *flinkplane.ApplicationConfig) { c.Checkpoint.CheckpointInterval = 5000 })
		id, _ := v.e.StartApplication(ctx, "a", engine.StartInput{})
		time.Sleep(4 * time.Second)
		v.driver.RestartJob(v.app("a").JobID, "java.lang.IllegalArgumentException: bad input\n\tat dev.example.Enrich.map(Enrich.java:31)\n\tat org.apache.flink.streaming.api.operators.StreamMap.processElement(StreamMap.java:38)")
		op := v.wait("a", id)
		wantStatus(t, op.Status, flinkplane.OperationFailed)
		for _, want := range []string{"WAIT_RUNNING", "restarted 1 time(s) within its probation window of 10s", "User code exception at dev.example.Enrich.map(Enrich.java:31)", "IllegalArgumentException: bad input"} {
			if !strings.Contains(op.ErrorInfo, want) {
				t.Fatalf("ErrorInfo %q lacks %q", op.ErrorInfo, want)
			}
		}
		if a := v.app("a"); a.Status != flinkplane.StatusReady || v.driver.LiveClusters() != 0 {
			t.Fatalf("app %+v", a)
		}
	})
}

// With checkpointing on, a job that completes no checkpoint after its
// restore never passes; with checkpointing off it needs none.
func TestProbation_NeedsCheckpoint(t *testing.T) {
	for _, enabled := range []bool{true, false} {
		t.Run(map[bool]string{true: "On", false: "Off"}[enabled], func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				v := probationEnv(t)
				v.driver.NoCheckpoints = true
				v.create("a", func(c *flinkplane.ApplicationConfig) {
					c.Checkpoint.CheckpointInterval = 2000
					c.Checkpoint.CheckpointingEnabled = enabled
				})
				id, _ := v.e.StartApplication(ctx, "a", engine.StartInput{})
				op := v.wait2("a", id, 5*time.Minute)
				if !enabled {
					wantStatus(t, op.Status, flinkplane.OperationSuccessful)
					return
				}
				wantStatus(t, op.Status, flinkplane.OperationFailed)
				if !strings.Contains(op.ErrorInfo, "completed no checkpoint within 1m10s") {
					t.Fatalf("ErrorInfo %q", op.ErrorInfo)
				}
			})
		})
	}
}

// wait2 is wait with a longer deadline (fake time).
func (v *env) wait2(app, id string, d time.Duration) *flinkplane.Operation {
	v.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		if o := v.op(app, id); o.Done() {
			v.e.Wait(ctx, app)
			return o
		}
		time.Sleep(100 * time.Millisecond)
	}
	v.t.Fatalf("operation %s still in progress", id)
	return nil
}

// An update whose new job restarts during probation fails; with system
// rollback the application returns to its previous version.
func TestProbation_UpdateRollsBack(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := probationEnv(t)
		v.create("a", func(c *flinkplane.ApplicationConfig) {
			c.RollbackEnabled = true
			c.Checkpoint.CheckpointInterval = 2000
		})
		v.start("a")
		cur := int64(1)
		_, _, id, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
		if err != nil {
			t.Fatal(err)
		}
		for v.op("a", id).ProbationStart.IsZero() {
			time.Sleep(time.Second)
		}
		wantStatus(t, v.app("a").Status, flinkplane.StatusUpdating)
		time.Sleep(3 * time.Second)
		v.driver.RestartJob(v.app("a").JobID, "java.lang.Exception: Exception while creating StreamOperatorStateContext.\n"+
			"Caused by: org.apache.flink.util.FlinkException: Could not restore keyed state backend for KeyedProcessOperator_0a448493b4782967b150582570326227_(1/1) from any of the 1 provided restore options.\n"+
			"Caused by: java.lang.IllegalArgumentException: Invalid field")
		op := v.wait("a", id)
		wantStatus(t, op.Status, flinkplane.OperationFailed)
		if !strings.Contains(op.ErrorInfo, "State restore failure of operator KeyedProcessOperator (id 0a448493b4782967b150582570326227)") ||
			!strings.Contains(op.ErrorInfo, "IllegalArgumentException: Invalid field") || op.RollbackOperationID == "" {
			t.Fatalf("op %+v", op)
		}
		wantStatus(t, v.wait("a", op.RollbackOperationID).Status, flinkplane.OperationSuccessful)
		if a := v.app("a"); a.Status != flinkplane.StatusRunning || a.RuntimeEnvironment != flinkplane.RuntimeFlink120 {
			t.Fatalf("app %+v", a)
		}
	})
}

// The engine dies during a probation: the new engine keeps the recorded
// window (measured from when the job first ran with all tasks), not a
// fresh one.
func TestProbation_ResumedKeepsWindow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := probationEnv(t)
		v.create("a", func(c *flinkplane.ApplicationConfig) { c.Checkpoint.CheckpointInterval = 15000 })
		start := time.Now()
		id, _ := v.e.StartApplication(ctx, "a", engine.StartInput{})
		time.Sleep(20 * time.Second)
		ps := v.op("a", id).ProbationStart
		if ps.IsZero() {
			t.Fatal("no probation start recorded")
		}
		v.close()
		time.Sleep(5 * time.Second)
		v.open()
		op := v.wait("a", id)
		wantStatus(t, op.Status, flinkplane.OperationSuccessful)
		if !op.ProbationStart.Equal(ps) || op.EndTime.Sub(start) > 32*time.Second {
			t.Fatalf("probation restarted: %s -> %s, ended after %s", ps, op.ProbationStart, op.EndTime.Sub(start))
		}
		if n := len(v.driver.Submitted); n != 1 {
			t.Fatalf("%d submissions", n)
		}
	})
}

// Flink's exception history can lag its restart count by a refresh: a
// restart without a cause yet neither passes nor fails the start until the
// cause is there (or 10 s passed), and the start then names it.
func TestProbation_CauseLagsRestart(t *testing.T) {
	v := newEnv(t)
	v.driver.JobStates = []flinkplane.JobHealth{
		{State: "RUNNING", AllTasksRunning: true, Restarts: 1},
		{State: "RUNNING", AllTasksRunning: true, Restarts: 1},
		{State: "RESTARTING", Restarts: 1, RootCause: "org.apache.flink.util.StateMigrationException: For heap backends ..."},
	}
	v.create("a", nil)
	id, _ := v.e.StartApplication(ctx, "a", engine.StartInput{})
	op := v.wait("a", id)
	wantStatus(t, op.Status, flinkplane.OperationFailed)
	if !strings.Contains(op.ErrorInfo, "State restore failure") || !strings.Contains(op.ErrorInfo, "StateMigrationException") {
		t.Fatalf("ErrorInfo %q", op.ErrorInfo)
	}
}

// Flink's restart counter is a metric refreshed every few seconds: a
// restart whose failure happened before the probation started but whose
// count shows only during it is not a failure of the probation.
func TestProbation_LateRestartCount(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := probationEnv(t)
		before := time.Now().Add(-time.Second)
		late := flinkplane.JobHealth{State: "RUNNING", AllTasksRunning: true, Restarts: 1,
			RootCause: "org.apache.flink.runtime.jobmaster.JobMasterException: TaskManager with id 127.0.0.1:34477-6433f5 is no longer reachable.",
			Exception: &flinkplane.JobException{Time: before, Stacktrace: "org.apache.flink.runtime.jobmaster.JobMasterException: TaskManager with id 127.0.0.1:34477-6433f5 is no longer reachable."}}
		v.driver.JobStates = []flinkplane.JobHealth{{State: "RUNNING", AllTasksRunning: true}, late}
		v.create("a", nil)
		v.tag("a", flinkplane.TagProbationWindow, "5s")
		id, _ := v.e.StartApplication(ctx, "a", engine.StartInput{})
		op := v.wait("a", id)
		wantStatus(t, op.Status, flinkplane.OperationSuccessful)
		if op.RestartsBaseline != 1 {
			t.Fatalf("baseline %d", op.RestartsBaseline)
		}
	})
}
