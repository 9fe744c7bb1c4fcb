package engine

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/flinkplane/flinkplane"
)

// CreateApplication stores a new application at version 1, READY.
// Returns EINUSE if the name is taken and ELIMIT if its cluster could not
// fit the machine (CapacityChecker; UpdateApplication checks a changed
// parallelism the same way).
func (e *Engine) CreateApplication(ctx context.Context, app *flinkplane.Application, cfg flinkplane.ApplicationConfig, tags []flinkplane.Tag) (*flinkplane.Application, *flinkplane.ApplicationVersion, error) {
	now := e.now()
	app.Status = flinkplane.StatusReady
	app.VersionID = 1
	app.ConditionalToken = NewConditionalToken()
	app.CreateTime, app.UpdateTime = now, now
	app.RuntimeEnvironment = cfg.RuntimeEnvironment
	app.ApplicationMode = cfg.ApplicationMode
	if app.ID == "" {
		app.ID = newID()
	}
	ver := &flinkplane.ApplicationVersion{ApplicationName: app.Name, VersionID: 1, CreateTime: now, Status: flinkplane.StatusReady, Config: cfg}
	if err := e.checkCapacity(app, cfg); err != nil {
		return nil, nil, err
	}
	err := e.Store.Update(ctx, func(tx flinkplane.Tx) error {
		if err := tx.CreateApplication(app); err != nil {
			return err
		}
		if err := tx.CreateVersion(ver); err != nil {
			return err
		}
		if len(tags) > 0 {
			return tx.SetTags(app.Name, tags)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	return app, ver, nil
}

// StartInput is the RunConfiguration of a StartApplication call; nil
// members fall back to the application's stored run configuration.
type StartInput struct {
	Restore               *flinkplane.RestoreConfig
	AllowNonRestoredState *bool
}

// StartApplication starts a READY application. The runtime must be usable
// (the driver's Ready error is returned as is) and the snapshot to restore
// must be restorable on the application's runtime: a snapshot taken on a
// newer Flink version is refused (EINVALIDCONFIG) before anything starts.
// Returns EINUSE unless the application is READY.
func (e *Engine) StartApplication(ctx context.Context, name string, in StartInput) (string, error) {
	app, ver, err := e.application(ctx, name)
	if err != nil {
		return "", err
	}
	if app.Status != flinkplane.StatusReady {
		return "", statusError(app, "StartApplication", "READY")
	}
	runtime := ver.Config.RuntimeEnvironment
	if e.Driver == nil {
		return "", flinkplane.Errorf(flinkplane.EINVALIDCONFIG,
			"The Flink runtime %s is not available: this server has no cluster driver configured, so it cannot run applications.", runtime)
	}
	if err := e.Driver.Ready(runtime); err != nil {
		return "", err
	}
	if e.Code == nil {
		return "", flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "No code store is configured.")
	}
	if _, err := e.Code.Fetch(ctx, ver.Config.Code); err != nil {
		if flinkplane.ErrorCode(err) == flinkplane.ECODE {
			// StartApplication declares no CodeValidationException.
			return "", flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "%s", flinkplane.ErrorMessage(err))
		}
		return "", err
	}
	restore := ver.Config.Restore
	if in.Restore != nil {
		restore = *in.Restore
	}
	allow := ver.Config.AllowNonRestoredState
	if in.AllowNonRestoredState != nil {
		allow = *in.AllowNonRestoredState
	}
	op := &flinkplane.Operation{
		ID: newID(), ApplicationName: name, Kind: flinkplane.OpStartApplication, Status: flinkplane.OperationInProgress,
		StartTime: e.now(), Plan: planStart(),
		RestoreType: restore.Type, RestoreSnapshotName: restore.SnapshotName, AllowNonRestoredState: allow,
	}
	err = e.Store.Update(ctx, func(tx flinkplane.Tx) error {
		app, err := tx.Application(name)
		if err != nil {
			return err
		}
		if app.Status != flinkplane.StatusReady {
			return statusError(app, "StartApplication", "READY")
		}
		snaps, err := tx.Snapshots(name, "", 0)
		if err != nil {
			return err
		}
		s, err := chooseRestore(snaps, restore.Type, restore.SnapshotName, runtime, 0)
		if err != nil {
			return err
		}
		if s != nil {
			op.RestoreFrom = s.Location
		}
		app.Status = flinkplane.StatusStarting
		app.UpdateTime = e.now()
		if err := tx.PutApplication(app); err != nil {
			return err
		}
		return tx.PutOperation(op)
	})
	if err != nil {
		return "", err
	}
	e.kick(name)
	return op.ID, nil
}

// StopApplication stops a RUNNING application, taking a snapshot first
// when snapshots are enabled. With force it cancels the job without a
// snapshot, from RUNNING, STARTING, UPDATING, STOPPING, AUTOSCALING or
// ROLLING_BACK, and cancels the operation in progress. Returns EINUSE
// otherwise.
func (e *Engine) StopApplication(ctx context.Context, name string, force bool) (string, error) {
	op := &flinkplane.Operation{ID: newID(), ApplicationName: name, Kind: flinkplane.OpStopApplication,
		Status: flinkplane.OperationInProgress, StartTime: e.now(), Force: force}
	err := e.Store.Update(ctx, func(tx flinkplane.Tx) error {
		app, err := tx.Application(name)
		if err != nil {
			return err
		}
		ver, err := tx.Version(name, app.VersionID)
		if err != nil {
			return err
		}
		if force {
			switch app.Status {
			case flinkplane.StatusRunning, flinkplane.StatusStarting, flinkplane.StatusUpdating, flinkplane.StatusStopping,
				flinkplane.StatusAutoscaling, flinkplane.StatusRollingBack, flinkplane.StatusMaintenance:
			default:
				return statusError(app, "StopApplication with Force", "RUNNING, STARTING, UPDATING, STOPPING, AUTOSCALING, ROLLING_BACK or MAINTENANCE")
			}
			if err := cancelInProgress(tx, name, e.now(), "Cancelled by a forced StopApplication."); err != nil {
				return err
			}
			op.Plan = planForceStop()
			app.Status = flinkplane.StatusForceStopping
		} else {
			recovering, err := systemRecovery(tx, app)
			if err != nil {
				return err
			}
			if app.Status != flinkplane.StatusRunning && !recovering {
				return statusError(app, "StopApplication", "RUNNING")
			}
			if recovering {
				// A recovery in progress (the job is unhealthy) gives way to
				// the stop, which keeps the newest checkpoint.
				if err := cancelInProgress(tx, name, e.now(), "Cancelled by StopApplication."); err != nil {
					return err
				}
			}
			if ver.Config.SnapshotsEnabled {
				op.SnapshotName = autoSnapshotName("stop", e.now(), op.ID)
			}
			op.Plan = planStop(ver.Config.SnapshotsEnabled)
			app.Status = flinkplane.StatusStopping
		}
		app.UpdateTime = e.now()
		if err := tx.PutApplication(app); err != nil {
			return err
		}
		return tx.PutOperation(op)
	})
	if err != nil {
		return "", err
	}
	e.kick(name)
	return op.ID, nil
}

// systemRecovery reports whether app is STARTING because of a Recovery the
// service started (StopApplication accepts it like RUNNING).
func systemRecovery(tx flinkplane.Tx, app *flinkplane.Application) (bool, error) {
	if app.Status != flinkplane.StatusStarting {
		return false, nil
	}
	ops, err := tx.Operations(app.Name, flinkplane.OperationFilter{Status: flinkplane.OperationInProgress, Kind: flinkplane.OpRecovery, Limit: 1})
	return len(ops) > 0, err
}

func cancelInProgress(tx flinkplane.Tx, app string, now time.Time, why string) error {
	ops, err := tx.Operations(app, flinkplane.OperationFilter{Status: flinkplane.OperationInProgress})
	if err != nil {
		return err
	}
	for _, o := range ops {
		if o.Kind == flinkplane.OpCreateApplicationSnapshot || o.Kind == flinkplane.OpDeleteApplicationSnapshot {
			continue
		}
		o.Status = flinkplane.OperationCancelled
		o.EndTime = now
		o.ErrorInfo = why
		if err := tx.PutOperation(o); err != nil {
			return err
		}
	}
	return nil
}

func autoSnapshotName(kind string, now time.Time, opID string) string {
	return fmt.Sprintf("flinkplane-%s-%s-%s", kind, now.UTC().Format("20060102T150405Z"), opID[:8])
}

// CreateApplicationSnapshot takes a snapshot of a RUNNING application.
// Returns EINUSE unless RUNNING or if the name is taken, ELIMIT past
// MaxSnapshots.
func (e *Engine) CreateApplicationSnapshot(ctx context.Context, name, snapshot string) (string, error) {
	op := &flinkplane.Operation{ID: newID(), ApplicationName: name, Kind: flinkplane.OpCreateApplicationSnapshot,
		Status: flinkplane.OperationInProgress, StartTime: e.now(), SnapshotName: snapshot, Plan: []string{StepTriggerSavepoint}}
	err := e.Store.Update(ctx, func(tx flinkplane.Tx) error {
		app, err := tx.Application(name)
		if err != nil {
			return err
		}
		if app.Status != flinkplane.StatusRunning {
			return statusError(app, "CreateApplicationSnapshot", "RUNNING")
		}
		snaps, err := tx.Snapshots(name, "", 0)
		if err != nil {
			return err
		}
		if len(snaps) >= e.MaxSnapshots {
			return flinkplane.Errorf(flinkplane.ELIMIT, "Application %s has reached the limit of %d snapshots.", name, e.MaxSnapshots)
		}
		runtime := app.RuntimeEnvironment
		if app.Cluster != nil {
			runtime = app.Cluster.Runtime
		}
		if err := tx.CreateSnapshot(&flinkplane.Snapshot{ApplicationName: name, Name: snapshot, Status: flinkplane.SnapshotCreating,
			VersionID: app.VersionID, Runtime: runtime, CreateTime: e.now(), OperationID: op.ID}); err != nil {
			return err
		}
		return tx.PutOperation(op)
	})
	if err != nil {
		return "", err
	}
	e.kick(name)
	return op.ID, nil
}

// DeleteApplicationSnapshot disposes of a snapshot's savepoint and removes
// it. created must match the snapshot's creation time to the second.
// Returns ENOTFOUND, EINUSE for a snapshot being created or deleted, and
// EINVALID for a wrong timestamp.
func (e *Engine) DeleteApplicationSnapshot(ctx context.Context, name, snapshot string, created time.Time) (string, error) {
	op := &flinkplane.Operation{ID: newID(), ApplicationName: name, Kind: flinkplane.OpDeleteApplicationSnapshot,
		Status: flinkplane.OperationInProgress, StartTime: e.now(), SnapshotName: snapshot, Plan: []string{StepDisposeSavepoint}}
	err := e.Store.Update(ctx, func(tx flinkplane.Tx) error {
		if _, err := tx.Application(name); err != nil {
			return err
		}
		s, err := tx.Snapshot(name, snapshot)
		if err != nil {
			return err
		}
		if s.Status == flinkplane.SnapshotCreating || s.Status == flinkplane.SnapshotDeleting {
			return flinkplane.Errorf(flinkplane.EINUSE, "Snapshot %s is in %s status.", snapshot, s.Status)
		}
		if !SameSecond(s.CreateTime, created) {
			return flinkplane.Errorf(flinkplane.EINVALID, "SnapshotCreationTimestamp does not match the creation time of snapshot %s.", snapshot)
		}
		s.Status = flinkplane.SnapshotDeleting
		if err := tx.PutSnapshot(s); err != nil {
			return err
		}
		return tx.PutOperation(op)
	})
	if err != nil {
		return "", err
	}
	e.kick(name)
	return op.ID, nil
}

// SameSecond reports whether a and b are the same instant, tolerating
// either being truncated to the whole second (as Terraform sends it).
func SameSecond(a, b time.Time) bool {
	return a.Truncate(time.Second).Equal(b.Truncate(time.Second))
}

// UpdateInput describes a configuration change.
type UpdateInput struct {
	// Kind is the operation name (default UpdateApplication).
	Kind string
	// CurrentVersion or ConditionalToken must match the application.
	CurrentVersion   *int64
	ConditionalToken *string
	// Change edits a copy of the current configuration.
	Change func(cfg *flinkplane.ApplicationConfig) error
}

// UpdateApplication applies a configuration change as a new version. A
// change to what runs (runtime, code, properties, Flink configuration) of
// a RUNNING application is an UPDATING operation: snapshot, stop, start
// on the new configuration restored from it. A change of the runtime or
// the code is first checked by the CompatChecker; an ERROR finding fails
// the call with EINVALIDCONFIG and changes nothing, unless the
// application's tag flinkplane:compat-check is "warn".
// Returns EINUSE unless READY or RUNNING, ECONFLICT for a stale version id
// or token, EINVALID when neither is given.
func (e *Engine) UpdateApplication(ctx context.Context, name string, in UpdateInput) (*flinkplane.Application, *flinkplane.ApplicationVersion, string, error) {
	if in.Kind == "" {
		in.Kind = flinkplane.OpUpdateApplication
	}
	u, err := e.prepareUpdate(ctx, name, in)
	if err != nil {
		return nil, nil, "", err
	}
	app, cur, cfg, tags, snaps, changesCode := u.app, u.cur, u.cfg, u.tags, u.snaps, u.changesCode
	// The target runtime must be usable before anything stops (a runtime
	// that is not installed; on Kubernetes, an operator too old for it).
	if u.restarts && e.Driver != nil {
		if err := e.Driver.Ready(cfg.RuntimeEnvironment); err != nil {
			return nil, nil, "", err
		}
	}

	// The checks, before anything stops: the new code and the runtime (a
	// change of either), the new job built on the target (any change of
	// what runs: code, runtime, properties, parallelism, checkpointing),
	// and that job against the state it will restore. For an update that
	// restarts the job the graph built is the one its operation submits.
	var findings []flinkplane.Finding
	var graph, prevGraph *flinkplane.JobGraphInfo
	opID, jobID := newID(), newJobID()
	if (changesCode && e.Compat != nil) || (e.Compiler != nil && (changesCode || u.restarts)) {
		var blocked bool
		findings, graph, prevGraph, blocked, err = e.preflight(ctx, app, cur, cfg, tags, snaps, changesCode, opID, jobID)
		if err != nil {
			e.removeGraph(opID)
			return nil, nil, "", err
		}
		if blocked {
			e.removeGraph(opID)
			e.recordRejected(ctx, app, cur, cfg.RuntimeEnvironment, in.Kind, findings)
			return nil, nil, "", flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "%s", findingsMessage(cfg.RuntimeEnvironment, findings))
		}
	}
	now := e.now()
	var ver *flinkplane.ApplicationVersion
	var updated *flinkplane.Application
	op := &flinkplane.Operation{ID: opID, ApplicationName: name, Kind: in.Kind, StartTime: now, Findings: findings}
	err = e.Store.Update(ctx, func(tx flinkplane.Tx) error {
		a, err := tx.Application(name)
		if err != nil {
			return err
		}
		if err := checkVersion(a, in.CurrentVersion, in.ConditionalToken); err != nil {
			return err
		}
		if a.VersionID != app.VersionID {
			return flinkplane.Errorf(flinkplane.ECONFLICT, "Application %s was modified concurrently; retry with the current version.", name)
		}
		if a.Status != flinkplane.StatusReady && a.Status != flinkplane.StatusRunning {
			return statusError(a, in.Kind, "READY or RUNNING")
		}
		ver = &flinkplane.ApplicationVersion{ApplicationName: name, VersionID: a.VersionID + 1, CreateTime: now,
			Status: a.Status, UpdatedFrom: a.VersionID, Config: cfg}
		op.VersionFrom, op.VersionTo = a.VersionID, ver.VersionID
		if a.Status == flinkplane.StatusRunning && flinkplane.RunsDifferently(cur.Config, cfg) {
			a.Status = flinkplane.StatusUpdating
			ver.Status = a.Status
			op.Status = flinkplane.OperationInProgress
			op.RestoreType, op.RestoreSnapshotName = cfg.Restore.Type, cfg.Restore.SnapshotName
			op.Plan = planUpdate(cur.Config.SnapshotsEnabled)
			if graph != nil {
				op.JobID, op.Graph, op.PreviousGraph = jobID, graph, prevGraph
			}
			if cur.Config.SnapshotsEnabled && migrating(findings) {
				op.Plan, op.Migration = withMigration(op.Plan), &flinkplane.StateMigration{}
			}
			if cur.Config.SnapshotsEnabled {
				op.SnapshotName = autoSnapshotName("update", now, op.ID)
			} else {
				// Without snapshots the new job starts without state.
				op.RestoreType = flinkplane.RestoreSkip
			}
		} else {
			op.Status = flinkplane.OperationSuccessful
			op.EndTime = now
			if a.Status == flinkplane.StatusRunning {
				a.RunningVersionID = ver.VersionID // what runs is unchanged: it is this version too
			}
		}
		if err := tx.CreateVersion(ver); err != nil {
			return err
		}
		a.VersionID = ver.VersionID
		a.ConditionalToken = NewConditionalToken()
		a.RuntimeEnvironment = cfg.RuntimeEnvironment // the head mirrors the current version
		a.ApplicationMode = cfg.ApplicationMode
		a.UpdateTime = now
		if err := tx.PutApplication(a); err != nil {
			return err
		}
		updated = a // not app: a store may run this function again
		return tx.PutOperation(op)
	})
	if err != nil || op.Status != flinkplane.OperationInProgress {
		e.removeGraph(opID) // no job of this operation runs it
	}
	if err != nil {
		return nil, nil, "", err
	}
	if op.Status == flinkplane.OperationInProgress {
		e.kick(name)
	}
	return updated, ver, op.ID, nil
}

