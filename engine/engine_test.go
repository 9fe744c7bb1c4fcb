package engine_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/engine"
	"github.com/flinkplane/flinkplane/mock"
	"github.com/flinkplane/flinkplane/sqlite"
)

const bucket = "arn:aws:s3:::code"

type env struct {
	t      *testing.T
	dir    string
	db     *sqlite.DB
	e      *engine.Engine
	driver *mock.ClusterDriver
	code   *mock.CodeStore
	compat *mock.CompatChecker
	// watch is the engine's WatchInterval (0: the watch is off, so that
	// driver calls are the operations' own); probation its
	// ProbationWindow (-1: none).
	watch     time.Duration
	probation time.Duration
	// poll, if set, is the engine's PollInterval (set before Open, which
	// may resume operations).
	poll time.Duration
	// setup, if set, configures each engine before it opens.
	setup func(*engine.Engine)
}

func newEnv(t *testing.T) *env {
	t.Helper()
	v := &env{t: t, dir: t.TempDir(), driver: mock.NewClusterDriver(), code: mock.NewCodeStore(bucket+"/app-1.20.jar", bucket+"/app-2.2.jar"),
		probation: -1}
	v.open()
	t.Cleanup(func() { v.close() })
	return v
}

func (v *env) open() {
	v.t.Helper()
	v.db = sqlite.New(v.dir)
	if err := v.db.Open(); err != nil {
		v.t.Fatal(err)
	}
	v.e = engine.New(v.db, v.driver)
	v.e.Code = v.code
	if v.compat != nil {
		v.e.Compat = v.compat
	}
	v.e.SavepointDir = "/sp"
	v.e.PollInterval = time.Millisecond
	v.e.StartTimeout = 2 * time.Second
	v.e.WatchInterval = v.watch
	v.e.ProbationWindow = v.probation
	if v.poll > 0 {
		v.e.PollInterval = v.poll
	}
	v.e.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if v.setup != nil {
		v.setup(v.e)
	}
	if err := v.e.Open(); err != nil {
		v.t.Fatal(err)
	}
}

// close kills the engine as a crash would: workers stop where they are.
func (v *env) close() {
	if v.e != nil {
		v.e.Close()
		v.db.Close()
		v.e = nil
	}
}

var ctx = context.Background()

func (v *env) create(name string, mod func(*flinkplane.ApplicationConfig)) {
	v.t.Helper()
	cfg := flinkplane.DefaultConfig()
	cfg.RuntimeEnvironment = flinkplane.RuntimeFlink120
	cfg.Code = flinkplane.CodeConfig{ContentType: flinkplane.CodeZipFile, S3: &flinkplane.S3ContentLocation{BucketARN: bucket, FileKey: "app-1.20.jar"}}
	if mod != nil {
		mod(&cfg)
	}
	if _, _, err := v.e.CreateApplication(ctx, &flinkplane.Application{Name: name, ARN: "arn:" + name}, cfg, nil); err != nil {
		v.t.Fatal(err)
	}
}

func (v *env) app(name string) *flinkplane.Application {
	v.t.Helper()
	var a *flinkplane.Application
	if err := v.db.View(ctx, func(tx flinkplane.Tx) (err error) { a, err = tx.Application(name); return err }); err != nil {
		v.t.Fatal(err)
	}
	return a
}

func (v *env) op(app, id string) *flinkplane.Operation {
	v.t.Helper()
	var o *flinkplane.Operation
	if err := v.db.View(ctx, func(tx flinkplane.Tx) (err error) { o, err = tx.Operation(app, id); return err }); err != nil {
		v.t.Fatal(err)
	}
	return o
}

func (v *env) snapshots(app string) []*flinkplane.Snapshot {
	v.t.Helper()
	var s []*flinkplane.Snapshot
	if err := v.db.View(ctx, func(tx flinkplane.Tx) (err error) { s, err = tx.Snapshots(app, "", 0); return err }); err != nil {
		v.t.Fatal(err)
	}
	return s
}

// wait waits for the operation to end and returns it.
func (v *env) wait(app, id string) *flinkplane.Operation {
	v.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		if o := v.op(app, id); o.Done() {
			v.e.Wait(ctx, app)
			return o
		}
		time.Sleep(2 * time.Millisecond)
	}
	v.t.Fatalf("operation %s still in progress: %+v", id, v.op(app, id))
	return nil
}

func (v *env) calls(want ...string) {
	v.t.Helper()
	got := v.driver.Calls()
	if len(want) == 0 && len(got) == 0 {
		return
	}
	if !reflect.DeepEqual(got, want) {
		v.t.Fatalf("driver calls:\n got %q\nwant %q", got, want)
	}
}

func (v *env) start(name string) {
	v.t.Helper()
	id, err := v.e.StartApplication(ctx, name, engine.StartInput{})
	if err != nil {
		v.t.Fatal(err)
	}
	if o := v.wait(name, id); o.Status != flinkplane.OperationSuccessful {
		v.t.Fatalf("start: %+v", o)
	}
	v.driver.Calls()
}

func wantStatus(t *testing.T, got, want string) {
	t.Helper()
	if got != want {
		t.Fatalf("status = %s, want %s", got, want)
	}
}

func TestStart(t *testing.T) {
	v := newEnv(t)
	v.create("a", nil)
	id, err := v.e.StartApplication(ctx, "a", engine.StartInput{})
	if err != nil {
		t.Fatal(err)
	}
	op := v.wait("a", id)
	wantStatus(t, op.Status, flinkplane.OperationSuccessful)
	v.calls("Start(FLINK-1_20)", "Submit", "JobHealth")
	a := v.app("a")
	wantStatus(t, a.Status, flinkplane.StatusRunning)
	if a.Cluster == nil || a.JobID == "" || op.JobID != a.JobID {
		t.Fatalf("handles not recorded: app %+v op %+v", a, op)
	}
	if op.EndTime.IsZero() || op.Kind != flinkplane.OpStartApplication {
		t.Fatalf("op: %+v", op)
	}
	_, err = v.e.StartApplication(ctx, "a", engine.StartInput{})
	if flinkplane.ErrorCode(err) != flinkplane.EINUSE || !strings.Contains(flinkplane.ErrorMessage(err), "RUNNING") {
		t.Fatalf("second start: %v", err)
	}
	v.calls()
}

func TestStart_WaitsForAllTasks(t *testing.T) {
	v := newEnv(t)
	v.driver.JobStates = []flinkplane.JobHealth{{State: "CREATED"}, {State: "RUNNING"}, {State: "RUNNING", AllTasksRunning: true}}
	v.create("a", nil)
	id, _ := v.e.StartApplication(ctx, "a", engine.StartInput{})
	wantStatus(t, v.wait("a", id).Status, flinkplane.OperationSuccessful)
	v.calls("Start(FLINK-1_20)", "Submit", "JobHealth", "JobHealth", "JobHealth")
}

func TestStart_JobFails(t *testing.T) {
	v := newEnv(t)
	v.driver.JobStates = []flinkplane.JobHealth{{State: "RESTARTING", Restarts: 1,
		RootCause: "java.lang.NoClassDefFoundError: org/apache/flink/streaming/api/functions/source/SourceFunction"}}
	v.create("a", nil)
	id, _ := v.e.StartApplication(ctx, "a", engine.StartInput{})
	op := v.wait("a", id)
	wantStatus(t, op.Status, flinkplane.OperationFailed)
	if !strings.Contains(op.ErrorInfo, "NoClassDefFoundError") {
		t.Fatalf("ErrorInfo = %q", op.ErrorInfo)
	}
	v.calls("Start(FLINK-1_20)", "Submit", "JobHealth", "Stop")
	a := v.app("a")
	wantStatus(t, a.Status, flinkplane.StatusReady)
	if a.Cluster != nil || v.driver.LiveClusters() != 0 {
		t.Fatal("cluster left behind")
	}
}

