package flinkplane

import (
	"context"
	"time"
)

// LogFile is one log file of a cluster (jobmanager.log, taskmanager-1.out, ...).
type LogFile struct {
	Name    string    `json:"name"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"modTime"`
}

// LogReader is implemented by a ClusterDriver that keeps each cluster's
// logs; the service reads them through it. Logs stay readable after the
// cluster stopped, until the application is deleted.
type LogReader interface {
	// Logs lists the log files of a cluster, ordered by name. Returns
	// ENOTFOUND when the cluster has no logs.
	Logs(ctx context.Context, h ClusterHandle) ([]LogFile, error)
	// ReadLog returns up to limit bytes of a log file from offset (a
	// negative offset counts from the end). Returns ENOTFOUND for an
	// unknown name or a name that is not a plain file name.
	ReadLog(ctx context.Context, h ClusterHandle, name string, offset, limit int64) ([]byte, error)
}
