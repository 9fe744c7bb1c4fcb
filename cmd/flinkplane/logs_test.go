package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	kav2 "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/client"
	"github.com/flinkplane/flinkplane/runtime/local"
)

// The logs command reads, through the real server, the logs the real local
// driver keeps under the data directory: <data>/clusters/<app id>/<cluster
// id>/log/. The files are written by hand in that layout; no JVM runs.
func TestLogs_LocalDriverLayout(t *testing.T) {
	dataDir := t.TempDir()
	driver := local.New(dataDir, t.TempDir())
	m := startMain(t, driver, dataDir)
	c := apiClient(m.URL())
	srvCreateApp(t, c, "app", nil)

	var app *flinkplane.Application
	if err := m.DB.View(sctx, func(tx flinkplane.Tx) (err error) { app, err = tx.Application("app"); return err }); err != nil {
		t.Fatal(err)
	}
	write := func(cluster, name, text string) {
		t.Helper()
		p := filepath.Join(dataDir, "clusters", app.ID, cluster, "log", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("c-old", "jobmanager.log", "old start\nold stop\n")
	write("c-new", "jobmanager.log", "INFO starting\nINFO running\nWARN slow checkpoint\n")
	write("c-new", "taskmanager-1.out", "hello\n")
	secret := filepath.Join(dataDir, "clusters", app.ID, "c-new", "conf", "config.yaml")
	os.MkdirAll(filepath.Dir(secret), 0o755)
	os.WriteFile(secret, []byte("not a log"), 0o644)
	// The store records the clusters as the engine does: on the operations
	// that started them.
	err := m.DB.Update(sctx, func(tx flinkplane.Tx) error {
		for i, id := range []string{"c-old", "c-new"} {
			at := time.Now().Add(time.Duration(i) * time.Second)
			op := &flinkplane.Operation{ID: "op-" + id, ApplicationName: "app", Kind: flinkplane.OpStartApplication, Status: flinkplane.OperationSuccessful,
				StartTime: at, EndTime: at, Cluster: &flinkplane.ClusterHandle{ID: id, Runtime: "FLINK-1_20", Dir: filepath.Join(dataDir, "clusters", app.ID, id)}}
			if err := tx.PutOperation(op); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		err := runLogsTo(context.Background(), append([]string{"--endpoint-url", m.URL()}, args...), &out)
		return out.String(), err
	}
	out, err := run("--application-name", "app")
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) != 4 || !strings.Contains(lines[1], "c-new") || !strings.Contains(lines[1], "jobmanager.log") ||
		!strings.Contains(lines[2], "taskmanager-1.out") || !strings.Contains(lines[3], "c-old") || strings.Contains(out, "config.yaml") {
		t.Fatalf("listing:\n%s", out)
	}
	if out, err := run("--application-name", "app", "--file", "jobmanager.log", "--tail", "2"); err != nil || out != "INFO running\nWARN slow checkpoint\n" {
		t.Fatalf("tail: %q %v", out, err)
	}
	if out, err := run("--application-name", "app", "--file", "jobmanager.log", "--cluster", "c-old"); err != nil || out != "old start\nold stop\n" {
		t.Fatalf("earlier cluster: %q %v", out, err)
	}
	var ce *client.Error
	for _, f := range []string{"../conf/config.yaml", "..", "config.yaml"} {
		if out, err := run("--application-name", "app", "--file", f); !errors.As(err, &ce) || out != "" {
			t.Fatalf("--file %s: %q %v", f, out, err)
		}
	}
	if _, err := run("--application-name", "nope"); !errors.As(err, &ce) || ce.Type != "ResourceNotFoundException" {
		t.Fatalf("unknown application: %v", err)
	}

	// The driver's own reader refuses names outside the log directory too.
	h := flinkplane.ClusterHandle{ID: "c-new", Dir: filepath.Join(dataDir, "clusters", app.ID, "c-new")}
	if _, err := driver.ReadLog(sctx, h, "../conf/config.yaml", 0, 100); flinkplane.ErrorCode(err) != flinkplane.ENOTFOUND {
		t.Fatalf("driver read outside log/: %v", err)
	}
}

// With --auth sigv4, `flinkplane logs` and `flinkplane check operation` sign
// their requests with the AWS_* credentials of the environment.
func TestClientCommands_SigV4(t *testing.T) {
	withoutDefaults(t)
	m := NewMain()
	m.Config.Addr = "127.0.0.1:0"
	m.Config.DataDir = t.TempDir()
	m.Config.Region = "eu-west-1"
	m.Config.Auth = "sigv4"
	m.Config.Credentials = "AKIDGOOD:goodsecret"
	m.Driver = local.New(m.Config.DataDir, t.TempDir())
	m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	c := kav2.New(kav2.Options{Region: "eu-west-1", BaseEndpoint: aws.String(m.URL()),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDGOOD", "goodsecret", "")})
	srvPutObject(t, m.Config.DataDir, "flinkplane-test", "app-1.20.jar")
	srvCreateApp(t, c, "app", nil)

	logs := func() (string, error) {
		var out bytes.Buffer
		err := runLogsTo(context.Background(), []string{"--endpoint-url", m.URL(), "--region", "eu-west-1", "--application-name", "app"}, &out)
		return out.String(), err
	}
	checkOp := func() error {
		return runCheckTo(context.Background(), []string{"operation", "--endpoint-url", m.URL(), "--region", "eu-west-1",
			"--application-name", "app", "--operation-id", "nope"}, io.Discard)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "")
	var ce *client.Error
	if _, err := logs(); !errors.As(err, &ce) || ce.Type != "MissingAuthenticationTokenException" {
		t.Fatalf("unsigned logs: %v", err)
	}
	if err := checkOp(); exitCodeOf(err) != exitUsage || !strings.Contains(err.Error(), "Missing Authentication Token") {
		t.Fatalf("unsigned check operation: %v", err)
	}
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIDGOOD")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "goodsecret")
	if out, err := logs(); err != nil || !strings.HasPrefix(out, "CLUSTER") {
		t.Fatalf("signed logs: %q %v", out, err)
	}
	if err := checkOp(); exitCodeOf(err) != exitUsage || strings.Contains(err.Error(), "Authentication") || !strings.Contains(strings.ToLower(err.Error()), "not found") {
		t.Fatalf("signed check operation of an unknown id: %v", err)
	}
}

// TestClientFlags_DefaultEndpoint: logs, health, check operation and
// upgrade talk to `flinkplane serve`'s default address without
// --endpoint-url, as the README says.
func TestClientFlags_DefaultEndpoint(t *testing.T) {
	t.Setenv("FLINKPLANE_ENDPOINT_URL", "")
	os.Unsetenv("FLINKPLANE_ENDPOINT_URL")
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	cf := addClientFlags(fs)
	if err := fs.Parse(nil); err != nil {
		t.Fatal(err)
	}
	c, err := cf.client()
	if err != nil {
		t.Fatal(err)
	}
	if got, want := c.Endpoint, "http://127.0.0.1:8080"; got != want {
		t.Fatalf("endpoint = %q, want %q", got, want)
	}
	t.Setenv("FLINKPLANE_ENDPOINT_URL", "http://127.0.0.1:9999")
	fs = flag.NewFlagSet("x", flag.ContinueOnError)
	cf = addClientFlags(fs)
	fs.Parse(nil)
	if c, _ := cf.client(); c.Endpoint != "http://127.0.0.1:9999" {
		t.Fatalf("endpoint from FLINKPLANE_ENDPOINT_URL = %q", c.Endpoint)
	}
}
