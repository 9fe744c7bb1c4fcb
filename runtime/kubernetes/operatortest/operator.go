package operatortest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flinkplane/flinkplane"
	k8s "github.com/flinkplane/flinkplane/runtime/kubernetes"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
)

// Flink runs the Flink clusters of the harness: the local driver, whose
// clusters are real Flink processes on this machine. RESTTransport is how
// the service proxy reaches a cluster's REST API.
type Flink interface {
	flinkplane.ClusterDriver
	RESTTransport(flinkplane.ClusterHandle) (http.RoundTripper, error)
}

// Operator plays the Apache Flink Kubernetes Operator (release 1.15.0)
// for the resources the flinkplane Kubernetes driver writes: it watches
// FlinkDeployments and FlinkStateSnapshots in one namespace and reconciles
// them as the operator's code does, step for step where the driver relies
// on it (each step names the operator class and method it mirrors), with
// the JobManager and TaskManagers run as a local Flink cluster instead of
// pods. Status is written through the status subresource and checked by
// the CRD's schema, as the operator's is.
//
// What it does not play: pods, images, the operator's own Flink client
// and its retries with back-off, Flink's Kubernetes high availability (a
// JobManager that dies is not restarted: the deployment goes MISSING),
// ingress, the autoscaler, session clusters and last-state upgrades.
type Operator struct {
	// Client is a privileged client of the API server.
	Client    dynamic.Interface
	Namespace string
	// NewFlink returns the driver that runs one FlinkDeployment's cluster,
	// configured with its flinkConfiguration (the pods' Flink
	// configuration) and its runtime.
	NewFlink func(conf map[string]string, runtime flinkplane.RuntimeID) Flink
	// Runtimes maps spec.flinkVersion to the runtime that runs it; a
	// version not in it is "not supported by this operator version"
	// (DefaultValidator.validateFlinkVersion).
	Runtimes map[string]flinkplane.RuntimeID
	// LocalPath maps a jarURI (local:///..., file:///...) to a file here.
	LocalPath func(uri string) (string, error)
	// Proxy gets each cluster's REST endpoint as the Service
	// <name>-rest.
	Proxy *ServiceProxy
	// Interval is the resync period (default 250ms); watch events wake
	// the loop earlier.
	Interval time.Duration
	Logf     func(format string, args ...any)

	mu       sync.Mutex
	clusters map[string]*cluster // FlinkDeployment name
	busy     map[string]bool
	events   []Event
	hooks    map[string]func(ctx context.Context, name string) error
	cancel   context.CancelFunc
	wg       sync.WaitGroup
}

type cluster struct {
	flink Flink
	h     flinkplane.ClusterHandle
	jobID string
	// failed holds why the job could not be submitted (the application's
	// main() failed): the job is FAILED with that cause.
	failed string
}

// Event is something the harness did, for tests to assert on.
type Event struct {
	Resource string // FlinkDeployment or FlinkStateSnapshot name
	Reason   string // Submit, Suspended, SpecChanged, SavepointTriggered, ...
	Message  string
}

// Finalizers the Java Operator SDK puts on the operator's resources.
const (
	deploymentFinalizer = k8s.Finalizer
	snapshotFinalizer   = "flinkstatesnapshots.flink.apache.org/finalizer"
)

// Start begins watching and reconciling until Stop.
func (o *Operator) Start() {
	if o.Interval == 0 {
		o.Interval = 250 * time.Millisecond
	}
	o.clusters = map[string]*cluster{}
	o.busy = map[string]bool{}
	ctx, cancel := context.WithCancel(context.Background())
	o.cancel = cancel
	wake := make(chan struct{}, 1)
	poke := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	for _, gvr := range []schema.GroupVersionResource{k8s.DeploymentResource, k8s.SnapshotResource} {
		gvr := gvr
		o.wg.Add(1)
		go func() {
			defer o.wg.Done()
			o.watch(ctx, gvr, poke)
		}()
	}
	o.wg.Add(1)
	go func() {
		defer o.wg.Done()
		t := time.NewTicker(o.Interval)
		defer t.Stop()
		for {
			o.dispatch(ctx)
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			case <-wake:
			}
		}
	}()
}

// Stop ends the reconciliation and stops every Flink cluster it runs.
func (o *Operator) Stop() {
	if o.cancel == nil {
		return
	}
	o.cancel()
	o.wg.Wait()
	o.mu.Lock()
	cs := o.clusters
	o.clusters = map[string]*cluster{}
	o.mu.Unlock()
	for name, c := range cs {
		o.Proxy.Unregister(o.Namespace, name+"-rest")
		c.flink.Stop(context.Background(), c.h)
	}
}

// watch keeps a watch on a resource open and pokes the loop on events.
func (o *Operator) watch(ctx context.Context, gvr schema.GroupVersionResource, poke func()) {
	for ctx.Err() == nil {
		w, err := o.Client.Resource(gvr).Namespace(o.Namespace).Watch(ctx, metav1.ListOptions{})
		if err != nil {
			if ctx.Err() == nil {
				o.logf("operatortest: watch %s: %v", gvr.Resource, err)
			}
			select {
			case <-ctx.Done():
				return
			case <-time.After(time.Second):
			}
			continue
		}
		for ev := range w.ResultChan() {
			if ev.Type != watch.Bookmark {
				poke()
			}
		}
		w.Stop()
	}
}

func (o *Operator) logf(format string, args ...any) {
	if o.Logf != nil {
		o.Logf(format, args...)
	}
}

func (o *Operator) event(resource, reason, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	o.mu.Lock()
	o.events = append(o.events, Event{Resource: resource, Reason: reason, Message: msg})
	o.mu.Unlock()
	o.logf("operatortest: %s %s: %s", resource, reason, msg)
}

// Events returns what the harness did so far.
func (o *Operator) Events() []Event {
	o.mu.Lock()
	defer o.mu.Unlock()
	return append([]Event(nil), o.events...)
}

// Hook makes the harness call fn before it acts on the named step
// ("Deploy", "SuspendSavepoint", "SuspendStateless", "TriggerSavepoint")
// of any resource; an error fails the step as the operator's would fail
// (fault injection).
func (o *Operator) Hook(step string, fn func(ctx context.Context, name string) error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.hooks == nil {
		o.hooks = map[string]func(context.Context, string) error{}
	}
	o.hooks[step] = fn
}

func (o *Operator) hook(ctx context.Context, step, name string) error {
	o.mu.Lock()
	fn := o.hooks[step]
	o.mu.Unlock()
	if fn == nil {
		return nil
	}
	return fn(ctx, name)
}

