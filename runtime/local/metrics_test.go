package local_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/flinkrest"
	"github.com/flinkplane/flinkplane/runtime/local"
)

// fakeJobManager answers the REST calls ReadMetrics makes the way Flink's
// JobManager does: metrics come from a store that a request refreshes in
// the background (at most every updateInterval), so a request answers with
// what the previous fetch stored.
type fakeJobManager struct {
	mu             sync.Mutex
	running        time.Time // RUNNING timestamp
	restarts       int
	updateInterval time.Duration
	fetchDelay     time.Duration // how long the query services take
	lastFetch      time.Time
	store          map[string]string // the MetricStore
	requests       int
}

func (f *fakeJobManager) fetchLocked() {
	now := time.Now()
	if now.Sub(f.lastFetch) <= f.updateInterval {
		return
	}
	f.lastFetch = now
	restarts, running, delay := f.restarts, f.running, f.fetchDelay
	go func() { // the query services answer a little later
		time.Sleep(delay)
		f.mu.Lock()
		f.store = map[string]string{"numRestarts": fmt.Sprint(restarts), "uptime": fmt.Sprint(time.Since(running).Milliseconds())}
		f.mu.Unlock()
	}()
}

func (f *fakeJobManager) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.requests++
	write := func(v any) { json.NewEncoder(w).Encode(v) }
	p := r.URL.Path
	switch {
	case p == "/jobs/j1":
		write(map[string]any{"jid": "j1", "state": "RUNNING", "timestamps": map[string]int64{"RUNNING": f.running.UnixMilli()},
			"vertices": []map[string]any{{"id": "v1", "name": "Source: numbers", "parallelism": 1, "status": "RUNNING", "tasks": map[string]int{"RUNNING": 1}}}})
	case p == "/jobs/j1/metrics":
		f.fetchLocked()
		var out []map[string]string
		for _, n := range strings.Split(r.URL.Query().Get("get"), ",") {
			if v, ok := f.store[n]; ok {
				out = append(out, map[string]string{"id": n, "value": v})
			}
		}
		write(out)
	case p == "/jobs/j1/checkpoints":
		write(map[string]any{"counts": map[string]int{"completed": 4, "failed": 1},
			"latest": map[string]any{"completed": map[string]any{"id": 4, "end_to_end_duration": 37, "checkpointed_size": 7606, "latest_ack_timestamp": f.running.UnixMilli(), "external_path": "file:/c/chk-4"}}})
	case p == "/jobs/j1/exceptions":
		write(map[string]any{"exceptionHistory": map[string]any{"entries": []any{}}})
	case p == "/taskmanagers":
		write(map[string]any{"taskmanagers": []map[string]any{{"id": "tm-1"}}})
	case p == "/jobmanager/metrics", p == "/taskmanagers/tm-1/metrics":
		f.fetchLocked()
		write([]map[string]string{{"id": "Status.JVM.CPU.Load", "value": "0.25"}, {"id": "Status.JVM.Memory.Heap.Used", "value": "1000"}, {"id": "Status.JVM.Memory.Heap.Max", "value": "4000"}})
	case p == "/jobs/j1/vertices/v1/subtasks/metrics":
		f.fetchLocked()
		write([]map[string]any{{"id": "numRecordsInPerSecond", "sum": 0.0}, {"id": "numRecordsOutPerSecond", "sum": 20.0}})
	case strings.HasPrefix(p, "/jobs/"):
		w.WriteHeader(404)
		write(map[string]any{"errors": []string{"Job not found"}})
	default:
		w.WriteHeader(404)
	}
}

