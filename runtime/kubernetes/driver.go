// Package kubernetes implements flinkplane.ClusterDriver on a Kubernetes
// cluster through the Apache Flink Kubernetes Operator: every cluster the
// engine starts is a FlinkDeployment in application mode, every savepoint
// it triggers a FlinkStateSnapshot, and everything else it asks of Flink
// goes through the API server's service proxy to the same Flink REST
// client the local driver uses. The operator does the work; the driver
// writes resources (server-side apply, field manager "flinkplane") and
// reads their status.
//
// One FlinkDeployment per application and Flink version, named
// fp-<application-id>-v<major>-<minor> (DeploymentName): an upgrade from
// Flink 1.20 to 2.2 suspends the 1.20 resource with a savepoint
// (job.state: suspended, upgradeMode: savepoint) and creates the 2.2
// resource with job.initialSavepointPath set to that savepoint, so the
// operator never sees a Flink version change on one resource (it refuses
// to roll one back: see docs/kubernetes.md); a rollback resumes the
// suspended 1.20 resource from its pre-upgrade savepoint. docs/kubernetes.md
// maps every ClusterDriver call to what it writes and reads.
package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/runtime"
	"github.com/flinkplane/flinkplane/runtime/local"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
)

var _ flinkplane.ClusterDriver = (*Driver)(nil)

// Driver runs Flink clusters as FlinkDeployments of the Flink Kubernetes
// Operator. Configure the exported fields after New and before use.
type Driver struct {
	// Namespace holds every FlinkDeployment and FlinkStateSnapshot the
	// driver writes; the operator must watch it. Changing it orphans the
	// clusters of running applications (handles name resources only).
	Namespace string
	// Instance tells the resources of one flinkplane installation apart
	// (label flinkplane.io/instance) when several share a namespace; Sweep
	// touches only its own.
	Instance string
	// Images maps a runtime to its container image (see deploy/images);
	// runtimes without an entry use ImageRepository:<Flink version>.
	Images          map[flinkplane.RuntimeID]string
	ImageRepository string
	ImagePullPolicy string
	// ServiceAccount is the Kubernetes service account of the JobManager
	// and TaskManager pods (the operator's Helm chart creates "flink").
	ServiceAccount string
	// Storage holds JARs, checkpoints and savepoints (required).
	Storage Storage
	// JobManager and TaskManager are the resources of each pod; one
	// TaskManager offers ParallelismPerKPU slots (AWS: one KPU).
	JobManager, TaskManager PodResource
	// HighAvailability turns on Flink's Kubernetes high availability
	// (recommended: a JobManager pod that restarts then resumes from the
	// newest checkpoint rather than from the job's initial savepoint).
	HighAvailability bool
	// FlinkConfig is added to every FlinkDeployment's flinkConfiguration
	// (it wins over the driver's own keys).
	FlinkConfig map[string]string
	// AckTimeout bounds the wait for the operator to take up a change of
	// a FlinkDeployment; StopTimeout the wait for it to suspend a job.
	AckTimeout, StopTimeout time.Duration
	// SweepGrace: Sweep leaves alone resources younger than this (their
	// handle may have been stored after the owned list was read).
	SweepGrace time.Duration
	// PollInterval is the pause between two reads while waiting.
	PollInterval time.Duration
	// CRDCacheTTL is how long Ready trusts its last reading of the
	// FlinkDeployment CRD.
	CRDCacheTTL time.Duration
	// TempDir holds the JAR copies being staged (default os.TempDir()).
	TempDir string
	// Logf logs progress; nil: log.Printf.
	Logf func(format string, args ...any)

	config *rest.Config
	client dynamic.Interface
	http   *http.Client

	mu       sync.Mutex
	crd      []string // flinkVersion values the FlinkDeployment CRD accepts
	crdErr   error
	crdRead  time.Time
	clusters map[string]*sync.Mutex // per FlinkDeployment: one change at a time
}

// PodResource is the CPU and memory of a pod.
type PodResource struct {
	CPU    float64
	Memory string // Flink memory size: "2048m", "2g"
}

