package engine

import (
	"context"

	"github.com/flinkplane/flinkplane"
)

// PreflightResult is what an update's pre-flight found, without the update.
type PreflightResult struct {
	// RuntimeEnvironment is the runtime the update targets.
	RuntimeEnvironment flinkplane.RuntimeID
	// Checked is false when the update changes neither the runtime nor the
	// code: then no compatibility check applies (an update would not run
	// one either).
	Checked  bool
	Findings []flinkplane.Finding
	// Blocked: UpdateApplication would refuse this update with
	// EINVALIDCONFIG (an ERROR finding, and the application's
	// flinkplane:compat-check tag is not "warn").
	Blocked bool
	// CompatCheck is the application's flinkplane:compat-check mode:
	// "enforce" or "warn".
	CompatCheck string
}

// Preflight runs what UpdateApplication checks before it changes anything
// (the version id or token, the status, the new configuration, the code
// location, the restore choice) and the compatibility pre-flight of a change
// of runtime or code, and returns the findings instead of acting: it
// records no operation, no version and changes no status. For a RUNNING
// application the check may take a savepoint of the running job, which is
// disposed afterwards, as the update's own check does (the job keeps
// running). Returns the errors UpdateApplication returns for the same input
// before its pre-flight.
func (e *Engine) Preflight(ctx context.Context, name string, in UpdateInput) (*PreflightResult, error) {
	if in.Kind == "" {
		in.Kind = flinkplane.OpUpdateApplication
	}
	u, err := e.prepareUpdate(ctx, name, in)
	if err != nil {
		return nil, err
	}
	app, cur, cfg, tags, snaps, changesCode := u.app, u.cur, u.cfg, u.tags, u.snaps, u.changesCode
	res := &PreflightResult{RuntimeEnvironment: cfg.RuntimeEnvironment, CompatCheck: CompatMode(tags), Findings: []flinkplane.Finding{}}
	if !(changesCode && e.Compat != nil) && !(e.Compiler != nil && (changesCode || u.restarts)) {
		return res, nil
	}
	// The same checks as UpdateApplication's; the graph it builds is
	// thrown away.
	opID := newID()
	findings, _, _, blocked, err := e.preflight(ctx, app, cur, cfg, tags, snaps, changesCode, opID, newJobID())
	e.removeGraph(opID)
	if err != nil {
		return nil, err
	}
	res.Checked, res.Blocked = true, blocked
	if findings != nil {
		res.Findings = findings
	}
	return res, nil
}

// pendingUpdate is an update read and checked, before its pre-flight.
type pendingUpdate struct {
	app         *flinkplane.Application
	cur         *flinkplane.ApplicationVersion
	cfg         flinkplane.ApplicationConfig // the new configuration
	tags        []flinkplane.Tag
	snaps       []*flinkplane.Snapshot
	changesCode bool // a new runtime or new code
	restarts    bool // the running job restarts for it
}

// prepareUpdate reads an application for UpdateApplication or Preflight
// and checks what both check before the pre-flight: the version id or
// token, the status (in.Kind names the operation in the error), the new
// configuration, the capacity, the code location and the restore choice.
func (e *Engine) prepareUpdate(ctx context.Context, name string, in UpdateInput) (*pendingUpdate, error) {
	u := &pendingUpdate{}
	err := e.Store.View(ctx, func(tx flinkplane.Tx) (err error) {
		if u.app, err = tx.Application(name); err != nil {
			return err
		}
		if u.cur, err = tx.Version(name, u.app.VersionID); err != nil {
			return err
		}
		if u.tags, err = tx.Tags(name); err != nil {
			return err
		}
		u.snaps, err = tx.Snapshots(name, "", 0)
		return err
	})
	if err != nil {
		return nil, err
	}
	app, cur := u.app, u.cur
	if err := checkVersion(app, in.CurrentVersion, in.ConditionalToken); err != nil {
		return nil, err
	}
	if app.Status != flinkplane.StatusReady && app.Status != flinkplane.StatusRunning {
		return nil, statusError(app, in.Kind, "READY or RUNNING")
	}
	u.cfg = cur.Config.Clone()
	if in.Change != nil {
		if err := in.Change(&u.cfg); err != nil {
			return nil, err
		}
	}
	cfg := u.cfg
	if cfg.Parallelism != cur.Config.Parallelism {
		if err := e.checkCapacity(app, cfg); err != nil {
			return nil, err
		}
	}
	if codeDiffers(cur.Config.Code, cfg.Code) && cfg.Code.S3 != nil && e.Code != nil {
		if err := e.Code.Check(ctx, *cfg.Code.S3); err != nil {
			return nil, err
		}
	}
	if err := checkUpdateRestore(app, cur, cfg, u.snaps); err != nil {
		return nil, err
	}
	u.changesCode = cfg.RuntimeEnvironment != cur.Config.RuntimeEnvironment || codeDiffers(cur.Config.Code, cfg.Code)
	u.restarts = app.Status == flinkplane.StatusRunning && flinkplane.RunsDifferently(cur.Config, cfg)
	return u, nil
}
