package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/internal/storecore"
)

// Metric data points and their roll-up, as in sqlite/metrics.go.

// write runs fn in a serializable transaction (run again after a
// conflict, like Update).
func (db *DB) write(ctx context.Context, fn func(ctx context.Context, q pgx.Tx) error) error {
	return db.retry(ctx, func(ctx context.Context, ptx pgx.Tx) (*tx, error) {
		err := fn(ctx, ptx)
		if retryable(err) {
			return &tx{conflict: err}, err
		}
		return nil, err
	})
}

// PutMetrics merges data points into their minutes and replaces the
// application's state, in one transaction.
func (db *DB) PutMetrics(ctx context.Context, app string, state *flinkplane.MetricState, data []flinkplane.MetricDatum) error {
	return db.write(ctx, func(ctx context.Context, q pgx.Tx) error {
		ids := map[string]int64{}
		for _, d := range data {
			dims := flinkplane.DimensionKey(d.Dimensions)
			key := storecore.SeriesKey(d.Name, dims)
			ts := d.Time.Unix()
			id, ok := ids[key]
			if !ok {
				if err := q.QueryRow(ctx, `INSERT INTO metric_series AS s (name, dims, app, unit, last) VALUES ($1, $2, $3, $4, $5)
					ON CONFLICT (name, dims) DO UPDATE SET last = GREATEST(s.last, excluded.last), unit = excluded.unit
					RETURNING id`, d.Name, []byte(dims), storecore.DimensionValue(d.Dimensions, "Application"), storecore.UnitOrNone(d.Unit), ts).Scan(&id); err != nil {
					return fmt.Errorf("put metric series: %w", err)
				}
				ids[key] = id
			} else if _, err := q.Exec(ctx, `UPDATE metric_series SET last = GREATEST(last, $1) WHERE id = $2`, ts, id); err != nil {
				return fmt.Errorf("put metric series: %w", err)
			}
			minute := ts - ts%storecore.ResMinute
			if _, err := q.Exec(ctx, `INSERT INTO metric_points AS p (series, res, ts, n, sum, min, max) VALUES ($1, $2, $3, 1, $4, $4, $4)
				ON CONFLICT (series, res, ts) DO UPDATE SET n = p.n + 1, sum = p.sum + excluded.sum,
					min = LEAST(p.min, excluded.min), max = GREATEST(p.max, excluded.max)`,
				id, storecore.ResMinute, minute, d.Value); err != nil {
				return fmt.Errorf("put metric point: %w", err)
			}
		}
		if state != nil {
			data, err := storecore.EncodeMetricState(state)
			if err != nil {
				return err
			}
			if _, err := q.Exec(ctx, `INSERT INTO metric_state (app, data) VALUES ($1, $2)
				ON CONFLICT (app) DO UPDATE SET data = excluded.data`, app, data); err != nil {
				return fmt.Errorf("put metric state: %w", err)
			}
		}
		return nil
	})
}

// MetricState returns an application's metric state, or nil.
func (db *DB) MetricState(ctx context.Context, app string) (*flinkplane.MetricState, error) {
	var data []byte
	err := db.pool.QueryRow(ctx, `SELECT data FROM metric_state WHERE app = $1`, app).Scan(&data)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("read metric state: %w", err)
	}
	return storecore.DecodeMetricState(data)
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
	err = db.pool.QueryRow(ctx, `SELECT id, unit FROM metric_series WHERE name = $1 AND dims = $2`,
		q.Name, []byte(flinkplane.DimensionKey(q.Dimensions))).Scan(&id, &unit)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	} else if err != nil {
		return nil, fmt.Errorf("query metric: %w", err)
	}
	start, end := q.Start.Unix(), q.End.Unix()
	rows, err := db.pool.Query(ctx, `SELECT res, ts, n, sum, min, max FROM metric_points
		WHERE series = $1 AND res IN ($2, $3) AND ts >= $4 AND ts < $5 ORDER BY ts`, id, storecore.ResMinute, storecore.ResHour, start, end)
	if err != nil {
		return nil, fmt.Errorf("query metric: %w", err)
	}
	defer rows.Close()
	return storecore.ScanMetricStats(rows, start, period, unit)
}

