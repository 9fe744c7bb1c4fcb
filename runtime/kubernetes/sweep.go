package kubernetes

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/runtime/local"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

var _ flinkplane.MetricsReader = (*Driver)(nil)

func toUnstructured(v any, u *unstructured.Unstructured) error {
	b, err := json.Marshal(v)
	if err != nil {
		return err
	}
	return u.UnmarshalJSON(b)
}

// selector selects the resources of this installation (and of one
// application if appID is set).
func (d *Driver) selector(appID string) string {
	s := LabelManagedBy + "=" + ManagedBy + "," + LabelInstance + "=" + labelValue(d.Instance)
	if appID != "" {
		s += "," + LabelApplicationID + "=" + labelValue(appID)
	}
	return s
}

func (d *Driver) deployments(ctx context.Context, appID string) ([]FlinkDeployment, error) {
	list, err := d.client.Resource(DeploymentResource).Namespace(d.Namespace).List(ctx, metav1.ListOptions{LabelSelector: d.selector(appID)})
	if err != nil {
		return nil, fmt.Errorf("list FlinkDeployments: %w", err)
	}
	out := make([]FlinkDeployment, 0, len(list.Items))
	for i := range list.Items {
		var fd FlinkDeployment
		if err := FromUnstructured(&list.Items[i], &fd); err == nil {
			out = append(out, fd)
		}
	}
	return out, nil
}

// Sweep suspends (without a savepoint) every running generation of this
// installation that no owned handle names and that is older than
// SweepGrace: a cluster a crashed control plane left behind. Suspended
// generations are kept (rollback targets); they go with their application
// (RemoveApplication). It returns the names it suspended.
func (d *Driver) Sweep(ctx context.Context, owned []flinkplane.ClusterHandle) ([]string, error) {
	keep := map[string]bool{}
	for _, h := range owned {
		keep[h.ID] = true
	}
	list, err := d.deployments(ctx, "")
	if err != nil {
		return nil, err
	}
	var stopped []string
	var errs []error
	for _, fd := range list {
		if keep[fd.Metadata.Name] || fd.Spec.Job == nil || fd.Spec.Job.State != JobRunning || fd.Metadata.DeletionTimestamp != "" {
			continue
		}
		if t, err := time.Parse(time.RFC3339, fd.Metadata.CreationTimestamp); err == nil && time.Since(t) < d.SweepGrace {
			continue
		}
		d.logf("kubernetes: sweeping FlinkDeployment %s: no application owns it", fd.Metadata.Name)
		if err := d.Stop(ctx, flinkplane.ClusterHandle{ID: fd.Metadata.Name}); err != nil {
			errs = append(errs, err)
			continue
		}
		stopped = append(stopped, fd.Metadata.Name)
	}
	return stopped, errors.Join(errs...)
}

// RemoveApplication deletes every FlinkDeployment of an application (the
// operator cancels what still runs and removes its Kubernetes resources),
// the FlinkStateSnapshots that refer to them, and its JARs, checkpoints
// and high-availability files in storage. Savepoints are kept: they are
// snapshots, removed with DisposeSavepoint.
func (d *Driver) RemoveApplication(ctx context.Context, applicationID string) error {
	if applicationID == "" {
		return flinkplane.Errorf(flinkplane.EINVALID, "Invalid application id %q.", applicationID)
	}
	list, err := d.deployments(ctx, applicationID)
	if err != nil {
		return err
	}
	var errs []error
	for _, fd := range list {
		snaps, err := d.snapshots(ctx, fd.Metadata.Name)
		if err != nil {
			errs = append(errs, err)
		}
		for _, s := range snaps {
			if err := d.client.Resource(SnapshotResource).Namespace(d.Namespace).Delete(ctx, s.Metadata.Name, metav1.DeleteOptions{}); err != nil && !isNotFound(err) {
				errs = append(errs, err)
			}
		}
		if err := d.client.Resource(DeploymentResource).Namespace(d.Namespace).Delete(ctx, fd.Metadata.Name, metav1.DeleteOptions{}); err != nil && !isNotFound(err) {
			errs = append(errs, err)
		}
	}
	if d.Storage != nil {
		for _, p := range []string{"checkpoints/", "jars/", "ha/"} {
			if err := d.Storage.RemovePrefix(ctx, p+applicationID); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// ReadMetrics reads a job's metrics from Flink's REST API through the
// service proxy, as the local driver reads them (local.ReadMetricsOf).
func (d *Driver) ReadMetrics(ctx context.Context, h flinkplane.ClusterHandle, jobID, level string) (flinkplane.JobMetrics, error) {
	fd, err := d.jobOf(ctx, h, jobID)
	if err != nil {
		return flinkplane.JobMetrics{}, err
	}
	if !running(fd, jobID) {
		return flinkplane.JobMetrics{}, flinkplane.Errorf(flinkplane.ENOTFOUND, "Job %s does not run on FlinkDeployment %s.", jobID, h.ID)
	}
	return local.ReadMetricsOf(ctx, d.RESTClient(h, 0), h.ID, jobID, level)
}
