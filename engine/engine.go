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
// created, on a worker goroutine of that application. Steps are a table
// (steps.go) and plans are data (plans.go).
//
// The watch (watch.go) polls every running application's cluster, records
// health samples and starts the service's own operations (Recovery, the
// stop of a job cancelled outside flinkplane, an automatic rollback) when
// a job or its cluster is lost; every operation that starts a job passes a
// probation gate (probation.go). See docs/health.md.
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
	// Compiler, if set, builds every job on its runtime before it is
	// submitted (the dry compile, StepCompile) and checks the graph
	// against the state it restores, before an UpdateApplication stops
	// anything and before a StartApplication starts a cluster; with a
	// driver that is a JobGraphSubmitter the compiled graph is what runs.
	// Without one, the jar's main() runs on the cluster.
	Compiler flinkplane.JobCompiler
	// GraphDir holds compiled graphs between the compile and the submit
	// (default: a directory under the system's temporary directory).
	GraphDir string
	// Files, if set, keeps what a snapshot refers to outside itself before
	// the snapshot is READY, verifies the snapshot a rollback restores
	// before anything stops, and puts back what a restore needs before a
	// job is submitted from a snapshot.
	Files flinkplane.SnapshotFiles
	// Metrics, if set, is given every poll of a running job (the watch's
	// and the probation's) to keep the application's metrics.
	Metrics flinkplane.MetricsRecorder
	// Migrator, if set, migrates state an update's target runtime cannot
	// restore (migrate.go) for applications that let it: the tag
	// flinkplane:migrate-state, else MigrateState.
	Migrator     flinkplane.StateMigrator
	MigrateState bool

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

	// WatchInterval is the pause between two health polls of a running
	// application by the watch (watch.go); 0 turns the watch off.
	WatchInterval time.Duration
	// HealthHistory is the number of health samples kept per application.
	HealthHistory int
	// ProbationWindow is how long a started job must run without a
	// restart before its operation succeeds: 0 derives it from the
	// application's checkpoint interval (flinkplane.ProbationWindow), a
	// negative value means no window. The tag flinkplane:probation-window
	// overrides it per application.
	ProbationWindow time.Duration
	// AutoRollback rolls an application back when its job restarts too
	// often soon after an update (off by default); the tag
	// flinkplane:auto-rollback overrides it per application.
	AutoRollback flinkplane.AutoRollback
	// FailoverTimeout bounds the wait for Flink to restart a job on
	// replaced TaskManagers before a recovery moves to a fresh cluster.
	FailoverTimeout time.Duration
	// StepFault, if set, is called before every step with the operation
	// and the step's name; an error fails the step (fault injection in
	// tests: return an error, or block until ctx is done to be "killed"
	// there).
	StepFault func(ctx context.Context, op *flinkplane.Operation, step string) error

	// Leases, if set, are per-application leases: an application's
	// operations and watch run only on the server that holds its lease
	// (lease.go). With a store shared by several servers (Leases.Shared),
	// the engine also takes over the applications of a server that died.
	Leases flinkplane.LeaseStore
	// ReplicaID names this server as a lease holder (default:
	// NewReplicaID()); LeaseTTL is how long a lease lasts unless renewed
	// (default DefaultLeaseTTL).
	ReplicaID string
	LeaseTTL  time.Duration

	Logger *slog.Logger

	lease leaseState

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu         sync.Mutex
	suspending bool
	workers    map[string]bool // application name -> worker running
	again      map[string]bool // worker should look again before exiting
	watching   map[string]bool // application name -> watch loop running
	observed   map[string]time.Time
	health     chan *flinkplane.HealthSample
	// recording: application name -> the poll waiting for the metrics
	// recorder (nil: none waits), for each application being recorded.
	recording map[string]*metricsPoll
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
		WatchInterval:    2 * time.Second,
		HealthHistory:    720,
		FailoverTimeout:  2 * time.Minute,
		Logger:           slog.Default(),
		workers:          map[string]bool{},
		again:            map[string]bool{},
		watching:         map[string]bool{},
		observed:         map[string]time.Time{},
	}
}

