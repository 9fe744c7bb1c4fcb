package cwlogs_test

import (
	"context"
	"encoding/json"
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	cwl "github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatchlogs/types"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/cwlogs"
	"github.com/flinkplane/flinkplane/mock"
	"github.com/flinkplane/flinkplane/sqlite"
)

var ctx = context.Background()

const streamARN = "arn:aws:logs:us-east-1:000000000000:log-group:/aws/kinesis-analytics/app:log-stream:kinesis-analytics-log-stream"

// env is a shipper over a real store and log files in a directory per
// cluster, like the local driver's.
type env struct {
	t   *testing.T
	db  *sqlite.DB
	dir string
	sh  *cwlogs.Shipper
	mu  sync.Mutex
	lvl map[string]string
}

func newEnv(t *testing.T) *env {
	t.Helper()
	db := sqlite.New(t.TempDir())
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	v := &env{t: t, db: db, dir: t.TempDir(), lvl: map[string]string{}}
	reader := &mock.LogReader{
		LogsFunc: func(h flinkplane.ClusterHandle) ([]flinkplane.LogFile, error) {
			ents, err := os.ReadDir(filepath.Join(v.dir, h.ID))
			if err != nil {
				return nil, flinkplane.Errorf(flinkplane.ENOTFOUND, "no logs")
			}
			var out []flinkplane.LogFile
			for _, e := range ents {
				fi, _ := e.Info()
				out = append(out, flinkplane.LogFile{Name: e.Name(), Size: fi.Size(), ModTime: fi.ModTime()})
			}
			return out, nil
		},
		ReadLogFunc: func(h flinkplane.ClusterHandle, name string, offset, limit int64) ([]byte, error) {
			b, err := os.ReadFile(filepath.Join(v.dir, h.ID, name))
			if err != nil {
				return nil, flinkplane.Errorf(flinkplane.ENOTFOUND, "no log")
			}
			end := min(offset+limit, int64(len(b)))
			return b[offset:end], nil
		},
	}
	v.sh = cwlogs.NewShipper(db, db, reader)
	v.sh.Location = time.UTC
	v.sh.Levels = levelSetter{v}
	return v
}

type levelSetter struct{ v *env }

func (l levelSetter) SetLogLevel(ctx context.Context, h flinkplane.ClusterHandle, level string) error {
	l.v.mu.Lock()
	l.v.lvl[h.ID] = level
	l.v.mu.Unlock()
	return nil
}

func (v *env) appendLog(cluster, file, text string) {
	v.t.Helper()
	os.MkdirAll(filepath.Join(v.dir, cluster), 0o755)
	f, err := os.OpenFile(filepath.Join(v.dir, cluster, file), os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		v.t.Fatal(err)
	}
	f.WriteString(text)
	f.Close()
}

var t0 = time.Date(2026, 7, 1, 10, 0, 0, 0, time.UTC)

// createApp creates an application running on cluster c1, with a logging
// option and LogLevel level from version 2 on (created at t0).
func (v *env) createApp(level string) {
	v.t.Helper()
	if err := v.db.Update(ctx, func(tx flinkplane.Tx) error {
		app := &flinkplane.Application{Name: "app", ID: "id-app", ARN: "arn:aws:kinesisanalytics:us-east-1:000000000000:application/app",
			Status: flinkplane.StatusRunning, VersionID: 2, RunningVersionID: 2, JobID: "job1",
			Cluster: &flinkplane.ClusterHandle{ID: "c1"}, CreateTime: t0.Add(-time.Hour)}
		if err := tx.CreateApplication(app); err != nil {
			return err
		}
		cfg := flinkplane.DefaultConfig()
		if err := tx.CreateVersion(&flinkplane.ApplicationVersion{ApplicationName: "app", VersionID: 1, CreateTime: t0.Add(-time.Hour), Config: cfg}); err != nil {
			return err
		}
		cfg.CloudWatchLogging = []flinkplane.CloudWatchLoggingOption{{ID: "1.1", LogStreamARN: streamARN}}
		cfg.Monitoring = flinkplane.MonitoringConfig{ConfigurationType: flinkplane.ConfigCustom, LogLevel: level, MetricsLevel: "APPLICATION"}
		return tx.CreateVersion(&flinkplane.ApplicationVersion{ApplicationName: "app", VersionID: 2, CreateTime: t0, Config: cfg})
	}); err != nil {
		v.t.Fatal(err)
	}
}

