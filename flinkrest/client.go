// Package flinkrest is a typed client for the REST API of Apache Flink's
// JobManager, covering Flink 1.18–1.20 and 2.x. Where the versions differ the
// client uses what both understand: programArgsList (2.x removed
// programArgs), exceptionHistory (2.x removed root-exception and
// all-exceptions), numRestarts (2.x removed fullRestarts).
package flinkrest

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"
)

// Client talks to one JobManager.
type Client struct {
	// BaseURL is the REST endpoint, e.g. "http://127.0.0.1:8081".
	BaseURL string
	HTTP    *http.Client
}

// New returns a Client for baseURL with a default HTTP client.
func New(baseURL string) *Client {
	return &Client{BaseURL: strings.TrimRight(baseURL, "/"), HTTP: &http.Client{Timeout: 60 * time.Second}}
}

// Error is a non-2xx answer of the REST API. Errors holds Flink's "errors"
// array (the first element is the message, later ones often a stack trace).
type Error struct {
	Method, Path string
	StatusCode   int
	Errors       []string
}

func (e *Error) Error() string {
	msg := strings.Join(e.Errors, "; ")
	if len(msg) > 2000 {
		msg = msg[:2000] + "..."
	}
	return fmt.Sprintf("flink rest %s %s: %d: %s", e.Method, e.Path, e.StatusCode, msg)
}

// IsNotFound reports whether err is a 404 answer.
func IsNotFound(err error) bool {
	var e *Error
	return errors.As(err, &e) && e.StatusCode == http.StatusNotFound
}

func (c *Client) do(ctx context.Context, method, path string, body any, out any) error {
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.BaseURL+path, rd)
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	return c.send(req, out)
}

func (c *Client) send(req *http.Request, out any) error {
	hc := c.HTTP
	if hc == nil {
		hc = http.DefaultClient
	}
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode/100 != 2 {
		e := &Error{Method: req.Method, Path: req.URL.Path, StatusCode: resp.StatusCode}
		var eb struct {
			Errors []string `json:"errors"`
		}
		if json.Unmarshal(b, &eb) == nil && len(eb.Errors) > 0 {
			e.Errors = eb.Errors
		} else if len(b) > 0 {
			e.Errors = []string{string(b)}
		}
		return e
	}
	if out == nil || len(b) == 0 {
		return nil
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("flink rest %s %s: decode: %w", req.Method, req.URL.Path, err)
	}
	return nil
}

// Config is GET /config.
type Config struct {
	FlinkVersion  string          `json:"flink-version"`
	FlinkRevision string          `json:"flink-revision"`
	Features      map[string]bool `json:"features"`
}

// Config returns the dashboard configuration, including the Flink version.
func (c *Client) Config(ctx context.Context) (Config, error) {
	var v Config
	return v, c.do(ctx, http.MethodGet, "/config", nil, &v)
}

// Overview is GET /overview.
type Overview struct {
	TaskManagers   int    `json:"taskmanagers"`
	SlotsTotal     int    `json:"slots-total"`
	SlotsAvailable int    `json:"slots-available"`
	JobsRunning    int    `json:"jobs-running"`
	JobsFinished   int    `json:"jobs-finished"`
	JobsCancelled  int    `json:"jobs-cancelled"`
	JobsFailed     int    `json:"jobs-failed"`
	FlinkVersion   string `json:"flink-version"`
}

// Overview returns the cluster overview.
func (c *Client) Overview(ctx context.Context) (Overview, error) {
	var v Overview
	return v, c.do(ctx, http.MethodGet, "/overview", nil, &v)
}

// UploadJar uploads a JAR file and returns its jar id (the basename of the
// stored file name).
func (c *Client) UploadJar(ctx context.Context, path string) (string, error) {
	f, err := os.Open(path)
	if err != nil {
		return "", err
	}
	defer f.Close()
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		h := make(map[string][]string)
		h["Content-Disposition"] = []string{fmt.Sprintf(`form-data; name="jarfile"; filename=%q`, filepath.Base(path))}
		h["Content-Type"] = []string{"application/x-java-archive"}
		part, err := mw.CreatePart(h)
		if err == nil {
			_, err = io.Copy(part, f)
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+"/jars/upload", pr)
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	var out struct {
		Filename string `json:"filename"`
		Status   string `json:"status"`
	}
	if err := c.send(req, &out); err != nil {
		return "", err
	}
	if out.Filename == "" {
		return "", fmt.Errorf("flink rest upload: no file name in answer (status %q)", out.Status)
	}
	return filepath.Base(out.Filename), nil
}

