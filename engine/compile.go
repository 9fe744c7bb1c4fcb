package engine

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/flinkplane/flinkplane"
)

// The dry compile in the lifecycle (see docs/control-plane.md "The cut-over"):
// every job flinkplane submits is first built by the Compiler on its
// runtime, before anything stops or starts: main() with the application's
// EnvironmentProperties and the Flink configuration of its cluster, the
// application's CheckpointConfiguration imposed over what the code sets.
// The graph is checked against the state it will restore, and the same
// graph is what the driver submits (a JobGraphSubmitter), so the
// configuration DescribeApplication shows is the one that runs.

// Finding codes the engine adds to the compatibility findings.
const (
	// CodeStateChecked (INFO) says which state the check read.
	CodeStateChecked = "STATE_CHECKED"
	// CodeSlots (ERROR): the job needs more task slots than the
	// application's cluster has.
	CodeSlots = "JOB_NEEDS_SLOTS"
)

// Finding codes of compat the engine acts on (compat.CodeNativeSavepoint,
// compat.CodeStateUnreadable).
const (
	codeNativeSavepoint = "NATIVE_SAVEPOINT"
	codeStateUnreadable = "STATE_UNREADABLE"
)

// graphFile is where the compiled graph of an operation is kept until its
// job is submitted.
func (e *Engine) graphFile(opID string) string {
	dir := e.GraphDir
	if dir == "" {
		dir = filepath.Join(os.TempDir(), "flinkplane-jobgraphs")
	}
	return filepath.Join(dir, opID, "job.graph")
}

// removeGraph removes the files of an operation's compiled graph.
func (e *Engine) removeGraph(opID string) {
	if opID != "" {
		os.RemoveAll(filepath.Dir(e.graphFile(opID)))
	}
}

// compiled reports whether op has a compiled graph for its job whose files
// are still there.
func compiled(op *flinkplane.Operation) bool {
	g := op.Graph
	if g == nil || g.Compiled == nil || g.JobID != op.JobID {
		return false
	}
	for _, f := range []string{g.Compiled.GraphFile, g.Compiled.RestoreGraphFile} {
		if _, err := os.Stat(f); err != nil {
			return false
		}
	}
	return true
}

// compileJob builds the job of cfg on its runtime for operation opID with
// job id jobID: the graph to check, and, when the driver submits compiled
// graphs, the graph it will submit (with the application's checkpointing
// imposed). A main() that fails is findings and a nil graph.
func (e *Engine) compileJob(ctx context.Context, app *flinkplane.Application, cfg flinkplane.ApplicationConfig, opID, jobID string, allow bool) (*flinkplane.JobGraphInfo, []flinkplane.Finding, error) {
	if e.Code == nil {
		return nil, nil, flinkplane.Errorf(flinkplane.ECODE, "No code store is configured.")
	}
	jar, err := e.Code.Fetch(ctx, cfg.Code)
	if err != nil {
		return nil, nil, err
	}
	spec := flinkplane.CompileSpec{JarPath: jar, Parallelism: max(cfg.Parallelism.Parallelism, 1), Properties: cfg.EnvironmentProperties,
		JobID: jobID, AllowNonRestoredState: allow}
	cs := clusterSpecOf(app, cfg)
	if js, ok := e.Driver.(flinkplane.JobGraphSubmitter); ok {
		spec.FlinkConfig = js.JobConfiguration(cs)
		spec.Checkpointing = &cs.Checkpoint
		spec.GraphFile = e.graphFile(opID)
		if err := os.MkdirAll(filepath.Dir(spec.GraphFile), 0o755); err != nil {
			return nil, nil, err
		}
	}
	g, fs, err := e.Compiler.CompileJob(ctx, cfg.RuntimeEnvironment, spec)
	if err != nil || g == nil {
		e.removeGraph(opID)
		return nil, fs, err
	}
	if need, have := g.Slots(), cs.Parallelism+(cs.ParallelismPerKPU-cs.Parallelism%cs.ParallelismPerKPU)%cs.ParallelismPerKPU; need > have {
		fs = append(fs, flinkplane.Finding{Severity: flinkplane.SeverityError, Code: CodeSlots, Symbol: g.JobName,
			Message: fmt.Sprintf("The job needs %d task slots at once (the parallelism its code sets for its operators), and the application's cluster has %d (Parallelism %d, ParallelismPerKPU %d): Flink could not schedule it.",
				need, have, cs.Parallelism, cs.ParallelismPerKPU),
			Hint: "Raise the application's Parallelism (ParallelismConfiguration, CUSTOM), or set lower operator parallelism in the code."})
	}
	return g, fs, nil
}

