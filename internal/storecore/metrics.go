package storecore

import (
	"encoding/json"
	"fmt"
	"time"

	"github.com/flinkplane/flinkplane"
)

// Resolutions of metric points, in seconds: a point is a statistic set of
// one series per minute or, once rolled up, per hour.
const (
	ResMinute = 60
	ResHour   = 3600
)

// UnitOrNone is a datum's unit, None when unset.
func UnitOrNone(u string) string {
	if u == "" {
		return flinkplane.UnitNone
	}
	return u
}

// DimensionValue is the value of the named dimension, "" without it.
func DimensionValue(d []flinkplane.Dimension, name string) string {
	for _, x := range d {
		if x.Name == name {
			return x.Value
		}
	}
	return ""
}

// SeriesKey identifies a series (a name with its canonical dimensions)
// within one PutMetrics call.
func SeriesKey(name, dims string) string {
	return name + "\x01" + dims
}

// EncodeMetricState returns the JSON text of an application's metric state.
func EncodeMetricState(s *flinkplane.MetricState) (string, error) {
	b, err := json.Marshal(s)
	if err != nil {
		return "", fmt.Errorf("encode metric state: %w", err)
	}
	return string(b), nil
}

// DecodeMetricState parses the JSON text of an application's metric state.
func DecodeMetricState(data []byte) (*flinkplane.MetricState, error) {
	var s flinkplane.MetricState
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("decode metric state: %w", err)
	}
	return &s, nil
}

// Period returns the period of q in seconds; EINVALID unless positive.
func Period(q flinkplane.MetricQuery) (int64, error) {
	period := int64(q.Period / time.Second)
	if period <= 0 {
		return 0, flinkplane.Errorf(flinkplane.EINVALID, "The period must be positive.")
	}
	return period, nil
}

// ScanMetricStats aggregates points (res, ts, n, sum, min, max), in time
// order, per period of seconds from start. Hour points (older than the
// minute retention) count only when the period is a whole number of hours,
// as CloudWatch returns no data points for a period finer than the
// resolution it keeps.
func ScanMetricStats(rows Rows, start, period int64, unit string) ([]flinkplane.MetricStats, error) {
	var out []flinkplane.MetricStats
	for rows.Next() {
		var res, ts int64
		var s flinkplane.MetricStats
		if err := rows.Scan(&res, &ts, &s.SampleCount, &s.Sum, &s.Min, &s.Max); err != nil {
			return nil, fmt.Errorf("query metric: %w", err)
		}
		if res == ResHour && period%ResHour != 0 {
			continue
		}
		bucket := start + (ts-start)/period*period
		s.Time, s.Unit = time.Unix(bucket, 0).UTC(), unit
		if n := len(out); n > 0 && out[n-1].Time.Unix() == bucket {
			out[n-1].Add(s)
			continue
		}
		out = append(out, s)
	}
	return out, rows.Err()
}

// ScanMetrics returns the series of rows (name, dims, unit, last) that
// match f's dimension filters, up to f.Limit.
func ScanMetrics(rows Rows, f flinkplane.MetricFilter) ([]flinkplane.Metric, error) {
	var out []flinkplane.Metric
	for rows.Next() {
		var name, unit string
		var dims []byte
		var last int64
		if err := rows.Scan(&name, &dims, &unit, &last); err != nil {
			return nil, fmt.Errorf("list metrics: %w", err)
		}
		m := flinkplane.Metric{Name: name, Dimensions: flinkplane.ParseDimensionKey(string(dims)), Unit: unit, Last: time.Unix(last, 0).UTC()}
		if !MatchDimensions(m.Dimensions, f.Dimensions) {
			continue
		}
		out = append(out, m)
		if f.Limit > 0 && len(out) == f.Limit {
			break
		}
	}
	return out, rows.Err()
}

// MatchDimensions reports whether have has every dimension of want (with
// its value, where want gives one).
func MatchDimensions(have []flinkplane.Dimension, want []flinkplane.DimensionFilter) bool {
	for _, w := range want {
		found := false
		for _, h := range have {
			if h.Name == w.Name && (!w.HasValue || h.Value == w.Value) {
				found = true
				break
			}
		}
		if !found {
			return false
		}
	}
	return true
}

// Expiry is when ExpireMetrics cuts, in Unix seconds.
type Expiry struct {
	// MinuteCut: minute points before it go (minuteBefore rounded down to
	// the hour); HourCut: hour points before it go.
	MinuteCut, HourCut int64
	// RollFrom: the minutes from it (HourCut rounded down to the hour) up
	// to MinuteCut are rolled into hour points first, when Roll.
	RollFrom int64
	Roll     bool
}

// MetricExpiry returns the cuts of ExpireMetrics(minuteBefore, hourBefore).
func MetricExpiry(minuteBefore, hourBefore time.Time) Expiry {
	cut := minuteBefore.Unix()
	cut -= cut % ResHour
	hourCut := hourBefore.Unix()
	return Expiry{MinuteCut: cut, HourCut: hourCut, RollFrom: hourCut - hourCut%ResHour, Roll: hourCut < cut}
}

// ScanPointCounts returns the counts of minute and hour points in rows
// (res, count).
func ScanPointCounts(rows Rows) (minutes, hours int64, err error) {
	for rows.Next() {
		var res, n int64
		if err := rows.Scan(&res, &n); err != nil {
			return 0, 0, err
		}
		if res == ResMinute {
			minutes = n
		} else {
			hours = n
		}
	}
	return minutes, hours, rows.Err()
}
