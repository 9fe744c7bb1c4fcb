package main

// Real-Flink proofs of the compatibility verdicts and of the dry compile
// (issue 8): what the checker says about a savepoint is what Flink does
// with it.

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kav2 "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/client"
	"github.com/flinkplane/flinkplane/compat"
	"github.com/flinkplane/flinkplane/internal/fixtures"
	"github.com/flinkplane/flinkplane/runtime/local/localtest"
)

func (r *realEnv) upgradeJar22(app, jar string) (*kav2.UpdateApplicationOutput, error) {
	return r.c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String(app),
		CurrentApplicationVersionId: r.describe(app).ApplicationVersionId, RuntimeEnvironmentUpdate: types.RuntimeEnvironmentFlink22,
		ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{ApplicationCodeConfigurationUpdate: &types.ApplicationCodeConfigurationUpdate{
			CodeContentUpdate: &types.CodeContentUpdate{S3ContentLocationUpdate: &types.S3ContentLocationUpdate{FileKeyUpdate: aws.String(jar + ".jar")}}}}})
}

// TestRealFlink_KryoGeneric_Upgrade: keyed state of a generic type that
// Flink 1.20 serialized with Kryo 2 is a WARNING, not an error: the
// UpdateApplication to FLINK-2_2 proceeds, Flink 2.2 restores the state and
// the counts continue exactly (the job also fails loudly on a state it reads
// wrongly).
func TestRealFlink_KryoGeneric_Upgrade(t *testing.T) {
	jars := needReal(t, []flinkplane.RuntimeID{"FLINK-1_20", "FLINK-2_2"}, fixtures.KryoGeneric120, fixtures.KryoGeneric22)
	r := startReal(t, jars)
	const app = "kryo"
	out := filepath.Join(r.dataDir, "output", app)
	r.create(app, types.RuntimeEnvironmentFlink120, fixtures.KryoGeneric120, out)
	r.start(app, types.ApplicationRestoreTypeSkipRestoreFromSnapshot, "")
	waitRecords(t, out, 50)
	snap := r.snapshot(app, "k1", types.RuntimeEnvironmentFlink120)
	rep, err := compat.CheckSavepoint(sctx, snap.Location, flinkplane.RuntimeFlink22)
	if err != nil {
		t.Fatal(err)
	}
	if rep.Summary.Errors != 0 || rep.Summary.Warnings != 1 || rep.Findings[0].Code != compat.CodeKryoState {
		t.Fatalf("savepoint verdict %+v, want one KRYO_STATE warning", rep.Findings)
	}

	up, err := r.upgradeJar22(app, fixtures.KryoGeneric22)
	if err != nil {
		t.Fatalf("upgrade refused: %v", err)
	}
	fc, job := r.waitRunning(app, aws.ToString(up.OperationId))
	if d := r.describe(app); d.RuntimeEnvironment != types.RuntimeEnvironmentFlink22 {
		t.Fatalf("after the upgrade: %s", d.RuntimeEnvironment)
	}
	if p := restoredFrom(t, fc, job.ID); p == "" {
		t.Fatal("the 2.2 job restored from nothing")
	}
	// The update keeps its findings: the Kryo warning.
	d, err := client.New(r.m.URL()).DescribeOperation(sctx, app, aws.ToString(up.OperationId))
	if err != nil {
		t.Fatal(err)
	}
	var kryo bool
	for _, f := range d.CompatibilityFindings {
		kryo = kryo || (f.Code == compat.CodeKryoState && f.Severity == flinkplane.SeverityWarning)
	}
	if !kryo {
		t.Errorf("update findings %+v, want the KRYO_STATE warning", d.CompatibilityFindings)
	}
	nUp := checkOutput(t, out, 0)
	waitRecords(t, out, nUp+50)
	r.stop(app)
	t.Logf("kryo-generic output: %d records, counts continue exactly from the 1.20 state on 2.2", checkOutput(t, out, nUp))
}

