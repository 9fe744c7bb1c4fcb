package sqlite_test

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/sqlite"
)

// TestUpdateReserved_DiskFull fills a 4 MiB tmpfs (the test runs itself
// again in a user and mount namespace of its own: unshare -rm) and deletes
// an application with UpdateReserved while sixteen other writers keep
// writing 128 KiB rows (together twice the reserve) through the same
// writer, as the watch, the metrics recorder and the log shipper do: the
// reserve goes to the deletion. (Releasing the reserve and then calling
// Update, as DeleteApplication did, fails here about one run in three:
// the deletion is group-committed with the others' rows.)
func TestUpdateReserved_DiskFull(t *testing.T) {
	if dir := os.Getenv("FLINKPLANE_SQLITE_TMPFS"); dir != "" {
		reservedOnFullDisk(t, dir)
		return
	}
	if testing.Short() {
		t.Skip("runs itself in a namespace")
	}
	if err := exec.Command("unshare", "-rm", "true").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("unshare -rm (a user and mount namespace, for a small tmpfs) is not available: %v", err)
		}
		t.Skipf("unshare -rm not available: %v", err)
	}
	dir := t.TempDir()
	cmd := exec.Command("unshare", "-rm", "sh", "-c", `mount -t tmpfs -o size=4m tmpfs "$0" && exec "$@"`,
		dir, os.Args[0], "-test.run=^TestUpdateReserved_DiskFull$", "-test.v", "-test.count=1")
	cmd.Env = append(os.Environ(), "FLINKPLANE_SQLITE_TMPFS="+dir)
	out, err := cmd.CombinedOutput()
	if err != nil || !strings.Contains(string(out), "--- PASS: TestUpdateReserved_DiskFull") {
		t.Fatalf("in the namespace: %v\n%s", err, out)
	}
	t.Logf("in the namespace:\n%s", out)
}

func bigApp(tx flinkplane.Tx, name string, size int) error {
	b := make([]byte, size/2)
	rand.Read(b)
	if err := tx.CreateApplication(&flinkplane.Application{Name: name, VersionID: 1}); err != nil {
		return err
	}
	return tx.CreateVersion(&flinkplane.ApplicationVersion{ApplicationName: name, VersionID: 1,
		Config: flinkplane.ApplicationConfig{Description: hex.EncodeToString(b)}})
}

func reservedOnFullDisk(t *testing.T, dir string) {
	db := sqlite.New(dir)
	db.ReserveBytes = 1 << 20
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := context.Background()
	n := 0
	for ; ; n++ {
		err := db.Update(ctx, func(tx flinkplane.Tx) error { return bigApp(tx, fmt.Sprintf("a%04d", n), 64<<10) })
		if flinkplane.ErrorCode(err) == flinkplane.ELIMIT {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if n < 5 {
		t.Fatalf("only %d applications fit", n)
	}
	var stop atomic.Bool
	var full atomic.Int64
	var wg sync.WaitGroup
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; !stop.Load(); i++ {
				err := db.Update(ctx, func(tx flinkplane.Tx) error { return bigApp(tx, fmt.Sprintf("w%d-%d", w, i), 128<<10) })
				if flinkplane.ErrorCode(err) == flinkplane.ELIMIT {
					full.Add(1)
				} else if err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	time.Sleep(100 * time.Millisecond)
	runs := 0
	err := db.UpdateReserved(ctx, func(tx flinkplane.Tx) error {
		runs++
		if err := tx.DeleteApplication("a0000"); err != nil {
			return err
		}
		if runs == 1 {
			// The first run cannot fit, whatever room the WAL file had
			// left from earlier transactions (which let a bare deletion
			// through now and then under load): the reserve must be used.
			return bigApp(tx, "filler", 2<<20)
		}
		return nil
	})
	stop.Store(true)
	wg.Wait()
	if err != nil {
		t.Fatalf("UpdateReserved on a full disk, with %d refused writes of the others: %v", full.Load(), err)
	}
	if runs != 2 {
		t.Errorf("the deletion ran %d times, want twice (full, then with the reserve)", runs)
	}
	if full.Load() == 0 {
		t.Error("the other writers were never refused: the disk was not full")
	}
	if err := db.View(ctx, func(tx flinkplane.Tx) error {
		_, err := tx.Application("a0000")
		return err
	}); flinkplane.ErrorCode(err) != flinkplane.ENOTFOUND {
		t.Fatalf("deleted application: %v", err)
	}
	t.Logf("%d applications filled the disk; %d writes of the others refused while the deletion ran", n, full.Load())
}
