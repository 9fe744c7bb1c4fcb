package storecore_test

import (
	"errors"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/internal/storecore"
)

// rows is a result set in memory.
type rows struct {
	vals [][]any
	i    int
}

func (r *rows) Next() bool { r.i++; return r.i <= len(r.vals) }
func (r *rows) Err() error { return nil }
func (r *rows) Scan(dest ...any) error {
	row := r.vals[r.i-1]
	if len(dest) != len(row) {
		return errors.New("column count")
	}
	for i, d := range dest {
		switch d := d.(type) {
		case *int64:
			*d = row[i].(int64)
		case *float64:
			*d = row[i].(float64)
		case *string:
			*d = row[i].(string)
		case *[]byte:
			*d = []byte(row[i].(string))
		default:
			return errors.New("type")
		}
	}
	return nil
}

func point(res, ts int64, n, sum, lo, hi float64) []any { return []any{res, ts, n, sum, lo, hi} }

func TestScanMetricStats(t *testing.T) {
	const start = 1_000_020 // not on a minute
	for _, tc := range []struct {
		name   string
		period int64
		points [][]any
		want   []flinkplane.MetricStats
	}{
		{"MinutesIntoFiveMinutes", 300, [][]any{
			point(60, start, 1, 2, 2, 2),
			point(60, start+60, 2, 10, 4, 6),
			point(60, start+300, 1, 7, 7, 7),
		}, []flinkplane.MetricStats{
			{Time: time.Unix(start, 0).UTC(), Unit: "Count", SampleCount: 3, Sum: 12, Min: 2, Max: 6},
			{Time: time.Unix(start+300, 0).UTC(), Unit: "Count", SampleCount: 1, Sum: 7, Min: 7, Max: 7},
		}},
		{"HourPointsSkippedBelowAnHour", 60, [][]any{
			point(3600, start, 60, 60, 1, 1),
			point(60, start+3600, 1, 5, 5, 5),
		}, []flinkplane.MetricStats{
			{Time: time.Unix(start+3600, 0).UTC(), Unit: "Count", SampleCount: 1, Sum: 5, Min: 5, Max: 5},
		}},
		{"HourPointsCountInWholeHours", 7200, [][]any{
			point(3600, start, 60, 60, 1, 1),
			point(60, start+3600, 1, 5, 5, 5),
		}, []flinkplane.MetricStats{
			{Time: time.Unix(start, 0).UTC(), Unit: "Count", SampleCount: 61, Sum: 65, Min: 1, Max: 5},
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := storecore.ScanMetricStats(&rows{vals: tc.points}, start, tc.period, "Count")
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Fatalf("got %+v, want %+v", got, tc.want)
			}
			for i := range got {
				if got[i] != tc.want[i] {
					t.Errorf("period %d: got %+v, want %+v", i, got[i], tc.want[i])
				}
			}
		})
	}
}

func TestScanMetrics_FilterAndLimit(t *testing.T) {
	a := flinkplane.DimensionKey([]flinkplane.Dimension{{Name: "Application", Value: "a"}})
	b := flinkplane.DimensionKey([]flinkplane.Dimension{{Name: "Application", Value: "b"}})
	r := &rows{vals: [][]any{
		{"uptime", a, "Milliseconds", int64(10)},
		{"uptime", b, "Milliseconds", int64(20)},
		{"uptime", "", "Milliseconds", int64(30)},
		{"downtime", b, "Milliseconds", int64(40)},
	}}
	got, err := storecore.ScanMetrics(r, flinkplane.MetricFilter{
		Dimensions: []flinkplane.DimensionFilter{{Name: "Application", Value: "b", HasValue: true}},
		Limit:      1,
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Name != "uptime" || got[0].Last != time.Unix(20, 0).UTC() {
		t.Fatalf("got %+v, want the one uptime series of b", got)
	}
}

func TestMetricExpiry(t *testing.T) {
	x := storecore.MetricExpiry(time.Unix(7*3600+1234, 0), time.Unix(2*3600+99, 0))
	if got, want := x, (storecore.Expiry{MinuteCut: 7 * 3600, HourCut: 2*3600 + 99, RollFrom: 2 * 3600, Roll: true}); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
	if x := storecore.MetricExpiry(time.Unix(3600, 0), time.Unix(3600, 0)); x.Roll {
		t.Fatalf("rolls up with nothing between the cuts: %+v", x)
	}
}

func TestStreamSpan(t *testing.T) {
	now := time.UnixMilli(9000)
	var s storecore.StreamSpan
	for _, e := range []flinkplane.LogEvent{
		{Time: time.UnixMilli(500), Ingestion: time.UnixMilli(600), Message: "abc"},
		{Time: time.UnixMilli(300), Message: "de"},
		{Time: time.UnixMilli(700), Ingestion: time.UnixMilli(800), Message: ""},
	} {
		s.Add(e, now)
	}
	if got, want := s, (storecore.StreamSpan{First: 300, Last: 700, Ingest: 9000, Bytes: 5}); got != want {
		t.Fatalf("got %+v, want %+v", got, want)
	}
}

func TestPeriod(t *testing.T) {
	if _, err := storecore.Period(flinkplane.MetricQuery{Period: 500 * time.Millisecond}); flinkplane.ErrorCode(err) != flinkplane.EINVALID {
		t.Fatalf("sub-second period: got %v, want EINVALID", err)
	}
	if p, err := storecore.Period(flinkplane.MetricQuery{Period: time.Minute}); err != nil || p != 60 {
		t.Fatalf("got %d, %v", p, err)
	}
}
