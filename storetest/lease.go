package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
)

// LeaseStore is what RunLeases needs: a Store with leases.
type LeaseStore interface {
	flinkplane.Store
	flinkplane.LeaseStore
}

// RunLeases runs the lease contract. open returns a fresh, empty store;
// open2, if not nil, returns two handles on one fresh store, as two
// replicas have (a store that one server owns passes nil).
func RunLeases(t *testing.T, open func(t *testing.T) LeaseStore, open2 func(t *testing.T) (LeaseStore, LeaseStore)) {
	t.Run("AcquireRenewRelease", func(t *testing.T) { testLeases(t, open(t)) })
	t.Run("Fencing", func(t *testing.T) { testFencing(t, open(t)) })
	t.Run("ConcurrentUpdates", func(t *testing.T) {
		s := open(t)
		testConcurrentUpdates(t, s, s)
	})
	if open2 != nil {
		t.Run("ConcurrentUpdatesTwoHandles", func(t *testing.T) {
			s1, s2 := open2(t)
			testConcurrentUpdates(t, s1, s2)
		})
		t.Run("OneWinnerPerLease", func(t *testing.T) {
			s1, s2 := open2(t)
			testOneWinner(t, s1, s2)
		})
	}
}

func testLeases(t *testing.T, s LeaseStore) {
	a, err := s.AcquireLease(ctx, "app", "A", time.Minute)
	must(t, err)
	if a.Holder != "A" || a.Token < 1 || a.App != "app" {
		t.Fatalf("acquired %+v", a)
	}
	b, err := s.AcquireLease(ctx, "app", "B", time.Minute)
	wantCode(t, err, flinkplane.EINUSE)
	if b.Holder != "A" || b.Token != a.Token {
		t.Fatalf("held by %+v, want A's", b)
	}
	// Acquiring one's own unexpired lease renews it with the same token.
	a2, err := s.AcquireLease(ctx, "app", "A", time.Minute)
	must(t, err)
	if a2.Token != a.Token {
		t.Fatalf("token %d after re-acquiring, want %d", a2.Token, a.Token)
	}
	got, err := s.RenewLeases(ctx, "A", map[string]int64{"app": a.Token, "other": 7}, time.Minute)
	must(t, err)
	if !got["app"] || got["other"] || len(got) != 1 {
		t.Fatalf("renewed %v", got)
	}
	if got, _ := s.RenewLeases(ctx, "A", map[string]int64{"app": a.Token + 1}, time.Minute); got["app"] {
		t.Fatal("renewed with a wrong token")
	}
	if got, _ := s.RenewLeases(ctx, "B", map[string]int64{"app": a.Token}, time.Minute); got["app"] {
		t.Fatal("renewed by another holder")
	}
	ls, err := s.Leases(ctx)
	must(t, err)
	if len(ls) != 1 || ls[0].Holder != "A" {
		t.Fatalf("leases %+v", ls)
	}

	// An expired lease goes to the next with a higher token; its old
	// holder cannot renew it.
	_, err = s.AcquireLease(ctx, "short", "A", 150*time.Millisecond)
	must(t, err)
	short, _ := s.AcquireLease(ctx, "short", "A", 150*time.Millisecond)
	time.Sleep(300 * time.Millisecond)
	if got, _ := s.RenewLeases(ctx, "A", map[string]int64{"short": short.Token}, time.Minute); got["short"] {
		t.Fatal("renewed an expired lease")
	}
	b, err = s.AcquireLease(ctx, "short", "B", time.Minute)
	must(t, err)
	if b.Token <= short.Token {
		t.Fatalf("token %d after expiry, want > %d", b.Token, short.Token)
	}
	// Released: free at once, and the token still grows.
	must(t, s.ReleaseLease(ctx, "short", "B", b.Token))
	a3, err := s.AcquireLease(ctx, "short", "A", time.Minute)
	must(t, err)
	if a3.Token <= b.Token {
		t.Fatalf("token %d after release, want > %d", a3.Token, b.Token)
	}
	// Releasing with an old token does nothing.
	must(t, s.ReleaseLease(ctx, "short", "A", short.Token))
	if _, err := s.AcquireLease(ctx, "short", "B", time.Minute); flinkplane.ErrorCode(err) != flinkplane.EINUSE {
		t.Fatalf("acquired a lease released with an old token: %v", err)
	}
}

