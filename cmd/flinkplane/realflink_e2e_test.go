package main

// End-to-end tests on real Flink through the real AWS SDK for Go v2: the
// real Main on 127.0.0.1:0 with a temporary data directory, the local
// Flink driver and the compatibility checker (what `serve` wires in), the
// installed runtimes and the fixture jars. With CI=true a missing runtime or
// fixture fails the test; -short skips them.

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kav2 "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat"
	"github.com/flinkplane/flinkplane/flinkrest"
	"github.com/flinkplane/flinkplane/internal/fixtures"
	"github.com/flinkplane/flinkplane/runtime/local"
)

const realBucket = "fixtures"

// realEnv is a real server with the local driver and the compat checker.
type realEnv struct {
	t       testing.TB
	m       *Main
	c       *kav2.Client
	dataDir string
}

// needReal skips under -short, and fails (CI=true) or skips when a runtime
// or a fixture jar is missing. A test (not a benchmark) then runs in
// parallel with a few other real-Flink tests (realflink_parallel_test.go).
func needReal(t testing.TB, runtimes []flinkplane.RuntimeID, jars ...string) map[string]string {
	t.Helper()
	if testing.Short() {
		t.Skip("real Flink: skipped with -short")
	}
	if tt, ok := t.(*testing.T); ok {
		runRealFlink(tt)
	}
	missing := func(format string, args ...any) {
		t.Helper()
		if os.Getenv("CI") == "true" {
			t.Fatalf(format, args...)
		}
		t.Skipf(format, args...)
	}
	rd := fixtures.RuntimesDir()
	for _, id := range runtimes {
		if _, err := os.Stat(filepath.Join(rd, string(id), "runtime.json")); err != nil {
			missing("runtime %s not installed in %s (scripts/install-runtimes.sh): %v", id, rd, err)
		}
	}
	paths := map[string]string{}
	for _, j := range jars {
		p, err := fixtures.Jar(j)
		if err != nil {
			if berr := fixtures.Build(context.Background(), j); berr != nil {
				missing("%v; build failed: %v", err, berr)
			}
			if p, err = fixtures.Jar(j); err != nil {
				missing("%v", err)
			}
		}
		paths[j] = p
	}
	return paths
}

// startReal starts Main with the real driver and checker and puts the jars
// into the local code store (bucket "fixtures", key <name>.jar), as a
// user's S3 upload.
func startReal(t testing.TB, jars map[string]string, configure ...func(*Main)) *realEnv {
	t.Helper()
	return startRealPoll(t, jars, 200*time.Millisecond, configure...)
}

// startRealPoll is startReal with the engine's poll interval; configure
// changes Main before it runs.
func startRealPoll(t testing.TB, jars map[string]string, poll time.Duration, configure ...func(*Main)) *realEnv {
	t.Helper()
	dataDir := t.TempDir()
	m := NewMain()
	m.Config.Addr = "127.0.0.1:0"
	m.Config.DataDir = dataDir
	m.Config.RuntimesDir = fixtures.RuntimesDir()
	m.Config.Region = "eu-west-1"
	m.Config.AccountID = "123456789012"
	m.Config.StartTimeout = 4 * time.Minute
	m.Config.ShutdownTimeout = time.Minute
	m.Driver = local.New(dataDir, m.Config.RuntimesDir)
	m.Compat = &compat.Checker{RuntimesDir: m.Config.RuntimesDir, CacheDir: filepath.Join(dataDir, "compat-cache")}
	m.PollInterval = poll
	// A short probation keeps these tests quick; it still needs every task
	// running and a checkpoint after the restore. (The fault tests set
	// their own window with the flinkplane:probation-window tag.)
	m.Config.ProbationWindow = 3 * time.Second
	for _, f := range configure {
		f(m)
	}
	if v := os.Getenv("FLINKPLANE_TEST_LOG"); v != "" {
		var lvl slog.Level
		lvl.UnmarshalText([]byte(v)) // "debug"; anything else: info
		m.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	} else {
		m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Close()
		// No JVM of this data directory may be left behind.
		if pids := dataDirJVMs(dataDir); len(pids) > 0 {
			t.Errorf("JVMs left behind: %v", pids)
		}
	})
	for name, p := range jars {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dataDir, "code", realBucket, name+".jar")
		os.MkdirAll(filepath.Dir(dst), 0o755)
		if err := os.WriteFile(dst, b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return &realEnv{t: t, m: m, c: apiClient(m.URL()), dataDir: dataDir}
}

// dataDirJVMs returns the pids of processes carrying the data directory's
// marker (-Dflinkplane.data-dir=<dir>).
func dataDirJVMs(dataDir string) []int {
	var pids []int
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		for _, arg := range strings.Split(string(b), "\x00") {
			if arg == "-Dflinkplane.data-dir="+dataDir {
				pids = append(pids, pid)
			}
		}
	}
	return pids
}

