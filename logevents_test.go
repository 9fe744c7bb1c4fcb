package flinkplane_test

import (
	"strings"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
)

func TestParseLogStreamARN(t *testing.T) {
	for arn, want := range map[string][2]string{
		"arn:aws:logs:us-east-1:123456789012:log-group:/aws/kinesis-analytics/MyApplication:log-stream:kinesis-analytics-log-stream": {"/aws/kinesis-analytics/MyApplication", "kinesis-analytics-log-stream"},
		"arn:aws-cn:logs:cn-north-1:1:log-group:g:log-stream:s":                                                                      {"g", "s"},
		"arn:aws:logs:us-east-1:1:log-group:g":                                                                                       {},
		"arn:aws:s3:::bucket":                                                                                                        {},
		"arn:aws:logs:us-east-1:1:log-group::log-stream:s":                                                                           {},
	} {
		g, s, ok := flinkplane.ParseLogStreamARN(arn)
		if ok != (want[0] != "") || g != want[0] || s != want[1] {
			t.Errorf("%s: %q %q %v", arn, g, s, ok)
		}
	}
}

// A failed operation's ErrorInfo says where its log lines are and stays
// within 512 characters, shortening the message rather than the location.
func TestLogLocation(t *testing.T) {
	app := &flinkplane.Application{Name: "MyApplication"}
	op := &flinkplane.Operation{StartTime: time.UnixMilli(1767323045000), Cluster: &flinkplane.ClusterHandle{ID: "fc-1"}}
	cfg := flinkplane.DefaultConfig()
	if got, want := flinkplane.LogLocation(app, cfg, op), "Logs: flinkplane logs --application-name MyApplication --cluster fc-1"; got != want {
		t.Errorf("without a logging option: %q", got)
	}
	cfg.CloudWatchLogging = []flinkplane.CloudWatchLoggingOption{{LogStreamARN: "arn:aws:logs:us-east-1:1:log-group:/aws/kinesis-analytics/MyApplication:log-stream:s"}}
	loc := flinkplane.LogLocation(app, cfg, op)
	if want := "Logs: aws logs filter-log-events --log-group-name /aws/kinesis-analytics/MyApplication --log-stream-names s --start-time 1767323045000"; loc != want {
		t.Errorf("with a logging option: %q", loc)
	}
	info := flinkplane.WithLogLocation("WAIT_RUNNING: "+strings.Repeat("x", 600), loc)
	if len(info) > 512 || !strings.HasSuffix(info, loc) || !strings.HasPrefix(info, "WAIT_RUNNING: xxx") {
		t.Errorf("long message: %d %q", len(info), info)
	}
	if got := flinkplane.WithLogLocation("SUBMIT: boom.", loc); got != "SUBMIT: boom. "+loc {
		t.Errorf("short message: %q", got)
	}
}
