// Package sqlite implements flinkplane.Store on SQLite (pure Go, no cgo):
// one database file in WAL mode under the data directory, schema migrations
// by PRAGMA user_version, records stored as JSON documents with the columns
// needed to find and order them. A small read cache of applications and
// versions sits in front of the database; the database stays the truth and
// every committed write invalidates the cache entries it touched.
package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"path/filepath"
	"runtime"
	"sort"
	"sync"

	"github.com/flinkplane/flinkplane"
	_ "modernc.org/sqlite"
)

// migrations are applied in order; the database's user_version is the
// number applied so far.
var migrations = []string{
	`CREATE TABLE applications (
		name TEXT PRIMARY KEY,
		data TEXT NOT NULL
	);
	CREATE TABLE versions (
		app  TEXT NOT NULL,
		id   INTEGER NOT NULL,
		data TEXT NOT NULL,
		PRIMARY KEY (app, id)
	);
	CREATE TABLE snapshots (
		seq  INTEGER PRIMARY KEY AUTOINCREMENT,
		app  TEXT NOT NULL,
		name TEXT NOT NULL,
		data TEXT NOT NULL,
		UNIQUE (app, name)
	);
	CREATE TABLE operations (
		seq    INTEGER PRIMARY KEY AUTOINCREMENT,
		app    TEXT NOT NULL,
		id     TEXT NOT NULL,
		kind   TEXT NOT NULL,
		status TEXT NOT NULL,
		data   TEXT NOT NULL,
		UNIQUE (app, id)
	);
	CREATE INDEX operations_status ON operations (status);
	CREATE TABLE tags (
		app   TEXT NOT NULL,
		key   TEXT NOT NULL,
		value TEXT NOT NULL,
		PRIMARY KEY (app, key)
	);`,
	// Health samples written by the watch: a bounded history per
	// application, newest by seq.
	`CREATE TABLE health (
		seq  INTEGER PRIMARY KEY AUTOINCREMENT,
		app  TEXT NOT NULL,
		time INTEGER NOT NULL,
		data TEXT NOT NULL
	);
	CREATE INDEX health_app ON health (app, seq);`,
	metricsMigration, // metric and log tables: sqlite/metrics.go
}

// DB is a flinkplane.Store backed by one SQLite file.
type DB struct {
	// Path is the database file; set by New.
	Path string

	w *sql.DB // the one writer connection
	r *sql.DB // readers

	mu    sync.Mutex
	gen   uint64
	apps  map[string]*flinkplane.Application
	vers  map[verKey]*flinkplane.ApplicationVersion
	wlock sync.Mutex

	stmtMu sync.Mutex
	stmts  map[string]*sql.Stmt

	// names is the sorted list of application names, loaded at Open and
	// kept in step with every commit (guarded by mu): listings read it
	// instead of the database.
	names []string
}

// stmt returns a prepared statement of the read pool.
func (db *DB) stmt(query string) (*sql.Stmt, error) {
	db.stmtMu.Lock()
	defer db.stmtMu.Unlock()
	if st, ok := db.stmts[query]; ok {
		return st, nil
	}
	st, err := db.r.Prepare(query)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	if db.stmts == nil {
		db.stmts = map[string]*sql.Stmt{}
	}
	db.stmts[query] = st
	return st, nil
}

type verKey struct {
	app string
	id  int64
}

var _ flinkplane.Store = (*DB)(nil)

// New returns a DB for the database file "flinkplane.db" in dir.
func New(dir string) *DB {
	return &DB{Path: filepath.Join(dir, "flinkplane.db")}
}

// Open opens the database, creating it if needed, and applies migrations.
func (db *DB) Open() error {
	dsn := "file:" + db.Path + "?_pragma=journal_mode(WAL)&_pragma=busy_timeout(10000)" +
		"&_pragma=synchronous(FULL)&_pragma=foreign_keys(ON)&_txlock=immediate"
	var err error
	if db.w, err = sql.Open("sqlite", dsn); err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	db.w.SetMaxOpenConns(1)
	if db.r, err = sql.Open("sqlite", dsn+"&mode=ro"); err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	n := runtime.GOMAXPROCS(0) * 2
	db.r.SetMaxOpenConns(n)
	db.r.SetMaxIdleConns(n)
	db.apps = map[string]*flinkplane.Application{}
	db.vers = map[verKey]*flinkplane.ApplicationVersion{}
	if err := db.migrate(); err != nil {
		db.Close()
		return err
	}
	if err := db.loadNames(); err != nil {
		db.Close()
		return err
	}
	return nil
}

