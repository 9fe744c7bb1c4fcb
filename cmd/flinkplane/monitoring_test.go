package main

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kav2 "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/mock"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// monitoredDriver is the recording fake driver with metrics the test sets
// and log files in a directory per cluster (as the local driver keeps
// them).
type monitoredDriver struct {
	*mock.ClusterDriver
	logDir string

	mu      sync.Mutex
	reading func(jobID string) flinkplane.JobMetrics
}

func (d *monitoredDriver) ReadMetrics(ctx context.Context, h flinkplane.ClusterHandle, jobID, level string) (flinkplane.JobMetrics, error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.reading == nil {
		// Read by the watch or a probation before the test set a reading.
		return flinkplane.JobMetrics{}, flinkplane.Errorf(flinkplane.ENOTFOUND, "No metrics yet for job %s.", jobID)
	}
	return d.reading(jobID), nil
}

func (d *monitoredDriver) Logs(ctx context.Context, h flinkplane.ClusterHandle) ([]flinkplane.LogFile, error) {
	ents, err := os.ReadDir(filepath.Join(d.logDir, h.ID))
	if err != nil {
		return nil, flinkplane.Errorf(flinkplane.ENOTFOUND, "No logs for cluster %s.", h.ID)
	}
	var out []flinkplane.LogFile
	for _, e := range ents {
		fi, _ := e.Info()
		out = append(out, flinkplane.LogFile{Name: e.Name(), Size: fi.Size(), ModTime: fi.ModTime()})
	}
	return out, nil
}

func (d *monitoredDriver) ReadLog(ctx context.Context, h flinkplane.ClusterHandle, name string, offset, limit int64) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(d.logDir, h.ID, name))
	if err != nil {
		return nil, flinkplane.Errorf(flinkplane.ENOTFOUND, "Log %q not found.", name)
	}
	return b[min(offset, int64(len(b))):min(offset+limit, int64(len(b)))], nil
}

// withDataPath returns a botocore data directory whose CloudWatch model
// names only the given protocol, so that the aws CLI speaks it.
func withDataPath(t *testing.T, protocol string) string {
	t.Helper()
	aws := awsCLI(t)
	matches, _ := filepath.Glob(filepath.Join(filepath.Dir(filepath.Dir(aws)), "lib", "python3*", "site-packages", "awscli", "botocore", "data", "cloudwatch", "2010-08-01", "service-2.json"))
	if len(matches) == 0 {
		t.Fatalf("no CloudWatch model next to %s", aws)
	}
	b, err := os.ReadFile(matches[0])
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	meta := m["metadata"].(map[string]any)
	meta["protocol"], meta["protocols"] = protocol, []string{protocol}
	dir := t.TempDir()
	p := filepath.Join(dir, "cloudwatch", "2010-08-01", "service-2.json")
	os.MkdirAll(filepath.Dir(p), 0o755)
	b, _ = json.Marshal(m)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dir
}

// runWith runs a command line like run, with more environment variables.
func (c *awsCLIRunner) runWith(env []string, command string) (stdout, stderr string, code int) {
	c.t.Helper()
	cmd := exec.Command("bash", "-c", command+` --endpoint-url "$ENDPOINT"`)
	cmd.Env = append([]string{
		"PATH=" + filepath.Dir(c.aws) + ":" + os.Getenv("PATH"),
		"HOME=" + c.home,
		"ENDPOINT=" + c.endpoint,
		"AWS_ACCESS_KEY_ID=AKIDEXAMPLE",
		"AWS_SECRET_ACCESS_KEY=wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
		"AWS_DEFAULT_REGION=eu-west-1",
		"AWS_CONFIG_FILE=" + filepath.Join(c.home, "config"),
		"AWS_SHARED_CREDENTIALS_FILE=" + filepath.Join(c.home, "credentials"),
		"AWS_PAGER=",
	}, env...)
	var out, errb strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &errb
	err := cmd.Run()
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		c.t.Fatal(err)
	}
	return out.String(), errb.String(), code
}

