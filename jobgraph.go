package flinkplane

import (
	"context"
	"regexp"
)

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

	// JobID, when set (32 hex digits), is the id of the graph's job.
	JobID string
	// Checkpointing, when set, is imposed over the checkpointing the
	// program sets (the application's CheckpointConfiguration, as the
	// managed service imposes it): enabled or not, interval and min pause,
	// one checkpoint at a time, exactly-once, aligned.
	Checkpointing *CheckpointSpec
	// GraphFile, when set, asks for the JobGraph to be written there for a
	// submission (JobGraphInfo.Compiled).
	GraphFile string
	// AllowNonRestoredState goes into the written graph's restore settings.
	AllowNonRestoredState bool
}

// CompiledJob is a JobGraph written by a dry compile for a submission
// through Flink's REST API (POST /jobs): flinkplane submits the graph it
// built instead of running the jar's main() on the cluster, so that the
// settings it imposes (CompileSpec.Checkpointing) are the ones that run.
type CompiledJob struct {
	Runtime RuntimeID `json:"runtime"`
	JobID   string    `json:"jobId"`
	// GraphFile holds the graph without restore settings;
	// RestoreGraphFile the same graph restored from RestorePlaceholder,
	// which the driver replaces with the savepoint's location when it
	// submits (the graph is built before the savepoint exists).
	GraphFile          string `json:"graphFile"`
	RestoreGraphFile   string `json:"restoreGraphFile,omitempty"`
	RestorePlaceholder string `json:"restorePlaceholder,omitempty"`
	// Jars are the user jar's nested lib/ jars, extracted; they are
	// uploaded with the user jar.
	Jars                  []string `json:"jars,omitempty"`
	AllowNonRestoredState bool     `json:"allowNonRestoredState,omitempty"`
}

// JobGraphSubmitter is implemented by cluster drivers that submit a graph
// flinkplane compiled (JobSpec.Graph) instead of running the jar's main()
// on the cluster.
type JobGraphSubmitter interface {
	// JobConfiguration returns the Flink configuration to compile the job
	// of a cluster of spec with: what its main() would see on that cluster
	// (state backend, parallelism, checkpointing, the operator's extra
	// settings), without what belongs to one cluster (ports, directories),
	// which the cluster's own configuration supplies when the job runs.
	JobConfiguration(spec ClusterSpec) map[string]string
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
	// RequestedCheckpointing is what the program itself asked for when
	// CompileSpec.Checkpointing imposed other settings (Checkpointing is
	// then what runs).
	RequestedCheckpointing *CheckpointingInfo `json:"requestedCheckpointing,omitempty"`
	JobID                  string             `json:"jobId,omitempty"`
	// Vertices in topological order, sources first.
	Vertices []JobVertexInfo `json:"vertices"`
	// Seconds is the wall time of the dry compile (JVM included).
	Seconds float64 `json:"seconds"`
	// Compiled is the graph written for a submission (CompileSpec.GraphFile).
	Compiled *CompiledJob `json:"compiled,omitempty"`
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
	MaxParallelism int `json:"maxParallelism"`
	// SlotSharingGroup identifies the vertex's slot sharing group.
	SlotSharingGroup string         `json:"slotSharingGroup,omitempty"`
	Operators        []OperatorInfo `json:"operators"`
}

// Slots returns the task slots the graph needs at once: per slot sharing
// group the highest parallelism of its vertices, summed over the groups
// (Flink's default scheduler; vertices without a group count alone).
func (g *JobGraphInfo) Slots() int {
	if g == nil {
		return 0
	}
	groups := map[string]int{}
	total := 0
	for _, v := range g.Vertices {
		p := max(v.Parallelism, 1)
		if v.SlotSharingGroup == "" {
			total += p
			continue
		}
		groups[v.SlotSharingGroup] = max(groups[v.SlotSharingGroup], p)
	}
	for _, p := range groups {
		total += p
	}
	return total
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

// OperatorLabel names the operator with id for a person, by the graph:
// its uid where the graph gives one (Label), else "" .
func (g *JobGraphInfo) OperatorLabel(id string) string {
	if o, _, ok := g.Operator(id); ok && (o.UID != "" || o.Name != "") {
		return o.Label()
	}
	return ""
}

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

var (
	// "KeyedProcessOperator (id 0a44…)", as ClassifyFailure names an
	// operator from Flink's task names.
	classIDRe = regexp.MustCompile(`([\w$.]+) \(id ([0-9a-f]{32})\)`)
	// "operator 0a44…", as Flink's "Cannot map checkpoint/savepoint state
	// for operator …" names it.
	bareIDRe = regexp.MustCompile(`\boperator ([0-9a-f]{32})\b`)
)

// NameOperators rewrites the operator ids in msg with the uids the graphs
// give them (the first graph that has the operator wins): "KeyedProcessOperator
// (id 0a44…)" becomes `uid "count-per-key" (KeyedProcessOperator, id 0a44…)`,
// "operator 0a44…" becomes `operator uid "count-per-key" (id 0a44…)`. Ids no
// graph names by uid stay as they are.
func NameOperators(msg string, graphs ...*JobGraphInfo) string {
	uid := func(id string) string {
		for _, g := range graphs {
			if o, _, ok := g.Operator(id); ok && o.UID != "" {
				return o.UID
			}
		}
		return ""
	}
	msg = classIDRe.ReplaceAllStringFunc(msg, func(m string) string {
		sub := classIDRe.FindStringSubmatch(m)
		if u := uid(sub[2]); u != "" {
			return "uid " + quote(u) + " (" + sub[1] + ", id " + sub[2] + ")"
		}
		return m
	})
	return bareIDRe.ReplaceAllStringFunc(msg, func(m string) string {
		sub := bareIDRe.FindStringSubmatch(m)
		if u := uid(sub[1]); u != "" {
			return "operator uid " + quote(u) + " (id " + sub[1] + ")"
		}
		return m
	})
}
