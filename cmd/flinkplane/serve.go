package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/awsapi"
	"github.com/flinkplane/flinkplane/awsapi/sigv4"
	"github.com/flinkplane/flinkplane/codestore"
	"github.com/flinkplane/flinkplane/console"
	"github.com/flinkplane/flinkplane/dashboard"
	"github.com/flinkplane/flinkplane/engine"
	"github.com/flinkplane/flinkplane/metrics"
	"github.com/flinkplane/flinkplane/postgres"
	"github.com/flinkplane/flinkplane/runtime"
	"github.com/flinkplane/flinkplane/sqlite"
)

func init() {
	commands["serve"] = command{summary: "serve the kinesisanalyticsv2 API", run: runServe}
}

// serveConfig is the configuration of `flinkplane serve`.
type serveConfig struct {
	Addr        string
	DataDir     string
	RuntimesDir string
	Region      string
	AccountID   string
	// Auth is "none" (accept any request) or "sigv4" (verify signatures
	// against Credentials: "AKID:SECRET[,AKID:SECRET...]").
	Auth        string
	Credentials string
	// S3Endpoint, if set, is an S3-compatible endpoint the code store
	// reads objects from (with S3AccessKey/S3SecretKey, path-style).
	S3Endpoint  string
	S3Region    string
	S3AccessKey string
	S3SecretKey string
	// S3StateBucket: with S3Endpoint, the bucket that holds every
	// application's checkpoints and savepoints (created if missing); empty
	// keeps them in the data directory.
	S3StateBucket string

	StartTimeout time.Duration
	// ClassDataSharing: the local driver maps class-data-sharing archives
	// into the cluster JVMs (runtime/local/cds.go).
	ClassDataSharing bool
	LogLevel         string
	// SuspendOnExit: at shutdown every RUNNING application is stopped with
	// a savepoint (status MAINTENANCE) and started again from it by the
	// next serve, so that no Flink process outlives the server.
	SuspendOnExit   bool
	ShutdownTimeout time.Duration

	// WatchInterval is the pause between two health polls of a running
	// application (0: no watch); HealthHistory the samples kept per
	// application.
	WatchInterval time.Duration
	HealthHistory int
	// ProbationWindow: 0 derives it from each application's checkpoint
	// interval, negative means none (flag value "auto" / "0").
	ProbationWindow time.Duration
	// AutoRollback is the default automatic rollback policy.
	AutoRollback flinkplane.AutoRollback
	// KeepSnapshotFiles: every snapshot keeps a copy of the FileSink part
	// files in progress it refers to (see docs/snapshots.md).
	KeepSnapshotFiles bool
	// MigrateState: an update whose only compatibility errors are state
	// the migration can move migrates it (tag flinkplane:migrate-state
	// per application; see docs/migrate.md).
	MigrateState bool
	// Monitoring: metrics, logs, Prometheus (monitoring.go).
	Monitoring monitoringConfig
	// HTTP limits (serve_http.go).
	HTTP httpLimits
	// CacheEntries bounds each read cache (applications, versions,
	// encoded DescribeApplication responses) by number of entries.
	CacheEntries int
	// DiskReserve is the space (bytes) kept in reserve for deletions on a
	// full disk (sqlite.DB.ReserveBytes); < 0: none.
	DiskReserve int64

	// Store is where the control plane's state lives: "" (or "sqlite")
	// for the SQLite file in the data directory, a postgres:// URL for a
	// PostgreSQL database that several replicas share (docs/replicas.md).
	Store string
	// ReplicaID names this server among the replicas of a shared store
	// ("": host name, process id and a random suffix).
	ReplicaID string
	// LeaseTTL is how long an application's lease lasts unless renewed:
	// the bound of a takeover after a replica dies (replicas.go).
	LeaseTTL time.Duration
	// Driver is "local" or "kubernetes" (Kubernetes: kubernetes.go).
	Driver     string
	Kubernetes kubernetesConfig
}

// newClusterDriver returns the cluster driver serve runs applications
// with, or nil when none is configured: then every StartApplication fails
// with InvalidApplicationConfigurationException saying no runtime is
// available. The local Flink driver is wired in here.
var newClusterDriver = func(cfg serveConfig) (flinkplane.ClusterDriver, error) { return nil, nil }