func codeDiffers(a, b flinkplane.CodeConfig) bool {
	x := flinkplane.ApplicationConfig{Code: a}
	y := flinkplane.ApplicationConfig{Code: b}
	return flinkplane.RunsDifferently(x, y)
}

func checkVersion(app *flinkplane.Application, version *int64, token *string) error {
	if version == nil && token == nil {
		return flinkplane.Errorf(flinkplane.EINVALID, "Either CurrentApplicationVersionId or ConditionalToken must be provided.")
	}
	if version != nil && *version != app.VersionID {
		return flinkplane.Errorf(flinkplane.ECONFLICT,
			"The CurrentApplicationVersionId %d does not match the current version %d of application %s.", *version, app.VersionID, app.Name)
	}
	if token != nil && *token != app.ConditionalToken {
		return flinkplane.Errorf(flinkplane.ECONFLICT, "The ConditionalToken does not match the current token of application %s.", app.Name)
	}
	return nil
}

// CompatMode returns the value of the flinkplane:compat-check tag:
// "enforce" (default) or "warn".
func CompatMode(tags []flinkplane.Tag) string {
	for _, t := range tags {
		if t.Key == flinkplane.TagCompatCheck && strings.EqualFold(t.Value, "warn") {
			return "warn"
		}
	}
	return "enforce"
}