func TestStart_SubmitFails(t *testing.T) {
	v := newEnv(t)
	v.driver.Fail("Submit", errors.New("org.apache.flink.client.program.ProgramInvocationException: main failed"), false)
	v.create("a", nil)
	id, _ := v.e.StartApplication(ctx, "a", engine.StartInput{})
	op := v.wait("a", id)
	wantStatus(t, op.Status, flinkplane.OperationFailed)
	if !strings.Contains(op.ErrorInfo, "ProgramInvocationException") {
		t.Fatalf("ErrorInfo = %q", op.ErrorInfo)
	}
	wantStatus(t, v.app("a").Status, flinkplane.StatusReady)
}

func TestStart_NoRuntime(t *testing.T) {
	t.Run("NoDriver", func(t *testing.T) {
		v := newEnv(t)
		v.e.Driver = nil
		v.create("a", nil)
		_, err := v.e.StartApplication(ctx, "a", engine.StartInput{})
		if flinkplane.ErrorCode(err) != flinkplane.EINVALIDCONFIG || !strings.Contains(flinkplane.ErrorMessage(err), "not available") {
			t.Fatalf("err = %v", err)
		}
		wantStatus(t, v.app("a").Status, flinkplane.StatusReady)
	})
	t.Run("NotInstalled", func(t *testing.T) {
		v := newEnv(t)
		v.driver.NotReady[flinkplane.RuntimeFlink120] = flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "Runtime FLINK-1_20 is not installed: run flinkplane runtime install FLINK-1_20.")
		v.create("a", nil)
		_, err := v.e.StartApplication(ctx, "a", engine.StartInput{})
		if !strings.Contains(flinkplane.ErrorMessage(err), "runtime install") {
			t.Fatalf("err = %v", err)
		}
		v.calls()
	})
	t.Run("MissingCode", func(t *testing.T) {
		v := newEnv(t)
		v.create("a", func(c *flinkplane.ApplicationConfig) { c.Code.S3.FileKey = "nope.jar" })
		_, err := v.e.StartApplication(ctx, "a", engine.StartInput{})
		if flinkplane.ErrorCode(err) != flinkplane.EINVALIDCONFIG || !strings.Contains(flinkplane.ErrorMessage(err), "nope.jar") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestStop(t *testing.T) {
	v := newEnv(t)
	v.create("a", nil)
	v.start("a")
	id, err := v.e.StopApplication(ctx, "a", false)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, v.wait("a", id).Status, flinkplane.OperationSuccessful)
	v.calls("JobHealth", "StopWithSavepoint", "PollSavepoint", "Stop")
	wantStatus(t, v.app("a").Status, flinkplane.StatusReady)
	snaps := v.snapshots("a")
	if len(snaps) != 1 || snaps[0].Status != flinkplane.SnapshotReady || snaps[0].Runtime != flinkplane.RuntimeFlink120 || !snaps[0].Automatic || snaps[0].Location == "" {
		t.Fatalf("snapshots: %+v", snaps)
	}
	if len(v.driver.Running()) != 0 || v.driver.LiveClusters() != 0 {
		t.Fatal("job or cluster left running")
	}
	// Restart restores from the stop's snapshot.
	sid, _ := v.e.StartApplication(ctx, "a", engine.StartInput{})
	v.wait("a", sid)
	v.calls("Start(FLINK-1_20)", "Submit("+snaps[0].Location+")", "JobHealth")

	_, err = v.e.StopApplication(ctx, "a", false)
	if err != nil {
		t.Fatal(err)
	}
	_, err = v.e.StopApplication(ctx, "a", false)
	if flinkplane.ErrorCode(err) != flinkplane.EINUSE {
		t.Fatalf("stop while stopping: %v", err)
	}
}

func TestStop_Force(t *testing.T) {
	v := newEnv(t)
	v.create("a", nil)
	v.start("a")
	id, err := v.e.StopApplication(ctx, "a", true)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, v.wait("a", id).Status, flinkplane.OperationSuccessful)
	v.calls("JobHealth", "Cancel", "Stop")
	if len(v.snapshots("a")) != 0 {
		t.Fatal("force stop took a snapshot")
	}
	_, err = v.e.StopApplication(ctx, "a", true)
	if flinkplane.ErrorCode(err) != flinkplane.EINUSE || !strings.Contains(flinkplane.ErrorMessage(err), "READY") {
		t.Fatalf("force stop of READY: %v", err)
	}
}

func TestStop_ForceCancelsStuckStart(t *testing.T) {
	v := newEnv(t)
	v.driver.JobStates = []flinkplane.JobHealth{{State: "CREATED"}}
	v.e.StartTimeout = time.Hour
	v.create("a", nil)
	sid, _ := v.e.StartApplication(ctx, "a", engine.StartInput{})
	time.Sleep(20 * time.Millisecond)
	id, err := v.e.StopApplication(ctx, "a", true)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, v.wait("a", id).Status, flinkplane.OperationSuccessful)
	wantStatus(t, v.op("a", sid).Status, flinkplane.OperationCancelled)
	wantStatus(t, v.app("a").Status, flinkplane.StatusReady)
	if v.driver.LiveClusters() != 0 {
		t.Fatal("cluster left running")
	}
}

func TestSnapshot_CreateDelete(t *testing.T) {
	v := newEnv(t)
	v.create("a", nil)
	_, err := v.e.CreateApplicationSnapshot(ctx, "a", "s1")
	if flinkplane.ErrorCode(err) != flinkplane.EINUSE {
		t.Fatalf("snapshot of READY app: %v", err)
	}
	v.start("a")
	v.driver.SavepointPolls = 3
	id, err := v.e.CreateApplicationSnapshot(ctx, "a", "s1")
	if err != nil {
		t.Fatal(err)
	}
	if s := v.snapshots("a"); s[0].Status != flinkplane.SnapshotCreating && s[0].Status != flinkplane.SnapshotReady {
		t.Fatalf("snapshot: %+v", s[0])
	}
	wantStatus(t, v.wait("a", id).Status, flinkplane.OperationSuccessful)
	v.calls("JobHealth", "TriggerSavepoint", "PollSavepoint", "PollSavepoint", "PollSavepoint")
	s := v.snapshots("a")[0]
	if s.Status != flinkplane.SnapshotReady || s.Runtime != flinkplane.RuntimeFlink120 || s.VersionID != 1 || !strings.HasPrefix(s.Location, "/sp/") {
		t.Fatalf("snapshot: %+v", s)
	}
	wantStatus(t, v.app("a").Status, flinkplane.StatusRunning)
	if _, err := v.e.CreateApplicationSnapshot(ctx, "a", "s1"); flinkplane.ErrorCode(err) != flinkplane.EINUSE {
		t.Fatalf("duplicate: %v", err)
	}
	if _, err := v.e.DeleteApplicationSnapshot(ctx, "a", "s1", s.CreateTime.Add(time.Hour)); flinkplane.ErrorCode(err) != flinkplane.EINVALID {
		t.Fatalf("wrong timestamp: %v", err)
	}
	did, err := v.e.DeleteApplicationSnapshot(ctx, "a", "s1", s.CreateTime.Truncate(time.Second))
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, v.wait("a", did).Status, flinkplane.OperationSuccessful)
	v.calls("DisposeSavepoint")
	if len(v.snapshots("a")) != 0 || v.driver.Savepoints[s.Location] {
		t.Fatal("snapshot not deleted")
	}
}

func TestSnapshot_Fails(t *testing.T) {
	v := newEnv(t)
	v.create("a", nil)
	v.start("a")
	v.driver.Fail("TriggerSavepoint", errors.New("checkpoint coordinator is shut down"), true)
	id, _ := v.e.CreateApplicationSnapshot(ctx, "a", "s1")
	op := v.wait("a", id)
	wantStatus(t, op.Status, flinkplane.OperationFailed)
	wantStatus(t, v.snapshots("a")[0].Status, flinkplane.SnapshotFailed)
	wantStatus(t, v.app("a").Status, flinkplane.StatusRunning)
}

