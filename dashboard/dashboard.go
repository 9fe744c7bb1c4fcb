// Package dashboard serves the Flink Web Dashboard of each running
// application through flinkplane's own address, read-only, behind
// short-lived sign-in links: what CreateApplicationPresignedUrl hands out.
//
//	GET /dashboard/<application>/signin?token=T   the presigned URL: T must be
//	    used within SignInTTL (3 minutes, as on AWS); it sets a session
//	    cookie for /dashboard/<application>/ valid for the session duration
//	    asked for (SessionExpirationDurationInSeconds, 12 hours by default)
//	    and redirects to the dashboard;
//	GET /dashboard/<application>/...              with a valid session: the
//	    application's current cluster's REST API and Web UI (the proxy
//	    presents the cluster's client certificate: Flink's own endpoint
//	    accepts nobody else).
//
// Only GET and HEAD are forwarded: the dashboard cannot submit, cancel or
// change anything (405), as the managed service's dashboard is read-only,
// and /config tells the Web UI so (web-submit, web-cancel false). Tokens and
// cookies are HMAC-SHA256 signed with a key made at start-up: a restarted
// server ends every session. The cookie and Authorization headers never
// reach Flink.
package dashboard

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/flinkplane/flinkplane"
)

// Prefix is the path under which the dashboards are served.
const Prefix = "/dashboard/"

// SignInTTL is how long a presigned URL may wait for its first use.
const SignInTTL = 3 * time.Minute

// DefaultSession is the session of a URL asked for without a duration.
const DefaultSession = 12 * time.Hour

// Proxy is the dashboard handler (mount it at Prefix).
type Proxy struct {
	Store flinkplane.Store
	// Transport returns the transport to a cluster's REST endpoint (the
	// local driver's RESTTransport: mutual TLS).
	Transport func(h flinkplane.ClusterHandle) (http.RoundTripper, error)
	Now       func() time.Time

	key []byte
}

// New returns a proxy with a fresh signing key.
func New(store flinkplane.Store, transport func(flinkplane.ClusterHandle) (http.RoundTripper, error)) *Proxy {
	k := make([]byte, 32)
	rand.Read(k)
	return &Proxy{Store: store, Transport: transport, Now: time.Now, key: k}
}

func (p *Proxy) now() time.Time {
	if p.Now != nil {
		return p.Now()
	}
	return time.Now()
}

func (p *Proxy) sign(payload string) string {
	m := hmac.New(sha256.New, p.key)
	m.Write([]byte(payload))
	return base64.RawURLEncoding.EncodeToString([]byte(payload)) + "." + base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// verify returns the fields of a token signed by this proxy.
func (p *Proxy) verify(token string) ([]string, bool) {
	enc, sig, ok := strings.Cut(token, ".")
	if !ok {
		return nil, false
	}
	payload, err := base64.RawURLEncoding.DecodeString(enc)
	if err != nil {
		return nil, false
	}
	got, err := base64.RawURLEncoding.DecodeString(sig)
	if err != nil {
		return nil, false
	}
	m := hmac.New(sha256.New, p.key)
	m.Write(payload)
	if !hmac.Equal(got, m.Sum(nil)) {
		return nil, false
	}
	return strings.Split(string(payload), "|"), true
}

// SignInURL returns the presigned URL of app's dashboard on the server
// reached at base (scheme://host): it must be used within SignInTTL and
// opens a session of the given length (0: DefaultSession).
func (p *Proxy) SignInURL(base, app string, session time.Duration) string {
	if session <= 0 {
		session = DefaultSession
	}
	deadline := p.now().Add(SignInTTL).Unix()
	t := p.sign(fmt.Sprintf("signin|%s|%d|%d", app, deadline, int64(session/time.Second)))
	return strings.TrimRight(base, "/") + Prefix + url.PathEscape(app) + "/signin?token=" + url.QueryEscape(t)
}

func cookieName(app string) string { return "flinkplane-dashboard-" + app }

// ServeHTTP serves /dashboard/<application>/...
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	rest, ok := strings.CutPrefix(r.URL.Path, Prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	app, sub, ok := strings.Cut(rest, "/")
	if !ok {
		http.Redirect(w, r, Prefix+url.PathEscape(app)+"/", http.StatusFound)
		return
	}
	if app == "" {
		http.NotFound(w, r)
		return
	}
	if sub == "signin" {
		p.signIn(w, r, app)
		return
	}
	c, err := r.Cookie(cookieName(app))
	if err != nil || !p.validSession(c.Value, app) {
		deny(w, http.StatusForbidden, "No valid session for the dashboard of application "+app+": open a new URL from CreateApplicationPresignedUrl.")
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		deny(w, http.StatusMethodNotAllowed, "The Flink dashboard is read-only: jobs are submitted, stopped and changed through the kinesisanalyticsv2 API.")
		return
	}
	p.forward(w, r, app, "/"+sub)
}

func deny(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	io.WriteString(w, msg+"\n")
}

func (p *Proxy) signIn(w http.ResponseWriter, r *http.Request, app string) {
	f, ok := p.verify(r.URL.Query().Get("token"))
	if !ok || len(f) != 4 || f[0] != "signin" || f[1] != app {
		deny(w, http.StatusForbidden, "This dashboard URL is not valid.")
		return
	}
	deadline, err1 := strconv.ParseInt(f[2], 10, 64)
	secs, err2 := strconv.ParseInt(f[3], 10, 64)
	if err1 != nil || err2 != nil || p.now().Unix() > deadline {
		deny(w, http.StatusForbidden, "This dashboard URL has expired: a URL from CreateApplicationPresignedUrl must be used within 3 minutes.")
		return
	}
	expires := p.now().Add(time.Duration(secs) * time.Second)
	http.SetCookie(w, &http.Cookie{
		Name: cookieName(app), Value: p.sign(fmt.Sprintf("session|%s|%d", app, expires.Unix())),
		Path: Prefix + url.PathEscape(app) + "/", Expires: expires, HttpOnly: true, SameSite: http.SameSiteStrictMode, Secure: r.TLS != nil,
	})
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, Prefix+url.PathEscape(app)+"/", http.StatusSeeOther)
}