// New returns a Driver for the API server of config with defaults set.
func New(config *rest.Config, namespace string) (*Driver, error) {
	if namespace == "" {
		return nil, errors.New("kubernetes: no namespace")
	}
	client, err := dynamic.NewForConfig(config)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	hc, err := rest.HTTPClientFor(config)
	if err != nil {
		return nil, fmt.Errorf("kubernetes client: %w", err)
	}
	return &Driver{
		Namespace:        namespace,
		Instance:         "flinkplane",
		ImageRepository:  "flinkplane-flink",
		ImagePullPolicy:  "IfNotPresent",
		ServiceAccount:   "flink",
		JobManager:       PodResource{CPU: 0.5, Memory: "1024m"},
		TaskManager:      PodResource{CPU: 1, Memory: "2048m"},
		HighAvailability: true,
		AckTimeout:       time.Minute,
		StopTimeout:      5 * time.Minute,
		SweepGrace:       5 * time.Minute,
		PollInterval:     500 * time.Millisecond,
		CRDCacheTTL:      30 * time.Second,
		config:           config,
		client:           client,
		http:             hc,
		clusters:         map[string]*sync.Mutex{},
	}, nil
}

func (d *Driver) logf(format string, args ...any) {
	if d.Logf != nil {
		d.Logf(format, args...)
		return
	}
	log.Printf(format, args...)
}

func (d *Driver) lock(name string) func() {
	d.mu.Lock()
	m := d.clusters[name]
	if m == nil {
		m = &sync.Mutex{}
		d.clusters[name] = m
	}
	d.mu.Unlock()
	m.Lock()
	return m.Unlock
}

// Image returns the container image of a runtime.
func (d *Driver) Image(id flinkplane.RuntimeID) (string, error) {
	if img := d.Images[id]; img != "" {
		return img, nil
	}
	v, err := runtime.Lookup(id)
	if err != nil {
		return "", err
	}
	return d.ImageRepository + ":" + v.FlinkVersion, nil
}

// SavepointRoot is the directory (or s3p:// URI) under which each
// application's savepoints are kept, one directory per application id.
func (d *Driver) SavepointRoot() string {
	if d.Storage == nil {
		return ""
	}
	return joinPath(d.Storage.Root(), "savepoints")
}

func joinPath(root string, parts ...string) string {
	return strings.TrimRight(root, "/") + "/" + strings.Join(parts, "/")
}

func (d *Driver) checkpointDir(appID, name string) string {
	return joinPath(d.Storage.Root(), "checkpoints", appID, name)
}

// Ready returns nil if the cluster can run the runtime: the runtime is in
// the catalog, the operator's FlinkDeployment CRD is installed and its
// flinkVersion enum holds the runtime's version, and storage is set.
// Otherwise it returns EINVALIDCONFIG saying what is missing; an operator
// too old for Flink 2.2 is told apart from one that is not installed.
func (d *Driver) Ready(id flinkplane.RuntimeID) error {
	v, ok := FlinkVersion(id)
	if !ok {
		return flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "Runtime %s is not a Flink runtime.", id)
	}
	if _, err := runtime.Lookup(id); err != nil {
		return flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "%s", flinkplane.ErrorMessage(err))
	}
	if d.Storage == nil {
		return flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "The Kubernetes driver has no storage for JARs and savepoints: configure an S3 bucket or a shared volume.")
	}
	versions, err := d.operatorVersions(context.Background())
	if err != nil {
		return err
	}
	for _, s := range versions {
		if s == v {
			return nil
		}
	}
	return flinkplane.Errorf(flinkplane.EINVALIDCONFIG,
		"The Flink Kubernetes Operator installed in the cluster cannot run %s: its FlinkDeployment CRD (%s) accepts flinkVersion %s, not %s. "+
			"Flink 2.2 needs operator 1.13.0 or newer; upgrade the operator and its CRDs (helm upgrade, then kubectl replace -f the chart's crds/). Nothing was changed.",
		id, DeploymentCRD, strings.Join(versions, ", "), v)
}