// TestRealFlink_PojoMap_Refused: a POJO whose Map field Flink 1.20
// serialized with Kryo is an ERROR that names the operator and the field:
// the UpdateApplication is refused and the running job is untouched; forced
// through with compat-check=warn, Flink 2.2 cannot restore that state (the
// update fails and the system rollback resumes on 1.20).
func TestRealFlink_PojoMap_Refused(t *testing.T) {
	jars := needReal(t, []flinkplane.RuntimeID{"FLINK-1_20", "FLINK-2_2"}, fixtures.PojoMap120, fixtures.PojoMap22)
	r := startReal(t, jars)
	const app = "pojomap"
	out := filepath.Join(r.dataDir, "output", app)
	r.create(app, types.RuntimeEnvironmentFlink120, fixtures.PojoMap120, out, func(in *kav2.CreateApplicationInput) {
		in.ApplicationConfiguration.ApplicationSystemRollbackConfiguration = &types.ApplicationSystemRollbackConfiguration{RollbackEnabled: aws.Bool(true)}
	})
	_, job := r.start(app, types.ApplicationRestoreTypeSkipRestoreFromSnapshot, "")
	waitRecords(t, out, 50)
	r.snapshot(app, "m1", types.RuntimeEnvironmentFlink120)
	_, err := r.upgradeJar22(app, fixtures.PojoMap22)
	srvWantErr[*types.InvalidApplicationConfigurationException](t, err, "POJO_COLLECTION_KRYO", `field "seen"`, "Restoring the state of operator")
	t.Logf("pre-flight refusal: %v", err)
	if _, job2 := r.job(app); job2.ID != job.ID || job2.Timestamps["RUNNING"] != job.Timestamps["RUNNING"] {
		t.Fatalf("running job touched: %s, was %s", job2.ID, job.ID)
	}

	if _, err := r.c.TagResource(sctx, &kav2.TagResourceInput{ResourceARN: r.describe(app).ApplicationARN,
		Tags: []types.Tag{{Key: aws.String("flinkplane:compat-check"), Value: aws.String("warn")}}}); err != nil {
		t.Fatal(err)
	}
	nUp := checkOutput(t, out, 0)
	up, err := r.upgradeJar22(app, fixtures.PojoMap22)
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
	if op.OperationStatus != types.OperationStatusFailed || op.OperationFailureDetails == nil || op.OperationFailureDetails.RollbackOperationId == nil {
		t.Fatalf("upgrade with a Kryo-written POJO Map field: %+v %+v", op, op.OperationFailureDetails)
	}
	t.Logf("Flink 2.2 on that state: %s", aws.ToString(op.OperationFailureDetails.ErrorInfo.ErrorString))
	r.waitRunning(app, aws.ToString(op.OperationFailureDetails.RollbackOperationId))
	waitRecords(t, out, nUp+50)
	r.stop(app)
	t.Logf("pojo-map output: %d records, exactly once across the failed upgrade and the rollback", checkOutput(t, out, nUp))
}