// SetRuntimes changes the Flink versions the harness supports.
func (o *Operator) SetRuntimes(m map[string]flinkplane.RuntimeID) {
	o.mu.Lock()
	o.Runtimes = m
	o.mu.Unlock()
}

func (o *Operator) runtimeOf(v string) (flinkplane.RuntimeID, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	rt, ok := o.Runtimes[v]
	return rt, ok
}

// Cluster returns the local handle and job id of a FlinkDeployment's
// running cluster.
func (o *Operator) Cluster(name string) (flinkplane.ClusterHandle, string, bool) {
	o.mu.Lock()
	defer o.mu.Unlock()
	c := o.clusters[name]
	if c == nil {
		return flinkplane.ClusterHandle{}, "", false
	}
	return c.h, c.jobID, true
}

// Clusters returns the names of the FlinkDeployments whose cluster runs.
func (o *Operator) Clusters() []string {
	o.mu.Lock()
	defer o.mu.Unlock()
	var out []string
	for n := range o.clusters {
		out = append(out, n)
	}
	return out
}

// dispatch lists the resources and reconciles each one that is not being
// reconciled already (one reconciliation of a resource at a time, as the
// Java Operator SDK schedules them).
func (o *Operator) dispatch(ctx context.Context) {
	for _, kind := range []string{"FlinkDeployment", "FlinkStateSnapshot"} {
		gvr := k8s.DeploymentResource
		if kind == "FlinkStateSnapshot" {
			gvr = k8s.SnapshotResource
		}
		list, err := o.Client.Resource(gvr).Namespace(o.Namespace).List(ctx, metav1.ListOptions{})
		if err != nil {
			if ctx.Err() == nil {
				o.logf("operatortest: list %s: %v", kind, err)
			}
			continue
		}
		for _, item := range list.Items {
			key := kind + "/" + item.GetName()
			o.mu.Lock()
			if o.busy[key] {
				o.mu.Unlock()
				continue
			}
			o.busy[key] = true
			o.mu.Unlock()
			name := item.GetName()
			o.wg.Add(1)
			go func() {
				defer o.wg.Done()
				defer func() {
					o.mu.Lock()
					delete(o.busy, key)
					o.mu.Unlock()
				}()
				var err error
				if kind == "FlinkDeployment" {
					err = o.reconcileDeployment(ctx, name)
				} else {
					err = o.reconcileSnapshot(ctx, name)
				}
				if err != nil && ctx.Err() == nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
					o.logf("operatortest: reconcile %s: %v", key, err)
				}
			}()
		}
	}
}

// operatorError is FlinkResourceException as status.error holds it
// (FlinkResourceExceptionUtils.updateFlinkResourceException).
func operatorError(class, msg string) string {
	b, _ := json.Marshal(map[string]any{"type": class, "message": msg, "additionalMetadata": map[string]any{}, "throwableList": []any{}})
	return string(b)
}

const (
	excValidation = "org.apache.flink.kubernetes.operator.exception.ValidationException"
	excUpgrade    = "org.apache.flink.kubernetes.operator.exception.UpgradeFailureException"
	excReconcile  = "org.apache.flink.kubernetes.operator.exception.ReconciliationException"
	excMissingJM  = "org.apache.flink.kubernetes.operator.exception.MissingJobManagerException"
)

func (o *Operator) getDeployment(ctx context.Context, name string) (*k8s.FlinkDeployment, *unstructured.Unstructured, error) {
	u, err := o.Client.Resource(k8s.DeploymentResource).Namespace(o.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, nil, err
	}
	var fd k8s.FlinkDeployment
	if err := k8s.FromUnstructured(u, &fd); err != nil {
		return nil, nil, err
	}
	return &fd, u, nil
}

// writeStatus writes fd.Status through the status subresource; on a
// conflict (the spec changed meanwhile) it writes it onto the newest
// object: the status is the harness's alone.
func (o *Operator) writeStatus(ctx context.Context, name string, st k8s.FlinkDeploymentStatus) error {
	st.LifecycleState = lifecycle(&st)
	for attempt := 0; ; attempt++ {
		u, err := o.Client.Resource(k8s.DeploymentResource).Namespace(o.Namespace).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		b, err := json.Marshal(st)
		if err != nil {
			return err
		}
		var m map[string]any
		if err := json.Unmarshal(b, &m); err != nil {
			return err
		}
		u.Object["status"] = m
		_, err = o.Client.Resource(k8s.DeploymentResource).Namespace(o.Namespace).UpdateStatus(ctx, u, metav1.UpdateOptions{})
		if err == nil || !apierrors.IsConflict(err) || attempt > 20 {
			if err != nil {
				return fmt.Errorf("write status of %s: %w", name, err)
			}
			return nil
		}
	}
}

// lifecycle is CommonStatus.getLifecycleState.
func lifecycle(st *k8s.FlinkDeploymentStatus) string {
	if st.LifecycleState == "DELETING" || st.LifecycleState == "DELETED" {
		return st.LifecycleState
	}
	last := st.LastReconciled()
	if last == nil {
		if st.Error == "" {
			return "CREATED"
		}
		return "FAILED"
	}
	switch st.ReconciliationStatus.State {
	case "UPGRADING":
		return "UPGRADING"
	case "ROLLING_BACK":
		return "ROLLING_BACK"
	}
	if last.Job != nil && last.Job.State == k8s.JobSuspended {
		return "SUSPENDED"
	}
	if st.JobStatus.State == "FAILED" {
		return "FAILED"
	}
	if (st.JobManagerDeploymentStatus == "MISSING" || st.JobManagerDeploymentStatus == "ERROR") && st.Error != "" &&
		(strings.Contains(st.Error, "Manual restore required.") || strings.Contains(st.Error, "HA metadata is not available")) {
		return "FAILED"
	}
	if st.ReconciliationStatus.State == "ROLLED_BACK" {
		return "ROLLED_BACK"
	}
	if st.ReconciliationStatus.LastStableSpec != "" && st.ReconciliationStatus.LastStableSpec == st.ReconciliationStatus.LastReconciledSpec {
		return "STABLE"
	}
	return "DEPLOYED"
}

