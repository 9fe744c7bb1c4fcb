// Package engine runs the lifecycle of flinkplane applications as durable,
// step-recorded operations: Start, Stop, snapshot creation and deletion, an
// Update that changes what runs, Rollback and Delete. Each operation is a
// row in the Store with a plan (its list of steps), the current step and
// the external handles gathered so far. A step records what it is about to
// do (and any handle it can know in advance, such as the job id) before
// acting, so that an engine opened on the same store after a crash resumes
// every IN_PROGRESS operation without repeating a side effect: it polls a
// recorded savepoint trigger instead of triggering again and looks for a
// recorded job id before submitting again.
//
// Operations of one application run one at a time, in the order they were
// created, on a worker goroutine of that application.
package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/flinkplane/flinkplane"
)

// Steps of an operation's plan.
const (
	StepCancelJob         = "CANCEL_JOB"
	StepStopWithSavepoint = "STOP_WITH_SAVEPOINT"
	StepTriggerSavepoint  = "TRIGGER_SAVEPOINT"
	StepStopCluster       = "STOP_CLUSTER"
	StepResolveRestore    = "RESOLVE_RESTORE"
	StepStartCluster      = "START_CLUSTER"
	StepSubmit            = "SUBMIT"
	StepWaitRunning       = "WAIT_RUNNING"
	StepDisposeSavepoint  = "DISPOSE_SAVEPOINT"
	StepDeleteApplication = "DELETE_APPLICATION"
	// StepSuspend is where a Maintenance operation waits while the server
	// is down: a shutting-down engine stops there, a starting one goes on.
	StepSuspend = "SUSPEND"
)

// Engine drives applications through their lifecycle.
type Engine struct {
	Store flinkplane.Store
	// Driver runs Flink clusters; nil means no runtime is available and
	// every StartApplication fails with EINVALIDCONFIG.
	Driver flinkplane.ClusterDriver
	// Code resolves application code to a local file.
	Code flinkplane.CodeStore
	// Compat, if set, checks the new code and the latest snapshot before
	// an UpdateApplication that changes the runtime or the code.
	Compat flinkplane.CompatChecker

	// SavepointDir is the directory under which each application's
	// savepoints are written (one sub-directory per application id).
	SavepointDir string

	// Now is the clock.
	Now func() time.Time
	// PollInterval is the pause between two polls of the driver.
	PollInterval time.Duration
	// StartTimeout bounds the wait for a job to run with all its tasks.
	StartTimeout time.Duration
	// SavepointTimeout bounds the wait for a savepoint.
	SavepointTimeout time.Duration
	// MaxSnapshots is the number of snapshots of one application after
	// which CreateApplicationSnapshot returns ELIMIT.
	MaxSnapshots int

	Logger *slog.Logger

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	suspending bool
	workers    map[string]bool // application name -> worker running
	again      map[string]bool // worker should look again before exiting
}

// New returns an engine with default settings.
func New(store flinkplane.Store, driver flinkplane.ClusterDriver) *Engine {
	return &Engine{
		Store:            store,
		Driver:           driver,
		Now:              time.Now,
		PollInterval:     time.Second,
		StartTimeout:     5 * time.Minute,
		SavepointTimeout: 10 * time.Minute,
		MaxSnapshots:     1000,
		Logger:           slog.Default(),
		workers:          map[string]bool{},
		again:            map[string]bool{},
	}
}

// Open resumes every IN_PROGRESS operation.
func (e *Engine) Open() error {
	e.ctx, e.cancel = context.WithCancel(context.Background())
	var ops []*flinkplane.Operation
	if err := e.Store.View(e.ctx, func(tx flinkplane.Tx) (err error) {
		ops, err = tx.InProgressOperations()
		return err
	}); err != nil {
		return fmt.Errorf("list operations in progress: %w", err)
	}
	if err := e.reconcile(ops); err != nil {
		e.Logger.Error("cannot reconcile clusters", "error", err)
	}
	for _, op := range ops {
		e.Logger.Info("resuming operation", "application", op.ApplicationName, "operation", op.ID, "kind", op.Kind, "step", op.CurrentStep())
		e.kick(op.ApplicationName)
	}
	return nil
}

// Close stops the workers. Operations in progress stay IN_PROGRESS in the
// store and are resumed by the next Open.
func (e *Engine) Close() error {
	if e.cancel != nil {
		e.cancel()
	}
	e.wg.Wait()
	return nil
}

