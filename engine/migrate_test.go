package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/engine"
	"github.com/flinkplane/flinkplane/mock"
)

// pojoKryo is what the savepoint check says of a 1.x POJO with a List
// field restored on 2.x.
var pojoKryo = flinkplane.Finding{Severity: flinkplane.SeverityError, Code: "POJO_COLLECTION_KRYO",
	Class: "operator id 2dbf5aee9f8a16190d7eb1a3893a94ca", Method: "key-state", Message: "Restoring the state fails on Flink 2.x"}

// migrationEnv is a running application on 1.20 whose savepoints 2.2
// cannot restore, with a recording migrator.
func migrationEnv(t *testing.T, tag string, other ...flinkplane.Finding) (*env, *mock.Migrator) {
	t.Helper()
	mig := &mock.Migrator{}
	v := &env{t: t, dir: t.TempDir(), driver: mock.NewClusterDriver(), code: mock.NewCodeStore(bucket+"/app-1.20.jar", bucket+"/app-2.2.jar"),
		compat: &mock.CompatChecker{StateFunc: func(sp string, target flinkplane.RuntimeID) []flinkplane.Finding {
			if target == flinkplane.RuntimeFlink22 && !strings.Contains(sp, "/migrated-") {
				return append([]flinkplane.Finding{pojoKryo}, other...)
			}
			return nil
		}}, probation: -1, setup: func(e *engine.Engine) { e.Migrator = mig }}
	mig.Written = func(out string) { v.driver.AddSavepoint(out) }
	v.open()
	t.Cleanup(v.close)
	v.create("a", nil)
	if tag != "" {
		v.db.Update(ctx, func(tx flinkplane.Tx) error {
			return tx.SetTags("a", []flinkplane.Tag{{Key: flinkplane.TagMigrateState, Value: tag}})
		})
	}
	v.start("a")
	return v, mig
}

func TestUpdate_MigratesState(t *testing.T) {
	v, mig := migrationEnv(t, "on")
	cur := int64(1)
	_, _, id, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
	if err != nil {
		t.Fatal(err)
	}
	op := v.wait("a", id)
	wantStatus(t, op.Status, flinkplane.OperationSuccessful)
	if !strings.Contains(strings.Join(op.Plan, ","), "RESOLVE_RESTORE,MIGRATE_STATE,SUBMIT") {
		t.Fatalf("plan %v", op.Plan)
	}
	snaps := v.snapshots("a")
	var orig, migrated *flinkplane.Snapshot
	for _, s := range snaps {
		if s.Runtime == flinkplane.RuntimeFlink120 {
			orig = s
		} else {
			migrated = s
		}
	}
	if orig == nil || migrated == nil || len(snaps) != 2 {
		t.Fatalf("snapshots %+v", snaps)
	}
	if want := "/sp/" + v.app("a").ID + "/migrated-" + op.ID; migrated.Location != want || migrated.VersionID != 2 ||
		!strings.HasPrefix(migrated.Name, "flinkplane-migrated-") || migrated.Status != flinkplane.SnapshotReady {
		t.Fatalf("migrated snapshot %+v, want location %s", migrated, want)
	}
	// The pre-flight checks the migration on the probe savepoint; the step
	// migrates the savepoint the job stopped with, leaving it as it was.
	calls := mig.CallList()
	if len(calls) != 2 || !strings.HasPrefix(calls[0], "CheckMigration(/sp/") ||
		calls[1] != "MigrateState("+strings.TrimPrefix(orig.Location, "file:")+"->"+strings.TrimPrefix(migrated.Location, "file:")+")" {
		t.Fatalf("migrator calls %q", calls)
	}
	if s := mig.Specs[1]; s.From != flinkplane.RuntimeFlink120 || s.To != flinkplane.RuntimeFlink22 ||
		!strings.HasSuffix(s.OldJar, "app-1.20.jar") || !strings.HasSuffix(s.NewJar, "app-2.2.jar") {
		t.Fatalf("spec %+v", s)
	}
	v.calls("TriggerSavepoint", "PollSavepoint", "DisposeSavepoint", // the pre-flight's savepoint
		"Start(FLINK-2_2)", "JobHealth", "StopWithSavepoint", "PollSavepoint", "Submit("+migrated.Location+")", "JobHealth", "Stop") // warm cut-over
	if m := op.Migration; m == nil || m.Source != orig.Location || m.Savepoint != migrated.Location || m.Snapshot != migrated.Name ||
		m.Result == nil || m.Result.Operators[0].Keys != 10 {
		t.Fatalf("migration record %+v", op.Migration)
	}
	// The findings say what was migrated; the migratable error did not block.
	var codes []string
	for _, f := range op.Findings {
		codes = append(codes, f.Severity+" "+f.Code)
	}
	if got := strings.Join(codes, ","); got != "INFO STATE_CHECKED,ERROR POJO_COLLECTION_KRYO,INFO STATE_MIGRATION,INFO STATE_MIGRATION" {
		t.Fatalf("findings %s", got)
	}

	// A rollback returns to the original, unmigrated snapshot on 1.20.
	app, _, rid, err := v.e.RollbackApplication(ctx, "a", 2)
	if err != nil {
		t.Fatal(err)
	}
	wantStatus(t, v.wait("a", rid).Status, flinkplane.OperationSuccessful)
	v.calls("Start(FLINK-1_20)", "JobHealth", "Cancel", "Submit("+orig.Location+")", "JobHealth", "Stop") // warm
	_ = app
}

