package metrics_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/metrics"
	"github.com/flinkplane/flinkplane/mock"
	"github.com/flinkplane/flinkplane/sqlite"
)

var ctx = context.Background()

var t0 = time.Date(2026, 5, 6, 7, 0, 0, 0, time.UTC)

// env is a collector over a real SQLite store with one application and a
// fake job whose readings the test sets.
type env struct {
	t      testing.TB
	db     *sqlite.DB
	c      *metrics.Collector
	reader *mock.MetricsReader

	mu   sync.Mutex
	jobs map[string]flinkplane.JobMetrics
}

func newEnv(t testing.TB, dir string) *env {
	t.Helper()
	db := sqlite.New(dir)
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	v := &env{t: t, db: db, jobs: map[string]flinkplane.JobMetrics{}}
	v.reader = &mock.MetricsReader{ReadMetricsFunc: func(h flinkplane.ClusterHandle, jobID, level string) (flinkplane.JobMetrics, error) {
		v.mu.Lock()
		defer v.mu.Unlock()
		m, ok := v.jobs[jobID]
		if !ok {
			return m, flinkplane.Errorf(flinkplane.ENOTFOUND, "no job %s", jobID)
		}
		return m, nil
	}}
	v.c = metrics.New(db, db, v.reader)
	v.c.Interval = 15 * time.Second
	return v
}

func (v *env) setJob(m flinkplane.JobMetrics) {
	v.mu.Lock()
	v.jobs[m.JobID] = m
	v.mu.Unlock()
}

// createApp creates application name (id) with a MetricsLevel.
func (v *env) createApp(name, id string, level string, rt flinkplane.RuntimeID) {
	v.t.Helper()
	if err := v.db.Update(ctx, func(tx flinkplane.Tx) error {
		if err := tx.CreateApplication(&flinkplane.Application{Name: name, ID: id, Status: flinkplane.StatusRunning, VersionID: 1,
			RuntimeEnvironment: rt, CreateTime: t0, UpdateTime: t0}); err != nil {
			return err
		}
		cfg := flinkplane.DefaultConfig()
		cfg.RuntimeEnvironment = rt
		cfg.Monitoring.MetricsLevel = level
		return tx.CreateVersion(&flinkplane.ApplicationVersion{ApplicationName: name, VersionID: 1, CreateTime: t0, Config: cfg})
	}); err != nil {
		v.t.Fatal(err)
	}
}

// startJob records an operation of kind that ran jobID and points the
// application at it.
func (v *env) startJob(name, kind, jobID string, at time.Time) {
	v.t.Helper()
	if err := v.db.Update(ctx, func(tx flinkplane.Tx) error {
		app, err := tx.Application(name)
		if err != nil {
			return err
		}
		app.Cluster = &flinkplane.ClusterHandle{ID: "c-" + jobID, Runtime: app.RuntimeEnvironment}
		app.JobID = jobID
		if err := tx.PutApplication(app); err != nil {
			return err
		}
		return tx.PutOperation(&flinkplane.Operation{ID: "op-" + jobID, ApplicationName: name, Kind: kind,
			Status: flinkplane.OperationSuccessful, StartTime: at, EndTime: at, JobID: jobID})
	}); err != nil {
		v.t.Fatal(err)
	}
}

func (v *env) app(name string) *flinkplane.Application {
	v.t.Helper()
	var a *flinkplane.Application
	if err := v.db.View(ctx, func(tx flinkplane.Tx) (err error) {
		a, err = tx.Application(name)
		return err
	}); err != nil {
		v.t.Fatal(err)
	}
	return a
}

// poll is one poll of the watch at time at.
func (v *env) poll(name string, at time.Time, health *flinkplane.JobHealth) {
	v.t.Helper()
	if err := v.c.RecordMetrics(ctx, v.app(name), at, health); err != nil {
		v.t.Fatal(err)
	}
}

// stat returns one statistic of an Application-level metric over the
// minute of at.
func (v *env) stat(name, metric string, at time.Time) flinkplane.MetricStats {
	v.t.Helper()
	start := at.Truncate(time.Minute)
	s, err := v.db.MetricStatistics(ctx, flinkplane.MetricQuery{Name: metric, Dimensions: []flinkplane.Dimension{{Name: "Application", Value: name}},
		Start: start, End: start.Add(time.Minute), Period: time.Minute})
	if err != nil {
		v.t.Fatal(err)
	}
	if len(s) == 0 {
		return flinkplane.MetricStats{}
	}
	return s[0]
}

