package metrics

import (
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// promMetric maps an Application-level CloudWatch metric to a Prometheus
// gauge: its name and the factor that converts its unit to Prometheus base
// units (seconds, bytes, ratios).
type promMetric struct {
	cloudwatch string
	name       string
	help       string
	scale      float64
}

var appGauges = []promMetric{
	{"numRestarts", "flinkplane_application_num_restarts", "numRestarts: restarts of the application's job in the current run (see docs/metrics.md).", 1},
	{"uptime", "flinkplane_application_uptime_seconds", "uptime: time the job has been running without interruption.", 0.001},
	{"downtime", "flinkplane_application_downtime_seconds", "downtime: duration of the current outage, 0 while running.", 0.001},
	{"lastCheckpointDuration", "flinkplane_application_last_checkpoint_duration_seconds", "lastCheckpointDuration: time the last completed checkpoint took.", 0.001},
	{"lastCheckpointSize", "flinkplane_application_last_checkpoint_size_bytes", "lastCheckpointSize: checkpointed size of the last completed checkpoint.", 1},
	{"numberOfCompletedCheckpoints", "flinkplane_application_completed_checkpoints", "numberOfCompletedCheckpoints in the current run.", 1},
	{"numberOfFailedCheckpoints", "flinkplane_application_failed_checkpoints", "numberOfFailedCheckpoints in the current run.", 1},
	{"numRecordsInPerSecond", "flinkplane_application_records_in_per_second", "numRecordsInPerSecond summed over the job's tasks.", 1},
	{"numRecordsOutPerSecond", "flinkplane_application_records_out_per_second", "numRecordsOutPerSecond summed over the job's tasks.", 1},
	{"KPUs", "flinkplane_application_kpus", "KPUs in use: one per TaskManager plus the orchestration KPU.", 1},
}

// Exporter exposes the applications' newest readings to Prometheus. It
// reads the Collector's snapshots at scrape time; an application not read
// for StaleAfter disappears.
type Exporter struct {
	Collector  *Collector
	StaleAfter time.Duration

	gauges     []*prometheus.Desc
	restarts   *prometheus.Desc
	running    *prometheus.Desc
	heapUsed   *prometheus.Desc
	heapMax    *prometheus.Desc
	cpuLoad    *prometheus.Desc
	taskIn     *prometheus.Desc
	taskOut    *prometheus.Desc
	lastSample *prometheus.Desc
}

// NewExporter returns an Exporter of c's snapshots.
func NewExporter(c *Collector) *Exporter {
	labels := []string{"application", "runtime"}
	e := &Exporter{Collector: c, StaleAfter: 2 * time.Minute,
		restarts: prometheus.NewDesc("flinkplane_application_restarts_total",
			"Restarts of the application's jobs since the application was created (Flink restarts and the service's recoveries).", labels, nil),
		running: prometheus.NewDesc("flinkplane_application_running", "1 if the application's job was RUNNING at the last reading.", labels, nil),
		heapUsed: prometheus.NewDesc("flinkplane_application_heap_used_bytes", "JVM heap used by a JobManager or TaskManager.",
			append(labels, "process"), nil),
		heapMax: prometheus.NewDesc("flinkplane_application_heap_max_bytes", "JVM heap maximum of a JobManager or TaskManager.",
			append(labels, "process"), nil),
		cpuLoad: prometheus.NewDesc("flinkplane_application_cpu_load_ratio", "Recent CPU load of a JobManager or TaskManager JVM (0 to 1).",
			append(labels, "process"), nil),
		taskIn:  prometheus.NewDesc("flinkplane_task_records_in_per_second", "numRecordsInPerSecond of a task, summed over its subtasks.", append(labels, "task"), nil),
		taskOut: prometheus.NewDesc("flinkplane_task_records_out_per_second", "numRecordsOutPerSecond of a task, summed over its subtasks.", append(labels, "task"), nil),
		lastSample: prometheus.NewDesc("flinkplane_application_last_reading_timestamp_seconds",
			"Time of the application's newest reading.", labels, nil),
	}
	for _, g := range appGauges {
		e.gauges = append(e.gauges, prometheus.NewDesc(g.name, g.help, labels, nil))
	}
	return e
}

// Describe implements prometheus.Collector.
func (e *Exporter) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range e.gauges {
		ch <- d
	}
	for _, d := range []*prometheus.Desc{e.restarts, e.running, e.heapUsed, e.heapMax, e.cpuLoad, e.taskIn, e.taskOut, e.lastSample} {
		ch <- d
	}
}

// Collect implements prometheus.Collector.
func (e *Exporter) Collect(ch chan<- prometheus.Metric) {
	now := time.Now()
	for _, s := range e.Collector.Latest() {
		if e.StaleAfter > 0 && now.Sub(s.Time) > e.StaleAfter {
			continue
		}
		lv := []string{s.Application, string(s.Runtime)}
		for i, g := range appGauges {
			if v, ok := s.Values[g.cloudwatch]; ok {
				if v < 0 && g.scale != 1 {
					continue // Flink's -1: not applicable
				}
				ch <- prometheus.MustNewConstMetric(e.gauges[i], prometheus.GaugeValue, v*g.scale, lv...)
			}
		}
		ch <- prometheus.MustNewConstMetric(e.restarts, prometheus.CounterValue, float64(s.LifetimeRestarts), lv...)
		running := 0.0
		if s.Running {
			running = 1
		}
		ch <- prometheus.MustNewConstMetric(e.running, prometheus.GaugeValue, running, lv...)
		ch <- prometheus.MustNewConstMetric(e.lastSample, prometheus.GaugeValue, float64(s.Time.UnixMilli())/1000, lv...)
		for _, p := range s.Processes {
			pl := append(lv[:2:2], processLabel(p.ID))
			if p.HasHeap {
				ch <- prometheus.MustNewConstMetric(e.heapUsed, prometheus.GaugeValue, float64(p.HeapUsed), pl...)
				if p.HeapMax > 0 {
					ch <- prometheus.MustNewConstMetric(e.heapMax, prometheus.GaugeValue, float64(p.HeapMax), pl...)
				}
			}
			if p.HasCPU {
				ch <- prometheus.MustNewConstMetric(e.cpuLoad, prometheus.GaugeValue, p.CPULoad, pl...)
			}
		}
		for _, t := range s.Tasks {
			tl := append(lv[:2:2], t.Name)
			ch <- prometheus.MustNewConstMetric(e.taskIn, prometheus.GaugeValue, t.RecordsInPerSecond, tl...)
			ch <- prometheus.MustNewConstMetric(e.taskOut, prometheus.GaugeValue, t.RecordsOutPerSecond, tl...)
		}
	}
}

// processLabel is "jobmanager" or "taskmanager:<id>".
func processLabel(id string) string {
	if id == "jobmanager" || strings.HasPrefix(id, "taskmanager") {
		return id
	}
	return "taskmanager:" + id
}

// NewRegistry returns a registry with the Go runtime and process
// collectors, the control plane's metrics and, if c is set, the
// applications' metrics.
func NewRegistry(c *Collector) (*prometheus.Registry, *ControlPlane) {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	cp := newControlPlane(reg)
	if c != nil {
		reg.MustRegister(NewExporter(c))
	}
	return reg, cp
}
