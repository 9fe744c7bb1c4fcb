// Package operatortest is the Kubernetes side of the Kubernetes driver's
// tests: a real API server in the test process (apiextensions-apiserver on
// an embedded etcd) with the Flink Kubernetes Operator's own CRDs loaded,
// and a harness that plays the operator's reconciliation, running every
// FlinkDeployment as a real Flink cluster of the local driver. It is test
// code: only tests import it.
//
// Use it from any package's tests:
//
//	env := operatortest.Start(t, operatortest.Options{})
//	d := env.NewDriver(t) // a *kubernetes.Driver with the manifests' RBAC
//	e := engine.New(store, d)
//	...
//
// Start registers env.Close with t.Cleanup. Tests that need real Flink
// check for the runtimes first (they fail under CI=true when missing); an
// Env with Options.NoOperator needs no Flink at all (schema, RBAC and
// Ready tests). See docs/kubernetes.md for what this proves and what only
// a real cluster can.
package operatortest

import (
	"context"
	"embed"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/deploy"
	"github.com/flinkplane/flinkplane/runtime"
	k8s "github.com/flinkplane/flinkplane/runtime/kubernetes"
	"github.com/flinkplane/flinkplane/runtime/local"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/serviceaccount"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

//go:embed testdata/crds
var crds embed.FS

// CRDs returns the operator's CRD documents of a release ("1.15.0" or
// "1.10.0").
func CRDs(release string) ([][]byte, error) {
	ents, err := crds.ReadDir("testdata/crds/" + release)
	if err != nil {
		return nil, fmt.Errorf("no CRDs of operator release %q: %w", release, err)
	}
	var out [][]byte
	for _, e := range ents {
		b, err := crds.ReadFile("testdata/crds/" + release + "/" + e.Name())
		if err != nil {
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// Options configure an Env.
type Options struct {
	// OperatorRelease picks the CRDs: "1.15.0" (default; flinkVersion up
	// to v2_2) or "1.10.0" (up to v1_20: an operator too old for Flink 2).
	OperatorRelease string
	// Namespace of the FlinkDeployments (default "flinkplane").
	Namespace string
	// NoOperator starts only the API server: nothing reconciles.
	NoOperator bool
	// DataDir is the local driver's data directory of the harness's Flink
	// clusters (default: a temporary directory).
	DataDir string
	// RuntimesDir holds the installed runtimes (default
	// runtime.DefaultDir()).
	RuntimesDir string
	// Log receives the API server's and the harness's logs (default:
	// os.Stderr with FLINKPLANE_TEST_LOG=1, else nothing).
	Log io.Writer
}

// Env is a running API server with the operator's CRDs and, unless
// NoOperator, the operator harness.
type Env struct {
	Server    *Server
	Operator  *Operator
	Namespace string
	// StateDir is the shared volume: the same path in the "pods" (the
	// harness's local clusters) and in flinkplane.
	StateDir string
	// Token authenticates as the service account flinkplane of Namespace,
	// whose permissions are exactly those of deploy/kubernetes/rbac.yaml.
	Token string
	Rules *RuleAuthorizer
	// Admin is a privileged dynamic client.
	Admin dynamic.Interface

	log    io.Writer
	closed atomic.Bool
}

// Start starts an Env and registers its Close with t.Cleanup.
func Start(t testing.TB, o Options) *Env {
	t.Helper()
	e, err := StartEnv(t.TempDir(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// StartEnv starts an Env in dir (for callers without a testing.TB).
func StartEnv(dir string, o Options) (*Env, error) {
	if o.OperatorRelease == "" {
		o.OperatorRelease = "1.15.0"
	}
	if o.Namespace == "" {
		o.Namespace = "flinkplane"
	}
	if o.Log == nil && os.Getenv("FLINKPLANE_TEST_LOG") != "" {
		o.Log = os.Stderr
	}
	docs, err := CRDs(o.OperatorRelease)
	if err != nil {
		return nil, err
	}
	rbac, err := deploy.Manifest("rbac.yaml")
	if err != nil {
		return nil, err
	}
	rules, err := ParseRBAC(o.Namespace, rbac)
	if err != nil {
		return nil, err
	}
	// The ClusterRoleBinding names the namespace flinkplane runs in; here
	// it runs in the namespace of its resources.
	for i := range rules.crBindings {
		for j := range rules.crBindings[i].Subjects {
			rules.crBindings[i].Subjects[j].Namespace = o.Namespace
		}
	}
	token := randomHex(16)
	sa := serviceaccount.MakeUsername(o.Namespace, "flinkplane")
	srv, err := StartServer(ServerOptions{
		Dir:    dir,
		Tokens: map[string]*user.DefaultInfo{token: {Name: sa, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + o.Namespace, user.AllAuthenticated}}},
		Rules:  rules,
		Log:    o.Log,
	})
	if err != nil {
		return nil, err
	}
	e := &Env{Server: srv, Namespace: o.Namespace, StateDir: filepath.Join(dir, "state"), Token: token, Rules: rules, log: o.Log}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := srv.InstallCRDs(ctx, docs...); err != nil {
		srv.Close()
		return nil, err
	}
	if e.Admin, err = dynamic.NewForConfig(srv.Admin); err != nil {
		srv.Close()
		return nil, err
	}
	if err := os.MkdirAll(e.StateDir, 0o755); err != nil {
		srv.Close()
		return nil, err
	}
	if o.NoOperator {
		return e, nil
	}
	if o.DataDir == "" {
		o.DataDir = filepath.Join(dir, "flink")
	}
	if o.RuntimesDir == "" {
		o.RuntimesDir = runtime.DefaultDir()
	}
	supported := supportedRuntimes(o.OperatorRelease)
	e.Operator = &Operator{
		Client:    e.Admin,
		Namespace: o.Namespace,
		Runtimes:  supported,
		Proxy:     srv.Proxy,
		NewFlink: func(conf map[string]string, _ flinkplane.RuntimeID) Flink {
			d := local.New(o.DataDir, o.RuntimesDir)
			d.ExtraConfig = conf
			d.Logf = e.logf
			return d
		},
		LocalPath: LocalPath,
		Logf:      e.logf,
	}
	e.Operator.Start()
	return e, nil
}

func (e *Env) logf(format string, args ...any) {
	if e.log != nil && !e.closed.Load() {
		fmt.Fprintf(e.log, time.Now().Format("15:04:05.000 ")+format+"\n", args...)
	}
}

// UseOperatorRelease replaces the operator's CRDs with those of another
// release ("1.10.0": an operator too old for Flink 2) and makes the
// harness support what that release supports.
func (e *Env) UseOperatorRelease(ctx context.Context, release string) error {
	docs, err := CRDs(release)
	if err != nil {
		return err
	}
	var crds [][]byte
	for _, d := range docs {
		if strings.Contains(string(d), "name: flinkdeployments.") || strings.Contains(string(d), "name: flinkstatesnapshots.") {
			crds = append(crds, d)
		}
	}
	if err := e.Server.ReplaceCRDs(ctx, crds...); err != nil {
		return err
	}
	if e.Operator != nil {
		e.Operator.SetRuntimes(supportedRuntimes(release))
	}
	return nil
}

func supportedRuntimes(release string) map[string]flinkplane.RuntimeID {
	supported := map[string]flinkplane.RuntimeID{}
	for _, id := range runtime.IDs() {
		v, _ := k8s.FlinkVersion(id)
		if major, _, _ := id.Version(); release == "1.10.0" && major >= 2 {
			continue
		}
		supported[v] = id
	}
	return supported
}

// LocalPath maps a jarURI of the shared volume ("local:///p" as the
// operator reads it: a file in the image or a mounted volume, or
// "file:///p") to its path here.
func LocalPath(uri string) (string, error) {
	for _, p := range []string{"local://", "file://"} {
		if s, ok := strings.CutPrefix(uri, p); ok {
			return s, nil
		}
	}
	return "", fmt.Errorf("jarURI %q: the harness reads local:// and file:// URIs only", uri)
}

// DriverConfig returns a client configuration of the API server that
// authenticates as the flinkplane service account.
func (e *Env) DriverConfig() *rest.Config { return e.Server.UserConfig(e.Token) }

// WriteKubeconfig writes a kubeconfig file for the flinkplane service
// account (serve --kubeconfig PATH), with the server's CA.
func (e *Env) WriteKubeconfig(path string) error {
	c := e.DriverConfig()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["operatortest"] = &clientcmdapi.Cluster{Server: c.Host, CertificateAuthorityData: c.CAData, TLSServerName: c.ServerName}
	cfg.AuthInfos["flinkplane"] = &clientcmdapi.AuthInfo{Token: e.Token}
	cfg.Contexts["operatortest"] = &clientcmdapi.Context{Cluster: "operatortest", AuthInfo: "flinkplane", Namespace: e.Namespace}
	cfg.CurrentContext = "operatortest"
	return clientcmd.WriteToFile(*cfg, path)
}

// NewDriver returns a Kubernetes driver of this Env: the flinkplane
// service account, Namespace, the shared volume StateDir as storage, and
// short waits.
func (e *Env) NewDriver(t testing.TB) *k8s.Driver {
	t.Helper()
	d, err := k8s.New(e.DriverConfig(), e.Namespace)
	if err != nil {
		t.Fatal(err)
	}
	d.Storage = &k8s.VolumeStorage{Dir: e.StateDir}
	d.PollInterval = 100 * time.Millisecond
	d.AckTimeout = time.Minute
	d.TempDir = t.TempDir()
	d.Logf = e.logf
	return d
}

// Snapshots returns every FlinkStateSnapshot of the namespace.
func (e *Env) Snapshots(t testing.TB) []k8s.FlinkStateSnapshot {
	t.Helper()
	l, err := e.Admin.Resource(k8s.SnapshotResource).Namespace(e.Namespace).List(context.Background(), metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var out []k8s.FlinkStateSnapshot
	for i := range l.Items {
		var s k8s.FlinkStateSnapshot
		if err := k8s.FromUnstructured(&l.Items[i], &s); err != nil {
			t.Fatal(err)
		}
		out = append(out, s)
	}
	return out
}

// SetRules makes the API server authorize the flinkplane service account
// with other rules than the manifests' (and Denied report on them).
func (e *Env) SetRules(r *RuleAuthorizer) {
	e.Rules = r
	e.Server.SetRules(r)
}

// Denied returns the requests of the flinkplane service account that the
// manifests' RBAC rules denied.
func (e *Env) Denied() []string {
	_, denied := e.Rules.Requests()
	return denied
}

// Close stops the harness (and every Flink cluster it runs), the API
// server and etcd.
func (e *Env) Close() error {
	if e.closed.Swap(true) {
		return nil
	}
	if e.Operator != nil {
		e.Operator.Stop()
	}
	return e.Server.Close()
}