// operatorVersions reads the flinkVersion enum of the FlinkDeployment CRD
// from the API server (cached for CRDCacheTTL).
func (d *Driver) operatorVersions(ctx context.Context) ([]string, error) {
	d.mu.Lock()
	if time.Since(d.crdRead) < d.CRDCacheTTL {
		v, err := d.crd, d.crdErr
		d.mu.Unlock()
		return v, err
	}
	d.mu.Unlock()
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	var versions []string
	u, err := d.client.Resource(CRDResource).Get(ctx, DeploymentCRD, metav1.GetOptions{})
	switch {
	case apierrors.IsNotFound(err):
		err = flinkplane.Errorf(flinkplane.EINVALIDCONFIG,
			"The Flink Kubernetes Operator is not installed in the cluster: the CRD %s does not exist. Install the operator (helm install flink-kubernetes-operator ...).", DeploymentCRD)
	case apierrors.IsForbidden(err):
		err = flinkplane.Errorf(flinkplane.EINVALIDCONFIG,
			"flinkplane may not read the CRD %s (it checks which Flink versions the operator accepts): grant get on customresourcedefinitions %s (deploy/kubernetes/rbac.yaml).", DeploymentCRD, DeploymentCRD)
	case err != nil:
		err = fmt.Errorf("read CRD %s: %w", DeploymentCRD, err)
	default:
		var crd struct {
			Spec struct {
				Versions []struct {
					Name   string `json:"name"`
					Served bool   `json:"served"`
					Schema struct {
						OpenAPIV3Schema struct {
							Properties struct {
								Spec struct {
									Properties struct {
										FlinkVersion struct {
											Enum []string `json:"enum"`
										} `json:"flinkVersion"`
									} `json:"properties"`
								} `json:"spec"`
							} `json:"properties"`
						} `json:"openAPIV3Schema"`
					} `json:"schema"`
				} `json:"versions"`
			} `json:"spec"`
		}
		if err = FromUnstructured(u, &crd); err == nil {
			for _, v := range crd.Spec.Versions {
				if v.Name == Version && v.Served {
					versions = v.Schema.OpenAPIV3Schema.Properties.Spec.Properties.FlinkVersion.Enum
				}
			}
			if versions == nil {
				err = flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "The CRD %s does not serve %s/%s with a flinkVersion enum; this operator is not supported.", DeploymentCRD, Group, Version)
			}
		}
	}
	if err != nil && flinkplane.ErrorCode(err) == flinkplane.EINTERNAL {
		return nil, err // transient: not cached
	}
	d.mu.Lock()
	d.crd, d.crdErr, d.crdRead = versions, err, time.Now()
	d.mu.Unlock()
	return versions, err
}

// annotationClusterSpec holds the ClusterSpec a FlinkDeployment was
// started with (JSON), so that every later apply rebuilds the whole object.
const annotationClusterSpec = "flinkplane.io/cluster-spec"

// Start prepares the FlinkDeployment of the application's generation for
// the runtime: it is created (or updated, when a suspended one exists) with
// job.state suspended and no job yet, which the operator records without
// deploying anything (AbstractFlinkResourceReconciler.reconcile: "If the
// job is submitted in suspend state, no need to reconcile"). Submit sets
// the job and starts it. A generation of the application that still runs
// is first suspended without a savepoint (there is one job per
// application). Start is idempotent.
func (d *Driver) Start(ctx context.Context, spec flinkplane.ClusterSpec) (flinkplane.ClusterHandle, error) {
	if err := d.Ready(spec.Runtime); err != nil {
		return flinkplane.ClusterHandle{}, err
	}
	if spec.ApplicationID == "" || strings.ContainsAny(spec.ApplicationID, "/\\") || strings.HasPrefix(spec.ApplicationID, ".") {
		return flinkplane.ClusterHandle{}, flinkplane.Errorf(flinkplane.EINVALID, "Invalid application id %q.", spec.ApplicationID)
	}
	name := DeploymentName(spec.ApplicationID, spec.Runtime)
	h := d.handle(name, spec.ApplicationID, spec.Runtime)
	defer d.lock(name)()
	cur, err := d.get(ctx, name)
	if err != nil && !isNotFound(err) {
		return h, err
	}
	job := &JobSpec{State: JobSuspended, UpgradeMode: UpgradeSavepoint, Parallelism: max(spec.Parallelism, 1)}
	jobID := ""
	if cur != nil {
		if err := d.owned(cur); err != nil {
			return h, err
		}
		if cur.Spec.Job != nil {
			if cur.Spec.Job.State == JobRunning {
				d.logf("kubernetes: %s of application %s still runs; suspending it without a savepoint before a new start", name, spec.ApplicationID)
				if err := d.suspend(ctx, cur, UpgradeStateless); err != nil {
					return h, err
				}
				if cur, err = d.get(ctx, name); err != nil {
					return h, err
				}
			}
			j := *cur.Spec.Job
			j.State = JobSuspended
			job = &j
		}
		jobID = cur.Spec.FlinkConfiguration[JobIDKey]
	}
	obj, err := d.desired(name, spec, job, jobID)
	if err != nil {
		return h, err
	}
	if _, err := d.apply(ctx, obj); err != nil {
		return h, err
	}
	d.logf("kubernetes: FlinkDeployment %s/%s ready for %s (%s)", d.Namespace, name, spec.ApplicationID, spec.Runtime)
	return h, nil
}

func (d *Driver) handle(name, appID string, rt flinkplane.RuntimeID) flinkplane.ClusterHandle {
	return flinkplane.ClusterHandle{ID: name, Runtime: rt, RESTURL: d.restURL(name), Dir: d.checkpointDir(appID, name)}
}

