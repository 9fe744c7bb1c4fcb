package awsapi_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/awsapi"
	"github.com/flinkplane/flinkplane/awsapi/sigv4"
	"github.com/flinkplane/flinkplane/client"
	"github.com/flinkplane/flinkplane/engine"
	"github.com/flinkplane/flinkplane/mock"
	"github.com/flinkplane/flinkplane/sqlite"
)

// newPreflightServer is newServer with a compatibility checker that finds
// an ERROR in bad.jar on FLINK-2_2.
func newPreflightServer(t *testing.T) (*awsapi.Server, *mock.CompatChecker) {
	t.Helper()
	db := sqlite.New(t.TempDir())
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	checker := &mock.CompatChecker{JarFunc: func(jar string, target flinkplane.RuntimeID) []flinkplane.Finding {
		if strings.HasSuffix(jar, "bad.jar") && target == "FLINK-2_2" {
			return []flinkplane.Finding{{Severity: flinkplane.SeverityError, Code: "REMOVED_API", Message: "SourceFunction is not in FLINK-2_2", Class: "com.example.Job"},
				{Severity: flinkplane.SeverityWarning, Code: "KRYO_STATE", Message: "generic type"}}
		}
		return nil
	}}
	e := engine.New(db, mock.NewClusterDriver())
	e.Code = mock.NewCodeStore("arn:aws:s3:::b/app.jar", "arn:aws:s3:::b/bad.jar", "arn:aws:s3:::b/good.jar")
	e.Compat = checker
	e.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := e.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(); db.Close() })
	s := awsapi.NewServer(e, "us-east-1", "000000000000")
	s.Logger = e.Logger
	return s, checker
}

func upgradeBody(version int, key string) map[string]any {
	return map[string]any{"ApplicationName": "a", "CurrentApplicationVersionId": version, "RuntimeEnvironmentUpdate": "FLINK-2_2",
		"ApplicationConfigurationUpdate": map[string]any{"ApplicationCodeConfigurationUpdate": map[string]any{
			"CodeContentUpdate": map[string]any{"S3ContentLocationUpdate": map[string]any{"FileKeyUpdate": key}}}}}
}

