package flinkplane

import (
	"strconv"
	"strings"
	"time"
)

// Health statuses: a one-word summary of a HealthSample.
const (
	// HealthHealthy: the job runs with all its tasks and every process of
	// its cluster is alive.
	HealthHealthy = "HEALTHY"
	// HealthStarting: the job is created, initializing or not yet running
	// all its tasks, and has not restarted.
	HealthStarting = "STARTING"
	// HealthDegraded: the job is RUNNING but a TaskManager process is gone
	// (Flink has not noticed yet) or not every task runs after a restart.
	HealthDegraded = "DEGRADED"
	// HealthRestarting: the job is failing or restarting (Flink's own
	// restart strategy at work).
	HealthRestarting = "RESTARTING"
	// HealthFailed, HealthCanceled, HealthFinished: the job reached that
	// terminal state.
	HealthFailed   = "FAILED"
	HealthCanceled = "CANCELED"
	HealthFinished = "FINISHED"
	// HealthJobManagerLost: the cluster's JobManager process is gone.
	HealthJobManagerLost = "JOBMANAGER_LOST"
	// HealthNoJob: the cluster runs but does not know the application's job.
	HealthNoJob = "NO_JOB"
	// HealthUnreachable: the JobManager process is alive but did not answer.
	HealthUnreachable = "UNREACHABLE"
)

// ClusterHealth is what a driver sees of a cluster's processes without
// asking Flink, so that it answers when the JobManager is gone. The local
// driver reads its JVMs (pid files checked against /proc); a Kubernetes
// driver would read the JobManager deployment and the TaskManager pods.
type ClusterHealth struct {
	// JobManagerAlive is false when the JobManager process is gone.
	JobManagerAlive bool `json:"jobManagerAlive"`
	// TaskManagers is the number of TaskManager processes the cluster
	// should have; TaskManagersAlive how many of them are alive.
	TaskManagers      int `json:"taskManagers"`
	TaskManagersAlive int `json:"taskManagersAlive"`
	// Lost names the processes that are gone ("jobmanager",
	// "taskmanager-1", ...).
	Lost []string `json:"lost,omitempty"`
}

// Healthy reports whether every process of the cluster is alive.
func (c ClusterHealth) Healthy() bool {
	return c.JobManagerAlive && c.TaskManagersAlive >= c.TaskManagers
}

// CheckpointInfo describes one completed checkpoint or savepoint of a job.
type CheckpointInfo struct {
	// ID is Flink's checkpoint id; savepoints and checkpoints of a job (and
	// of the jobs restored from them) share one increasing sequence.
	ID        int64 `json:"id"`
	Savepoint bool  `json:"savepoint,omitempty"`
	// Path is the checkpoint's external path (a directory with _metadata),
	// usable as a restore point.
	Path string `json:"path,omitempty"`
	// Time is when it completed (for a restore: when the job restored it).
	Time time.Time `json:"time,omitzero"`
	// Duration is the end-to-end duration; Size the checkpointed size in
	// bytes.
	Duration time.Duration `json:"duration,omitempty"`
	Size     int64         `json:"size,omitempty"`
}

// JobException is one entry of a job's exception history (JobHealth
// carries the newest; the metrics reader all it sees).
type JobException struct {
	Time time.Time `json:"time,omitzero"`
	// Name is the exception class, where Flink gives it.
	Name string `json:"name,omitempty"`
	// Task is the failing task ("count-per-key -> Sink: file-sink (1/1)").
	Task string `json:"task,omitempty"`
	// Endpoint is the failing TaskManager's address, where Flink gives it.
	Endpoint string `json:"endpoint,omitempty"`
	// Stacktrace is Flink's stack trace text (bounded by the driver).
	Stacktrace string `json:"stacktrace,omitempty"`
}

