package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	kav2 "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/client"
	"github.com/flinkplane/flinkplane/compat"
)

func init() {
	commands["upgrade"] = command{summary: "upgrade an application the guide's way: pre-flight, snapshot, update, watch, verdict", run: runUpgrade}
}

const upgradeUsage = `usage:
  flinkplane upgrade [--endpoint-url URL] --application-name NAME --runtime FLINK-2_2 [--code s3://BUCKET/KEY]
                     [--enable-system-rollback] [--rollback-on-failure] [--dry-run] [--probation 2m]
Walks the upgrade guide's phases through the service's public APIs and ends with a verdict;
exit 0 only when the application was upgraded and ran healthy through the probation.`

func runUpgrade(ctx context.Context, args []string) error { return runUpgradeTo(ctx, args, os.Stdout) }

// upgrade is one run of `flinkplane upgrade`; see docs/console.md.
type upgrade struct {
	out                 io.Writer
	app, runtime        string
	bucketARN, key      string // new code, "" to keep it
	dryRun, enableRB    bool
	rollbackOnFailure   bool
	probation, interval time.Duration
	endpoint            string
	kav                 *kav2.Client
	cw                  *cloudwatch.Client
	fp                  *client.Client
	t0                  time.Time
}

func runUpgradeTo(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("upgrade", flag.ContinueOnError)
	fs.Usage = func() { fmt.Fprintln(fs.Output(), upgradeUsage); fs.PrintDefaults() }
	cf := addClientFlags(fs)
	app := stringFlag(fs, "application-name", "", "application name")
	rt := stringFlag(fs, "runtime", "", "target runtime, e.g. FLINK-2_2")
	code := stringFlag(fs, "code", "", "new application code s3://BUCKET/KEY (default: keep the code)")
	enableRB := boolFlag(fs, "enable-system-rollback", false, "turn system rollback on before the update")
	rbOnFailure := boolFlag(fs, "rollback-on-failure", false, "roll back when the upgraded application fails or is unhealthy in the probation")
	dryRun := boolFlag(fs, "dry-run", false, "stop after the pre-flight; change nothing")
	probation := stringFlag(fs, "probation", "2m", "how long to watch the upgraded application (status, numRestarts, checkpoints)")
	interval := stringFlag(fs, "interval", "2s", "pause between two looks at the application")
	timeout := stringFlag(fs, "timeout", "30m", "give up waiting after this long")
	if err := fs.Parse(args); err != nil {
		return usageErr("%v", err)
	}
	u := &upgrade{out: out, app: *app, runtime: *rt, dryRun: *dryRun, enableRB: *enableRB, rollbackOnFailure: *rbOnFailure, endpoint: *cf.endpoint, t0: time.Now()}
	if fs.NArg() > 0 || u.app == "" || u.runtime == "" {
		return usageErr("--application-name and --runtime are required (%s)", strings.Join(fs.Args(), " "))
	}
	if *code != "" {
		b, k, ok := strings.Cut(strings.TrimPrefix(*code, "s3://"), "/")
		if !strings.HasPrefix(*code, "s3://") || !ok || b == "" || k == "" {
			return usageErr("--code must be s3://BUCKET/KEY, not %q", *code)
		}
		u.bucketARN, u.key = "arn:aws:s3:::"+b, k
	}
	var err error
	var to time.Duration
	for _, d := range []struct {
		flag string
		in   string
		out  *time.Duration
	}{{"probation", *probation, &u.probation}, {"interval", *interval, &u.interval}, {"timeout", *timeout, &to}} {
		if *d.out, err = time.ParseDuration(d.in); err != nil || *d.out < 0 {
			return usageErr("--%s: %q is not a duration", d.flag, d.in)
		}
	}
	if u.interval <= 0 {
		u.interval = time.Second
	}
	if to > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, to)
		defer cancel()
	}
	if u.fp, err = cf.client(); err != nil {
		return usageErr("%v", err)
	}
	var creds aws.CredentialsProvider = aws.AnonymousCredentials{}
	if u.fp.Credentials != nil {
		creds = u.fp.Credentials
	}
	u.kav = kav2.New(kav2.Options{Region: *cf.region, BaseEndpoint: aws.String(u.endpoint), Credentials: creds})
	u.cw = cloudwatch.New(cloudwatch.Options{Region: *cf.region, BaseEndpoint: aws.String(u.endpoint), Credentials: creds})
	return u.run(ctx)
}

