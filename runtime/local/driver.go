// Package local implements flinkplane.ClusterDriver with Flink standalone
// session clusters run as child processes of the control plane: one
// JobManager (StandaloneSessionClusterEntrypoint) and
// ceil(Parallelism/ParallelismPerKPU) TaskManagers per cluster, started from
// an installed runtime's classpath (see package runtime), jobs submitted
// through the REST API (jar upload + run).
//
// Layout under the data directory:
//
//	clusters/<ApplicationID>/<cluster-id>/      one cluster
//	    cluster.json                            the handle and the spec (ports, sizes)
//	    conf/config.yaml (flink-conf.yaml < 1.19), conf/log4j.properties,
//	    conf/application_properties.json        EnvironmentProperties, AWS JSON shape
//	    log/jobmanager.log, .out; taskmanager-<n>.log, .out
//	    jobmanager.pid, taskmanager-<n>.pid
//	    jars/                                   user jars as submitted (with config.properties)
//	    tmp/                                    io.tmp.dirs, web upload dir
//	checkpoints/<ApplicationID>/<cluster-id>/   execution.checkpointing.dir
//	savepoints/<ApplicationID>/                 default savepoint target; outlives clusters
//
// Every JVM carries -Dflinkplane.cluster=<cluster-id> and
// -Dflinkplane.data-dir=<data-dir> on its command line, and all JVMs of one
// cluster share one process group (the JobManager's pid). Stop kills the
// group; Adopt checks the pid files against /proc/<pid>/cmdline and the
// REST endpoint; Sweep kills every JVM of this data directory that belongs
// to no owned cluster.
package local

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/runtime"

	"github.com/flinkplane/flinkplane/internal/atomicfile"
)

var _ flinkplane.ClusterDriver = (*Driver)(nil)

// Driver runs Flink clusters as child processes. Configure the exported
// fields after New and before use.
type Driver struct {
	// DataDir holds clusters, checkpoints and savepoints.
	DataDir string
	// RuntimesDir holds installed runtimes.
	RuntimesDir string
	// Java is the java executable (default: $JAVA_HOME/bin/java or java).
	Java string
	// Memory sizes; see docs/runtimes.md.
	JobManagerHeap, TaskManagerTaskHeap string
	// StartTimeout bounds Start (JVMs up and every TaskManager registered).
	StartTimeout time.Duration
	// StopTimeout is how long Stop waits after SIGTERM before SIGKILL.
	StopTimeout time.Duration
	// MaxTaskManagers bounds ceil(Parallelism/ParallelismPerKPU) per
	// cluster (default 16): each TaskManager is a JVM on this machine.
	MaxTaskManagers int
	// ExtraConfig is added to every cluster's configuration (e.g.
	// restart-strategy.type).
	ExtraConfig map[string]string
	// Storage, if set, holds checkpoints and savepoints in an S3-compatible
	// endpoint instead of the data directory.
	Storage *S3Storage
	// ExtraJVMArgs are added to every JVM's command line.
	ExtraJVMArgs []string
	// ClassDataDir holds the class-data-sharing archives of the cluster
	// JVMs (cds.go); empty: no class data sharing. Default: .cds in the
	// runtimes directory.
	ClassDataDir string
	// Logf logs progress; nil: log.Printf.
	Logf func(format string, args ...any)

	mu          sync.Mutex
	javaVersion int
	children    map[int]*child // processes started by this driver, by pid
	submitting  map[string]*sync.Mutex
	transports  map[string]*http.Transport // mutual-TLS REST transports, by cluster id (tls.go)
	cdsBuilds   sync.WaitGroup             // class data archives being built (cds.go)
}

// clusterLock serialises submissions to one cluster, so that two
// concurrent Submits cannot both see an idle cluster.
func (d *Driver) clusterLock(id string) *sync.Mutex {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.submitting == nil {
		d.submitting = map[string]*sync.Mutex{}
	}
	m := d.submitting[id]
	if m == nil {
		m = &sync.Mutex{}
		d.submitting[id] = m
	}
	return m
}

type child struct {
	cmd  *exec.Cmd
	role string
	done chan struct{}
}

