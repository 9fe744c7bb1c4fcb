package flinkplane

import (
	"context"
	"sort"
	"strings"
	"time"
)

// Metrics: one writer, the watch over running applications, hands each
// poll to a MetricsRecorder; the recorder reads what the poll does not carry
// through the driver's MetricsReader, turns both into data points and keeps
// them in a MetricStore. The CloudWatch-compatible API, the Prometheus
// exposition and the console read the store. See docs/metrics.md.

// MetricsNamespace is the CloudWatch namespace of application metrics.
const MetricsNamespace = "AWS/KinesisAnalytics"

// CloudWatch units (StandardUnit) of the metrics flinkplane records.
const (
	UnitNone           = "None"
	UnitCount          = "Count"
	UnitMilliseconds   = "Milliseconds"
	UnitBytes          = "Bytes"
	UnitPercent        = "Percent"
	UnitCountPerSecond = "Count/Second"
)

// Metric levels (the API's MetricsLevel): which dimensions are recorded
// beyond Application.
const (
	MetricsLevelApplication = "APPLICATION"
	MetricsLevelTask        = "TASK"
	MetricsLevelOperator    = "OPERATOR"
	MetricsLevelParallelism = "PARALLELISM"
)

// JobMetrics is one reading of a job's metrics by a MetricsReader: what the
// watch's JobHealth does not carry, plus the counters and times the metrics
// are computed from. Values a runtime does not report yet are absent
// (zero, with the matching Has flag false), never guessed.
type JobMetrics struct {
	// At is when the reading was taken (the driver's clock).
	At    time.Time
	JobID string
	// State is Flink's job status (RUNNING, RESTARTING, ...).
	State string
	// StatusTimes holds, per job status, the last time the job entered it
	// (Flink's status timestamps), e.g. StatusTimes["RUNNING"].
	StatusTimes map[string]time.Time

	// Restarts is Flink's numRestarts of this job (full and fine-grained
	// restarts since the job was submitted); HasRestarts is false when
	// Flink did not report it.
	Restarts    int64
	HasRestarts bool

	Checkpoints CheckpointMetrics

	// RecordsInPerSecond and RecordsOutPerSecond are summed over every task
	// (job vertex) of the job; Tasks has them per task.
	RecordsInPerSecond  float64
	RecordsOutPerSecond float64
	HasRecords          bool
	Tasks               []TaskMetrics

	// JobManager and TaskManagers are the cluster's processes.
	JobManager   *ProcessMetrics
	TaskManagers []ProcessMetrics

	// Exceptions is the job's exception history, newest first (a few).
	Exceptions []JobException
}

// CheckpointMetrics are a job's checkpoint statistics.
type CheckpointMetrics struct {
	Completed, Failed int64
	// HasLast reports a completed checkpoint: LastDuration (end to end),
	// LastSize (the checkpointed size, incremental where the backend is),
	// LastTime (completion) and LastPath (its external path).
	HasLast      bool
	LastDuration time.Duration
	LastSize     int64
	LastTime     time.Time
	LastPath     string
}

// TaskMetrics are the metrics of one task (Flink job vertex), summed over
// its subtasks.
type TaskMetrics struct {
	Name                string
	Parallelism         int
	RecordsInPerSecond  float64
	RecordsOutPerSecond float64
	Operators           []OperatorMetrics
}

// OperatorMetrics are the metrics of one operator of a task, summed over
// its subtasks.
type OperatorMetrics struct {
	Name                string
	RecordsInPerSecond  float64
	RecordsOutPerSecond float64
}

// ProcessMetrics are the JVM metrics of a JobManager or TaskManager.
type ProcessMetrics struct {
	// ID is "jobmanager" or the TaskManager's id.
	ID string
	// HeapUsed and HeapMax are bytes; HeapMax is 0 when unknown.
	HeapUsed, HeapMax int64
	HasHeap           bool
	// CPULoad is the JVM's recent CPU load, 0 to 1.
	CPULoad float64
	HasCPU  bool
}

