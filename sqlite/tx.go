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

type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

// query runs a query, through a prepared statement on the read pool.
func (t *tx) query(query string, args ...any) (*sql.Rows, error) {
	if t.readOnly {
		st, err := t.db.stmt(query)
		if err != nil {
			return nil, err
		}
		return st.QueryContext(t.ctx, args...)
	}
	if st := t.wstmt(query); st != nil {
		return st.QueryContext(t.ctx, args...)
	}
	return t.q.QueryContext(t.ctx, query, args...)
}

// wstmt returns the writer connection's prepared statement for query,
// bound to this transaction, or nil.
func (t *tx) wstmt(query string) *sql.Stmt {
	if t.stx == nil {
		return nil
	}
	st := t.db.writerStmt(query)
	if st == nil {
		return nil
	}
	return t.stx.StmtContext(t.ctx, st)
}

// exec runs a statement of a write transaction, prepared once.
func (t *tx) exec(query string, args ...any) (sql.Result, error) {
	if st := t.wstmt(query); st != nil {
		return st.ExecContext(t.ctx, args...)
	}
	return t.q.ExecContext(t.ctx, query, args...)
}

func (t *tx) queryRow(query string, args ...any) *sql.Row {
	if t.readOnly {
		if st, err := t.db.stmt(query); err == nil {
			return st.QueryRowContext(t.ctx, args...)
		}
	}
	if st := t.wstmt(query); st != nil {
		return st.QueryRowContext(t.ctx, args...)
	}
	return t.q.QueryRowContext(t.ctx, query, args...)
}

type tx struct {
	db       *DB
	ctx      context.Context
	q        querier
	stx      *sql.Tx // the write transaction (nil when read-only)
	readOnly bool
	dirty    map[string]bool
	deleted  []string
	names    []nameChange
}

func (t *tx) writable() error {
	if t.readOnly {
		return errors.New("write in a read-only transaction")
	}
	return nil
}

func isUnique(err error) bool {
	return err != nil && strings.Contains(err.Error(), "UNIQUE constraint failed")
}

// getJSON reads one record; notFound without it.
func getJSON[T any](t *tx, notFound error, query string, args ...any) (*T, error) {
	var data string
	if err := t.queryRow(query, args...).Scan(&data); errors.Is(err, sql.ErrNoRows) {
		return nil, notFound
	} else if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	return storecore.Decode[T]([]byte(data))
}

func listJSON[T any](t *tx, query string, args ...any) ([]*T, error) {
	rows, err := t.query(query, args...)
	if err != nil {
		return nil, fmt.Errorf("query: %w", err)
	}
	defer rows.Close()
	var out []*T
	for rows.Next() {
		var data string
		if err := rows.Scan(&data); err != nil {
			return nil, fmt.Errorf("scan: %w", err)
		}
		v, err := storecore.Decode[T]([]byte(data))
		if err != nil {
			return nil, err
		}
		out = append(out, v)
	}
	return out, rows.Err()
}

func limitClause(limit int) int {
	if limit <= 0 {
		return -1
	}
	return limit
}

func (t *tx) Application(name string) (*flinkplane.Application, error) {
	if t.readOnly {
		t.db.mu.Lock()
		a, ok := t.db.apps.Get(name)
		gen := t.db.gens[genBucket(name)]
		t.db.mu.Unlock()
		if ok {
			c := *a
			return &c, nil
		}
		a, err := getJSON[flinkplane.Application](t, storecore.AppNotFound(name), `SELECT data FROM applications WHERE name = ?`, name)
		if err != nil {
			return nil, err
		}
		t.db.mu.Lock()
		if t.db.gens[genBucket(name)] == gen {
			c := *a
			t.db.apps.Put(name, &c)
		}
		t.db.mu.Unlock()
		return a, nil
	}
	return getJSON[flinkplane.Application](t, storecore.AppNotFound(name), `SELECT data FROM applications WHERE name = ?`, name)
}

func (t *tx) Applications(after string, limit int) ([]*flinkplane.Application, error) {
	if t.readOnly {
		// Names from the index, records through the read cache.
		names := t.db.namesAfter(after, limit)
		out := make([]*flinkplane.Application, 0, len(names))
		for _, n := range names {
			a, err := t.Application(n)
			if flinkplane.ErrorCode(err) == flinkplane.ENOTFOUND {
				continue // deleted meanwhile
			} else if err != nil {
				return nil, err
			}
			out = append(out, a)
		}
		return out, nil
	}
	return listJSON[flinkplane.Application](t, `SELECT data FROM applications WHERE name > ? ORDER BY name LIMIT ?`, after, limitClause(limit))
}

