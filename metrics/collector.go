// Package metrics turns what the watch sees of running applications into
// CloudWatch-style data points kept in a flinkplane.MetricStore, and exposes
// them, with the control plane's own metrics, to Prometheus.
//
// Collector implements flinkplane.MetricsRecorder: the watch calls it once
// per poll of an application; it reads the job through the driver's
// MetricsReader at most every Interval (sooner when the poll shows a change
// of state or restarts), computes the metrics the managed service publishes
// under AWS/KinesisAnalytics, and stores them with its per-application
// state in one transaction. Definitions: docs/metrics.md.
package metrics

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"sync"
	"time"

	"github.com/flinkplane/flinkplane"
)

// Defaults of a Collector.
const (
	// DefaultInterval: the managed service publishes 4 samples a minute.
	DefaultInterval = 15 * time.Second
	// DefaultRetention is CloudWatch's for 1-minute data.
	DefaultRetention = 15 * 24 * time.Hour
	// DefaultHourlyRetention is CloudWatch's for 5-minute data; hour
	// points older than this are dropped.
	DefaultHourlyRetention = 63 * 24 * time.Hour
)

var _ flinkplane.MetricsRecorder = (*Collector)(nil)

// Collector records application metrics. Set the exported fields, then
// Open; Close stops the retention loop.
type Collector struct {
	// Store gives applications, versions (MetricsLevel) and operations
	// (which operation started a job).
	Store flinkplane.Store
	// Metrics keeps the data points and per-application state.
	Metrics flinkplane.MetricStore
	// Reader reads jobs; nil: only what the watch's JobHealth carries is
	// recorded.
	Reader flinkplane.MetricsReader
	// Now is the clock of the retention loop.
	Now func() time.Time
	// Interval is the least time between two readings of an application
	// whose state and restarts did not change.
	Interval time.Duration
	// Retention keeps minute points; HourlyRetention keeps hour points
	// (older minutes are rolled into hours). HourlyRetention <= Retention
	// drops minutes at Retention without rolling them up.
	Retention, HourlyRetention time.Duration
	// OnExceptions, if set, receives entries of a job's exception history
	// not seen before, oldest first (the CloudWatch Logs shipper).
	OnExceptions func(ctx context.Context, app *flinkplane.Application, exs []flinkplane.JobException)
	Logger       *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu       sync.Mutex
	appLocks map[string]*sync.Mutex
	states   map[string]*flinkplane.MetricState
	latest   map[string]*Snapshot
	levels   map[string]string // app + "\x00" + version -> MetricsLevel
}

// New returns a Collector with default settings.
func New(store flinkplane.Store, ms flinkplane.MetricStore, reader flinkplane.MetricsReader) *Collector {
	return &Collector{Store: store, Metrics: ms, Reader: reader, Now: time.Now, Interval: DefaultInterval,
		Retention: DefaultRetention, HourlyRetention: DefaultHourlyRetention, Logger: slog.Default()}
}

func (c *Collector) init() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.appLocks == nil {
		c.appLocks, c.states, c.latest, c.levels = map[string]*sync.Mutex{}, map[string]*flinkplane.MetricState{}, map[string]*Snapshot{}, map[string]string{}
	}
}

// Open starts the retention loop: expired points are rolled up or dropped
// at start and every ten minutes.
func (c *Collector) Open() error {
	c.init()
	c.ctx, c.cancel = context.WithCancel(context.Background())
	c.wg.Add(1)
	go c.monitorRetention(c.ctx)
	return nil
}

// Close stops the retention loop.
func (c *Collector) Close() error {
	if c.cancel != nil {
		c.cancel()
	}
	c.wg.Wait()
	return nil
}

