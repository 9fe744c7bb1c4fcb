package main

import (
	"bytes"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kav2 "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/client"
	"github.com/flinkplane/flinkplane/mock"
)

// startWatched starts the real server with the fake driver and the watch
// polling every 100 ms.
func startWatched(t *testing.T, driver *mock.ClusterDriver) *Main {
	t.Helper()
	withoutDefaults(t)
	m := NewMain()
	m.Config.Addr = "127.0.0.1:0"
	m.Config.DataDir = t.TempDir()
	m.Config.Region = "eu-west-1"
	m.Config.AccountID = "123456789012"
	m.Config.WatchInterval = 100 * time.Millisecond
	m.Config.ProbationWindow = -1
	m.Driver = driver
	m.PollInterval = 10 * time.Millisecond
	m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := m.Run(sctx); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	for _, key := range []string{"app-1.20.jar", "app-2.2.jar"} {
		srvPutObject(t, m.Config.DataDir, "flinkplane-test", key)
	}
	return m
}

// Through the API: a lost JobManager shows in the health endpoint and as a
// Recovery in ListApplicationOperations with its cause; a job cancelled
// outside makes the application READY with a system StopApplication that
// says so; `flinkplane health` prints it.
func TestE2E_WatchThroughAPI(t *testing.T) {
	driver := mock.NewClusterDriver()
	m := startWatched(t, driver)
	c := apiClient(m.URL())
	srvCreateApp(t, c, "a", nil)
	out, err := c.StartApplication(sctx, &kav2.StartApplicationInput{ApplicationName: aws.String("a")})
	if err != nil {
		t.Fatal(err)
	}
	srvWaitOperation(t, c, "a", aws.ToString(out.OperationId))
	hc := client.New(m.URL())
	waitHealth := func(status string) *client.HealthResponse {
		t.Helper()
		var r *client.HealthResponse
		for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
			if r, err = hc.Health(sctx, "a", client.HealthOptions{History: 50}); err != nil {
				t.Fatal(err)
			}
			// (A sample the probation took has no processes: wait for the
			// watch's, which the output below shows.)
			if r.Health != nil && r.Health.Status == status && (status != flinkplane.HealthHealthy || r.Health.Cluster != nil) {
				return r
			}
			for _, h := range r.History {
				if h.Status == status && status != flinkplane.HealthHealthy {
					return r // a fault already recovered from: the history tells
				}
			}
		}
		t.Fatalf("health never %s: %+v", status, r.Health)
		return nil
	}
	waitHealth(flinkplane.HealthHealthy)

	var app *flinkplane.Application
	m.DB.View(sctx, func(tx flinkplane.Tx) (err error) { app, err = tx.Application("a"); return err })
	driver.KillJobManager(app.Cluster.ID)
	waitHealth(flinkplane.HealthJobManagerLost)
	var rec types.ApplicationOperationInfo
	for deadline := time.Now().Add(30 * time.Second); rec.OperationId == nil && time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		ops, err := c.ListApplicationOperations(sctx, &kav2.ListApplicationOperationsInput{ApplicationName: aws.String("a"), Operation: aws.String("Recovery")})
		if err != nil {
			t.Fatal(err)
		}
		if len(ops.ApplicationOperationInfoList) > 0 {
			rec = ops.ApplicationOperationInfoList[0]
		}
	}
	if rec.OperationId == nil {
		t.Fatal("no Recovery operation listed")
	}
	if d := srvWaitOperation(t, c, "a", aws.ToString(rec.OperationId)); d.OperationStatus != types.OperationStatusSuccessful {
		t.Fatalf("recovery %+v", d)
	}
	det, err := hc.DescribeOperation(sctx, "a", aws.ToString(rec.OperationId))
	if err != nil || !det.System || !strings.Contains(det.Cause, "JobManager process") {
		t.Fatalf("recovery details %+v %v", det, err)
	}
	srvWaitStatus(t, c, "a", types.ApplicationStatusRunning)
	waitHealth(flinkplane.HealthHealthy)

	// The first HEALTHY sample may be the recovery's own probation poll,
	// which does not look at the processes; the watch's next poll does.
	var buf bytes.Buffer
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		buf.Reset()
		if err := runHealthTo(sctx, []string{"--endpoint-url", m.URL(), "--application-name", "a", "--history", "3"}, &buf); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(buf.String(), "processes ") || time.Now().After(deadline) {
			break
		}
	}
	for _, want := range []string{"application  a  RUNNING", "health       HEALTHY", "all tasks running", "processes    jobmanager alive, taskmanagers 1/1 alive", "TIME"} {
		if !strings.Contains(buf.String(), want) {
			t.Fatalf("health output lacks %q:\n%s", want, buf.String())
		}
	}

	// Cancelled outside flinkplane: READY, not restarted.
	m.DB.View(sctx, func(tx flinkplane.Tx) (err error) { app, err = tx.Application("a"); return err })
	driver.CancelJob(app.JobID)
	srvWaitStatus(t, c, "a", types.ApplicationStatusReady)
	ops, _ := c.ListApplicationOperations(sctx, &kav2.ListApplicationOperationsInput{ApplicationName: aws.String("a"), Operation: aws.String("StopApplication")})
	if len(ops.ApplicationOperationInfoList) != 1 {
		t.Fatalf("stop operations %+v", ops.ApplicationOperationInfoList)
	}
	det, _ = hc.DescribeOperation(sctx, "a", aws.ToString(ops.ApplicationOperationInfoList[0].OperationId))
	if !det.System || !strings.Contains(det.Cause, "cancelled outside flinkplane") || det.OperationStatus != "SUCCESSFUL" {
		t.Fatalf("stop details %+v", det)
	}
	if len(driver.Running()) != 0 || driver.LiveClusters() != 0 {
		t.Fatalf("jobs %v clusters %d", driver.Running(), driver.LiveClusters())
	}
	buf.Reset()
	if err := runHealthTo(sctx, []string{"--endpoint-url", m.URL(), "--application-name", "a", "--format", "json"}, &buf); err != nil ||
		!strings.Contains(buf.String(), `"ApplicationStatus": "READY"`) {
		t.Fatalf("json: %v\n%s", err, buf.String())
	}
}
