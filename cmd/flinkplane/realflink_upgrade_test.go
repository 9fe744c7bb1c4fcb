package main

// The "Done when" of issue 8 on real Flink, through the AWS SDK, on one
// application: the configuration DescribeApplication shows is the one the
// job runs with (over what its code sets), and an upgrade is checked
// against the state it will really restore before anything stops.

import (
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
	"github.com/flinkplane/flinkplane/engine"
	"github.com/flinkplane/flinkplane/flinkrest"
	"github.com/flinkplane/flinkplane/internal/fixtures"
	"github.com/flinkplane/flinkplane/runtime/local"
)

// TestRealFlink_Upgrade_StateMappingAndCheckpointing: counter-1.20, whose
// code sets a checkpoint interval of 1000 ms, runs on FLINK-1_20 with a
// CUSTOM CheckpointConfiguration (2000 ms, pause 500 ms): Flink runs it with
// 2000/500. An UpdateApplication to counter-uid-2.2 on FLINK-2_2 (its keyed
// operator under another uid) is refused with STATE_NOT_MAPPED naming uid
// "count-per-key", checked against the running job's newest checkpoint,
// and the job runs on untouched. The same update with
// AllowNonRestoredState and CheckpointConfiguration DEFAULT is accepted
// (STATE_NOT_RESTORED, a warning, naming the uid); the 2.2 job restores
// the savepoint the stop wrote and runs with DEFAULT's 60000/5000, not the
// code's 1000. A forced stop during its probation ends both clusters.
func TestRealFlink_Upgrade_StateMappingAndCheckpointing(t *testing.T) {
	jars := needReal(t, []flinkplane.RuntimeID{flinkplane.RuntimeFlink120, flinkplane.RuntimeFlink22}, fixtures.Counter120, fixtures.CounterUID22)
	r := startReal(t, jars)
	const app = "upg"
	out := filepath.Join(r.dataDir, "output", app)
	r.create(app, types.RuntimeEnvironmentFlink120, fixtures.Counter120, out, func(in *kav2.CreateApplicationInput) {
		in.ApplicationConfiguration.EnvironmentProperties.PropertyGroups[0].PropertyMap["code.checkpoint.interval.ms"] = "1000"
	})
	fc, job := r.start(app, types.ApplicationRestoreTypeSkipRestoreFromSnapshot, "")
	if cc, err := fc.CheckpointConfig(sctx, job.ID); err != nil || cc.Interval != 2000 || cc.MinPause != 500 {
		t.Fatalf("1.20 job's checkpoint config %+v %v, want CUSTOM 2000/500 over the code's 1000", cc, err)
	}
	waitRecords(t, out, 30)

	// The uid change: refused before anything stops.
	upgrade := func(allow bool) (*kav2.UpdateApplicationOutput, error) {
		in := &kav2.UpdateApplicationInput{ApplicationName: aws.String(app),
			CurrentApplicationVersionId: r.describe(app).ApplicationVersionId, RuntimeEnvironmentUpdate: types.RuntimeEnvironmentFlink22,
			ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{ApplicationCodeConfigurationUpdate: &types.ApplicationCodeConfigurationUpdate{
				CodeContentUpdate: &types.CodeContentUpdate{S3ContentLocationUpdate: &types.S3ContentLocationUpdate{FileKeyUpdate: aws.String(fixtures.CounterUID22 + ".jar")}}}}}
		if allow {
			in.RunConfigurationUpdate = &types.RunConfigurationUpdate{FlinkRunConfiguration: &types.FlinkRunConfiguration{AllowNonRestoredState: aws.Bool(true)}}
			in.ApplicationConfigurationUpdate.FlinkApplicationConfigurationUpdate = &types.FlinkApplicationConfigurationUpdate{
				CheckpointConfigurationUpdate: &types.CheckpointConfigurationUpdate{ConfigurationTypeUpdate: types.ConfigurationTypeDefault}}
		}
		return r.c.UpdateApplication(sctx, in)
	}
	_, err := upgrade(false)
	srvWantErr[*types.InvalidApplicationConfigurationException](t, err, compat.CodeUnmappedState, `uid "count-per-key"`)
	t.Logf("refused: %v", err)
	if _, job2 := r.job(app); job2.ID != job.ID || job2.Timestamps["RUNNING"] != job.Timestamps["RUNNING"] || !job2.AllTasksRunning() {
		t.Fatalf("running job touched: %s RUNNING since %d, was %s since %d", job2.ID, job2.Timestamps["RUNNING"], job.ID, job.Timestamps["RUNNING"])
	}
	if d := r.describe(app); d.RuntimeEnvironment != types.RuntimeEnvironmentFlink120 || d.ApplicationStatus != types.ApplicationStatusRunning {
		t.Fatalf("after the refusal: %s %s", d.RuntimeEnvironment, d.ApplicationStatus)
	}

	// Accepted with AllowNonRestoredState; DEFAULT checkpointing.
	up, err := upgrade(true)
	if err != nil {
		t.Fatalf("update with AllowNonRestoredState: %v", err)
	}
	opID := aws.ToString(up.OperationId)
	d, err := client.New(r.m.URL()).DescribeOperation(sctx, app, opID)
	if err != nil {
		t.Fatal(err)
	}
	var checked, dropped bool
	for _, f := range d.CompatibilityFindings {
		switch f.Code {
		case engine.CodeStateChecked:
			checked = strings.Contains(f.Message, "of the running job "+job.ID)
		case compat.CodeStateDropped:
			dropped = f.Severity == flinkplane.SeverityWarning && strings.Contains(f.Message, "count-per-key")
		case compat.CodeUnmappedState:
			t.Errorf("STATE_NOT_MAPPED with AllowNonRestoredState: %+v", f)
		}
	}
	if !checked || !dropped {
		t.Fatalf("update findings %+v: want STATE_CHECKED naming the running job's state and a STATE_NOT_RESTORED warning naming uid count-per-key", d.CompatibilityFindings)
	}
	// The 2.2 job, read from Flink as soon as it runs with all its tasks
	// (DEFAULT's first checkpoint, which its probation waits for, may take
	// up to a minute).
	fc22, job22 := r.runningOn(app, flinkplane.RuntimeFlink22)
	cc, err := fc22.CheckpointConfig(sctx, job22)
	for deadline := time.Now().Add(time.Minute); err != nil && time.Now().Before(deadline); {
		// A restarted job answers 500 ("JobManager is initializing") for a moment.
		time.Sleep(500 * time.Millisecond)
		cc, err = fc22.CheckpointConfig(sctx, job22)
	}
	if err != nil || cc.Interval != 60000 || cc.MinPause != 5000 {
		t.Fatalf("2.2 job's checkpoint config %+v %v, want DEFAULT 60000/5000 over the code's 1000", cc, err)
	}
	if p := restoredFrom(t, fc22, job22); p == "" || !strings.Contains(p, "savepoint") {
		t.Fatalf("the 2.2 job restored from %q, want the savepoint of the stop", p)
	}
	if dd := r.describe(app); dd.ApplicationConfigurationDescription.FlinkApplicationConfigurationDescription.CheckpointConfigurationDescription.ConfigurationType != types.ConfigurationTypeDefault {
		t.Fatalf("DescribeApplication: %+v", dd.ApplicationConfigurationDescription.FlinkApplicationConfigurationDescription.CheckpointConfigurationDescription)
	}
	// The probation (a checkpoint after the restore) is not waited for.
	if _, err := r.c.StopApplication(sctx, &kav2.StopApplicationInput{ApplicationName: aws.String(app), Force: aws.Bool(true)}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(2 * time.Minute); r.describe(app).ApplicationStatus != types.ApplicationStatusReady; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("not READY after a forced stop: %s", r.describe(app).ApplicationStatus)
		}
	}
	// Both clusters ended: the 2.2 one and the 1.20 one the update left
	// (stopped after the probation the forced stop cancelled).
	for deadline := time.Now().Add(time.Minute); len(dataDirJVMs(r.dataDir)) > 0; time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("JVMs of the application left after the forced stop: %v", dataDirJVMs(r.dataDir))
		}
	}
}

// runningOn waits until the application's job runs with all its tasks on
// a cluster of runtime (read from the store and from Flink, whatever the
// application's status) and returns a client of that cluster and the job.
func (r *realEnv) runningOn(app string, runtime flinkplane.RuntimeID) (*flinkrest.Client, string) {
	r.t.Helper()
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		var a *flinkplane.Application
		r.m.DB.View(sctx, func(tx flinkplane.Tx) (err error) { a, err = tx.Application(app); return err })
		if a == nil || a.Cluster == nil || a.Cluster.Runtime != runtime || a.JobID == "" {
			continue
		}
		if h, err := r.m.driver.JobHealth(sctx, *a.Cluster, a.JobID); err != nil || h.State != "RUNNING" || !h.AllTasksRunning {
			continue
		}
		fc, err := r.m.driver.(*local.Driver).RESTClient(*a.Cluster, time.Minute)
		if err != nil {
			r.t.Fatal(err)
		}
		return fc, a.JobID
	}
	r.t.Fatalf("%s: no job running with all tasks on %s", app, runtime)
	return nil, ""
}