// newCompatChecker returns the compatibility checker of UpdateApplication's
// pre-flight, or nil to skip the check.
var newCompatChecker = func(cfg serveConfig) (flinkplane.CompatChecker, error) { return nil, nil }

// newSnapshotFiles returns what keeps, verifies and puts back the files
// snapshots refer to outside themselves, or nil for none. s3 is the code
// store's S3-compatible endpoint, nil without --s3-endpoint.
var newSnapshotFiles = func(cfg serveConfig, s3 *s3.Client, logger *slog.Logger) flinkplane.SnapshotFiles { return nil }

// newStateMigrator returns the state migration of updates, or nil for none.
var newStateMigrator = func(cfg serveConfig) flinkplane.StateMigrator { return nil }

func parseServe(args []string) (*serveConfig, error) {
	fs := flag.NewFlagSet("serve", flag.ContinueOnError)
	addr := stringFlag(fs, "addr", "127.0.0.1:8080", "address to listen on (HOST:PORT)")
	dataDir := stringFlag(fs, "data-dir", defaultDataDir(), "directory of the database, code store and savepoints")
	runtimesDir := stringFlag(fs, "runtimes-dir", runtime.DefaultDir(), "directory of installed Flink runtimes")
	region := stringFlag(fs, "region", "us-east-1", "region in application ARNs and SigV4 credential scopes")
	account := stringFlag(fs, "account-id", "000000000000", "account id in application ARNs")
	auth := stringFlag(fs, "auth", "none", "request authentication: none or sigv4")
	creds := stringFlag(fs, "credentials", "", "SigV4 access keys as AKID:SECRET[,AKID:SECRET...]")
	s3e := stringFlag(fs, "s3-endpoint", "", "S3-compatible endpoint URL for application code (default: local directory tree)")
	s3r := stringFlag(fs, "s3-region", "us-east-1", "region of the S3-compatible endpoint")
	s3a := stringFlag(fs, "s3-access-key", "", "access key of the S3-compatible endpoint")
	s3s := stringFlag(fs, "s3-secret-key", "", "secret key of the S3-compatible endpoint")
	s3b := stringFlag(fs, "s3-state-bucket", "flinkplane-state", "with --s3-endpoint: bucket for checkpoints and savepoints (empty: in the data directory)")
	startTimeout := intFlag(fs, "start-timeout", 300, "seconds a job may take to run with all its tasks")
	logLevel := stringFlag(fs, "log-level", "info", "log level: debug, info, warn, error")
	suspend := boolFlag(fs, "suspend-on-exit", true, "at shutdown, stop running applications with a savepoint and restart them at the next start")
	shutdownTimeout := intFlag(fs, "shutdown-timeout", 300, "seconds shutdown waits for the savepoints of running applications")
	watch := stringFlag(fs, "watch-interval", "2s", "pause between two health polls of a running application (0: no watch)")
	history := intFlag(fs, "health-history", 720, "health samples kept per application")
	probation := stringFlag(fs, "probation-window", "auto", "how long a started job must run without a restart before its operation succeeds: auto (twice the checkpoint interval, 10s to 2m) or a duration")
	autoRollback := stringFlag(fs, "auto-rollback", "off", "roll an update back when its job restarts RESTARTS times within WINDOW after it: off or RESTARTS/WINDOW, e.g. 3/5m")
	keepFiles := boolFlag(fs, "keep-snapshot-files", true, "keep with every snapshot a copy of the FileSink part files in progress it refers to")
	classData := boolFlag(fs, "class-data-sharing", true, "local driver: map a class-data-sharing archive of each runtime into the cluster JVMs (built once from the first cluster's loaded classes) to start them faster")
	migrateState := boolFlag(fs, "migrate-state", false, "migrate state the target runtime cannot restore during an update (tag flinkplane:migrate-state per application)")
	monitoring := monitoringFlags(fs)
	limits := httpLimitFlags(fs)
	reserve := intFlag(fs, "disk-reserve", sqlite.DefaultReserve>>20, "MiB kept in reserve next to the database so that applications can be deleted on a full disk")
	cacheEntries := intFlag(fs, "cache-entries", sqlite.DefaultCacheEntries, "entries of each read cache: applications, versions, DescribeApplication responses (least recently used out)")
	store, replica, leaseTTL := replicaFlags(fs)
	kube := kubernetesFlags(fs)
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	c := &serveConfig{Addr: *addr, DataDir: *dataDir, RuntimesDir: *runtimesDir, Region: *region, AccountID: *account,
		Auth: *auth, Credentials: *creds, S3Endpoint: *s3e, S3Region: *s3r, S3AccessKey: *s3a, S3SecretKey: *s3s, S3StateBucket: *s3b,
		StartTimeout: time.Duration(*startTimeout) * time.Second, LogLevel: *logLevel,
		SuspendOnExit: *suspend, ShutdownTimeout: time.Duration(*shutdownTimeout) * time.Second, HealthHistory: *history,
		KeepSnapshotFiles: *keepFiles, ClassDataSharing: *classData, HTTP: limits(), CacheEntries: *cacheEntries, DiskReserve: int64(*reserve) << 20,
		Store: *store, ReplicaID: *replica, MigrateState: *migrateState}
	c.Monitoring = monitoring()
	var err error
	if c.Driver, c.Kubernetes, err = kube(); err != nil {
		return nil, err
	}
	if c.WatchInterval, err = flinkplane.ParseWindow(*watch); err != nil {
		return nil, fmt.Errorf("--watch-interval: %s", flinkplane.ErrorMessage(err))
	}
	if c.ProbationWindow, err = parseProbation(*probation); err != nil {
		return nil, err
	}
	if c.AutoRollback, err = flinkplane.ParseAutoRollback(*autoRollback); err != nil {
		return nil, fmt.Errorf("--auto-rollback: %s", flinkplane.ErrorMessage(err))
	}
	if c.LeaseTTL, err = flinkplane.ParseWindow(*leaseTTL); err != nil || c.LeaseTTL < time.Second {
		return nil, fmt.Errorf("--lease-ttl must be a duration of at least 1s, not %q", *leaseTTL)
	}
	return c, c.check()
}

