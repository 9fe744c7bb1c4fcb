package engine_test

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/engine"
	"github.com/flinkplane/flinkplane/mock"
)

// crashScenario brings an application to the point where an operation of
// kind runs its plan: a recovery, a stop of a job that ended outside, a
// rollback (manual or system), a start, an unhealthy stop.
type crashScenario struct {
	name string
	kind string
	plan []string
	// setup prepares the application and causes the operation (the watch
	// starts the system ones).
	setup func(v *env)
	// ready: the operation ends with the application READY.
	ready bool
}

var crashScenarios = []crashScenario{
	{name: "JobManagerLost", kind: flinkplane.OpRecovery, plan: []string{engine.StepKeepCheckpoint, engine.StepCancelJob, engine.StepStopCluster,
		engine.StepResolveRestore, engine.StepCompile, engine.StepStartCluster, engine.StepSubmit, engine.StepWaitRunning},
		setup: func(v *env) {
			v.create("a", nil)
			v.start("a")
			time.Sleep(3 * time.Second)
			v.driver.KillJobManager(v.app("a").Cluster.ID)
		}},
	{name: "TaskManagerLost", kind: flinkplane.OpRecovery, plan: []string{engine.StepReplaceTaskManagers, engine.StepWaitFailover, engine.StepWaitRunning},
		setup: func(v *env) {
			v.driver.FailoverPolls = 2
			v.create("a", func(c *flinkplane.ApplicationConfig) { c.Parallelism.Parallelism = 2 })
			v.start("a")
			time.Sleep(3 * time.Second)
			v.driver.KillTaskManager(v.app("a").Cluster.ID, 1)
		}},
	{name: "CancelledOutside", kind: flinkplane.OpStopApplication, ready: true,
		plan: []string{engine.StepKeepCheckpoint, engine.StepCancelJob, engine.StepStopCluster},
		setup: func(v *env) {
			v.create("a", nil)
			v.start("a")
			time.Sleep(3 * time.Second)
			v.driver.CancelJob(v.app("a").JobID)
		}},
	{name: "UnhealthyStop", kind: flinkplane.OpStopApplication, ready: true,
		plan: []string{engine.StepStopWithSavepoint, engine.StepKeepCheckpoint, engine.StepCancelJob, engine.StepStopCluster},
		setup: func(v *env) {
			v.create("a", func(c *flinkplane.ApplicationConfig) { c.Parallelism.Parallelism = 2 })
			v.start("a")
			time.Sleep(3 * time.Second)
			a := v.app("a")
			v.driver.FailoverPolls = 0
			v.driver.Fail("ReplaceTaskManagers", errors.New("no capacity"), false)
			v.driver.KillTaskManager(a.Cluster.ID, 1)
			if _, err := v.e.StopApplication(ctx, "a", false); err != nil {
				v.t.Fatal(err)
			}
		}},
	{name: "ManualRollback", kind: flinkplane.OpRollbackApplication, plan: []string{engine.StepResolveRestore, engine.StepStartTargetCluster,
		engine.StepCompile, engine.StepCancelJob, engine.StepSubmit, engine.StepWaitRunning, engine.StepStopPreviousCluster},
		setup: func(v *env) {
			v.create("a", nil)
			v.start("a")
			cur := int64(1)
			_, _, id, _ := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
			v.wait("a", id)
			if _, _, _, err := v.e.RollbackApplication(ctx, "a", 2); err != nil {
				v.t.Fatal(err)
			}
		}},
	{name: "SystemRollback", kind: flinkplane.OpRollbackApplication, plan: []string{engine.StepResolveRestore, engine.StepStartTargetCluster,
		engine.StepCompile, engine.StepCancelJob, engine.StepSubmit, engine.StepWaitRunning, engine.StepStopPreviousCluster},
		setup: func(v *env) {
			v.create("a", func(c *flinkplane.ApplicationConfig) { c.RollbackEnabled = true })
			v.start("a")
			v.driver.Fail("Submit", errors.New("java.lang.ClassNotFoundException: org.apache.flink.api.common.time.Time"), true)
			cur := int64(1)
			if _, _, _, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade}); err != nil {
				v.t.Fatal(err)
			}
		}},
	// The warm cut-over of an update: killed anywhere it resumes and ends
	// with one job on one cluster (the warm cluster is recorded, never
	// orphaned); a fault before the stop leaves the old job untouched and
	// ends the warm cluster, one after it rolls back.
	{name: "Update", kind: flinkplane.OpUpdateApplication, plan: []string{engine.StepStartTargetCluster, engine.StepCompile, engine.StepStopWithSavepoint,
		engine.StepKeepCheckpoint, engine.StepCancelJob, engine.StepResolveRestore, engine.StepSubmit, engine.StepWaitRunning, engine.StepStopPreviousCluster},
		setup: func(v *env) {
			v.create("a", func(c *flinkplane.ApplicationConfig) { c.RollbackEnabled = true })
			v.start("a")
			cur := int64(1)
			if _, _, _, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade}); err != nil {
				v.t.Fatal(err)
			}
		}},
	{name: "StartProbation", kind: flinkplane.OpStartApplication, plan: []string{engine.StepCompile, engine.StepStartCluster, engine.StepSubmit, engine.StepWaitRunning},
		setup: func(v *env) {
			v.create("a", nil)
			v.tag("a", flinkplane.TagProbationWindow, "5s")
			if _, err := v.e.StartApplication(ctx, "a", engine.StartInput{}); err != nil {
				v.t.Fatal(err)
			}
		}},
}