// New returns a Driver with defaults set.
func New(dataDir, runtimesDir string) *Driver {
	return &Driver{
		DataDir:             dataDir,
		RuntimesDir:         runtimesDir,
		Java:                runtime.JavaCommand(),
		JobManagerHeap:      "256m",
		TaskManagerTaskHeap: "192m",
		StartTimeout:        3 * time.Minute,
		StopTimeout:         15 * time.Second,
		MaxTaskManagers:     16,
		ExtraJVMArgs:        []string{"-XX:+UseSerialGC"},
		ClassDataDir:        filepath.Join(runtimesDir, ".cds"),
		children:            map[int]*child{},
	}
}

func (d *Driver) logf(format string, args ...any) {
	if d.Logf != nil {
		d.Logf(format, args...)
		return
	}
	log.Printf(format, args...)
}

// Ready returns nil if the runtime is installed and the configured Java can
// run it, else EINVALIDCONFIG saying how to install it.
func (d *Driver) Ready(id flinkplane.RuntimeID) error {
	_, err := d.manifest(id)
	return err
}

func (d *Driver) manifest(id flinkplane.RuntimeID) (runtime.Manifest, error) {
	d.mu.Lock()
	jv := d.javaVersion
	d.mu.Unlock()
	if jv == 0 {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		v, err := runtime.JavaVersion(ctx, d.Java)
		if err != nil {
			return runtime.Manifest{}, flinkplane.Errorf(flinkplane.EINVALIDCONFIG, "Java is not usable (%v); install Java 17.", err)
		}
		d.mu.Lock()
		d.javaVersion, jv = v, v
		d.mu.Unlock()
	}
	return runtime.Check(d.RuntimesDir, id, jv)
}

// clusterInfo is cluster.json.
type clusterInfo struct {
	Handle       flinkplane.ClusterHandle `json:"handle"`
	Application  string                   `json:"applicationId"`
	FlinkVersion string                   `json:"flinkVersion"`
	RESTPort     int                      `json:"restPort"`
	RPCPort      int                      `json:"rpcPort"`
	BlobPort     int                      `json:"blobPort"`
	TaskManagers int                      `json:"taskManagers"`
	Slots        int                      `json:"slotsPerTaskManager"`
	SavepointDir string                   `json:"savepointDir"`
	Started      time.Time                `json:"started"`
}

func newClusterID() string {
	b := make([]byte, 6)
	rand.Read(b)
	return "fc-" + hex.EncodeToString(b)
}

// SavepointRoot is the directory (or s3p:// URI) under which each
// application's savepoints are kept, one directory per application id.
func (d *Driver) SavepointRoot() string {
	if d.Storage != nil {
		return s3Scheme + d.Storage.Bucket + "/savepoints"
	}
	return filepath.Join(d.DataDir, "savepoints")
}

// SavepointDir returns the default savepoint directory of an application:
// a path under the data directory, or an s3p:// URI with Storage.
func (d *Driver) SavepointDir(applicationID string) string {
	if d.Storage != nil {
		return d.Storage.savepointDir(applicationID)
	}
	return filepath.Join(d.DataDir, "savepoints", applicationID)
}

// Start starts a cluster for spec and waits until its REST endpoint answers
// and every TaskManager has registered. On failure every process it started
// is stopped and the error carries the tail of the JobManager log.
func (d *Driver) Start(ctx context.Context, spec flinkplane.ClusterSpec) (flinkplane.ClusterHandle, error) {
	m, err := d.manifest(spec.Runtime)
	if err != nil {
		return flinkplane.ClusterHandle{}, err
	}
	if spec.ApplicationID == "" || strings.ContainsAny(spec.ApplicationID, "/\\") || strings.HasPrefix(spec.ApplicationID, ".") {
		return flinkplane.ClusterHandle{}, flinkplane.Errorf(flinkplane.EINVALID, "Invalid application id %q.", spec.ApplicationID)
	}
	if tms := taskManagers(spec); d.MaxTaskManagers > 0 && tms > d.MaxTaskManagers {
		return flinkplane.ClusterHandle{}, flinkplane.Errorf(flinkplane.ELIMIT,
			"Parallelism %d with ParallelismPerKPU %d needs %d TaskManagers; this service runs at most %d per application.",
			spec.Parallelism, spec.ParallelismPerKPU, tms, d.MaxTaskManagers)
	}
	cp, err := runtime.Classpath(d.RuntimesDir, m)
	if err != nil {
		return flinkplane.ClusterHandle{}, err
	}
	var lastErr error
	for attempt := 0; attempt < 2; attempt++ { // a second try with fresh ports
		h, err := d.start(ctx, spec, m, cp)
		if err == nil {
			return h, nil
		}
		lastErr = err
		if !errors.Is(err, errPortInUse) || ctx.Err() != nil {
			break
		}
	}
	return flinkplane.ClusterHandle{}, lastErr
}

