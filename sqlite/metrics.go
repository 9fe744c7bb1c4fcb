package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/internal/storecore"
)

// metricsMigration adds the metric and log tables (metrics.go, logs.go).
// Metric data points are statistic sets per series and minute (res 60) or,
// once rolled up, per hour (res 3600); a series is a metric name with its
// canonical dimension set (flinkplane.DimensionKey). Log events live in one
// table per the whole server, ordered by their id.
const metricsMigration = `
	CREATE TABLE metric_series (
		id   INTEGER PRIMARY KEY,
		name TEXT NOT NULL,
		dims TEXT NOT NULL,
		app  TEXT NOT NULL,
		unit TEXT NOT NULL,
		last INTEGER NOT NULL,
		UNIQUE (name, dims)
	);
	CREATE INDEX metric_series_app ON metric_series (app);
	CREATE TABLE metric_points (
		series INTEGER NOT NULL,
		res    INTEGER NOT NULL,
		ts     INTEGER NOT NULL,
		n      INTEGER NOT NULL,
		sum    REAL NOT NULL,
		min    REAL NOT NULL,
		max    REAL NOT NULL,
		PRIMARY KEY (series, res, ts)
	) WITHOUT ROWID;
	CREATE TABLE metric_state (
		app  TEXT PRIMARY KEY,
		data TEXT NOT NULL
	);
	CREATE TABLE log_groups (
		name    TEXT PRIMARY KEY,
		created INTEGER NOT NULL
	);
	CREATE TABLE log_streams (
		grp         TEXT NOT NULL,
		name        TEXT NOT NULL,
		created     INTEGER NOT NULL,
		first_event INTEGER NOT NULL DEFAULT 0,
		last_event  INTEGER NOT NULL DEFAULT 0,
		last_ingest INTEGER NOT NULL DEFAULT 0,
		bytes       INTEGER NOT NULL DEFAULT 0,
		PRIMARY KEY (grp, name)
	);
	CREATE TABLE log_events (
		id      INTEGER PRIMARY KEY AUTOINCREMENT,
		grp     TEXT NOT NULL,
		stream  TEXT NOT NULL,
		ts      INTEGER NOT NULL,
		ingest  INTEGER NOT NULL,
		message TEXT NOT NULL
	);
	CREATE INDEX log_events_stream ON log_events (grp, stream, ts, id);
	CREATE INDEX log_events_time ON log_events (grp, ts, id);
	CREATE TABLE log_cursors (
		key   TEXT PRIMARY KEY,
		value TEXT NOT NULL
	);`

var _ flinkplane.MetricStore = (*DB)(nil)

// write runs fn in a transaction of the writer, batched and committed
// with the Store's Update transactions (writer.go).
func (db *DB) write(ctx context.Context, fn func(tx *sql.Tx) error) error {
	return db.writer.do(ctx, func(t flinkplane.Tx) error {
		return fn(t.(*tx).stx)
	}, false)
}

// PutMetrics merges data points into their minutes and replaces the
// application's state, in one transaction.
func (db *DB) PutMetrics(ctx context.Context, app string, state *flinkplane.MetricState, data []flinkplane.MetricDatum) error {
	return db.write(ctx, func(tx *sql.Tx) error {
		ids := map[string]int64{}
		for _, d := range data {
			dims := flinkplane.DimensionKey(d.Dimensions)
			key := storecore.SeriesKey(d.Name, dims)
			ts := d.Time.Unix()
			id, ok := ids[key]
			if !ok {
				if err := tx.QueryRowContext(ctx, `INSERT INTO metric_series (name, dims, app, unit, last) VALUES (?, ?, ?, ?, ?)
					ON CONFLICT (name, dims) DO UPDATE SET last = max(last, excluded.last), unit = excluded.unit
					RETURNING id`, d.Name, dims, storecore.DimensionValue(d.Dimensions, "Application"), storecore.UnitOrNone(d.Unit), ts).Scan(&id); err != nil {
					return fmt.Errorf("put metric series: %w", err)
				}
				ids[key] = id
			} else if _, err := tx.ExecContext(ctx, `UPDATE metric_series SET last = max(last, ?) WHERE id = ?`, ts, id); err != nil {
				return fmt.Errorf("put metric series: %w", err)
			}
			minute := ts - ts%storecore.ResMinute
			if _, err := tx.ExecContext(ctx, `INSERT INTO metric_points (series, res, ts, n, sum, min, max) VALUES (?, ?, ?, 1, ?, ?, ?)
				ON CONFLICT (series, res, ts) DO UPDATE SET n = n + 1, sum = sum + excluded.sum,
					min = min(min, excluded.min), max = max(max, excluded.max)`,
				id, storecore.ResMinute, minute, d.Value, d.Value, d.Value); err != nil {
				return fmt.Errorf("put metric point: %w", err)
			}
		}
		if state != nil {
			data, err := storecore.EncodeMetricState(state)
			if err != nil {
				return err
			}
			if _, err := tx.ExecContext(ctx, `INSERT INTO metric_state (app, data) VALUES (?, ?)
				ON CONFLICT (app) DO UPDATE SET data = excluded.data`, app, data); err != nil {
				return fmt.Errorf("put metric state: %w", err)
			}
		}
		return nil
	})
}

