package flinkplane

import "context"

// SnapshotFiles looks after what a snapshot refers to outside itself: the
// state of a Flink job can name files that are not part of its savepoint,
// such as the part files a FileSink had in progress, and a restore fails
// (or loses data) when they are gone. location is a snapshot's savepoint
// location as the cluster driver reported it.
type SnapshotFiles interface {
	// Keep copies, into the snapshot, the outside files its state needs
	// that a later job could finish, move or delete (the in-progress part
	// files of file sinks, up to their recorded length), and records them
	// in a manifest kept with the snapshot. It is idempotent; a copy is
	// trusted only once complete (a crash leaves no half-written copy that
	// a restore would use). Files that were already gone are reported in
	// KeptFiles.Missing, not as an error. Deleting the snapshot removes the
	// copies with it.
	Keep(ctx context.Context, location string) (KeptFiles, error)
	// Verify checks, without changing anything, that the snapshot can be
	// restored: its metadata and every state file it references are
	// present and readable, and every outside file its state needs is
	// there or can be put back from a kept copy. It returns an *Error with
	// code EINVALIDREQUEST whose message names what is missing.
	Verify(ctx context.Context, location string) error
	// Restore puts back, before a job is submitted from the snapshot, the
	// outside files its state needs that are missing or shorter than
	// recorded, from the kept copies. It returns an *Error with code
	// EINVALIDCONFIG naming what cannot be put back.
	Restore(ctx context.Context, location string) error
}

// KeptFiles reports what SnapshotFiles.Keep kept.
type KeptFiles struct {
	// Files and Bytes count the copies kept with the snapshot.
	Files int
	Bytes int64
	// Missing names the files the state refers to that were gone when
	// the snapshot was taken.
	Missing []string
}
