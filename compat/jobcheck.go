package compat

import (
	"context"
	"time"

	"github.com/flinkplane/flinkplane"
)

// JobCheck asks for the full check of a new job before an upgrade: its jar
// against the target runtime (CheckJarReport), its job graph built on the
// target (CompileJob), and, given a savepoint, that savepoint's state
// against the graph (CheckRestore).
type JobCheck struct {
	Target flinkplane.RuntimeID
	// Job is the new job; Job.JarPath is required.
	Job flinkplane.CompileSpec
	// Savepoint, when set, is the savepoint the job will restore.
	Savepoint             string
	AllowNonRestoredState bool
	// Previous, when its JarPath is set, is the job that wrote the savepoint,
	// compiled on PreviousTarget to name the operators the new job lacks.
	Previous       flinkplane.CompileSpec
	PreviousTarget flinkplane.RuntimeID
}

// JobReport is the result of a JobCheck: every finding, sorted, and the
// graphs the dry compiles built.
type JobReport struct {
	Jar              string                   `json:"jar"`
	Target           flinkplane.RuntimeID     `json:"target"`
	Savepoint        string                   `json:"savepoint,omitempty"`
	Findings         []flinkplane.Finding     `json:"findings"`
	Summary          Summary                  `json:"summary"`
	JobGraph         *flinkplane.JobGraphInfo `json:"jobGraph,omitempty"`
	PreviousJobGraph *flinkplane.JobGraphInfo `json:"previousJobGraph,omitempty"`
}

// CheckJob runs a JobCheck. The jar scan and the dry compile run side by
// side. A failed dry compile (main() throws) is a finding and skips the
// savepoint's mapping; errors are those of CheckJarReport, CompileJob and
// CheckRestore.
func (c *Checker) CheckJob(ctx context.Context, req JobCheck) (*JobReport, error) {
	start := time.Now()
	type compiled struct {
		g   *flinkplane.JobGraphInfo
		fs  []flinkplane.Finding
		err error
	}
	compile := func(target flinkplane.RuntimeID, spec flinkplane.CompileSpec) chan compiled {
		ch := make(chan compiled, 1)
		go func() {
			g, fs, err := c.CompileJob(ctx, target, spec)
			ch <- compiled{g, fs, err}
		}()
		return ch
	}
	cur := compile(req.Target, req.Job)
	var prev chan compiled
	if req.Savepoint != "" && req.Previous.JarPath != "" {
		prev = compile(req.PreviousTarget, req.Previous)
	}
	jr, jerr := c.CheckJarReport(ctx, req.Job.JarPath, req.Target)
	cr := <-cur
	var pr compiled
	if prev != nil {
		pr = <-prev
	}
	if jerr != nil {
		return nil, jerr
	}
	if cr.err != nil {
		return nil, cr.err
	}
	if pr.err != nil {
		return nil, pr.err
	}
	rep := &JobReport{Jar: req.Job.JarPath, Target: req.Target, Savepoint: req.Savepoint, JobGraph: cr.g, PreviousJobGraph: pr.g, Summary: jr.Summary}
	rep.Findings = append(append([]flinkplane.Finding{}, jr.Findings...), cr.fs...)
	if pr.fs != nil {
		for _, f := range pr.fs {
			// The previous job only names operators: its failure is a note.
			f.Severity = flinkplane.SeverityInfo
			f.Message = "Naming the savepoint's operators: the previous job could not be compiled on " + string(req.PreviousTarget) + ": " + f.Message
			rep.Findings = append(rep.Findings, f)
		}
	}
	switch {
	case req.Savepoint != "" && cr.g != nil:
		fs, err := c.CheckRestore(ctx, req.Savepoint, req.Target, cr.g, pr.g, req.AllowNonRestoredState)
		if err != nil {
			return nil, err
		}
		rep.Findings = append(rep.Findings, fs...)
	case req.Savepoint != "":
		// No graph to map the state onto: the state's serializers still.
		sr, err := CheckSavepointFor(ctx, req.Savepoint, req.Target, nil, pr.g)
		if err != nil {
			return nil, err
		}
		rep.Findings = append(rep.Findings, sr.Findings...)
	}
	sortFindings(rep.Findings)
	summarize(rep.Findings, &rep.Summary)
	rep.Summary.Seconds = time.Since(start).Seconds()
	return rep, nil
}