// record is ReconciliationStatus.serializeAndSetLastReconciledSpec: the
// spec, with the job state and upgrade mode the operator records, as
// {"spec": ..., "resource_metadata": {...}}, and observedGeneration.
func record(st *k8s.FlinkDeploymentStatus, fd *k8s.FlinkDeployment, spec k8s.FlinkDeploymentSpec, firstDeployment bool) {
	b, _ := json.Marshal(map[string]any{
		"spec":              spec,
		"resource_metadata": map[string]any{"apiVersion": k8s.Group + "/" + k8s.Version, "firstDeployment": firstDeployment},
	})
	st.ReconciliationStatus.LastReconciledSpec = string(b)
	st.ObservedGeneration = fd.Metadata.Generation
}

func cloneSpec(s k8s.FlinkDeploymentSpec) k8s.FlinkDeploymentSpec {
	b, _ := json.Marshal(s)
	var out k8s.FlinkDeploymentSpec
	json.Unmarshal(b, &out)
	return out
}

// updateStatusForSpecReconciliation mirrors
// ReconciliationUtils.updateStatusForSpecReconciliation: errors cleared,
// the spec recorded with the job state after the step, UPGRADING before a
// deployment attempt and DEPLOYED after it; a suspended job is stable.
func updateStatusForSpecReconciliation(st *k8s.FlinkDeploymentStatus, fd *k8s.FlinkDeployment, spec k8s.FlinkDeploymentSpec, jobState string, upgrading bool) {
	// ReconciliationMetadata.from: a first deployment until it is deployed
	// and upgraded again.
	first := st.ReconciliationStatus.LastReconciledSpec == ""
	if m := metaOf(st); m != nil && st.ReconciliationStatus.State != "DEPLOYED" {
		first = first || m["firstDeployment"] == true
	}
	st.Error = ""
	st.ReconciliationStatus.ReconciliationTimestamp = time.Now().UnixMilli()
	st.ReconciliationStatus.State = "DEPLOYED"
	if upgrading {
		st.ReconciliationStatus.State = "UPGRADING"
	}
	rec := cloneSpec(spec)
	rec.Job.State = jobState
	record(st, fd, rec, first)
	if jobState == k8s.JobRunning {
		st.TaskManager = &k8s.TaskManagerInfo{LabelSelector: "component=taskmanager,app=" + fd.Metadata.Name, Replicas: taskManagers(rec)}
	} else {
		st.TaskManager = &k8s.TaskManagerInfo{}
	}
	if spec.Job.State == k8s.JobSuspended {
		st.ReconciliationStatus.LastStableSpec = st.ReconciliationStatus.LastReconciledSpec
	}
}

func metaOf(st *k8s.FlinkDeploymentStatus) map[string]any {
	var w struct {
		Meta map[string]any `json:"resource_metadata"`
	}
	if json.Unmarshal([]byte(st.ReconciliationStatus.LastReconciledSpec), &w) != nil {
		return nil
	}
	return w.Meta
}

func taskManagers(spec k8s.FlinkDeploymentSpec) int {
	slots, _ := strconv.Atoi(spec.FlinkConfiguration["taskmanager.numberOfTaskSlots"])
	slots = max(slots, 1)
	par := 1
	if spec.Job != nil {
		par = max(spec.Job.Parallelism, 1)
	}
	return (par + slots - 1) / slots
}

// validate mirrors the parts of DefaultValidator.validateDeployment that
// apply to the driver's resources.
func (o *Operator) validate(fd *k8s.FlinkDeployment, last *k8s.FlinkDeploymentSpec) string {
	name := fd.Metadata.Name
	ok := len(name) <= 45 && len(name) > 0 && name[0] >= 'a' && name[0] <= 'z' && name[len(name)-1] != '-'
	for _, r := range name {
		ok = ok && (r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-')
	}
	if !ok {
		return fmt.Sprintf("The FlinkDeployment name: %s is invalid, must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123'), and the length must be no more than 45 characters.", name)
	}
	spec := fd.Spec
	if spec.FlinkVersion == "" {
		return "Flink Version must be defined."
	}
	if _, ok := o.runtimeOf(spec.FlinkVersion); !ok {
		return "Flink version " + spec.FlinkVersion + " is not supported by this operator version"
	}
	conf := spec.FlinkConfiguration
	for _, k := range []string{"kubernetes.namespace", "kubernetes.cluster-id", "high-availability.cluster-id"} {
		if _, ok := conf[k]; ok {
			return "Forbidden Flink config key: " + k
		}
	}
	if spec.Job != nil {
		if spec.Job.UpgradeMode != k8s.UpgradeStateless && conf["execution.checkpointing.dir"] == "" && conf["state.checkpoints.dir"] == "" {
			return "Checkpoint directory[execution.checkpointing.dir] must be defined for last-state and savepoint upgrade modes"
		}
		if spec.Job.UpgradeMode == k8s.UpgradeSavepoint && conf["execution.checkpointing.savepoint-dir"] == "" && conf["state.savepoints.dir"] == "" {
			return "Job could not be upgraded with savepoint while config key[execution.checkpointing.savepoint-dir] is not set"
		}
		if spec.Job.Parallelism < 1 && (spec.TaskManager == nil || spec.TaskManager.Replicas == nil) {
			return "Job parallelism must be larger than 0"
		}
		if last != nil && last.Job != nil && spec.Job.SavepointRedeployNonce != 0 &&
			spec.Job.SavepointRedeployNonce != last.Job.SavepointRedeployNonce && spec.Job.InitialSavepointPath == "" {
			return "InitialSavepointPath must not be empty for savepoint redeployment"
		}
	}
	if last != nil && (last.Job == nil) != (spec.Job == nil) {
		return "Cannot switch between session and job cluster"
	}
	return ""
}

// specChanged compares the spec with the last reconciled one as the
// operator's ReflectiveDiffBuilder does for what matters here (the
// upgrade mode is not a change by itself).
func specChanged(last, cur k8s.FlinkDeploymentSpec) bool {
	a, b := cloneSpec(last), cloneSpec(cur)
	if a.Job != nil && b.Job != nil {
		a.Job.UpgradeMode, b.Job.UpgradeMode = "", ""
	}
	return !reflect.DeepEqual(a, b)
}

// reconcileDeployment is FlinkDeploymentController.reconcile: observe,
// validate, reconcile.
func (o *Operator) reconcileDeployment(ctx context.Context, name string) error {
	fd, u, err := o.getDeployment(ctx, name)
	if err != nil {
		return err
	}
	if fd.Metadata.DeletionTimestamp != "" {
		return o.cleanupDeployment(ctx, fd, u)
	}
	if !contains(fd.Metadata.Finalizers, deploymentFinalizer) {
		// The Java Operator SDK adds its finalizer before the first
		// reconciliation.
		u.SetFinalizers(append(u.GetFinalizers(), deploymentFinalizer))
		_, err := o.Client.Resource(k8s.DeploymentResource).Namespace(o.Namespace).Update(ctx, u, metav1.UpdateOptions{})
		return err
	}
	st := fd.Status
	before, _ := json.Marshal(st)
	last := st.LastReconciled()

	o.observe(ctx, fd, &st, last)

	if msg := o.validate(fd, last); msg != "" {
		// ReconciliationUtils.applyValidationErrorAndResetSpec: the error,
		// and the last reconciled spec is what stays deployed.
		st.Error = operatorError(excValidation, msg)
		o.eventOnce(name, "ValidationError", msg)
		return o.writeIfChanged(ctx, name, st, before)
	}
	if fd.Spec.Job == nil {
		return o.writeIfChanged(ctx, name, st, before)
	}

	switch {
	case last == nil:
		// AbstractFlinkResourceReconciler.reconcile, first deployment.
		if fd.Spec.Job.State == k8s.JobSuspended {
			// "If the job is submitted in suspend state, no need to reconcile".
			return o.writeIfChanged(ctx, name, st, before)
		}
		return o.firstDeploy(ctx, fd, st)
	case specChanged(*last, fd.Spec) || st.ReconciliationStatus.State == "UPGRADING":
		o.event(name, "SpecChanged", "UPGRADE change(s) detected, starting reconciliation.")
		return o.reconcileSpecChange(ctx, fd, st, *last)
	default:
		// ReconciliationUtils.updateReconciliationMetadata, then
		// reconcileOtherChanges: ApplicationReconciler
		// .cleanupTerminalJmAfterTtl.
		st.ObservedGeneration = fd.Metadata.Generation
		o.cleanupTerminalJm(ctx, fd, &st)
		return o.writeIfChanged(ctx, name, st, before)
	}
}

// cleanupTerminalJm removes the JobManager of a job in a terminal state
// once kubernetes.operator.jm-deployment.shutdown-ttl (default one day)
// has passed since the job's last update.
func (o *Operator) cleanupTerminalJm(ctx context.Context, fd *k8s.FlinkDeployment, st *k8s.FlinkDeploymentStatus) {
	if !terminalState(st.JobStatus.State) || st.JobManagerDeploymentStatus == "MISSING" || o.clusterOf(fd.Metadata.Name) == nil {
		return
	}
	ttl := 24 * time.Hour
	if v := fd.Spec.FlinkConfiguration["kubernetes.operator.jm-deployment.shutdown-ttl"]; v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			ttl = d
		}
	}
	ms, err := strconv.ParseInt(st.JobStatus.UpdateTime, 10, 64)
	if err != nil || time.Since(time.UnixMilli(ms)) < ttl {
		return
	}
	o.logf("operatortest: %s: removing JobManager deployment for terminal application", fd.Metadata.Name)
	o.deleteCluster(ctx, fd.Metadata.Name, st)
}

