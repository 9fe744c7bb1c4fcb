package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/flinkplane/flinkplane"
)

// Leases: with a LeaseStore (Engine.Leases), an application's worker and
// its watch loop run only while this server holds the application's lease
// (flinkplane.LeaseStore). Both take it when they start (hold) and give it
// back when they end (drop); the lease is released when neither needs it.
// monitorLeases renews every held lease each LeaseTTL/4 in one round trip
// and, with a store shared by several servers, looks for applications that
// need a server (an IN_PROGRESS operation, a cluster to watch) whose lease
// is free: a replica that died has its applications taken over once their
// leases expire, within LeaseTTL + LeaseTTL/4 (docs/replicas.md).
//
// The context a worker and a watch loop run with carries the lease's
// fence, so every Store.Update they make checks the lease in its
// transaction, and it is cancelled LeaseTTL/4 before the lease could
// expire on the store unless renewed meanwhile (the deadline counts from
// before the renewal was sent, on this server's monotonic clock). Every
// driver call takes that context: a replica that lost its lease (paused,
// cut off from the database) stops acting on clusters at the latest when
// the lease could still not have been taken over. What remains is the
// window of a driver call already sent before the cancellation: its effect
// can land later if the process is paused in the middle of it.

// DefaultLeaseTTL is how long an application's lease lasts unless renewed.
const DefaultLeaseTTL = 10 * time.Second

// appLease is a lease this server holds.
type appLease struct {
	token    int64
	deadline time.Time // local: when the lease may have expired on the store
	ctx      context.Context
	cancel   context.CancelFunc
	timer    *time.Timer // cancels ctx at deadline - margin
	users    int
}

type leaseState struct {
	acq  sync.Mutex // one acquisition at a time
	mu   sync.Mutex
	held map[string]*appLease
}

