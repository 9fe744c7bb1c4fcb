package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/flinkplane/flinkplane"
)

// Leases are rows of the leases table, on the database's clock
// (clock_timestamp(), not a replica's). Acquiring and renewing are single
// statements (row-locked, so two replicas acquiring together cannot both
// win); a fenced Update reads its lease FOR SHARE first, so that an
// acquisition waits for the fenced transactions in flight to end, and a
// fenced transaction that starts after an acquisition was made sees it (or
// fails to serialize and runs again, then sees it).

func micros(d time.Duration) int64 { return int64(d / time.Microsecond) }

// AcquireLease implements flinkplane.LeaseStore.
func (db *DB) AcquireLease(ctx context.Context, app, holder string, ttl time.Duration) (flinkplane.Lease, error) {
	l := flinkplane.Lease{App: app, Holder: holder}
	err := db.pool.QueryRow(ctx, `INSERT INTO leases AS l (app, holder, token, expires)
		VALUES ($1, $2, 1, clock_timestamp() + $3 * interval '1 microsecond')
		ON CONFLICT (app) DO UPDATE SET
			token = CASE WHEN l.holder = excluded.holder AND l.expires > clock_timestamp() THEN l.token ELSE l.token + 1 END,
			holder = excluded.holder, expires = excluded.expires
		WHERE l.expires <= clock_timestamp() OR l.holder = excluded.holder
		RETURNING token, expires`, app, holder, micros(ttl)).Scan(&l.Token, &l.Expires)
	if err == nil {
		return l, nil
	}
	if !errors.Is(err, pgx.ErrNoRows) {
		return l, fmt.Errorf("acquire lease: %w", err)
	}
	// Held by another replica.
	if err := db.pool.QueryRow(ctx, `SELECT holder, token, expires FROM leases WHERE app = $1`, app).Scan(&l.Holder, &l.Token, &l.Expires); err != nil {
		return l, fmt.Errorf("read lease: %w", err)
	}
	return l, flinkplane.Errorf(flinkplane.EINUSE, "The lease of application %s is held by %s.", app, l.Holder)
}

// RenewLeases implements flinkplane.LeaseStore.
func (db *DB) RenewLeases(ctx context.Context, holder string, held map[string]int64, ttl time.Duration) (map[string]bool, error) {
	out := map[string]bool{}
	if len(held) == 0 {
		return out, nil
	}
	apps := make([]string, 0, len(held))
	tokens := make([]int64, 0, len(held))
	for a, tok := range held {
		apps = append(apps, a)
		tokens = append(tokens, tok)
	}
	rows, err := db.pool.Query(ctx, `UPDATE leases AS l SET expires = clock_timestamp() + $4 * interval '1 microsecond'
		FROM unnest($2::text[], $3::bigint[]) AS h(app, token)
		WHERE l.app = h.app AND l.token = h.token AND l.holder = $1 AND l.expires > clock_timestamp()
		RETURNING l.app`, holder, apps, tokens, micros(ttl))
	if err != nil {
		return nil, fmt.Errorf("renew leases: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var a string
		if err := rows.Scan(&a); err != nil {
			return nil, fmt.Errorf("renew leases: %w", err)
		}
		out[a] = true
	}
	return out, rows.Err()
}

// ReleaseLease implements flinkplane.LeaseStore: the row stays, expired,
// so that the next token is higher.
func (db *DB) ReleaseLease(ctx context.Context, app, holder string, token int64) error {
	_, err := db.pool.Exec(ctx, `UPDATE leases SET expires = '-infinity' WHERE app = $1 AND holder = $2 AND token = $3`, app, holder, token)
	if err != nil {
		return fmt.Errorf("release lease: %w", err)
	}
	return nil
}

// Leases implements flinkplane.LeaseStore.
func (db *DB) Leases(ctx context.Context) ([]flinkplane.Lease, error) {
	rows, err := db.pool.Query(ctx, `SELECT app, holder, token, expires FROM leases WHERE expires > clock_timestamp() ORDER BY app`)
	if err != nil {
		return nil, fmt.Errorf("list leases: %w", err)
	}
	defer rows.Close()
	var out []flinkplane.Lease
	for rows.Next() {
		var l flinkplane.Lease
		if err := rows.Scan(&l.App, &l.Holder, &l.Token, &l.Expires); err != nil {
			return nil, fmt.Errorf("list leases: %w", err)
		}
		out = append(out, l)
	}
	return out, rows.Err()
}

// Shared implements flinkplane.LeaseStore: replicas share the database.
func (db *DB) Shared() bool { return true }

// Wake implements flinkplane.LeaseStore.
func (db *DB) Wake() <-chan string { return db.wake }

// checkFence reads the fence's lease FOR SHARE, first in a fenced
// transaction.
func checkFence(ctx context.Context, ptx pgx.Tx, f flinkplane.Fence) error {
	var ok bool
	err := ptx.QueryRow(ctx, `SELECT holder = $2 AND token = $3 AND expires > clock_timestamp() FROM leases WHERE app = $1 FOR SHARE`,
		f.App, f.Holder, f.Token).Scan(&ok)
	if errors.Is(err, pgx.ErrNoRows) {
		ok = false
	} else if err != nil {
		return fmt.Errorf("check lease: %w", err)
	}
	if !ok {
		return fmt.Errorf("application %s, token %d: %w", f.App, f.Token, flinkplane.ErrLeaseLost)
	}
	return nil
}

// listen delivers NOTIFYs of the channel to Wake, reconnecting after a
// lost connection (the engine's poll covers what is missed meanwhile).
func (db *DB) listen(ready chan<- error) {
	defer db.wg.Done()
	ctx := db.ctx
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		err := db.listenOnce(ctx, ready)
		ready = nil
		if ctx.Err() != nil {
			return
		}
		db.Logger.Warn("postgres: cannot listen for operations, retrying", "error", err)
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(2*backoff, 5*time.Second)
	}
}

func (db *DB) listenOnce(ctx context.Context, ready chan<- error) (err error) {
	defer func() {
		if ready != nil {
			ready <- err
		}
	}()
	conn, err := db.pool.Acquire(ctx)
	if err != nil {
		return err
	}
	// The connection leaves the pool: it stays LISTENing.
	c := conn.Hijack()
	defer c.Close(context.Background())
	if _, err := c.Exec(ctx, "LISTEN "+pgx.Identifier{db.Channel}.Sanitize()); err != nil {
		return err
	}
	if ready != nil {
		ready <- nil
		ready = nil
	}
	for {
		n, err := c.WaitForNotification(ctx)
		if err != nil {
			return err
		}
		select {
		case db.wake <- n.Payload:
		default: // the engine is behind; its poll finds the rest
		}
	}
}
