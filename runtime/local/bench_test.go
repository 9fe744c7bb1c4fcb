package local_test

import (
	"context"
	"fmt"
	"os"
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