// NewReplicaID returns a lease holder name unique to this process: the host
// name, the process id and a random suffix.
func NewReplicaID() string {
	host, _ := os.Hostname()
	var b [4]byte
	rand.Read(b[:])
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

func (e *Engine) leaseTTL() time.Duration {
	if e.LeaseTTL <= 0 {
		return DefaultLeaseTTL
	}
	return e.LeaseTTL
}

// leaseMargin is how long before its possible expiry a lease stops being
// acted on; it is also the renewal period.
func (e *Engine) leaseMargin() time.Duration { return e.leaseTTL() / 4 }

// SharedStore reports whether other servers may drive applications of the
// store (leases on a shared store).
func (e *Engine) SharedStore() bool { return e.Leases != nil && e.Leases.Shared() }

// Drives reports whether this server drives the application now: it holds
// its lease (always, without leases).
func (e *Engine) Drives(app string) bool {
	if e.Leases == nil {
		return true
	}
	e.lease.mu.Lock()
	defer e.lease.mu.Unlock()
	l := e.lease.held[app]
	return l != nil && l.ctx.Err() == nil
}

// hold takes (or shares) the application's lease; ok is false when
// another server holds it. The returned context is the one to act with.
func (e *Engine) hold(app string) (ctx context.Context, ok bool) {
	if e.Leases == nil {
		return e.ctx, true
	}
	ls := &e.lease
	ls.acq.Lock()
	defer ls.acq.Unlock()
	ls.mu.Lock()
	if l := ls.held[app]; l != nil && l.ctx.Err() == nil {
		l.users++
		ls.mu.Unlock()
		return l.ctx, true
	}
	ls.mu.Unlock()
	if e.ctx.Err() != nil {
		return nil, false
	}
	start := time.Now()
	got, err := e.Leases.AcquireLease(e.ctx, app, e.ReplicaID, e.leaseTTL())
	if err != nil {
		if flinkplane.ErrorCode(err) != flinkplane.EINUSE && e.ctx.Err() == nil {
			e.Logger.Warn("cannot acquire the application's lease", "application", app, "error", err)
		}
		return nil, false
	}
	fctx := flinkplane.WithFence(e.ctx, flinkplane.Fence{App: app, Holder: e.ReplicaID, Token: got.Token})
	l := &appLease{token: got.Token, deadline: start.Add(e.leaseTTL()), users: 1}
	l.ctx, l.cancel = context.WithCancel(fctx)
	l.timer = time.AfterFunc(time.Until(l.deadline)-e.leaseMargin(), func() { e.lost(app, l, "not renewed in time") })
	ls.mu.Lock()
	if ls.held == nil {
		ls.held = map[string]*appLease{}
	}
	ls.held[app] = l
	ls.mu.Unlock()
	if e.SharedStore() {
		e.Logger.Info("acquired the application's lease", "application", app, "token", got.Token)
	}
	return l.ctx, true
}

// drop gives back a hold taken with ctx; the last one releases the lease.
func (e *Engine) drop(app string, ctx context.Context) {
	if e.Leases == nil {
		return
	}
	ls := &e.lease
	ls.mu.Lock()
	l := ls.held[app]
	if l == nil || l.ctx != ctx {
		ls.mu.Unlock()
		return // lost meanwhile
	}
	if l.users--; l.users > 0 {
		ls.mu.Unlock()
		return
	}
	delete(ls.held, app)
	ls.mu.Unlock()
	l.timer.Stop()
	l.cancel()
	rctx, cancel := context.WithTimeout(context.WithoutCancel(e.ctx), 5*time.Second)
	defer cancel()
	if err := e.Leases.ReleaseLease(rctx, app, e.ReplicaID, l.token); err != nil {
		e.Logger.Warn("cannot release the application's lease; it expires", "application", app, "error", err)
	}
}

// lost ends a lease this server can no longer act on.
func (e *Engine) lost(app string, l *appLease, why string) {
	ls := &e.lease
	ls.mu.Lock()
	if ls.held[app] == l {
		delete(ls.held, app)
	}
	ls.mu.Unlock()
	if l.ctx.Err() == nil && e.ctx.Err() == nil {
		e.Logger.Warn("lost the application's lease; its operations go on elsewhere", "application", app, "token", l.token, "why", why)
	}
	l.timer.Stop()
	l.cancel()
}

// monitorLeases renews the held leases and, on a shared store, starts the
// applications whose lease is free and which need a server.
func (e *Engine) monitorLeases(ctx context.Context) {
	defer e.wg.Done()
	t := time.NewTicker(e.leaseMargin())
	defer t.Stop()
	wake := e.Leases.Wake()
	for {
		select {
		case <-ctx.Done():
			return
		case app := <-wake:
			e.kick(app)
			continue
		case <-t.C:
		}
		e.renewLeases(ctx)
		if e.SharedStore() {
			e.findWork(ctx)
		}
	}
}

func (e *Engine) renewLeases(ctx context.Context) {
	ls := &e.lease
	ls.mu.Lock()
	held := map[string]int64{}
	leases := map[string]*appLease{}
	for app, l := range ls.held {
		held[app], leases[app] = l.token, l
	}
	ls.mu.Unlock()
	if len(held) == 0 {
		return
	}
	start := time.Now()
	rctx, cancel := context.WithTimeout(ctx, e.leaseMargin())
	renewed, err := e.Leases.RenewLeases(rctx, e.ReplicaID, held, e.leaseTTL())
	cancel()
	if err != nil {
		if ctx.Err() == nil {
			e.Logger.Warn("cannot renew leases, retrying", "leases", len(held), "error", err)
		}
		return // the timers end what is not renewed in time
	}
	for app, l := range leases {
		if !renewed[app] {
			e.lost(app, l, "taken over or expired")
			continue
		}
		ls.mu.Lock()
		if ls.held[app] == l {
			l.deadline = start.Add(e.leaseTTL())
			l.timer.Reset(time.Until(l.deadline) - e.leaseMargin())
		}
		ls.mu.Unlock()
	}
}

// findWork makes sure a worker runs every operation in progress that no
// other server holds the lease of: those of a server that died or let the
// lease go, and those another server created for an application this one
// drives (the poll behind the store's Wake). The watch
// (monitorApplications) does the same for running applications.
func (e *Engine) findWork(ctx context.Context) {
	others := e.othersLeases(ctx)
	var ops []*flinkplane.Operation
	if err := e.Store.View(ctx, func(tx flinkplane.Tx) (err error) {
		ops, err = tx.InProgressOperations()
		return err
	}); err != nil {
		if ctx.Err() == nil {
			e.Logger.Warn("cannot list operations in progress, retrying", "error", err)
		}
		return
	}
	for _, op := range ops {
		if !others[op.ApplicationName] {
			e.kick(op.ApplicationName)
		}
	}
}

// othersLeases returns the applications whose unexpired lease another
// server holds (none without a shared store).
func (e *Engine) othersLeases(ctx context.Context) map[string]bool {
	out := map[string]bool{}
	if !e.SharedStore() {
		return out
	}
	ls, err := e.Leases.Leases(ctx)
	if err != nil {
		return out
	}
	for _, l := range ls {
		if l.Holder != e.ReplicaID {
			out[l.App] = true
		}
	}
	return out
}

// loseHold ends the lease ctx was taken with, after a fenced write found
// it taken over before the renewal loop noticed.
func (e *Engine) loseHold(app string, ctx context.Context) {
	ls := &e.lease
	ls.mu.Lock()
	l := ls.held[app]
	ls.mu.Unlock()
	if l != nil && l.ctx == ctx {
		e.lost(app, l, "a write found it taken over")
	}
}