func (o *Operator) eventOnce(resource, reason, msg string) {
	o.mu.Lock()
	for _, e := range o.events {
		if e.Resource == resource && e.Reason == reason && e.Message == msg {
			o.mu.Unlock()
			return
		}
	}
	o.mu.Unlock()
	o.event(resource, reason, "%s", msg)
}

func (o *Operator) writeIfChanged(ctx context.Context, name string, st k8s.FlinkDeploymentStatus, before []byte) error {
	st.LifecycleState = lifecycle(&st)
	now, _ := json.Marshal(st)
	if string(now) == string(before) {
		return nil
	}
	return o.writeStatus(ctx, name, st)
}

func contains(list []string, v string) bool {
	for _, x := range list {
		if x == v {
			return true
		}
	}
	return false
}

// firstDeploy is the first deployment of AbstractFlinkResourceReconciler
// .reconcile with updateStatusBeforeFirstDeployment: the upgrade mode
// recorded is savepoint when job.initialSavepointPath is set (and that
// path becomes status.jobStatus.upgradeSavepointPath), else stateless; the
// spec is recorded before the deployment is attempted.
func (o *Operator) firstDeploy(ctx context.Context, fd *k8s.FlinkDeployment, st k8s.FlinkDeploymentStatus) error {
	spec := cloneSpec(fd.Spec)
	spec.Job.UpgradeMode = k8s.UpgradeStateless
	if sp := spec.Job.InitialSavepointPath; sp != "" {
		st.JobStatus.UpgradeSavepointPath = sp
		spec.Job.UpgradeMode = k8s.UpgradeSavepoint
	}
	updateStatusForSpecReconciliation(&st, fd, spec, k8s.JobSuspended, true)
	if err := o.writeStatus(ctx, fd.Metadata.Name, st); err != nil {
		return err
	}
	o.deploy(ctx, fd, spec, &st, spec.Job.InitialSavepointPath)
	updateStatusForSpecReconciliation(&st, fd, spec, k8s.JobRunning, false)
	return o.writeStatus(ctx, fd.Metadata.Name, st)
}

