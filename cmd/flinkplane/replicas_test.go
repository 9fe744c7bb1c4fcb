package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kav2 "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"
	"github.com/flinkplane/flinkplane/engine"
	"github.com/flinkplane/flinkplane/internal/pgtest"
	"github.com/flinkplane/flinkplane/mock"
)

// Several replicas, one truth: real `serve` processes (this test binary as
// a child, like the SIGKILL tests) on one real PostgreSQL, sharing a data
// directory and a fake Flink that stands in for real clusters across
// processes (mock.SharedClusterDriver, a locked state file). The seam is
// replicaCluster: the replicas run on whatever ClusterDriver a test wires
// into the child (FLINKPLANE_TEST_DRIVER_SHARED here; the Kubernetes
// driver on its harness with real Flink in
// replicas_kubernetes_test.go).

// replicaLeaseTTL is the replicas' lease: a takeover comes within about
// 1.25 times this after the holder dies.
const replicaLeaseTTL = 2 * time.Second

// replicaCluster is a set of replicas on one store.
type replicaCluster struct {
	t        testing.TB
	env      []string
	replicas []*srvChild
	names    []string
	driver   *mock.SharedClusterDriver
	dataDir  string
}

// startReplicas starts n replicas on a fresh database, with the shared
// fake Flink; extra environment (FLINKPLANE_TEST_HOLD_STEP...) goes to
// every replica.
func startReplicas(t testing.TB, n int, extra ...string) *replicaCluster {
	t.Helper()
	return startReplicasOn(t, n, nil, extra...)
}

// startReplicasOn is startReplicas on the cluster driver that driverEnv
// wires: it prepares the data directory the replicas share and returns
// their driver environment (FLINKPLANE_DRIVER=kubernetes...); nil: the
// shared fake Flink (rc.driver).
func startReplicasOn(t testing.TB, n int, driverEnv func(dataDir string) []string, extra ...string) *replicaCluster {
	t.Helper()
	url := pgtest.Need(t).NewDatabase(t)
	rc := &replicaCluster{t: t, dataDir: t.TempDir()}
	var drv []string
	if driverEnv != nil {
		drv = driverEnv(rc.dataDir)
	} else {
		srvPutObject(t, rc.dataDir, "flinkplane-test", "app-1.20.jar")
		srvPutObject(t, rc.dataDir, "flinkplane-test", "app-2.2.jar")
		state := filepath.Join(t.TempDir(), "flink.json")
		rc.driver = &mock.SharedClusterDriver{File: state}
		drv = []string{"FLINKPLANE_TEST_DRIVER_SHARED=" + state}
	}
	rc.env = append(append([]string{"FLINKPLANE_TEST_CHILD=1", "FLINKPLANE_STORE=" + url,
		"FLINKPLANE_DATA_DIR=" + rc.dataDir, "FLINKPLANE_REGION=eu-west-1", "FLINKPLANE_ACCOUNT_ID=123456789012",
		"FLINKPLANE_WATCH_INTERVAL=200ms", "FLINKPLANE_LEASE_TTL=" + replicaLeaseTTL.String(), "FLINKPLANE_LOG_LEVEL=warn"}, drv...), extra...)
	for i := 0; i < n; i++ {
		name := fmt.Sprint("r", i)
		rc.replicas = append(rc.replicas, srvStartChild(t, append(rc.env, "FLINKPLANE_ADDR="+srvFreeAddr(t), "FLINKPLANE_REPLICA_ID="+name), os.Args[0]))
		rc.names = append(rc.names, name)
	}
	return rc
}

// client returns an API client of a live replica other than skip (-1:
// any).
func (rc *replicaCluster) client(skip int) *kav2.Client {
	for i, r := range rc.replicas {
		if i != skip && r.cmd.ProcessState == nil {
			return apiClient(r.url)
		}
	}
	rc.t.Fatal("no live replica")
	return nil
}

// waitAt returns the replica that says it holds at a step (real Flink may
// take minutes to get there).
func (rc *replicaCluster) waitAt(what string) int {
	rc.t.Helper()
	deadline := time.After(3 * time.Minute)
	for {
		for i, r := range rc.replicas {
			select {
			case l := <-r.lines:
				if l == "AT "+what {
					return i
				}
				rc.t.Fatalf("replica %d said %q", i, l)
			default:
			}
		}
		select {
		case <-deadline:
			rc.t.Fatalf("no replica reached %s", what)
		case <-time.After(10 * time.Millisecond):
		}
	}
}

