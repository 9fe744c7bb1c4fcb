package local

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/flinkrest"
	"github.com/flinkplane/flinkplane/internal/javaser"
)

var jobIDRe = regexp.MustCompile(`^[0-9a-f]{32}$`)

func terminal(state string) bool {
	switch state {
	case "FAILED", "CANCELED", "FINISHED":
		return true
	}
	return false
}

func (d *Driver) client(h flinkplane.ClusterHandle) *flinkrest.Client {
	c, err := d.RESTClient(h, 0)
	if err != nil {
		// Every call fails with the reason the TLS key cannot be used.
		c = flinkrest.New(h.RESTURL)
		c.HTTP = &http.Client{Transport: failing{err}}
	}
	return c
}

// failing is a transport whose every request fails with err.
type failing struct{ err error }

func (f failing) RoundTrip(*http.Request) (*http.Response, error) { return nil, f.err }

// Submit runs a job on the cluster and returns its job id.
//
// The job id is job.JobID if set, else a fresh random one. If a job with
// that id already exists on the cluster its id is returned and nothing is
// submitted (a resumed step never submits twice). If another job of the
// cluster is not in a terminal state, Submit returns EINUSE: one cluster
// runs one application's job at a time. A savepoint whose _metadata version
// is newer than the runtime can read is refused with EINVALIDCONFIG before
// anything is submitted. The user JAR is submitted as a copy whose
// config.properties points the AWS runtime library at the cluster's
// application_properties.json. A program Flink cannot run returns ECODE
// with Flink's root cause, also when its main() failed after submitting the
// job (which is then cancelled).
func (d *Driver) Submit(ctx context.Context, h flinkplane.ClusterHandle, job flinkplane.JobSpec) (string, error) {
	c := d.client(h)
	jobID := strings.ToLower(job.JobID)
	if jobID == "" {
		b := make([]byte, 16)
		rand.Read(b)
		jobID = hex.EncodeToString(b)
	} else if !jobIDRe.MatchString(jobID) {
		return "", flinkplane.Errorf(flinkplane.EINVALID, "Invalid Flink job id %q: want 32 hex digits.", job.JobID)
	}
	lock := d.clusterLock(h.ID)
	lock.Lock()
	defer lock.Unlock()
	jobs, err := c.Jobs(ctx)
	if err != nil {
		return "", fmt.Errorf("submit: list jobs: %w", err)
	}
	for _, j := range jobs {
		if j.ID == jobID {
			d.logf("local: job %s already on cluster %s (%s); not submitting again", jobID, h.ID, j.State)
			return jobID, nil
		}
	}
	for _, j := range jobs {
		if !terminal(j.State) {
			return "", flinkplane.Errorf(flinkplane.EINUSE, "Cluster %s already runs job %s (%s).", h.ID, j.ID, j.State)
		}
	}
	if job.RestoreFrom != "" {
		if err := d.checkSavepointVersion(ctx, job.RestoreFrom, h.Runtime); err != nil {
			return "", err
		}
	}
	if job.Graph != nil {
		return d.submitGraph(ctx, c, h, jobID, job)
	}
	jar, err := d.prepareJar(h, job.JarPath)
	if err != nil {
		return "", err
	}
	jarID, err := c.UploadJar(ctx, jar)
	os.Remove(jar) // Flink keeps its own copy; the job gets it through the blob server
	if err != nil {
		return "", fmt.Errorf("submit: upload jar: %w", err)
	}
	defer c.DeleteJar(context.WithoutCancel(ctx), jarID)
	req := flinkrest.RunRequest{
		EntryClass:            job.EntryClass,
		ProgramArgsList:       job.Args,
		Parallelism:           job.Parallelism,
		JobID:                 jobID,
		SavepointPath:         job.RestoreFrom,
		AllowNonRestoredState: job.AllowNonRestoredState,
	}
	// The restore claim mode is left at Flink's default, NO_CLAIM: the
	// savepoint stays owned by flinkplane (1.18/1.19 reject "claimMode").
	got, err := c.RunJar(ctx, jarID, req)
	if err != nil {
		var fe *flinkrest.Error
		if errors.As(err, &fe) && fe.StatusCode >= 400 && fe.StatusCode < 600 {
			js, lerr := c.Jobs(context.WithoutCancel(ctx))
			submitted := false
			for _, j := range js {
				submitted = submitted || (lerr == nil && j.ID == jobID)
			}
			if submitted && timedOut(fe.Errors) {
				return jobID, nil // a timeout inside Flink after the job was submitted
			}
			if submitted {
				// main() failed after its job was submitted (e.g. it reads the
				// result of a detached execute()): Flink's error is the answer,
				// and the job does not run on without its application.
				if cerr := d.Cancel(context.WithoutCancel(ctx), h, jobID); cerr != nil {
					d.logf("local: cannot cancel job %s of a failed submission: %v", jobID, cerr)
				}
			}
			return "", flinkplane.Errorf(flinkplane.ECODE, "Flink could not run the application: %s", flinkCause(fe.Errors))
		}
		// Transport error: the job may have been submitted; look for it.
		if js, lerr := c.Jobs(context.WithoutCancel(ctx)); lerr == nil {
			for _, j := range js {
				if j.ID == jobID {
					return jobID, nil
				}
			}
		}
		return "", fmt.Errorf("submit: run jar: %w", err)
	}
	d.logf("local: submitted job %s to cluster %s", got, h.ID)
	return got, nil
}

