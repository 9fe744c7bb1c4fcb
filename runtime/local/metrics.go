package local

import (
	"context"
	"fmt"
	"math"
	"sort"
	"strings"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/flinkrest"
)

var _ flinkplane.MetricsReader = (*Driver)(nil)

// MetricsSettle is how long ReadMetrics waits between the request that
// triggers the JobManager's metric fetch and the reads that use it. The
// JobManager answers a metrics request from what its last fetch stored and
// fetches again in the background (at most every
// metrics.fetcher.update-interval, 2 s here): without the wait a reading
// taken after a pause returns values as old as the pause.
var MetricsSettle = 300 * time.Millisecond

// staleTolerance is how far the uptime Flink reports may lag behind the
// uptime computed from the job's status timestamps before a reading counts
// as stale and is read again.
const staleTolerance = 1500 * time.Millisecond

// jobMetricNames are the job metrics ReadMetrics reads; uptime is read to
// tell a stale answer from a fresh one.
var jobMetricNames = []string{"numRestarts", "uptime"}

var processMetricNames = []string{"Status.JVM.CPU.Load", "Status.JVM.Memory.Heap.Used", "Status.JVM.Memory.Heap.Max"}

// ReadMetrics reads a job's metrics: status and status times, numRestarts,
// checkpoint statistics, records in/out per task (and operator at level
// OPERATOR or PARALLELISM), heap and CPU of the JobManager and of every
// TaskManager, and the newest entries of the exception history.
//
// Values kept by the JobManager's metric store are read after a fetch that
// this call triggers (see MetricsSettle) and checked: when the job's uptime
// as Flink reports it lags the uptime its status timestamps give, or
// exceeds it (a value from before the job's latest restart), the answer is
// stale and is read again (twice at most). Returns ENOTFOUND when
// the cluster does not know the job.
func (d *Driver) ReadMetrics(ctx context.Context, h flinkplane.ClusterHandle, jobID, level string) (flinkplane.JobMetrics, error) {
	return ReadMetricsOf(ctx, d.client(h), h.ID, jobID, level)
}

// ReadMetricsOf is ReadMetrics through any client of a cluster's REST API
// (the Kubernetes driver's goes through the API server's service proxy);
// clusterID names the cluster in errors.
func ReadMetricsOf(ctx context.Context, c *flinkrest.Client, clusterID, jobID, level string) (flinkplane.JobMetrics, error) {
	// Trigger the fetch first: every metrics request does.
	if _, err := c.JobMetrics(ctx, jobID, "uptime"); err != nil && !flinkrest.IsNotFound(err) {
		return flinkplane.JobMetrics{}, fmt.Errorf("read metrics: %w", err)
	}
	triggered := time.Now()

	// Meanwhile, what is not in the metric store.
	j, err := c.Job(ctx, jobID)
	if flinkrest.IsNotFound(err) {
		return flinkplane.JobMetrics{}, flinkplane.Errorf(flinkplane.ENOTFOUND, "Job %s not found on cluster %s.", jobID, clusterID)
	} else if err != nil {
		return flinkplane.JobMetrics{}, fmt.Errorf("read metrics: job: %w", err)
	}
	m := flinkplane.JobMetrics{JobID: jobID, State: j.State, StatusTimes: map[string]time.Time{}}
	for st, ms := range j.Timestamps {
		if ms > 0 {
			m.StatusTimes[st] = time.UnixMilli(ms)
		}
	}
	if cs, err := c.Checkpoints(ctx, jobID); err == nil {
		m.Checkpoints.Completed, m.Checkpoints.Failed = cs.Counts.Completed, cs.Counts.Failed
		if l := cs.Latest.Completed; l != nil {
			m.Checkpoints.HasLast = true
			m.Checkpoints.LastDuration = time.Duration(l.EndToEndDuration) * time.Millisecond
			m.Checkpoints.LastSize = l.CheckpointedSize
			m.Checkpoints.LastTime = time.UnixMilli(l.LatestAckTimestamp)
			m.Checkpoints.LastPath = l.ExternalPath
		}
	}
	if ex, err := c.Exceptions(ctx, jobID, 5); err == nil {
		for _, e := range ex {
			m.Exceptions = append(m.Exceptions, flinkplane.JobException{Time: time.UnixMilli(e.Timestamp), Name: e.ExceptionName,
				Stacktrace: e.Stacktrace, Task: e.TaskName, Endpoint: e.Endpoint})
		}
	}
	tms, _ := c.TaskManagers(ctx)

	for attempt := 0; ; attempt++ {
		if !sleepUntil(ctx, triggered.Add(MetricsSettle)) {
			return flinkplane.JobMetrics{}, ctx.Err()
		}
		m.At = time.Now()
		fresh := readStoreMetrics(ctx, c, j, tms, level, &m)
		if fresh || attempt == 2 {
			return m, nil
		}
		// Stale: this read triggered a new fetch; read again after it.
		triggered = time.Now()
	}
}