// ListMetrics returns the series matching f, ordered by name then
// dimensions.
func (db *DB) ListMetrics(ctx context.Context, f flinkplane.MetricFilter) ([]flinkplane.Metric, error) {
	// The cursor (flinkplane.MetricCursor) holds NUL bytes: compared as
	// bytes.
	const key = `(convert_to(name, 'UTF8') || '\x01'::bytea || dims)`
	query := `SELECT name, dims, unit, last FROM metric_series WHERE ` + key + ` > $1`
	args := []any{[]byte(f.After)}
	if f.Name != "" {
		args = append(args, f.Name)
		query += fmt.Sprintf(` AND name = $%d`, len(args))
	}
	if !f.ActiveSince.IsZero() {
		args = append(args, f.ActiveSince.Unix())
		query += fmt.Sprintf(` AND last >= $%d`, len(args))
	}
	for _, d := range f.Dimensions {
		if d.Name == "Application" && d.HasValue {
			args = append(args, d.Value)
			query += fmt.Sprintf(` AND app = $%d`, len(args))
		}
	}
	query += ` ORDER BY ` + key
	rows, err := db.pool.Query(ctx, query, args...)
	if err != nil {
		return nil, fmt.Errorf("list metrics: %w", err)
	}
	defer rows.Close()
	return storecore.ScanMetrics(rows, f)
}

// ExpireMetrics rolls minute points older than minuteBefore (rounded down
// to the hour) into hour points, deletes points older than hourBefore, and
// series left without points. Replicas may run it at the same time: the
// transactions serialize, so no minute is rolled up twice.
func (db *DB) ExpireMetrics(ctx context.Context, minuteBefore, hourBefore time.Time) (int64, error) {
	x := storecore.MetricExpiry(minuteBefore, hourBefore)
	var removed int64
	err := db.write(ctx, func(ctx context.Context, q pgx.Tx) error {
		if x.Roll {
			if _, err := q.Exec(ctx, `INSERT INTO metric_points AS p (series, res, ts, n, sum, min, max)
				SELECT series, $1::integer, ts - ts % $5::bigint, sum(n), sum(sum), min(min), max(max) FROM metric_points
				WHERE res = $2 AND ts < $3 AND ts >= $4 GROUP BY series, ts - ts % $5::bigint
				ON CONFLICT (series, res, ts) DO UPDATE SET n = p.n + excluded.n, sum = p.sum + excluded.sum,
					min = LEAST(p.min, excluded.min), max = GREATEST(p.max, excluded.max)`,
				storecore.ResHour, storecore.ResMinute, x.MinuteCut, x.RollFrom, int64(storecore.ResHour)); err != nil {
				return fmt.Errorf("roll up metrics: %w", err)
			}
		}
		tag, err := q.Exec(ctx, `DELETE FROM metric_points WHERE res = $1 AND ts < $2`, storecore.ResMinute, x.MinuteCut)
		if err != nil {
			return fmt.Errorf("expire metrics: %w", err)
		}
		removed = tag.RowsAffected()
		if _, err := q.Exec(ctx, `DELETE FROM metric_points WHERE res = $1 AND ts < $2`, storecore.ResHour, x.HourCut); err != nil {
			return fmt.Errorf("expire metrics: %w", err)
		}
		if _, err := q.Exec(ctx, `DELETE FROM metric_series s WHERE NOT EXISTS
			(SELECT 1 FROM metric_points p WHERE p.series = s.id)`); err != nil {
			return fmt.Errorf("expire metric series: %w", err)
		}
		return nil
	})
	return removed, err
}

// MetricStorage reports the number of minute and hour points.
func (db *DB) MetricStorage(ctx context.Context) (minutes, hours int64, err error) {
	rows, err := db.pool.Query(ctx, `SELECT res, count(*) FROM metric_points GROUP BY res`)
	if err != nil {
		return 0, 0, err
	}
	defer rows.Close()
	return storecore.ScanPointCounts(rows)
}
