package flinkplane

import "time"

// Operation statuses (OperationStatus).
const (
	OperationInProgress = "IN_PROGRESS"
	OperationSuccessful = "SUCCESSFUL"
	OperationFailed     = "FAILED"
	OperationCancelled  = "CANCELLED"
)

// Operation kinds: the API's Operation names. Snapshot creation and
// deletion are recorded too, under the names of the calls that start them.
const (
	OpStartApplication          = "StartApplication"
	OpStopApplication           = "StopApplication"
	OpUpdateApplication         = "UpdateApplication"
	OpRollbackApplication       = "RollbackApplication"
	OpCreateApplicationSnapshot = "CreateApplicationSnapshot"
	OpDeleteApplicationSnapshot = "DeleteApplicationSnapshot"
	OpDeleteApplication         = "DeleteApplication"
	OpAddCloudWatchLogging      = "AddApplicationCloudWatchLoggingOption"
	OpDeleteCloudWatchLogging   = "DeleteApplicationCloudWatchLoggingOption"
	// OpMaintenance is the service's own restart of a running application
	// across a restart of the control plane (status MAINTENANCE).
	OpMaintenance = "Maintenance"
	// OpRecovery is the service's own restart of an application whose job
	// or cluster failed: TaskManagers replaced, or the job brought back on a
	// fresh cluster from its latest checkpoint (status STARTING until the
	// job has passed its probation). AWS does not document the name of such
	// operations; see docs/health.md.
	OpRecovery = "Recovery"
)

// Operation is one durable, step-recorded lifecycle action. A step reads the
// operation, records the step and any external handle it is about to
// create, acts, and records the next step, so that a restarted control plane
// resumes the operation without repeating a side effect.
type Operation struct {
	ID              string    `json:"id"`
	ApplicationName string    `json:"applicationName"`
	Kind            string    `json:"kind"`
	Status          string    `json:"status"`
	StartTime       time.Time `json:"startTime"`
	EndTime         time.Time `json:"endTime,omitzero"`

	// Plan is the list of steps; Step is the index of the current one.
	Plan []string `json:"plan,omitempty"`
	Step int      `json:"step"`

	// Version change made by the operation (ApplicationVersionChangeDetails).
	VersionFrom int64 `json:"versionFrom,omitempty"`
	VersionTo   int64 `json:"versionTo,omitempty"`

	// Parameters.
	Force                 bool   `json:"force,omitempty"`
	RestoreType           string `json:"restoreType,omitempty"`
	RestoreSnapshotName   string `json:"restoreSnapshotName,omitempty"`
	AllowNonRestoredState bool   `json:"allowNonRestoredState,omitempty"`
	SnapshotName          string `json:"snapshotName,omitempty"`
	// RestoreMaxVersion, when set, limits RESTORE_FROM_LATEST_SNAPSHOT to
	// snapshots taken at or before that version (a rollback restores the
	// state taken before the change it undoes).
	RestoreMaxVersion int64 `json:"restoreMaxVersion,omitempty"`
	// System marks an operation the service started itself (a system
	// rollback); ParentID is the operation that caused it.
	System   bool   `json:"system,omitempty"`
	ParentID string `json:"parentId,omitempty"`

	// External handles gathered so far. Cluster is the cluster the
	// operation started (a warm start: the target cluster, started while
	// the application's job still runs on its current one); after the
	// operation moved the application to it, PreviousCluster is the one it
	// left, until it is stopped.
	Cluster           *ClusterHandle `json:"cluster,omitempty"`
	PreviousCluster   *ClusterHandle `json:"previousCluster,omitempty"`
	JobID             string         `json:"jobId,omitempty"`
	TriggerID         string         `json:"triggerId,omitempty"`
	SavepointLocation string         `json:"savepointLocation,omitempty"`
	RestoreFrom       string         `json:"restoreFrom,omitempty"`

	// Cause says why the service started a system operation (a recovery,
	// an automatic rollback, the stop of a job cancelled outside
	// flinkplane), or what a stop had to fall back to.
	Cause string `json:"cause,omitempty"`
	// Checkpoint is the newest checkpoint the watch knew of when it started
	// a system operation (a restore point known even after the JobManager
	// is gone).
	Checkpoint *CheckpointInfo `json:"checkpoint,omitempty"`
	// RestartsBaseline is the job's restart count the operation compares
	// against: a TaskManager recovery waits for Flink's failover (restarts
	// above it); the probation fails on a restart above the count recorded
	// when the job first ran with all tasks.
	RestartsBaseline int64 `json:"restartsBaseline,omitempty"`
	// JobRunningSince is when the job last switched to RUNNING before a
	// TaskManager was lost (from the watch): a later switch proves Flink's
	// failover even while its restart counter lags.
	JobRunningSince time.Time `json:"jobRunningSince,omitzero"`
	// ProbationStart is when the job first ran with all its tasks (the
	// probation window runs from there; recorded so a resumed operation
	// keeps its window).
	ProbationStart time.Time `json:"probationStart,omitzero"`
	// SavepointFailure is why a stop's savepoint failed when the stop fell
	// back to the latest checkpoint.
	SavepointFailure string `json:"savepointFailure,omitempty"`

	// Failure details.
	ErrorInfo           string `json:"errorInfo,omitempty"`
	RollbackOperationID string `json:"rollbackOperationId,omitempty"`

	// Findings of the compatibility pre-flight check.
	Findings []Finding `json:"findings,omitempty"`

	// Migration, when set, is the state migration of an update (step
	// MIGRATE_STATE): where the migrated savepoint goes and what moved.
	Migration *StateMigration `json:"migration,omitempty"`

	// Graph is the job graph the operation built with a dry compile (the
	// job it submits, with the compiled graph it submits); PreviousGraph
	// that of the job it replaces, where known. They name operators by uid
	// in findings and failures.
	Graph         *JobGraphInfo `json:"graph,omitempty"`
	PreviousGraph *JobGraphInfo `json:"previousGraph,omitempty"`

	// Timings are the steps done so far with their start and end.
	Timings []StepTiming `json:"timings,omitempty"`
}

// StepTiming is when one step of an operation ran.
type StepTiming struct {
	Step  string    `json:"step"`
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// CurrentStep returns the name of the step to run next, or "" when all
// steps are done.
func (op *Operation) CurrentStep() string {
	if op.Step < 0 || op.Step >= len(op.Plan) {
		return ""
	}
	return op.Plan[op.Step]
}

// Done reports whether the operation has ended.
func (op *Operation) Done() bool { return op.Status != OperationInProgress }

// OperationFilter selects operations of one application.
type OperationFilter struct {
	Kind   string // "": any
	Status string // "": any
	// After is the id of the last operation of the previous page; the
	// order is newest first.
	After string
	Limit int // 0: no limit
}
