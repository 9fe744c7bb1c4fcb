package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kav2 "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat/savepoint"
	"github.com/flinkplane/flinkplane/internal/fixtures"
	"github.com/flinkplane/flinkplane/snapfiles"
)

func ledgerProps(out string) *types.EnvironmentProperties {
	return &types.EnvironmentProperties{PropertyGroups: []types.PropertyGroup{{
		PropertyGroupId: aws.String("FlinkApplicationProperties"),
		PropertyMap: map[string]string{"output.path": out, "rate.per.second": "50", "accounts": "10",
			"rollover.interval.ms": "5000", "inactivity.interval.ms": "5000"}}}}
}

// waitLedger waits until the committed ledger output is consistent with
// more than min entries (replayFrom as in CheckLedgerRollbackOutput).
func waitLedger(t testing.TB, dir string, min int64, replayFrom ...int64) *fixtures.LedgerOutput {
	t.Helper()
	return waitLedgerUntil(t, dir, fmt.Sprintf("more than %d committed entries", min), func(o *fixtures.LedgerOutput) bool { return o.Entries > min }, replayFrom...)
}

// waitLedgerUntil waits until the committed ledger output is consistent and
// satisfies cond.
func waitLedgerUntil(t testing.TB, dir, what string, cond func(*fixtures.LedgerOutput) bool, replayFrom ...int64) *fixtures.LedgerOutput {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	var last error
	for time.Now().Before(deadline) {
		o, err := fixtures.CheckLedgerRollbackOutput(dir, replayFrom...)
		if err == nil && cond(o) {
			return o
		}
		last = err
		time.Sleep(500 * time.Millisecond)
	}
	t.Fatalf("ledger output %s: not %s (%v)", dir, what, last)
	return nil
}

// lastEntry returns the highest n in a ledger part file.
func lastEntry(t testing.TB, path string) int64 {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	last := int64(-1)
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		if i := strings.LastIndexByte(line, ','); i >= 0 {
			if n, err := strconv.ParseInt(line[i+1:], 10, 64); err == nil && n > last {
				last = n
			}
		}
	}
	return last
}

// inProgressFiles returns the FileSink in-progress files a savepoint refers to.
func inProgressFiles(t testing.TB, location string) []savepoint.Recoverable {
	t.Helper()
	dir := strings.TrimPrefix(location, "file:")
	b, err := os.ReadFile(filepath.Join(dir, "_metadata"))
	if err != nil {
		t.Fatal(err)
	}
	md, err := savepoint.ParseMetadata(b)
	if err != nil {
		t.Fatal(err)
	}
	sf, err := savepoint.FindSinkFiles(md, func(h *savepoint.StreamHandle) ([]byte, error) {
		if h.Data != nil {
			return h.Data, nil
		}
		if h.Relative != "" {
			return os.ReadFile(filepath.Join(dir, h.Relative))
		}
		return os.ReadFile(h.LocalPath())
	})
	if err != nil {
		t.Fatal(err)
	}
	var out []savepoint.Recoverable
	for _, f := range sf.InProgress {
		out = append(out, f.Recoverable())
	}
	return out
}

// waitNewPartFile waits until the FileSink opens a new in-progress part
// file in dir.
func waitNewPartFile(t testing.TB, dir string) {
	t.Helper()
	old := map[string]bool{}
	list := func() []string {
		m, _ := filepath.Glob(filepath.Join(dir, ".part-*.inprogress.*"))
		return m
	}
	for _, p := range list() {
		old[p] = true
	}
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		for _, p := range list() {
			if !old[p] {
				return
			}
		}
	}
	t.Fatalf("no new in-progress part file in %s", dir)
}

func exists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// TestRealFlink_FileSinkRollback: a FileSink job (ledger) whose part files
// stay in progress across savepoints is updated (from Flink 1.20 to 2.2 with
// ledger-2.2.jar, or on 2.2 with another setting), the new job finishes and
// commits the part file the pre-update snapshot refers to, and
// RollbackApplication returns the application to the previous version from
// that snapshot: refused while neither the part file nor a copy of it is
// there (the job untouched), then RUNNING on the previous version with the
// part file put back from the copy kept with the snapshot; the output is
// exact but for what a rollback replays (entries after the snapshot).
func TestRealFlink_FileSinkRollback(t *testing.T) {
	jars := needReal(t, []flinkplane.RuntimeID{"FLINK-1_20", "FLINK-2_2"}, fixtures.Ledger120, fixtures.Ledger22)
	t.Run("FLINK-1_20/upgrade/FLINK-2_2", func(t *testing.T) {
		fileSinkRollback(t, jars, types.RuntimeEnvironmentFlink120, fixtures.Ledger120, func(v *int64, _ string) *kav2.UpdateApplicationInput {
			return &kav2.UpdateApplicationInput{CurrentApplicationVersionId: v, RuntimeEnvironmentUpdate: types.RuntimeEnvironmentFlink22,
				ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{ApplicationCodeConfigurationUpdate: &types.ApplicationCodeConfigurationUpdate{
					CodeContentUpdate: &types.CodeContentUpdate{S3ContentLocationUpdate: &types.S3ContentLocationUpdate{FileKeyUpdate: aws.String(fixtures.Ledger22 + ".jar")}}}}}
		})
	})
	t.Run("FLINK-2_2/update/FLINK-2_2", func(t *testing.T) {
		fileSinkRollback(t, jars, types.RuntimeEnvironmentFlink22, fixtures.Ledger22, func(v *int64, out string) *kav2.UpdateApplicationInput {
			props := ledgerProps(out)
			props.PropertyGroups[0].PropertyMap["rate.per.second"] = "60"
			return &kav2.UpdateApplicationInput{CurrentApplicationVersionId: v,
				ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{EnvironmentPropertyUpdates: &types.EnvironmentPropertyUpdates{
					PropertyGroups: props.PropertyGroups}}}
		})
	})
}

