package engine_test

import (
	"context"
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/engine"
	"github.com/flinkplane/flinkplane/mock"
	"github.com/flinkplane/flinkplane/sqlite"
)

// newFilesEnv returns an env whose engines use a recording SnapshotFiles.
func newFilesEnv(t *testing.T) (*env, *mock.SnapshotFiles) {
	t.Helper()
	files := &mock.SnapshotFiles{}
	v := &env{t: t, dir: t.TempDir(), driver: mock.NewClusterDriver(), code: mock.NewCodeStore(bucket+"/app-1.20.jar", bucket+"/app-2.2.jar"),
		probation: -1, setup: func(e *engine.Engine) { e.Files = files }}
	v.open()
	t.Cleanup(func() { v.close() })
	return v, files
}

func wantFiles(t *testing.T, f *mock.SnapshotFiles, want ...string) {
	t.Helper()
	if got := f.Calls(); !reflect.DeepEqual(got, want) && (len(got) != 0 || len(want) != 0) {
		t.Fatalf("snapshot files calls:\n got %q\nwant %q", got, want)
	}
}

// upgraded returns an application "a" running on 2.2 after an upgrade from
// 1.20, and the pre-upgrade snapshot.
func upgraded(t *testing.T, v *env, files *mock.SnapshotFiles, mod func(*flinkplane.ApplicationConfig)) *flinkplane.Snapshot {
	t.Helper()
	v.create("a", mod)
	v.start("a")
	cur := int64(1)
	_, _, id, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, v.wait("a", id).Status, flinkplane.OperationSuccessful)
	pre := v.snapshots("a")[0]
	// The update kept the files of its snapshot and put them back before
	// the 2.2 job was submitted from it.
	wantFiles(t, files, "Keep("+pre.Location+")", "Restore("+pre.Location+")")
	v.driver.Calls()
	return pre
}

// Every snapshot keeps its files before it is READY: CreateApplicationSnapshot,
// stop and update snapshots.
func TestSnapshotFiles_KeptBeforeReady(t *testing.T) {
	v, files := newFilesEnv(t)
	v.create("a", nil)
	v.start("a")
	wantFiles(t, files)
	held := make(chan struct{})
	release := make(chan struct{})
	files.KeepFunc = func(ctx context.Context, _ string) (flinkplane.KeptFiles, error) {
		close(held)
		<-release
		return flinkplane.KeptFiles{Files: 1, Bytes: 10}, nil
	}
	id, err := v.e.CreateApplicationSnapshot(ctx, "a", "s1")
	if err != nil {
		t.Fatal(err)
	}
	<-held
	if s := v.snapshots("a")[0]; s.Status != flinkplane.SnapshotCreating {
		t.Fatalf("snapshot %s while its files are kept, want CREATING", s.Status)
	}
	close(release)
	wantStatus(t, v.wait("a", id).Status, flinkplane.OperationSuccessful)
	s := v.snapshots("a")[0]
	wantStatus(t, s.Status, flinkplane.SnapshotReady)
	wantFiles(t, files, "Keep("+s.Location+")")
	files.KeepFunc = nil

	id, _ = v.e.StopApplication(ctx, "a", false)
	wantStatus(t, v.wait("a", id).Status, flinkplane.OperationSuccessful)
	var stop *flinkplane.Snapshot
	for _, s := range v.snapshots("a") {
		if strings.HasPrefix(s.Name, "flinkplane-stop-") {
			stop = s
		}
	}
	wantFiles(t, files, "Keep("+stop.Location+")")

	// A start from it puts back what it needs before the job is submitted.
	v.driver.Calls()
	id, _ = v.e.StartApplication(ctx, "a", engine.StartInput{})
	wantStatus(t, v.wait("a", id).Status, flinkplane.OperationSuccessful)
	wantFiles(t, files, "Restore("+stop.Location+")")
	v.calls("Start(FLINK-1_20)", "Submit("+stop.Location+")", "JobHealth")
}

// A Keep that keeps failing does not lose the snapshot: it is recorded
// READY (its savepoint is sound) after a bounded number of tries.
func TestSnapshotFiles_KeepFails(t *testing.T) {
	v, files := newFilesEnv(t)
	v.create("a", nil)
	v.start("a")
	files.KeepFunc = func(context.Context, string) (flinkplane.KeptFiles, error) {
		return flinkplane.KeptFiles{}, errors.New("no space left on device")
	}
	id, _ := v.e.CreateApplicationSnapshot(ctx, "a", "s1")
	wantStatus(t, v.wait("a", id).Status, flinkplane.OperationSuccessful)
	s := v.snapshots("a")[0]
	wantStatus(t, s.Status, flinkplane.SnapshotReady)
	wantFiles(t, files, "Keep("+s.Location+")", "Keep("+s.Location+")", "Keep("+s.Location+")")
}