func (p *Proxy) validSession(v, app string) bool {
	f, ok := p.verify(v)
	if !ok || len(f) != 3 || f[0] != "session" || f[1] != app {
		return false
	}
	exp, err := strconv.ParseInt(f[2], 10, 64)
	return err == nil && p.now().Unix() <= exp
}

// forward proxies a read to the application's current cluster.
func (p *Proxy) forward(w http.ResponseWriter, r *http.Request, name, path string) {
	var app *flinkplane.Application
	err := p.Store.View(r.Context(), func(tx flinkplane.Tx) (err error) {
		app, err = tx.Application(name)
		return err
	})
	if err != nil {
		deny(w, http.StatusNotFound, "Application "+name+" not found.")
		return
	}
	if app.Cluster == nil || app.Cluster.RESTURL == "" || app.Status != flinkplane.StatusRunning {
		deny(w, http.StatusServiceUnavailable, fmt.Sprintf("Application %s is %s; its Flink dashboard is there while it is RUNNING.", name, app.Status))
		return
	}
	target, err := url.Parse(app.Cluster.RESTURL)
	if err != nil {
		deny(w, http.StatusBadGateway, "The application's cluster has no usable address.")
		return
	}
	tr := http.DefaultTransport
	if p.Transport != nil {
		if tr, err = p.Transport(*app.Cluster); err != nil {
			deny(w, http.StatusBadGateway, "The application's cluster cannot be reached.")
			return
		}
	}
	rp := &httputil.ReverseProxy{
		Transport: tr,
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.Out.URL.Scheme, pr.Out.URL.Host = target.Scheme, target.Host
			pr.Out.URL.Path, pr.Out.URL.RawPath = path, ""
			pr.Out.Host = target.Host
			pr.Out.Header.Del("Cookie")
			pr.Out.Header.Del("Authorization")
			if path == "/config" {
				pr.Out.Header.Del("Accept-Encoding") // rewritten below: plain JSON
			}
		},
		ModifyResponse: func(resp *http.Response) error {
			resp.Header.Del("Set-Cookie")
			if path == "/config" && resp.StatusCode == http.StatusOK && resp.Header.Get("Content-Encoding") == "" {
				return readOnlyConfig(resp)
			}
			return nil
		},
		ErrorHandler: func(w http.ResponseWriter, r *http.Request, err error) {
			deny(w, http.StatusBadGateway, "The application's Flink dashboard does not answer.")
		},
	}
	rp.ServeHTTP(w, r)
}

// readOnlyConfig turns off the Web UI's submit, cancel and rescale
// features in Flink's /config answer.
func readOnlyConfig(resp *http.Response) error {
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if err != nil {
		return err
	}
	var cfg map[string]any
	if json.Unmarshal(b, &cfg) == nil {
		if f, ok := cfg["features"].(map[string]any); ok {
			for _, k := range []string{"web-submit", "web-cancel", "web-rescale"} {
				if _, ok := f[k]; ok {
					f[k] = false
				}
			}
			if nb, err := json.Marshal(cfg); err == nil {
				b = nb
			}
		}
	}
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Set("Content-Length", strconv.Itoa(len(b)))
	return nil
}
