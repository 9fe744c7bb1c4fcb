package main

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	kav2 "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/runtime/local"
)

// Regression tests for issue 9, finding 7: a full disk, files left by a
// deleted application.

func zipApp(t *testing.T, c *kav2.Client, name string, size int) error {
	t.Helper()
	z := make([]byte, size)
	rand.Read(z)
	copy(z, "PK\x03\x04")
	_, err := c.CreateApplication(sctx, &kav2.CreateApplicationInput{
		ApplicationName: aws.String(name), RuntimeEnvironment: types.RuntimeEnvironmentFlink120,
		ServiceExecutionRole: aws.String("arn:aws:iam::123456789012:role/flink"),
		ApplicationConfiguration: &types.ApplicationConfiguration{ApplicationCodeConfiguration: &types.ApplicationCodeConfiguration{
			CodeContentType: types.CodeContentTypeZipfile, CodeContent: &types.CodeContent{ZipFileContent: z}}},
	})
	return err
}

// needUnshare returns whether a mount namespace with a tmpfs can be made
// (unshare -rm); without it the test fails under CI and is skipped
// elsewhere.
func needUnshare(t *testing.T) {
	t.Helper()
	if err := exec.Command("unshare", "-rm", "true").Run(); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("unshare -rm (a user and mount namespace, for a small tmpfs) is not available: %v", err)
		}
		t.Skipf("unshare -rm not available: %v", err)
	}
}

// TestDiskFull runs the server on an 8 MiB tmpfs (in a mount namespace of
// its own) and fills it: writes get LimitExceededException saying the
// disk is full, DeleteApplication still works and frees the space of what
// it deletes.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a server in a namespace")
	}
	needUnshare(t)
	dir := t.TempDir()
	env := []string{"FLINKPLANE_TEST_CHILD=1", "FLINKPLANE_TEST_DRIVER_STATE=" + filepath.Join(t.TempDir(), "driver.json"),
		"FLINKPLANE_ADDR=" + srvFreeAddr(t), "FLINKPLANE_DATA_DIR=" + dir, "FLINKPLANE_REGION=eu-west-1",
		"FLINKPLANE_ACCOUNT_ID=123456789012", "FLINKPLANE_LOG_LEVEL=error", "FLINKPLANE_DISK_RESERVE=1"}
	script := `mount -t tmpfs -o size=8m tmpfs "$0" && exec "$@"`
	srv := srvStartChild(t, env, "unshare", "-rm", "sh", "-c", script, dir, os.Args[0])
	// No retries: every answer is the server's first.
	c := kav2.New(kav2.Options{Region: "eu-west-1", BaseEndpoint: aws.String(srv.url), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider("AKIDTEST", "secret", ""),
		HTTPClient:  &http.Client{Transport: validatingTransport{http.DefaultTransport}}})

	wantFull := func(err error, what string) {
		t.Helper()
		var le *types.LimitExceededException
		if !errors.As(err, &le) || !strings.Contains(err.Error(), "disk is full") {
			t.Fatalf("%s on a full disk: %v, want LimitExceededException saying the disk is full", what, err)
		}
		if strings.Contains(err.Error(), dir) || strings.Contains(err.Error(), "/") {
			t.Fatalf("%s: the message shows a path: %v", what, err)
		}
	}
	// Fill it with uploaded code, big pieces then small ones.
	n := 0
	var err error
	for _, size := range []int{256 << 10, 32 << 10, 4 << 10} {
		for ; ; n++ {
			if err = zipApp(t, c, fmt.Sprint("app-", n), size); err != nil {
				break
			}
		}
		wantFull(err, "CreateApplication")
	}
	if n < 5 {
		t.Fatalf("only %d applications fit", n)
	}
	// Fill what is left with versions.
	for v := int64(1); ; v++ {
		_, err = c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String("app-1"), CurrentApplicationVersionId: aws.Int64(v),
			ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{EnvironmentPropertyUpdates: &types.EnvironmentPropertyUpdates{
				PropertyGroups: []types.PropertyGroup{{PropertyGroupId: aws.String("g"), PropertyMap: map[string]string{"k": strings.Repeat("x", 2000) + fmt.Sprint(v)}}}}}})
		if err != nil {
			break
		}
		if v > 5000 {
			t.Fatal("the disk never filled")
		}
	}
	wantFull(err, "UpdateApplication")
	// Reads still work; DeleteApplication works and frees the space of
	// the code it owned.
	d := srvDescribe(t, c, "app-0")
	if _, err := c.DeleteApplication(sctx, &kav2.DeleteApplicationInput{ApplicationName: aws.String("app-0"), CreateTimestamp: d.CreateTimestamp}); err != nil {
		t.Fatalf("DeleteApplication on a full disk: %v", err)
	}
	if err := zipApp(t, c, "after", 128<<10); err != nil {
		t.Fatalf("CreateApplication after the delete freed space: %v", err)
	}
	_, err = c.DescribeApplication(sctx, &kav2.DescribeApplicationInput{ApplicationName: aws.String("app-0")})
	srvWantErr[*types.ResourceNotFoundException](t, err)
}

