package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"reflect"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kav2 "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/engine"
	"github.com/flinkplane/flinkplane/internal/pgtest"
	"github.com/flinkplane/flinkplane/mock"
)

// TestMain doubles as a child server for the SIGKILL tests: with
// FLINKPLANE_TEST_CHILD set, the test binary runs `serve` with the
// persistent fake cluster driver (FLINKPLANE_TEST_DRIVER_STATE), configured
// from the FLINKPLANE_* environment like the real command.
func TestMain(m *testing.M) {
	if os.Getenv("FLINKPLANE_TEST_CHILD") != "" {
		if err := runChild(); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		os.Exit(0)
	}
	flag.Parse()
	raiseParallel()
	code := m.Run()
	stopBenchServer()
	pgtest.StopShared()
	if len(outputErrors.list) > 0 {
		fmt.Fprintf(os.Stderr, "responses that do not satisfy the model:\n%s\n", strings.Join(outputErrors.list, "\n"))
		code = 1
	}
	os.Exit(code)
}

func runChild() error {
	sctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	cfg, err := parseServe(nil)
	if err != nil {
		return err
	}
	driver, err := mock.LoadClusterDriver(os.Getenv("FLINKPLANE_TEST_DRIVER_STATE"))
	if err != nil {
		return err
	}
	// Only the injected fake driver, whatever the seams are wired to; with
	// FLINKPLANE_DRIVER=kubernetes (replicas_kubernetes_test.go) serve's
	// own Kubernetes driver and snapshot files, on real Flink.
	kube := cfg.Driver == "kubernetes"
	if !kube {
		newClusterDriver = func(serveConfig) (flinkplane.ClusterDriver, error) { return nil, nil }
		newSnapshotFiles = func(serveConfig, *s3.Client, *slog.Logger) flinkplane.SnapshotFiles { return nil }
	}
	newCompatChecker = func(serveConfig) (flinkplane.CompatChecker, error) { return nil, nil }
	if os.Getenv("FLINKPLANE_TEST_JOBS_HANG") != "" {
		driver.JobStates = []flinkplane.JobHealth{{State: "INITIALIZING"}}
	}
	if call := os.Getenv("FLINKPLANE_TEST_FAIL_ONCE"); call != "" {
		driver.Fail(call, errors.New("java.lang.ClassNotFoundException: org.apache.flink.api.common.time.Time (injected)"), true)
	}
	if os.Getenv("FLINKPLANE_PROBATION_WINDOW") == "" {
		cfg.ProbationWindow = -1 // the fake jobs need no window unless a test sets one
	}
	m := NewMain()
	m.Config = *cfg
	m.Driver = driver
	if shared := os.Getenv("FLINKPLANE_TEST_DRIVER_SHARED"); shared != "" {
		// The replicas of one test share the fake Flink (replicas_test.go).
		m.Driver = &mock.SharedClusterDriver{File: shared}
	}
	m.PollInterval = 10 * time.Millisecond
	if kube {
		m.Driver = nil
		m.PollInterval = 200 * time.Millisecond
	}
	if hold := os.Getenv("FLINKPLANE_TEST_HOLD_STEP"); hold != "" {
		// KIND:STEP: say when an operation of that kind reaches that step,
		// then wait there to be killed. With FLINKPLANE_TEST_HOLD_ONCE (a
		// file), only the first process of those sharing the file does.
		kind, step, _ := strings.Cut(hold, ":")
		once := os.Getenv("FLINKPLANE_TEST_HOLD_ONCE")
		m.StepFault = func(ctx context.Context, op *flinkplane.Operation, s string) error {
			if op.Kind == kind && s == step && holdOnce(once) {
				fmt.Printf("AT %s %s\n", kind, step)
				<-ctx.Done()
				return ctx.Err()
			}
			return nil
		}
	}
	if err := m.Run(sctx); err != nil {
		return err
	}
	fmt.Printf("LISTENING %s\n", m.URL())
	<-sctx.Done()
	return m.Close()
}