func (c *Collector) monitorRetention(ctx context.Context) {
	defer c.wg.Done()
	for {
		if err := c.Expire(ctx); err != nil && ctx.Err() == nil {
			c.Logger.Error("cannot expire metrics, retrying", "error", err)
		}
		t := time.NewTimer(10 * time.Minute)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Expire applies the retention once.
func (c *Collector) Expire(ctx context.Context) error {
	now := c.Now()
	minuteBefore := now.Add(-c.Retention)
	hourBefore := now.Add(-c.HourlyRetention)
	if c.HourlyRetention <= c.Retention {
		hourBefore = minuteBefore
	}
	_, err := c.Metrics.ExpireMetrics(ctx, minuteBefore, hourBefore)
	return err
}

func (c *Collector) appLock(name string) *sync.Mutex {
	c.mu.Lock()
	defer c.mu.Unlock()
	l := c.appLocks[name]
	if l == nil {
		l = &sync.Mutex{}
		c.appLocks[name] = l
	}
	return l
}

// state returns the application's state, loaded from the store once.
func (c *Collector) state(ctx context.Context, app *flinkplane.Application) (*flinkplane.MetricState, error) {
	c.mu.Lock()
	st := c.states[app.Name]
	c.mu.Unlock()
	if st == nil {
		var err error
		if st, err = c.Metrics.MetricState(ctx, app.Name); err != nil {
			return nil, err
		}
	}
	if st == nil || st.ApplicationID != app.ID {
		st = &flinkplane.MetricState{ApplicationID: app.ID}
	}
	cp := *st
	return &cp, nil
}

// level returns the MetricsLevel of the version the job runs.
func (c *Collector) level(ctx context.Context, app *flinkplane.Application) string {
	v := app.RunningVersionID
	if v == 0 {
		v = app.VersionID
	}
	key := fmt.Sprintf("%s\x00%d", app.Name, v)
	c.mu.Lock()
	l, ok := c.levels[key]
	c.mu.Unlock()
	if ok {
		return l
	}
	l = flinkplane.MetricsLevelApplication
	if err := c.Store.View(ctx, func(tx flinkplane.Tx) error {
		ver, err := tx.Version(app.Name, v)
		if err != nil {
			return err
		}
		if ver.Config.Monitoring.MetricsLevel != "" {
			l = ver.Config.Monitoring.MetricsLevel
		}
		return nil
	}); err != nil {
		return l // not cached: try again next time
	}
	c.mu.Lock()
	if len(c.levels) > 4096 {
		clear(c.levels)
	}
	c.levels[key] = l
	c.mu.Unlock()
	return l
}

// jobOrigin returns the kind of the operation that submitted jobID, or ""
// when no recent operation of the application did.
func (c *Collector) jobOrigin(ctx context.Context, app, jobID string) string {
	kind := ""
	c.Store.View(ctx, func(tx flinkplane.Tx) error {
		ops, err := tx.Operations(app, flinkplane.OperationFilter{Limit: 50})
		if err != nil {
			return err
		}
		for _, op := range ops {
			if op.JobID == jobID {
				kind = op.Kind
				return nil
			}
		}
		return nil
	})
	return kind
}

// startsRun reports whether an operation kind starts a new run: the
// counters (numRestarts, checkpoint counts) start again from zero, as a
// new job's do on the managed service.
func startsRun(kind string) bool {
	switch kind {
	case flinkplane.OpStartApplication, flinkplane.OpUpdateApplication, flinkplane.OpRollbackApplication:
		return true
	}
	return false
}

// RecordMetrics records one poll of the watch (see
// flinkplane.MetricsRecorder).
func (c *Collector) RecordMetrics(ctx context.Context, app *flinkplane.Application, at time.Time, health *flinkplane.JobHealth) error {
	if app == nil || app.Cluster == nil || app.JobID == "" {
		return nil
	}
	c.init()
	l := c.appLock(app.Name)
	l.Lock()
	defer l.Unlock()
	st, err := c.state(ctx, app)
	if err != nil {
		return fmt.Errorf("record metrics of %s: %w", app.Name, err)
	}
	r := &reading{app: app, at: at.UTC(), runtime: app.Cluster.Runtime}
	if health != nil {
		changed := app.JobID != st.JobID || health.State != st.LastState || health.Restarts != st.LastFlinkRestarts
		if !changed && !st.LastRead.IsZero() && at.Sub(st.LastRead) < c.Interval && at.After(st.LastRead) {
			return nil
		}
		m, err := c.read(ctx, app, health)
		if flinkplane.ErrorCode(err) == flinkplane.ENOTFOUND {
			r.outage = true
		} else if err != nil {
			return fmt.Errorf("record metrics of %s: %w", app.Name, err)
		} else {
			r.m = &m
			st.LastState, st.LastFlinkRestarts = health.State, health.Restarts
		}
		st.LastRead = at
	} else {
		r.outage = true
	}
	var newEx []flinkplane.JobException
	if r.m != nil {
		c.advance(ctx, st, r)
		for i := len(r.m.Exceptions) - 1; i >= 0; i-- {
			if e := r.m.Exceptions[i]; e.Time.After(st.LastException) {
				newEx = append(newEx, e)
			}
		}
		if n := len(newEx); n > 0 {
			st.LastException = newEx[n-1].Time
		}
	} else {
		c.outage(st, r)
	}
	data := r.datums(st, c.level(ctx, app))
	if err := c.Metrics.PutMetrics(ctx, app.Name, st, data); err != nil {
		return fmt.Errorf("record metrics of %s: %w", app.Name, err)
	}
	c.mu.Lock()
	c.states[app.Name] = st
	c.latest[app.Name] = r.snapshot(st, data)
	c.mu.Unlock()
	if len(newEx) > 0 && c.OnExceptions != nil {
		c.OnExceptions(ctx, app, newEx)
	}
	return nil
}

// read reads the job through the Reader, or builds a reading from the
// watch's health when there is none.
func (c *Collector) read(ctx context.Context, app *flinkplane.Application, health *flinkplane.JobHealth) (flinkplane.JobMetrics, error) {
	if c.Reader != nil {
		return c.Reader.ReadMetrics(ctx, *app.Cluster, app.JobID, c.level(ctx, app))
	}
	return flinkplane.JobMetrics{JobID: app.JobID, State: health.State, Restarts: health.Restarts, HasRestarts: true,
		Checkpoints: flinkplane.CheckpointMetrics{Completed: health.CompletedCheckpoints, Failed: health.FailedCheckpoints}}, nil
}

// reading is one poll being turned into data points.
type reading struct {
	app     *flinkplane.Application
	at      time.Time
	runtime flinkplane.RuntimeID
	m       *flinkplane.JobMetrics // nil during an outage
	outage  bool

	numRestarts        int64
	uptime, downtime   time.Duration
	stateTimes         map[string]time.Duration // 2.x: runningTime, restartingTime, ...
	completed, failed  int64
	restartsThisRecord int64
}

// advance moves the state to a new reading: a new job either starts a new
// run or carries the counters of the previous job (a recovery counts as
// one restart), then the job's own counters are added.
func (c *Collector) advance(ctx context.Context, st *flinkplane.MetricState, r *reading) {
	m := r.m
	if m.JobID != st.JobID {
		kind := ""
		if st.JobID != "" {
			kind = c.jobOrigin(ctx, r.app.Name, m.JobID)
		}
		if st.JobID == "" || startsRun(kind) {
			lifetime, lastEx := st.LifetimeRestarts, st.LastException
			*st = flinkplane.MetricState{ApplicationID: st.ApplicationID, RunStart: r.at, LifetimeRestarts: lifetime, LastException: lastEx,
				LastRead: st.LastRead, LastState: st.LastState, LastFlinkRestarts: st.LastFlinkRestarts}
		} else {
			st.BaseRestarts += st.JobRestarts
			st.BaseCompleted += st.JobCompleted
			st.BaseFailed += st.JobFailed
			if kind != flinkplane.OpMaintenance && kind != "" {
				// The service restarted the job after a failure: one
				// restart, as Flink counts one for a restart of its own.
				st.BaseRestarts++
				st.LifetimeRestarts++
				r.restartsThisRecord++
			}
		}
		st.JobID = m.JobID
		st.JobRestarts, st.JobCompleted, st.JobFailed = 0, 0, 0
	}
	if m.HasRestarts && m.Restarts > st.JobRestarts {
		st.LifetimeRestarts += m.Restarts - st.JobRestarts
		r.restartsThisRecord += m.Restarts - st.JobRestarts
		st.JobRestarts = m.Restarts
	}
	st.JobCompleted = max(st.JobCompleted, m.Checkpoints.Completed)
	st.JobFailed = max(st.JobFailed, m.Checkpoints.Failed)
	r.numRestarts = st.BaseRestarts + st.JobRestarts
	r.completed, r.failed = st.BaseCompleted+st.JobCompleted, st.BaseFailed+st.JobFailed

	since := func(state string) time.Duration {
		if t, ok := m.StatusTimes[state]; ok && !t.IsZero() && r.at.After(t) {
			return r.at.Sub(t)
		}
		return 0
	}
	r.stateTimes = map[string]time.Duration{"runningTime": 0, "restartingTime": 0, "failingTime": 0, "cancellingTime": 0}
	switch m.State {
	case "RUNNING":
		st.LastRunning, st.OutageSince = r.at, time.Time{}
		r.uptime = since("RUNNING")
		r.stateTimes["runningTime"] = r.uptime
	case "FINISHED":
		r.uptime, r.downtime = -time.Millisecond, -time.Millisecond // Flink's -1 for a job that completed
	default:
		// Down: failing, restarting, cancelled or failed, or a recovered
		// job not running yet. The outage started when the job left
		// RUNNING (Flink's failing time) or when the watch last saw it
		// running.
		if st.OutageSince.IsZero() {
			failing, ok := m.StatusTimes["FAILING"]
			running := m.StatusTimes["RUNNING"]
			switch {
			case ok && failing.After(running):
				st.OutageSince = failing
			case m.State == "FAILED" || m.State == "CANCELED" || m.State == "CANCELLING":
				st.OutageSince = st.LastRunning
				if st.OutageSince.IsZero() {
					st.OutageSince = r.at
				}
			}
		}
		if !st.OutageSince.IsZero() && r.at.After(st.OutageSince) {
			r.downtime = r.at.Sub(st.OutageSince)
		}
		switch m.State {
		case "RESTARTING":
			r.stateTimes["restartingTime"] = since("RESTARTING")
		case "FAILING":
			r.stateTimes["failingTime"] = since("FAILING")
		case "CANCELLING":
			r.stateTimes["cancellingTime"] = since("CANCELLING")
		}
	}
}

// outage records a poll that could not read the job.
func (c *Collector) outage(st *flinkplane.MetricState, r *reading) {
	if st.OutageSince.IsZero() {
		st.OutageSince = st.LastRunning
		if st.OutageSince.IsZero() {
			st.OutageSince = r.at
		}
	}
	r.numRestarts = st.BaseRestarts + st.JobRestarts
	r.completed, r.failed = st.BaseCompleted+st.JobCompleted, st.BaseFailed+st.JobFailed
	if r.at.After(st.OutageSince) {
		r.downtime = r.at.Sub(st.OutageSince)
	}
	r.stateTimes = map[string]time.Duration{"runningTime": 0, "restartingTime": 0, "failingTime": 0, "cancellingTime": 0}
}

func millis(d time.Duration) float64 {
	if d < 0 {
		return -1
	}
	return float64(d.Milliseconds())
}

// datums turns a reading into data points (names, units and levels as the
// managed service publishes them; see docs/metrics.md).
func (r *reading) datums(st *flinkplane.MetricState, level string) []flinkplane.MetricDatum {
	app := []flinkplane.Dimension{{Name: "Application", Value: r.app.Name}}
	var out []flinkplane.MetricDatum
	add := func(name, unit string, v float64, dims []flinkplane.Dimension) {
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return
		}
		out = append(out, flinkplane.MetricDatum{Name: name, Dimensions: dims, Unit: unit, Value: v, Time: r.at})
	}
	major, _, _ := r.runtime.Version()
	add("numRestarts", flinkplane.UnitCount, float64(r.numRestarts), app)
	if major < 2 {
		add("fullRestarts", flinkplane.UnitCount, float64(r.numRestarts), app)
	}
	add("uptime", flinkplane.UnitMilliseconds, millis(r.uptime), app)
	add("downtime", flinkplane.UnitMilliseconds, millis(r.downtime), app)
	if major >= 2 {
		for _, n := range []string{"runningTime", "restartingTime", "failingTime", "cancellingTime"} {
			add(n, flinkplane.UnitMilliseconds, millis(r.stateTimes[n]), app)
		}
	}
	add("numberOfCompletedCheckpoints", flinkplane.UnitCount, float64(r.completed), app)
	add("numberOfFailedCheckpoints", flinkplane.UnitCount, float64(r.failed), app)
	m := r.m
	if m == nil {
		return out
	}
	if m.Checkpoints.HasLast {
		add("lastCheckpointDuration", flinkplane.UnitMilliseconds, float64(m.Checkpoints.LastDuration.Milliseconds()), app)
		add("lastCheckpointSize", flinkplane.UnitBytes, float64(m.Checkpoints.LastSize), app)
	}
	if m.HasRecords {
		add("numRecordsInPerSecond", flinkplane.UnitCountPerSecond, m.RecordsInPerSecond, app)
		add("numRecordsOutPerSecond", flinkplane.UnitCountPerSecond, m.RecordsOutPerSecond, app)
	}
	if len(m.TaskManagers) > 0 || m.JobManager != nil {
		// One KPU per TaskManager plus the orchestration KPU.
		add("KPUs", flinkplane.UnitCount, float64(len(m.TaskManagers)+1), app)
	}
	for _, tm := range m.TaskManagers {
		if tm.HasCPU {
			add("cpuUtilization", flinkplane.UnitPercent, tm.CPULoad*100, app)
		}
		if tm.HasHeap {
			add("taskmanagerHeapMemoryUsed", flinkplane.UnitBytes, float64(tm.HeapUsed), app)
			if tm.HeapMax > 0 {
				add("heapMemoryUtilization", flinkplane.UnitPercent, float64(tm.HeapUsed)/float64(tm.HeapMax)*100, app)
			}
		}
	}
	if jm := m.JobManager; jm != nil {
		if jm.HasCPU {
			add("jobmanagerCPUUtilization", flinkplane.UnitPercent, jm.CPULoad*100, app)
		}
		if jm.HasHeap {
			add("jobmanagerHeapMemoryUsed", flinkplane.UnitBytes, float64(jm.HeapUsed), app)
			if jm.HeapMax > 0 {
				add("jobmanagerHeapMemoryUtilization", flinkplane.UnitPercent, float64(jm.HeapUsed)/float64(jm.HeapMax)*100, app)
			}
		}
	}
	if level == flinkplane.MetricsLevelApplication || level == "" {
		return out
	}
	for _, t := range m.Tasks {
		dims := []flinkplane.Dimension{{Name: "Application", Value: r.app.Name}, {Name: "Task", Value: t.Name}}
		add("numRecordsInPerSecond", flinkplane.UnitCountPerSecond, t.RecordsInPerSecond, dims)
		add("numRecordsOutPerSecond", flinkplane.UnitCountPerSecond, t.RecordsOutPerSecond, dims)
		if level == flinkplane.MetricsLevelTask {
			continue
		}
		for _, o := range t.Operators {
			od := []flinkplane.Dimension{{Name: "Application", Value: r.app.Name}, {Name: "Operator", Value: o.Name}, {Name: "Task", Value: t.Name}}
			add("numRecordsInPerSecond", flinkplane.UnitCountPerSecond, o.RecordsInPerSecond, od)
			add("numRecordsOutPerSecond", flinkplane.UnitCountPerSecond, o.RecordsOutPerSecond, od)
		}
	}
	return out
}

// Latest returns the newest snapshot of every application (for the
// Prometheus exposition), by application name.
func (c *Collector) Latest() map[string]*Snapshot {
	c.init()
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make(map[string]*Snapshot, len(c.latest))
	for k, v := range c.latest {
		out[k] = v
	}
	return out
}

// Forget drops an application's in-memory snapshot (after it was deleted
// or stopped) so that Prometheus no longer shows it.
func (c *Collector) Forget(app string) {
	c.init()
	c.mu.Lock()
	delete(c.latest, app)
	delete(c.states, app)
	c.mu.Unlock()
}

// Snapshot is the newest reading of an application, as Prometheus shows it.
type Snapshot struct {
	Application string
	Runtime     flinkplane.RuntimeID
	Time        time.Time
	// Running reports the job RUNNING at the reading.
	Running bool
	// Values are the Application-level data points by metric name (for a
	// metric with one sample per TaskManager, the last one; see
	// Processes).
	Values           map[string]float64
	Processes        []flinkplane.ProcessMetrics
	Tasks            []flinkplane.TaskMetrics
	LifetimeRestarts int64
}

func (r *reading) snapshot(st *flinkplane.MetricState, data []flinkplane.MetricDatum) *Snapshot {
	s := &Snapshot{Application: r.app.Name, Runtime: r.runtime, Time: r.at, Values: map[string]float64{},
		LifetimeRestarts: st.LifetimeRestarts}
	for _, d := range data {
		if len(d.Dimensions) == 1 {
			s.Values[d.Name] = d.Value
		}
	}
	if r.m != nil {
		s.Running = r.m.State == "RUNNING"
		if r.m.JobManager != nil {
			s.Processes = append(s.Processes, *r.m.JobManager)
		}
		s.Processes = append(s.Processes, r.m.TaskManagers...)
		s.Tasks = r.m.Tasks
	}
	return s
}