// stepCompile builds the job the operation submits (compileJob), unless a
// graph of it was compiled already (UpdateApplication's check compiles the
// graph of its operation). main() failing fails the operation with
// Flink's message before any cluster starts (or, for an update, before the
// running job stops). A StartApplication also checks the graph against
// the snapshot it restores: an ERROR finding fails it, unless the
// application's tag flinkplane:compat-check is "warn".
func (e *Engine) stepCompile(ctx context.Context, r *stepRun) error {
	op, app, ver := r.op, r.app, r.ver
	if e.Compiler == nil || ver.Config.Code.ContentType == flinkplane.CodePlainText {
		return nil
	}
	if compiled(op) {
		return nil
	}
	if _, submits := e.Driver.(flinkplane.JobGraphSubmitter); !submits && op.Graph != nil && op.JobID != "" && op.Graph.JobID == op.JobID {
		return nil // checked already; the jar's main() builds it on the cluster
	}
	if op.JobID == "" {
		// The job id is in the graph: it is recorded first.
		op.JobID = newJobID()
		if err := e.save(ctx, op, nil); err != nil {
			return err
		}
	}
	allow := ver.Config.AllowNonRestoredState || op.AllowNonRestoredState
	g, fs, err := e.compileJob(ctx, app, ver.Config, op.ID, op.JobID, allow)
	if err != nil {
		return err
	}
	var tags []flinkplane.Tag
	if err := e.Store.View(ctx, func(tx flinkplane.Tx) (err error) { tags, err = tx.Tags(app.Name); return err }); err != nil {
		return err
	}
	if g != nil && op.Kind == flinkplane.OpStartApplication && op.RestoreFrom != "" {
		prev := e.runningGraph(ctx, app.Name, "")
		rfs, err := e.Compiler.CheckRestore(ctx, op.RestoreFrom, ver.Config.RuntimeEnvironment, g, prev, allow)
		if err != nil {
			return fmt.Errorf("check the snapshot to restore: %w", err)
		}
		fs = append(fs, checkedFinding(op.RestoreFrom, "the snapshot the start restores"))
		fs = append(fs, rfs...)
		op.PreviousGraph = prev
	}
	op.Findings = append(op.Findings, fs...)
	op.Graph = g
	if err := e.save(ctx, op, nil); err != nil {
		return err
	}
	if g == nil || blockedBy(fs, tags) {
		return failuref("%s", findingsMessage(ver.Config.RuntimeEnvironment, fs))
	}
	return nil
}

// checkedFinding says which state the compatibility check read (named,
// without the server's paths: findings are shown to API clients).
func checkedFinding(location, what string) flinkplane.Finding {
	return flinkplane.Finding{Severity: flinkplane.SeverityInfo, Code: CodeStateChecked, Symbol: path.Base(strings.TrimRight(location, "/")),
		Message: "The state checked is " + what + " (" + path.Base(strings.TrimRight(location, "/")) + ")."}
}

// runningGraph returns the graph of the application's job jobID (any job
// when ""), from the newest operation that compiled it; nil if none did.
func (e *Engine) runningGraph(ctx context.Context, app, jobID string) *flinkplane.JobGraphInfo {
	var g *flinkplane.JobGraphInfo
	e.Store.View(ctx, func(tx flinkplane.Tx) error {
		ops, err := tx.Operations(app, flinkplane.OperationFilter{Limit: 200})
		for _, o := range ops {
			if o.Graph != nil && (jobID == "" || o.Graph.JobID == jobID) && o.Status != flinkplane.OperationFailed {
				g = o.Graph
				return nil
			}
		}
		return err
	})
	if g != nil {
		c := *g
		c.Compiled = nil
		return &c
	}
	return nil
}