// takeSnapshot runs a snapshot on app's current runtime.
func (v *env) takeSnapshot(app, name string) *flinkplane.Snapshot {
	v.t.Helper()
	id, err := v.e.CreateApplicationSnapshot(ctx, app, name)
	if err != nil {
		v.t.Fatal(err)
	}
	v.wait(app, id)
	v.driver.Calls()
	for _, s := range v.snapshots(app) {
		if s.Name == name {
			return s
		}
	}
	v.t.Fatal("no snapshot")
	return nil
}

func TestRestoreConfiguration(t *testing.T) {
	v := newEnv(t)
	v.create("a", nil)
	v.start("a")
	s1 := v.takeSnapshot("a", "s1")
	s2 := v.takeSnapshot("a", "s2")
	stop, _ := v.e.StopApplication(ctx, "a", true)
	v.wait("a", stop)
	v.driver.Calls()

	for _, tt := range []struct {
		name    string
		restore flinkplane.RestoreConfig
		want    string
	}{
		{"Skip", flinkplane.RestoreConfig{Type: flinkplane.RestoreSkip}, "Submit"},
		{"Latest", flinkplane.RestoreConfig{Type: flinkplane.RestoreLatest}, "Submit(" + s2.Location + ")"},
		{"Custom", flinkplane.RestoreConfig{Type: flinkplane.RestoreCustom, SnapshotName: "s1"}, "Submit(" + s1.Location + ")"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := tt.restore
			id, err := v.e.StartApplication(ctx, "a", engine.StartInput{Restore: &r})
			if err != nil {
				t.Fatal(err)
			}
			v.wait("a", id)
			v.calls("Start(FLINK-1_20)", tt.want, "JobHealth")
			stop, _ := v.e.StopApplication(ctx, "a", true)
			v.wait("a", stop)
			v.driver.Calls()
		})
	}
	t.Run("CustomMissing", func(t *testing.T) {
		_, err := v.e.StartApplication(ctx, "a", engine.StartInput{Restore: &flinkplane.RestoreConfig{Type: flinkplane.RestoreCustom, SnapshotName: "zz"}})
		if flinkplane.ErrorCode(err) != flinkplane.EINVALIDCONFIG {
			t.Fatalf("err = %v", err)
		}
		wantStatus(t, v.app("a").Status, flinkplane.StatusReady)
	})
}

// upgrade moves a RUNNING app to Flink 2.2 with new code.
func upgrade(cfg *flinkplane.ApplicationConfig) error {
	cfg.RuntimeEnvironment = flinkplane.RuntimeFlink22
	cfg.Code.S3.FileKey = "app-2.2.jar"
	return nil
}

func TestNeverRestores2xOn1x(t *testing.T) {
	v := newEnv(t)
	v.create("a", nil)
	v.start("a")
	v.takeSnapshot("a", "old")
	cur := int64(1)
	_, _, id, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, v.wait("a", id).Status, flinkplane.OperationSuccessful)
	v.takeSnapshot("a", "new22")
	stop, _ := v.e.StopApplication(ctx, "a", true)
	v.wait("a", stop)
	// Back to 1.20 while READY.
	cur = 2
	if _, _, _, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: func(c *flinkplane.ApplicationConfig) error {
		c.RuntimeEnvironment = flinkplane.RuntimeFlink120
		c.Code.S3.FileKey = "app-1.20.jar"
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	v.driver.Calls()
	_, err = v.e.StartApplication(ctx, "a", engine.StartInput{Restore: &flinkplane.RestoreConfig{Type: flinkplane.RestoreCustom, SnapshotName: "new22"}})
	if flinkplane.ErrorCode(err) != flinkplane.EINVALIDCONFIG || !strings.Contains(flinkplane.ErrorMessage(err), "FLINK-2_2") {
		t.Fatalf("2.2 snapshot on 1.20: %v", err)
	}
	v.calls() // nothing started
	wantStatus(t, v.app("a").Status, flinkplane.StatusReady)
	// Latest skips the 2.2 snapshots and picks the newest 1.20 one.
	var old *flinkplane.Snapshot
	for _, s := range v.snapshots("a") {
		if s.Runtime == flinkplane.RuntimeFlink120 && (old == nil || s.CreateTime.After(old.CreateTime)) {
			old = s
		}
	}
	id, err = v.e.StartApplication(ctx, "a", engine.StartInput{})
	if err != nil {
		t.Fatal(err)
	}
	v.wait("a", id)
	v.calls("Start(FLINK-1_20)", "Submit("+old.Location+")", "JobHealth")
}

// TestLatestRefusesWhenOnlyNewerSnapshots: RESTORE_FROM_LATEST_SNAPSHOT on
// a 1.x runtime when every snapshot was taken on 2.x is refused before
// anything starts, instead of starting without the application's state.
func TestLatestRefusesWhenOnlyNewerSnapshots(t *testing.T) {
	v := newEnv(t)
	v.create("a", func(c *flinkplane.ApplicationConfig) {
		c.RuntimeEnvironment = flinkplane.RuntimeFlink22
		c.Code.S3.FileKey = "app-2.2.jar"
	})
	v.start("a")
	v.takeSnapshot("a", "on22")
	stop, _ := v.e.StopApplication(ctx, "a", false)
	v.wait("a", stop)
	cur := v.app("a").VersionID
	if _, _, _, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: func(c *flinkplane.ApplicationConfig) error {
		c.RuntimeEnvironment = flinkplane.RuntimeFlink120
		c.Code.S3.FileKey = "app-1.20.jar"
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	v.driver.Calls()
	_, err := v.e.StartApplication(ctx, "a", engine.StartInput{})
	if flinkplane.ErrorCode(err) != flinkplane.EINVALIDCONFIG || !strings.Contains(flinkplane.ErrorMessage(err), "FLINK-2_2") ||
		!strings.Contains(flinkplane.ErrorMessage(err), "SKIP_RESTORE_FROM_SNAPSHOT") {
		t.Fatalf("latest with only 2.2 snapshots on 1.20: %v", err)
	}
	v.calls() // nothing started
	wantStatus(t, v.app("a").Status, flinkplane.StatusReady)
	// SKIP_RESTORE_FROM_SNAPSHOT starts without state.
	id, err := v.e.StartApplication(ctx, "a", engine.StartInput{Restore: &flinkplane.RestoreConfig{Type: flinkplane.RestoreSkip}})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, v.wait("a", id).Status, flinkplane.OperationSuccessful)
}

