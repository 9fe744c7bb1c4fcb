package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/internal/storecore"
)

var _ flinkplane.LogStore = (*DB)(nil)

// CreateLogGroup creates a log group; EINUSE if it exists.
func (db *DB) CreateLogGroup(ctx context.Context, name string, at time.Time) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		_, err := tx.ExecContext(ctx, `INSERT INTO log_groups (name, created) VALUES (?, ?)`, name, storecore.MS(at))
		if isUnique(err) {
			return storecore.LogGroupExists()
		}
		return err
	})
}

// CreateLogStream creates a log stream; EINUSE if it exists, ENOTFOUND
// without its group.
func (db *DB) CreateLogStream(ctx context.Context, group, stream string, at time.Time) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		if err := db.groupExists(ctx, tx, group); err != nil {
			return err
		}
		_, err := tx.ExecContext(ctx, `INSERT INTO log_streams (grp, name, created) VALUES (?, ?, ?)`, group, stream, storecore.MS(at))
		if isUnique(err) {
			return storecore.LogStreamExists()
		}
		return err
	})
}

// LogGroups lists log groups by name.
func (db *DB) LogGroups(ctx context.Context, prefix, after string, limit int) ([]flinkplane.LogGroup, error) {
	rows, err := db.r.QueryContext(ctx, `SELECT g.name, g.created, coalesce((SELECT sum(bytes) FROM log_streams s WHERE s.grp = g.name), 0)
		FROM log_groups g WHERE g.name > ? AND substr(g.name, 1, ?) = ? ORDER BY g.name LIMIT ?`,
		after, len(prefix), prefix, limitClause(limit))
	if err != nil {
		return nil, fmt.Errorf("list log groups: %w", err)
	}
	defer rows.Close()
	return storecore.ScanLogGroups(rows)
}

func (db *DB) groupExists(ctx context.Context, q querier, group string) error {
	var n int
	if err := q.QueryRowContext(ctx, `SELECT count(*) FROM log_groups WHERE name = ?`, group).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return storecore.LogGroupNotFound()
	}
	return nil
}

// LogStreams lists a group's streams by name.
func (db *DB) LogStreams(ctx context.Context, group, prefix, after string, limit int) ([]flinkplane.LogStream, error) {
	if err := db.groupExists(ctx, db.r, group); err != nil {
		return nil, err
	}
	rows, err := db.r.QueryContext(ctx, `SELECT name, created, first_event, last_event, last_ingest, bytes FROM log_streams
		WHERE grp = ? AND name > ? AND substr(name, 1, ?) = ? ORDER BY name LIMIT ?`,
		group, after, len(prefix), prefix, limitClause(limit))
	if err != nil {
		return nil, fmt.Errorf("list log streams: %w", err)
	}
	defer rows.Close()
	return storecore.ScanLogStreams(rows, group)
}

// PutLogEvents appends events to a stream (creating the group and stream
// if needed) and sets delivery cursors, in one transaction.
func (db *DB) PutLogEvents(ctx context.Context, group, stream string, events []flinkplane.LogEvent, cursors map[string]string) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		now := time.Now()
		if len(events) > 0 {
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO log_groups (name, created) VALUES (?, ?)`, group, storecore.MS(now)); err != nil {
				return fmt.Errorf("put log events: %w", err)
			}
			if _, err := tx.ExecContext(ctx, `INSERT OR IGNORE INTO log_streams (grp, name, created) VALUES (?, ?, ?)`, group, stream, storecore.MS(now)); err != nil {
				return fmt.Errorf("put log events: %w", err)
			}
		}
		var span storecore.StreamSpan
		for _, e := range events {
			ts, in := span.Add(e, now)
			if _, err := tx.ExecContext(ctx, `INSERT INTO log_events (grp, stream, ts, ingest, message) VALUES (?, ?, ?, ?, ?)`,
				group, stream, ts, in, e.Message); err != nil {
				return fmt.Errorf("put log events: %w", err)
			}
		}
		if len(events) > 0 {
			if _, err := tx.ExecContext(ctx, `UPDATE log_streams SET
				first_event = CASE WHEN first_event = 0 OR first_event > ? THEN ? ELSE first_event END,
				last_event = max(last_event, ?), last_ingest = max(last_ingest, ?), bytes = bytes + ?
				WHERE grp = ? AND name = ?`, span.First, span.First, span.Last, span.Ingest, span.Bytes, group, stream); err != nil {
				return fmt.Errorf("put log events: %w", err)
			}
		}
		for _, k := range storecore.SortedKeys(cursors) {
			if _, err := tx.ExecContext(ctx, `INSERT INTO log_cursors (key, value) VALUES (?, ?)
				ON CONFLICT (key) DO UPDATE SET value = excluded.value`, k, cursors[k]); err != nil {
				return fmt.Errorf("put log cursor: %w", err)
			}
		}
		return nil
	})
}

// logDialect spells SQLite's parts of storecore's queries.
var logDialect = &storecore.Dialect{
	Mark: func(int) string { return "?" },
	In: func(q *storecore.Query, col string, vs []string) string {
		marks := make([]string, len(vs))
		for i, v := range vs {
			marks[i] = q.Arg(v)
		}
		return col + " IN (" + strings.Join(marks, ",") + ")"
	},
	HasPrefix: func(q *storecore.Query, col, prefix string) string {
		return "substr(" + col + ", 1, " + q.Arg(len(prefix)) + ") = " + q.Arg(prefix)
	},
	Int:   func(q *storecore.Query, v int64) string { return q.Arg(v) },
	Limit: func(limit int) any { return limitClause(limit) },
}

// LogEvents returns the events of q in (time, id) order.
func (db *DB) LogEvents(ctx context.Context, q flinkplane.LogQuery) ([]flinkplane.LogEvent, error) {
	if err := db.groupExists(ctx, db.r, q.Group); err != nil {
		return nil, err
	}
	query, args := storecore.LogEventsQuery(q, logDialect)
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read log events: %w", err)
	}
	defer rows.Close()
	return storecore.ScanLogEvents(rows)
}

// LogCursor returns a delivery cursor, "" if unset.
func (db *DB) LogCursor(ctx context.Context, key string) (string, error) {
	var v string
	err := db.r.QueryRowContext(ctx, `SELECT value FROM log_cursors WHERE key = ?`, key).Scan(&v)
	if errors.Is(err, sql.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// ExpireLogEvents deletes events older than before.
func (db *DB) ExpireLogEvents(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		r, err := tx.ExecContext(ctx, `DELETE FROM log_events WHERE ts < ?`, before.UnixMilli())
		if err != nil {
			return fmt.Errorf("expire log events: %w", err)
		}
		n, _ = r.RowsAffected()
		return nil
	})
	return n, err
}
