package sqlite

import (
	"context"
	"errors"
	"fmt"
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
// that commit. If the batch as a whole fails (the commit, or an error that
// ends SQLite's transaction such as a full disk), each request that had
// succeeded in it is run again alone, in its own transaction, so that one
// bad request never fails its neighbours.
//
// WAL checkpoints are not run by commits (wal_autocheckpoint is off): the
// writer runs a PASSIVE checkpoint on its own connection once the WAL has
// grown by checkpointPages since the last one, when no batch is waiting,
// and a TRUNCATE one when the WAL has grown past truncatePages (readers
// that never let a passive checkpoint finish would otherwise grow it
// without end).
type writer struct {
	mu      sync.Mutex
	queue   []*writeReq
	wake    chan struct{}
	closed  bool
	done    chan struct{}
	pending int // WAL frames written since the last checkpoint (approximate: batches)
}

type writeReq struct {
	ctx  context.Context
	fn   func(flinkplane.Tx) error
	err  error
	ok   bool // fn succeeded in the batch
	tx   *tx
	done chan struct{}
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
	w.wake = make(chan struct{}, 1)
	w.done = make(chan struct{})
	go w.loop(db)
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
}

// do queues fn and waits for its outcome.
func (w *writer) do(ctx context.Context, fn func(flinkplane.Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	req := &writeReq{ctx: ctx, fn: fn, done: make(chan struct{})}
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

func (w *writer) take() (batch []*writeReq, closed bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := min(len(w.queue), maxBatch)
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
					db.checkpoint()
					w.pending = 0
				}
			}
			continue
		}
		db.commitBatch(batch)
		db.prepareWriter()
		w.pending++
		if w.pending >= checkpointEvery {
			db.checkpoint()
			w.pending = 0
		}
		idle.Reset(checkpointIdle)
	}
}

// commitBatch runs and commits a batch, then answers every request.
func (db *DB) commitBatch(batch []*writeReq) {
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
		return
	}
	if len(live) == 1 {
		db.runAlone(live[0])
		close(live[0].done)
		return
	}
	if err := db.runBatch(live); err != nil {
		// The batch failed as a whole: run again, each alone, those that
		// had succeeded in it (the others keep their own error).
		for _, r := range live {
			if r.ok || r.err == nil {
				r.ok, r.err = false, nil
				db.runAlone(r)
			}
		}
	}
	for _, r := range live {
		close(r.done)
	}
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
			r.err = fullDisk(err)
			if _, rerr := stx.Exec(`ROLLBACK TO req`); rerr != nil {
				// SQLite ended the transaction (a full disk, an I/O
				// error): give up on the batch.
				stx.Rollback()
				return r.err
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

// runAlone runs one request in its own transaction.
func (db *DB) runAlone(r *writeReq) {
	stx, err := db.w.BeginTx(context.Background(), nil)
	if err != nil {
		r.err = fullDisk(fmt.Errorf("begin: %w", err))
		return
	}
	t := &tx{db: db, ctx: context.WithoutCancel(r.ctx), q: stx, stx: stx, dirty: map[string]bool{}}
	if err := call(r.fn, t); err != nil {
		stx.Rollback()
		r.err = fullDisk(err)
		return
	}
	if err := stx.Commit(); err != nil {
		db.invalidate(t.dirty)
		r.err = fullDisk(fmt.Errorf("commit: %w", err))
		return
	}
	db.committed(t)
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

// IsDiskFull reports whether err is SQLite's SQLITE_FULL or ENOSPC.
func IsDiskFull(err error) bool {
	var se *sqlite.Error
	if errors.As(err, &se) && se.Code()&0xff == sqlite3.SQLITE_FULL {
		return true
	}
	return errors.Is(err, syscall.ENOSPC)
}
