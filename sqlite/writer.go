package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"sync"
	"syscall"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/flinkplane/flinkplane"
)

// writer is the one goroutine that writes: group commit.
//
// Update calls queue a request; the writer takes every request waiting
// (up to maxBatch), opens one SQLite transaction, runs each request's fn
// inside its own SAVEPOINT (a fn that fails is rolled back to its
// savepoint and gets its error; the others are unaffected), and commits
// once: one WAL fsync for the whole batch. Every caller returns only after
// that commit. A fn is never run twice (it may change what it captured):
// if the batch as a whole fails (the commit, or an error that ends
// SQLite's transaction, such as a full disk or an I/O error), every
// request of the batch that had not failed on its own gets that error.
// After a full disk the WAL is truncated, so that a retry (DeleteApplication
// retries once) has the room the WAL held.
//
// A request of UpdateReserved (a deletion on a full disk) is run in a batch
// of its own, and, if the disk is full, run once more right after the
// reserve is released, on this goroutine: no other write (health samples,
// metric points, log events share this writer) can take the reserve's
// space before the deletion has it.
//
// WAL checkpoints are neither run by commits (wal_autocheckpoint is off)
// nor by the writer: a checkpointer goroutine, on its own connection, runs
// a PASSIVE checkpoint (which does not block writers or readers) when the
// writer has committed checkpointEvery batches since the last one or has
// been idle for checkpointIdle, and a TRUNCATE one when the WAL has grown
// past truncateBytes (readers that never let a passive checkpoint finish
// would otherwise grow it without end).
type writer struct {
	mu      sync.Mutex
	queue   []*writeReq
	wake    chan struct{}
	closed  bool
	done    chan struct{}
	pending int // batches committed since the last checkpoint request

	ckpt     chan struct{} // a checkpoint is wanted
	ckptDone chan struct{} // the checkpointer has ended
}

type writeReq struct {
	ctx context.Context
	fn  func(flinkplane.Tx) error
	// reserved: alone in its batch, and run again with the reserve
	// released if the disk is full (UpdateReserved).
	reserved bool
	err      error
	cause    error // the error before fullDisk mapped it
	ok       bool  // fn succeeded in the batch
	tx       *tx
	done     chan struct{}
}

const (
	maxBatch = 128
	// checkpointEvery: a passive checkpoint after this many batches.
	checkpointEvery = 64
	// checkpointIdle: and whenever the writer has been idle this long
	// after writing.
	checkpointIdle = 200 * time.Millisecond
	// truncateBytes: a WAL larger than this is truncated.
	truncateBytes = 64 << 20
)

var errClosed = errors.New("database closed")

func (w *writer) start(db *DB) {
	w.mu.Lock()
	w.closed = false // a DB may be opened again after Close
	w.mu.Unlock()
	w.wake = make(chan struct{}, 1)
	w.done = make(chan struct{})
	w.ckpt = make(chan struct{}, 1)
	w.ckptDone = make(chan struct{})
	go w.loop(db)
	go w.checkpointer(db)
}

// checkpointer runs the checkpoints the writer asks for, until the writer
// has ended.
func (w *writer) checkpointer(db *DB) {
	defer close(w.ckptDone)
	for {
		select {
		case <-w.ckpt:
			db.checkpoint()
		case <-w.done:
			return
		}
	}
}

// wantCheckpoint asks the checkpointer for a checkpoint (once, if one is
// already asked for).
func (w *writer) wantCheckpoint() {
	w.pending = 0
	select {
	case w.ckpt <- struct{}{}:
	default:
	}
}

func (w *writer) stop() {
	w.mu.Lock()
	if w.done == nil || w.closed {
		w.mu.Unlock()
		return
	}
	w.closed = true
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	<-w.done
	<-w.ckptDone
}

// do queues fn and waits for its outcome.
func (w *writer) do(ctx context.Context, fn func(flinkplane.Tx) error, reserved bool) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req := &writeReq{ctx: ctx, fn: fn, reserved: reserved, done: make(chan struct{})}
	w.mu.Lock()
	if w.closed || w.done == nil {
		w.mu.Unlock()
		return errClosed
	}
	w.queue = append(w.queue, req)
	w.mu.Unlock()
	select {
	case w.wake <- struct{}{}:
	default:
	}
	// Once queued, the request is run or refused by the writer; the caller
	// waits for that, so that a cancelled context never leaves it unknown
	// whether a write committed.
	<-req.done
	return req.err
}

