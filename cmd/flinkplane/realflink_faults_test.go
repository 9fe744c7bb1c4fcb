package main

// Fault tests on real Flink: one counter application per runtime walks
// through a sequence of faults, each checked through the real SDK and the
// health endpoint, with the committed FileSink output checked exactly (no
// gap, no duplicate) after each: a TaskManager JVM killed with SIGKILL, the
// JobManager JVM killed with SIGKILL, a restart loop after RUNNING, a job
// whose restart strategy gives up (FAILED), a job cancelled through Flink's
// REST API, and an update that fails with system rollback disabled, then a
// manual rollback (1.20) or a corrected update (2.2), and a StopApplication
// right after a TaskManager SIGKILL. For each fault the
// test measures the time until the API told the truth and until the job
// ran again (logged as "FAULT" lines; bench/faults.sh collects them).

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kav2 "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/client"
	"github.com/flinkplane/flinkplane/flinkrest"
	"github.com/flinkplane/flinkplane/internal/fixtures"
	"github.com/flinkplane/flinkplane/runtime/local"
)

// The two sequences run in parallel with each other and the other
// real-Flink tests (needReal): each has its own server, data directory and
// cluster. bench/faults.sh runs them one at a time for its figures.

func TestRealFlink_Faults_FLINK_1_20(t *testing.T) {
	faultSequence(t, types.RuntimeEnvironmentFlink120, fixtures.Counter120)
}

func TestRealFlink_Faults_FLINK_2_2(t *testing.T) {
	faultSequence(t, types.RuntimeEnvironmentFlink22, fixtures.Counter22)
}

// faultRun is one application under fault.
type faultRun struct {
	*realEnv
	t       *testing.T
	app     string
	out     string
	fail    string // the counter's fail.file
	hc      *client.Client
	figures []string
}

// cluster returns the application's stored cluster handle and job id.
func (f *faultRun) cluster() (flinkplane.ClusterHandle, string) {
	f.t.Helper()
	h, jobID := f.current()
	if h == nil {
		f.t.Fatalf("application %s has no cluster", f.app)
	}
	return *h, jobID
}

// current is cluster without failing when there is none (between the
// steps of a recovery).
func (f *faultRun) current() (*flinkplane.ClusterHandle, string) {
	var a *flinkplane.Application
	if err := f.m.DB.View(sctx, func(tx flinkplane.Tx) (err error) { a, err = tx.Application(f.app); return err }); err != nil {
		f.t.Fatal(err)
	}
	return a.Cluster, a.JobID
}

