package local

import (
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
)

// TestJobConfiguration: the configuration a dry compile gives main() is the
// cluster's: checkpointing and parallelism as the application sets them,
// without what belongs to one cluster.
func TestJobConfiguration(t *testing.T) {
	d := New(t.TempDir(), t.TempDir())
	c := d.JobConfiguration(flinkplane.ClusterSpec{ApplicationID: "a", Runtime: flinkplane.RuntimeFlink22, Parallelism: 4, ParallelismPerKPU: 2,
		Checkpoint: flinkplane.CheckpointSpec{Enabled: true, Interval: 60 * time.Second, MinPauseBetweenCheckpoints: 5 * time.Second}})
	for k, want := range map[string]string{"parallelism.default": "4", "execution.checkpointing.interval": "60000ms",
		"execution.checkpointing.min-pause": "5000ms", "state.backend.type": "rocksdb"} {
		if got := c[k]; got != want {
			t.Errorf("%s = %q, want %q", k, got, want)
		}
	}
	// Nothing that belongs to one cluster: the cluster running the job
	// supplies it (its checkpoint directory, its ports, its TLS keys).
	for k := range c {
		if clusterOnly(k) {
			t.Errorf("cluster key %s in the job configuration", k)
		}
	}
	for _, k := range []string{"execution.checkpointing.dir", "rest.port", "security.ssl.rest.enabled", "taskmanager.numberOfTaskSlots"} {
		if _, ok := c[k]; ok {
			t.Errorf("%s in the job configuration", k)
		}
	}
}
