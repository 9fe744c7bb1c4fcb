package storecore

import (
	"time"

	"github.com/flinkplane/flinkplane"
)

// MS is t in Unix milliseconds, 0 for the zero time.
func MS(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

// FromMS is the time of Unix milliseconds v, the zero time for 0.
func FromMS(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v).UTC()
}

// LogGroupExists is the EINUSE of creating a log group that exists.
func LogGroupExists() error {
	return flinkplane.Errorf(flinkplane.EINUSE, "The specified log group already exists")
}

// LogStreamExists is the EINUSE of creating a log stream that exists.
func LogStreamExists() error {
	return flinkplane.Errorf(flinkplane.EINUSE, "The specified log stream already exists")
}

// LogGroupNotFound is the ENOTFOUND of a missing log group.
func LogGroupNotFound() error {
	return flinkplane.Errorf(flinkplane.ENOTFOUND, "The specified log group does not exist.")
}

// StreamSpan is what a batch of events adds to its stream's row: the first
// and last event times and the last ingestion time (Unix milliseconds),
// and the bytes of the messages.
type StreamSpan struct {
	First, Last, Ingest, Bytes int64
}

// Add counts e and returns its time and ingestion time in Unix
// milliseconds; an event without an ingestion time is ingested now.
func (s *StreamSpan) Add(e flinkplane.LogEvent, now time.Time) (ts, ingest int64) {
	ts, ingest = MS(e.Time), MS(e.Ingestion)
	if ingest == 0 {
		ingest = MS(now)
	}
	if s.First == 0 || ts < s.First {
		s.First = ts
	}
	s.Last, s.Ingest = max(s.Last, ts), max(s.Ingest, ingest)
	s.Bytes += int64(len(e.Message))
	return ts, ingest
}

// ScanLogGroups returns the groups of rows (name, created, stored bytes).
func ScanLogGroups(rows Rows) ([]flinkplane.LogGroup, error) {
	var out []flinkplane.LogGroup
	for rows.Next() {
		var g flinkplane.LogGroup
		var created int64
		if err := rows.Scan(&g.Name, &created, &g.StoredBytes); err != nil {
			return nil, err
		}
		g.CreateTime = FromMS(created)
		out = append(out, g)
	}
	return out, rows.Err()
}

// ScanLogStreams returns the streams of group in rows (name, created,
// first event, last event, last ingestion, stored bytes).
func ScanLogStreams(rows Rows, group string) ([]flinkplane.LogStream, error) {
	var out []flinkplane.LogStream
	for rows.Next() {
		s := flinkplane.LogStream{Group: group}
		var created, first, last, ingest int64
		if err := rows.Scan(&s.Name, &created, &first, &last, &ingest, &s.StoredBytes); err != nil {
			return nil, err
		}
		s.CreateTime, s.FirstEvent, s.LastEvent, s.LastIngestion = FromMS(created), FromMS(first), FromMS(last), FromMS(ingest)
		out = append(out, s)
	}
	return out, rows.Err()
}

// ScanLogEvents returns the events of rows (id, stream, ts, ingest,
// message).
func ScanLogEvents(rows Rows) ([]flinkplane.LogEvent, error) {
	var out []flinkplane.LogEvent
	for rows.Next() {
		var e flinkplane.LogEvent
		var ts, in int64
		if err := rows.Scan(&e.ID, &e.Stream, &ts, &in, &e.Message); err != nil {
			return nil, err
		}
		e.Time, e.Ingestion = time.UnixMilli(ts).UTC(), time.UnixMilli(in).UTC()
		out = append(out, e)
	}
	return out, rows.Err()
}
