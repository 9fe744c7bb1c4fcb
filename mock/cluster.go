// Package mock holds hand-written test doubles of flinkplane's interfaces:
// a recording ClusterDriver with fault injection, a code store and a
// compatibility checker.
package mock

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"sync"

	"github.com/flinkplane/flinkplane"
)

var _ flinkplane.ClusterDriver = (*ClusterDriver)(nil)

// ClusterDriver is a fake Flink: it records every call ("Start(FLINK-1_20)",
// "Submit", "TriggerSavepoint", ...) and keeps clusters, jobs and
// savepoints in memory, so that it outlives an engine like real processes
// do. Faults fail calls by name; Hold blocks them until released.
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
	// entry repeats. Default: RUNNING with all tasks running.
	JobStates []flinkplane.JobHealth

	n          int
	clusters   map[string]*cluster
	triggers   map[string]*trigger
	Savepoints map[string]bool // location -> exists
	Submitted  []flinkplane.JobSpec

	stateFile string
	nth       map[string]nthFault
}

type cluster struct {
	h     flinkplane.ClusterHandle
	alive bool
	jobs  map[string]*job
}

type job struct {
	state string
	polls int
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
		Savepoints: map[string]bool{}}
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

// Running returns the ids of the jobs in state RUNNING on live clusters.
func (d *ClusterDriver) Running() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []string
	for _, c := range d.clusters {
		if !c.alive {
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

// LiveClusters returns the number of clusters not stopped.
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
	h := flinkplane.ClusterHandle{ID: fmt.Sprintf("cluster-%d", d.n), Runtime: spec.Runtime, RESTURL: "http://fake"}
	d.clusters[h.ID] = &cluster{h: h, alive: true, jobs: map[string]*job{}}
	return h, nil
}

func (d *ClusterDriver) Adopt(ctx context.Context, h flinkplane.ClusterHandle) (bool, error) {
	if err := d.enter(ctx, "Adopt", "Adopt"); err != nil {
		return false, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c := d.clusters[h.ID]
	return c != nil && c.alive, nil
}

func (d *ClusterDriver) cluster(h flinkplane.ClusterHandle) (*cluster, error) {
	c := d.clusters[h.ID]
	if c == nil || !c.alive {
		return nil, fmt.Errorf("cluster %s is not running", h.ID)
	}
	return c, nil
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
	for _, o := range d.clusters {
		for id, j := range o.jobs {
			if o.alive && j.state == "RUNNING" && o.h.ID == h.ID {
				return "", fmt.Errorf("two jobs on one cluster: %s already runs", id)
			}
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
	c.jobs[id] = &job{state: "RUNNING"}
	d.Submitted = append(d.Submitted, spec)
	return id, nil
}

func (d *ClusterDriver) JobHealth(ctx context.Context, h flinkplane.ClusterHandle, jobID string) (flinkplane.JobHealth, error) {
	if err := d.enter(ctx, "JobHealth", "JobHealth"); err != nil {
		return flinkplane.JobHealth{}, err
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	c, err := d.cluster(h)
	if err != nil {
		return flinkplane.JobHealth{}, err
	}
	j := c.jobs[jobID]
	if j == nil {
		return flinkplane.JobHealth{}, flinkplane.Errorf(flinkplane.ENOTFOUND, "Job %s not found on cluster %s.", jobID, h.ID)
	}
	if j.state != "RUNNING" {
		return flinkplane.JobHealth{State: j.state}, nil
	}
	if len(d.JobStates) > 0 {
		s := d.JobStates[min(j.polls, len(d.JobStates)-1)]
		j.polls++
		return s, nil
	}
	return flinkplane.JobHealth{State: "RUNNING", AllTasksRunning: true}, nil
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
		if t.Stop {
			if c := d.clusters[h.ID]; c != nil && c.jobs[t.Job] != nil {
				c.jobs[t.Job].state = "FINISHED"
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
	if c == nil || !c.alive || c.jobs[jobID] == nil {
		return flinkplane.Errorf(flinkplane.ENOTFOUND, "Job %s not found.", jobID)
	}
	if c.jobs[jobID].state == "RUNNING" {
		c.jobs[jobID].state = "CANCELED"
	}
	return nil
}

// KillJob makes a job fail, as a crash of its code would.
func (d *ClusterDriver) KillJob(jobID string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	defer d.persist()
	for _, c := range d.clusters {
		if j := c.jobs[jobID]; j != nil {
			j.state = "FAILED"
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
		c.alive = false
		for _, j := range c.jobs {
			if j.state == "RUNNING" {
				j.state = "CANCELED"
			}
		}
	}
	return nil
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
	Submitted  []flinkplane.JobSpec     `json:"submitted"`
}

type stateCluster struct {
	H     flinkplane.ClusterHandle `json:"h"`
	Alive bool                     `json:"alive"`
	Jobs  map[string]string        `json:"jobs"`
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
	if d.Savepoints == nil {
		d.Savepoints = map[string]bool{}
	}
	for id, c := range st.Clusters {
		cl := &cluster{h: c.H, alive: c.Alive, jobs: map[string]*job{}}
		for j, s := range c.Jobs {
			cl.jobs[j] = &job{state: s}
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
	st := state{N: d.n, Clusters: map[string]*stateCluster{}, Triggers: d.triggers, Savepoints: d.Savepoints, Submitted: d.Submitted}
	for id, c := range d.clusters {
		sc := &stateCluster{H: c.h, Alive: c.alive, Jobs: map[string]string{}}
		for j, x := range c.jobs {
			sc.Jobs[j] = x.state
		}
		st.Clusters[id] = sc
	}
	b, _ := json.Marshal(st)
	tmp := d.stateFile + ".tmp"
	if os.WriteFile(tmp, b, 0o644) == nil {
		os.Rename(tmp, d.stateFile)
	}
}