var errPortInUse = errors.New("port in use")

// sizes returns the default parallelism, the slots per TaskManager
// (ParallelismPerKPU) and the number of TaskManagers of a cluster.
func sizes(spec flinkplane.ClusterSpec) (parallelism, slots, taskManagers int) {
	slots = max(spec.ParallelismPerKPU, 1)
	parallelism = max(spec.Parallelism, 1)
	return parallelism, slots, (parallelism + slots - 1) / slots
}

func taskManagers(spec flinkplane.ClusterSpec) int {
	_, _, tms := sizes(spec)
	return tms
}

func (d *Driver) start(ctx context.Context, spec flinkplane.ClusterSpec, m runtime.Manifest, cp []string) (flinkplane.ClusterHandle, error) {
	id := newClusterID()
	dir := filepath.Join(d.DataDir, "clusters", spec.ApplicationID, id)
	for _, sub := range []string{"conf", "log", "jars", "tmp"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return flinkplane.ClusterHandle{}, err
		}
	}
	ports, err := freePorts(3)
	if err != nil {
		return flinkplane.ClusterHandle{}, err
	}
	password, err := newRESTTLS(dir, id)
	if err != nil {
		return flinkplane.ClusterHandle{}, fmt.Errorf("cluster TLS key: %w", err)
	}
	par, slots, tms := sizes(spec)
	info := clusterInfo{
		Application:  spec.ApplicationID,
		FlinkVersion: m.FlinkVersion,
		RESTPort:     ports[0], RPCPort: ports[1], BlobPort: ports[2],
		TaskManagers: tms, Slots: slots,
		SavepointDir: d.SavepointDir(spec.ApplicationID),
		Started:      time.Now().UTC(),
	}
	h := flinkplane.ClusterHandle{
		ID:      id,
		Runtime: spec.Runtime,
		RESTURL: fmt.Sprintf("https://127.0.0.1:%d", info.RESTPort),
		Dir:     dir,
	}
	cfg := d.clusterConfig(spec, info, dir, par)
	restSecurityConfig(cfg, dir, password)
	if err := writeConfig(dir, spec.Runtime, cfg); err != nil {
		return h, err
	}
	if err := os.WriteFile(filepath.Join(dir, "conf", "log4j.properties"), []byte(log4jProperties), 0o644); err != nil {
		return h, err
	}
	if err := writeApplicationProperties(filepath.Join(dir, "conf", propertiesFile), spec.Properties); err != nil {
		return h, err
	}
	for _, sub := range []string{filepath.Join(d.DataDir, "checkpoints", spec.ApplicationID, id), info.SavepointDir} {
		if d.Storage != nil {
			break // in S3: nothing to create
		}
		if err := os.MkdirAll(sub, 0o755); err != nil {
			return h, err
		}
	}
	info.Handle = h
	if err := writeInfo(dir, info); err != nil {
		return h, err
	}

	d.logf("local: starting cluster %s (%s, Flink %s) for %s: %d TaskManager(s) × %d slot(s), REST %s",
		id, spec.Runtime, m.FlinkVersion, spec.ApplicationID, tms, slots, h.RESTURL)
	fail := func(err error) (flinkplane.ClusterHandle, error) {
		sctx, cancel := context.WithTimeout(context.Background(), d.StopTimeout+10*time.Second)
		defer cancel()
		d.Stop(sctx, h)
		var tails strings.Builder
		for _, f := range []string{"jobmanager.out", "jobmanager.log", "taskmanager-0.out"} {
			if t := logTail(filepath.Join(dir, "log", f), 3000); strings.TrimSpace(t) != "" {
				fmt.Fprintf(&tails, "\n--- %s (tail) ---\n%s", f, t)
			}
		}
		if strings.Contains(tails.String(), "Address already in use") || strings.Contains(tails.String(), "BindException") {
			return h, fmt.Errorf("start cluster %s: %w: %v", id, errPortInUse, err)
		}
		return h, fmt.Errorf("start cluster %s (logs in %s): %w%s", id, filepath.Join(dir, "log"), err, tails.String())
	}
	jm, err := d.launch(h, cp, "jobmanager", "org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint", d.jmJVMArgs(), 0)
	if err != nil {
		return fail(err)
	}
	h.PIDs = append(h.PIDs, jm)
	for i := 0; i < tms; i++ {
		pid, err := d.launch(h, cp, fmt.Sprintf("taskmanager-%d", i), "org.apache.flink.runtime.taskexecutor.TaskManagerRunner", d.tmJVMArgs(slots), jm)
		if err != nil {
			return fail(err)
		}
		h.PIDs = append(h.PIDs, pid)
	}
	info.Handle = h
	if err := writeInfo(dir, info); err != nil {
		return fail(err)
	}
	if err := d.waitReady(ctx, h, tms, tms*slots); err != nil {
		return fail(err)
	}
	d.logf("local: cluster %s ready", id)
	return h, nil
}