// TestPreflight: the dry run answers the findings an update would be
// refused with, and changes nothing.
func TestPreflight(t *testing.T) {
	s, checker := newPreflightServer(t)
	if code, out := call(s, "CreateApplication", `{"ApplicationName":"a","RuntimeEnvironment":"FLINK-1_20","ServiceExecutionRole":"arn:aws:iam::1:role/r",
		"ApplicationConfiguration":{"ApplicationCodeConfiguration":{"CodeContentType":"ZIPFILE","CodeContent":{"S3ContentLocation":{"BucketARN":"arn:aws:s3:::b","FileKey":"app.jar"}}}}}`); code != 200 {
		t.Fatal(out)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	c := client.New(srv.URL)
	ctx := context.Background()

	res, err := c.Preflight(ctx, "a", upgradeBody(1, "bad.jar"))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Blocked || !res.Checked || res.RuntimeEnvironment != "FLINK-2_2" || res.CompatCheck != "enforce" ||
		len(res.CompatibilityFindings) != 2 || res.Summary.Errors != 1 || res.Summary.Warnings != 1 {
		t.Fatalf("bad jar: %+v", res)
	}
	if got, want := checker.Calls, []string{"CheckJar(/code/arn:aws:s3:::b/bad.jar,FLINK-2_2)"}; len(got) != 1 || got[0] != want[0] {
		t.Fatalf("checker calls %v, want %v", got, want)
	}
	// Nothing changed: same version, same runtime, no operation.
	if code, out := call(s, "DescribeApplication", `{"ApplicationName":"a"}`); code != 200 ||
		out["ApplicationDetail"].(map[string]any)["ApplicationVersionId"].(float64) != 1 ||
		out["ApplicationDetail"].(map[string]any)["RuntimeEnvironment"] != "FLINK-1_20" {
		t.Fatalf("after the dry run: %v", out)
	}
	if code, out := call(s, "ListApplicationOperations", `{"ApplicationName":"a"}`); code != 200 || out["ApplicationOperationInfoList"] != nil && len(out["ApplicationOperationInfoList"].([]any)) != 0 {
		t.Fatalf("operations after the dry run: %v", out)
	}

	res, err = c.Preflight(ctx, "a", upgradeBody(1, "good.jar"))
	if err != nil || res.Blocked || !res.Checked || len(res.CompatibilityFindings) != 0 {
		t.Fatalf("good jar: %+v %v", res, err)
	}
	// A change of neither runtime nor code: nothing to check.
	res, err = c.Preflight(ctx, "a", map[string]any{"ApplicationName": "a", "CurrentApplicationVersionId": 1,
		"ApplicationConfigurationUpdate": map[string]any{"FlinkApplicationConfigurationUpdate": map[string]any{
			"ParallelismConfigurationUpdate": map[string]any{"ConfigurationTypeUpdate": "CUSTOM", "ParallelismUpdate": 2}}}})
	if err != nil || res.Checked || res.Blocked {
		t.Fatalf("parallelism only: %+v %v", res, err)
	}

	// The errors UpdateApplication answers before its pre-flight.
	for _, tt := range []struct {
		name string
		body any
		want string
	}{
		{"StaleVersion", upgradeBody(7, "good.jar"), "ConcurrentModificationException"},
		{"MissingCode", upgradeBody(1, "nope.jar"), "CodeValidationException"},
		{"OtherApplication", map[string]any{"ApplicationName": "b", "CurrentApplicationVersionId": 1}, "InvalidArgumentException"},
		{"ModelViolation", map[string]any{"ApplicationName": "a", "CurrentApplicationVersionId": 0}, "InvalidArgumentException"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := c.Preflight(ctx, "a", tt.body)
			var ce *client.Error
			if !errors.As(err, &ce) || ce.Type != tt.want {
				t.Fatalf("err = %v, want %s", err, tt.want)
			}
		})
	}
	if _, err := c.Preflight(ctx, "nope", map[string]any{"ApplicationName": "nope", "CurrentApplicationVersionId": 1}); err == nil || err.(*client.Error).Type != "ResourceNotFoundException" {
		t.Fatalf("unknown application: %v", err)
	}

	// A form post (what a cross-site page can send without CORS) is refused.
	r := httptest.NewRequest("POST", "/flinkplane/v1/applications/a/preflight", strings.NewReader(`{"ApplicationName":"a","CurrentApplicationVersionId":1}`))
	r.Header.Set("Content-Type", "text/plain")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	if w.Code == 200 {
		t.Fatalf("text/plain body accepted: %s", w.Body)
	}
	code, _, body := get(s, "/flinkplane/v1/applications/a/preflight")
	wantAWSError(t, code, body, 400, "UnknownOperationException")

	// The warn override: the findings, not blocked.
	if code, out := call(s, "TagResource", `{"ResourceARN":"arn:aws:kinesisanalytics:us-east-1:000000000000:application/a","Tags":[{"Key":"flinkplane:compat-check","Value":"warn"}]}`); code != 200 {
		t.Fatal(out)
	}
	res, err = c.Preflight(ctx, "a", upgradeBody(1, "bad.jar"))
	if err != nil || res.Blocked || res.CompatCheck != "warn" || res.Summary.Errors != 1 {
		t.Fatalf("warn override: %+v %v", res, err)
	}
}

// TestPreflight_SigV4: with SigV4 verification the dry run needs a
// signature over its body, like every API call.
func TestPreflight_SigV4(t *testing.T) {
	s, _ := newPreflightServer(t)
	s.Verifier = sigv4.New(map[string]string{"AKID": "secret"}, "us-east-1")
	srv := httptest.NewServer(s)
	defer srv.Close()
	c := client.New(srv.URL)
	_, err := c.Preflight(context.Background(), "a", upgradeBody(1, "bad.jar"))
	if ce, ok := err.(*client.Error); !ok || ce.StatusCode != http.StatusForbidden || ce.Type != "MissingAuthenticationTokenException" {
		t.Fatalf("unsigned: %v", err)
	}
	c.Credentials = credentials.NewStaticCredentialsProvider("AKID", "secret", "")
	_, err = c.Preflight(context.Background(), "a", upgradeBody(1, "bad.jar"))
	if ce, ok := err.(*client.Error); !ok || ce.Type != "ResourceNotFoundException" {
		t.Fatalf("signed, unknown application: %v", err)
	}
}