// parseProbation parses --probation-window: "auto" (0: derived from the
// checkpoint interval), "0" (no window: -1) or a duration.
func parseProbation(s string) (time.Duration, error) {
	if strings.EqualFold(strings.TrimSpace(s), "auto") {
		return 0, nil
	}
	d, err := flinkplane.ParseWindow(s)
	if err != nil {
		return 0, fmt.Errorf("--probation-window: %s", flinkplane.ErrorMessage(err))
	}
	if d == 0 {
		return -1, nil
	}
	return d, nil
}

func (c *serveConfig) check() error {
	switch c.Auth {
	case "none":
	case "sigv4":
		if _, err := parseCredentials(c.Credentials); err != nil {
			return err
		}
	default:
		return fmt.Errorf("--auth must be none or sigv4, not %q", c.Auth)
	}
	return checkStore(c.Store)
}

func parseCredentials(s string) (map[string]string, error) {
	m := map[string]string{}
	for _, pair := range strings.Split(s, ",") {
		pair = strings.TrimSpace(pair)
		if pair == "" {
			continue
		}
		id, secret, ok := strings.Cut(pair, ":")
		if !ok || id == "" || secret == "" {
			return nil, fmt.Errorf("--credentials: %q is not AKID:SECRET", pair)
		}
		m[id] = secret
	}
	if len(m) == 0 {
		return nil, errors.New("--auth sigv4 needs --credentials AKID:SECRET (or FLINKPLANE_CREDENTIALS)")
	}
	return m, nil
}

func runServe(ctx context.Context, args []string) error {
	cfg, err := parseServe(args)
	if err != nil {
		return err
	}
	m := NewMain()
	m.Config = *cfg
	if err := m.Run(ctx); err != nil {
		return err
	}
	m.Logger.Info("serving the kinesisanalyticsv2 API", "url", m.URL(), "console", m.URL()+console.Prefix, "data-dir", cfg.DataDir, "auth", cfg.Auth)
	<-ctx.Done()
	m.Logger.Info("shutting down")
	return m.Close()
}