// HealthSample is one observation of a running application: what its job
// and its cluster looked like at Time. The watch records one per poll; the
// newest is the application's health and a bounded history is kept. The
// struct is meant to grow: new observations (records in/out, heap, CPU) are
// added as fields or as Metrics entries without a schema change (samples are
// stored as JSON documents).
type HealthSample struct {
	ApplicationName string    `json:"applicationName"`
	Time            time.Time `json:"time"`
	// Status is one of the Health* constants.
	Status string `json:"status"`
	// VersionID is the application version whose job ran.
	VersionID int64     `json:"versionId,omitempty"`
	Runtime   RuntimeID `json:"runtime,omitempty"`
	ClusterID string    `json:"clusterId,omitempty"`
	JobID     string    `json:"jobId,omitempty"`

	// Job, as Flink reports it.
	JobState             string          `json:"jobState,omitempty"`
	AllTasksRunning      bool            `json:"allTasksRunning"`
	Restarts             int64           `json:"restarts"`
	CompletedCheckpoints int64           `json:"completedCheckpoints"`
	FailedCheckpoints    int64           `json:"failedCheckpoints"`
	LatestCheckpoint     *CheckpointInfo `json:"latestCheckpoint,omitempty"`
	Restored             *CheckpointInfo `json:"restored,omitempty"`
	JobStartTime         time.Time       `json:"jobStartTime,omitzero"`
	RunningSince         time.Time       `json:"runningSince,omitzero"`
	// RootCause is the deepest cause of the job's newest exception, Cause
	// its classification (see ClassifyFailure).
	RootCause string `json:"rootCause,omitempty"`
	Cause     string `json:"cause,omitempty"`

	// Cluster, as the driver sees its processes.
	Cluster *ClusterHealth `json:"cluster,omitempty"`
	// Error says why the job could not be asked (the JobManager did not
	// answer), if so.
	Error string `json:"error,omitempty"`

	// Metrics holds further numeric observations by name, for collectors
	// that add their own (records in/out, heap, CPU).
	Metrics map[string]float64 `json:"metrics,omitempty"`
}

// Uptime returns how long the job has been RUNNING since its last
// (re)start, or 0.
func (s *HealthSample) Uptime() time.Duration {
	if s.RunningSince.IsZero() || s.JobState != "RUNNING" {
		return 0
	}
	return max(s.Time.Sub(s.RunningSince), 0)
}

// JobStatusHealth summarises Flink's view of a job and the cluster's
// processes as a Health* status.
func JobStatusHealth(job JobHealth, cluster ClusterHealth) string {
	if !cluster.JobManagerAlive {
		return HealthJobManagerLost
	}
	switch job.State {
	case "FAILED":
		return HealthFailed
	case "CANCELED", "CANCELLING":
		return HealthCanceled
	case "FINISHED":
		return HealthFinished
	case "FAILING", "RESTARTING", "SUSPENDED":
		return HealthRestarting
	case "RUNNING":
		if !cluster.Healthy() {
			return HealthDegraded
		}
		if job.AllTasksRunning {
			return HealthHealthy
		}
		if job.Restarts > 0 {
			return HealthDegraded
		}
		return HealthStarting
	}
	return HealthStarting
}

// Newer returns whichever of a and b has the higher checkpoint id (nil
// counts as oldest).
func (c *CheckpointInfo) Newer(b *CheckpointInfo) *CheckpointInfo {
	switch {
	case c == nil:
		return b
	case b == nil || c.ID >= b.ID:
		return c
	}
	return b
}