// owned returns EINUSE for a FlinkDeployment that flinkplane did not
// create (or another flinkplane instance did).
func (d *Driver) owned(fd *FlinkDeployment) error {
	l := fd.Metadata.Labels
	if l[LabelManagedBy] != ManagedBy || l[LabelInstance] != labelValue(d.Instance) {
		return flinkplane.Errorf(flinkplane.EINUSE, "FlinkDeployment %s/%s exists and is not managed by this flinkplane (instance %s).", d.Namespace, fd.Metadata.Name, d.Instance)
	}
	return nil
}

// clusterSpec returns the ClusterSpec a FlinkDeployment was started with.
func clusterSpecOf(fd *FlinkDeployment) (flinkplane.ClusterSpec, error) {
	var spec flinkplane.ClusterSpec
	s := fd.Metadata.Annotations[annotationClusterSpec]
	if s == "" {
		return spec, fmt.Errorf("FlinkDeployment %s has no %s annotation", fd.Metadata.Name, annotationClusterSpec)
	}
	return spec, json.Unmarshal([]byte(s), &spec)
}

// Adopt reports whether the generation still runs a job: its
// FlinkDeployment exists, is not being deleted and has job.state running.
// (A JobManager that crashed is the operator's and Kubernetes' to restart;
// JobHealth reports the job's state meanwhile.)
func (d *Driver) Adopt(ctx context.Context, h flinkplane.ClusterHandle) (bool, error) {
	fd, err := d.get(ctx, h.ID)
	if isNotFound(err) {
		return false, nil
	} else if err != nil {
		return false, err
	}
	return fd.Metadata.DeletionTimestamp == "" && fd.Spec.Job != nil && fd.Spec.Job.State == JobRunning, nil
}

// Stop suspends the generation without a savepoint (job.state suspended,
// upgradeMode stateless: the operator cancels the job and deletes the
// JobManager deployment, ApplicationReconciler.cancelJob with
// SuspendMode.STATELESS) and waits until the operator has done so. The
// FlinkDeployment is kept: its status holds the savepoint it was suspended
// with, which a rollback resumes. Completed checkpoints stay in storage
// (RETAIN_ON_CANCELLATION). Stopping a suspended or missing generation is
// not an error.
func (d *Driver) Stop(ctx context.Context, h flinkplane.ClusterHandle) error {
	defer d.lock(h.ID)()
	fd, err := d.get(ctx, h.ID)
	if isNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	if fd.Spec.Job == nil {
		return nil
	}
	if fd.Spec.Job.State == JobSuspended {
		return d.waitSuspended(ctx, fd.Metadata.Name, fd.Metadata.Generation)
	}
	return d.suspend(ctx, fd, UpgradeStateless)
}

// suspend applies job.state suspended with the upgrade mode and waits for
// the operator to finish.
func (d *Driver) suspend(ctx context.Context, fd *FlinkDeployment, mode string) error {
	out, err := d.applyJob(ctx, fd, func(j *JobSpec) { j.State, j.UpgradeMode = JobSuspended, mode })
	if err != nil {
		return err
	}
	return d.waitSuspended(ctx, out.Metadata.Name, out.Metadata.Generation)
}

// waitSuspended waits until the operator has reconciled generation gen as
// suspended: lastReconciledSpec has job.state suspended and the
// reconciliation state is DEPLOYED (the cancellation finished), within
// StopTimeout.
func (d *Driver) waitSuspended(ctx context.Context, name string, gen int64) error {
	ctx, cancel := context.WithTimeout(ctx, d.StopTimeout)
	defer cancel()
	for {
		fd, err := d.get(ctx, name)
		if isNotFound(err) {
			return nil
		}
		if err == nil {
			if suspendedAt(fd, gen) {
				return nil
			}
			if fd.Status.ReconciliationStatus.LastReconciledSpec == "" && fd.Status.ObservedGeneration == 0 {
				return nil // never deployed: nothing runs
			}
		}
		select {
		case <-ctx.Done():
			msg := ""
			if fd != nil && fd.Status.Error != "" {
				msg = " Operator error: " + ParseOperatorError(fd.Status.Error).String()
			}
			return fmt.Errorf("the Flink Kubernetes Operator did not suspend FlinkDeployment %s within %s.%s", name, d.StopTimeout, msg)
		case <-time.After(d.PollInterval):
		}
	}
}

