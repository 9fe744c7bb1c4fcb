package flinkplane

import "context"

// Finding severities.
const (
	SeverityError   = "ERROR"
	SeverityWarning = "WARNING"
	SeverityInfo    = "INFO"
)

// Finding is one result of a compatibility check of application code or a
// savepoint against a target runtime.
type Finding struct {
	Severity string `json:"severity"`
	// Code is a stable machine-readable kind, e.g. "REMOVED_API",
	// "BUNDLED_FLINK_CLASS", "KRYO_STATE", "METADATA_VERSION".
	Code    string `json:"code"`
	Message string `json:"message"`
	// Where: the user class and method (JAR checks) or the operator and
	// state name (savepoint checks).
	Class  string `json:"class,omitempty"`
	Method string `json:"method,omitempty"`
	Symbol string `json:"symbol,omitempty"`
	Hint   string `json:"hint,omitempty"`
}

// CompatChecker checks application code and state against a target runtime
// before anything is stopped.
type CompatChecker interface {
	CheckJar(ctx context.Context, jarPath string, target RuntimeID) ([]Finding, error)
	CheckSavepoint(ctx context.Context, savepointPath string, target RuntimeID) ([]Finding, error)
}

// JobGraphOperator is one operator of an application's job graph as a
// runtime builds it from the JAR: the id Flink generates from the topology
// and, when the operator has a uid, the id derived from it (hex).
type JobGraphOperator struct {
	ID     string `json:"id"`
	UserID string `json:"userId,omitempty"`
	Vertex string `json:"vertex,omitempty"`
}

// PlanCheck is what a plan check compiles and compares: the new code on
// the target runtime against the savepoint it would restore.
type PlanCheck struct {
	Target                RuntimeID
	JarPath               string
	EntryClass            string
	Parallelism           int
	Properties            []PropertyGroup
	Savepoint             string
	AllowNonRestoredState bool
}

// PlanChecker is implemented by compatibility checkers that can build the
// new job graph on the target runtime and check that every operator state
// of the savepoint has an operator to go to.
type PlanChecker interface {
	CheckPlan(ctx context.Context, p PlanCheck) ([]Finding, error)
}