func line(at time.Time, level, logger, msg string) string {
	return at.Format("2006-01-02 15:04:05,000") + " " + (level + "     ")[:5] + " " + (logger + strings.Repeat(" ", 60))[:60] + " [] - " + msg + "\n"
}

func logsClient(url string) *cwl.Client {
	return cwl.New(cwl.Options{Region: "us-east-1", BaseEndpoint: aws.String(url),
		Credentials: credentials.NewStaticCredentialsProvider("AKID", "SECRET", "")})
}

type jsonLine struct {
	ApplicationARN       string   `json:"applicationARN"`
	ApplicationVersionID string   `json:"applicationVersionId"`
	Logger               string   `json:"logger"`
	Message              string   `json:"message"`
	MessageSchemaVersion string   `json:"messageSchemaVersion"`
	MessageType          string   `json:"messageType"`
	ThrowableInformation []string `json:"throwableInformation"`
}

// Log lines at or above the LogLevel, from after the option was added, are
// delivered once, in the managed service's JSON format, with stack traces;
// an entry still being written waits; a rolled-over file is finished.
func TestShipper_Deliver(t *testing.T) {
	v := newEnv(t)
	v.createApp("WARN")
	jm := "org.apache.flink.runtime.jobmaster.JobMaster"
	v.appendLog("c1", "jobmanager.log",
		line(t0.Add(-time.Minute), "ERROR", jm, "before the option")+
			line(t0.Add(time.Second), "INFO", jm, "below the level")+
			line(t0.Add(2*time.Second), "WARN", jm, "a warning")+
			line(t0.Add(3*time.Second), "ERROR", jm, "job failed")+
			"java.lang.IllegalStateException: boom\n\tat dev.flinkplane.Counter.map(Counter.java:42)\n")
	v.appendLog("c1", "jobmanager.out", "stdout is not shipped\n")
	if err := v.sh.Deliver(ctx); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(cwlogs.New(v.db, "us-east-1", "000000000000"))
	defer srv.Close()
	c := logsClient(srv.URL)
	get := func() []types.OutputLogEvent {
		out, err := c.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: aws.String("/aws/kinesis-analytics/app"),
			LogStreamName: aws.String("kinesis-analytics-log-stream"), StartFromHead: aws.Bool(true)})
		if err != nil {
			t.Fatal(err)
		}
		return out.Events
	}
	// The error entry may still grow: only the warning so far.
	if ev := get(); len(ev) != 1 {
		t.Fatalf("after one pass: %d events", len(ev))
	}
	// The file did not grow: the held-back entry goes now, once.
	if err := v.sh.Deliver(ctx); err != nil {
		t.Fatal(err)
	}
	if err := v.sh.Deliver(ctx); err != nil {
		t.Fatal(err)
	}
	ev := get()
	if len(ev) != 2 {
		t.Fatalf("events = %+v", ev)
	}
	var warn, failed jsonLine
	json.Unmarshal([]byte(aws.ToString(ev[0].Message)), &warn)
	json.Unmarshal([]byte(aws.ToString(ev[1].Message)), &failed)
	if warn.Message != "a warning" || warn.MessageType != "WARN" || warn.Logger != jm || warn.ApplicationVersionID != "2" ||
		warn.MessageSchemaVersion != "1" || !strings.HasSuffix(warn.ApplicationARN, ":application/app") || aws.ToInt64(ev[0].Timestamp) != t0.Add(2*time.Second).UnixMilli() {
		t.Errorf("warning = %+v (%s)", warn, aws.ToString(ev[0].Message))
	}
	if failed.MessageType != "ERROR" || len(failed.ThrowableInformation) != 2 || failed.ThrowableInformation[0] != "java.lang.IllegalStateException: boom" {
		t.Errorf("error = %+v", failed)
	}
	if v.lvl["c1"] != "WARN" {
		t.Errorf("cluster log level = %q, want WARN", v.lvl["c1"])
	}

	// log4j rolls the file over: the rest of the old file, then the new.
	old, _ := os.ReadFile(filepath.Join(v.dir, "c1", "jobmanager.log"))
	os.WriteFile(filepath.Join(v.dir, "c1", "jobmanager.log.1"), append(old, []byte(line(t0.Add(4*time.Second), "ERROR", jm, "last of the old file"))...), 0o644)
	os.WriteFile(filepath.Join(v.dir, "c1", "jobmanager.log"), []byte(line(t0.Add(5*time.Second), "ERROR", jm, "first of the new file")), 0o644)
	v.sh.Deliver(ctx)
	v.sh.Deliver(ctx)
	ev = get()
	if len(ev) != 4 || !strings.Contains(aws.ToString(ev[2].Message), "last of the old file") || !strings.Contains(aws.ToString(ev[3].Message), "first of the new file") {
		t.Fatalf("after roll-over: %d events", len(ev))
	}

	// Exception history: each entry once.
	exs := []flinkplane.JobException{{Time: t0.Add(6 * time.Second), Name: "java.lang.RuntimeException",
		Stacktrace: "java.lang.RuntimeException: kaboom\n\tat x.Y.z(Y.java:1)\n", Task: "count-per-key (1/1)"}}
	app := &flinkplane.Application{Name: "app", ID: "id-app", JobID: "job1"}
	v.sh.DeliverExceptions(ctx, app, exs)
	v.sh.DeliverExceptions(ctx, app, exs)
	ev = get()
	if len(ev) != 5 {
		t.Fatalf("after exceptions: %d events", len(ev))
	}
	var ex jsonLine
	json.Unmarshal([]byte(aws.ToString(ev[4].Message)), &ex)
	if ex.MessageType != "ERROR" || ex.Message != "Job job1 failed: java.lang.RuntimeException: kaboom (task count-per-key (1/1))" || len(ex.ThrowableInformation) != 1 {
		t.Errorf("exception event = %+v", ex)
	}

	// FilterLogEvents with a JSON pattern and with terms.
	fl, err := c.FilterLogEvents(ctx, &cwl.FilterLogEventsInput{LogGroupName: aws.String("/aws/kinesis-analytics/app"),
		FilterPattern: aws.String(`{ $.messageType = "ERROR" && $.message = "*file*" }`)})
	if err != nil {
		t.Fatal(err)
	}
	if len(fl.Events) != 2 || aws.ToString(fl.Events[0].LogStreamName) != "kinesis-analytics-log-stream" || len(fl.SearchedLogStreams) != 1 {
		t.Errorf("JSON pattern: %+v", fl.Events)
	}
	fl, _ = c.FilterLogEvents(ctx, &cwl.FilterLogEventsInput{LogGroupName: aws.String("/aws/kinesis-analytics/app"), FilterPattern: aws.String(`?kaboom ?warning -boom`)})
	if len(fl.Events) != 1 || !strings.Contains(aws.ToString(fl.Events[0].Message), "a warning") {
		t.Errorf("terms: %+v", fl.Events)
	}
	// Paging FilterLogEvents with a limit.
	var n int
	p := cwl.NewFilterLogEventsPaginator(c, &cwl.FilterLogEventsInput{LogGroupName: aws.String("/aws/kinesis-analytics/app"), Limit: aws.Int32(2)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		n += len(out.Events)
	}
	if n != 5 {
		t.Errorf("paged filter: %d events", n)
	}
	streams, err := c.DescribeLogStreams(ctx, &cwl.DescribeLogStreamsInput{LogGroupName: aws.String("/aws/kinesis-analytics/app")})
	if err != nil {
		t.Fatal(err)
	}
	if len(streams.LogStreams) != 1 || aws.ToInt64(streams.LogStreams[0].LastEventTimestamp) != t0.Add(6*time.Second).UnixMilli() ||
		!strings.HasSuffix(aws.ToString(streams.LogStreams[0].Arn), ":log-group:/aws/kinesis-analytics/app:log-stream:kinesis-analytics-log-stream") {
		t.Errorf("streams = %+v", streams.LogStreams)
	}
}