func (u *upgrade) printf(format string, args ...any) { fmt.Fprintf(u.out, format, args...) }

// step prints a line of a phase: "[phase] text".
func (u *upgrade) step(phase, format string, args ...any) {
	u.printf("%-14s %s\n", "["+phase+"]", fmt.Sprintf(format, args...))
}

// tick prints a progress line with the time since the start.
func (u *upgrade) tick(format string, args ...any) {
	u.printf("%14s %s\n", "+"+time.Since(u.t0).Round(time.Second).String(), fmt.Sprintf(format, args...))
}

// verdict prints the verdict and returns nil (exit 0) or an exit-1 error.
func (u *upgrade) verdict(ok bool, format string, args ...any) error {
	msg := fmt.Sprintf(format, args...)
	u.printf("\nverdict: %s\n", msg)
	if ok {
		return nil
	}
	head, _, _ := strings.Cut(msg, ":")
	return &exitError{code: exitErrors, err: errors.New(strings.ToLower(head))}
}

func (u *upgrade) describe(ctx context.Context) (*types.ApplicationDetail, error) {
	out, err := u.kav.DescribeApplication(ctx, &kav2.DescribeApplicationInput{ApplicationName: aws.String(u.app)})
	if err != nil {
		return nil, err
	}
	return out.ApplicationDetail, nil
}

