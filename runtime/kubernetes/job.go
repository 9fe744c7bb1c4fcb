package kubernetes

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/flinkrest"
	"github.com/flinkplane/flinkplane/runtime/local"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// restURL is the Flink REST endpoint of a generation through the API
// server's service proxy: the operator's native deployment exposes the
// JobManager's REST port as the Service <cluster-id>-rest, port "rest".
// The Flink REST API is reached this way rather than with the mutual TLS
// of the local driver: the API server authenticates and authorizes the
// request (RBAC: get on services/proxy), and cannot present a client
// certificate to the JobManager; see docs/kubernetes.md.
func (d *Driver) restURL(name string) string {
	host := strings.TrimRight(d.config.Host, "/")
	if !strings.Contains(host, "://") {
		host = "https://" + host
	}
	return fmt.Sprintf("%s%s/api/v1/namespaces/%s/services/%s-rest:rest/proxy", host, strings.TrimRight(d.config.APIPath, "/"),
		url.PathEscape(d.Namespace), url.PathEscape(name))
}

// RESTClient returns a Flink REST client of a generation (through the API
// server's service proxy, with the driver's Kubernetes credentials).
func (d *Driver) RESTClient(h flinkplane.ClusterHandle, timeout time.Duration) *flinkrest.Client {
	c := flinkrest.New(d.restURL(h.ID))
	hc := *d.http
	if timeout > 0 {
		hc.Timeout = timeout
	} else {
		hc.Timeout = 30 * time.Second
	}
	c.HTTP = &hc
	return c
}

// RESTTransport returns a transport to a generation's Flink REST API for
// the dashboard proxy: it adds the service proxy's path to each request's
// path and authenticates as the driver.
func (d *Driver) RESTTransport(h flinkplane.ClusterHandle) (http.RoundTripper, error) {
	base, err := url.Parse(d.restURL(h.ID))
	if err != nil {
		return nil, err
	}
	return proxyTransport{base: base, next: d.http.Transport}, nil
}

type proxyTransport struct {
	base *url.URL
	next http.RoundTripper
}

func (t proxyTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	if !strings.HasPrefix(r.URL.Path, t.base.Path) {
		r.URL.Path = t.base.Path + "/" + strings.TrimPrefix(r.URL.Path, "/")
		r.URL.RawPath = ""
	}
	r.URL.Scheme, r.URL.Host, r.Host = t.base.Scheme, t.base.Host, t.base.Host
	next := t.next
	if next == nil {
		next = http.DefaultTransport
	}
	return next.RoundTrip(r)
}

// unreachable reports an answer of the API server rather than of Flink: a
// service proxy that found no JobManager (the pod is not ready, or gone).
func unreachable(err error) bool {
	var fe *flinkrest.Error
	if !errors.As(err, &fe) {
		return true // transport error
	}
	body := strings.Join(fe.Errors, " ")
	return fe.StatusCode == http.StatusServiceUnavailable || fe.StatusCode == http.StatusBadGateway ||
		strings.Contains(body, `"kind":"Status"`)
}

// jobOf returns the generation's FlinkDeployment and ENOTFOUND unless it
// is (or was last) running jobID.
func (d *Driver) jobOf(ctx context.Context, h flinkplane.ClusterHandle, jobID string) (*FlinkDeployment, error) {
	fd, err := d.get(ctx, h.ID)
	if isNotFound(err) {
		return nil, flinkplane.Errorf(flinkplane.ENOTFOUND, "Job %s not found: FlinkDeployment %s is gone.", jobID, h.ID)
	} else if err != nil {
		return nil, err
	}
	if fd.Spec.FlinkConfiguration[JobIDKey] != jobID && fd.Status.JobStatus.JobID != jobID {
		return nil, flinkplane.Errorf(flinkplane.ENOTFOUND, "Job %s not found on FlinkDeployment %s.", jobID, h.ID)
	}
	return fd, nil
}

// running reports whether fd's current spec runs jobID.
func running(fd *FlinkDeployment, jobID string) bool {
	return fd.Spec.Job != nil && fd.Spec.Job.State == JobRunning && fd.Spec.FlinkConfiguration[JobIDKey] == jobID
}