// suspendedAt reports whether the operator has reconciled generation gen
// (or a later one) of fd as suspended.
func suspendedAt(fd *FlinkDeployment, gen int64) bool {
	last := fd.Status.LastReconciled()
	return fd.Status.ObservedGeneration >= gen && last != nil && last.Job != nil && last.Job.State == JobSuspended &&
		fd.Status.ReconciliationStatus.State == "DEPLOYED"
}

// Submit sets the job of the generation and starts it: job.jarURI (the
// JAR staged in storage), the job id (flinkConfiguration
// $internal.pipeline.job-id, so the job's id is the one the engine
// recorded), parallelism, arguments and job.state running. The restore:
//
//   - a generation never deployed restores from job.initialSavepointPath
//     (the operator's first deployment);
//   - a suspended generation whose upgrade savepoint
//     (status.jobStatus.upgradeSavepointPath) is the restore point is
//     resumed: job.state running, upgradeMode savepoint
//     (AbstractJobReconciler.restoreJob);
//   - any other restore point is a savepoint redeploy: a new
//     job.savepointRedeployNonce with job.initialSavepointPath
//     (AbstractJobReconciler.redeployWithSavepoint);
//   - no restore point resumes with upgradeMode stateless.
//
// Submit waits until the operator has taken up the change and returns
// EINVALIDCONFIG with the operator's message when it rejects it. A
// savepoint written by a newer Flink than the runtime reads is refused
// before anything changes. If the generation already runs the job, its id
// is returned and nothing is submitted; if it runs another job, EINUSE.
func (d *Driver) Submit(ctx context.Context, h flinkplane.ClusterHandle, job flinkplane.JobSpec) (string, error) {
	jobID := strings.ToLower(job.JobID)
	if jobID == "" {
		return "", flinkplane.Errorf(flinkplane.EINVALID, "The Kubernetes driver needs the job id before it submits.")
	}
	if !isJobID(jobID) {
		return "", flinkplane.Errorf(flinkplane.EINVALID, "Invalid Flink job id %q: want 32 hex digits.", job.JobID)
	}
	defer d.lock(h.ID)()
	fd, err := d.get(ctx, h.ID)
	if isNotFound(err) {
		return "", flinkplane.Errorf(flinkplane.ENOTFOUND, "FlinkDeployment %s/%s is gone; the cluster must be started again.", d.Namespace, h.ID)
	} else if err != nil {
		return "", err
	}
	if err := d.owned(fd); err != nil {
		return "", err
	}
	if fd.Spec.Job != nil && fd.Spec.Job.State == JobRunning {
		if fd.Spec.FlinkConfiguration[JobIDKey] == jobID {
			d.logf("kubernetes: job %s already submitted to %s; not submitting again", jobID, h.ID)
			return jobID, nil
		}
		return "", flinkplane.Errorf(flinkplane.EINUSE, "FlinkDeployment %s already runs job %s.", h.ID, fd.Spec.FlinkConfiguration[JobIDKey])
	}
	if job.RestoreFrom != "" {
		if v, err := d.Storage.MetadataVersion(ctx, job.RestoreFrom); err == nil {
			if m := local.MaxMetadataVersion(h.Runtime); v > m {
				return "", flinkplane.Errorf(flinkplane.EINVALIDCONFIG,
					"Snapshot %s has savepoint format version %d, written by a newer Flink than %s can read (up to version %d); a 2.x snapshot cannot be restored on 1.x.",
					job.RestoreFrom, v, h.Runtime, m)
			}
		} else if e, ok := err.(*flinkplane.Error); ok {
			return "", e
		}
	}
	spec, err := clusterSpecOf(fd)
	if err != nil {
		return "", err
	}
	jarURI, err := d.stage(ctx, spec.ApplicationID, job.JarPath)
	if err != nil {
		return "", err
	}
	j := JobSpec{UpgradeMode: UpgradeSavepoint}
	if fd.Spec.Job != nil {
		j = *fd.Spec.Job
	}
	j.JarURI, j.EntryClass, j.Args = jarURI, job.EntryClass, job.Args
	j.Parallelism = max(job.Parallelism, spec.Parallelism, 1)
	j.AllowNonRestoredState = job.AllowNonRestoredState
	j.State, j.UpgradeMode = JobRunning, UpgradeSavepoint
	last := fd.Status.LastReconciled()
	how := ""
	switch {
	case last == nil:
		j.InitialSavepointPath = job.RestoreFrom
		how = "first deployment"
	case job.RestoreFrom == "":
		j.UpgradeMode = UpgradeStateless
		how = "resumed without state"
	case last.Job != nil && last.Job.UpgradeMode == UpgradeSavepoint && samePath(job.RestoreFrom, fd.Status.JobStatus.UpgradeSavepointPath):
		// Suspended with that savepoint: the operator's resume restores it.
		// (A generation suspended stateless resumes empty: the operator
		// inherits the last upgrade mode.)
		how = "resumed from its upgrade savepoint"
	default:
		j.InitialSavepointPath = job.RestoreFrom
		nonce := j.SavepointRedeployNonce
		if last.Job != nil {
			nonce = max(nonce, last.Job.SavepointRedeployNonce)
		}
		j.SavepointRedeployNonce = nonce + 1
		how = "redeployed from a savepoint"
	}
	obj, err := d.desired(h.ID, spec, &j, jobID)
	if err != nil {
		return "", err
	}
	out, err := d.apply(ctx, obj)
	if err != nil {
		return "", err
	}
	d.logf("kubernetes: submitted job %s to %s (%s, restore %q)", jobID, h.ID, how, job.RestoreFrom)
	if err := d.waitAck(ctx, h.ID, out.Metadata.Generation, fd.Status.Error); err != nil {
		return "", err
	}
	return jobID, nil
}

