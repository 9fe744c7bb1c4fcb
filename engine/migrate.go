package engine

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/flinkplane/flinkplane"
)

// StepMigrateState rewrites the state of the snapshot an update restores
// that the target runtime cannot restore (flinkplane.StateMigrator), between
// the stop with savepoint and the start of the new job. The original
// snapshot is not changed: the migrated savepoint is a snapshot of its own
// (of the new version, on the target runtime), and a rollback restores the
// original.
const StepMigrateState = "MIGRATE_STATE"

// migrationEnabled returns whether an update of an application with tags
// may migrate its state: the tag flinkplane:migrate-state, else the
// server's default.
func (e *Engine) migrationEnabled(tags []flinkplane.Tag) bool {
	if v, ok := flinkplane.TagValue(tags, flinkplane.TagMigrateState); ok {
		return strings.EqualFold(v, "on") || strings.EqualFold(v, "true")
	}
	return e.MigrateState
}

// migrationPreflight is the pre-flight of the state migration: when the
// only ERROR findings of an update of a RUNNING application are state the
// migration can move and the application lets it, the migration is
// checked on the savepoint the pre-flight read (without moving data). It
// returns the findings to add: an INFO STATE_MIGRATION (the update then
// migrates, see withMigration), or the ERROR that says why it cannot.
func (e *Engine) migrationPreflight(ctx context.Context, app *flinkplane.Application, cur *flinkplane.ApplicationVersion,
	cfg flinkplane.ApplicationConfig, tags []flinkplane.Tag, findings []flinkplane.Finding, savepoint, newJar string) []flinkplane.Finding {
	if e.Migrator == nil || app.Status != flinkplane.StatusRunning || savepoint == "" || newJar == "" || !e.migrationEnabled(tags) {
		return nil
	}
	// Any error the migration does not repair rejects the update as before.
	if !onlyMigratable(findings) {
		return nil
	}
	fail := func(err error) []flinkplane.Finding {
		return []flinkplane.Finding{{Severity: flinkplane.SeverityError, Code: flinkplane.CodeStateNotMigratable,
			Message: "The state migration could not be checked: " + flinkplane.ErrorMessage(err)}}
	}
	oldJar, err := e.Code.Fetch(ctx, cur.Config.Code)
	if err != nil {
		return fail(err)
	}
	res, err := e.Migrator.CheckMigration(ctx, flinkplane.MigrationSpec{Savepoint: savepoint, From: cur.Config.RuntimeEnvironment,
		To: cfg.RuntimeEnvironment, OldJar: oldJar, NewJar: newJar, Parallelism: cfg.Parallelism.Parallelism, Properties: cfg.EnvironmentProperties})
	if err != nil {
		return fail(err)
	}
	if len(res.Operators) == 0 && !res.Refused() {
		return nil
	}
	return res.Findings
}

// onlyMigratable reports whether the ERROR findings are all state the
// migration can move (and there is one) and none says it cannot.
func onlyMigratable(findings []flinkplane.Finding) bool {
	n := 0
	for _, f := range findings {
		if f.Severity != flinkplane.SeverityError {
			continue
		}
		if !flinkplane.Migratable(f) {
			return false
		}
		n++
	}
	return n > 0
}

// migrating reports whether the pre-flight's findings say the update
// migrates its state.
func migrating(findings []flinkplane.Finding) bool {
	for _, f := range findings {
		if f.Code == flinkplane.CodeStateMigration && f.Severity == flinkplane.SeverityInfo {
			return true
		}
	}
	return false
}

// withMigration adds StepMigrateState to an update plan, after the restore
// point is resolved and before the new cluster starts.
func withMigration(plan []string) []string {
	for i, s := range plan {
		if s == StepResolveRestore {
			out := append([]string(nil), plan[:i+1]...)
			out = append(out, StepMigrateState)
			return append(out, plan[i+1:]...)
		}
	}
	return plan
}

