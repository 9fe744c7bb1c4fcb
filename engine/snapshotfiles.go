package engine

import (
	"context"

	"github.com/flinkplane/flinkplane"
)

// keepAttempts bounds the tries of SnapshotFiles.Keep for one snapshot.
const keepAttempts = 3

// keepFiles keeps what the savepoint of op refers to outside itself
// (SnapshotFiles.Keep), before its snapshot is recorded READY. The step
// calling it has recorded the savepoint location, so a control plane killed
// here keeps the files when it resumes the step. Keep is retried; if it
// still fails the snapshot is recorded without the copies (its savepoint
// is sound, and Verify refuses a rollback to it if a file it needs goes
// missing), and the failure is logged. It returns an error only when ctx
// ends.
func (e *Engine) keepFiles(ctx context.Context, op *flinkplane.Operation) error {
	if e.Files == nil || op.SavepointLocation == "" {
		return nil
	}
	for attempt := 1; ; attempt++ {
		kf, err := e.Files.Keep(ctx, op.SavepointLocation)
		if err == nil {
			if kf.Files > 0 || len(kf.Missing) > 0 {
				e.Logger.Info("kept the files the snapshot refers to", "application", op.ApplicationName, "operation", op.ID,
					"location", op.SavepointLocation, "files", kf.Files, "bytes", kf.Bytes, "missing", kf.Missing)
			}
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if attempt == keepAttempts {
			e.Logger.Error("cannot keep the files the snapshot refers to; the snapshot is recorded without copies of them",
				"application", op.ApplicationName, "operation", op.ID, "location", op.SavepointLocation, "error", err)
			return nil
		}
		e.Logger.Warn("cannot keep the files the snapshot refers to, retrying", "application", op.ApplicationName,
			"operation", op.ID, "location", op.SavepointLocation, "error", err)
		if !e.sleep(ctx, e.PollInterval) {
			return ctx.Err()
		}
	}
}

// rollbackSnapshot returns the snapshot a rollback of app would restore:
// the newest one taken at or before the version its current version was
// updated from that that version's runtime can restore; nil if none.
func rollbackSnapshot(tx flinkplane.Tx, app *flinkplane.Application) (*flinkplane.Snapshot, error) {
	cur, err := tx.Version(app.Name, app.VersionID)
	if err != nil || cur.UpdatedFrom == 0 {
		return nil, err
	}
	target, err := tx.Version(app.Name, cur.UpdatedFrom)
	if err != nil {
		return nil, err
	}
	snaps, err := tx.Snapshots(app.Name, "", 0)
	if err != nil {
		return nil, err
	}
	s, _ := chooseRestore(snaps, flinkplane.RestoreLatest, "", target.Config.RuntimeEnvironment, target.VersionID)
	return s, nil
}

// verifySnapshot returns nil if SnapshotFiles says s can be restored, else
// an EINVALIDREQUEST error naming the snapshot and what is missing.
func (e *Engine) verifySnapshot(ctx context.Context, app string, s *flinkplane.Snapshot) error {
	if e.Files == nil || s == nil || s.Location == "" {
		return nil
	}
	err := e.Files.Verify(ctx, s.Location)
	if err == nil || ctx.Err() != nil {
		return err
	}
	return flinkplane.Errorf(flinkplane.EINVALIDREQUEST,
		"Application %s cannot be rolled back; nothing was stopped or changed. The rollback restores snapshot %s (taken on %s at version %d). %s",
		app, s.Name, s.Runtime, s.VersionID, flinkplane.ErrorMessage(err))
}

// verifyRollback is RollbackApplication's check, before anything is
// recorded, that the snapshot the rollback restores can be restored.
// Anything else that makes the rollback impossible is left to the
// transaction that records it.
func (e *Engine) verifyRollback(ctx context.Context, name string) error {
	if e.Files == nil {
		return nil
	}
	var s *flinkplane.Snapshot
	if err := e.Store.View(ctx, func(tx flinkplane.Tx) error {
		app, err := tx.Application(name)
		if err != nil {
			return err
		}
		s, err = rollbackSnapshot(tx, app)
		return err
	}); err != nil {
		return nil
	}
	return e.verifySnapshot(ctx, name, s)
}

// verifyRestore is the StepVerifyRestore of a rollback: the snapshot it is
// about to restore must be restorable before its first step stops the job.
func (e *Engine) verifyRestore(ctx context.Context, op *flinkplane.Operation, ver *flinkplane.ApplicationVersion) error {
	if e.Files == nil {
		return nil
	}
	var s *flinkplane.Snapshot
	if err := e.Store.View(ctx, func(tx flinkplane.Tx) error {
		snaps, err := tx.Snapshots(op.ApplicationName, "", 0)
		if err != nil {
			return err
		}
		s, _ = chooseRestore(snaps, op.RestoreType, op.RestoreSnapshotName, ver.Config.RuntimeEnvironment, op.RestoreMaxVersion)
		return nil
	}); err != nil {
		return err
	}
	return e.verifySnapshot(ctx, op.ApplicationName, s)
}

// restoreFiles puts back what the snapshot a job is about to be restored
// from needs outside itself (SnapshotFiles.Restore).
func (e *Engine) restoreFiles(ctx context.Context, op *flinkplane.Operation) error {
	if e.Files == nil || op.RestoreFrom == "" {
		return nil
	}
	return e.Files.Restore(ctx, op.RestoreFrom)
}