// pid reads a role's pid file in the cluster directory.
func pidOf(t *testing.T, h flinkplane.ClusterHandle, role string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(h.Dir, role+".pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	return pid
}

func (f *faultRun) health() *client.HealthResponse {
	f.t.Helper()
	r, err := f.hc.Health(sctx, f.app, client.HealthOptions{History: 30})
	if err != nil {
		f.t.Fatal(err)
	}
	return r
}

// until polls cond every 100 ms and returns the time since start when it
// first holds.
func (f *faultRun) until(what string, start time.Time, limit time.Duration, cond func() bool) time.Duration {
	f.t.Helper()
	for {
		if cond() {
			return time.Since(start)
		}
		if time.Since(start) > limit {
			f.t.Fatalf("%s: not within %s", what, limit)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// sawSince reports whether the newest health, or one in its history, was
// taken after t0 and satisfies cond.
func sawSince(r *client.HealthResponse, t0 time.Time, cond func(*flinkplane.HealthSample) bool) bool {
	for _, s := range append([]*flinkplane.HealthSample{r.Health}, r.History...) {
		if s != nil && s.Time.After(t0) && cond(s) {
			return true
		}
	}
	return false
}

// operationSince returns the newest operation of a kind started after t0.
func (f *faultRun) operationSince(kind string, t0 time.Time) *types.ApplicationOperationInfo {
	f.t.Helper()
	ops, err := f.c.ListApplicationOperations(sctx, &kav2.ListApplicationOperationsInput{ApplicationName: aws.String(f.app), Operation: aws.String(kind)})
	if err != nil {
		f.t.Fatal(err)
	}
	for _, op := range ops.ApplicationOperationInfoList {
		if op.StartTime != nil && !op.StartTime.Before(t0.Add(-time.Second)) {
			return &op
		}
	}
	return nil
}

// flink returns a client of a cluster's Flink REST API: the driver's, with
// mutual TLS (the cluster's REST accepts only its own client certificate).
func (f *faultRun) flink(h flinkplane.ClusterHandle, timeout time.Duration) *flinkrest.Client {
	f.t.Helper()
	c, err := f.m.Driver.(*local.Driver).RESTClient(h, timeout)
	if err != nil {
		f.t.Fatal(err)
	}
	return c
}

// jobRunning returns the application's live job when it runs with all its
// tasks (asked from Flink on the application's current cluster).
func (f *faultRun) jobRunning() (flinkrest.Job, bool) {
	h, jobID := f.current()
	if h == nil || jobID == "" {
		return flinkrest.Job{}, false
	}
	j, err := f.flink(*h, 2*time.Second).Job(sctx, jobID)
	return j, err == nil && j.AllTasksRunning()
}

// restarts returns numRestarts of the application's job from Flink.
func (f *faultRun) restarts(jobID string) int64 {
	h, _ := f.current()
	if h == nil {
		return -1
	}
	m, err := f.flink(*h, 0).JobMetrics(sctx, jobID, "numRestarts")
	if err != nil {
		return -1
	}
	n, _ := strconv.ParseInt(m["numRestarts"], 10, 64)
	return n
}

func (f *faultRun) figure(fault string, truth, running, apiRunning time.Duration, note string) {
	line := fmt.Sprintf("FAULT %-10s %-26s truth %5.1fs  job running again %5.1fs  API RUNNING %5.1fs  %s",
		f.app, fault, truth.Seconds(), running.Seconds(), apiRunning.Seconds(), note)
	if running < 0 {
		line = fmt.Sprintf("FAULT %-10s %-26s truth %5.1fs  job running again     -   API RUNNING     -   %s", f.app, fault, truth.Seconds(), note)
	}
	f.t.Log(line)
	f.figures = append(f.figures, line)
}

// continues waits for 50 more committed records and checks the output
// exactly; it returns the record count.
func (f *faultRun) continues(after int64) int64 {
	f.t.Helper()
	waitRecords(f.t, f.out, after+50)
	return checkOutput(f.t, f.out, after)
}

// jvms requires the number of live JVMs of the data directory (no orphan).
func (f *faultRun) jvms(want int) {
	f.t.Helper()
	var pids []int
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		if pids = dataDirJVMs(f.dataDir); len(pids) == want || time.Now().After(deadline) {
			break
		}
	}
	if len(pids) != want {
		f.t.Fatalf("%d JVMs of the data directory (%v), want %d", len(pids), pids, want)
	}
}

func faultSequence(t *testing.T, rt types.RuntimeEnvironment, jar string) {
	jars := needReal(t, []flinkplane.RuntimeID{"FLINK-1_20", "FLINK-2_2"}, fixtures.Counter120, fixtures.Counter22, fixtures.CounterUID22)
	r := startRealPoll(t, jars, 200*time.Millisecond)
	f := &faultRun{realEnv: r, t: t, app: "faults" + strings.ReplaceAll(strings.TrimPrefix(string(rt), "FLINK-"), "_", ""), hc: client.New(r.m.URL())}
	f.out = filepath.Join(r.dataDir, "output", f.app)
	f.fail = filepath.Join(r.dataDir, "fail-"+f.app)
	f.create(f.app, rt, jar, f.out, func(in *kav2.CreateApplicationInput) {
		in.ApplicationConfiguration.EnvironmentProperties.PropertyGroups[0].PropertyMap["fail.file"] = f.fail
		in.Tags = []types.Tag{{Key: aws.String(flinkplane.TagProbationWindow), Value: aws.String("5s")}}
	})
	t.Cleanup(func() {
		t.Logf("fault figures (%s, watch every %s):\n%s", rt, r.m.Config.WatchInterval, strings.Join(f.figures, "\n"))
	})
	f.start(f.app, types.ApplicationRestoreTypeSkipRestoreFromSnapshot, "")
	waitRecords(t, f.out, 50)
	n := checkOutput(t, f.out, 0)

	// 1. A TaskManager JVM killed with SIGKILL: replaced on the same
	// cluster, Flink fails the job over from its checkpoint.
	{
		h, jobID := f.cluster()
		before := f.restarts(jobID)
		tm := pidOf(t, h, "taskmanager-0")
		t0 := time.Now()
		syscall.Kill(tm, syscall.SIGKILL)
		truth := f.until("TaskManager loss shown", t0, 30*time.Second, func() bool {
			return sawSince(f.health(), t0, func(s *flinkplane.HealthSample) bool {
				return s.Cluster != nil && s.Cluster.TaskManagersAlive < s.Cluster.TaskManagers
			}) || f.operationSince(flinkplane.OpRecovery, t0) != nil
		})
		running := f.until("job running again", t0, 3*time.Minute, func() bool {
			j, ok := f.jobRunning()
			return ok && j.ID == jobID && f.restarts(jobID) > before
		})
		op := f.operationSince(flinkplane.OpRecovery, t0)
		if op == nil {
			t.Fatal("no Recovery operation")
		}
		f.waitOp(f.app, aws.ToString(op.OperationId))
		api := time.Since(t0)
		if h2, j2 := f.cluster(); h2.ID != h.ID || j2 != jobID {
			t.Fatalf("TaskManager recovery moved the job: cluster %s job %s (was %s %s)", h2.ID, j2, h.ID, jobID)
		}
		f.jvms(2)
		n = f.continues(n)
		f.figure("TaskManager SIGKILL", truth, running, api, "same cluster, TaskManager replaced")
	}

	// 2. The JobManager JVM killed with SIGKILL: a fresh cluster restored
	// from the newest checkpoint.
	{
		h, jobID := f.cluster()
		jm := pidOf(t, h, "jobmanager")
		t0 := time.Now()
		syscall.Kill(jm, syscall.SIGKILL)
		truth := f.until("JobManager loss shown", t0, 30*time.Second, func() bool {
			return sawSince(f.health(), t0, func(s *flinkplane.HealthSample) bool { return s.Status == flinkplane.HealthJobManagerLost }) ||
				f.operationSince(flinkplane.OpRecovery, t0) != nil
		})
		running := f.until("job running again", t0, 4*time.Minute, func() bool {
			j, ok := f.jobRunning()
			return ok && j.ID != jobID
		})
		op := f.operationSince(flinkplane.OpRecovery, t0)
		f.waitOp(f.app, aws.ToString(op.OperationId))
		api := time.Since(t0)
		h2, j2 := f.cluster()
		if p := restoredFrom(t, f.flink(h2, 0), j2); !strings.Contains(p, "/"+h.ID+"/"+jobID+"/chk-") {
			t.Fatalf("recovered job restored from %q, want a checkpoint of job %s", p, jobID)
		}
		f.jvms(2)
		n = f.continues(n)
		f.figure("JobManager SIGKILL", truth, running, api, "fresh cluster from the newest checkpoint")
	}

	// 3. A restart loop after RUNNING: two failures of the user code; the
	// health shows the restarts, Flink's restart strategy brings it back,
	// the application stays RUNNING (no operation: the job recovers itself).
	{
		_, jobID := f.cluster()
		before := f.restarts(jobID)
		t0 := time.Now()
		os.WriteFile(f.fail, []byte("2"), 0o644)
		truth := f.until("restarts shown", t0, time.Minute, func() bool {
			return sawSince(f.health(), t0, func(s *flinkplane.HealthSample) bool { return s.Restarts > before })
		})
		running := f.until("job running again", t0, 2*time.Minute, func() bool {
			_, ok := f.jobRunning()
			return ok && f.restarts(jobID) >= before+2
		})
		hs := f.health().Health
		if !strings.Contains(hs.Cause, "User code exception at dev.flinkplane.fixtures.counter.FaultTrigger.check") {
			t.Fatalf("health cause %q", hs.Cause)
		}
		if d := f.describe(f.app); d.ApplicationStatus != types.ApplicationStatusRunning || f.operationSince(flinkplane.OpRecovery, t0) != nil {
			t.Fatalf("restart loop: status %s", d.ApplicationStatus)
		}
		n = f.continues(n)
		f.figure("restart loop (2 failures)", truth, running, running, "Flink's own restarts; health cause: "+hs.Cause)
	}

	// 4. The restart strategy gives up (one failure more than the attempts
	// the job has left of its three): FAILED, then a fresh cluster from the
	// newest checkpoint.
	{
		_, jobID := f.cluster()
		failures := 4 - f.restarts(jobID)
		t0 := time.Now()
		os.WriteFile(f.fail, []byte(strconv.FormatInt(failures, 10)), 0o644)
		truth := f.until("FAILED shown", t0, 2*time.Minute, func() bool {
			return sawSince(f.health(), t0, func(s *flinkplane.HealthSample) bool { return s.Status == flinkplane.HealthFailed }) ||
				f.operationSince(flinkplane.OpRecovery, t0) != nil
		})
		running := f.until("job running again", t0, 4*time.Minute, func() bool {
			j, ok := f.jobRunning()
			return ok && j.ID != jobID
		})
		op := f.operationSince(flinkplane.OpRecovery, t0)
		det := f.waitOp(f.app, aws.ToString(op.OperationId))
		api := time.Since(t0)
		od, _ := f.hc.DescribeOperation(sctx, f.app, aws.ToString(op.OperationId))
		if !strings.Contains(od.Cause, "reached FAILED") || !strings.Contains(od.Cause, "FaultTrigger.check") {
			t.Fatalf("recovery cause %q (%+v)", od.Cause, det)
		}
		f.jvms(2)
		n = f.continues(n)
		f.figure(fmt.Sprintf("job FAILED (%d failures)", failures), truth, running, api, "fresh cluster from the newest checkpoint")
	}

	// 5. Cancelled through Flink's REST API: READY, not restarted; the next
	// start restores the kept checkpoint and the counts continue.
	{
		h, jobID := f.cluster()
		t0 := time.Now()
		if err := f.flink(h, 0).Cancel(sctx, jobID); err != nil {
			t.Fatal(err)
		}
		truth := f.until("READY", t0, time.Minute, func() bool {
			return f.describe(f.app).ApplicationStatus == types.ApplicationStatusReady
		})
		stop := f.operationSince(flinkplane.OpStopApplication, t0)
		od, _ := f.hc.DescribeOperation(sctx, f.app, aws.ToString(stop.OperationId))
		if !od.System || !strings.Contains(od.Cause, "cancelled outside flinkplane") {
			t.Fatalf("stop %+v", od)
		}
		f.jvms(0)
		time.Sleep(2 * time.Second)
		if d := f.describe(f.app); d.ApplicationStatus != types.ApplicationStatusReady || len(dataDirJVMs(f.dataDir)) != 0 {
			t.Fatalf("restarted after an external cancel: %s", d.ApplicationStatus)
		}
		n = checkOutput(t, f.out, n-1)
		t1 := time.Now()
		fc, job := f.start(f.app, types.ApplicationRestoreTypeRestoreFromLatestSnapshot, "")
		if p := restoredFrom(t, fc, job.ID); !strings.Contains(p, "/"+jobID+"/chk-") {
			t.Fatalf("restart after the cancel restored from %q, want the kept checkpoint of %s", p, jobID)
		}
		n = f.continues(n)
		f.figure("cancel via Flink REST", truth, -1, 0, fmt.Sprintf("READY, not restarted; StartApplication from the kept checkpoint took %.1fs", time.Since(t1).Seconds()))
	}

	// 6. An update that fails with system rollback disabled: the
	// application stays RUNNING on the new version with no job processing
	// (the health shows it), then RollbackApplication (1.20) or a corrected
	// update (2.2) brings the job back from the pre-update snapshot. The
	// update fails after the old job stopped: counter-uid-2.2 (its keyed
	// operator under another uid, forced through the check's
	// STATE_NOT_MAPPED with compat-check=warn) cannot restore the savepoint
	// of the stop. (A job whose main() fails on the target fails the
	// update's COMPILE_JOB, before the stop, and leaves the old job
	// running: see the engine's tests.)
	{
		if _, err := f.c.TagResource(sctx, &kav2.TagResourceInput{ResourceARN: f.describe(f.app).ApplicationARN,
			Tags: []types.Tag{{Key: aws.String("flinkplane:compat-check"), Value: aws.String("warn")}}}); err != nil {
			t.Fatal(err)
		}
		d := f.describe(f.app)
		in := &kav2.UpdateApplicationInput{ApplicationName: aws.String(f.app), CurrentApplicationVersionId: d.ApplicationVersionId,
			ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{ApplicationCodeConfigurationUpdate: &types.ApplicationCodeConfigurationUpdate{
				CodeContentUpdate: &types.CodeContentUpdate{S3ContentLocationUpdate: &types.S3ContentLocationUpdate{FileKeyUpdate: aws.String(fixtures.CounterUID22 + ".jar")}}}}}
		if rt == types.RuntimeEnvironmentFlink120 {
			in.RuntimeEnvironmentUpdate = types.RuntimeEnvironmentFlink22
		}
		t0 := time.Now()
		upd, err := f.c.UpdateApplication(sctx, in)
		if err != nil {
			t.Fatal(err)
		}
		var op *types.ApplicationOperationInfoDetails
		truth := f.until("update FAILED", t0, 4*time.Minute, func() bool {
			o, err := f.c.DescribeApplicationOperation(sctx, &kav2.DescribeApplicationOperationInput{ApplicationName: aws.String(f.app), OperationId: upd.OperationId})
			if err != nil {
				t.Fatal(err)
			}
			op = o.ApplicationOperationInfoDetails
			return op.OperationStatus != types.OperationStatusInProgress
		})
		if op.OperationStatus != types.OperationStatusFailed || op.OperationFailureDetails == nil || op.OperationFailureDetails.RollbackOperationId != nil ||
			!strings.Contains(aws.ToString(op.OperationFailureDetails.ErrorInfo.ErrorString), "Cannot map checkpoint/savepoint state") {
			t.Fatalf("failed update %+v %+v", op, op.OperationFailureDetails)
		}
		d = f.describe(f.app)
		hr := f.health()
		if d.ApplicationStatus != types.ApplicationStatusRunning || hr.FailedOperationID != aws.ToString(upd.OperationId) {
			t.Fatalf("after the failed update: %s, health %+v", d.ApplicationStatus, hr)
		}
		var last *client.HealthResponse
		for deadline := time.Now().Add(time.Minute); ; time.Sleep(200 * time.Millisecond) {
			last = f.health()
			// No job processing: the job Flink refused to restore is FAILED
			// (a job that was never submitted shows NO_JOB).
			if h := last.Health; h != nil && h.Time.After(t0) && (h.Status == flinkplane.HealthNoJob || h.Status == flinkplane.HealthFailed) {
				break
			}
			if time.Now().After(deadline) {
				for _, s := range append([]*flinkplane.HealthSample{last.Health}, last.History...) {
					if s != nil {
						t.Logf("%s %s %s job %s cluster %s error %q", s.Time.Format(time.RFC3339Nano), s.Status, s.JobState, s.JobID, s.ClusterID, s.Error)
					}
				}
				t.Fatalf("the health never showed the failed update's job not processing (update failed at %s)", t0.Add(truth).Format(time.RFC3339Nano))
			}
		}
		f.jvms(2) // the new runtime's cluster, kept: owned, not orphaned
		t1 := time.Now()
		var opID string
		what := "RollbackApplication"
		if rt == types.RuntimeEnvironmentFlink120 {
			rb, err := f.c.RollbackApplication(sctx, &kav2.RollbackApplicationInput{ApplicationName: aws.String(f.app), CurrentApplicationVersionId: d.ApplicationVersionId})
			if err != nil {
				t.Fatal(err)
			}
			opID = aws.ToString(rb.OperationId)
		} else {
			what = "corrected UpdateApplication"
			fix, err := f.c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String(f.app), CurrentApplicationVersionId: d.ApplicationVersionId,
				ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{ApplicationCodeConfigurationUpdate: &types.ApplicationCodeConfigurationUpdate{
					CodeContentUpdate: &types.CodeContentUpdate{S3ContentLocationUpdate: &types.S3ContentLocationUpdate{FileKeyUpdate: aws.String(fixtures.Counter22 + ".jar")}}}}})
			if err != nil {
				t.Fatal(err)
			}
			opID = aws.ToString(fix.OperationId)
		}
		running := f.until("job running again", t1, 4*time.Minute, func() bool { _, ok := f.jobRunning(); return ok })
		f.waitOp(f.app, opID)
		api := time.Since(t1)
		if d := f.describe(f.app); d.RuntimeEnvironment != rt || d.ApplicationStatus != types.ApplicationStatusRunning || f.health().FailedOperationID != "" {
			t.Fatalf("after the %s: %s on %s", what, d.ApplicationStatus, d.RuntimeEnvironment)
		}
		f.jvms(2)
		n = f.continues(n)
		f.figure("failed update, no rollback", truth, running, api, fmt.Sprintf("RUNNING with no job, then %s (times from that call)", what))
	}
	// 7. StopApplication right after a TaskManager SIGKILL: the savepoint
	// cannot complete, so the stop keeps the newest checkpoint instead and
	// the application is READY (not FAILED and RUNNING); the next start
	// continues from it exactly.
	{
		h, _ := f.cluster()
		t0 := time.Now()
		syscall.Kill(pidOf(t, h, "taskmanager-0"), syscall.SIGKILL)
		out, err := f.c.StopApplication(sctx, &kav2.StopApplicationInput{ApplicationName: aws.String(f.app)})
		if err != nil {
			t.Fatal(err)
		}
		f.waitOp(f.app, aws.ToString(out.OperationId))
		ready := time.Since(t0)
		if d := f.describe(f.app); d.ApplicationStatus != types.ApplicationStatusReady {
			t.Fatalf("after the stop: %s", d.ApplicationStatus)
		}
		od, _ := f.hc.DescribeOperation(sctx, f.app, aws.ToString(out.OperationId))
		f.jvms(0)
		n = checkOutput(t, f.out, n-1)
		fc, job := f.start(f.app, types.ApplicationRestoreTypeRestoreFromLatestSnapshot, "")
		if p := restoredFrom(t, fc, job.ID); p == "" {
			t.Fatal("restart after the unhealthy stop restored nothing")
		}
		n = f.continues(n)
		f.figure("stop after TM SIGKILL", ready, -1, 0, "READY; "+strings.TrimSpace("stop: "+od.Cause))
	}
	f.stop(f.app)
	checkOutput(t, f.out, n)
	f.jvms(0)
}
