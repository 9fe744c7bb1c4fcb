package awsapi_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/awsapi"
	"github.com/flinkplane/flinkplane/awsapi/sigv4"
	"github.com/flinkplane/flinkplane/client"
	"github.com/flinkplane/flinkplane/mock"
)

// fakeLogs is a mock.LogReader over in-memory files: cluster id → name → text.
func fakeLogs(files map[string]map[string]string) *mock.LogReader {
	mod := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	return &mock.LogReader{
		LogsFunc: func(h flinkplane.ClusterHandle) ([]flinkplane.LogFile, error) {
			fs, ok := files[h.ID]
			if !ok {
				return nil, flinkplane.Errorf(flinkplane.ENOTFOUND, "No logs for cluster %s.", h.ID)
			}
			var out []flinkplane.LogFile
			for _, n := range []string{"jobmanager.log", "jobmanager.out", "taskmanager-1.log"} {
				if t, ok := fs[n]; ok {
					out = append(out, flinkplane.LogFile{Name: n, Size: int64(len(t)), ModTime: mod})
				}
			}
			return out, nil
		},
		ReadLogFunc: func(h flinkplane.ClusterHandle, name string, offset, limit int64) ([]byte, error) {
			t, ok := files[h.ID][name]
			if !ok {
				return nil, flinkplane.Errorf(flinkplane.ENOTFOUND, "Log %q not found.", name)
			}
			if offset < 0 {
				offset = max(int64(len(t))+offset, 0)
			}
			end := min(offset+limit, int64(len(t)))
			return []byte(t[offset:end]), nil
		},
	}
}

