// Package storetest is the contract every flinkplane.Store must meet, run
// against each backend by its own tests.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
)

// Run runs the contract suite; open returns a fresh, empty store and
// reopen (may be nil) closes and reopens one on the same data.
func Run(t *testing.T, open func(t *testing.T) flinkplane.Store, reopen func(t *testing.T, s flinkplane.Store) flinkplane.Store) {
	t.Run("ApplicationLifecycle", func(t *testing.T) { testApplication(t, open(t)) })
	t.Run("AtomicUpdate", func(t *testing.T) { testAtomic(t, open(t)) })
	t.Run("Versions", func(t *testing.T) { testVersions(t, open(t)) })
	t.Run("Snapshots", func(t *testing.T) { testSnapshots(t, open(t)) })
	t.Run("Operations", func(t *testing.T) { testOperations(t, open(t)) })
	t.Run("Tags", func(t *testing.T) { testTags(t, open(t)) })
	t.Run("DeleteCascades", func(t *testing.T) { testDelete(t, open(t)) })
	t.Run("ListingOrder", func(t *testing.T) { testListingOrder(t, open(t)) })
	t.Run("Health", func(t *testing.T) { testHealth(t, open(t)) })
	if reopen != nil {
		t.Run("Durable", func(t *testing.T) {
			s := open(t)
			mustUpdate(t, s, func(tx flinkplane.Tx) error { return createApp(tx, "durable") })
			s = reopen(t, s)
			mustView(t, s, func(tx flinkplane.Tx) error {
				a, err := tx.Application("durable")
				if err != nil {
					return err
				}
				if a.VersionID != 1 || a.Status != flinkplane.StatusReady {
					return fmt.Errorf("got %+v", a)
				}
				_, err = tx.Version("durable", 1)
				return err
			})
		})
	}
}

var ctx = context.Background()

func mustUpdate(t *testing.T, s flinkplane.Store, fn func(flinkplane.Tx) error) {
	t.Helper()
	if err := s.Update(ctx, fn); err != nil {
		t.Fatal(err)
	}
}

func mustView(t *testing.T, s flinkplane.Store, fn func(flinkplane.Tx) error) {
	t.Helper()
	if err := s.View(ctx, fn); err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if got := flinkplane.ErrorCode(err); got != code {
		t.Fatalf("error code = %q (%v), want %q", got, err, code)
	}
}

var t0 = time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)

func createApp(tx flinkplane.Tx, name string) error {
	app := &flinkplane.Application{Name: name, ID: "id-" + name, ARN: "arn:aws:kinesisanalytics:r:1:application/" + name,
		Status: flinkplane.StatusReady, VersionID: 1, ConditionalToken: "tok1", CreateTime: t0, UpdateTime: t0,
		RuntimeEnvironment: flinkplane.RuntimeFlink120}
	if err := tx.CreateApplication(app); err != nil {
		return err
	}
	cfg := flinkplane.DefaultConfig()
	cfg.RuntimeEnvironment = flinkplane.RuntimeFlink120
	cfg.EnvironmentProperties = []flinkplane.PropertyGroup{{PropertyGroupID: "g", PropertyMap: map[string]string{"k": "v"}}}
	return tx.CreateVersion(&flinkplane.ApplicationVersion{ApplicationName: name, VersionID: 1, CreateTime: t0, Status: flinkplane.StatusReady, Config: cfg})
}