// stepStartTargetCluster starts the cluster the operation moves the
// application to, while the application's job still runs on its current
// cluster (a warm start): the operation records the handle, and the
// application takes the cluster over when the job is submitted to it
// (stepSubmit). A cluster recorded by an earlier try is kept if it is
// alive.
func (e *Engine) stepStartTargetCluster(ctx context.Context, r *stepRun) error {
	op, app, ver := r.op, r.app, r.ver
	if err := e.Driver.Ready(ver.Config.RuntimeEnvironment); err != nil {
		return err
	}
	if op.Cluster != nil {
		if op.Cluster.Runtime == ver.Config.RuntimeEnvironment {
			if alive, err := e.Driver.Adopt(ctx, *op.Cluster); err == nil && alive {
				return nil
			}
		}
		if err := e.Driver.Stop(ctx, *op.Cluster); err != nil {
			return fmt.Errorf("stop the target cluster of an earlier try: %w", err)
		}
		op.Cluster = nil
		if err := e.save(ctx, op, nil); err != nil {
			return err
		}
	}
	h, err := e.Driver.Start(ctx, clusterSpec(app, ver))
	if err != nil {
		return err
	}
	op.Cluster = &h
	err = e.save(ctx, op, nil)
	if errors.Is(err, errCancelled) {
		// Cancelled while the cluster started: nobody owns it, end it.
		if serr := e.Driver.Stop(context.WithoutCancel(ctx), h); serr != nil {
			e.Logger.Error("cannot stop the cluster of a cancelled operation", "operation", op.ID, "error", serr)
		}
	}
	return err
}

// stepStopPreviousCluster stops the cluster the application left for the
// operation's target cluster (its job stopped before the new one was
// submitted).
func (e *Engine) stepStopPreviousCluster(ctx context.Context, r *stepRun) error {
	op, app := r.op, r.app
	if op.PreviousCluster == nil {
		return nil
	}
	if app.Cluster == nil || app.Cluster.ID != op.PreviousCluster.ID {
		// The new job runs: a stop that fails is tried again before the
		// operation fails for it.
		var err error
		for attempt := 0; attempt < 3; attempt++ {
			if err = e.Driver.Stop(ctx, *op.PreviousCluster); err == nil || ctx.Err() != nil {
				break
			}
			e.Logger.Warn("cannot stop the cluster the application left, retrying", "application", app.Name, "cluster", op.PreviousCluster.ID, "error", err)
			if !e.sleep(ctx, e.PollInterval) {
				return ctx.Err()
			}
		}
		if err != nil {
			return fmt.Errorf("stop the previous cluster: %w", err)
		}
	}
	op.PreviousCluster = nil
	return e.save(ctx, op, nil)
}

// releaseClusters stops the clusters an operation that ended without
// finishing (failed or cancelled) started or left and that the
// application does not own: a warm target cluster that never took over,
// or the cluster the application left.
func (e *Engine) releaseClusters(ctx context.Context, op *flinkplane.Operation) {
	e.releaseClustersBut(ctx, op, "")
}

// releaseClustersBut is releaseClusters keeping the cluster with id keep.
func (e *Engine) releaseClustersBut(ctx context.Context, op *flinkplane.Operation, keep string) {
	if e.Driver == nil || (op.Cluster == nil && op.PreviousCluster == nil) {
		return
	}
	app, _, err := e.application(ctx, op.ApplicationName)
	if err != nil && flinkplane.ErrorCode(err) != flinkplane.ENOTFOUND {
		e.Logger.Error("cannot read the application to release the operation's clusters", "operation", op.ID, "error", err)
		return
	}
	for _, h := range []*flinkplane.ClusterHandle{op.Cluster, op.PreviousCluster} {
		if h == nil || (app != nil && app.Cluster != nil && app.Cluster.ID == h.ID) || h.ID == keep {
			continue
		}
		if err := e.Driver.Stop(context.WithoutCancel(ctx), *h); err != nil {
			e.Logger.Error("cannot stop a cluster of an ended operation", "operation", op.ID, "cluster", h.ID, "error", err)
		}
	}
	e.removeGraph(op.ID)
}

