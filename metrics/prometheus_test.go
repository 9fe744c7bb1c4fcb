package metrics_test

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/metrics"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape fetches the exposition of h and parses it with Prometheus's own
// text parser.
func scrape(t *testing.T, h http.Handler) map[string]*dto.MetricFamily {
	t.Helper()
	srv := httptest.NewServer(h)
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(bytes.NewReader(b))
	if err != nil {
		t.Fatalf("parse exposition: %v\n%s", err, b)
	}
	return fams
}

func labelsOf(m *dto.Metric) map[string]string {
	out := map[string]string{}
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

// gauge returns the value of the family's metric whose labels include want.
func value(t *testing.T, fams map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	t.Helper()
	f := fams[name]
	if f == nil {
		t.Fatalf("no family %s", name)
	}
next:
	for _, m := range f.GetMetric() {
		l := labelsOf(m)
		for k, v := range want {
			if l[k] != v {
				continue next
			}
		}
		switch f.GetType() {
		case dto.MetricType_COUNTER:
			return m.GetCounter().GetValue()
		case dto.MetricType_GAUGE:
			return m.GetGauge().GetValue()
		}
	}
	t.Fatalf("no %s with labels %v", name, want)
	return 0
}

// The applications' metrics, labelled by application and runtime, and the
// control plane's own, parse with Prometheus's parser.
func TestPrometheus_Exposition(t *testing.T) {
	v := newEnv(t, t.TempDir())
	v.createApp("app", "id-app", flinkplane.MetricsLevelApplication, flinkplane.RuntimeFlink22)
	v.startJob("app", flinkplane.OpStartApplication, "j1", t0)
	now := time.Now().UTC()
	m := running("j1", now.Add(-90*time.Second), 3, 7, 1)
	v.setJob(m)
	v.poll("app", now, health("RUNNING", 3))

	reg, cp := metrics.NewRegistry(v.c)
	// A request through the instrumented handler and a store transaction.
	api := cp.InstrumentHandler(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/bad" {
			w.Header().Set("X-Amzn-ErrorType", "ResourceNotFoundException")
			w.WriteHeader(400)
		}
	}), func(r *http.Request) (string, string) { return "kinesisanalyticsv2", "DescribeApplication" })
	for _, p := range []string{"/ok", "/bad", "/bad"} {
		rec := httptest.NewRecorder()
		api.ServeHTTP(rec, httptest.NewRequest("POST", p, nil))
	}
	store := cp.InstrumentStore(v.db)
	if err := store.Update(ctx, func(tx flinkplane.Tx) error {
		return tx.PutOperation(&flinkplane.Operation{ID: "op1", ApplicationName: "app", Kind: flinkplane.OpStartApplication,
			Status: flinkplane.OperationInProgress, StartTime: t0})
	}); err != nil {
		t.Fatal(err)
	}
	if err := store.Update(ctx, func(tx flinkplane.Tx) error {
		return tx.PutOperation(&flinkplane.Operation{ID: "op1", ApplicationName: "app", Kind: flinkplane.OpStartApplication,
			Status: flinkplane.OperationSuccessful, StartTime: t0, EndTime: t0.Add(42 * time.Second)})
	}); err != nil {
		t.Fatal(err)
	}

	fams := scrape(t, promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	app := map[string]string{"application": "app", "runtime": "FLINK-2_2"}
	if got := value(t, fams, "flinkplane_application_num_restarts", app); got != 3 {
		t.Errorf("num_restarts = %v", got)
	}
	if got := value(t, fams, "flinkplane_application_restarts_total", app); got != 3 {
		t.Errorf("restarts_total = %v", got)
	}
	if got := value(t, fams, "flinkplane_application_uptime_seconds", app); got != 90 {
		t.Errorf("uptime_seconds = %v", got)
	}
	if got := value(t, fams, "flinkplane_application_last_checkpoint_duration_seconds", app); got != 0.42 {
		t.Errorf("last_checkpoint_duration_seconds = %v", got)
	}
	if got := value(t, fams, "flinkplane_application_kpus", app); got != 3 {
		t.Errorf("kpus = %v", got)
	}
	if got := value(t, fams, "flinkplane_application_heap_used_bytes", map[string]string{"application": "app", "process": "jobmanager"}); got != 50<<20 {
		t.Errorf("jobmanager heap = %v", got)
	}
	if got := value(t, fams, "flinkplane_application_cpu_load_ratio", map[string]string{"process": "taskmanager:tm-1"}); got != 0.5 {
		t.Errorf("tm-1 cpu = %v", got)
	}
	if got := value(t, fams, "flinkplane_task_records_in_per_second", map[string]string{"task": "count-per-key"}); got != 2 {
		t.Errorf("task records in = %v", got)
	}
	if got := value(t, fams, "flinkplane_api_requests_total", map[string]string{"operation": "DescribeApplication", "error_type": "ResourceNotFoundException"}); got != 2 {
		t.Errorf("requests with ResourceNotFoundException = %v", got)
	}
	if got := value(t, fams, "flinkplane_api_requests_total", map[string]string{"operation": "DescribeApplication", "error_type": ""}); got != 1 {
		t.Errorf("successful requests = %v", got)
	}
	op := fams["flinkplane_operation_duration_seconds"]
	if op == nil || len(op.GetMetric()) != 1 || op.GetMetric()[0].GetHistogram().GetSampleCount() != 1 ||
		op.GetMetric()[0].GetHistogram().GetSampleSum() != 42 || labelsOf(op.GetMetric()[0])["outcome"] != "SUCCESSFUL" {
		t.Errorf("operation durations = %v", op)
	}
	if st := fams["flinkplane_store_duration_seconds"]; st == nil || len(st.GetMetric()) == 0 {
		t.Errorf("no store latency")
	}
	if fams["go_goroutines"] == nil || fams["process_cpu_seconds_total"] == nil {
		t.Errorf("no Go runtime or process metrics")
	}
}