// JarFile is one uploaded JAR of GET /jars.
type JarFile struct {
	ID       string `json:"id"`
	Name     string `json:"name"`
	Uploaded int64  `json:"uploaded"`
}

// Jars lists the uploaded JARs.
func (c *Client) Jars(ctx context.Context) ([]JarFile, error) {
	var v struct {
		Files []JarFile `json:"files"`
	}
	return v.Files, c.do(ctx, http.MethodGet, "/jars", nil, &v)
}

// DeleteJar removes an uploaded JAR.
func (c *Client) DeleteJar(ctx context.Context, jarID string) error {
	return c.do(ctx, http.MethodDelete, "/jars/"+url.PathEscape(jarID), nil, nil)
}

// RunRequest is the body of POST /jars/:jarid/run.
type RunRequest struct {
	EntryClass            string   `json:"entryClass,omitempty"`
	ProgramArgsList       []string `json:"programArgsList,omitempty"`
	Parallelism           int      `json:"parallelism,omitempty"`
	JobID                 string   `json:"jobId,omitempty"`
	AllowNonRestoredState bool     `json:"allowNonRestoredState,omitempty"`
	SavepointPath         string   `json:"savepointPath,omitempty"`
	// ClaimMode is CLAIM, NO_CLAIM or LEGACY (1.20 and 2.x; Flink's default
	// is NO_CLAIM).
	ClaimMode          string            `json:"claimMode,omitempty"`
	FlinkConfiguration map[string]string `json:"flinkConfiguration,omitempty"`
}

// RunJar runs an uploaded JAR and returns the job id. A program that fails
// to build its job graph answers 400; the returned *Error carries Flink's
// messages.
func (c *Client) RunJar(ctx context.Context, jarID string, r RunRequest) (string, error) {
	var out struct {
		JobID string `json:"jobid"`
	}
	if err := c.do(ctx, http.MethodPost, "/jars/"+url.PathEscape(jarID)+"/run", r, &out); err != nil {
		return "", err
	}
	return out.JobID, nil
}

// SubmitFile is one file of a job submission: its content and the name it
// is uploaded under (unique within the submission).
type SubmitFile struct {
	Name string
	Data io.Reader
}

// SubmitJobGraph submits a serialized JobGraph (Java serialization, as
// Flink's RestClusterClient writes it) with the jars of its user code
// through POST /jobs (1.x: jobGraphFileName; 2.x reads the same field as
// executionPlanFileName) and returns the job id from the answer's job
// URL. A graph the Dispatcher refuses answers an *Error with Flink's
// messages.
func (c *Client) SubmitJobGraph(ctx context.Context, graph SubmitFile, jars []SubmitFile) (string, error) {
	body := struct {
		JobGraphFileName     string   `json:"jobGraphFileName"`
		JobJarFileNames      []string `json:"jobJarFileNames"`
		JobArtifactFileNames []string `json:"jobArtifactFileNames"`
	}{JobGraphFileName: graph.Name, JobJarFileNames: []string{}, JobArtifactFileNames: []string{}}
	for _, j := range jars {
		body.JobJarFileNames = append(body.JobJarFileNames, j.Name)
	}
	reqJSON, err := json.Marshal(body)
	if err != nil {
		return "", err
	}
	pr, pw := io.Pipe()
	mw := multipart.NewWriter(pw)
	go func() {
		// Flink's FileUploadHandler: the JSON body as the attribute
		// "request", then the files, stored under their file names.
		err := mw.WriteField("request", string(reqJSON))
		for _, f := range append([]SubmitFile{graph}, jars...) {
			if err != nil {
				break
			}
			h := make(map[string][]string)
			h["Content-Disposition"] = []string{fmt.Sprintf(`form-data; name=%q; filename=%q`, "file_"+f.Name, f.Name)}
			h["Content-Type"] = []string{"application/octet-stream"}
			var part io.Writer
			if part, err = mw.CreatePart(h); err == nil {
				_, err = io.Copy(part, f.Data)
			}
		}
		if err == nil {
			err = mw.Close()
		}
		pw.CloseWithError(err)
	}()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.BaseURL+"/jobs", pr)
	if err != nil {
		return "", err
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	var out struct {
		JobURL string `json:"jobUrl"`
	}
	if err := c.send(req, &out); err != nil {
		return "", err
	}
	id := path.Base(out.JobURL)
	if out.JobURL == "" || id == "" {
		return "", fmt.Errorf("flink rest submit: no job URL in the answer")
	}
	return id, nil
}

