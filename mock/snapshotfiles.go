package mock

import (
	"context"
	"sync"

	"github.com/flinkplane/flinkplane"
)

var _ flinkplane.SnapshotFiles = (*SnapshotFiles)(nil)

// SnapshotFiles records its calls ("Keep(<location>)", "Verify(<location>)",
// "Restore(<location>)") and answers them with its function fields (nil:
// success, nothing kept).
type SnapshotFiles struct {
	mu    sync.Mutex
	calls []string

	KeepFunc    func(ctx context.Context, location string) (flinkplane.KeptFiles, error)
	VerifyFunc  func(ctx context.Context, location string) error
	RestoreFunc func(ctx context.Context, location string) error
}

// Calls returns the calls so far and forgets them.
func (f *SnapshotFiles) Calls() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.calls
	f.calls = nil
	return c
}

func (f *SnapshotFiles) record(call string) {
	f.mu.Lock()
	f.calls = append(f.calls, call)
	f.mu.Unlock()
}

func (f *SnapshotFiles) Keep(ctx context.Context, location string) (flinkplane.KeptFiles, error) {
	f.record("Keep(" + location + ")")
	if f.KeepFunc != nil {
		return f.KeepFunc(ctx, location)
	}
	return flinkplane.KeptFiles{}, nil
}

func (f *SnapshotFiles) Verify(ctx context.Context, location string) error {
	f.record("Verify(" + location + ")")
	if f.VerifyFunc != nil {
		return f.VerifyFunc(ctx, location)
	}
	return nil
}

func (f *SnapshotFiles) Restore(ctx context.Context, location string) error {
	f.record("Restore(" + location + ")")
	if f.RestoreFunc != nil {
		return f.RestoreFunc(ctx, location)
	}
	return nil
}
