package main

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kav2 "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/engine"
	"github.com/flinkplane/flinkplane/internal/fixtures"
	k8s "github.com/flinkplane/flinkplane/runtime/kubernetes"
	"github.com/flinkplane/flinkplane/runtime/kubernetes/operatortest"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// TestRealFlink_ReplicasKubernetes_KillDuringUpgrade is
// TestReplicas_KillDuringUpgrade on real Flink: three `serve` replicas on
// one PostgreSQL drive the Kubernetes driver against one operatortest Env
// (API server, the operator's CRDs, the harness running real Flink
// clusters). Each subtest starts the counter fixture on FLINK-1_20,
// upgrades it to FLINK-2_2 and SIGKILLs the replica driving the upgrade at
// one step; another replica takes it over once the lease expires. Then:
// the update is SUCCESSFUL on FLINK-2_2 (or FAILED with a successful
// rollback), one generation's Flink cluster runs and never two at once,
// the update's savepoint is listed by ListApplicationSnapshots and as the
// operator's COMPLETED UPGRADE FlinkStateSnapshot whose files exist (and
// the 2.2 generation started from it), and no request was denied by the
// manifests' RBAC.
//
// The steps are those with a driver call, where the Kubernetes driver acts
// unlike the fake: the 1.20 generation suspended with its savepoint
// (STOP_WITH_SAVEPOINT), the job's state read (CANCEL_JOB), the generation
// kept suspended (STOP_CLUSTER), the 2.2 generation created (START_CLUSTER)
// and given the JAR and initialSavepointPath (SUBMIT), and WAIT_RUNNING on
// the operator's status and Flink's REST; TestReplicas_KillDuringUpgrade
// kills at every step (docs/replicas.md).
func TestRealFlink_ReplicasKubernetes_KillDuringUpgrade(t *testing.T) {
	jars := needReal(t, []flinkplane.RuntimeID{"FLINK-1_20", "FLINK-2_2"}, fixtures.Counter120, fixtures.Counter22)
	env := operatortest.Start(t, operatortest.Options{})
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	driverEnv := func(dataDir string) []string {
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
		return []string{"FLINKPLANE_DRIVER=kubernetes", "FLINKPLANE_KUBECONFIG=" + kubeconfig, "FLINKPLANE_K8S_STATE_DIR=" + env.StateDir,
			"FLINKPLANE_PROBATION_WINDOW=3s", "FLINKPLANE_LOG_LEVEL=error", "FLINKPLANE_RUNTIMES_DIR=" + fixtures.RuntimesDir()}
	}
	deployments := func() []k8s.FlinkDeployment {
		t.Helper()
		l, err := env.Admin.Resource(k8s.DeploymentResource).Namespace(env.Namespace).List(sctx, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var out []k8s.FlinkDeployment
		for i := range l.Items {
			var fd k8s.FlinkDeployment
			if err := k8s.FromUnstructured(&l.Items[i], &fd); err != nil {
				t.Fatal(err)
			}
			out = append(out, fd)
		}
		return out
	}

	// running returns the generations whose Flink cluster runs a job that
	// is not terminal: a generation suspended with a savepoint keeps its
	// JobManager with the FINISHED job until
	// kubernetes.operator.jm-deployment.shutdown-ttl (docs/kubernetes.md),
	// so a cluster that is up is not enough.
	running := func() []string {
		var out []string
		for _, name := range env.Operator.Clusters() {
			u, err := env.Admin.Resource(k8s.DeploymentResource).Namespace(env.Namespace).Get(sctx, name, metav1.GetOptions{})
			var fd k8s.FlinkDeployment
			if err == nil {
				err = k8s.FromUnstructured(u, &fd)
			}
			if err != nil || !terminalJob(fd.Status.JobStatus.State) {
				out = append(out, name)
			}
		}
		return out
	}

	// Every step with a driver call; KEEP_CHECKPOINT (nothing to do after
	// a savepoint) and RESOLVE_RESTORE (the engine's own records) call no
	// driver and are left to the fake's sweep.
	for _, step := range []string{engine.StepStartTargetCluster, engine.StepStopWithSavepoint, engine.StepCancelJob,
		engine.StepSubmit, engine.StepWaitRunning, engine.StepStopPreviousCluster} {
		t.Run(step, func(t *testing.T) {
			began := time.Now()
			rc := startReplicasOn(t, 3, driverEnv, "FLINKPLANE_TEST_HOLD_STEP=UpdateApplication:"+step,
				"FLINKPLANE_TEST_HOLD_ONCE="+filepath.Join(t.TempDir(), "held"))
			// Leave no cluster to the next step, whatever the outcome: the
			// replicas go, then the generations (the harness stops their
			// clusters when their FlinkDeployments are deleted).
			t.Cleanup(func() {
				for _, r := range rc.replicas {
					r.kill()
				}
				if err := env.Admin.Resource(k8s.DeploymentResource).Namespace(env.Namespace).DeleteCollection(sctx, metav1.DeleteOptions{}, metav1.ListOptions{}); err != nil {
					t.Error(err)
				}
				for deadline := time.Now().Add(2 * time.Minute); len(deployments()) > 0 || len(env.Operator.Clusters()) > 0; time.Sleep(200 * time.Millisecond) {
					if time.Now().After(deadline) {
						t.Fatalf("left after the deletion: %d FlinkDeployments, clusters %v", len(deployments()), env.Operator.Clusters())
					}
				}
			})
			// The generations whose job runs, sampled throughout: never two
			// at once.
			var mu sync.Mutex
			most, sampling := 0, make(chan struct{})
			var sampled sync.WaitGroup
			sampled.Add(1)
			go func() {
				defer sampled.Done()
				for {
					n := len(running())
					mu.Lock()
					most = max(most, n)
					mu.Unlock()
					select {
					case <-sampling:
						return
					case <-time.After(50 * time.Millisecond):
					}
				}
			}()
			var once sync.Once
			stopSampling := func() int {
				once.Do(func() { close(sampling) })
				sampled.Wait()
				mu.Lock()
				defer mu.Unlock()
				return most
			}
			t.Cleanup(func() { stopSampling() })

			c := rc.client(-1)
			const app = "orders"
			// The output in the shared volume: removed after the Env's
			// clusters are gone.
			out := filepath.Join(env.StateDir, "output", step)
			if _, err := c.CreateApplication(sctx, &kav2.CreateApplicationInput{ApplicationName: aws.String(app),
				RuntimeEnvironment: types.RuntimeEnvironmentFlink120, ServiceExecutionRole: aws.String("arn:aws:iam::123456789012:role/flink"),
				ApplicationConfiguration: &types.ApplicationConfiguration{
					ApplicationCodeConfiguration: &types.ApplicationCodeConfiguration{CodeContentType: types.CodeContentTypeZipfile, CodeContent: codeLocation(fixtures.Counter120)},
					EnvironmentProperties:        counterProps(out),
					FlinkApplicationConfiguration: &types.FlinkApplicationConfiguration{CheckpointConfiguration: &types.CheckpointConfiguration{
						ConfigurationType: types.ConfigurationTypeCustom, CheckpointingEnabled: aws.Bool(true),
						CheckpointInterval: aws.Int64(2000), MinPauseBetweenCheckpoints: aws.Int64(500)}},
					ApplicationSystemRollbackConfiguration: &types.ApplicationSystemRollbackConfiguration{RollbackEnabled: aws.Bool(true)},
				}}); err != nil {
				t.Fatal(err)
			}
			st, err := c.StartApplication(sctx, &kav2.StartApplicationInput{ApplicationName: aws.String(app)})
			if err != nil {
				t.Fatal(err)
			}
			if op := replicaWaitOp(t, c, app, aws.ToString(st.OperationId)); op.OperationStatus != types.OperationStatusSuccessful {
				t.Fatalf("start %s: %s", op.OperationStatus, failure(op))
			}
			started := time.Now()
			upd, err := c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String(app), CurrentApplicationVersionId: aws.Int64(1),
				RuntimeEnvironmentUpdate: types.RuntimeEnvironmentFlink22,
				ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{ApplicationCodeConfigurationUpdate: &types.ApplicationCodeConfigurationUpdate{
					CodeContentUpdate: &types.CodeContentUpdate{S3ContentLocationUpdate: &types.S3ContentLocationUpdate{FileKeyUpdate: aws.String(fixtures.Counter22 + ".jar")}}}}})
			if err != nil {
				t.Fatal(err)
			}
			holder := rc.waitAt("UpdateApplication " + step)
			rc.replicas[holder].kill()
			killed := time.Now()

			c = rc.client(holder)
			op := replicaWaitOp(t, c, app, aws.ToString(upd.OperationId))
			took := time.Since(killed)
			want := "-v2-2"
			switch op.OperationStatus {
			case types.OperationStatusSuccessful:
				if d := srvDescribe(t, c, app); d.ApplicationStatus != types.ApplicationStatusRunning || d.RuntimeEnvironment != types.RuntimeEnvironmentFlink22 {
					t.Fatalf("after the upgrade: %s on %s", d.ApplicationStatus, d.RuntimeEnvironment)
				}
			case types.OperationStatusFailed:
				if op.OperationFailureDetails == nil || op.OperationFailureDetails.RollbackOperationId == nil {
					t.Fatalf("update failed without a rollback: %s", failure(op))
				}
				if rb := replicaWaitOp(t, c, app, aws.ToString(op.OperationFailureDetails.RollbackOperationId)); rb.OperationStatus != types.OperationStatusSuccessful {
					t.Fatalf("rollback %s: %s", rb.OperationStatus, failure(rb))
				}
				if d := srvDescribe(t, c, app); d.ApplicationStatus != types.ApplicationStatusRunning || d.RuntimeEnvironment != types.RuntimeEnvironmentFlink120 {
					t.Fatalf("after the rollback: %s on %s", d.ApplicationStatus, d.RuntimeEnvironment)
				}
				want = "-v1-20"
			default:
				t.Fatalf("update %s: %s", op.OperationStatus, failure(op))
			}
			t.Logf("killed replica %s at %s: the update was %s %s later (lease TTL %s; the upgrade took %s in all)", rc.names[holder], step,
				op.OperationStatus, took.Round(time.Millisecond), replicaLeaseTTL, time.Since(started).Round(100*time.Millisecond))

			// One generation's job runs, and never were there two.
			if cl := running(); len(cl) != 1 || !strings.HasSuffix(cl[0], want) {
				t.Fatalf("generations running a job: %v (Flink clusters up: %v), want one *%s", cl, env.Operator.Clusters(), want)
			}
			if n := stopSampling(); n != 1 {
				t.Fatalf("%d generations ran a job at once", n)
			}
			var g120, g22 *k8s.FlinkDeployment
			fds := deployments()
			for i := range fds {
				switch {
				case strings.HasSuffix(fds[i].Metadata.Name, "-v1-20"):
					g120 = &fds[i]
				case strings.HasSuffix(fds[i].Metadata.Name, "-v2-2"):
					g22 = &fds[i]
				}
			}
			if len(fds) != 2 || g120 == nil || g22 == nil {
				t.Fatalf("%d FlinkDeployments, want the 1.20 and the 2.2 generation", len(fds))
			}
			if op.OperationStatus == types.OperationStatusSuccessful &&
				(g22.Status.JobStatus.State != "RUNNING" || g120.Spec.Job.State != k8s.JobSuspended || g120.Spec.Job.UpgradeMode != k8s.UpgradeSavepoint) {
				t.Fatalf("after the upgrade: 2.2 job %s, 1.20 generation %+v", g22.Status.JobStatus.State, *g120.Spec.Job)
			}

			// No snapshot lost: the update's savepoint is listed, it is the
			// 1.20 generation's COMPLETED UPGRADE snapshot, its files are
			// there, and the 2.2 generation started from it.
			snaps, err := c.ListApplicationSnapshots(sctx, &kav2.ListApplicationSnapshotsInput{ApplicationName: aws.String(app)})
			if err != nil {
				t.Fatal(err)
			}
			listed := false
			for _, s := range snaps.SnapshotSummaries {
				if strings.HasPrefix(aws.ToString(s.SnapshotName), "flinkplane-update-") && s.SnapshotStatus == types.SnapshotStatusReady {
					listed = true
				}
			}
			if !listed {
				t.Fatalf("no READY update snapshot among %+v", snaps.SnapshotSummaries)
			}
			upgrade := ""
			for _, s := range env.Snapshots(t) {
				if s.Metadata.Labels["snapshot.trigger-type"] == "UPGRADE" && s.Spec.JobReference.Name == g120.Metadata.Name && s.Status.State == k8s.SnapshotCompleted {
					upgrade = s.Status.Path
				}
			}
			if upgrade == "" || !samePath(upgrade, g120.Status.JobStatus.UpgradeSavepointPath) {
				t.Fatalf("no COMPLETED UPGRADE FlinkStateSnapshot of %s at its upgrade savepoint %q", g120.Metadata.Name, g120.Status.JobStatus.UpgradeSavepointPath)
			}
			if _, err := os.Stat(filepath.Join(strings.TrimPrefix(upgrade, "file:"), "_metadata")); err != nil {
				t.Fatalf("the upgrade savepoint's files: %v", err)
			}
			if !samePath(g22.Spec.Job.InitialSavepointPath, upgrade) {
				t.Fatalf("the 2.2 generation started from %q, want the upgrade savepoint %q", g22.Spec.Job.InitialSavepointPath, upgrade)
			}
			if d := env.Denied(); len(d) > 0 {
				t.Fatalf("requests denied by deploy/kubernetes/rbac.yaml: %v", d)
			}

			t.Logf("%s: %s", step, time.Since(began).Round(100*time.Millisecond))
		})
	}
}

// replicaWaitOp waits for an operation to end (real Flink: minutes).
func replicaWaitOp(t testing.TB, c *kav2.Client, app, id string) *types.ApplicationOperationInfoDetails {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		out, err := c.DescribeApplicationOperation(sctx, &kav2.DescribeApplicationOperationInput{ApplicationName: aws.String(app), OperationId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		if out.ApplicationOperationInfoDetails.OperationStatus != types.OperationStatusInProgress {
			return out.ApplicationOperationInfoDetails
		}
	}
	t.Fatalf("operation %s still in progress", id)
	return nil
}

// terminalJob reports whether a FlinkDeployment's job state is terminal.
func terminalJob(state string) bool {
	switch state {
	case "FAILED", "CANCELED", "FINISHED", "SUSPENDED":
		return true
	}
	return false
}
