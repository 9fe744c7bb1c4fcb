package local

import (
	"path/filepath"
	"strings"

	"github.com/flinkplane/flinkplane"
)

// stateConfig is the managed service's state set-up of every cluster: the
// RocksDB state backend with incremental checkpoints, checkpoints and
// savepoints in the application's storage (the data directory, or the S3
// storage when one is configured), and Flink's plugin directory for the S3
// file systems. An application changes only what the API lets it change
// (CheckpointConfiguration: enabled, interval, min pause), as on AWS; the
// service operator can override any key with Driver.ExtraConfig. See
// docs/runtimes.md "State".
func (d *Driver) stateConfig(spec flinkplane.ClusterSpec, info clusterInfo, dir string) map[string]string {
	ckpt := d.checkpointDir(spec.ApplicationID, filepath.Base(dir))
	c := map[string]string{
		"state.backend.type": "rocksdb",
		// New keys (1.20+, required in 2.x) and the older ones (1.18/1.19);
		// unknown keys are ignored by Flink.
		"execution.checkpointing.incremental": "true",
		"state.backend.incremental":           "true",
		// RocksDB takes its memory from the TaskManager's managed memory
		// (taskmanager.memory.managed.size), Flink's default.
		"state.backend.rocksdb.memory.managed": "true",

		"execution.checkpointing.dir":           ckpt,
		"execution.checkpointing.savepoint-dir": fileURI(info.SavepointDir),
		"state.checkpoints.dir":                 ckpt,
		"state.savepoints.dir":                  fileURI(info.SavepointDir),
	}
	if d.Storage != nil {
		for k, v := range d.Storage.flinkConfig() {
			c[k] = v
		}
	}
	return c
}

// checkpointDir is the checkpoint directory URI of one cluster.
func (d *Driver) checkpointDir(app, cluster string) string {
	if d.Storage != nil {
		return d.Storage.checkpointDir(app, cluster)
	}
	return "file://" + filepath.Join(d.DataDir, "checkpoints", app, cluster)
}

// fileURI turns a local path into a file:// URI and leaves URIs alone.
func fileURI(p string) string {
	if strings.Contains(p, "://") {
		return p
	}
	return "file://" + p
}
