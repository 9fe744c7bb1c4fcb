package main

// End-to-end tests of the distribution's fixtures on real Flink through the
// AWS SDK: a SQL job, a Table API job bridged to DataStream, a keyed-state
// job on RocksDB and a CEP job. Each runs on FLINK-1_20, takes a snapshot,
// stops and restores with exact continuity, is upgraded to FLINK-2_2 with
// its state (the guide's Path 1), and stops and restores there too. What
// each upgrade does is in docs/compat.md ("Upgrades of the distribution's
// fixtures").

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kav2 "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat"
	"github.com/flinkplane/flinkplane/internal/fixtures"
)

// distFixture is one fixture of the distribution tests.
type distFixture struct {
	jar120, jar22 string
	props         map[string]string
	// progress checks the committed output exactly and returns a measure
	// of it that grows while the job runs (records, rows, matches).
	progress func(dir string) (int64, error)
	// breaks is the finding that refuses the upgrade to 2.2 because real
	// Flink cannot restore the 1.20 state ("" = Path 1 works), and
	// failure what Flink says when the upgrade runs anyway.
	breaks, failure string
}

var distFixtures = map[string]distFixture{
	"SQLWindow": {jar120: fixtures.SQLWindow120, jar22: fixtures.SQLWindow22, props: map[string]string{"rate.per.second": "20", "keys": "3"},
		progress: func(dir string) (int64, error) {
			o, err := fixtures.CheckWindowOutput(dir, 3)
			return int64(o.Rows), err
		}},
	"TableBridge": {jar120: fixtures.TableBridge120, jar22: fixtures.TableBridge22, props: map[string]string{"rate.per.second": "20", "keys": "3"},
		progress: func(dir string) (int64, error) {
			o, err := fixtures.CheckWindowOutput(dir, 3)
			return int64(o.Rows), err
		}},
	"RocksDBState": {jar120: fixtures.RocksDBState120, jar22: fixtures.RocksDBState22, props: map[string]string{"rate.per.second": "500", "keys": "1000", "payload.bytes": "1024"},
		progress: func(dir string) (int64, error) { o, err := fixtures.CheckCounterOutput(dir); return o.Records, err }},
	"CEPPattern": {jar120: fixtures.CEPPattern120, jar22: fixtures.CEPPattern22, props: map[string]string{"rate.per.second": "20", "keys": "3"},
		progress: func(dir string) (int64, error) {
			o, err := fixtures.CheckCEPOutput(dir, 3)
			return int64(o.Matches), err
		},
		breaks: compat.CodeSnapshotClassRemoved, failure: "ClassNotFoundException: org.apache.flink.cep.nfa.sharedbuffer.SharedBufferNode$SharedBufferNodeSerializer$SharedBufferNodeSerializerSnapshot"},
}

// waitProgress waits until the fixture's committed output is exact and
// beyond min, and returns it.
func waitProgress(t testing.TB, f distFixture, dir string, min int64) int64 {
	t.Helper()
	var last error
	for deadline := time.Now().Add(3 * time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
		n, err := f.progress(dir)
		if err == nil && n > min {
			return n
		}
		last = err
	}
	t.Fatalf("output %s: not beyond %d exactly: %v", dir, min, last)
	return 0
}

