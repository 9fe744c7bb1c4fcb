package engine

import "github.com/flinkplane/flinkplane"

// errorInfoWithLogs is errorInfo followed by where the operation's log
// lines are (the CloudWatch Logs stream of the application's logging
// option, else the flinkplane logs command for its cluster), within the
// API's 512 characters. It is the hook for the ErrorInfo of a failed
// operation: where finish.go sets op.ErrorInfo = errorInfo(step, cause)
// inside its store transaction, set it to
// errorInfoWithLogs(tx, app, op, step, cause) instead.
func errorInfoWithLogs(tx flinkplane.Tx, app *flinkplane.Application, op *flinkplane.Operation, step string, cause error) string {
	cfg := flinkplane.ApplicationConfig{}
	if v, err := tx.Version(app.Name, app.VersionID); err == nil {
		cfg = v.Config
	}
	loc := flinkplane.LogLocation(app, cfg, op)
	if loc == "" {
		return errorInfo(step, cause)
	}
	return flinkplane.WithLogLocation(errorInfoPointing(step, cause, ""), loc)
}
