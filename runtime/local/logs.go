package local

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/flinkplane/flinkplane"
)

// LogFile is one log file of a cluster.
type LogFile = flinkplane.LogFile

var _ flinkplane.LogReader = (*Driver)(nil)

// Logs lists the cluster's log files (jobmanager.log, jobmanager.out,
// taskmanager-<n>.log, ...). They stay after Stop. Returns ENOTFOUND when
// the cluster directory does not exist.
func (d *Driver) Logs(ctx context.Context, h flinkplane.ClusterHandle) ([]LogFile, error) {
	ents, err := os.ReadDir(filepath.Join(h.Dir, "log"))
	if os.IsNotExist(err) {
		return nil, flinkplane.Errorf(flinkplane.ENOTFOUND, "No logs for cluster %s.", h.ID)
	} else if err != nil {
		return nil, err
	}
	var out []LogFile
	for _, e := range ents {
		fi, err := e.Info()
		if err != nil || !fi.Mode().IsRegular() {
			continue
		}
		out = append(out, LogFile{Name: e.Name(), Size: fi.Size(), ModTime: fi.ModTime()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// ReadLog returns up to limit bytes of a log file from offset (a negative
// offset counts from the end: -4096 is the last 4 KiB). Returns ENOTFOUND
// for an unknown name.
func (d *Driver) ReadLog(ctx context.Context, h flinkplane.ClusterHandle, name string, offset, limit int64) ([]byte, error) {
	if name == "" || strings.ContainsAny(name, `/\`) || strings.HasPrefix(name, ".") {
		return nil, flinkplane.Errorf(flinkplane.ENOTFOUND, "Log %q not found.", name)
	}
	f, err := os.Open(filepath.Join(h.Dir, "log", name))
	if os.IsNotExist(err) {
		return nil, flinkplane.Errorf(flinkplane.ENOTFOUND, "Log %q not found.", name)
	} else if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if offset < 0 {
		offset = max(st.Size()+offset, 0)
	}
	if limit <= 0 || limit > 16<<20 {
		limit = 16 << 20
	}
	if _, err := f.Seek(offset, io.SeekStart); err != nil {
		return nil, err
	}
	return io.ReadAll(io.LimitReader(f, limit))
}