// checkExact requires the committed output to be exact now.
func checkExact(t testing.TB, f distFixture, dir string) int64 {
	t.Helper()
	n, err := f.progress(dir)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func TestRealFlink_Dist_SQLWindow(t *testing.T)    { testDistFixture(t, "SQLWindow") }
func TestRealFlink_Dist_TableBridge(t *testing.T)  { testDistFixture(t, "TableBridge") }
func TestRealFlink_Dist_RocksDBState(t *testing.T) { testDistFixture(t, "RocksDBState") }
func TestRealFlink_Dist_CEPPattern(t *testing.T)   { testDistFixture(t, "CEPPattern") }

// withServeChecker gives Main serve's driver and checker (the dry compile
// included), as serve wires them.
func withServeChecker(t testing.TB) func(*Main) {
	return func(m *Main) {
		d, err := newClusterDriver(m.Config)
		if err != nil {
			t.Fatal(err)
		}
		m.Driver = d
		m.Compat = &serveChecker{Checker: m.Compat.(*compat.Checker)}
	}
}

func (r *realEnv) createFixture(app string, f distFixture, rt types.RuntimeEnvironment, jar, out string, extra map[string]string) {
	r.t.Helper()
	r.create(app, rt, jar, out, func(in *kav2.CreateApplicationInput) {
		props := map[string]string{"output.path": out}
		for k, v := range f.props {
			props[k] = v
		}
		for k, v := range extra {
			props[k] = v
		}
		in.ApplicationConfiguration.EnvironmentProperties = &types.EnvironmentProperties{PropertyGroups: []types.PropertyGroup{{
			PropertyGroupId: aws.String(fixtures.PropertyGroup), PropertyMap: props}}}
		in.ApplicationConfiguration.ApplicationSystemRollbackConfiguration = &types.ApplicationSystemRollbackConfiguration{RollbackEnabled: aws.Bool(true)}
	})
}

// snapshotStopRestore takes a snapshot, stops (with a snapshot), restores
// from the latest snapshot and checks that the output continues exactly.
func (r *realEnv) snapshotStopRestore(app string, f distFixture, rt types.RuntimeEnvironment, out string) {
	t := r.t
	t.Helper()
	n := waitProgress(t, f, out, checkExact(t, f, out))
	r.snapshot(app, "s-"+string(rt), rt)
	waitProgress(t, f, out, n)
	r.stop(app)
	nStop := checkExact(t, f, out)
	stopSnap := r.latestSnapshot(app)
	fc, job := r.start(app, types.ApplicationRestoreTypeRestoreFromLatestSnapshot, "")
	if p, want := restoredFrom(t, fc, job.ID), r.stored(app, stopSnap).Location; !samePath(p, want) {
		t.Fatalf("restored from %q, want the stop snapshot %q", p, want)
	}
	n = waitProgress(t, f, out, nStop)
	t.Logf("%s: %d before the stop, %d after the restore, exact", rt, nStop, n)
}

func (r *realEnv) upgrade(app, jar22 string) (*kav2.UpdateApplicationOutput, error) {
	return r.c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String(app),
		CurrentApplicationVersionId: r.describe(app).ApplicationVersionId, RuntimeEnvironmentUpdate: types.RuntimeEnvironmentFlink22,
		ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{ApplicationCodeConfigurationUpdate: &types.ApplicationCodeConfigurationUpdate{
			CodeContentUpdate: &types.CodeContentUpdate{S3ContentLocationUpdate: &types.S3ContentLocationUpdate{FileKeyUpdate: aws.String(jar22 + ".jar")}}}}})
}