// JobHealth reports a job: from Flink's REST API through the service proxy
// when the JobManager answers (the same reading as the local driver's),
// else from the FlinkDeployment's status (status.jobStatus.state while the
// JobManager deploys; FAILED with the operator's error when its deployment
// failed). A job of a suspended generation reports its last state
// (FINISHED after a suspension). Returns ENOTFOUND for a job the
// generation does not run.
func (d *Driver) JobHealth(ctx context.Context, h flinkplane.ClusterHandle, jobID string) (flinkplane.JobHealth, error) {
	fd, err := d.jobOf(ctx, h, jobID)
	if err != nil {
		return flinkplane.JobHealth{}, err
	}
	if !running(fd, jobID) {
		st := fd.Status.JobStatus.State
		if !terminal(st) {
			st = "CANCELED"
		}
		return flinkplane.JobHealth{State: st}, nil
	}
	// The status speaks of this job once the operator has taken up the
	// generation that submits it (until then it may describe the previous
	// job of a resumed generation).
	fresh := fd.Status.ObservedGeneration >= fd.Metadata.Generation && fd.Status.JobStatus.JobID == jobID
	if !fresh {
		return flinkplane.JobHealth{State: "INITIALIZING"}, nil
	}
	if fd.Status.JobManagerDeploymentStatus == "READY" || fd.Status.JobManagerDeploymentStatus == "DEPLOYED_NOT_READY" {
		jh, err := local.JobHealthOf(ctx, d.RESTClient(h, 0), h.ID, jobID)
		if err == nil || (!unreachable(err) && flinkplane.ErrorCode(err) != flinkplane.ENOTFOUND) {
			return jh, err
		}
	}
	// No answer from Flink: what the operator last saw.
	jh := flinkplane.JobHealth{State: fd.Status.JobStatus.State}
	if ms, err := strconv.ParseInt(fd.Status.JobStatus.StartTime, 10, 64); err == nil && ms > 0 {
		jh.StartTime = time.UnixMilli(ms).UTC()
	}
	switch {
	case terminal(jh.State):
		if fd.Status.Error != "" {
			jh.RootCause = ParseOperatorError(fd.Status.Error).Message
		}
	case fd.Status.JobManagerDeploymentStatus == "ERROR":
		jh.State = "FAILED"
		jh.RootCause = "The JobManager deployment failed"
		if fd.Status.Error != "" {
			jh.RootCause += ": " + ParseOperatorError(fd.Status.Error).String()
		}
	case jh.State == "" || jh.State == "RUNNING":
		// RUNNING as last seen by the operator is no proof now: not yet.
		jh.State = "INITIALIZING"
	}
	return jh, nil
}

func terminal(state string) bool {
	switch state {
	case "FAILED", "CANCELED", "FINISHED", "SUSPENDED":
		return true
	}
	return false
}

// Cancel ends the job without a savepoint: the generation is suspended
// with upgradeMode stateless (as Stop). A job the generation no longer
// runs needs no cancelling.
func (d *Driver) Cancel(ctx context.Context, h flinkplane.ClusterHandle, jobID string) error {
	fd, err := d.get(ctx, h.ID)
	if isNotFound(err) {
		return nil
	} else if err != nil {
		return err
	}
	if fd.Spec.FlinkConfiguration[JobIDKey] != jobID {
		return nil
	}
	return d.Stop(ctx, h)
}

// ClusterHealth reports the JobManager from the FlinkDeployment's status
// (jobManagerDeploymentStatus READY, DEPLOYED_NOT_READY or DEPLOYING: the
// operator and Kubernetes keep it) and the TaskManagers registered with it
// (Flink's /taskmanagers through the service proxy) against the number
// the job needs. When the JobManager does not answer, the TaskManagers are
// not counted as lost: Flink's resource manager asks Kubernetes for
// replacements of lost TaskManager pods itself.
func (d *Driver) ClusterHealth(ctx context.Context, h flinkplane.ClusterHandle) (flinkplane.ClusterHealth, error) {
	fd, err := d.get(ctx, h.ID)
	if isNotFound(err) {
		return flinkplane.ClusterHealth{Lost: []string{"jobmanager"}}, nil
	} else if err != nil {
		return flinkplane.ClusterHealth{}, err
	}
	tms := 1
	if spec, err := clusterSpecOf(fd); err == nil {
		slots := max(spec.ParallelismPerKPU, 1)
		par := max(spec.Parallelism, 1)
		if fd.Spec.Job != nil && fd.Spec.Job.Parallelism > 0 {
			par = fd.Spec.Job.Parallelism
		}
		tms = (par + slots - 1) / slots
	}
	ch := flinkplane.ClusterHealth{TaskManagers: tms}
	switch fd.Status.JobManagerDeploymentStatus {
	case "READY", "DEPLOYED_NOT_READY", "DEPLOYING":
		ch.JobManagerAlive = fd.Spec.Job != nil && fd.Spec.Job.State == JobRunning
	}
	if !ch.JobManagerAlive {
		ch.Lost = append(ch.Lost, "jobmanager")
		return ch, nil
	}
	ch.TaskManagersAlive = tms
	if fd.Status.JobManagerDeploymentStatus == "READY" {
		if list, err := d.RESTClient(h, 10*time.Second).TaskManagers(ctx); err == nil {
			ch.TaskManagersAlive = len(list)
			for i := len(list); i < tms; i++ {
				ch.Lost = append(ch.Lost, fmt.Sprintf("taskmanager-%d", i))
			}
		}
	}
	return ch, nil
}

