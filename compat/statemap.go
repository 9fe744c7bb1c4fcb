package compat

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat/savepoint"
)

// Finding codes of the state mapping (a savepoint against a job graph).
const (
	CodeUnmappedState  = "STATE_NOT_MAPPED"
	CodeStateDropped   = "STATE_NOT_RESTORED"
	CodeMaxParallelism = "MAX_PARALLELISM_MISMATCH"
)

// CheckRestore implements flinkplane.JobCompiler: the state mapping
// (CheckStateMapping), the serializer check of the state graph restores
// (CheckSavepointFor) and the serializer snapshot classes against the
// target runtime, sorted.
func (c *Checker) CheckRestore(ctx context.Context, savepointPath string, target flinkplane.RuntimeID, graph, previous *flinkplane.JobGraphInfo, allowNonRestoredState bool) ([]flinkplane.Finding, error) {
	fs, err := c.CheckStateMapping(ctx, savepointPath, graph, previous, allowNonRestoredState)
	if err != nil {
		return nil, err
	}
	rep, err := CheckSavepointFor(ctx, savepointPath, target, graph, previous)
	if err != nil {
		return nil, err
	}
	fs = append(fs, rep.Findings...)
	// Every Flink serializer snapshot class the state was written with must
	// exist on the target (as CheckSavepointReport checks).
	if ix, err := c.Index(ctx, target); err != nil {
		fs = append(fs, flinkplane.Finding{Severity: flinkplane.SeverityInfo, Code: "RUNTIME_NOT_INDEXED",
			Message: fmt.Sprintf("The serializer classes of the state were not checked against %s: %s", target, flinkplane.ErrorMessage(err))})
	} else {
		f, err := snapshotClassFindings(ctx, rep.Path, ix)
		if err != nil {
			return nil, err
		}
		fs = append(fs, f...)
	}
	sortFindings(fs)
	return fs, nil
}

// CheckStateMapping matches the
// operator states of the savepoint at savepointPath against graph like
// Flink's Checkpoints.loadAndValidateCheckpoint (1.20 and 2.2 alike): every
// operator state with state in it must find an operator of the graph by its
// generated or user-defined id, unless allowNonRestoredState; an operator
// whose max parallelism the job sets explicitly must match the state's.
// Returns ENOTFOUND if the savepoint does not exist, EINVALID if it is not
// one.
func (c *Checker) CheckStateMapping(ctx context.Context, savepointPath string, graph, previous *flinkplane.JobGraphInfo, allowNonRestoredState bool) ([]flinkplane.Finding, error) {
	if graph == nil {
		return nil, flinkplane.Errorf(flinkplane.EINVALID, "No job graph to match the savepoint against.")
	}
	dir, md, err := readSavepointMetadata(savepointPath)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return StateMapping(dir, md, graph, previous, allowNonRestoredState), nil
}

