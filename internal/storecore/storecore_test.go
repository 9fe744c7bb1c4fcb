package storecore_test

import (
	"errors"
	"reflect"
	"strconv"
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

func TestScanPointCounts(t *testing.T) {
	minutes, hours, err := storecore.ScanPointCounts(&rows{vals: [][]any{{int64(3600), int64(4)}, {int64(60), int64(90)}}})
	if err != nil || minutes != 90 || hours != 4 {
		t.Fatalf("got %d minutes, %d hours, %v; want 90, 4", minutes, hours, err)
	}
}

// numbered marks arguments $n and casts integers in row values, as
// PostgreSQL's dialect does.
var numbered = &storecore.Dialect{
	Mark: func(n int) string { return "$" + strconv.Itoa(n) },
	In: func(q *storecore.Query, col string, vs []string) string {
		return col + " = ANY(" + q.Arg(vs) + ")"
	},
	HasPrefix: func(q *storecore.Query, col, prefix string) string {
		return "starts_with(" + col + ", " + q.Arg(prefix) + ")"
	},
	Int:   func(q *storecore.Query, v int64) string { return q.Arg(v) + "::bigint" },
	Limit: func(limit int) any { return limit },
}

func TestLogEventsQuery(t *testing.T) {
	const sel = "SELECT id, stream, ts, ingest, message FROM log_events WHERE "
	at := time.UnixMilli(5000)
	for _, tc := range []struct {
		name  string
		q     flinkplane.LogQuery
		query string
		args  []any
	}{
		{"Group", flinkplane.LogQuery{Group: "g"},
			sel + "grp = $1 ORDER BY ts, id LIMIT $2", []any{"g", 0}},
		{"StreamsOverPrefix", flinkplane.LogQuery{Group: "g", Streams: []string{"a", "b"}, Prefix: "x", Limit: 5},
			sel + "grp = $1 AND stream = ANY($2) ORDER BY ts, id LIMIT $3", []any{"g", []string{"a", "b"}, 5}},
		{"PrefixRangeAfter", flinkplane.LogQuery{Group: "g", Prefix: "x", Start: time.UnixMilli(1000), End: at, After: flinkplane.LogPosition{Time: time.UnixMilli(2000), ID: 7}},
			sel + "grp = $1 AND starts_with(stream, $2) AND ts >= $3 AND ts < $4 AND (ts, id) > ($5::bigint, $6::bigint) ORDER BY ts, id LIMIT $7",
			[]any{"g", "x", int64(1000), int64(5000), int64(2000), int64(7), 0}},
		{"BackwardIgnoresAfter", flinkplane.LogQuery{Group: "g", Backward: true, After: flinkplane.LogPosition{ID: 7}},
			sel + "grp = $1 ORDER BY ts DESC, id DESC LIMIT $2", []any{"g", 0}},
		{"BackwardBefore", flinkplane.LogQuery{Group: "g", Backward: true, Before: flinkplane.LogPosition{Time: at, ID: 9}},
			sel + "grp = $1 AND (ts, id) < ($2::bigint, $3::bigint) ORDER BY ts DESC, id DESC LIMIT $4", []any{"g", int64(5000), int64(9), 0}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			query, args := storecore.LogEventsQuery(tc.q, numbered)
			if query != tc.query {
				t.Errorf("query:\n got %s\nwant %s", query, tc.query)
			}
			if !reflect.DeepEqual(args, tc.args) {
				t.Errorf("args: got %#v, want %#v", args, tc.args)
			}
		})
	}
}
