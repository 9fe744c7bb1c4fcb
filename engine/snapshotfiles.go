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