// zipCreate creates an application with the given code bytes.
func zipCreate(t *testing.T, c *kav2.Client, name string, z []byte) {
	t.Helper()
	if _, err := c.CreateApplication(sctx, &kav2.CreateApplicationInput{
		ApplicationName: aws.String(name), RuntimeEnvironment: types.RuntimeEnvironmentFlink120,
		ServiceExecutionRole: aws.String("arn:aws:iam::123456789012:role/flink"),
		ApplicationConfiguration: &types.ApplicationConfiguration{ApplicationCodeConfiguration: &types.ApplicationCodeConfiguration{
			CodeContentType: types.CodeContentTypeZipfile, CodeContent: &types.CodeContent{ZipFileContent: z}}},
	}); err != nil {
		t.Fatal(err)
	}
}

func listZips(t *testing.T, dataDir string) []string {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dataDir, "code", ".zip", "*.zip"))
	for i := range m {
		m[i] = filepath.Base(m[i])
	}
	return m
}

// TestDelete_RemovesOwnedFiles: DeleteApplication removes the uploaded
// code (unless another application uses the same), the savepoints and the
// driver's files of the application, and nothing else; a request that
// uploaded code and failed leaves none behind.
func TestDelete_RemovesOwnedFiles(t *testing.T) {
	m := startMain(t, nil, "")
	c := apiClient(m.URL())
	dir := m.Config.DataDir
	shared, own := []byte("PK\x03\x04 shared code"), []byte("PK\x03\x04 code of c")
	zipCreate(t, c, "a", shared)
	zipCreate(t, c, "b", shared)
	zipCreate(t, c, "c", own)
	if got := listZips(t, dir); len(got) != 2 {
		t.Fatalf("zips %v", got)
	}
	// A new version of c with other code: both stay while c exists.
	d := srvDescribe(t, c, "c")
	if _, err := c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String("c"), CurrentApplicationVersionId: d.ApplicationVersionId,
		ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{ApplicationCodeConfigurationUpdate: &types.ApplicationCodeConfigurationUpdate{
			CodeContentUpdate: &types.CodeContentUpdate{ZipFileContentUpdate: []byte("PK\x03\x04 code of c, v2")}}}}); err != nil {
		t.Fatal(err)
	}
	// An update that uploads code and then fails leaves no file.
	d = srvDescribe(t, c, "c")
	_, err := c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String("c"), CurrentApplicationVersionId: d.ApplicationVersionId,
		ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{
			ApplicationCodeConfigurationUpdate: &types.ApplicationCodeConfigurationUpdate{
				CodeContentUpdate: &types.CodeContentUpdate{ZipFileContentUpdate: []byte("PK\x03\x04 never used")}},
			EnvironmentPropertyUpdates: &types.EnvironmentPropertyUpdates{PropertyGroups: []types.PropertyGroup{
				{PropertyGroupId: aws.String("g"), PropertyMap: map[string]string{"k": "1"}},
				{PropertyGroupId: aws.String("g"), PropertyMap: map[string]string{"k": "2"}}}}}})
	srvWantErr[*types.InvalidArgumentException](t, err)
	if got := listZips(t, dir); len(got) != 3 {
		t.Fatalf("zips after a failed upload: %v", got)
	}
	// Savepoint directories of a and of b, and a file no application owns.
	ids := map[string]string{}
	for _, name := range []string{"a", "b", "c"} {
		var app *flinkplane.Application
		if err := m.DB.View(sctx, func(tx flinkplane.Tx) (err error) { app, err = tx.Application(name); return err }); err != nil {
			t.Fatal(err)
		}
		ids[name] = app.ID
		p := filepath.Join(dir, "savepoints", app.ID, "savepoint-1", "_metadata")
		os.MkdirAll(filepath.Dir(p), 0o755)
		os.WriteFile(p, []byte("x"), 0o644)
	}
	stray := filepath.Join(dir, "savepoints", "not-an-application", "keep")
	os.MkdirAll(filepath.Dir(stray), 0o755)
	os.WriteFile(stray, []byte("x"), 0o644)

	del := func(name string) {
		t.Helper()
		d := srvDescribe(t, c, name)
		if _, err := c.DeleteApplication(sctx, &kav2.DeleteApplicationInput{ApplicationName: aws.String(name), CreateTimestamp: d.CreateTimestamp}); err != nil {
			t.Fatal(err)
		}
	}
	exists := func(p string) bool { _, err := os.Stat(p); return err == nil }
	del("a")
	if got := listZips(t, dir); len(got) != 3 {
		t.Fatalf("zips after deleting a (its code is b's too): %v", got)
	}
	if exists(filepath.Join(dir, "savepoints", ids["a"])) || !exists(filepath.Join(dir, "savepoints", ids["b"])) {
		t.Fatal("a's savepoints not removed, or b's removed")
	}
	del("b")
	if got := listZips(t, dir); len(got) != 2 {
		t.Fatalf("zips after deleting b: %v", got)
	}
	del("c")
	if got := listZips(t, dir); len(got) != 0 {
		t.Fatalf("zips after deleting every application: %v", got)
	}
	if !exists(stray) || !exists(filepath.Join(dir, "code", "flinkplane-test", "app-1.20.jar")) {
		t.Fatal("a file no application owned was removed")
	}
}