func codeLocation(jar string) *types.CodeContent {
	return &types.CodeContent{S3ContentLocation: &types.S3ContentLocation{
		BucketARN: aws.String("arn:aws:s3:::" + realBucket), FileKey: aws.String(jar + ".jar")}}
}

func counterProps(out string) *types.EnvironmentProperties {
	return &types.EnvironmentProperties{PropertyGroups: []types.PropertyGroup{{
		PropertyGroupId: aws.String("FlinkApplicationProperties"),
		PropertyMap:     map[string]string{"output.path": out, "rate.per.second": "50", "keys": "10"}}}}
}

func (r *realEnv) create(name string, rt types.RuntimeEnvironment, jar, out string, mods ...func(*kav2.CreateApplicationInput)) {
	r.t.Helper()
	in := &kav2.CreateApplicationInput{
		ApplicationName:      aws.String(name),
		RuntimeEnvironment:   rt,
		ServiceExecutionRole: aws.String("arn:aws:iam::123456789012:role/flink"),
		ApplicationConfiguration: &types.ApplicationConfiguration{
			ApplicationCodeConfiguration: &types.ApplicationCodeConfiguration{
				CodeContentType: types.CodeContentTypeZipfile, CodeContent: codeLocation(jar)},
			EnvironmentProperties: counterProps(out),
			FlinkApplicationConfiguration: &types.FlinkApplicationConfiguration{
				CheckpointConfiguration: &types.CheckpointConfiguration{ConfigurationType: types.ConfigurationTypeCustom,
					CheckpointingEnabled: aws.Bool(true), CheckpointInterval: aws.Int64(2000), MinPauseBetweenCheckpoints: aws.Int64(500)}},
		},
	}
	for _, mod := range mods {
		mod(in)
	}
	if _, err := r.c.CreateApplication(sctx, in); err != nil {
		r.t.Fatal(err)
	}
}

func (r *realEnv) describe(name string) *types.ApplicationDetail {
	r.t.Helper()
	out, err := r.c.DescribeApplication(sctx, &kav2.DescribeApplicationInput{ApplicationName: aws.String(name)})
	if err != nil {
		r.t.Fatal(err)
	}
	return out.ApplicationDetail
}

// waitOp waits for an operation to end and requires it SUCCESSFUL.
func (r *realEnv) waitOp(name, id string) *types.ApplicationOperationInfoDetails {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		out, err := r.c.DescribeApplicationOperation(sctx, &kav2.DescribeApplicationOperationInput{ApplicationName: aws.String(name), OperationId: aws.String(id)})
		if err != nil {
			r.t.Fatal(err)
		}
		d := out.ApplicationOperationInfoDetails
		if d.OperationStatus != types.OperationStatusInProgress {
			if d.OperationStatus != types.OperationStatusSuccessful {
				r.t.Fatalf("operation %s %s: %s %+v", aws.ToString(d.Operation), id, d.OperationStatus, d.OperationFailureDetails)
			}
			return d
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.t.Fatalf("operation %s still in progress", id)
	return nil
}

// waitRunning waits for RUNNING and checks that, at that moment, the Flink
// job runs with all its tasks. It returns the REST client and the job.
func (r *realEnv) waitRunning(name, opID string) (*flinkrest.Client, flinkrest.Job) {
	r.t.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for {
		d := r.describe(name)
		if d.ApplicationStatus == types.ApplicationStatusRunning {
			break
		}
		if d.ApplicationStatus != types.ApplicationStatusStarting && d.ApplicationStatus != types.ApplicationStatusUpdating &&
			d.ApplicationStatus != types.ApplicationStatusRollingBack || time.Now().After(deadline) {
			op, _ := r.c.DescribeApplicationOperation(sctx, &kav2.DescribeApplicationOperationInput{ApplicationName: aws.String(name), OperationId: aws.String(opID)})
			r.t.Fatalf("application %s is %s, want RUNNING; operation %+v", name, d.ApplicationStatus, op)
		}
		time.Sleep(100 * time.Millisecond)
	}
	fc, job := r.job(name)
	if !job.AllTasksRunning() {
		r.t.Fatalf("application RUNNING but job %s is %s without all tasks running: %+v", job.ID, job.State, job.Vertices)
	}
	r.waitOp(name, opID)
	return fc, job
}

// job returns a read-only Flink REST client of the application's cluster,
// through the dashboard proxy of CreateApplicationPresignedUrl
// FLINK_DASHBOARD_URL (signed in as a browser would: the presigned URL sets
// a session cookie), and its one job that is not terminal.
func (r *realEnv) job(name string) (*flinkrest.Client, flinkrest.Job) {
	r.t.Helper()
	fc := dashboardClient(r.t, r.c, name)
	jobs, err := fc.Jobs(sctx)
	if err != nil {
		r.t.Fatal(err)
	}
	var live []string
	for _, j := range jobs {
		if j.State != "FINISHED" && j.State != "CANCELED" && j.State != "FAILED" {
			live = append(live, j.ID)
		}
	}
	if len(live) != 1 {
		r.t.Fatalf("cluster of %s has jobs %+v, want exactly one live job", name, jobs)
	}
	job, err := fc.Job(sctx, live[0])
	if err != nil {
		r.t.Fatal(err)
	}
	return fc, job
}

// dashboardClient signs in with the application's presigned dashboard URL
// and returns a Flink REST client of the dashboard proxy.
func dashboardClient(t testing.TB, c *kav2.Client, name string) *flinkrest.Client {
	t.Helper()
	u, err := c.CreateApplicationPresignedUrl(sctx, &kav2.CreateApplicationPresignedUrlInput{ApplicationName: aws.String(name), UrlType: types.UrlTypeFlinkDashboardUrl})
	if err != nil {
		t.Fatal(err)
	}
	jar, _ := cookiejar.New(nil)
	hc := &http.Client{Jar: jar, Timeout: 60 * time.Second}
	resp, err := hc.Get(aws.ToString(u.AuthorizedUrl))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		t.Fatalf("dashboard sign-in: %d", resp.StatusCode)
	}
	base, _, _ := strings.Cut(aws.ToString(u.AuthorizedUrl), "/signin?")
	fc := flinkrest.New(base)
	fc.HTTP = hc
	return fc
}

