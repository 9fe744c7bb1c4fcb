// Package sqlite implements flinkplane.Store on SQLite (pure Go, no cgo):
// one database file in WAL mode under the data directory, schema migrations
// by PRAGMA user_version, records stored as JSON documents with the columns
// needed to find and order them. A read cache of applications and versions,
// bounded (least recently used out) at CacheEntries each, sits in front of
// the database; the database stays the truth and every committed write
// invalidates the cache entries it touched.
//
// Writes are durable (synchronous=FULL: a commit is on disk before Update
// returns) and group-committed: one writer goroutine runs the Update
// transactions waiting at the same time in one SQLite transaction, each in
// its own savepoint (a failing one is rolled back alone), and commits them
// with one fsync (writer.go). WAL checkpoints run in the background, not in
// a commit.
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
	"github.com/flinkplane/flinkplane/internal/lru"
	_ "modernc.org/sqlite"
)

// migrations are applied in order; the database's user_version is the
// number applied so far. PostgreSQL's store (postgres/) has the same
// numbered steps: a schema change is made once per store, as the same
// step.
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
	// 4: leases. PostgreSQL's store keeps them in a table (postgres/);
	// this one keeps them in memory (lease.go), so the step changes
	// nothing here and only keeps the numbers of both stores in step.
	`SELECT 1`,
}

// DB is a flinkplane.Store backed by one SQLite file.
type DB struct {
	// Path is the database file; set by New.
	Path string

	// ReserveBytes is the size of the reserve file kept next to the
	// database so that deletions can be written on a full disk
	// (releaseReserve); 0 means DefaultReserve, < 0 none. Set before Open.
	ReserveBytes int64

	// CacheEntries bounds each read cache (applications, versions) by
	// number of entries; 0 means DefaultCacheEntries, < 0 no cache bound.
	// Set before Open.
	CacheEntries int

	w    *sql.DB // the one writer connection
	r    *sql.DB // readers
	ckpt *sql.DB // the background checkpointer's connection

	mu sync.Mutex
	// gens counts committed writes per application, in buckets by name: a
	// record read from the database before a write to its application
	// committed is not put in the cache after it.
	gens [genBuckets]uint64
	apps *lru.Cache[string, *flinkplane.Application]
	vers *lru.Cache[verKey, *flinkplane.ApplicationVersion]
	// cachedVers counts the cached versions of each application, so that
	// deleting an application drops its versions without a scan when it
	// has none cached.
	cachedVers map[string]int

	writer writer

	stmtMu   sync.Mutex
	stmts    map[string]*sql.Stmt
	wstmts   map[string]*sql.Stmt // prepared on the writer connection
	wpending map[string]bool      // to prepare there between batches

	leases leaseTable // lease.go

	// names is the sorted list of application names, loaded at Open and
	// kept in step with every commit (guarded by mu): listings read it
	// instead of the database.
	names []string
}

// DefaultReserve is the default size of the reserve file.
const DefaultReserve = 8 << 20

// DefaultCacheEntries is the default bound of each read cache: about 2 KiB
// an entry, some 40 MiB for both caches when full.
const DefaultCacheEntries = 10000

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

// writerStmt returns the statement prepared on the writer connection for
// query, or nil if it is not prepared yet: then it is prepared by the
// writer between two batches (the one writer connection is busy during a
// transaction, so it cannot be prepared there and then).
func (db *DB) writerStmt(query string) *sql.Stmt {
	db.stmtMu.Lock()
	defer db.stmtMu.Unlock()
	if st, ok := db.wstmts[query]; ok {
		return st
	}
	if db.wpending == nil {
		db.wpending = map[string]bool{}
	}
	db.wpending[query] = true
	return nil
}