// TestCapacity: a Parallelism the machine cannot run is refused at
// CreateApplication and UpdateApplication with LimitExceededException
// saying why (issue 9, finding 7), with the real local driver (nothing is
// started).
func TestCapacity(t *testing.T) {
	dataDir := t.TempDir()
	m := startMain(t, local.New(dataDir, t.TempDir()), dataDir)
	c := apiClient(m.URL())
	custom := func(p, perKPU int32) *types.FlinkApplicationConfiguration {
		return &types.FlinkApplicationConfiguration{ParallelismConfiguration: &types.ParallelismConfiguration{
			ConfigurationType: types.ConfigurationTypeCustom, Parallelism: aws.Int32(p), ParallelismPerKPU: aws.Int32(perKPU)}}
	}
	_, err := c.CreateApplication(sctx, &kav2.CreateApplicationInput{
		ApplicationName: aws.String("huge"), RuntimeEnvironment: types.RuntimeEnvironmentFlink120,
		ServiceExecutionRole: aws.String("arn:aws:iam::123456789012:role/flink"),
		ApplicationConfiguration: &types.ApplicationConfiguration{FlinkApplicationConfiguration: custom(2147483647, 1),
			ApplicationCodeConfiguration: &types.ApplicationCodeConfiguration{CodeContentType: types.CodeContentTypeZipfile,
				CodeContent: &types.CodeContent{S3ContentLocation: &types.S3ContentLocation{BucketARN: aws.String(testBucket), FileKey: aws.String("app-1.20.jar")}}}},
	})
	srvWantErr[*types.LimitExceededException](t, err, "Parallelism 2147483647", "TaskManagers")
	srvCreateApp(t, c, "small", nil)
	_, err = c.UpdateApplication(sctx, &kav2.UpdateApplicationInput{ApplicationName: aws.String("small"), CurrentApplicationVersionId: aws.Int64(1),
		ApplicationConfigurationUpdate: &types.ApplicationConfigurationUpdate{FlinkApplicationConfigurationUpdate: &types.FlinkApplicationConfigurationUpdate{
			ParallelismConfigurationUpdate: &types.ParallelismConfigurationUpdate{ConfigurationTypeUpdate: types.ConfigurationTypeCustom,
				ParallelismUpdate: aws.Int32(100000), ParallelismPerKPUUpdate: aws.Int32(1)}}}})
	srvWantErr[*types.LimitExceededException](t, err, "Parallelism 100000")
	if d := srvDescribe(t, c, "small"); aws.ToInt64(d.ApplicationVersionId) != 1 {
		t.Fatalf("a refused update made version %d", aws.ToInt64(d.ApplicationVersionId))
	}
}
