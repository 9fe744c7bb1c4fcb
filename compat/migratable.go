package compat

import (
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat/savepoint"
)

// FindingOperator returns the operator of a report of CheckSavepointFor
// without job graphs that a finding names (its Class).
func FindingOperator(rep *SavepointReport, f flinkplane.Finding) (OperatorReport, bool) {
	for _, op := range rep.Operators {
		if f.Class == "operator "+operatorLabel(&savepoint.Operator{ID: op.ID, UID: op.UID, Name: op.Name}) {
			return op, true
		}
	}
	return OperatorReport{}, false
}