// prepareWriter prepares the statements writerStmt missed; the writer
// calls it between batches.
func (db *DB) prepareWriter() {
	db.stmtMu.Lock()
	defer db.stmtMu.Unlock()
	for q := range db.wpending {
		st, err := db.w.Prepare(q)
		if err != nil {
			continue
		}
		if db.wstmts == nil {
			db.wstmts = map[string]*sql.Stmt{}
		}
		db.wstmts[q] = st
	}
	db.wpending = nil
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
	size := db.CacheEntries
	if size == 0 {
		size = DefaultCacheEntries
	}
	db.apps = lru.New[string, *flinkplane.Application](size)
	db.vers = lru.New[verKey, *flinkplane.ApplicationVersion](size)
	db.cachedVers = map[string]int{}
	db.vers.OnEvict = func(k verKey, _ *flinkplane.ApplicationVersion) { db.uncountVersion(k.app) }
	if err := db.migrate(); err != nil {
		db.Close()
		return err
	}
	if err := db.loadNames(); err != nil {
		db.Close()
		return err
	}
	// Checkpoints run in the background (writer.go), never in a commit.
	if _, err := db.w.Exec(`PRAGMA wal_autocheckpoint = 0`); err != nil {
		db.Close()
		return fmt.Errorf("open database: %w", err)
	}
	if db.ckpt, err = sql.Open("sqlite", dsn); err != nil {
		db.Close()
		return fmt.Errorf("open database: %w", err)
	}
	db.ckpt.SetMaxOpenConns(1)
	if db.ReserveBytes == 0 {
		db.ReserveBytes = DefaultReserve
	}
	db.ensureReserve()
	db.writer.start(db)
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

// applyNamesLocked records committed creations and deletions, in order, in
// the name index. db.mu is held.
func (db *DB) applyNamesLocked(changes []nameChange) {
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

// Close closes the database. Update transactions already waiting are
// run first; later ones return an error.
func (db *DB) Close() error {
	var errs []error
	db.writer.stop()
	db.stmtMu.Lock()
	for _, st := range db.stmts {
		st.Close()
	}
	for _, st := range db.wstmts {
		st.Close()
	}
	db.stmts, db.wstmts = nil, nil
	db.stmtMu.Unlock()
	if db.r != nil {
		errs = append(errs, db.r.Close())
	}
	if db.ckpt != nil {
		// A last checkpoint leaves a small WAL behind.
		db.ckpt.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
		errs = append(errs, db.ckpt.Close())
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

// Update runs fn in a write transaction, durably committed before Update
// returns nil. Transactions are serialized; those waiting together are
// committed together (writer.go). fn runs on the writer goroutine.
func (db *DB) Update(ctx context.Context, fn func(flinkplane.Tx) error) error {
	return db.writer.do(ctx, db.fenced(ctx, fn), false)
}

// UpdateReserved is Update for a write that frees space (a deletion) on a
// full disk: fn runs in a transaction of its own and, if the disk is full,
// runs once more after the reserve (ReserveBytes) is released, before any
// other write can use that space. fn must be safe to run twice. Returns
// ELIMIT if the disk is still too full.
func (db *DB) UpdateReserved(ctx context.Context, fn func(flinkplane.Tx) error) error {
	return db.writer.do(ctx, db.fenced(ctx, fn), true)
}

// fenced checks the fence token of ctx (if any) inside the transaction,
// before fn.
func (db *DB) fenced(ctx context.Context, fn func(flinkplane.Tx) error) func(flinkplane.Tx) error {
	if _, ok := flinkplane.FenceFrom(ctx); !ok {
		return fn
	}
	return func(t flinkplane.Tx) error {
		if err := db.checkFence(ctx); err != nil {
			return err
		}
		return fn(t)
	}
}

func (db *DB) invalidate(names map[string]bool) {
	if len(names) == 0 {
		return
	}
	db.mu.Lock()
	defer db.mu.Unlock()
	for n := range names {
		db.gens[genBucket(n)]++
		db.apps.Delete(n)
	}
}

const genBuckets = 1024

// genBucket is the gens bucket of an application name (FNV-1a).
func genBucket(name string) int {
	h := uint32(2166136261)
	for i := 0; i < len(name); i++ {
		h ^= uint32(name[i])
		h *= 16777619
	}
	return int(h % genBuckets)
}

func (db *DB) uncountVersion(app string) {
	if db.cachedVers[app]--; db.cachedVers[app] <= 0 {
		delete(db.cachedVers, app)
	}
}

// cacheVersion adds a version to the cache; db.mu is held.
func (db *DB) cacheVersion(k verKey, v *flinkplane.ApplicationVersion) {
	if _, ok := db.vers.Get(k); ok {
		return
	}
	db.cachedVers[k.app]++
	db.vers.Put(k, v)
}

// dropVersionsLocked removes an application's versions from the cache;
// db.mu is held.
func (db *DB) dropVersionsLocked(app string) {
	if db.cachedVers[app] == 0 {
		return
	}
	db.vers.DeleteFunc(func(k verKey) bool { return k.app == app })
	delete(db.cachedVers, app)
}

// CacheLen returns the number of cached applications and versions.
func (db *DB) CacheLen() (apps, versions int) {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.apps.Len(), db.vers.Len()
}
