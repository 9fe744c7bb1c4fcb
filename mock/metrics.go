package mock

import (
	"context"
	"sync"

	"github.com/flinkplane/flinkplane"
)

// MetricsReader is a flinkplane.MetricsReader whose ReadMetrics is a
// function field; it records the job ids it was asked for.
type MetricsReader struct {
	ReadMetricsFunc func(h flinkplane.ClusterHandle, jobID, level string) (flinkplane.JobMetrics, error)
	mu              sync.Mutex
	Reads           []string
}

var _ flinkplane.MetricsReader = (*MetricsReader)(nil)

func (r *MetricsReader) ReadMetrics(ctx context.Context, h flinkplane.ClusterHandle, jobID, level string) (flinkplane.JobMetrics, error) {
	r.mu.Lock()
	r.Reads = append(r.Reads, jobID)
	r.mu.Unlock()
	return r.ReadMetricsFunc(h, jobID, level)
}

// ReadCount returns how many readings were taken.
func (r *MetricsReader) ReadCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.Reads)
}
