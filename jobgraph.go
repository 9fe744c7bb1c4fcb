package flinkplane

import "context"

// CompileSpec is what a dry compile needs to run a job's main() the way the
// job's cluster would run it.
type CompileSpec struct {
	JarPath    string
	EntryClass string // empty: from the JAR manifest
	Args       []string
	// Parallelism is the job's default parallelism (0: the configuration's).
	Parallelism int
	// Properties are the application's EnvironmentProperties, delivered to
	// main() exactly as on the cluster (KinesisAnalyticsRuntime reads them).
	Properties []PropertyGroup
	// FlinkConfig is the Flink configuration the job's cluster runs with;
	// main() sees it like it would on the cluster.
	FlinkConfig map[string]string
}

// JobGraphInfo describes the JobGraph a dry compile built: what Flink would
// run, with the operator ids a savepoint's state is mapped to.
type JobGraphInfo struct {
	Runtime      RuntimeID `json:"runtime"`
	FlinkVersion string    `json:"flinkVersion"`
	EntryClass   string    `json:"entryClass"`
	JobName      string    `json:"jobName"`
	// JobType is STREAMING or BATCH.
	JobType string `json:"jobType"`
	// Parallelism is the default parallelism the graph was built with (-1:
	// none set).
	Parallelism   int               `json:"parallelism"`
	Checkpointing CheckpointingInfo `json:"checkpointing"`
	// Vertices in topological order, sources first.
	Vertices []JobVertexInfo `json:"vertices"`
	// Seconds is the wall time of the dry compile (JVM included).
	Seconds float64 `json:"seconds"`
}

// CheckpointingInfo is the checkpointing configuration of a JobGraph, as the
// job's code (over the cluster configuration) set it.
type CheckpointingInfo struct {
	Enabled           bool   `json:"enabled"`
	IntervalMillis    int64  `json:"intervalMillis,omitempty"`
	MinPauseMillis    int64  `json:"minPauseMillis,omitempty"`
	TimeoutMillis     int64  `json:"timeoutMillis,omitempty"`
	MaxConcurrent     int    `json:"maxConcurrent,omitempty"`
	Mode              string `json:"mode,omitempty"` // EXACTLY_ONCE, AT_LEAST_ONCE
	Unaligned         bool   `json:"unaligned,omitempty"`
	TolerableFailures int    `json:"tolerableFailures,omitempty"`
	Retention         string `json:"retention,omitempty"`
}

// JobVertexInfo is one task of a JobGraph: a chain of operators.
type JobVertexInfo struct {
	ID          string `json:"id"`
	Name        string `json:"name"`
	Parallelism int    `json:"parallelism"`
	// MaxParallelism is -1 when the job does not set it (Flink derives it).
	MaxParallelism int            `json:"maxParallelism"`
	Operators      []OperatorInfo `json:"operators"`
}

// OperatorInfo is one operator of a vertex's chain.
type OperatorInfo struct {
	// ID is the operator id Flink generated (from the uid when one is set),
	// 32 hex digits as Flink prints it.
	ID string `json:"id"`
	// UserDefinedID is set by setUidHash.
	UserDefinedID string `json:"userDefinedId,omitempty"`
	UID           string `json:"uid,omitempty"`
	Name          string `json:"name,omitempty"`
}

// Label names the operator for a person: its uid, else its name and id.
func (o OperatorInfo) Label() string {
	switch {
	case o.UID != "":
		return "uid " + quote(o.UID)
	case o.Name != "":
		return quote(o.Name) + " (id " + o.ID + ")"
	}
	return "id " + o.ID
}

func quote(s string) string { return "\"" + s + "\"" }

// Operator returns the operator of the graph with id (generated or user
// defined) and its vertex.
func (g *JobGraphInfo) Operator(id string) (OperatorInfo, *JobVertexInfo, bool) {
	if g == nil {
		return OperatorInfo{}, nil, false
	}
	for i := range g.Vertices {
		v := &g.Vertices[i]
		for _, o := range v.Operators {
			if o.ID == id || o.UserDefinedID == id {
				return o, v, true
			}
		}
	}
	return OperatorInfo{}, nil, false
}

// JobCompiler builds a job's JobGraph on a target runtime before anything
// runs, and matches a savepoint's state against it.
type JobCompiler interface {
	// CompileJob runs the job's main() in a JVM on the target runtime's
	// classpath with the user jar, in an environment that captures the
	// pipeline instead of executing it (no cluster, nothing submitted), and
	// returns the JobGraph Flink would run. An exception in main() (or in
	// building the graph) is an ERROR finding with Flink's message, and the
	// graph is nil. Returns ENOTFOUND if the runtime is not installed and
	// ECODE if the jar cannot be read.
	CompileJob(ctx context.Context, target RuntimeID, job CompileSpec) (*JobGraphInfo, []Finding, error)
	// CheckRestore checks the savepoint at savepointPath as restoring it
	// into graph on target would use it: its operator states are matched
	// against the graph's operators like Flink's restore does (state with no
	// operator to go to is an ERROR unless allowNonRestoredState; a max
	// parallelism the job sets must match), and the serializers of the
	// state that is restored are checked against target (CheckSavepoint).
	// Findings name operators by the uid graph gives them; previous, when not
	// nil, is the graph of the job that wrote the savepoint and names the
	// operators the new graph no longer has. Returns ENOTFOUND if the
	// savepoint does not exist, EINVALID if it is not one.
	CheckRestore(ctx context.Context, savepointPath string, target RuntimeID, graph, previous *JobGraphInfo, allowNonRestoredState bool) ([]Finding, error)
}
