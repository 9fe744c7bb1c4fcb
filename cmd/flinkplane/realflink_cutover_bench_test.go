package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kav2 "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/internal/fixtures"
	"github.com/flinkplane/flinkplane/runtime/local"
)

// BenchmarkRealFlinkCutover measures, through the AWS SDK against the real
// server on real Flink with the server's default settings (engine poll
// interval 1 s, probation window auto: twice the checkpoint interval, at
// least 10 s), for the counter application at parallelism 1 (checkpoints
// every second, 200 records per second, each line carrying its processing
// time):
//
//	start-job-s   StartApplication → its job runs with all tasks (Flink's view)
//	start-s       StartApplication → RUNNING (the API, after probation)
//	update-job-s  UpdateApplication FLINK-1_20 → FLINK-2_2 (counter-2.2.jar) → the 2.2 job runs with all tasks
//	update-s      UpdateApplication → RUNNING on 2.2 (the API, after probation)
//	gap-s         last record processed on 1.20 → first processed on 2.2 (from the output's times)
//
// and, from the steps the operations recorded (when they record them):
//
//	start-compile-s  the start's COMPILE_JOB (the dry compile, before any cluster starts)
//	start-cluster-s  the start's START_CLUSTER (JobManager and TaskManager JVMs, until the slots registered)
//	start-submit-s   the start's SUBMIT (the compiled graph through POST /jobs)
//
//
//	before-stop-s   UpdateApplication → the stop with savepoint begins (checks, warm start, compile; the old job runs)
//	checks-s        of which UpdateApplication's synchronous pre-flight (JAR check, dry compile, state mapping)
//	warm-start-s    of which START_TARGET_CLUSTER (the 2.2 cluster's JVMs, until its slots registered)
//	savepoint-s     the stop with savepoint: trigger → completed
//	submit-s        the savepoint completed → the job submitted to the 2.2 cluster (old job's cluster left, restore resolved)
//	restore-s       submitted → its first record processed (scheduling, deployment, state restore, sources)
//	tasks-running-s submitted → seen running with all tasks (polled every 25 ms through Flink's REST API)
//
//	go test -run '^$' -bench RealFlinkCutover -benchtime 3x -timeout 60m ./cmd/flinkplane
//
// FLINKPLANE_BENCH_CDS=off runs it without class data sharing.
func BenchmarkRealFlinkCutover(b *testing.B) {
	jars := needReal(b, []flinkplane.RuntimeID{flinkplane.RuntimeFlink120, flinkplane.RuntimeFlink22}, fixtures.Counter120, fixtures.Counter22)
	r := startRealPoll(b, jars, time.Second, func(m *Main) {
		m.Config.ProbationWindow = 0
		// FLINKPLANE_BENCH_CDS=off: the cluster JVMs without class data
		// sharing (the comparison run).
		if os.Getenv("FLINKPLANE_BENCH_CDS") == "off" {
			m.Driver.(*local.Driver).ClassDataDir = ""
		}
	})
	// The one-time costs of a data directory (the compatibility checker's
	// runtime index, the dry compile's helper and class data archive) are
	// paid before the clock runs, as a long-running server paid them once.
	r.benchWarmUp(b, jars)
	var sum map[string]float64 = map[string]float64{}
	add := func(k string, v float64) { sum[k] += v }
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		app := fmt.Sprintf("cut%d", i)
		out := filepath.Join(r.dataDir, "output-"+app)
		r.create(app, types.RuntimeEnvironmentFlink120, fixtures.Counter120, out, func(in *kav2.CreateApplicationInput) {
			in.ApplicationConfiguration.EnvironmentProperties.PropertyGroups[0].PropertyMap["emit.time"] = "true"
			in.ApplicationConfiguration.EnvironmentProperties.PropertyGroups[0].PropertyMap["rate.per.second"] = "200"
			in.ApplicationConfiguration.FlinkApplicationConfiguration.CheckpointConfiguration.CheckpointInterval = aws.Int64(1000)
		})

		t0 := time.Now()
		if _, err := r.c.StartApplication(sctx, &kav2.StartApplicationInput{ApplicationName: aws.String(app),
			RunConfiguration: &types.RunConfiguration{ApplicationRestoreConfiguration: &types.ApplicationRestoreConfiguration{
				ApplicationRestoreType: types.ApplicationRestoreTypeSkipRestoreFromSnapshot}}}); err != nil {
			b.Fatal(err)
		}
		jobAt, apiAt := r.benchRunning(b, app, flinkplane.RuntimeFlink120)
		add("start-job-s", jobAt.Sub(t0).Seconds())
		add("start-s", apiAt.Sub(t0).Seconds())
		for k, v := range r.startSplit(b, app) {
			add(k, v)
		}

		time.Sleep(3 * time.Second)
		d := r.describe(app)
		t0 = time.Now()
		if _, err := r.c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String(app),
			CurrentApplicationVersionId: d.ApplicationVersionId, RuntimeEnvironmentUpdate: types.RuntimeEnvironmentFlink22,
			ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{ApplicationCodeConfigurationUpdate: &types.ApplicationCodeConfigurationUpdate{
				CodeContentUpdate: &types.CodeContentUpdate{S3ContentLocationUpdate: &types.S3ContentLocationUpdate{FileKeyUpdate: aws.String(fixtures.Counter22 + ".jar")}}}},
		}); err != nil {
			b.Fatal(err)
		}
		jobAt, apiAt = r.benchRunning(b, app, flinkplane.RuntimeFlink22)
		add("update-job-s", jobAt.Sub(t0).Seconds())
		add("update-s", apiAt.Sub(t0).Seconds())

		// The output of the cut-over is committed by the 2.2 job's next
		// checkpoints.
		time.Sleep(3 * time.Second)
		tl, err := fixtures.CounterTimeline(out)
		if err != nil {
			b.Fatal(err)
		}
		at, gap := fixtures.LargestGap(tl, t0.Add(-time.Second))
		if at < 0 {
			b.Fatalf("no output around the update: %d records", len(tl))
		}
		add("gap-s", gap.Seconds())
		first := tl[at].Time
		if split := r.cutoverSplit(b, app, t0, jobAt, first); split != nil {
			for k, v := range split {
				add(k, v)
			}
			b.Logf("%s: update %.2fs (job %.2fs), gap %.2fs: %s", app, apiAt.Sub(t0).Seconds(), jobAt.Sub(t0).Seconds(), gap.Seconds(), fmtSplit(split))
		} else {
			b.Logf("%s: update %.2fs (job %.2fs), gap %.2fs", app, apiAt.Sub(t0).Seconds(), jobAt.Sub(t0).Seconds(), gap.Seconds())
		}
		if _, err := fixtures.CheckCounterOutput(out); err != nil {
			b.Fatalf("output after the cut-over: %v", err)
		}
		if _, err := r.c.StopApplication(sctx, &kav2.StopApplicationInput{ApplicationName: aws.String(app), Force: aws.Bool(true)}); err != nil {
			b.Fatal(err)
		}
		benchWait(b, func() bool { return r.describe(app).ApplicationStatus == types.ApplicationStatusReady })
	}
	b.StopTimer()
	keys := make([]string, 0, len(sum))
	for k := range sum {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		b.ReportMetric(sum[k]/float64(b.N), k)
	}
}

