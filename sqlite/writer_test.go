package sqlite_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/sqlite"
)

func createApp(tx flinkplane.Tx, name string) error {
	if err := tx.CreateApplication(&flinkplane.Application{Name: name, VersionID: 1}); err != nil {
		return err
	}
	return tx.CreateVersion(&flinkplane.ApplicationVersion{ApplicationName: name, VersionID: 1})
}

// Concurrent Updates are group-committed; a failing or panicking one is
// rolled back alone, and every committed one survives a reopen.
func TestGroupCommit(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	ctx := context.Background()
	const n = 200
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = db.Update(ctx, func(tx flinkplane.Tx) error {
				if err := createApp(tx, fmt.Sprintf("a%03d", i)); err != nil {
					return err
				}
				switch i % 10 {
				case 3: // fails after writing: its writes are rolled back
					return flinkplane.Errorf(flinkplane.EINVALID, "no %d", i)
				case 7:
					panic(fmt.Sprint("boom ", i))
				}
				return nil
			})
		}()
	}
	wg.Wait()
	for i, err := range errs {
		switch i % 10 {
		case 3:
			if flinkplane.ErrorCode(err) != flinkplane.EINVALID {
				t.Fatalf("%d: %v", i, err)
			}
		case 7:
			if err == nil {
				t.Fatalf("%d: panic not reported", i)
			}
		default:
			if err != nil {
				t.Fatalf("%d: %v", i, err)
			}
		}
	}
	check := func(db *sqlite.DB) {
		t.Helper()
		err := db.View(ctx, func(tx flinkplane.Tx) error {
			apps, err := tx.Applications("", 0)
			if err != nil {
				return err
			}
			if len(apps) != n*8/10 {
				return fmt.Errorf("%d applications, want %d", len(apps), n*8/10)
			}
			for _, a := range apps {
				var i int
				fmt.Sscanf(a.Name, "a%d", &i)
				if i%10 == 3 || i%10 == 7 {
					return fmt.Errorf("%s was committed", a.Name)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	check(db)
	db.Close()
	check(open(t, dir))
}

// A cancelled context before the write runs: nothing is written.
func TestUpdate_Cancelled(t *testing.T) {
	db := open(t, t.TempDir())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	ran := false
	err := db.Update(ctx, func(tx flinkplane.Tx) error { ran = true; return createApp(tx, "x") })
	if !errors.Is(err, context.Canceled) || ran {
		t.Fatalf("err %v ran %v", err, ran)
	}
	db.Close()
	if err := db.Update(context.Background(), func(tx flinkplane.Tx) error { return nil }); err == nil {
		t.Fatal("Update after Close succeeded")
	}
}

// The read caches keep at most CacheEntries entries each (issue 9,
// finding 5: every version read used to stay cached for ever).
func TestCacheBound(t *testing.T) {
	db := sqlite.New(t.TempDir())
	db.CacheEntries = 50
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	for i := 0; i < 20; i++ {
		if err := db.Update(ctx, func(tx flinkplane.Tx) error {
			name := fmt.Sprintf("app-%02d", i)
			if err := createApp(tx, name); err != nil {
				return err
			}
			for v := int64(2); v <= 30; v++ {
				if err := tx.CreateVersion(&flinkplane.ApplicationVersion{ApplicationName: name, VersionID: v}); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	for round := 0; round < 2; round++ {
		for i := 0; i < 20; i++ {
			for v := int64(1); v <= 30; v++ {
				if err := db.View(ctx, func(tx flinkplane.Tx) error {
					if _, err := tx.Application(fmt.Sprintf("app-%02d", i)); err != nil {
						return err
					}
					ver, err := tx.Version(fmt.Sprintf("app-%02d", i), v)
					if err == nil && ver.VersionID != v {
						err = fmt.Errorf("version %d read as %d", v, ver.VersionID)
					}
					return err
				}); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	apps, vers := db.CacheLen()
	if apps > 50 || vers > 50 || vers == 0 || apps == 0 {
		t.Fatalf("cache holds %d applications and %d versions, want 1..50 each", apps, vers)
	}
	// Deleting an application drops its cached versions: a new one of the
	// same name is read afresh.
	if err := db.Update(ctx, func(tx flinkplane.Tx) error { return tx.DeleteApplication("app-19") }); err != nil {
		t.Fatal(err)
	}
	if err := db.Update(ctx, func(tx flinkplane.Tx) error {
		if err := tx.CreateApplication(&flinkplane.Application{Name: "app-19", VersionID: 1}); err != nil {
			return err
		}
		return tx.CreateVersion(&flinkplane.ApplicationVersion{ApplicationName: "app-19", VersionID: 1, Status: "NEW"})
	}); err != nil {
		t.Fatal(err)
	}
	db.View(ctx, func(tx flinkplane.Tx) error {
		v, err := tx.Version("app-19", 1)
		if err != nil || v.Status != "NEW" {
			t.Fatalf("recreated application's version: %+v %v", v, err)
		}
		return nil
	})
}

// Writes keep going while the WAL is checkpointed in the background, and
// the WAL does not grow without end.
func TestCheckpoint(t *testing.T) {
	dir := t.TempDir()
	db := open(t, dir)
	ctx := context.Background()
	for i := 0; i < 300; i++ {
		if err := db.Update(ctx, func(tx flinkplane.Tx) error { return createApp(tx, fmt.Sprintf("c%04d", i)) }); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(500 * time.Millisecond) // the idle checkpoint
	db.Close()
	if fi, err := osStat(filepath.Join(dir, "flinkplane.db-wal")); err == nil && fi > 1<<20 {
		t.Fatalf("WAL of %d bytes after close", fi)
	}
	db = open(t, dir)
	db.View(ctx, func(tx flinkplane.Tx) error {
		apps, _ := tx.Applications("", 0)
		if len(apps) != 300 {
			t.Fatalf("%d applications after reopen", len(apps))
		}
		return nil
	})
}

func osStat(p string) (int64, error) {
	fi, err := os.Stat(p)
	if err != nil {
		return 0, err
	}
	return fi.Size(), nil
}