// restoreToCheck is the state an update will restore, as the
// compatibility check reads it: where, what it is, and a function that
// disposes of it after the check (a savepoint taken for the check).
type restoreToCheck struct {
	location   string
	what       string
	checkpoint bool // a checkpoint of the running job (not the canonical savepoint the stop writes)
	dispose    func()
}

// updateState returns the state an update of app to cfg restores, for the
// check: nil when it starts without state. From RUNNING with
// RESTORE_FROM_LATEST_SNAPSHOT the update restores the savepoint its stop
// writes: state of the job running now, at its current version. It is
// read from that job's latest completed checkpoint (free: no I/O for the
// job, same operators and serializers as the savepoint it will write), or,
// when it has none, a savepoint taken without stopping it (disposed after
// the check). From READY, and with a custom snapshot, exactly the snapshot
// the restore configuration picks for the target runtime.
func (e *Engine) updateState(ctx context.Context, app *flinkplane.Application, cur *flinkplane.ApplicationVersion, cfg flinkplane.ApplicationConfig, snaps []*flinkplane.Snapshot) (*restoreToCheck, error) {
	if cfg.Restore.Type == flinkplane.RestoreSkip {
		return nil, nil
	}
	running := app.Status == flinkplane.StatusRunning && app.Cluster != nil && app.JobID != "" && app.FailedOperation == ""
	if !running || cfg.Restore.Type == flinkplane.RestoreCustom {
		if app.Status == flinkplane.StatusRunning && !cur.Config.SnapshotsEnabled {
			return nil, nil // the new job starts without state
		}
		if app.Status == flinkplane.StatusRunning && app.FailedOperation != "" && cfg.Restore.Type != flinkplane.RestoreCustom {
			// A failed update's job wrote nothing: the next job restores the
			// newest snapshot, as a start would.
			s, _ := chooseRestore(snaps, flinkplane.RestoreLatest, "", cfg.RuntimeEnvironment, 0)
			if s == nil {
				return nil, nil
			}
			return &restoreToCheck{location: s.Location, what: "snapshot " + s.Name}, nil
		}
		s, err := chooseRestore(snaps, cfg.Restore.Type, cfg.Restore.SnapshotName, cfg.RuntimeEnvironment, 0)
		if err != nil || s == nil {
			return nil, nil // the restore rules refuse it with their own error
		}
		return &restoreToCheck{location: s.Location, what: "snapshot " + s.Name}, nil
	}
	if !cur.Config.SnapshotsEnabled {
		return nil, nil
	}
	// A canonical savepoint of the running job, taken without stopping it:
	// exactly what the update's stop will write. A checkpoint (RocksDB's
	// native, incremental format by default) keeps its serializers'
	// snapshots where the check does not read them (a CEP job restored on
	// 1.20 names a serializer class 2.x removed only there), so it stands
	// in only when no savepoint can be taken.
	if st, err := e.probeState(ctx, app); err == nil {
		return st, nil
	} else {
		e.Logger.Warn("cannot take a savepoint of the running job for the check; reading its newest checkpoint", "application", app.Name, "error", err)
	}
	// The newest checkpoint in the job's storage (Flink's REST statistics
	// may lag it by a refresh), else the newest Flink reports.
	latest := func() *flinkplane.CheckpointInfo {
		if c, err := e.Driver.LatestCheckpoint(ctx, *app.Cluster, app.JobID); err == nil && c.Path != "" {
			return &c
		}
		if h, err := e.Driver.JobHealth(ctx, *app.Cluster, app.JobID); err == nil && h.LatestCheckpoint != nil && h.LatestCheckpoint.Path != "" {
			return h.LatestCheckpoint
		}
		return nil
	}
	if c := latest(); c != nil {
		what := fmt.Sprintf("checkpoint %d of the running job %s", c.ID, app.JobID)
		if c.Savepoint {
			what = fmt.Sprintf("savepoint %d of the running job %s", c.ID, app.JobID)
		}
		return &restoreToCheck{location: c.Path, what: what, checkpoint: !c.Savepoint}, nil
	}
	return e.probeState(ctx, app)
}

