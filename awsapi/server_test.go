package awsapi_test

import (
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/flinkplane/flinkplane/awsapi"
	"github.com/flinkplane/flinkplane/awsapi/model"
	"github.com/flinkplane/flinkplane/engine"
	"github.com/flinkplane/flinkplane/mock"
	"github.com/flinkplane/flinkplane/sqlite"
)

func newServer(t testing.TB) *awsapi.Server {
	t.Helper()
	db := sqlite.New(t.TempDir())
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	e := engine.New(db, mock.NewClusterDriver())
	e.Code = mock.NewCodeStore("arn:aws:s3:::b/app.jar")
	e.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := e.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close(); db.Close() })
	s := awsapi.NewServer(e, "us-east-1", "000000000000")
	s.Logger = e.Logger
	return s
}

func call(s http.Handler, op, body string) (int, map[string]any) {
	r := httptest.NewRequest("POST", "/", strings.NewReader(body))
	r.Header.Set("X-Amz-Target", awsapi.TargetPrefix+op)
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	var out map[string]any
	json.Unmarshal(w.Body.Bytes(), &out)
	return w.Code, out
}

// Every error code maps to an exception the model declares (or a protocol
// or authentication error) with the model's status.
func TestErrorTable(t *testing.T) {
	declared := map[string]bool{"InternalFailure": true, "AccessDeniedException": true}
	for _, e := range model.Exceptions() {
		declared[e.Name] = true
	}
	s := newServer(t)
	code, out := call(s, "DescribeApplication", `{"ApplicationName":"x"}`)
	if code != 400 || out["__type"] != "ResourceNotFoundException" {
		t.Fatalf("%d %v", code, out)
	}
	for _, name := range awsapi.ExceptionNames() {
		if !declared[name] {
			t.Errorf("%s is not an exception of the model", name)
		}
	}
}

// FuzzServe sends arbitrary bodies to every operation: the server answers
// with a modeled error or a result, never a crash or an internal error.
func FuzzServe(f *testing.F) {
	ops := model.Operations()
	f.Add(0, `{"ApplicationName":"a","RuntimeEnvironment":"FLINK-1_20","ServiceExecutionRole":"arn:aws:iam::1:role/r"}`)
	f.Add(1, `{"ApplicationName":"a"}`)
	f.Add(2, `{"Limit": 3, "NextToken": "a"}`)
	f.Add(3, `{"ApplicationName":"a","CurrentApplicationVersionId":1,"ApplicationConfigurationUpdate":{"ApplicationCodeConfigurationUpdate":{"CodeContentUpdate":{"S3ContentLocationUpdate":{"FileKeyUpdate":"../x"}}}}}`)
	f.Add(4, `{"ApplicationName":"a","CreateTimestamp":1.5e9}`)
	f.Add(5, `[]`)
	f.Add(6, `{"ApplicationName":"a","RunConfiguration":{"ApplicationRestoreConfiguration":{"ApplicationRestoreType":"RESTORE_FROM_CUSTOM_SNAPSHOT"}}}`)
	s := newServer(f)
	call(s, "CreateApplication", `{"ApplicationName":"a","RuntimeEnvironment":"FLINK-1_20","ServiceExecutionRole":"arn:aws:iam::1:role/r"}`)
	f.Fuzz(func(t *testing.T, i int, body string) {
		if i < 0 {
			i = -i
		}
		op := ops[i%len(ops)].Name
		code, out := call(s, op, body)
		if code >= 500 || out == nil {
			t.Fatalf("%s %q: %d %v", op, body, code, out)
		}
		if code != 200 && (out["__type"] == nil || out["message"] == nil) {
			t.Fatalf("%s %q: error without __type/message: %v", op, body, out)
		}
	})
}