// stepMigrateState migrates the state of op.RestoreFrom into a new
// savepoint and restores the new job from it. It records where the
// migrated savepoint goes before writing it; the migrator writes it under
// another name and renames it into place, so a resumed step finds either
// nothing or a complete savepoint whose record may be missing, and redoes
// the migration from the untouched source.
func (e *Engine) stepMigrateState(ctx context.Context, r *stepRun) error {
	op, app, ver := r.op, r.app, r.ver
	mig := op.Migration
	if mig == nil {
		return nil
	}
	if mig.Snapshot != "" { // done before a restart of the control plane
		if op.RestoreFrom != mig.Savepoint {
			op.RestoreFrom = mig.Savepoint
			return e.save(ctx, op, nil)
		}
		return nil
	}
	if op.RestoreFrom == "" {
		return flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "There is no snapshot whose state could be migrated.")
	}
	if e.Migrator == nil {
		return flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "This server has no state migration.")
	}
	if strings.Contains(e.SavepointDir, "://") {
		return flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "The state migration needs savepoints on the local file system; this server keeps them in %s.", e.SavepointDir)
	}
	if mig.Source == "" || mig.Savepoint == "" {
		mig.Source = op.RestoreFrom
		mig.Savepoint = filepath.Join(e.savepointDir(app), "migrated-"+op.ID)
		if strings.HasPrefix(mig.Source, "file:") { // a location as Flink writes it
			mig.Savepoint = "file:" + mig.Savepoint
		}
		if err := e.save(ctx, op, nil); err != nil {
			return err
		}
	}
	out := localPath(mig.Savepoint)
	// Whatever a killed migration left: its output is redone from the
	// untouched source. Its work directory (the neutral encoding, as big as
	// the state) is next to the output, in this application's savepoint
	// directory, where only this operation migrates.
	os.RemoveAll(out)
	left, _ := filepath.Glob(out + ".writing-*")
	work, _ := filepath.Glob(filepath.Join(filepath.Dir(out), ".flinkplane-migrate-*"))
	for _, t := range append(left, work...) {
		os.RemoveAll(t)
	}
	var from *flinkplane.ApplicationVersion
	if err := e.Store.View(ctx, func(tx flinkplane.Tx) (err error) {
		from, err = tx.Version(op.ApplicationName, op.VersionFrom)
		return err
	}); err != nil {
		return err
	}
	oldJar, err := e.Code.Fetch(ctx, from.Config.Code)
	if err != nil {
		return err
	}
	newJar, err := e.Code.Fetch(ctx, ver.Config.Code)
	if err != nil {
		return err
	}
	e.Logger.Info("migrating the state of the snapshot for the new runtime", "application", app.Name, "operation", op.ID,
		"from", from.Config.RuntimeEnvironment, "to", ver.Config.RuntimeEnvironment, "source", mig.Source, "out", mig.Savepoint)
	res, err := e.Migrator.MigrateState(ctx, flinkplane.MigrationSpec{Savepoint: localPath(mig.Source), From: from.Config.RuntimeEnvironment,
		To: ver.Config.RuntimeEnvironment, OldJar: oldJar, NewJar: newJar, Parallelism: ver.Config.Parallelism.Parallelism,
		Properties: ver.Config.EnvironmentProperties, Out: out})
	if err != nil {
		return fmt.Errorf("state migration: %w", err)
	}
	if res.Refused() {
		var msgs []string
		for _, f := range res.Findings {
			if f.Severity == flinkplane.SeverityError {
				msgs = append(msgs, f.Message)
			}
		}
		return flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "%s", strings.Join(msgs, " "))
	}
	// Checked like any savepoint before it is offered to the job: its
	// state against the target, the new job's operators against it.
	checked, err := e.checkMigrated(ctx, mig.Savepoint, ver, op.Graph, op.PreviousGraph)
	if err != nil {
		return err
	}
	res.Findings = append(res.Findings, checked...)
	mig.Result = res
	// The migrated savepoint refers to the same FileSink part files as the
	// original: keep them with it too.
	if e.Files != nil {
		if _, err := e.Files.Keep(ctx, mig.Savepoint); err != nil {
			e.Logger.Warn("cannot keep the files the migrated savepoint refers to", "application", app.Name, "error", err)
		}
	}
	name := autoSnapshotName("migrated", e.now(), op.ID)
	return e.save(ctx, op, func(tx flinkplane.Tx, a *flinkplane.Application) error {
		if err := tx.CreateSnapshot(&flinkplane.Snapshot{ApplicationName: a.Name, Name: name, Status: flinkplane.SnapshotReady,
			VersionID: op.VersionTo, Runtime: ver.Config.RuntimeEnvironment, CreateTime: e.now(), Location: mig.Savepoint,
			OperationID: op.ID, Automatic: true}); err != nil {
			return err
		}
		mig.Snapshot = name
		op.RestoreFrom = mig.Savepoint
		op.Findings = append(op.Findings, res.Findings...)
		return nil
	})
}

// checkMigrated runs the pre-flight's savepoint and job graph checks on a
// migrated savepoint (against the graph the operation submits, when it has
// one); an ERROR finding fails the step (EINVALIDCONFIG).
func (e *Engine) checkMigrated(ctx context.Context, loc string, ver *flinkplane.ApplicationVersion, graph, previous *flinkplane.JobGraphInfo) ([]flinkplane.Finding, error) {
	target := ver.Config.RuntimeEnvironment
	var findings []flinkplane.Finding
	switch {
	case e.Compiler != nil && graph != nil:
		f, err := e.Compiler.CheckRestore(ctx, loc, target, graph, previous, ver.Config.AllowNonRestoredState)
		if err != nil {
			return nil, fmt.Errorf("check the migrated savepoint against the new job: %w", err)
		}
		findings = f
	case e.Compat != nil:
		f, err := e.Compat.CheckSavepoint(ctx, loc, target)
		if err != nil {
			return nil, fmt.Errorf("check the migrated savepoint: %w", err)
		}
		findings = f
	default:
		return nil, nil
	}
	var errs []string
	for _, f := range findings {
		if f.Severity == flinkplane.SeverityError {
			errs = append(errs, f.Code+": "+f.Message)
		}
	}
	if len(errs) > 0 {
		return nil, flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "The migrated savepoint does not pass the compatibility check: %s", strings.Join(errs, "; "))
	}
	return findings, nil
}

// localPath returns the file system path of a file: location.
func localPath(loc string) string {
	if p, ok := strings.CutPrefix(loc, "file://"); ok {
		return p
	}
	if p, ok := strings.CutPrefix(loc, "file:"); ok {
		return p
	}
	return loc
}
