package awsapi_test

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/client"
)

func TestHealth(t *testing.T) {
	s := newServer(t)
	if code, out := call(s, "CreateApplication", `{"ApplicationName":"a","RuntimeEnvironment":"FLINK-1_20","ServiceExecutionRole":"arn:aws:iam::1:role/r"}`); code != 200 {
		t.Fatal(out)
	}
	var resp client.HealthResponse
	getHealth := func(path string) {
		t.Helper()
		code, _, body := get(s, path)
		if code != 200 {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		resp = client.HealthResponse{}
		if err := json.Unmarshal([]byte(body), &resp); err != nil {
			t.Fatal(err)
		}
	}
	getHealth("/flinkplane/v1/applications/a/health")
	if resp.ApplicationName != "a" || resp.ApplicationStatus != "READY" || resp.Health != nil {
		t.Fatalf("never watched: %+v", resp)
	}
	t0 := time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	err := s.Store.Update(context.Background(), func(tx flinkplane.Tx) error {
		for i := 0; i < 5; i++ {
			if err := tx.PutHealth(&flinkplane.HealthSample{ApplicationName: "a", Time: t0.Add(time.Duration(i) * time.Second),
				Status: flinkplane.HealthRestarting, Restarts: int64(i), JobState: "RESTARTING",
				Cluster:          &flinkplane.ClusterHealth{JobManagerAlive: true, TaskManagers: 1, TaskManagersAlive: 1},
				LatestCheckpoint: &flinkplane.CheckpointInfo{ID: 7, Path: "file:/ck/chk-7", Duration: 120 * time.Millisecond, Size: 4096, Time: t0},
				Cause:            "User code exception at com.example.F.map(F.java:3): java.lang.RuntimeException: x"}, 0); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	getHealth("/flinkplane/v1/applications/a/health")
	if h := resp.Health; h == nil || h.Restarts != 4 || h.Status != "RESTARTING" || h.LatestCheckpoint.Path != "file:/ck/chk-7" ||
		h.LatestCheckpoint.Duration != 120*time.Millisecond || !strings.Contains(h.Cause, "F.java:3") || resp.History != nil {
		t.Fatalf("newest: %+v", resp)
	}
	getHealth("/flinkplane/v1/applications/a/health?history=2")
	if len(resp.History) != 2 || resp.History[0].Restarts != 4 || resp.History[1].Restarts != 3 {
		t.Fatalf("history: %+v", resp.History)
	}
	getHealth("/flinkplane/v1/applications/a/health?history=10&before=" + t0.Add(2*time.Second).Format(time.RFC3339))
	if len(resp.History) != 2 || resp.History[0].Restarts != 1 {
		t.Fatalf("history before: %+v", resp.History)
	}

	// The typed client reads the same.
	srv := httptest.NewServer(s)
	defer srv.Close()
	c := client.New(srv.URL)
	h, err := c.Health(context.Background(), "a", client.HealthOptions{History: 3})
	if err != nil || h.Health == nil || len(h.History) != 3 {
		t.Fatalf("client: %+v %v", h, err)
	}
	if _, err := c.Health(context.Background(), "nope", client.HealthOptions{}); err == nil || err.(*client.Error).Type != "ResourceNotFoundException" {
		t.Fatalf("unknown application: %v", err)
	}

	for _, p := range []string{"/flinkplane/v1/applications/a/health?history=x", "/flinkplane/v1/applications/a/health?history=5000",
		"/flinkplane/v1/applications/a/health?history=1&before=yesterday"} {
		code, _, body := get(s, p)
		wantAWSError(t, code, body, 400, "InvalidArgumentException")
	}
}

// The service's own operations say why they ran.
func TestDescribeOperation_Cause(t *testing.T) {
	s := newServer(t)
	if code, out := call(s, "CreateApplication", `{"ApplicationName":"a","RuntimeEnvironment":"FLINK-1_20","ServiceExecutionRole":"arn:aws:iam::1:role/r"}`); code != 200 {
		t.Fatal(out)
	}
	now := time.Now()
	s.Store.Update(context.Background(), func(tx flinkplane.Tx) error {
		return tx.PutOperation(&flinkplane.Operation{ID: "r1", ApplicationName: "a", Kind: flinkplane.OpRecovery, Status: flinkplane.OperationSuccessful,
			StartTime: now, EndTime: now, System: true, Cause: "The JobManager process of the application's cluster is gone."})
	})
	code, out := call(s, "DescribeApplicationOperation", `{"ApplicationName":"a","OperationId":"r1"}`)
	d, _ := out["ApplicationOperationInfoDetails"].(map[string]any)
	if code != 200 || d["Operation"] != "Recovery" || d["FlinkplaneSystemOperation"] != true ||
		!strings.Contains(d["FlinkplaneCause"].(string), "JobManager process") {
		t.Fatalf("%d %v", code, out)
	}
	code, out = call(s, "ListApplicationOperations", `{"ApplicationName":"a","Operation":"Recovery"}`)
	if l, _ := out["ApplicationOperationInfoList"].([]any); code != 200 || len(l) != 1 {
		t.Fatalf("%d %v", code, out)
	}
}

func TestTags_WatchSettingsValidated(t *testing.T) {
	s := newServer(t)
	if code, out := call(s, "CreateApplication", `{"ApplicationName":"a","RuntimeEnvironment":"FLINK-1_20","ServiceExecutionRole":"arn:aws:iam::1:role/r",
		"Tags":[{"Key":"flinkplane:probation-window","Value":"45s"},{"Key":"flinkplane:auto-rollback","Value":"3/5m"}]}`); code != 200 {
		t.Fatal(out)
	}
	arn := "arn:aws:kinesisanalytics:us-east-1:000000000000:application/a"
	for _, tag := range []string{`{"Key":"flinkplane:probation-window","Value":"soon"}`, `{"Key":"flinkplane:auto-rollback","Value":"always"}`} {
		code, out := call(s, "TagResource", `{"ResourceARN":"`+arn+`","Tags":[`+tag+`]}`)
		if code != 400 || out["__type"] != "InvalidArgumentException" {
			t.Fatalf("%s: %d %v", tag, code, out)
		}
	}
}