// checkDashboardReadOnly opens the application's dashboard through its
// presigned URL on real Flink: the Web UI and the REST reads come through
// the proxy (which holds the cluster's client certificate), the UI's
// submit and cancel are off, and neither a jar upload nor a cancel passes.
func checkDashboardReadOnly(t *testing.T, c *kav2.Client, name, jobID string) {
	t.Helper()
	fc := dashboardClient(t, c, name)
	resp, err := fc.HTTP.Get(fc.BaseURL + "/")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "Apache Flink Web Dashboard") {
		t.Fatalf("dashboard index: %d %.200s", resp.StatusCode, b)
	}
	cfg, err := fc.Config(sctx)
	if err != nil || cfg.Features["web-submit"] || cfg.Features["web-cancel"] {
		t.Fatalf("dashboard /config %+v %v", cfg, err)
	}
	for _, req := range []struct{ method, path string }{{"POST", "/jars/upload"}, {"PATCH", "/jobs/" + jobID + "?mode=cancel"}, {"POST", "/jobs/" + jobID + "/stop"}} {
		rq, _ := http.NewRequest(req.method, fc.BaseURL+req.path, strings.NewReader("{}"))
		resp, err := fc.HTTP.Do(rq)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusMethodNotAllowed {
			t.Fatalf("%s %s through the dashboard: %d, want 405", req.method, req.path, resp.StatusCode)
		}
	}
	if j, err := fc.Job(sctx, jobID); err != nil || j.State != "RUNNING" {
		t.Fatalf("job through the dashboard: %+v %v", j, err)
	}
}

func (r *realEnv) start(name string, restore types.ApplicationRestoreType, snapshot string) (*flinkrest.Client, flinkrest.Job) {
	r.t.Helper()
	rc := &types.ApplicationRestoreConfiguration{ApplicationRestoreType: restore}
	if snapshot != "" {
		rc.SnapshotName = aws.String(snapshot)
	}
	out, err := r.c.StartApplication(sctx, &kav2.StartApplicationInput{ApplicationName: aws.String(name),
		RunConfiguration: &types.RunConfiguration{ApplicationRestoreConfiguration: rc}})
	if err != nil {
		r.t.Fatal(err)
	}
	return r.waitRunning(name, aws.ToString(out.OperationId))
}

func (r *realEnv) stop(name string) {
	r.t.Helper()
	out, err := r.c.StopApplication(sctx, &kav2.StopApplicationInput{ApplicationName: aws.String(name)})
	if err != nil {
		r.t.Fatal(err)
	}
	r.waitOp(name, aws.ToString(out.OperationId))
	if d := r.describe(name); d.ApplicationStatus != types.ApplicationStatusReady {
		r.t.Fatalf("after stop: %s", d.ApplicationStatus)
	}
}