func samePath(a, b string) bool {
	norm := func(s string) string {
		s = strings.TrimSuffix(strings.TrimSuffix(s, "/"), "/_metadata")
		if p, ok := strings.CutPrefix(s, "file://"); ok {
			s = p
		} else if p, ok := strings.CutPrefix(s, "file:"); ok {
			s = p
		}
		return s
	}
	return a != "" && norm(a) == norm(b)
}

func isJobID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, r := range s {
		if !(r >= '0' && r <= '9' || r >= 'a' && r <= 'f') {
			return false
		}
	}
	return true
}

// waitAck waits until the operator has reconciled generation gen
// (status.observedGeneration), or rejected it: a ValidationException in
// status.error that was not there before the change (prevErr) is returned
// as EINVALIDCONFIG.
func (d *Driver) waitAck(ctx context.Context, name string, gen int64, prevErr string) error {
	ctx, cancel := context.WithTimeout(ctx, d.AckTimeout)
	defer cancel()
	var fd *FlinkDeployment
	for {
		var err error
		fd, err = d.get(ctx, name)
		if err == nil {
			if fd.Status.ObservedGeneration >= gen {
				return nil
			}
			if e := ParseOperatorError(fd.Status.Error); fd.Status.Error != "" && fd.Status.Error != prevErr && e.Short() == "ValidationException" {
				return flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "The Flink Kubernetes Operator rejected FlinkDeployment %s: %s", name, e.Message)
			}
		}
		select {
		case <-ctx.Done():
			if fd != nil && fd.Status.Error != "" {
				return flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "The Flink Kubernetes Operator did not take up FlinkDeployment %s within %s: %s",
					name, d.AckTimeout, ParseOperatorError(fd.Status.Error).String())
			}
			return flinkplane.Errorf(flinkplane.EINVALIDCONFIG,
				"No Flink Kubernetes Operator took up FlinkDeployment %s/%s within %s: is the operator running and watching namespace %s?", d.Namespace, name, d.AckTimeout, d.Namespace)
		case <-time.After(d.PollInterval):
		}
	}
}

// stage puts the JAR (with the properties pointer, see PropertiesPath)
// into storage and returns its jarURI.
func (d *Driver) stage(ctx context.Context, appID, jar string) (string, error) {
	tmp, name, err := stageJar(jar, d.TempDir)
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp)
	return d.Storage.PutJar(ctx, appID, name, tmp)
}

// get reads a FlinkDeployment of the namespace.
func (d *Driver) get(ctx context.Context, name string) (*FlinkDeployment, error) {
	u, err := d.client.Resource(DeploymentResource).Namespace(d.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	var fd FlinkDeployment
	if err := FromUnstructured(u, &fd); err != nil {
		return nil, fmt.Errorf("decode FlinkDeployment %s: %w", name, err)
	}
	return &fd, nil
}

func isNotFound(err error) bool { return err != nil && apierrors.IsNotFound(err) }

// apply writes the object with server-side apply (field manager
// flinkplane, taking over fields others changed).
func (d *Driver) apply(ctx context.Context, fd *FlinkDeployment) (*FlinkDeployment, error) {
	b, err := json.Marshal(fd)
	if err != nil {
		return nil, err
	}
	force := true
	u, err := d.client.Resource(DeploymentResource).Namespace(d.Namespace).Patch(ctx, fd.Metadata.Name, types.ApplyPatchType, b,
		metav1.PatchOptions{FieldManager: FieldManager, Force: &force})
	if err != nil {
		if apierrors.IsInvalid(err) {
			return nil, flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "The API server rejected FlinkDeployment %s (the operator's CRD schema): %s", fd.Metadata.Name, apiMessage(err))
		}
		return nil, fmt.Errorf("apply FlinkDeployment %s: %w", fd.Metadata.Name, err)
	}
	var out FlinkDeployment
	if err := FromUnstructured(u, &out); err != nil {
		return nil, err
	}
	return &out, nil
}

