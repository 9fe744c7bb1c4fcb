package main

import (
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kav2 "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/internal/fixtures"
	k8s "github.com/flinkplane/flinkplane/runtime/kubernetes"
	"github.com/flinkplane/flinkplane/runtime/kubernetes/operatortest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestRealFlink_Kubernetes runs one application through the Kubernetes
// driver against a real API server with the Flink Kubernetes Operator's
// CRDs (operatortest), the operator's reconciliation played by the
// harness on real Flink clusters, with the RBAC of deploy/kubernetes:
//
//  1. StartApplication on FLINK-1_20: the 1.20 generation's FlinkDeployment
//     (flinkVersion v1_20), the job's id fixed by the engine, the dashboard
//     through the API server's service proxy;
//  2. the operator's CRD swapped for release 1.10.0 (no v2_2): the upgrade
//     is refused before anything stops, the job runs on;
//  3. the upgrade to FLINK-2_2 (ledger-2.2): the 1.20 generation suspended
//     with a savepoint (upgradeMode savepoint), the 2.2 generation created
//     with job.initialSavepointPath at it, the job restored from it;
//  4. RollbackApplication: the suspended 1.20 generation resumed from its
//     upgrade savepoint, the 2.2 one suspended;
//  5. an upgrade whose job cannot restore the state on 2.2 (another job's
//     operators, counter-uid-2.2, with compat-check=warn; system rollback
//     on; a main() that fails is refused before the stop): the 2.2
//     generation redeployed from the new savepoint (savepointRedeployNonce)
//     fails, the system rollback resumes 1.20 from it;
//
// and the ledger output is exactly once except the one replay of the
// manual rollback; no request of flinkplane was denied.
func TestRealFlink_Kubernetes(t *testing.T) {
	jars := needReal(t, []flinkplane.RuntimeID{"FLINK-1_20", "FLINK-2_2"}, fixtures.Ledger120, fixtures.Ledger22, fixtures.CounterUID22)
	began := time.Now()
	env := operatortest.Start(t, operatortest.Options{})
	t.Logf("API server with the operator's CRDs up in %s", time.Since(began).Round(10*time.Millisecond))
	var kd *k8s.Driver
	r := startReal(t, jars, func(m *Main) {
		kd = env.NewDriver(t)
		kd.CRDCacheTTL = 0
		m.Driver = kd
	})
	const app = "kube"
	out := filepath.Join(r.dataDir, "output", app)
	r.create(app, types.RuntimeEnvironmentFlink120, fixtures.Ledger120, out, func(in *kav2.CreateApplicationInput) {
		in.ApplicationConfiguration.EnvironmentProperties = ledgerProps(out)
		in.ApplicationConfiguration.ApplicationSystemRollbackConfiguration = &types.ApplicationSystemRollbackConfiguration{RollbackEnabled: aws.Bool(true)}
	})
	var appID string
	r.m.DB.View(sctx, func(tx flinkplane.Tx) error {
		a, err := tx.Application(app)
		if err == nil {
			appID = a.ID
		}
		return err
	})
	g120, g22 := k8s.DeploymentName(appID, flinkplane.RuntimeFlink120), k8s.DeploymentName(appID, flinkplane.RuntimeFlink22)
	get := func(name string) *k8s.FlinkDeployment {
		t.Helper()
		u, err := env.Admin.Resource(k8s.DeploymentResource).Namespace(env.Namespace).Get(sctx, name, metav1.GetOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var fd k8s.FlinkDeployment
		if err := k8s.FromUnstructured(u, &fd); err != nil {
			t.Fatal(err)
		}
		return &fd
	}
	lifecycle := func(name, want string) *k8s.FlinkDeployment {
		t.Helper()
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
			fd := get(name)
			if fd.Status.LifecycleState == want || time.Now().After(deadline) {
				if fd.Status.LifecycleState != want {
					t.Fatalf("%s: lifecycle %s, want %s (status %+v)", name, fd.Status.LifecycleState, want, fd.Status)
				}
				return fd
			}
		}
	}

	// 1. Start on 1.20.
	step := time.Now()
	_, job := r.start(app, types.ApplicationRestoreTypeSkipRestoreFromSnapshot, "")
	fd := lifecycle(g120, "STABLE")
	if fd.Spec.FlinkVersion != "v1_20" || fd.Spec.FlinkConfiguration[k8s.JobIDKey] != job.ID || fd.Status.JobStatus.JobID != job.ID ||
		fd.Spec.Job.State != k8s.JobRunning || fd.Status.JobStatus.State != "RUNNING" {
		t.Fatalf("1.20 generation: %+v / %+v, job %s", fd.Spec, fd.Status, job.ID)
	}
	t.Logf("1. FLINK-1_20 RUNNING on %s after %s (dashboard through the service proxy: job %s)", g120, time.Since(step).Round(100*time.Millisecond), job.ID)
	waitLedger(t, out, 50)

	// 2. An operator too old for Flink 2.2: refused before anything stops.
	if err := env.UseOperatorRelease(sctx, "1.10.0"); err != nil {
		t.Fatal(err)
	}
	_, err := r.upgrade(app, fixtures.Ledger22)
	srvWantErr[*types.InvalidApplicationConfigurationException](t, err, "v2_2", "1.13.0", "Nothing was changed")
	t.Logf("2. operator 1.10.0: %v", err)
	if d := r.describe(app); d.ApplicationStatus != types.ApplicationStatusRunning || d.RuntimeEnvironment != types.RuntimeEnvironmentFlink120 {
		t.Fatalf("refused upgrade changed the application: %s %s", d.ApplicationStatus, d.RuntimeEnvironment)
	}
	if _, j := r.job(app); j.ID != job.ID || j.Timestamps["RUNNING"] != job.Timestamps["RUNNING"] || !j.AllTasksRunning() {
		t.Fatalf("running job touched: %s RUNNING since %d, was %s since %d", j.ID, j.Timestamps["RUNNING"], job.ID, job.Timestamps["RUNNING"])
	}
	if err := env.UseOperatorRelease(sctx, "1.15.0"); err != nil {
		t.Fatal(err)
	}

	// 3. The upgrade to 2.2: a new generation from the 1.20 one's savepoint.
	step = time.Now()
	upd, err := r.upgrade(app, fixtures.Ledger22)
	if err != nil {
		t.Fatal(err)
	}
	fc, job22 := r.waitRunning(app, aws.ToString(upd.OperationId))
	pre := r.newestSnapshot(app, "flinkplane-update-")
	if pre.Runtime != flinkplane.RuntimeFlink120 {
		t.Fatalf("pre-upgrade snapshot on %s", pre.Runtime)
	}
	fd120, fd22 := lifecycle(g120, "SUSPENDED"), lifecycle(g22, "STABLE")
	if fd120.Spec.Job.State != k8s.JobSuspended || fd120.Spec.Job.UpgradeMode != k8s.UpgradeSavepoint ||
		!samePath(fd120.Status.JobStatus.UpgradeSavepointPath, pre.Location) || fd120.Spec.FlinkVersion != "v1_20" {
		t.Fatalf("1.20 generation after the upgrade: job %+v, upgrade savepoint %q, want suspended with savepoint %q",
			*fd120.Spec.Job, fd120.Status.JobStatus.UpgradeSavepointPath, pre.Location)
	}
	if fd22.Spec.FlinkVersion != "v2_2" || !samePath(fd22.Spec.Job.InitialSavepointPath, pre.Location) || fd22.Status.JobStatus.JobID != job22.ID {
		t.Fatalf("2.2 generation: %+v, want v2_2 from %q running %s", *fd22.Spec.Job, pre.Location, job22.ID)
	}
	if p := restoredFrom(t, fc, job22.ID); !samePath(p, pre.Location) {
		t.Fatalf("2.2 job restored from %q, want %q", p, pre.Location)
	}
	snaps := env.Snapshots(t)
	upgradeSnap := false
	for _, s := range snaps {
		if s.Metadata.Labels["snapshot.trigger-type"] == "UPGRADE" && s.Spec.JobReference.Name == g120 && samePath(s.Status.Path, pre.Location) && s.Status.State == k8s.SnapshotCompleted {
			upgradeSnap = true
		}
		if s.Metadata.Labels[k8s.LabelManagedBy] == k8s.ManagedBy {
			t.Errorf("the pre-flight's savepoint resource %s was not removed with its savepoint", s.Metadata.Name)
		}
	}
	if !upgradeSnap {
		t.Fatalf("no COMPLETED UPGRADE FlinkStateSnapshot of %s at %s: %+v", g120, pre.Location, snaps)
	}
	t.Logf("3. FLINK-2_2 RUNNING on %s after %s, restored from the 1.20 generation's savepoint %s", g22, time.Since(step).Round(100*time.Millisecond), pre.Location)
	o := waitLedger(t, out, checkLedger(t, out).Entries+50)

	// 4. RollbackApplication resumes the suspended 1.20 generation.
	from, err := fixtures.SourcePosition(pre.Location)
	if err != nil {
		t.Fatal(err)
	}
	uid120 := fd120.Metadata.UID
	step = time.Now()
	rb, err := r.c.RollbackApplication(sctx, &kav2.RollbackApplicationInput{ApplicationName: aws.String(app),
		CurrentApplicationVersionId: r.describe(app).ApplicationVersionId})
	if err != nil {
		t.Fatal(err)
	}
	r.requireSuccess(app, aws.ToString(rb.OperationId))
	fc, job = r.waitRunning(app, aws.ToString(rb.OperationId))
	fd120, fd22 = lifecycle(g120, "STABLE"), lifecycle(g22, "SUSPENDED")
	if fd120.Metadata.UID != uid120 || fd120.Spec.Job.SavepointRedeployNonce != 0 || fd120.Status.JobStatus.JobID != job.ID {
		t.Fatalf("rollback did not resume the same 1.20 generation: uid %s (was %s), nonce %d, job %s/%s", fd120.Metadata.UID, uid120,
			fd120.Spec.Job.SavepointRedeployNonce, fd120.Status.JobStatus.JobID, job.ID)
	}
	if fd22.Spec.Job.UpgradeMode != k8s.UpgradeStateless {
		t.Fatalf("2.2 generation after the rollback: %+v, want suspended stateless", *fd22.Spec.Job)
	}
	if p := restoredFrom(t, fc, job.ID); !samePath(p, pre.Location) {
		t.Fatalf("rolled back job restored from %q, want the pre-upgrade savepoint %q", p, pre.Location)
	}
	t.Logf("4. rollback: FLINK-1_20 resumed on %s after %s from %s", g120, time.Since(step).Round(100*time.Millisecond), pre.Location)
	o = waitLedger(t, out, o.Entries+50, from)

	// 5. A failed upgrade with system rollback.
	if _, err := r.c.TagResource(sctx, &kav2.TagResourceInput{ResourceARN: r.describe(app).ApplicationARN,
		Tags: []types.Tag{{Key: aws.String("flinkplane:compat-check"), Value: aws.String("warn")}}}); err != nil {
		t.Fatal(err)
	}
	step = time.Now()
	upd, err = r.upgrade(app, fixtures.CounterUID22)
	if err != nil {
		t.Fatal(err)
	}
	op := r.waitOpEnd(app, aws.ToString(upd.OperationId))
	if op.OperationStatus != types.OperationStatusFailed || op.OperationFailureDetails == nil || op.OperationFailureDetails.RollbackOperationId == nil {
		t.Fatalf("upgrade to counter-uid-2.2: %s, want FAILED with a system rollback: %s", op.OperationStatus, failure(op))
	}
	t.Logf("5. upgrade to counter-uid-2.2 FAILED: %s", failure(op))
	pre2 := r.newestSnapshot(app, "flinkplane-update-")
	fd22 = get(g22)
	if fd22.Spec.Job.SavepointRedeployNonce < 1 || !samePath(fd22.Spec.Job.InitialSavepointPath, pre2.Location) {
		t.Fatalf("the 2.2 generation was not redeployed from %s: %+v", pre2.Location, *fd22.Spec.Job)
	}
	r.requireSuccess(app, aws.ToString(op.OperationFailureDetails.RollbackOperationId))
	fc, job = r.waitRunning(app, aws.ToString(op.OperationFailureDetails.RollbackOperationId))
	fd120 = lifecycle(g120, "STABLE")
	if fd120.Metadata.UID != uid120 || fd120.Status.JobStatus.JobID != job.ID || !samePath(fd120.Status.JobStatus.UpgradeSavepointPath, pre2.Location) {
		t.Fatalf("system rollback did not resume the 1.20 generation from %s: %+v", pre2.Location, fd120.Status)
	}
	if p := restoredFrom(t, fc, job.ID); !samePath(p, pre2.Location) {
		t.Fatalf("system rollback restored from %q, want %q", p, pre2.Location)
	}
	t.Logf("5. system rollback: FLINK-1_20 resumed after %s from %s", time.Since(step).Round(100*time.Millisecond), pre2.Location)
	waitLedger(t, out, o.Entries+50, from)

	// Stop, then the whole output: exactly once but for the manual
	// rollback's replay; every request allowed by the manifests' RBAC.
	r.stop(app)
	lifecycle(g120, "SUSPENDED")
	final, err := fixtures.CheckLedgerRollbackOutput(out, from)
	if err != nil {
		t.Fatal(err)
	}
	if final.Replayed == 0 {
		t.Error("nothing replayed: the manual rollback did not restore the pre-upgrade state")
	}
	all, denied := env.Rules.Requests()
	if len(denied) > 0 {
		t.Errorf("requests denied by deploy/kubernetes/rbac.yaml: %v", denied)
	}
	t.Logf("ledger: %d entries, %d replayed after the rollback, otherwise exactly once; flinkplane's requests: %s",
		final.Entries, final.Replayed, strings.Join(uniqueRequests(all), "; "))

	// Deleting the application removes its FlinkDeployments.
	if _, err := r.c.DeleteApplication(sctx, &kav2.DeleteApplicationInput{ApplicationName: aws.String(app), CreateTimestamp: r.describe(app).CreateTimestamp}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
		l, err := env.Admin.Resource(k8s.DeploymentResource).Namespace(env.Namespace).List(sctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if len(l.Items) == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d FlinkDeployments left after DeleteApplication", len(l.Items))
		}
	}
}

// newestSnapshot returns the newest stored snapshot whose name has prefix.
func (r *realEnv) newestSnapshot(app, prefix string) *flinkplane.Snapshot {
	r.t.Helper()
	var best *flinkplane.Snapshot
	for _, s := range r.storedAll(app) {
		if strings.HasPrefix(s.Name, prefix) && (best == nil || s.CreateTime.After(best.CreateTime)) {
			best = s
		}
	}
	if best == nil {
		r.t.Fatalf("no snapshot %s* of %s", prefix, app)
	}
	return best
}

func checkLedger(t testing.TB, dir string) *fixtures.LedgerOutput {
	t.Helper()
	o, err := fixtures.CheckLedgerOutput(dir)
	if err != nil {
		t.Fatal(err)
	}
	return o
}

// uniqueRequests reduces the authorizer's record to the distinct
// resource and verb pairs.
func uniqueRequests(all []string) []string {
	seen := map[string]bool{}
	for _, r := range all {
		_, rest, _ := strings.Cut(r, ": ")
		if i := strings.Index(rest, " ns="); i >= 0 {
			rest = rest[:i]
		}
		seen[rest] = true
	}
	var out []string
	for r := range seen {
		out = append(out, r)
	}
	sort.Strings(out)
	return out
}