// reconcileSpecChange mirrors AbstractJobReconciler.reconcileSpecChange
// for application deployments.
func (o *Operator) reconcileSpecChange(ctx context.Context, fd *k8s.FlinkDeployment, st k8s.FlinkDeploymentStatus, last k8s.FlinkDeploymentSpec) error {
	name := fd.Metadata.Name
	spec := cloneSpec(fd.Spec)
	current, desired := last.Job.State, spec.Job.State

	// DiffType.SAVEPOINT_REDEPLOY: AbstractJobReconciler.redeployWithSavepoint.
	if spec.Job.SavepointRedeployNonce != 0 && spec.Job.SavepointRedeployNonce != last.Job.SavepointRedeployNonce {
		o.event(name, "SpecChanged", "SAVEPOINT_REDEPLOY: redeploying from %s", spec.Job.InitialSavepointPath)
		if err := o.cancelJob(ctx, fd, &st, "STATELESS"); err != nil {
			return o.failReconcile(ctx, name, st, excUpgrade, err.Error())
		}
		spec.Job.UpgradeMode = k8s.UpgradeSavepoint
		st.JobStatus.UpgradeSavepointPath = spec.Job.InitialSavepointPath
		if desired == k8s.JobRunning {
			o.deploy(ctx, fd, spec, &st, spec.Job.InitialSavepointPath)
		}
		updateStatusForSpecReconciliation(&st, fd, spec, desired, false)
		st.ReconciliationStatus.LastStableSpec = st.ReconciliationStatus.LastReconciledSpec // markReconciledSpecAsStable
		return o.writeStatus(ctx, name, st)
	}

	if current == k8s.JobRunning {
		// getJobUpgrade.
		mode, restore := "", spec.Job.UpgradeMode
		terminal := terminalState(st.JobStatus.State)
		switch spec.Job.UpgradeMode {
		case k8s.UpgradeStateless:
			mode = "STATELESS"
			if terminal {
				mode = "NOOP"
			}
		default: // savepoint
			switch {
			case terminal:
				// useStatusSavepoint: the recorded savepoint is the state.
				if st.JobStatus.UpgradeSavepointPath == "" {
					return o.failReconcile(ctx, name, st, excUpgrade,
						"Job is in terminal state but last checkpoint is unknown, possibly due to an unrecoverable restore error. Manual restore required.")
				}
				mode = "NOOP"
			case st.JobStatus.State == "RUNNING":
				mode = "SAVEPOINT"
			default:
				// Last-state fallback is disabled: "waiting for upgradable state".
				o.eventOnce(name, "UpgradePending", "Job is not running, waiting for upgradable state")
				return o.writeStatus(ctx, name, st)
			}
		}
		if mode != "NOOP" {
			o.event(name, "Suspended", "Suspending existing deployment.")
		}
		if err := o.cancelJob(ctx, fd, &st, mode); err != nil {
			return o.failReconcile(ctx, name, st, excUpgrade, err.Error())
		}
		spec.Job.UpgradeMode = restore
		if desired == k8s.JobRunning {
			updateStatusForSpecReconciliation(&st, fd, spec, k8s.JobSuspended, true)
		} else {
			updateStatusForSpecReconciliation(&st, fd, spec, k8s.JobSuspended, false)
		}
		if mode != "NOOP" {
			// The restore happens at the next reconciliation (UPGRADING).
			return o.writeStatus(ctx, name, st)
		}
		last.Job.UpgradeMode = restore
		current = k8s.JobSuspended
	}

	if current == k8s.JobSuspended && desired == k8s.JobRunning {
		// "We inherit the upgrade mode unless stateless upgrade requested".
		if spec.Job.UpgradeMode != k8s.UpgradeStateless {
			spec.Job.UpgradeMode = last.Job.UpgradeMode
		}
		updateStatusForSpecReconciliation(&st, fd, spec, k8s.JobSuspended, true)
		if err := o.writeStatus(ctx, name, st); err != nil {
			return err
		}
		// restoreJob: from the upgrade savepoint when the mode is savepoint.
		sp := ""
		if spec.Job.UpgradeMode == k8s.UpgradeSavepoint {
			sp = st.JobStatus.UpgradeSavepointPath
		}
		o.deploy(ctx, fd, spec, &st, sp)
		updateStatusForSpecReconciliation(&st, fd, spec, k8s.JobRunning, false)
		return o.writeStatus(ctx, name, st)
	}
	if current == k8s.JobSuspended && desired == k8s.JobSuspended {
		// A change of a suspended deployment is taken up when it resumes.
		return o.writeStatus(ctx, name, st)
	}
	return o.writeStatus(ctx, name, st)
}

// failReconcile records an exception of a reconciliation in status.error
// (FlinkDeploymentController.updateErrorStatus); the spec is retried at a
// later reconciliation.
func (o *Operator) failReconcile(ctx context.Context, name string, st k8s.FlinkDeploymentStatus, class, msg string) error {
	st.Error = operatorError(class, msg)
	o.event(name, "Error", "%s", msg)
	if werr := o.writeStatus(ctx, name, st); werr != nil {
		return werr
	}
	// The operator retries with back-off; a second later here.
	select {
	case <-ctx.Done():
	case <-time.After(time.Second):
	}
	return nil
}

func terminalState(s string) bool {
	switch s {
	case "FAILED", "CANCELED", "FINISHED", "SUSPENDED":
		return true
	}
	return false
}

// cancelJob mirrors AbstractFlinkService.cancelJob (ApplicationReconciler
// .cancelJob): SAVEPOINT stops the job with a savepoint into
// state.savepoints.dir and records it (setUpgradeSavepointPath, with an
// UPGRADE FlinkStateSnapshot), and the JobManager stays with its finished
// job (SuspendMode.SAVEPOINT does not deleteCluster; it goes after
// kubernetes.operator.jm-deployment.shutdown-ttl, cleanupTerminalJmAfterTtl);
// STATELESS cancels a job that can be cancelled and deletes the cluster.
// NOOP changes nothing.
func (o *Operator) cancelJob(ctx context.Context, fd *k8s.FlinkDeployment, st *k8s.FlinkDeploymentStatus, mode string) error {
	name := fd.Metadata.Name
	if mode == "NOOP" {
		return nil
	}
	o.mu.Lock()
	c := o.clusters[name]
	o.mu.Unlock()
	switch mode {
	case "SAVEPOINT":
		if err := o.hook(ctx, "SuspendSavepoint", name); err != nil {
			return err
		}
		if c == nil {
			return errors.New("no JobManager to take the savepoint")
		}
		dir := confValue(fd.Spec.FlinkConfiguration, "execution.checkpointing.savepoint-dir", "state.savepoints.dir")
		start := time.Now()
		trig, err := c.flink.StopWithSavepoint(ctx, c.h, c.jobID, dir)
		if err != nil {
			return fmt.Errorf("stop with savepoint: %w", err)
		}
		loc := ""
		for {
			s, err := c.flink.PollSavepoint(ctx, c.h, c.jobID, trig)
			if err != nil {
				return fmt.Errorf("stop with savepoint: %w", err)
			}
			if s.Done {
				if s.Failure != "" {
					return fmt.Errorf("savepoint failed: %s", s.Failure)
				}
				loc = s.Location
				break
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(200 * time.Millisecond):
			}
		}
		o.event(name, "Suspended", "Job %s stopped with savepoint %s", c.jobID, loc)
		if err := o.setUpgradeSavepointPath(ctx, fd, st, loc, start); err != nil {
			return err
		}
		st.JobStatus.State = "FINISHED"
		st.JobStatus.UpdateTime = strconv.FormatInt(time.Now().UnixMilli(), 10)
		return nil
	case "STATELESS":
		if err := o.hook(ctx, "SuspendStateless", name); err != nil {
			return err
		}
		if c != nil && st.JobStatus.State != "RECONCILING" && !terminalState(st.JobStatus.State) {
			if err := c.flink.Cancel(ctx, c.h, c.jobID); err != nil {
				o.logf("operatortest: cancel job of %s: %v (deleting the cluster anyway)", name, err)
			}
		}
	}
	o.deleteCluster(ctx, name, st)
	st.JobStatus.State = "FINISHED"
	return nil
}

