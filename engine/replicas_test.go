package engine_test

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/engine"
	"github.com/flinkplane/flinkplane/internal/pgtest"
	"github.com/flinkplane/flinkplane/mock"
	"github.com/flinkplane/flinkplane/postgres"
)

func TestMain(m *testing.M) {
	code := m.Run()
	pgtest.StopShared()
	os.Exit(code)
}

// cutLeases is a replica's view of the lease store that can be cut off:
// then acquisitions, renewals and releases fail, as for a replica paused or cut off from
// the database.
type cutLeases struct {
	flinkplane.LeaseStore
	cut    atomic.Bool
	noWake bool // Wake returns nil: the poll alone finds new operations
}

func (c *cutLeases) Wake() <-chan string {
	if c.noWake {
		return nil
	}
	return c.LeaseStore.Wake()
}

var errCut = errors.New("cut off from the database (test)")

func (c *cutLeases) AcquireLease(ctx context.Context, app, holder string, ttl time.Duration) (flinkplane.Lease, error) {
	if c.cut.Load() {
		return flinkplane.Lease{}, errCut
	}
	return c.LeaseStore.AcquireLease(ctx, app, holder, ttl)
}

func (c *cutLeases) RenewLeases(ctx context.Context, holder string, held map[string]int64, ttl time.Duration) (map[string]bool, error) {
	if c.cut.Load() {
		return nil, errCut
	}
	return c.LeaseStore.RenewLeases(ctx, holder, held, ttl)
}

func (c *cutLeases) ReleaseLease(ctx context.Context, app, holder string, token int64) error {
	if c.cut.Load() {
		return errCut
	}
	return c.LeaseStore.ReleaseLease(ctx, app, holder, token)
}

// recDriver records the calls a replica makes to the shared fake Flink
// once armed.
type recDriver struct {
	*mock.ClusterDriver
	armed atomic.Bool
	mu    sync.Mutex
	calls []string
}

func (d *recDriver) note(name string) {
	if d.armed.Load() {
		d.mu.Lock()
		d.calls = append(d.calls, name)
		d.mu.Unlock()
	}
}

func (d *recDriver) Start(ctx context.Context, spec flinkplane.ClusterSpec) (flinkplane.ClusterHandle, error) {
	d.note("Start")
	return d.ClusterDriver.Start(ctx, spec)
}

func (d *recDriver) Submit(ctx context.Context, h flinkplane.ClusterHandle, job flinkplane.JobSpec) (string, error) {
	d.note("Submit")
	return d.ClusterDriver.Submit(ctx, h, job)
}

func (d *recDriver) Stop(ctx context.Context, h flinkplane.ClusterHandle) error {
	d.note("Stop")
	return d.ClusterDriver.Stop(ctx, h)
}

func (d *recDriver) Cancel(ctx context.Context, h flinkplane.ClusterHandle, jobID string) error {
	d.note("Cancel")
	return d.ClusterDriver.Cancel(ctx, h, jobID)
}

type replica struct {
	db     *postgres.DB
	e      *engine.Engine
	leases *cutLeases
	driver *recDriver
}

const testTTL = time.Second

// newReplica opens an engine on its own connection pool to the database
// at url, on the shared fake Flink d, with a 1 s lease.
func newReplica(t *testing.T, url, id string, d *mock.ClusterDriver, code *mock.CodeStore, fault func(ctx context.Context, op *flinkplane.Operation, step string) error) *replica {
	return newReplicaWake(t, url, id, d, code, fault, true)
}

func newReplicaWake(t *testing.T, url, id string, d *mock.ClusterDriver, code *mock.CodeStore, fault func(ctx context.Context, op *flinkplane.Operation, step string) error, wake bool) *replica {
	t.Helper()
	r := &replica{db: postgres.New(url), driver: &recDriver{ClusterDriver: d}}
	r.db.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := r.db.Open(); err != nil {
		t.Fatal(err)
	}
	r.leases = &cutLeases{LeaseStore: r.db, noWake: !wake}
	r.e = engine.New(r.db, r.driver)
	r.e.Code = code
	r.e.SavepointDir = "/sp"
	r.e.PollInterval = 5 * time.Millisecond
	r.e.StartTimeout = 5 * time.Second
	r.e.WatchInterval = 50 * time.Millisecond
	r.e.ProbationWindow = -1
	r.e.Leases, r.e.ReplicaID, r.e.LeaseTTL = r.leases, id, testTTL
	r.e.StepFault = fault
	r.e.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if os.Getenv("FLINKPLANE_TEST_LOG") != "" {
		r.e.Logger = slog.New(slog.NewTextHandler(os.Stderr, nil)).With("replica", id)
	}
	if err := r.e.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.e.Close(); r.db.Close() })
	return r
}

