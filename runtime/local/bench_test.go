package local_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/runtime/local/localtest"
)

func BenchmarkCluster_FLINK_1_20(b *testing.B) { benchCluster(b, flinkplane.RuntimeFlink120) }
func BenchmarkCluster_FLINK_2_2(b *testing.B)  { benchCluster(b, flinkplane.RuntimeFlink22) }

// benchCluster measures, per iteration (run with -benchtime=1x): Start →
// job RUNNING with all tasks running (parallelism 2 on 2 TaskManagers),
// savepoint trigger → completed, stop-with-savepoint → job FINISHED, and
// the resident memory (sum of VmRSS) of the running cluster's JVMs.
func benchCluster(b *testing.B, id flinkplane.RuntimeID) {
	localtest.RequireRuntime(b, id)
	jar := localtest.TestJobJar(b, id)
	var readyS, readyCPU, startS, spS, stopS, rssMiB float64
	for i := 0; i < b.N; i++ {
		d := localtest.NewDriver(b, b.TempDir())
		d.Logf = func(string, ...any) {}
		// FLINKPLANE_BENCH_CONFIG=k=v,k=v adds cluster configuration, e.g.
		// state.backend.type=hashmap to compare with a runtime without RocksDB.
		if extra := os.Getenv("FLINKPLANE_BENCH_CONFIG"); extra != "" {
			d.ExtraConfig = map[string]string{}
			for _, kv := range strings.Split(extra, ",") {
				if k, v, ok := strings.Cut(kv, "="); ok {
					d.ExtraConfig[k] = v
				}
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		spec := flinkplane.ClusterSpec{ApplicationID: "bench", Runtime: id, Parallelism: 2, ParallelismPerKPU: 1,
			Checkpoint: flinkplane.CheckpointSpec{Enabled: true, Interval: 10 * time.Second, MinPauseBetweenCheckpoints: 5 * time.Second}}
		t0 := time.Now()
		h, err := d.Start(ctx, spec)
		if err != nil {
			b.Fatal(err)
		}
		readyS += time.Since(t0).Seconds()
		// CPU time the cluster's JVMs used to get ready: less sensitive to
		// the machine's load than the wall time.
		for _, pid := range d.ClusterProcesses(h) {
			readyCPU += cpuSeconds(pid)
		}
		jobID, err := d.Submit(ctx, h, flinkplane.JobSpec{JarPath: jar})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := d.WaitJobRunning(ctx, h, jobID); err != nil {
			b.Fatal(err)
		}
		startS += time.Since(t0).Seconds()
		time.Sleep(5 * time.Second) // let the JVMs settle before measuring memory
		rss, _ := d.ResidentMemory(h)
		rssMiB += float64(rss) / (1 << 20)

		t1 := time.Now()
		tr, err := d.TriggerSavepoint(ctx, h, jobID, "")
		if err != nil {
			b.Fatal(err)
		}
		waitSavepoint(b, ctx, d.PollSavepoint, h, jobID, tr)
		spS += time.Since(t1).Seconds()

		t2 := time.Now()
		tr, err = d.StopWithSavepoint(ctx, h, jobID, "")
		if err != nil {
			b.Fatal(err)
		}
		waitSavepoint(b, ctx, d.PollSavepoint, h, jobID, tr)
		c := localtest.RESTClient(b, d, h)
		for {
			if s, _ := c.JobStatus(ctx, jobID); s == "FINISHED" {
				break
			}
			time.Sleep(50 * time.Millisecond)
		}
		stopS += time.Since(t2).Seconds()
		if err := d.Stop(ctx, h); err != nil {
			b.Fatal(err)
		}
		cancel()
	}
	n := float64(b.N)
	b.ReportMetric(readyS/n, "start-to-cluster-ready-s")
	b.ReportMetric(readyCPU/n, "cluster-ready-cpu-s")
	b.ReportMetric(startS/n, "start-to-running-s")
	b.ReportMetric(spS/n, "savepoint-s")
	b.ReportMetric(stopS/n, "stop-with-savepoint-s")
	b.ReportMetric(rssMiB/n, "cluster-rss-MiB")
	b.ReportMetric(0, "ns/op")
}

func waitSavepoint(b *testing.B, ctx context.Context, poll func(context.Context, flinkplane.ClusterHandle, string, string) (flinkplane.SavepointStatus, error), h flinkplane.ClusterHandle, jobID, tr string) {
	for {
		st, err := poll(ctx, h, jobID, tr)
		if err != nil {
			b.Fatal(err)
		}
		if st.Done {
			if st.Failure != "" {
				b.Fatal(st.Failure)
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cpuSeconds is the user + system CPU time of a process (/proc/<pid>/stat).
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseFloat(f[11], 64)
	st, _ := strconv.ParseFloat(f[12], 64)
	return (u + st) / 100 // clock ticks (USER_HZ)
}

func BenchmarkClassData_FLINK_1_20(b *testing.B) { benchClassData(b, flinkplane.RuntimeFlink120) }
func BenchmarkClassData_FLINK_2_2(b *testing.B)  { benchClassData(b, flinkplane.RuntimeFlink22) }

// benchClassData compares, in one run, cluster starts without and with the
// class-data-sharing archives (cds.go): Start → cluster ready and Start →
// job RUNNING (wall time), and the CPU time the cluster's JVMs used until
// the job ran. The archives are written by one start before the timer
// (built from the classes its JVMs loaded when its cluster stops). Each iteration starts one
// cluster of each kind, alternating which goes first.
func benchClassData(b *testing.B, id flinkplane.RuntimeID) {
	localtest.RequireRuntime(b, id)
	jar := localtest.TestJobJar(b, id)
	archives := b.TempDir()
	type sample struct{ ready, running, cpu float64 }
	run := func(cds string) sample {
		d := localtest.NewDriver(b, b.TempDir())
		d.Logf = func(string, ...any) {}
		d.ClassDataDir = cds
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer cancel()
		spec := flinkplane.ClusterSpec{ApplicationID: "bench", Runtime: id, Parallelism: 1, ParallelismPerKPU: 1,
			Checkpoint: flinkplane.CheckpointSpec{Enabled: true, Interval: 10 * time.Second, MinPauseBetweenCheckpoints: 5 * time.Second}}
		t0 := time.Now()
		h, err := d.Start(ctx, spec)
		if err != nil {
			b.Fatal(err)
		}
		var s sample
		s.ready = time.Since(t0).Seconds()
		jobID, err := d.Submit(ctx, h, flinkplane.JobSpec{JarPath: jar})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := d.WaitJobRunning(ctx, h, jobID); err != nil {
			b.Fatal(err)
		}
		s.running = time.Since(t0).Seconds()
		for _, pid := range d.ClusterProcesses(h) {
			s.cpu += cpuSeconds(pid)
		}
		if err := d.Stop(ctx, h); err != nil {
			b.Fatal(err)
		}
		d.WaitClassData()
		return s
	}
	b.StopTimer()
	run(archives) // writes the archives when its cluster stops
	if m, _ := filepath.Glob(filepath.Join(archives, "*.jsa")); len(m) != 1 {
		b.Fatalf("class data archive not written: %v", m)
	}
	b.StartTimer()
	var off, on sample
	for i := 0; i < b.N; i++ {
		order := []string{"", archives}
		if i%2 == 1 {
			order = []string{archives, ""}
		}
		for _, dir := range order {
			s := run(dir)
			acc := &off
			if dir != "" {
				acc = &on
			}
			acc.ready += s.ready
			acc.running += s.running
			acc.cpu += s.cpu
		}
	}
	n := float64(b.N)
	b.ReportMetric(off.ready/n, "ready-s-without")
	b.ReportMetric(on.ready/n, "ready-s-with")
	b.ReportMetric(off.running/n, "running-s-without")
	b.ReportMetric(on.running/n, "running-s-with")
	b.ReportMetric(off.cpu/n, "cpu-s-without")
	b.ReportMetric(on.cpu/n, "cpu-s-with")
	b.ReportMetric(0, "ns/op")
}