func TestUpdate(t *testing.T) {
	t.Run("Ready", func(t *testing.T) {
		v := newEnv(t)
		v.create("a", nil)
		cur := int64(1)
		app, ver, id, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
		if err != nil {
			t.Fatal(err)
		}
		if app.VersionID != 2 || ver.UpdatedFrom != 1 || app.Status != flinkplane.StatusReady || app.RuntimeEnvironment != flinkplane.RuntimeFlink22 {
			t.Fatalf("app %+v ver %+v", app, ver)
		}
		op := v.op("a", id)
		if op.Status != flinkplane.OperationSuccessful || op.VersionFrom != 1 || op.VersionTo != 2 {
			t.Fatalf("op %+v", op)
		}
		v.calls()
	})
	t.Run("StaleVersion", func(t *testing.T) {
		v := newEnv(t)
		v.create("a", nil)
		stale := int64(7)
		_, _, _, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &stale})
		if flinkplane.ErrorCode(err) != flinkplane.ECONFLICT {
			t.Fatalf("err = %v", err)
		}
		tok := "bad"
		_, _, _, err = v.e.UpdateApplication(ctx, "a", engine.UpdateInput{ConditionalToken: &tok})
		if flinkplane.ErrorCode(err) != flinkplane.ECONFLICT {
			t.Fatalf("err = %v", err)
		}
		_, _, _, err = v.e.UpdateApplication(ctx, "a", engine.UpdateInput{})
		if flinkplane.ErrorCode(err) != flinkplane.EINVALID {
			t.Fatalf("err = %v", err)
		}
		good := v.app("a").ConditionalToken
		app, _, _, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{ConditionalToken: &good})
		if err != nil || app.ConditionalToken == good {
			t.Fatalf("token did not rotate: %v", err)
		}
	})
	t.Run("RunningNoRestart", func(t *testing.T) {
		v := newEnv(t)
		v.create("a", nil)
		v.start("a")
		cur := int64(1)
		app, _, id, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: func(c *flinkplane.ApplicationConfig) error {
			c.RollbackEnabled = true
			return nil
		}})
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, app.Status, flinkplane.StatusRunning)
		wantStatus(t, v.op("a", id).Status, flinkplane.OperationSuccessful)
		v.calls()
	})
	t.Run("RunningUpgrade", func(t *testing.T) {
		v := newEnv(t)
		v.create("a", nil)
		v.start("a")
		cur := int64(1)
		app, _, id, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
		if err != nil {
			t.Fatal(err)
		}
		wantStatus(t, app.Status, flinkplane.StatusUpdating)
		op := v.wait("a", id)
		wantStatus(t, op.Status, flinkplane.OperationSuccessful)
		snaps := v.snapshots("a")
		if len(snaps) != 1 || snaps[0].Runtime != flinkplane.RuntimeFlink120 {
			t.Fatalf("pre-upgrade snapshot: %+v", snaps)
		}
		// The warm cut-over: the 2.2 cluster starts while the 1.20 job
		// runs; the job stops with a savepoint, the new one is submitted,
		// then the 1.20 cluster is stopped.
		v.calls("Start(FLINK-2_2)", "JobHealth", "StopWithSavepoint", "PollSavepoint", "Submit("+snaps[0].Location+")", "JobHealth", "Stop")
		a := v.app("a")
		if a.Status != flinkplane.StatusRunning || a.RuntimeEnvironment != flinkplane.RuntimeFlink22 || a.Cluster.Runtime != flinkplane.RuntimeFlink22 {
			t.Fatalf("app %+v", a)
		}
		if len(v.driver.Running()) != 1 || v.driver.LiveClusters() != 1 {
			t.Fatalf("jobs %v clusters %d", v.driver.Running(), v.driver.LiveClusters())
		}
	})
}

func TestUpdate_FailsWithSystemRollback(t *testing.T) {
	v := newEnv(t)
	v.create("a", func(c *flinkplane.ApplicationConfig) { c.RollbackEnabled = true })
	v.start("a")
	v.driver.Fail("Submit", errors.New("java.lang.NoSuchMethodError: 'void org.apache.flink.Foo.bar()'"), true)
	cur := int64(1)
	_, _, id, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
	if err != nil {
		t.Fatal(err)
	}
	op := v.wait("a", id)
	wantStatus(t, op.Status, flinkplane.OperationFailed)
	if op.RollbackOperationID == "" || !strings.Contains(op.ErrorInfo, "NoSuchMethodError") {
		t.Fatalf("op %+v", op)
	}
	rb := v.wait("a", op.RollbackOperationID)
	wantStatus(t, rb.Status, flinkplane.OperationSuccessful)
	if rb.Kind != flinkplane.OpRollbackApplication || !rb.System {
		t.Fatalf("rollback op %+v", rb)
	}
	pre := v.snapshots("a")[0]
	// The system rollback takes over the 1.20 cluster the update left
	// (idle, alive: adopted, no cluster started), cancels the failed job
	// (none runs), submits to it, and stops the 2.2 cluster.
	v.calls("Start(FLINK-2_2)", "JobHealth", "StopWithSavepoint", "PollSavepoint", "Submit("+pre.Location+")",
		"Adopt", "JobHealth", "Submit("+pre.Location+")", "JobHealth", "Stop")
	if rb.Cluster == nil || op.PreviousCluster == nil || rb.Cluster.ID != op.PreviousCluster.ID {
		t.Fatalf("the rollback's cluster %+v, want the one the update left %+v", rb.Cluster, op.PreviousCluster)
	}
	a := v.app("a")
	if a.Status != flinkplane.StatusRunning || a.VersionID != 3 || a.RuntimeEnvironment != flinkplane.RuntimeFlink120 {
		t.Fatalf("app %+v", a)
	}
	var ver *flinkplane.ApplicationVersion
	v.db.View(ctx, func(tx flinkplane.Tx) (err error) { ver, err = tx.Version("a", 3); return err })
	if ver.RolledBackFrom != 2 || ver.RolledBackTo != 1 || ver.Config.Code.S3.FileKey != "app-1.20.jar" {
		t.Fatalf("version 3 %+v", ver)
	}
	if len(v.driver.Running()) != 1 || v.driver.LiveClusters() != 1 {
		t.Fatalf("%d jobs, %d clusters", len(v.driver.Running()), v.driver.LiveClusters())
	}
}

// Stop and Delete of an application whose job has died still end its
// cluster and never report a job that does not exist.
func TestStop_JobGone(t *testing.T) {
	for _, force := range []bool{false, true} {
		t.Run(fmt.Sprint("force=", force), func(t *testing.T) {
			v := newEnv(t)
			v.create("a", nil)
			v.start("a")
			v.driver.KillJob(v.app("a").JobID)
			id, err := v.e.StopApplication(ctx, "a", force)
			if err != nil {
				t.Fatal(err)
			}
			wantStatus(t, v.wait("a", id).Status, flinkplane.OperationSuccessful)
			if a := v.app("a"); a.Status != flinkplane.StatusReady || a.Cluster != nil || v.driver.LiveClusters() != 0 {
				t.Fatalf("app %+v, clusters %d", a, v.driver.LiveClusters())
			}
		})
	}
}

// A failed update without system rollback leaves the application RUNNING
// on the new version with its failing job (the managed service's "running
// without data processing"); RollbackApplication with the current version
// returns it to the previous version from the pre-update snapshot.
func TestUpdate_FailsWithoutRollback(t *testing.T) {
	v := newEnv(t)
	v.create("a", nil)
	v.start("a")
	v.driver.JobStates = []flinkplane.JobHealth{{State: "RESTARTING", Restarts: 1, RootCause: "StateMigrationException"}}
	cur := int64(1)
	_, _, id, _ := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
	op := v.wait("a", id)
	wantStatus(t, op.Status, flinkplane.OperationFailed)
	if !strings.Contains(op.ErrorInfo, "State restore failure") || op.RollbackOperationID != "" {
		t.Fatalf("op %+v", op)
	}
	a := v.app("a")
	if a.Status != flinkplane.StatusRunning || a.FailedOperation != id || a.VersionID != 2 || a.Cluster == nil || a.Cluster.Runtime != flinkplane.RuntimeFlink22 {
		t.Fatalf("app %+v", a)
	}
	if v.driver.LiveClusters() != 1 || len(v.snapshots("a")) != 1 {
		t.Fatal("cluster not kept or pre-upgrade snapshot lost")
	}
	pre := v.snapshots("a")[0]
	v.driver.JobStates = nil
	v.driver.Calls()
	_, _, rid, err := v.e.RollbackApplication(ctx, "a", 2)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, v.wait("a", rid).Status, flinkplane.OperationSuccessful)
	v.calls("Start(FLINK-1_20)", "JobHealth", "Cancel", "Submit("+pre.Location+")", "JobHealth", "Stop")
	a = v.app("a")
	if a.Status != flinkplane.StatusRunning || a.FailedOperation != "" || a.RuntimeEnvironment != flinkplane.RuntimeFlink120 ||
		len(v.driver.Running()) != 1 || v.driver.LiveClusters() != 1 {
		t.Fatalf("after rollback: %+v, jobs %v, clusters %d", a, v.driver.Running(), v.driver.LiveClusters())
	}
}