// A write under a lease that was taken over is refused and changes
// nothing; the new holder's goes through.
func testFencing(t *testing.T, s LeaseStore) {
	mustUpdate(t, s, func(tx flinkplane.Tx) error { return createApp(tx, "app") })
	old, err := s.AcquireLease(ctx, "app", "A", 150*time.Millisecond)
	must(t, err)
	fa := flinkplane.WithFence(ctx, flinkplane.Fence{App: "app", Holder: "A", Token: old.Token})
	must(t, s.Update(fa, func(tx flinkplane.Tx) error { return setDescription(tx, "by A") }))
	time.Sleep(300 * time.Millisecond)
	nw, err := s.AcquireLease(ctx, "app", "B", time.Minute)
	must(t, err)
	ran := false
	err = s.Update(fa, func(tx flinkplane.Tx) error { ran = true; return setDescription(tx, "by A, late") })
	if !errors.Is(err, flinkplane.ErrLeaseLost) {
		t.Fatalf("write under a lost lease: %v", err)
	}
	if ran {
		t.Fatal("the fenced transaction ran")
	}
	fb := flinkplane.WithFence(ctx, flinkplane.Fence{App: "app", Holder: "B", Token: nw.Token})
	must(t, s.Update(fb, func(tx flinkplane.Tx) error { return setDescription(tx, "by B") }))
	// A fence of another holder with the same token is refused too.
	fx := flinkplane.WithFence(ctx, flinkplane.Fence{App: "app", Holder: "A", Token: nw.Token})
	if err := s.Update(fx, func(tx flinkplane.Tx) error { return nil }); !errors.Is(err, flinkplane.ErrLeaseLost) {
		t.Fatalf("write of another holder: %v", err)
	}
	mustView(t, s, func(tx flinkplane.Tx) error {
		a, err := tx.Application("app")
		if err != nil {
			return err
		}
		if a.ARN != "by B" {
			return fmt.Errorf("application written by %q, want by B", a.ARN)
		}
		return nil
	})
}

// setDescription marks the application (its ARN field holds the mark).
func setDescription(tx flinkplane.Tx, s string) error {
	a, err := tx.Application("app")
	if err != nil {
		return err
	}
	a.ARN = s
	return tx.PutApplication(a)
}

// Read-modify-write transactions from many goroutines (and two handles)
// lose no update: they behave as if run one after the other.
func testConcurrentUpdates(t *testing.T, s1, s2 LeaseStore) {
	mustUpdate(t, s1, func(tx flinkplane.Tx) error { return createApp(tx, "app") })
	const workers, each = 8, 15
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		s := s1
		if w%2 == 1 {
			s = s2
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				errs <- s.Update(ctx, func(tx flinkplane.Tx) error {
					a, err := tx.Application("app")
					if err != nil {
						return err
					}
					a.VersionID++
					if err := tx.PutApplication(a); err != nil {
						return err
					}
					return tx.PutOperation(&flinkplane.Operation{ID: fmt.Sprint("op", a.VersionID), ApplicationName: "app",
						Kind: flinkplane.OpStartApplication, Status: flinkplane.OperationSuccessful})
				})
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		must(t, err)
	}
	mustView(t, s2, func(tx flinkplane.Tx) error {
		a, err := tx.Application("app")
		if err != nil {
			return err
		}
		ops, _ := tx.Operations("app", flinkplane.OperationFilter{})
		if a.VersionID != 1+workers*each || len(ops) != workers*each {
			return fmt.Errorf("counter %d, %d operations after %d increments", a.VersionID, len(ops), workers*each)
		}
		return nil
	})
}

// Two handles acquiring one free lease together: exactly one wins.
func testOneWinner(t *testing.T, s1, s2 LeaseStore) {
	for i := 0; i < 20; i++ {
		app := fmt.Sprint("app", i)
		var wg sync.WaitGroup
		var errA, errB error
		wg.Add(2)
		go func() { defer wg.Done(); _, errA = s1.AcquireLease(ctx, app, "A", time.Minute) }()
		go func() { defer wg.Done(); _, errB = s2.AcquireLease(ctx, app, "B", time.Minute) }()
		wg.Wait()
		if (errA == nil) == (errB == nil) {
			t.Fatalf("round %d: A %v, B %v", i, errA, errB)
		}
	}
}
