package mock

import (
	"context"
	"sync"

	"github.com/flinkplane/flinkplane"
)

// LogReader is a flinkplane.LogReader whose methods are function fields;
// it records the names ReadLog was asked for.
type LogReader struct {
	LogsFunc    func(h flinkplane.ClusterHandle) ([]flinkplane.LogFile, error)
	ReadLogFunc func(h flinkplane.ClusterHandle, name string, offset, limit int64) ([]byte, error)
	mu          sync.Mutex
	Read        []string
}

var _ flinkplane.LogReader = (*LogReader)(nil)

func (r *LogReader) Logs(ctx context.Context, h flinkplane.ClusterHandle) ([]flinkplane.LogFile, error) {
	return r.LogsFunc(h)
}

func (r *LogReader) ReadLog(ctx context.Context, h flinkplane.ClusterHandle, name string, offset, limit int64) ([]byte, error) {
	r.mu.Lock()
	r.Read = append(r.Read, h.ID+"/"+name)
	r.mu.Unlock()
	return r.ReadLogFunc(h, name, offset, limit)
}