// From a failed update without rollback, a corrected update works like
// Path 1: no savepoint of the failing job, the pre-update snapshot restored.
func TestUpdate_CorrectedAfterFailure(t *testing.T) {
	v := newEnv(t)
	v.create("a", nil)
	v.start("a")
	v.driver.Fail("Submit", errors.New("java.lang.ClassNotFoundException: org.apache.flink.api.common.time.Time"), true)
	cur := int64(1)
	_, _, id, _ := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: func(c *flinkplane.ApplicationConfig) error {
		c.RuntimeEnvironment = flinkplane.RuntimeFlink22
		return nil
	}})
	if op := v.wait("a", id); op.Status != flinkplane.OperationFailed || !strings.Contains(op.ErrorInfo, "SUBMIT") {
		t.Fatalf("op %+v", op)
	}
	pre := v.snapshots("a")[0]
	wantStatus(t, v.app("a").Status, flinkplane.StatusRunning)
	v.driver.Calls()
	cur = 2
	_, _, id2, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, v.wait("a", id2).Status, flinkplane.OperationSuccessful)
	v.calls("Start(FLINK-2_2)", "JobHealth", "Submit("+pre.Location+")", "JobHealth", "Stop")
	if a := v.app("a"); a.Status != flinkplane.StatusRunning || a.FailedOperation != "" || len(v.snapshots("a")) != 1 {
		t.Fatalf("app %+v snapshots %d", a, len(v.snapshots("a")))
	}
}

func TestRollback_Manual(t *testing.T) {
	v := newEnv(t)
	v.create("a", nil)
	v.start("a")
	cur := int64(1)
	if _, _, _, err := v.e.RollbackApplication(ctx, "a", 1); flinkplane.ErrorCode(err) != flinkplane.EINVALIDREQUEST {
		t.Fatalf("rollback without previous version: %v", err)
	}
	_, _, id, _ := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
	v.wait("a", id)
	v.driver.Calls()
	if _, _, _, err := v.e.RollbackApplication(ctx, "a", 1); flinkplane.ErrorCode(err) != flinkplane.ECONFLICT {
		t.Fatalf("stale: %v", err)
	}
	app, ver, rid, err := v.e.RollbackApplication(ctx, "a", 2)
	if err != nil {
		t.Fatal(err)
	}
	if app.Status != flinkplane.StatusRollingBack || ver.VersionID != 3 || ver.RolledBackTo != 1 {
		t.Fatalf("app %+v ver %+v", app, ver)
	}
	wantStatus(t, v.wait("a", rid).Status, flinkplane.OperationSuccessful)
	pre := v.snapshots("a")[0]
	v.calls("Start(FLINK-1_20)", "JobHealth", "Cancel", "Submit("+pre.Location+")", "JobHealth", "Stop")
	wantStatus(t, v.app("a").Status, flinkplane.StatusRunning)
}

// TestCompatPreflight_DowngradeWhileReady: the savepoint check looks at the
// snapshot a start on the target would restore, so a READY application whose
// snapshots were all taken on 2.x may move back to 1.x (its start then needs
// SKIP_RESTORE_FROM_SNAPSHOT or a 1.x snapshot).
func TestCompatPreflight_DowngradeWhileReady(t *testing.T) {
	v := &env{t: t, dir: t.TempDir(), driver: mock.NewClusterDriver(), code: mock.NewCodeStore(bucket+"/app-1.20.jar", bucket+"/app-2.2.jar"),
		compat: &mock.CompatChecker{StateFunc: func(_ string, target flinkplane.RuntimeID) []flinkplane.Finding {
			if target == flinkplane.RuntimeFlink120 {
				return []flinkplane.Finding{{Severity: flinkplane.SeverityError, Code: "METADATA_VERSION", Message: "taken by Flink 2.x"}}
			}
			return nil
		}}, probation: -1}
	v.open()
	t.Cleanup(v.close)
	v.create("a", func(c *flinkplane.ApplicationConfig) {
		c.RuntimeEnvironment = flinkplane.RuntimeFlink22
		c.Code.S3.FileKey = "app-2.2.jar"
	})
	v.start("a")
	v.takeSnapshot("a", "on22")
	stop, _ := v.e.StopApplication(ctx, "a", false)
	v.wait("a", stop)
	cur := v.app("a").VersionID
	if _, _, _, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: func(c *flinkplane.ApplicationConfig) error {
		c.RuntimeEnvironment = flinkplane.RuntimeFlink120
		c.Code.S3.FileKey = "app-1.20.jar"
		return nil
	}}); err != nil {
		t.Fatalf("downgrade while READY: %v", err)
	}
	wantStatus(t, v.app("a").Status, flinkplane.StatusReady)
}

func TestCompatPreflight(t *testing.T) {
	bad := []flinkplane.Finding{{Severity: flinkplane.SeverityError, Code: "REMOVED_API", Message: "SourceFunction was removed",
		Class: "com.example.Job", Method: "main", Hint: "use fromSource"}}
	setup := func(t *testing.T) *env {
		v := &env{t: t, dir: t.TempDir(), driver: mock.NewClusterDriver(), code: mock.NewCodeStore(bucket+"/app-1.20.jar", bucket+"/app-2.2.jar"),
			compat: &mock.CompatChecker{JarFunc: func(string, flinkplane.RuntimeID) []flinkplane.Finding { return bad }}, probation: -1}
		v.open()
		t.Cleanup(v.close)
		v.create("a", nil)
		v.start("a")
		v.takeSnapshot("a", "s")
		return v
	}
	t.Run("Enforce", func(t *testing.T) {
		v := setup(t)
		cur := int64(1)
		_, _, _, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
		if flinkplane.ErrorCode(err) != flinkplane.EINVALIDCONFIG || !strings.Contains(flinkplane.ErrorMessage(err), "SourceFunction was removed") {
			t.Fatalf("err = %v", err)
		}
		// The running job is not stopped: the check reads a savepoint of
		// it taken without stopping it (state written by that job at its
		// current version), not the snapshot s taken before.
		a := v.app("a")
		v.calls("TriggerSavepoint", "PollSavepoint", "DisposeSavepoint")
		if a.Status != flinkplane.StatusRunning || a.VersionID != 1 {
			t.Fatalf("app changed: %+v", a)
		}
		// (The jar is scanned while the state is checked: any order.)
		if got := sortedCalls(v.compat.Calls); len(got) != 2 || !strings.HasPrefix(got[0], "CheckJar(/code/"+bucket+"/app-2.2.jar,FLINK-2_2") ||
			!strings.HasPrefix(got[1], "CheckSavepoint(/sp/"+a.ID+"/savepoint-") {
			t.Fatalf("checker calls %q", got)
		}
		var ops []*flinkplane.Operation
		v.db.View(ctx, func(tx flinkplane.Tx) (err error) {
			ops, err = tx.Operations("a", flinkplane.OperationFilter{Kind: flinkplane.OpUpdateApplication})
			return err
		})
		if len(ops) != 1 || ops[0].Status != flinkplane.OperationFailed || len(ops[0].Findings) != 2 || ops[0].Findings[1].Code != engine.CodeStateChecked ||
			!strings.Contains(ops[0].Findings[1].Message, "savepoint of the running job") || !strings.Contains(ops[0].ErrorInfo, "against FLINK-2_2") {
			t.Fatalf("findings not recorded: %+v", ops)
		}
	})
	t.Run("NoCheckpointYet", func(t *testing.T) {
		// A job without a completed checkpoint: a savepoint of it is taken
		// for the check (the job keeps running) and disposed.
		v := &env{t: t, dir: t.TempDir(), driver: mock.NewClusterDriver(), code: mock.NewCodeStore(bucket+"/app-1.20.jar", bucket+"/app-2.2.jar"),
			compat: &mock.CompatChecker{JarFunc: func(string, flinkplane.RuntimeID) []flinkplane.Finding { return bad }}, probation: -1}
		v.open()
		t.Cleanup(v.close)
		v.driver.NoCheckpoints = true
		v.create("a", func(c *flinkplane.ApplicationConfig) { c.Checkpoint.CheckpointingEnabled = false })
		v.start("a")
		cur := int64(1)
		if _, _, _, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade}); flinkplane.ErrorCode(err) != flinkplane.EINVALIDCONFIG {
			t.Fatalf("err = %v", err)
		}
		v.calls("TriggerSavepoint", "PollSavepoint", "DisposeSavepoint")
		if got := sortedCalls(v.compat.Calls); len(got) != 2 || !strings.HasPrefix(got[1], "CheckSavepoint(/sp/") {
			t.Fatalf("checker calls %q", got)
		}
	})
	t.Run("Warn", func(t *testing.T) {
		v := setup(t)
		v.db.Update(ctx, func(tx flinkplane.Tx) error {
			return tx.SetTags("a", []flinkplane.Tag{{Key: flinkplane.TagCompatCheck, Value: "warn"}})
		})
		cur := int64(1)
		_, _, id, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
		if err != nil {
			t.Fatal(err)
		}
		op := v.wait("a", id)
		if op.Status != flinkplane.OperationSuccessful || len(op.Findings) != 2 {
			t.Fatalf("op %+v", op)
		}
	})
	t.Run("NoCodeChange", func(t *testing.T) {
		v := setup(t)
		cur := int64(1)
		if _, _, _, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: func(c *flinkplane.ApplicationConfig) error {
			c.Parallelism.Parallelism = 2
			return nil
		}}); err != nil {
			t.Fatal(err)
		}
		if len(v.compat.Calls) != 0 {
			t.Fatal("checker ran without a runtime or code change")
		}
	})
}

