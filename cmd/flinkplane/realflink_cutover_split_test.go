package main

import (
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/engine"
)

// cutoverSplit reads the parts of the cut-over of app's newest update from
// the step timings its operation recorded (the operation is read from the
// store): t0 is when UpdateApplication was called, jobAt when the new job
// was seen running with all its tasks (polled: its first records may come
// before), first when its first record was processed (from the output). It returns nil when the operation recorded no stop with a
// savepoint or no submission.
func (r *realEnv) cutoverSplit(b *testing.B, app string, t0, jobAt, first time.Time) map[string]float64 {
	b.Helper()
	var op *flinkplane.Operation
	if err := r.m.DB.View(sctx, func(tx flinkplane.Tx) error {
		ops, err := tx.Operations(app, flinkplane.OperationFilter{Limit: 50})
		for _, o := range ops {
			if o.Kind == flinkplane.OpUpdateApplication && (op == nil || o.StartTime.After(op.StartTime)) {
				op = o
			}
		}
		return err
	}); err != nil {
		b.Fatal(err)
	}
	if op == nil {
		b.Fatalf("%s: no update operation", app)
	}
	var stop, submit *flinkplane.StepTiming
	for i := range op.Timings {
		switch op.Timings[i].Step {
		case engine.StepStopWithSavepoint:
			stop = &op.Timings[i]
		case engine.StepSubmit:
			submit = &op.Timings[i]
		}
	}
	if stop == nil || submit == nil {
		b.Logf("%s: operation %s recorded no stop or submission: %+v", app, op.ID, op.Timings)
		return nil
	}
	return map[string]float64{
		"before-stop-s":   stop.Start.Sub(t0).Seconds(),
		"savepoint-s":     stop.End.Sub(stop.Start).Seconds(),
		"submit-s":        submit.End.Sub(stop.End).Seconds(),
		"restore-s":       first.Sub(submit.End).Seconds(),
		"tasks-running-s": jobAt.Sub(submit.End).Seconds(),
	}
}