// JobOverview is one entry of GET /jobs/overview.
type JobOverview struct {
	ID        string         `json:"jid"`
	Name      string         `json:"name"`
	State     string         `json:"state"`
	StartTime int64          `json:"start-time"`
	EndTime   int64          `json:"end-time"`
	Tasks     map[string]int `json:"tasks"`
}

// Jobs returns every job the cluster knows.
func (c *Client) Jobs(ctx context.Context) ([]JobOverview, error) {
	var out struct {
		Jobs []JobOverview `json:"jobs"`
	}
	return out.Jobs, c.do(ctx, http.MethodGet, "/jobs/overview", nil, &out)
}

// Vertex is one job vertex of GET /jobs/:jobid.
type Vertex struct {
	ID          string         `json:"id"`
	Name        string         `json:"name"`
	Parallelism int            `json:"parallelism"`
	Status      string         `json:"status"`
	Tasks       map[string]int `json:"tasks"`
}

// Job is GET /jobs/:jobid.
type Job struct {
	ID         string           `json:"jid"`
	Name       string           `json:"name"`
	State      string           `json:"state"`
	StartTime  int64            `json:"start-time"`
	Duration   int64            `json:"duration"`
	Timestamps map[string]int64 `json:"timestamps"`
	Vertices   []Vertex         `json:"vertices"`
}

// AllTasksRunning reports whether the job is RUNNING and every task of
// every vertex is RUNNING.
func (j Job) AllTasksRunning() bool {
	if j.State != "RUNNING" || len(j.Vertices) == 0 {
		return false
	}
	for _, v := range j.Vertices {
		if v.Parallelism <= 0 || v.Tasks["RUNNING"] != v.Parallelism {
			return false
		}
	}
	return true
}

// Job returns the details of a job.
func (c *Client) Job(ctx context.Context, jobID string) (Job, error) {
	var v Job
	return v, c.do(ctx, http.MethodGet, "/jobs/"+url.PathEscape(jobID), nil, &v)
}

// JobStatus returns a job's status (RUNNING, FAILED, ...).
func (c *Client) JobStatus(ctx context.Context, jobID string) (string, error) {
	var v struct {
		Status string `json:"status"`
	}
	return v.Status, c.do(ctx, http.MethodGet, "/jobs/"+url.PathEscape(jobID)+"/status", nil, &v)
}

// Exception is one entry of the exception history.
type Exception struct {
	ExceptionName        string      `json:"exceptionName"`
	Stacktrace           string      `json:"stacktrace"`
	Timestamp            int64       `json:"timestamp"`
	TaskName             string      `json:"taskName"`
	Endpoint             string      `json:"endpoint"`
	ConcurrentExceptions []Exception `json:"concurrentExceptions"`
}

// Message returns "ExceptionClass: message" from the first stack trace line.
func (e Exception) Message() string {
	first, _, _ := strings.Cut(e.Stacktrace, "\n")
	first = strings.TrimSpace(first)
	if first == "" {
		return e.ExceptionName
	}
	return first
}

// Exceptions returns the job's exception history, newest first.
func (c *Client) Exceptions(ctx context.Context, jobID string, max int) ([]Exception, error) {
	var out struct {
		History struct {
			Entries   []Exception `json:"entries"`
			Truncated bool        `json:"truncated"`
		} `json:"exceptionHistory"`
	}
	p := "/jobs/" + url.PathEscape(jobID) + "/exceptions"
	if max > 0 {
		p += fmt.Sprintf("?maxExceptions=%d", max)
	}
	return out.History.Entries, c.do(ctx, http.MethodGet, p, nil, &out)
}

// TriggerSavepoint starts a canonical savepoint into targetDir (empty: the
// cluster's execution.checkpointing.savepoint-dir) and returns its trigger
// id. cancelJob cancels the job once the savepoint completes.
func (c *Client) TriggerSavepoint(ctx context.Context, jobID, targetDir string, cancelJob bool) (string, error) {
	return c.TriggerSavepointFormat(ctx, jobID, targetDir, "CANONICAL", cancelJob)
}

// TriggerSavepointFormat triggers a savepoint in a format: "CANONICAL"
// (Flink's state-backend-independent format, flinkplane's snapshots) or
// "NATIVE" (the state backend's own files: RocksDB SST files).
func (c *Client) TriggerSavepointFormat(ctx context.Context, jobID, targetDir, format string, cancelJob bool) (string, error) {
	body := map[string]any{"cancel-job": cancelJob, "formatType": format}
	if targetDir != "" {
		body["target-directory"] = targetDir
	}
	var out struct {
		RequestID string `json:"request-id"`
	}
	return out.RequestID, c.do(ctx, http.MethodPost, "/jobs/"+url.PathEscape(jobID)+"/savepoints", body, &out)
}

