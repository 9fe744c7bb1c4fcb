package operatortest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.etcd.io/etcd/server/v3/embed"
	noopoteltrace "go.opentelemetry.io/otel/trace/noop"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	extensionsapiserver "k8s.io/apiextensions-apiserver/pkg/apiserver"
	apiextensionsclient "k8s.io/apiextensions-apiserver/pkg/client/clientset/clientset"
	"k8s.io/apiextensions-apiserver/pkg/cmd/server/options"
	generatedopenapi "k8s.io/apiextensions-apiserver/pkg/generated/openapi"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apiserver/pkg/authentication/authenticatorfactory"
	"k8s.io/apiserver/pkg/authentication/user"
	"k8s.io/apiserver/pkg/authorization/authorizer"
	"k8s.io/apiserver/pkg/authorization/authorizerfactory"
	"k8s.io/apiserver/pkg/authorization/union"
	openapinamer "k8s.io/apiserver/pkg/endpoints/openapi"
	genericapiserver "k8s.io/apiserver/pkg/server"
	"k8s.io/apiserver/pkg/util/compatibility"
	utilfeature "k8s.io/apiserver/pkg/util/feature"
	"k8s.io/apiserver/pkg/util/openapi"
	"k8s.io/apiserver/pkg/util/webhook"
	"k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	basecompatibility "k8s.io/component-base/compatibility"
	"k8s.io/klog/v2"
	"sigs.k8s.io/yaml"
)

// Server is a real Kubernetes API server running in the test process:
// k8s.io/apiextensions-apiserver (CustomResourceDefinitions and custom
// resources, with their OpenAPI schema validation, defaulting, server-side
// apply, the status subresource and watch) on k8s.io/apiserver's generic
// server, storing in an embedded etcd. It serves no core API (no pods, no
// services, no namespaces: there is no kubelet and no container runtime
// here); the API server's service proxy of the core API is stood in for
// by ServiceProxy.
type Server struct {
	// Admin is a privileged client configuration (the API server's own
	// loopback identity, group system:masters).
	Admin *rest.Config
	// Proxy answers /api/v1/namespaces/<ns>/services/<name>/proxy/...
	Proxy *ServiceProxy

	dir    string
	etcd   *embed.Etcd
	cancel context.CancelFunc
	done   chan error
	tokens map[string]*user.DefaultInfo
	rules  atomic.Pointer[RuleAuthorizer]
}

// ServerOptions configure a Server.
type ServerOptions struct {
	// Dir holds etcd's data and the serving certificate (a temporary
	// directory).
	Dir string
	// Tokens are bearer tokens the server accepts, with their users (the
	// privileged loopback token is always accepted).
	Tokens map[string]*user.DefaultInfo
	// Rules authorizes the users of Tokens (nil: they may do nothing).
	Rules *RuleAuthorizer
	// Log receives the API server's and etcd's logs (nil: discarded).
	Log io.Writer
}

var klogOnce sync.Once

// quietKlog sends klog (the API server's logger) to w.
func quietKlog(w io.Writer) {
	klogOnce.Do(func() {
		fs := flag.NewFlagSet("klog", flag.ContinueOnError)
		klog.InitFlags(fs)
		fs.Set("logtostderr", "false")
		fs.Set("alsologtostderr", "false")
		fs.Set("stderrthreshold", "FATAL")
		fs.Set("one_output", "true")
		if w == nil {
			w = io.Discard
		}
		klog.SetOutput(w)
	})
}

