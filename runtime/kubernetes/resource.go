package kubernetes

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/flinkplane/flinkplane"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// The resources of the Flink Kubernetes Operator (group flink.apache.org,
// version v1beta1) that the driver writes and reads. Only the fields the
// driver uses are declared; everything else the operator writes is kept by
// the API server and ignored here. Field names and enums follow the
// operator's CRDs (release 1.15.0).

// API group, version and resources.
const (
	Group   = "flink.apache.org"
	Version = "v1beta1"
)

var (
	// DeploymentResource and SnapshotResource are the operator's
	// FlinkDeployment and FlinkStateSnapshot resources.
	DeploymentResource = schema.GroupVersionResource{Group: Group, Version: Version, Resource: "flinkdeployments"}
	SnapshotResource   = schema.GroupVersionResource{Group: Group, Version: Version, Resource: "flinkstatesnapshots"}
	// CRDResource is the API of CustomResourceDefinitions (Ready reads the
	// FlinkDeployment CRD to learn which Flink versions the operator takes).
	CRDResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}
)

// DeploymentCRD and SnapshotCRD are the names of the operator's CRDs.
const (
	DeploymentCRD = "flinkdeployments.flink.apache.org"
	SnapshotCRD   = "flinkstatesnapshots.flink.apache.org"
)

// Labels and annotations the driver puts on every resource it creates.
const (
	LabelManagedBy     = "app.kubernetes.io/managed-by"
	ManagedBy          = "flinkplane"
	LabelInstance      = "flinkplane.io/instance"
	LabelApplicationID = "flinkplane.io/application-id"
	LabelRuntime       = "flinkplane.io/runtime"
	// AnnotationApplication carries the application's name (names may be
	// longer than a label value allows).
	AnnotationApplication = "flinkplane.io/application"
)

// FieldManager is the server-side apply field manager of the driver.
const FieldManager = "flinkplane"

// Finalizer is the finalizer the operator puts on a FlinkDeployment (the
// Java Operator SDK's default: "<plural>.<group>/finalizer").
const Finalizer = "flinkdeployments.flink.apache.org/finalizer"

// Job states (JobSpec.state) and upgrade modes (JobSpec.upgradeMode).
const (
	JobRunning   = "running"
	JobSuspended = "suspended"

	UpgradeSavepoint = "savepoint"
	UpgradeStateless = "stateless"
)

// JobIDKey is the Flink option that fixes the job id of an application
// cluster (PipelineOptionsInternal.PIPELINE_FIXED_JOB_ID). The operator
// uses a job id given there instead of generating one
// (ApplicationReconciler.setJobIdIfNecessary), so the engine's job id,
// recorded before the submission, is the job's id.
const JobIDKey = "$internal.pipeline.job-id"

// FlinkDeployment is the operator's FlinkDeployment resource.
type FlinkDeployment struct {
	APIVersion string                `json:"apiVersion,omitempty"`
	Kind       string                `json:"kind,omitempty"`
	Metadata   Metadata              `json:"metadata"`
	Spec       FlinkDeploymentSpec   `json:"spec"`
	Status     FlinkDeploymentStatus `json:"status,omitzero"`
}

// Metadata is the part of ObjectMeta the driver reads and writes.
type Metadata struct {
	Name              string            `json:"name,omitempty"`
	Namespace         string            `json:"namespace,omitempty"`
	UID               string            `json:"uid,omitempty"`
	ResourceVersion   string            `json:"resourceVersion,omitempty"`
	Generation        int64             `json:"generation,omitempty"`
	CreationTimestamp string            `json:"creationTimestamp,omitempty"`
	DeletionTimestamp string            `json:"deletionTimestamp,omitempty"`
	Labels            map[string]string `json:"labels,omitempty"`
	Annotations       map[string]string `json:"annotations,omitempty"`
	Finalizers        []string          `json:"finalizers,omitempty"`
}

// FlinkDeploymentSpec is FlinkDeployment.spec.
type FlinkDeploymentSpec struct {
	Image              string            `json:"image,omitempty"`
	ImagePullPolicy    string            `json:"imagePullPolicy,omitempty"`
	FlinkVersion       string            `json:"flinkVersion,omitempty"`
	ServiceAccount     string            `json:"serviceAccount,omitempty"`
	Mode               string            `json:"mode,omitempty"`
	FlinkConfiguration map[string]string `json:"flinkConfiguration,omitempty"`
	JobManager         *ComponentSpec    `json:"jobManager,omitempty"`
	TaskManager        *ComponentSpec    `json:"taskManager,omitempty"`
	PodTemplate        map[string]any    `json:"podTemplate,omitempty"`
	Job                *JobSpec          `json:"job,omitempty"`
}

