package local_test

import (
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat"
	"github.com/flinkplane/flinkplane/internal/fixtures"
	"github.com/flinkplane/flinkplane/runtime/local"
	"github.com/flinkplane/flinkplane/runtime/local/localtest"
)

// TestSavepointFormats_RocksDB_1_20_to_2_2 records what the FRocksDB
// upgrade (6.20.3 in Flink 1.20, 8.10.0 in 2.2) does to a RocksDB job's
// savepoints: the rocksdb-state fixture runs on FLINK-1_20 (RocksDB,
// incremental checkpoints), takes a NATIVE savepoint and then stops with a
// CANONICAL one; the 2.2 build is restored on FLINK-2_2 from each. The job
// verifies every state value it reads and fails on a mismatch (1000 keys at
// 500 records/s: every key is read within 2 s, the run lasts 15 s). Observed
// 2026-11-29: both restore (FRocksDB 8.10 reads the 6.20 SST files); the
// compatibility check warns about the native one (Flink promises native
// savepoints across minor versions only). docs/compat.md has the outcome.
func TestSavepointFormats_RocksDB_1_20_to_2_2(t *testing.T) {
	localtest.RequireRuntime(t, flinkplane.RuntimeFlink120)
	localtest.RequireRuntime(t, flinkplane.RuntimeFlink22)
	jar120, jar22 := fixtureJar(t, fixtures.RocksDBState120), fixtureJar(t, fixtures.RocksDBState22)
	dataDir := t.TempDir()
	d := localtest.NewDriver(t, dataDir)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	props := func(out string) []flinkplane.PropertyGroup {
		return []flinkplane.PropertyGroup{{PropertyGroupID: fixtures.PropertyGroup, PropertyMap: map[string]string{
			"output.path": out, "rate.per.second": "500", "keys": "1000", "payload.bytes": "1024"}}}
	}
	spec := func(id flinkplane.RuntimeID, out string) flinkplane.ClusterSpec {
		return flinkplane.ClusterSpec{ApplicationName: "formats", ApplicationID: "formats", Runtime: id, Parallelism: 1, ParallelismPerKPU: 1,
			Checkpoint: flinkplane.CheckpointSpec{Enabled: true, Interval: 2 * time.Second, MinPauseBetweenCheckpoints: 500 * time.Millisecond},
			Properties: props(out)}
	}

	// 1.20: run, NATIVE savepoint, then stop with a CANONICAL one.
	out120 := filepath.Join(dataDir, "out-1.20")
	h := localtest.StartCluster(t, d, spec(flinkplane.RuntimeFlink120, out120))
	job, err := d.Submit(ctx, h, flinkplane.JobSpec{JarPath: jar120})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.WaitJobRunning(ctx, h, job); err != nil {
		t.Fatal(err)
	}
	waitCheckpoints(t, ctx, d, h, job, 4)
	fc, err := d.RESTClient(h, time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	trig, err := fc.TriggerSavepointFormat(ctx, job, d.SavepointDir("formats"), "NATIVE", false)
	if err != nil {
		t.Fatal(err)
	}
	native := pollFormatSavepoint(t, ctx, d, h, job, trig)
	trig, err = d.StopWithSavepoint(ctx, h, job, "")
	if err != nil {
		t.Fatal(err)
	}
	canonical := pollFormatSavepoint(t, ctx, d, h, job, trig)
	if _, err := fixtures.CheckCounterOutput(out120); err != nil {
		t.Fatal(err)
	}
	t.Logf("1.20 savepoints: native %s (%d files), canonical %s (%d files)", native, countFiles(native), canonical, countFiles(canonical))
	if err := d.Stop(ctx, h); err != nil {
		t.Fatal(err)
	}

	// What the compatibility check says of each, for FLINK-2_2.
	codes := func(sp string) map[string]string {
		rep, err := compat.CheckSavepoint(ctx, strings.TrimPrefix(sp, "file:"), flinkplane.RuntimeFlink22)
		if err != nil {
			t.Fatal(err)
		}
		m := map[string]string{}
		for _, f := range rep.Findings {
			m[f.Code] = f.Severity
			t.Logf("%s finding: %s %s %s", filepath.Base(sp), f.Severity, f.Code, f.Message)
		}
		return m
	}
	if got := codes(native)[compat.CodeNativeSavepoint]; got != flinkplane.SeverityWarning {
		t.Errorf("native 1.20 savepoint for FLINK-2_2: %s finding %q, want WARNING", compat.CodeNativeSavepoint, got)
	}
	if got, ok := codes(canonical)[compat.CodeNativeSavepoint]; ok {
		t.Errorf("canonical savepoint flagged %s (%s)", compat.CodeNativeSavepoint, got)
	}

	// 2.2: restore each; a healthy restore runs with no restart while every
	// record verifies the state it reads.
	h = localtest.StartCluster(t, d, spec(flinkplane.RuntimeFlink22, filepath.Join(dataDir, "out-2.2")))
	for _, tc := range []struct{ name, savepoint string }{{"NATIVE", native}, {"CANONICAL", canonical}} {
		job, err := d.Submit(ctx, h, flinkplane.JobSpec{JarPath: jar22, RestoreFrom: tc.savepoint})
		if err != nil {
			t.Logf("%s 1.20 savepoint on 2.2: submission refused: %v", tc.name, err)
			continue
		}
		health, werr := waitHealthy(ctx, d, h, job, 15*time.Second)
		t.Logf("%s 1.20 savepoint on 2.2: %s, all tasks running %v, restarts %d, checkpoints %d, root cause %q (%v)",
			tc.name, health.State, health.AllTasksRunning, health.Restarts, health.CompletedCheckpoints, health.RootCause, werr)
		if werr != nil {
			// A change here (a native savepoint that no longer restores)
			// means NATIVE_SAVEPOINT must become an ERROR.
			t.Errorf("%s 1.20 savepoint did not restore on 2.2: %v", tc.name, werr)
		}
		d.Cancel(ctx, h, job)
		for i := 0; i < 100; i++ {
			if jh, err := d.JobHealth(ctx, h, job); err == nil && (jh.State == "CANCELED" || jh.State == "FAILED" || jh.State == "FINISHED") {
				break
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
}

func fixtureJar(t *testing.T, name string) string {
	t.Helper()
	p, err := fixtures.Jar(name)
	if err != nil {
		if berr := fixtures.Build(context.Background(), name); berr != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%v; build: %v", err, berr)
			}
			t.Skipf("%v; build: %v", err, berr)
		}
		if p, err = fixtures.Jar(name); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

func waitCheckpoints(t *testing.T, ctx context.Context, d *local.Driver, h flinkplane.ClusterHandle, job string, n int64) {
	t.Helper()
	for {
		jh, err := d.JobHealth(ctx, h, job)
		if err == nil && jh.CompletedCheckpoints >= n {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%d checkpoints not reached: %+v %v", n, jh, err)
		case <-time.After(500 * time.Millisecond):
		}
	}
}

func pollFormatSavepoint(t *testing.T, ctx context.Context, d *local.Driver, h flinkplane.ClusterHandle, job, trig string) string {
	t.Helper()
	for {
		st, err := d.PollSavepoint(ctx, h, job, trig)
		if err != nil {
			t.Fatal(err)
		}
		if st.Done {
			if st.Failure != "" {
				t.Fatalf("savepoint failed: %s", st.Failure)
			}
			return st.Location
		}
		select {
		case <-ctx.Done():
			t.Fatal(ctx.Err())
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// waitHealthy requires the job to run with all tasks, complete a
// checkpoint and stay without restarts for d.
func waitHealthy(ctx context.Context, d *local.Driver, h flinkplane.ClusterHandle, job string, dur time.Duration) (flinkplane.JobHealth, error) {
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	var since time.Time
	for {
		jh, err := d.JobHealth(ctx, h, job)
		switch {
		case err != nil:
		case jh.Restarts > 0 || jh.State == "FAILED" || jh.State == "RESTARTING":
			return jh, &restoreError{jh}
		case jh.State == "RUNNING" && jh.AllTasksRunning && jh.CompletedCheckpoints > 0:
			if since.IsZero() {
				since = time.Now()
			}
			if time.Since(since) >= dur {
				return jh, nil
			}
		}
		select {
		case <-ctx.Done():
			return jh, ctx.Err()
		case <-time.After(500 * time.Millisecond):
		}
	}
}

type restoreError struct{ jh flinkplane.JobHealth }

func (e *restoreError) Error() string {
	return e.jh.State + " after " + strconv.FormatInt(e.jh.Restarts, 10) + " restarts: " + e.jh.RootCause
}

func countFiles(location string) int {
	n := 0
	filepath.Walk(strings.TrimPrefix(location, "file:"), func(_ string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			n++
		}
		return nil
	})
	return n
}
