package storetest

import (
	"fmt"
	"reflect"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
)

// MetricStore is what RunMetrics needs: a MetricStore and a LogStore
// (both are part of the Store contract of a backend that serves the
// CloudWatch-compatible APIs).
type MetricStore interface {
	flinkplane.MetricStore
	flinkplane.LogStore
}

// RunMetrics runs the metric and log store contract; open returns a fresh,
// empty store and reopen (may be nil) reopens one on the same data.
func RunMetrics(t *testing.T, open func(t *testing.T) MetricStore, reopen func(t *testing.T, s MetricStore) MetricStore) {
	t.Run("MinuteStatistics", func(t *testing.T) { testMinuteStatistics(t, open(t)) })
	t.Run("PeriodAlignment", func(t *testing.T) { testPeriodAlignment(t, open(t)) })
	t.Run("ListMetrics", func(t *testing.T) { testListMetrics(t, open(t)) })
	t.Run("Expire", func(t *testing.T) { testExpire(t, open(t)) })
	t.Run("LogEvents", func(t *testing.T) { testLogEvents(t, open(t)) })
	t.Run("LogGroupsAndStreams", func(t *testing.T) { testLogGroups(t, open(t)) })
	if reopen != nil {
		t.Run("DurableState", func(t *testing.T) {
			s := open(t)
			st := &flinkplane.MetricState{ApplicationID: "id-a", JobID: "j1", BaseRestarts: 3, JobRestarts: 2,
				LastRunning: t0, LifetimeRestarts: 5}
			must(t, s.PutMetrics(ctx, "a", st, []flinkplane.MetricDatum{datum("numRestarts", "a", 5, t0)}))
			must(t, s.PutLogEvents(ctx, "g", "s", []flinkplane.LogEvent{{Time: t0, Message: "m"}}, map[string]string{"k": "v"}))
			s = reopen(t, s)
			got, err := s.MetricState(ctx, "a")
			must(t, err)
			if !reflect.DeepEqual(got, st) {
				t.Fatalf("state after reopen = %+v, want %+v", got, st)
			}
			stats, err := s.MetricStatistics(ctx, query("numRestarts", "a", t0.Truncate(time.Minute), t0.Add(time.Hour), time.Minute))
			must(t, err)
			if len(stats) != 1 || stats[0].Max != 5 {
				t.Fatalf("stats after reopen = %+v", stats)
			}
			if v, _ := s.LogCursor(ctx, "k"); v != "v" {
				t.Fatalf("cursor after reopen = %q", v)
			}
		})
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func appDims(app string) []flinkplane.Dimension {
	return []flinkplane.Dimension{{Name: "Application", Value: app}}
}

func datum(name, app string, v float64, at time.Time) flinkplane.MetricDatum {
	return flinkplane.MetricDatum{Name: name, Dimensions: appDims(app), Unit: flinkplane.UnitCount, Value: v, Time: at}
}

func query(name, app string, start, end time.Time, period time.Duration) flinkplane.MetricQuery {
	return flinkplane.MetricQuery{Name: name, Dimensions: appDims(app), Start: start, End: end, Period: period}
}

// base is a whole hour.
var base = time.Date(2026, 3, 4, 10, 0, 0, 0, time.UTC)

func testMinuteStatistics(t *testing.T, s MetricStore) {
	// Four samples in minute 0, two in minute 1, one in minute 3.
	var data []flinkplane.MetricDatum
	for i, v := range []float64{4, 1, 7, 2} {
		data = append(data, datum("m", "a", v, base.Add(time.Duration(i)*15*time.Second)))
	}
	data = append(data, datum("m", "a", 10, base.Add(65*time.Second)), datum("m", "a", -3, base.Add(110*time.Second)))
	data = append(data, datum("m", "a", 0.5, base.Add(3*time.Minute+59*time.Second)))
	data = append(data, datum("m", "b", 100, base)) // another application
	must(t, s.PutMetrics(ctx, "a", nil, data))

	got, err := s.MetricStatistics(ctx, query("m", "a", base, base.Add(time.Hour), time.Minute))
	must(t, err)
	want := []flinkplane.MetricStats{
		{Time: base, SampleCount: 4, Sum: 14, Min: 1, Max: 7, Unit: flinkplane.UnitCount},
		{Time: base.Add(time.Minute), SampleCount: 2, Sum: 7, Min: -3, Max: 10, Unit: flinkplane.UnitCount},
		{Time: base.Add(3 * time.Minute), SampleCount: 1, Sum: 0.5, Min: 0.5, Max: 0.5, Unit: flinkplane.UnitCount},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("per minute:\n got %+v\nwant %+v", got, want)
	}
	// One period of five minutes merges them exactly.
	got, err = s.MetricStatistics(ctx, query("m", "a", base, base.Add(time.Hour), 5*time.Minute))
	must(t, err)
	want = []flinkplane.MetricStats{{Time: base, SampleCount: 7, Sum: 21.5, Min: -3, Max: 10, Unit: flinkplane.UnitCount}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("per 5 minutes:\n got %+v\nwant %+v", got, want)
	}
	// The end is exclusive; an unknown metric has no data.
	got, err = s.MetricStatistics(ctx, query("m", "a", base, base.Add(time.Minute), time.Minute))
	must(t, err)
	if len(got) != 1 || got[0].SampleCount != 4 {
		t.Fatalf("end exclusive: %+v", got)
	}
	got, err = s.MetricStatistics(ctx, query("nope", "a", base, base.Add(time.Hour), time.Minute))
	if err != nil || len(got) != 0 {
		t.Fatalf("unknown metric: %+v, %v", got, err)
	}
	// Dimensions must match exactly (a metric with more dimensions is
	// another metric).
	got, err = s.MetricStatistics(ctx, flinkplane.MetricQuery{Name: "m", Start: base, End: base.Add(time.Hour), Period: time.Minute})
	if err != nil || len(got) != 0 {
		t.Fatalf("no dimensions: %+v, %v", got, err)
	}
}

func testPeriodAlignment(t *testing.T, s MetricStore) {
	var data []flinkplane.MetricDatum
	for m := 0; m < 10; m++ {
		data = append(data, datum("m", "a", float64(m), base.Add(time.Duration(m)*time.Minute+30*time.Second)))
	}
	must(t, s.PutMetrics(ctx, "a", nil, data))
	// Periods of 3 minutes from minute 1: [1,4) [4,7) [7,10).
	got, err := s.MetricStatistics(ctx, query("m", "a", base.Add(time.Minute), base.Add(10*time.Minute), 3*time.Minute))
	must(t, err)
	if len(got) != 3 {
		t.Fatalf("got %d periods: %+v", len(got), got)
	}
	for i, p := range got {
		first := float64(1 + 3*i)
		if !p.Time.Equal(base.Add(time.Duration(1+3*i)*time.Minute)) || p.SampleCount != 3 || p.Min != first || p.Max != first+2 || p.Sum != 3*first+3 {
			t.Errorf("period %d = %+v", i, p)
		}
	}
}

func testListMetrics(t *testing.T, s MetricStore) {
	data := []flinkplane.MetricDatum{
		datum("uptime", "a", 1, base), datum("numRestarts", "a", 0, base), datum("numRestarts", "b", 0, base.Add(-5*time.Hour)),
		{Name: "numRecordsInPerSecond", Dimensions: []flinkplane.Dimension{{Name: "Task", Value: "t1"}, {Name: "Application", Value: "a"}},
			Unit: flinkplane.UnitCountPerSecond, Value: 3, Time: base},
	}
	must(t, s.PutMetrics(ctx, "a", nil, data))
	names := func(ms []flinkplane.Metric) []string {
		var out []string
		for _, m := range ms {
			out = append(out, fmt.Sprintf("%s%v", m.Name, m.Dimensions))
		}
		return out
	}
	all, err := s.ListMetrics(ctx, flinkplane.MetricFilter{})
	must(t, err)
	want := []string{"numRecordsInPerSecond[{Application a} {Task t1}]", "numRestarts[{Application a}]", "numRestarts[{Application b}]", "uptime[{Application a}]"}
	if got := names(all); !reflect.DeepEqual(got, want) {
		t.Fatalf("all = %v, want %v", got, want)
	}
	if all[0].Unit != flinkplane.UnitCountPerSecond {
		t.Errorf("unit = %q", all[0].Unit)
	}
	byName, _ := s.ListMetrics(ctx, flinkplane.MetricFilter{Name: "numRestarts"})
	if got := names(byName); len(got) != 2 {
		t.Errorf("by name = %v", got)
	}
	byApp, _ := s.ListMetrics(ctx, flinkplane.MetricFilter{Dimensions: []flinkplane.DimensionFilter{{Name: "Application", Value: "a", HasValue: true}}})
	if got := names(byApp); len(got) != 3 {
		t.Errorf("by application = %v", got)
	}
	byTask, _ := s.ListMetrics(ctx, flinkplane.MetricFilter{Dimensions: []flinkplane.DimensionFilter{{Name: "Task"}}})
	if got := names(byTask); len(got) != 1 {
		t.Errorf("with a Task dimension = %v", got)
	}
	recent, _ := s.ListMetrics(ctx, flinkplane.MetricFilter{ActiveSince: base.Add(-3 * time.Hour)})
	if got := names(recent); len(got) != 3 {
		t.Errorf("recently active = %v", got)
	}
	// Paging from a cursor.
	page, _ := s.ListMetrics(ctx, flinkplane.MetricFilter{Limit: 2})
	rest, _ := s.ListMetrics(ctx, flinkplane.MetricFilter{After: flinkplane.MetricCursor(page[1])})
	if got := append(names(page), names(rest)...); !reflect.DeepEqual(got, want) {
		t.Errorf("paged = %v", got)
	}
}

func testExpire(t *testing.T, s MetricStore) {
	// Two hours of one sample a minute, value = minute index.
	var data []flinkplane.MetricDatum
	for m := 0; m < 120; m++ {
		data = append(data, datum("m", "a", float64(m), base.Add(time.Duration(m)*time.Minute)))
	}
	data = append(data, datum("gone", "a", 1, base))
	must(t, s.PutMetrics(ctx, "a", nil, data))
	// Keep minutes from 1h30 on (rounded down to 1h: the first hour rolls
	// up), hours from 0h on.
	n, err := s.ExpireMetrics(ctx, base.Add(90*time.Minute), base)
	must(t, err)
	if n != 61 { // 60 minutes of m, one of gone
		t.Errorf("removed %d minute points, want 61", n)
	}
	hourly, err := s.MetricStatistics(ctx, query("m", "a", base, base.Add(2*time.Hour), time.Hour))
	must(t, err)
	want := []flinkplane.MetricStats{
		{Time: base, SampleCount: 60, Sum: 59 * 60 / 2, Min: 0, Max: 59, Unit: flinkplane.UnitCount},
		{Time: base.Add(time.Hour), SampleCount: 60, Sum: (60 + 119) * 60 / 2, Min: 60, Max: 119, Unit: flinkplane.UnitCount},
	}
	if !reflect.DeepEqual(hourly, want) {
		t.Fatalf("after roll-up, hourly:\n got %+v\nwant %+v", hourly, want)
	}
	// A period finer than an hour sees only the minutes kept.
	minutes, _ := s.MetricStatistics(ctx, query("m", "a", base, base.Add(2*time.Hour), time.Minute))
	if len(minutes) != 60 || !minutes[0].Time.Equal(base.Add(time.Hour)) {
		t.Fatalf("minutes after roll-up: %d, first %v", len(minutes), minutes[0].Time)
	}
	// Drop everything before 2h: the series without points disappears.
	_, err = s.ExpireMetrics(ctx, base.Add(3*time.Hour), base.Add(3*time.Hour))
	must(t, err)
	all, _ := s.ListMetrics(ctx, flinkplane.MetricFilter{})
	if len(all) != 0 {
		t.Fatalf("metrics left: %+v", all)
	}
}

func testLogEvents(t *testing.T, s MetricStore) {
	if _, err := s.LogEvents(ctx, flinkplane.LogQuery{Group: "none"}); flinkplane.ErrorCode(err) != flinkplane.ENOTFOUND {
		t.Fatalf("unknown group: %v", err)
	}
	ev := func(sec int, msg string) flinkplane.LogEvent {
		return flinkplane.LogEvent{Time: base.Add(time.Duration(sec) * time.Second), Message: msg}
	}
	// Stored out of time order across two calls and two streams.
	must(t, s.PutLogEvents(ctx, "g", "jm", []flinkplane.LogEvent{ev(1, "a"), ev(3, "c")}, map[string]string{"jm.log": "100"}))
	must(t, s.PutLogEvents(ctx, "g", "tm", []flinkplane.LogEvent{ev(2, "b"), ev(3, "c2"), ev(5, "e")}, nil))
	msgs := func(es []flinkplane.LogEvent) string {
		var out string
		for _, e := range es {
			out += e.Message + " "
		}
		return out
	}
	all, err := s.LogEvents(ctx, flinkplane.LogQuery{Group: "g"})
	must(t, err)
	if got := msgs(all); got != "a b c c2 e " {
		t.Fatalf("all = %q", got)
	}
	jm, _ := s.LogEvents(ctx, flinkplane.LogQuery{Group: "g", Streams: []string{"jm"}})
	if got := msgs(jm); got != "a c " {
		t.Errorf("jm = %q", got)
	}
	pre, _ := s.LogEvents(ctx, flinkplane.LogQuery{Group: "g", Prefix: "t"})
	if got := msgs(pre); got != "b c2 e " {
		t.Errorf("prefix t = %q", got)
	}
	win, _ := s.LogEvents(ctx, flinkplane.LogQuery{Group: "g", Start: base.Add(2 * time.Second), End: base.Add(5 * time.Second)})
	if got := msgs(win); got != "b c c2 " {
		t.Errorf("window = %q", got)
	}
	// Paging forward and backward by position.
	p1, _ := s.LogEvents(ctx, flinkplane.LogQuery{Group: "g", Limit: 2})
	last := p1[len(p1)-1]
	p2, _ := s.LogEvents(ctx, flinkplane.LogQuery{Group: "g", After: flinkplane.LogPosition{Time: last.Time, ID: last.ID}, Limit: 2})
	if got := msgs(p1) + msgs(p2); got != "a b c c2 " {
		t.Errorf("forward pages = %q", got)
	}
	back, _ := s.LogEvents(ctx, flinkplane.LogQuery{Group: "g", Backward: true, Limit: 2})
	if got := msgs(back); got != "e c2 " {
		t.Errorf("newest first = %q", got)
	}
	back2, _ := s.LogEvents(ctx, flinkplane.LogQuery{Group: "g", Backward: true, Before: flinkplane.LogPosition{Time: back[1].Time, ID: back[1].ID}, Limit: 10})
	if got := msgs(back2); got != "c b a " {
		t.Errorf("before c2 = %q", got)
	}
	if v, _ := s.LogCursor(ctx, "jm.log"); v != "100" {
		t.Errorf("cursor = %q", v)
	}
	if v, _ := s.LogCursor(ctx, "none"); v != "" {
		t.Errorf("unset cursor = %q", v)
	}
	streams, err := s.LogStreams(ctx, "g", "", "", 0)
	must(t, err)
	if len(streams) != 2 || streams[0].Name != "jm" || !streams[0].FirstEvent.Equal(base.Add(time.Second)) ||
		!streams[0].LastEvent.Equal(base.Add(3*time.Second)) || streams[1].StoredBytes != 4 {
		t.Errorf("streams = %+v", streams)
	}
	n, err := s.ExpireLogEvents(ctx, base.Add(3*time.Second))
	must(t, err)
	if n != 2 {
		t.Errorf("expired %d, want 2", n)
	}
}

func testLogGroups(t *testing.T, s MetricStore) {
	must(t, s.CreateLogGroup(ctx, "/aws/kinesis-analytics/b", base))
	must(t, s.CreateLogGroup(ctx, "/aws/kinesis-analytics/a", base))
	must(t, s.CreateLogGroup(ctx, "other", base))
	if err := s.CreateLogGroup(ctx, "other", base); flinkplane.ErrorCode(err) != flinkplane.EINUSE {
		t.Errorf("duplicate group: %v", err)
	}
	if err := s.CreateLogStream(ctx, "nope", "s", base); flinkplane.ErrorCode(err) != flinkplane.ENOTFOUND {
		t.Errorf("stream of unknown group: %v", err)
	}
	must(t, s.CreateLogStream(ctx, "other", "s", base))
	if err := s.CreateLogStream(ctx, "other", "s", base); flinkplane.ErrorCode(err) != flinkplane.EINUSE {
		t.Errorf("duplicate stream: %v", err)
	}
	gs, err := s.LogGroups(ctx, "/aws/", "", 0)
	must(t, err)
	if len(gs) != 2 || gs[0].Name != "/aws/kinesis-analytics/a" || !gs[0].CreateTime.Equal(base) {
		t.Errorf("groups = %+v", gs)
	}
	gs, _ = s.LogGroups(ctx, "", "/aws/kinesis-analytics/b", 1)
	if len(gs) != 1 || gs[0].Name != "other" {
		t.Errorf("groups after b = %+v", gs)
	}
	if _, err := s.LogStreams(ctx, "nope", "", "", 0); flinkplane.ErrorCode(err) != flinkplane.ENOTFOUND {
		t.Errorf("streams of unknown group: %v", err)
	}
	ss, _ := s.LogStreams(ctx, "other", "", "", 0)
	if len(ss) != 1 || ss[0].Name != "s" || !ss[0].LastEvent.IsZero() {
		t.Errorf("streams = %+v", ss)
	}
}