func testDistFixture(t *testing.T, name string) {
	f := distFixtures[name]
	jars := needReal(t, []flinkplane.RuntimeID{"FLINK-1_20", "FLINK-2_2"}, f.jar120, f.jar22)
	r := startReal(t, jars, withServeChecker(t))
	app := strings.ToLower(name)
	out := filepath.Join(r.dataDir, "output", app)
	r.createFixture(app, f, types.RuntimeEnvironmentFlink120, f.jar120, out, nil)

	// 1.20: start, snapshot, stop, restore from the latest snapshot.
	start := time.Now()
	_, job := r.start(app, types.ApplicationRestoreTypeSkipRestoreFromSnapshot, "")
	t.Logf("FLINK-1_20: RUNNING %.1fs after StartApplication", time.Since(start).Seconds())
	waitProgress(t, f, out, 0)
	r.snapshotStopRestore(app, f, types.RuntimeEnvironmentFlink120, out)

	if f.breaks == "" {
		// Path 1: the 2.2 build on FLINK-2_2 with the 1.20 state.
		nUp := checkExact(t, f, out)
		upd, err := r.upgrade(app, f.jar22)
		if err != nil {
			t.Fatal(err)
		}
		if op := r.waitOpEnd(app, aws.ToString(upd.OperationId)); op.OperationStatus != types.OperationStatusSuccessful {
			t.Fatalf("Path 1 to FLINK-2_2: %s: %s", op.OperationStatus, failure(op))
		}
		fc, job := r.waitRunning(app, aws.ToString(upd.OperationId))
		if d := r.describe(app); d.RuntimeEnvironment != types.RuntimeEnvironmentFlink22 {
			t.Fatalf("after the upgrade: %s", d.RuntimeEnvironment)
		}
		if p := restoredFrom(t, fc, job.ID); p == "" {
			t.Fatal("upgraded job restored from nothing")
		}
		t.Logf("Path 1 to FLINK-2_2: %d before the upgrade, %d after, exact", nUp, waitProgress(t, f, out, checkExact(t, f, out)))
		// 2.2: snapshot, stop, restore.
		r.snapshotStopRestore(app, f, types.RuntimeEnvironmentFlink22, out)
		r.stop(app)
		t.Logf("%d in all, exact", checkExact(t, f, out))
		return
	}

	// The upgrade breaks: the pre-flight refuses it, the job runs on.
	_, job = r.job(app)
	_, err := r.upgrade(app, f.jar22)
	srvWantErr[*types.InvalidApplicationConfigurationException](t, err, f.breaks)
	t.Logf("pre-flight refusal: %v", err)
	if _, job2 := r.job(app); job2.ID != job.ID || job2.Timestamps["RUNNING"] != job.Timestamps["RUNNING"] || !job2.AllTasksRunning() {
		t.Fatalf("running job touched: %s RUNNING since %d, was %s since %d", job2.ID, job2.Timestamps["RUNNING"], job.ID, job.Timestamps["RUNNING"])
	}
	// Proof on real Flink: with compat-check=warn the upgrade runs, fails,
	// and the system rollback resumes 1.20 exactly.
	if _, err := r.c.TagResource(sctx, &kav2.TagResourceInput{ResourceARN: r.describe(app).ApplicationARN,
		Tags: []types.Tag{{Key: aws.String("flinkplane:compat-check"), Value: aws.String("warn")}}}); err != nil {
		t.Fatal(err)
	}
	nUp := checkExact(t, f, out)
	up, err := r.upgrade(app, f.jar22)
	if err != nil {
		t.Fatalf("update with compat-check=warn: %v", err)
	}
	op := r.waitOpEnd(app, aws.ToString(up.OperationId))
	if op.OperationStatus != types.OperationStatusFailed || op.OperationFailureDetails == nil || op.OperationFailureDetails.RollbackOperationId == nil ||
		!strings.Contains(failure(op), f.failure) {
		t.Fatalf("upgrade of %s: %s %s, want FAILED with %q and a rollback", name, op.OperationStatus, failure(op), f.failure)
	}
	t.Logf("real Flink: %s", failure(op))
	fc, job := r.waitRunning(app, aws.ToString(op.OperationFailureDetails.RollbackOperationId))
	if d := r.describe(app); d.RuntimeEnvironment != types.RuntimeEnvironmentFlink120 {
		t.Fatalf("after the rollback: %s", d.RuntimeEnvironment)
	}
	if p := restoredFrom(t, fc, job.ID); p == "" {
		t.Fatal("rolled back job restored from nothing")
	}
	t.Logf("rollback to FLINK-1_20: %d before the upgrade, %d after, exact", nUp, waitProgress(t, f, out, checkExact(t, f, out)))
	r.stop(app)

	// The 2.2 build on its own: start, snapshot, stop, restore.
	app22, out22 := app+"-2-2", out+"-2.2"
	r.createFixture(app22, f, types.RuntimeEnvironmentFlink22, f.jar22, out22, nil)
	r.start(app22, types.ApplicationRestoreTypeSkipRestoreFromSnapshot, "")
	waitProgress(t, f, out22, 0)
	r.snapshotStopRestore(app22, f, types.RuntimeEnvironmentFlink22, out22)
	r.stop(app22)
}