// StartServer starts etcd and the API server and waits until it serves.
func StartServer(o ServerOptions) (*Server, error) {
	quietKlog(o.Log)
	s := &Server{dir: o.Dir, tokens: o.Tokens, Proxy: NewServiceProxy()}
	s.rules.Store(o.Rules)
	ok := false
	defer func() {
		if !ok {
			s.Close()
		}
	}()
	etcdURL, err := s.startEtcd(o.Log)
	if err != nil {
		return nil, err
	}
	if err := s.startAPIServer(etcdURL); err != nil {
		return nil, err
	}
	ok = true
	return s, nil
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// startEtcd starts a single-member etcd in Dir/etcd. Writes are not
// fsynced (UnsafeNoFsync): the data lives as long as the test.
func (s *Server) startEtcd(logw io.Writer) (string, error) {
	var lastErr error
	for attempt := 0; attempt < 3; attempt++ {
		cp, err := freePort()
		if err != nil {
			return "", err
		}
		pp, err := freePort()
		if err != nil {
			return "", err
		}
		cfg := embed.NewConfig()
		cfg.Name = "flinkplane-test"
		cfg.Dir = filepath.Join(s.dir, "etcd")
		cu, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", cp))
		pu, _ := url.Parse(fmt.Sprintf("http://127.0.0.1:%d", pp))
		cfg.ListenClientUrls, cfg.AdvertiseClientUrls = []url.URL{*cu}, []url.URL{*cu}
		cfg.ListenPeerUrls, cfg.AdvertisePeerUrls = []url.URL{*pu}, []url.URL{*pu}
		cfg.InitialCluster = cfg.InitialClusterFromName(cfg.Name)
		cfg.UnsafeNoFsync = true
		cfg.LogLevel = "error"
		if logw == nil {
			cfg.LogOutputs = []string{"/dev/null"}
		}
		e, err := embed.StartEtcd(cfg)
		if err != nil {
			lastErr = err
			os.RemoveAll(cfg.Dir)
			continue // a port taken meanwhile: again with others
		}
		select {
		case <-e.Server.ReadyNotify():
			s.etcd = e
			return cu.String(), nil
		case err := <-e.Err():
			e.Close()
			lastErr = err
		case <-time.After(time.Minute):
			e.Close()
			return "", errors.New("etcd did not start within a minute")
		}
	}
	return "", fmt.Errorf("start etcd: %w", lastErr)
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// startAPIServer configures the apiextensions-apiserver as
// apiextensions-apiserver/pkg/cmd/server/testing.StartTestServer does,
// without the parts that need a kube-apiserver next to it (delegated
// authentication and authorization, the core API informers, admission
// webhooks, priority and fairness): its own tokens and rules instead.
func (s *Server) startAPIServer(etcdURL string) error {
	o := options.NewCustomResourceDefinitionsServerOptions(io.Discard, io.Discard)
	featureGate := utilfeature.DefaultMutableFeatureGate.DeepCopy()
	effectiveVersion := compatibility.DefaultKubeEffectiveVersionForTest()
	effectiveVersion.SetEmulationVersion(featureGate.EmulationVersion())
	registry := basecompatibility.NewComponentGlobalsRegistry()
	if err := registry.Register(basecompatibility.DefaultKubeComponent, effectiveVersion, featureGate); err != nil {
		return err
	}
	if err := registry.Set(); err != nil {
		return err
	}
	o.ServerRunOptions.ComponentGlobalsRegistry = registry
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	o.RecommendedOptions.SecureServing.Listener = ln
	o.RecommendedOptions.SecureServing.BindPort = ln.Addr().(*net.TCPAddr).Port
	o.RecommendedOptions.SecureServing.ServerCert.CertDirectory = filepath.Join(s.dir, "certs")
	o.RecommendedOptions.SecureServing.ExternalAddress = ln.Addr().(*net.TCPAddr).IP
	o.RecommendedOptions.Etcd.StorageConfig.Transport.ServerList = []string{etcdURL}
	o.RecommendedOptions.Etcd.StorageConfig.Prefix = "/registry/" + randomHex(4)
	o.RecommendedOptions.Authentication = nil
	o.RecommendedOptions.Authorization = nil
	o.RecommendedOptions.CoreAPI = nil
	o.RecommendedOptions.Admission = nil
	o.RecommendedOptions.Features.EnablePriorityAndFairness = false
	if err := o.APIEnablement.RuntimeConfig.Set("api/all=true"); err != nil {
		return err
	}
	if err := o.Complete(); err != nil {
		return err
	}
	if err := o.Validate(); err != nil {
		return err
	}
	if err := o.RecommendedOptions.SecureServing.MaybeDefaultWithSelfSignedCerts("localhost", nil, []net.IP{net.ParseIP("127.0.0.1")}); err != nil {
		return err
	}
	// options.Config without the core API's service lister (no conversion
	// webhooks here).
	gc := genericapiserver.NewRecommendedConfig(extensionsapiserver.Codecs)
	if err := o.ServerRunOptions.ApplyTo(&gc.Config); err != nil {
		return err
	}
	if err := o.RecommendedOptions.ApplyTo(gc); err != nil {
		return err
	}
	if err := o.APIEnablement.ApplyTo(&gc.Config, extensionsapiserver.DefaultAPIResourceConfigSource(), extensionsapiserver.Scheme); err != nil {
		return err
	}
	defs := openapi.GetOpenAPIDefinitionsWithoutDisabledFeatures(generatedopenapi.GetOpenAPIDefinitions)
	gc.OpenAPIConfig = genericapiserver.DefaultOpenAPIConfig(defs, openapinamer.NewDefinitionNamer(extensionsapiserver.Scheme))
	gc.OpenAPIV3Config = genericapiserver.DefaultOpenAPIV3Config(defs, openapinamer.NewDefinitionNamer(extensionsapiserver.Scheme, scheme.Scheme))

	tokens := map[string]*user.DefaultInfo{}
	for t, u := range s.tokens {
		tokens[t] = u
	}
	gc.Authentication.Authenticator = authenticatorfactory.NewFromTokens(tokens, nil)
	rules := authorizer.AuthorizerFunc(func(ctx context.Context, a authorizer.Attributes) (authorizer.Decision, string, error) {
		r := s.rules.Load()
		if r == nil {
			return authorizer.DecisionNoOpinion, "no rules", nil
		}
		return r.Authorize(ctx, a)
	})
	authz, err := union.New(
		union.NamedAuthorizer{AuthorizerName: "privileged", Authorizer: authorizerfactory.NewPrivilegedGroups(user.SystemPrivilegedGroup)},
		union.NamedAuthorizer{AuthorizerName: "rules", Authorizer: rules},
	)
	if err != nil {
		return err
	}
	gc.Authorization.Authorizer = authz

	cfg := &extensionsapiserver.Config{
		GenericConfig: gc,
		ExtraConfig: extensionsapiserver.ExtraConfig{
			CRDRESTOptionsGetter: options.NewCRDRESTOptionsGetter(*o.RecommendedOptions.Etcd, gc.ResourceTransformers, gc.StorageObjectCountTracker),
			ServiceResolver:      noServices{},
			AuthResolverWrapper:  webhook.NewDefaultAuthenticationInfoResolverWrapper(nil, nil, gc.LoopbackClientConfig, noopoteltrace.NewTracerProvider()),
		},
	}
	server, err := cfg.Complete().New(genericapiserver.NewEmptyDelegate())
	if err != nil {
		return fmt.Errorf("create API server: %w", err)
	}
	// The core API's service proxy, stood in for (see ServiceProxy); it is
	// behind the same authentication and authorization as every request.
	server.GenericAPIServer.Handler.NonGoRestfulMux.HandlePrefix("/api/v1/namespaces/", s.Proxy)

	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	s.done = make(chan error, 1)
	go func() {
		s.done <- server.GenericAPIServer.PrepareRun().RunWithContext(ctx)
		close(s.done)
	}()
	s.Admin = rest.CopyConfig(server.GenericAPIServer.LoopbackClientConfig)
	s.Admin.QPS, s.Admin.Burst = -1, 0
	return s.waitHealthy()
}

type noServices struct{}

func (noServices) ResolveEndpoint(namespace, name string, port int32) (*url.URL, error) {
	return nil, fmt.Errorf("no service %s/%s: this API server has no core API", namespace, name)
}

func (s *Server) waitHealthy() error {
	hc, err := rest.HTTPClientFor(s.Admin)
	if err != nil {
		return err
	}
	deadline := time.Now().Add(time.Minute)
	for time.Now().Before(deadline) {
		select {
		case err := <-s.done:
			return fmt.Errorf("API server stopped: %v", err)
		default:
		}
		resp, err := hc.Get(strings.TrimRight(s.Admin.Host, "/") + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return errors.New("the API server did not become ready within a minute")
}

// SetRules replaces the rules that authorize the users of the tokens.
func (s *Server) SetRules(r *RuleAuthorizer) { s.rules.Store(r) }

// URL returns the API server's address (https://127.0.0.1:<port>).
func (s *Server) URL() string { return s.Admin.Host }

// UserConfig returns a client configuration that authenticates with a
// bearer token (one of ServerOptions.Tokens), trusting the server's
// certificate as Admin does.
func (s *Server) UserConfig(token string) *rest.Config {
	c := rest.AnonymousClientConfig(s.Admin)
	c.BearerToken = token
	c.QPS, c.Burst = -1, 0
	return c
}

// InstallCRDs creates CustomResourceDefinitions from YAML documents and
// waits until each is established (served).
func (s *Server) InstallCRDs(ctx context.Context, docs ...[]byte) error {
	c, err := apiextensionsclient.NewForConfig(s.Admin)
	if err != nil {
		return err
	}
	var names []string
	for _, doc := range docs {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(doc, &crd); err != nil {
			return fmt.Errorf("parse CRD: %w", err)
		}
		if _, err := c.ApiextensionsV1().CustomResourceDefinitions().Create(ctx, &crd, metav1.CreateOptions{}); err != nil && !apierrors.IsAlreadyExists(err) {
			return fmt.Errorf("create CRD %s: %w", crd.Name, err)
		}
		names = append(names, crd.Name)
	}
	for _, n := range names {
		for {
			crd, err := c.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return err
			}
			est := false
			for _, cond := range crd.Status.Conditions {
				est = est || (cond.Type == apiextensionsv1.Established && cond.Status == apiextensionsv1.ConditionTrue)
			}
			if est {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("CRD %s not established: %w", n, ctx.Err())
			case <-time.After(50 * time.Millisecond):
			}
		}
	}
	return nil
}

// ReplaceCRDs replaces the spec of installed CRDs (an operator upgrade or
// downgrade: kubectl replace -f crds/), keeping the stored resources.
func (s *Server) ReplaceCRDs(ctx context.Context, docs ...[]byte) error {
	c, err := apiextensionsclient.NewForConfig(s.Admin)
	if err != nil {
		return err
	}
	for _, doc := range docs {
		var crd apiextensionsv1.CustomResourceDefinition
		if err := yaml.UnmarshalStrict(doc, &crd); err != nil {
			return fmt.Errorf("parse CRD: %w", err)
		}
		cur, err := c.ApiextensionsV1().CustomResourceDefinitions().Get(ctx, crd.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		cur.Spec = crd.Spec
		if _, err := c.ApiextensionsV1().CustomResourceDefinitions().Update(ctx, cur, metav1.UpdateOptions{}); err != nil {
			return fmt.Errorf("replace CRD %s: %w", crd.Name, err)
		}
	}
	return nil
}

// Close stops the API server and etcd and removes nothing (Dir is the
// caller's).
func (s *Server) Close() error {
	if s.cancel != nil {
		s.cancel()
		select {
		case <-s.done:
		case <-time.After(30 * time.Second):
		}
		s.cancel = nil
	}
	if s.etcd != nil {
		s.etcd.Close()
		s.etcd = nil
	}
	return nil
}
