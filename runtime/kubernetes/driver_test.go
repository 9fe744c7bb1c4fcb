package kubernetes_test

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
	k8s "github.com/flinkplane/flinkplane/runtime/kubernetes"
	"github.com/flinkplane/flinkplane/runtime/kubernetes/operatortest"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

var bg = context.Background()

// testJar writes a small valid JAR (the driver rewrites its
// config.properties and stores the copy).
func testJar(t *testing.T) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "app.jar")
	// An empty zip archive: the end-of-central-directory record only.
	if err := os.WriteFile(p, []byte("PK\x05\x06"+strings.Repeat("\x00", 18)), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func spec(appID string, rt flinkplane.RuntimeID) flinkplane.ClusterSpec {
	return flinkplane.ClusterSpec{ApplicationName: "app-" + appID, ApplicationID: appID, Runtime: rt, Parallelism: 3, ParallelismPerKPU: 2,
		Checkpoint: flinkplane.CheckpointSpec{Enabled: true, Interval: 2 * time.Second, MinPauseBetweenCheckpoints: 500 * time.Millisecond},
		Properties: []flinkplane.PropertyGroup{{PropertyGroupID: "FlinkApplicationProperties", PropertyMap: map[string]string{"output.path": "/tmp/out"}}}}
}

func get(t *testing.T, env *operatortest.Env, name string) (*k8s.FlinkDeployment, *unstructured.Unstructured) {
	t.Helper()
	u, err := env.Admin.Resource(k8s.DeploymentResource).Namespace(env.Namespace).Get(bg, name, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var fd k8s.FlinkDeployment
	if err := k8s.FromUnstructured(u, &fd); err != nil {
		t.Fatal(err)
	}
	return &fd, u
}

// setStatus writes a FlinkDeployment's status as the operator would
// (through the status subresource: the CRD's schema checks it).
func setStatus(t *testing.T, env *operatortest.Env, name string, fn func(st *k8s.FlinkDeploymentStatus, fd *k8s.FlinkDeployment)) {
	t.Helper()
	for {
		fd, u := get(t, env, name)
		st := fd.Status
		fn(&st, fd)
		b, _ := json.Marshal(st)
		var m map[string]any
		json.Unmarshal(b, &m)
		u.Object["status"] = m
		_, err := env.Admin.Resource(k8s.DeploymentResource).Namespace(env.Namespace).UpdateStatus(bg, u, metav1.UpdateOptions{})
		if apierrors.IsConflict(err) {
			continue
		}
		if err != nil {
			t.Fatalf("status of %s: %v", name, err)
		}
		return
	}
}

// reconciled records the spec as the operator does after a deployment
// (lastReconciledSpec, observedGeneration), with the job in jobState.
func reconciled(st *k8s.FlinkDeploymentStatus, fd *k8s.FlinkDeployment, jobState string) {
	s := fd.Spec
	j := *s.Job
	j.State = jobState
	s.Job = &j
	b, _ := json.Marshal(map[string]any{"spec": s, "resource_metadata": map[string]any{"apiVersion": "flink.apache.org/v1beta1", "firstDeployment": false}})
	st.ReconciliationStatus.LastReconciledSpec = string(b)
	st.ReconciliationStatus.State = "DEPLOYED"
	st.ObservedGeneration = fd.Metadata.Generation
	st.Error = ""
}

func wantCode(t *testing.T, err error, code string, substrings ...string) {
	t.Helper()
	if flinkplane.ErrorCode(err) != code {
		t.Fatalf("error %v (code %s), want code %s", err, flinkplane.ErrorCode(err), code)
	}
	for _, s := range substrings {
		if !strings.Contains(flinkplane.ErrorMessage(err), s) {
			t.Fatalf("error %q does not contain %q", flinkplane.ErrorMessage(err), s)
		}
	}
}

// TestDriver_APIServer runs the driver against the API server with the
// operator's 1.15.0 CRDs and the manifests' RBAC, the operator's part
// played by status writes: what it writes passes the operator's schema,
// and it reads the status the way the operator writes it.
func TestDriver_APIServer(t *testing.T) {
	env := operatortest.Start(t, operatortest.Options{NoOperator: true})
	d := env.NewDriver(t)
	d.AckTimeout = 2 * time.Second
	d.StopTimeout = 5 * time.Second

	t.Run("Ready", func(t *testing.T) {
		for _, rt := range []flinkplane.RuntimeID{flinkplane.RuntimeFlink120, flinkplane.RuntimeFlink22} {
			if err := d.Ready(rt); err != nil {
				t.Errorf("Ready(%s): %v", rt, err)
			}
		}
		wantCode(t, d.Ready("FLINK-9_9"), flinkplane.EINVALIDCONFIG, "FLINK-9_9")
	})

	t.Run("StartSubmitStop", func(t *testing.T) {
		h, err := d.Start(bg, spec("0a1b2c3d4e5f6071", flinkplane.RuntimeFlink22))
		if err != nil {
			t.Fatal(err)
		}
		name := k8s.DeploymentName("0a1b2c3d4e5f6071", flinkplane.RuntimeFlink22)
		if h.ID != name || h.Runtime != flinkplane.RuntimeFlink22 || !strings.Contains(h.RESTURL, "/api/v1/namespaces/flinkplane/services/"+name+"-rest:rest/proxy") {
			t.Fatalf("handle %+v", h)
		}
		fd, _ := get(t, env, name)
		if fd.Spec.FlinkVersion != "v2_2" || fd.Spec.Job.State != k8s.JobSuspended || fd.Spec.Job.UpgradeMode != k8s.UpgradeSavepoint ||
			fd.Spec.FlinkConfiguration["taskmanager.numberOfTaskSlots"] != "2" || fd.Spec.FlinkConfiguration["execution.checkpointing.interval"] != "2000ms" ||
			fd.Metadata.Labels[k8s.LabelApplicationID] != "0a1b2c3d4e5f6071" || fd.Spec.ServiceAccount != "flink" {
			t.Fatalf("FlinkDeployment after Start: %+v %+v", fd.Metadata, fd.Spec)
		}
		if ok, _ := d.Adopt(bg, h); ok {
			t.Fatal("a generation without a job is alive")
		}
		// Start is idempotent: the same object, the same generation.
		gen := fd.Metadata.Generation
		if _, err := d.Start(bg, spec("0a1b2c3d4e5f6071", flinkplane.RuntimeFlink22)); err != nil {
			t.Fatal(err)
		}
		if fd, _ := get(t, env, name); fd.Metadata.Generation != gen {
			t.Fatalf("second Start changed the object: generation %d -> %d", gen, fd.Metadata.Generation)
		}

		// Submit without an operator: no acknowledgement.
		jobID := strings.Repeat("ab", 16)
		_, err = d.Submit(bg, h, flinkplane.JobSpec{JarPath: testJar(t), JobID: jobID, Parallelism: 3})
		wantCode(t, err, flinkplane.EINVALIDCONFIG, "No Flink Kubernetes Operator", "namespace flinkplane")
		fd, _ = get(t, env, name)
		if fd.Spec.Job.State != k8s.JobRunning || fd.Spec.FlinkConfiguration[k8s.JobIDKey] != jobID ||
			!strings.HasPrefix(fd.Spec.Job.JarURI, "local://"+env.StateDir+"/jars/0a1b2c3d4e5f6071/") || fd.Spec.Job.InitialSavepointPath != "" {
			t.Fatalf("job after Submit: %+v", *fd.Spec.Job)
		}
		if ok, _ := d.Adopt(bg, h); !ok {
			t.Fatal("a generation with job.state running is not alive")
		}
		// A second Submit of the same job submits nothing; another job
		// is refused.
		if got, err := d.Submit(bg, h, flinkplane.JobSpec{JarPath: testJar(t), JobID: jobID}); err != nil || got != jobID {
			t.Fatalf("resubmit: %s %v", got, err)
		}
		_, err = d.Submit(bg, h, flinkplane.JobSpec{JarPath: testJar(t), JobID: strings.Repeat("cd", 16)})
		wantCode(t, err, flinkplane.EINUSE)

		// JobHealth before the operator took the generation up: not yet.
		if jh, err := d.JobHealth(bg, h, jobID); err != nil || jh.State != "INITIALIZING" {
			t.Fatalf("JobHealth before the operator: %+v %v", jh, err)
		}
		if _, err := d.JobHealth(bg, h, strings.Repeat("ef", 16)); flinkplane.ErrorCode(err) != flinkplane.ENOTFOUND {
			t.Fatalf("JobHealth of another job: %v", err)
		}
		// The operator deployed it and the job failed at submission
		// (JobStatusObserver.recordJobErrorIfPresent): FAILED with the cause,
		// read from the status while the JobManager's REST API does not
		// answer.
		setStatus(t, env, name, func(st *k8s.FlinkDeploymentStatus, fd *k8s.FlinkDeployment) {
			reconciled(st, fd, k8s.JobRunning)
			st.JobStatus = k8s.JobStatus{JobID: jobID, State: "FAILED"}
			st.JobManagerDeploymentStatus = "DEPLOYING"
			st.Error = `{"type":"org.apache.flink.client.program.ProgramInvocationException","message":"The main method caused an error: boom"}`
		})
		jh, err := d.JobHealth(bg, h, jobID)
		if err != nil || jh.State != "FAILED" || !strings.Contains(jh.RootCause, "boom") {
			t.Fatalf("JobHealth of a failed job: %+v %v", jh, err)
		}
		ch, err := d.ClusterHealth(bg, h)
		if err != nil || !ch.JobManagerAlive || ch.TaskManagers != 2 {
			t.Fatalf("ClusterHealth: %+v %v", ch, err)
		}

		// Stop suspends without a savepoint and waits for the operator.
		done := make(chan error, 1)
		go func() { done <- d.Stop(bg, h) }()
		for {
			if fd, _ := get(t, env, name); fd.Spec.Job.State == k8s.JobSuspended {
				if fd.Spec.Job.UpgradeMode != k8s.UpgradeStateless {
					t.Fatalf("Stop: upgradeMode %s", fd.Spec.Job.UpgradeMode)
				}
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		select {
		case err := <-done:
			t.Fatalf("Stop returned before the operator suspended: %v", err)
		case <-time.After(300 * time.Millisecond):
		}
		setStatus(t, env, name, func(st *k8s.FlinkDeploymentStatus, fd *k8s.FlinkDeployment) {
			reconciled(st, fd, k8s.JobSuspended)
			st.JobManagerDeploymentStatus = "MISSING"
			st.JobStatus.State = "FINISHED"
		})
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if jh, err := d.JobHealth(bg, h, jobID); err != nil || jh.State != "FINISHED" {
			t.Fatalf("JobHealth of a suspended generation: %+v %v", jh, err)
		}
		if ok, _ := d.Adopt(bg, h); ok {
			t.Fatal("a suspended generation is alive")
		}
		// A generation suspended stateless resumes empty at the operator
		// (it inherits the last upgrade mode): a restore from its upgrade
		// savepoint is a savepoint redeploy.
		setStatus(t, env, name, func(st *k8s.FlinkDeploymentStatus, fd *k8s.FlinkDeployment) {
			st.JobStatus.UpgradeSavepointPath = "file:/s/sp-1"
			st.ObservedGeneration = fd.Metadata.Generation + 10
		})
		if _, err := d.Submit(bg, h, flinkplane.JobSpec{JarPath: testJar(t), JobID: strings.Repeat("bc", 16), RestoreFrom: "file:/s/sp-1"}); err != nil {
			t.Fatal(err)
		}
		if fd, _ := get(t, env, name); fd.Spec.Job.SavepointRedeployNonce != 1 || fd.Spec.Job.InitialSavepointPath != "file:/s/sp-1" || fd.Spec.Job.UpgradeMode != k8s.UpgradeSavepoint {
			t.Fatalf("restore of a generation suspended stateless: %+v", *fd.Spec.Job)
		}
	})

	t.Run("ValidationError", func(t *testing.T) {
		h, err := d.Start(bg, spec("1a1b2c3d4e5f6071", flinkplane.RuntimeFlink120))
		if err != nil {
			t.Fatal(err)
		}
		go func() {
			// The operator's DefaultValidator rejects the spec: status.error
			// holds a ValidationException, observedGeneration stays.
			time.Sleep(200 * time.Millisecond)
			setStatus(t, env, h.ID, func(st *k8s.FlinkDeploymentStatus, fd *k8s.FlinkDeployment) {
				st.Error = `{"type":"org.apache.flink.kubernetes.operator.exception.ValidationException","message":"Forbidden Flink config key: kubernetes.namespace"}`
			})
		}()
		_, err = d.Submit(bg, h, flinkplane.JobSpec{JarPath: testJar(t), JobID: strings.Repeat("12", 16)})
		wantCode(t, err, flinkplane.EINVALIDCONFIG, "rejected FlinkDeployment "+h.ID, "Forbidden Flink config key")
	})

	t.Run("SuspendWithSavepoint", func(t *testing.T) {
		appID := "2a1b2c3d4e5f6071"
		h, err := d.Start(bg, spec(appID, flinkplane.RuntimeFlink120))
		if err != nil {
			t.Fatal(err)
		}
		jobID := strings.Repeat("34", 16)
		go func() {
			time.Sleep(200 * time.Millisecond)
			setStatus(t, env, h.ID, func(st *k8s.FlinkDeploymentStatus, fd *k8s.FlinkDeployment) {
				reconciled(st, fd, k8s.JobRunning)
				st.JobStatus = k8s.JobStatus{JobID: jobID, State: "RUNNING", UpgradeSavepointPath: "file:/old/savepoint"}
				st.JobManagerDeploymentStatus = "READY"
			})
		}()
		if _, err := d.Submit(bg, h, flinkplane.JobSpec{JarPath: testJar(t), JobID: jobID}); err != nil {
			t.Fatal(err)
		}
		// The job must be RUNNING as Flink reports it: the service proxy
		// has no endpoint for it here, so the stop is refused.
		if _, err := d.StopWithSavepoint(bg, h, jobID, ""); err == nil || !strings.Contains(err.Error(), "not running") {
			t.Fatalf("StopWithSavepoint of a job Flink does not report RUNNING: %v", err)
		}
		if fd, _ := get(t, env, h.ID); fd.Spec.Job.State != k8s.JobRunning {
			t.Fatal("a refused stop changed the spec")
		}
	})

	t.Run("PollSuspend", func(t *testing.T) {
		// PollSavepoint reads a suspension through the status: a failure
		// (UpgradeFailureException) turns the spec back to running.
		appID := "3a1b2c3d4e5f6071"
		h, err := d.Start(bg, spec(appID, flinkplane.RuntimeFlink120))
		if err != nil {
			t.Fatal(err)
		}
		jobID := strings.Repeat("56", 16)
		setStatus(t, env, h.ID, func(st *k8s.FlinkDeploymentStatus, fd *k8s.FlinkDeployment) {
			st.ObservedGeneration = fd.Metadata.Generation + 10 // acknowledged in advance
		})
		if _, err := d.Submit(bg, h, flinkplane.JobSpec{JarPath: testJar(t), JobID: jobID}); err != nil {
			t.Fatal(err)
		}
		setStatus(t, env, h.ID, func(st *k8s.FlinkDeploymentStatus, fd *k8s.FlinkDeployment) {
			reconciled(st, fd, k8s.JobRunning)
			st.JobStatus = k8s.JobStatus{JobID: jobID, State: "RUNNING", UpgradeSavepointPath: "file:/old/savepoint"}
		})
		// The trigger as StopWithSavepoint makes it: the generation of the
		// suspension, the savepoint and error the status held before.
		suspend := func() int64 {
			_, u := get(t, env, h.ID)
			unstructured.SetNestedField(u.Object, k8s.JobSuspended, "spec", "job", "state")
			out, err := env.Admin.Resource(k8s.DeploymentResource).Namespace(env.Namespace).Update(bg, u, metav1.UpdateOptions{})
			if err != nil {
				t.Fatal(err)
			}
			return out.GetGeneration()
		}
		gen := suspend()
		trigger := "suspend/" + itoa(gen) + "/" + k8s.PathHash("file:/old/savepoint") + "/-"
		if st, err := d.PollSavepoint(bg, h, jobID, trigger); err != nil || st.Done {
			t.Fatalf("pending suspension: %+v %v", st, err)
		}
		setStatus(t, env, h.ID, func(st *k8s.FlinkDeploymentStatus, fd *k8s.FlinkDeployment) {
			st.Error = `{"type":"org.apache.flink.kubernetes.operator.exception.UpgradeFailureException","message":"Timed out stopping the job with savepoint"}`
		})
		st, err := d.PollSavepoint(bg, h, jobID, trigger)
		if err != nil || !st.Done || !strings.Contains(st.Failure, "Timed out stopping the job") {
			t.Fatalf("failed suspension: %+v %v", st, err)
		}
		if fd, _ := get(t, env, h.ID); fd.Spec.Job.State != k8s.JobRunning {
			t.Fatalf("failed suspension left job.state %s, want running again", fd.Spec.Job.State)
		}
		// A suspension reconciled with a new savepoint is done; one
		// reconciled with the old savepoint is no savepoint of this stop.
		gen = suspend()
		trigger = "suspend/" + itoa(gen) + "/" + k8s.PathHash("file:/old/savepoint") + "/-"
		setStatus(t, env, h.ID, func(st *k8s.FlinkDeploymentStatus, fd *k8s.FlinkDeployment) {
			reconciled(st, fd, k8s.JobSuspended)
			st.JobStatus.State, st.JobStatus.UpgradeSavepointPath = "FINISHED", "file:/old/savepoint"
		})
		if st, err := d.PollSavepoint(bg, h, jobID, trigger); err != nil || !st.Done || st.Failure == "" {
			t.Fatalf("suspension without a new savepoint: %+v %v", st, err)
		}
		setStatus(t, env, h.ID, func(st *k8s.FlinkDeploymentStatus, fd *k8s.FlinkDeployment) {
			st.JobStatus.UpgradeSavepointPath = "file:/new/savepoint"
		})
		if st, err := d.PollSavepoint(bg, h, jobID, trigger); err != nil || !st.Done || st.Location != "file:/new/savepoint" {
			t.Fatalf("suspension with a savepoint: %+v %v", st, err)
		}
		if _, err := d.PollSavepoint(bg, h, jobID, "snapshot/nope"); flinkplane.ErrorCode(err) != flinkplane.ENOTFOUND {
			t.Fatalf("unknown trigger: %v", err)
		}

		// The resume from that savepoint is the operator's plain resume;
		// from another one a savepoint redeploy.
		setStatus(t, env, h.ID, func(st *k8s.FlinkDeploymentStatus, fd *k8s.FlinkDeployment) {
			st.ObservedGeneration = fd.Metadata.Generation + 10
		})
		if _, err := d.Submit(bg, h, flinkplane.JobSpec{JarPath: testJar(t), JobID: strings.Repeat("78", 16), RestoreFrom: "file:/new/savepoint"}); err != nil {
			t.Fatal(err)
		}
		if fd, _ := get(t, env, h.ID); fd.Spec.Job.State != k8s.JobRunning || fd.Spec.Job.SavepointRedeployNonce != 0 || fd.Spec.Job.UpgradeMode != k8s.UpgradeSavepoint {
			t.Fatalf("resume from the upgrade savepoint: %+v", *fd.Spec.Job)
		}
	})

	t.Run("SweepAndRemove", func(t *testing.T) {
		appID := "4a1b2c3d4e5f6071"
		h, err := d.Start(bg, spec(appID, flinkplane.RuntimeFlink120))
		if err != nil {
			t.Fatal(err)
		}
		setStatus(t, env, h.ID, func(st *k8s.FlinkDeploymentStatus, fd *k8s.FlinkDeployment) {
			st.ObservedGeneration = fd.Metadata.Generation + 10
		})
		if _, err := d.Submit(bg, h, flinkplane.JobSpec{JarPath: testJar(t), JobID: strings.Repeat("9a", 16)}); err != nil {
			t.Fatal(err)
		}
		// Young resources are left alone (their handle may just be stored).
		if stopped, err := d.Sweep(bg, nil); err != nil || len(stopped) != 0 {
			t.Fatalf("sweep of young resources: %v %v", stopped, err)
		}
		d.SweepGrace = 0
		go func() {
			for {
				fd, _ := get(t, env, h.ID)
				if fd.Spec.Job.State == k8s.JobSuspended {
					setStatus(t, env, h.ID, func(st *k8s.FlinkDeploymentStatus, fd *k8s.FlinkDeployment) { reconciled(st, fd, k8s.JobSuspended) })
					return
				}
				time.Sleep(20 * time.Millisecond)
			}
		}()
		// Every other generation of these tests is owned.
		var owned []flinkplane.ClusterHandle
		l, err := env.Admin.Resource(k8s.DeploymentResource).Namespace(env.Namespace).List(bg, metav1.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		for _, it := range l.Items {
			if it.GetName() != h.ID {
				owned = append(owned, flinkplane.ClusterHandle{ID: it.GetName()})
			}
		}
		stopped, err := d.Sweep(bg, owned)
		if err != nil || len(stopped) != 1 || stopped[0] != h.ID {
			t.Fatalf("sweep: %v %v, want %s suspended", stopped, err, h.ID)
		}
		d.SweepGrace = 5 * time.Minute
		if err := d.RemoveApplication(bg, appID); err != nil {
			t.Fatal(err)
		}
		if _, err := env.Admin.Resource(k8s.DeploymentResource).Namespace(env.Namespace).Get(bg, h.ID, metav1.GetOptions{}); !apierrors.IsNotFound(err) {
			t.Fatalf("FlinkDeployment after RemoveApplication: %v", err)
		}
		if _, err := os.Stat(filepath.Join(env.StateDir, "jars", appID)); !os.IsNotExist(err) {
			t.Fatalf("JARs after RemoveApplication: %v", err)
		}
	})

	t.Run("NotOurs", func(t *testing.T) {
		// A FlinkDeployment of the same name that flinkplane did not
		// create is left alone.
		other, err := k8s.New(env.DriverConfig(), env.Namespace)
		if err != nil {
			t.Fatal(err)
		}
		other.Storage, other.Instance = d.Storage, "another"
		if _, err := other.Start(bg, spec("5a1b2c3d4e5f6071", flinkplane.RuntimeFlink120)); err != nil {
			t.Fatal(err)
		}
		_, err = d.Start(bg, spec("5a1b2c3d4e5f6071", flinkplane.RuntimeFlink120))
		wantCode(t, err, flinkplane.EINUSE, "not managed by this flinkplane")
	})

	// Every request of the driver was allowed by deploy/kubernetes/rbac.yaml.
	if denied := env.Denied(); len(denied) > 0 {
		t.Errorf("denied: %v", denied)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }

// TestDriver_OldOperator: with the CRDs of operator 1.10.0 (flinkVersion
// up to v1_20), Ready refuses FLINK-2_2 with the reason, and the API
// server itself rejects a v2_2 FlinkDeployment (the schema is real).
func TestDriver_OldOperator(t *testing.T) {
	env := operatortest.Start(t, operatortest.Options{NoOperator: true, OperatorRelease: "1.10.0"})
	d := env.NewDriver(t)
	if err := d.Ready(flinkplane.RuntimeFlink120); err != nil {
		t.Fatal(err)
	}
	err := d.Ready(flinkplane.RuntimeFlink22)
	wantCode(t, err, flinkplane.EINVALIDCONFIG, "v1_20, not v2_2", "1.13.0 or newer")
	_, err = d.Start(bg, spec("6a1b2c3d4e5f6071", flinkplane.RuntimeFlink22))
	wantCode(t, err, flinkplane.EINVALIDCONFIG, "v2_2")
	// Past Ready, the schema refuses it too.
	d2 := env.NewDriver(t)
	d2.CRDCacheTTL = time.Hour
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "flink.apache.org/v1beta1", "kind": "FlinkDeployment",
		"metadata": map[string]any{"name": "fp-x-v2-2", "namespace": env.Namespace},
		"spec":     map[string]any{"flinkVersion": "v2_2", "image": "i"},
	}}
	_, err = env.Admin.Resource(k8s.DeploymentResource).Namespace(env.Namespace).Create(bg, u, metav1.CreateOptions{})
	if !apierrors.IsInvalid(err) || !strings.Contains(err.Error(), "v2_2") {
		t.Fatalf("v2_2 on the 1.10.0 CRD: %v, want Invalid", err)
	}
	// Without the CRD: not installed.
	if err := env.Admin.Resource(k8s.CRDResource).Delete(bg, k8s.DeploymentCRD, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(100 * time.Millisecond) {
		err := env.NewDriver(t).Ready(flinkplane.RuntimeFlink120)
		if flinkplane.ErrorCode(err) == flinkplane.EINVALIDCONFIG && strings.Contains(flinkplane.ErrorMessage(err), "not installed") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("Ready without the CRD: %v", err)
		}
	}
}

// TestDriver_RBAC: without the permission to read the CRD the driver says
// which permission is missing (the manifests' rules are what is enforced:
// here a copy without the ClusterRoleBinding).
func TestDriver_RBAC(t *testing.T) {
	env := operatortest.Start(t, operatortest.Options{NoOperator: true})
	rules, err := operatortest.ParseRBAC(env.Namespace, []byte(`
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: r}
rules:
- apiGroups: ["flink.apache.org"]
  resources: ["flinkdeployments"]
  verbs: ["get"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: r}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: r}
subjects: [{kind: ServiceAccount, name: flinkplane}]
`))
	if err != nil {
		t.Fatal(err)
	}
	env.SetRules(rules)
	d := env.NewDriver(t)
	wantCode(t, d.Ready(flinkplane.RuntimeFlink120), flinkplane.EINVALIDCONFIG, "may not read the CRD", "customresourcedefinitions")
	if _, denied := rules.Requests(); len(denied) != 1 || !strings.Contains(denied[0], "customresourcedefinitions") {
		t.Fatalf("denied: %v", denied)
	}
}