func (u *upgrade) run(ctx context.Context) error {
	d, err := u.describe(ctx)
	if err != nil {
		return usageErr("%v", err)
	}
	c := d.ApplicationConfigurationDescription
	snapshotsOn := c != nil && c.ApplicationSnapshotConfigurationDescription != nil && aws.ToBool(c.ApplicationSnapshotConfigurationDescription.SnapshotsEnabled)
	rollbackOn := c != nil && c.ApplicationSystemRollbackConfigurationDescription != nil && aws.ToBool(c.ApplicationSystemRollbackConfigurationDescription.RollbackEnabled)
	oldCode := codeOf(d)
	newCode := oldCode
	if u.key != "" {
		newCode = strings.TrimPrefix(u.bucketARN, "arn:aws:s3:::") + "/" + u.key
	}
	u.printf("flinkplane upgrade %s: %s → %s, code %s (%s)\n\n", u.app, d.RuntimeEnvironment, u.runtime, newCode, u.endpoint)
	u.step("application", "%s, version %d, %s, code %s, snapshots %s, system rollback %s",
		d.ApplicationStatus, aws.ToInt64(d.ApplicationVersionId), d.RuntimeEnvironment, oldCode, onOff(snapshotsOn), onOff(rollbackOn))
	if d.ApplicationStatus != types.ApplicationStatusRunning && d.ApplicationStatus != types.ApplicationStatusReady {
		return u.verdict(false, "NOT STARTED: %s is %s; an upgrade needs it RUNNING or READY (wait for its operation to end)", u.app, d.ApplicationStatus)
	}

	// Phase 2 of the guide: check before anything stops.
	u.step("pre-flight", "checking the code and the state against %s (nothing stops, nothing changes)…", u.runtime)
	pf, err := u.fp.Preflight(ctx, u.app, u.request(aws.ToInt64(d.ApplicationVersionId)))
	var ce *client.Error
	switch {
	case errors.As(err, &ce) && (ce.Type == "UnknownOperationException" || ce.StatusCode == http.StatusNotFound):
		u.tick("this endpoint has no pre-flight dry run: UpdateApplication runs the service's own check")
	case err != nil:
		return u.verdict(false, "REFUSED: %s; nothing was changed", apiMessage(err))
	default:
		if !pf.Checked {
			u.tick("no compatibility check applies (the update changes neither runtime nor code, or the server checks none)")
		}
		if len(pf.CompatibilityFindings) > 0 {
			var b bytes.Buffer
			writeFindings(&b, "findings:", pf.CompatibilityFindings, compat.Summary{Errors: pf.Summary.Errors, Warnings: pf.Summary.Warnings, Infos: pf.Summary.Infos})
			for _, line := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
				u.printf("%s\n", strings.TrimRight("               "+line, " "))
			}
		} else if pf.Checked {
			u.tick("no findings")
		}
		if pf.Blocked {
			return u.verdict(false, "REFUSED by the pre-flight: %d error(s) against %s; nothing was changed, %s stays %s on %s (version %d)",
				pf.Summary.Errors, u.runtime, u.app, d.ApplicationStatus, d.RuntimeEnvironment, aws.ToInt64(d.ApplicationVersionId))
		}
	}
	if u.dryRun {
		return u.verdict(true, "DRY RUN: the pre-flight lets this upgrade through; nothing was changed (run without --dry-run to upgrade)")
	}

	// Phase 3: system rollback.
	switch {
	case rollbackOn:
		u.step("rollback", "system rollback is on: a failed update returns to version %d by itself", aws.ToInt64(d.ApplicationVersionId))
	case u.enableRB:
		out, err := u.kav.UpdateApplication(ctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String(u.app), CurrentApplicationVersionId: d.ApplicationVersionId,
			ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{ApplicationSystemRollbackConfigurationUpdate: &types.ApplicationSystemRollbackConfigurationUpdate{RollbackEnabledUpdate: aws.Bool(true)}}})
		if err != nil {
			return u.verdict(false, "NOT UPGRADED: cannot turn system rollback on: %s", apiMessage(err))
		}
		d = out.ApplicationDetail
		rollbackOn = true
		u.step("rollback", "system rollback turned on (version %d); the running job was not touched", aws.ToInt64(d.ApplicationVersionId))
	default:
		u.step("rollback", "system rollback is off (--enable-system-rollback turns it on); a failure is %s", map[bool]string{true: "rolled back by --rollback-on-failure", false: "left for you to roll back"}[u.rollbackOnFailure])
	}

	// Phase 4: a snapshot to come back to.
	switch {
	case d.ApplicationStatus != types.ApplicationStatusRunning:
		u.step("snapshot", "%s is %s: no job to snapshot; the new version runs at its next start", u.app, d.ApplicationStatus)
	case !snapshotsOn:
		u.step("snapshot", "snapshots are disabled: the new version starts without state, and a rollback has no snapshot to restore")
	default:
		name := fmt.Sprintf("pre-upgrade-%s-%s", strings.ToLower(u.runtime), time.Now().UTC().Format("20060102-150405.000"))
		if err := u.snapshot(ctx, name); err != nil {
			return u.verdict(false, "NOT UPGRADED: the snapshot %s failed: %s; nothing else was changed", name, apiMessage(err))
		}
	}

	// Phase 4 (cont.): the update itself.
	from := aws.ToInt64(d.ApplicationVersionId)
	updateAt := time.Now()
	out, err := u.kav.UpdateApplication(ctx, u.updateInput(from))
	if err != nil {
		return u.verdict(false, "NOT UPGRADED: UpdateApplication refused: %s", apiMessage(err))
	}
	opID := aws.ToString(out.OperationId)
	u.step("update", "UpdateApplication: version %d → %d, operation %s", from, aws.ToInt64(out.ApplicationDetail.ApplicationVersionId), opID)
	op, err := u.waitOperation(ctx, opID)
	if err != nil {
		return err
	}
	if op.OperationStatus == types.OperationStatusFailed {
		return u.failed(ctx, op, opID)
	}
	if d.ApplicationStatus != types.ApplicationStatusRunning {
		return u.verdict(true, "UPDATED: version %d runs %s at the next start of %s", aws.ToInt64(out.ApplicationDetail.ApplicationVersionId), u.runtime, u.app)
	}
	return u.watch(ctx, opID, updateAt)
}

// request is the UpdateApplication request of the upgrade as JSON-shaped
// data (for the pre-flight dry run).
func (u *upgrade) request(version int64) map[string]any {
	r := map[string]any{"ApplicationName": u.app, "CurrentApplicationVersionId": version, "RuntimeEnvironmentUpdate": u.runtime}
	if u.key != "" {
		r["ApplicationConfigurationUpdate"] = map[string]any{"ApplicationCodeConfigurationUpdate": map[string]any{"CodeContentUpdate": map[string]any{
			"S3ContentLocationUpdate": map[string]any{"BucketARNUpdate": u.bucketARN, "FileKeyUpdate": u.key}}}}
	}
	return r
}

