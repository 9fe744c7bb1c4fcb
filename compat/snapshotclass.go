package compat

import (
	"context"
	"fmt"

	"path/filepath"
	"sort"
	"strings"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat/savepoint"
)

// CodeSnapshotClassRemoved: a serializer snapshot class of Flink that the
// savepoint's state was written with does not exist on the target runtime.
// Flink needs the class to read the state's meta information and fails the
// restore with a ClassNotFoundException. Found on real Flink with CEP: the
// NFA's shared buffer state of Flink 1.20 names
// SharedBufferNode$SharedBufferNodeSerializer$SharedBufferNodeSerializerSnapshot,
// which Flink 2.x removed (docs/compat.md).
const CodeSnapshotClassRemoved = "SERIALIZER_SNAPSHOT_REMOVED"

// CheckSavepointReport is CheckSavepoint plus the checks that need the
// target runtime's symbol index: every Flink serializer snapshot class the
// state was written with must exist on the target. When the target is not
// installed those checks are skipped (an INFO finding says so).
func (c *Checker) CheckSavepointReport(ctx context.Context, path string, target flinkplane.RuntimeID) (*SavepointReport, error) {
	rep, err := CheckSavepoint(ctx, path, target)
	if err != nil {
		return nil, err
	}
	ix, err := c.Index(ctx, target)
	if err != nil {
		rep.Findings = append(rep.Findings, flinkplane.Finding{Severity: flinkplane.SeverityInfo, Code: "RUNTIME_NOT_INDEXED",
			Message: fmt.Sprintf("The serializer classes of the state were not checked against %s: %s", target, flinkplane.ErrorMessage(err))})
	} else {
		f, err := snapshotClassFindings(ctx, rep.Path, ix)
		if err != nil {
			return nil, err
		}
		rep.Findings = append(rep.Findings, f...)
	}
	sortFindings(rep.Findings)
	rep.Summary.Errors, rep.Summary.Warnings, rep.Summary.Infos = 0, 0, 0
	summarize(rep.Findings, &rep.Summary)
	return rep, nil
}

// snapshotClassFindings reads the state meta information of every operator
// of the savepoint in dir and reports Flink serializer snapshot classes the
// index does not have, one finding per class with the states using it.
func snapshotClassFindings(ctx context.Context, dir string, ix *Index) ([]flinkplane.Finding, error) {
	b, err := readLimited(filepath.Join(dir, "_metadata"), 0, maxMetadataSize)
	if err != nil {
		return nil, err
	}
	md, err := savepoint.ParseMetadata(b)
	if err != nil {
		return nil, nil // CheckSavepoint reported it
	}
	users := map[string][]string{} // class -> "operator/state"
	for _, op := range md.Operators {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		where := op.ID
		if op.UID != "" {
			where = op.UID
		}
		seen := map[string]bool{}
		use := func(state string, classes []string) {
			for _, cl := range classes {
				if k := cl + "\x00" + state; !seen[k] {
					seen[k] = true
					users[cl] = append(users[cl], where+"/"+state)
				}
			}
		}
		for i, st := range op.Subtasks {
			if i >= maxSubtasks {
				break
			}
			for _, h := range flattenKeyed(st.ManagedKeyed) {
				p, err := readKeyedProxy(dir, h)
				if err != nil {
					continue // CheckSavepoint reports unreadable state
				}
				use("(key)", snapshotClasses(p.KeySerializer))
				for _, sm := range p.States {
					for _, s := range sm.Serializers {
						use(sm.Name, snapshotClasses(s))
					}
				}
				use("(undecoded)", p.ScannedClasses)
			}
			if st.ManagedOp != nil {
				p, err := readOperatorProxy(dir, st.ManagedOp)
				if err != nil {
					continue
				}
				for _, sm := range p.States {
					for _, s := range sm.Serializers {
						use(sm.Name, snapshotClasses(s))
					}
				}
				use("(undecoded)", p.ScannedClasses)
			}
		}
	}
	var classes []string
	for cl := range users {
		if strings.HasPrefix(cl, "org.apache.flink.") && strings.HasSuffix(cl, "Snapshot") && ix.Class(strings.ReplaceAll(cl, ".", "/")) == nil {
			classes = append(classes, cl)
		}
	}
	sort.Strings(classes)
	var out []flinkplane.Finding
	for _, cl := range classes {
		states := users[cl]
		sort.Strings(states)
		out = append(out, flinkplane.Finding{Severity: flinkplane.SeverityError, Code: CodeSnapshotClassRemoved,
			Class: "state " + states[0], Symbol: cl,
			Message: fmt.Sprintf("The state %s was written with the serializer snapshot %s, which Flink %s (%s) does not have; the restore fails with java.lang.ClassNotFoundException: %s.",
				strings.Join(states, ", "), cl, ix.FlinkVersion, ix.Runtime, cl),
			Hint: hintForSnapshotClass(cl)})
	}
	return out, nil
}

func hintForSnapshotClass(cl string) string {
	if strings.HasPrefix(cl, "org.apache.flink.cep.") {
		return "CEP keeps partial matches in this state. Drain the job (stop it with drain, or let open patterns complete) and start the new version without this operator's state (AllowNonRestoredState), or stay on the old version."
	}
	return "The state cannot be read by the target version: migrate it with the State Processor API on the old version, or start without it."
}

// snapshotClasses returns the snapshot classes of a serializer snapshot and
// of everything nested in it.
func snapshotClasses(s *savepoint.Snapshot) []string {
	if s == nil {
		return nil
	}
	out := []string{s.Class}
	for _, n := range s.Nested {
		out = append(out, snapshotClasses(n)...)
	}
	for _, f := range s.Fields {
		out = append(out, snapshotClasses(f.Snapshot)...)
	}
	return out
}