// latestSnapshot returns the name of the newest snapshot of an application.
func (r *realEnv) latestSnapshot(app string) string {
	r.t.Helper()
	var best types.SnapshotDetails
	for _, s := range r.snapshots(app) {
		if best.SnapshotName == nil || aws.ToTime(s.SnapshotCreationTimestamp).After(aws.ToTime(best.SnapshotCreationTimestamp)) {
			best = s
		}
	}
	if best.SnapshotName == nil {
		r.t.Fatalf("%s has no snapshot", app)
	}
	return aws.ToString(best.SnapshotName)
}

// waitOpEnd waits for an operation to end and returns it.
func (r *realEnv) waitOpEnd(app, id string) *types.ApplicationOperationInfoDetails {
	r.t.Helper()
	for deadline := time.Now().Add(6 * time.Minute); ; time.Sleep(200 * time.Millisecond) {
		o, err := r.c.DescribeApplicationOperation(sctx, &kav2.DescribeApplicationOperationInput{ApplicationName: aws.String(app), OperationId: aws.String(id)})
		if err != nil {
			r.t.Fatal(err)
		}
		if d := o.ApplicationOperationInfoDetails; d.OperationStatus != types.OperationStatusInProgress || time.Now().After(deadline) {
			return d
		}
	}
}

// failure describes a failed operation: its error and rollback.
func failure(op *types.ApplicationOperationInfoDetails) string {
	if op.OperationFailureDetails == nil {
		return "no failure details"
	}
	s := ""
	if op.OperationFailureDetails.ErrorInfo != nil {
		s = aws.ToString(op.OperationFailureDetails.ErrorInfo.ErrorString)
	}
	if op.OperationFailureDetails.RollbackOperationId != nil {
		s += " (rollback " + aws.ToString(op.OperationFailureDetails.RollbackOperationId) + ")"
	}
	return s
}

