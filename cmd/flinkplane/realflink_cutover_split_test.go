package main

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat"
	"github.com/flinkplane/flinkplane/engine"
	"github.com/flinkplane/flinkplane/internal/fixtures"
	"github.com/flinkplane/flinkplane/runtime/local"
)

// cutoverSplit reads the parts of the cut-over of app's newest update from
// the step timings its operation recorded (the operation is read from the
// store): t0 is when UpdateApplication was called, jobAt when the new job
// was seen running with all its tasks (polled: its first records may come
// before), first when its first record was processed (from the output).
// It returns nil when the operation recorded no stop with a savepoint or
// no submission.
func (r *realEnv) cutoverSplit(b *testing.B, app string, t0, jobAt, first time.Time) map[string]float64 {
	b.Helper()
	op := r.newestOp(b, app, flinkplane.OpUpdateApplication)
	var stop, submit, warm *flinkplane.StepTiming
	for i := range op.Timings {
		switch op.Timings[i].Step {
		case engine.StepStopWithSavepoint:
			stop = &op.Timings[i]
		case engine.StepSubmit:
			submit = &op.Timings[i]
		case engine.StepStartTargetCluster:
			warm = &op.Timings[i]
		}
	}
	if stop == nil || submit == nil {
		b.Logf("%s: operation %s recorded no stop or submission: %+v", app, op.ID, op.Timings)
		return nil
	}
	m := map[string]float64{
		"before-stop-s":   stop.Start.Sub(t0).Seconds(),
		"savepoint-s":     stop.End.Sub(stop.Start).Seconds(),
		"submit-s":        submit.End.Sub(stop.End).Seconds(),
		"restore-s":       first.Sub(submit.End).Seconds(),
		"tasks-running-s": jobAt.Sub(submit.End).Seconds(),
	}
	if len(op.Timings) > 0 {
		m["checks-s"] = op.Timings[0].Start.Sub(t0).Seconds() // UpdateApplication's synchronous pre-flight
	}
	if warm != nil {
		m["warm-start-s"] = warm.End.Sub(warm.Start).Seconds()
	}
	return m
}

// benchWarmUp pays the one-time costs of a fresh data directory: the JAR
// check's index of FLINK-2_2 and the dry compile's helper of each runtime;
// with class data sharing, each runtime's archive of the cluster JVMs'
// classes (built from one cluster that ran the job, when it stops).
func (r *realEnv) benchWarmUp(b *testing.B, jars map[string]string) {
	b.Helper()
	c := r.m.Compat.(*compat.Checker)
	if _, err := c.CheckJar(sctx, jars[fixtures.Counter22], flinkplane.RuntimeFlink22); err != nil {
		b.Fatal(err)
	}
	for rt, jar := range map[flinkplane.RuntimeID]string{flinkplane.RuntimeFlink120: jars[fixtures.Counter120], flinkplane.RuntimeFlink22: jars[fixtures.Counter22]} {
		if _, _, err := c.CompileJob(sctx, rt, flinkplane.CompileSpec{JarPath: jar, Parallelism: 1, Properties: warmUpProps(r)}); err != nil {
			b.Fatal(err)
		}
		d, ok := r.m.driver.(*local.Driver)
		if !ok || d.ClassDataDir == "" {
			continue
		}
		if m, _ := filepath.Glob(filepath.Join(d.ClassDataDir, string(rt)+"-*.jsa")); len(m) > 0 {
			continue
		}
		h, err := d.Start(sctx, flinkplane.ClusterSpec{ApplicationID: "warm-up", Runtime: rt, Parallelism: 1, ParallelismPerKPU: 1, Properties: warmUpProps(r)})
		if err != nil {
			b.Fatal(err)
		}
		job, err := d.Submit(sctx, h, flinkplane.JobSpec{JarPath: jar})
		if err == nil {
			_, err = d.WaitJobRunning(sctx, h, job)
		}
		d.Stop(sctx, h)
		if err != nil {
			b.Fatal(err)
		}
		d.WaitClassData()
	}
}

// startSplit reads the steps of app's newest StartApplication operation:
// its compile, cluster start and submission.
func (r *realEnv) startSplit(b *testing.B, app string) map[string]float64 {
	b.Helper()
	op := r.newestOp(b, app, flinkplane.OpStartApplication)
	m := map[string]float64{}
	for _, t := range op.Timings {
		switch t.Step {
		case engine.StepCompile:
			m["start-compile-s"] = t.End.Sub(t.Start).Seconds()
		case engine.StepStartCluster:
			m["start-cluster-s"] = t.End.Sub(t.Start).Seconds()
		case engine.StepSubmit:
			m["start-submit-s"] = t.End.Sub(t.Start).Seconds()
		}
	}
	return m
}

// newestOp returns app's newest operation of kind.
func (r *realEnv) newestOp(b *testing.B, app, kind string) *flinkplane.Operation {
	b.Helper()
	var op *flinkplane.Operation
	if err := r.m.DB.View(sctx, func(tx flinkplane.Tx) error {
		ops, err := tx.Operations(app, flinkplane.OperationFilter{Limit: 50})
		for _, o := range ops {
			if o.Kind == kind && (op == nil || o.StartTime.After(op.StartTime)) {
				op = o
			}
		}
		return err
	}); err != nil {
		b.Fatal(err)
	}
	if op == nil {
		b.Fatalf("%s: no %s operation", app, kind)
	}
	return op
}

func warmUpProps(r *realEnv) []flinkplane.PropertyGroup {
	return []flinkplane.PropertyGroup{{PropertyGroupID: fixtures.PropertyGroup, PropertyMap: map[string]string{"output.path": filepath.Join(r.dataDir, "warm-up")}}}
}
