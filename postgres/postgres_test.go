package postgres_test

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/internal/pgtest"
	"github.com/flinkplane/flinkplane/postgres"
	"github.com/flinkplane/flinkplane/storetest"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}

// open opens a store on a fresh database of the package's server.
func open(t *testing.T) *postgres.DB {
	t.Helper()
	return openURL(t, pgtest.Need(t).NewDatabase(t))
}

func openURL(t *testing.T, url string) *postgres.DB {
	t.Helper()
	db := postgres.New(url)
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestStoreContract(t *testing.T) {
	storetest.Run(t,
		func(t *testing.T) flinkplane.Store { return open(t) },
		func(t *testing.T, s flinkplane.Store) flinkplane.Store {
			db := s.(*postgres.DB)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			return openURL(t, db.URL)
		})
}

func TestMetricStoreContract(t *testing.T) {
	storetest.RunMetrics(t,
		func(t *testing.T) storetest.MetricStore { return open(t) },
		func(t *testing.T, s storetest.MetricStore) storetest.MetricStore {
			db := s.(*postgres.DB)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			return openURL(t, db.URL)
		})
}

func TestMigrationsIdempotent(t *testing.T) {
	url := pgtest.Need(t).NewDatabase(t)
	openURL(t, url).Close()
	openURL(t, url)
}

func TestLeaseContract(t *testing.T) {
	storetest.RunLeases(t, func(t *testing.T) storetest.LeaseStore { return open(t) },
		func(t *testing.T) (storetest.LeaseStore, storetest.LeaseStore) {
			url := pgtest.Need(t).NewDatabase(t)
			return openURL(t, url), openURL(t, url)
		})
}

// A committed IN_PROGRESS operation wakes every handle's listener; a
// conflict between two handles' transactions is retried.
func TestWakeAndRetry(t *testing.T) {
	url := pgtest.Need(t).NewDatabase(t)
	a, b := openURL(t, url), openURL(t, url)
	ctx := context.Background()
	if err := a.Update(ctx, func(tx flinkplane.Tx) error {
		if err := tx.CreateApplication(&flinkplane.Application{Name: "app", VersionID: 1}); err != nil {
			return err
		}
		return tx.PutOperation(&flinkplane.Operation{ID: "op", ApplicationName: "app", Kind: flinkplane.OpStartApplication, Status: flinkplane.OperationInProgress})
	}); err != nil {
		t.Fatal(err)
	}
	for _, db := range []*postgres.DB{a, b} {
		select {
		case app := <-db.Wake():
			if app != "app" {
				t.Fatalf("woken for %q", app)
			}
		case <-time.After(10 * time.Second):
			t.Fatal("no wake-up")
		}
	}
	// Two transactions that read and write the same row, interleaved: the
	// second to commit loses and runs again.
	inA, release := make(chan struct{}), make(chan struct{})
	done := make(chan error, 1)
	runs := 0
	go func() {
		done <- a.Update(ctx, func(tx flinkplane.Tx) error {
			runs++
			app, err := tx.Application("app")
			if err != nil {
				return err
			}
			if runs == 1 {
				close(inA)
				<-release
			}
			app.VersionID++
			return tx.PutApplication(app)
		})
	}()
	<-inA
	if err := b.Update(ctx, func(tx flinkplane.Tx) error {
		app, err := tx.Application("app")
		if err != nil {
			return err
		}
		app.VersionID++
		return tx.PutApplication(app)
	}); err != nil {
		t.Fatal(err)
	}
	close(release)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if runs != 2 || a.Retried() != 1 {
		t.Fatalf("fn ran %d times, %d retries", runs, a.Retried())
	}
	a.View(ctx, func(tx flinkplane.Tx) error {
		app, _ := tx.Application("app")
		if app.VersionID != 3 {
			t.Errorf("version %d, want 3", app.VersionID)
		}
		return nil
	})
}
