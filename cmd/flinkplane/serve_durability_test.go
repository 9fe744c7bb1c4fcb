package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
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
	"github.com/flinkplane/flinkplane"
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
	code := m.Run()
	stopBenchServer()
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
	// Only the injected fake driver, whatever the seams are wired to.
	newClusterDriver = func(serveConfig) (flinkplane.ClusterDriver, error) { return nil, nil }
	newCompatChecker = func(serveConfig) (flinkplane.CompatChecker, error) { return nil, nil }
	if os.Getenv("FLINKPLANE_TEST_JOBS_HANG") != "" {
		driver.JobStates = []flinkplane.JobHealth{{State: "INITIALIZING"}}
	}
	m := NewMain()
	m.Config = *cfg
	m.Driver = driver
	m.PollInterval = 10 * time.Millisecond
	if err := m.Run(sctx); err != nil {
		return err
	}
	fmt.Printf("LISTENING %s\n", m.URL())
	<-sctx.Done()
	return m.Close()
}

// child is a server process.
type srvChild struct {
	cmd *exec.Cmd
	url string
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
	c := &srvChild{cmd: cmd}
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