// MetricState returns an application's metric state, or nil.
func (db *DB) MetricState(ctx context.Context, app string) (*flinkplane.MetricState, error) {
	var data string
	err := db.r.QueryRowContext(ctx, `SELECT data FROM metric_state WHERE app = ?`, app).Scan(&data)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read metric state: %w", err)
	}
	return storecore.DecodeMetricState([]byte(data))
}

// MetricStatistics aggregates the points of one series per period from
// q.Start (storecore.ScanMetricStats).
func (db *DB) MetricStatistics(ctx context.Context, q flinkplane.MetricQuery) ([]flinkplane.MetricStats, error) {
	period, err := storecore.Period(q)
	if err != nil {
		return nil, err
	}
	var id int64
	var unit string
	err = db.r.QueryRowContext(ctx, `SELECT id, unit FROM metric_series WHERE name = ? AND dims = ?`,
		q.Name, flinkplane.DimensionKey(q.Dimensions)).Scan(&id, &unit)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("query metric: %w", err)
	}
	start, end := q.Start.Unix(), q.End.Unix()
	rows, err := db.r.QueryContext(ctx, `SELECT res, ts, n, sum, min, max FROM metric_points
		WHERE series = ? AND res IN (?, ?) AND ts >= ? AND ts < ? ORDER BY ts`, id, storecore.ResMinute, storecore.ResHour, start, end)
	if err != nil {
		return nil, fmt.Errorf("query metric: %w", err)
	}
	defer rows.Close()
	return storecore.ScanMetricStats(rows, start, period, unit)
}

// ListMetrics returns the series matching f, ordered by name then
// dimensions.
func (db *DB) ListMetrics(ctx context.Context, f flinkplane.MetricFilter) ([]flinkplane.Metric, error) {
	query := `SELECT name, dims, unit, last FROM metric_series WHERE (name || char(1) || dims) > ?`
	args := []any{f.After}
	if f.Name != "" {
		query += ` AND name = ?`
		args = append(args, f.Name)
	}
	if !f.ActiveSince.IsZero() {
		query += ` AND last >= ?`
		args = append(args, f.ActiveSince.Unix())
	}
	for _, d := range f.Dimensions {
		if d.Name == "Application" && d.HasValue {
			query += ` AND app = ?`
			args = append(args, d.Value)
		}
	}
	query += ` ORDER BY name || char(1) || dims`
	rows, err := db.r.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list metrics: %w", err)
	}
	defer rows.Close()
	return storecore.ScanMetrics(rows, f)
}

// ExpireMetrics rolls minute points older than minuteBefore (rounded down
// to the hour) into hour points, deletes points older than hourBefore, and
// series left without points.
func (db *DB) ExpireMetrics(ctx context.Context, minuteBefore, hourBefore time.Time) (int64, error) {
	x := storecore.MetricExpiry(minuteBefore, hourBefore)
	var removed int64
	err := db.write(ctx, func(tx *sql.Tx) error {
		if x.Roll {
			// Roll the minutes of each whole hour into one hour point.
			if _, err := tx.ExecContext(ctx, `INSERT INTO metric_points (series, res, ts, n, sum, min, max)
				SELECT series, ?, ts - ts % ?, sum(n), sum(sum), min(min), max(max) FROM metric_points
				WHERE res = ? AND ts < ? AND ts >= ? GROUP BY series, ts - ts % ?
				ON CONFLICT (series, res, ts) DO UPDATE SET n = n + excluded.n, sum = sum + excluded.sum,
					min = min(min, excluded.min), max = max(max, excluded.max)`,
				storecore.ResHour, storecore.ResHour, storecore.ResMinute, x.MinuteCut, x.RollFrom, storecore.ResHour); err != nil {
				return fmt.Errorf("roll up metrics: %w", err)
			}
		}
		r, err := tx.ExecContext(ctx, `DELETE FROM metric_points WHERE res = ? AND ts < ?`, storecore.ResMinute, x.MinuteCut)
		if err != nil {
			return fmt.Errorf("expire metrics: %w", err)
		}
		removed, _ = r.RowsAffected()
		if _, err := tx.ExecContext(ctx, `DELETE FROM metric_points WHERE res = ? AND ts < ?`, storecore.ResHour, x.HourCut); err != nil {
			return fmt.Errorf("expire metrics: %w", err)
		}
		if _, err := tx.ExecContext(ctx, `DELETE FROM metric_series WHERE NOT EXISTS
			(SELECT 1 FROM metric_points p WHERE p.series = metric_series.id)`); err != nil {
			return fmt.Errorf("expire metric series: %w", err)
		}
		return nil
	})
	return removed, err
}

// MetricStorage reports the number of minute and hour points and the
// database pages they use (for the storage cost figures of docs/metrics.md).
func (db *DB) MetricStorage(ctx context.Context) (minutes, hours int64, err error) {
	rows, err := db.r.QueryContext(ctx, `SELECT res, count(*) FROM metric_points GROUP BY res`)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	return storecore.ScanPointCounts(rows)
}
