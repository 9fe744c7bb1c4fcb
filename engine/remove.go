package engine

import (
	"context"
	"os"
	"path/filepath"
	"strings"

	"github.com/flinkplane/flinkplane"
)

// Deleting an application removes every file it owns, and nothing else:
// its clusters' directories, logs and checkpoints (the driver's, through
// ApplicationRemover), its savepoints (SavepointDir/<id>), and the code
// uploaded with it (ZipFileContent) that no other application uses.

// UploadStore is implemented by code stores that keep uploaded code
// (codestore does). An upload is pinned from PutZip until Release, so that
// it is never removed between its upload and the commit of the version
// that uses it.
type UploadStore interface {
	// Release unpins an upload.
	Release(ref string)
	// RemoveZip removes an upload unless it is pinned or used() says a
	// version still uses it.
	RemoveZip(ctx context.Context, ref string, used func() (bool, error)) error
}

// storeAs returns the store as an optional interface T, looking through
// wrappers (the instrumented store of package metrics) that have an
// Unwrap() flinkplane.Store method: a wrapper must not hide what the
// store it wraps can do.
func storeAs[T any](s flinkplane.Store) (T, bool) {
	for s != nil {
		if t, ok := s.(T); ok {
			return t, true
		}
		u, ok := s.(interface{ Unwrap() flinkplane.Store })
		if !ok {
			break
		}
		s = u.Unwrap()
	}
	var zero T
	return zero, false
}

// CodeRefCounter is implemented by stores that can tell, without reading
// every version, whether a version uses an upload (sqlite does).
type CodeRefCounter interface {
	CodeRefUsed(ctx context.Context, ref string) (bool, error)
}

// ReleaseUpload is called once a request that uploaded code (ref) is
// answered: the upload is unpinned and, if the request failed (committed
// is false) and no version uses it, removed.
func (e *Engine) ReleaseUpload(ctx context.Context, ref string, committed bool) {
	u, ok := e.Code.(UploadStore)
	if !ok || ref == "" {
		return
	}
	u.Release(ref)
	if committed {
		return
	}
	if err := u.RemoveZip(context.WithoutCancel(ctx), ref, func() (bool, error) { return e.codeRefUsed(ctx, ref) }); err != nil {
		e.Logger.Warn("cannot remove unused uploaded code", "ref", ref, "error", err)
	}
}

// zipRefs returns the uploads the versions of an application use.
func zipRefs(tx flinkplane.Tx, name string) ([]string, error) {
	vers, err := tx.Versions(name, 0, 0)
	if err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	var refs []string
	for _, v := range vers {
		if r := v.Config.Code.ZipRef; r != "" && !seen[r] {
			seen[r] = true
			refs = append(refs, r)
		}
	}
	return refs, nil
}

// codeRefUsed reports whether any version of any application uses ref.
func (e *Engine) codeRefUsed(ctx context.Context, ref string) (bool, error) {
	if c, ok := storeAs[CodeRefCounter](e.Store); ok {
		return c.CodeRefUsed(ctx, ref)
	}
	used := false
	err := e.Store.View(ctx, func(tx flinkplane.Tx) error {
		after := ""
		for !used {
			apps, err := tx.Applications(after, 100)
			if err != nil || len(apps) == 0 {
				return err
			}
			for _, a := range apps {
				refs, err := zipRefs(tx, a.Name)
				if err != nil {
					return err
				}
				for _, r := range refs {
					used = used || r == ref
				}
				after = a.Name
			}
		}
		return nil
	})
	return used, err
}

// removeOwned removes, once an application's deletion is committed, the
// files it owned.
func (e *Engine) removeOwned(ctx context.Context, appID string, refs []string) {
	ctx = context.WithoutCancel(ctx)
	e.removeApplication(ctx, appID)
	if dir, err := filepath.Abs(e.SavepointDir); e.SavepointDir != "" && err == nil && validID(appID) {
		if err := os.RemoveAll(filepath.Join(dir, appID)); err != nil {
			e.Logger.Warn("cannot remove the savepoints of a deleted application", "id", appID, "error", err)
		}
	}
	if u, ok := e.Code.(UploadStore); ok {
		for _, ref := range refs {
			if err := u.RemoveZip(ctx, ref, func() (bool, error) { return e.codeRefUsed(ctx, ref) }); err != nil {
				e.Logger.Warn("cannot remove the uploaded code of a deleted application", "id", appID, "ref", ref, "error", err)
			}
		}
	}
}

// validID reports whether id can name a directory of its own.
func validID(id string) bool {
	return id != "" && !strings.ContainsAny(id, `/\`) && !strings.HasPrefix(id, ".")
}

// ReserveUpdater is implemented by stores that keep space in reserve for
// deletions on a full disk (sqlite does): UpdateReserved runs fn alone and,
// if the disk is full, again with the reserve released, before any other
// write can take that space. fn must be safe to run twice.
type ReserveUpdater interface {
	UpdateReserved(ctx context.Context, fn func(flinkplane.Tx) error) error
}

// freeForDelete frees, when the disk is full, what a READY application
// without a cluster owns that no record refers to (its old clusters'
// directories, logs and checkpoints), so that its deletion can be written.
func (e *Engine) freeForDelete(ctx context.Context, name string) {
	app, _, err := e.application(ctx, name)
	if err != nil || app.Cluster != nil || !validID(app.ID) {
		return
	}
	e.removeApplication(ctx, app.ID)
}

// CapacityChecker is implemented by cluster drivers that can tell, before
// an application is created or updated, whether a cluster for it fits the
// machine (runtime/local does): ELIMIT, with what it needs and what there
// is, when it does not.
type CapacityChecker interface {
	CheckCapacity(spec flinkplane.ClusterSpec) error
}

// checkCapacity refuses a configuration whose cluster could never start.
func (e *Engine) checkCapacity(app *flinkplane.Application, cfg flinkplane.ApplicationConfig) error {
	c, ok := e.Driver.(CapacityChecker)
	if !ok {
		return nil
	}
	return c.CheckCapacity(clusterSpec(app, &flinkplane.ApplicationVersion{Config: cfg}))
}