func TestUpdate_MigrationOffByDefault(t *testing.T) {
	v, mig := migrationEnv(t, "")
	cur := int64(1)
	_, _, _, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
	if flinkplane.ErrorCode(err) != flinkplane.EINVALIDCONFIG || !strings.Contains(flinkplane.ErrorMessage(err), "POJO_COLLECTION_KRYO") ||
		!strings.Contains(flinkplane.ErrorMessage(err), "tag the application flinkplane:migrate-state=on") {
		t.Fatalf("err = %v", err)
	}
	if len(mig.CallList()) != 0 {
		t.Fatalf("migrator called: %v", mig.CallList())
	}
	v.calls("TriggerSavepoint", "PollSavepoint", "DisposeSavepoint") // the state checked: a savepoint of the running job
	// The server's default turns it on; the tag "off" turns it off again.
	v.e.MigrateState = true
	v.db.Update(ctx, func(tx flinkplane.Tx) error {
		return tx.SetTags("a", []flinkplane.Tag{{Key: flinkplane.TagMigrateState, Value: "off"}})
	})
	if _, _, _, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade}); flinkplane.ErrorCode(err) != flinkplane.EINVALIDCONFIG {
		t.Fatalf("tag off: %v", err)
	}
	v.db.Update(ctx, func(tx flinkplane.Tx) error { return tx.SetTags("a", nil) })
	_, _, id, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
	if err != nil {
		t.Fatalf("server default on: %v", err)
	}
	wantStatus(t, v.wait("a", id).Status, flinkplane.OperationSuccessful)
}

func TestUpdate_MigrationRefusedBeforeStop(t *testing.T) {
	t.Run("NotMigratable", func(t *testing.T) {
		v, mig := migrationEnv(t, "on")
		mig.CheckFunc = func(spec flinkplane.MigrationSpec) (*flinkplane.MigrationResult, error) {
			return &flinkplane.MigrationResult{Findings: []flinkplane.Finding{{Severity: flinkplane.SeverityError,
				Code: flinkplane.CodeStateNotMigratable, Message: "The state cannot be migrated: window timers"}}}, nil
		}
		cur := int64(1)
		_, _, _, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
		if flinkplane.ErrorCode(err) != flinkplane.EINVALIDCONFIG || !strings.Contains(flinkplane.ErrorMessage(err), "window timers") {
			t.Fatalf("err = %v", err)
		}
		// The migration is checked on the savepoint of the running job the
		// pre-flight read; the job keeps running.
		v.calls("TriggerSavepoint", "PollSavepoint", "DisposeSavepoint")
		wantStatus(t, v.app("a").Status, flinkplane.StatusRunning)
	})
	t.Run("CheckFails", func(t *testing.T) {
		v, mig := migrationEnv(t, "on")
		mig.CheckFunc = func(spec flinkplane.MigrationSpec) (*flinkplane.MigrationResult, error) {
			return nil, flinkplane.Errorf(flinkplane.ENOTFOUND, "The state-processor-api of runtime FLINK-2_2 is not installed.")
		}
		cur := int64(1)
		_, _, _, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
		if flinkplane.ErrorCode(err) != flinkplane.EINVALIDCONFIG || !strings.Contains(flinkplane.ErrorMessage(err), "not installed") {
			t.Fatalf("err = %v", err)
		}
		wantStatus(t, v.app("a").Status, flinkplane.StatusRunning)
	})
	t.Run("OtherErrors", func(t *testing.T) {
		v, mig := migrationEnv(t, "on", flinkplane.Finding{Severity: flinkplane.SeverityError, Code: "SERIALIZER_SNAPSHOT_REMOVED", Message: "CEP"})
		cur := int64(1)
		if _, _, _, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade}); flinkplane.ErrorCode(err) != flinkplane.EINVALIDCONFIG {
			t.Fatalf("err = %v", err)
		}
		if len(mig.CallList()) != 0 {
			t.Fatalf("migrator called for state it cannot repair: %v", mig.CallList())
		}
	})
}

