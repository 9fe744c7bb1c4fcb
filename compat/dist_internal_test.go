package compat

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat/savepoint"
)

// The savepoints under testdata/dist-savepoints were taken on real Flink
// 1.20.5 from the cep-pattern fixture (testdata/apps): "fresh" by a job
// that was never restored, "restored" by a job restored from "fresh".
// Observed on Flink 2.2.1: fresh restores, restored fails with
// ClassNotFoundException (docs/compat.md).
const legacyCEP = "org.apache.flink.cep.nfa.sharedbuffer.SharedBufferNode$SharedBufferNodeSerializer$SharedBufferNodeSerializerSnapshot"

// fakeIndex holds every Flink class a savepoint names except those removed.
func fakeIndex(t *testing.T, dir string, removed ...string) *Index {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, "_metadata"))
	if err != nil {
		t.Fatal(err)
	}
	ix := &Index{Runtime: flinkplane.RuntimeFlink22, FlinkVersion: "2.2.1", Classes: map[string]*ClassInfo{}}
	// Every printable run that looks like a Flink class name.
	var cur []byte
	flush := func() {
		s := string(cur)
		cur = cur[:0]
		if i := strings.Index(s, "org.apache.flink."); i >= 0 {
			s = s[i:]
			for _, r := range removed {
				if s == r {
					return
				}
			}
			ix.Classes[strings.ReplaceAll(s, ".", "/")] = &ClassInfo{}
		}
	}
	for _, c := range b {
		if c > ' ' && c < 127 {
			cur = append(cur, c)
		} else {
			flush()
		}
	}
	flush()
	return ix
}

func TestSnapshotClassFindings_CEP(t *testing.T) {
	ctx := context.Background()
	for _, tc := range []struct {
		dir  string
		want int
	}{{"testdata/dist-savepoints/cep-1.20-fresh", 0}, {"testdata/dist-savepoints/cep-1.20-restored", 1}} {
		f, err := snapshotClassFindings(ctx, tc.dir, fakeIndex(t, tc.dir, legacyCEP))
		if err != nil {
			t.Fatal(err)
		}
		if len(f) != tc.want {
			t.Fatalf("%s: findings %+v, want %d", tc.dir, f, tc.want)
		}
		if tc.want == 1 && (f[0].Code != CodeSnapshotClassRemoved || f[0].Symbol != legacyCEP || f[0].Severity != flinkplane.SeverityError ||
			!strings.Contains(f[0].Hint, "CEP")) {
			t.Fatalf("finding %+v", f[0])
		}
		// A target that has every class: nothing.
		if f, _ := snapshotClassFindings(ctx, tc.dir, fakeIndex(t, tc.dir)); len(f) != 0 {
			t.Fatalf("%s with every class: %+v", tc.dir, f)
		}
	}
}

// TestStateMapping_CEP: the state mapping on the distribution's CEP
// savepoint (operator state, keyed state, source coordinator state): every
// operator present, matched by a user-defined id, or one missing.
func TestStateMapping_CEP(t *testing.T) {
	dir := "testdata/dist-savepoints/cep-1.20-restored"
	b, _ := os.ReadFile(filepath.Join(dir, "_metadata"))
	md, err := savepoint.ParseMetadata(b)
	if err != nil {
		t.Fatal(err)
	}
	graph := func(ops []flinkplane.OperatorInfo) *flinkplane.JobGraphInfo {
		return &flinkplane.JobGraphInfo{Vertices: []flinkplane.JobVertexInfo{{ID: "v", MaxParallelism: -1, Operators: ops}}}
	}
	var all []flinkplane.OperatorInfo
	stateful := ""
	for _, op := range md.Operators {
		all = append(all, flinkplane.OperatorInfo{ID: op.ID})
		if operatorHasState(op) && stateful == "" {
			stateful = op.ID
		}
	}
	if f := StateMapping(dir, md, graph(all), nil, false); len(f) != 0 {
		t.Fatalf("same operators: %+v", f)
	}
	// The operator matched by its user-defined id instead of its generated id.
	var byUID []flinkplane.OperatorInfo
	for _, op := range all {
		if op.ID == stateful {
			op = flinkplane.OperatorInfo{ID: "00000000000000000000000000000000", UserDefinedID: stateful}
		}
		byUID = append(byUID, op)
	}
	if f := StateMapping(dir, md, graph(byUID), nil, false); len(f) != 0 {
		t.Fatalf("matched by its user-defined id: %+v", f)
	}
	var without []flinkplane.OperatorInfo
	for _, op := range all {
		if op.ID != stateful {
			without = append(without, op)
		}
	}
	f := StateMapping(dir, md, graph(without), nil, false)
	if len(f) != 1 || f[0].Code != CodeUnmappedState || f[0].Severity != flinkplane.SeverityError || !strings.Contains(f[0].Message, stateful) {
		t.Fatalf("missing operator: %+v", f)
	}
	if f := StateMapping(dir, md, graph(without), nil, true); len(f) != 1 || f[0].Code != CodeStateDropped || f[0].Severity != flinkplane.SeverityWarning {
		t.Fatalf("with AllowNonRestoredState: %+v", f)
	}
}

func TestFormatFindings(t *testing.T) {
	native := &savepoint.Metadata{Version: 4, Operators: []*savepoint.Operator{{ID: "a", Subtasks: []*savepoint.Subtask{{
		ManagedKeyed: &savepoint.KeyedStateHandle{Type: handleIncrementalV2}}}}}}
	canonical := &savepoint.Metadata{Version: 4, Operators: []*savepoint.Operator{{ID: "a", Subtasks: []*savepoint.Subtask{{
		ManagedKeyed: &savepoint.KeyedStateHandle{Type: 7}}}}}}
	if f := formatFindings(native, 1, 2); len(f) != 1 || f[0].Code != CodeNativeSavepoint || f[0].Severity != flinkplane.SeverityWarning {
		t.Fatalf("native 1.x for 2.x: %+v", f)
	}
	if f := formatFindings(native, 1, 1); len(f) != 0 {
		t.Fatalf("native within 1.x: %+v", f)
	}
	if f := formatFindings(canonical, 1, 2); len(f) != 0 {
		t.Fatalf("canonical: %+v", f)
	}
}
