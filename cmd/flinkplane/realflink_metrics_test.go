package main

import (
	"context"
	"encoding/json"
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
	"github.com/flinkplane/flinkplane/internal/fixtures"
	"github.com/flinkplane/flinkplane/runtime/local"
)

// TestRealFlink_Metrics is the guide's Phase 5 on real Flink with the
// real aws CLI: metrics and logs of an application before and after an
// upgrade from FLINK-1_20 to FLINK-2_2 and a forced failure (a
// TaskManager killed): numRestarts 0 before, 0 again after the upgrade and
// ≥ 1 after the kill, lastCheckpointDuration present, the figures those
// Flink reports, the exception in CloudWatch Logs, Prometheus parsed.
func TestRealFlink_Metrics(t *testing.T) {
	jars := needReal(t, []flinkplane.RuntimeID{"FLINK-1_20", "FLINK-2_2"}, fixtures.Counter120, fixtures.Counter22)
	awsBin := awsCLI(t)
	dataDir := t.TempDir()
	m := NewMain()
	m.Config.Addr, m.Config.DataDir, m.Config.RuntimesDir = "127.0.0.1:0", dataDir, fixtures.RuntimesDir()
	m.Config.Region, m.Config.AccountID = "eu-west-1", "123456789012"
	m.Config.StartTimeout, m.Config.ShutdownTimeout = 4*time.Minute, time.Minute
	m.Config.Monitoring.MetricsInterval = 2 * time.Second
	m.Config.Monitoring.LogsInterval = time.Second
	driver := local.New(dataDir, m.Config.RuntimesDir)
	// A lost TaskManager is noticed within seconds.
	driver.ExtraConfig = map[string]string{"heartbeat.interval": "1000", "heartbeat.timeout": "5000"}
	m.Driver = driver
	m.PollInterval = 200 * time.Millisecond
	// The watch polls every second and hands each poll to the metrics
	// recorder.
	m.Config.WatchInterval = time.Second
	m.Logger = discardLogger()
	if os.Getenv("FLINKPLANE_TEST_LOG") != "" {
		m.Logger = nil
	}
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		m.Close()
		if pids := dataDirJVMs(dataDir); len(pids) > 0 {
			t.Errorf("JVMs left behind: %v", pids)
		}
	})
	for name, p := range jars {
		b, _ := os.ReadFile(p)
		dst := filepath.Join(dataDir, "code", realBucket, name+".jar")
		os.MkdirAll(filepath.Dir(dst), 0o755)
		os.WriteFile(dst, b, 0o644)
	}
	r := &realEnv{t: t, m: m, c: apiClient(m.URL()), dataDir: dataDir}
	// Whatever happens, end the job without a savepoint before the server
	// closes (its TaskManager may be gone).
	t.Cleanup(func() {
		if out, err := r.c.StopApplication(sctx, &kav2.StopApplicationInput{ApplicationName: aws.String("MyApplication"), Force: aws.Bool(true)}); err == nil {
			deadline := time.Now().Add(2 * time.Minute)
			for time.Now().Before(deadline) {
				d, err := r.c.DescribeApplicationOperation(sctx, &kav2.DescribeApplicationOperationInput{ApplicationName: aws.String("MyApplication"), OperationId: out.OperationId})
				if err != nil || d.ApplicationOperationInfoDetails.OperationStatus != types.OperationStatusInProgress {
					break
				}
				time.Sleep(200 * time.Millisecond)
			}
		}
	})
	c := &awsCLIRunner{t: t, aws: awsBin, endpoint: m.URL(), home: t.TempDir()}

	const app = "MyApplication"
	r.create(app, types.RuntimeEnvironmentFlink120, fixtures.Counter120, filepath.Join(dataDir, "output"))
	const streamARN = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/kinesis-analytics/MyApplication:log-stream:kinesis-analytics-log-stream"
	c.ok(`aws kinesisanalyticsv2 add-application-cloud-watch-logging-option --application-name MyApplication --current-application-version-id 1 --cloud-watch-logging-option LogStreamARN=` + streamARN)
	fc, job := r.start(app, types.ApplicationRestoreTypeSkipRestoreFromSnapshot, "")

	// stat runs the guide's command for a metric over the last minutes and
	// returns the datapoints' values of stat, oldest first.
	stat := func(metric, statistic string) []float64 {
		t.Helper()
		now := time.Now().UTC()
		out := c.ok(`aws cloudwatch get-metric-statistics --namespace AWS/KinesisAnalytics --metric-name ` + metric +
			` --dimensions Name=Application,Value=MyApplication --statistics ` + statistic + ` --period 60 --start-time ` +
			now.Add(-30*time.Minute).Format(time.RFC3339) + ` --end-time ` + now.Add(time.Minute).Format(time.RFC3339))
		var res struct {
			Datapoints []map[string]any
		}
		json.Unmarshal([]byte(out), &res)
		var vals []float64
		type dp struct {
			at time.Time
			v  float64
		}
		var dps []dp
		for _, d := range res.Datapoints {
			var at time.Time // the CLI v1 prints the wire's epoch seconds, v2 ISO 8601
			switch ts := d["Timestamp"].(type) {
			case float64:
				at = time.Unix(int64(ts), 0)
			case string:
				at, _ = time.Parse(time.RFC3339, ts)
			}
			dps = append(dps, dp{at, d[statistic].(float64)})
		}
		for i := range dps { // CloudWatch does not order them
			for j := i + 1; j < len(dps); j++ {
				if dps[j].at.Before(dps[i].at) {
					dps[i], dps[j] = dps[j], dps[i]
				}
			}
		}
		for _, d := range dps {
			vals = append(vals, d.v)
		}
		return vals
	}
	last := func(vs []float64) float64 {
		if len(vs) == 0 {
			return -1
		}
		return vs[len(vs)-1]
	}
	// waitSnapshot waits until the recorder's newest reading satisfies ok.
	waitSnapshot := func(what string, ok func(v map[string]float64) bool) time.Time {
		t.Helper()
		deadline := time.Now().Add(3 * time.Minute)
		for time.Now().Before(deadline) {
			if s := m.Metrics.Latest()[app]; s != nil && ok(s.Values) {
				return s.Time
			}
			time.Sleep(100 * time.Millisecond)
		}
		t.Fatalf("no reading with %s: %+v", what, m.Metrics.Latest()[app])
		return time.Time{}
	}

	// Before the upgrade (FLINK-1_20).
	waitSnapshot("two completed checkpoints", func(v map[string]float64) bool { return v["numberOfCompletedCheckpoints"] >= 2 })
	if got := last(stat("numRestarts", "Maximum")); got != 0 {
		t.Fatalf("numRestarts before the upgrade = %v", got)
	}
	if got := last(stat("lastCheckpointDuration", "Maximum")); got <= 0 {
		t.Fatalf("lastCheckpointDuration before the upgrade = %v", got)
	}
	// The figures are Flink's: failed checkpoints and the size of the last
	// one as its REST API reports them.
	cs, err := fc.Checkpoints(sctx, job.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got := last(stat("numberOfFailedCheckpoints", "Maximum")); got != float64(cs.Counts.Failed) {
		t.Errorf("numberOfFailedCheckpoints = %v, Flink says %d", got, cs.Counts.Failed)
	}
	// A checkpoint completes every 2 s: the stored reading may be of the
	// one before Flink's latest, so it must be the size of one of Flink's
	// recent completed checkpoints.
	sizes := map[float64]bool{}
	if cs.Latest.Completed != nil {
		sizes[float64(cs.Latest.Completed.CheckpointedSize)] = true
	}
	for _, h := range cs.History {
		if h.Status == "COMPLETED" {
			sizes[float64(h.CheckpointedSize)] = true
		}
	}
	if got := last(stat("lastCheckpointSize", "Maximum")); !sizes[got] {
		t.Errorf("lastCheckpointSize = %v, Flink's recent completed checkpoints have %v (latest %+v)", got, sizes, cs.Latest.Completed)
	}
	up1 := last(stat("uptime", "Maximum"))
	time.Sleep(3 * time.Second)
	waitSnapshot("a later reading", func(v map[string]float64) bool { return v["uptime"] > up1 })
	if up2 := last(stat("uptime", "Maximum")); up2 <= up1 {
		t.Errorf("uptime does not increase: %v then %v", up1, up2)
	}

	// The upgrade (Path 1): a new run on FLINK-2_2.
	d := r.describe(app)
	upd, err := r.c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String(app),
		CurrentApplicationVersionId: d.ApplicationVersionId, RuntimeEnvironmentUpdate: types.RuntimeEnvironmentFlink22,
		ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{ApplicationCodeConfigurationUpdate: &types.ApplicationCodeConfigurationUpdate{
			CodeContentUpdate: &types.CodeContentUpdate{S3ContentLocationUpdate: &types.S3ContentLocationUpdate{FileKeyUpdate: aws.String(fixtures.Counter22 + ".jar")}}}}})
	if err != nil {
		t.Fatal(err)
	}
	_, job = r.waitRunning(app, aws.ToString(upd.OperationId))
	waitSnapshot("a checkpoint on FLINK-2_2", func(v map[string]float64) bool {
		_, rt := v["runningTime"]
		return rt && v["numberOfCompletedCheckpoints"] >= 1
	})
	if got := last(stat("numRestarts", "Maximum")); got != 0 {
		t.Errorf("numRestarts after the upgrade = %v", got)
	}
	if got := last(stat("runningTime", "Maximum")); got <= 0 {
		t.Errorf("runningTime on FLINK-2_2 = %v", got)
	}
	if got := last(stat("lastCheckpointDuration", "Average")); got <= 0 {
		t.Errorf("lastCheckpointDuration after the upgrade = %v", got)
	}

	// The forced failure: SIGKILL the TaskManager of the FLINK-2_2 cluster.
	var h *flinkplane.ClusterHandle
	m.DB.View(sctx, func(tx flinkplane.Tx) error {
		a, err := tx.Application(app)
		if err == nil {
			h = a.Cluster
		}
		return err
	})
	b, err := os.ReadFile(filepath.Join(h.Dir, "taskmanager-0.pid"))
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
	killed := time.Now()
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	// When Flink's own numRestarts turns 1 (read fresh, every 200 ms), and
	// when the stored metric does.
	var flinkAt time.Time
	var jm flinkplane.JobMetrics
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		jm, err = driver.ReadMetrics(sctx, *h, job.ID, "")
		if os.Getenv("FLINKPLANE_TEST_LOG") != "" {
			t.Logf("after the kill: %s restarts %d (%v) err %v", jm.State, jm.Restarts, jm.HasRestarts, err)
		}
		if err == nil && jm.Restarts >= 1 {
			flinkAt = jm.At
			break
		}
	}
	if flinkAt.IsZero() {
		t.Fatalf("Flink never restarted the job after its TaskManager (pid %d) was killed: last reading %+v, %v", pid, jm, err)
	}
	storedAt := waitSnapshot("numRestarts ≥ 1", func(v map[string]float64) bool { return v["numRestarts"] >= 1 })
	if got := last(stat("numRestarts", "Maximum")); got < 1 {
		t.Errorf("numRestarts after the kill = %v", got)
	}
	out := c.ok(`aws cloudwatch get-metric-data --start-time ` + time.Now().Add(-10*time.Minute).UTC().Format(time.RFC3339) + ` --end-time ` +
		time.Now().Add(time.Minute).UTC().Format(time.RFC3339) + ` --metric-data-queries '[{"Id": "restarts", "MetricStat": {"Metric": {"Namespace": "AWS/KinesisAnalytics", "MetricName": "numRestarts", "Dimensions": [{"Name": "Application", "Value": "MyApplication"}]}, "Period": 60, "Stat": "Maximum"}}]'`)
	if !strings.Contains(out, `"StatusCode": "Complete"`) {
		t.Errorf("get-metric-data: %s", out)
	}

	// Logs: the JobManager's lines and the exception of the failure, in
	// the managed service's JSON format.
	var exception map[string]any
	var failedAt time.Time
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline) && exception == nil; time.Sleep(time.Second) {
		res := srvJSON(t, c.ok(`aws logs filter-log-events --log-group-name /aws/kinesis-analytics/MyApplication --filter-pattern '{ $.messageType = "ERROR" }'`))
		for _, e := range res["events"].([]any) {
			var line map[string]any
			json.Unmarshal([]byte(e.(map[string]any)["message"].(string)), &line)
			if strings.Contains(line["logger"].(string), "exceptionhistory") {
				exception = line
				failedAt = time.UnixMilli(int64(e.(map[string]any)["timestamp"].(float64)))
			}
		}
	}
	if exception == nil || exception["applicationARN"] != "arn:aws:kinesisanalytics:eu-west-1:123456789012:application/MyApplication" {
		t.Fatalf("no exception in CloudWatch Logs: %v", exception)
	}
	t.Logf("exception in CloudWatch Logs: %s", exception["message"])
	// Freshness: from the failure (Flink's exception history time; Flink
	// counts the restart when it handles the failure) to the stored
	// numRestarts.
	t.Logf("freshness: TaskManager killed → failure in Flink: %s; failure → numRestarts stored: %s (watch poll 1 s, metrics interval 2 s); failure → the test's own fresh read of Flink's numRestarts: %s",
		failedAt.Sub(killed).Round(time.Millisecond), storedAt.Sub(failedAt).Round(time.Millisecond), flinkAt.Sub(failedAt).Round(time.Millisecond))
	events := srvJSON(t, c.ok(`aws logs get-log-events --log-group-name /aws/kinesis-analytics/MyApplication --log-stream-name kinesis-analytics-log-stream --limit 50`))["events"].([]any)
	if len(events) == 0 {
		t.Fatal("no log events")
	}
	streams := srvJSON(t, c.ok(`aws logs describe-log-streams --log-group-name /aws/kinesis-analytics/MyApplication`))
	if ss := streams["logStreams"].([]any); len(ss) != 1 {
		t.Errorf("describe-log-streams: %v", streams)
	}
	checkpoints := srvJSON(t, c.ok(`aws logs filter-log-events --log-group-name /aws/kinesis-analytics/MyApplication --filter-pattern '"Completed checkpoint"'`))
	if n := len(checkpoints["events"].([]any)); n < 2 {
		t.Errorf("%d 'Completed checkpoint' lines", n)
	}

	// Prometheus.
	fams := scrapeProm(t, m.MetricsURL())
	lbl := map[string]string{"application": app, "runtime": "FLINK-2_2"}
	if v, ok := promValue(fams, "flinkplane_application_num_restarts", lbl); !ok || v < 1 {
		t.Errorf("flinkplane_application_num_restarts = %v %v", v, ok)
	}
	if v, ok := promValue(fams, "flinkplane_application_heap_used_bytes", map[string]string{"application": app, "process": "jobmanager"}); !ok || v <= 0 {
		t.Errorf("JobManager heap = %v %v", v, ok)
	}

	// The watch replaced the TaskManager: a Recovery brings the job back.
	waitStatus := func(want types.ApplicationStatus) {
		t.Helper()
		for deadline := time.Now().Add(4 * time.Minute); time.Now().Before(deadline); time.Sleep(500 * time.Millisecond) {
			if r.describe(app).ApplicationStatus == want {
				return
			}
		}
		t.Fatalf("application never %s again: %s", want, r.describe(app).ApplicationStatus)
	}
	waitStatus(types.ApplicationStatusRunning)

	// Done: stop without a savepoint.
	stop, err := r.c.StopApplication(sctx, &kav2.StopApplicationInput{ApplicationName: aws.String(app), Force: aws.Bool(true)})
	if err != nil {
		t.Fatal(err)
	}
	r.waitOp(app, aws.ToString(stop.OperationId))
}