// holdOnce reports whether this process is the first to hold at the step
// (it creates the file); always true without a file.
func holdOnce(file string) bool {
	if file == "" {
		return true
	}
	f, err := os.OpenFile(file, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// child is a server process.
type srvChild struct {
	cmd *exec.Cmd
	url string
	// lines receives the child's other stdout lines.
	lines chan string
}

func srvFreeAddr(t testing.TB) string {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// srvStartChild runs bin (with args) and waits until it serves.
func srvStartChild(t testing.TB, env []string, bin string, args ...string) *srvChild {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL} // never outlive the test
	cmd.Env = append(os.Environ(), env...)
	cmd.Stderr = os.Stderr
	out, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	c := &srvChild{cmd: cmd, lines: make(chan string, 100)}
	t.Cleanup(func() { c.kill() })
	addr := ""
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "FLINKPLANE_ADDR="); ok {
			addr = v
		}
	}
	lines := make(chan string, 1)
	go func() {
		s := bufio.NewScanner(out)
		for s.Scan() {
			if u, ok := strings.CutPrefix(s.Text(), "LISTENING "); ok {
				lines <- u
			} else {
				select {
				case c.lines <- s.Text():
				default:
				}
			}
		}
	}()
	deadline := time.After(60 * time.Second)
	for {
		select {
		case u := <-lines:
			c.url = u
			return c
		case <-deadline:
			t.Fatal("server did not start")
		case <-time.After(20 * time.Millisecond):
			if addr != "" {
				if conn, err := net.Dial("tcp", addr); err == nil {
					conn.Close()
					c.url = "http://" + addr
					return c
				}
			}
		}
	}
}

// kill sends SIGKILL and reaps the process.
func (c *srvChild) kill() {
	if c.cmd.Process != nil && c.cmd.ProcessState == nil {
		c.cmd.Process.Signal(syscall.SIGKILL)
		c.cmd.Wait()
	}
}

// snapshotState returns everything the API shows about the applications.
func snapshotState(t *testing.T, c *kav2.Client) string {
	t.Helper()
	var b strings.Builder
	apps, err := c.ListApplications(sctx, &kav2.ListApplicationsInput{})
	if err != nil {
		t.Fatal(err)
	}
	enc := json.NewEncoder(&b)
	enc.Encode(apps.ApplicationSummaries)
	for _, s := range apps.ApplicationSummaries {
		d, _ := c.DescribeApplication(sctx, &kav2.DescribeApplicationInput{ApplicationName: s.ApplicationName})
		enc.Encode(d.ApplicationDetail)
		v, _ := c.ListApplicationVersions(sctx, &kav2.ListApplicationVersionsInput{ApplicationName: s.ApplicationName})
		enc.Encode(v.ApplicationVersionSummaries)
		sn, _ := c.ListApplicationSnapshots(sctx, &kav2.ListApplicationSnapshotsInput{ApplicationName: s.ApplicationName})
		enc.Encode(sn.SnapshotSummaries)
		ops, _ := c.ListApplicationOperations(sctx, &kav2.ListApplicationOperationsInput{ApplicationName: s.ApplicationName})
		enc.Encode(ops.ApplicationOperationInfoList)
		tags, _ := c.ListTagsForResource(sctx, &kav2.ListTagsForResourceInput{ResourceARN: s.ApplicationARN})
		enc.Encode(tags.Tags)
	}
	return b.String()
}

// TestSIGKILL_RealBinary builds flinkplane, fills it through the SDK, kills
// it with SIGKILL, starts it again on the same data directory and checks
// that everything is served exactly as before.
func TestSIGKILL_RealBinary(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "flinkplane")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Stderr = os.Stderr
	if err := build.Run(); err != nil {
		t.Fatalf("build: %v", err)
	}
	dataDir := t.TempDir()
	srvPutObject(t, dataDir, "flinkplane-test", "app-1.20.jar")
	srvPutObject(t, dataDir, "flinkplane-test", "app-2.2.jar")
	// An empty runtimes directory: whatever driver the binary wires in, no
	// runtime is usable.
	env := []string{"FLINKPLANE_ADDR=" + srvFreeAddr(t), "FLINKPLANE_DATA_DIR=" + dataDir, "FLINKPLANE_REGION=eu-west-1",
		"FLINKPLANE_ACCOUNT_ID=123456789012", "FLINKPLANE_RUNTIMES_DIR=" + t.TempDir()}
	srv := srvStartChild(t, env, bin, "serve")
	c := apiClient(srv.url)
	for i := 0; i < 3; i++ {
		name := fmt.Sprint("app-", i)
		srvCreateApp(t, c, name, func(in *kav2.CreateApplicationInput) {
			in.Tags = []types.Tag{{Key: aws.String("n"), Value: aws.String(fmt.Sprint(i))}}
		})
		for v := int64(1); v <= int64(i); v++ {
			if _, err := c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String(name), CurrentApplicationVersionId: aws.Int64(v),
				ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{EnvironmentPropertyUpdates: &types.EnvironmentPropertyUpdates{
					PropertyGroups: []types.PropertyGroup{{PropertyGroupId: aws.String("FlinkApplicationProperties"), PropertyMap: map[string]string{"v": fmt.Sprint(v)}}}}}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	// No usable runtime: StartApplication says so.
	_, err := c.StartApplication(sctx, &kav2.StartApplicationInput{ApplicationName: aws.String("app-0")})
	srvWantErr[*types.InvalidApplicationConfigurationException](t, err, "FLINK-1_20")
	before := snapshotState(t, c)
	srv.kill()

	srv = srvStartChild(t, env, bin, "serve")
	if after := snapshotState(t, apiClient(srv.url)); after != before {
		t.Fatalf("state changed across SIGKILL:\nbefore %s\nafter  %s", before, after)
	}
	// SIGTERM exits cleanly.
	srv.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan error, 1)
	go func() { done <- srv.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit after SIGTERM: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no exit after SIGTERM")
	}
}

