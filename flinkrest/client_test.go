package flinkrest

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Bodies recorded from Flink 1.20.5 and 2.2.1 (trimmed).
var recorded = map[string]string{
	"GET /jobs/j1/metrics": `[{"id":"numRestarts","value":"3"},{"id":"uptime","value":"12345"},{"id":"lastCheckpointSize","value":"4217"}]`,
	// 1.20 still sends the deprecated root-exception/all-exceptions next to
	// exceptionHistory; 2.2 only exceptionHistory.
	"GET /jobs/j1/exceptions": `{"root-exception":"java.lang.IllegalStateException: old","timestamp":1,"all-exceptions":[],"truncated":false,
	  "exceptionHistory":{"entries":[{"exceptionName":"java.lang.IllegalStateException","stacktrace":"java.lang.IllegalStateException: testjob failure requested\n\tat flinkplane.testjob.TestJob$Counter.processElement(TestJob.java:71)\n","timestamp":1764158000000,"taskName":"KeyedProcess (1/2)","endpoint":"127.0.0.1:40000","taskManagerId":"127.0.0.1:40000-abc","failureLabels":{},"concurrentExceptions":[]}],"truncated":false}}`,
	"GET /jobs/j1/savepoints/t1": `{"status":{"id":"COMPLETED"},"operation":{"failure-cause":{"class":"java.util.concurrent.CompletionException","stack-trace":"java.util.concurrent.CompletionException: x\n\tat a\nCaused by: org.apache.flink.runtime.checkpoint.CheckpointException: Checkpoint Coordinator is suspending.\n\tat b\n","serialized-throwable":"rO0="}}}`,
	"GET /jobs/j1/savepoints/t2": `{"status":{"id":"COMPLETED"},"operation":{"location":"file:/data/savepoints/app/savepoint-0123-abcdef"}}`,
	"GET /jobs/j1/savepoints/t3": `{"status":{"id":"IN_PROGRESS"},"operation":null}`,
	"GET /jobs/j1": `{"jid":"j1","name":"n","isStoppable":false,"state":"RUNNING","job-type":"STREAMING","start-time":1,"end-time":-1,"duration":5,"maxParallelism":-1,"now":6,"timestamps":{"RUNNING":2},
	  "vertices":[{"id":"v1","name":"Source","maxParallelism":128,"parallelism":2,"status":"RUNNING","start-time":2,"end-time":-1,"duration":4,"tasks":{"RUNNING":2,"FAILED":0,"CANCELED":0},"metrics":{}},
	              {"id":"v2","name":"Counter","maxParallelism":128,"parallelism":2,"status":"RUNNING","start-time":2,"end-time":-1,"duration":4,"tasks":{"RUNNING":1,"INITIALIZING":1},"metrics":{}}],"status-counts":{"RUNNING":2},"plan":{}}`,
	"POST /jars/upload":                    `{"filename":"/tmp/flink-web-upload/9b5a3c2e-aaaa_app.jar","status":"success"}`,
	"POST /jars/9b5a3c2e-aaaa_app.jar/run": `{"errors":["org.apache.flink.runtime.rest.handler.RestHandlerException: Could not execute application.\n\tat x\nCaused by: org.apache.flink.client.program.ProgramInvocationException: The main method caused an error: bad\n"]}`,
}

func fakeFlink(t *testing.T) (*Client, *[]string) {
	var bodies []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		bodies = append(bodies, r.Method+" "+r.URL.RequestURI()+" "+string(b))
		body, ok := recorded[r.Method+" "+r.URL.Path]
		switch {
		case !ok:
			w.WriteHeader(404)
			io.WriteString(w, `{"errors":["Not found: `+r.URL.Path+`"]}`)
		case strings.HasSuffix(r.URL.Path, "/run"):
			w.WriteHeader(400)
			io.WriteString(w, body)
		default:
			io.WriteString(w, body)
		}
	}))
	t.Cleanup(srv.Close)
	return New(srv.URL), &bodies
}

func TestRecorded(t *testing.T) {
	c, bodies := fakeFlink(t)
	ctx := context.Background()

	m, err := c.JobMetrics(ctx, "j1")
	if err != nil || m["numRestarts"] != "3" || m["uptime"] != "12345" {
		t.Fatalf("metrics = %v, %v", m, err)
	}
	if got := (*bodies)[0]; !strings.Contains(got, "get=numRestarts%2Cuptime%2Cdowntime") || strings.Contains(got, "fullRestarts") {
		t.Fatalf("metrics request %s", got)
	}

	ex, err := c.Exceptions(ctx, "j1", 1)
	if err != nil || len(ex) != 1 || ex[0].Message() != "java.lang.IllegalStateException: testjob failure requested" {
		t.Fatalf("exceptions = %+v, %v", ex, err)
	}

	r, err := c.SavepointStatus(ctx, "j1", "t1")
	if err != nil || !r.Completed() || r.Failure != "org.apache.flink.runtime.checkpoint.CheckpointException: Checkpoint Coordinator is suspending." {
		t.Fatalf("failed savepoint = %+v, %v", r, err)
	}
	r, err = c.SavepointStatus(ctx, "j1", "t2")
	if err != nil || r.Location != "file:/data/savepoints/app/savepoint-0123-abcdef" || r.Failure != "" {
		t.Fatalf("savepoint = %+v, %v", r, err)
	}
	if r, _ := c.SavepointStatus(ctx, "j1", "t3"); r.Completed() {
		t.Fatal("in progress reported completed")
	}
	if _, err := c.SavepointStatus(ctx, "j1", "nope"); !IsNotFound(err) {
		t.Fatalf("unknown trigger: %v", err)
	}

	j, err := c.Job(ctx, "j1")
	if err != nil || j.AllTasksRunning() || len(j.Vertices) != 2 {
		t.Fatalf("job = %+v, %v (one task INITIALIZING: not all running)", j, err)
	}
	j.Vertices[1].Tasks = map[string]int{"RUNNING": 2}
	if !j.AllTasksRunning() {
		t.Fatal("all tasks running not detected")
	}

	jar := filepath.Join(t.TempDir(), "app.jar")
	os.WriteFile(jar, []byte("PK"), 0o644)
	id, err := c.UploadJar(ctx, jar)
	if err != nil || id != "9b5a3c2e-aaaa_app.jar" {
		t.Fatalf("upload = %q, %v", id, err)
	}
	*bodies = nil
	_, err = c.RunJar(ctx, id, RunRequest{ProgramArgsList: []string{"a", "b c"}, SavepointPath: "/sp", AllowNonRestoredState: true, JobID: "j", ClaimMode: "NO_CLAIM"})
	e, ok := err.(*Error)
	if !ok || e.StatusCode != 400 || RootCause(e.Errors[0]) != "org.apache.flink.client.program.ProgramInvocationException: The main method caused an error: bad" {
		t.Fatalf("run error = %v", err)
	}
	_, body, _ := strings.Cut((*bodies)[0], "/run ")
	var sent map[string]any
	json.Unmarshal([]byte(body), &sent)
	for _, k := range []string{"programArgsList", "savepointPath", "allowNonRestoredState", "jobId", "claimMode"} {
		if _, ok := sent[k]; !ok {
			t.Errorf("run body lacks %s: %s", k, body)
		}
	}
	if _, ok := sent["programArgs"]; ok {
		t.Error("run body has programArgs (removed in 2.x)")
	}
}
