package local

import (
	"os"
	"strconv"
	"strings"

	"github.com/flinkplane/flinkplane"
)

// CheckCapacity reports whether a cluster for spec fits this machine, so
// that CreateApplication and UpdateApplication refuse a configuration that
// could never start (engine.CapacityChecker): at most MaxTaskManagers
// TaskManagers (ceil(Parallelism/ParallelismPerKPU)), and the process
// memory of its JVMs (the JobManager and every TaskManager, as configured
// in config.go) within the machine's memory (MemTotal, or the cgroup limit
// if lower). ELIMIT otherwise.
func (d *Driver) CheckCapacity(spec flinkplane.ClusterSpec) error {
	p, slots, tms := sizes(spec)
	if d.MaxTaskManagers > 0 && tms > d.MaxTaskManagers {
		return flinkplane.Errorf(flinkplane.ELIMIT,
			"Parallelism %d with ParallelismPerKPU %d needs %d TaskManagers (KPUs); this service runs at most %d per application.",
			p, slots, tms, d.MaxTaskManagers)
	}
	need := d.clusterMemoryMB(slots, tms)
	if have := machineMemoryMB(); have > 0 && need > have {
		return flinkplane.Errorf(flinkplane.ELIMIT,
			"Parallelism %d with ParallelismPerKPU %d needs %d TaskManagers and %d MiB of memory for its JVMs; this machine has %d MiB.",
			p, slots, tms, need, have)
	}
	return nil
}

// clusterMemoryMB is the process memory of a cluster's JVMs.
func (d *Driver) clusterMemoryMB(slots, tms int) int {
	jm := d.jmHeapMB() + jmOffHeap + jmMetaspace + jmOverhead
	tm := tmFwHeap + d.tmTaskHeapMB(slots) + tmFwOffHeap + tmNetwork + tmManagedSlot*slots + tmMetaspace + tmOverhead
	return jm + tms*tm
}

// machineMemoryMB is MemTotal, or the cgroup's memory limit if lower; 0 if
// unknown.
func machineMemoryMB() int {
	total := 0
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "MemTotal:"); ok {
				kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
				total = kb / 1024
			}
		}
	}
	for _, p := range []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"} {
		b, err := os.ReadFile(p)
		if err != nil {
			continue
		}
		n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
		if err == nil && n > 0 && (total == 0 || int(n>>20) < total) {
			total = int(n >> 20)
		}
	}
	return total
}
