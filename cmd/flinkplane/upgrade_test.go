package main

import (
	"bytes"
	"context"
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kav2 "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"
	"github.com/flinkplane/flinkplane/mock"
)

// TestUpgradeCommand runs `flinkplane upgrade` against the real server with
// the recording fake driver, whose faults make updates fail, for the
// verdicts the real-Flink test (TestRealFlink_ConsoleAndUpgrade) does not
// reach: unhealthy with the rollback command, rolled back by
// --rollback-on-failure, rolled back by the service; and usage errors.
func TestUpgradeCommand(t *testing.T) {
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("FLINKPLANE_ENDPOINT_URL", "")
	driver := mock.NewClusterDriver()
	m := startMain(t, driver, "")
	c := apiClient(m.URL())
	srvCreateApp(t, c, "app", nil)
	waitStatus := func(want types.ApplicationStatus) *types.ApplicationDetail {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(10 * time.Millisecond) {
			d := srvDescribe(t, c, "app")
			if d.ApplicationStatus == want {
				return d
			}
			if time.Now().After(deadline) {
				t.Fatalf("status %s, want %s", d.ApplicationStatus, want)
			}
		}
	}
	if _, err := c.StartApplication(sctx, &kav2.StartApplicationInput{ApplicationName: aws.String("app")}); err != nil {
		t.Fatal(err)
	}
	waitStatus(types.ApplicationStatusRunning)
	run := func(args ...string) (string, error) {
		t.Helper()
		var out bytes.Buffer
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		err := runUpgradeTo(ctx, append([]string{"--endpoint-url", m.URL(), "--application-name", "app", "--interval", "20ms", "--probation", "300ms"}, args...), &out)
		t.Logf("flinkplane upgrade %s:\n%s", strings.Join(args, " "), out.String())
		return out.String(), err
	}
	exitCode := func(err error) int {
		var ee *exitError
		if errors.As(err, &ee) {
			return ee.code
		}
		if err != nil {
			return -1
		}
		return 0
	}
	code22 := []string{"--runtime", "FLINK-2_2", "--code", "s3://flinkplane-test/app-2.2.jar"}

	t.Run("Unhealthy", func(t *testing.T) {
		driver.Fail("Submit", errors.New("the job cannot start"), true)
		out, err := run(code22...)
		m := regexp.MustCompile(`aws kinesisanalyticsv2 rollback-application --endpoint-url \S+ --application-name app --current-application-version-id (\d+)`).FindStringSubmatch(out)
		if exitCode(err) != 1 || !strings.Contains(out, "verdict: UNHEALTHY: the update failed") || m == nil {
			t.Fatalf("exit %d", exitCode(err))
		}
		// The printed command is the one to run.
		v, _ := strconv.ParseInt(m[1], 10, 64)
		if _, err := c.RollbackApplication(sctx, &kav2.RollbackApplicationInput{ApplicationName: aws.String("app"), CurrentApplicationVersionId: aws.Int64(v)}); err != nil {
			t.Fatalf("the printed rollback: %v", err)
		}
		if d := waitStatus(types.ApplicationStatusRunning); d.RuntimeEnvironment != types.RuntimeEnvironmentFlink120 {
			t.Fatalf("after the rollback: %s", d.RuntimeEnvironment)
		}
	})
	t.Run("RollbackOnFailure", func(t *testing.T) {
		waitStatus(types.ApplicationStatusRunning)
		driver.Fail("Submit", errors.New("the job cannot start"), true)
		out, err := run(append(code22, "--rollback-on-failure")...)
		if exitCode(err) != 1 || !strings.Contains(out, "verdict: ROLLED BACK (--rollback-on-failure): the update failed") ||
			!strings.Contains(out, "app is RUNNING on FLINK-1_20") {
			t.Fatalf("exit %d", exitCode(err))
		}
	})
	t.Run("SystemRollback", func(t *testing.T) {
		waitStatus(types.ApplicationStatusRunning)
		driver.Fail("Submit", errors.New("the job cannot start"), true)
		out, err := run(append(code22, "--enable-system-rollback")...)
		if exitCode(err) != 1 || !strings.Contains(out, "system rollback turned on") || !strings.Contains(out, "verdict: ROLLED BACK automatically: the update failed") ||
			!strings.Contains(out, "RUNNING on FLINK-1_20") {
			t.Fatalf("exit %d", exitCode(err))
		}
	})
	t.Run("Upgraded", func(t *testing.T) {
		waitStatus(types.ApplicationStatusRunning)
		out, err := run(code22...)
		if exitCode(err) != 0 || !strings.Contains(out, "verdict: UPGRADED: app runs FLINK-2_2") || !strings.Contains(out, "[snapshot]     creating pre-upgrade-flink-2_2-") {
			t.Fatalf("exit %d", exitCode(err))
		}
		if d := srvDescribe(t, c, "app"); d.ApplicationStatus != types.ApplicationStatusRunning || d.RuntimeEnvironment != types.RuntimeEnvironmentFlink22 {
			t.Fatalf("after: %s on %s", d.ApplicationStatus, d.RuntimeEnvironment)
		}
	})
	t.Run("Usage", func(t *testing.T) {
		for _, args := range [][]string{{"--runtime", "FLINK-2_2", "--code", "bucket/key"}, {"--code", "s3://b/k"}, {"--runtime", "FLINK-2_2", "--probation", "soon"}} {
			if _, err := run(args...); exitCode(err) != exitUsage {
				t.Errorf("%v: exit %d, want %d", args, exitCode(err), exitUsage)
			}
		}
		out, err := run("--runtime", "FLINK-2_2", "--application-name", "nope")
		if exitCode(err) != exitUsage || !strings.Contains(err.Error(), "ResourceNotFoundException") {
			t.Errorf("unknown application: exit %d %v %s", exitCode(err), err, out)
		}
	})
}