func running(jobID string, since time.Time, restarts, completed, failed int64) flinkplane.JobMetrics {
	return flinkplane.JobMetrics{JobID: jobID, State: "RUNNING", StatusTimes: map[string]time.Time{"RUNNING": since},
		Restarts: restarts, HasRestarts: true,
		Checkpoints: flinkplane.CheckpointMetrics{Completed: completed, Failed: failed, HasLast: completed > 0,
			LastDuration: 420 * time.Millisecond, LastSize: 7606},
		RecordsInPerSecond: 2, RecordsOutPerSecond: 3, HasRecords: true,
		Tasks: []flinkplane.TaskMetrics{{Name: "Source: numbers", RecordsOutPerSecond: 2}, {Name: "count-per-key", RecordsInPerSecond: 2, RecordsOutPerSecond: 1,
			Operators: []flinkplane.OperatorMetrics{{Name: "count-per-key", RecordsInPerSecond: 2, RecordsOutPerSecond: 1}}}},
		JobManager:   &flinkplane.ProcessMetrics{ID: "jobmanager", HeapUsed: 50 << 20, HeapMax: 200 << 20, HasHeap: true, CPULoad: 0.05, HasCPU: true},
		TaskManagers: []flinkplane.ProcessMetrics{{ID: "tm-1", HeapUsed: 25 << 20, HeapMax: 100 << 20, HasHeap: true, CPULoad: 0.5, HasCPU: true}, {ID: "tm-2", HeapUsed: 75 << 20, HeapMax: 100 << 20, HasHeap: true, CPULoad: 0.1, HasCPU: true}},
	}
}

func health(state string, restarts int64) *flinkplane.JobHealth {
	return &flinkplane.JobHealth{State: state, AllTasksRunning: state == "RUNNING", Restarts: restarts}
}

func wantMax(t *testing.T, s flinkplane.MetricStats, want float64) {
	t.Helper()
	if s.SampleCount == 0 || s.Max != want {
		t.Fatalf("got %+v, want Maximum %v", s, want)
	}
}