// readStoreMetrics reads what the JobManager's metric store holds into m
// and reports whether the job metrics are current.
func readStoreMetrics(ctx context.Context, c *flinkrest.Client, j flinkrest.Job, tms []flinkrest.TaskManagerInfo, level string, m *flinkplane.JobMetrics) bool {
	fresh := true
	if jm, err := c.JobMetrics(ctx, j.ID, jobMetricNames...); err == nil {
		if v, ok := flinkrest.ParseMetric(jm, "numRestarts"); ok {
			m.Restarts, m.HasRestarts = int64(v), true
		}
		if up, ok := flinkrest.ParseMetric(jm, "uptime"); ok && j.State == "RUNNING" {
			if since, ok := m.StatusTimes["RUNNING"]; ok {
				// Lagging: fetched a while ago. Ahead: fetched before the
				// job's latest switch to RUNNING (a restart), so its
				// numRestarts is the old one too.
				lag := m.At.Sub(since) - time.Duration(up)*time.Millisecond
				if lag > staleTolerance+MetricsSettle || lag < -staleTolerance {
					fresh = false
				}
			}
		} else if j.State == "RUNNING" {
			fresh = false // not fetched yet
		}
	}
	m.JobManager = nil
	if pm, err := c.JobManagerMetrics(ctx, processMetricNames...); err == nil {
		p := processMetrics("jobmanager", pm)
		m.JobManager = &p
	}
	m.TaskManagers = m.TaskManagers[:0]
	for _, tm := range tms {
		pm, err := c.TaskManagerMetrics(ctx, tm.ID, processMetricNames...)
		if err != nil {
			continue // gone since the listing
		}
		m.TaskManagers = append(m.TaskManagers, processMetrics(tm.ID, pm))
	}
	sort.Slice(m.TaskManagers, func(a, b int) bool { return m.TaskManagers[a].ID < m.TaskManagers[b].ID })

	operators := level == flinkplane.MetricsLevelOperator || level == flinkplane.MetricsLevelParallelism
	m.Tasks, m.HasRecords = m.Tasks[:0], false
	m.RecordsInPerSecond, m.RecordsOutPerSecond = 0, 0
	for _, v := range j.Vertices {
		agg, err := c.SubtaskMetrics(ctx, j.ID, v.ID, "sum", "numRecordsInPerSecond", "numRecordsOutPerSecond")
		if err != nil {
			continue
		}
		in, okIn := flinkrest.SumOf(agg, "numRecordsInPerSecond")
		out, okOut := flinkrest.SumOf(agg, "numRecordsOutPerSecond")
		if !okIn && !okOut {
			continue // not fetched yet (a new job)
		}
		t := flinkplane.TaskMetrics{Name: v.Name, Parallelism: v.Parallelism, RecordsInPerSecond: finite(in), RecordsOutPerSecond: finite(out)}
		if operators {
			t.Operators = operatorMetrics(ctx, c, j.ID, v.ID)
		}
		m.Tasks = append(m.Tasks, t)
		m.RecordsInPerSecond += t.RecordsInPerSecond
		m.RecordsOutPerSecond += t.RecordsOutPerSecond
		m.HasRecords = true
	}
	return fresh
}

// operatorMetrics reads the operator-scoped records in/out per second of a
// vertex, summed over its subtasks, by operator metric name.
func operatorMetrics(ctx context.Context, c *flinkrest.Client, jobID, vertexID string) []flinkplane.OperatorMetrics {
	names, err := c.SubtaskMetricNames(ctx, jobID, vertexID)
	if err != nil {
		return nil
	}
	var want []string
	for _, n := range names {
		if strings.HasSuffix(n, ".numRecordsInPerSecond") || strings.HasSuffix(n, ".numRecordsOutPerSecond") {
			want = append(want, n)
		}
	}
	if len(want) == 0 {
		return nil
	}
	sort.Strings(want)
	agg, err := c.SubtaskMetrics(ctx, jobID, vertexID, "sum", want...)
	if err != nil {
		return nil
	}
	byOp := map[string]*flinkplane.OperatorMetrics{}
	var order []string
	for _, a := range agg {
		i := strings.LastIndex(a.ID, ".")
		op, metric := a.ID[:i], a.ID[i+1:]
		o := byOp[op]
		if o == nil {
			o = &flinkplane.OperatorMetrics{Name: op}
			byOp[op] = o
			order = append(order, op)
		}
		v, _ := flinkrest.SumOf([]flinkrest.AggregatedMetric{a}, a.ID)
		if metric == "numRecordsInPerSecond" {
			o.RecordsInPerSecond = finite(v)
		} else {
			o.RecordsOutPerSecond = finite(v)
		}
	}
	sort.Strings(order)
	out := make([]flinkplane.OperatorMetrics, 0, len(order))
	for _, op := range order {
		out = append(out, *byOp[op])
	}
	return out
}

func processMetrics(id string, pm map[string]string) flinkplane.ProcessMetrics {
	p := flinkplane.ProcessMetrics{ID: id}
	if v, ok := flinkrest.ParseMetric(pm, "Status.JVM.CPU.Load"); ok && v >= 0 {
		p.CPULoad, p.HasCPU = finite(v), true
	}
	used, okU := flinkrest.ParseMetric(pm, "Status.JVM.Memory.Heap.Used")
	mx, okM := flinkrest.ParseMetric(pm, "Status.JVM.Memory.Heap.Max")
	if okU {
		p.HeapUsed, p.HasHeap = int64(used), true
		if okM && mx > 0 {
			p.HeapMax = int64(mx)
		}
	}
	return p
}

func finite(v float64) float64 {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return 0
	}
	return v
}

// sleepUntil waits until t or ctx ends; it reports whether t was reached.
func sleepUntil(ctx context.Context, t time.Time) bool {
	d := time.Until(t)
	if d <= 0 {
		return ctx.Err() == nil
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-timer.C:
		return true
	}
}
