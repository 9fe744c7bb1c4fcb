package flinkplane

import (
	"context"
	"time"
)

// Store keeps applications, their versions, snapshots, operations and tags.
// Everything the API shows comes from the Store. Update runs fn in one
// transaction: what it changes (an application, its new version and its
// operation) is committed together or not at all.
type Store interface {
	// View runs fn in a read-only transaction.
	View(ctx context.Context, fn func(tx Tx) error) error
	// Update runs fn in a read-write transaction, committed if fn returns
	// nil and rolled back otherwise. Update transactions are serialized
	// (they commit as if run one after the other). A store shared by
	// several servers may run fn again, in a fresh transaction, after it
	// lost a conflict with another server's: fn must not keep what an
	// earlier run of it captured. With a Fence in ctx (WithFence) the
	// lease is checked in the same transaction: ErrLeaseLost (wrapped) if
	// it is no longer held, and fn does not run.
	Update(ctx context.Context, fn func(tx Tx) error) error
	Close() error
}

// Tx is one store transaction. Lookups of missing records return ENOTFOUND.
type Tx interface {
	// Application returns the named application.
	Application(name string) (*Application, error)
	// Applications returns up to limit applications ordered by name,
	// starting after the name `after` ("" for the first page).
	Applications(after string, limit int) ([]*Application, error)
	// CreateApplication inserts a new application; EINUSE if it exists.
	CreateApplication(app *Application) error
	// PutApplication replaces an existing application.
	PutApplication(app *Application) error
	// DeleteApplication removes an application with its versions,
	// snapshots, operations and tags.
	DeleteApplication(name string) error

	// Version returns one version of an application.
	Version(app string, id int64) (*ApplicationVersion, error)
	// Versions returns up to limit versions in ascending id order after
	// version `after` (0 for the first page).
	Versions(app string, after int64, limit int) ([]*ApplicationVersion, error)
	// CreateVersion inserts a version; versions are immutable, so an
	// existing id is ECONFLICT.
	CreateVersion(v *ApplicationVersion) error

	// Snapshot returns one snapshot.
	Snapshot(app, name string) (*Snapshot, error)
	// Snapshots returns up to limit snapshots in creation order after the
	// snapshot named `after` ("" for the first page; limit 0: all).
	Snapshots(app string, after string, limit int) ([]*Snapshot, error)
	// CreateSnapshot inserts a snapshot; EINUSE if the name is taken.
	CreateSnapshot(s *Snapshot) error
	// PutSnapshot replaces an existing snapshot.
	PutSnapshot(s *Snapshot) error
	DeleteSnapshot(app, name string) error

	// Operation returns one operation of an application.
	Operation(app, id string) (*Operation, error)
	// Operations lists an application's operations, newest first.
	Operations(app string, f OperationFilter) ([]*Operation, error)
	// PutOperation inserts or replaces an operation.
	PutOperation(op *Operation) error
	// InProgressOperations returns every IN_PROGRESS operation of every
	// application, oldest first.
	InProgressOperations() ([]*Operation, error)

	// PutHealth records a health sample of an application and keeps only
	// its newest keep samples (keep <= 0: all). ENOTFOUND for an unknown
	// application.
	PutHealth(s *HealthSample, keep int) error
	// Health returns the newest health sample of an application; ENOTFOUND
	// when there is none (or no such application).
	Health(app string) (*HealthSample, error)
	// HealthHistory returns up to limit samples of an application, newest
	// first, taken before `before` (zero: from the newest).
	HealthHistory(app string, before time.Time, limit int) ([]*HealthSample, error)

	// Tags returns an application's tags ordered by key.
	Tags(app string) ([]Tag, error)
	// SetTags replaces an application's tags.
	SetTags(app string, tags []Tag) error
}
