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
