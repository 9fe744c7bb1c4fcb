package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	kav2 "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/mock"
)

func exitCodeOf(err error) int {
	var e interface{ ExitCode() int }
	if err == nil {
		return 0
	} else if errors.As(err, &e) {
		return e.ExitCode()
	}
	return -1
}

// `flinkplane check operation` shows the findings the engine's pre-flight
// kept with a rejected UpdateApplication, through the real server, as
// `check jar` shows its own.
func TestCheckOperation(t *testing.T) {
	driver := mock.NewClusterDriver()
	compat := &mock.CompatChecker{JarFunc: func(jar string, target flinkplane.RuntimeID) []flinkplane.Finding {
		return []flinkplane.Finding{
			{Severity: flinkplane.SeverityError, Code: "REMOVED_API", Message: "org/apache/flink/streaming/api/functions/source/SourceFunction is not in FLINK-2_2",
				Class: "com.example.LegacyJob", Method: "main", Hint: "use a FLIP-27 Source with env.fromSource"},
			{Severity: flinkplane.SeverityWarning, Code: "SCALA_LIBRARY", Message: "the JAR bundles scala-library"},
		}
	}}
	m := startMainWith(t, driver, compat)
	c := apiClient(m.URL())
	srvCreateApp(t, c, "a", nil)
	out, _ := c.StartApplication(sctx, &kav2.StartApplicationInput{ApplicationName: aws.String("a")})
	startID := aws.ToString(out.OperationId)
	srvWaitOperation(t, c, "a", startID)
	_, err := c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String("a"), CurrentApplicationVersionId: aws.Int64(1),
		RuntimeEnvironmentUpdate: types.RuntimeEnvironmentFlink22})
	srvWantErr[*types.InvalidApplicationConfigurationException](t, err, "SourceFunction")
	ops, err := c.ListApplicationOperations(sctx, &kav2.ListApplicationOperationsInput{ApplicationName: aws.String("a"), OperationStatus: types.OperationStatusFailed})
	if err != nil || len(ops.ApplicationOperationInfoList) != 1 {
		t.Fatalf("%+v %v", ops, err)
	}
	rejected := aws.ToString(ops.ApplicationOperationInfoList[0].OperationId)

	check := func(args ...string) (string, int) {
		var buf bytes.Buffer
		err := runCheckTo(context.Background(), append([]string{"operation", "--endpoint-url", m.URL()}, args...), &buf)
		return buf.String(), exitCodeOf(err)
	}

	t.Run("Text", func(t *testing.T) {
		text, code := check("--application-name", "a", "--operation-id", rejected)
		if code != exitErrors {
			t.Fatalf("exit %d:\n%s", code, text)
		}
		for _, want := range []string{"FAILED", "ERROR   REMOVED_API  com.example.LegacyJob.main", "hint: use a FLIP-27 Source",
			"WARNING SCALA_LIBRARY", "INFO    STATE_CHECKED", "1 error(s), 1 warning(s), 1 info(s)"} {
			if !strings.Contains(text, want) {
				t.Fatalf("output lacks %q:\n%s", want, text)
			}
		}
	})
	t.Run("JSON", func(t *testing.T) {
		text, code := check("--application-name", "a", "--operation-id", rejected, "--format", "json")
		var rep operationReport
		if err := json.Unmarshal([]byte(text), &rep); err != nil || code != exitErrors {
			t.Fatalf("exit %d %v:\n%s", code, err, text)
		}
		if rep.OperationStatus != "FAILED" || len(rep.Findings) != 3 || rep.Findings[0].Class != "com.example.LegacyJob" || rep.Summary.Errors != 1 || rep.ErrorInfo == "" {
			t.Fatalf("%+v", rep)
		}
	})
	t.Run("CleanOperation", func(t *testing.T) {
		text, code := check("--application-name", "a", "--operation-id", startID)
		if code != exitClean || !strings.Contains(text, "SUCCESSFUL, 0 compatibility finding(s)") {
			t.Fatalf("exit %d:\n%s", code, text)
		}
	})
	t.Run("FailedWithoutFindings", func(t *testing.T) {
		// A start that fails on the cluster has no findings; its ErrorInfo is shown.
		driver.Fail("Start", errors.New("no TaskManager registered within 60s"), true)
		c.StopApplication(sctx, &kav2.StopApplicationInput{ApplicationName: aws.String("a"), Force: aws.Bool(true)})
		srvWaitStatus(t, c, "a", types.ApplicationStatusReady)
		out, err := c.StartApplication(sctx, &kav2.StartApplicationInput{ApplicationName: aws.String("a")})
		if err != nil {
			t.Fatal(err)
		}
		if op := srvWaitOperation(t, c, "a", aws.ToString(out.OperationId)); op.OperationStatus != types.OperationStatusFailed {
			t.Fatalf("start did not fail: %+v", op)
		}
		text, code := check("--application-name", "a", "--operation-id", aws.ToString(out.OperationId))
		if code != exitErrors || !strings.Contains(text, "0 compatibility finding(s)") || !strings.Contains(text, "error: ") || !strings.Contains(text, "no TaskManager registered") {
			t.Fatalf("exit %d:\n%s", code, text)
		}
	})
	t.Run("Usage", func(t *testing.T) {
		if _, code := check("--application-name", "a"); code != exitUsage {
			t.Fatalf("missing --operation-id: exit %d", code)
		}
		if _, code := check("--application-name", "a", "--operation-id", "nope"); code != exitUsage {
			t.Fatalf("unknown operation: exit %d", code)
		}
		if _, code := check("--application-name", "a", "--operation-id", rejected, "--format", "xml"); code != exitUsage {
			t.Fatalf("bad format: exit %d", code)
		}
	})
}
