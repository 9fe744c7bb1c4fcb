package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/sqlite"
	"github.com/flinkplane/flinkplane/storetest"
)

func open(t testing.TB, dir string) *sqlite.DB {
	t.Helper()
	db := sqlite.New(dir)
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestStoreContract(t *testing.T) {
	storetest.Run(t,
		func(t *testing.T) flinkplane.Store { return open(t, t.TempDir()) },
		func(t *testing.T, s flinkplane.Store) flinkplane.Store {
			db := s.(*sqlite.DB)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, filepath.Dir(db.Path))
		})
}

func TestMigrationsIdempotent(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	db.Close()
	open(t, dir)
}

func TestMetricStoreContract(t *testing.T) {
	storetest.RunMetrics(t,
		func(t *testing.T) storetest.MetricStore { return open(t, t.TempDir()) },
		func(t *testing.T, s storetest.MetricStore) storetest.MetricStore {
			db := s.(*sqlite.DB)
			if err := db.Close(); err != nil {
				t.Fatal(err)
			}
			return open(t, filepath.Dir(db.Path))
		})
}

func TestLeaseContract(t *testing.T) {
	storetest.RunLeases(t, func(t *testing.T) storetest.LeaseStore { return open(t, t.TempDir()) }, nil)
}
