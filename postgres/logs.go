package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/internal/storecore"
)

// CloudWatch Logs groups, streams, events and delivery cursors, as in
// sqlite/logs.go.

// text makes s storable in a PostgreSQL text column, which holds neither
// NUL bytes nor invalid UTF-8 (SQLite's holds any bytes): both become
// U+FFFD. Log lines read from files are the only text that may carry them.
func text(s string) string {
	if strings.IndexByte(s, 0) >= 0 {
		s = strings.ReplaceAll(s, "\x00", "\uFFFD")
	}
	return strings.ToValidUTF8(s, "\uFFFD")
}

// CreateLogGroup creates a log group; EINUSE if it exists.
func (db *DB) CreateLogGroup(ctx context.Context, name string, at time.Time) error {
	return db.write(ctx, func(ctx context.Context, q pgx.Tx) error {
		tag, err := q.Exec(ctx, `INSERT INTO log_groups (name, created) VALUES ($1, $2) ON CONFLICT DO NOTHING`, name, storecore.MS(at))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return storecore.LogGroupExists()
		}
		return nil
	})
}

// CreateLogStream creates a log stream; EINUSE if it exists, ENOTFOUND
// without its group.
func (db *DB) CreateLogStream(ctx context.Context, group, stream string, at time.Time) error {
	return db.write(ctx, func(ctx context.Context, q pgx.Tx) error {
		if err := groupExists(ctx, q, group); err != nil {
			return err
		}
		tag, err := q.Exec(ctx, `INSERT INTO log_streams (grp, name, created) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, group, stream, storecore.MS(at))
		if err != nil {
			return err
		}
		if tag.RowsAffected() == 0 {
			return storecore.LogStreamExists()
		}
		return nil
	})
}

type rowQuerier interface {
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
}

func groupExists(ctx context.Context, q rowQuerier, group string) error {
	var n int64
	if err := q.QueryRow(ctx, `SELECT count(*) FROM log_groups WHERE name = $1`, group).Scan(&n); err != nil {
		return err
	}
	if n == 0 {
		return storecore.LogGroupNotFound()
	}
	return nil
}

// LogGroups lists log groups by name.
func (db *DB) LogGroups(ctx context.Context, prefix, after string, limit int) ([]flinkplane.LogGroup, error) {
	rows, err := db.pool.Query(ctx, `SELECT g.name, g.created, coalesce((SELECT sum(bytes) FROM log_streams s WHERE s.grp = g.name), 0)::bigint
		FROM log_groups g WHERE g.name > $1 AND starts_with(g.name, $2) ORDER BY g.name LIMIT $3`,
		after, prefix, limitArg(limit))
	if err != nil {
		return nil, fmt.Errorf("list log groups: %w", err)
	}
	defer rows.Close()
	return storecore.ScanLogGroups(rows)
}

// LogStreams lists a group's streams by name.
func (db *DB) LogStreams(ctx context.Context, group, prefix, after string, limit int) ([]flinkplane.LogStream, error) {
	if err := groupExists(ctx, db.pool, group); err != nil {
		return nil, err
	}
	rows, err := db.pool.Query(ctx, `SELECT name, created, first_event, last_event, last_ingest, bytes FROM log_streams
		WHERE grp = $1 AND name > $2 AND starts_with(name, $3) ORDER BY name LIMIT $4`,
		group, after, prefix, limitArg(limit))
	if err != nil {
		return nil, fmt.Errorf("list log streams: %w", err)
	}
	defer rows.Close()
	return storecore.ScanLogStreams(rows, group)
}

// PutLogEvents appends events to a stream (creating the group and stream
// if needed) and sets delivery cursors, in one transaction.
func (db *DB) PutLogEvents(ctx context.Context, group, stream string, events []flinkplane.LogEvent, cursors map[string]string) error {
	return db.write(ctx, func(ctx context.Context, q pgx.Tx) error {
		now := time.Now()
		if len(events) > 0 {
			if _, err := q.Exec(ctx, `INSERT INTO log_groups (name, created) VALUES ($1, $2) ON CONFLICT DO NOTHING`, group, storecore.MS(now)); err != nil {
				return fmt.Errorf("put log events: %w", err)
			}
			if _, err := q.Exec(ctx, `INSERT INTO log_streams (grp, name, created) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, group, stream, storecore.MS(now)); err != nil {
				return fmt.Errorf("put log events: %w", err)
			}
		}
		var span storecore.StreamSpan
		batch := &pgx.Batch{}
		for _, e := range events {
			ts, in := span.Add(e, now)
			batch.Queue(`INSERT INTO log_events (grp, stream, ts, ingest, message) VALUES ($1, $2, $3, $4, $5)`,
				group, stream, ts, in, text(e.Message))
		}
		if batch.Len() > 0 {
			if err := q.SendBatch(ctx, batch).Close(); err != nil {
				return fmt.Errorf("put log events: %w", err)
			}
		}
		if len(events) > 0 {
			if _, err := q.Exec(ctx, `UPDATE log_streams SET
				first_event = CASE WHEN first_event = 0 OR first_event > $1 THEN $1 ELSE first_event END,
				last_event = GREATEST(last_event, $2), last_ingest = GREATEST(last_ingest, $3), bytes = bytes + $4
				WHERE grp = $5 AND name = $6`, span.First, span.Last, span.Ingest, span.Bytes, group, stream); err != nil {
				return fmt.Errorf("put log events: %w", err)
			}
		}
		for _, k := range storecore.SortedKeys(cursors) {
			if _, err := q.Exec(ctx, `INSERT INTO log_cursors (key, value) VALUES ($1, $2)
				ON CONFLICT (key) DO UPDATE SET value = excluded.value`, k, cursors[k]); err != nil {
				return fmt.Errorf("put log cursor: %w", err)
			}
		}
		return nil
	})
}