// submitGraph submits the graph flinkplane compiled for the job (JobSpec.Graph)
// through POST /jobs, restored from job.RestoreFrom (its location put in
// the place of the graph's restore placeholder), with the user jar as the
// cluster delivers it (its config.properties naming the cluster's
// EnvironmentProperties) and the jar's nested dependencies. The caller holds
// the cluster's submit lock and has checked that no job of the id exists.
func (d *Driver) submitGraph(ctx context.Context, c *flinkrest.Client, h flinkplane.ClusterHandle, jobID string, job flinkplane.JobSpec) (string, error) {
	g := job.Graph
	if !strings.EqualFold(g.JobID, jobID) || g.Runtime != h.Runtime {
		return "", flinkplane.Errorf(flinkplane.EINVALID, "The job graph was compiled for job %s on %s, not for job %s on %s.", g.JobID, g.Runtime, jobID, h.Runtime)
	}
	var graph []byte
	var err error
	if job.RestoreFrom != "" {
		if g.AllowNonRestoredState != job.AllowNonRestoredState {
			return "", flinkplane.Errorf(flinkplane.EINVALID, "The job graph was compiled with AllowNonRestoredState %t, the submission asks for %t.", g.AllowNonRestoredState, job.AllowNonRestoredState)
		}
		if graph, err = os.ReadFile(g.RestoreGraphFile); err == nil {
			graph, err = javaser.ReplaceString(graph, g.RestorePlaceholder, job.RestoreFrom)
		}
	} else {
		graph, err = os.ReadFile(g.GraphFile)
	}
	if err != nil {
		return "", fmt.Errorf("submit: job graph: %w", err)
	}
	jar, err := d.prepareJar(h, job.JarPath)
	if err != nil {
		return "", err
	}
	defer os.Remove(jar)
	var files []*os.File
	defer func() {
		for _, f := range files {
			f.Close()
		}
	}()
	var jars []flinkrest.SubmitFile
	for i, p := range append([]string{jar}, g.Jars...) {
		f, err := os.Open(p)
		if err != nil {
			return "", fmt.Errorf("submit: %w", err)
		}
		files = append(files, f)
		jars = append(jars, flinkrest.SubmitFile{Name: fmt.Sprintf("job-%d.jar", i), Data: f})
	}
	got, err := c.SubmitJobGraph(ctx, flinkrest.SubmitFile{Name: "job.graph", Data: bytes.NewReader(graph)}, jars)
	if err != nil {
		var fe *flinkrest.Error
		if errors.As(err, &fe) && fe.StatusCode >= 400 && fe.StatusCode < 600 {
			return "", flinkplane.Errorf(flinkplane.ECODE, "Flink could not run the application: %s", flinkCause(fe.Errors))
		}
		// Transport error: the job may have been submitted; look for it.
		if js, lerr := c.Jobs(context.WithoutCancel(ctx)); lerr == nil {
			for _, j := range js {
				if j.ID == jobID {
					return jobID, nil
				}
			}
		}
		return "", fmt.Errorf("submit: %w", err)
	}
	d.logf("local: submitted job %s (compiled graph) to cluster %s", got, h.ID)
	return got, nil
}

// timedOut reports a submission that failed on a timeout inside Flink
// rather than in the application's main().
func timedOut(errs []string) bool {
	for _, e := range errs {
		if strings.Contains(e, "TimeoutException") {
			return true
		}
	}
	return false
}