// probeState takes a savepoint of the running job for the check.
func (e *Engine) probeState(ctx context.Context, app *flinkplane.Application) (*restoreToCheck, error) {
	loc, err := e.probeSavepoint(ctx, app)
	if err != nil {
		return nil, fmt.Errorf("take a savepoint of the running job for the check: %w", err)
	}
	return &restoreToCheck{location: loc, what: "a savepoint of the running job " + app.JobID + " taken for the check",
		dispose: func() { e.Driver.DisposeSavepoint(context.WithoutCancel(ctx), loc) }}, nil
}

// checkRestore checks st against graph (CheckRestore). A checkpoint read
// while its job runs may be subsumed and removed under the check: a
// checkpoint whose files cannot be read is replaced by a savepoint of the
// running job. Findings about the checkpoint's own format (RocksDB's
// native, incremental format) do not apply to the canonical savepoint the
// update restores and are dropped.
func (e *Engine) checkRestore(ctx context.Context, app *flinkplane.Application, st *restoreToCheck, target flinkplane.RuntimeID, graph, previous *flinkplane.JobGraphInfo, allow bool) ([]flinkplane.Finding, error) {
	for try := 0; ; try++ {
		fs, err := e.Compiler.CheckRestore(ctx, st.location, target, graph, previous, allow)
		// A checkpoint in RocksDB's native (incremental) format keeps its
		// serializers' snapshots outside what the check reads: the check
		// then reads a canonical savepoint of the running job, as the
		// update's stop will write.
		if st.checkpoint && try == 0 && (err != nil || hasCode(fs, codeStateUnreadable) || hasCode(fs, codeNativeSavepoint)) {
			e.Logger.Info("the checkpoint of the running job cannot be read for the check; taking a savepoint of it", "application", app.Name,
				"checkpoint", st.location, "error", err)
			probe, perr := e.probeState(ctx, app)
			if perr != nil {
				if err == nil {
					break
				}
				return nil, perr
			}
			*st = *probe
			continue
		}
		if err != nil {
			return nil, err
		}
		if st.checkpoint {
			kept := fs[:0]
			for _, f := range fs {
				if f.Code != codeNativeSavepoint {
					kept = append(kept, f)
				}
			}
			fs = kept
		}
		return append([]flinkplane.Finding{checkedFinding(st.location, st.what)}, fs...), nil
	}
	return nil, nil
}

func hasCode(fs []flinkplane.Finding, code string) bool {
	for _, f := range fs {
		if f.Code == code {
			return true
		}
	}
	return false
}