func testApplication(t *testing.T, s flinkplane.Store) {
	mustUpdate(t, s, func(tx flinkplane.Tx) error { return createApp(tx, "b") })
	mustUpdate(t, s, func(tx flinkplane.Tx) error { return createApp(tx, "a") })
	wantCode(t, s.Update(ctx, func(tx flinkplane.Tx) error { return createApp(tx, "a") }), flinkplane.EINUSE)
	wantCode(t, s.View(ctx, func(tx flinkplane.Tx) error { _, err := tx.Application("zz"); return err }), flinkplane.ENOTFOUND)

	mustView(t, s, func(tx flinkplane.Tx) error {
		a, err := tx.Application("a")
		if err != nil {
			return err
		}
		if !a.CreateTime.Equal(t0) || a.ARN == "" || a.RuntimeEnvironment != flinkplane.RuntimeFlink120 {
			return fmt.Errorf("application not round-tripped: %+v", a)
		}
		return nil
	})
	// Cached reads see committed writes.
	mustUpdate(t, s, func(tx flinkplane.Tx) error {
		a, err := tx.Application("a")
		if err != nil {
			return err
		}
		a.Status = flinkplane.StatusRunning
		a.Cluster = &flinkplane.ClusterHandle{ID: "c1", Runtime: flinkplane.RuntimeFlink120}
		a.JobID = "j1"
		return tx.PutApplication(a)
	})
	mustView(t, s, func(tx flinkplane.Tx) error {
		a, _ := tx.Application("a")
		if a.Status != flinkplane.StatusRunning || a.Cluster == nil || a.Cluster.ID != "c1" || a.JobID != "j1" {
			return fmt.Errorf("update not visible: %+v", a)
		}
		return nil
	})
	wantCode(t, s.Update(ctx, func(tx flinkplane.Tx) error {
		return tx.PutApplication(&flinkplane.Application{Name: "nope"})
	}), flinkplane.ENOTFOUND)

	for _, n := range []string{"c", "d", "e"} {
		mustUpdate(t, s, func(tx flinkplane.Tx) error { return createApp(tx, n) })
	}
	mustView(t, s, func(tx flinkplane.Tx) error {
		page, err := tx.Applications("", 2)
		if err != nil {
			return err
		}
		if len(page) != 2 || page[0].Name != "a" || page[1].Name != "b" {
			return fmt.Errorf("page 1: %v", names(page))
		}
		page, _ = tx.Applications("b", 2)
		if len(page) != 2 || page[0].Name != "c" || page[1].Name != "d" {
			return fmt.Errorf("page 2: %v", names(page))
		}
		page, _ = tx.Applications("d", 0)
		if len(page) != 1 || page[0].Name != "e" {
			return fmt.Errorf("page 3: %v", names(page))
		}
		return nil
	})
}

func names(apps []*flinkplane.Application) []string {
	var out []string
	for _, a := range apps {
		out = append(out, a.Name)
	}
	return out
}