// The control plane dies while the files of a completed savepoint are
// being kept: the next engine keeps them and records the snapshot READY,
// without taking a second savepoint.
func TestSnapshotFiles_CrashWhileKeeping(t *testing.T) {
	for _, kind := range []string{"CreateApplicationSnapshot", "StopApplication", "UpdateApplication"} {
		t.Run(kind, func(t *testing.T) {
			v, files := newFilesEnv(t)
			v.create("a", nil)
			v.start("a")
			held := make(chan struct{})
			files.KeepFunc = func(ctx context.Context, _ string) (flinkplane.KeptFiles, error) {
				close(held)
				<-ctx.Done() // the engine dies while it keeps
				return flinkplane.KeptFiles{}, ctx.Err()
			}
			var id string
			switch kind {
			case "CreateApplicationSnapshot":
				id, _ = v.e.CreateApplicationSnapshot(ctx, "a", "s1")
			case "StopApplication":
				id, _ = v.e.StopApplication(ctx, "a", false)
			case "UpdateApplication":
				cur := int64(1)
				_, _, id, _ = v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
			}
			<-held
			v.close()
			for _, s := range v.snapshots2(t) {
				if s.Status == flinkplane.SnapshotReady {
					t.Fatalf("snapshot %s READY before its files were kept", s.Name)
				}
			}
			files.KeepFunc = nil
			files.Calls()
			v.driver.Calls()
			v.open()
			wantStatus(t, v.wait("a", id).Status, flinkplane.OperationSuccessful)
			snaps := v.snapshots("a")
			if len(snaps) != 1 || snaps[0].Status != flinkplane.SnapshotReady || !v.driver.Savepoints[snaps[0].Location] {
				t.Fatalf("snapshots %+v", snaps)
			}
			if got := files.Calls(); len(got) == 0 || got[0] != "Keep("+snaps[0].Location+")" {
				t.Fatalf("resumed engine: %q, want Keep first", got)
			}
			if calls := v.driver.Calls(); count(calls, "TriggerSavepoint")+count(calls, "StopWithSavepoint") > 0 {
				t.Fatalf("driver calls %q: a second savepoint", calls)
			}
		})
	}
}

// snapshots2 reads the snapshots of "a" from the store while no engine runs.
func (v *env) snapshots2(t *testing.T) []*flinkplane.Snapshot {
	t.Helper()
	db := sqlite.New(v.dir)
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var s []*flinkplane.Snapshot
	if err := db.View(ctx, func(tx flinkplane.Tx) (err error) { s, err = tx.Snapshots("a", "", 0); return err }); err != nil {
		t.Fatal(err)
	}
	return s
}

// RollbackApplication verifies the snapshot it restores before anything
// changes: refused, nothing is recorded and the running job is untouched.
func TestSnapshotFiles_RollbackRefused(t *testing.T) {
	v, files := newFilesEnv(t)
	pre := upgraded(t, v, files, nil)
	before := v.app("a")
	files.VerifyFunc = func(context.Context, string) error {
		return flinkplane.Errorf(flinkplane.EINVALIDREQUEST, "The snapshot cannot be restored: the FileSink in-progress part file /out/.part-1.inprogress.x (600 bytes) is missing.")
	}
	_, _, _, err := v.e.RollbackApplication(ctx, "a", before.VersionID)
	if flinkplane.ErrorCode(err) != flinkplane.EINVALIDREQUEST || !strings.Contains(flinkplane.ErrorMessage(err), pre.Name) ||
		!strings.Contains(flinkplane.ErrorMessage(err), "/out/.part-1.inprogress.x") || !strings.Contains(flinkplane.ErrorMessage(err), "nothing was stopped") {
		t.Fatalf("err = %v", err)
	}
	wantFiles(t, files, "Verify("+pre.Location+")")
	v.calls() // the running job untouched
	a := v.app("a")
	if a.Status != flinkplane.StatusRunning || a.VersionID != before.VersionID || a.JobID != before.JobID || a.RuntimeEnvironment != flinkplane.RuntimeFlink22 {
		t.Fatalf("app %+v, was %+v", a, before)
	}
	var ops []*flinkplane.Operation
	v.db.View(ctx, func(tx flinkplane.Tx) (err error) {
		ops, err = tx.Operations("a", flinkplane.OperationFilter{})
		return err
	})
	for _, o := range ops {
		if o.Kind == flinkplane.OpRollbackApplication {
			t.Fatalf("a refused rollback was recorded: %+v", o)
		}
	}

	// Once the snapshot is restorable again the rollback runs: verified,
	// the job stopped, the files put back, the 1.20 job submitted.
	files.VerifyFunc = nil
	_, _, id, err := v.e.RollbackApplication(ctx, "a", before.VersionID)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, v.wait("a", id).Status, flinkplane.OperationSuccessful)
	wantFiles(t, files, "Verify("+pre.Location+")", "Verify("+pre.Location+")", "Restore("+pre.Location+")")
	v.calls("Start(FLINK-1_20)", "JobHealth", "Cancel", "Submit("+pre.Location+")", "JobHealth", "Stop")
	if a := v.app("a"); a.Status != flinkplane.StatusRunning || a.RuntimeEnvironment != flinkplane.RuntimeFlink120 {
		t.Fatalf("app %+v", a)
	}
}

