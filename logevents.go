package flinkplane

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// CloudWatch Logs: an application with a CloudWatch logging option has its
// JobManager and TaskManager log lines and its job's exception history
// delivered, as JSON lines in the managed service's format, into the log
// group and stream its LogStreamARN names. A LogStore keeps them; the
// CloudWatch Logs-compatible API reads it. See docs/metrics.md.

// LogGroup is a CloudWatch Logs log group.
type LogGroup struct {
	Name        string
	CreateTime  time.Time
	StoredBytes int64
}

// LogStream is a log stream of a group.
type LogStream struct {
	Group      string
	Name       string
	CreateTime time.Time
	// FirstEvent and LastEvent are the timestamps of its oldest and newest
	// events, LastIngestion the time the newest was stored (zero: none).
	FirstEvent    time.Time
	LastEvent     time.Time
	LastIngestion time.Time
	StoredBytes   int64
}

// LogEvent is one event of a stream. Events are ordered by Time, then by
// ID (the order they were stored).
type LogEvent struct {
	ID        int64
	Stream    string
	Time      time.Time
	Ingestion time.Time
	Message   string
}

// LogPosition is a position in the order of a group's events: by time,
// then by id.
type LogPosition struct {
	Time time.Time
	ID   int64
}

// IsZero reports whether p is unset.
func (p LogPosition) IsZero() bool { return p.ID == 0 && p.Time.IsZero() }

// LogQuery selects events of a group: of the named streams (empty: all) or
// of the streams whose name starts with Prefix, with Time in [Start, End)
// (zero: unbounded), strictly after After (or, with Backward, strictly
// before Before, newest first), at most Limit (0: no limit).
type LogQuery struct {
	Group    string
	Streams  []string
	Prefix   string
	Start    time.Time
	End      time.Time
	After    LogPosition
	Before   LogPosition
	Backward bool
	Limit    int
}

// LogStore keeps log groups, streams and events, and the delivery cursors
// of the log shipper (so that a line is stored exactly once).
type LogStore interface {
	// CreateLogGroup creates a group; EINUSE if it exists.
	CreateLogGroup(ctx context.Context, name string, at time.Time) error
	// CreateLogStream creates a stream; EINUSE if it exists, ENOTFOUND if
	// the group does not.
	CreateLogStream(ctx context.Context, group, stream string, at time.Time) error
	// LogGroups lists groups whose name starts with prefix, after `after`,
	// ordered by name.
	LogGroups(ctx context.Context, prefix, after string, limit int) ([]LogGroup, error)
	// LogStreams lists a group's streams whose name starts with prefix,
	// after `after`, ordered by name. ENOTFOUND for an unknown group.
	LogStreams(ctx context.Context, group, prefix, after string, limit int) ([]LogStream, error)
	// PutLogEvents appends events to a stream, creating the group and the
	// stream if needed, and sets the cursors given (key → value) in the
	// same transaction.
	PutLogEvents(ctx context.Context, group, stream string, events []LogEvent, cursors map[string]string) error
	// LogEvents returns events matching q, oldest first (newest first when
	// q.Backward). ENOTFOUND for an unknown group.
	LogEvents(ctx context.Context, q LogQuery) ([]LogEvent, error)
	// LogCursor returns a delivery cursor ("" if unset).
	LogCursor(ctx context.Context, key string) (string, error)
	// ExpireLogEvents deletes events older than before; returns how many.
	ExpireLogEvents(ctx context.Context, before time.Time) (int64, error)
}

// ParseLogStreamARN returns the log group and stream of a CloudWatch Logs
// log stream ARN: arn:PARTITION:logs:REGION:ACCOUNT:log-group:GROUP:log-stream:STREAM.
func ParseLogStreamARN(arn string) (group, stream string, ok bool) {
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || parts[2] != "logs" {
		return "", "", false
	}
	rest, found := strings.CutPrefix(parts[5], "log-group:")
	if !found {
		return "", "", false
	}
	i := strings.LastIndex(rest, ":log-stream:")
	if i <= 0 {
		return "", "", false
	}
	group, stream = rest[:i], rest[i+len(":log-stream:"):]
	if group == "" || stream == "" || strings.Contains(stream, ":") {
		return "", "", false
	}
	return group, stream, true
}

// LogLocation says where the log lines of an operation of app are, for a
// failed operation's ErrorInfo: the CloudWatch Logs group and stream of the
// application's first logging option, else the flinkplane logs command for
// the operation's cluster. It is short (at most 200 characters).
func LogLocation(app *Application, cfg ApplicationConfig, op *Operation) string {
	for _, o := range cfg.CloudWatchLogging {
		if g, s, ok := ParseLogStreamARN(o.LogStreamARN); ok {
			loc := fmt.Sprintf("Logs: aws logs filter-log-events --log-group-name %s --log-stream-names %s", g, s)
			if op != nil && !op.StartTime.IsZero() {
				loc += fmt.Sprintf(" --start-time %d", op.StartTime.UnixMilli())
			}
			if len(loc) <= 200 {
				return loc
			}
			return clipText(fmt.Sprintf("Logs: CloudWatch Logs group %s stream %s", g, s), 200)
		}
	}
	loc := "Logs: flinkplane logs --application-name " + app.Name
	if op != nil && op.Cluster != nil && op.Cluster.ID != "" {
		loc += " --cluster " + op.Cluster.ID
	}
	return clipText(loc, 200)
}

// WithLogLocation appends a LogLocation to an ErrorInfo string, shortening
// the message (not the location) so that the result stays within the
// API's 512 characters.
func WithLogLocation(info, loc string) string {
	if loc == "" {
		return info
	}
	const max = 512
	sep := " "
	if info != "" && !strings.HasSuffix(info, ".") {
		sep = ". "
	}
	room := max - len(loc) - len(sep)
	if room < 16 {
		return clipText(info, max)
	}
	if len(info) > room {
		info = info[:room-3] + "..."
	}
	return info + sep + loc
}

func clipText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}

// LogLevelSetter is implemented by a ClusterDriver that can change the log
// level of a running cluster's JVMs, so that MonitoringConfiguration's
// LogLevel decides which lines exist (DEBUG, INFO, WARN, ERROR). It is
// idempotent.
type LogLevelSetter interface {
	SetLogLevel(ctx context.Context, h ClusterHandle, level string) error
}