func sortedCalls(calls []string) []string {
	out := append([]string(nil), calls...)
	sort.Strings(out)
	return out
}

func TestDelete(t *testing.T) {
	v := newEnv(t)
	v.create("a", nil)
	v.start("a")
	created := v.app("a").CreateTime
	if err := v.e.DeleteApplication(ctx, "a", created.Add(2*time.Second)); flinkplane.ErrorCode(err) != flinkplane.EINVALID {
		t.Fatalf("wrong timestamp: %v", err)
	}
	if err := v.e.DeleteApplication(ctx, "a", created.Truncate(time.Second)); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := v.db.View(ctx, func(tx flinkplane.Tx) error { _, err := tx.Application("a"); return err })
		if flinkplane.ErrorCode(err) == flinkplane.ENOTFOUND {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("application not deleted")
		}
		time.Sleep(5 * time.Millisecond)
	}
	v.e.Wait(ctx, "a")
	v.calls("JobHealth", "Cancel", "Stop")
	if v.driver.LiveClusters() != 0 {
		t.Fatal("cluster outlived delete")
	}
}

// Kill-and-restart: the engine is closed in the middle of an operation and
// a new one opened on the same store finishes it without repeating a side
// effect.
func TestRestart(t *testing.T) {
	t.Run("StopDuringSavepoint", func(t *testing.T) {
		v := newEnv(t)
		v.create("a", nil)
		v.start("a")
		release := v.driver.HoldCall("PollSavepoint")
		id, _ := v.e.StopApplication(ctx, "a", false)
		waitCalls(t, v.driver, "PollSavepoint")
		v.close()
		release()
		v.open()
		op := v.wait("a", id)
		wantStatus(t, op.Status, flinkplane.OperationSuccessful)
		got := v.driver.Calls()
		if n := count(got, "StopWithSavepoint"); n != 1 {
			t.Fatalf("StopWithSavepoint called %d times: %q", n, got)
		}
		if s := v.snapshots("a"); len(s) != 1 || s[0].Status != flinkplane.SnapshotReady || !v.driver.Savepoints[s[0].Location] {
			t.Fatalf("snapshot lost: %+v", s)
		}
		wantStatus(t, v.app("a").Status, flinkplane.StatusReady)
	})
	t.Run("StartDuringWait", func(t *testing.T) {
		v := newEnv(t)
		v.create("a", nil)
		release := v.driver.HoldCall("JobHealth")
		id, _ := v.e.StartApplication(ctx, "a", engine.StartInput{})
		waitCalls(t, v.driver, "JobHealth")
		v.close()
		release()
		v.open()
		wantStatus(t, v.wait("a", id).Status, flinkplane.OperationSuccessful)
		got := v.driver.Calls()
		if count(got, "Submit") != 1 || count(got, "Start(FLINK-1_20)") != 1 {
			t.Fatalf("side effect repeated: %q", got)
		}
		if len(v.driver.Running()) != 1 {
			t.Fatal("not exactly one job")
		}
	})
	t.Run("UpgradeDuringSubmit", func(t *testing.T) {
		v := newEnv(t)
		v.create("a", nil)
		v.start("a")
		release := v.driver.HoldCall("Submit")
		cur := int64(1)
		_, _, id, _ := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
		waitCalls(t, v.driver, "Submit(")
		v.close()
		release()
		v.open()
		wantStatus(t, v.wait("a", id).Status, flinkplane.OperationSuccessful)
		got := v.driver.Calls()
		if count(got, "StopWithSavepoint") != 1 || count(got, "Start(FLINK-2_2)") != 1 {
			t.Fatalf("calls %q", got)
		}
		if len(v.driver.Running()) != 1 || v.driver.LiveClusters() != 1 {
			t.Fatal("not exactly one job and cluster")
		}
		if s := v.snapshots("a"); len(s) != 1 || s[0].Status != flinkplane.SnapshotReady {
			t.Fatalf("pre-upgrade snapshot lost: %+v", s)
		}
	})
}

func count(calls []string, prefix string) int {
	n := 0
	for _, c := range calls {
		if strings.HasPrefix(c, prefix) {
			n++
		}
	}
	return n
}

// waitCalls waits until the driver has seen a call starting with prefix,
// without consuming the record.
func waitCalls(t *testing.T, d *mock.ClusterDriver, prefix string) {
	t.Helper()
	var seen []string
	deadline := time.Now().Add(30 * time.Second)
	for time.Now().Before(deadline) {
		seen = append(seen, d.Calls()...)
		if count(seen, prefix) > 0 {
			// Put them back for later assertions.
			d.Record(seen...)
			return
		}
		time.Sleep(time.Millisecond)
	}
	t.Fatalf("no %s call; saw %q", prefix, seen)
}

var _ = fmt.Sprint

func TestRollback_WhileUpdating(t *testing.T) {
	v := newEnv(t)
	v.create("a", nil)
	v.start("a")
	// Held in the submission of the new job, after the old one stopped
	// with its savepoint.
	release := v.driver.HoldCall("Submit")
	cur := int64(1)
	_, _, uid, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
	if err != nil {
		t.Fatal(err)
	}
	waitCalls(t, v.driver, "Submit(")
	_, _, rid, err := v.e.RollbackApplication(ctx, "a", 2)
	if err != nil {
		t.Fatal(err)
	}
	release()
	wantStatus(t, v.wait("a", rid).Status, flinkplane.OperationSuccessful)
	wantStatus(t, v.op("a", uid).Status, flinkplane.OperationCancelled)
	a := v.app("a")
	if a.Status != flinkplane.StatusRunning || a.RuntimeEnvironment != flinkplane.RuntimeFlink120 {
		t.Fatalf("app %+v", a)
	}
	if len(v.driver.Running()) != 1 || v.driver.LiveClusters() != 1 {
		t.Fatalf("jobs %v clusters %d", v.driver.Running(), v.driver.LiveClusters())
	}
}