// A run of an application, as the watch would see it: a steady job, Flink
// restarts, a recovery onto a new job, a restart of the control plane, an
// outage and an upgrade. numRestarts counts within the run and starts
// again at the upgrade; the lifetime counter never goes down.
func TestCollector_Run(t *testing.T) {
	dir := t.TempDir()
	v := newEnv(t, dir)
	v.createApp("app", "id-app", flinkplane.MetricsLevelApplication, flinkplane.RuntimeFlink120)
	v.startJob("app", flinkplane.OpStartApplication, "j1", t0)
	v.setJob(running("j1", t0, 0, 0, 0))

	at := t0.Add(10 * time.Second)
	v.poll("app", at, health("RUNNING", 0))
	wantMax(t, v.stat("app", "numRestarts", at), 0)
	wantMax(t, v.stat("app", "uptime", at), 10000)
	wantMax(t, v.stat("app", "downtime", at), 0)
	wantMax(t, v.stat("app", "KPUs", at), 3)
	if s := v.stat("app", "cpuUtilization", at); s.SampleCount != 2 || s.Max != 50 || s.Min != 10 {
		t.Fatalf("cpuUtilization = %+v, want one sample per TaskManager", s)
	}
	if s := v.stat("app", "heapMemoryUtilization", at); s.SampleCount != 2 || s.Sum != 100 {
		t.Fatalf("heapMemoryUtilization = %+v", s)
	}
	if s := v.stat("app", "lastCheckpointDuration", at); s.SampleCount != 0 {
		t.Fatalf("lastCheckpointDuration before any checkpoint = %+v", s)
	}
	if s := v.stat("app", "runningTime", at); s.SampleCount != 0 {
		t.Fatalf("runningTime on 1.20 = %+v (a 2.x metric)", s)
	}

	// Within the interval and without a change: no reading.
	n := v.reader.ReadCount()
	v.poll("app", at.Add(5*time.Second), health("RUNNING", 0))
	if v.reader.ReadCount() != n {
		t.Fatal("read again within the interval without a change")
	}
	// A restart seen by the watch reads at once.
	v.setJob(running("j1", t0.Add(20*time.Second), 2, 3, 1))
	at = t0.Add(25 * time.Second)
	v.poll("app", at, health("RUNNING", 2))
	if v.reader.ReadCount() != n+1 {
		t.Fatal("no reading after the restarts changed")
	}
	wantMax(t, v.stat("app", "numRestarts", at), 2)
	wantMax(t, v.stat("app", "fullRestarts", at), 2)
	wantMax(t, v.stat("app", "numberOfFailedCheckpoints", at), 1)
	wantMax(t, v.stat("app", "lastCheckpointDuration", at), 420)
	wantMax(t, v.stat("app", "lastCheckpointSize", at), 7606)

	// The cluster dies: two polls without a job are an outage from the
	// last time the job was seen running.
	at = t0.Add(40 * time.Second)
	v.poll("app", at, nil)
	wantMax(t, v.stat("app", "downtime", at), 15000)
	wantMax(t, v.stat("app", "numRestarts", at), 2)
	if s := v.stat("app", "uptime", at); s.Min != 0 {
		t.Fatalf("uptime during the outage = %+v", s)
	}

	// The service recovers the job onto a new cluster (an operation that
	// is neither a start, an update nor a rollback): one more restart,
	// counters carried.
	v.startJob("app", "Recovery", "j2", t0.Add(50*time.Second))
	created := flinkplane.JobMetrics{JobID: "j2", State: "INITIALIZING", HasRestarts: true}
	v.setJob(created)
	at = t0.Add(55 * time.Second)
	v.poll("app", at, health("INITIALIZING", 0))
	wantMax(t, v.stat("app", "numRestarts", at), 3)
	wantMax(t, v.stat("app", "downtime", at), 30000)
	v.setJob(running("j2", t0.Add(58*time.Second), 1, 2, 0))
	at = t0.Add(70 * time.Second)
	v.poll("app", at, health("RUNNING", 1))
	wantMax(t, v.stat("app", "numRestarts", at), 4)
	wantMax(t, v.stat("app", "numberOfCompletedCheckpoints", at), 5)
	wantMax(t, v.stat("app", "numberOfFailedCheckpoints", at), 1)
	wantMax(t, v.stat("app", "uptime", at), 12000)
	wantMax(t, v.stat("app", "downtime", at), 0)

	// The control plane restarts: a new collector on the same store goes
	// on from the stored state; a maintenance restart carries without
	// counting a restart.
	v.db.Close()
	v2 := newEnv(t, dir)
	v2.startJob("app", flinkplane.OpMaintenance, "j3", t0.Add(80*time.Second))
	v2.setJob(running("j3", t0.Add(85*time.Second), 0, 1, 0))
	at = t0.Add(90 * time.Second)
	v2.poll("app", at, health("RUNNING", 0))
	wantMax(t, v2.stat("app", "numRestarts", at), 4)
	wantMax(t, v2.stat("app", "numberOfCompletedCheckpoints", at), 6)

	// An upgrade starts a new run: numRestarts is zero again, as after an
	// upgrade on the managed service.
	v2.startJob("app", flinkplane.OpUpdateApplication, "j4", t0.Add(100*time.Second))
	v2.setJob(running("j4", t0.Add(110*time.Second), 0, 0, 0))
	at = t0.Add(130 * time.Second)
	v2.poll("app", at, health("RUNNING", 0))
	if s := v2.stat("app", "numRestarts", at); s.Max != 0 {
		t.Fatalf("numRestarts after an upgrade = %+v", s)
	}
	wantMax(t, v2.stat("app", "numberOfFailedCheckpoints", at), 0)
	snap := v2.c.Latest()["app"]
	if snap == nil || snap.LifetimeRestarts != 4 || !snap.Running {
		t.Fatalf("snapshot = %+v, want lifetime restarts 4", snap)
	}
}

