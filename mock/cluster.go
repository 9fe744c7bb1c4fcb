// Package mock holds hand-written test doubles of flinkplane's interfaces:
// a recording ClusterDriver with fault injection, a code store and a
// compatibility checker.
package mock

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/flinkplane/flinkplane"
)

var _ flinkplane.ClusterDriver = (*ClusterDriver)(nil)

// ClusterDriver is a fake Flink: it records every call ("Start(FLINK-1_20)",
// "Submit", "TriggerSavepoint", ...) and keeps clusters, jobs, checkpoints
// and savepoints in memory, so that it outlives an engine like real
// processes do. Faults fail calls by name; Hold blocks them until released.
//
// Its jobs behave like Flink's, in steps of one JobHealth poll: a RUNNING
// job with all tasks running completes one checkpoint per poll (ids from
// one increasing sequence, so a restored job's checkpoints are newer than
// what it restored); a TaskManager killed with KillTaskManager goes
// unnoticed for FailoverPolls polls, then the job restarts (RESTARTING,
// numRestarts+1) and runs again once every TaskManager is alive; a killed
// JobManager makes every call on its cluster fail as a refused connection.
type ClusterDriver struct {
	mu    sync.Mutex
	calls []string

	// Faults maps a call name ("Submit", "PollSavepoint", ...) to the error
	// it returns. FailOnce entries are removed after their first use.
	Faults   map[string]error
	FailOnce map[string]bool
	// Hold maps a call name to a channel the call waits on (or its ctx).
	Hold map[string]chan struct{}
	// NotReady maps runtimes to the error Ready returns.
	NotReady map[flinkplane.RuntimeID]error
	// SavepointPolls is the number of polls after which a savepoint is done.
	SavepointPolls int
	// JobStates, if set, gives the health of a job at each poll; the last
	// entry repeats. Default: RUNNING with all tasks running. A scripted
	// RUNNING state with all tasks running still completes a checkpoint per
	// poll unless it names its own LatestCheckpoint or NoCheckpoints is set.
	JobStates []flinkplane.JobHealth
	// NoCheckpoints stops jobs from completing checkpoints.
	NoCheckpoints bool
	// FailoverPolls is the number of JobHealth polls a job keeps running
	// after one of its TaskManagers was killed, before Flink notices.
	FailoverPolls int

	n          int
	clusters   map[string]*cluster
	triggers   map[string]*trigger
	Savepoints map[string]bool // location -> exists (savepoints and retained checkpoints)
	Submitted  []flinkplane.JobSpec
	ids        map[string]int64 // location -> checkpoint id

	stateFile string
	nth       map[string]nthFault
}

type cluster struct {
	h      flinkplane.ClusterHandle
	alive  bool // not stopped
	jmDead bool
	tmDead []bool
	jobs   map[string]*job
}

// fullyAlive reports whether every process of the cluster runs.
func (c *cluster) fullyAlive() bool {
	if !c.alive || c.jmDead {
		return false
	}
	for _, d := range c.tmDead {
		if d {
			return false
		}
	}
	return true
}

type job struct {
	state     string
	polls     int
	restarts  int64
	completed int64
	latest    *flinkplane.CheckpointInfo
	restored  *flinkplane.CheckpointInfo
	cause     string
	start     time.Time
	running   time.Time
	// lost counts down the polls before Flink notices a lost TaskManager
	// (-1: nothing lost); waitTM is set while the restarted job waits for
	// the slots of a TaskManager.
	lost   int
	waitTM bool
}

type trigger struct {
	Job   string `json:"job"`
	Stop  bool   `json:"stop"`
	Polls int    `json:"polls"`
	Loc   string `json:"loc"`
}

// NewClusterDriver returns a driver whose jobs run and whose savepoints
// complete on the first poll.
func NewClusterDriver() *ClusterDriver {
	return &ClusterDriver{Faults: map[string]error{}, FailOnce: map[string]bool{}, Hold: map[string]chan struct{}{},
		NotReady: map[flinkplane.RuntimeID]error{}, clusters: map[string]*cluster{}, triggers: map[string]*trigger{},
		Savepoints: map[string]bool{}, ids: map[string]int64{}, FailoverPolls: 1}
}