// Wait blocks until no operation of the application is running on a
// worker (for tests and shutdown).
func (e *Engine) Wait(ctx context.Context, app string) error {
	for {
		e.mu.Lock()
		busy := e.workers[app]
		e.mu.Unlock()
		if !busy {
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

func (e *Engine) now() time.Time { return e.Now().UTC() }

// kick makes sure a worker runs the application's pending operations.
func (e *Engine) kick(app string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.ctx == nil || e.ctx.Err() != nil {
		return
	}
	if e.workers[app] {
		e.again[app] = true
		return
	}
	e.workers[app] = true
	e.wg.Add(1)
	go e.work(app)
}

func (e *Engine) work(app string) {
	defer e.wg.Done()
	for {
		op, err := e.nextOperation(app)
		if err != nil && e.ctx.Err() == nil {
			e.Logger.Error("cannot read operations, retrying", "application", app, "error", err)
			if !e.sleep(e.ctx, time.Second) {
				break
			}
			continue
		}
		if op == nil || e.ctx.Err() != nil {
			e.mu.Lock()
			if e.again[app] && e.ctx.Err() == nil {
				e.again[app] = false
				e.mu.Unlock()
				continue
			}
			delete(e.workers, app)
			delete(e.again, app)
			e.mu.Unlock()
			return
		}
		ok := e.run(op)
		e.mu.Lock()
		parked := e.suspending && op.CurrentStep() == StepSuspend
		e.mu.Unlock()
		if parked {
			break // waits for the next start of the server
		}
		if !ok && e.ctx.Err() == nil {
			// The operation could not be recorded; try again later.
			e.Logger.Error("cannot record operation, retrying", "application", app, "operation", op.ID)
			if !e.sleep(e.ctx, time.Second) {
				break
			}
		}
	}
	e.mu.Lock()
	delete(e.workers, app)
	e.mu.Unlock()
}

func (e *Engine) nextOperation(app string) (*flinkplane.Operation, error) {
	var op *flinkplane.Operation
	err := e.Store.View(e.ctx, func(tx flinkplane.Tx) error {
		ops, err := tx.Operations(app, flinkplane.OperationFilter{Status: flinkplane.OperationInProgress})
		if err != nil {
			return err
		}
		if len(ops) > 0 {
			op = ops[len(ops)-1] // oldest
		}
		return nil
	})
	if flinkplane.ErrorCode(err) == flinkplane.ENOTFOUND {
		return nil, nil
	}
	return op, err
}

// sleep waits d or until ctx is done; it reports whether d passed.
func (e *Engine) sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

func newID() string {
	var b [8]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func newJobID() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// errCancelled ends a step loop when the operation was cancelled by another
// one (a force stop or a rollback).
var errCancelled = errors.New("operation cancelled")

func (e *Engine) savepointDir(app *flinkplane.Application) string {
	if strings.Contains(e.SavepointDir, "://") { // a URI (s3p://bucket/savepoints)
		return strings.TrimSuffix(e.SavepointDir, "/") + "/" + app.ID
	}
	return filepath.Join(e.SavepointDir, app.ID)
}

// Sweeper is implemented by cluster drivers that can end the clusters of
// their data directory that the store does not own (left by a crash).
type Sweeper interface {
	Sweep(ctx context.Context, owned []flinkplane.ClusterHandle) ([]string, error)
}

// reconcile runs at Open: the clusters of applications that are not in the
// middle of an operation are re-adopted; a RUNNING application whose
// cluster died while the server was down is set READY (its last snapshot
// remains for the next start), so that it never shows RUNNING without a
// job. Then a Sweeper driver ends every cluster nobody owns.
func (e *Engine) reconcile(inProgress []*flinkplane.Operation) error {
	if e.Driver == nil {
		return nil
	}
	busy := map[string]bool{}
	var owned []flinkplane.ClusterHandle
	for _, op := range inProgress {
		busy[op.ApplicationName] = true
		if op.Cluster != nil {
			owned = append(owned, *op.Cluster)
		}
	}
	var apps []*flinkplane.Application
	if err := e.Store.View(e.ctx, func(tx flinkplane.Tx) error {
		after := ""
		for {
			page, err := tx.Applications(after, 500)
			if err != nil {
				return err
			}
			for _, a := range page {
				if a.Cluster != nil {
					apps = append(apps, a)
				}
			}
			if len(page) < 500 {
				return nil
			}
			after = page[len(page)-1].Name
		}
	}); err != nil {
		return err
	}
	for _, a := range apps {
		owned = append(owned, *a.Cluster)
		if busy[a.Name] {
			continue // the resumed operation deals with its cluster
		}
		alive, err := e.Driver.Adopt(e.ctx, *a.Cluster)
		if err != nil || alive {
			if err != nil {
				e.Logger.Warn("cannot check cluster", "application", a.Name, "error", err)
			}
			continue
		}
		e.Logger.Warn("the cluster of the application died while the server was down; the application is READY", "application", a.Name, "cluster", a.Cluster.ID)
		name := a.Name
		if err := e.Store.Update(e.ctx, func(tx flinkplane.Tx) error {
			app, err := tx.Application(name)
			if err != nil {
				return err
			}
			app.Cluster, app.JobID, app.RunningVersionID = nil, "", 0
			if app.Status == flinkplane.StatusRunning {
				app.Status = flinkplane.StatusReady
				app.UpdateTime = e.now()
			}
			return tx.PutApplication(app)
		}); err != nil {
			return err
		}
	}
	if s, ok := e.Driver.(Sweeper); ok {
		if stopped, err := s.Sweep(e.ctx, owned); err != nil {
			return fmt.Errorf("sweep: %w", err)
		} else if len(stopped) > 0 {
			e.Logger.Info("stopped clusters no application owns", "clusters", stopped)
		}
	}
	return nil
}

// errSuspended ends a worker at StepSuspend while the engine shuts down.
var errSuspended = errors.New("suspended for shutdown")

// Shutdown prepares a restart of the server without leaving any Flink
// process behind: every RUNNING application gets a Maintenance operation
// (status MAINTENANCE) that stops its job with a savepoint and stops its
// cluster, then waits; the next Open starts it again from that savepoint.
// Shutdown returns when every such operation has reached its wait, failed,
// or ctx is done; then Close.
func (e *Engine) Shutdown(ctx context.Context) error {
	if e.Driver == nil {
		return nil
	}
	e.mu.Lock()
	e.suspending = true
	e.mu.Unlock()
	var ids []*flinkplane.Operation
	err := e.Store.Update(ctx, func(tx flinkplane.Tx) error {
		after := ""
		for {
			page, err := tx.Applications(after, 500)
			if err != nil {
				return err
			}
			for _, app := range page {
				if app.Status != flinkplane.StatusRunning || app.Cluster == nil {
					continue
				}
				busy, err := tx.Operations(app.Name, flinkplane.OperationFilter{Status: flinkplane.OperationInProgress, Limit: 1})
				if err != nil {
					return err
				}
				if len(busy) > 0 {
					continue // a snapshot in progress: leave the application be
				}
				op := &flinkplane.Operation{ID: newID(), ApplicationName: app.Name, Kind: flinkplane.OpMaintenance,
					Status: flinkplane.OperationInProgress, StartTime: e.now(), System: true,
					SnapshotName: autoSnapshotName("maintenance", e.now(), ""+newID()),
					RestoreType:  flinkplane.RestoreLatest,
					Plan: []string{StepStopWithSavepoint, StepCancelJob, StepStopCluster, StepSuspend,
						StepResolveRestore, StepStartCluster, StepSubmit, StepWaitRunning}}
				app.Status = flinkplane.StatusMaintenance
				app.UpdateTime = e.now()
				if err := tx.PutApplication(app); err != nil {
					return err
				}
				if err := tx.PutOperation(op); err != nil {
					return err
				}
				ids = append(ids, op)
			}
			if len(page) < 500 {
				return nil
			}
			after = page[len(page)-1].Name
		}
	})
	if err != nil {
		return err
	}
	for _, op := range ids {
		e.kick(op.ApplicationName)
	}
	for _, op := range ids {
		for {
			var cur *flinkplane.Operation
			if err := e.Store.View(ctx, func(tx flinkplane.Tx) (err error) {
				cur, err = tx.Operation(op.ApplicationName, op.ID)
				return err
			}); err != nil {
				break
			}
			if cur.Done() || cur.CurrentStep() == StepSuspend {
				break
			}
			if !e.sleep(ctx, 20*time.Millisecond) {
				return ctx.Err()
			}
		}
	}
	return nil
}
