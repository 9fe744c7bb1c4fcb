package metrics

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promauto"
)

// ControlPlane holds the control plane's own metrics: API requests by API,
// operation and error type, lifecycle operation durations by kind and
// outcome, and store transaction latency.
type ControlPlane struct {
	requests         *prometheus.CounterVec
	requestSeconds   *prometheus.HistogramVec
	operationSeconds *prometheus.HistogramVec
	storeSeconds     *prometheus.HistogramVec
}

func newControlPlane(reg prometheus.Registerer) *ControlPlane {
	f := promauto.With(reg)
	return &ControlPlane{
		requests: f.NewCounterVec(prometheus.CounterOpts{
			Name: "flinkplane_api_requests_total",
			Help: "API requests by API (kinesisanalyticsv2, cloudwatch, logs, flinkplane), operation and AWS error type (empty: success).",
		}, []string{"api", "operation", "error_type"}),
		requestSeconds: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flinkplane_api_request_duration_seconds",
			Help:    "API request latency by API and operation.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10},
		}, []string{"api", "operation"}),
		operationSeconds: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flinkplane_operation_duration_seconds",
			Help:    "Duration of lifecycle operations (StartApplication, UpdateApplication, ...) by kind and outcome (SUCCESSFUL, FAILED, CANCELLED).",
			Buckets: []float64{1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800},
		}, []string{"kind", "outcome"}),
		storeSeconds: f.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "flinkplane_store_duration_seconds",
			Help:    "Store transaction latency by kind (view, update).",
			Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .05, .1, .25, 1},
		}, []string{"kind"}),
	}
}

// Classifier names the API and operation of a request ("" api: not
// counted). Operation names must come from a bounded set.
type Classifier func(r *http.Request) (api, operation string)

// InstrumentHandler counts and times the requests of next, with the AWS
// error type its responses carry (X-Amzn-ErrorType, or the code of
// x-amzn-query-error) or "HTTP <status>" for other failures.
func (cp *ControlPlane) InstrumentHandler(next http.Handler, classify Classifier) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		api, op := classify(r)
		if api == "" {
			next.ServeHTTP(w, r)
			return
		}
		start := time.Now()
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK, op: op}
		next.ServeHTTP(sw, r)
		op = sw.op
		cp.requestSeconds.WithLabelValues(api, op).Observe(time.Since(start).Seconds())
		cp.requests.WithLabelValues(api, op, sw.errorType()).Inc()
	})
}

type statusWriter struct {
	http.ResponseWriter
	status int
	wrote  bool
	op     string
}

// SetOperation lets a handler name the operation when the classifier could
// not (a query protocol request names it in its body). Handlers find it
// with a type assertion on their ResponseWriter; known must be a bounded
// set of names.
func (w *statusWriter) SetOperation(name string) { w.op = name }

// OperationSetter is implemented by the ResponseWriter of an instrumented
// handler.
type OperationSetter interface{ SetOperation(name string) }

func (w *statusWriter) WriteHeader(code int) {
	if !w.wrote {
		w.status, w.wrote = code, true
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Flush keeps streaming responses working.
func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) errorType() string {
	if w.status < 400 {
		return ""
	}
	h := w.Header()
	if t := h.Get("X-Amzn-ErrorType"); t != "" {
		t, _, _ = strings.Cut(t, ":")
		return t
	}
	if q := h.Get("X-Amzn-Query-Error"); q != "" {
		code, _, _ := strings.Cut(q, ";")
		return code
	}
	return "HTTP " + http.StatusText(w.status)
}

// InstrumentStore returns s with its transactions timed and the end of
// every lifecycle operation (an operation stored done whose stored row was
// in progress) observed, after its transaction commits.
func (cp *ControlPlane) InstrumentStore(s flinkplane.Store) flinkplane.Store {
	return &instrumentedStore{Store: s, cp: cp}
}

// instrumentedStore embeds the Store so that methods added to the
// interface later pass through. Optional capabilities of the wrapped store
// (the engine's CodeRefCounter and ReserveUpdater) are not methods of the
// wrapper: they are found through Unwrap.
type instrumentedStore struct {
	flinkplane.Store
	cp *ControlPlane
}

// Unwrap returns the wrapped store.
func (s *instrumentedStore) Unwrap() flinkplane.Store { return s.Store }

func (s *instrumentedStore) View(ctx context.Context, fn func(tx flinkplane.Tx) error) error {
	start := time.Now()
	err := s.Store.View(ctx, fn)
	s.cp.storeSeconds.WithLabelValues("view").Observe(time.Since(start).Seconds())
	return err
}

func (s *instrumentedStore) Update(ctx context.Context, fn func(tx flinkplane.Tx) error) error {
	start := time.Now()
	var ended []*flinkplane.Operation
	var mu sync.Mutex
	err := s.Store.Update(ctx, func(tx flinkplane.Tx) error {
		ended = ended[:0]
		return fn(&instrumentedTx{Tx: tx, ended: &ended, mu: &mu})
	})
	s.cp.storeSeconds.WithLabelValues("update").Observe(time.Since(start).Seconds())
	if err == nil {
		for _, op := range ended {
			s.cp.operationSeconds.WithLabelValues(op.Kind, op.Status).Observe(op.EndTime.Sub(op.StartTime).Seconds())
		}
	}
	return err
}

type instrumentedTx struct {
	flinkplane.Tx
	ended *[]*flinkplane.Operation
	mu    *sync.Mutex
}

func (t *instrumentedTx) PutOperation(op *flinkplane.Operation) error {
	if op.Done() && !op.EndTime.IsZero() {
		prev, err := t.Tx.Operation(op.ApplicationName, op.ID)
		if err == nil && !prev.Done() || flinkplane.ErrorCode(err) == flinkplane.ENOTFOUND {
			c := *op
			t.mu.Lock()
			*t.ended = append(*t.ended, &c)
			t.mu.Unlock()
		}
	}
	return t.Tx.PutOperation(op)
}