// Calls returns the calls so far and forgets them.
func (d *ClusterDriver) Calls() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.calls
	d.calls = nil
	return c
}

// Fail makes the named call return err (once if once).
func (d *ClusterDriver) Fail(name string, err error, once bool) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.Faults[name] = err
	d.FailOnce[name] = once
}

// FailNth makes the n-th next call of name (1: the next one) return err,
// once.
func (d *ClusterDriver) FailNth(name string, n int, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.nth == nil {
		d.nth = map[string]nthFault{}
	}
	d.nth[name] = nthFault{n: n, err: err}
}

type nthFault struct {
	n   int
	err error
}

// HoldCall makes the named call block until the returned function is
// called.
func (d *ClusterDriver) HoldCall(name string) (release func()) {
	ch := make(chan struct{})
	d.mu.Lock()
	d.Hold[name] = ch
	d.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			d.mu.Lock()
			delete(d.Hold, name)
			d.mu.Unlock()
			close(ch)
		})
	}
}

// Running returns the ids of the jobs in state RUNNING on live clusters
// (whose JobManager is alive).
func (d *ClusterDriver) Running() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, c := range d.clusters {
		if !c.alive || c.jmDead {
			continue
		}
		for id, j := range c.jobs {
			if j.state == "RUNNING" {
				out = append(out, id)
			}
		}
	}
	return out
}

// Clusters returns the handles of every cluster the driver started.
func (d *ClusterDriver) Clusters() []flinkplane.ClusterHandle {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []flinkplane.ClusterHandle
	for _, c := range d.clusters {
		out = append(out, c.h)
	}
	return out
}

// LiveClusters returns the number of clusters not stopped (some of whose
// processes may still run).
func (d *ClusterDriver) LiveClusters() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	n := 0
	for _, c := range d.clusters {
		if c.alive {
			n++
		}
	}
	return n
}