// StateMapping is CheckStateMapping on parsed metadata; dir is the
// savepoint directory (state names are read from its files when needed).
func StateMapping(dir string, md *savepoint.Metadata, graph, previous *flinkplane.JobGraphInfo, allowNonRestoredState bool) []flinkplane.Finding {
	var out []flinkplane.Finding
	taken := map[string]bool{}
	for _, op := range md.Operators {
		o, v, ok := graph.Operator(op.ID)
		if ok {
			taken[o.ID] = true
			label := operatorLabel(op, graph, previous)
			if v.MaxParallelism > 0 && int32(v.MaxParallelism) != op.MaxParallelism {
				out = append(out, flinkplane.Finding{
					Severity: flinkplane.SeverityError, Code: CodeMaxParallelism, Class: label, Symbol: op.ID,
					Message: fmt.Sprintf("The state of operator %s was written with max parallelism %d; the new job sets max parallelism %d for it: Flink fails the restore (\"Max parallelism mismatch between checkpoint/savepoint state and new program\").", label, op.MaxParallelism, v.MaxParallelism),
					Hint:    fmt.Sprintf("Keep setMaxParallelism(%d) for this operator (the max parallelism of keyed state cannot change), or do not set it.", op.MaxParallelism),
				})
			}
			continue
		}
		label := operatorLabel(op, graph, previous)
		names := stateNames(dir, op)
		what := "its state"
		if len(names) > 0 {
			what = "its state (" + strings.Join(names, ", ") + ")"
		}
		if !operatorHasState(op) {
			continue // Flink skips empty operator state ("Skipping empty savepoint state")
		}
		if allowNonRestoredState {
			out = append(out, flinkplane.Finding{
				Severity: flinkplane.SeverityWarning, Code: CodeStateDropped, Class: label, Symbol: op.ID,
				Message: fmt.Sprintf("No operator of the new job takes the state of operator %s: with AllowNonRestoredState the job starts without %s.", label, what),
			})
			continue
		}
		f := flinkplane.Finding{
			Severity: flinkplane.SeverityError, Code: CodeUnmappedState, Class: label, Symbol: op.ID,
			Message: fmt.Sprintf("No operator of the new job takes the state of operator %s: Flink fails the restore (\"Cannot map checkpoint/savepoint state for operator %s to the new program, because the operator is not available in the new program\"), so %s would be lost.", label, op.ID, what),
			Hint:    "Keep the operator's uid in the new job (uid(...) on the operator), or set AllowNonRestoredState to start without this state.",
		}
		if cand := renamed(op, graph, previous); cand != "" {
			f.Hint = cand + " " + f.Hint
		}
		out = append(out, f)
	}
	sortFindings(out)
	return out
}

// operatorLabel names a savepoint operator for a person: the uid the new
// graph, the previous graph or the savepoint (version 5+) gives it, else its
// name, else its id.
func operatorLabel(op *savepoint.Operator, graphs ...*flinkplane.JobGraphInfo) string {
	for _, g := range graphs {
		if o, _, ok := g.Operator(op.ID); ok && (o.UID != "" || o.Name != "") {
			return o.Label()
		}
	}
	switch {
	case op.UID != "":
		return "uid " + quoted(op.UID)
	case op.Name != "":
		return quoted(op.Name) + " (id " + op.ID + ")"
	}
	return "id " + op.ID
}

func quoted(s string) string { return "\"" + s + "\"" }

// renamed explains an unmatched operator state when the new graph has an
// operator of the same name under another id: its uid changed.
func renamed(op *savepoint.Operator, graph, previous *flinkplane.JobGraphInfo) string {
	name := op.Name
	if o, _, ok := previous.Operator(op.ID); ok && o.Name != "" {
		name = o.Name
	}
	if name == "" {
		return ""
	}
	for _, v := range graph.Vertices {
		for _, o := range v.Operators {
			if o.Name == name {
				if o.UID != "" {
					return fmt.Sprintf("The new job has an operator named %s with uid %s: did its uid change?", quoted(name), quoted(o.UID))
				}
				return fmt.Sprintf("The new job has an operator named %s without a uid: did its uid change?", quoted(name))
			}
		}
	}
	return ""
}

// operatorHasState reports whether an operator's savepoint state holds any state
// handle (Flink's OperatorSubtaskState.hasState, or coordinator state).
func operatorHasState(op *savepoint.Operator) bool {
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

// stateNames lists an operator's state names: operator state names from
// the metadata, keyed state names from the first readable keyed state
// header.
func stateNames(dir string, op *savepoint.Operator) []string {
	seen := map[string]bool{}
	var out []string
	add := func(n string) {
		if !seen[n] {
			seen[n] = true
			out = append(out, quoted(n))
		}
	}
	keyedRead := false
	for _, st := range op.Subtasks {
		if st.ManagedOp != nil {
			for _, s := range st.ManagedOp.States {
				add(s.Name)
			}
		}
		if !keyedRead && st.ManagedKeyed != nil {
			for _, h := range flattenKeyed(st.ManagedKeyed) {
				if p, err := readKeyedProxy(dir, h); err == nil {
					for _, s := range p.States {
						if s.Type != "PRIORITY_QUEUE" {
							add(s.Name)
						}
					}
					keyedRead = true
					break
				}
			}
		}
	}
	if op.Coordinator != nil {
		add("source coordinator")
	}
	sort.Strings(out)
	return out
}