func (t *tx) CreateApplication(app *flinkplane.Application) error {
	if err := t.writable(); err != nil {
		return err
	}
	data, err := storecore.Encode(app)
	if err != nil {
		return err
	}
	t.dirty[app.Name] = true
	if _, err := t.exec(`INSERT INTO applications (name, data) VALUES (?, ?)`, app.Name, data); isUnique(err) {
		return storecore.AppExists(app.Name)
	} else if err != nil {
		return fmt.Errorf("insert application: %w", err)
	}
	t.names = append(t.names, nameChange{app.Name, true})
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
	t.dirty[app.Name] = true
	res, err := t.exec(`UPDATE applications SET data = ? WHERE name = ?`, data, app.Name)
	if err != nil {
		return fmt.Errorf("update application: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return storecore.AppNotFound(app.Name)
	}
	return nil
}

func (t *tx) DeleteApplication(name string) error {
	if err := t.writable(); err != nil {
		return err
	}
	t.dirty[name] = true
	res, err := t.exec(`DELETE FROM applications WHERE name = ?`, name)
	if err != nil {
		return fmt.Errorf("delete application: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return storecore.AppNotFound(name)
	}
	for _, table := range []string{"versions", "snapshots", "operations", "tags", "health"} {
		if _, err := t.exec(`DELETE FROM `+table+` WHERE app = ?`, name); err != nil {
			return fmt.Errorf("delete application %s: %w", table, err)
		}
	}
	t.deleted = append(t.deleted, name)
	t.names = append(t.names, nameChange{name, false})
	return nil
}

func (t *tx) Version(app string, id int64) (*flinkplane.ApplicationVersion, error) {
	k := verKey{app, id}
	t.db.mu.Lock()
	v, ok := t.db.vers.Get(k)
	gen := t.db.gens[genBucket(app)]
	t.db.mu.Unlock()
	if ok {
		return v, nil
	}
	v, err := getJSON[flinkplane.ApplicationVersion](t, storecore.VersionNotFound(app, id),
		`SELECT data FROM versions WHERE app = ? AND id = ?`, app, id)
	if err != nil {
		return nil, err
	}
	if t.readOnly {
		t.db.mu.Lock()
		if t.db.gens[genBucket(app)] == gen {
			t.db.cacheVersion(k, v)
		}
		t.db.mu.Unlock()
	}
	return v, nil
}

func (t *tx) Versions(app string, after int64, limit int) ([]*flinkplane.ApplicationVersion, error) {
	return listJSON[flinkplane.ApplicationVersion](t, `SELECT data FROM versions WHERE app = ? AND id > ? ORDER BY id LIMIT ?`, app, after, limitClause(limit))
}

func (t *tx) CreateVersion(v *flinkplane.ApplicationVersion) error {
	if err := t.writable(); err != nil {
		return err
	}
	data, err := storecore.Encode(v)
	if err != nil {
		return err
	}
	if _, err := t.exec(`INSERT INTO versions (app, id, data) VALUES (?, ?, ?)`, v.ApplicationName, v.VersionID, data); isUnique(err) {
		return storecore.VersionExists(v.ApplicationName, v.VersionID)
	} else if err != nil {
		return fmt.Errorf("insert version: %w", err)
	}
	return nil
}

func (t *tx) Snapshot(app, name string) (*flinkplane.Snapshot, error) {
	return getJSON[flinkplane.Snapshot](t, storecore.SnapshotNotFound(app, name),
		`SELECT data FROM snapshots WHERE app = ? AND name = ?`, app, name)
}

func (t *tx) Snapshots(app string, after string, limit int) ([]*flinkplane.Snapshot, error) {
	if after == "" {
		return listJSON[flinkplane.Snapshot](t, `SELECT data FROM snapshots WHERE app = ? ORDER BY seq LIMIT ?`, app, limitClause(limit))
	}
	return listJSON[flinkplane.Snapshot](t, `SELECT data FROM snapshots WHERE app = ?
		AND seq > COALESCE((SELECT seq FROM snapshots WHERE app = ? AND name = ?), 1 << 62) ORDER BY seq LIMIT ?`,
		app, app, after, limitClause(limit))
}

func (t *tx) CreateSnapshot(s *flinkplane.Snapshot) error {
	if err := t.writable(); err != nil {
		return err
	}
	data, err := storecore.Encode(s)
	if err != nil {
		return err
	}
	if _, err := t.exec(`INSERT INTO snapshots (app, name, data) VALUES (?, ?, ?)`, s.ApplicationName, s.Name, data); isUnique(err) {
		return storecore.SnapshotExists(s.ApplicationName, s.Name)
	} else if err != nil {
		return fmt.Errorf("insert snapshot: %w", err)
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
	res, err := t.exec(`UPDATE snapshots SET data = ? WHERE app = ? AND name = ?`, data, s.ApplicationName, s.Name)
	if err != nil {
		return fmt.Errorf("update snapshot: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return storecore.SnapshotNotFound(s.ApplicationName, s.Name)
	}
	return nil
}

func (t *tx) DeleteSnapshot(app, name string) error {
	if err := t.writable(); err != nil {
		return err
	}
	res, err := t.exec(`DELETE FROM snapshots WHERE app = ? AND name = ?`, app, name)
	if err != nil {
		return fmt.Errorf("delete snapshot: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return storecore.SnapshotNotFound(app, name)
	}
	return nil
}

func (t *tx) Operation(app, id string) (*flinkplane.Operation, error) {
	return getJSON[flinkplane.Operation](t, storecore.OperationNotFound(app, id),
		`SELECT data FROM operations WHERE app = ? AND id = ?`, app, id)
}

func (t *tx) Operations(app string, f flinkplane.OperationFilter) ([]*flinkplane.Operation, error) {
	q := `SELECT data FROM operations WHERE app = ?`
	args := []any{app}
	if f.Kind != "" {
		q += ` AND kind = ?`
		args = append(args, f.Kind)
	}
	if f.Status != "" {
		q += ` AND status = ?`
		args = append(args, f.Status)
	}
	if f.After != "" {
		q += ` AND seq < COALESCE((SELECT seq FROM operations WHERE app = ? AND id = ?), -1)`
		args = append(args, app, f.After)
	}
	q += ` ORDER BY seq DESC LIMIT ?`
	args = append(args, limitClause(f.Limit))
	return listJSON[flinkplane.Operation](t, q, args...)
}

func (t *tx) PutOperation(op *flinkplane.Operation) error {
	if err := t.writable(); err != nil {
		return err
	}
	data, err := storecore.Encode(op)
	if err != nil {
		return err
	}
	if _, err := t.exec(`INSERT INTO operations (app, id, kind, status, data) VALUES (?, ?, ?, ?, ?)
		ON CONFLICT (app, id) DO UPDATE SET kind = excluded.kind, status = excluded.status, data = excluded.data`,
		op.ApplicationName, op.ID, op.Kind, op.Status, data); err != nil {
		return fmt.Errorf("put operation: %w", err)
	}
	return nil
}

func (t *tx) InProgressOperations() ([]*flinkplane.Operation, error) {
	return listJSON[flinkplane.Operation](t, `SELECT data FROM operations WHERE status = ? ORDER BY seq`, flinkplane.OperationInProgress)
}

func (t *tx) Tags(app string) ([]flinkplane.Tag, error) {
	rows, err := t.query(`SELECT key, value FROM tags WHERE app = ? ORDER BY key`, app)
	if err != nil {
		return nil, fmt.Errorf("query tags: %w", err)
	}
	defer rows.Close()
	var out []flinkplane.Tag
	for rows.Next() {
		var tg flinkplane.Tag
		if err := rows.Scan(&tg.Key, &tg.Value); err != nil {
			return nil, fmt.Errorf("scan tag: %w", err)
		}
		out = append(out, tg)
	}
	return out, rows.Err()
}

func (t *tx) SetTags(app string, tags []flinkplane.Tag) error {
	if err := t.writable(); err != nil {
		return err
	}
	if _, err := t.exec(`DELETE FROM tags WHERE app = ?`, app); err != nil {
		return fmt.Errorf("delete tags: %w", err)
	}
	for _, tg := range tags {
		if _, err := t.exec(`INSERT INTO tags (app, key, value) VALUES (?, ?, ?)`, app, tg.Key, tg.Value); err != nil {
			return fmt.Errorf("insert tag: %w", err)
		}
	}
	return nil
}

func (t *tx) PutHealth(s *flinkplane.HealthSample, keep int) error {
	if err := t.writable(); err != nil {
		return err
	}
	var one int
	if err := t.q.QueryRowContext(t.ctx, `SELECT 1 FROM applications WHERE name = ?`, s.ApplicationName).Scan(&one); errors.Is(err, sql.ErrNoRows) {
		return storecore.AppNotFound(s.ApplicationName)
	} else if err != nil {
		return fmt.Errorf("query application: %w", err)
	}
	data, err := storecore.Encode(s)
	if err != nil {
		return err
	}
	if _, err := t.q.ExecContext(t.ctx, `INSERT INTO health (app, time, data) VALUES (?, ?, ?)`, s.ApplicationName, s.Time.UnixNano(), data); err != nil {
		return fmt.Errorf("insert health: %w", err)
	}
	if keep <= 0 {
		return nil
	}
	if _, err := t.q.ExecContext(t.ctx, `DELETE FROM health WHERE app = ? AND seq <= COALESCE(
		(SELECT seq FROM health WHERE app = ? ORDER BY seq DESC LIMIT 1 OFFSET ?), -1)`, s.ApplicationName, s.ApplicationName, keep); err != nil {
		return fmt.Errorf("trim health: %w", err)
	}
	return nil
}

func (t *tx) Health(app string) (*flinkplane.HealthSample, error) {
	return getJSON[flinkplane.HealthSample](t, storecore.NoHealth(app),
		`SELECT data FROM health WHERE app = ? ORDER BY seq DESC LIMIT 1`, app)
}

func (t *tx) HealthHistory(app string, before time.Time, limit int) ([]*flinkplane.HealthSample, error) {
	if before.IsZero() {
		return listJSON[flinkplane.HealthSample](t, `SELECT data FROM health WHERE app = ? ORDER BY seq DESC LIMIT ?`, app, limitClause(limit))
	}
	return listJSON[flinkplane.HealthSample](t, `SELECT data FROM health WHERE app = ? AND time < ? ORDER BY seq DESC LIMIT ?`,
		app, before.UnixNano(), limitClause(limit))
}