func (u *upgrade) updateInput(version int64) *kav2.UpdateApplicationInput {
	in := &kav2.UpdateApplicationInput{ApplicationName: aws.String(u.app), CurrentApplicationVersionId: aws.Int64(version),
		RuntimeEnvironmentUpdate: types.RuntimeEnvironment(u.runtime)}
	if u.key != "" {
		in.ApplicationConfigurationUpdate = &types.ApplicationConfigurationUpdate{ApplicationCodeConfigurationUpdate: &types.ApplicationCodeConfigurationUpdate{
			CodeContentUpdate: &types.CodeContentUpdate{S3ContentLocationUpdate: &types.S3ContentLocationUpdate{BucketARNUpdate: aws.String(u.bucketARN), FileKeyUpdate: aws.String(u.key)}}}}
	}
	return in
}

// snapshot creates a snapshot and waits for it to be READY.
func (u *upgrade) snapshot(ctx context.Context, name string) error {
	u.step("snapshot", "creating %s…", name)
	start := time.Now()
	if _, err := u.kav.CreateApplicationSnapshot(ctx, &kav2.CreateApplicationSnapshotInput{ApplicationName: aws.String(u.app), SnapshotName: aws.String(name)}); err != nil {
		return err
	}
	for {
		out, err := u.kav.DescribeApplicationSnapshot(ctx, &kav2.DescribeApplicationSnapshotInput{ApplicationName: aws.String(u.app), SnapshotName: aws.String(name)})
		if err != nil {
			return err
		}
		switch s := out.SnapshotDetails.SnapshotStatus; s {
		case types.SnapshotStatusReady:
			u.tick("snapshot %s READY (%s)", name, time.Since(start).Round(100*time.Millisecond))
			return nil
		case types.SnapshotStatusCreating:
		default:
			return fmt.Errorf("snapshot %s is %s", name, s)
		}
		if err := sleep(ctx, u.interval); err != nil {
			return err
		}
	}
}

// waitOperation follows an operation to its end, printing the
// application's status changes.
func (u *upgrade) waitOperation(ctx context.Context, opID string) (*types.ApplicationOperationInfoDetails, error) {
	last := ""
	for {
		d, err := u.describe(ctx)
		if err != nil {
			return nil, err
		}
		out, err := u.kav.DescribeApplicationOperation(ctx, &kav2.DescribeApplicationOperationInput{ApplicationName: aws.String(u.app), OperationId: aws.String(opID)})
		if err != nil {
			return nil, err
		}
		op := out.ApplicationOperationInfoDetails
		if now := fmt.Sprintf("%s, operation %s %s", d.ApplicationStatus, aws.ToString(op.Operation), op.OperationStatus); now != last {
			u.tick("%s", now)
			last = now
		}
		if op.OperationStatus != types.OperationStatusInProgress {
			return op, nil
		}
		if err := sleep(ctx, u.interval); err != nil {
			return nil, fmt.Errorf("waiting for operation %s: %w", opID, err)
		}
	}
}

// failed handles a FAILED update: a system rollback is waited for; without
// one the application is left on the new version without a working job.
func (u *upgrade) failed(ctx context.Context, op *types.ApplicationOperationInfoDetails, opID string) error {
	why := "the update failed"
	if f := op.OperationFailureDetails; f != nil && f.ErrorInfo != nil {
		why += ": " + aws.ToString(f.ErrorInfo.ErrorString)
	}
	if f := op.OperationFailureDetails; f != nil && aws.ToString(f.RollbackOperationId) != "" {
		rb := aws.ToString(f.RollbackOperationId)
		u.step("rollback", "system rollback: operation %s", rb)
		rop, err := u.waitOperation(ctx, rb)
		if err != nil {
			return err
		}
		d, err := u.describe(ctx)
		if err != nil {
			return err
		}
		return u.verdict(false, "ROLLED BACK automatically: %s. The system rollback (operation %s) ended %s: %s is %s on %s, version %d",
			why, rb, rop.OperationStatus, u.app, d.ApplicationStatus, d.RuntimeEnvironment, aws.ToInt64(d.ApplicationVersionId))
	}
	return u.unhealthy(ctx, why+fmt.Sprintf(" (operation %s)", opID))
}