// enter records a call and applies faults and holds.
func (d *ClusterDriver) enter(ctx context.Context, name, record string) error {
	d.mu.Lock()
	d.calls = append(d.calls, record)
	hold := d.Hold[name]
	d.mu.Unlock()
	if hold != nil {
		select {
		case <-hold:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err, ok := d.Faults[name]; ok {
		if d.FailOnce[name] {
			delete(d.Faults, name)
		}
		return err
	}
	if f, ok := d.nth[name]; ok {
		f.n--
		if f.n <= 0 {
			delete(d.nth, name)
			return f.err
		}
		d.nth[name] = f
	}
	return nil
}

func (d *ClusterDriver) Ready(runtime flinkplane.RuntimeID) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.NotReady[runtime]
}

func (d *ClusterDriver) Start(ctx context.Context, spec flinkplane.ClusterSpec) (flinkplane.ClusterHandle, error) {
	if err := d.enter(ctx, "Start", fmt.Sprintf("Start(%s)", spec.Runtime)); err != nil {
		return flinkplane.ClusterHandle{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	defer d.persist()
	d.n++
	tms := 1
	if spec.ParallelismPerKPU > 0 && spec.Parallelism > 0 {
		tms = (spec.Parallelism + spec.ParallelismPerKPU - 1) / spec.ParallelismPerKPU
	}
	h := flinkplane.ClusterHandle{ID: fmt.Sprintf("cluster-%d", d.n), Runtime: spec.Runtime, RESTURL: "http://fake"}
	for i := 0; i <= tms; i++ {
		h.PIDs = append(h.PIDs, 1000*d.n+i)
	}
	d.clusters[h.ID] = &cluster{h: h, alive: true, tmDead: make([]bool, tms), jobs: map[string]*job{}}
	return h, nil
}

// Adopt reports whether every process of the cluster is alive; a cluster
// only partly alive is stopped and reported dead (as the local driver does).
func (d *ClusterDriver) Adopt(ctx context.Context, h flinkplane.ClusterHandle) (bool, error) {
	if err := d.enter(ctx, "Adopt", "Adopt"); err != nil {
		return false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	defer d.persist()
	c := d.clusters[h.ID]
	if c == nil || !c.alive {
		return false, nil
	}
	if !c.fullyAlive() {
		d.stop(c)
		return false, nil
	}
	return true, nil
}

// errRefused is what a call to a dead JobManager gets.
func errRefused(h flinkplane.ClusterHandle) error {
	return fmt.Errorf("get %q: dial tcp: connection refused (cluster %s)", h.RESTURL, h.ID)
}

func (d *ClusterDriver) cluster(h flinkplane.ClusterHandle) (*cluster, error) {
	c := d.clusters[h.ID]
	if c == nil || !c.alive {
		return nil, fmt.Errorf("cluster %s is not running", h.ID)
	}
	if c.jmDead {
		return nil, errRefused(h)
	}
	return c, nil
}

// AddSavepoint records a savepoint written outside the driver (a state
// migration's) so that a job can be restored from it.
func (d *ClusterDriver) AddSavepoint(loc string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	defer d.persist()
	d.Savepoints[loc] = true
}

func (d *ClusterDriver) Submit(ctx context.Context, h flinkplane.ClusterHandle, spec flinkplane.JobSpec) (string, error) {
	rec := "Submit"
	if spec.RestoreFrom != "" {
		rec = "Submit(" + spec.RestoreFrom + ")"
	}
	if err := d.enter(ctx, "Submit", rec); err != nil {
		return "", err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	defer d.persist()
	c, err := d.cluster(h)
	if err != nil {
		return "", err
	}
	if spec.JobID != "" && c.jobs[spec.JobID] != nil {
		return spec.JobID, nil // a resumed submit finds its job
	}
	for id, j := range c.jobs {
		if j.state == "RUNNING" || j.state == "RESTARTING" {
			return "", fmt.Errorf("two jobs on one cluster: %s already runs", id)
		}
	}
	if spec.RestoreFrom != "" && !d.Savepoints[spec.RestoreFrom] {
		return "", fmt.Errorf("savepoint %s does not exist", spec.RestoreFrom)
	}
	id := spec.JobID
	if id == "" {
		d.n++
		id = fmt.Sprintf("%032x", d.n)
	}
	now := time.Now()
	j := &job{state: "RUNNING", start: now, running: now, lost: -1}
	if spec.RestoreFrom != "" {
		j.restored = &flinkplane.CheckpointInfo{ID: d.ids[spec.RestoreFrom], Path: spec.RestoreFrom, Time: now}
	}
	c.jobs[id] = j
	d.Submitted = append(d.Submitted, spec)
	return id, nil
}

func (d *ClusterDriver) JobHealth(ctx context.Context, h flinkplane.ClusterHandle, jobID string) (flinkplane.JobHealth, error) {
	if err := d.enter(ctx, "JobHealth", "JobHealth"); err != nil {
		return flinkplane.JobHealth{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	defer d.persist()
	c, err := d.cluster(h)
	if err != nil {
		return flinkplane.JobHealth{}, err
	}
	j := c.jobs[jobID]
	if j == nil {
		return flinkplane.JobHealth{}, flinkplane.Errorf(flinkplane.ENOTFOUND, "Job %s not found on cluster %s.", jobID, h.ID)
	}
	d.failover(c, j)
	base := flinkplane.JobHealth{State: j.state, Restarts: j.restarts, RootCause: j.cause, StartTime: j.start, Restored: j.restored}
	if j.cause != "" {
		base.Exception = &flinkplane.JobException{Time: j.running, Stacktrace: j.cause}
	}
	if j.state != "RUNNING" {
		base.CompletedCheckpoints, base.LatestCheckpoint = j.completed, j.latest
		return base, nil
	}
	s := flinkplane.JobHealth{State: "RUNNING", AllTasksRunning: true}
	if len(d.JobStates) > 0 {
		s = d.JobStates[min(j.polls, len(d.JobStates)-1)]
		j.polls++
	}
	if s.StartTime.IsZero() {
		s.StartTime = j.start
	}
	if s.RunningSince.IsZero() && s.State == "RUNNING" {
		s.RunningSince = j.running
	}
	if s.Restored == nil {
		s.Restored = j.restored
	}
	s.Restarts = max(s.Restarts, j.restarts)
	if s.RootCause == "" && j.cause != "" {
		s.RootCause, s.Exception = j.cause, base.Exception
	}
	if s.State == "RUNNING" && s.AllTasksRunning && s.LatestCheckpoint == nil && !d.NoCheckpoints {
		d.checkpoint(c, jobID, j)
	}
	if s.LatestCheckpoint == nil {
		s.LatestCheckpoint, s.CompletedCheckpoints = j.latest, max(s.CompletedCheckpoints, j.completed)
	}
	return s, nil
}

// failover applies a lost TaskManager to a job (called with d.mu held):
// the loss is noticed FailoverPolls polls after the kill (whether or not
// the TaskManager was replaced meanwhile, as with Flink's heartbeats), then
// the job restarts and runs again once every TaskManager is alive.
func (d *ClusterDriver) failover(c *cluster, j *job) {
	lost := false
	for _, dead := range c.tmDead {
		lost = lost || dead
	}
	switch {
	case j.state == "RUNNING" && j.lost >= 0:
		if j.lost > 0 {
			j.lost--
			return
		}
		j.state, j.restarts, j.lost, j.waitTM = "RESTARTING", j.restarts+1, -1, true
		j.cause = "java.util.concurrent.TimeoutException: Heartbeat of TaskManager timed out."
		if !lost {
			j.state, j.running, j.waitTM = "RUNNING", time.Now(), false
		}
	case j.state == "RESTARTING" && j.waitTM && !lost:
		j.state, j.running, j.waitTM = "RUNNING", time.Now(), false
	}
}

// checkpoint completes a checkpoint of a job (called with d.mu held).
func (d *ClusterDriver) checkpoint(c *cluster, jobID string, j *job) {
	d.n++
	loc := fmt.Sprintf("/checkpoints/%s/%s/chk-%d", c.h.ID, jobID, d.n)
	j.completed++
	j.latest = &flinkplane.CheckpointInfo{ID: int64(d.n), Path: loc, Time: time.Now(), Duration: 10 * time.Millisecond, Size: 1024}
	d.Savepoints[loc] = true
	d.ids[loc] = int64(d.n)
}

func (d *ClusterDriver) savepoint(ctx context.Context, name string, h flinkplane.ClusterHandle, jobID, dir string, stop bool) (string, error) {
	if err := d.enter(ctx, name, name); err != nil {
		return "", err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	defer d.persist()
	c, err := d.cluster(h)
	if err != nil {
		return "", err
	}
	if j := c.jobs[jobID]; j == nil || j.state != "RUNNING" {
		return "", fmt.Errorf("job %s is not running", jobID)
	}
	d.n++
	id := fmt.Sprintf("trigger-%d", d.n)
	d.triggers[id] = &trigger{Job: jobID, Stop: stop, Loc: fmt.Sprintf("%s/savepoint-%d", strings.TrimRight(dir, "/"), d.n)}
	return id, nil
}

func (d *ClusterDriver) TriggerSavepoint(ctx context.Context, h flinkplane.ClusterHandle, jobID, dir string) (string, error) {
	return d.savepoint(ctx, "TriggerSavepoint", h, jobID, dir, false)
}

func (d *ClusterDriver) StopWithSavepoint(ctx context.Context, h flinkplane.ClusterHandle, jobID, dir string) (string, error) {
	return d.savepoint(ctx, "StopWithSavepoint", h, jobID, dir, true)
}

func (d *ClusterDriver) PollSavepoint(ctx context.Context, h flinkplane.ClusterHandle, jobID, triggerID string) (flinkplane.SavepointStatus, error) {
	if err := d.enter(ctx, "PollSavepoint", "PollSavepoint"); err != nil {
		return flinkplane.SavepointStatus{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	defer d.persist()
	if c := d.clusters[h.ID]; c != nil && c.jmDead {
		return flinkplane.SavepointStatus{}, errRefused(h)
	}
	t := d.triggers[triggerID]
	if t == nil {
		return flinkplane.SavepointStatus{}, fmt.Errorf("trigger %s not found", triggerID)
	}
	t.Polls++
	if t.Polls < d.SavepointPolls {
		return flinkplane.SavepointStatus{}, nil
	}
	if !d.Savepoints[t.Loc] {
		d.Savepoints[t.Loc] = true
		id, _ := strconv.ParseInt(t.Loc[strings.LastIndex(t.Loc, "-")+1:], 10, 64)
		d.ids[t.Loc] = id
		if c := d.clusters[h.ID]; c != nil && c.jobs[t.Job] != nil {
			j := c.jobs[t.Job]
			j.latest = &flinkplane.CheckpointInfo{ID: id, Savepoint: true, Path: t.Loc, Time: time.Now()}
			if t.Stop {
				j.state = "FINISHED"
			}
		}
	}
	return flinkplane.SavepointStatus{Done: true, Location: t.Loc}, nil
}

func (d *ClusterDriver) Cancel(ctx context.Context, h flinkplane.ClusterHandle, jobID string) error {
	if err := d.enter(ctx, "Cancel", "Cancel"); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	defer d.persist()
	c := d.clusters[h.ID]
	if c != nil && c.alive && c.jmDead {
		return errRefused(h)
	}
	if c == nil || !c.alive || c.jobs[jobID] == nil {
		return flinkplane.Errorf(flinkplane.ENOTFOUND, "Job %s not found.", jobID)
	}
	if s := c.jobs[jobID].state; s == "RUNNING" || s == "RESTARTING" {
		c.jobs[jobID].state = "CANCELED"
	}
	return nil
}

// job finds a job on any cluster (called with d.mu held).
func (d *ClusterDriver) job(jobID string) (*cluster, *job) {
	for _, c := range d.clusters {
		if j := c.jobs[jobID]; j != nil {
			return c, j
		}
	}
	return nil, nil
}

// KillJob makes a job fail, as a crash of its code would.
func (d *ClusterDriver) KillJob(jobID string) {
	d.FailJob(jobID, "")
}

// FailJob makes a job reach FAILED with the given root cause (a stack
// trace text), as a job whose restart strategy gave up.
func (d *ClusterDriver) FailJob(jobID, cause string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	defer d.persist()
	if _, j := d.job(jobID); j != nil {
		j.state, j.cause = "FAILED", cause
		j.restarts++
	}
}

// RestartJob makes a running job restart once (numRestarts+1) with the
// given cause; it runs again at once, as Flink's restart strategy does.
func (d *ClusterDriver) RestartJob(jobID, cause string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	defer d.persist()
	if _, j := d.job(jobID); j != nil && j.state == "RUNNING" {
		j.restarts++
		j.cause, j.running = cause, time.Now()
	}
}

// CancelJob cancels a job from outside the control plane, as a user of
// Flink's REST API or web UI would.
func (d *ClusterDriver) CancelJob(jobID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	defer d.persist()
	if _, j := d.job(jobID); j != nil {
		j.state = "CANCELED"
	}
}

// KillJobManager kills the JobManager process of a cluster (SIGKILL): its
// TaskManagers stay, every call on the cluster fails.
func (d *ClusterDriver) KillJobManager(clusterID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	defer d.persist()
	if c := d.clusters[clusterID]; c != nil {
		c.jmDead = true
	}
}

// KillTaskManager kills TaskManager i of a cluster (SIGKILL).
func (d *ClusterDriver) KillTaskManager(clusterID string, i int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	defer d.persist()
	if c := d.clusters[clusterID]; c != nil && i < len(c.tmDead) {
		c.tmDead[i] = true
		for _, j := range c.jobs {
			if j.state == "RUNNING" && j.lost < 0 {
				j.lost = d.FailoverPolls
			}
		}
	}
}

func (d *ClusterDriver) Stop(ctx context.Context, h flinkplane.ClusterHandle) error {
	if err := d.enter(ctx, "Stop", "Stop"); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	defer d.persist()
	if c := d.clusters[h.ID]; c != nil {
		d.stop(c)
	}
	return nil
}

// stop ends every process of a cluster (called with d.mu held).
func (d *ClusterDriver) stop(c *cluster) {
	c.alive = false
	for _, j := range c.jobs {
		if j.state == "RUNNING" || j.state == "RESTARTING" {
			j.state = "CANCELED"
		}
	}
}

func (d *ClusterDriver) DisposeSavepoint(ctx context.Context, location string) error {
	if err := d.enter(ctx, "DisposeSavepoint", "DisposeSavepoint"); err != nil {
		return err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	defer d.persist()
	delete(d.Savepoints, location)
	return nil
}

// ClusterHealth reports the processes of a cluster.
func (d *ClusterDriver) ClusterHealth(ctx context.Context, h flinkplane.ClusterHandle) (flinkplane.ClusterHealth, error) {
	if err := d.enter(ctx, "ClusterHealth", "ClusterHealth"); err != nil {
		return flinkplane.ClusterHealth{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.clusters[h.ID]
	if c == nil {
		return flinkplane.ClusterHealth{Lost: []string{"jobmanager"}}, nil
	}
	ch := flinkplane.ClusterHealth{JobManagerAlive: c.alive && !c.jmDead, TaskManagers: len(c.tmDead)}
	if !ch.JobManagerAlive {
		ch.Lost = append(ch.Lost, "jobmanager")
	}
	for i, dead := range c.tmDead {
		if c.alive && !dead {
			ch.TaskManagersAlive++
		} else {
			ch.Lost = append(ch.Lost, fmt.Sprintf("taskmanager-%d", i))
		}
	}
	return ch, nil
}

// ReplaceTaskManagers starts the lost TaskManagers of a cluster again.
func (d *ClusterDriver) ReplaceTaskManagers(ctx context.Context, h flinkplane.ClusterHandle) (flinkplane.ClusterHandle, error) {
	if err := d.enter(ctx, "ReplaceTaskManagers", "ReplaceTaskManagers"); err != nil {
		return h, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	defer d.persist()
	c, err := d.cluster(h)
	if err != nil {
		return h, err
	}
	for i, dead := range c.tmDead {
		if dead {
			c.tmDead[i] = false
			d.n++
			if i+1 < len(c.h.PIDs) {
				c.h.PIDs[i+1] = 1000*d.n + i + 1
			}
		}
	}
	return c.h, nil
}

// LatestCheckpoint returns the newest retained checkpoint of a job, also
// when its JobManager is gone.
func (d *ClusterDriver) LatestCheckpoint(ctx context.Context, h flinkplane.ClusterHandle, jobID string) (flinkplane.CheckpointInfo, error) {
	if err := d.enter(ctx, "LatestCheckpoint", "LatestCheckpoint"); err != nil {
		return flinkplane.CheckpointInfo{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var best *flinkplane.CheckpointInfo
	if c := d.clusters[h.ID]; c != nil {
		if j := c.jobs[jobID]; j != nil && j.latest != nil && !j.latest.Savepoint && d.Savepoints[j.latest.Path] {
			best = j.latest
		}
	}
	if best == nil {
		return flinkplane.CheckpointInfo{}, flinkplane.Errorf(flinkplane.ENOTFOUND, "No retained checkpoint of job %s.", jobID)
	}
	return *best, nil
}

// Record prepends calls to the record (used by tests that peeked at it).
func (d *ClusterDriver) Record(calls ...string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.calls = append(append([]string(nil), calls...), d.calls...)
}

// state is what a persistent ClusterDriver keeps in its StateFile.
type state struct {
	N          int                      `json:"n"`
	Clusters   map[string]*stateCluster `json:"clusters"`
	Triggers   map[string]*trigger      `json:"triggers"`
	Savepoints map[string]bool          `json:"savepoints"`
	IDs        map[string]int64         `json:"ids"`
	Submitted  []flinkplane.JobSpec     `json:"submitted"`
}

type stateCluster struct {
	H      flinkplane.ClusterHandle `json:"h"`
	Alive  bool                     `json:"alive"`
	JMDead bool                     `json:"jmDead,omitempty"`
	TMDead []bool                   `json:"tmDead,omitempty"`
	Jobs   map[string]*stateJob     `json:"jobs"`
}

type stateJob struct {
	State     string                     `json:"state"`
	Restarts  int64                      `json:"restarts,omitempty"`
	Completed int64                      `json:"completed,omitempty"`
	Latest    *flinkplane.CheckpointInfo `json:"latest,omitempty"`
	Restored  *flinkplane.CheckpointInfo `json:"restored,omitempty"`
	Cause     string                     `json:"cause,omitempty"`
	Lost      int                        `json:"lost"`
	WaitTM    bool                       `json:"waitTM,omitempty"`
}

// LoadClusterDriver returns a driver whose clusters, jobs and savepoints
// persist in file, the way real processes outlive a control plane that is
// killed: a test kills the server, starts another, and the new one finds
// the "running" jobs again.
func LoadClusterDriver(file string) (*ClusterDriver, error) {
	d := NewClusterDriver()
	d.stateFile = file
	b, err := os.ReadFile(file)
	if os.IsNotExist(err) {
		return d, nil
	} else if err != nil {
		return nil, err
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		return nil, err
	}
	d.n, d.Savepoints, d.Submitted = st.N, st.Savepoints, st.Submitted
	if st.Triggers != nil {
		d.triggers = st.Triggers
	}
	if st.IDs != nil {
		d.ids = st.IDs
	}
	if d.Savepoints == nil {
		d.Savepoints = map[string]bool{}
	}
	now := time.Now()
	for id, c := range st.Clusters {
		cl := &cluster{h: c.H, alive: c.Alive, jmDead: c.JMDead, tmDead: c.TMDead, jobs: map[string]*job{}}
		if cl.tmDead == nil {
			cl.tmDead = make([]bool, max(len(c.H.PIDs)-1, 1))
		}
		for jid, s := range c.Jobs {
			cl.jobs[jid] = &job{state: s.State, restarts: s.Restarts, completed: s.Completed, latest: s.Latest, restored: s.Restored,
				cause: s.Cause, lost: s.Lost, waitTM: s.WaitTM, start: now, running: now}
		}
		d.clusters[id] = cl
	}
	return d, nil
}

// persist writes the state file (called with d.mu held).
func (d *ClusterDriver) persist() {
	if d.stateFile == "" {
		return
	}
	st := state{N: d.n, Clusters: map[string]*stateCluster{}, Triggers: d.triggers, Savepoints: d.Savepoints, IDs: d.ids, Submitted: d.Submitted}
	for id, c := range d.clusters {
		sc := &stateCluster{H: c.h, Alive: c.alive, JMDead: c.jmDead, TMDead: c.tmDead, Jobs: map[string]*stateJob{}}
		for jid, j := range c.jobs {
			sc.Jobs[jid] = &stateJob{State: j.state, Restarts: j.restarts, Completed: j.completed, Latest: j.latest, Restored: j.restored,
				Cause: j.cause, Lost: j.lost, WaitTM: j.waitTM}
		}
		st.Clusters[id] = sc
	}
	b, _ := json.Marshal(st)
	tmp := d.stateFile + ".tmp"
	if os.WriteFile(tmp, b, 0o644) == nil {
		os.Rename(tmp, d.stateFile)
	}
}
