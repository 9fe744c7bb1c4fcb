package engine_test

import (
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/engine"
)

// A job that never gets all its tasks running fails its start after
// StartTimeout, measured on the engine's clock (a fake one here: the five
// minutes pass at once).
func TestStart_Timeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		v := newEnv(t)
		v.e.PollInterval = time.Second
		v.e.StartTimeout = 5 * time.Minute
		v.driver.JobStates = []flinkplane.JobHealth{{State: "RUNNING", AllTasksRunning: false}}
		v.create("a", nil)
		start := time.Now()
		id, err := v.e.StartApplication(ctx, "a", engine.StartInput{})
		if err != nil {
			t.Fatal(err)
		}
		var op *flinkplane.Operation
		for op = v.op("a", id); !op.Done(); op = v.op("a", id) {
			time.Sleep(time.Second)
		}
		if elapsed := time.Since(start); elapsed < 5*time.Minute || elapsed > 6*time.Minute {
			t.Fatalf("failed after %s", elapsed)
		}
		wantStatus(t, op.Status, flinkplane.OperationFailed)
		if want := "did not reach RUNNING with all tasks running within 5m0s"; !strings.Contains(op.ErrorInfo, want) {
			t.Fatalf("ErrorInfo %q", op.ErrorInfo)
		}
		v.e.Wait(ctx, "a")
		wantStatus(t, v.app("a").Status, flinkplane.StatusReady)
		v.close()
	})
}