// ClassifyFailure turns the stack trace of a job's failure into the cause
// an operation reports: "State restore failure of operator X: <root>",
// "Class missing: <class> (<root>)", "User code exception at
// <class.method(File.java:line)>: <root>", or the root cause itself.
// root is the deepest "Caused by:" of the trace (as JobHealth.RootCause),
// task the failing task's name.
func ClassifyFailure(stacktrace, task, root string) string {
	if root == "" {
		root = deepestCause(stacktrace)
	} else if strings.Contains(root, "\n") {
		root = deepestCause(root) // one line: the deepest cause
	}
	if stacktrace == "" {
		return root
	}
	if op, ok := restoreFailure(stacktrace); ok {
		if op == "" {
			op = headOperator(task)
		}
		var details []string
		if f := anyUserFrame(stacktrace); f != "" {
			details = append(details, "state accessed at "+f)
		}
		if task != "" {
			details = append(details, "task "+task)
		}
		msg := "State restore failure"
		if op != "" {
			msg += " of operator " + op
		}
		if len(details) > 0 {
			msg += " (" + strings.Join(details, "; ") + ")"
		}
		return msg + ": " + root
	}
	for _, key := range []string{"ClassNotFoundException: ", "NoClassDefFoundError: "} {
		if i := strings.LastIndex(stacktrace, key); i >= 0 {
			cls := firstField(stacktrace[i+len(key):])
			return "Class missing: " + strings.ReplaceAll(cls, "/", ".") + " (" + root + ")"
		}
	}
	if at := userFrame(stacktrace); at != "" {
		return "User code exception at " + at + ": " + root
	}
	return root
}

// restoreFailure recognises Flink's state restore failures and names the
// operator: "KeyedProcessOperator_0a448493b4782967b150582570326227_(1/1)"
// in "Could not restore keyed state backend for ..." gives
// "KeyedProcessOperator (id 0a448493...)".
func restoreFailure(st string) (string, bool) {
	markers := []string{
		"Could not restore keyed state backend for ",
		"Could not restore operator state backend for ",
		"Could not restore state backend for ",
	}
	for _, m := range markers {
		if i := strings.Index(st, m); i >= 0 {
			return operatorName(firstField(st[i+len(m):])), true
		}
	}
	for _, m := range []string{"StateMigrationException", "Exception while creating StreamOperatorStateContext",
		"Failed to rollback to checkpoint/savepoint", "Cannot map checkpoint/savepoint state for operator",
		"Error while getting state"} {
		if strings.Contains(st, m) {
			if i := strings.Index(st, "Cannot map checkpoint/savepoint state for operator "); i >= 0 {
				return firstField(st[i+len("Cannot map checkpoint/savepoint state for operator "):]), true
			}
			return "", true
		}
	}
	return "", false
}

// operatorName turns Flink's "<Class>_<32 hex>_(i/n)" into
// "<Class> (id <hex>)".
func operatorName(s string) string {
	s = strings.TrimSuffix(strings.TrimRight(s, ".,:"), "")
	parts := strings.Split(s, "_")
	if len(parts) >= 3 && len(parts[len(parts)-2]) == 32 {
		return strings.Join(parts[:len(parts)-2], "_") + " (id " + parts[len(parts)-2] + ")"
	}
	return s
}

func firstField(s string) string {
	if f := strings.Fields(s); len(f) > 0 {
		return strings.TrimRight(f[0], ".,:;")
	}
	return ""
}

// deepestCause returns the deepest "Caused by:" line of a stack trace, or
// its first line.
func deepestCause(st string) string {
	lines := strings.Split(st, "\n")
	best := strings.TrimSpace(lines[0])
	for _, l := range lines {
		if s, ok := strings.CutPrefix(strings.TrimSpace(l), "Caused by: "); ok {
			best = s
		}
	}
	return best
}

// userFrame returns the first stack frame of the deepest cause that is not
// Flink's, the JDK's or a well-known library's: the user code that threw.
func userFrame(st string) string {
	lines := strings.Split(st, "\n")
	start := 0
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), "Caused by: ") {
			start = i
		}
	}
	for _, l := range lines[start:] {
		f, ok := strings.CutPrefix(strings.TrimSpace(l), "at ")
		if !ok {
			continue
		}
		// "app//com.example.Job$Fn.map(Job.java:42)" or with a module prefix.
		if i := strings.LastIndex(f, "/"); i >= 0 && i < strings.Index(f, "(") {
			f = f[i+1:]
		}
		if frameworkFrame(f) {
			continue
		}
		return f
	}
	return ""
}