// ComponentSpec is the jobManager or taskManager part of the spec.
type ComponentSpec struct {
	Resource *Resource `json:"resource,omitempty"`
	Replicas *int      `json:"replicas,omitempty"`
}

// Resource is a JobManager or TaskManager pod's resources.
type Resource struct {
	CPU    float64 `json:"cpu,omitempty"`
	Memory string  `json:"memory,omitempty"`
}

// JobSpec is FlinkDeployment.spec.job.
type JobSpec struct {
	JarURI                 string   `json:"jarURI,omitempty"`
	EntryClass             string   `json:"entryClass,omitempty"`
	Args                   []string `json:"args,omitempty"`
	Parallelism            int      `json:"parallelism,omitempty"`
	State                  string   `json:"state,omitempty"`
	UpgradeMode            string   `json:"upgradeMode,omitempty"`
	InitialSavepointPath   string   `json:"initialSavepointPath,omitempty"`
	SavepointRedeployNonce int64    `json:"savepointRedeployNonce,omitempty"`
	AllowNonRestoredState  bool     `json:"allowNonRestoredState,omitempty"`
}

// FlinkDeploymentStatus is what the operator reports.
type FlinkDeploymentStatus struct {
	JobStatus                  JobStatus            `json:"jobStatus,omitzero"`
	Error                      string               `json:"error,omitempty"`
	ObservedGeneration         int64                `json:"observedGeneration,omitempty"`
	LifecycleState             string               `json:"lifecycleState,omitempty"`
	JobManagerDeploymentStatus string               `json:"jobManagerDeploymentStatus,omitempty"`
	ReconciliationStatus       ReconciliationStatus `json:"reconciliationStatus,omitzero"`
	TaskManager                *TaskManagerInfo     `json:"taskManager,omitempty"`
	ClusterInfo                map[string]string    `json:"clusterInfo,omitempty"`
}

// JobStatus is status.jobStatus.
type JobStatus struct {
	JobName              string `json:"jobName,omitempty"`
	JobID                string `json:"jobId,omitempty"`
	State                string `json:"state,omitempty"`
	StartTime            string `json:"startTime,omitempty"`
	UpdateTime           string `json:"updateTime,omitempty"`
	UpgradeSavepointPath string `json:"upgradeSavepointPath,omitempty"`
}

// ReconciliationStatus is status.reconciliationStatus.
type ReconciliationStatus struct {
	// LastReconciledSpec is the spec the operator last acted on, as a JSON
	// string {"spec": {...}, "resource_metadata": {...}}
	// (SpecUtils.writeSpecWithMeta).
	LastReconciledSpec      string `json:"lastReconciledSpec,omitempty"`
	LastStableSpec          string `json:"lastStableSpec,omitempty"`
	ReconciliationTimestamp int64  `json:"reconciliationTimestamp,omitempty"`
	State                   string `json:"state,omitempty"`
}

// TaskManagerInfo is status.taskManager.
type TaskManagerInfo struct {
	LabelSelector string `json:"labelSelector,omitempty"`
	Replicas      int    `json:"replicas,omitempty"`
}

// LastReconciled decodes status.reconciliationStatus.lastReconciledSpec
// (nil before the first deployment).
func (s *FlinkDeploymentStatus) LastReconciled() *FlinkDeploymentSpec {
	if s.ReconciliationStatus.LastReconciledSpec == "" {
		return nil
	}
	var w struct {
		Spec FlinkDeploymentSpec `json:"spec"`
	}
	if json.Unmarshal([]byte(s.ReconciliationStatus.LastReconciledSpec), &w) != nil {
		return nil
	}
	return &w.Spec
}

// OperatorError is the operator's status.error: a JSON-encoded
// FlinkResourceException (FlinkResourceExceptionUtils).
type OperatorError struct {
	Type    string `json:"type"`
	Message string `json:"message"`
}

// ParseOperatorError decodes status.error; a value that is not JSON is
// returned as the message.
func ParseOperatorError(s string) OperatorError {
	var e OperatorError
	if s == "" {
		return e
	}
	if json.Unmarshal([]byte(s), &e) != nil || (e.Type == "" && e.Message == "") {
		return OperatorError{Message: s}
	}
	return e
}

// Short returns the exception's class name without its package.
func (e OperatorError) Short() string {
	t := e.Type
	if i := strings.LastIndex(t, "."); i >= 0 {
		t = t[i+1:]
	}
	return t
}

