package flinkrest_test

import (
	"context"
	"errors"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/flinkrest"
	"github.com/flinkplane/flinkplane/runtime/local/localtest"
)

func TestClient_FLINK_1_20(t *testing.T) { testClient(t, flinkplane.RuntimeFlink120, "1.20.") }
func TestClient_FLINK_2_2(t *testing.T)  { testClient(t, flinkplane.RuntimeFlink22, "2.2.") }

// testClient drives every call of the client against one real cluster.
func testClient(t *testing.T, id flinkplane.RuntimeID, version string) {
	localtest.RequireRuntime(t, id)
	jar := localtest.TestJobJar(t, id)
	dataDir := t.TempDir()
	d := localtest.NewDriver(t, dataDir)
	h := localtest.StartCluster(t, d, flinkplane.ClusterSpec{
		ApplicationID: "rest", Runtime: id, Parallelism: 1, ParallelismPerKPU: 2,
		Checkpoint: flinkplane.CheckpointSpec{Enabled: true, Interval: time.Second},
	})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	c := localtest.RESTClient(t, d, h)

	cfg, err := c.Config(ctx)
	if err != nil || !strings.HasPrefix(cfg.FlinkVersion, version) {
		t.Fatalf("config = %+v, %v", cfg, err)
	}
	ov, err := c.Overview(ctx)
	if err != nil || ov.TaskManagers != 1 || ov.SlotsTotal != 2 {
		t.Fatalf("overview = %+v, %v", ov, err)
	}
	jarID, err := c.UploadJar(ctx, jar)
	if err != nil || !strings.HasSuffix(jarID, ".jar") {
		t.Fatalf("upload = %q, %v", jarID, err)
	}

	// A failing submission answers 400 (500 in 1.20 for a missing entry
	// class) with Flink's message.
	_, err = c.RunJar(ctx, jarID, flinkrest.RunRequest{EntryClass: "no.such.Main"})
	var fe *flinkrest.Error
	if !errors.As(err, &fe) || (fe.StatusCode != 400 && fe.StatusCode != 500) || !strings.Contains(strings.Join(fe.Errors, "\n"), "no.such.Main") {
		t.Fatalf("run bad entry class: %v", err)
	}

	const jobID = "00000000000000000000000000000abc"
	got, err := c.RunJar(ctx, jarID, flinkrest.RunRequest{
		EntryClass: "flinkplane.testjob.TestJob", ProgramArgsList: []string{"--ok", "a b"},
		Parallelism: 2, JobID: jobID,
	})
	if err != nil || got != jobID {
		t.Fatalf("run = %q, %v", got, err)
	}
	waitJob(t, ctx, c, jobID)
	jobs, err := c.Jobs(ctx)
	if err != nil || len(jobs) != 1 || jobs[0].ID != jobID || jobs[0].State != "RUNNING" {
		t.Fatalf("jobs = %+v, %v", jobs, err)
	}
	j, _ := c.Job(ctx, jobID)
	for _, v := range j.Vertices {
		if v.Name != "" && strings.Contains(v.Name, "Counter") && v.Parallelism != 2 {
			t.Errorf("vertex %s parallelism %d, want 2", v.Name, v.Parallelism)
		}
	}

	// Checkpoints and metrics.
	var stats flinkrest.CheckpointStats
	waitUntil(t, ctx, func() bool {
		stats, err = c.Checkpoints(ctx, jobID)
		return err == nil && stats.Counts.Completed >= 1
	})
	if stats.Latest.Completed == nil || stats.Latest.Completed.ExternalPath == "" {
		t.Fatalf("latest completed = %+v", stats.Latest.Completed)
	}
	// Job metrics are fetched by the JobManager periodically: poll.
	var m map[string]string
	waitUntil(t, ctx, func() bool {
		m, err = c.JobMetrics(ctx, jobID)
		n, _ := strconv.Atoi(m["numberOfCompletedCheckpoints"])
		return err == nil && n >= 1
	})
	for _, name := range flinkrest.JobMetricNames {
		if _, ok := m[name]; !ok {
			t.Errorf("metric %s missing: %v", name, m)
		}
	}
	if n, _ := strconv.Atoi(m["numberOfCompletedCheckpoints"]); n < 1 {
		t.Errorf("numberOfCompletedCheckpoints = %q", m["numberOfCompletedCheckpoints"])
	}
	if ex, err := c.Exceptions(ctx, jobID, 5); err != nil || len(ex) != 0 {
		t.Fatalf("exceptions = %+v, %v", ex, err)
	}

	// Savepoint, then stop with savepoint.
	tr, err := c.TriggerSavepoint(ctx, jobID, "", false)
	if err != nil {
		t.Fatal(err)
	}
	sp1, err := c.WaitSavepoint(ctx, jobID, tr, 200*time.Millisecond)
	if err != nil || !strings.Contains(sp1, dataDir) {
		t.Fatalf("savepoint = %q, %v", sp1, err)
	}
	tr, err = c.StopWithSavepoint(ctx, jobID, dataDir+"/stop-savepoints", false)
	if err != nil {
		t.Fatal(err)
	}
	sp2, err := c.WaitSavepoint(ctx, jobID, tr, 200*time.Millisecond)
	if err != nil || !strings.Contains(sp2, "/stop-savepoints/") {
		t.Fatalf("stop savepoint = %q, %v", sp2, err)
	}
	waitUntil(t, ctx, func() bool { s, _ := c.JobStatus(ctx, jobID); return s == "FINISHED" })

	// Restore with allowNonRestoredState and claim mode, then cancel.
	j2, err := c.RunJar(ctx, jarID, flinkrest.RunRequest{SavepointPath: sp2, AllowNonRestoredState: true, ClaimMode: "NO_CLAIM"})
	if err != nil {
		t.Fatal(err)
	}
	waitJob(t, ctx, c, j2)
	waitUntil(t, ctx, func() bool {
		s, err := c.Checkpoints(ctx, j2)
		return err == nil && s.Latest.Restored != nil && strings.Contains(sp2, strings.TrimPrefix(s.Latest.Restored.ExternalPath, "file:"))
	})
	if err := c.Cancel(ctx, j2); err != nil {
		t.Fatal(err)
	}
	waitUntil(t, ctx, func() bool { s, _ := c.JobStatus(ctx, j2); return s == "CANCELED" })

	// A failing job: exception history, numRestarts.
	j3, err := c.RunJar(ctx, jarID, flinkrest.RunRequest{ProgramArgsList: []string{"--fail"}})
	if err != nil {
		t.Fatal(err)
	}
	var ex []flinkrest.Exception
	waitUntil(t, ctx, func() bool {
		ex, err = c.Exceptions(ctx, j3, 10)
		return err == nil && len(ex) > 0
	})
	if !strings.Contains(ex[0].Message(), "testjob failure requested") || ex[0].ExceptionName != "java.lang.IllegalStateException" {
		t.Fatalf("newest exception = %s / %q", ex[0].ExceptionName, ex[0].Message())
	}
	c.Cancel(ctx, j3)
	waitUntil(t, ctx, func() bool { s, _ := c.JobStatus(ctx, j3); return s == "CANCELED" || s == "FAILED" })

	// Savepoint disposal through the cluster.
	dt, err := c.DisposeSavepoint(ctx, sp1)
	if err != nil {
		t.Fatal(err)
	}
	waitUntil(t, ctx, func() bool {
		r, err := c.DisposalStatus(ctx, dt)
		return err == nil && r.Completed() && r.Failure == ""
	})
	if _, err := os.Stat(strings.TrimPrefix(sp1, "file:")); !os.IsNotExist(err) {
		t.Fatalf("savepoint %s not disposed: %v", sp1, err)
	}
	if _, err := c.SavepointStatus(ctx, jobID, "00000000000000000000000000000000"); !flinkrest.IsNotFound(err) {
		t.Errorf("unknown trigger: %v, want 404", err)
	}
	if err := c.DeleteJar(ctx, jarID); err != nil {
		t.Fatal(err)
	}
}

func waitJob(t *testing.T, ctx context.Context, c *flinkrest.Client, jobID string) {
	t.Helper()
	waitUntil(t, ctx, func() bool {
		j, err := c.Job(ctx, jobID)
		return err == nil && j.AllTasksRunning()
	})
}

func waitUntil(t *testing.T, ctx context.Context, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatal("condition not met: ", ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}