// blockedBy reports whether ERROR findings block the change (the
// flinkplane:compat-check tag is not "warn"). State the update migrates
// does not.
func blockedBy(findings []flinkplane.Finding, tags []flinkplane.Tag) bool {
	migrates := migrating(findings)
	for _, f := range findings {
		if f.Severity == flinkplane.SeverityError && !(migrates && flinkplane.Migratable(f)) {
			return CompatMode(tags) == "enforce"
		}
	}
	return false
}

// probeSavepoint takes a savepoint of a RUNNING application's job for the
// compatibility check (the job keeps running) and returns its location.
// The caller disposes it; it is no snapshot.
func (e *Engine) probeSavepoint(ctx context.Context, app *flinkplane.Application) (string, error) {
	if app.Status != flinkplane.StatusRunning || app.Cluster == nil || app.JobID == "" {
		return "", errors.New("the application does not run")
	}
	ctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	id, err := e.Driver.TriggerSavepoint(ctx, *app.Cluster, app.JobID, e.savepointDir(app))
	if err != nil {
		return "", err
	}
	for {
		st, err := e.Driver.PollSavepoint(ctx, *app.Cluster, app.JobID, id)
		if err != nil {
			return "", err
		}
		if st.Done {
			if st.Failure != "" {
				return "", errors.New(st.Failure)
			}
			return st.Location, nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func findingsMessage(target flinkplane.RuntimeID, findings []flinkplane.Finding) string {
	var b strings.Builder
	fmt.Fprintf(&b, "The compatibility check against %s failed; the application was not changed:", target)
	for _, f := range findings {
		if f.Severity != flinkplane.SeverityError {
			continue
		}
		fmt.Fprintf(&b, " [%s %s]", f.Code, f.Message)
		if f.Class != "" {
			fmt.Fprintf(&b, " in %s", f.Class)
			if f.Method != "" {
				fmt.Fprintf(&b, ".%s", f.Method)
			}
		}
		if f.Hint != "" {
			fmt.Fprintf(&b, " (hint: %s)", f.Hint)
		}
		b.WriteString(";")
	}
	b.WriteString(" Tag the application flinkplane:compat-check=warn to proceed anyway.")
	if onlyMigratable(findings) {
		b.WriteString(" flinkplane can migrate this state during the update: tag the application flinkplane:migrate-state=on (docs/migrate.md).")
	}
	return b.String()
}

// recordRejected keeps the findings of a rejected update as a FAILED
// operation; the application itself is not changed.
func (e *Engine) recordRejected(ctx context.Context, app *flinkplane.Application, cur *flinkplane.ApplicationVersion, target flinkplane.RuntimeID, kind string, findings []flinkplane.Finding) {
	now := e.now()
	op := &flinkplane.Operation{ID: newID(), ApplicationName: app.Name, Kind: kind, Status: flinkplane.OperationFailed,
		StartTime: now, EndTime: now, Findings: findings, VersionFrom: cur.VersionID, VersionTo: cur.VersionID}
	op.ErrorInfo = rejectedErrorInfo(app.Name, op.ID, target, findings)
	if err := e.Store.Update(ctx, func(tx flinkplane.Tx) error { return tx.PutOperation(op) }); err != nil {
		e.Logger.Error("cannot record rejected update", "application", app.Name, "error", err)
	}
}

// RollbackApplication reverts a RUNNING, UPDATING or AUTOSCALING
// application to the version its current version was updated from,
// restarting it from the latest snapshot taken at or before that version.
// Returns EINUSE for another status, ECONFLICT for a stale version and
// EINVALIDREQUEST when there is no previous version or no snapshot, or
// when Files finds that snapshot not restorable (then nothing changes).
func (e *Engine) RollbackApplication(ctx context.Context, name string, version int64) (*flinkplane.Application, *flinkplane.ApplicationVersion, string, error) {
	if err := e.verifyRollback(ctx, name); err != nil {
		return nil, nil, "", err
	}
	var app *flinkplane.Application
	var ver *flinkplane.ApplicationVersion
	var op *flinkplane.Operation
	err := e.Store.Update(ctx, func(tx flinkplane.Tx) (err error) {
		if app, err = tx.Application(name); err != nil {
			return err
		}
		if err := checkVersion(app, &version, nil); err != nil {
			return err
		}
		switch app.Status {
		case flinkplane.StatusRunning, flinkplane.StatusUpdating, flinkplane.StatusAutoscaling:
		default:
			return statusError(app, "RollbackApplication", "RUNNING, UPDATING or AUTOSCALING")
		}
		cur, err := tx.Version(name, app.VersionID)
		if err != nil {
			return err
		}
		if cur.UpdatedFrom == 0 {
			return flinkplane.Errorf(flinkplane.EINVALIDREQUEST, "Application %s has no previous version to roll back to.", name)
		}
		target, err := tx.Version(name, cur.UpdatedFrom)
		if err != nil {
			return err
		}
		snaps, err := tx.Snapshots(name, "", 0)
		if err != nil {
			return err
		}
		s, _ := chooseRestore(snaps, flinkplane.RestoreLatest, "", target.Config.RuntimeEnvironment, target.VersionID)
		if s == nil {
			return flinkplane.Errorf(flinkplane.EINVALIDREQUEST,
				"Application %s has no snapshot taken at or before version %d that %s can restore; a rollback restarts from one.",
				name, target.VersionID, target.Config.RuntimeEnvironment)
		}
		if err := cancelInProgress(tx, name, e.now(), "Cancelled by RollbackApplication."); err != nil {
			return err
		}
		if op, err = e.newRollback(tx, app, false, ""); err != nil {
			return err
		}
		app.UpdateTime = e.now()
		if err := tx.PutApplication(app); err != nil {
			return err
		}
		ver, err = tx.Version(name, app.VersionID)
		return err
	})
	if err != nil {
		return nil, nil, "", err
	}
	e.kick(name)
	return app, ver, op.ID, nil
}

// DeleteApplication deletes an application. created must match its
// CreateTimestamp (whole-second truncation tolerated). A READY application
// without a cluster is deleted at once; a RUNNING one is DELETING until its
// job is cancelled and its cluster stopped. The files the application owns
// are removed once its deletion is committed (remove.go). Returns EINUSE
// for a transitional status, EINVALID for a wrong timestamp and ELIMIT if
// the disk is full even after the application's own unreferenced files
// were freed.
func (e *Engine) DeleteApplication(ctx context.Context, name string, created time.Time) error {
	deferred := false
	var appID string
	var refs []string
	del := func(tx flinkplane.Tx) error {
		deferred, appID, refs = false, "", nil
		app, err := tx.Application(name)
		if err != nil {
			return err
		}
		if !SameSecond(app.CreateTime, created) {
			return flinkplane.Errorf(flinkplane.EINVALID, "CreateTimestamp does not match the creation time of application %s.", name)
		}
		switch app.Status {
		case flinkplane.StatusReady, flinkplane.StatusRunning:
		default:
			return statusError(app, "DeleteApplication", "READY or RUNNING")
		}
		if app.Cluster == nil {
			appID = app.ID
			if refs, err = zipRefs(tx, name); err != nil {
				return err
			}
			return tx.DeleteApplication(name)
		}
		deferred = true
		app.Status = flinkplane.StatusDeleting
		if err := tx.PutApplication(app); err != nil {
			return err
		}
		return tx.PutOperation(&flinkplane.Operation{ID: newID(), ApplicationName: name, Kind: flinkplane.OpDeleteApplication,
			Status: flinkplane.OperationInProgress, StartTime: e.now(), Plan: planDelete()})
	}
	err := e.Store.Update(ctx, del)
	if flinkplane.ErrorCode(err) == flinkplane.ELIMIT {
		// A full disk (the store has freed what the WAL held): free the
		// application's own unreferenced files too, and try again, with
		// the store's reserve if it keeps one (del runs again from the
		// start).
		e.freeForDelete(ctx, name)
		if r, ok := storeAs[ReserveUpdater](e.Store); ok {
			e.Logger.Warn("the disk is full: deleting the application with the store's reserve", "application", name)
			err = r.UpdateReserved(ctx, del)
		} else {
			err = e.Store.Update(ctx, del)
		}
	}
	if err == nil && deferred {
		e.kick(name)
	}
	if err == nil && appID != "" {
		e.removeOwned(ctx, appID, refs)
	}
	return err
}

// ApplicationRemover is implemented by cluster drivers that keep files per
// application (cluster directories, logs, checkpoints): they are removed
// when the application is deleted (the engine removes its savepoints and
// uploaded code: remove.go).
type ApplicationRemover interface {
	RemoveApplication(ctx context.Context, applicationID string) error
}

func (e *Engine) removeApplication(ctx context.Context, appID string) {
	if r, ok := e.Driver.(ApplicationRemover); ok {
		if err := r.RemoveApplication(context.WithoutCancel(ctx), appID); err != nil {
			e.Logger.Warn("cannot remove the files of a deleted application", "id", appID, "error", err)
		}
	}
}

// checkUpdateRestore refuses, before anything stops, an update of a RUNNING
// application whose new job could not be restored as configured: a custom
// snapshot the target runtime cannot read, or the state of the running job
// (taken on a newer Flink) handed to an older runtime.
func checkUpdateRestore(app *flinkplane.Application, cur *flinkplane.ApplicationVersion, cfg flinkplane.ApplicationConfig, snaps []*flinkplane.Snapshot) error {
	if app.Status != flinkplane.StatusRunning || !flinkplane.RunsDifferently(cur.Config, cfg) {
		return nil
	}
	target := cfg.RuntimeEnvironment
	switch cfg.Restore.Type {
	case flinkplane.RestoreCustom:
		_, err := chooseRestore(snaps, cfg.Restore.Type, cfg.Restore.SnapshotName, target, 0)
		return err
	case flinkplane.RestoreSkip:
		return nil
	}
	running := cur.Config.RuntimeEnvironment
	if app.Cluster != nil {
		running = app.Cluster.Runtime
	}
	if cur.Config.SnapshotsEnabled && !flinkplane.CanRestore(running, target) {
		return flinkplane.Errorf(flinkplane.EINVALIDCONFIG,
			"Application %s runs on %s; its state cannot be restored on %s (a snapshot is never restored on an older Flink version). "+
				"Use RESTORE_FROM_CUSTOM_SNAPSHOT with a snapshot taken on %s or earlier, or SKIP_RESTORE_FROM_SNAPSHOT.",
			app.Name, running, target, target)
	}
	return nil
}
