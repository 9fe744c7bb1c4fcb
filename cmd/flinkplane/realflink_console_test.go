package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kav2 "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"
	"github.com/chromedp/cdproto/target"
	"github.com/chromedp/chromedp"
	"github.com/flinkplane/flinkplane"
)

// TestRealFlink_ConsoleAndUpgrade runs the upgrade guide twice on real
// Flink, on one application (to spare CI a second one): first through the
// web console in headless Chromium, signed in with SigV4 (create, start,
// snapshot, system rollback on, an upgrade to FLINK-2_2 the pre-flight
// refuses with its findings shown and nothing stopped, the good jar:
// RUNNING on 2.2, a rollback: RUNNING on 1.20), then an update that fails on
// the cluster and is rolled back by the service, seen in the console's
// timeline, operation page and log lines; then with `flinkplane upgrade`: a
// refused upgrade (exit 1, nothing changed), a dry run and a good upgrade
// with its own probation (exit 0). Screenshots of every step go to
// test-artifacts/console (see artifactsDir).
func TestRealFlink_ConsoleAndUpgrade(t *testing.T) {
	jars := needReal(t, []flinkplane.RuntimeID{flinkplane.RuntimeFlink120, flinkplane.RuntimeFlink22}, "counter-1.20", "counter-2.2")
	r := startReal(t, jars, func(m *Main) {
		m.Config.Auth = "sigv4"
		m.Config.Credentials = "AKIDTEST:secret"
	})
	b := newBrowser(t, r.m.URL()+"/console/", artifactsDir(t, "console"))
	const app = "guide"
	out := filepath.Join(r.dataDir, "output", app)
	props := "output.path=" + out + "\nrate.per.second=50\nkeys=10"

	// newestOp waits for the newest operation of a kind started after t0 to
	// end and returns its details.
	newestOp := func(kind string, t0 time.Time) *types.ApplicationOperationInfoDetails {
		t.Helper()
		deadline := time.Now().Add(5 * time.Minute)
		for {
			for _, o := range r.operations(app) {
				if aws.ToString(o.Operation) == kind && !aws.ToTime(o.StartTime).Before(t0.Truncate(time.Second)) && o.OperationStatus != types.OperationStatusInProgress {
					d, err := r.c.DescribeApplicationOperation(sctx, &kav2.DescribeApplicationOperationInput{ApplicationName: aws.String(app), OperationId: o.OperationId})
					if err != nil {
						t.Fatal(err)
					}
					return d.ApplicationOperationInfoDetails
				}
			}
			if time.Now().After(deadline) {
				b.shot("timeout")
				t.Fatalf("no %s operation ended after %s", kind, t0)
			}
			time.Sleep(250 * time.Millisecond)
		}
	}
	requireRunningOn := func(rt types.RuntimeEnvironment) *types.ApplicationDetail {
		t.Helper()
		d := r.describe(app)
		if d.ApplicationStatus != types.ApplicationStatusRunning || d.RuntimeEnvironment != rt {
			t.Fatalf("%s is %s on %s, want RUNNING on %s", app, d.ApplicationStatus, d.RuntimeEnvironment, rt)
		}
		return d
	}
	succeeded := func(kind string, t0 time.Time) {
		t.Helper()
		if op := newestOp(kind, t0); op.OperationStatus != types.OperationStatusSuccessful {
			b.shot("failed-" + kind)
			t.Fatalf("%s: %s: %s", kind, op.OperationStatus, failure(op))
		}
	}

	// 1. Sign in (SigV4 computed in the browser) and create the application.
	b.open("")
	b.fill("Access key ID", "AKIDTEST")
	b.fill("Secret access key", "secret")
	b.click("Sign in")
	b.waitText(`No applications yet`, 30*time.Second)
	b.click("Create application…")
	b.fill("Name", app)
	b.selectOption("Runtime", "FLINK-1_20")
	b.fill("Code: S3 bucket ARN", "arn:aws:s3:::"+realBucket)
	b.fill("Code: object key", "counter-1.20.jar")
	b.fill("Properties (FlinkApplicationProperties, one key=value a line)", props)
	b.fill("Checkpoint interval (ms)", "2000")
	b.shot("create")
	b.click("Create")
	b.waitText(`Version history[\s\S]*1 \(current\)`, 30*time.Second)
	if d := r.describe(app); d.ApplicationStatus != types.ApplicationStatusReady || d.RuntimeEnvironment != types.RuntimeEnvironmentFlink120 {
		t.Fatalf("created: %s on %s", d.ApplicationStatus, d.RuntimeEnvironment)
	}
	b.shot("created")

	// 2. Start.
	t0 := time.Now()
	b.click("Start…")
	b.shot("start-dialog")
	b.click("Start application")
	succeeded(flinkplane.OpStartApplication, t0)
	requireRunningOn(types.RuntimeEnvironmentFlink120)
	waitRecords(t, out, 50)
	b.waitText(`guide\s+RUNNING`, 30*time.Second)
	b.waitText(`SUCCESSFUL\s+StartApplication`, 30*time.Second)
	b.waitText(`Checkpoints\s+[1-9]\d* completed`, 30*time.Second)
	b.shot("running")

	// 3. Snapshot.
	b.click("Create snapshot…")
	b.fill("Snapshot name", "pre-flink-2.2-upgrade")
	b.shot("snapshot-dialog")
	b.click("Create snapshot")
	b.waitText(`pre-flink-2\.2-upgrade\s+READY`, 2*time.Minute)
	b.shot("snapshot")

	// 4. System rollback on, through the switch and its confirmation.
	b.run(10*time.Second, chromedp.Click(`#rollback-switch`, chromedp.ByQuery))
	b.run(10*time.Second, chromedp.WaitVisible(`//dialog[@open]`, chromedp.BySearch))
	b.shot("system-rollback-confirm")
	b.click("Turn on")
	deadline := time.Now().Add(30 * time.Second)
	for d := r.describe(app); !aws.ToBool(d.ApplicationConfigurationDescription.ApplicationSystemRollbackConfigurationDescription.RollbackEnabled); d = r.describe(app) {
		if time.Now().After(deadline) {
			t.Fatal("system rollback not turned on")
		}
		time.Sleep(200 * time.Millisecond)
	}
	b.waitText(`System rollback\s+on:`, 30*time.Second)

	// 5. Configure → Upgrade to FLINK-2_2 with the 1.20 jar: the pre-flight
	// refuses it, its findings are shown, nothing stops or changes.
	before := requireRunningOn(types.RuntimeEnvironmentFlink120)
	_, jobBefore := r.job(app)
	opsBefore := len(r.operations(app))
	b.click("Upgrade…")
	b.selectOption("Target runtime", "FLINK-2_2")
	b.click("Check compatibility")
	b.waitText(`The pre-flight refuses this upgrade: [1-9]\d* error`, 4*time.Minute)
	b.requireAX(axNode{"dialog", "^Upgrade guide$"}, axNode{"region", "^Pre-flight findings$"}, axNode{"table", "^Findings$"},
		axNode{"combobox", "^Target runtime$"}, axNode{"button", "^Check compatibility$"})
	var upgradeDisabled bool
	b.eval(`[...document.querySelectorAll('dialog[open] button')].find((x) => x.textContent === 'Upgrade').disabled`, &upgradeDisabled)
	if !upgradeDisabled {
		t.Error("Upgrade is enabled after a refusing pre-flight")
	}
	if text := b.text(`//table[@aria-label='Findings']`); !strings.Contains(text, "UNRESOLVED_CLASS") {
		t.Errorf("findings table: %s", text)
	}
	b.shot("preflight-refused")
	after := requireRunningOn(types.RuntimeEnvironmentFlink120)
	_, jobAfter := r.job(app)
	if aws.ToInt64(after.ApplicationVersionId) != aws.ToInt64(before.ApplicationVersionId) || jobAfter.ID != jobBefore.ID || len(r.operations(app)) != opsBefore {
		t.Fatalf("the refused pre-flight changed something: version %d → %d, job %s → %s, %d → %d operations",
			aws.ToInt64(before.ApplicationVersionId), aws.ToInt64(after.ApplicationVersionId), jobBefore.ID, jobAfter.ID, opsBefore, len(r.operations(app)))
	}

	// 6. The good jar: findings pass, Upgrade → RUNNING on 2.2.
	b.fill("Code: object key", "counter-2.2.jar")
	b.click("Check compatibility")
	b.waitText(`Ready to upgrade`, 4*time.Minute)
	b.shot("preflight-passed")
	t0 = time.Now()
	b.click("Upgrade")
	succeeded(flinkplane.OpUpdateApplication, t0)
	upgraded := requireRunningOn(types.RuntimeEnvironmentFlink22)
	b.waitText(fmt.Sprintf(`guide\s+RUNNING[\s\S]*Runtime\s+FLINK-2_2[\s\S]*SUCCESSFUL\s+UpdateApplication[^\n]*version %d → %d`,
		aws.ToInt64(upgraded.ApplicationVersionUpdatedFrom), aws.ToInt64(upgraded.ApplicationVersionId)), 30*time.Second)
	b.shot("upgraded")

	// 7. Actions → Roll back → RUNNING on 1.20.
	b.click("Roll back…")
	b.waitText(fmt.Sprintf(`rolls guide back from version %d \(FLINK-2_2, counter-2\.2\.jar\) to version %d \(FLINK-1_20, counter-1\.20\.jar\)`,
		aws.ToInt64(upgraded.ApplicationVersionId), aws.ToInt64(upgraded.ApplicationVersionUpdatedFrom)), 10*time.Second)
	b.shot("rollback-dialog")
	t0 = time.Now()
	b.click(fmt.Sprintf("Roll back to version %d", aws.ToInt64(upgraded.ApplicationVersionUpdatedFrom)))
	succeeded(flinkplane.OpRollbackApplication, t0)
	back := requireRunningOn(types.RuntimeEnvironmentFlink120)
	b.waitText(fmt.Sprintf(`guide\s+RUNNING[\s\S]*Runtime\s+FLINK-1_20[\s\S]*SUCCESSFUL\s+RollbackApplication[^\n]*version %d → %d`,
		aws.ToInt64(upgraded.ApplicationVersionId), aws.ToInt64(back.ApplicationVersionId)), 30*time.Second)
	b.shot("rolled-back")

	// 8. An upgrade that fails on the cluster (the counter's fault trigger
	// makes the 2.2 job fail for good): the service rolls it back; the
	// console links the failed operation and its rollback and shows the log
	// lines behind the failure.
	failFile := filepath.Join(r.dataDir, "fail-"+app)
	if err := os.WriteFile(failFile, []byte("4"), 0o644); err != nil {
		t.Fatal(err)
	}
	cur := r.describe(app)
	t0 = time.Now()
	_, err := r.c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String(app), CurrentApplicationVersionId: cur.ApplicationVersionId,
		RuntimeEnvironmentUpdate: types.RuntimeEnvironmentFlink22,
		ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{
			ApplicationCodeConfigurationUpdate: &types.ApplicationCodeConfigurationUpdate{CodeContentUpdate: &types.CodeContentUpdate{
				S3ContentLocationUpdate: &types.S3ContentLocationUpdate{FileKeyUpdate: aws.String("counter-2.2.jar")}}},
			EnvironmentPropertyUpdates: &types.EnvironmentPropertyUpdates{PropertyGroups: []types.PropertyGroup{{PropertyGroupId: aws.String("FlinkApplicationProperties"),
				PropertyMap: map[string]string{"output.path": out, "rate.per.second": "50", "keys": "10", "fail.file": failFile}}}}}})
	if err != nil {
		t.Fatal(err)
	}
	failed := newestOp(flinkplane.OpUpdateApplication, t0)
	if failed.OperationStatus != types.OperationStatusFailed || failed.OperationFailureDetails == nil || aws.ToString(failed.OperationFailureDetails.RollbackOperationId) == "" {
		t.Fatalf("the failing update: %s %s", failed.OperationStatus, failure(failed))
	}
	succeeded(flinkplane.OpRollbackApplication, t0)
	requireRunningOn(types.RuntimeEnvironmentFlink120)
	rollbackID := aws.ToString(failed.OperationFailureDetails.RollbackOperationId)
	b.waitText(`guide\s+RUNNING[\s\S]*SUCCESSFUL\s+RollbackApplication[\s\S]*FAILED\s+UpdateApplication[\s\S]*Rolled back by the rollback operation `+rollbackID, time.Minute)
	b.waitText(`numberOfFailedCheckpoints`, 10*time.Second)
	b.shot("failed-update-timeline")
	var failedID string
	for _, o := range r.operations(app) {
		if o.OperationStatus == types.OperationStatusFailed && aws.ToString(o.Operation) == flinkplane.OpUpdateApplication {
			failedID = aws.ToString(o.OperationId)
		}
	}
	b.open("#/applications/" + app + "/operations/" + failedID)
	b.waitText(`Rolled back by\s+the rollback operation `+rollbackID, 30*time.Second)
	logs := b.waitText(`(?s)Log lines behind it.*(flinkplane fault injected|ERROR)`, time.Minute)
	if !strings.Contains(logs, "flinkplane fault injected") {
		t.Errorf("the operation page's log lines do not show the injected fault:\n%s", logs)
	}
	b.requireAX(axNode{"link", "^the rollback operation " + rollbackID + "$"}, axNode{"heading", "^Log lines behind it$"})
	b.shot("failed-operation")
	b.clickLink("the rollback operation " + rollbackID)
	b.waitText(`Rolls back\s+the failed operation `+failedID, 30*time.Second)
	b.shot("rollback-operation")
	b.open("#/applications/" + app)
	b.waitText(`numRestarts[\s\S]*numberOfFailedCheckpoints`, 30*time.Second)
	b.shot("application-page")
	b.shotViewport("application-page-top")

	// The Flink dashboard link opens flinkplane's dashboard proxy (a
	// CreateApplicationPresignedUrl link) in a new tab; the page is looked
	// at in the test's own tab (a background tab does not render).
	var dashURL string
	newTab := chromedp.WaitNewTarget(b.ctx, func(i *target.Info) bool {
		if strings.Contains(i.URL, "/dashboard/"+app+"/") {
			dashURL = i.URL
			return true
		}
		return false
	})
	b.click("Open Flink dashboard")
	select {
	case id := <-newTab:
		tab, cancel := chromedp.NewContext(b.ctx, chromedp.WithTargetID(id))
		chromedp.Run(tab)
		cancel() // closes it
		b.run(30*time.Second, chromedp.Navigate(dashURL))
		b.waitText(`(?i)running jobs|overview`, time.Minute)
		// Let the job list load (the picture only; the proxy has its own tests).
		for end := time.Now().Add(20 * time.Second); time.Now().Before(end); time.Sleep(300 * time.Millisecond) {
			var text string
			if chromedp.Run(b.ctx, chromedp.Evaluate(`document.body.innerText`, &text)) == nil && regexp.MustCompile(`Running Job List[\s\S]*RUNNING`).MatchString(text) {
				break
			}
		}
		b.shot("flink-dashboard")
	case <-time.After(time.Minute):
		t.Error("Open Flink dashboard opened no tab on the dashboard proxy")
	}

	// 9. flinkplane upgrade on the same application: refused, dry run, good.
	// The command reads its key from the environment. t.Setenv is refused
	// in a parallel test; the other parallel tests sign with keys of their
	// own or talk to servers without authentication, so this is left set.
	os.Setenv("AWS_ACCESS_KEY_ID", "AKIDTEST")
	os.Setenv("AWS_SECRET_ACCESS_KEY", "secret")
	os.Setenv("AWS_SESSION_TOKEN", "")
	base := []string{"--endpoint-url", r.m.URL(), "--region", "eu-west-1", "--application-name", app, "--runtime", "FLINK-2_2", "--interval", "1s"}
	upgradeCmd := func(name string, extra ...string) (string, error) {
		t.Helper()
		var buf bytes.Buffer
		start := time.Now()
		err := runUpgradeTo(sctx, append(append([]string{}, base...), extra...), &buf)
		t.Logf("flinkplane upgrade %s (%s, %s):\n%s", strings.Join(extra, " "), name, time.Since(start).Round(time.Second), buf.String())
		return buf.String(), err
	}
	before = requireRunningOn(types.RuntimeEnvironmentFlink120)
	_, jobBefore = r.job(app)
	text, err := upgradeCmd("refused")
	var ee *exitError
	if !errors.As(err, &ee) || ee.code != exitErrors || !strings.Contains(text, "verdict: REFUSED by the pre-flight") || !strings.Contains(text, "UNRESOLVED_CLASS") {
		t.Fatalf("refused upgrade: err %v", err)
	}
	text, err = upgradeCmd("dry run", "--code", "s3://"+realBucket+"/counter-2.2.jar", "--dry-run")
	if err != nil || !strings.Contains(text, "verdict: DRY RUN") {
		t.Fatalf("dry run: %v", err)
	}
	after = requireRunningOn(types.RuntimeEnvironmentFlink120)
	if _, jobAfter = r.job(app); jobAfter.ID != jobBefore.ID || aws.ToInt64(after.ApplicationVersionId) != aws.ToInt64(before.ApplicationVersionId) {
		t.Fatalf("the refused upgrade or the dry run changed the application: job %s → %s, version %d → %d", jobBefore.ID, jobAfter.ID,
			aws.ToInt64(before.ApplicationVersionId), aws.ToInt64(after.ApplicationVersionId))
	}
	text, err = upgradeCmd("good", "--code", "s3://"+realBucket+"/counter-2.2.jar", "--enable-system-rollback", "--probation", "15s")
	if err != nil || !regexp.MustCompile(`verdict: UPGRADED: guide runs FLINK-2_2 \(version \d+\)`).MatchString(text) {
		t.Fatalf("good upgrade: %v", err)
	}
	for _, phase := range []string{"[pre-flight]", "[rollback]     system rollback is on", "[snapshot]     creating pre-upgrade-flink-2_2-", "[update]", "[probation]"} {
		if !strings.Contains(text, phase) {
			t.Errorf("the output lacks %q", phase)
		}
	}
	requireRunningOn(types.RuntimeEnvironmentFlink22)
	n := outputLines(out)
	for deadline := time.Now().Add(2 * time.Minute); outputLines(out) <= n; time.Sleep(500 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the upgraded job commits no output (%d lines)", n)
		}
	}
}

// outputLines counts the committed lines of the counter's output (after a
// rollback some records are there twice, so no exactness check here).
func outputLines(dir string) int64 {
	n := int64(0)
	filepath.Walk(dir, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() && !strings.HasPrefix(fi.Name(), ".") {
			b, _ := os.ReadFile(p)
			n += int64(bytes.Count(b, []byte("\n")))
		}
		return nil
	})
	return n
}
