package main

import (
	"context"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kav2 "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2/types"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/deploy"
	k8s "github.com/flinkplane/flinkplane/runtime/kubernetes"
	"github.com/flinkplane/flinkplane/runtime/kubernetes/operatortest"
	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/yaml"
)

// manifestEnv returns the environment deploy/kubernetes/flinkplane.yaml
// gives the flinkplane container; values from the downward API or Secrets
// get sample values.
func manifestEnv(t *testing.T) map[string]string {
	t.Helper()
	b, err := deploy.Manifest("flinkplane.yaml")
	if err != nil {
		t.Fatal(err)
	}
	env := map[string]string{}
	for _, doc := range strings.Split(string(b), "\n---") {
		if !strings.Contains(doc, "kind: Deployment") {
			continue
		}
		var d appsv1.Deployment
		if err := yaml.Unmarshal([]byte(doc), &d); err != nil {
			t.Fatal(err)
		}
		for _, e := range d.Spec.Template.Spec.Containers[0].Env {
			v := e.Value
			if e.ValueFrom != nil {
				v = map[string]string{"FLINKPLANE_K8S_NAMESPACE": "flinkplane", "FLINKPLANE_CREDENTIALS": "AKID:SECRET"}[e.Name]
			}
			env[e.Name] = v
		}
	}
	if len(env) == 0 {
		t.Fatal("no Deployment in flinkplane.yaml")
	}
	return env
}

// TestServe_KubernetesManifestEnv: serve accepts the environment of the
// manifests' Deployment, every variable of it being a flag.
func TestServe_KubernetesManifestEnv(t *testing.T) {
	env := manifestEnv(t)
	for k, v := range env {
		t.Setenv(k, v)
	}
	c, err := parseServe(nil)
	if err != nil {
		t.Fatal(err)
	}
	k := c.Kubernetes
	if c.Driver != "kubernetes" || k.Namespace != "flinkplane" || k.StateDir != "/flinkplane/state" || k.StateVolumeClaim != "flinkplane-state" ||
		k.Images[flinkplane.RuntimeFlink22] != "flinkplane-flink:2.2.1" || c.SuspendOnExit || c.Auth != "sigv4" {
		t.Fatalf("config from the manifest's environment: driver %s, %+v, suspend-on-exit %v", c.Driver, k, c.SuspendOnExit)
	}
	// Every variable is a flag's (a misspelt one would be ignored).
	var flags []string
	fs := flagNames(t)
	for name := range env {
		if !fs[name] {
			flags = append(flags, name)
		}
	}
	if len(flags) > 0 {
		t.Errorf("variables of the manifest that no flag reads: %v", flags)
	}
}

// serveUsage returns what serve -h prints (on stderr).
func serveUsage(t *testing.T) string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := os.Stderr
	os.Stderr = w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	parseServe([]string{"-h"})
	os.Stderr = stderr
	w.Close()
	return <-done
}

// flagNames returns the environment variable of every serve flag.
func flagNames(t *testing.T) map[string]bool {
	t.Helper()
	names := map[string]bool{}
	for _, line := range strings.Split(serveUsage(t), "\n") {
		if i := strings.Index(line, "(env FLINKPLANE_"); i >= 0 {
			names[strings.TrimSuffix(strings.Fields(line[i+5:])[0], ")")] = true
		}
	}
	return names
}

func TestServe_KubernetesFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		err  string
	}{
		{[]string{"--driver", "docker"}, "--driver must be local or kubernetes"},
		{[]string{"--k8s-images", "FLINK-1_20"}, "--k8s-images"},
		{[]string{"--k8s-images", "SPARK-3=x"}, "is not a runtime"},
		{[]string{"--k8s-taskmanager-cpu", "-1"}, "--k8s-taskmanager-cpu"},
		{[]string{"--k8s-flink-config", "a=b,c"}, "--k8s-flink-config"},
	} {
		if _, err := parseServe(tc.args); err == nil || !strings.Contains(err.Error(), tc.err) {
			t.Errorf("%v: %v, want %q", tc.args, err, tc.err)
		}
	}
	c, err := parseServe([]string{"--driver", "kubernetes", "--k8s-flink-config", "a=b, c=d", "--k8s-images", "FLINK-1_20=r/f:1", "--k8s-taskmanager-memory", "4g"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Kubernetes.FlinkConfig["c"] != "d" || c.Kubernetes.Images["FLINK-1_20"] != "r/f:1" || c.Kubernetes.TaskManager.Memory != "4g" {
		t.Fatalf("%+v", c.Kubernetes)
	}
	c.Kubernetes.Kubeconfig = filepath.Join(t.TempDir(), "none")
	if _, err := newKubernetesDriver(*c); err == nil || !strings.Contains(err.Error(), "kubeconfig") {
		t.Fatalf("missing kubeconfig: %v", err)
	}
}

// TestServe_KubernetesDriver: serve --driver kubernetes --kubeconfig
// against the API server (no Flink): the driver is wired, and with the CRDs
// of an operator too old for Flink 2.2 a start on FLINK-2_2 is refused
// through the API with the reason.
func TestServe_KubernetesDriver(t *testing.T) {
	env := operatortest.Start(t, operatortest.Options{NoOperator: true, OperatorRelease: "1.10.0"})
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := env.WriteKubeconfig(kubeconfig); err != nil {
		t.Fatal(err)
	}
	c, err := parseServe([]string{"--driver", "kubernetes", "--kubeconfig", kubeconfig, "--k8s-state-dir", env.StateDir,
		"--addr", "127.0.0.1:0", "--data-dir", t.TempDir(), "--watch-interval", "0"})
	if err != nil {
		t.Fatal(err)
	}
	if c.Kubernetes.Namespace != "" {
		t.Fatalf("namespace %q before the kubeconfig is read", c.Kubernetes.Namespace)
	}
	m := NewMain()
	m.Config = *c
	m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	kd, ok := m.driver.(*k8s.Driver)
	if !ok || kd.Namespace != env.Namespace {
		t.Fatalf("driver %T %+v, want the Kubernetes driver in the kubeconfig's namespace %s", m.driver, kd, env.Namespace)
	}
	if got := m.Engine.SavepointDir; got != env.StateDir+"/savepoints" {
		t.Fatalf("savepoint directory %s", got)
	}
	cl := apiClient(m.URL())
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for _, rt := range []types.RuntimeEnvironment{types.RuntimeEnvironmentFlink22} {
		name := "k-" + strings.ToLower(strings.ReplaceAll(string(rt), "_", "-"))
		if _, err := cl.CreateApplication(ctx, &kav2.CreateApplicationInput{ApplicationName: aws.String(name), RuntimeEnvironment: rt,
			ServiceExecutionRole: aws.String("arn:aws:iam::123456789012:role/flink"),
			ApplicationConfiguration: &types.ApplicationConfiguration{ApplicationCodeConfiguration: &types.ApplicationCodeConfiguration{
				CodeContentType: types.CodeContentTypeZipfile, CodeContent: &types.CodeContent{ZipFileContent: []byte("PK\x05\x06" + strings.Repeat("\x00", 18))}}}}); err != nil {
			t.Fatal(err)
		}
		_, err := cl.StartApplication(ctx, &kav2.StartApplicationInput{ApplicationName: aws.String(name)})
		srvWantErr[*types.InvalidApplicationConfigurationException](t, err, "accepts flinkVersion", "v1_20, not v2_2")
	}
}
