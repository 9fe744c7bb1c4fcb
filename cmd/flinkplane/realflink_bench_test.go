package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kav2 "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/internal/fixtures"
)

// BenchmarkRealFlinkLifecycle measures, through the AWS SDK against the
// real server on real Flink, for the counter application (DataStream) and
// the sql-window application (SQL: the planner loaded through
// flink-table-planner-loader), parallelism 1 (one JobManager and one
// TaskManager):
//
//	start-s     StartApplication (SKIP_RESTORE_FROM_SNAPSHOT) → RUNNING (job running all tasks)
//	snapshot-s  CreateApplicationSnapshot → snapshot READY
//	stop-s      StopApplication (with its snapshot) → READY
//	rss-MiB     resident memory of the running cluster (sum of VmRSS of its JVMs)
//
//	go test -run '^$' -bench RealFlinkLifecycle -benchtime 2x ./cmd/flinkplane
func BenchmarkRealFlinkLifecycle(b *testing.B) {
	for _, c := range []struct {
		name string
		rt   types.RuntimeEnvironment
		jar  string
	}{
		{"FLINK-1_20", types.RuntimeEnvironmentFlink120, fixtures.Counter120},
		{"FLINK-2_2", types.RuntimeEnvironmentFlink22, fixtures.Counter22},
		{"FLINK-1_20-SQL", types.RuntimeEnvironmentFlink120, fixtures.SQLWindow120},
		{"FLINK-2_2-SQL", types.RuntimeEnvironmentFlink22, fixtures.SQLWindow22},
	} {
		if f := os.Getenv("FLINKPLANE_BENCH_APPS"); f != "" && !strings.Contains(","+f+",", ","+c.name+",") {
			continue
		}
		b.Run(c.name, func(b *testing.B) {
			jars := needReal(b, []flinkplane.RuntimeID{flinkplane.RuntimeID(c.rt)}, c.jar)
			r := startRealPoll(b, jars, 50*time.Millisecond)
			const app = "bench"
			r.create(app, c.rt, c.jar, filepath.Join(r.dataDir, "output"))
			var start, snap, stop, rss float64
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t0 := time.Now()
				if _, err := r.c.StartApplication(sctx, &kav2.StartApplicationInput{ApplicationName: aws.String(app),
					RunConfiguration: &types.RunConfiguration{ApplicationRestoreConfiguration: &types.ApplicationRestoreConfiguration{
						ApplicationRestoreType: types.ApplicationRestoreTypeSkipRestoreFromSnapshot}}}); err != nil {
					b.Fatal(err)
				}
				benchWait(b, func() bool { return r.describe(app).ApplicationStatus == types.ApplicationStatusRunning })
				start += time.Since(t0).Seconds()

				time.Sleep(3 * time.Second) // let the job settle and checkpoint
				rss += float64(clusterRSS(r.dataDir)) / (1 << 20)

				name := fmt.Sprintf("s%d", i)
				t0 = time.Now()
				if _, err := r.c.CreateApplicationSnapshot(sctx, &kav2.CreateApplicationSnapshotInput{ApplicationName: aws.String(app), SnapshotName: aws.String(name)}); err != nil {
					b.Fatal(err)
				}
				benchWait(b, func() bool {
					d, err := r.c.DescribeApplicationSnapshot(sctx, &kav2.DescribeApplicationSnapshotInput{ApplicationName: aws.String(app), SnapshotName: aws.String(name)})
					return err == nil && d.SnapshotDetails.SnapshotStatus == types.SnapshotStatusReady
				})
				snap += time.Since(t0).Seconds()

				t0 = time.Now()
				if _, err := r.c.StopApplication(sctx, &kav2.StopApplicationInput{ApplicationName: aws.String(app)}); err != nil {
					b.Fatal(err)
				}
				benchWait(b, func() bool { return r.describe(app).ApplicationStatus == types.ApplicationStatusReady })
				stop += time.Since(t0).Seconds()
			}
			n := float64(b.N)
			b.ReportMetric(start/n, "start-s")
			b.ReportMetric(snap/n, "snapshot-s")
			b.ReportMetric(stop/n, "stop-s")
			b.ReportMetric(rss/n, "rss-MiB")
		})
	}
}

func benchWait(b *testing.B, done func() bool) {
	b.Helper()
	for deadline := time.Now().Add(5 * time.Minute); !done(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			b.Fatal("timed out")
		}
	}
}

// clusterRSS is the sum of VmRSS (bytes) of the data directory's JVMs.
func clusterRSS(dataDir string) int64 {
	var sum int64
	for _, pid := range dataDirJVMs(dataDir) {
		b, err := os.ReadFile(filepath.Join("/proc", strconv.Itoa(pid), "status"))
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				kb, _ := strconv.ParseInt(f[1], 10, 64)
				sum += kb << 10
			}
		}
	}
	return sum
}
