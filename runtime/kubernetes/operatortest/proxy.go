package operatortest

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
)

// ServiceProxy stands in for the kube-apiserver's service proxy
// (pkg/registry/core/service/proxy.go: GET
// /api/v1/namespaces/<ns>/services/[<scheme>:]<name>[:<port>]/proxy/<path>
// forwards to an endpoint of the service). There are no pods here: the
// operator harness registers, for each Flink cluster it runs, the
// Service the operator's native deployment creates (<cluster-id>-rest)
// with the address of the local JobManager's REST endpoint. Like the real
// proxy it strips the caller's credentials and answers 503 with a Status
// when the service has no endpoint.
type ServiceProxy struct {
	mu      sync.Mutex
	targets map[string]target // namespace/name
}

type target struct {
	base *url.URL
	tr   http.RoundTripper
}

// NewServiceProxy returns a proxy without services.
func NewServiceProxy() *ServiceProxy { return &ServiceProxy{targets: map[string]target{}} }

// Register points a service at an endpoint (base URL and transport).
func (p *ServiceProxy) Register(namespace, service, baseURL string, tr http.RoundTripper) error {
	u, err := url.Parse(baseURL)
	if err != nil {
		return err
	}
	p.mu.Lock()
	p.targets[namespace+"/"+service] = target{base: u, tr: tr}
	p.mu.Unlock()
	return nil
}

// Unregister removes a service's endpoint.
func (p *ServiceProxy) Unregister(namespace, service string) {
	p.mu.Lock()
	delete(p.targets, namespace+"/"+service)
	p.mu.Unlock()
}

func status(w http.ResponseWriter, code int, reason, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	json.NewEncoder(w).Encode(map[string]any{
		"kind": "Status", "apiVersion": "v1", "metadata": map[string]any{},
		"status": "Failure", "message": msg, "reason": reason, "code": code,
	})
}

func (p *ServiceProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// /api/v1/namespaces/<ns>/services/<svc>/proxy[/<path>]
	parts := strings.SplitN(strings.TrimPrefix(r.URL.Path, "/api/v1/namespaces/"), "/", 5)
	if len(parts) < 4 || parts[1] != "services" || parts[3] != "proxy" {
		status(w, http.StatusNotFound, "NotFound", "the server could not find the requested resource")
		return
	}
	ns, svc := parts[0], parts[2]
	// [scheme:]name[:port]
	fields := strings.Split(svc, ":")
	name := fields[0]
	if len(fields) == 3 || (len(fields) == 2 && (fields[0] == "http" || fields[0] == "https")) {
		name = fields[1]
	}
	rest := "/"
	if len(parts) == 5 {
		rest += parts[4]
	}
	p.mu.Lock()
	t, ok := p.targets[ns+"/"+name]
	p.mu.Unlock()
	if !ok {
		status(w, http.StatusServiceUnavailable, "ServiceUnavailable", fmt.Sprintf("no endpoints available for service %q", name))
		return
	}
	rp := &httputil.ReverseProxy{
		Transport: t.tr,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = t.base.Scheme, t.base.Host
			pr.Out.URL.Path, pr.Out.URL.RawPath = strings.TrimRight(t.base.Path, "/")+rest, ""
			pr.Out.Host = t.base.Host
			pr.Out.Header.Del("Authorization")
			pr.Out.Header.Del("Cookie")
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			status(w, http.StatusServiceUnavailable, "ServiceUnavailable", fmt.Sprintf("error trying to reach service: %v", err))
		},
	}
	rp.ServeHTTP(w, r)
}
