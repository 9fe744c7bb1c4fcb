package local_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat"
	"github.com/flinkplane/flinkplane/internal/fixtures"
	"github.com/flinkplane/flinkplane/runtime/local"
	"github.com/flinkplane/flinkplane/runtime/local/localtest"
)

func TestCluster_FLINK_1_20(t *testing.T) { testCluster(t, flinkplane.RuntimeFlink120) }
func TestCluster_FLINK_2_2(t *testing.T)  { testCluster(t, flinkplane.RuntimeFlink22) }

// TestCluster_Extra runs the same life on the runtimes listed in
// FLINKPLANE_EXTRA_RUNTIMES (e.g. "FLINK-1_18,FLINK-1_19,FLINK-2_3").
func TestCluster_Extra(t *testing.T) {
	list := os.Getenv("FLINKPLANE_EXTRA_RUNTIMES")
	if list == "" {
		t.Skip("FLINKPLANE_EXTRA_RUNTIMES not set")
	}
	for _, id := range strings.Split(list, ",") {
		t.Run(id, func(t *testing.T) { testCluster(t, flinkplane.RuntimeID(strings.TrimSpace(id))) })
	}
}

// testCluster runs the whole life of one cluster on real Flink: start,
// submit, savepoint, stop with savepoint, restore, cancel, adopt by a
// restarted control plane, stop; no process survives.
func testCluster(t *testing.T, id flinkplane.RuntimeID) {
	localtest.RequireRuntime(t, id)
	jar := localtest.TestJobJar(t, id)
	dataDir := t.TempDir()
	d := localtest.NewDriver(t, dataDir)
	// Class data sharing (cds.go): this cluster records the classes its
	// JVMs load, its stop builds the archive, the last subtest's cluster
	// maps it.
	d.ClassDataDir = filepath.Join(dataDir, "cds")
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()

	spec := flinkplane.ClusterSpec{
		ApplicationName: "test", ApplicationID: "app-" + strings.ToLower(string(id)), Runtime: id,
		Parallelism: 2, ParallelismPerKPU: 1,
		Checkpoint: flinkplane.CheckpointSpec{Enabled: true, Interval: 2 * time.Second, MinPauseBetweenCheckpoints: time.Second},
		Properties: []flinkplane.PropertyGroup{{PropertyGroupID: "FlinkApplicationProperties", PropertyMap: map[string]string{
			"marker": "m-" + string(id), "output.path": filepath.Join(dataDir, "counter-out"), "rate.per.second": "50"}}},
	}
	start := time.Now()
	h := localtest.StartCluster(t, d, spec)
	t.Logf("cluster up in %v: %+v", time.Since(start), h)
	if got, want := len(d.ClusterProcesses(h)), 3; got != want {
		t.Fatalf("processes = %d, want %d (1 JM + 2 TMs)", got, want)
	}
	c := localtest.RESTClient(t, d, h)
	if cfg, err := c.Config(ctx); err != nil {
		t.Fatal(err)
	} else if major, minor, _ := id.Version(); !strings.HasPrefix(cfg.FlinkVersion, strings.TrimPrefix(strings.ReplaceAll(string(id), "_", "."), "FLINK-")) {
		t.Fatalf("flink version %q for %s (%d.%d)", cfg.FlinkVersion, id, major, minor)
	}

	var jobID, savepoint string
	var cdsLog logLines // what the driver that stops the cluster logged
	t.Run("Submit", func(t *testing.T) {
		var err error
		jobID, err = d.Submit(ctx, h, flinkplane.JobSpec{JarPath: jar, JobID: "0123456789abcdef0123456789abcdef"})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.WaitJobRunning(ctx, h, jobID); err != nil {
			t.Fatal(err)
		}
		t.Logf("job RUNNING %v after start", time.Since(start))
		j, err := c.Job(ctx, jobID)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := j.Name, "testjob marker=m-"+string(id); got != want {
			t.Fatalf("job name %q, want %q (EnvironmentProperties not delivered)", got, want)
		}
		// Submitting the same job id again returns it without a second job.
		again, err := d.Submit(ctx, h, flinkplane.JobSpec{JarPath: jar, JobID: jobID})
		if err != nil || again != jobID {
			t.Fatalf("resubmit = %q, %v", again, err)
		}
		// Another job while one runs is refused.
		if _, err := d.Submit(ctx, h, flinkplane.JobSpec{JarPath: jar}); flinkplane.ErrorCode(err) != flinkplane.EINUSE {
			t.Fatalf("second job: err = %v, want EINUSE", err)
		}
		if jobs, _ := c.Jobs(ctx); len(jobs) != 1 {
			t.Fatalf("jobs = %+v, want exactly one", jobs)
		}
	})
	if jobID == "" {
		t.FailNow()
	}
	t.Run("RESTNeedsClientCertificate", func(t *testing.T) { checkRESTLocked(t, ctx, d, h, jobID, jar) })
	t.Run("Savepoint", func(t *testing.T) {
		tr, err := d.TriggerSavepoint(ctx, h, jobID, "")
		if err != nil {
			t.Fatal(err)
		}
		st := pollSavepoint(t, ctx, d, h, jobID, tr)
		if !strings.Contains(st.Location, filepath.Join(dataDir, "savepoints", spec.ApplicationID)) {
			t.Fatalf("savepoint location %q not under the app's savepoint dir", st.Location)
		}
	})
	t.Run("StopWithSavepoint", func(t *testing.T) {
		// Wait for a checkpoint so the health counters are exercised.
		waitFor(t, ctx, func() bool {
			jh, err := d.JobHealth(ctx, h, jobID)
			return err == nil && jh.CompletedCheckpoints > 0
		})
		tr, err := d.StopWithSavepoint(ctx, h, jobID, "")
		if err != nil {
			t.Fatal(err)
		}
		savepoint = pollSavepoint(t, ctx, d, h, jobID, tr).Location
		waitFor(t, ctx, func() bool {
			s, err := c.JobStatus(ctx, jobID)
			return err == nil && s == "FINISHED"
		})
		v, err := local.SavepointMetadataVersion(savepoint)
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("savepoint %s: _metadata version %d", savepoint, v)
	})
	t.Run("RestoreAndCancel", func(t *testing.T) {
		if savepoint == "" {
			t.Skip("no savepoint")
		}
		j2, err := d.Submit(ctx, h, flinkplane.JobSpec{JarPath: jar, RestoreFrom: savepoint})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := d.WaitJobRunning(ctx, h, j2); err != nil {
			t.Fatal(err)
		}
		cs, err := c.Checkpoints(ctx, j2)
		if err != nil {
			t.Fatal(err)
		}
		if cs.Latest.Restored == nil || !strings.Contains(savepoint, strings.TrimPrefix(cs.Latest.Restored.ExternalPath, "file:")) {
			t.Fatalf("restored = %+v, want %s", cs.Latest.Restored, savepoint)
		}
		if err := d.Cancel(ctx, h, j2); err != nil {
			t.Fatal(err)
		}
		waitFor(t, ctx, func() bool {
			s, err := c.JobStatus(ctx, j2)
			return err == nil && s == "CANCELED"
		})
		if err := d.Cancel(ctx, h, j2); err != nil {
			t.Fatalf("second cancel: %v", err)
		}
	})
	t.Run("CompiledGraph", func(t *testing.T) {
		// The job's graph built by the dry compile (checkpointing imposed
		// over the code's, the job id chosen, the jar's nested lib/ jar
		// uploaded with it), submitted with POST /jobs restored from the
		// savepoint through the graph's restore placeholder.
		if savepoint == "" {
			t.Skip("no savepoint")
		}
		const id4 = "fedcba9876543210fedcba9876543210"
		checker := &compat.Checker{RuntimesDir: localtest.RuntimesDir(), CacheDir: filepath.Join(dataDir, "compat-cache")}
		g, fs, err := checker.CompileJob(ctx, id, flinkplane.CompileSpec{JarPath: jar, Parallelism: spec.Parallelism, Properties: spec.Properties,
			FlinkConfig: d.JobConfiguration(spec), JobID: id4, GraphFile: filepath.Join(dataDir, "job.graph"),
			Checkpointing: &flinkplane.CheckpointSpec{Enabled: true, Interval: 3 * time.Second, MinPauseBetweenCheckpoints: 700 * time.Millisecond}})
		if err != nil || len(fs) != 0 || g.Compiled == nil {
			t.Fatalf("compile: %v %+v", err, fs)
		}
		got, err := d.Submit(ctx, h, flinkplane.JobSpec{JarPath: jar, JobID: id4, RestoreFrom: savepoint, Graph: g.Compiled})
		if err != nil || got != id4 {
			t.Fatalf("submit graph: %q %v", got, err)
		}
		// (The test job's second source reader may have no split left
		// after this restore and finish: wait for RUNNING, not all tasks.)
		waitFor(t, ctx, func() bool {
			s, err := c.JobStatus(ctx, id4)
			return err == nil && s == "RUNNING"
		})
		j, err := c.Job(ctx, id4)
		if err != nil || j.Name != "testjob marker=m-"+string(id) {
			t.Fatalf("job %+v %v: want the name main() gave it from the EnvironmentProperties", j.Name, err)
		}
		cs, err := c.Checkpoints(ctx, id4)
		if err != nil || cs.Latest.Restored == nil || !strings.Contains(savepoint, strings.TrimPrefix(cs.Latest.Restored.ExternalPath, "file:")) {
			t.Fatalf("restored = %+v %v, want %s", cs.Latest.Restored, err, savepoint)
		}
		cc, err := c.CheckpointConfig(ctx, id4)
		if err != nil || cc.Interval != 3000 || cc.MinPause != 700 || cc.MaxConcurrent != 1 || !cc.Externalization.Enabled || cc.Externalization.DeleteOnCancellation {
			t.Fatalf("checkpoint config %+v %v, want the imposed 3000/700, retained", cc, err)
		}
		if err := d.Cancel(ctx, h, id4); err != nil {
			t.Fatal(err)
		}
		waitFor(t, ctx, func() bool {
			s, err := c.JobStatus(ctx, id4)
			return err == nil && s == "CANCELED"
		})
	})
	t.Run("FailingJobRootCause", func(t *testing.T) {
		j3, err := d.Submit(ctx, h, flinkplane.JobSpec{JarPath: jar, Args: []string{"--fail"}})
		if err != nil {
			t.Fatal(err)
		}
		var jh flinkplane.JobHealth
		waitFor(t, ctx, func() bool {
			jh, err = d.JobHealth(ctx, h, j3)
			return err == nil && strings.Contains(jh.RootCause, "testjob failure requested")
		})
		t.Logf("root cause: %s", jh.RootCause)
		d.Cancel(ctx, h, j3)
		waitFor(t, ctx, func() bool {
			s, err := c.JobStatus(ctx, j3)
			return err == nil && (s == "CANCELED" || s == "FAILED")
		})
	})
	t.Run("SubmitErrorCarriesFlinkMessage", func(t *testing.T) {
		_, err := d.Submit(ctx, h, flinkplane.JobSpec{JarPath: jar, EntryClass: "no.such.Main"})
		if flinkplane.ErrorCode(err) != flinkplane.ECODE || !strings.Contains(flinkplane.ErrorMessage(err), "no.such.Main") {
			t.Fatalf("err = %v", err)
		}
		t.Logf("submit error: %s", flinkplane.ErrorMessage(err))

		// A savepoint newer than the runtime reads is refused before
		// anything is submitted (a 2.2 savepoint is V6; 1.x reads V4).
		sp := filepath.Join(dataDir, "savepoints", "foreign", "savepoint-v9")
		os.MkdirAll(sp, 0o755)
		os.WriteFile(filepath.Join(sp, "_metadata"), []byte{0x49, 0x60, 0x67, 0x2d, 0, 0, 0, 9}, 0o644)
		before, _ := c.Jobs(ctx)
		_, err = d.Submit(ctx, h, flinkplane.JobSpec{JarPath: jar, RestoreFrom: "file:" + sp})
		if flinkplane.ErrorCode(err) != flinkplane.EINVALIDCONFIG {
			t.Fatalf("newer savepoint: err = %v, want EINVALIDCONFIG", err)
		}
		if after, _ := c.Jobs(ctx); len(after) != len(before) {
			t.Fatal("a job was submitted from a savepoint the runtime cannot read")
		}
	})
	t.Run("Logs", func(t *testing.T) {
		logs, err := d.Logs(ctx, h)
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		for _, l := range logs {
			names[l.Name] = true
		}
		if !names["jobmanager.log"] || !names["taskmanager-0.log"] || !names["taskmanager-1.log"] {
			t.Fatalf("logs = %+v", logs)
		}
		b, err := d.ReadLog(ctx, h, "jobmanager.log", 0, 1<<20)
		if err != nil || !strings.Contains(string(b), "StandaloneSessionClusterEntrypoint") {
			t.Fatalf("jobmanager.log: %v %q", err, b[:min(len(b), 200)])
		}
		if _, err := d.ReadLog(ctx, h, "../cluster.json", 0, 10); flinkplane.ErrorCode(err) != flinkplane.ENOTFOUND {
			t.Fatalf("path escape: %v", err)
		}
	})
	t.Run("CounterFixture", func(t *testing.T) {
		name := map[flinkplane.RuntimeID]string{flinkplane.RuntimeFlink120: fixtures.Counter120, flinkplane.RuntimeFlink22: fixtures.Counter22}[id]
		if name == "" {
			t.Skip("no counter fixture for ", id)
		}
		jar, err := fixtures.Jar(name)
		if err != nil {
			if berr := fixtures.Build(ctx, name); berr == nil {
				jar, err = fixtures.Jar(name)
			}
		}
		if err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatal(err)
			}
			t.Skip(err)
		}
		// Run, stop with savepoint, restore, stop again: the committed
		// counts must continue exactly (output.path from EnvironmentProperties).
		restore := ""
		for round := 0; round < 2; round++ {
			j, err := d.Submit(ctx, h, flinkplane.JobSpec{JarPath: jar, RestoreFrom: restore})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := d.WaitJobRunning(ctx, h, j); err != nil {
				t.Fatal(err)
			}
			time.Sleep(5 * time.Second)
			tr, err := d.StopWithSavepoint(ctx, h, j, "")
			if err != nil {
				t.Fatal(err)
			}
			restore = pollSavepoint(t, ctx, d, h, j, tr).Location
			waitFor(t, ctx, func() bool { s, err := c.JobStatus(ctx, j); return err == nil && s == "FINISHED" })
		}
		out, err := fixtures.CheckCounterOutput(filepath.Join(dataDir, "counter-out"))
		if err != nil {
			t.Fatal(err)
		}
		if out.Records < 100 {
			t.Fatalf("only %d records in 2 × 5 s at 50/s", out.Records)
		}
		t.Logf("counter fixture: %d records in %d files, consistent across stop/restore", out.Records, out.Files)
	})
	t.Run("AdoptAfterRestartThenStopOrSweep", func(t *testing.T) {
		d2 := localtest.NewDriver(t, dataDir) // a restarted control plane
		d2.ClassDataDir = d.ClassDataDir
		d2.Logf = func(format string, args ...any) {
			cdsLog.Add(fmt.Sprintf(format, args...))
			t.Logf(format, args...)
		}
		defer d2.WaitClassData()
		alive, err := d2.Adopt(ctx, h)
		if err != nil || !alive {
			t.Fatalf("adopt = %v, %v", alive, err)
		}
		if stopped, err := d2.Sweep(ctx, []flinkplane.ClusterHandle{h}); err != nil || len(stopped) != 0 {
			t.Fatalf("sweep of an owned cluster stopped %v, %v", stopped, err)
		}
		pids := d2.ClusterProcesses(h)
		if id == flinkplane.RuntimeFlink120 {
			if err := d2.Stop(ctx, h); err != nil {
				t.Fatal(err)
			}
		} else {
			// The restarted control plane owns nothing: the cluster is an
			// orphan and Sweep kills it.
			stopped, err := d2.Sweep(ctx, nil)
			if err != nil || len(stopped) != 1 || stopped[0] != h.ID {
				t.Fatalf("sweep = %v, %v; want [%s]", stopped, err, h.ID)
			}
		}
		for _, pid := range pids {
			if _, err := os.Stat(filepath.Join("/proc", itoa(pid), "cmdline")); err == nil {
				if b, _ := os.ReadFile(filepath.Join("/proc", itoa(pid), "cmdline")); strings.Contains(string(b), h.ID) {
					t.Fatalf("pid %d survives Stop", pid)
				}
			}
		}
		if n := len(d2.ClusterProcesses(h)); n != 0 {
			t.Fatalf("%d processes survive Stop", n)
		}
		if alive, err := d2.Adopt(ctx, h); err != nil || alive {
			t.Fatalf("adopt after stop = %v, %v", alive, err)
		}
		if err := d2.Stop(ctx, h); err != nil {
			t.Fatalf("second stop: %v", err)
		}
	})
	t.Run("ClassDataSharing", func(t *testing.T) {
		archives, _ := filepath.Glob(filepath.Join(d.ClassDataDir, "*.jsa"))
		if len(archives) != 1 {
			left, _ := os.ReadDir(d.ClassDataDir)
			t.Fatalf("archives %v after the recording cluster stopped (left: %v); the stopping driver logged:\n%s", archives, left, cdsLog.String())
		}
		d3 := localtest.NewDriver(t, t.TempDir())
		d3.ClassDataDir = d.ClassDataDir
		h3 := localtest.StartCluster(t, d3, flinkplane.ClusterSpec{ApplicationID: "cds", Runtime: id, Parallelism: 1, ParallelismPerKPU: 1})
		defer d3.Stop(ctx, h3)
		// Every JVM of the new cluster has the archive mapped.
		for _, pid := range d3.ClusterProcesses(h3) {
			maps, err := os.ReadFile(filepath.Join("/proc", itoa(pid), "maps"))
			if err != nil || !strings.Contains(string(maps), archives[0]) {
				t.Fatalf("pid %d does not map %s (%v)", pid, archives[0], err)
			}
		}
	})
}

func itoa(n int) string { return strconvItoa(n) }

func pollSavepoint(t *testing.T, ctx context.Context, d *local.Driver, h flinkplane.ClusterHandle, jobID, tr string) flinkplane.SavepointStatus {
	t.Helper()
	for {
		st, err := d.PollSavepoint(ctx, h, jobID, tr)
		if err != nil {
			t.Fatal(err)
		}
		if st.Done {
			if st.Failure != "" {
				t.Fatalf("savepoint failed: %s", st.Failure)
			}
			return st
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func waitFor(t *testing.T, ctx context.Context, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	for !cond() {
		select {
		case <-ctx.Done():
			t.Fatal("condition not met: ", ctx.Err())
		case <-time.After(250 * time.Millisecond):
		}
	}
}

// logLines collects log lines from several goroutines.
type logLines struct {
	mu    sync.Mutex
	lines []string
}

func (l *logLines) Add(s string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.lines = append(l.lines, s)
}

func (l *logLines) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Join(l.lines, "\n")
}