// GetLogEvents reads the newest events by default and pages both ways;
// the forward token repeats at the end.
func TestGetLogEvents_Paging(t *testing.T) {
	db := sqlite.New(t.TempDir())
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var evs []flinkplane.LogEvent
	for i := 0; i < 25; i++ {
		evs = append(evs, flinkplane.LogEvent{Time: t0.Add(time.Duration(i) * time.Second), Message: string(rune('a' + i))})
	}
	if err := db.PutLogEvents(ctx, "g", "s", evs, nil); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(cwlogs.New(db, "us-east-1", "1"))
	defer srv.Close()
	c := logsClient(srv.URL)
	in := &cwl.GetLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("s"), Limit: aws.Int32(10)}
	last, err := c.GetLogEvents(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(last.Events) != 10 || aws.ToString(last.Events[0].Message) != "p" || aws.ToString(last.Events[9].Message) != "y" {
		t.Fatalf("newest 10 = %+v", last.Events)
	}
	in.NextToken = last.NextBackwardToken
	prev, _ := c.GetLogEvents(ctx, in)
	if len(prev.Events) != 10 || aws.ToString(prev.Events[0].Message) != "f" {
		t.Fatalf("previous 10 = %+v", prev.Events)
	}
	in.NextToken = last.NextForwardToken
	end, _ := c.GetLogEvents(ctx, in)
	if len(end.Events) != 0 || aws.ToString(end.NextForwardToken) != aws.ToString(last.NextForwardToken) {
		t.Fatalf("at the end: %+v", end)
	}
	// Errors.
	_, err = c.GetLogEvents(ctx, &cwl.GetLogEventsInput{LogGroupName: aws.String("g"), LogStreamName: aws.String("nope")})
	var rnf *types.ResourceNotFoundException
	if !errors.As(err, &rnf) || !strings.Contains(rnf.ErrorMessage(), "log stream does not exist") {
		t.Errorf("unknown stream: %v", err)
	}
	_, err = c.FilterLogEvents(ctx, &cwl.FilterLogEventsInput{LogGroupName: aws.String("g"), FilterPattern: aws.String("[ip, user]")})
	var ipe *types.InvalidParameterException
	if !errors.As(err, &ipe) {
		t.Errorf("space-delimited pattern: %v", err)
	}
	if _, err := c.CreateLogGroup(ctx, &cwl.CreateLogGroupInput{LogGroupName: aws.String("g")}); err == nil {
		t.Error("duplicate group accepted")
	} else {
		var rae *types.ResourceAlreadyExistsException
		if !errors.As(err, &rae) {
			t.Errorf("duplicate group: %v", err)
		}
	}
	groups, err := c.DescribeLogGroups(ctx, &cwl.DescribeLogGroupsInput{})
	if err != nil || len(groups.LogGroups) != 1 || aws.ToString(groups.LogGroups[0].LogGroupName) != "g" {
		t.Errorf("groups = %+v, %v", groups, err)
	}
}