// StopWithSavepoint stops the job with a savepoint (drain false: the job
// can be resumed from it) and returns the trigger id.
func (c *Client) StopWithSavepoint(ctx context.Context, jobID, targetDir string, drain bool) (string, error) {
	body := map[string]any{"drain": drain, "formatType": "CANONICAL"}
	if targetDir != "" {
		body["targetDirectory"] = targetDir
	}
	var out struct {
		RequestID string `json:"request-id"`
	}
	return out.RequestID, c.do(ctx, http.MethodPost, "/jobs/"+url.PathEscape(jobID)+"/stop", body, &out)
}

// AsyncResult is the state of an asynchronous operation (savepoint,
// stop-with-savepoint, savepoint disposal).
type AsyncResult struct {
	// Status is IN_PROGRESS or COMPLETED.
	Status string
	// Location is the savepoint path of a successful savepoint.
	Location string
	// Failure is the failure cause of a completed, failed operation.
	Failure string
}

// Completed reports whether the operation has finished (successfully or
// not).
func (r AsyncResult) Completed() bool { return r.Status == "COMPLETED" }

type asyncBody struct {
	Status struct {
		ID string `json:"id"`
	} `json:"status"`
	Operation *struct {
		Location     string          `json:"location"`
		FailureCause json.RawMessage `json:"failure-cause"`
	} `json:"operation"`
}

func (b asyncBody) result() AsyncResult {
	r := AsyncResult{Status: b.Status.ID}
	if b.Operation != nil {
		r.Location = b.Operation.Location
		if len(b.Operation.FailureCause) > 0 && string(b.Operation.FailureCause) != "null" {
			r.Failure = failureText(b.Operation.FailureCause)
		}
	}
	return r
}

// failureText extracts Flink's serialized throwable text.
func failureText(raw json.RawMessage) string {
	var f struct {
		Class      string `json:"class"`
		Stacktrace string `json:"stack-trace"`
		Serialized string `json:"serialized-throwable"`
	}
	if json.Unmarshal(raw, &f) == nil && f.Stacktrace != "" {
		return rootCauseLine(f.Stacktrace)
	}
	return string(raw)
}

// rootCauseLine returns the deepest "Caused by:" line of a Java stack
// trace, or its first line.
func rootCauseLine(st string) string {
	lines := strings.Split(st, "\n")
	best := strings.TrimSpace(lines[0])
	for _, l := range lines {
		if s, ok := strings.CutPrefix(strings.TrimSpace(l), "Caused by: "); ok {
			best = s
		}
	}
	return best
}

// RootCause returns the deepest cause of a Java stack trace text.
func RootCause(stacktrace string) string { return rootCauseLine(stacktrace) }

// SavepointStatus polls a savepoint or stop-with-savepoint trigger.
func (c *Client) SavepointStatus(ctx context.Context, jobID, triggerID string) (AsyncResult, error) {
	var b asyncBody
	if err := c.do(ctx, http.MethodGet, "/jobs/"+url.PathEscape(jobID)+"/savepoints/"+url.PathEscape(triggerID), nil, &b); err != nil {
		return AsyncResult{}, err
	}
	return b.result(), nil
}

// WaitSavepoint polls a trigger every interval until it completes. A failed
// savepoint returns its failure as an error.
func (c *Client) WaitSavepoint(ctx context.Context, jobID, triggerID string, interval time.Duration) (string, error) {
	for {
		r, err := c.SavepointStatus(ctx, jobID, triggerID)
		if err != nil {
			return "", err
		}
		if r.Completed() {
			if r.Failure != "" || r.Location == "" {
				return "", fmt.Errorf("savepoint failed: %s", r.Failure)
			}
			return r.Location, nil
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(interval):
		}
	}
}

// CheckpointConfig is GET /jobs/:jobid/checkpoints/config: the checkpoint
// settings the job runs with (its checkpoint coordinator's).
type CheckpointConfig struct {
	Mode            string `json:"mode"` // exactly_once, at_least_once
	Interval        int64  `json:"interval"`
	Timeout         int64  `json:"timeout"`
	MinPause        int64  `json:"min_pause"`
	MaxConcurrent   int    `json:"max_concurrent"`
	Unaligned       bool   `json:"unaligned_checkpoints"`
	Externalization struct {
		Enabled              bool `json:"enabled"`
		DeleteOnCancellation bool `json:"delete_on_cancellation"`
	} `json:"externalization"`
}