func fmtSplit(m map[string]float64) string {
	var parts []string
	for _, k := range []string{"checks-s", "warm-start-s", "before-stop-s", "savepoint-s", "submit-s", "restore-s", "tasks-running-s"} {
		if v, ok := m[k]; ok {
			parts = append(parts, fmt.Sprintf("%s %.2f", strings.TrimSuffix(k, "-s"), v))
		}
	}
	return strings.Join(parts, ", ")
}

// benchRunning waits until the application's job runs with all its tasks
// on runtime (read from the store and the driver, polled every 25 ms) and
// then until the API says RUNNING; it returns both times.
func (r *realEnv) benchRunning(b *testing.B, app string, runtime flinkplane.RuntimeID) (job, api time.Time) {
	b.Helper()
	deadline := time.Now().Add(5 * time.Minute)
	for job.IsZero() || api.IsZero() {
		if time.Now().After(deadline) {
			b.Fatalf("%s did not reach RUNNING on %s", app, runtime)
		}
		if job.IsZero() {
			var a *flinkplane.Application
			r.m.DB.View(sctx, func(tx flinkplane.Tx) (err error) { a, err = tx.Application(app); return err })
			if a != nil && a.Cluster != nil && a.Cluster.Runtime == runtime && a.JobID != "" {
				if h, err := r.m.driver.JobHealth(sctx, *a.Cluster, a.JobID); err == nil && h.State == "RUNNING" && h.AllTasksRunning {
					job = time.Now()
				}
			}
		}
		if api.IsZero() && !job.IsZero() {
			d := r.describe(app)
			switch d.ApplicationStatus {
			case types.ApplicationStatusRunning:
				if d.RuntimeEnvironment == types.RuntimeEnvironment(runtime) {
					api = time.Now()
				}
			case types.ApplicationStatusStarting, types.ApplicationStatusUpdating:
			default:
				b.Fatalf("%s is %s", app, d.ApplicationStatus)
			}
		}
		time.Sleep(25 * time.Millisecond)
	}
	return job, api
}