// Open resumes every IN_PROGRESS operation (with a shared store: those
// whose lease no other server holds).
func (e *Engine) Open() error {
	e.ctx, e.cancel = context.WithCancel(context.Background())
	if e.ReplicaID == "" {
		e.ReplicaID = NewReplicaID()
	}
	if e.WatchInterval > 0 {
		e.health = make(chan *flinkplane.HealthSample, 4096)
	}
	var ops []*flinkplane.Operation
	if err := e.Store.View(e.ctx, func(tx flinkplane.Tx) (err error) {
		ops, err = tx.InProgressOperations()
		return err
	}); err != nil {
		return fmt.Errorf("list operations in progress: %w", err)
	}
	if e.SharedStore() {
		// Other servers drive applications of this store: clusters are
		// looked after application by application, by the holder of the
		// lease (the watch), and nothing is swept.
		e.Logger.Info("the store is shared: applications are driven by the holder of their lease", "replica", e.ReplicaID)
	} else if err := e.reconcile(ops); err != nil {
		e.Logger.Error("cannot reconcile clusters", "error", err)
	}
	for _, op := range ops {
		e.Logger.Info("resuming operation", "application", op.ApplicationName, "operation", op.ID, "kind", op.Kind, "step", op.CurrentStep())
		e.kick(op.ApplicationName)
	}
	e.openWatch()
	if e.Leases != nil {
		e.wg.Add(1)
		go e.monitorLeases(e.ctx)
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
	e.flushHealth()
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
	// The worker runs while this server holds the application's lease
	// (lease.go); ctx ends when it is lost.
	ctx, ok := e.hold(app)
	if !ok {
		e.mu.Lock()
		delete(e.workers, app)
		delete(e.again, app)
		e.mu.Unlock()
		return
	}
	defer e.drop(app, ctx)
	for {
		op, err := e.nextOperation(ctx, app)
		if err != nil && ctx.Err() == nil {
			e.Logger.Error("cannot read operations, retrying", "application", app, "error", err)
			if !e.sleep(ctx, time.Second) {
				break
			}
			continue
		}
		if op == nil || ctx.Err() != nil {
			e.mu.Lock()
			if e.again[app] && ctx.Err() == nil {
				e.again[app] = false
				e.mu.Unlock()
				continue
			}
			delete(e.workers, app)
			delete(e.again, app)
			e.mu.Unlock()
			return
		}
		ok := e.run(ctx, op)
		e.mu.Lock()
		parked := e.suspending && op.CurrentStep() == StepSuspend
		e.mu.Unlock()
		if parked {
			break // waits for the next start of the server
		}
		if !ok && ctx.Err() == nil {
			// The operation could not be recorded; try again later.
			e.Logger.Error("cannot record operation, retrying", "application", app, "operation", op.ID)
			if !e.sleep(ctx, time.Second) {
				break
			}
		}
	}
	e.mu.Lock()
	delete(e.workers, app)
	e.mu.Unlock()
}

func (e *Engine) nextOperation(ctx context.Context, app string) (*flinkplane.Operation, error) {
	var op *flinkplane.Operation
	err := e.Store.View(ctx, func(tx flinkplane.Tx) error {
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
// cluster died while the server was down gets a Recovery (a fresh cluster
// from its newest checkpoint), any other whose cluster died is set READY,
// so that none shows RUNNING without a job. Then a Sweeper driver ends
// every cluster nobody owns.
func (e *Engine) reconcile(inProgress []*flinkplane.Operation) error {
	if e.Driver == nil {
		return nil
	}
	busy := map[string]bool{}
	var owned []flinkplane.ClusterHandle
	for _, op := range inProgress {
		busy[op.ApplicationName] = true
		for _, h := range []*flinkplane.ClusterHandle{op.Cluster, op.PreviousCluster} {
			if h != nil {
				owned = append(owned, *h) // a warm start's target, the cluster left
			}
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
		if a.Status == flinkplane.StatusRunning && a.FailedOperation == "" {
			// Recover as after any other loss of the JobManager: a fresh
			// cluster from the newest checkpoint (kept on disk).
			cause := fmt.Sprintf("The cluster %s of the application died while the server was down.", a.Cluster.ID)
			if id, err := e.startRecovery(e.ctx, a, a.Cluster.ID, a.JobID, nil, cause, planRecover(), 0, time.Time{}); err != nil {
				e.Logger.Error("cannot start a recovery", "application", a.Name, "error", err)
			} else if id != "" {
				continue
			}
		}
		e.Logger.Warn("the cluster of the application died while the server was down; the application is READY", "application", a.Name, "cluster", a.Cluster.ID)
		name := a.Name
		if err := e.Store.Update(e.ctx, func(tx flinkplane.Tx) error {
			app, err := tx.Application(name)
			if err != nil {
				return err
			}
			app.Cluster, app.JobID, app.RunningVersionID, app.FailedOperation = nil, "", 0, ""
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
		ids = ids[:0] // a store may run this again
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
					Plan:         planMaintenance()}
				if app.FailedOperation != "" {
					// A failed update keeps no job worth bringing back: its
					// cluster ends and it stays as it is.
					op.Plan = planForceStop()
				}
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