// TestUpdate_MigrationFailsAndRollsBack: a migration that fails once the job
// stopped fails the update; the system rollback restores the original.
func TestUpdate_MigrationFailsAndRollsBack(t *testing.T) {
	v, mig := migrationEnv(t, "on")
	mig.MigrateFunc = func(spec flinkplane.MigrationSpec) (*flinkplane.MigrationResult, error) {
		return nil, errors.New("read JVM killed")
	}
	cur := int64(1)
	_, _, id, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: func(c *flinkplane.ApplicationConfig) error {
		c.RollbackEnabled = true
		return upgrade(c)
	}})
	if err != nil {
		t.Fatal(err)
	}
	op := v.wait("a", id)
	wantStatus(t, op.Status, flinkplane.OperationFailed)
	if !strings.Contains(op.ErrorInfo, "read JVM killed") || op.RollbackOperationID == "" {
		t.Fatalf("op %+v", op)
	}
	wantStatus(t, v.wait("a", op.RollbackOperationID).Status, flinkplane.OperationSuccessful)
	a := v.app("a")
	if a.Status != flinkplane.StatusRunning || a.Cluster.Runtime != flinkplane.RuntimeFlink120 {
		t.Fatalf("app %+v", a)
	}
	for _, s := range v.snapshots("a") {
		if s.Runtime != flinkplane.RuntimeFlink120 {
			t.Fatalf("a failed migration left a snapshot: %+v", s)
		}
	}
}

// TestUpdate_MigrationResumes: a control plane killed while the state is
// migrated redoes the migration when it restarts and finishes the update.
func TestUpdate_MigrationResumes(t *testing.T) {
	v, mig := migrationEnv(t, "on")
	killed := make(chan struct{})
	v.e.StepFault = func(ctx context.Context, op *flinkplane.Operation, step string) error {
		if step == engine.StepMigrateState {
			close(killed)
			<-ctx.Done()
			return ctx.Err()
		}
		return nil
	}
	cur := int64(1)
	_, _, id, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
	if err != nil {
		t.Fatal(err)
	}
	<-killed
	appID := v.app("a").ID
	v.close()
	// What a killed migration leaves next to its output: its work
	// directory and a half-written savepoint. The resumed step removes both.
	spDir := t.TempDir()
	left := []string{filepath.Join(spDir, appID, ".flinkplane-migrate-123"),
		filepath.Join(spDir, appID, "migrated-"+id+".writing-456")}
	for _, d := range left {
		if err := os.MkdirAll(filepath.Join(d, "data"), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	setup := v.setup
	v.setup = func(e *engine.Engine) { setup(e); e.SavepointDir = spDir }
	v.open()
	op := v.wait("a", id)
	wantStatus(t, op.Status, flinkplane.OperationSuccessful)
	for _, d := range left {
		if _, err := os.Stat(d); err == nil {
			t.Errorf("%s left after the resumed migration", d)
		}
	}
	n := 0
	for _, c := range mig.CallList() {
		if strings.HasPrefix(c, "MigrateState(") {
			n++
		}
	}
	if n != 1 || op.Migration == nil || op.Migration.Snapshot == "" {
		t.Fatalf("calls %v, migration %+v", mig.CallList(), op.Migration)
	}
	if len(v.snapshots("a")) != 2 {
		t.Fatalf("snapshots %+v", v.snapshots("a"))
	}
}

// TestUpdate_MigratedSavepointChecked: the migrated savepoint goes through
// the pre-flight's checks before the new job restores it; an error there
// fails the update before any submission, and no snapshot is recorded.
func TestUpdate_MigratedSavepointChecked(t *testing.T) {
	v, _ := migrationEnv(t, "on")
	v.compat.StateFunc = func(sp string, target flinkplane.RuntimeID) []flinkplane.Finding {
		if target != flinkplane.RuntimeFlink22 {
			return nil
		}
		if strings.Contains(sp, "/migrated-") {
			return []flinkplane.Finding{{Severity: flinkplane.SeverityError, Code: "METADATA_VERSION", Message: "unreadable"}}
		}
		return []flinkplane.Finding{pojoKryo}
	}
	cur := int64(1)
	_, _, id, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
	if err != nil {
		t.Fatal(err)
	}
	op := v.wait("a", id)
	if op.Status != flinkplane.OperationFailed || !strings.Contains(op.ErrorInfo, "does not pass the compatibility check") {
		t.Fatalf("op %s: %s", op.Status, op.ErrorInfo)
	}
	for _, c := range v.driver.Calls() {
		if strings.HasPrefix(c, "Submit") {
			t.Fatalf("submitted after a failed check: %v", c)
		}
	}
	if n := len(v.snapshots("a")); n != 1 {
		t.Fatalf("%d snapshots, want only the original", n)
	}
}