// scrapeProm fetches and parses a Prometheus exposition with Prometheus's
// own parser.
func scrapeProm(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		t.Fatalf("GET %s: %d %s", url, resp.StatusCode, b)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(b)))
	if err != nil {
		t.Fatalf("parse %s: %v", url, err)
	}
	return fams
}

// promValue returns the value of the first sample of a family whose labels
// include want (ok false if none).
func promValue(fams map[string]*dto.MetricFamily, name string, want map[string]string) (float64, bool) {
	f := fams[name]
	if f == nil {
		return 0, false
	}
next:
	for _, m := range f.GetMetric() {
		have := map[string]string{}
		for _, l := range m.GetLabel() {
			have[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if have[k] != v {
				continue next
			}
		}
		switch {
		case m.Counter != nil:
			return m.GetCounter().GetValue(), true
		case m.Gauge != nil:
			return m.GetGauge().GetValue(), true
		case m.Histogram != nil:
			return float64(m.GetHistogram().GetSampleCount()), true
		}
	}
	return 0, false
}

// The guide's Phase 5 with the real aws CLI on samples fed as the watch
// feeds them: CloudWatch metrics in the three protocols, CloudWatch Logs
// from the application's logging option, and Prometheus.
func TestMonitoring_AWSCLI(t *testing.T) {
	awsBin := awsCLI(t)
	driver := &monitoredDriver{ClusterDriver: mock.NewClusterDriver(), logDir: t.TempDir()}
	dataDir := t.TempDir()
	withoutDefaults(t)
	m := NewMain()
	m.Config.Addr, m.Config.DataDir, m.Config.Region, m.Config.AccountID = "127.0.0.1:0", dataDir, "eu-west-1", "123456789012"
	m.Config.Monitoring.LogsInterval = 50 * time.Millisecond
	m.Config.Monitoring.MetricsInterval = time.Second
	m.Config.ProbationWindow = -1 // the fake job needs no probation
	m.Driver = driver
	m.PollInterval = 5 * time.Millisecond
	m.Logger = discardLogger()
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	srvPutObject(t, dataDir, "flinkplane-test", "app-1.20.jar")
	c := &awsCLIRunner{t: t, aws: awsBin, endpoint: m.URL(), home: t.TempDir()}
	api := apiClient(m.URL())
	srvCreateApp(t, api, "MyApplication", nil)
	const streamARN = "arn:aws:logs:eu-west-1:123456789012:log-group:/aws/kinesis-analytics/MyApplication:log-stream:kinesis-analytics-log-stream"
	c.ok(`aws kinesisanalyticsv2 add-application-cloud-watch-logging-option --application-name MyApplication --current-application-version-id 1 \
  --cloud-watch-logging-option LogStreamARN=` + streamARN)
	out, err := api.StartApplication(sctx, &kav2.StartApplicationInput{ApplicationName: aws.String("MyApplication")})
	if err != nil {
		t.Fatal(err)
	}
	srvWaitOperation(t, api, "MyApplication", aws.ToString(out.OperationId))
	srvWaitStatus(t, api, "MyApplication", types.ApplicationStatusRunning)

	// The job: running since `since`, one checkpoint of 420 ms, 7606 bytes.
	since := time.Now().UTC().Add(-2 * time.Minute).Truncate(time.Second)
	restarts := int64(0)
	driver.mu.Lock()
	driver.reading = func(jobID string) flinkplane.JobMetrics {
		return flinkplane.JobMetrics{JobID: jobID, State: "RUNNING", StatusTimes: map[string]time.Time{"RUNNING": since},
			Restarts: restarts, HasRestarts: true,
			Checkpoints:  flinkplane.CheckpointMetrics{Completed: 3, Failed: restarts, HasLast: true, LastDuration: 420 * time.Millisecond, LastSize: 7606},
			TaskManagers: []flinkplane.ProcessMetrics{{ID: "tm-1", HeapUsed: 30 << 20, HeapMax: 100 << 20, HasHeap: true, CPULoad: 0.25, HasCPU: true}},
			JobManager:   &flinkplane.ProcessMetrics{ID: "jobmanager", HeapUsed: 60 << 20, HeapMax: 200 << 20, HasHeap: true, CPULoad: 0.1, HasCPU: true}}
	}
	driver.mu.Unlock()
	app := func() *flinkplane.Application {
		var a *flinkplane.Application
		m.DB.View(sctx, func(tx flinkplane.Tx) (err error) { a, err = tx.Application("MyApplication"); return err })
		return a
	}
	poll := func(at time.Time, state string) {
		t.Helper()
		if err := m.Metrics.RecordMetrics(sctx, app(), at, &flinkplane.JobHealth{State: state, Restarts: restarts}); err != nil {
			t.Fatal(err)
		}
	}
	t1 := time.Now().UTC()
	poll(t1, "RUNNING")
	// Flink restarts the job twice.
	restarts = 2
	poll(t1.Add(time.Second), "RUNNING")

	start, end := t1.Add(-5*time.Minute).Format(time.RFC3339), t1.Add(5*time.Minute).Format(time.RFC3339)
	// The guide's command, verbatim but for the endpoint and the times.
	getStats := func(env []string, metric, stat string) map[string]any {
		t.Helper()
		o, e, code := c.runWith(env, `aws cloudwatch get-metric-statistics --namespace AWS/KinesisAnalytics --metric-name `+metric+
			` --dimensions Name=Application,Value=MyApplication --statistics `+stat+` --period 60 --start-time `+start+` --end-time `+end)
		if code != 0 {
			t.Fatalf("get-metric-statistics %s: %s", metric, e)
		}
		return srvJSON(t, o)
	}
	maxOf := func(res map[string]any, stat string) float64 {
		t.Helper()
		dps := res["Datapoints"].([]any)
		if len(dps) == 0 {
			t.Fatalf("no datapoints: %v", res)
		}
		best := -1e300
		for _, dp := range dps {
			best = max(best, dp.(map[string]any)[stat].(float64))
		}
		return best
	}
	for _, protocol := range []string{"", "query", "smithy-rpc-v2-cbor"} {
		var env []string
		if protocol != "" {
			env = []string{"AWS_DATA_PATH=" + withDataPath(t, protocol)}
		}
		if got := maxOf(getStats(env, "numRestarts", "Maximum"), "Maximum"); got != 2 {
			t.Errorf("%s: numRestarts Maximum = %v, want 2", protocol, got)
		}
		if got := maxOf(getStats(env, "lastCheckpointDuration", "Average"), "Average"); got != 420 {
			t.Errorf("%s: lastCheckpointDuration = %v, want 420", protocol, got)
		}
		if got := maxOf(getStats(env, "uptime", "Maximum"), "Maximum"); got < 120000 {
			t.Errorf("%s: uptime = %v", protocol, got)
		}
		if got := maxOf(getStats(env, "numberOfFailedCheckpoints", "Maximum"), "Maximum"); got != 2 {
			t.Errorf("%s: numberOfFailedCheckpoints = %v", protocol, got)
		}
		// Errors as the CLI shows them.
		_, e, code := c.runWith(env, `aws cloudwatch get-metric-statistics --namespace AWS/KinesisAnalytics --metric-name numRestarts --statistics Maximum --period 61 --start-time `+start+` --end-time `+end)
		if code == 0 || !strings.Contains(e, "(InvalidParameterValue)") || !strings.Contains(e, "The parameter Period must be a multiple of 60.") {
			t.Errorf("%s: bad period: %s", protocol, e)
		}
	}
	list := srvJSON(t, c.ok(`aws cloudwatch list-metrics --namespace AWS/KinesisAnalytics --dimensions Name=Application,Value=MyApplication`))
	names := map[string]bool{}
	for _, x := range list["Metrics"].([]any) {
		names[x.(map[string]any)["MetricName"].(string)] = true
	}
	for _, want := range []string{"numRestarts", "uptime", "downtime", "lastCheckpointDuration", "lastCheckpointSize", "numberOfFailedCheckpoints",
		"numberOfCompletedCheckpoints", "cpuUtilization", "heapMemoryUtilization", "KPUs", "jobmanagerHeapMemoryUsed"} {
		if !names[want] {
			t.Errorf("list-metrics lacks %s: %v", want, names)
		}
	}
	data := srvJSON(t, c.ok(`aws cloudwatch get-metric-data --start-time `+start+` --end-time `+end+` --metric-data-queries '[
	  {"Id": "restarts", "MetricStat": {"Metric": {"Namespace": "AWS/KinesisAnalytics", "MetricName": "numRestarts",
	    "Dimensions": [{"Name": "Application", "Value": "MyApplication"}]}, "Period": 60, "Stat": "Maximum"}},
	  {"Id": "cpu", "MetricStat": {"Metric": {"Namespace": "AWS/KinesisAnalytics", "MetricName": "cpuUtilization",
	    "Dimensions": [{"Name": "Application", "Value": "MyApplication"}]}, "Period": 300, "Stat": "Average"}}]'`))
	results := data["MetricDataResults"].([]any)
	if len(results) != 2 || results[0].(map[string]any)["StatusCode"] != "Complete" || results[1].(map[string]any)["Values"].([]any)[0] != 25.0 {
		t.Errorf("get-metric-data: %v", data)
	}

	// Logs: a log line of the cluster and an exception of the job.
	h := app().Cluster
	os.MkdirAll(filepath.Join(driver.logDir, h.ID), 0o755)
	now := time.Now()
	os.WriteFile(filepath.Join(driver.logDir, h.ID, "jobmanager.log"), []byte(
		now.Format("2006-01-02 15:04:05,000")+" INFO  org.apache.flink.runtime.checkpoint.CheckpointCoordinator [] - Completed checkpoint 3 for job x.\n"+
			now.Format("2006-01-02 15:04:05,000")+" WARN  org.apache.flink.runtime.taskmanager.Task [] - count-per-key switched from RUNNING to FAILED.\n"+
			"java.lang.RuntimeException: boom\n\tat dev.flinkplane.fixtures.counter.CounterJob.map(CounterJob.java:12)\n"), 0o644)
	deadline := time.Now().Add(30 * time.Second)
	var events []any
	for time.Now().Before(deadline) {
		ev := srvJSON(t, c.ok(`aws logs get-log-events --log-group-name /aws/kinesis-analytics/MyApplication --log-stream-name kinesis-analytics-log-stream --start-from-head`))
		if events = ev["events"].([]any); len(events) == 2 {
			break
		}
		time.Sleep(100 * time.Millisecond)
	}
	if len(events) != 2 {
		t.Fatalf("get-log-events: %v", events)
	}
	var line map[string]any
	json.Unmarshal([]byte(events[1].(map[string]any)["message"].(string)), &line)
	if line["messageType"] != "WARN" || line["applicationARN"] != "arn:aws:kinesisanalytics:eu-west-1:123456789012:application/MyApplication" ||
		line["throwableInformation"].([]any)[0] != "java.lang.RuntimeException: boom" {
		t.Errorf("log line: %v", line)
	}
	flt := srvJSON(t, c.ok(`aws logs filter-log-events --log-group-name /aws/kinesis-analytics/MyApplication --filter-pattern '{ $.messageType = "WARN" }'`))
	if evs := flt["events"].([]any); len(evs) != 1 {
		t.Errorf("filter-log-events: %v", flt)
	}
	streams := srvJSON(t, c.ok(`aws logs describe-log-streams --log-group-name /aws/kinesis-analytics/MyApplication`))
	if ss := streams["logStreams"].([]any); len(ss) != 1 || ss[0].(map[string]any)["logStreamName"] != "kinesis-analytics-log-stream" {
		t.Errorf("describe-log-streams: %v", streams)
	}
	c.fails(`aws logs get-log-events --log-group-name /aws/kinesis-analytics/Nope --log-stream-name s`, "ResourceNotFoundException")

	// Prometheus, parsed with Prometheus's own parser.
	fams := scrapeProm(t, m.MetricsURL())
	lbl := map[string]string{"application": "MyApplication", "runtime": "FLINK-1_20"}
	if v, ok := promValue(fams, "flinkplane_application_num_restarts", lbl); !ok || v != 2 {
		t.Errorf("num_restarts = %v %v", v, ok)
	}
	if v, ok := promValue(fams, "flinkplane_application_restarts_total", lbl); !ok || v != 2 {
		t.Errorf("restarts_total = %v %v", v, ok)
	}
	if v, ok := promValue(fams, "flinkplane_api_requests_total", map[string]string{"api": "cloudwatch", "operation": "GetMetricStatistics", "error_type": "InvalidParameterValueException"}); !ok || v != 3 {
		t.Errorf("cloudwatch errors counted %v %v", v, ok)
	}
	if v, ok := promValue(fams, "flinkplane_api_requests_total", map[string]string{"api": "kinesisanalyticsv2", "operation": "StartApplication", "error_type": ""}); !ok || v != 1 {
		t.Errorf("StartApplication requests %v %v", v, ok)
	}
	if v, ok := promValue(fams, "flinkplane_operation_duration_seconds", map[string]string{"kind": "StartApplication", "outcome": "SUCCESSFUL"}); !ok || v != 1 {
		t.Errorf("StartApplication durations %v %v", v, ok)
	}
	if _, ok := promValue(fams, "flinkplane_store_duration_seconds", map[string]string{"kind": "update"}); !ok {
		t.Error("no store latency")
	}
}

// With --auth sigv4 the CloudWatch and CloudWatch Logs APIs check
// signatures with their own signing names, and /metrics moves to its own
// listener.
func TestMonitoring_SigV4(t *testing.T) {
	awsBin := awsCLI(t)
	withoutDefaults(t)
	m := NewMain()
	m.Config.Addr, m.Config.DataDir, m.Config.Region = "127.0.0.1:0", t.TempDir(), "eu-west-1"
	m.Config.Auth, m.Config.Credentials = "sigv4", "AKIDEXAMPLE:wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	m.Config.Monitoring.MetricsAddr = "127.0.0.1:0"
	m.Logger = discardLogger()
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	c := &awsCLIRunner{t: t, aws: awsBin, endpoint: m.URL(), home: t.TempDir()}
	c.ok(`aws cloudwatch list-metrics`)
	c.ok(`aws logs describe-log-groups`)
	_, e, code := c.runWith([]string{"AWS_SECRET_ACCESS_KEY=wrong"}, `aws cloudwatch list-metrics`)
	if code == 0 || !strings.Contains(e, "SignatureDoesNotMatch") {
		t.Errorf("cloudwatch with a wrong secret: %s", e)
	}
	_, e, code = c.runWith([]string{"AWS_SECRET_ACCESS_KEY=wrong"}, `aws logs describe-log-groups`)
	if code == 0 || !strings.Contains(e, "InvalidSignatureException") {
		t.Errorf("logs with a wrong secret: %s", e)
	}
	resp, err := http.Get(m.URL() + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode == 200 {
		t.Error("/metrics served unauthenticated on the API address with --auth sigv4")
	}
	if !strings.HasSuffix(m.MetricsURL(), "/metrics") || strings.HasPrefix(m.MetricsURL(), m.URL()) {
		t.Fatalf("MetricsURL = %q", m.MetricsURL())
	}
	fams := scrapeProm(t, m.MetricsURL())
	if _, ok := promValue(fams, "flinkplane_api_requests_total", map[string]string{"api": "logs", "operation": "DescribeLogGroups", "error_type": "InvalidSignatureException"}); !ok {
		t.Errorf("refused logs request not counted: %v", fams["flinkplane_api_requests_total"])
	}
}

func discardLogger() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