func (r *realEnv) snapshot(name, snap string, rt types.RuntimeEnvironment) *flinkplane.Snapshot {
	r.t.Helper()
	if _, err := r.c.CreateApplicationSnapshot(sctx, &kav2.CreateApplicationSnapshotInput{ApplicationName: aws.String(name), SnapshotName: aws.String(snap)}); err != nil {
		r.t.Fatal(err)
	}
	var d *kav2.DescribeApplicationSnapshotOutput
	for deadline := time.Now().Add(2 * time.Minute); ; time.Sleep(100 * time.Millisecond) {
		var err error
		d, err = r.c.DescribeApplicationSnapshot(sctx, &kav2.DescribeApplicationSnapshotInput{ApplicationName: aws.String(name), SnapshotName: aws.String(snap)})
		if err != nil {
			r.t.Fatal(err)
		}
		if d.SnapshotDetails.SnapshotStatus != types.SnapshotStatusCreating || time.Now().After(deadline) {
			break
		}
	}
	if s := d.SnapshotDetails; s.SnapshotStatus != types.SnapshotStatusReady || s.RuntimeEnvironment != rt {
		r.t.Fatalf("snapshot %s: %s on %s, want READY on %s", snap, s.SnapshotStatus, s.RuntimeEnvironment, rt)
	}
	return r.stored(name, snap)
}

// stored returns the store's record of a snapshot (its savepoint location).
func (r *realEnv) stored(name, snap string) *flinkplane.Snapshot {
	r.t.Helper()
	var s *flinkplane.Snapshot
	err := r.m.DB.View(sctx, func(tx flinkplane.Tx) (err error) {
		s, err = tx.Snapshot(name, snap)
		return err
	})
	if err != nil || s.Location == "" {
		r.t.Fatalf("snapshot %s: %+v %v", snap, s, err)
	}
	return s
}

func (r *realEnv) snapshots(name string) []types.SnapshotDetails {
	r.t.Helper()
	out, err := r.c.ListApplicationSnapshots(sctx, &kav2.ListApplicationSnapshotsInput{ApplicationName: aws.String(name)})
	if err != nil {
		r.t.Fatal(err)
	}
	return out.SnapshotSummaries
}

// allOperationsSuccessful lists the operations and requires each of the
// given kinds (in this count) and all of them SUCCESSFUL, except those
// listed in failed.
func (r *realEnv) operations(name string) []types.ApplicationOperationInfo {
	r.t.Helper()
	var all []types.ApplicationOperationInfo
	in := &kav2.ListApplicationOperationsInput{ApplicationName: aws.String(name)}
	for {
		out, err := r.c.ListApplicationOperations(sctx, in)
		if err != nil {
			r.t.Fatal(err)
		}
		all = append(all, out.ApplicationOperationInfoList...)
		if out.NextToken == nil {
			return all
		}
		in.NextToken = out.NextToken
	}
}

// restoredFrom returns the path Flink says the job was restored from.
func restoredFrom(t testing.TB, fc *flinkrest.Client, jobID string) string {
	t.Helper()
	st, err := fc.Checkpoints(sctx, jobID)
	if err != nil {
		t.Fatal(err)
	}
	if st.Latest.Restored == nil {
		return ""
	}
	return strings.TrimPrefix(st.Latest.Restored.ExternalPath, "file:")
}

func samePath(a, b string) bool {
	return filepath.Clean(strings.TrimPrefix(a, "file:")) == filepath.Clean(strings.TrimPrefix(b, "file:"))
}

// checkOutput requires a consistent, non-empty counter output with more
// than min records and returns the record count.
func checkOutput(t testing.TB, dir string, min int64) int64 {
	t.Helper()
	o, err := fixtures.CheckCounterOutput(dir)
	if err != nil {
		t.Fatalf("counter output %s: %v", dir, err)
	}
	if o.Records <= min {
		t.Fatalf("counter output %s: %d records, want more than %d", dir, o.Records, min)
	}
	return o.Records
}