// flinkCause picks the most specific line of Flink's error messages: the
// deepest "Caused by:" of any stack trace, else the first message.
func flinkCause(errs []string) string {
	best := ""
	for _, e := range errs {
		for _, l := range strings.Split(e, "\n") {
			if s, ok := strings.CutPrefix(strings.TrimSpace(l), "Caused by: "); ok {
				best = s
			}
		}
	}
	if best == "" && len(errs) > 0 {
		best, _, _ = strings.Cut(errs[0], "\n")
	}
	return strings.TrimSpace(best)
}

// JobHealth reports the job's status, whether all tasks run, restarts,
// checkpoint counters and Flink's newest exception. Returns ENOTFOUND when
// the cluster does not know the job.
func (d *Driver) JobHealth(ctx context.Context, h flinkplane.ClusterHandle, jobID string) (flinkplane.JobHealth, error) {
	return JobHealthOf(ctx, d.client(h), h.ID, jobID)
}

// JobHealthOf is JobHealth through any client of a cluster's REST API (the
// Kubernetes driver's goes through the API server's service proxy);
// clusterID names the cluster in errors.
func JobHealthOf(ctx context.Context, c *flinkrest.Client, clusterID, jobID string) (flinkplane.JobHealth, error) {
	j, err := c.Job(ctx, jobID)
	if flinkrest.IsNotFound(err) {
		return flinkplane.JobHealth{}, flinkplane.Errorf(flinkplane.ENOTFOUND, "Job %s not found on cluster %s.", jobID, clusterID)
	} else if err != nil {
		return flinkplane.JobHealth{}, err
	}
	jh := flinkplane.JobHealth{State: j.State, AllTasksRunning: j.AllTasksRunning(),
		StartTime: millis(j.StartTime), RunningSince: millis(j.Timestamps["RUNNING"])}
	if m, err := c.JobMetrics(ctx, jobID, "numRestarts"); err == nil {
		jh.Restarts, _ = strconv.ParseInt(m["numRestarts"], 10, 64)
	}
	if cs, err := c.Checkpoints(ctx, jobID); err == nil {
		jh.CompletedCheckpoints, jh.FailedCheckpoints = cs.Counts.Completed, cs.Counts.Failed
		jh.LatestCheckpoint = checkpointInfo(cs.Latest.Completed).Newer(checkpointInfo(cs.Latest.Savepoint))
		if r := cs.Latest.Restored; r != nil {
			jh.Restored = &flinkplane.CheckpointInfo{ID: r.ID, Savepoint: r.IsSavepoint, Path: r.ExternalPath, Time: millis(r.RestoreTimestamp)}
		}
	}
	if ex, err := c.Exceptions(ctx, jobID, 1); err == nil && len(ex) > 0 {
		jh.RootCause = rootCause(ex[0])
		st := ex[0].Stacktrace
		if len(st) > maxStacktrace {
			st = st[:maxStacktrace]
		}
		jh.Exception = &flinkplane.JobException{Time: millis(ex[0].Timestamp), Task: ex[0].TaskName, Stacktrace: st}
	}
	return jh, nil
}

// maxStacktrace bounds the stack trace JobHealth returns.
const maxStacktrace = 32 << 10

func checkpointInfo(e *flinkrest.CheckpointEntry) *flinkplane.CheckpointInfo {
	if e == nil || e.ID <= 0 {
		return nil
	}
	return &flinkplane.CheckpointInfo{ID: e.ID, Savepoint: e.IsSavepoint, Path: e.ExternalPath, Time: millis(e.LatestAckTimestamp),
		Duration: time.Duration(e.EndToEndDuration) * time.Millisecond, Size: max(e.CheckpointedSize, e.StateSize)}
}

// rootCause is the deepest "Caused by:" of an exception history entry (e.g.
// the StateMigrationException under "RuntimeException: Error while getting
// state"), or its first line.
func rootCause(e flinkrest.Exception) string {
	if strings.TrimSpace(e.Stacktrace) == "" {
		return e.Message()
	}
	return flinkrest.RootCause(e.Stacktrace)
}

func (d *Driver) savepointTarget(h flinkplane.ClusterHandle, targetDir string) string {
	if targetDir != "" {
		return targetDir
	}
	if info, err := readInfo(h.Dir); err == nil && info.SavepointDir != "" {
		return info.SavepointDir
	}
	return ""
}