// ReplaceTaskManagers changes nothing: in native Kubernetes mode Flink's
// resource manager requests a new pod for every TaskManager it lost, and
// the engine's WAIT_FAILOVER step waits for Flink to restart the job on
// it. It fails when the JobManager is gone (the generation must be
// started again).
func (d *Driver) ReplaceTaskManagers(ctx context.Context, h flinkplane.ClusterHandle) (flinkplane.ClusterHandle, error) {
	ch, err := d.ClusterHealth(ctx, h)
	if err != nil {
		return h, err
	}
	if !ch.JobManagerAlive {
		return h, fmt.Errorf("replace taskmanagers of %s: the JobManager is gone", h.ID)
	}
	return h, nil
}

// LatestCheckpoint returns the newest completed checkpoint of a job in the
// generation's checkpoint directory in storage (the handle's Dir), read
// from storage so that it answers when the JobManager is gone.
func (d *Driver) LatestCheckpoint(ctx context.Context, h flinkplane.ClusterHandle, jobID string) (flinkplane.CheckpointInfo, error) {
	if !isJobID(jobID) || h.Dir == "" || d.Storage == nil {
		return flinkplane.CheckpointInfo{}, flinkplane.Errorf(flinkplane.ENOTFOUND, "No retained checkpoint of job %s.", jobID)
	}
	return d.Storage.LatestCheckpoint(ctx, h.Dir, jobID)
}

// TriggerSavepoint creates a FlinkStateSnapshot of the generation (a
// savepoint into targetDir, canonical format, no retries, not disposed on
// deletion: flinkplane's snapshots own their files) and returns
// "snapshot/<name>". The operator triggers it through Flink's REST API
// (StateSnapshotReconciler) and reports its path.
func (d *Driver) TriggerSavepoint(ctx context.Context, h flinkplane.ClusterHandle, jobID, targetDir string) (string, error) {
	fd, err := d.jobOf(ctx, h, jobID)
	if err != nil {
		return "", err
	}
	if !running(fd, jobID) {
		return "", flinkplane.Errorf(flinkplane.EINUSE, "Job %s of FlinkDeployment %s does not run.", jobID, h.ID)
	}
	if targetDir == "" {
		targetDir = fd.Spec.FlinkConfiguration["state.savepoints.dir"]
	}
	name := fmt.Sprintf("%s-savepoint-%d", h.ID, time.Now().UnixMilli())
	zero := 0
	snap := FlinkStateSnapshot{
		APIVersion: Group + "/" + Version, Kind: "FlinkStateSnapshot",
		Metadata: Metadata{Name: name, Namespace: d.Namespace, Labels: map[string]string{
			LabelManagedBy: ManagedBy, LabelInstance: labelValue(d.Instance),
			LabelApplicationID: fd.Metadata.Labels[LabelApplicationID],
		}},
		Spec: FlinkStateSnapshotSpec{
			BackoffLimit: &zero,
			JobReference: &JobReference{Kind: "FlinkDeployment", Name: h.ID},
			Savepoint:    &SavepointSpec{Path: flinkURI(targetDir), FormatType: "CANONICAL", DisposeOnDelete: false},
		},
	}
	u := &unstructured.Unstructured{}
	if err := toUnstructured(snap, u); err != nil {
		return "", err
	}
	if _, err := d.client.Resource(SnapshotResource).Namespace(d.Namespace).Create(ctx, u, metav1.CreateOptions{FieldManager: FieldManager}); err != nil {
		if apierrors.IsInvalid(err) {
			return "", flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "The API server rejected FlinkStateSnapshot %s: %s", name, apiMessage(err))
		}
		return "", fmt.Errorf("create FlinkStateSnapshot %s: %w", name, err)
	}
	return "snapshot/" + name, nil
}