// newLogServer returns a server with application "a", whose current
// cluster is c2 and whose earlier one (recorded by an operation) is c1.
func newLogServer(t *testing.T, logs flinkplane.LogReader) *awsapi.Server {
	t.Helper()
	s := newServer(t)
	s.Logs = logs
	if code, out := call(s, "CreateApplication", `{"ApplicationName":"a","RuntimeEnvironment":"FLINK-1_20","ServiceExecutionRole":"arn:aws:iam::1:role/r"}`); code != 200 {
		t.Fatal(out)
	}
	err := s.Store.Update(context.Background(), func(tx flinkplane.Tx) error {
		app, err := tx.Application("a")
		if err != nil {
			return err
		}
		// Only the store's record matters here; the engine does not watch a READY application.
		app.Cluster = &flinkplane.ClusterHandle{ID: "c2", Runtime: "FLINK-2_2"}
		if err := tx.PutApplication(app); err != nil {
			return err
		}
		now := time.Now()
		for i, id := range []string{"c1", "c2"} {
			op := &flinkplane.Operation{ID: fmt.Sprintf("op%d", i), ApplicationName: "a", Kind: flinkplane.OpStartApplication,
				Status: flinkplane.OperationSuccessful, StartTime: now.Add(time.Duration(i) * time.Second), EndTime: now.Add(time.Duration(i) * time.Second),
				Cluster: &flinkplane.ClusterHandle{ID: id, Runtime: flinkplane.RuntimeID(map[string]string{"c1": "FLINK-1_20", "c2": "FLINK-2_2"}[id])}}
			if err := tx.PutOperation(op); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func get(s http.Handler, path string) (int, http.Header, string) {
	r := httptest.NewRequest("GET", "http://x"+path, nil)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w.Code, w.Header(), w.Body.String()
}

func wantAWSError(t *testing.T, code int, body string, wantCode int, wantType string) {
	t.Helper()
	var e struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}
	if err := json.Unmarshal([]byte(body), &e); err != nil || code != wantCode || e.Type != wantType || e.Message == "" {
		t.Fatalf("got %d %s, want %d %s", code, body, wantCode, wantType)
	}
}

func TestLogs_List(t *testing.T) {
	logs := fakeLogs(map[string]map[string]string{
		"c1": {"jobmanager.log": "old\n"},
		"c2": {"jobmanager.log": "new\n", "taskmanager-1.log": "tm\n"},
	})
	s := newLogServer(t, logs)
	code, h, body := get(s, "/flinkplane/v1/applications/a/logs")
	if code != 200 || !strings.HasPrefix(h.Get("Content-Type"), "application/json") {
		t.Fatalf("%d %s", code, body)
	}
	var resp client.ListLogsResponse
	if err := json.Unmarshal([]byte(body), &resp); err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range resp.LogFiles {
		got = append(got, fmt.Sprintf("%s/%s %s %v %d", f.ClusterID, f.FileName, f.RuntimeEnvironment, f.Current, f.Size))
	}
	want := []string{"c2/jobmanager.log FLINK-2_2 true 4", "c2/taskmanager-1.log FLINK-2_2 true 3", "c1/jobmanager.log FLINK-1_20 false 4"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %q, want %q", got, want)
	}

	t.Run("UnknownApplication", func(t *testing.T) {
		code, _, body := get(s, "/flinkplane/v1/applications/nope/logs")
		wantAWSError(t, code, body, 400, "ResourceNotFoundException")
	})
	t.Run("UnknownRoute", func(t *testing.T) {
		code, _, body := get(s, "/flinkplane/v1/applications/a/metrics")
		wantAWSError(t, code, body, 400, "UnknownOperationException")
		r := httptest.NewRequest("DELETE", "/flinkplane/v1/applications/a/logs", nil)
		w := httptest.NewRecorder()
		s.ServeHTTP(w, r)
		wantAWSError(t, w.Code, w.Body.String(), 400, "UnknownOperationException")
	})
	t.Run("NoLogReader", func(t *testing.T) {
		s.Logs = nil
		defer func() { s.Logs = logs }()
		code, _, body := get(s, "/flinkplane/v1/applications/a/logs")
		wantAWSError(t, code, body, 400, "UnsupportedOperationException")
	})
}

func TestLogs_Read(t *testing.T) {
	logs := fakeLogs(map[string]map[string]string{
		"c1": {"jobmanager.log": "old 1\nold 2\n", "jobmanager.out": "only old\n"},
		"c2": {"jobmanager.log": "l1\nl2\nl3\nl4\n"},
	})
	s := newLogServer(t, logs)
	read := func(path string) string {
		t.Helper()
		code, h, body := get(s, path)
		if code != 200 || h.Get("Content-Type") != "text/plain; charset=utf-8" {
			t.Fatalf("%s: %d %s", path, code, body)
		}
		return body
	}
	if got, want := read("/flinkplane/v1/applications/a/logs/jobmanager.log"), "l1\nl2\nl3\nl4\n"; got != want {
		t.Fatalf("got %q, want %q", got, want)
	}
	if got, want := read("/flinkplane/v1/applications/a/logs/jobmanager.log?tail=2"), "l3\nl4\n"; got != want {
		t.Fatalf("tail: got %q, want %q", got, want)
	}
	if got, want := read("/flinkplane/v1/applications/a/logs/jobmanager.log?tail=10"), "l1\nl2\nl3\nl4\n"; got != want {
		t.Fatalf("tail beyond: got %q, want %q", got, want)
	}
	if got, want := read("/flinkplane/v1/applications/a/logs/jobmanager.log?cluster=c1&tail=1"), "old 2\n"; got != want {
		t.Fatalf("earlier cluster: got %q, want %q", got, want)
	}
	if got, want := read("/flinkplane/v1/applications/a/logs/jobmanager.out"), "only old\n"; got != want {
		t.Fatalf("newest cluster that has the file: got %q, want %q", got, want)
	}

	t.Run("NotFound", func(t *testing.T) {
		for _, p := range []string{
			"/flinkplane/v1/applications/nope/logs/jobmanager.log",
			"/flinkplane/v1/applications/a/logs/taskmanager-9.log",
			"/flinkplane/v1/applications/a/logs/jobmanager.log?cluster=c9",
		} {
			code, _, body := get(s, p)
			wantAWSError(t, code, body, 400, "ResourceNotFoundException")
		}
	})
	t.Run("PathTraversal", func(t *testing.T) {
		logs.Read = nil
		for _, p := range []string{
			"/flinkplane/v1/applications/a/logs/..",
			"/flinkplane/v1/applications/a/logs/..%2F..%2F..%2Fetc%2Fpasswd",
			"/flinkplane/v1/applications/a/logs/%2Fetc%2Fpasswd",
			"/flinkplane/v1/applications/a/logs/..%5Cx",
			"/flinkplane/v1/applications/a/logs/.hidden",
		} {
			code, _, body := get(s, p)
			wantAWSError(t, code, body, 400, "InvalidArgumentException")
		}
		for _, p := range []string{"/flinkplane/v1/applications/a/logs/../../etc/passwd", "/flinkplane/v1/applications/a/logs/x/y"} {
			code, _, body := get(s, p)
			wantAWSError(t, code, body, 400, "UnknownOperationException")
		}
		if len(logs.Read) != 0 {
			t.Fatalf("files read: %q", logs.Read)
		}
	})
	t.Run("BadTail", func(t *testing.T) {
		code, _, body := get(s, "/flinkplane/v1/applications/a/logs/jobmanager.log?tail=x")
		wantAWSError(t, code, body, 400, "InvalidArgumentException")
	})
}

// A tail of a file longer than one read chunk reads backwards until it has
// the lines.
func TestLogs_TailLongFile(t *testing.T) {
	var b strings.Builder
	for i := range 20000 {
		fmt.Fprintf(&b, "line %05d %s\n", i, strings.Repeat("x", 20))
	}
	long := b.String()
	s := newLogServer(t, fakeLogs(map[string]map[string]string{"c2": {"jobmanager.log": long}}))
	for _, n := range []int{1, 3, 5000, 20000, 30000} {
		code, _, body := get(s, fmt.Sprintf("/flinkplane/v1/applications/a/logs/jobmanager.log?tail=%d", n))
		lines := strings.Split(long, "\n")
		lines = lines[:len(lines)-1]
		want := strings.Join(lines[max(len(lines)-n, 0):], "\n") + "\n"
		if code != 200 || body != want {
			t.Fatalf("tail=%d: %d, got %d bytes, want %d", n, code, len(body), len(want))
		}
	}
}

// With SigV4 on, the extension endpoints need a signature like the AWS
// API; the typed client signs its GETs over an empty body.
func TestLogs_SigV4(t *testing.T) {
	s := newLogServer(t, fakeLogs(map[string]map[string]string{"c2": {"jobmanager.log": "a\nb\n"}}))
	s.Verifier = sigv4.New(map[string]string{"AKID": "secret"}, "us-east-1")
	srv := httptest.NewServer(s)
	defer srv.Close()

	resp, err := http.Get(srv.URL + "/flinkplane/v1/applications/a/logs")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 403 || resp.Header.Get("X-Amzn-ErrorType") != "MissingAuthenticationTokenException" {
		t.Fatalf("unsigned: %d %s", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"))
	}

	c := client.New(srv.URL)
	c.Credentials = credentials.NewStaticCredentialsProvider("AKID", "wrong", "")
	var ce *client.Error
	if _, err := c.ListLogs(context.Background(), "a"); !errors.As(err, &ce) || ce.StatusCode != 403 {
		t.Fatalf("wrong secret: %v", err)
	}
	c.Credentials = credentials.NewStaticCredentialsProvider("AKID", "secret", "")
	list, err := c.ListLogs(context.Background(), "a")
	if err != nil || len(list.LogFiles) != 1 {
		t.Fatalf("%+v %v", list, err)
	}
	b, err := c.ReadLog(context.Background(), "a", "jobmanager.log", client.ReadLogOptions{Tail: 1})
	if err != nil || string(b) != "b\n" {
		t.Fatalf("%q %v", b, err)
	}
	if _, err := c.ReadLog(context.Background(), "a", "../x", client.ReadLogOptions{}); !errors.As(err, &ce) || ce.Type != "InvalidArgumentException" {
		t.Fatalf("traversal through the client: %v", err)
	}
}