// take takes the next batch: the waiting requests up to maxBatch, up to
// the first reserved one, which is a batch of its own.
func (w *writer) take() (batch []*writeReq, closed bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := min(len(w.queue), maxBatch)
	for i, r := range w.queue[:n] {
		if r.reserved {
			n = max(i, 1)
			break
		}
	}
	batch = append(batch, w.queue[:n]...)
	w.queue = w.queue[n:]
	if len(w.queue) == 0 {
		w.queue = nil
	}
	return batch, w.closed
}

func (w *writer) loop(db *DB) {
	defer close(w.done)
	idle := time.NewTimer(time.Hour)
	idle.Stop()
	for {
		batch, closed := w.take()
		if len(batch) == 0 {
			if closed {
				return
			}
			select {
			case <-w.wake:
			case <-idle.C:
				if w.pending > 0 {
					w.wantCheckpoint()
				}
			}
			continue
		}
		var deleted bool
		if batch[0].reserved {
			deleted = db.commitReserved(batch[0])
		} else {
			deleted = db.commitBatch(batch)
		}
		if deleted {
			db.ensureReserve()
		}
		db.prepareWriter()
		if w.pending++; w.pending >= checkpointEvery {
			w.wantCheckpoint()
		}
		idle.Reset(checkpointIdle)
	}
}

// commitBatch runs and commits a batch, then answers every request. It
// reports whether a committed request deleted an application.
func (db *DB) commitBatch(batch []*writeReq) (deleted bool) {
	var live []*writeReq
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.err = err
			close(r.done)
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return false
	}
	if err := db.runBatch(live); err != nil {
		for _, r := range live {
			if r.err == nil || r.ok {
				r.ok, r.cause, r.err = false, err, fullDisk(err)
			}
		}
		if IsDiskFull(err) {
			// Free what the WAL holds for the next try.
			db.ckpt.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
		}
	}
	for _, r := range live {
		deleted = deleted || (r.ok && len(r.tx.deleted) > 0)
		close(r.done)
	}
	return deleted
}

// commitReserved runs a reserved request alone; if the disk is full, it
// releases the reserve and runs the request once more (fn is written to be
// run twice), before any other request. It reports whether the request
// committed a deletion.
func (db *DB) commitReserved(r *writeReq) (deleted bool) {
	defer close(r.done)
	if err := r.ctx.Err(); err != nil {
		r.err = err
		return false
	}
	for attempt := 0; ; attempt++ {
		r.ok, r.err, r.cause, r.tx = false, nil, nil, nil
		if err := db.runBatch([]*writeReq{r}); err != nil && (r.err == nil || r.ok) {
			r.ok, r.cause, r.err = false, err, fullDisk(err)
		}
		if r.ok || !IsDiskFull(r.cause) {
			break
		}
		if attempt > 0 || !db.releaseReserve() {
			break
		}
	}
	return r.ok && len(r.tx.deleted) > 0
}

// runBatch runs the requests in one transaction, one savepoint each. It
// returns an error if the transaction as a whole failed; then nothing was
// committed.
func (db *DB) runBatch(batch []*writeReq) error {
	stx, err := db.w.BeginTx(context.Background(), nil)
	if err != nil {
		return fmt.Errorf("begin: %w", err)
	}
	for _, r := range batch {
		if _, err := stx.Exec(`SAVEPOINT req`); err != nil {
			stx.Rollback()
			return fmt.Errorf("savepoint: %w", err)
		}
		r.tx = &tx{db: db, ctx: context.WithoutCancel(r.ctx), q: stx, stx: stx, dirty: map[string]bool{}}
		if err := call(r.fn, r.tx); err != nil {
			r.cause, r.err = err, fullDisk(err)
			if _, rerr := stx.Exec(`ROLLBACK TO req`); rerr != nil {
				// SQLite ended the transaction (a full disk, an I/O
				// error): give up on the batch.
				stx.Rollback()
				return err
			}
		} else {
			r.ok = true
		}
		if _, err := stx.Exec(`RELEASE req`); err != nil {
			stx.Rollback()
			return fmt.Errorf("release savepoint: %w", err)
		}
	}
	if err := stx.Commit(); err != nil {
		// SQLite may leave the transaction open after a failed COMMIT
		// (a full disk): end it on the connection.
		db.w.Exec(`ROLLBACK`)
		db.invalidateAll(batch)
		return fmt.Errorf("commit: %w", err)
	}
	for _, r := range batch {
		if r.ok {
			db.committed(r.tx)
		}
	}
	return nil
}