// TestCrash_AtEachStep kills the engine at each step of recoveries, the
// probation, system and manual rollback and an unhealthy stop (blocked at
// the step, engine closed, a new one opened on the same store) and, in a
// second run, fails each step with an injected fault. Each time the
// operation completes (killed) or fails cleanly (fault): exactly one job
// runs for a RUNNING application and none for a READY one, no cluster is
// left without its application knowing it, and no snapshot lost its
// savepoint.
func TestCrash_AtEachStep(t *testing.T) {
	for _, sc := range crashScenarios {
		for _, step := range sc.plan {
			for _, mode := range []string{"Kill", "Fault"} {
				t.Run(fmt.Sprintf("%s/%s/%s", sc.name, step, mode), func(t *testing.T) {
					t.Parallel() // independent bubbles; overlaps their fsyncs
					synctest.Test(t, func(t *testing.T) { crashAt(t, sc, step, mode == "Kill") })
				})
			}
		}
	}
}

func crashAt(t *testing.T, sc crashScenario, step string, kill bool) {
	v := &env{t: t, dir: t.TempDir(), driver: mock.NewClusterDriver(), code: mock.NewCodeStore(bucket+"/app-1.20.jar", bucket+"/app-2.2.jar"),
		probation: -1, watch: time.Second, poll: 100 * time.Millisecond}
	v.open()
	t.Cleanup(v.close)
	reached := make(chan string, 1)
	armed := true
	v.e.StepFault = func(ctx context.Context, op *flinkplane.Operation, s string) error {
		if !armed || op.Kind != sc.kind || s != step {
			return nil
		}
		armed = false
		reached <- op.ID
		if !kill {
			return errors.New("injected fault at " + s)
		}
		<-ctx.Done() // "killed" here
		return ctx.Err()
	}
	sc.setup(v)
	var id string
	select {
	case id = <-reached:
	case <-time.After(time.Minute):
		t.Fatalf("step %s of %s never ran", step, sc.kind)
	}
	submitted := len(v.driver.Submitted)
	if kill {
		v.close()
		time.Sleep(time.Second)
		v.open()
	}
	op := v.wait2("a", id, 5*time.Minute)
	if kill {
		wantStatus(t, op.Status, flinkplane.OperationSuccessful)
		if n := len(v.driver.Submitted) - submitted; n > 1 {
			t.Fatalf("%d jobs submitted after the crash", n)
		}
	} else {
		wantStatus(t, op.Status, flinkplane.OperationFailed)
		if op.RollbackOperationID != "" {
			v.wait2("a", op.RollbackOperationID, 5*time.Minute)
		}
	}
	time.Sleep(3 * time.Second) // let the watch look once more
	for _, o := range v.operations("a", "") {
		if !o.Done() {
			v.wait2("a", o.ID, 5*time.Minute)
		}
	}
	a := v.app("a")
	running := v.driver.Running()
	switch a.Status {
	case flinkplane.StatusRunning:
		if kill && sc.ready {
			t.Fatalf("app RUNNING, want READY")
		}
		if len(running) != 1 || running[0] != a.JobID || v.driver.LiveClusters() != 1 {
			t.Fatalf("RUNNING app %+v: jobs %v, clusters %d", a, running, v.driver.LiveClusters())
		}
	case flinkplane.StatusReady:
		if kill && !sc.ready {
			t.Fatalf("app READY after a resumed %s", sc.kind)
		}
		if len(running) != 0 || v.driver.LiveClusters() != 0 || a.Cluster != nil {
			t.Fatalf("READY app %+v: jobs %v, clusters %d", a, running, v.driver.LiveClusters())
		}
	default:
		t.Fatalf("application %s", a.Status)
	}
	for _, s := range v.snapshots("a") {
		if s.Status == flinkplane.SnapshotReady && !v.driver.Savepoints[s.Location] {
			t.Fatalf("snapshot %s lost its savepoint %s", s.Name, s.Location)
		}
	}
}