// TestRealFlink_StateMapping_MatchesFlink: the dry compile's state mapping
// says what Flink does with a real savepoint. counter-1.20 runs on 1.20 and
// stops with a savepoint; for counter-uid-2.2 (its keyed operator under
// another uid) the check finds STATE_NOT_MAPPED naming uid "count-per-key",
// and Flink 2.2 refuses that restore for the same operator id; with
// AllowNonRestoredState the check warns and Flink runs the job; counter-2.2
// is clean and restores.
func TestRealFlink_StateMapping_MatchesFlink(t *testing.T) {
	jars := needReal(t, []flinkplane.RuntimeID{"FLINK-1_20", "FLINK-2_2"}, fixtures.Counter120, fixtures.Counter22, fixtures.CounterUID22)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	d := localtest.NewDriver(t, t.TempDir())
	out := t.TempDir()
	props := []flinkplane.PropertyGroup{{PropertyGroupID: fixtures.PropertyGroup, PropertyMap: map[string]string{"output.path": out, "rate.per.second": "50"}}}
	spec := func(rt flinkplane.RuntimeID, id string) flinkplane.ClusterSpec {
		return flinkplane.ClusterSpec{ApplicationName: id, ApplicationID: id, Runtime: rt, Parallelism: 1, ParallelismPerKPU: 1,
			Checkpoint: flinkplane.CheckpointSpec{Enabled: true, Interval: time.Second}, Properties: props}
	}

	h1 := localtest.StartCluster(t, d, spec(flinkplane.RuntimeFlink120, "map120"))
	job, err := d.Submit(ctx, h1, flinkplane.JobSpec{JarPath: jars[fixtures.Counter120]})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.WaitJobRunning(ctx, h1, job); err != nil {
		t.Fatal(err)
	}
	waitRecords(t, out, 20)
	trig, err := d.StopWithSavepoint(ctx, h1, job, "")
	if err != nil {
		t.Fatal(err)
	}
	var sp string
	for sp == "" {
		st, err := d.PollSavepoint(ctx, h1, job, trig)
		if err != nil || st.Failure != "" {
			t.Fatalf("savepoint: %+v %v", st, err)
		}
		sp = st.Location
		time.Sleep(200 * time.Millisecond)
	}
	if err := d.Stop(ctx, h1); err != nil {
		t.Fatal(err)
	}

	// main() sees the configuration of the cluster it would run on.
	c := &compat.Checker{RuntimesDir: fixtures.RuntimesDir(), CacheDir: t.TempDir()}
	req := compat.JobCheck{Target: flinkplane.RuntimeFlink22, Savepoint: sp,
		Job: flinkplane.CompileSpec{JarPath: jars[fixtures.CounterUID22], Properties: props,
			FlinkConfig: d.JobConfiguration(spec(flinkplane.RuntimeFlink22, "map22"))},
		Previous: flinkplane.CompileSpec{JarPath: jars[fixtures.Counter120], Properties: props,
			FlinkConfig: d.JobConfiguration(spec(flinkplane.RuntimeFlink120, "map120"))}, PreviousTarget: flinkplane.RuntimeFlink120}
	rep, err := c.CheckJob(ctx, req)
	if err != nil {
		t.Fatal(err)
	}
	if g := rep.JobGraph; g == nil || !g.Checkpointing.Enabled || g.Checkpointing.IntervalMillis != 1000 || g.Parallelism != 1 {
		t.Errorf("job graph %+v, want the cluster's checkpointing (1000 ms) and parallelism 1", g)
	}
	if rep.Summary.Errors != 1 || rep.Findings[0].Code != compat.CodeUnmappedState || rep.Findings[0].Class != `uid "count-per-key"` {
		t.Fatalf("check of counter-uid-2.2: %+v, want one STATE_NOT_MAPPED for uid count-per-key", rep.Findings)
	}
	unmapped := rep.Findings[0].Symbol
	req.AllowNonRestoredState = true
	if rep, err = c.CheckJob(ctx, req); err != nil || rep.Summary.Errors != 0 || rep.Summary.Warnings != 1 {
		t.Fatalf("with AllowNonRestoredState: %+v %v, want one warning", rep, err)
	}
	clean := req
	clean.Job.JarPath, clean.AllowNonRestoredState = jars[fixtures.Counter22], false
	if rep, err = c.CheckJob(ctx, clean); err != nil || len(rep.Findings) != 0 {
		t.Fatalf("check of counter-2.2: %+v %v, want no finding", rep, err)
	}

	// What Flink 2.2 does with the same savepoint.
	h2 := localtest.StartCluster(t, d, spec(flinkplane.RuntimeFlink22, "map22"))
	refused, err := d.Submit(ctx, h2, flinkplane.JobSpec{JarPath: jars[fixtures.CounterUID22], RestoreFrom: sp})
	if err == nil {
		_, err = d.WaitJobRunning(ctx, h2, refused)
	}
	if err == nil || !strings.Contains(err.Error(), "Cannot map checkpoint/savepoint state for operator "+unmapped) {
		t.Fatalf("Flink 2.2 restoring counter-uid-2.2 without AllowNonRestoredState: %v; want it to refuse operator %s", err, unmapped)
	}
	t.Logf("Flink refuses as predicted: %v", err)
	allowed, err := d.Submit(ctx, h2, flinkplane.JobSpec{JarPath: jars[fixtures.CounterUID22], RestoreFrom: sp, AllowNonRestoredState: true})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.WaitJobRunning(ctx, h2, allowed); err != nil {
		t.Fatalf("Flink 2.2 with AllowNonRestoredState: %v", err)
	}
	if err := d.Cancel(ctx, h2, allowed); err != nil {
		t.Fatal(err)
	}
	for {
		if jh, err := d.JobHealth(ctx, h2, allowed); err != nil || jh.State == "CANCELED" {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	restored, err := d.Submit(ctx, h2, flinkplane.JobSpec{JarPath: jars[fixtures.Counter22], RestoreFrom: sp})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := d.WaitJobRunning(ctx, h2, restored); err != nil {
		t.Fatalf("Flink 2.2 restoring counter-2.2: %v", err)
	}
}

// TestRealFlink_SubmitMainFailsAfterSubmission: a main() that fails after
// its job was submitted (it reads the result of a detached execute(), as a
// batch program does) is reported with Flink's own message, not as a job
// that "ended in status FINISHED", and its job does not run on.
func TestRealFlink_SubmitMainFailsAfterSubmission(t *testing.T) {
	jars := needReal(t, []flinkplane.RuntimeID{"FLINK-2_2"}, fixtures.BadMain22)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	d := localtest.NewDriver(t, t.TempDir())
	h := localtest.StartCluster(t, d, flinkplane.ClusterSpec{ApplicationName: "bad", ApplicationID: "bad", Runtime: flinkplane.RuntimeFlink22,
		Parallelism: 1, ParallelismPerKPU: 1, Properties: []flinkplane.PropertyGroup{{PropertyGroupID: fixtures.PropertyGroup, PropertyMap: map[string]string{"mode": "detached-result"}}}})
	_, err := d.Submit(ctx, h, flinkplane.JobSpec{JarPath: jars[fixtures.BadMain22], JobID: "0123456789abcdef0123456789abcdef"})
	if flinkplane.ErrorCode(err) != flinkplane.ECODE || !strings.Contains(err.Error(), "detached mode") {
		t.Fatalf("Submit: %v, want ECODE with Flink's detached-mode message", err)
	}
	t.Logf("Submit: %v", err)
	// Submit cancels the job it left behind; cancelling takes a moment
	// (longer on a loaded machine).
	state := ""
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(500 * time.Millisecond) {
		jh, err := d.JobHealth(ctx, h, "0123456789abcdef0123456789abcdef")
		if err != nil || jh.State == "FINISHED" || jh.State == "CANCELED" || jh.State == "FAILED" {
			return
		}
		state = jh.State
		if time.Now().After(deadline) {
			break
		}
	}
	t.Errorf("the job of the failed submission is still %s a minute later, want it ended", state)
}