func TestCompileFilter(t *testing.T) {
	msg := `{"messageType":"ERROR","logger":"a.B","message":"Job x failed: java.io.IOException","n":42,"ok":true,"throwableInformation":["t0","t1"]}`
	for pattern, want := range map[string]bool{
		``:                                   true,
		`ERROR`:                              true,
		`error`:                              false,
		`ERROR IOException`:                  true,
		`ERROR -IOException`:                 false,
		`?nothing ?IOException`:              true,
		`"Job x failed"`:                     true,
		`%fail(ed|ing)%`:                     true,
		`{ $.messageType = "ERROR" }`:        true,
		`{ $.messageType != "ERROR" }`:       false,
		`{ $.logger = "a.*" }`:               true,
		`{ $.n > 40 && $.n <= 42 }`:          true,
		`{ $.n = 41 || ($.ok IS TRUE) }`:     true,
		`{ $.missing NOT EXISTS }`:           true,
		`{ $.throwableInformation[1] = t1 }`: true,
		`{ $.message = %IOExc% }`:            true,
	} {
		f, err := cwlogs.CompileFilter(pattern)
		if err != nil {
			t.Errorf("%s: %v", pattern, err)
			continue
		}
		if got := f(msg); got != want {
			t.Errorf("%s: %v, want %v", pattern, got, want)
		}
	}
	for _, bad := range []string{`{ $.a = "x" `, `{ a = 1 }`, `"unbalanced`, `{ $.a > "x" }`, `%[%`} {
		if _, err := cwlogs.CompileFilter(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}