// Main is the running server: the store, the engine and the HTTP API.
// Tests start it on 127.0.0.1:0 with a temporary data directory.
type Main struct {
	Config serveConfig
	// Driver and Compat, if set, are used instead of newClusterDriver and
	// newCompatChecker.
	Driver flinkplane.ClusterDriver
	Compat flinkplane.CompatChecker
	// PollInterval of the engine (default 1s).
	PollInterval time.Duration
	// StepFault, if set, is the engine's fault-injection hook (tests).
	StepFault func(ctx context.Context, op *flinkplane.Operation, step string) error
	Logger    *slog.Logger

	// DB is the store: *sqlite.DB or *postgres.DB (--store).
	DB     storeDB
	Engine *engine.Engine
	Server *awsapi.Server
	// Metrics is the watch's MetricsRecorder (monitoring.go).
	Metrics *metrics.Collector

	driver flinkplane.ClusterDriver
	mon    monitoring
	lock   *os.File
	ln     net.Listener
	// mux routes every path the server answers: the API at "/"; other
	// routes are added next to it in Run, and all of them are served
	// within the same connection limits and timeouts (serve_http.go).
	mux  *http.ServeMux
	http *http.Server
}

// NewMain returns a Main with the default configuration.
func NewMain() *Main {
	return &Main{
		Config: serveConfig{Addr: "127.0.0.1:8080", DataDir: defaultDataDir(), RuntimesDir: runtime.DefaultDir(),
			Region: "us-east-1", AccountID: "000000000000", Auth: "none", StartTimeout: 5 * time.Minute, LogLevel: "info",
			SuspendOnExit: true, ShutdownTimeout: 5 * time.Minute, WatchInterval: 2 * time.Second, HealthHistory: 720,
			KeepSnapshotFiles: true, ClassDataSharing: true, Monitoring: defaultMonitoring(),
			HTTP: defaultHTTPLimits(), CacheEntries: sqlite.DefaultCacheEntries, DiskReserve: sqlite.DefaultReserve,
			LeaseTTL: engine.DefaultLeaseTTL, Driver: "local", Kubernetes: defaultKubernetesConfig()},
		PollInterval: time.Second,
	}
}

// Run opens the data directory, resumes operations in progress and starts
// serving; it returns once the listener is open.
func (m *Main) Run(ctx context.Context) (err error) {
	defer func() {
		if err != nil {
			m.Close()
		}
	}()
	c := &m.Config
	if err := c.check(); err != nil {
		return err
	}
	if m.Logger == nil {
		var lvl slog.Level
		lvl.UnmarshalText([]byte(c.LogLevel))
		m.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	}
	if err := os.MkdirAll(c.DataDir, 0o755); err != nil {
		return fmt.Errorf("create data directory: %w", err)
	}
	shared := isPostgres(c.Store)
	if m.lock, err = lockDir(c.DataDir, shared); err != nil {
		return err
	}
	if shared {
		db := postgres.New(c.Store)
		db.Logger = m.Logger
		if err := db.Open(); err != nil {
			return err
		}
		m.DB = db
	} else {
		db := sqlite.New(c.DataDir)
		db.CacheEntries = c.CacheEntries
		db.ReserveBytes = c.DiskReserve
		if c.DiskReserve == 0 {
			db.ReserveBytes = -1
		}
		if err := db.Open(); err != nil {
			return err
		}
		m.DB = db
	}
	code := codestore.New(filepath.Join(c.DataDir, "code"))
	if c.S3Endpoint != "" {
		code.S3 = s3.New(s3.Options{
			Region:       c.S3Region,
			BaseEndpoint: aws.String(c.S3Endpoint),
			UsePathStyle: true,
			Credentials:  credentials.NewStaticCredentialsProvider(c.S3AccessKey, c.S3SecretKey, ""),
		})
	}
	driver := m.Driver
	if driver == nil {
		if driver, err = newClusterDriver(*c); err != nil {
			return fmt.Errorf("cluster driver: %w", err)
		}
	}
	m.driver = driver
	compat := m.Compat
	if compat == nil {
		if compat, err = newCompatChecker(*c); err != nil {
			return fmt.Errorf("compatibility checker: %w", err)
		}
	}
	routeDriverLogs(driver, compat, m.Logger)
	store, err := m.openMonitoring()
	if err != nil {
		return err
	}
	e := engine.New(store, driver)
	e.Code = code
	e.Compat = compat
	if jc, ok := compat.(flinkplane.JobCompiler); ok {
		e.Compiler = jc // the dry compile: every job is built by flinkplane before it runs
	}
	e.GraphDir = filepath.Join(c.DataDir, "jobgraphs")
	e.Files = newSnapshotFiles(*c, code.S3, m.Logger)
	e.Migrator, e.MigrateState = newStateMigrator(*c), c.MigrateState
	if m.Metrics != nil {
		e.Metrics = m.Metrics
	}
	e.SavepointDir = filepath.Join(c.DataDir, "savepoints")
	if sr, ok := driver.(interface{ SavepointRoot() string }); ok {
		e.SavepointDir = sr.SavepointRoot() // the driver's storage (an s3p:// URI with S3 state storage)
	}
	e.Logger = m.Logger
	e.StartTimeout = c.StartTimeout
	e.WatchInterval = c.WatchInterval
	if c.HealthHistory > 0 {
		e.HealthHistory = c.HealthHistory
	}
	e.ProbationWindow = c.ProbationWindow
	e.AutoRollback = c.AutoRollback
	if m.PollInterval > 0 {
		e.PollInterval = m.PollInterval
	}
	e.StepFault = m.StepFault
	m.configureLeases(e)
	if err := e.Open(); err != nil {
		return err
	}
	m.Engine = e
	m.Server = awsapi.NewServer(e, c.Region, c.AccountID)
	m.Server.Logger = m.Logger
	m.Server.SetCacheEntries(c.CacheEntries)
	if c.Auth == "sigv4" {
		creds, _ := parseCredentials(c.Credentials)
		m.Server.Verifier = sigv4.New(creds, c.Region)
	}
	if err := m.serveMonitoring(); err != nil {
		return err
	}
	m.Server.Admission = awsapi.NewAdmission(c.HTTP.MaxBodyMemory)
	if m.ln, err = net.Listen("tcp", c.Addr); err != nil {
		return fmt.Errorf("listen: %w", err)
	}
	m.warnExposure()
	m.mux = http.NewServeMux()
	m.mux.Handle("/", m.handler())
	m.mux.Handle(dashboard.Prefix, m.newDashboard())
	m.mux.Handle(console.Prefix, console.New(console.Config{Auth: c.Auth, Region: c.Region}))
	m.http = m.newHTTPServer(m.mux)
	go m.http.Serve(m.limitListener(m.ln))
	return nil
}