// MetricsReader is implemented by a ClusterDriver that can read a job's
// metrics (records in/out, process heap and CPU, checkpoint statistics,
// status times, exception history). A reading is fresh: values cached
// inside the cluster are read again until they are current. level is the
// application's MetricsLevel: operator metrics are read only for OPERATOR
// and PARALLELISM. Returns ENOTFOUND when the cluster does not know the
// job.
type MetricsReader interface {
	ReadMetrics(ctx context.Context, h ClusterHandle, jobID, level string) (JobMetrics, error)
}

// MetricsRecorder is called by the watch once per poll of an application
// that has a job (app.Cluster and app.JobID set), with the poll's health,
// or nil when the job could not be read (cluster unreachable, job gone):
// that is an outage and counts as downtime. The recorder reads more through
// the driver's MetricsReader when it needs to and returns quickly
// otherwise; its errors are logged by the caller and never stop the watch.
// It writes to the store: call it outside any Store transaction.
type MetricsRecorder interface {
	RecordMetrics(ctx context.Context, app *Application, at time.Time, health *JobHealth) error
}

// Dimension is one CloudWatch dimension.
type Dimension struct {
	Name  string
	Value string
}

// SortDimensions sorts dimensions by name (the canonical order of a
// metric's identity).
func SortDimensions(d []Dimension) {
	sort.Slice(d, func(i, j int) bool { return d[i].Name < d[j].Name })
}

// DimensionKey returns the canonical text form of a dimension set (sorted
// by name, "Name=Value" joined by NUL), the identity of a metric with its
// name.
func DimensionKey(d []Dimension) string {
	s := append([]Dimension(nil), d...)
	SortDimensions(s)
	var b strings.Builder
	for i, x := range s {
		if i > 0 {
			b.WriteByte(0)
		}
		b.WriteString(x.Name)
		b.WriteByte('=')
		b.WriteString(x.Value)
	}
	return b.String()
}

// ParseDimensionKey is the inverse of DimensionKey.
func ParseDimensionKey(k string) []Dimension {
	if k == "" {
		return nil
	}
	var out []Dimension
	for _, p := range strings.Split(k, "\x00") {
		n, v, _ := strings.Cut(p, "=")
		out = append(out, Dimension{Name: n, Value: v})
	}
	return out
}

// MetricDatum is one observation of a metric.
type MetricDatum struct {
	Name       string
	Dimensions []Dimension
	Unit       string
	Value      float64
	Time       time.Time
}

// Metric identifies a metric: its name and full dimension set.
type Metric struct {
	Name       string
	Dimensions []Dimension
	Unit       string
	// Last is the time of its newest data point.
	Last time.Time
}

// MetricStats is a statistic set over one period: the number of
// observations, their sum, minimum and maximum (Average is Sum/SampleCount).
type MetricStats struct {
	Time        time.Time // start of the period
	SampleCount float64
	Sum         float64
	Min         float64
	Max         float64
	Unit        string
}

// Add merges o into s.
func (s *MetricStats) Add(o MetricStats) {
	if s.SampleCount == 0 {
		t, u := s.Time, s.Unit
		*s = o
		if !t.IsZero() {
			s.Time = t
		}
		if u != "" {
			s.Unit = u
		}
		return
	}
	if o.SampleCount == 0 {
		return
	}
	s.SampleCount += o.SampleCount
	s.Sum += o.Sum
	s.Min = min(s.Min, o.Min)
	s.Max = max(s.Max, o.Max)
}

// MetricQuery selects the data points of one metric (exact name and
// dimension set) in [Start, End), aggregated per Period from Start.
type MetricQuery struct {
	Name       string
	Dimensions []Dimension
	Start, End time.Time
	Period     time.Duration
}

// DimensionFilter matches a dimension by name, and by value when Value is
// set.
type DimensionFilter struct {
	Name     string
	Value    string
	HasValue bool
}