func apiMessage(err error) string {
	var s apierrors.APIStatus
	if errors.As(err, &s) {
		return s.Status().Message
	}
	return err.Error()
}

// applyJob re-applies fd's desired object with its job changed by fn.
func (d *Driver) applyJob(ctx context.Context, fd *FlinkDeployment, fn func(*JobSpec)) (*FlinkDeployment, error) {
	spec, err := clusterSpecOf(fd)
	if err != nil {
		return nil, err
	}
	j := JobSpec{UpgradeMode: UpgradeSavepoint}
	if fd.Spec.Job != nil {
		j = *fd.Spec.Job
	}
	fn(&j)
	obj, err := d.desired(fd.Metadata.Name, spec, &j, fd.Spec.FlinkConfiguration[JobIDKey])
	if err != nil {
		return nil, err
	}
	return d.apply(ctx, obj)
}

// PropertiesPath is where a pod finds the application's
// EnvironmentProperties, as on the managed service
// (/etc/flink/application_properties.json): an init container of the pod
// template writes it; the staged JAR's config.properties names it for the
// AWS runtime library.
const PropertiesPath = "/etc/flink/application_properties.json"

// PropertiesEnv is the environment variable of the init container that
// holds the properties JSON.
const PropertiesEnv = "FLINKPLANE_APPLICATION_PROPERTIES"

// desired builds the whole FlinkDeployment the driver owns: everything it
// applies, every time (fields missing from an apply would be removed).
func (d *Driver) desired(name string, spec flinkplane.ClusterSpec, job *JobSpec, jobID string) (*FlinkDeployment, error) {
	v, ok := FlinkVersion(spec.Runtime)
	if !ok {
		return nil, flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "Runtime %s is not a Flink runtime.", spec.Runtime)
	}
	image, err := d.Image(spec.Runtime)
	if err != nil {
		return nil, err
	}
	specJSON, err := json.Marshal(spec)
	if err != nil {
		return nil, err
	}
	props, err := json.Marshal(propertyGroups(spec.Properties))
	if err != nil {
		return nil, err
	}
	slots := max(spec.ParallelismPerKPU, 1)
	ckpt := d.checkpointDir(spec.ApplicationID, name)
	sp := joinPath(d.SavepointRoot(), spec.ApplicationID)
	conf := map[string]string{
		"taskmanager.numberOfTaskSlots": strconv.Itoa(slots),
		"parallelism.default":           strconv.Itoa(max(spec.Parallelism, 1)),
		// The managed service's state set-up, as the local driver's
		// (runtime/local/stateconfig.go): RocksDB, incremental checkpoints,
		// checkpoints kept when a job is cancelled or fails.
		"state.backend.type":                                        "rocksdb",
		"execution.checkpointing.incremental":                       "true",
		"state.backend.incremental":                                 "true",
		"execution.checkpointing.dir":                               flinkURI(ckpt),
		"execution.checkpointing.savepoint-dir":                     flinkURI(sp),
		"state.checkpoints.dir":                                     flinkURI(ckpt),
		"state.savepoints.dir":                                      flinkURI(sp),
		"execution.checkpointing.externalized-checkpoint-retention": "RETAIN_ON_CANCELLATION",
		"jobmanager.execution.failover-strategy":                    "region",
		// A job's details over REST come from a cache kept this long
		// (Flink: 3 s): the probation sees a new job's tasks running
		// without that delay (as the local driver's clusters).
		"web.refresh-interval": "500ms",
		// flinkplane decides: no restart of a failed job, no rollback, no
		// health-based restart and no savepoint clean-up by the operator
		// (the engine's watch, probation and snapshots do that).
		"kubernetes.operator.job.restart.failed":                      "false",
		"kubernetes.operator.deployment.rollback.enabled":             "false",
		"kubernetes.operator.cluster.health-check.enabled":            "false",
		"kubernetes.operator.savepoint.cleanup.enabled":               "false",
		"kubernetes.operator.job.upgrade.last-state-fallback.enabled": "false",
		"kubernetes.operator.savepoint.format.type":                   "CANONICAL",
		// A job stopped with a savepoint leaves its JobManager up
		// (SuspendMode.SAVEPOINT deletes no cluster); it goes after this.
		"kubernetes.operator.jm-deployment.shutdown-ttl": "1m",
	}
	if cp := spec.Checkpoint; cp.Enabled && cp.Interval > 0 {
		conf["execution.checkpointing.interval"] = fmt.Sprintf("%dms", cp.Interval.Milliseconds())
		conf["execution.checkpointing.min-pause"] = fmt.Sprintf("%dms", cp.MinPauseBetweenCheckpoints.Milliseconds())
		conf["execution.checkpointing.mode"] = "EXACTLY_ONCE"
	}
	if d.HighAvailability {
		conf["high-availability.type"] = "kubernetes"
		conf["high-availability.storageDir"] = flinkURI(joinPath(d.Storage.Root(), "ha", spec.ApplicationID, name))
	}
	for k, v := range d.Storage.FlinkConfig() {
		conf[k] = v
	}
	for k, v := range d.FlinkConfig {
		conf[k] = v
	}
	if jobID != "" {
		conf[JobIDKey] = jobID
	}
	fd := &FlinkDeployment{
		APIVersion: Group + "/" + Version,
		Kind:       "FlinkDeployment",
		Metadata: Metadata{
			Name:      name,
			Namespace: d.Namespace,
			Labels: map[string]string{
				LabelManagedBy:     ManagedBy,
				LabelInstance:      labelValue(d.Instance),
				LabelApplicationID: labelValue(spec.ApplicationID),
				LabelRuntime:       labelValue(string(spec.Runtime)),
			},
			Annotations: map[string]string{
				AnnotationApplication: spec.ApplicationName,
				annotationClusterSpec: string(specJSON),
			},
		},
		Spec: FlinkDeploymentSpec{
			Image:              image,
			ImagePullPolicy:    d.ImagePullPolicy,
			FlinkVersion:       v,
			ServiceAccount:     d.ServiceAccount,
			Mode:               "native",
			FlinkConfiguration: conf,
			JobManager:         &ComponentSpec{Resource: &Resource{CPU: d.JobManager.CPU, Memory: d.JobManager.Memory}},
			TaskManager:        &ComponentSpec{Resource: &Resource{CPU: d.TaskManager.CPU, Memory: d.TaskManager.Memory}},
			PodTemplate:        d.podTemplate(image, string(props)),
			Job:                job,
		},
	}
	return fd, nil
}