// URL returns the endpoint URL, e.g. http://127.0.0.1:8080.
func (m *Main) URL() string {
	if m.ln == nil {
		return ""
	}
	return "http://" + m.ln.Addr().String()
}

// Close stops serving and closes the engine and the store. Operations in
// progress stay IN_PROGRESS and are resumed by the next Run.
func (m *Main) Close() error {
	var errs []error
	if m.http != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		errs = append(errs, m.http.Shutdown(ctx))
		cancel()
		m.http = nil
	}
	if m.Engine != nil {
		if m.Config.SuspendOnExit && !m.Engine.SharedStore() {
			ctx, cancel := context.WithTimeout(context.Background(), m.Config.ShutdownTimeout)
			if err := m.Engine.Shutdown(ctx); err != nil {
				m.Logger.Error("cannot suspend every running application", "error", err)
			}
			cancel()
		}
		errs = append(errs, m.Engine.Close())
		m.Engine = nil
	}
	errs = append(errs, m.closeMonitoring())
	if c, ok := m.driver.(io.Closer); ok {
		errs = append(errs, c.Close())
	}
	m.driver = nil
	if m.DB != nil {
		errs = append(errs, m.DB.Close())
		m.DB = nil
	}
	if m.lock != nil {
		m.lock.Close()
		m.lock = nil
	}
	return errors.Join(errs...)
}

// lockDir locks the data directory, so that two servers never drive the
// same applications: exclusively for a server of its own (SQLite), shared
// by the replicas of a PostgreSQL store (their leases say who drives
// what), which keeps a SQLite server out while they run and vice versa.
func lockDir(dir string, shared bool) (*os.File, error) {
	f, err := os.OpenFile(filepath.Join(dir, "LOCK"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, fmt.Errorf("lock data directory: %w", err)
	}
	how := syscall.LOCK_EX
	if shared {
		how = syscall.LOCK_SH
	}
	if err := syscall.Flock(int(f.Fd()), how|syscall.LOCK_NB); err != nil {
		f.Close()
		if shared {
			return nil, fmt.Errorf("data directory %s is in use by a flinkplane server with its own (SQLite) store", dir)
		}
		return nil, fmt.Errorf("data directory %s is in use by another flinkplane server", dir)
	}
	return f, nil
}