// The first read after a pause gets what the JobManager fetched at the
// previous one; ReadMetrics gets the current values, also when the fetch
// takes longer than its settle time (the uptime check reads again).
func TestReadMetrics_Fresh(t *testing.T) {
	f := &fakeJobManager{running: time.Now().Add(-10 * time.Second), updateInterval: time.Second, fetchDelay: 20 * time.Millisecond}
	srv := httptest.NewServer(f)
	defer srv.Close()
	ctx := context.Background()
	d := local.New(t.TempDir(), t.TempDir())
	h := flinkplane.ClusterHandle{ID: "c", RESTURL: srv.URL}
	pause := func(restarts int, delay time.Duration) {
		f.mu.Lock()
		f.restarts, f.fetchDelay = restarts, delay
		f.mu.Unlock()
		time.Sleep(2100 * time.Millisecond)
	}

	// A reading fills the store; the job restarts; time passes.
	if _, err := d.ReadMetrics(ctx, h, "j1", ""); err != nil {
		t.Fatal(err)
	}
	pause(3, 20*time.Millisecond)
	m, err := d.ReadMetrics(ctx, h, "j1", "")
	if err != nil {
		t.Fatal(err)
	}
	if !m.HasRestarts || m.Restarts != 3 {
		t.Fatalf("restarts = %d (%v), want 3", m.Restarts, m.HasRestarts)
	}
	// A fetch slower than the settle time: the reading after the settle
	// is stale (its uptime lags), so ReadMetrics reads again.
	pause(4, 400*time.Millisecond)
	if m, err = d.ReadMetrics(ctx, h, "j1", ""); err != nil || m.Restarts != 4 {
		t.Fatalf("slow fetch: restarts = %d, %v; want 4", m.Restarts, err)
	}
	// The job restarts (a new RUNNING time) and the fetch is slow: the
	// reading after the settle holds the uptime and numRestarts of before
	// the restart (an uptime longer than the job has run since), so
	// ReadMetrics reads again.
	f.mu.Lock()
	f.running = time.Now()
	f.mu.Unlock()
	pause(5, 400*time.Millisecond)
	if m, err = d.ReadMetrics(ctx, h, "j1", ""); err != nil || m.Restarts != 5 {
		t.Fatalf("after a restart: restarts = %d, %v; want 5", m.Restarts, err)
	}
	// The fake is as stale as Flink: a plain first read after a pause
	// answers with the previous fetch.
	pause(6, 20*time.Millisecond)
	naive, err := flinkrest.New(srv.URL).JobMetrics(ctx, "j1", "numRestarts")
	if err != nil || naive["numRestarts"] != "5" {
		t.Fatalf("plain read after a pause = %v, %v; want the stale 5", naive, err)
	}

	if m.State != "RUNNING" || !m.StatusTimes["RUNNING"].Equal(f.running.Truncate(time.Millisecond)) {
		t.Errorf("state %s, times %v", m.State, m.StatusTimes)
	}
	if c := m.Checkpoints; c.Completed != 4 || c.Failed != 1 || !c.HasLast || c.LastDuration != 37*time.Millisecond || c.LastSize != 7606 || c.LastPath != "file:/c/chk-4" {
		t.Errorf("checkpoints %+v", c)
	}
	if m.JobManager == nil || m.JobManager.CPULoad != 0.25 || m.JobManager.HeapUsed != 1000 || m.JobManager.HeapMax != 4000 {
		t.Errorf("jobmanager %+v", m.JobManager)
	}
	if len(m.TaskManagers) != 1 || m.TaskManagers[0].ID != "tm-1" || !m.HasRecords || m.RecordsOutPerSecond != 20 || len(m.Tasks) != 1 {
		t.Errorf("taskmanagers %+v, records %v %v, tasks %+v", m.TaskManagers, m.HasRecords, m.RecordsOutPerSecond, m.Tasks)
	}
	if _, err := d.ReadMetrics(ctx, h, "nope", ""); flinkplane.ErrorCode(err) != flinkplane.ENOTFOUND {
		t.Errorf("unknown job: %v", err)
	}
}

// SetLogLevel rewrites the cluster's root level, idempotently.
func TestSetLogLevel(t *testing.T) {
	dir := t.TempDir()
	os.MkdirAll(filepath.Join(dir, "conf"), 0o755)
	conf := "monitorInterval=30\nrootLogger.level = INFO\nlogger.pekko.level = INFO\n"
	os.WriteFile(filepath.Join(dir, "conf", "log4j.properties"), []byte(conf), 0o644)
	d := local.New(t.TempDir(), t.TempDir())
	h := flinkplane.ClusterHandle{ID: "c", Dir: dir}
	ctx := context.Background()
	for _, lvl := range []string{"DEBUG", "DEBUG", "WARN"} {
		if err := d.SetLogLevel(ctx, h, lvl); err != nil {
			t.Fatal(err)
		}
		if got, _ := d.LogLevel(h); got != lvl {
			t.Fatalf("level %q, want %q", got, lvl)
		}
	}
	b, _ := os.ReadFile(filepath.Join(dir, "conf", "log4j.properties"))
	if !strings.Contains(string(b), "logger.pekko.level = INFO") {
		t.Errorf("other loggers changed: %s", b)
	}
	if err := d.SetLogLevel(ctx, h, "TRACE"); flinkplane.ErrorCode(err) != flinkplane.EINVALID {
		t.Errorf("TRACE: %v", err)
	}
	if err := d.SetLogLevel(ctx, flinkplane.ClusterHandle{ID: "x", Dir: t.TempDir()}, "INFO"); flinkplane.ErrorCode(err) != flinkplane.ENOTFOUND {
		t.Errorf("no configuration: %v", err)
	}
}