func propertyGroups(groups []flinkplane.PropertyGroup) []flinkplane.PropertyGroup {
	out := make([]flinkplane.PropertyGroup, len(groups))
	for i, g := range groups {
		if g.PropertyMap == nil {
			g.PropertyMap = map[string]string{}
		}
		out[i] = g
	}
	return out
}

// flinkURI turns a local path into a file:// URI and leaves URIs alone.
func flinkURI(p string) string {
	if strings.Contains(p, "://") {
		return p
	}
	return "file://" + p
}

// podTemplate is the pod template of the JobManager and TaskManager pods:
// an init container writes the application's properties where the AWS
// runtime library looks for them, and with volume storage the volume is
// mounted at the same path as in flinkplane.
func (d *Driver) podTemplate(image, props string) map[string]any {
	volumes := []any{map[string]any{"name": "flinkplane-properties", "emptyDir": map[string]any{}}}
	mounts := []any{map[string]any{"name": "flinkplane-properties", "mountPath": "/etc/flink"}}
	if v, ok := d.Storage.(*VolumeStorage); ok && v.VolumeClaim != "" {
		volumes = append(volumes, map[string]any{"name": "flinkplane-state", "persistentVolumeClaim": map[string]any{"claimName": v.VolumeClaim}})
		mounts = append(mounts, map[string]any{"name": "flinkplane-state", "mountPath": v.Root()})
	}
	return map[string]any{
		"spec": map[string]any{
			"volumes": volumes,
			"initContainers": []any{map[string]any{
				"name":         "flinkplane-properties",
				"image":        image,
				"command":      []any{"sh", "-c", `printf '%s' "$` + PropertiesEnv + `" > ` + PropertiesPath},
				"env":          []any{map[string]any{"name": PropertiesEnv, "value": props}},
				"volumeMounts": []any{map[string]any{"name": "flinkplane-properties", "mountPath": "/etc/flink"}},
			}},
			"containers": []any{map[string]any{
				"name":         "flink-main-container",
				"volumeMounts": mounts,
			}},
		},
	}
}
