package sqlite

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/internal/storecore"
)

// Leases of a SQLite store live in memory: one server holds the data
// directory's lock, so it is the only holder there can be, and a lease
// written to the file would only cost a write per renewal. The contract
// (tokens, expiry, fencing) is flinkplane.LeaseStore's all the same, so
// that the engine runs the same code on either store.

var _ flinkplane.LeaseStore = (*DB)(nil)

type leaseTable struct {
	mu     sync.Mutex
	leases map[string]*flinkplane.Lease
}

func (lt *leaseTable) get(app string) *flinkplane.Lease {
	if lt.leases == nil {
		lt.leases = map[string]*flinkplane.Lease{}
	}
	return lt.leases[app]
}

// AcquireLease implements flinkplane.LeaseStore.
func (db *DB) AcquireLease(ctx context.Context, app, holder string, ttl time.Duration) (flinkplane.Lease, error) {
	lt := &db.leases
	lt.mu.Lock()
	defer lt.mu.Unlock()
	now := time.Now()
	l := lt.get(app)
	switch {
	case l == nil:
		l = &flinkplane.Lease{App: app, Holder: holder, Token: 1}
		lt.leases[app] = l
	case l.Holder == holder && l.Expires.After(now):
	case !l.Expires.After(now):
		l.Holder, l.Token = holder, l.Token+1
	default:
		return *l, flinkplane.Errorf(flinkplane.EINUSE, "The lease of application %s is held by %s.", app, l.Holder)
	}
	l.Expires = now.Add(ttl)
	return *l, nil
}

// RenewLeases implements flinkplane.LeaseStore.
func (db *DB) RenewLeases(ctx context.Context, holder string, held map[string]int64, ttl time.Duration) (map[string]bool, error) {
	lt := &db.leases
	lt.mu.Lock()
	defer lt.mu.Unlock()
	now := time.Now()
	out := map[string]bool{}
	for app, tok := range held {
		if l := lt.get(app); l != nil && l.Holder == holder && l.Token == tok && l.Expires.After(now) {
			l.Expires = now.Add(ttl)
			out[app] = true
		}
	}
	return out, nil
}

// ReleaseLease implements flinkplane.LeaseStore.
func (db *DB) ReleaseLease(ctx context.Context, app, holder string, token int64) error {
	lt := &db.leases
	lt.mu.Lock()
	defer lt.mu.Unlock()
	if l := lt.get(app); l != nil && l.Holder == holder && l.Token == token {
		l.Expires = time.Time{}
	}
	return nil
}

// Leases implements flinkplane.LeaseStore.
func (db *DB) Leases(ctx context.Context) ([]flinkplane.Lease, error) {
	lt := &db.leases
	lt.mu.Lock()
	defer lt.mu.Unlock()
	now := time.Now()
	var out []flinkplane.Lease
	for _, app := range storecore.SortedKeys(lt.leases) {
		if l := lt.leases[app]; l.Expires.After(now) {
			out = append(out, *l)
		}
	}
	return out, nil
}

// Wake implements flinkplane.LeaseStore: no other server writes here.
func (db *DB) Wake() <-chan string { return nil }

// Shared implements flinkplane.LeaseStore.
func (db *DB) Shared() bool { return false }

// checkFence checks the lease a fenced Update carries.
func (db *DB) checkFence(ctx context.Context) error {
	f, ok := flinkplane.FenceFrom(ctx)
	if !ok {
		return nil
	}
	lt := &db.leases
	lt.mu.Lock()
	defer lt.mu.Unlock()
	if l := lt.get(f.App); l == nil || l.Holder != f.Holder || l.Token != f.Token || !l.Expires.After(time.Now()) {
		return fmt.Errorf("application %s, token %d: %w", f.App, f.Token, flinkplane.ErrLeaseLost)
	}
	return nil
}
