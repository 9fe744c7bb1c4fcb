// Package localtest helps tests that need real Flink: it finds the installed
// runtimes, builds the local driver's test job against a runtime and starts
// clusters. When a runtime is missing a test fails if CI=true and is skipped
// otherwise.
package localtest

import (
	"archive/zip"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	goruntime "runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/flinkrest"
	"github.com/flinkplane/flinkplane/internal/zipdir"
	"github.com/flinkplane/flinkplane/runtime"
	"github.com/flinkplane/flinkplane/runtime/local"
)

// AWSRuntimeLibrary is the AWS library the test job reads its
// EnvironmentProperties with (bundled into the job JAR, as users do).
const AWSRuntimeLibrary = "com.amazonaws:aws-kinesisanalytics-runtime:1.2.0"

// RuntimesDir is $FLINKPLANE_RUNTIMES_DIR or the default runtimes dir.
func RuntimesDir() string { return runtime.DirFromEnv() }

// RequireRuntime fails (CI=true) or skips the test unless id is installed
// and usable.
func RequireRuntime(tb testing.TB, id flinkplane.RuntimeID) {
	tb.Helper()
	d := local.New(tb.TempDir(), RuntimesDir())
	if err := d.Ready(id); err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("runtime %s missing in CI: %v (run scripts/install-runtimes.sh)", id, err)
		}
		tb.Skipf("runtime %s not installed: %v (run scripts/install-runtimes.sh)", id, err)
	}
}

var (
	awsOnce sync.Once
	awsJar  string
	awsErr  error
	jarMu   sync.Mutex
	jars    = map[flinkplane.RuntimeID]string{}
)

func sourceDir() string {
	_, file, _, _ := goruntime.Caller(0)
	return filepath.Join(filepath.Dir(file), "..", "testdata", "job")
}

// awsLibrary fetches the AWS runtime library with Maven (cached in ~/.m2).
func awsLibrary() (string, error) {
	awsOnce.Do(func() {
		dir, err := os.MkdirTemp("", "flinkplane-awslib-")
		if err != nil {
			awsErr = err
			return
		}
		out, err := exec.Command("mvn", "-B", "-q", "org.apache.maven.plugins:maven-dependency-plugin:3.6.1:copy",
			"-Dartifact="+AWSRuntimeLibrary, "-DoutputDirectory="+dir).CombinedOutput()
		if err != nil {
			awsErr = fmt.Errorf("fetch %s: %v\n%s", AWSRuntimeLibrary, err, out)
			return
		}
		m, _ := filepath.Glob(filepath.Join(dir, "aws-kinesisanalytics-runtime-*.jar"))
		if len(m) != 1 {
			awsErr = fmt.Errorf("fetch %s: jar not found in %s", AWSRuntimeLibrary, dir)
			return
		}
		awsJar = m[0]
	})
	return awsJar, awsErr
}

// TestJobJar builds (once per runtime and test binary) the test job against
// the runtime's classpath, with the AWS runtime library shaded in, and
// returns the JAR path. Its main class is in the manifest.
func TestJobJar(tb testing.TB, id flinkplane.RuntimeID) string {
	tb.Helper()
	jarMu.Lock()
	defer jarMu.Unlock()
	if j, ok := jars[id]; ok {
		return j
	}
	aws, err := awsLibrary()
	if err != nil {
		tb.Fatal(err)
	}
	work, err := os.MkdirTemp("", "flinkplane-testjob-")
	if err != nil {
		tb.Fatal(err)
	}
	classes := filepath.Join(work, "classes")
	cp := filepath.Join(RuntimesDir(), string(id), "lib", "*") + string(os.PathListSeparator) + aws
	src := filepath.Join(sourceDir(), "flinkplane", "testjob", "TestJob.java")
	if out, err := exec.Command("javac", "--release", "11", "-nowarn", "-cp", cp, "-d", classes, src).CombinedOutput(); err != nil {
		tb.Fatalf("javac test job for %s: %v\n%s", id, err, out)
	}
	jar := filepath.Join(work, "testjob-"+string(id)+".jar")
	if err := writeJar(jar, classes, aws, "flinkplane.testjob.TestJob"); err != nil {
		tb.Fatal(err)
	}
	jars[id] = jar
	return jar
}

func writeJar(dst, classes, lib, mainClass string) error {
	f, err := os.Create(dst)
	if err != nil {
		return err
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	w, _ := zw.Create("META-INF/MANIFEST.MF")
	fmt.Fprintf(w, "Manifest-Version: 1.0\r\nMain-Class: %s\r\n\r\n", mainClass)
	if err := zipdir.Add(zw, classes); err != nil {
		return err
	}
	// Shade the library: every entry except its manifest and maven files.
	zr, err := zip.OpenReader(lib)
	if err != nil {
		return err
	}
	defer zr.Close()
	for _, e := range zr.File {
		if strings.HasPrefix(e.Name, "META-INF/") || strings.HasSuffix(e.Name, "/") {
			continue
		}
		rc, err := e.Open()
		if err != nil {
			return err
		}
		w, err := zw.Create(e.Name)
		if err == nil {
			_, err = io.Copy(w, rc)
		}
		rc.Close()
		if err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return f.Close()
}

// NewDriver returns a driver on a fresh data directory that logs to tb.
func NewDriver(tb testing.TB, dataDir string) *local.Driver {
	d := local.New(dataDir, RuntimesDir())
	d.Logf = func(format string, args ...any) { tb.Logf(format, args...) }
	return d
}

// StartCluster starts a cluster and registers a cleanup that stops it and
// asserts that no process of it survives.
func StartCluster(tb testing.TB, d *local.Driver, spec flinkplane.ClusterSpec) flinkplane.ClusterHandle {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	h, err := d.Start(ctx, spec)
	if err != nil {
		tb.Fatalf("start %s cluster: %v", spec.Runtime, err)
	}
	tb.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		if err := d.Stop(ctx, h); err != nil {
			tb.Errorf("stop cluster: %v", err)
		}
	})
	return h
}

// RESTClient returns the driver's client of the cluster's REST API (mutual
// TLS with the cluster's key).
func RESTClient(tb testing.TB, d *local.Driver, h flinkplane.ClusterHandle) *flinkrest.Client {
	tb.Helper()
	c, err := d.RESTClient(h, 0)
	if err != nil {
		tb.Fatal(err)
	}
	return c
}