func confValue(c map[string]string, keys ...string) string {
	for _, k := range keys {
		if v := c[k]; v != "" {
			return v
		}
	}
	return ""
}

// deleteCluster is deleteClusterDeployment: the JobManager goes, and with
// it the Service.
func (o *Operator) deleteCluster(ctx context.Context, name string, st *k8s.FlinkDeploymentStatus) {
	o.mu.Lock()
	c := o.clusters[name]
	delete(o.clusters, name)
	o.mu.Unlock()
	o.Proxy.Unregister(o.Namespace, name+"-rest")
	if c != nil {
		if err := c.flink.Stop(context.WithoutCancel(ctx), c.h); err != nil {
			o.logf("operatortest: stop cluster of %s: %v", name, err)
		}
		o.event(name, "Cleanup", "Deleted JobManager deployment %s", c.h.ID)
	}
	st.JobManagerDeploymentStatus = "MISSING"
}

// setUpgradeSavepointPath mirrors AbstractJobReconciler
// .setUpgradeSavepointPath with snapshot resources enabled: the path in
// status.jobStatus.upgradeSavepointPath and a FlinkStateSnapshot of
// trigger type UPGRADE (FlinkStateSnapshotUtils.createUpgradeSnapshotResource:
// alreadyExists, disposeOnDelete from the job's configuration).
func (o *Operator) setUpgradeSavepointPath(ctx context.Context, fd *k8s.FlinkDeployment, st *k8s.FlinkDeploymentStatus, loc string, at time.Time) error {
	st.JobStatus.UpgradeSavepointPath = loc
	snap := k8s.FlinkStateSnapshot{
		APIVersion: k8s.Group + "/" + k8s.Version, Kind: "FlinkStateSnapshot",
		Metadata: k8s.Metadata{
			Name:      fmt.Sprintf("%s-savepoint-upgrade-%d", fd.Metadata.Name, at.UnixMilli()),
			Namespace: o.Namespace,
			Labels:    map[string]string{"snapshot.trigger-type": "UPGRADE"},
		},
		Spec: k8s.FlinkStateSnapshotSpec{
			JobReference: &k8s.JobReference{Kind: "FlinkDeployment", Name: fd.Metadata.Name},
			Savepoint: &k8s.SavepointSpec{Path: loc, FormatType: "CANONICAL", AlreadyExists: true,
				DisposeOnDelete: fd.Spec.FlinkConfiguration["kubernetes.operator.savepoint.dispose-on-delete"] == "true"},
		},
	}
	b, _ := json.Marshal(snap)
	u := &unstructured.Unstructured{}
	if err := u.UnmarshalJSON(b); err != nil {
		return err
	}
	if _, err := o.Client.Resource(k8s.SnapshotResource).Namespace(o.Namespace).Create(ctx, u, metav1.CreateOptions{}); err != nil {
		return fmt.Errorf("create upgrade snapshot: %w", err)
	}
	return nil
}

// deploy mirrors ApplicationReconciler.deploy: the job id from
// $internal.pipeline.job-id (or one generated and recorded first:
// setJobIdIfNecessary), the application cluster submitted with the
// savepoint (execution.savepoint.path), the job RECONCILING and the
// JobManager DEPLOYING. Here the cluster is a local Flink cluster with the
// FlinkDeployment's configuration, and the job is submitted to it. A job
// whose submission fails is FAILED with the cause, and the cluster stays
// (the operator sets execution.shutdown-on-application-finish false and
// execution.submit-failed-job-on-application-error true).
func (o *Operator) deploy(ctx context.Context, fd *k8s.FlinkDeployment, spec k8s.FlinkDeploymentSpec, st *k8s.FlinkDeploymentStatus, savepoint string) {
	name := fd.Metadata.Name
	if old := o.clusterOf(name); old != nil {
		// "Deleting cluster with terminated application before new deployment".
		o.deleteCluster(ctx, name, st)
	}
	jobID := spec.FlinkConfiguration[k8s.JobIDKey]
	if jobID == "" {
		jobID = st.JobStatus.JobID
		if jobID == "" {
			jobID = randomHex(16)
		}
	}
	st.JobStatus.JobID = jobID
	st.JobStatus.JobName = name
	st.JobStatus.State = "RECONCILING"
	st.JobManagerDeploymentStatus = "DEPLOYING"
	o.event(name, "Submit", "Starting deployment (job %s, savepoint %q)", jobID, savepoint)
	fail := func(err error) {
		st.JobStatus.State = "FAILED"
		st.Error = operatorError(excReconcile, err.Error())
		o.event(name, "Error", "deploy: %v", err)
	}
	if err := o.hook(ctx, "Deploy", name); err != nil {
		fail(err)
		return
	}
	rt, _ := o.runtimeOf(spec.FlinkVersion)
	cs := clusterSpec(fd, spec, rt)
	f := o.NewFlink(flinkConf(spec.FlinkConfiguration), rt)
	h, err := f.Start(ctx, cs)
	if err != nil {
		st.JobManagerDeploymentStatus = "ERROR"
		fail(fmt.Errorf("JobManager deployment failed: %w", err))
		return
	}
	c := &cluster{flink: f, h: h, jobID: jobID}
	o.mu.Lock()
	o.clusters[name] = c
	o.mu.Unlock()
	if tr, err := f.RESTTransport(h); err == nil {
		o.Proxy.Register(o.Namespace, name+"-rest", h.RESTURL, tr)
	}
	jar, err := o.LocalPath(spec.Job.JarURI)
	if err != nil {
		c.failed = err.Error()
		fail(err)
		return
	}
	_, err = f.Submit(ctx, h, flinkplane.JobSpec{JarPath: jar, EntryClass: spec.Job.EntryClass, Args: spec.Job.Args, JobID: jobID,
		Parallelism: spec.Job.Parallelism, RestoreFrom: savepoint, AllowNonRestoredState: spec.Job.AllowNonRestoredState})
	if err != nil {
		c.failed = flinkplane.ErrorMessage(err)
		if flinkplane.ErrorCode(err) == flinkplane.EINTERNAL {
			c.failed = err.Error()
		}
		fail(errors.New(c.failed))
		st.JobManagerDeploymentStatus = "READY"
		return
	}
	st.JobStatus.StartTime = strconv.FormatInt(time.Now().UnixMilli(), 10)
}

func (o *Operator) clusterOf(name string) *cluster {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.clusters[name]
}