func testAtomic(t *testing.T, s flinkplane.Store) {
	mustUpdate(t, s, func(tx flinkplane.Tx) error { return createApp(tx, "a") })
	boom := errors.New("boom")
	err := s.Update(ctx, func(tx flinkplane.Tx) error {
		a, _ := tx.Application("a")
		a.VersionID = 2
		a.Status = flinkplane.StatusUpdating
		if err := tx.PutApplication(a); err != nil {
			return err
		}
		if err := tx.CreateVersion(&flinkplane.ApplicationVersion{ApplicationName: "a", VersionID: 2}); err != nil {
			return err
		}
		if err := tx.PutOperation(&flinkplane.Operation{ID: "op1", ApplicationName: "a", Kind: flinkplane.OpUpdateApplication, Status: flinkplane.OperationInProgress}); err != nil {
			return err
		}
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v", err)
	}
	mustView(t, s, func(tx flinkplane.Tx) error {
		a, _ := tx.Application("a")
		if a.VersionID != 1 || a.Status != flinkplane.StatusReady {
			return fmt.Errorf("application changed by a rolled back transaction: %+v", a)
		}
		if _, err := tx.Version("a", 2); flinkplane.ErrorCode(err) != flinkplane.ENOTFOUND {
			return fmt.Errorf("version 2 exists: %v", err)
		}
		if _, err := tx.Operation("a", "op1"); flinkplane.ErrorCode(err) != flinkplane.ENOTFOUND {
			return fmt.Errorf("operation exists: %v", err)
		}
		return nil
	})
}

func testVersions(t *testing.T, s flinkplane.Store) {
	mustUpdate(t, s, func(tx flinkplane.Tx) error { return createApp(tx, "a") })
	for i := int64(2); i <= 5; i++ {
		mustUpdate(t, s, func(tx flinkplane.Tx) error {
			v, err := tx.Version("a", i-1)
			if err != nil {
				return err
			}
			nv := *v
			nv.VersionID = i
			nv.UpdatedFrom = i - 1
			nv.Config = v.Config.Clone()
			nv.Config.Description = fmt.Sprint("v", i)
			return tx.CreateVersion(&nv)
		})
	}
	// Immutable.
	wantCode(t, s.Update(ctx, func(tx flinkplane.Tx) error {
		return tx.CreateVersion(&flinkplane.ApplicationVersion{ApplicationName: "a", VersionID: 3})
	}), flinkplane.ECONFLICT)
	mustView(t, s, func(tx flinkplane.Tx) error {
		v, err := tx.Version("a", 3)
		if err != nil {
			return err
		}
		if v.Config.Description != "v3" || v.UpdatedFrom != 2 || v.Config.EnvironmentProperties[0].PropertyMap["k"] != "v" {
			return fmt.Errorf("version 3: %+v", v)
		}
		vs, _ := tx.Versions("a", 0, 2)
		if len(vs) != 2 || vs[0].VersionID != 1 || vs[1].VersionID != 2 {
			return fmt.Errorf("versions page 1 wrong")
		}
		vs, _ = tx.Versions("a", 2, 0)
		if len(vs) != 3 || vs[2].VersionID != 5 {
			return fmt.Errorf("versions page 2 wrong")
		}
		_, err = tx.Version("a", 9)
		if flinkplane.ErrorCode(err) != flinkplane.ENOTFOUND {
			return fmt.Errorf("version 9: %v", err)
		}
		return nil
	})
}

func testSnapshots(t *testing.T, s flinkplane.Store) {
	mustUpdate(t, s, func(tx flinkplane.Tx) error { return createApp(tx, "a") })
	for i, n := range []string{"s2", "s1", "s3"} {
		mustUpdate(t, s, func(tx flinkplane.Tx) error {
			return tx.CreateSnapshot(&flinkplane.Snapshot{ApplicationName: "a", Name: n, Status: flinkplane.SnapshotCreating,
				VersionID: 1, Runtime: flinkplane.RuntimeFlink120, CreateTime: t0.Add(time.Duration(i) * time.Second)})
		})
	}
	wantCode(t, s.Update(ctx, func(tx flinkplane.Tx) error {
		return tx.CreateSnapshot(&flinkplane.Snapshot{ApplicationName: "a", Name: "s1"})
	}), flinkplane.EINUSE)
	mustUpdate(t, s, func(tx flinkplane.Tx) error {
		sn, err := tx.Snapshot("a", "s1")
		if err != nil {
			return err
		}
		sn.Status, sn.Location = flinkplane.SnapshotReady, "/sp/1"
		return tx.PutSnapshot(sn)
	})
	mustView(t, s, func(tx flinkplane.Tx) error {
		all, err := tx.Snapshots("a", "", 0)
		if err != nil {
			return err
		}
		if len(all) != 3 || all[0].Name != "s2" || all[1].Name != "s1" || all[1].Location != "/sp/1" {
			return fmt.Errorf("snapshots in creation order: %+v", all)
		}
		page, _ := tx.Snapshots("a", "s2", 1)
		if len(page) != 1 || page[0].Name != "s1" {
			return fmt.Errorf("page after s2: %+v", page)
		}
		return nil
	})
	mustUpdate(t, s, func(tx flinkplane.Tx) error { return tx.DeleteSnapshot("a", "s2") })
	wantCode(t, s.Update(ctx, func(tx flinkplane.Tx) error { return tx.DeleteSnapshot("a", "s2") }), flinkplane.ENOTFOUND)
}

func testOperations(t *testing.T, s flinkplane.Store) {
	mustUpdate(t, s, func(tx flinkplane.Tx) error { return createApp(tx, "a") })
	mustUpdate(t, s, func(tx flinkplane.Tx) error { return createApp(tx, "b") })
	kinds := []string{flinkplane.OpStartApplication, flinkplane.OpStopApplication, flinkplane.OpStartApplication, flinkplane.OpUpdateApplication}
	for i, k := range kinds {
		mustUpdate(t, s, func(tx flinkplane.Tx) error {
			return tx.PutOperation(&flinkplane.Operation{ID: fmt.Sprint("op", i), ApplicationName: "a", Kind: k,
				Status: flinkplane.OperationInProgress, StartTime: t0, Plan: []string{"X", "Y"}})
		})
	}
	mustUpdate(t, s, func(tx flinkplane.Tx) error {
		return tx.PutOperation(&flinkplane.Operation{ID: "opb", ApplicationName: "b", Kind: flinkplane.OpStartApplication, Status: flinkplane.OperationInProgress})
	})
	mustUpdate(t, s, func(tx flinkplane.Tx) error {
		op, err := tx.Operation("a", "op0")
		if err != nil {
			return err
		}
		op.Status, op.Step, op.JobID, op.TriggerID = flinkplane.OperationSuccessful, 2, "job", "trig"
		op.Findings = []flinkplane.Finding{{Severity: flinkplane.SeverityError, Code: "REMOVED_API"}}
		return tx.PutOperation(op)
	})
	mustView(t, s, func(tx flinkplane.Tx) error {
		op, _ := tx.Operation("a", "op0")
		if op.Status != flinkplane.OperationSuccessful || op.JobID != "job" || op.TriggerID != "trig" || len(op.Findings) != 1 {
			return fmt.Errorf("op0: %+v", op)
		}
		all, _ := tx.Operations("a", flinkplane.OperationFilter{})
		if len(all) != 4 || all[0].ID != "op3" || all[3].ID != "op0" {
			return fmt.Errorf("newest first: %v", opIDs(all))
		}
		st, _ := tx.Operations("a", flinkplane.OperationFilter{Kind: flinkplane.OpStartApplication})
		if len(st) != 2 || st[0].ID != "op2" {
			return fmt.Errorf("kind filter: %v", opIDs(st))
		}
		ip, _ := tx.Operations("a", flinkplane.OperationFilter{Status: flinkplane.OperationInProgress, Limit: 2})
		if len(ip) != 2 || ip[0].ID != "op3" || ip[1].ID != "op2" {
			return fmt.Errorf("status filter: %v", opIDs(ip))
		}
		ip, _ = tx.Operations("a", flinkplane.OperationFilter{Status: flinkplane.OperationInProgress, After: "op2"})
		if len(ip) != 1 || ip[0].ID != "op1" {
			return fmt.Errorf("page 2: %v", opIDs(ip))
		}
		all, _ = tx.InProgressOperations()
		if len(all) != 4 || all[0].ID != "op1" || all[3].ID != "opb" {
			return fmt.Errorf("in progress oldest first: %v", opIDs(all))
		}
		return nil
	})
}

func opIDs(ops []*flinkplane.Operation) []string {
	var out []string
	for _, o := range ops {
		out = append(out, o.ID)
	}
	return out
}

func testTags(t *testing.T, s flinkplane.Store) {
	mustUpdate(t, s, func(tx flinkplane.Tx) error { return createApp(tx, "a") })
	mustUpdate(t, s, func(tx flinkplane.Tx) error {
		return tx.SetTags("a", []flinkplane.Tag{{Key: "z", Value: "1"}, {Key: "a", Value: ""}})
	})
	mustView(t, s, func(tx flinkplane.Tx) error {
		tags, err := tx.Tags("a")
		if err != nil {
			return err
		}
		if len(tags) != 2 || tags[0].Key != "a" || tags[1].Value != "1" {
			return fmt.Errorf("tags: %+v", tags)
		}
		return nil
	})
}

func testDelete(t *testing.T, s flinkplane.Store) {
	mustUpdate(t, s, func(tx flinkplane.Tx) error { return createApp(tx, "a") })
	mustUpdate(t, s, func(tx flinkplane.Tx) error {
		tx.SetTags("a", []flinkplane.Tag{{Key: "k", Value: "v"}})
		tx.CreateSnapshot(&flinkplane.Snapshot{ApplicationName: "a", Name: "s"})
		if err := tx.PutHealth(&flinkplane.HealthSample{ApplicationName: "a", Time: t0, Status: flinkplane.HealthHealthy}, 10); err != nil {
			return err
		}
		return tx.PutOperation(&flinkplane.Operation{ID: "o", ApplicationName: "a", Kind: "StartApplication", Status: flinkplane.OperationInProgress})
	})
	mustView(t, s, func(tx flinkplane.Tx) error { _, err := tx.Version("a", 1); return err }) // warm any cache
	mustUpdate(t, s, func(tx flinkplane.Tx) error { return tx.DeleteApplication("a") })
	mustUpdate(t, s, func(tx flinkplane.Tx) error {
		// Recreated with the same name: nothing of the old one shows.
		if err := tx.CreateApplication(&flinkplane.Application{Name: "a", VersionID: 1, Status: flinkplane.StatusReady}); err != nil {
			return err
		}
		return tx.CreateVersion(&flinkplane.ApplicationVersion{ApplicationName: "a", VersionID: 1, Config: flinkplane.ApplicationConfig{Description: "new"}})
	})
	mustView(t, s, func(tx flinkplane.Tx) error {
		v, err := tx.Version("a", 1)
		if err != nil || v.Config.Description != "new" {
			return fmt.Errorf("stale version after delete: %+v %v", v, err)
		}
		tags, _ := tx.Tags("a")
		snaps, _ := tx.Snapshots("a", "", 0)
		ops, _ := tx.Operations("a", flinkplane.OperationFilter{})
		ip, _ := tx.InProgressOperations()
		hist, _ := tx.HealthHistory("a", time.Time{}, 0)
		if len(tags)+len(snaps)+len(ops)+len(ip)+len(hist) != 0 {
			return fmt.Errorf("records survived delete: %d %d %d %d %d", len(tags), len(snaps), len(ops), len(ip), len(hist))
		}
		if _, err := tx.Health("a"); flinkplane.ErrorCode(err) != flinkplane.ENOTFOUND {
			return fmt.Errorf("health survived delete: %v", err)
		}
		return nil
	})
	wantCode(t, s.Update(ctx, func(tx flinkplane.Tx) error { return tx.DeleteApplication("zz") }), flinkplane.ENOTFOUND)
}

// Listing sees creations and deletions made in one transaction, in order.
func testListingOrder(t *testing.T, s flinkplane.Store) {
	mustUpdate(t, s, func(tx flinkplane.Tx) error {
		if err := createApp(tx, "x"); err != nil {
			return err
		}
		if err := tx.DeleteApplication("x"); err != nil {
			return err
		}
		if err := createApp(tx, "y"); err != nil {
			return err
		}
		return createApp(tx, "b")
	})
	mustUpdate(t, s, func(tx flinkplane.Tx) error {
		if err := tx.DeleteApplication("b"); err != nil {
			return err
		}
		return createApp(tx, "b")
	})
	mustView(t, s, func(tx flinkplane.Tx) error {
		apps, err := tx.Applications("", 0)
		if err != nil {
			return err
		}
		if got := names(apps); len(got) != 2 || got[0] != "b" || got[1] != "y" {
			return fmt.Errorf("listed %v, want [b y]", got)
		}
		return nil
	})
	// A rolled back transaction changes no listing.
	s.Update(ctx, func(tx flinkplane.Tx) error {
		createApp(tx, "z")
		return errors.New("abort")
	})
	mustView(t, s, func(tx flinkplane.Tx) error {
		apps, _ := tx.Applications("", 0)
		if len(apps) != 2 {
			return fmt.Errorf("listed %v", names(apps))
		}
		return nil
	})
}

// Health samples: the newest is the application's health, the history is
// newest first and bounded per application, and other applications keep
// theirs.
func testHealth(t *testing.T, s flinkplane.Store) {
	mustUpdate(t, s, func(tx flinkplane.Tx) error { return createApp(tx, "a") })
	mustUpdate(t, s, func(tx flinkplane.Tx) error { return createApp(tx, "b") })
	mustView(t, s, func(tx flinkplane.Tx) error {
		_, err := tx.Health("a")
		if flinkplane.ErrorCode(err) != flinkplane.ENOTFOUND {
			return fmt.Errorf("health before any sample: %v", err)
		}
		return nil
	})
	wantCode(t, s.Update(ctx, func(tx flinkplane.Tx) error {
		return tx.PutHealth(&flinkplane.HealthSample{ApplicationName: "zz", Time: t0}, 5)
	}), flinkplane.ENOTFOUND)
	sample := func(app string, i int) *flinkplane.HealthSample {
		return &flinkplane.HealthSample{ApplicationName: app, Time: t0.Add(time.Duration(i) * time.Second), Status: flinkplane.HealthHealthy,
			JobID: "j", Restarts: int64(i), Cluster: &flinkplane.ClusterHealth{JobManagerAlive: true, TaskManagers: 1, TaskManagersAlive: 1},
			LatestCheckpoint: &flinkplane.CheckpointInfo{ID: int64(i), Path: fmt.Sprintf("/ck/chk-%d", i), Time: t0, Duration: time.Second, Size: 42},
			Metrics:          map[string]float64{"x": float64(i)}}
	}
	for i := 1; i <= 12; i++ {
		mustUpdate(t, s, func(tx flinkplane.Tx) error {
			if err := tx.PutHealth(sample("a", i), 5); err != nil {
				return err
			}
			return tx.PutHealth(sample("b", i), 0)
		})
	}
	mustView(t, s, func(tx flinkplane.Tx) error {
		h, err := tx.Health("a")
		if err != nil {
			return err
		}
		if want := sample("a", 12); h.Restarts != 12 || !h.Time.Equal(want.Time) || h.Cluster == nil || !h.Cluster.Healthy() ||
			h.LatestCheckpoint == nil || h.LatestCheckpoint.Path != "/ck/chk-12" || h.LatestCheckpoint.Duration != time.Second || h.Metrics["x"] != 12 {
			return fmt.Errorf("newest sample not round-tripped: %+v", h)
		}
		hist, err := tx.HealthHistory("a", time.Time{}, 0)
		if err != nil {
			return err
		}
		if len(hist) != 5 || hist[0].Restarts != 12 || hist[4].Restarts != 8 {
			return fmt.Errorf("bounded history: %d samples, first %+v", len(hist), hist[0])
		}
		page, _ := tx.HealthHistory("a", hist[1].Time, 2)
		if len(page) != 2 || page[0].Restarts != 10 || page[1].Restarts != 9 {
			return fmt.Errorf("history before %s: %+v", hist[1].Time, page)
		}
		all, _ := tx.HealthHistory("b", time.Time{}, 0)
		if len(all) != 12 {
			return fmt.Errorf("unbounded history of b: %d samples", len(all))
		}
		return nil
	})
}
