package local

import (
	"context"
	"os"
	"path/filepath"
	"regexp"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/internal/atomicfile"
)

var _ flinkplane.LogLevelSetter = (*Driver)(nil)

var rootLevelRe = regexp.MustCompile(`(?m)^rootLogger\.level\s*=\s*(\S+)\s*$`)

// SetLogLevel sets the root log level of every JVM of the cluster (DEBUG,
// INFO, WARN or ERROR) by rewriting the cluster's conf/log4j.properties,
// which Log4j 2 reloads within its monitorInterval (30 s). It is
// idempotent; a cluster directory without the file returns ENOTFOUND.
func (d *Driver) SetLogLevel(ctx context.Context, h flinkplane.ClusterHandle, level string) error {
	switch level {
	case "DEBUG", "INFO", "WARN", "ERROR":
	default:
		return flinkplane.Errorf(flinkplane.EINVALID, "Invalid log level %q.", level)
	}
	path := filepath.Join(h.Dir, "conf", "log4j.properties")
	b, err := os.ReadFile(path)
	if os.IsNotExist(err) {
		return flinkplane.Errorf(flinkplane.ENOTFOUND, "Cluster %s has no log configuration.", h.ID)
	} else if err != nil {
		return err
	}
	m := rootLevelRe.FindSubmatch(b)
	if m == nil {
		return flinkplane.Errorf(flinkplane.EINVALID, "The log configuration of cluster %s has no root level.", h.ID)
	}
	if string(m[1]) == level {
		return nil
	}
	out := rootLevelRe.ReplaceAll(b, []byte("rootLogger.level = "+level))
	return atomicfile.WriteFile(path, out, 0o644)
}

// LogLevel returns the cluster's root log level as configured.
func (d *Driver) LogLevel(h flinkplane.ClusterHandle) (string, error) {
	b, err := os.ReadFile(filepath.Join(h.Dir, "conf", "log4j.properties"))
	if err != nil {
		return "", err
	}
	if m := rootLevelRe.FindSubmatch(b); m != nil {
		return string(m[1]), nil
	}
	return "", nil
}
