package storecore

import (
	"strings"

	"github.com/flinkplane/flinkplane"
)

// Dialect spells the parts of the queries built here that differ between
// SQL dialects.
type Dialect struct {
	// Mark is the marker of the n-th argument (from 1): "?" or "$n".
	Mark func(n int) string
	// In is the condition that col is one of vs.
	In func(q *Query, col string, vs []string) string
	// HasPrefix is the condition that col starts with prefix.
	HasPrefix func(q *Query, col, prefix string) string
	// Int is the marker of an integer argument in a row value.
	Int func(q *Query, v int64) string
	// Limit is the argument of a LIMIT: no limit for limit <= 0.
	Limit func(limit int) any
}

// Query gathers the arguments of a query being built.
type Query struct {
	d    *Dialect
	Args []any
}

// Arg adds an argument and returns its marker.
func (q *Query) Arg(v any) string {
	q.Args = append(q.Args, v)
	return q.d.Mark(len(q.Args))
}

// LogEventsQuery returns the SELECT of LogStore.LogEvents for q (id,
// stream, ts, ingest, message, as ScanLogEvents reads them) and its
// arguments: the group's events of the named streams or of the streams
// with the prefix, in [Start, End), after the page's position in (time,
// id) order or, backwards, before it in the reverse order, up to Limit.
func LogEventsQuery(q flinkplane.LogQuery, d *Dialect) (string, []any) {
	b := &Query{d: d}
	where := []string{"grp = " + b.Arg(q.Group)}
	if len(q.Streams) > 0 {
		where = append(where, d.In(b, "stream", q.Streams))
	} else if q.Prefix != "" {
		where = append(where, d.HasPrefix(b, "stream", q.Prefix))
	}
	if !q.Start.IsZero() {
		where = append(where, "ts >= "+b.Arg(q.Start.UnixMilli()))
	}
	if !q.End.IsZero() {
		where = append(where, "ts < "+b.Arg(q.End.UnixMilli()))
	}
	order := "ts, id"
	if q.Backward {
		order = "ts DESC, id DESC"
		if !q.Before.IsZero() {
			where = append(where, "(ts, id) < ("+d.Int(b, MS(q.Before.Time))+", "+d.Int(b, q.Before.ID)+")")
		}
	} else if !q.After.IsZero() {
		where = append(where, "(ts, id) > ("+d.Int(b, MS(q.After.Time))+", "+d.Int(b, q.After.ID)+")")
	}
	query := "SELECT id, stream, ts, ingest, message FROM log_events WHERE " + strings.Join(where, " AND ") +
		" ORDER BY " + order + " LIMIT " + b.Arg(d.Limit(q.Limit))
	return query, b.Args
}