// unhealthy rolls back (--rollback-on-failure) or says how to.
func (u *upgrade) unhealthy(ctx context.Context, why string) error {
	d, err := u.describe(ctx)
	if err != nil {
		return err
	}
	version := aws.ToInt64(d.ApplicationVersionId)
	if !u.rollbackOnFailure {
		return u.verdict(false, "UNHEALTHY: %s. %s is %s on %s (version %d). Roll back with:\n  aws kinesisanalyticsv2 rollback-application --endpoint-url %s --application-name %s --current-application-version-id %d",
			why, u.app, d.ApplicationStatus, d.RuntimeEnvironment, version, u.endpoint, u.app, version)
	}
	u.step("rollback", "%s; rolling back (--rollback-on-failure)", why)
	out, err := u.kav.RollbackApplication(ctx, &kav2.RollbackApplicationInput{ApplicationName: aws.String(u.app), CurrentApplicationVersionId: aws.Int64(version)})
	if err != nil {
		return u.verdict(false, "UNHEALTHY: %s, and RollbackApplication refused: %s", why, apiMessage(err))
	}
	rop, err := u.waitOperation(ctx, aws.ToString(out.OperationId))
	if err != nil {
		return err
	}
	if d, err = u.describe(ctx); err != nil {
		return err
	}
	return u.verdict(false, "ROLLED BACK (--rollback-on-failure): %s. The rollback (operation %s) ended %s: %s is %s on %s, version %d",
		why, aws.ToString(out.OperationId), rop.OperationStatus, u.app, d.ApplicationStatus, d.RuntimeEnvironment, aws.ToInt64(d.ApplicationVersionId))
}

// watch is the probation of the command's own: the application must stay
// RUNNING, its job must not restart (numRestarts, CloudWatch) nor fail a
// checkpoint (numberOfFailedCheckpoints), and complete checkpoints
// (the health endpoint, where the service has one). CloudWatch's 1-minute
// points are read from the first minute that began after the update did
// (the minute of the update holds readings of the old job); the health
// endpoint, where there is one, sees the new job at once.
func (u *upgrade) watch(ctx context.Context, opID string, updateAt time.Time) error {
	u.step("probation", "watching %s for %s: status, numRestarts, checkpoints", u.app, u.probation)
	start := time.Now()
	since := updateAt.Truncate(time.Minute).Add(time.Minute)
	base := u.health(ctx)
	var restarts, failed float64
	completed := int64(-1)
	var lastPrint time.Time
	for {
		d, err := u.describe(ctx)
		if err != nil {
			return err
		}
		if d.ApplicationStatus != types.ApplicationStatusRunning {
			if d.ApplicationStatus == types.ApplicationStatusRollingBack {
				return u.autoRolledBack(ctx, opID)
			}
			return u.unhealthy(ctx, fmt.Sprintf("the application became %s in the probation", d.ApplicationStatus))
		}
		_, rmax := u.metric(ctx, "numRestarts", since)
		restarts = max(restarts, rmax)
		fmin, fmax := u.metric(ctx, "numberOfFailedCheckpoints", since)
		failed = max(failed, fmax-fmin) // Flink counts checkpoints triggered before every task ran as failed: only new ones count
		h := u.health(ctx)
		if h != nil && h.Health != nil {
			restarts = max(restarts, float64(h.Health.Restarts))
			if base != nil && base.Health != nil && base.Health.JobID == h.Health.JobID {
				completed = h.Health.CompletedCheckpoints - base.Health.CompletedCheckpoints
				failed = max(failed, float64(h.Health.FailedCheckpoints-base.Health.FailedCheckpoints))
			} else {
				completed = h.Health.CompletedCheckpoints
			}
		}
		done := time.Since(start) >= u.probation
		if done || time.Since(lastPrint) >= 10*time.Second {
			line := fmt.Sprintf("%s, numRestarts %.0f, failed checkpoints %.0f", d.ApplicationStatus, restarts, failed)
			if completed >= 0 {
				line += fmt.Sprintf(", %d checkpoint(s) completed", completed)
			}
			u.tick("probation %s/%s: %s", time.Since(start).Round(time.Second), u.probation, line)
			lastPrint = time.Now()
		}
		switch {
		case restarts > 0:
			return u.unhealthy(ctx, fmt.Sprintf("the upgraded job restarted (numRestarts %.0f)", restarts))
		case failed > 0:
			return u.unhealthy(ctx, fmt.Sprintf("the upgraded job failed %.0f checkpoint(s)", failed))
		case done && completed == 0:
			return u.unhealthy(ctx, "no checkpoint completed in the probation")
		case done:
			ck := ""
			if completed > 0 {
				ck = fmt.Sprintf(", %d checkpoint(s) completed", completed)
			}
			return u.verdict(true, "UPGRADED: %s runs %s (version %d): RUNNING through %s of probation, numRestarts 0, no failed checkpoint%s",
				u.app, d.RuntimeEnvironment, aws.ToInt64(d.ApplicationVersionId), u.probation, ck)
		}
		if err := sleep(ctx, u.interval); err != nil {
			return err
		}
	}
}