// waitReady polls /overview until tms TaskManagers have registered with
// all their slots, failing early when a process of the cluster exits.
func (d *Driver) waitReady(ctx context.Context, h flinkplane.ClusterHandle, tms, slots int) error {
	ctx, cancel := context.WithTimeout(ctx, d.StartTimeout)
	defer cancel()
	c, err := d.RESTClient(h, 5*time.Second)
	if err != nil {
		return err
	}
	for {
		for _, pid := range h.PIDs {
			if d.exited(pid) {
				return fmt.Errorf("%s", d.exitReport(pid))
			}
		}
		if ov, err := c.Overview(ctx); err == nil && ov.TaskManagers >= tms && ov.SlotsTotal >= slots {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("cluster not ready: %w", ctx.Err())
		case <-time.After(300 * time.Millisecond):
		}
	}
}

// Adopt reports whether a stored cluster still runs and belongs to this
// data directory: every pid file names a live process whose command line
// carries the cluster id, and the REST endpoint answers. A cluster that is
// only partly alive is stopped and reported dead.
func (d *Driver) Adopt(ctx context.Context, h flinkplane.ClusterHandle) (bool, error) {
	if h.Dir == "" || h.ID == "" {
		return false, nil
	}
	pids := d.clusterPIDs(h)
	if len(pids) == 0 {
		return false, nil
	}
	alive := 0
	for _, pid := range pids {
		if processMatches(pid, markerCluster(h.ID)) {
			alive++
		}
	}
	if alive == 0 {
		return false, nil
	}
	if alive == len(pids) {
		if c, err := d.RESTClient(h, 5*time.Second); err == nil {
			if _, err := c.Overview(ctx); err == nil {
				return true, nil
			}
		}
	}
	d.logf("local: cluster %s is only partly alive (%d of %d processes); stopping it", h.ID, alive, len(pids))
	return false, d.Stop(ctx, h)
}

// Stop ends every process of the cluster: SIGTERM to its process group and
// to each process, SIGKILL after StopTimeout. Stopping a stopped cluster is
// not an error. Logs and the cluster directory are kept.
func (d *Driver) Stop(ctx context.Context, h flinkplane.ClusterHandle) error {
	if h.ID == "" {
		return nil
	}
	d.mu.Lock()
	delete(d.submitting, h.ID)
	d.mu.Unlock()
	d.dropTransport(h.ID)
	marker := markerCluster(h.ID)
	pids := d.clusterPIDs(h)
	// Also any process carrying the marker whose pid file was not written.
	for _, p := range findProcesses(markerDataDir(d.DataDir)) {
		if p.cluster == h.ID {
			pids = appendUnique(pids, p.pid)
		}
	}
	var live []int
	for _, pid := range pids {
		if processMatches(pid, marker) {
			live = append(live, pid)
		}
	}
	if len(live) == 0 {
		d.reap(pids)
		d.cdsStopped(h.ID)
		return nil
	}
	d.logf("local: stopping cluster %s (pids %v)", h.ID, live)
	signalAll(live, marker, false)
	deadline := time.Now().Add(d.StopTimeout)
	for time.Now().Before(deadline) {
		if !anyMatches(live, marker) {
			d.reap(live)
			d.cdsStopped(h.ID)
			return nil
		}
		select {
		case <-ctx.Done():
			deadline = time.Now()
		case <-time.After(200 * time.Millisecond):
		}
	}
	signalAll(live, marker, true)
	for i := 0; i < 50 && anyMatches(live, marker); i++ {
		time.Sleep(100 * time.Millisecond)
	}
	d.reap(live)
	if anyMatches(live, marker) {
		return fmt.Errorf("stop cluster %s: processes survive SIGKILL", h.ID)
	}
	d.cdsStopped(h.ID)
	return nil
}

