package flinkplane

import (
	"context"
	"time"
)

// ClusterSpec describes the Flink cluster of one application: the runtime,
// its size and the configuration applied to every job it runs.
type ClusterSpec struct {
	// ApplicationName names the application; ApplicationID is a stable,
	// file-system safe identifier used for directories and process tags.
	ApplicationName string
	ApplicationID   string
	Runtime         RuntimeID

	// Parallelism is the job's default parallelism; ParallelismPerKPU the
	// number of task slots one TaskManager offers (AWS: one KPU). The driver
	// starts ceil(Parallelism/ParallelismPerKPU) TaskManagers.
	Parallelism       int
	ParallelismPerKPU int

	Checkpoint CheckpointSpec

	// Properties are the application's EnvironmentProperties, delivered to
	// the job the way the managed service delivers them.
	Properties []PropertyGroup
}

// CheckpointSpec is the effective CheckpointConfiguration of an application.
type CheckpointSpec struct {
	Enabled                    bool
	Interval                   time.Duration
	MinPauseBetweenCheckpoints time.Duration
}

// PropertyGroup is one EnvironmentProperties property group.
type PropertyGroup struct {
	PropertyGroupID string            `json:"PropertyGroupId"`
	PropertyMap     map[string]string `json:"PropertyMap"`
}

// ClusterHandle identifies a running cluster. It is returned by Start and
// stored with the operation before any further step uses it, so that a
// restarted control plane can re-adopt or clean up the cluster.
type ClusterHandle struct {
	ID      string    `json:"id"`
	Runtime RuntimeID `json:"runtime"`
	RESTURL string    `json:"restUrl"`
	Dir     string    `json:"dir"`
	PIDs    []int     `json:"pids,omitempty"`
}

// JobSpec is one submission of the application's code to a cluster.
type JobSpec struct {
	JarPath    string
	EntryClass string // empty: from the JAR manifest
	Args       []string
	// JobID, when set (32 hex digits), is the job id to use: a resumed step
	// looks for this id before submitting again.
	JobID                 string
	Parallelism           int
	RestoreFrom           string // savepoint location; empty: no restore
	AllowNonRestoredState bool
	// Graph, when set, is the job's graph compiled for the cluster's
	// runtime (JobGraphSubmitter): the driver submits it, restored from
	// RestoreFrom, with the jar, instead of running the jar's main() on
	// the cluster.
	Graph *CompiledJob
}

// JobHealth is what the driver sees of a job.
type JobHealth struct {
	State           string // Flink's job status: RUNNING, FAILING, RESTARTING, ...
	AllTasksRunning bool
	Restarts        int64
	// Completed and failed checkpoints since the job started.
	CompletedCheckpoints int64
	FailedCheckpoints    int64
	// RootCause is Flink's newest exception (class and message), if any.
	RootCause string

	// StartTime is when the job was submitted; RunningSince when it last
	// switched to RUNNING (after its latest restart).
	StartTime    time.Time
	RunningSince time.Time
	// LatestCheckpoint is the job's newest completed checkpoint or
	// savepoint (the higher id of the two), nil before the first.
	LatestCheckpoint *CheckpointInfo
	// Restored is what the job (or its latest restart) restored from: the
	// checkpoint id and path, Time the restore time. Nil if nothing.
	Restored *CheckpointInfo
	// Exception is the newest entry of the exception history.
	Exception *JobException
}

// SavepointStatus is the state of a triggered savepoint.
type SavepointStatus struct {
	Done     bool
	Location string // set when Done and successful
	Failure  string // set when Done and failed
}

// ClusterDriver runs Flink clusters. Every method is idempotent where it
// can be: calling Stop twice or Adopt on a dead cluster is not an error.
//
// The engine's watch (see docs/health.md) calls ClusterHealth and JobHealth
// every few seconds for each running application, and recovers through
// ReplaceTaskManagers (a lost TaskManager) or a fresh cluster restored from
// LatestCheckpoint (a lost JobManager, a FAILED job). A driver must keep
// completed checkpoints when a job is cancelled or fails (Flink:
// execution.checkpointing.externalized-checkpoint-retention:
// RETAIN_ON_CANCELLATION), so that there is a restore point.
type ClusterDriver interface {
	// Ready returns nil if the runtime is installed and usable, else an
	// *Error (EINVALIDCONFIG) that says how to install it.
	Ready(runtime RuntimeID) error
	// Start starts a cluster and waits until its REST endpoint answers.
	Start(ctx context.Context, spec ClusterSpec) (ClusterHandle, error)
	// Adopt reports whether the cluster of a stored handle is still alive
	// and owned by this control plane.
	Adopt(ctx context.Context, h ClusterHandle) (alive bool, err error)
	// Submit runs a job on the cluster and returns its job id.
	Submit(ctx context.Context, h ClusterHandle, job JobSpec) (jobID string, err error)
	// JobHealth reports the status of a job.
	JobHealth(ctx context.Context, h ClusterHandle, jobID string) (JobHealth, error)
	// TriggerSavepoint starts a savepoint into targetDir; StopWithSavepoint
	// does the same and stops the job when it completes.
	TriggerSavepoint(ctx context.Context, h ClusterHandle, jobID, targetDir string) (triggerID string, err error)
	StopWithSavepoint(ctx context.Context, h ClusterHandle, jobID, targetDir string) (triggerID string, err error)
	// PollSavepoint reports the state of a triggered savepoint.
	PollSavepoint(ctx context.Context, h ClusterHandle, jobID, triggerID string) (SavepointStatus, error)
	// Cancel cancels a job without a savepoint.
	Cancel(ctx context.Context, h ClusterHandle, jobID string) error
	// Stop ends every process of the cluster.
	Stop(ctx context.Context, h ClusterHandle) error
	// DisposeSavepoint removes a savepoint's files.
	DisposeSavepoint(ctx context.Context, location string) error

	// ClusterHealth reports whether the cluster's processes are alive,
	// without asking Flink, so that it answers when the JobManager is gone.
	// The local driver checks its JVMs; a Kubernetes driver would read the
	// JobManager deployment and the TaskManager pods. A cluster that is
	// entirely gone is not an error: JobManagerAlive is false.
	ClusterHealth(ctx context.Context, h ClusterHandle) (ClusterHealth, error)
	// ReplaceTaskManagers starts a new process for every TaskManager of a
	// cluster whose process is gone and returns the handle with the new
	// process ids, which the caller stores before using it. With every
	// TaskManager alive it returns h unchanged (idempotent). Returns an
	// error if the JobManager is gone: then the cluster must be replaced.
	ReplaceTaskManagers(ctx context.Context, h ClusterHandle) (ClusterHandle, error)
	// LatestCheckpoint returns the newest completed checkpoint that a job
	// left in the cluster's checkpoint storage, read from the storage
	// itself, so that it answers after the JobManager is gone (the
	// restore point of a recovery). ENOTFOUND if there is none.
	LatestCheckpoint(ctx context.Context, h ClusterHandle, jobID string) (CheckpointInfo, error)
}
