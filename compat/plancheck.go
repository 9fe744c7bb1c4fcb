package compat

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat/savepoint"
)

// CodeStateNotMapped: the savepoint holds state of an operator that the new
// job graph, built from the new JAR on the target runtime, does not have.
// Flink refuses such a restore ("Cannot map checkpoint/savepoint state for
// operator ... to the new program") unless non-restored state is allowed.
const CodeStateNotMapped = "STATE_NOT_MAPPED"

// PlanFindings compares a savepoint with the job graph the target runtime
// builds from the new code (ops, see runtime/local Driver.JobGraph): every
// operator with state in the savepoint must be an operator of the new job,
// by its generated id or by the id of its uid, as Flink matches them at
// restore. For Table API and SQL programs the planner of the target runtime
// generates the operators, so a query the new planner plans differently
// (or a changed query) shows up here before the running job is stopped.
// With allowNonRestored the unmatched state is only dropped (WARNING).
func PlanFindings(savepointPath string, ops []flinkplane.JobGraphOperator, allowNonRestored bool, target flinkplane.RuntimeID) ([]flinkplane.Finding, error) {
	p := strings.TrimPrefix(strings.TrimPrefix(savepointPath, "file://"), "file:")
	if st, err := os.Stat(p); err == nil && st.IsDir() {
		p = filepath.Join(p, "_metadata")
	}
	b, err := readLimited(p, 0, maxMetadataSize)
	if err != nil {
		return nil, flinkplane.Errorf(flinkplane.EINVALID, "Cannot read %s: %v.", p, err)
	}
	md, err := savepoint.ParseMetadata(b)
	if err != nil {
		return nil, flinkplane.Errorf(flinkplane.EINVALID, "%s is not a readable savepoint: %v.", p, err)
	}
	have := map[string]bool{}
	for _, op := range ops {
		have[op.ID] = true
		if op.UserID != "" {
			have[op.UserID] = true
		}
	}
	var findings []flinkplane.Finding
	for _, op := range md.Operators {
		if have[op.ID] || !hasState(op) {
			continue
		}
		name := op.ID
		if op.UID != "" || op.Name != "" {
			name = fmt.Sprintf("%s (uid %q, name %q)", op.ID, op.UID, op.Name)
		}
		f := flinkplane.Finding{Severity: flinkplane.SeverityError, Code: CodeStateNotMapped, Class: "operator " + op.ID, Symbol: name,
			Message: fmt.Sprintf("The savepoint has state for operator %s, which the new job built on %s does not have; Flink refuses the restore (\"Cannot map checkpoint/savepoint state for operator %s to the new program\").", name, target, op.ID),
			Hint:    "Give every stateful operator a uid() that stays the same. For Table API and SQL the planner chooses the operators: the same query can be planned differently by another Flink version, and Flink does not promise SQL state compatibility across versions (upgrade with a compiled plan, or start the new version without this state)."}
		if allowNonRestored {
			f.Severity = flinkplane.SeverityWarning
			f.Message = fmt.Sprintf("The savepoint has state for operator %s, which the new job built on %s does not have; with AllowNonRestoredState that state is dropped.", name, target)
		}
		findings = append(findings, f)
	}
	return findings, nil
}

// hasState mirrors Flink's test at restore: an operator without coordinator
// state and without any subtask state is skipped even when unmatched.
func hasState(op *savepoint.Operator) bool {
	if op.Coordinator != nil {
		return true
	}
	for _, st := range op.Subtasks {
		if st.ManagedOp != nil || st.RawOp != nil || st.ManagedKeyed != nil || st.RawKeyed != nil {
			return true
		}
	}
	return false
}
