package local

import (
	"path/filepath"

	"github.com/flinkplane/flinkplane"
)

// JobConfiguration returns the Flink configuration a job submitted to a
// cluster of spec runs with (the cluster's config.yaml, with no ports
// chosen): what a dry compile gives the job's main() as
// flinkplane.CompileSpec.FlinkConfig, so that the graph it builds is the
// one this cluster would run (checkpointing, parallelism, state backend).
func (d *Driver) JobConfiguration(spec flinkplane.ClusterSpec) map[string]string {
	par, slots, tms := sizes(spec)
	info := clusterInfo{Application: spec.ApplicationID, TaskManagers: tms, Slots: slots, SavepointDir: d.SavepointDir(spec.ApplicationID)}
	return d.clusterConfig(spec, info, filepath.Join(d.DataDir, "clusters", spec.ApplicationID, "dry-compile"), par)
}
