package flinkrest

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// Metrics over REST. The JobManager answers every metrics request from a
// store that its MetricFetcher fills asynchronously: a request triggers a
// fetch from the JVMs' query services when the last one is older than
// metrics.fetcher.update-interval, and answers with what the store held
// before that fetch. The first read after a pause therefore returns values
// as old as the pause; read again shortly after a triggering read to get
// fresh ones (runtime/local does, see its metrics.go).

// MetricValue is one metric of a metrics answer.
type MetricValue struct {
	ID    string `json:"id"`
	Value string `json:"value"`
}

// AggregatedMetric is one metric aggregated over subtasks or TaskManagers
// (agg=min,max,avg,sum).
type AggregatedMetric struct {
	ID  string   `json:"id"`
	Min *float64 `json:"min"`
	Max *float64 `json:"max"`
	Avg *float64 `json:"avg"`
	Sum *float64 `json:"sum"`
}

func metricsPath(base string, names []string, agg string) string {
	p := base
	q := url.Values{}
	if len(names) > 0 {
		q.Set("get", strings.Join(names, ","))
	}
	if agg != "" {
		q.Set("agg", agg)
	}
	if len(q) > 0 {
		// Flink splits get= on commas; keep them unescaped.
		p += "?" + strings.ReplaceAll(q.Encode(), "%2C", ",")
	}
	return p
}

func (c *Client) metricValues(ctx context.Context, path string) (map[string]string, error) {
	var out []MetricValue
	if err := c.do(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, err
	}
	m := make(map[string]string, len(out))
	for _, kv := range out {
		m[kv.ID] = kv.Value
	}
	return m, nil
}

func (c *Client) metricNames(ctx context.Context, path string) ([]string, error) {
	var out []MetricValue
	if err := c.do(ctx, http.MethodGet, path, nil, &out); err != nil {
		return nil, err
	}
	names := make([]string, 0, len(out))
	for _, kv := range out {
		names = append(names, kv.ID)
	}
	return names, nil
}

// JobManagerMetrics returns JobManager metrics by name (for example
// Status.JVM.CPU.Load, Status.JVM.Memory.Heap.Used); absent names are
// missing from the map.
func (c *Client) JobManagerMetrics(ctx context.Context, names ...string) (map[string]string, error) {
	return c.metricValues(ctx, metricsPath("/jobmanager/metrics", names, ""))
}

// TaskManagerInfo is one entry of GET /taskmanagers.
type TaskManagerInfo struct {
	ID          string `json:"id"`
	SlotsNumber int    `json:"slotsNumber"`
	FreeSlots   int    `json:"freeSlots"`
	// TimeSinceLastHeartbeat is, despite its name, the time of the last
	// heartbeat in epoch milliseconds.
	TimeSinceLastHeartbeat int64 `json:"timeSinceLastHeartbeat"`
}

// TaskManagers lists the TaskManagers registered with the JobManager.
func (c *Client) TaskManagers(ctx context.Context) ([]TaskManagerInfo, error) {
	var out struct {
		TaskManagers []TaskManagerInfo `json:"taskmanagers"`
	}
	return out.TaskManagers, c.do(ctx, http.MethodGet, "/taskmanagers", nil, &out)
}

// TaskManagerMetrics returns one TaskManager's metrics by name.
func (c *Client) TaskManagerMetrics(ctx context.Context, tmID string, names ...string) (map[string]string, error) {
	return c.metricValues(ctx, metricsPath("/taskmanagers/"+url.PathEscape(tmID)+"/metrics", names, ""))
}

// SubtaskMetrics returns a job vertex's metrics aggregated over its
// subtasks with agg (for example "sum"). Task-scoped metrics have plain
// names (numRecordsInPerSecond), operator-scoped ones are prefixed with the
// operator's metric name ("count-per-key.numRecordsInPerSecond").
func (c *Client) SubtaskMetrics(ctx context.Context, jobID, vertexID, agg string, names ...string) ([]AggregatedMetric, error) {
	var out []AggregatedMetric
	p := metricsPath("/jobs/"+url.PathEscape(jobID)+"/vertices/"+url.PathEscape(vertexID)+"/subtasks/metrics", names, agg)
	return out, c.do(ctx, http.MethodGet, p, nil, &out)
}

// SubtaskMetricNames lists the metric names a job vertex's subtasks
// report (task- and operator-scoped).
func (c *Client) SubtaskMetricNames(ctx context.Context, jobID, vertexID string) ([]string, error) {
	return c.metricNames(ctx, "/jobs/"+url.PathEscape(jobID)+"/vertices/"+url.PathEscape(vertexID)+"/subtasks/metrics")
}

// ParseMetric parses a metric value as a float64: ok is false for an
// absent or non-numeric value.
func ParseMetric(m map[string]string, name string) (float64, bool) {
	v, found := m[name]
	if !found || v == "" {
		return 0, false
	}
	f, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return 0, false
	}
	return f, true
}

// float64Value returns *p or 0.
func float64Value(p *float64) float64 {
	if p == nil {
		return 0
	}
	return *p
}

// SumOf returns the sum of an aggregated metric of a SubtaskMetrics answer.
func SumOf(ms []AggregatedMetric, id string) (float64, bool) {
	for _, m := range ms {
		if m.ID == id && m.Sum != nil {
			return float64Value(m.Sum), true
		}
	}
	return 0, false
}