// A failure at any driver call of an upgrade never loses the pre-upgrade
// snapshot and never leaves two jobs or a job without its application
// knowing it.
func TestUpgrade_FaultAtEachCall(t *testing.T) {
	for _, rollback := range []bool{false, true} {
		for _, call := range []string{"StopWithSavepoint", "PollSavepoint", "Stop", "Start", "Submit", "JobHealth"} {
			t.Run(fmt.Sprintf("%s/rollback=%v", call, rollback), func(t *testing.T) {
				v := newEnv(t)
				v.create("a", func(c *flinkplane.ApplicationConfig) { c.RollbackEnabled = rollback })
				v.start("a")
				if call == "JobHealth" {
					// The first call asks whether the old job runs; fail the
					// wait for the new one.
					v.driver.FailNth(call, 2, errors.New("injected "+call+" failure"))
				} else {
					v.driver.Fail(call, errors.New("injected "+call+" failure"), true)
				}
				cur := int64(1)
				_, _, id, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
				if err != nil {
					t.Fatal(err)
				}
				op := v.wait("a", id)
				if call == "JobHealth" || call == "Stop" {
					// A poll that fails once is retried, and so is the stop
					// of the cluster the update left: the update succeeds.
					wantStatus(t, op.Status, flinkplane.OperationSuccessful)
					if v.driver.LiveClusters() != 1 {
						t.Fatalf("%d clusters", v.driver.LiveClusters())
					}
					if a := v.app("a"); a.Status != flinkplane.StatusRunning || a.RuntimeEnvironment != flinkplane.RuntimeFlink22 || len(v.driver.Running()) != 1 {
						t.Fatalf("app %+v jobs %v", a, v.driver.Running())
					}
					return
				}
				wantStatus(t, op.Status, flinkplane.OperationFailed)
				if !strings.Contains(op.ErrorInfo, "injected") {
					t.Fatalf("ErrorInfo %q", op.ErrorInfo)
				}
				if op.RollbackOperationID != "" {
					v.wait("a", op.RollbackOperationID)
				}
				a := v.app("a")
				running := v.driver.Running()
				switch {
				case a.Status == flinkplane.StatusRunning && a.FailedOperation != "":
					// Without system rollback: RUNNING on the new version,
					// its job not processing; a manual rollback brings it back.
					if rollback || a.RuntimeEnvironment != flinkplane.RuntimeFlink22 || v.driver.LiveClusters() > 1 || len(running) > 0 {
						t.Fatalf("failed update: app %+v, jobs %v, clusters %d", a, running, v.driver.LiveClusters())
					}
					_, _, rid, err := v.e.RollbackApplication(ctx, "a", a.VersionID)
					if err != nil {
						t.Fatal(err)
					}
					wantStatus(t, v.wait("a", rid).Status, flinkplane.OperationSuccessful)
					a, running = v.app("a"), v.driver.Running()
					if a.Status != flinkplane.StatusRunning || len(running) != 1 || a.JobID != running[0] || v.driver.LiveClusters() != 1 ||
						a.RuntimeEnvironment != flinkplane.RuntimeFlink120 {
						t.Fatalf("after the manual rollback: %+v, jobs %v, clusters %d", a, running, v.driver.LiveClusters())
					}
				case a.Status == flinkplane.StatusRunning:
					if len(running) != 1 || a.JobID != running[0] || a.RuntimeEnvironment != flinkplane.RuntimeFlink120 {
						t.Fatalf("RUNNING app %+v, jobs %v", a, running)
					}
				case a.Status == flinkplane.StatusReady:
					if len(running) != 0 || v.driver.LiveClusters() != 0 || a.Cluster != nil {
						t.Fatalf("READY app %+v, jobs %v, clusters %d", a, running, v.driver.LiveClusters())
					}
				default:
					t.Fatalf("status %s", a.Status)
				}
				// A failure before the job stops (the savepoint, the warm
				// start of the target cluster) leaves it untouched.
				before := call == "StopWithSavepoint" || call == "PollSavepoint" || call == "Start"
				if before && (a.Status != flinkplane.StatusRunning || a.RuntimeEnvironment != flinkplane.RuntimeFlink120 || v.driver.LiveClusters() != 1) {
					t.Fatalf("a failure before the stop: app %+v, clusters %d", a, v.driver.LiveClusters())
				}
				if rollback && !before && a.Status != flinkplane.StatusRunning {
					t.Fatalf("system rollback did not bring the application back: %+v", a)
				}
				for _, s := range v.snapshots("a") {
					if s.Status == flinkplane.SnapshotReady && !v.driver.Savepoints[s.Location] {
						t.Fatalf("snapshot %s lost its savepoint", s.Name)
					}
				}
				if !before {
					if s := v.snapshots("a"); len(s) != 1 || s[0].Status != flinkplane.SnapshotReady || s[0].Runtime != flinkplane.RuntimeFlink120 {
						t.Fatalf("pre-upgrade snapshot: %+v", s)
					}
				}
			})
		}
	}
}

// The engine dies while any driver call of an upgrade is in flight; a new
// engine on the same store finishes the upgrade with one savepoint, one
// job and one cluster.
func TestUpgrade_RestartAtEachCall(t *testing.T) {
	for _, call := range []string{"StopWithSavepoint", "PollSavepoint", "Stop", "Start", "Submit", "JobHealth"} {
		t.Run(call, func(t *testing.T) {
			v := newEnv(t)
			v.create("a", nil)
			v.start("a")
			release := v.driver.HoldCall(call)
			cur := int64(1)
			_, _, id, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
			if err != nil {
				t.Fatal(err)
			}
			waitCalls(t, v.driver, call)
			v.close()
			release()
			v.open()
			wantStatus(t, v.wait("a", id).Status, flinkplane.OperationSuccessful)
			a := v.app("a")
			if a.Status != flinkplane.StatusRunning || a.Cluster == nil || a.Cluster.Runtime != flinkplane.RuntimeFlink22 {
				t.Fatalf("app %+v", a)
			}
			if r := v.driver.Running(); len(r) != 1 || r[0] != a.JobID || v.driver.LiveClusters() != 1 {
				t.Fatalf("jobs %v (app job %s), clusters %d", r, a.JobID, v.driver.LiveClusters())
			}
			snaps := v.snapshots("a")
			if len(snaps) != 1 || snaps[0].Status != flinkplane.SnapshotReady || !v.driver.Savepoints[snaps[0].Location] {
				t.Fatalf("snapshots %+v", snaps)
			}
			if n := len(v.driver.Submitted); n != 2 { // the first start and the upgrade
				t.Fatalf("%d submissions", n)
			}
		})
	}
}

func TestUpdate_RunningDowngradeRefused(t *testing.T) {
	v := newEnv(t)
	v.create("a", func(c *flinkplane.ApplicationConfig) {
		c.RuntimeEnvironment = flinkplane.RuntimeFlink22
		c.Code.S3.FileKey = "app-2.2.jar"
	})
	v.start("a")
	cur := int64(1)
	down := func(c *flinkplane.ApplicationConfig) error {
		c.RuntimeEnvironment = flinkplane.RuntimeFlink120
		c.Code.S3.FileKey = "app-1.20.jar"
		return nil
	}
	_, _, _, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: down})
	if flinkplane.ErrorCode(err) != flinkplane.EINVALIDCONFIG || !strings.Contains(flinkplane.ErrorMessage(err), "FLINK-1_20") {
		t.Fatalf("err = %v", err)
	}
	v.calls()
	if a := v.app("a"); a.Status != flinkplane.StatusRunning || a.VersionID != 1 {
		t.Fatalf("app changed %+v", a)
	}
	// Without state it may go.
	_, _, id, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: func(c *flinkplane.ApplicationConfig) error {
		c.Restore = flinkplane.RestoreConfig{Type: flinkplane.RestoreSkip}
		return down(c)
	}})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, v.wait("a", id).Status, flinkplane.OperationSuccessful)
	v.calls("Start(FLINK-1_20)", "JobHealth", "StopWithSavepoint", "PollSavepoint", "Submit", "JobHealth", "Stop")
}

func TestOpen_Reconcile(t *testing.T) {
	v := newEnv(t)
	v.create("alive", nil)
	v.create("dead", nil)
	v.start("alive")
	v.start("dead")
	d := v.app("dead")
	v.close()
	// The cluster of "dead" died while the server was down.
	v.driver.Stop(ctx, *d.Cluster)
	v.driver.Calls()
	v.open()
	if a := v.app("alive"); a.Status != flinkplane.StatusRunning || a.Cluster == nil {
		t.Fatalf("alive: %+v", a)
	}
	// The one whose cluster died is recovered on a fresh cluster from its
	// newest checkpoint.
	var rec []*flinkplane.Operation
	v.db.View(ctx, func(tx flinkplane.Tx) (err error) {
		rec, err = tx.Operations("dead", flinkplane.OperationFilter{Kind: flinkplane.OpRecovery})
		return err
	})
	if len(rec) != 1 || !rec[0].System || !strings.Contains(rec[0].Cause, "died while the server was down") {
		t.Fatalf("recovery: %+v", rec)
	}
	wantStatus(t, v.wait("dead", rec[0].ID).Status, flinkplane.OperationSuccessful)
	if a := v.app("dead"); a.Status != flinkplane.StatusRunning || a.Cluster == nil || a.Cluster.ID == d.Cluster.ID {
		t.Fatalf("dead: %+v", a)
	}
	calls := v.driver.Calls()
	if count(calls, "LatestCheckpoint") != 1 || count(calls, "Start(FLINK-1_20)") != 1 || count(calls, "Submit(/checkpoints/") != 1 {
		t.Fatalf("calls %q", calls)
	}
	if len(v.driver.Running()) != 2 {
		t.Fatalf("running jobs %v", v.driver.Running())
	}
}