func (e OperatorError) String() string {
	if e.Type == "" {
		return e.Message
	}
	return e.Short() + ": " + e.Message
}

// FlinkStateSnapshot is the operator's FlinkStateSnapshot resource.
type FlinkStateSnapshot struct {
	APIVersion string                   `json:"apiVersion,omitempty"`
	Kind       string                   `json:"kind,omitempty"`
	Metadata   Metadata                 `json:"metadata"`
	Spec       FlinkStateSnapshotSpec   `json:"spec"`
	Status     FlinkStateSnapshotStatus `json:"status,omitzero"`
}

// FlinkStateSnapshotSpec is FlinkStateSnapshot.spec.
type FlinkStateSnapshotSpec struct {
	BackoffLimit *int           `json:"backoffLimit,omitempty"`
	JobReference *JobReference  `json:"jobReference,omitempty"`
	Savepoint    *SavepointSpec `json:"savepoint,omitempty"`
	Checkpoint   map[string]any `json:"checkpoint,omitempty"`
}

// JobReference names the resource a snapshot is taken of.
type JobReference struct {
	Kind string `json:"kind,omitempty"`
	Name string `json:"name,omitempty"`
}

// SavepointSpec is FlinkStateSnapshot.spec.savepoint.
type SavepointSpec struct {
	AlreadyExists   bool   `json:"alreadyExists,omitempty"`
	DisposeOnDelete bool   `json:"disposeOnDelete"`
	FormatType      string `json:"formatType,omitempty"`
	Path            string `json:"path,omitempty"`
}

// Snapshot states (FlinkStateSnapshotStatus.State).
const (
	SnapshotTriggerPending = "TRIGGER_PENDING"
	SnapshotInProgress     = "IN_PROGRESS"
	SnapshotCompleted      = "COMPLETED"
	SnapshotFailed         = "FAILED"
	SnapshotAbandoned      = "ABANDONED"
)

// FlinkStateSnapshotStatus is FlinkStateSnapshot.status.
type FlinkStateSnapshotStatus struct {
	State            string `json:"state,omitempty"`
	TriggerID        string `json:"triggerId,omitempty"`
	TriggerTimestamp string `json:"triggerTimestamp,omitempty"`
	ResultTimestamp  string `json:"resultTimestamp,omitempty"`
	Path             string `json:"path,omitempty"`
	Error            string `json:"error,omitempty"`
	Failures         int    `json:"failures,omitempty"`
}

// FromUnstructured decodes an object read through the dynamic client.
func FromUnstructured(u *unstructured.Unstructured, out any) error {
	b, err := u.MarshalJSON()
	if err != nil {
		return err
	}
	return json.Unmarshal(b, out)
}

// FlinkVersion returns the operator's flinkVersion value of a runtime:
// FLINK-1_20 is "v1_20", FLINK-2_2 is "v2_2".
func FlinkVersion(id flinkplane.RuntimeID) (string, bool) {
	major, minor, ok := id.Version()
	if !ok {
		return "", false
	}
	return fmt.Sprintf("v%d_%d", major, minor), true
}

// maxNameLength is the longest FlinkDeployment name the operator accepts
// (DefaultValidator.DEPLOYMENT_NAME_PATTERN: [a-z]([-a-z\d]{0,43}[a-z\d])?).
const maxNameLength = 45

// DeploymentName returns the name of the FlinkDeployment of one cluster
// generation of an application: one per application and Flink version,
// "fp-<application-id>-v1-20", so that the operator never sees the Flink
// version of a resource change. An application id that would make the name
// too long or invalid is replaced by a hash of it.
func DeploymentName(applicationID string, runtime flinkplane.RuntimeID) string {
	v, _ := FlinkVersion(runtime)
	suffix := "-" + strings.ReplaceAll(v, "_", "-")
	id := strings.ToLower(applicationID)
	if !validNamePart(id) || len("fp-")+len(id)+len(suffix) > maxNameLength {
		sum := sha256.Sum256([]byte(applicationID))
		id = hex.EncodeToString(sum[:])[:16]
	}
	return "fp-" + id + suffix
}

func validNamePart(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return s[len(s)-1] != '-'
}

// labelValue returns v if it is a valid label value, else a hash of it.
func labelValue(v string) string {
	ok := len(v) <= 63
	for i, r := range v {
		alnum := r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
		if !alnum && (i == 0 || i == len(v)-1 || (r != '-' && r != '_' && r != '.')) {
			ok = false
		}
	}
	if ok {
		return v
	}
	sum := sha256.Sum256([]byte(v))
	return hex.EncodeToString(sum[:])[:32]
}