// StopAll stops every cluster of this data directory (for server
// shutdown).
func (d *Driver) StopAll(ctx context.Context) error {
	var errs []error
	clusters := map[string]bool{}
	for _, p := range findProcesses(markerDataDir(d.DataDir)) {
		clusters[p.cluster] = true
	}
	for id := range clusters {
		if err := d.Stop(ctx, flinkplane.ClusterHandle{ID: id}); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// Sweep kills every JVM started for this data directory that does not
// belong to one of the owned clusters, and returns the ids of the clusters
// it stopped. Run it at server start after re-adopting the stored handles.
func (d *Driver) Sweep(ctx context.Context, owned []flinkplane.ClusterHandle) ([]string, error) {
	keep := map[string]bool{}
	for _, h := range owned {
		keep[h.ID] = true
	}
	orphans := map[string]bool{}
	for _, p := range findProcesses(markerDataDir(d.DataDir)) {
		if !keep[p.cluster] {
			orphans[p.cluster] = true
		}
	}
	var stopped []string
	var errs []error
	for id := range orphans {
		d.logf("local: sweeping orphan cluster %s", id)
		if err := d.Stop(ctx, flinkplane.ClusterHandle{ID: id}); err != nil {
			errs = append(errs, err)
		}
		stopped = append(stopped, id)
	}
	return stopped, errors.Join(errs...)
}

// clusterPIDs returns the pids of the pid files in the cluster's directory
// or, when there are none, those of the handle. The pid files are the
// truth: a replaced TaskManager rewrites its file, while a stored handle
// may still name the dead process.
func (d *Driver) clusterPIDs(h flinkplane.ClusterHandle) []int {
	var pids []int
	if h.Dir != "" {
		files, _ := filepath.Glob(filepath.Join(h.Dir, "*.pid"))
		for _, f := range files {
			if pid, err := readPID(f); err == nil {
				pids = appendUnique(pids, pid)
			}
		}
	}
	if len(pids) == 0 {
		pids = append(pids, h.PIDs...)
	}
	return pids
}

func appendUnique(s []int, v int) []int {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

func writeInfo(dir string, info clusterInfo) error {
	b, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return err
	}
	return atomicfile.WriteFile(filepath.Join(dir, "cluster.json"), append(b, '\n'), 0o644)
}

func readInfo(dir string) (clusterInfo, error) {
	var info clusterInfo
	b, err := os.ReadFile(filepath.Join(dir, "cluster.json"))
	if err != nil {
		return info, err
	}
	return info, json.Unmarshal(b, &info)
}

func logTail(path string, n int64) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return ""
	}
	if st.Size() > n {
		f.Seek(st.Size()-n, io.SeekStart)
	}
	b, _ := io.ReadAll(f)
	return string(b)
}

// RemoveApplication stops every cluster of an application and removes its
// cluster directories (logs included) and checkpoints. Savepoints are kept:
// they are snapshots, removed with DisposeSavepoint.
func (d *Driver) RemoveApplication(ctx context.Context, applicationID string) error {
	if applicationID == "" || strings.ContainsAny(applicationID, "/\\") || strings.HasPrefix(applicationID, ".") {
		return flinkplane.Errorf(flinkplane.EINVALID, "Invalid application id %q.", applicationID)
	}
	appDir := filepath.Join(d.DataDir, "clusters", applicationID)
	dirs, _ := filepath.Glob(filepath.Join(appDir, "*"))
	for _, dir := range dirs {
		h := flinkplane.ClusterHandle{ID: filepath.Base(dir), Dir: dir}
		if err := d.Stop(ctx, h); err != nil {
			return err
		}
	}
	if err := os.RemoveAll(appDir); err != nil {
		return err
	}
	if d.Storage != nil {
		if err := d.Storage.removePrefix(ctx, "checkpoints/"+applicationID); err != nil {
			return err
		}
	}
	return os.RemoveAll(filepath.Join(d.DataDir, "checkpoints", applicationID))
}