// flinkConf is the configuration the harness's cluster runs with: the
// FlinkDeployment's flinkConfiguration without what only applies to pods
// (Kubernetes, the operator's own keys, Kubernetes HA, the fixed job id,
// which the submission carries).
func flinkConf(c map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range c {
		if strings.HasPrefix(k, "kubernetes.") || strings.HasPrefix(k, "high-availability") || strings.HasPrefix(k, "$internal.") {
			continue
		}
		out[k] = v
	}
	return out
}

// clusterSpec derives the local cluster of a FlinkDeployment: its runtime,
// parallelism, slots per TaskManager, checkpointing, and the
// EnvironmentProperties its pod template's init container writes.
func clusterSpec(fd *k8s.FlinkDeployment, spec k8s.FlinkDeploymentSpec, rt flinkplane.RuntimeID) flinkplane.ClusterSpec {
	slots, _ := strconv.Atoi(spec.FlinkConfiguration["taskmanager.numberOfTaskSlots"])
	cs := flinkplane.ClusterSpec{
		ApplicationName:   fd.Metadata.Annotations[k8s.AnnotationApplication],
		ApplicationID:     fd.Metadata.Name,
		Runtime:           rt,
		Parallelism:       max(spec.Job.Parallelism, 1),
		ParallelismPerKPU: max(slots, 1),
	}
	if iv, err := time.ParseDuration(spec.FlinkConfiguration["execution.checkpointing.interval"]); err == nil {
		cs.Checkpoint.Enabled, cs.Checkpoint.Interval = true, iv
		cs.Checkpoint.MinPauseBetweenCheckpoints, _ = time.ParseDuration(spec.FlinkConfiguration["execution.checkpointing.min-pause"])
	}
	if pt, ok := spec.PodTemplate["spec"].(map[string]any); ok {
		inits, _ := pt["initContainers"].([]any)
		for _, ic := range inits {
			env, _ := ic.(map[string]any)["env"].([]any)
			for _, e := range env {
				m, _ := e.(map[string]any)
				if m["name"] == k8s.PropertiesEnv {
					s, _ := m["value"].(string)
					json.Unmarshal([]byte(s), &cs.Properties)
				}
			}
		}
	}
	return cs
}

// observe mirrors ApplicationObserver (AbstractFlinkDeploymentObserver
// .observeJmDeployment and JobStatusObserver): the JobManager deployment
// goes DEPLOYING → DEPLOYED_NOT_READY → READY as its REST endpoint
// answers, the job's state is read from Flink's REST API, a lost
// JobManager makes the deployment MISSING ("Missing JobManager
// deployment"), and a running job makes the last reconciled spec stable
// (ReconciliationUtils.checkAndUpdateStableSpec).
func (o *Operator) observe(ctx context.Context, fd *k8s.FlinkDeployment, st *k8s.FlinkDeploymentStatus, last *k8s.FlinkDeploymentSpec) {
	if last == nil || last.Job == nil {
		return
	}
	name := fd.Metadata.Name
	c := o.clusterOf(name)
	if c == nil {
		if last.Job.State == k8s.JobRunning && st.JobManagerDeploymentStatus != "MISSING" && st.JobManagerDeploymentStatus != "ERROR" &&
			st.ReconciliationStatus.State == "DEPLOYED" {
			st.JobManagerDeploymentStatus = "MISSING"
			if !terminalState(st.JobStatus.State) {
				st.JobStatus.State = "RECONCILING"
			}
			st.Error = operatorError(excMissingJM, "Missing JobManager deployment")
			o.event(name, "Missing", "Missing JobManager deployment")
		}
		return
	}
	alive, err := c.flink.Adopt(ctx, c.h)
	if err == nil && !alive {
		o.mu.Lock()
		delete(o.clusters, name)
		o.mu.Unlock()
		o.Proxy.Unregister(o.Namespace, name+"-rest")
		st.JobManagerDeploymentStatus = "MISSING"
		if !terminalState(st.JobStatus.State) {
			st.JobStatus.State = "RECONCILING"
		}
		st.Error = operatorError(excMissingJM, "Missing JobManager deployment")
		o.event(name, "Missing", "Missing JobManager deployment")
		return
	}
	switch st.JobManagerDeploymentStatus {
	case "DEPLOYING":
		if alive {
			st.JobManagerDeploymentStatus = "DEPLOYED_NOT_READY"
		}
		return
	case "DEPLOYED_NOT_READY":
		st.JobManagerDeploymentStatus = "READY"
		return
	case "READY":
	default:
		return
	}
	if c.failed != "" {
		// JobStatusObserver.recordJobErrorIfPresent: a FAILED job's cause
		// in status.error (the application's main() failed: with
		// execution.submit-failed-job-on-application-error the job is
		// FAILED with it).
		st.JobStatus.State = "FAILED"
		st.Error = operatorError("org.apache.flink.client.program.ProgramInvocationException", c.failed)
		return
	}
	jh, err := c.flink.JobHealth(ctx, c.h, c.jobID)
	if err != nil {
		return
	}
	if jh.State == "FAILED" && jh.RootCause != "" {
		class, _, _ := strings.Cut(jh.RootCause, ":")
		st.Error = operatorError(strings.TrimSpace(class), jh.RootCause)
	}
	if jh.State != "" && jh.State != st.JobStatus.State {
		st.JobStatus.State = jh.State
		st.JobStatus.UpdateTime = strconv.FormatInt(time.Now().UnixMilli(), 10)
	}
	if !jh.StartTime.IsZero() {
		st.JobStatus.StartTime = strconv.FormatInt(jh.StartTime.UnixMilli(), 10)
	}
	if st.ReconciliationStatus.State == "DEPLOYED" && jh.State == "RUNNING" {
		st.ReconciliationStatus.LastStableSpec = st.ReconciliationStatus.LastReconciledSpec
	}
	// clearErrorsIfDeploymentIsHealthy.
	if st.JobManagerDeploymentStatus != "ERROR" && st.JobStatus.State != "FAILED" && st.ReconciliationStatus.LastStableSpec != "" &&
		st.ReconciliationStatus.LastStableSpec == st.ReconciliationStatus.LastReconciledSpec {
		st.Error = ""
	}
}

