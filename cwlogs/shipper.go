package cwlogs

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flinkplane/flinkplane"
)

// Shipper delivers the logs of applications that have a CloudWatch logging
// option into the log group and stream its LogStreamARN names: every
// JobManager and TaskManager log line (with its stack trace) at or above
// the application's MonitoringConfiguration LogLevel, from the clusters
// the application ran on since the option was added, and the entries of
// its job's exception history (DeliverExceptions). Each line is stored
// once: the read position of every file is kept with the events in one
// transaction. The group and stream are created when missing.
type Shipper struct {
	Store flinkplane.Store
	Logs  flinkplane.LogStore
	// Reader reads the clusters' log files (the driver).
	Reader flinkplane.LogReader
	// Levels, if set, sets each cluster's log level to the application's
	// LogLevel, so that DEBUG lines exist when asked for.
	Levels flinkplane.LogLevelSetter
	// Interval is the pause between two delivery passes; Retention how
	// long events are kept.
	Interval  time.Duration
	Retention time.Duration
	Now       func() time.Time
	Logger    *slog.Logger
	// Location is the time zone of the log lines' timestamps (the JVMs'
	// default time zone; default time.Local).
	Location *time.Location
	// Drives, if set, says which applications this server ships the logs
	// of: with several replicas, the holder of the application's lease
	// only (nil: all).
	Drives func(app string) bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
	mu     sync.Mutex // one pass at a time
}

// Defaults of a Shipper.
const (
	DefaultInterval  = 5 * time.Second
	DefaultRetention = 30 * 24 * time.Hour
	// readChunk is how much of a log file one pass reads.
	readChunk = 1 << 20
	// maxEventSize is CloudWatch Logs' limit for one event.
	maxEventSize = 256 << 10
)

// NewShipper returns a shipper with default settings.
func NewShipper(store flinkplane.Store, logs flinkplane.LogStore, reader flinkplane.LogReader) *Shipper {
	return &Shipper{Store: store, Logs: logs, Reader: reader, Interval: DefaultInterval, Retention: DefaultRetention,
		Now: time.Now, Logger: slog.Default(), Location: time.Local}
}

// Open starts the delivery loop.
func (s *Shipper) Open() error {
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.wg.Add(1)
	go s.monitorDelivery(s.ctx)
	return nil
}

// Close stops the delivery loop.
func (s *Shipper) Close() error {
	if s.cancel != nil {
		s.cancel()
	}
	s.wg.Wait()
	return nil
}