// An application deleted and created again under the same name starts
// from nothing.
func TestCollector_RecreatedApplication(t *testing.T) {
	v := newEnv(t, t.TempDir())
	v.createApp("app", "id-1", "", flinkplane.RuntimeFlink120)
	v.startJob("app", flinkplane.OpStartApplication, "j1", t0)
	v.setJob(running("j1", t0, 5, 0, 0))
	v.poll("app", t0.Add(time.Second), health("RUNNING", 5))
	if err := v.db.Update(ctx, func(tx flinkplane.Tx) error { return tx.DeleteApplication("app") }); err != nil {
		t.Fatal(err)
	}
	v.createApp("app", "id-2", "", flinkplane.RuntimeFlink120)
	v.startJob("app", flinkplane.OpMaintenance, "j2", t0.Add(time.Minute))
	v.setJob(running("j2", t0.Add(time.Minute), 0, 0, 0))
	at := t0.Add(2 * time.Minute)
	v.poll("app", at, health("RUNNING", 0))
	if s := v.stat("app", "numRestarts", at); s.Max != 0 {
		t.Fatalf("numRestarts of the new application = %+v", s)
	}
}

// Task and operator dimensions follow the MetricsLevel; Flink 2.x gets
// runningTime and the other state times.
func TestCollector_LevelsAndRuntime(t *testing.T) {
	v := newEnv(t, t.TempDir())
	v.createApp("ops", "id-ops", flinkplane.MetricsLevelOperator, flinkplane.RuntimeFlink22)
	v.startJob("ops", flinkplane.OpStartApplication, "j1", t0)
	v.setJob(running("j1", t0, 0, 1, 0))
	at := t0.Add(30 * time.Second)
	v.poll("ops", at, health("RUNNING", 0))
	ms, err := v.db.ListMetrics(ctx, flinkplane.MetricFilter{Name: "numRecordsInPerSecond"})
	if err != nil {
		t.Fatal(err)
	}
	var dims []string
	for _, m := range ms {
		dims = append(dims, flinkplane.DimensionKey(m.Dimensions))
	}
	want := []string{"Application=ops", "Application=ops\x00Operator=count-per-key\x00Task=count-per-key", "Application=ops\x00Task=Source: numbers", "Application=ops\x00Task=count-per-key"}
	if len(dims) != len(want) {
		t.Fatalf("numRecordsInPerSecond dimensions = %q, want %q", dims, want)
	}
	for i := range want {
		if dims[i] != want[i] {
			t.Fatalf("numRecordsInPerSecond dimensions = %q, want %q", dims, want)
		}
	}
	wantMax(t, v.stat("ops", "runningTime", at), 30000)
	if s := v.stat("ops", "fullRestarts", at); s.SampleCount != 0 {
		t.Fatalf("fullRestarts on 2.2 = %+v (removed in 2.2)", s)
	}

	// A restarting job: downtime from Flink's failing time, restartingTime
	// from its restarting time.
	v.setJob(flinkplane.JobMetrics{JobID: "j1", State: "RESTARTING", HasRestarts: true, Restarts: 1,
		StatusTimes: map[string]time.Time{"RUNNING": t0, "FAILING": t0.Add(40 * time.Second), "RESTARTING": t0.Add(41 * time.Second)}})
	at = t0.Add(50 * time.Second)
	v.poll("ops", at, health("RESTARTING", 1))
	wantMax(t, v.stat("ops", "downtime", at), 10000)
	wantMax(t, v.stat("ops", "restartingTime", at), 9000)
	wantMax(t, v.stat("ops", "numRestarts", at), 1)
}

// New entries of the exception history are handed on once, oldest first.
func TestCollector_Exceptions(t *testing.T) {
	v := newEnv(t, t.TempDir())
	var got []string
	v.c.OnExceptions = func(ctx context.Context, app *flinkplane.Application, exs []flinkplane.JobException) {
		for _, e := range exs {
			got = append(got, e.Name)
		}
	}
	v.createApp("app", "id", "", flinkplane.RuntimeFlink120)
	v.startJob("app", flinkplane.OpStartApplication, "j1", t0)
	m := running("j1", t0, 1, 0, 0)
	m.Exceptions = []flinkplane.JobException{{Time: t0.Add(2 * time.Second), Name: "B"}, {Time: t0.Add(time.Second), Name: "A"}}
	v.setJob(m)
	v.poll("app", t0.Add(10*time.Second), health("RUNNING", 1))
	m.Restarts = 2
	m.Exceptions = append([]flinkplane.JobException{{Time: t0.Add(20 * time.Second), Name: "C"}}, m.Exceptions...)
	v.setJob(m)
	v.poll("app", t0.Add(30*time.Second), health("RUNNING", 2))
	if len(got) != 3 || got[0] != "A" || got[1] != "B" || got[2] != "C" {
		t.Fatalf("exceptions handed on = %v, want [A B C]", got)
	}
}
