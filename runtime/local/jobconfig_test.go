package local

import (
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
)

// TestJobConfiguration: the configuration a dry compile gives main() is the
// cluster's: checkpointing and parallelism as the application sets them.
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
}