// StopWithSavepoint suspends the generation with a savepoint: job.state
// suspended, upgradeMode savepoint. The operator stops the job with a
// savepoint into state.savepoints.dir (the application's savepoint
// directory; targetDir is the same), records it as
// status.jobStatus.upgradeSavepointPath and as a FlinkStateSnapshot of
// trigger type UPGRADE, and deletes the JobManager
// (AbstractJobReconciler.reconcileSpecChange, ApplicationReconciler.cancelJob,
// AbstractFlinkService.cancelJob with SuspendMode.SAVEPOINT). The trigger
// "suspend/<generation>/<hash>" names the change and the savepoint the
// status held before, so that PollSavepoint never mistakes an older
// savepoint for this one. The job must run (a job that does not run cannot
// take a savepoint: the engine keeps its newest checkpoint instead).
func (d *Driver) StopWithSavepoint(ctx context.Context, h flinkplane.ClusterHandle, jobID, targetDir string) (string, error) {
	defer d.lock(h.ID)()
	fd, err := d.jobOf(ctx, h, jobID)
	if err != nil {
		return "", err
	}
	if !running(fd, jobID) {
		return "", flinkplane.Errorf(flinkplane.EINUSE, "Job %s of FlinkDeployment %s does not run.", jobID, h.ID)
	}
	if jh, err := d.JobHealth(ctx, h, jobID); err != nil || jh.State != "RUNNING" {
		state := jh.State
		if err != nil {
			state = err.Error()
		}
		return "", fmt.Errorf("stop with savepoint: job %s is not running (%s)", jobID, state)
	}
	prev := fd.Status.JobStatus.UpgradeSavepointPath
	out, err := d.applyJob(ctx, fd, func(j *JobSpec) { j.State, j.UpgradeMode = JobSuspended, UpgradeSavepoint })
	if err != nil {
		return "", err
	}
	return fmt.Sprintf("suspend/%d/%s/%s", out.Metadata.Generation, pathHash(prev), errHash(fd.Status.Error)), nil
}

func pathHash(p string) string {
	if p == "" {
		return "-"
	}
	s := sha256.Sum256([]byte(p))
	return hex.EncodeToString(s[:6])
}

func errHash(e string) string { return pathHash(e) }

