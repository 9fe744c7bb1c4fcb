package mock

import (
	"context"
	"sync"

	"github.com/flinkplane/flinkplane"
)

// JobCompiler returns fixed graphs and findings and records its calls.
type JobCompiler struct {
	mu sync.Mutex
	// CompileFunc returns the graph and findings of a dry compile; nil: an
	// empty graph.
	CompileFunc func(target flinkplane.RuntimeID, job flinkplane.CompileSpec) (*flinkplane.JobGraphInfo, []flinkplane.Finding, error)
	// RestoreFunc returns the findings of CheckRestore; nil: none.
	RestoreFunc func(savepoint string, target flinkplane.RuntimeID, graph *flinkplane.JobGraphInfo, allowNonRestoredState bool) ([]flinkplane.Finding, error)
	Calls       []string
}

var _ flinkplane.JobCompiler = (*JobCompiler)(nil)

func (c *JobCompiler) record(call string) {
	c.mu.Lock()
	c.Calls = append(c.Calls, call)
	c.mu.Unlock()
}

func (c *JobCompiler) CompileJob(ctx context.Context, target flinkplane.RuntimeID, job flinkplane.CompileSpec) (*flinkplane.JobGraphInfo, []flinkplane.Finding, error) {
	c.record("CompileJob(" + job.JarPath + "," + string(target) + ")")
	if c.CompileFunc == nil {
		return &flinkplane.JobGraphInfo{Runtime: target}, nil, nil
	}
	return c.CompileFunc(target, job)
}

func (c *JobCompiler) CheckRestore(ctx context.Context, savepoint string, target flinkplane.RuntimeID, graph, previous *flinkplane.JobGraphInfo, allowNonRestoredState bool) ([]flinkplane.Finding, error) {
	c.record("CheckRestore(" + savepoint + "," + string(target) + ")")
	if c.RestoreFunc == nil {
		return nil, nil
	}
	return c.RestoreFunc(savepoint, target, graph, allowNonRestoredState)
}