// A system rollback verifies the snapshot before it stops the failed job;
// refused, the job is left as it was and the configuration returns to it.
func TestSnapshotFiles_SystemRollbackRefused(t *testing.T) {
	for _, jobAlive := range []bool{true, false} {
		name := "JobGone"
		if jobAlive {
			name = "JobRestarting"
		}
		t.Run(name, func(t *testing.T) {
			v, files := newFilesEnv(t)
			v.create("a", func(c *flinkplane.ApplicationConfig) { c.RollbackEnabled = true })
			v.start("a")
			if jobAlive {
				// The 2.2 job restarts in a loop.
				v.driver.JobStates = []flinkplane.JobHealth{{State: "RESTARTING", Restarts: 1, RootCause: "java.lang.RuntimeException: boom"}}
			} else {
				v.driver.Fail("Submit", errors.New("java.lang.NoSuchMethodError: x"), true)
			}
			files.VerifyFunc = func(context.Context, string) error {
				return flinkplane.Errorf(flinkplane.EINVALIDREQUEST, "The snapshot cannot be restored: part file gone.")
			}
			cur := int64(1)
			_, _, id, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
			if err != nil {
				t.Fatal(err)
			}
			op := v.wait("a", id)
			wantStatus(t, op.Status, flinkplane.OperationFailed)
			rb := v.wait("a", op.RollbackOperationID)
			wantStatus(t, rb.Status, flinkplane.OperationFailed)
			if !strings.HasPrefix(rb.ErrorInfo, "VERIFY_RESTORE: ") || !strings.Contains(rb.ErrorInfo, "part file gone") {
				t.Fatalf("rollback ErrorInfo %q", rb.ErrorInfo)
			}
			calls := v.driver.Calls()
			if count(calls, "Start(FLINK-1_20)") != 0 || count(calls, "Cancel") != 0 {
				t.Fatalf("driver calls %q: the rollback stopped or started something", calls)
			}
			a := v.app("a")
			var ver *flinkplane.ApplicationVersion
			v.db.View(ctx, func(tx flinkplane.Tx) (err error) { ver, err = tx.Version("a", a.VersionID); return err })
			if a.RuntimeEnvironment != flinkplane.RuntimeFlink22 || ver.RolledBackTo != 2 || ver.Config.RuntimeEnvironment != flinkplane.RuntimeFlink22 {
				t.Fatalf("app %+v version %+v: want the configuration of the update back", a, ver)
			}
			if jobAlive {
				// The failed 2.2 job is left running (restarting) as it was.
				if a.Status != flinkplane.StatusRunning || a.Cluster == nil || a.Cluster.Runtime != flinkplane.RuntimeFlink22 || len(v.driver.Running()) != 1 {
					t.Fatalf("app %+v, jobs %v", a, v.driver.Running())
				}
			} else if a.Status != flinkplane.StatusReady || a.Cluster != nil || v.driver.LiveClusters() != 0 {
				t.Fatalf("app %+v, clusters %d", a, v.driver.LiveClusters())
			}
			if s := v.snapshots("a"); len(s) != 1 || s[0].Status != flinkplane.SnapshotReady {
				t.Fatalf("pre-upgrade snapshot %+v", s)
			}
		})
	}
}

// A start whose snapshot misses a file that cannot be put back fails before
// the job is submitted, with what is missing in ErrorInfo.
func TestSnapshotFiles_RestoreFails(t *testing.T) {
	v, files := newFilesEnv(t)
	v.create("a", nil)
	v.start("a")
	id, _ := v.e.StopApplication(ctx, "a", false)
	v.wait("a", id)
	files.RestoreFunc = func(context.Context, string) error {
		return flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "The snapshot cannot be restored: the FileSink in-progress part file /out/.p is missing.")
	}
	v.driver.Calls()
	id, _ = v.e.StartApplication(ctx, "a", engine.StartInput{})
	op := v.wait("a", id)
	wantStatus(t, op.Status, flinkplane.OperationFailed)
	if !strings.HasPrefix(op.ErrorInfo, "SUBMIT: The snapshot cannot be restored") {
		t.Fatalf("ErrorInfo %q", op.ErrorInfo)
	}
	v.calls("Start(FLINK-1_20)", "Stop")
	wantStatus(t, v.app("a").Status, flinkplane.StatusReady)
}
