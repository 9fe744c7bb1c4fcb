package postgres

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/internal/storecore"
)

// querier is a pool (reads) or a transaction (writes).
type querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

type tx struct {
	db       *DB
	ctx      context.Context
	q        querier
	readOnly bool
	// conflict is the first serialization failure a statement met: the
	// transaction runs again whatever fn returned.
	conflict error
	// notify holds the applications with an operation put IN_PROGRESS.
	notify map[string]bool
}

// check notes a conflict and wraps err.
func (t *tx) check(what string, err error) error {
	if err == nil {
		return nil
	}
	if retryable(err) && t.conflict == nil {
		t.conflict = err
	}
	return fmt.Errorf("%s: %w", what, err)
}

func (t *tx) writable() error {
	if t.readOnly {
		return errors.New("write in a read-only transaction")
	}
	return nil
}

func (t *tx) exec(what, query string, args ...any) (pgconn.CommandTag, error) {
	tag, err := t.q.Exec(t.ctx, query, args...)
	return tag, t.check(what, err)
}

// getJSON reads one record; notFound without it.
func getJSON[T any](t *tx, notFound error, query string, args ...any) (*T, error) {
	var data []byte
	if err := t.q.QueryRow(t.ctx, query, args...).Scan(&data); errors.Is(err, pgx.ErrNoRows) {
		return nil, notFound
	} else if err != nil {
		return nil, t.check("query", err)
	}
	return storecore.Decode[T](data)
}

func listJSON[T any](t *tx, query string, args ...any) ([]*T, error) {
	rows, err := t.q.Query(t.ctx, query, args...)
	if err != nil {
		return nil, t.check("query", err)
	}
	defer rows.Close()
	var out []*T
	for rows.Next() {
		var data []byte
		if err := rows.Scan(&data); err != nil {
			return nil, t.check("scan", err)
		}
		v, err := storecore.Decode[T](data)
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, t.check("query", rows.Err())
}

// limitArg is a LIMIT parameter: NULL (no limit) for limit <= 0.
func limitArg(limit int) any {
	if limit <= 0 {
		return nil
	}
	return int64(limit)
}

func (t *tx) Application(name string) (*flinkplane.Application, error) {
	return getJSON[flinkplane.Application](t, storecore.AppNotFound(name), `SELECT data FROM applications WHERE name = $1`, name)
}

func (t *tx) Applications(after string, limit int) ([]*flinkplane.Application, error) {
	return listJSON[flinkplane.Application](t, `SELECT data FROM applications WHERE name > $1 ORDER BY name LIMIT $2`, after, limitArg(limit))
}

func (t *tx) CreateApplication(app *flinkplane.Application) error {
	if err := t.writable(); err != nil {
		return err
	}
	data, err := storecore.Encode(app)
	if err != nil {
		return err
	}
	// ON CONFLICT DO NOTHING rather than a unique violation, which would
	// abort the whole transaction (SQLite's goes on after one).
	tag, err := t.exec("insert application", `INSERT INTO applications (name, data) VALUES ($1, $2) ON CONFLICT DO NOTHING`, app.Name, data)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return storecore.AppExists(app.Name)
	}
	return nil
}

func (t *tx) PutApplication(app *flinkplane.Application) error {
	if err := t.writable(); err != nil {
		return err
	}
	data, err := storecore.Encode(app)
	if err != nil {
		return err
	}
	tag, err := t.exec("update application", `UPDATE applications SET data = $1 WHERE name = $2`, data, app.Name)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return storecore.AppNotFound(app.Name)
	}
	return nil
}

func (t *tx) DeleteApplication(name string) error {
	if err := t.writable(); err != nil {
		return err
	}
	tag, err := t.exec("delete application", `DELETE FROM applications WHERE name = $1`, name)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return storecore.AppNotFound(name)
	}
	for _, table := range []string{"versions", "snapshots", "operations", "tags", "health"} {
		if _, err := t.exec("delete application "+table, `DELETE FROM `+table+` WHERE app = $1`, name); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) Version(app string, id int64) (*flinkplane.ApplicationVersion, error) {
	return getJSON[flinkplane.ApplicationVersion](t, storecore.VersionNotFound(app, id),
		`SELECT data FROM versions WHERE app = $1 AND id = $2`, app, id)
}

