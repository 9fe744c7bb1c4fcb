package local

import (
	"strings"

	"github.com/flinkplane/flinkplane"
)

var _ flinkplane.JobGraphSubmitter = (*Driver)(nil)

// JobConfiguration implements flinkplane.JobGraphSubmitter: the Flink
// configuration a job of a cluster of spec is compiled with. It is the
// cluster's configuration (clusterConfig) without what belongs to one
// cluster: ports and addresses, memory sizes, directories (checkpoints,
// savepoints, temporary files), TLS. The job's own configuration takes
// precedence over the cluster's where both have a key, so leaving these
// out lets the cluster that runs the job supply them (Flink's
// StateBackendLoader and CheckpointStorageLoader read the job's
// configuration, then the cluster's).
func (d *Driver) JobConfiguration(spec flinkplane.ClusterSpec) map[string]string {
	par, slots, tms := sizes(spec)
	info := clusterInfo{Application: spec.ApplicationID, TaskManagers: tms, Slots: slots, SavepointDir: d.SavepointDir(spec.ApplicationID)}
	all := d.clusterConfig(spec, info, "", par)
	out := map[string]string{}
	for k, v := range all {
		if clusterOnly(k) {
			continue
		}
		out[k] = v
	}
	return out
}

// clusterOnly reports whether a configuration key belongs to one cluster
// rather than to the jobs it runs.
func clusterOnly(k string) bool {
	for _, p := range []string{"jobmanager.", "taskmanager.", "rest.", "blob.", "web.", "metrics.", "security.", "high-availability",
		"io.tmp.dirs", "cluster.", "heartbeat.", "s3.", "fs."} {
		if strings.HasPrefix(k, p) {
			return true
		}
	}
	switch k {
	case "execution.checkpointing.dir", "execution.checkpointing.savepoint-dir", "state.checkpoints.dir", "state.savepoints.dir":
		return true
	}
	return false
}