func (s *Shipper) monitorDelivery(ctx context.Context) {
	defer s.wg.Done()
	lastExpire := time.Time{}
	for {
		if err := s.Deliver(ctx); err != nil && ctx.Err() == nil {
			s.Logger.Error("cannot deliver logs, retrying", "error", err)
		}
		if now := s.Now(); now.Sub(lastExpire) > time.Hour && s.Retention > 0 {
			if _, err := s.Logs.ExpireLogEvents(ctx, now.Add(-s.Retention)); err != nil && ctx.Err() == nil {
				s.Logger.Error("cannot expire log events, retrying", "error", err)
			} else {
				lastExpire = now
			}
		}
		t := time.NewTimer(s.Interval)
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// destination is one log stream an application delivers to.
type destination struct {
	group, stream string
	since         time.Time // when the option was added
}

// target is an application with its logging destinations.
type target struct {
	app      *flinkplane.Application
	level    string
	version  int64
	dests    []destination
	clusters []flinkplane.ClusterHandle
}

// targets lists the applications with logging options.
func (s *Shipper) targets(ctx context.Context) ([]target, error) {
	var out []target
	err := s.Store.View(ctx, func(tx flinkplane.Tx) error {
		after := ""
		for {
			page, err := tx.Applications(after, 500)
			if err != nil {
				return err
			}
			for _, app := range page {
				if s.Drives != nil && !s.Drives(app.Name) {
					continue
				}
				t, ok, err := s.target(tx, app)
				if err != nil {
					return err
				}
				if ok {
					out = append(out, t)
				}
			}
			if len(page) < 500 {
				return nil
			}
			after = page[len(page)-1].Name
		}
	})
	return out, err
}

func (s *Shipper) target(tx flinkplane.Tx, app *flinkplane.Application) (target, bool, error) {
	v, err := tx.Version(app.Name, app.VersionID)
	if flinkplane.ErrorCode(err) == flinkplane.ENOTFOUND {
		return target{}, false, nil
	} else if err != nil {
		return target{}, false, err
	}
	t := target{app: app, level: logLevel(v.Config.Monitoring), version: app.VersionID}
	if app.RunningVersionID > 0 {
		t.version = app.RunningVersionID
	}
	for _, o := range v.Config.CloudWatchLogging {
		g, st, ok := flinkplane.ParseLogStreamARN(o.LogStreamARN)
		if !ok {
			continue
		}
		d := destination{group: g, stream: st, since: v.CreateTime}
		// The option dates from the oldest of the consecutive versions
		// that have it.
		for id := app.VersionID - 1; id > 0; id-- {
			pv, err := tx.Version(app.Name, id)
			if err != nil || !hasOption(pv.Config, o.LogStreamARN) {
				break
			}
			d.since = pv.CreateTime
		}
		t.dests = append(t.dests, d)
	}
	if len(t.dests) == 0 {
		return t, false, nil
	}
	since := t.dests[0].since
	for _, d := range t.dests {
		if d.since.Before(since) {
			since = d.since
		}
	}
	seen := map[string]bool{}
	if app.Cluster != nil {
		t.clusters = append(t.clusters, *app.Cluster)
		seen[app.Cluster.ID] = true
	}
	ops, err := tx.Operations(app.Name, flinkplane.OperationFilter{})
	if err != nil {
		return t, false, err
	}
	for _, op := range ops {
		if op.Cluster == nil || seen[op.Cluster.ID] {
			continue
		}
		if !op.EndTime.IsZero() && op.EndTime.Before(since) && op.Kind != flinkplane.OpStartApplication {
			continue
		}
		seen[op.Cluster.ID] = true
		t.clusters = append(t.clusters, *op.Cluster)
	}
	return t, true, nil
}

func hasOption(c flinkplane.ApplicationConfig, arn string) bool {
	for _, o := range c.CloudWatchLogging {
		if o.LogStreamARN == arn {
			return true
		}
	}
	return false
}

// logLevel is the LogLevel in effect (INFO for the DEFAULT configuration).
func logLevel(m flinkplane.MonitoringConfig) string {
	if m.ConfigurationType == flinkplane.ConfigCustom && m.LogLevel != "" {
		return m.LogLevel
	}
	if m.LogLevel != "" && m.ConfigurationType == "" {
		return m.LogLevel
	}
	return "INFO"
}

var levelRank = map[string]int{"TRACE": 0, "DEBUG": 1, "INFO": 2, "WARN": 3, "ERROR": 4, "FATAL": 5}

// Deliver runs one delivery pass over every application with a logging
// option.
func (s *Shipper) Deliver(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	ts, err := s.targets(ctx)
	if err != nil {
		return fmt.Errorf("list applications: %w", err)
	}
	var errs []error
	for _, t := range ts {
		if s.Levels != nil && t.app.Cluster != nil {
			if err := s.Levels.SetLogLevel(ctx, *t.app.Cluster, t.level); err != nil && flinkplane.ErrorCode(err) != flinkplane.ENOTFOUND {
				s.Logger.Debug("cannot set the log level of a cluster", "application", t.app.Name, "error", err)
			}
		}
		for _, h := range t.clusters {
			files, err := s.Reader.Logs(ctx, h)
			if flinkplane.ErrorCode(err) == flinkplane.ENOTFOUND {
				continue
			} else if err != nil {
				errs = append(errs, fmt.Errorf("list logs of cluster %s: %w", h.ID, err))
				continue
			}
			sizes := map[string]int64{}
			for _, f := range files {
				sizes[f.Name] = f.Size
			}
			for _, f := range files {
				if !strings.HasSuffix(f.Name, ".log") {
					continue
				}
				for _, d := range t.dests {
					if err := s.deliverFile(ctx, t, d, h, f, sizes[f.Name+".1"]); err != nil {
						errs = append(errs, fmt.Errorf("deliver %s of cluster %s: %w", f.Name, h.ID, err))
					}
				}
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%d log files not delivered, first: %w", len(errs), errs[0])
	}
	return nil
}

// cursor is the delivery position in one log file: the offset of the first
// byte not delivered and the file's size at the previous pass (a file that
// did not grow gets its last entry delivered too).
type cursor struct {
	offset, lastSize int64
}

func parseCursor(v string) cursor {
	var c cursor
	a, b, _ := strings.Cut(v, " ")
	c.offset, _ = strconv.ParseInt(a, 10, 64)
	c.lastSize, _ = strconv.ParseInt(b, 10, 64)
	return c
}

func (c cursor) String() string { return fmt.Sprintf("%d %d", c.offset, c.lastSize) }

func (s *Shipper) deliverFile(ctx context.Context, t target, d destination, h flinkplane.ClusterHandle, f flinkplane.LogFile, rolledSize int64) error {
	key := "file\x00" + d.group + "\x00" + d.stream + "\x00" + h.ID + "\x00" + f.Name
	v, err := s.Logs.LogCursor(ctx, key)
	if err != nil {
		return err
	}
	c := parseCursor(v)
	var events []flinkplane.LogEvent
	if f.Size < c.offset {
		// Rolled over (log4j renamed it to .1): deliver the rest of the
		// old file, then start the new one from the beginning.
		if rolledSize > c.offset {
			b, err := s.Reader.ReadLog(ctx, h, f.Name+".1", c.offset, min(rolledSize-c.offset, readChunk))
			if err == nil {
				entries, _ := splitEntries(b, true)
				events = append(events, s.events(t, d, entries)...)
			}
		}
		c = cursor{}
	}
	if f.Size > c.offset {
		b, err := s.Reader.ReadLog(ctx, h, f.Name, c.offset, min(f.Size-c.offset, readChunk))
		if err != nil {
			return err
		}
		// The last entry may still grow (a stack trace being written):
		// keep it for the next pass unless the file stopped growing.
		final := f.Size == c.lastSize || int64(len(b)) == readChunk
		entries, used := splitEntries(b, final)
		events = append(events, s.events(t, d, entries)...)
		c.offset += int64(used)
	}
	if c.lastSize == f.Size && len(events) == 0 {
		return nil
	}
	c.lastSize = f.Size
	return s.Logs.PutLogEvents(ctx, d.group, d.stream, events, map[string]string{key: c.String()})
}

// entry is one log4j line with its continuation lines.
type entry struct {
	time   string
	level  string
	logger string
	thread string
	msg    string
	extra  []string
}

// lineRe parses flinkplane's log4j layout "%d %-5p %-60c %x - %m%n" (and
// the same with " [%t]" after the level).
var lineRe = regexp.MustCompile(`^(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2},\d{3}) +([A-Z]+) +(?:\[([^\]]*)\] +)?(\S+) +(?:\[[^\]]*\] +)?- ?(.*)$`)

// splitEntries splits complete lines into entries. Without final, the last
// entry is held back (its continuation lines may still come). used is the
// number of bytes consumed.
func splitEntries(b []byte, final bool) ([]entry, int) {
	var out []entry
	var cur *entry
	curStart := 0
	pos := 0
	for pos < len(b) {
		nl := bytes.IndexByte(b[pos:], '\n')
		if nl < 0 {
			break // an incomplete line
		}
		line := strings.TrimRight(string(b[pos:pos+nl]), "\r")
		if m := lineRe.FindStringSubmatch(line); m != nil {
			if cur != nil {
				out = append(out, *cur)
			}
			cur = &entry{time: m[1], level: m[2], thread: m[3], logger: m[4], msg: m[5]}
			curStart = pos
		} else if cur != nil {
			cur.extra = append(cur.extra, line)
		} else if strings.TrimSpace(line) != "" {
			out = append(out, entry{msg: line}) // output without the layout (stdout of a JVM)
			curStart = pos + nl + 1
		} else {
			curStart = pos + nl + 1
		}
		pos += nl + 1
	}
	if cur == nil {
		return out, pos
	}
	if final {
		return append(out, *cur), pos
	}
	return out, curStart
}

// logMessage is the JSON line the managed service writes to CloudWatch
// Logs (its fields sort alphabetically as encoding/json writes a map).
func logMessage(app *flinkplane.Application, version int64, level, logger, thread, msg string, throwable []string) string {
	m := map[string]any{
		"applicationARN":       app.ARN,
		"applicationVersionId": strconv.FormatInt(version, 10),
		"logger":               logger,
		"message":              msg,
		"messageSchemaVersion": "1",
		"messageType":          level,
	}
	if thread != "" {
		m["threadName"] = thread
	}
	if len(throwable) > 0 {
		m["throwableInformation"] = throwable
	}
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	enc.Encode(m)
	out := strings.TrimSuffix(b.String(), "\n")
	if len(out) > maxEventSize {
		out = out[:maxEventSize]
	}
	return out
}

// events turns entries into log events for a destination: entries below
// the level or before the option was added are left out.
func (s *Shipper) events(t target, d destination, entries []entry) []flinkplane.LogEvent {
	loc := s.Location
	if loc == nil {
		loc = time.Local
	}
	min := levelRank[t.level]
	now := s.Now()
	var out []flinkplane.LogEvent
	for _, e := range entries {
		at := now
		if e.time != "" {
			if pt, err := time.ParseInLocation("2006-01-02 15:04:05,000", e.time, loc); err == nil {
				at = pt
			}
		}
		if at.Before(d.since.Add(-time.Second)) {
			continue
		}
		level := e.level
		if level == "" {
			level = "INFO"
		}
		if r, ok := levelRank[level]; ok && r < min {
			continue
		}
		msg, throwable := e.msg, []string(nil)
		if len(e.extra) > 0 {
			if isStackTrace(e.extra) {
				throwable = e.extra
			} else {
				msg += "\n" + strings.Join(e.extra, "\n")
			}
		}
		out = append(out, flinkplane.LogEvent{Time: at, Ingestion: now, Message: logMessage(t.app, t.version, level, e.logger, e.thread, msg, throwable)})
	}
	return out
}

func isStackTrace(lines []string) bool {
	for _, l := range lines {
		if strings.HasPrefix(l, "\tat ") || strings.HasPrefix(l, "Caused by: ") || strings.HasPrefix(strings.TrimSpace(l), "at ") {
			return true
		}
	}
	return false
}

// exceptionLogger is the logger name of exception history events.
const exceptionLogger = "org.apache.flink.runtime.scheduler.exceptionhistory.RootExceptionHistoryEntry"

// DeliverExceptions delivers entries of a job's exception history to the
// application's log streams as ERROR events, each once (the newest time
// delivered is kept per stream). It is the metrics Collector's
// OnExceptions hook.
func (s *Shipper) DeliverExceptions(ctx context.Context, app *flinkplane.Application, exs []flinkplane.JobException) {
	var t target
	var ok bool
	if err := s.Store.View(ctx, func(tx flinkplane.Tx) error {
		cur, err := tx.Application(app.Name)
		if err != nil {
			return err
		}
		t, ok, err = s.target(tx, cur)
		return err
	}); err != nil || !ok {
		return
	}
	for _, d := range t.dests {
		key := "exceptions\x00" + d.group + "\x00" + d.stream + "\x00" + app.ID
		v, err := s.Logs.LogCursor(ctx, key)
		if err != nil {
			s.Logger.Error("cannot deliver exceptions", "application", app.Name, "error", err)
			continue
		}
		last, _ := strconv.ParseInt(v, 10, 64)
		var events []flinkplane.LogEvent
		newest := last
		for _, e := range exs {
			ms := e.Time.UnixMilli()
			if ms <= last || e.Time.Before(d.since) {
				continue
			}
			newest = max(newest, ms)
			lines := strings.Split(strings.TrimRight(e.Stacktrace, "\n"), "\n")
			first := strings.TrimSpace(lines[0])
			if first == "" {
				first = e.Name
			}
			msg := fmt.Sprintf("Job %s failed: %s", app.JobID, first)
			if e.Task != "" {
				msg += " (task " + e.Task
				if e.Endpoint != "" {
					msg += " at " + e.Endpoint
				}
				msg += ")"
			}
			events = append(events, flinkplane.LogEvent{Time: e.Time, Ingestion: s.Now(),
				Message: logMessage(t.app, t.version, "ERROR", exceptionLogger, "", msg, lines[1:])})
		}
		if len(events) == 0 {
			continue
		}
		if err := s.Logs.PutLogEvents(ctx, d.group, d.stream, events, map[string]string{key: strconv.FormatInt(newest, 10)}); err != nil {
			s.Logger.Error("cannot deliver exceptions", "application", app.Name, "error", err)
		}
	}
}