// TestRealFlink_SQLPlanChange: a SQL job whose plan changes with the
// upgrade. sql-window runs on FLINK-1_20; the update to sql-window-2.2 on
// FLINK-2_2 also sets sql.agg-phase-strategy=ONE_PHASE, so the 2.2 planner
// plans the same query without the local pre-aggregation: other operators,
// other operator ids. The pre-flight builds the new job graph on FLINK-2_2
// and refuses the update (STATE_NOT_MAPPED) while the job runs on,
// untouched. With flinkplane:compat-check=warn the update proceeds and real
// Flink refuses the restore; the system rollback brings the job back to
// FLINK-1_20 with its state, exactly.
func TestRealFlink_SQLPlanChange(t *testing.T) {
	f := distFixtures["SQLWindow"]
	jars := needReal(t, []flinkplane.RuntimeID{"FLINK-1_20", "FLINK-2_2"}, f.jar120, f.jar22)
	r := startReal(t, jars, withServeChecker(t))
	const app = "sql-plan"
	out := filepath.Join(r.dataDir, "output", app)
	props := map[string]string{"output.path": out, "rate.per.second": "20", "keys": "3"}
	r.create(app, types.RuntimeEnvironmentFlink120, f.jar120, out, func(in *kav2.CreateApplicationInput) {
		in.ApplicationConfiguration.EnvironmentProperties = &types.EnvironmentProperties{PropertyGroups: []types.PropertyGroup{{
			PropertyGroupId: aws.String(fixtures.PropertyGroup), PropertyMap: props}}}
		in.ApplicationConfiguration.ApplicationSystemRollbackConfiguration = &types.ApplicationSystemRollbackConfiguration{RollbackEnabled: aws.Bool(true)}
	})
	_, job := r.start(app, types.ApplicationRestoreTypeSkipRestoreFromSnapshot, "")
	n := waitProgress(t, f, out, 0)
	r.snapshot(app, "before-upgrade", types.RuntimeEnvironmentFlink120)

	changed := map[string]string{"sql.agg-phase-strategy": "ONE_PHASE"}
	for k, v := range props {
		changed[k] = v
	}
	upgrade := func() (*kav2.UpdateApplicationOutput, error) {
		return r.c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String(app),
			CurrentApplicationVersionId: r.describe(app).ApplicationVersionId, RuntimeEnvironmentUpdate: types.RuntimeEnvironmentFlink22,
			ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{
				ApplicationCodeConfigurationUpdate: &types.ApplicationCodeConfigurationUpdate{CodeContentUpdate: &types.CodeContentUpdate{
					S3ContentLocationUpdate: &types.S3ContentLocationUpdate{FileKeyUpdate: aws.String(f.jar22 + ".jar")}}},
				EnvironmentPropertyUpdates: &types.EnvironmentPropertyUpdates{PropertyGroups: []types.PropertyGroup{{
					PropertyGroupId: aws.String(fixtures.PropertyGroup), PropertyMap: changed}}}}})
	}
	start := time.Now()
	_, err := upgrade()
	srvWantErr[*types.InvalidApplicationConfigurationException](t, err, "STATE_NOT_MAPPED")
	t.Logf("pre-flight refusal after %.1fs: %v", time.Since(start).Seconds(), err)
	if d := r.describe(app); d.ApplicationStatus != types.ApplicationStatusRunning || d.RuntimeEnvironment != types.RuntimeEnvironmentFlink120 {
		t.Fatalf("refused update changed the application: %s %s", d.ApplicationStatus, d.RuntimeEnvironment)
	}
	if _, job2 := r.job(app); job2.ID != job.ID || job2.Timestamps["RUNNING"] != job.Timestamps["RUNNING"] || !job2.AllTasksRunning() {
		t.Fatalf("running job touched: %s RUNNING since %d, was %s since %d", job2.ID, job2.Timestamps["RUNNING"], job.ID, job.Timestamps["RUNNING"])
	}

	// The override: real Flink refuses the restore; the rollback resumes 1.20.
	if _, err := r.c.TagResource(sctx, &kav2.TagResourceInput{ResourceARN: r.describe(app).ApplicationARN,
		Tags: []types.Tag{{Key: aws.String("flinkplane:compat-check"), Value: aws.String("warn")}}}); err != nil {
		t.Fatal(err)
	}
	waitProgress(t, f, out, n)
	up, err := upgrade()
	if err != nil {
		t.Fatalf("update with compat-check=warn: %v", err)
	}
	op := r.waitOpEnd(app, aws.ToString(up.OperationId))
	if op.OperationStatus != types.OperationStatusFailed || op.OperationFailureDetails == nil || op.OperationFailureDetails.RollbackOperationId == nil {
		t.Fatalf("upgrade with a changed plan: %s %s", op.OperationStatus, failure(op))
	}
	if msg := failure(op); !strings.Contains(msg, "Cannot map checkpoint/savepoint state") && !strings.Contains(msg, "There is no operator for the state") {
		t.Fatalf("upgrade failed, but not because of the unmapped state: %s", msg)
	}
	t.Logf("real Flink: %s", failure(op))
	fc, job := r.waitRunning(app, aws.ToString(op.OperationFailureDetails.RollbackOperationId))
	if d := r.describe(app); d.RuntimeEnvironment != types.RuntimeEnvironmentFlink120 {
		t.Fatalf("after the rollback: %s", d.RuntimeEnvironment)
	}
	if p := restoredFrom(t, fc, job.ID); p == "" {
		t.Fatal("rolled back job restored from nothing")
	}
	waitProgress(t, f, out, checkExact(t, f, out))
	r.stop(app)
	t.Logf("sql-window output: %d rows, exact across the refused update, the failed one and the rollback", checkExact(t, f, out))
}
