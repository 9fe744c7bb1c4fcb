package compat

import (
	"context"
	"strings"
	"testing"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat/savepoint"
)

// counterGraph is the graph the dry compile builds for the counter fixture
// (its operators by uid, chained as Flink chains them); countUID names the
// keyed operator.
func counterGraph(countUID string) *flinkplane.JobGraphInfo {
	op := func(uid, name string) flinkplane.OperatorInfo {
		return flinkplane.OperatorInfo{ID: savepoint.OperatorIDForUID(uid), UID: uid, Name: name}
	}
	return &flinkplane.JobGraphInfo{Runtime: flinkplane.RuntimeFlink22, JobName: "counter", Vertices: []flinkplane.JobVertexInfo{
		{ID: "v1", Name: "Source: numbers", Parallelism: 2, MaxParallelism: -1, Operators: []flinkplane.OperatorInfo{op("numbers-source", "Source: numbers")}},
		{ID: "v2", Name: "count-per-key -> file-sink", Parallelism: 2, MaxParallelism: -1, Operators: []flinkplane.OperatorInfo{
			op("Sink Committer: file-sink", "file-sink: Committer"), op("file-sink", "file-sink: Writer"), op(countUID, "count-per-key")}},
	}}
}

func TestStateMapping(t *testing.T) {
	const sp = "testdata/savepoints/counter-1.20"
	c := &Checker{}
	ctx := context.Background()
	check := func(t *testing.T, g, prev *flinkplane.JobGraphInfo, allow bool) []flinkplane.Finding {
		t.Helper()
		fs, err := c.CheckStateMapping(ctx, sp, g, prev, allow)
		if err != nil {
			t.Fatal(err)
		}
		return fs
	}
	t.Run("SameUids", func(t *testing.T) {
		if fs := check(t, counterGraph("count-per-key"), nil, false); len(fs) != 0 {
			t.Errorf("findings %+v, want none", fs)
		}
	})
	t.Run("UidChanged", func(t *testing.T) {
		fs := check(t, counterGraph("count-per-key-v2"), nil, false)
		if len(fs) != 1 || fs[0].Severity != flinkplane.SeverityError || fs[0].Code != CodeUnmappedState {
			t.Fatalf("findings %+v, want one STATE_NOT_MAPPED error", fs)
		}
		f := fs[0]
		id := savepoint.OperatorIDForUID("count-per-key")
		if f.Symbol != id || !strings.Contains(f.Message, "Cannot map checkpoint/savepoint state for operator "+id) || !strings.Contains(f.Message, `"count"`) {
			t.Errorf("finding %+v: want the operator id, Flink's message and the state name", f)
		}
		// A 1.x savepoint records no uids: with the graph of the job that
		// wrote it, the operator is named by its uid.
		fs = check(t, counterGraph("count-per-key-v2"), counterGraph("count-per-key"), false)
		if len(fs) != 1 || fs[0].Class != `uid "count-per-key"` || !strings.Contains(fs[0].Hint, `named "count-per-key" with uid "count-per-key-v2"`) {
			t.Errorf("with the previous graph: %+v, want the operator named by uid and the renamed hint", fs)
		}
	})
	t.Run("AllowNonRestoredState", func(t *testing.T) {
		fs := check(t, counterGraph("count-per-key-v2"), nil, true)
		if len(fs) != 1 || fs[0].Severity != flinkplane.SeverityWarning || fs[0].Code != CodeStateDropped {
			t.Errorf("findings %+v, want one STATE_NOT_RESTORED warning", fs)
		}
	})
	t.Run("MaxParallelism", func(t *testing.T) {
		g := counterGraph("count-per-key")
		g.Vertices[1].MaxParallelism = 64 // the savepoint's is Flink's default, 128
		fs := check(t, g, nil, false)
		if len(fs) != 3 || fs[0].Code != CodeMaxParallelism || fs[0].Severity != flinkplane.SeverityError {
			t.Errorf("findings %+v, want MAX_PARALLELISM_MISMATCH for the three chained operators", fs)
		}
	})
	t.Run("NoGraph", func(t *testing.T) {
		if _, err := c.CheckStateMapping(ctx, sp, nil, nil, false); flinkplane.ErrorCode(err) != flinkplane.EINVALID {
			t.Errorf("err %v, want EINVALID", err)
		}
		if _, err := c.CheckStateMapping(ctx, "testdata/nope", counterGraph("x"), nil, false); flinkplane.ErrorCode(err) != flinkplane.ENOTFOUND {
			t.Errorf("err %v, want ENOTFOUND", err)
		}
	})
}