// MetricFilter selects metrics for ListMetrics: by name (empty: any), by
// dimensions (each must be present; a metric may have more), by activity
// (ActiveSince, zero: any), from After (the DimensionKey-ordered position
// of the previous page, empty: the first page).
type MetricFilter struct {
	Name        string
	Dimensions  []DimensionFilter
	ActiveSince time.Time
	After       string
	Limit       int
}

// MetricCursor returns the ListMetrics paging position of a metric.
func MetricCursor(m Metric) string { return m.Name + "\x01" + DimensionKey(m.Dimensions) }

// MetricState is what a MetricsRecorder keeps between polls of one
// application, durably with its data points so that numRestarts and the
// other run counters keep their meaning across restarts of the control
// plane. See docs/metrics.md for the exact definitions.
type MetricState struct {
	// ApplicationID tells a re-created application of the same name apart.
	ApplicationID string `json:"applicationId"`
	// JobID is the job the counters below belong to.
	JobID string `json:"jobId,omitempty"`
	// RunStart is when the current run began (the job started by the last
	// StartApplication, UpdateApplication or RollbackApplication).
	RunStart time.Time `json:"runStart,omitzero"`
	// Base counters carried from earlier jobs of this run (recoveries and
	// restarts of the control plane): added to the current job's own.
	BaseRestarts  int64 `json:"baseRestarts,omitempty"`
	BaseCompleted int64 `json:"baseCompleted,omitempty"`
	BaseFailed    int64 `json:"baseFailed,omitempty"`
	// Last values of the current job.
	JobRestarts  int64 `json:"jobRestarts,omitempty"`
	JobCompleted int64 `json:"jobCompleted,omitempty"`
	JobFailed    int64 `json:"jobFailed,omitempty"`
	// LifetimeRestarts counts every restart since the application was
	// created (Prometheus counter flinkplane_application_restarts_total).
	LifetimeRestarts int64 `json:"lifetimeRestarts,omitempty"`
	// LastRunning is the last time the job was seen RUNNING; OutageSince
	// the start of the current outage (zero: none).
	LastRunning time.Time `json:"lastRunning,omitzero"`
	OutageSince time.Time `json:"outageSince,omitzero"`
	// LastRead is the time of the last full reading; LastState and
	// LastFlinkRestarts are what the watch's health said then.
	LastRead          time.Time `json:"lastRead,omitzero"`
	LastState         string    `json:"lastState,omitempty"`
	LastFlinkRestarts int64     `json:"lastFlinkRestarts,omitempty"`
	// LastException is the time of the newest exception delivered to logs.
	LastException time.Time `json:"lastException,omitzero"`
}

// MetricStore keeps metric data points: observations are merged into
// statistic sets of one minute (CloudWatch's standard resolution), and
// older minutes are rolled into hours or dropped by ExpireMetrics.
type MetricStore interface {
	// PutMetrics adds data points and replaces an application's state, in
	// one transaction (state may be nil).
	PutMetrics(ctx context.Context, app string, state *MetricState, data []MetricDatum) error
	// MetricState returns an application's state; nil, nil if none.
	MetricState(ctx context.Context, app string) (*MetricState, error)
	// MetricStatistics returns the statistic sets of q's metric per period,
	// in ascending time order; periods without data are absent.
	MetricStatistics(ctx context.Context, q MetricQuery) ([]MetricStats, error)
	// ListMetrics returns metrics matching f, ordered by MetricCursor.
	ListMetrics(ctx context.Context, f MetricFilter) ([]Metric, error)
	// ExpireMetrics rolls minute points older than minuteBefore into hour
	// points and deletes hour points older than hourBefore (and minute
	// points too when hourBefore is not before minuteBefore). It returns
	// the number of minute points removed.
	ExpireMetrics(ctx context.Context, minuteBefore, hourBefore time.Time) (int64, error)
}