func (t *tx) Versions(app string, after int64, limit int) ([]*flinkplane.ApplicationVersion, error) {
	return listJSON[flinkplane.ApplicationVersion](t, `SELECT data FROM versions WHERE app = $1 AND id > $2 ORDER BY id LIMIT $3`, app, after, limitArg(limit))
}

func (t *tx) CreateVersion(v *flinkplane.ApplicationVersion) error {
	if err := t.writable(); err != nil {
		return err
	}
	data, err := storecore.Encode(v)
	if err != nil {
		return err
	}
	tag, err := t.exec("insert version", `INSERT INTO versions (app, id, data) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, v.ApplicationName, v.VersionID, data)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return storecore.VersionExists(v.ApplicationName, v.VersionID)
	}
	return nil
}

func (t *tx) Snapshot(app, name string) (*flinkplane.Snapshot, error) {
	return getJSON[flinkplane.Snapshot](t, storecore.SnapshotNotFound(app, name),
		`SELECT data FROM snapshots WHERE app = $1 AND name = $2`, app, name)
}

func (t *tx) Snapshots(app string, after string, limit int) ([]*flinkplane.Snapshot, error) {
	if after == "" {
		return listJSON[flinkplane.Snapshot](t, `SELECT data FROM snapshots WHERE app = $1 ORDER BY seq LIMIT $2`, app, limitArg(limit))
	}
	return listJSON[flinkplane.Snapshot](t, `SELECT data FROM snapshots WHERE app = $1
		AND seq > COALESCE((SELECT seq FROM snapshots WHERE app = $1 AND name = $2), 4611686018427387904) ORDER BY seq LIMIT $3`,
		app, after, limitArg(limit))
}

func (t *tx) CreateSnapshot(s *flinkplane.Snapshot) error {
	if err := t.writable(); err != nil {
		return err
	}
	data, err := storecore.Encode(s)
	if err != nil {
		return err
	}
	tag, err := t.exec("insert snapshot", `INSERT INTO snapshots (app, name, data) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`, s.ApplicationName, s.Name, data)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return storecore.SnapshotExists(s.ApplicationName, s.Name)
	}
	return nil
}

func (t *tx) PutSnapshot(s *flinkplane.Snapshot) error {
	if err := t.writable(); err != nil {
		return err
	}
	data, err := storecore.Encode(s)
	if err != nil {
		return err
	}
	tag, err := t.exec("update snapshot", `UPDATE snapshots SET data = $1 WHERE app = $2 AND name = $3`, data, s.ApplicationName, s.Name)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return storecore.SnapshotNotFound(s.ApplicationName, s.Name)
	}
	return nil
}

func (t *tx) DeleteSnapshot(app, name string) error {
	if err := t.writable(); err != nil {
		return err
	}
	tag, err := t.exec("delete snapshot", `DELETE FROM snapshots WHERE app = $1 AND name = $2`, app, name)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return storecore.SnapshotNotFound(app, name)
	}
	return nil
}

func (t *tx) Operation(app, id string) (*flinkplane.Operation, error) {
	return getJSON[flinkplane.Operation](t, storecore.OperationNotFound(app, id),
		`SELECT data FROM operations WHERE app = $1 AND id = $2`, app, id)
}

func (t *tx) Operations(app string, f flinkplane.OperationFilter) ([]*flinkplane.Operation, error) {
	var b strings.Builder
	args := []any{app}
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	b.WriteString(`SELECT data FROM operations WHERE app = $1`)
	if f.Kind != "" {
		b.WriteString(` AND kind = ` + arg(f.Kind))
	}
	if f.Status != "" {
		b.WriteString(` AND status = ` + arg(f.Status))
	}
	if f.After != "" {
		b.WriteString(` AND seq < COALESCE((SELECT seq FROM operations WHERE app = $1 AND id = ` + arg(f.After) + `), -1)`)
	}
	b.WriteString(` ORDER BY seq DESC LIMIT ` + arg(limitArg(f.Limit)))
	return listJSON[flinkplane.Operation](t, b.String(), args...)
}

func (t *tx) PutOperation(op *flinkplane.Operation) error {
	if err := t.writable(); err != nil {
		return err
	}
	data, err := storecore.Encode(op)
	if err != nil {
		return err
	}
	if _, err := t.exec("put operation", `INSERT INTO operations (app, id, kind, status, data) VALUES ($1, $2, $3, $4, $5)
		ON CONFLICT (app, id) DO UPDATE SET kind = excluded.kind, status = excluded.status, data = excluded.data`,
		op.ApplicationName, op.ID, op.Kind, op.Status, data); err != nil {
		return err
	}
	if op.Status == flinkplane.OperationInProgress {
		if t.notify == nil {
			t.notify = map[string]bool{}
		}
		t.notify[op.ApplicationName] = true
	}
	return nil
}

func (t *tx) InProgressOperations() ([]*flinkplane.Operation, error) {
	return listJSON[flinkplane.Operation](t, `SELECT data FROM operations WHERE status = $1 ORDER BY seq`, flinkplane.OperationInProgress)
}

func (t *tx) Tags(app string) ([]flinkplane.Tag, error) {
	rows, err := t.q.Query(t.ctx, `SELECT key, value FROM tags WHERE app = $1 ORDER BY key`, app)
	if err != nil {
		return nil, t.check("query tags", err)
	}
	defer rows.Close()
	var out []flinkplane.Tag
	for rows.Next() {
		var tg flinkplane.Tag
		if err := rows.Scan(&tg.Key, &tg.Value); err != nil {
			return nil, t.check("scan tag", err)
		}
		out = append(out, tg)
	}
	return out, t.check("query tags", rows.Err())
}

func (t *tx) SetTags(app string, tags []flinkplane.Tag) error {
	if err := t.writable(); err != nil {
		return err
	}
	if _, err := t.exec("delete tags", `DELETE FROM tags WHERE app = $1`, app); err != nil {
		return err
	}
	for _, tg := range tags {
		if _, err := t.exec("insert tag", `INSERT INTO tags (app, key, value) VALUES ($1, $2, $3)
			ON CONFLICT (app, key) DO UPDATE SET value = excluded.value`, app, tg.Key, tg.Value); err != nil {
			return err
		}
	}
	return nil
}

func (t *tx) PutHealth(s *flinkplane.HealthSample, keep int) error {
	if err := t.writable(); err != nil {
		return err
	}
	data, err := storecore.Encode(s)
	if err != nil {
		return err
	}
	// Inserted only for an existing application, in one statement.
	tag, err := t.exec("insert health", `INSERT INTO health (app, time, data) SELECT $1, $2, $3 WHERE EXISTS (SELECT 1 FROM applications WHERE name = $1)`,
		s.ApplicationName, s.Time.UnixNano(), data)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return storecore.AppNotFound(s.ApplicationName)
	}
	if keep <= 0 {
		return nil
	}
	_, err = t.exec("trim health", `DELETE FROM health WHERE app = $1 AND seq <= COALESCE(
		(SELECT seq FROM health WHERE app = $1 ORDER BY seq DESC LIMIT 1 OFFSET $2), -1)`, s.ApplicationName, int64(keep))
	return err
}

func (t *tx) Health(app string) (*flinkplane.HealthSample, error) {
	return getJSON[flinkplane.HealthSample](t, storecore.NoHealth(app),
		`SELECT data FROM health WHERE app = $1 ORDER BY seq DESC LIMIT 1`, app)
}

func (t *tx) HealthHistory(app string, before time.Time, limit int) ([]*flinkplane.HealthSample, error) {
	if before.IsZero() {
		return listJSON[flinkplane.HealthSample](t, `SELECT data FROM health WHERE app = $1 ORDER BY seq DESC LIMIT $2`, app, limitArg(limit))
	}
	return listJSON[flinkplane.HealthSample](t, `SELECT data FROM health WHERE app = $1 AND time < $2 ORDER BY seq DESC LIMIT $3`,
		app, before.UnixNano(), limitArg(limit))
}