// cleanupDeployment is ApplicationReconciler.cleanupInternal on deletion:
// the job is cancelled (no savepoint on deletion), the cluster deleted,
// the finalizer removed.
func (o *Operator) cleanupDeployment(ctx context.Context, fd *k8s.FlinkDeployment, u *unstructured.Unstructured) error {
	name := fd.Metadata.Name
	if c := o.clusterOf(name); c != nil {
		if !terminalState(fd.Status.JobStatus.State) {
			c.flink.Cancel(ctx, c.h, c.jobID)
		}
		st := fd.Status
		o.deleteCluster(ctx, name, &st)
	}
	if !contains(fd.Metadata.Finalizers, deploymentFinalizer) {
		return nil
	}
	var fin []string
	for _, f := range u.GetFinalizers() {
		if f != deploymentFinalizer {
			fin = append(fin, f)
		}
	}
	u.SetFinalizers(fin)
	_, err := o.Client.Resource(k8s.DeploymentResource).Namespace(o.Namespace).Update(ctx, u, metav1.UpdateOptions{})
	if err == nil {
		o.event(name, "Cleanup", "Cleaning up FlinkDeployment")
	}
	return err
}

// reconcileSnapshot mirrors FlinkStateSnapshotController.reconcile with
// StateSnapshotObserver and StateSnapshotReconciler for savepoints.
func (o *Operator) reconcileSnapshot(ctx context.Context, name string) error {
	u, err := o.Client.Resource(k8s.SnapshotResource).Namespace(o.Namespace).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	var s k8s.FlinkStateSnapshot
	if err := k8s.FromUnstructured(u, &s); err != nil {
		return err
	}
	if s.Metadata.DeletionTimestamp != "" {
		// StateSnapshotReconciler.cleanup: without disposeOnDelete the
		// resource just goes.
		var fin []string
		for _, f := range u.GetFinalizers() {
			if f != snapshotFinalizer {
				fin = append(fin, f)
			}
		}
		u.SetFinalizers(fin)
		_, err := o.Client.Resource(k8s.SnapshotResource).Namespace(o.Namespace).Update(ctx, u, metav1.UpdateOptions{})
		return err
	}
	if !contains(s.Metadata.Finalizers, snapshotFinalizer) {
		u.SetFinalizers(append(u.GetFinalizers(), snapshotFinalizer))
		_, err := o.Client.Resource(k8s.SnapshotResource).Namespace(o.Namespace).Update(ctx, u, metav1.UpdateOptions{})
		return err
	}
	st := s.Status
	if st.State == "" {
		st.State = k8s.SnapshotTriggerPending // FlinkStateSnapshotStatus's default
	}
	before := s.Status
	var target *k8s.FlinkDeployment
	if s.Spec.JobReference != nil && s.Spec.JobReference.Name != "" {
		target, _, _ = o.getDeployment(ctx, s.Spec.JobReference.Name)
	}
	now := time.Now().UTC().Format(time.RFC3339)
	fail := func(msg string) {
		// updateErrorStatus with ReconciliationUtils.updateForReconciliationError.
		st.Failures++
		st.ResultTimestamp = now
		st.Error = operatorError(excReconcile, msg)
		st.State = k8s.SnapshotFailed
		limit := -1
		if s.Spec.BackoffLimit != nil {
			limit = *s.Spec.BackoffLimit
		}
		// "failed and will be retried" unless the failures exceed the
		// backoff limit (a limit of 0: no retry).
		if st.Failures <= limit {
			st.State = k8s.SnapshotTriggerPending
		}
		o.event(name, "SavepointError", "%s", msg)
	}
	abandon := func() bool {
		// FlinkStateSnapshotUtils.abandonSnapshotIfJobNotRunning.
		if target == nil {
			st.State, st.Path, st.ResultTimestamp = k8s.SnapshotAbandoned, "", now
			st.Error = fmt.Sprintf("Secondary resource %s for savepoint %s was not found", s.Spec.JobReference.Name, name)
			return true
		}
		if target.Status.JobStatus.State != "RUNNING" {
			st.State, st.Path, st.ResultTimestamp = k8s.SnapshotAbandoned, "", now
			st.Error = fmt.Sprintf("Secondary resource %s for savepoint %s is not running", s.Spec.JobReference.Name, name)
			return true
		}
		return false
	}
	switch {
	case s.Spec.Savepoint == nil:
		// Only savepoints are taken by the driver.
	case st.State == k8s.SnapshotInProgress:
		// StateSnapshotObserver.observeSnapshotState.
		if abandon() {
			break
		}
		c := o.clusterOf(target.Metadata.Name)
		if c == nil {
			fail("no JobManager")
			break
		}
		r, err := c.flink.PollSavepoint(ctx, c.h, target.Status.JobStatus.JobID, st.TriggerID)
		switch {
		case err != nil:
			fail(err.Error())
		case r.Done && r.Failure != "":
			fail(r.Failure)
		case r.Done:
			st.State, st.Path, st.Error, st.ResultTimestamp = k8s.SnapshotCompleted, r.Location, "", now
			o.event(name, "SavepointCompleted", "Savepoint %s", r.Location)
		}
	case st.State == k8s.SnapshotTriggerPending:
		// StateSnapshotReconciler.reconcile.
		if s.Spec.Savepoint.AlreadyExists {
			st.State, st.Path, st.Error, st.ResultTimestamp, st.TriggerTimestamp = k8s.SnapshotCompleted, s.Spec.Savepoint.Path, "", now, now
			break
		}
		if s.Spec.JobReference == nil || s.Spec.JobReference.Name == "" {
			o.eventOnce(name, "ValidationError", "Job reference must be supplied for this snapshot")
			return nil
		}
		if abandon() {
			break
		}
		if err := o.hook(ctx, "TriggerSavepoint", name); err != nil {
			fail(err.Error())
			break
		}
		c := o.clusterOf(target.Metadata.Name)
		if c == nil {
			fail("no JobManager")
			break
		}
		path := s.Spec.Savepoint.Path
		if path == "" {
			path = confValue(target.Spec.FlinkConfiguration, "execution.checkpointing.savepoint-dir", "state.savepoints.dir")
		}
		id, err := c.flink.TriggerSavepoint(ctx, c.h, target.Status.JobStatus.JobID, path)
		if err != nil {
			fail(err.Error())
			break
		}
		st.State, st.TriggerID, st.TriggerTimestamp = k8s.SnapshotInProgress, id, now
		o.event(name, "SavepointTriggered", "Savepoint of job %s into %s", target.Status.JobStatus.JobID, path)
	}
	if st == before {
		return nil
	}
	b, _ := json.Marshal(st)
	var m map[string]any
	json.Unmarshal(b, &m)
	u.Object["status"] = m
	_, err = o.Client.Resource(k8s.SnapshotResource).Namespace(o.Namespace).UpdateStatus(ctx, u, metav1.UpdateOptions{})
	return err
}