// committedRecords waits until the committed output has more than min
// records (the FileSink commits on checkpoints).
func waitRecords(t testing.TB, dir string, min int64) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for time.Now().Before(deadline) {
		if o, err := fixtures.CheckCounterOutput(dir); err == nil && o.Records > min {
			return
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("output %s: no more than %d committed records", dir, min)
}

// TestRealFlink_FLINK_1_20 runs the counter on Flink 1.20: start, snapshot,
// stop, restore from the latest snapshot with exact counts; the
// compatibility pre-flight blocks an upgrade to 2.2 of the 1.20 jar without
// touching the running job; the upgrade with counter-2.2.jar (Path 1) moves
// the job to 2.2 with its state; RESTORE_FROM_CUSTOM_SNAPSHOT restores the
// named snapshot.
func TestRealFlink_FLINK_1_20(t *testing.T) {
	jars := needReal(t, []flinkplane.RuntimeID{"FLINK-1_20", "FLINK-2_2"}, fixtures.Counter120, fixtures.Counter22)
	r := startReal(t, jars)
	const app = "counter"
	out := filepath.Join(r.dataDir, "output", "counter")
	r.create(app, types.RuntimeEnvironmentFlink120, fixtures.Counter120, out)

	// Start without state: RUNNING only with the job running all its tasks.
	fc, job := r.start(app, types.ApplicationRestoreTypeSkipRestoreFromSnapshot, "")
	if p := restoredFrom(t, fc, job.ID); p != "" {
		t.Fatalf("SKIP_RESTORE_FROM_SNAPSHOT restored from %s", p)
	}
	checkDashboardReadOnly(t, r.c, app, job.ID)
	waitRecords(t, out, 50)
	s1 := r.snapshot(app, "s1", types.RuntimeEnvironmentFlink120)
	waitRecords(t, out, checkOutput(t, out, 0)+50)

	// Stop takes a snapshot; the restore from the latest continues the counts.
	r.stop(app)
	n1 := checkOutput(t, out, 0)
	var stopSnap types.SnapshotDetails
	for _, s := range r.snapshots(app) {
		if strings.HasPrefix(aws.ToString(s.SnapshotName), "flinkplane-stop-") {
			stopSnap = s
		}
	}
	if stopSnap.SnapshotName == nil || stopSnap.RuntimeEnvironment != types.RuntimeEnvironmentFlink120 {
		t.Fatalf("no stop snapshot on FLINK-1_20: %+v", r.snapshots(app))
	}
	fc, job = r.start(app, types.ApplicationRestoreTypeRestoreFromLatestSnapshot, "")
	if p, want := restoredFrom(t, fc, job.ID), r.stored(app, aws.ToString(stopSnap.SnapshotName)).Location; !samePath(p, want) {
		t.Fatalf("RESTORE_FROM_LATEST_SNAPSHOT restored from %q, want the stop snapshot %q", p, want)
	}
	waitRecords(t, out, n1+50)
	checkOutput(t, out, n1)

	// Compatibility pre-flight: the 1.20 jar on FLINK-2_2 is refused and the
	// running job is untouched.
	before := r.describe(app)
	snapsBefore := len(r.snapshots(app))
	metrics := func() (restarts, uptime int64) {
		m, err := fc.JobMetrics(sctx, job.ID, "numRestarts", "uptime")
		if err != nil {
			t.Fatal(err)
		}
		restarts, _ = strconv.ParseInt(m["numRestarts"], 10, 64)
		uptime, _ = strconv.ParseInt(m["uptime"], 10, 64)
		return
	}
	_, up0 := metrics()
	_, err := r.c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String(app),
		CurrentApplicationVersionId: before.ApplicationVersionId, RuntimeEnvironmentUpdate: types.RuntimeEnvironmentFlink22})
	srvWantErr[*types.InvalidApplicationConfigurationException](t, err, "Time", "FLINK-2_2")
	t.Logf("pre-flight refusal: %v", err)
	after := r.describe(app)
	if after.ApplicationStatus != types.ApplicationStatusRunning || after.RuntimeEnvironment != types.RuntimeEnvironmentFlink120 ||
		aws.ToInt64(after.ApplicationVersionId) != aws.ToInt64(before.ApplicationVersionId) {
		t.Fatalf("refused update changed the application: %s %s version %d", after.ApplicationStatus, after.RuntimeEnvironment, aws.ToInt64(after.ApplicationVersionId))
	}
	time.Sleep(2 * time.Second)
	fc2, job2 := r.job(app)
	restarts, up1 := metrics()
	// Same job, never restarted: same start time and RUNNING since the same
	// moment (a restart moves the RUNNING timestamp), numRestarts 0.
	if job2.ID != job.ID || job2.State != "RUNNING" || fc2 == nil || restarts != 0 || up1 < up0 ||
		job2.StartTime != job.StartTime || job2.Timestamps["RUNNING"] != job.Timestamps["RUNNING"] || !job2.AllTasksRunning() {
		t.Fatalf("running job touched: job %s (was %s) %s, numRestarts %d, uptime %d -> %d, RUNNING since %d (was %d)",
			job2.ID, job.ID, job2.State, restarts, up0, up1, job2.Timestamps["RUNNING"], job.Timestamps["RUNNING"])
	}
	if n := len(r.snapshots(app)); n != snapsBefore {
		t.Fatalf("snapshots %d -> %d", snapsBefore, n)
	}
	failed := 0
	var refused types.ApplicationOperationInfo
	for _, op := range r.operations(app) {
		if op.OperationStatus != types.OperationStatusFailed {
			continue
		}
		failed++
		refused = op
		if aws.ToString(op.Operation) != "UpdateApplication" {
			t.Fatalf("failed operation %+v", op)
		}
		body := srvRawCall(t, r.m.URL(), "DescribeApplicationOperation", map[string]any{"ApplicationName": app, "OperationId": aws.ToString(op.OperationId)})
		if !strings.Contains(string(body), "FlinkplaneCompatibilityFindings") || !strings.Contains(string(body), "api.common.time.Time") {
			t.Fatalf("findings not shown by DescribeApplicationOperation: %s", body)
		}
	}
	if failed != 1 {
		t.Fatalf("%d FAILED operations, want the one refused update", failed)
	}

	// Path 1: counter-2.2.jar on FLINK-2_2 with the 1.20 state.
	nUp := checkOutput(t, out, 0)
	upd, err := r.c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String(app),
		CurrentApplicationVersionId: before.ApplicationVersionId, RuntimeEnvironmentUpdate: types.RuntimeEnvironmentFlink22,
		ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{ApplicationCodeConfigurationUpdate: &types.ApplicationCodeConfigurationUpdate{
			CodeContentUpdate: &types.CodeContentUpdate{S3ContentLocationUpdate: &types.S3ContentLocationUpdate{FileKeyUpdate: aws.String(fixtures.Counter22 + ".jar")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	if d := r.describe(app); d.ApplicationStatus != types.ApplicationStatusUpdating && d.ApplicationStatus != types.ApplicationStatusRunning {
		t.Fatalf("after UpdateApplication: %s", d.ApplicationStatus)
	}
	fc, job = r.waitRunning(app, aws.ToString(upd.OperationId))
	if d := r.describe(app); d.RuntimeEnvironment != types.RuntimeEnvironmentFlink22 || aws.ToInt64(d.ApplicationVersionId) <= aws.ToInt64(before.ApplicationVersionId) {
		t.Fatalf("after upgrade: %s version %d", d.RuntimeEnvironment, aws.ToInt64(d.ApplicationVersionId))
	}
	if p := restoredFrom(t, fc, job.ID); p == "" {
		t.Fatal("upgraded job restored from nothing")
	}
	waitRecords(t, out, nUp+50)
	r.stop(app)
	nFinal := checkOutput(t, out, nUp)
	t.Logf("counter output: %d records before the stop, %d before the upgrade, %d in all, exactly once", n1, nUp, nFinal)
	// Every operation SUCCESSFUL but the refused update.
	ops := r.operations(app)
	for _, op := range ops {
		if op.OperationStatus != types.OperationStatusSuccessful && aws.ToString(op.OperationId) != aws.ToString(refused.OperationId) {
			t.Fatalf("operation %s %s", aws.ToString(op.Operation), op.OperationStatus)
		}
	}
	t.Logf("%d operations, all SUCCESSFUL but the refused update", len(ops))

	// RESTORE_FROM_CUSTOM_SNAPSHOT: s1 (1.20, not the latest) on FLINK-2_2.
	// Its counts rewind, so the restored job writes to another directory.
	out2 := filepath.Join(r.dataDir, "output", "custom")
	d := r.describe(app)
	_, err = r.c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String(app), CurrentApplicationVersionId: d.ApplicationVersionId,
		ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{EnvironmentPropertyUpdates: &types.EnvironmentPropertyUpdates{
			PropertyGroups: counterProps(out2).PropertyGroups}}})
	if err != nil {
		t.Fatal(err)
	}
	fc, job = r.start(app, types.ApplicationRestoreTypeRestoreFromCustomSnapshot, "s1")
	if p := restoredFrom(t, fc, job.ID); !samePath(p, s1.Location) {
		t.Fatalf("RESTORE_FROM_CUSTOM_SNAPSHOT s1 restored from %q, want %q", p, s1.Location)
	}
	force, err := r.c.StopApplication(sctx, &kav2.StopApplicationInput{ApplicationName: aws.String(app), Force: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	r.waitOp(app, aws.ToString(force.OperationId))
	if n := len(dataDirJVMs(r.dataDir)); n != 0 {
		t.Fatalf("%d JVMs after StopApplication", n)
	}
}

// TestRealFlink_FLINK_2_2 runs the counter on Flink 2.2 (start, snapshot,
// stop, restore: exact counts) and then shows that its 2.2 snapshots are
// never handed to a 1.20 start: refused before anything starts.
func TestRealFlink_FLINK_2_2(t *testing.T) {
	jars := needReal(t, []flinkplane.RuntimeID{"FLINK-1_20", "FLINK-2_2"}, fixtures.Counter120, fixtures.Counter22)
	r := startReal(t, jars)
	const app = "counter22"
	out := filepath.Join(r.dataDir, "output", "counter22")
	r.create(app, types.RuntimeEnvironmentFlink22, fixtures.Counter22, out)

	_, job0 := r.start(app, types.ApplicationRestoreTypeSkipRestoreFromSnapshot, "")
	checkDashboardReadOnly(t, r.c, app, job0.ID)
	waitRecords(t, out, 50)
	r.snapshot(app, "s22", types.RuntimeEnvironmentFlink22)
	waitRecords(t, out, checkOutput(t, out, 0)+50)
	r.stop(app)
	n1 := checkOutput(t, out, 0)
	latest := flinkplane.LatestRestorable(r.storedAll(app), "FLINK-2_2")
	fc, job := r.start(app, types.ApplicationRestoreTypeRestoreFromLatestSnapshot, "")
	if p := restoredFrom(t, fc, job.ID); latest == nil || !samePath(p, latest.Location) || latest.Name == "s22" {
		t.Fatalf("RESTORE_FROM_LATEST_SNAPSHOT restored from %q, want the stop snapshot %+v", p, latest)
	}
	waitRecords(t, out, n1+50)
	r.stop(app)
	checkOutput(t, out, n1)
	for _, op := range r.operations(app) {
		if op.OperationStatus != types.OperationStatusSuccessful {
			t.Fatalf("operation %s %s", aws.ToString(op.Operation), op.OperationStatus)
		}
	}

	// Downgrade while READY: allowed as a configuration change ...
	d := r.describe(app)
	_, err := r.c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String(app), CurrentApplicationVersionId: d.ApplicationVersionId,
		RuntimeEnvironmentUpdate: types.RuntimeEnvironmentFlink120,
		ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{ApplicationCodeConfigurationUpdate: &types.ApplicationCodeConfigurationUpdate{
			CodeContentUpdate: &types.CodeContentUpdate{S3ContentLocationUpdate: &types.S3ContentLocationUpdate{FileKeyUpdate: aws.String(fixtures.Counter120 + ".jar")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	clusters := filepath.Join(r.dataDir, "clusters")
	countClusters := func() int {
		n := 0
		apps, _ := os.ReadDir(clusters)
		for _, a := range apps {
			cs, _ := os.ReadDir(filepath.Join(clusters, a.Name()))
			n += len(cs)
		}
		return n
	}
	before := countClusters()
	// ... but no 2.2 snapshot is restored on 1.20: not the named one, and
	// not the latest (only 2.2 snapshots exist: refused, not started empty).
	for _, rc := range []*types.ApplicationRestoreConfiguration{
		{ApplicationRestoreType: types.ApplicationRestoreTypeRestoreFromCustomSnapshot, SnapshotName: aws.String("s22")},
		{ApplicationRestoreType: types.ApplicationRestoreTypeRestoreFromLatestSnapshot},
	} {
		_, err := r.c.StartApplication(sctx, &kav2.StartApplicationInput{ApplicationName: aws.String(app),
			RunConfiguration: &types.RunConfiguration{ApplicationRestoreConfiguration: rc}})
		srvWantErr[*types.InvalidApplicationConfigurationException](t, err, "FLINK-2_2", "FLINK-1_20")
		t.Logf("%s: %v", rc.ApplicationRestoreType, err)
		if d := r.describe(app); d.ApplicationStatus != types.ApplicationStatusReady {
			t.Fatalf("after the refused start: %s", d.ApplicationStatus)
		}
		if n := countClusters(); n != before {
			t.Fatalf("clusters %d -> %d: something started", before, n)
		}
		if pids := dataDirJVMs(r.dataDir); len(pids) != 0 {
			t.Fatalf("JVMs running after a refused start: %v", pids)
		}
	}
}

func (r *realEnv) storedAll(name string) []*flinkplane.Snapshot {
	r.t.Helper()
	var s []*flinkplane.Snapshot
	if err := r.m.DB.View(sctx, func(tx flinkplane.Tx) (err error) {
		s, err = tx.Snapshots(name, "", 0)
		return err
	}); err != nil {
		r.t.Fatal(err)
	}
	return s
}

// TestRealFlink_PojoList_Path3: the savepoint of pojo-list-1.20 (a POJO
// with a List field, serialized with Kryo on 1.x) blocks the upgrade to
// pojo-list-2.2 on FLINK-2_2 without touching the running job; with the tag
// flinkplane:compat-check=warn the update proceeds, the 2.2 job cannot
// restore the state (StateMigrationException), the update FAILS and the
// system rollback brings the application back to RUNNING on FLINK-1_20 with
// its state: the counts continue exactly.
func TestRealFlink_PojoList_Path3(t *testing.T) {
	jars := needReal(t, []flinkplane.RuntimeID{"FLINK-1_20", "FLINK-2_2"}, fixtures.PojoList120, fixtures.PojoList22)
	r := startReal(t, jars)
	const app = "pojo"
	out := filepath.Join(r.dataDir, "output", "pojo")
	r.create(app, types.RuntimeEnvironmentFlink120, fixtures.PojoList120, out, func(in *kav2.CreateApplicationInput) {
		in.ApplicationConfiguration.ApplicationSystemRollbackConfiguration = &types.ApplicationSystemRollbackConfiguration{RollbackEnabled: aws.Bool(true)}
	})
	fc, job := r.start(app, types.ApplicationRestoreTypeSkipRestoreFromSnapshot, "")
	waitRecords(t, out, 50)
	r.snapshot(app, "p1", types.RuntimeEnvironmentFlink120)

	upgrade := func() (*kav2.UpdateApplicationOutput, error) {
		return r.c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String(app),
			CurrentApplicationVersionId: r.describe(app).ApplicationVersionId, RuntimeEnvironmentUpdate: types.RuntimeEnvironmentFlink22,
			ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{ApplicationCodeConfigurationUpdate: &types.ApplicationCodeConfigurationUpdate{
				CodeContentUpdate: &types.CodeContentUpdate{S3ContentLocationUpdate: &types.S3ContentLocationUpdate{FileKeyUpdate: aws.String(fixtures.PojoList22 + ".jar")}}}}})
	}
	_, err := upgrade()
	srvWantErr[*types.InvalidApplicationConfigurationException](t, err, "POJO_COLLECTION_KRYO")
	t.Logf("pre-flight refusal: %v", err)
	if d := r.describe(app); d.ApplicationStatus != types.ApplicationStatusRunning || d.RuntimeEnvironment != types.RuntimeEnvironmentFlink120 {
		t.Fatalf("refused update changed the application: %s %s", d.ApplicationStatus, d.RuntimeEnvironment)
	}
	if _, job2 := r.job(app); job2.ID != job.ID || job2.Timestamps["RUNNING"] != job.Timestamps["RUNNING"] || !job2.AllTasksRunning() {
		t.Fatalf("running job touched: %s RUNNING since %d, was %s since %d", job2.ID, job2.Timestamps["RUNNING"], job.ID, job.Timestamps["RUNNING"])
	}
	_ = fc

	// The override: the update proceeds and fails on real Flink (Path 3).
	if _, err := r.c.TagResource(sctx, &kav2.TagResourceInput{ResourceARN: r.describe(app).ApplicationARN,
		Tags: []types.Tag{{Key: aws.String("flinkplane:compat-check"), Value: aws.String("warn")}}}); err != nil {
		t.Fatal(err)
	}
	nUp := checkOutput(t, out, 0)
	up, err := upgrade()
	if err != nil {
		t.Fatalf("update with compat-check=warn: %v", err)
	}
	var op *types.ApplicationOperationInfoDetails
	for deadline := time.Now().Add(5 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		o, err := r.c.DescribeApplicationOperation(sctx, &kav2.DescribeApplicationOperationInput{ApplicationName: aws.String(app), OperationId: up.OperationId})
		if err != nil {
			t.Fatal(err)
		}
		if op = o.ApplicationOperationInfoDetails; op.OperationStatus != types.OperationStatusInProgress || time.Now().After(deadline) {
			break
		}
	}
	if op.OperationStatus != types.OperationStatusFailed || op.OperationFailureDetails == nil || op.OperationFailureDetails.RollbackOperationId == nil ||
		op.OperationFailureDetails.ErrorInfo == nil || !strings.Contains(aws.ToString(op.OperationFailureDetails.ErrorInfo.ErrorString), "StateMigrationException") ||
		!strings.Contains(aws.ToString(op.OperationFailureDetails.ErrorInfo.ErrorString), "State restore failure") {
		t.Fatalf("upgrade with incompatible state: %+v %+v", op, op.OperationFailureDetails)
	}
	t.Logf("upgrade failed: %s", aws.ToString(op.OperationFailureDetails.ErrorInfo.ErrorString))
	fc, job = r.waitRunning(app, aws.ToString(op.OperationFailureDetails.RollbackOperationId))
	if d := r.describe(app); d.RuntimeEnvironment != types.RuntimeEnvironmentFlink120 {
		t.Fatalf("after the rollback: %s", d.RuntimeEnvironment)
	}
	if p := restoredFrom(t, fc, job.ID); p == "" {
		t.Fatal("rolled back job restored from nothing")
	}
	waitRecords(t, out, nUp+50)
	r.stop(app)
	t.Logf("pojo-list output: %d records, exactly once across the failed upgrade and the rollback", checkOutput(t, out, nUp))
}