// TriggerSavepoint starts a canonical savepoint into targetDir (empty: the
// application's savepoint directory under the data directory).
func (d *Driver) TriggerSavepoint(ctx context.Context, h flinkplane.ClusterHandle, jobID, targetDir string) (string, error) {
	return d.client(h).TriggerSavepoint(ctx, jobID, d.savepointTarget(h, targetDir), false)
}

// StopWithSavepoint stops the job with a savepoint (no drain).
func (d *Driver) StopWithSavepoint(ctx context.Context, h flinkplane.ClusterHandle, jobID, targetDir string) (string, error) {
	return d.client(h).StopWithSavepoint(ctx, jobID, d.savepointTarget(h, targetDir), false)
}

// PollSavepoint reports the state of a triggered savepoint. A trigger the
// JobManager no longer knows (it restarted) returns ENOTFOUND.
func (d *Driver) PollSavepoint(ctx context.Context, h flinkplane.ClusterHandle, jobID, triggerID string) (flinkplane.SavepointStatus, error) {
	r, err := d.client(h).SavepointStatus(ctx, jobID, triggerID)
	if flinkrest.IsNotFound(err) {
		return flinkplane.SavepointStatus{}, flinkplane.Errorf(flinkplane.ENOTFOUND, "Savepoint trigger %s of job %s not found.", triggerID, jobID)
	} else if err != nil {
		return flinkplane.SavepointStatus{}, err
	}
	st := flinkplane.SavepointStatus{Done: r.Completed(), Location: r.Location, Failure: r.Failure}
	if st.Done && st.Location == "" && st.Failure == "" {
		st.Failure = "savepoint completed without a location"
	}
	return st, nil
}

// Cancel cancels a job without a savepoint. Cancelling a job that is
// already terminal is not an error.
func (d *Driver) Cancel(ctx context.Context, h flinkplane.ClusterHandle, jobID string) error {
	c := d.client(h)
	if st, err := c.JobStatus(ctx, jobID); err == nil && terminal(st) {
		return nil
	}
	return c.Cancel(ctx, jobID)
}

// DisposeSavepoint removes a savepoint's directory. Only savepoints under the
// data directory are removed (EINVALID otherwise); a missing savepoint is not
// an error.
func (d *Driver) DisposeSavepoint(ctx context.Context, location string) error {
	if isS3(location) {
		if d.Storage == nil {
			return flinkplane.Errorf(flinkplane.EINVALID, "Savepoint %q is in S3, but no S3 storage is configured; not disposing it.", location)
		}
		return d.Storage.dispose(ctx, location)
	}
	dir := localPath(location)
	if filepath.Base(dir) == "_metadata" {
		dir = filepath.Dir(dir)
	}
	root := absPath(d.DataDir) + string(filepath.Separator)
	if !strings.HasPrefix(absPath(dir)+string(filepath.Separator), root) || absPath(dir)+string(filepath.Separator) == root {
		return flinkplane.Errorf(flinkplane.EINVALID, "Savepoint %q is not under the data directory; not disposing it.", location)
	}
	if _, err := os.Stat(dir); os.IsNotExist(err) {
		return nil
	}
	if _, err := os.Stat(filepath.Join(dir, "_metadata")); err != nil {
		return flinkplane.Errorf(flinkplane.EINVALID, "%q is not a savepoint (no _metadata).", location)
	}
	return os.RemoveAll(dir)
}

// localPath turns "file:/x", "file:///x" or "/x" into a local path.
func localPath(location string) string {
	p := location
	if s, ok := strings.CutPrefix(p, "file://"); ok {
		p = s
	} else if s, ok := strings.CutPrefix(p, "file:"); ok {
		p = s
	}
	return filepath.Clean(p)
}

// WaitJobRunning polls until the job runs with all tasks running, the job
// reaches a terminal state (error with Flink's root cause) or ctx ends.
func (d *Driver) WaitJobRunning(ctx context.Context, h flinkplane.ClusterHandle, jobID string) (flinkplane.JobHealth, error) {
	for {
		jh, err := d.JobHealth(ctx, h, jobID)
		if err == nil {
			if jh.State == "RUNNING" && jh.AllTasksRunning {
				return jh, nil
			}
			if terminal(jh.State) {
				return jh, fmt.Errorf("job %s is %s: %s", jobID, jh.State, jh.RootCause)
			}
		}
		select {
		case <-ctx.Done():
			return jh, fmt.Errorf("wait for job %s: %w (last state %s)", jobID, ctx.Err(), jh.State)
		case <-time.After(250 * time.Millisecond):
		}
	}
}
