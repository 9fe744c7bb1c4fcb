package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	kav2 "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/flinkplane/flinkplane"
)

const testBucket = "arn:aws:s3:::flinkplane-test"

// startMain starts the real server on 127.0.0.1:0 with a temp data
// directory and the recording fake cluster driver (nil: no driver).
func startMain(t testing.TB, driver flinkplane.ClusterDriver, dataDir string) *Main {
	t.Helper()
	withoutDefaults(t)
	if dataDir == "" {
		dataDir = t.TempDir()
	}
	m := NewMain()
	m.Config.Addr = "127.0.0.1:0"
	m.Config.DataDir = dataDir
	m.Config.Region = "eu-west-1"
	m.Config.AccountID = "123456789012"
	m.Config.StartTimeout = 10 * time.Second
	// The fake driver's calls are the operations' own (no watch) and a
	// started job needs no probation window; the watch has tests of its own.
	m.Config.WatchInterval = 0
	m.Config.ProbationWindow = -1
	m.Driver = driver
	m.PollInterval = 5 * time.Millisecond
	m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	for _, key := range []string{"app-1.20.jar", "app-2.2.jar"} {
		srvPutObject(t, dataDir, "flinkplane-test", key)
	}
	return m
}

func srvPutObject(t testing.TB, dataDir, bucket, key string) {
	p := filepath.Join(dataDir, "code", bucket, key)
	os.MkdirAll(filepath.Dir(p), 0o755)
	if err := os.WriteFile(p, []byte("PK\x03\x04 fake jar"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func apiClient(url string) *kav2.Client {
	return kav2.New(kav2.Options{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(url),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		HTTPClient:   &http.Client{Transport: validatingTransport{http.DefaultTransport}},
	})
}

var sctx = context.Background()

func srvCreateApp(t testing.TB, c *kav2.Client, name string, mod func(*kav2.CreateApplicationInput)) *types.ApplicationDetail {
	t.Helper()
	in := &kav2.CreateApplicationInput{
		ApplicationName:      aws.String(name),
		RuntimeEnvironment:   types.RuntimeEnvironmentFlink120,
		ServiceExecutionRole: aws.String("arn:aws:iam::123456789012:role/flink"),
		ApplicationConfiguration: &types.ApplicationConfiguration{
			ApplicationCodeConfiguration: &types.ApplicationCodeConfiguration{
				CodeContentType: types.CodeContentTypeZipfile,
				CodeContent: &types.CodeContent{S3ContentLocation: &types.S3ContentLocation{
					BucketARN: aws.String(testBucket), FileKey: aws.String("app-1.20.jar")}},
			},
			EnvironmentProperties: &types.EnvironmentProperties{PropertyGroups: []types.PropertyGroup{
				{PropertyGroupId: aws.String("FlinkApplicationProperties"), PropertyMap: map[string]string{"rate": "10"}}}},
		},
	}
	if mod != nil {
		mod(in)
	}
	out, err := c.CreateApplication(sctx, in)
	if err != nil {
		t.Fatal(err)
	}
	return out.ApplicationDetail
}

func srvDescribe(t testing.TB, c *kav2.Client, name string) *types.ApplicationDetail {
	t.Helper()
	out, err := c.DescribeApplication(sctx, &kav2.DescribeApplicationInput{ApplicationName: aws.String(name)})
	if err != nil {
		t.Fatal(err)
	}
	return out.ApplicationDetail
}

// srvWaitStatus polls DescribeApplication until the status is want.
func srvWaitStatus(t testing.TB, c *kav2.Client, name string, want types.ApplicationStatus) *types.ApplicationDetail {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	var d *types.ApplicationDetail
	for time.Now().Before(deadline) {
		d = srvDescribe(t, c, name)
		if d.ApplicationStatus == want {
			return d
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("application %s is %s, want %s", name, d.ApplicationStatus, want)
	return nil
}

func srvWaitOperation(t testing.TB, c *kav2.Client, name, id string) *types.ApplicationOperationInfoDetails {
	t.Helper()
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		out, err := c.DescribeApplicationOperation(sctx, &kav2.DescribeApplicationOperationInput{ApplicationName: aws.String(name), OperationId: aws.String(id)})
		if err != nil {
			t.Fatal(err)
		}
		if out.ApplicationOperationInfoDetails.OperationStatus != types.OperationStatusInProgress {
			return out.ApplicationOperationInfoDetails
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("operation %s still in progress", id)
	return nil
}

// wantErr asserts that err is the SDK's typed error T and its message
// contains all of substrings.
func srvWantErr[T error](t testing.TB, err error, substrings ...string) {
	t.Helper()
	var target T
	if !errors.As(err, &target) {
		t.Fatalf("error = %T %v, want %T", err, err, target)
	}
	for _, s := range substrings {
		if !strings.Contains(err.Error(), s) {
			t.Fatalf("error %q does not contain %q", err, s)
		}
	}
}

// withoutDefaults makes serve use no cluster driver and no compatibility
// checker but those a test injects, whatever the binary wires into the
// seams, for the rest of the test.
func withoutDefaults(t testing.TB) {
	driver, compat, files := newClusterDriver, newCompatChecker, newSnapshotFiles
	newClusterDriver = func(serveConfig) (flinkplane.ClusterDriver, error) { return nil, nil }
	newCompatChecker = func(serveConfig) (flinkplane.CompatChecker, error) { return nil, nil }
	// The fake driver's savepoints are not files.
	newSnapshotFiles = func(serveConfig, *s3.Client, *slog.Logger) flinkplane.SnapshotFiles { return nil }
	t.Cleanup(func() { newClusterDriver, newCompatChecker, newSnapshotFiles = driver, compat, files })
}