// call runs fn, turning a panic into an error (fn runs on the writer
// goroutine, which must survive it).
func call(fn func(flinkplane.Tx) error, t *tx) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("panic in a store transaction: %v", p)
		}
	}()
	return fn(t)
}

// committed applies a committed transaction to the caches and the name
// index, under one lock, so that no reader can put back an entry it read
// before the commit.
func (db *DB) committed(t *tx) {
	db.mu.Lock()
	defer db.mu.Unlock()
	for n := range t.dirty {
		db.gens[genBucket(n)]++
		db.apps.Delete(n)
	}
	for _, name := range t.deleted {
		db.gens[genBucket(name)]++
		db.dropVersionsLocked(name)
	}
	db.applyNamesLocked(t.names)
}

func (db *DB) invalidateAll(batch []*writeReq) {
	for _, r := range batch {
		if r.tx != nil {
			db.invalidate(r.tx.dirty)
		}
	}
}

// checkpoint copies the WAL into the database without blocking writers or
// readers, and truncates a WAL grown too large.
func (db *DB) checkpoint() {
	var busy, logPages, done int
	if err := db.ckpt.QueryRow(`PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &logPages, &done); err != nil {
		return
	}
	var pageSize int
	if db.ckpt.QueryRow(`PRAGMA page_size`).Scan(&pageSize) == nil && logPages*pageSize > truncateBytes {
		db.ckpt.Exec(`PRAGMA wal_checkpoint(TRUNCATE)`)
	}
}

// fullDisk turns SQLite's "database or disk is full" and ENOSPC into
// ELIMIT (LimitExceededException) with a message that says so; any other
// error is returned as it is.
func fullDisk(err error) error {
	if err == nil || !IsDiskFull(err) {
		return err
	}
	var fe *flinkplane.Error
	if errors.As(err, &fe) {
		return err
	}
	return flinkplane.Errorf(flinkplane.ELIMIT, "The server's disk is full: the change was not saved. Free space on the data directory's file system (deleting applications and snapshots frees space) and retry.")
}

// CodeRefUsed reports whether any version uses the uploaded code ref
// (engine.CodeRefCounter).
func (db *DB) CodeRefUsed(ctx context.Context, ref string) (bool, error) {
	var one int
	err := db.r.QueryRowContext(ctx, `SELECT 1 FROM versions WHERE json_extract(data, '$.config.code.zipRef') = ? LIMIT 1`, ref).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// IsDiskFull reports whether err is SQLite's SQLITE_FULL or ENOSPC.
func IsDiskFull(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL {
		return true
	}
	return errors.Is(err, syscall.ENOSPC)
}

// The reserve is a file of ReserveBytes next to the database, allocated
// at Open. When the disk is full, releaseReserve deletes it, so that a
// deletion (which frees space) can still be written; the writer allocates
// it again once a committed deletion has made room.

func (db *DB) reservePath() string { return db.Path + "-reserve" }

// ensureReserve allocates the reserve file if it is missing or short.
func (db *DB) ensureReserve() {
	if db.ReserveBytes <= 0 {
		return
	}
	p := db.reservePath()
	if fi, err := os.Stat(p); err == nil && fi.Size() >= db.ReserveBytes {
		return
	}
	f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return
	}
	defer f.Close()
	if err := syscall.Fallocate(int(f.Fd()), 0, 0, db.ReserveBytes); err != nil {
		// No room yet (or no fallocate): try again after the next deletion.
		f.Truncate(0)
		return
	}
	f.Sync()
}

// releaseReserve deletes the reserve file; it reports whether there was
// one to free.
func (db *DB) releaseReserve() bool {
	if db.ReserveBytes <= 0 {
		return false
	}
	fi, err := os.Stat(db.reservePath())
	if err != nil || fi.Size() == 0 {
		return false
	}
	// No checkpoint here: copying a large WAL into the database file would
	// spend the reserve before the deletion it is kept for (the deletion
	// appends a few pages to the WAL; checkpoints follow as room allows).
	return os.Remove(db.reservePath()) == nil
}