// PollSavepoint reports a savepoint triggered by TriggerSavepoint (the
// FlinkStateSnapshot's status: COMPLETED with its path, FAILED or
// ABANDONED with the operator's error) or by StopWithSavepoint (the
// suspension of the generation reconciled, with a new upgrade savepoint).
// A suspension the operator failed (its savepoint failed: an
// UpgradeFailureException in status.error) is turned back, job.state
// running, so that the operator stops retrying and the job runs on
// untouched, and reported failed. ENOTFOUND for an unknown trigger.
func (d *Driver) PollSavepoint(ctx context.Context, h flinkplane.ClusterHandle, jobID, triggerID string) (flinkplane.SavepointStatus, error) {
	kind, rest, _ := strings.Cut(triggerID, "/")
	switch kind {
	case "snapshot":
		u, err := d.client.Resource(SnapshotResource).Namespace(d.Namespace).Get(ctx, rest, metav1.GetOptions{})
		if isNotFound(err) {
			return flinkplane.SavepointStatus{}, flinkplane.Errorf(flinkplane.ENOTFOUND, "Savepoint trigger %s not found.", triggerID)
		} else if err != nil {
			return flinkplane.SavepointStatus{}, err
		}
		var s FlinkStateSnapshot
		if err := FromUnstructured(u, &s); err != nil {
			return flinkplane.SavepointStatus{}, err
		}
		switch s.Status.State {
		case SnapshotCompleted:
			if s.Status.Path == "" {
				return flinkplane.SavepointStatus{Done: true, Failure: "savepoint completed without a location"}, nil
			}
			return flinkplane.SavepointStatus{Done: true, Location: s.Status.Path}, nil
		case SnapshotFailed, SnapshotAbandoned:
			msg := ParseOperatorError(s.Status.Error).Message
			if msg == "" {
				msg = s.Status.Error
			}
			return flinkplane.SavepointStatus{Done: true, Failure: fmt.Sprintf("FlinkStateSnapshot %s %s: %s", rest, s.Status.State, msg)}, nil
		}
		return flinkplane.SavepointStatus{}, nil
	case "suspend":
		parts := strings.Split(rest, "/")
		gen, err := strconv.ParseInt(parts[0], 10, 64)
		if err != nil || len(parts) != 3 {
			return flinkplane.SavepointStatus{}, flinkplane.Errorf(flinkplane.ENOTFOUND, "Savepoint trigger %s not found.", triggerID)
		}
		fd, err := d.get(ctx, h.ID)
		if isNotFound(err) {
			return flinkplane.SavepointStatus{}, flinkplane.Errorf(flinkplane.ENOTFOUND, "Savepoint trigger %s not found: FlinkDeployment %s is gone.", triggerID, h.ID)
		} else if err != nil {
			return flinkplane.SavepointStatus{}, err
		}
		if suspendedAt(fd, gen) {
			p := fd.Status.JobStatus.UpgradeSavepointPath
			if p == "" || pathHash(p) == parts[1] {
				return flinkplane.SavepointStatus{Done: true, Failure: fmt.Sprintf("the operator suspended FlinkDeployment %s without taking a new savepoint", h.ID)}, nil
			}
			return flinkplane.SavepointStatus{Done: true, Location: p}, nil
		}
		if e := ParseOperatorError(fd.Status.Error); fd.Status.Error != "" && errHash(fd.Status.Error) != parts[2] &&
			fd.Status.ObservedGeneration < gen && (e.Short() == "UpgradeFailureException" || strings.Contains(strings.ToLower(e.Message), "savepoint")) {
			// The savepoint failed; the operator would retry the
			// suspension forever. Turn it back: the job runs on.
			defer d.lock(h.ID)()
			if fd.Spec.Job != nil && fd.Spec.Job.State == JobSuspended {
				if _, aerr := d.applyJob(ctx, fd, func(j *JobSpec) { j.State = JobRunning }); aerr != nil {
					d.logf("kubernetes: cannot turn back the failed suspension of %s: %v", h.ID, aerr)
				}
			}
			return flinkplane.SavepointStatus{Done: true, Failure: "the operator could not stop the job with a savepoint: " + e.String()}, nil
		}
		return flinkplane.SavepointStatus{}, nil
	}
	return flinkplane.SavepointStatus{}, flinkplane.Errorf(flinkplane.ENOTFOUND, "Savepoint trigger %s not found.", triggerID)
}

// DisposeSavepoint removes a savepoint's files from storage and deletes
// the FlinkStateSnapshots of this installation's generations that record
// it (with disposeOnDelete false, the operator does not dispose them
// again). Only savepoints in the storage's savepoints/ are removed
// (EINVALID otherwise); a missing one is not an error.
func (d *Driver) DisposeSavepoint(ctx context.Context, location string) error {
	if d.Storage == nil {
		return flinkplane.Errorf(flinkplane.EINVALID, "No storage is configured; not disposing %q.", location)
	}
	if err := d.Storage.Dispose(ctx, location); err != nil {
		return err
	}
	snaps, err := d.snapshots(ctx, "")
	if err != nil {
		return err
	}
	for _, s := range snaps {
		p := s.Status.Path
		if s.Spec.Savepoint != nil && s.Spec.Savepoint.AlreadyExists && p == "" {
			p = s.Spec.Savepoint.Path
		}
		if samePath(p, location) {
			if err := d.client.Resource(SnapshotResource).Namespace(d.Namespace).Delete(ctx, s.Metadata.Name, metav1.DeleteOptions{}); err != nil && !isNotFound(err) {
				return fmt.Errorf("delete FlinkStateSnapshot %s: %w", s.Metadata.Name, err)
			}
		}
	}
	return nil
}

// snapshots lists the FlinkStateSnapshots of the namespace that refer to
// a generation of this installation (name prefix "fp-"), of one
// FlinkDeployment if name is set.
func (d *Driver) snapshots(ctx context.Context, name string) ([]FlinkStateSnapshot, error) {
	list, err := d.client.Resource(SnapshotResource).Namespace(d.Namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list FlinkStateSnapshots: %w", err)
	}
	var out []FlinkStateSnapshot
	for i := range list.Items {
		var s FlinkStateSnapshot
		if err := FromUnstructured(&list.Items[i], &s); err != nil {
			continue
		}
		ref := ""
		if s.Spec.JobReference != nil {
			ref = s.Spec.JobReference.Name
		}
		if !strings.HasPrefix(ref, "fp-") || (name != "" && ref != name) {
			continue
		}
		out = append(out, s)
	}
	return out, nil
}