// preflight runs the checks of an update before anything stops: the new
// JAR against the target runtime (when the code or the runtime changes),
// the new job built on the target runtime (the dry compile: main() with
// the application's properties and Flink configuration; for an update of
// a RUNNING application this is the graph its operation opID will submit
// as job jobID), and that graph against the state the update will restore
// (updateState). blocked is true if an ERROR finding must stop it. The
// graph is returned for the operation (nil when none was built).
func (e *Engine) preflight(ctx context.Context, app *flinkplane.Application, cur *flinkplane.ApplicationVersion, cfg flinkplane.ApplicationConfig,
	tags []flinkplane.Tag, snaps []*flinkplane.Snapshot, changesCode bool, opID, jobID string) ([]flinkplane.Finding, *flinkplane.JobGraphInfo, *flinkplane.JobGraphInfo, bool, error) {
	target := cfg.RuntimeEnvironment
	var findings []flinkplane.Finding
	addErr := func(what string, err error) {
		findings = append(findings, flinkplane.Finding{Severity: flinkplane.SeverityError, Code: "CHECK_FAILED",
			Message: fmt.Sprintf("The %s check could not run: %s", what, flinkplane.ErrorMessage(err))})
	}
	plain := cfg.Code.ContentType == flinkplane.CodePlainText
	type jarResult struct {
		fs  []flinkplane.Finding
		err error
	}
	var jarDone chan jarResult
	if changesCode && e.Compat != nil && e.Code != nil && !plain {
		jar, err := e.Code.Fetch(ctx, cfg.Code)
		if err != nil {
			return nil, nil, nil, false, err
		}
		jarDone = make(chan jarResult, 1)
		go func() {
			fs, err := e.Compat.CheckJar(ctx, jar, target)
			jarDone <- jarResult{fs, err}
		}()
	}
	var graph, previous *flinkplane.JobGraphInfo
	if e.Compiler != nil && e.Driver != nil && !plain {
		g, fs, err := e.compileJob(ctx, app, cfg, opID, jobID, cfg.AllowNonRestoredState)
		if err != nil {
			addErr("job graph", err)
		}
		findings = append(findings, fs...)
		graph = g
	}
	// The state the update restores, checked against the new graph (or,
	// when there is none, its serializers alone).
	st, err := e.updateState(ctx, app, cur, cfg, snaps)
	if err != nil {
		e.Logger.Warn("cannot read the state of the running job for the compatibility check", "application", app.Name, "error", err)
		addErr("state", err)
	}
	if st != nil {
		defer func() { // st may be replaced by a savepoint (checkRestore)
			if st.dispose != nil {
				st.dispose()
			}
		}()
		if app.Status == flinkplane.StatusRunning {
			previous = e.runningGraph(ctx, app.Name, app.JobID)
		} else {
			previous = e.runningGraph(ctx, app.Name, "")
		}
		switch {
		case graph != nil:
			fs, err := e.checkRestore(ctx, app, st, target, graph, previous, cfg.AllowNonRestoredState)
			if err != nil {
				addErr("state", err)
			}
			findings = append(findings, fs...)
		case e.Compat != nil:
			fs, err := e.Compat.CheckSavepoint(ctx, st.location, target)
			if err != nil {
				addErr("state", err)
			}
			findings = append(findings, checkedFinding(st.location, st.what))
			findings = append(findings, fs...)
		}
	}
	if jarDone != nil {
		r := <-jarDone
		if r.err != nil {
			addErr("application code", r.err)
		}
		findings = append(r.fs, findings...)
	}
	// State only the migration can make restorable (migrate.go), checked
	// on a savepoint: the migration reads Flink's canonical format, not a
	// running job's (incremental, native) checkpoint.
	if st != nil && e.Migrator != nil && e.Code != nil && !plain && app.Status == flinkplane.StatusRunning && e.migrationEnabled(tags) && onlyMigratable(findings) {
		loc := st.location
		if st.checkpoint {
			if p, err := e.probeState(ctx, app); err == nil {
				defer p.dispose()
				loc = p.location
			} else {
				loc = ""
				addErr("state migration", err)
			}
		}
		if loc != "" {
			if jar, err := e.Code.Fetch(ctx, cfg.Code); err != nil {
				addErr("state migration", err)
			} else {
				findings = append(findings, e.migrationPreflight(ctx, app, cur, cfg, tags, findings, loc, jar)...)
			}
		}
	}
	for i := range findings {
		findings[i].Message = flinkplane.NameOperators(findings[i].Message, graph, previous)
	}
	return findings, graph, previous, blockedBy(findings, tags), nil
}

// jobFailureNamed is the failure of a job with its operators named by the
// uids the operation's graphs give them.
func jobFailureNamed(op *flinkplane.Operation, h flinkplane.JobHealth) error {
	err := jobFailure(h)
	msg := flinkplane.NameOperators(err.Error(), op.Graph, op.PreviousGraph)
	if msg == err.Error() {
		return err
	}
	return errors.New(msg)
}

// fastPoll is the pause between two polls of a wait that sits on the
// cut-over's critical path (a savepoint, a job's start): at most short
// for the first 10 seconds since, the engine's PollInterval after.
func (e *Engine) fastPoll(since time.Time, short time.Duration) time.Duration {
	if e.now().Sub(since) < 10*time.Second {
		return min(e.PollInterval, short)
	}
	return e.PollInterval
}