func fileSinkRollback(t *testing.T, jars map[string]string, rt types.RuntimeEnvironment, jar string, update func(version *int64, out string) *kav2.UpdateApplicationInput) {
	r := startReal(t, jars)
	const app = "ledger"
	out := filepath.Join(r.dataDir, "output", "ledger")
	r.create(app, rt, jar, out, func(in *kav2.CreateApplicationInput) {
		in.ApplicationConfiguration.EnvironmentProperties = ledgerProps(out)
	})
	r.start(app, types.ApplicationRestoreTypeSkipRestoreFromSnapshot, "")
	waitLedger(t, out, 50)

	// The update stops the job with a savepoint and restores the new one
	// from it. It is sent just after the sink opened a new part file, so
	// that the savepoint refers to one in progress (between a roll and the
	// next record there is none).
	waitNewPartFile(t, out)
	in := update(r.describe(app).ApplicationVersionId, out)
	in.ApplicationName = aws.String(app)
	upd, err := r.c.UpdateApplication(sctx, in)
	if err != nil {
		t.Fatal(err)
	}
	r.waitRunning(app, aws.ToString(upd.OperationId))
	var pre *flinkplane.Snapshot
	for _, s := range r.storedAll(app) {
		if strings.HasPrefix(s.Name, "flinkplane-update-") {
			pre = s
		}
	}
	if pre == nil || pre.Runtime != flinkplane.RuntimeID(rt) {
		t.Fatalf("no pre-update snapshot on %s: %+v", rt, r.storedAll(app))
	}
	from, err := fixtures.SourcePosition(pre.Location)
	if err != nil {
		t.Fatal(err)
	}
	files := inProgressFiles(t, pre.Location)
	if len(files) == 0 {
		t.Fatalf("the pre-update snapshot %s refers to no in-progress part file", pre.Location)
	}
	f := files[0]
	t.Logf("pre-update snapshot %s: source position %d, in-progress %s (%d bytes)", pre.Name, from, f.TempFile, f.Offset)

	// The updated job resumes that part file, then finishes and commits it.
	for deadline := time.Now().Add(2 * time.Minute); exists(f.TempFile) || !exists(f.TargetFile); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the updated job did not commit %s", f.TargetFile)
		}
	}
	// ... and a part file after it (what the rollback will replay).
	lastF := lastEntry(t, f.TargetFile)
	o := waitLedgerUntil(t, out, fmt.Sprintf("beyond n=%d", lastF), func(o *fixtures.LedgerOutput) bool { return o.MaxN > lastF })
	t.Logf("the updated job committed %s (up to n=%d) and more; %d entries", filepath.Base(f.TargetFile), lastF, o.Entries)

	// The snapshot kept a copy of the part file as it was in the snapshot.
	kept := filepath.Join(strings.TrimPrefix(pre.Location, "file:"), snapfiles.Dir)
	manifest, err := os.ReadFile(filepath.Join(kept, "manifest.json"))
	if err != nil || !strings.Contains(string(manifest), f.TempFile) {
		t.Fatalf("no copy of %s kept with the snapshot: %s %v", f.TempFile, manifest, err)
	}

	// Without the copy, and with the committed file moved away (a consumer
	// took it), the snapshot cannot be restored: the rollback is refused
	// before anything stops, naming the file, and the updated job runs on.
	hidden := filepath.Join(r.dataDir, "hidden")
	os.MkdirAll(hidden, 0o755)
	if err := os.Rename(kept, filepath.Join(hidden, "kept")); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(f.TargetFile, filepath.Join(hidden, "committed")); err != nil {
		t.Fatal(err)
	}
	_, job22 := r.job(app)
	before := r.describe(app)
	_, err = r.c.RollbackApplication(sctx, &kav2.RollbackApplicationInput{ApplicationName: aws.String(app),
		CurrentApplicationVersionId: before.ApplicationVersionId})
	srvWantErr[*types.InvalidRequestException](t, err, pre.Name, f.TempFile, "nothing was stopped")
	t.Logf("rollback refused: %v", err)
	after := r.describe(app)
	if after.ApplicationStatus != types.ApplicationStatusRunning || after.RuntimeEnvironment != before.RuntimeEnvironment ||
		aws.ToInt64(after.ApplicationVersionId) != aws.ToInt64(before.ApplicationVersionId) {
		t.Fatalf("refused rollback changed the application: %s %s version %d", after.ApplicationStatus, after.RuntimeEnvironment, aws.ToInt64(after.ApplicationVersionId))
	}
	if _, j := r.job(app); j.ID != job22.ID || j.Timestamps["RUNNING"] != job22.Timestamps["RUNNING"] || !j.AllTasksRunning() {
		t.Fatalf("running job touched: %s RUNNING since %d, was %s since %d", j.ID, j.Timestamps["RUNNING"], job22.ID, job22.Timestamps["RUNNING"])
	}
	for _, op := range r.operations(app) {
		if aws.ToString(op.Operation) == "RollbackApplication" {
			t.Fatalf("the refused rollback was recorded: %+v", op)
		}
	}

	// With the copy back (the committed file still gone) the rollback runs:
	// RUNNING on the previous version, restored from the pre-update snapshot.
	if err := os.Rename(filepath.Join(hidden, "kept"), kept); err != nil {
		t.Fatal(err)
	}
	rollbackStart := time.Now()
	rb, err := r.c.RollbackApplication(sctx, &kav2.RollbackApplicationInput{ApplicationName: aws.String(app),
		CurrentApplicationVersionId: r.describe(app).ApplicationVersionId})
	if err != nil {
		t.Fatal(err)
	}
	r.requireSuccess(app, aws.ToString(rb.OperationId))
	fc, job := r.waitRunning(app, aws.ToString(rb.OperationId))
	if d := r.describe(app); d.RuntimeEnvironment != rt {
		t.Fatalf("after the rollback: %s", d.RuntimeEnvironment)
	}
	if p := restoredFrom(t, fc, job.ID); !samePath(p, pre.Location) {
		t.Fatalf("rolled back job restored from %q, want the pre-update snapshot %q", p, pre.Location)
	}
	t.Logf("rollback to %s: RUNNING after %s", rt, time.Since(rollbackStart).Round(100*time.Millisecond))
	waitLedger(t, out, o.Entries+100, from)
	// The rolled back job resumed the part file from the copy and committed it
	// again under its name: the bytes of the snapshot, then its own.
	for deadline := time.Now().Add(2 * time.Minute); !exists(f.TargetFile); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the rolled back job did not commit %s again", f.TargetFile)
		}
	}
	r.stop(app)
	got, _ := os.ReadFile(f.TargetFile)
	was, _ := os.ReadFile(filepath.Join(hidden, "committed"))
	if int64(len(got)) < f.Offset || int64(len(was)) < f.Offset || string(got[:f.Offset]) != string(was[:f.Offset]) {
		t.Fatalf("%s committed again with %d bytes; its first %d bytes differ from the snapshot's", f.TargetFile, len(got), f.Offset)
	}
	o, err = fixtures.CheckLedgerRollbackOutput(out, from)
	if err != nil {
		t.Fatal(err)
	}
	if o.Replayed == 0 {
		t.Error("nothing was replayed: the rollback did not restore the pre-update snapshot")
	}
	t.Logf("ledger output: %d entries, %d lines replayed after the rollback to source position %d, otherwise exactly once", o.Entries, o.Replayed, from)

	// Deleting the snapshot removes the copies with it.
	if _, err := r.c.DeleteApplicationSnapshot(sctx, &kav2.DeleteApplicationSnapshotInput{ApplicationName: aws.String(app),
		SnapshotName: aws.String(pre.Name), SnapshotCreationTimestamp: aws.Time(pre.CreateTime)}); err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(time.Minute); exists(kept); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s still there after DeleteApplicationSnapshot", kept)
		}
	}
}

// requireSuccess waits for an operation to end and fails the test with its
// ErrorInfo unless it is SUCCESSFUL.
func (r *realEnv) requireSuccess(name, id string) {
	r.t.Helper()
	for deadline := time.Now().Add(5 * time.Minute); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		out, err := r.c.DescribeApplicationOperation(sctx, &kav2.DescribeApplicationOperationInput{ApplicationName: aws.String(name), OperationId: aws.String(id)})
		if err != nil {
			r.t.Fatal(err)
		}
		d := out.ApplicationOperationInfoDetails
		switch d.OperationStatus {
		case types.OperationStatusInProgress:
			continue
		case types.OperationStatusSuccessful:
			return
		}
		msg := ""
		if d.OperationFailureDetails != nil && d.OperationFailureDetails.ErrorInfo != nil {
			msg = aws.ToString(d.OperationFailureDetails.ErrorInfo.ErrorString)
		}
		r.t.Fatalf("%s %s: %s: %s (application %s)", aws.ToString(d.Operation), id, d.OperationStatus, msg, r.describe(name).ApplicationStatus)
	}
	r.t.Fatalf("operation %s still in progress", id)
}