// TestSIGKILL_OperationInProgress kills the server while a StartApplication
// waits for its job and checks that the restarted server finishes the
// operation without submitting the job again.
func TestSIGKILL_OperationInProgress(t *testing.T) {
	dataDir := t.TempDir()
	srvPutObject(t, dataDir, "flinkplane-test", "app-1.20.jar")
	stateFile := filepath.Join(t.TempDir(), "driver.json")
	env := []string{"FLINKPLANE_TEST_CHILD=1", "FLINKPLANE_TEST_DRIVER_STATE=" + stateFile, "FLINKPLANE_ADDR=" + srvFreeAddr(t),
		"FLINKPLANE_DATA_DIR=" + dataDir, "FLINKPLANE_REGION=eu-west-1", "FLINKPLANE_ACCOUNT_ID=123456789012"}
	srv := srvStartChild(t, append(env, "FLINKPLANE_TEST_JOBS_HANG=1"), os.Args[0])
	c := apiClient(srv.url)
	srvCreateApp(t, c, "orders", nil)
	out, err := c.StartApplication(sctx, &kav2.StartApplicationInput{ApplicationName: aws.String("orders")})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	op, err := c.DescribeApplicationOperation(sctx, &kav2.DescribeApplicationOperationInput{ApplicationName: aws.String("orders"), OperationId: out.OperationId})
	if err != nil || op.ApplicationOperationInfoDetails.OperationStatus != types.OperationStatusInProgress {
		t.Fatalf("op %+v %v", op, err)
	}
	if d := srvDescribe(t, c, "orders"); d.ApplicationStatus != types.ApplicationStatusStarting {
		t.Fatalf("status %s", d.ApplicationStatus)
	}
	srv.kill()

	srv = srvStartChild(t, env, os.Args[0])
	c = apiClient(srv.url)
	details := srvWaitOperation(t, c, "orders", aws.ToString(out.OperationId))
	if details.OperationStatus != types.OperationStatusSuccessful {
		t.Fatalf("resumed op %+v", details)
	}
	srvWaitStatus(t, c, "orders", types.ApplicationStatusRunning)
	srv.kill()
	d, err := mock.LoadClusterDriver(stateFile)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Submitted) != 1 || len(d.Running()) != 1 || d.LiveClusters() != 1 {
		t.Fatalf("submitted %d jobs, %d running, %d clusters", len(d.Submitted), len(d.Running()), d.LiveClusters())
	}
	_ = reflect.DeepEqual
}

func srvListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }

// TestSIGKILL_Recovery kills the server (SIGKILL) at each step of a
// recovery and starts it again on the same data directory: the JobManager
// of the application's cluster died while the server was down, the next
// server recovers it on a fresh cluster from its newest checkpoint, and is
// killed at the step; the one after finishes the recovery with exactly one
// job, one cluster and the checkpoint kept as a snapshot.
func TestSIGKILL_Recovery(t *testing.T) {
	for _, step := range []string{engine.StepKeepCheckpoint, engine.StepCancelJob, engine.StepStopCluster, engine.StepResolveRestore,
		engine.StepCompile, engine.StepStartCluster, engine.StepSubmit, engine.StepWaitRunning} {
		t.Run(step, func(t *testing.T) {
			dataDir := t.TempDir()
			srvPutObject(t, dataDir, "flinkplane-test", "app-1.20.jar")
			stateFile := filepath.Join(t.TempDir(), "driver.json")
			env := []string{"FLINKPLANE_TEST_CHILD=1", "FLINKPLANE_TEST_DRIVER_STATE=" + stateFile, "FLINKPLANE_ADDR=" + srvFreeAddr(t),
				"FLINKPLANE_DATA_DIR=" + dataDir, "FLINKPLANE_REGION=eu-west-1", "FLINKPLANE_ACCOUNT_ID=123456789012", "FLINKPLANE_WATCH_INTERVAL=100ms"}
			srv := srvStartChild(t, env, os.Args[0])
			c := apiClient(srv.url)
			srvCreateApp(t, c, "orders", nil)
			out, err := c.StartApplication(sctx, &kav2.StartApplicationInput{ApplicationName: aws.String("orders")})
			if err != nil {
				t.Fatal(err)
			}
			srvWaitOperation(t, c, "orders", aws.ToString(out.OperationId))
			time.Sleep(500 * time.Millisecond) // a few checkpoints
			srv.kill()
			d, err := mock.LoadClusterDriver(stateFile)
			if err != nil {
				t.Fatal(err)
			}
			var cluster string
			for _, h := range d.Clusters() {
				cluster = h.ID
			}
			d.KillJobManager(cluster)

			srv = srvStartChild(t, append(env, "FLINKPLANE_TEST_HOLD_STEP=Recovery:"+step), os.Args[0])
			select {
			case l := <-srv.lines:
				if l != "AT Recovery "+step {
					t.Fatalf("child said %q", l)
				}
			case <-time.After(60 * time.Second):
				t.Fatalf("the recovery never reached %s", step)
			}
			srv.kill()

			srv = srvStartChild(t, env, os.Args[0])
			c = apiClient(srv.url)
			ops, err := c.ListApplicationOperations(sctx, &kav2.ListApplicationOperationsInput{ApplicationName: aws.String("orders"), Operation: aws.String("Recovery")})
			if err != nil || len(ops.ApplicationOperationInfoList) != 1 {
				t.Fatalf("recoveries %+v %v", ops, err)
			}
			if op := srvWaitOperation(t, c, "orders", aws.ToString(ops.ApplicationOperationInfoList[0].OperationId)); op.OperationStatus != types.OperationStatusSuccessful {
				t.Fatalf("recovery %+v", op)
			}
			srvWaitStatus(t, c, "orders", types.ApplicationStatusRunning)
			snaps, _ := c.ListApplicationSnapshots(sctx, &kav2.ListApplicationSnapshotsInput{ApplicationName: aws.String("orders")})
			srv.kill()
			d, err = mock.LoadClusterDriver(stateFile)
			if err != nil {
				t.Fatal(err)
			}
			if len(d.Running()) != 1 || d.LiveClusters() != 1 {
				t.Fatalf("%d jobs running, %d clusters", len(d.Running()), d.LiveClusters())
			}
			if len(snaps.SnapshotSummaries) != 1 || !strings.HasPrefix(aws.ToString(snaps.SnapshotSummaries[0].SnapshotName), "flinkplane-recovery-") {
				t.Fatalf("snapshots %+v", snaps.SnapshotSummaries)
			}
			if len(d.Submitted) != 2 || !strings.Contains(d.Submitted[1].RestoreFrom, "/chk-") {
				t.Fatalf("submissions %+v", d.Submitted)
			}
		})
	}
}