func createApp(t *testing.T, e *engine.Engine, name string) {
	t.Helper()
	cfg := flinkplane.DefaultConfig()
	cfg.RuntimeEnvironment = flinkplane.RuntimeFlink120
	cfg.Code = flinkplane.CodeConfig{ContentType: flinkplane.CodeZipFile, S3: &flinkplane.S3ContentLocation{BucketARN: bucket, FileKey: "app-1.20.jar"}}
	if _, _, err := e.CreateApplication(ctx, &flinkplane.Application{Name: name, ARN: "arn:" + name}, cfg, nil); err != nil {
		t.Fatal(err)
	}
}

func waitOp(t *testing.T, s flinkplane.Store, app, id string, within time.Duration) *flinkplane.Operation {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		var op *flinkplane.Operation
		s.View(ctx, func(tx flinkplane.Tx) (err error) { op, err = tx.Operation(app, id); return err })
		if op != nil && op.Done() {
			return op
		}
		if time.Now().After(deadline) {
			t.Fatalf("operation %s not done within %s: %+v", id, within, op)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// A replica that dies in the middle of a StartApplication (it stops
// renewing and releasing its lease) has the operation resumed by another
// once the lease expires: one job, one cluster, the operation successful.
func TestReplicas_TakeoverAfterCrash(t *testing.T) {
	url := pgtest.Need(t).NewDatabase(t)
	d := mock.NewClusterDriver()
	code := mock.NewCodeStore(bucket + "/app-1.20.jar")
	at := make(chan struct{})
	var once sync.Once
	a := newReplica(t, url, "A", d, code, func(ctx context.Context, op *flinkplane.Operation, step string) error {
		if step == engine.StepSubmit {
			once.Do(func() { close(at) })
			<-ctx.Done() // the crash: A never acts again
			return ctx.Err()
		}
		return nil
	})
	createApp(t, a.e, "app")
	id, err := a.e.StartApplication(ctx, "app", engine.StartInput{})
	if err != nil {
		t.Fatal(err)
	}
	<-at
	b := newReplica(t, url, "B", d, code, nil) // after A took the operation
	a.leases.cut.Store(true)
	died := time.Now()
	a.e.Close() // its lease is not released: it expires
	op := waitOp(t, b.db, "app", id, 10*testTTL)
	took := time.Since(died)
	if op.Status != flinkplane.OperationSuccessful {
		t.Fatalf("operation %+v", op)
	}
	if len(d.Submitted) != 1 || len(d.Running()) != 1 || d.LiveClusters() != 1 {
		t.Fatalf("%d submitted, %d running, %d clusters", len(d.Submitted), len(d.Running()), d.LiveClusters())
	}
	if max := testTTL + testTTL/4 + time.Second; took > max {
		t.Errorf("taken over after %s, want within %s", took, max)
	}
	t.Logf("operation resumed and finished %s after its replica died (lease TTL %s)", took.Round(time.Millisecond), testTTL)
}

// A replica paused in the middle of a step (it stops renewing, then wakes
// up long after its lease expired) makes no driver call and no write once
// it wakes: the other replica has finished the operation, with one job.
func TestReplicas_PausedReplicaIsFenced(t *testing.T) {
	url := pgtest.Need(t).NewDatabase(t)
	d := mock.NewClusterDriver()
	code := mock.NewCodeStore(bucket + "/app-1.20.jar")
	paused, wake, woke := make(chan struct{}), make(chan struct{}), make(chan struct{})
	var once sync.Once
	var a *replica
	a = newReplica(t, url, "A", d, code, func(ctx context.Context, op *flinkplane.Operation, step string) error {
		if step == engine.StepSubmit {
			first := false
			once.Do(func() { first = true })
			if first {
				a.leases.cut.Store(true)
				a.driver.armed.Store(true)
				close(paused)
				<-wake // paused: deaf to its context
				defer close(woke)
			}
		}
		return nil
	})
	var wakeOnce sync.Once
	t.Cleanup(func() { wakeOnce.Do(func() { close(wake) }) })
	createApp(t, a.e, "app")
	id, err := a.e.StartApplication(ctx, "app", engine.StartInput{})
	if err != nil {
		t.Fatal(err)
	}
	<-paused
	b := newReplica(t, url, "B", d, code, nil) // after A took the operation
	op := waitOp(t, b.db, "app", id, 10*testTTL)
	if op.Status != flinkplane.OperationSuccessful {
		t.Fatalf("operation %+v", op)
	}
	wakeOnce.Do(func() { close(wake) })
	<-woke
	time.Sleep(200 * time.Millisecond) // what A would do after waking
	a.driver.mu.Lock()
	calls := a.driver.calls
	a.driver.mu.Unlock()
	if len(calls) != 0 {
		t.Fatalf("the paused replica acted on the cluster after losing its lease: %v", calls)
	}
	if len(d.Submitted) != 1 || len(d.Running()) != 1 || d.LiveClusters() != 1 {
		t.Fatalf("%d submitted, %d running, %d clusters", len(d.Submitted), len(d.Running()), d.LiveClusters())
	}
	var got *flinkplane.Operation
	b.db.View(ctx, func(tx flinkplane.Tx) (err error) { got, err = tx.Operation("app", id); return err })
	if got.Status != flinkplane.OperationSuccessful || got.JobID != op.JobID {
		t.Fatalf("the operation changed after the paused replica woke: %+v", got)
	}
}

// An operation created through one replica for an application another
// replica drives (its watch holds the lease) is started by the holder:
// woken by NOTIFY within milliseconds, or by its poll within TTL/4.
func TestReplicas_OperationOnAnotherReplica(t *testing.T) {
	t.Run("Notify", func(t *testing.T) { testOperationOnAnotherReplica(t, true) })
	t.Run("Poll", func(t *testing.T) { testOperationOnAnotherReplica(t, false) })
}

func testOperationOnAnotherReplica(t *testing.T, wake bool) {
	url := pgtest.Need(t).NewDatabase(t)
	d := mock.NewClusterDriver()
	code := mock.NewCodeStore(bucket + "/app-1.20.jar")
	a := newReplicaWake(t, url, "A", d, code, nil, wake)
	b := newReplicaWake(t, url, "B", d, code, nil, wake)
	createApp(t, a.e, "app")
	id, err := a.e.StartApplication(ctx, "app", engine.StartInput{})
	if err != nil {
		t.Fatal(err)
	}
	waitOp(t, a.db, "app", id, 10*time.Second)
	time.Sleep(100 * time.Millisecond) // the watch holds the lease
	if a.e.Drives("app") == b.e.Drives("app") {
		t.Fatalf("A drives: %v, B drives: %v", a.e.Drives("app"), b.e.Drives("app"))
	}
	if a.e.Drives("app") {
		a, b = b, a // a drives, b does not
	}
	a, b = b, a
	for i := 0; i < 3; i++ {
		start := time.Now()
		id, err := b.e.CreateApplicationSnapshot(ctx, "app", "s"+string(rune('0'+i)))
		if err != nil {
			t.Fatal(err)
		}
		op := waitOp(t, b.db, "app", id, 10*testTTL)
		if op.Status != flinkplane.OperationSuccessful {
			t.Fatalf("snapshot %+v", op)
		}
		t.Logf("snapshot created through one replica, run by the other: %s", time.Since(start).Round(time.Millisecond))
	}
	if b.e.Drives("app") || !a.e.Drives("app") {
		t.Fatal("the lease changed hands")
	}
}

// retryingStore runs the fn of every Update twice: first in a transaction
// that is rolled back, as a store shared by replicas does after a lost
// conflict, then for real.
type retryingStore struct{ flinkplane.Store }

var errAgain = errors.New("run again (test)")

func (s retryingStore) Update(ctx context.Context, fn func(flinkplane.Tx) error) error {
	err := s.Store.Update(ctx, func(tx flinkplane.Tx) error {
		if err := fn(tx); err != nil {
			return err
		}
		return errAgain
	})
	if !errors.Is(err, errAgain) {
		return err
	}
	return s.Store.Update(ctx, fn)
}

// The engine's transactions may run more than once (flinkplane.Store):
// a lifecycle with every Update run twice ends as it does with one run.
func TestTransactionsRunTwice(t *testing.T) {
	v := &env{t: t, dir: t.TempDir(), driver: mock.NewClusterDriver(), code: mock.NewCodeStore(bucket+"/app-1.20.jar", bucket+"/app-2.2.jar"),
		probation: -1, setup: func(e *engine.Engine) { e.Store = retryingStore{e.Store} }}
	v.open()
	t.Cleanup(v.close)
	v.create("a", nil)
	v.start("a")
	cur := int64(1)
	app, ver, id, err := v.e.UpdateApplication(ctx, "a", engine.UpdateInput{CurrentVersion: &cur, Change: upgrade})
	if err != nil {
		t.Fatal(err)
	}
	if app.VersionID != 2 || ver.VersionID != 2 {
		t.Fatalf("update returned version %d / %d", app.VersionID, ver.VersionID)
	}
	if o := v.wait("a", id); o.Status != flinkplane.OperationSuccessful {
		t.Fatalf("update %+v", o)
	}
	v.takeSnapshot("a", "s")
	_, _, rid, err := v.e.RollbackApplication(ctx, "a", 2)
	if err != nil {
		t.Fatal(err)
	}
	if o := v.wait("a", rid); o.Status != flinkplane.OperationSuccessful {
		t.Fatalf("rollback %+v", o)
	}
	sid, err := v.e.StopApplication(ctx, "a", false)
	if err != nil {
		t.Fatal(err)
	}
	if o := v.wait("a", sid); o.Status != flinkplane.OperationSuccessful {
		t.Fatalf("stop %+v", o)
	}
	if a := v.app("a"); a.Status != flinkplane.StatusReady || a.VersionID != 3 {
		t.Fatalf("application %+v", a)
	}
	if n := len(v.driver.Running()); n != 0 {
		t.Fatalf("%d jobs still running", n)
	}
}