// Shutdown leaves no cluster behind; the next Open brings the application
// back from exactly the savepoint it stopped with.
func TestShutdown_Maintenance(t *testing.T) {
	v := newEnv(t)
	v.create("a", nil)
	v.create("idle", nil)
	v.start("a")
	if err := v.e.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	v.calls("JobHealth", "StopWithSavepoint", "PollSavepoint", "Stop")
	if v.driver.LiveClusters() != 0 {
		t.Fatal("a cluster outlived the shutdown")
	}
	wantStatus(t, v.app("a").Status, flinkplane.StatusMaintenance)
	wantStatus(t, v.app("idle").Status, flinkplane.StatusReady)
	snaps := v.snapshots("a")
	if len(snaps) != 1 || snaps[0].Status != flinkplane.SnapshotReady {
		t.Fatalf("snapshots %+v", snaps)
	}
	v.close()
	v.open()
	var ops []*flinkplane.Operation
	v.db.View(ctx, func(tx flinkplane.Tx) (err error) {
		ops, err = tx.Operations("a", flinkplane.OperationFilter{Kind: flinkplane.OpMaintenance})
		return err
	})
	if len(ops) != 1 {
		t.Fatalf("maintenance operations: %d", len(ops))
	}
	wantStatus(t, v.wait("a", ops[0].ID).Status, flinkplane.OperationSuccessful)
	v.calls("Start(FLINK-1_20)", "Submit("+snaps[0].Location+")", "JobHealth")
	if a := v.app("a"); a.Status != flinkplane.StatusRunning || len(v.driver.Running()) != 1 {
		t.Fatalf("app %+v, jobs %v", a, v.driver.Running())
	}
}

// TestCompatPreflight_AfterRollback is the report's case: an application
// moved to 2.2 (a snapshot taken there) and rolled back to 1.20 runs on
// 1.20 state again. Its next update to 2.2 restores the savepoint its stop
// writes, state of the 1.20 job; the check reads that job's newest
// checkpoint, which the checker flags, and not the newer snapshot taken on
// 2.2 (clean, but not what would be restored).
func TestCompatPreflight_AfterRollback(t *testing.T) {
	var flagged func(loc string) bool
	v := &env{t: t, dir: t.TempDir(), driver: mock.NewClusterDriver(), code: mock.NewCodeStore(bucket+"/app-1.20.jar", bucket+"/app-2.2.jar"),
		compat: &mock.CompatChecker{StateFunc: func(loc string, target flinkplane.RuntimeID) []flinkplane.Finding {
			if flagged != nil && flagged(loc) {
				return []flinkplane.Finding{{Severity: flinkplane.SeverityError, Code: "POJO_COLLECTION_KRYO", Message: "written by Flink 1.20 with Kryo"}}
			}
			return nil
		}}, probation: -1}
	v.open()
	t.Cleanup(v.close)
	v.create("a", nil)
	v.start("a")
	cur := int64(1)
	_, _, id, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, v.wait("a", id).Status, flinkplane.OperationSuccessful)
	on22 := v.takeSnapshot("a", "on22")
	_, _, rid, err := v.e.RollbackApplication(ctx, "a", 2)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, v.wait("a", rid).Status, flinkplane.OperationSuccessful)
	a := v.app("a")
	if a.RuntimeEnvironment != flinkplane.RuntimeFlink120 || a.Cluster == nil {
		t.Fatalf("after the rollback: %+v", a)
	}
	// The state of the job running on 1.20 now (a savepoint of it) is what
	// the checker flags.
	flagged = func(loc string) bool { return !strings.Contains(loc, on22.Location) }
	v.driver.JobHealth(ctx, *a.Cluster, a.JobID) // a completed checkpoint
	v.driver.Calls()
	v.compat.Calls = nil
	cur = a.VersionID
	_, _, _, err = v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
	if flinkplane.ErrorCode(err) != flinkplane.EINVALIDCONFIG || !strings.Contains(flinkplane.ErrorMessage(err), "written by Flink 1.20 with Kryo") {
		t.Fatalf("update after the rollback: %v, want the 1.20 state refused", err)
	}
	var checked []string
	for _, c := range v.compat.Calls {
		if strings.HasPrefix(c, "CheckSavepoint(") {
			checked = append(checked, c)
		}
	}
	if len(checked) != 1 || strings.Contains(checked[0], on22.Location) {
		t.Fatalf("checked %q, want a savepoint of the running 1.20 job (not the 2.2 snapshot %s)", checked, on22.Location)
	}
	if b := v.app("a"); b.Status != flinkplane.StatusRunning || b.JobID != a.JobID || b.VersionID != a.VersionID {
		t.Fatalf("the running job was touched: %+v", b)
	}
}

// TestUpdate_MainFailsBeforeStop: an update forced through the check
// (compat-check=warn) whose new main() fails on the target fails at its
// COMPILE_JOB, after the warm start and before the stop: the old job runs
// on untouched, the application shows the version it runs, and the warm
// cluster is stopped.
func TestUpdate_MainFailsBeforeStop(t *testing.T) {
	v := &env{t: t, dir: t.TempDir(), driver: mock.NewClusterDriver(), code: mock.NewCodeStore(bucket+"/app-1.20.jar", bucket+"/app-2.2.jar"), probation: -1}
	v.setup = func(e *engine.Engine) {
		e.Compiler = &mock.JobCompiler{CompileFunc: func(target flinkplane.RuntimeID, job flinkplane.CompileSpec) (*flinkplane.JobGraphInfo, []flinkplane.Finding, error) {
			if target == flinkplane.RuntimeFlink22 {
				return nil, []flinkplane.Finding{{Severity: flinkplane.SeverityError, Code: "JOB_MAIN_FAILED",
					Message: "java.lang.NoClassDefFoundError: org/apache/flink/api/common/time/Time"}}, nil
			}
			return &flinkplane.JobGraphInfo{Runtime: target}, nil, nil
		}}
	}
	v.open()
	t.Cleanup(v.close)
	v.create("a", nil)
	v.start("a")
	v.tag("a", flinkplane.TagCompatCheck, "warn")
	before := v.app("a")
	cur := before.VersionID
	_, _, id, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
	if err != nil {
		t.Fatal(err)
	}
	op := v.wait("a", id)
	if op.Status != flinkplane.OperationFailed || !strings.Contains(op.ErrorInfo, "org/apache/flink/api/common/time/Time") || op.RollbackOperationID != "" {
		t.Fatalf("op %+v", op)
	}
	// The check read the running job's checkpoint; the warm cluster
	// started, the failure saw the old job alive and stopped the warm one.
	v.calls("TriggerSavepoint", "PollSavepoint", "DisposeSavepoint", "Start(FLINK-2_2)", "JobHealth", "Stop")
	a := v.app("a")
	if a.Status != flinkplane.StatusRunning || a.JobID != before.JobID || a.Cluster.ID != before.Cluster.ID || a.RuntimeEnvironment != flinkplane.RuntimeFlink120 ||
		a.FailedOperation != "" || v.driver.LiveClusters() != 1 || len(v.driver.Running()) != 1 {
		t.Fatalf("after the failure before the stop: app %+v, clusters %d, jobs %v", a, v.driver.LiveClusters(), v.driver.Running())
	}
}