// TestSIGKILL_SystemRollback kills the server at each step of a system
// rollback (an update whose new job cannot be submitted, system rollback
// on) and starts it again: the rollback finishes on the previous version
// with one job, one cluster, and the pre-update snapshot kept.
func TestSIGKILL_SystemRollback(t *testing.T) {
	for _, step := range []string{engine.StepResolveRestore, engine.StepStartTargetCluster, engine.StepCompile, engine.StepCancelJob,
		engine.StepSubmit, engine.StepWaitRunning, engine.StepStopPreviousCluster} {
		t.Run(step, func(t *testing.T) {
			dataDir := t.TempDir()
			srvPutObject(t, dataDir, "flinkplane-test", "app-1.20.jar")
			srvPutObject(t, dataDir, "flinkplane-test", "app-2.2.jar")
			stateFile := filepath.Join(t.TempDir(), "driver.json")
			env := []string{"FLINKPLANE_TEST_CHILD=1", "FLINKPLANE_TEST_DRIVER_STATE=" + stateFile, "FLINKPLANE_ADDR=" + srvFreeAddr(t),
				"FLINKPLANE_DATA_DIR=" + dataDir, "FLINKPLANE_REGION=eu-west-1", "FLINKPLANE_ACCOUNT_ID=123456789012", "FLINKPLANE_WATCH_INTERVAL=100ms"}
			srv := srvStartChild(t, env, os.Args[0])
			c := apiClient(srv.url)
			srvCreateApp(t, c, "orders", func(in *kav2.CreateApplicationInput) {
				in.ApplicationConfiguration.ApplicationSystemRollbackConfiguration = &types.ApplicationSystemRollbackConfiguration{RollbackEnabled: aws.Bool(true)}
			})
			out, err := c.StartApplication(sctx, &kav2.StartApplicationInput{ApplicationName: aws.String("orders")})
			if err != nil {
				t.Fatal(err)
			}
			srvWaitOperation(t, c, "orders", aws.ToString(out.OperationId))
			srv.kill()

			srv = srvStartChild(t, append(env, "FLINKPLANE_TEST_FAIL_ONCE=Submit", "FLINKPLANE_TEST_HOLD_STEP=RollbackApplication:"+step), os.Args[0])
			c = apiClient(srv.url)
			upd, err := c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String("orders"), CurrentApplicationVersionId: aws.Int64(1),
				RuntimeEnvironmentUpdate: types.RuntimeEnvironmentFlink22,
				ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{ApplicationCodeConfigurationUpdate: &types.ApplicationCodeConfigurationUpdate{
					CodeContentUpdate: &types.CodeContentUpdate{S3ContentLocationUpdate: &types.S3ContentLocationUpdate{FileKeyUpdate: aws.String("app-2.2.jar")}}}}})
			if err != nil {
				t.Fatal(err)
			}
			select {
			case l := <-srv.lines:
				if l != "AT RollbackApplication "+step {
					t.Fatalf("child said %q", l)
				}
			case <-time.After(60 * time.Second):
				t.Fatalf("the system rollback never reached %s", step)
			}
			srv.kill()

			srv = srvStartChild(t, env, os.Args[0])
			c = apiClient(srv.url)
			op := srvWaitOperation(t, c, "orders", aws.ToString(upd.OperationId))
			if op.OperationStatus != types.OperationStatusFailed || op.OperationFailureDetails == nil || op.OperationFailureDetails.RollbackOperationId == nil {
				t.Fatalf("update %+v", op)
			}
			if rb := srvWaitOperation(t, c, "orders", aws.ToString(op.OperationFailureDetails.RollbackOperationId)); rb.OperationStatus != types.OperationStatusSuccessful {
				t.Fatalf("rollback %+v", rb)
			}
			d := srvWaitStatus(t, c, "orders", types.ApplicationStatusRunning)
			snaps, _ := c.ListApplicationSnapshots(sctx, &kav2.ListApplicationSnapshotsInput{ApplicationName: aws.String("orders")})
			srv.kill()
			if d.RuntimeEnvironment != types.RuntimeEnvironmentFlink120 {
				t.Fatalf("after the rollback: %s", d.RuntimeEnvironment)
			}
			dr, err := mock.LoadClusterDriver(stateFile)
			if err != nil {
				t.Fatal(err)
			}
			if len(dr.Running()) != 1 || dr.LiveClusters() != 1 {
				t.Fatalf("%d jobs running, %d clusters", len(dr.Running()), dr.LiveClusters())
			}
			if len(snaps.SnapshotSummaries) != 1 || !dr.Savepoints[lastSubmitted(dr)] {
				t.Fatalf("pre-update snapshot: %+v, restored %s", snaps.SnapshotSummaries, lastSubmitted(dr))
			}
		})
	}
}

func lastSubmitted(d *mock.ClusterDriver) string {
	if len(d.Submitted) == 0 {
		return ""
	}
	return d.Submitted[len(d.Submitted)-1].RestoreFrom
}