// autoRolledBack follows a rollback the service started after the update
// succeeded (an automatic rollback policy).
func (u *upgrade) autoRolledBack(ctx context.Context, opID string) error {
	out, err := u.kav.ListApplicationOperations(ctx, &kav2.ListApplicationOperationsInput{ApplicationName: aws.String(u.app)})
	if err != nil {
		return err
	}
	for _, o := range out.ApplicationOperationInfoList {
		if aws.ToString(o.Operation) == flinkplane.OpRollbackApplication && o.OperationStatus == types.OperationStatusInProgress {
			if _, err := u.waitOperation(ctx, aws.ToString(o.OperationId)); err != nil {
				return err
			}
		}
	}
	d, err := u.describe(ctx)
	if err != nil {
		return err
	}
	return u.verdict(false, "ROLLED BACK automatically: the service rolled the upgrade (operation %s) back in the probation; %s is %s on %s, version %d",
		opID, u.app, d.ApplicationStatus, d.RuntimeEnvironment, aws.ToInt64(d.ApplicationVersionId))
}

// metric returns the least and the greatest Maximum of an
// AWS/KinesisAnalytics metric of the application in the minutes since
// (0, 0 when there is none, or no such API).
func (u *upgrade) metric(ctx context.Context, name string, since time.Time) (lo, hi float64) {
	out, err := u.cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("AWS/KinesisAnalytics"), MetricName: aws.String(name),
		Dimensions: []cwtypes.Dimension{{Name: aws.String("Application"), Value: aws.String(u.app)}},
		StartTime:  aws.Time(since), EndTime: aws.Time(time.Now().Add(time.Minute)), Period: aws.Int32(60),
		Statistics: []cwtypes.Statistic{cwtypes.StatisticMaximum}})
	if err != nil {
		return 0, 0
	}
	first := true
	for _, p := range out.Datapoints {
		if p.Timestamp == nil || p.Timestamp.Before(since) {
			continue
		}
		v := aws.ToFloat64(p.Maximum)
		if first {
			lo, hi, first = v, v, false
		}
		lo, hi = min(lo, v), max(hi, v)
	}
	return lo, hi
}

// health returns flinkplane's health of the application, nil where the
// endpoint has none.
func (u *upgrade) health(ctx context.Context) *client.HealthResponse {
	h, err := u.fp.Health(ctx, u.app, client.HealthOptions{})
	if err != nil {
		return nil
	}
	return h
}

func codeOf(d *types.ApplicationDetail) string {
	if c := d.ApplicationConfigurationDescription; c != nil && c.ApplicationCodeConfigurationDescription != nil {
		if cc := c.ApplicationCodeConfigurationDescription.CodeContentDescription; cc != nil && cc.S3ApplicationCodeLocationDescription != nil {
			l := cc.S3ApplicationCodeLocationDescription
			return strings.TrimPrefix(aws.ToString(l.BucketARN), "arn:aws:s3:::") + "/" + aws.ToString(l.FileKey)
		}
	}
	return "(inline code)"
}

func onOff(b bool) string {
	if b {
		return "on"
	}
	return "off"
}

// apiMessage is an AWS error as "Exception: message".
func apiMessage(err error) string {
	var ce *client.Error
	if errors.As(err, &ce) {
		return ce.Type + ": " + ce.Message
	}
	var ae interface {
		ErrorCode() string
		ErrorMessage() string
	}
	if errors.As(err, &ae) {
		return ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	return err.Error()
}

func sleep(ctx context.Context, d time.Duration) error {
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(d):
		return nil
	}
}