// TestReplicas_KillDuringUpgrade runs three replicas, upgrades an
// application from Flink 1.20 to 2.2 and SIGKILLs the replica driving the
// upgrade at each step of it: another replica takes the upgrade over once
// the lease expires, and it completes with exactly one job (never two at
// once), one cluster, and the update's savepoint kept and restored.
func TestReplicas_KillDuringUpgrade(t *testing.T) {
	// Every step of the update's plan (engine/plans.go planUpdate).
	for _, step := range []string{engine.StepStartTargetCluster, engine.StepCompile, engine.StepStopWithSavepoint, engine.StepKeepCheckpoint,
		engine.StepCancelJob, engine.StepResolveRestore, engine.StepSubmit, engine.StepWaitRunning, engine.StepStopPreviousCluster} {
		t.Run(step, func(t *testing.T) {
			rc := startReplicas(t, 3, "FLINKPLANE_TEST_HOLD_STEP=UpdateApplication:"+step,
				"FLINKPLANE_TEST_HOLD_ONCE="+filepath.Join(t.TempDir(), "held"))
			c := rc.client(-1)
			srvCreateApp(t, c, "orders", nil)
			out, err := c.StartApplication(sctx, &kav2.StartApplicationInput{ApplicationName: aws.String("orders")})
			if err != nil {
				t.Fatal(err)
			}
			if op := srvWaitOperation(t, c, "orders", aws.ToString(out.OperationId)); op.OperationStatus != types.OperationStatusSuccessful {
				t.Fatalf("start %+v", op)
			}
			upd, err := c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String("orders"), CurrentApplicationVersionId: aws.Int64(1),
				RuntimeEnvironmentUpdate: types.RuntimeEnvironmentFlink22,
				ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{ApplicationCodeConfigurationUpdate: &types.ApplicationCodeConfigurationUpdate{
					CodeContentUpdate: &types.CodeContentUpdate{S3ContentLocationUpdate: &types.S3ContentLocationUpdate{FileKeyUpdate: aws.String("app-2.2.jar")}}}}})
			if err != nil {
				t.Fatal(err)
			}
			holder := rc.waitAt("UpdateApplication " + step)
			rc.replicas[holder].kill()
			killed := time.Now()

			c = rc.client(holder)
			op := srvWaitOperation(t, c, "orders", aws.ToString(upd.OperationId))
			took := time.Since(killed)
			switch op.OperationStatus {
			case types.OperationStatusSuccessful:
				if d := srvWaitStatus(t, c, "orders", types.ApplicationStatusRunning); d.RuntimeEnvironment != types.RuntimeEnvironmentFlink22 {
					t.Fatalf("after the upgrade: %s", d.RuntimeEnvironment)
				}
			case types.OperationStatusFailed:
				// Rolled back: the rollback must have succeeded.
				if op.OperationFailureDetails == nil || op.OperationFailureDetails.RollbackOperationId == nil {
					t.Fatalf("update failed without a rollback: %+v", op)
				}
				if rb := srvWaitOperation(t, c, "orders", aws.ToString(op.OperationFailureDetails.RollbackOperationId)); rb.OperationStatus != types.OperationStatusSuccessful {
					t.Fatalf("rollback %+v", rb)
				}
				srvWaitStatus(t, c, "orders", types.ApplicationStatusRunning)
			default:
				t.Fatalf("update %+v", op)
			}
			t.Logf("killed replica %s at %s: the update was %s %s later (lease TTL %s)", rc.names[holder], step, op.OperationStatus, took.Round(time.Millisecond), replicaLeaseTTL)
			snaps, err := c.ListApplicationSnapshots(sctx, &kav2.ListApplicationSnapshotsInput{ApplicationName: aws.String("orders")})
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rc.replicas {
				r.kill()
			}
			fl, err := rc.driver.Load()
			if err != nil {
				t.Fatal(err)
			}
			if len(fl.Running()) != 1 || fl.LiveClusters() != 1 {
				t.Fatalf("%d jobs running, %d clusters alive", len(fl.Running()), fl.LiveClusters())
			}
			if o := rc.driver.Overlaps(); len(o) > 0 {
				t.Fatalf("a job was submitted while another ran: %v", o)
			}
			// The update's savepoint is a snapshot, its files exist, and
			// the job running now restored from it.
			var update *types.SnapshotDetails
			for i, s := range snaps.SnapshotSummaries {
				if strings.HasPrefix(aws.ToString(s.SnapshotName), "flinkplane-update-") {
					update = &snaps.SnapshotSummaries[i]
				}
			}
			if update == nil {
				t.Fatalf("no update snapshot among %+v", snaps.SnapshotSummaries)
			}
			last := fl.Submitted[len(fl.Submitted)-1]
			if last.RestoreFrom == "" || !fl.Savepoints[last.RestoreFrom] {
				t.Fatalf("the running job restored from %q (exists: %v); submissions %+v", last.RestoreFrom, fl.Savepoints[last.RestoreFrom], fl.Submitted)
			}
			if op.OperationStatus == types.OperationStatusSuccessful && len(fl.Submitted) != 2 {
				t.Fatalf("%d jobs submitted for one start and one upgrade: %+v", len(fl.Submitted), fl.Submitted)
			}
		})
	}
}
