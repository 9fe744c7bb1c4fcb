package flinkplane

import (
	"context"
	"errors"
	"time"
)

// Several servers (replicas) may share one Store (PostgreSQL). Each
// application's operations and its watch then run on exactly one of them
// at a time: the holder of the application's lease. A lease has an expiry
// on the store's clock, renewed by its holder; a holder that stops renewing
// (killed, paused, cut off) loses it when it expires, and another replica
// acquires it and resumes the application's operations.
//
// Fencing: every write a holder makes on behalf of an application carries
// the lease's token in its context (WithFence); the store checks it in the
// same transaction and refuses the write (ErrLeaseLost) once the lease was
// taken over, so a paused replica that lost its lease cannot change the
// application. See docs/replicas.md.

// Lease is one application's lease.
type Lease struct {
	App    string
	Holder string
	// Token is the fencing token: it grows every time the lease is
	// acquired (by anyone) and stays the same while its holder renews it.
	Token int64
	// Expires is when the lease ends unless renewed, on the store's clock.
	Expires time.Time
}

// LeaseStore keeps per-application leases. A Store that several servers
// share implements it on the shared database; a single server's store
// (SQLite, whose data directory is locked by one server) keeps them in
// memory, with the same contract.
type LeaseStore interface {
	// AcquireLease takes app's lease for holder for ttl if it is free or
	// expired (with a new token), or renews holder's own unexpired lease
	// (same token). EINUSE if another holder's lease has not expired.
	AcquireLease(ctx context.Context, app, holder string, ttl time.Duration) (Lease, error)
	// RenewLeases extends by ttl each of holder's leases given as
	// app -> token that is still held with that token and not expired, in
	// one round trip, and returns the applications renewed: any other was
	// lost.
	RenewLeases(ctx context.Context, holder string, held map[string]int64, ttl time.Duration) (map[string]bool, error)
	// ReleaseLease ends holder's lease of app if it is held with token.
	ReleaseLease(ctx context.Context, app, holder string, token int64) error
	// Leases returns every unexpired lease.
	Leases(ctx context.Context) ([]Lease, error)
	// Wake returns a channel that receives the name of an application
	// soon after any server committed an IN_PROGRESS operation of it, so
	// that the lease holder starts it without waiting for a poll; nil when
	// no other server writes to the store.
	Wake() <-chan string
	// Shared reports whether other servers may use the store.
	Shared() bool
}

// Fence is what a write on behalf of an application under its lease
// carries: the store refuses it unless holder still holds app's lease
// with token.
type Fence struct {
	App    string
	Holder string
	Token  int64
}

type fenceKey struct{}

// WithFence returns ctx carrying f: every Store.Update run with it checks
// the lease in its transaction.
func WithFence(ctx context.Context, f Fence) context.Context {
	return context.WithValue(ctx, fenceKey{}, f)
}

// FenceFrom returns the fence ctx carries, if any.
func FenceFrom(ctx context.Context) (Fence, bool) {
	f, ok := ctx.Value(fenceKey{}).(Fence)
	return f, ok
}

// ErrLeaseLost is returned (wrapped) by a fenced write whose lease is no
// longer held with its token.
var ErrLeaseLost = errors.New("the application's lease is held by another server")