// logDialect spells PostgreSQL's parts of storecore's queries.
var logDialect = &storecore.Dialect{
	Mark: func(n int) string { return "$" + strconv.Itoa(n) },
	In: func(q *storecore.Query, col string, vs []string) string {
		return col + " = ANY(" + q.Arg(vs) + "::text[])"
	},
	HasPrefix: func(q *storecore.Query, col, prefix string) string {
		return "starts_with(" + col + ", " + q.Arg(prefix) + ")"
	},
	Int:   func(q *storecore.Query, v int64) string { return q.Arg(v) + "::bigint" },
	Limit: limitArg,
}

// LogEvents returns the events of q in (time, id) order.
func (db *DB) LogEvents(ctx context.Context, q flinkplane.LogQuery) ([]flinkplane.LogEvent, error) {
	if err := groupExists(ctx, db.pool, q.Group); err != nil {
		return nil, err
	}
	query, args := storecore.LogEventsQuery(q, logDialect)
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("read log events: %w", err)
	}
	defer rows.Close()
	return storecore.ScanLogEvents(rows)
}

// LogCursor returns a delivery cursor, "" if unset.
func (db *DB) LogCursor(ctx context.Context, key string) (string, error) {
	var v string
	err := db.pool.QueryRow(ctx, `SELECT value FROM log_cursors WHERE key = $1`, key).Scan(&v)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", nil
	}
	return v, err
}

// ExpireLogEvents deletes events older than before.
func (db *DB) ExpireLogEvents(ctx context.Context, before time.Time) (int64, error) {
	var n int64
	err := db.write(ctx, func(ctx context.Context, q pgx.Tx) error {
		tag, err := q.Exec(ctx, `DELETE FROM log_events WHERE ts < $1`, before.UnixMilli())
		if err != nil {
			return fmt.Errorf("expire log events: %w", err)
		}
		n = tag.RowsAffected()
		return nil
	})
	return n, err
}