func (db *DB) loadNames() error {
	rows, err := db.w.Query(`SELECT name FROM applications ORDER BY name`)
	if err != nil {
		return fmt.Errorf("load application names: %w", err)
	}
	defer rows.Close()
	var names []string
	for rows.Next() {
		var n string
		if err := rows.Scan(&n); err != nil {
			return fmt.Errorf("load application names: %w", err)
		}
		names = append(names, n)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	sort.Strings(names) // SQLite's BINARY collation orders as Go does; be sure
	db.mu.Lock()
	db.names = names
	db.mu.Unlock()
	return nil
}

// namesAfter returns up to limit names after `after` (limit <= 0: all).
func (db *DB) namesAfter(after string, limit int) []string {
	db.mu.Lock()
	defer db.mu.Unlock()
	i := sort.Search(len(db.names), func(i int) bool { return db.names[i] > after })
	j := len(db.names)
	if limit > 0 && i+limit < j {
		j = i + limit
	}
	return append([]string(nil), db.names[i:j]...)
}

// nameChange is a committed creation (add) or deletion of an application.
type nameChange struct {
	name string
	add  bool
}

// applyNames records committed creations and deletions, in order, in the
// name index.
func (db *DB) applyNames(changes []nameChange) {
	if len(changes) == 0 {
		return
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	for _, c := range changes {
		i := sort.SearchStrings(db.names, c.name)
		found := i < len(db.names) && db.names[i] == c.name
		switch {
		case c.add && !found:
			db.names = append(db.names, "")
			copy(db.names[i+1:], db.names[i:])
			db.names[i] = c.name
		case !c.add && found:
			db.names = append(db.names[:i], db.names[i+1:]...)
		}
	}
}

func (db *DB) migrate() error {
	var v int
	if err := db.w.QueryRow(`PRAGMA user_version`).Scan(&v); err != nil {
		return fmt.Errorf("read schema version: %w", err)
	}
	if v > len(migrations) {
		return fmt.Errorf("database schema version %d is newer than this program (%d)", v, len(migrations))
	}
	for i := v; i < len(migrations); i++ {
		tx, err := db.w.Begin()
		if err != nil {
			return fmt.Errorf("migrate: %w", err)
		}
		if _, err := tx.Exec(migrations[i]); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if _, err := tx.Exec(fmt.Sprintf(`PRAGMA user_version = %d`, i+1)); err != nil {
			tx.Rollback()
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
		if err := tx.Commit(); err != nil {
			return fmt.Errorf("migration %d: %w", i+1, err)
		}
	}
	return nil
}

// Close closes the database.
func (db *DB) Close() error {
	var errs []error
	db.stmtMu.Lock()
	for _, st := range db.stmts {
		st.Close()
	}
	db.stmts = nil
	db.stmtMu.Unlock()
	if db.r != nil {
		errs = append(errs, db.r.Close())
	}
	if db.w != nil {
		errs = append(errs, db.w.Close())
	}
	return errors.Join(errs...)
}

// View runs fn in a read transaction.
func (db *DB) View(ctx context.Context, fn func(flinkplane.Tx) error) error {
	t := &tx{db: db, ctx: ctx, readOnly: true, q: db.r}
	return fn(t)
}

// Update runs fn in a write transaction.
func (db *DB) Update(ctx context.Context, fn func(flinkplane.Tx) error) error {
	db.wlock.Lock()
	defer db.wlock.Unlock()
	stx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	t := &tx{db: db, ctx: ctx, q: stx, dirty: map[string]bool{}}
	if err := fn(t); err != nil {
		stx.Rollback()
		return err
	}
	if err := stx.Commit(); err != nil {
		db.invalidate(t.dirty)
		return fmt.Errorf("commit: %w", err)
	}
	for _, name := range t.deleted {
		db.dropVersions(name)
	}
	db.applyNames(t.names)
	db.invalidate(t.dirty)
	return nil
}

func (db *DB) invalidate(names map[string]bool) {
	if len(names) == 0 {
		return
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	db.gen++
	for n := range names {
		delete(db.apps, n)
	}
}

func (db *DB) dropVersions(app string) {
	db.mu.Lock()
	defer db.mu.Unlock()
	for k := range db.vers {
		if k.app == app {
			delete(db.vers, k)
		}
	}
}