// CheckpointConfig returns the checkpoint settings of a job. A job without
// checkpointing answers 404.
func (c *Client) CheckpointConfig(ctx context.Context, jobID string) (CheckpointConfig, error) {
	var out CheckpointConfig
	return out, c.do(ctx, http.MethodGet, "/jobs/"+url.PathEscape(jobID)+"/checkpoints/config", nil, &out)
}

// Cancel cancels a job (PATCH /jobs/:jobid?mode=cancel).
func (c *Client) Cancel(ctx context.Context, jobID string) error {
	return c.do(ctx, http.MethodPatch, "/jobs/"+url.PathEscape(jobID)+"?mode=cancel", nil, nil)
}

// DisposeSavepoint triggers the disposal of a savepoint and returns the
// trigger id.
func (c *Client) DisposeSavepoint(ctx context.Context, path string) (string, error) {
	var out struct {
		RequestID string `json:"request-id"`
	}
	return out.RequestID, c.do(ctx, http.MethodPost, "/savepoint-disposal", map[string]string{"savepoint-path": path}, &out)
}

// DisposalStatus polls a savepoint disposal.
func (c *Client) DisposalStatus(ctx context.Context, triggerID string) (AsyncResult, error) {
	var b asyncBody
	if err := c.do(ctx, http.MethodGet, "/savepoint-disposal/"+url.PathEscape(triggerID), nil, &b); err != nil {
		return AsyncResult{}, err
	}
	return b.result(), nil
}

// CheckpointCounts are the counters of GET /jobs/:jobid/checkpoints.
type CheckpointCounts struct {
	Restored   int64 `json:"restored"`
	Total      int64 `json:"total"`
	InProgress int64 `json:"in_progress"`
	Completed  int64 `json:"completed"`
	Failed     int64 `json:"failed"`
}

// CheckpointEntry is one checkpoint of the statistics.
type CheckpointEntry struct {
	ID                 int64  `json:"id"`
	Status             string `json:"status"`
	IsSavepoint        bool   `json:"is_savepoint"`
	CheckpointType     string `json:"checkpoint_type"`
	TriggerTimestamp   int64  `json:"trigger_timestamp"`
	LatestAckTimestamp int64  `json:"latest_ack_timestamp"`
	StateSize          int64  `json:"state_size"`
	CheckpointedSize   int64  `json:"checkpointed_size"`
	EndToEndDuration   int64  `json:"end_to_end_duration"`
	ExternalPath       string `json:"external_path"`
}

// RestoredCheckpoint is latest.restored.
type RestoredCheckpoint struct {
	ID               int64  `json:"id"`
	RestoreTimestamp int64  `json:"restore_timestamp"`
	IsSavepoint      bool   `json:"is_savepoint"`
	ExternalPath     string `json:"external_path"`
}

// CheckpointStats is GET /jobs/:jobid/checkpoints.
type CheckpointStats struct {
	Counts CheckpointCounts `json:"counts"`
	Latest struct {
		Completed *CheckpointEntry    `json:"completed"`
		Savepoint *CheckpointEntry    `json:"savepoint"`
		Failed    *CheckpointEntry    `json:"failed"`
		Restored  *RestoredCheckpoint `json:"restored"`
	} `json:"latest"`
	History []CheckpointEntry `json:"history"`
}

// Checkpoints returns the job's checkpoint statistics.
func (c *Client) Checkpoints(ctx context.Context, jobID string) (CheckpointStats, error) {
	var v CheckpointStats
	return v, c.do(ctx, http.MethodGet, "/jobs/"+url.PathEscape(jobID)+"/checkpoints", nil, &v)
}

// JobMetricNames are the job metrics JobMetrics asks for by default. They
// exist in 1.20 and 2.x (fullRestarts does not exist in 2.x).
var JobMetricNames = []string{
	"numRestarts", "uptime", "downtime", "lastCheckpointDuration", "lastCheckpointSize",
	"numberOfFailedCheckpoints", "numberOfCompletedCheckpoints",
}

// JobMetrics returns job-level metrics by name (values as Flink reports
// them, strings). Metrics Flink does not (yet) report are absent.
func (c *Client) JobMetrics(ctx context.Context, jobID string, names ...string) (map[string]string, error) {
	if len(names) == 0 {
		names = JobMetricNames
	}
	var out []struct {
		ID    string `json:"id"`
		Value string `json:"value"`
	}
	p := "/jobs/" + url.PathEscape(jobID) + "/metrics?get=" + url.QueryEscape(strings.Join(names, ","))
	if err := c.do(ctx, http.MethodGet, p, nil, &out); err != nil {
		return nil, err
	}
	m := make(map[string]string, len(out))
	for _, kv := range out {
		m[kv.ID] = kv.Value
	}
	return m, nil
}