// anyUserFrame returns the first user frame anywhere in the trace (the
// user function that asked for the state, under a cause thrown by Flink).
func anyUserFrame(st string) string {
	for _, l := range strings.Split(st, "\n") {
		f, ok := strings.CutPrefix(strings.TrimSpace(l), "at ")
		if !ok {
			continue
		}
		if i := strings.LastIndex(f, "/"); i >= 0 && i < strings.Index(f, "(") {
			f = f[i+1:]
		}
		if !frameworkFrame(f) {
			return f
		}
	}
	return ""
}

// headOperator returns the first operator of a task name
// ("pojo-state -> file-sink: Writer (1/1)" gives "pojo-state").
func headOperator(task string) string {
	head, _, _ := strings.Cut(task, " -> ")
	if i := strings.Index(head, " ("); i > 0 {
		head = head[:i]
	}
	return strings.TrimSpace(strings.TrimPrefix(head, "Source: "))
}

func frameworkFrame(f string) bool {
	for _, p := range []string{"org.apache.flink.", "java.", "javax.", "jdk.", "sun.", "scala.", "akka.", "org.apache.pekko.",
		"com.esotericsoftware.", "org.slf4j.", "org.apache.log4j", "org.apache.logging."} {
		if strings.HasPrefix(f, p) {
			return true
		}
	}
	return false
}

// ProbationWindow returns the default probation window of an application:
// twice its checkpoint interval, at least 10 s and at most 2 minutes (10 s
// when checkpointing is off). A job must run that long without a restart
// before the operation that started it succeeds.
func ProbationWindow(c CheckpointConfig) time.Duration {
	if !c.CheckpointingEnabled || c.CheckpointInterval <= 0 {
		return 10 * time.Second
	}
	return min(max(2*time.Duration(c.CheckpointInterval)*time.Millisecond, 10*time.Second), 2*time.Minute)
}

// ParseWindow parses a duration setting: Go syntax ("90s", "2m") or a
// number of seconds ("90").
func ParseWindow(s string) (time.Duration, error) {
	s = strings.TrimSpace(s)
	if n, err := strconv.ParseFloat(s, 64); err == nil {
		if n < 0 {
			return 0, Errorf(EINVALID, "A duration must not be negative: %q.", s)
		}
		return time.Duration(n * float64(time.Second)), nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d < 0 {
		return 0, Errorf(EINVALID, "Invalid duration %q: give seconds (90) or a duration (90s, 2m).", s)
	}
	return d, nil
}

// AutoRollback is the policy that rolls an application back to its
// previous version when its job restarts too often soon after an update.
type AutoRollback struct {
	// Restarts within Window after the update ended trigger the rollback;
	// Restarts 0 means off.
	Restarts int64
	Window   time.Duration
}

// Enabled reports whether the policy can trigger.
func (a AutoRollback) Enabled() bool { return a.Restarts > 0 && a.Window > 0 }

func (a AutoRollback) String() string {
	if !a.Enabled() {
		return "off"
	}
	return strconv.FormatInt(a.Restarts, 10) + "/" + a.Window.String()
}

// ParseAutoRollback parses "off" or "<restarts>/<window>" (e.g. "3/5m":
// three restarts within five minutes after an update roll it back).
func ParseAutoRollback(s string) (AutoRollback, error) {
	s = strings.TrimSpace(s)
	if s == "" || strings.EqualFold(s, "off") || s == "0" {
		return AutoRollback{}, nil
	}
	n, w, ok := strings.Cut(s, "/")
	r, err := strconv.ParseInt(strings.TrimSpace(n), 10, 64)
	if !ok || err != nil || r < 1 {
		return AutoRollback{}, Errorf(EINVALID, "Invalid auto-rollback policy %q: give off or RESTARTS/WINDOW, e.g. 3/5m.", s)
	}
	d, err := ParseWindow(w)
	if err != nil || d <= 0 {
		return AutoRollback{}, Errorf(EINVALID, "Invalid auto-rollback policy %q: give off or RESTARTS/WINDOW, e.g. 3/5m.", s)
	}
	return AutoRollback{Restarts: r, Window: d}, nil
}
