package dashboard_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/dashboard"
	"github.com/flinkplane/flinkplane/sqlite"
)

// fakeFlink records what reaches it.
type fakeFlink struct {
	mu   sync.Mutex
	seen []string
}

func (f *fakeFlink) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	f.mu.Lock()
	f.seen = append(f.seen, r.Method+" "+r.URL.RequestURI()+" cookie="+r.Header.Get("Cookie")+" auth="+r.Header.Get("Authorization"))
	f.mu.Unlock()
	switch r.URL.Path {
	case "/config":
		io.WriteString(w, `{"flink-version":"1.20.5","features":{"web-submit":true,"web-cancel":true,"web-rescale":false,"web-history":false}}`)
	case "/":
		io.WriteString(w, "<html>Apache Flink Web Dashboard</html>")
	default:
		io.WriteString(w, `{"jobs":[]}`)
	}
}

func setup(t *testing.T) (*dashboard.Proxy, *httptest.Server, *fakeFlink, *sqlite.DB, *time.Time) {
	t.Helper()
	flink := &fakeFlink{}
	fs := httptest.NewServer(flink)
	t.Cleanup(fs.Close)
	db := sqlite.New(t.TempDir())
	if err := db.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	ctx := context.Background()
	for _, a := range []*flinkplane.Application{
		{Name: "app", Status: flinkplane.StatusRunning, VersionID: 1, Cluster: &flinkplane.ClusterHandle{ID: "c1", RESTURL: fs.URL}},
		{Name: "other", Status: flinkplane.StatusRunning, VersionID: 1, Cluster: &flinkplane.ClusterHandle{ID: "c2", RESTURL: fs.URL}},
		{Name: "stopped", Status: flinkplane.StatusReady, VersionID: 1},
	} {
		if err := db.Update(ctx, func(tx flinkplane.Tx) error { return tx.CreateApplication(a) }); err != nil {
			t.Fatal(err)
		}
	}
	// The proxy's clock starts at the real time: the test's cookie jar
	// drops a cookie whose Expires has passed by the real clock (a fixed
	// date made this test fail from an hour after it).
	now := time.Now().UTC().Truncate(time.Second)
	p := dashboard.New(db, nil)
	p.Now = func() time.Time { return now }
	srv := httptest.NewServer(p)
	t.Cleanup(srv.Close)
	return p, srv, flink, db, &now
}

func browser() *http.Client {
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar}
}

func get(t *testing.T, c *http.Client, method, u string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest(method, u, strings.NewReader("x"))
	req.Header.Set("Authorization", "Bearer secret")
	resp, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

func TestProxy(t *testing.T) {
	p, srv, flink, _, now := setup(t)
	b := browser()
	u := p.SignInURL(srv.URL, "app", time.Hour)
	if !strings.HasPrefix(u, srv.URL+"/dashboard/app/signin?token=") {
		t.Fatalf("URL %s", u)
	}
	// Sign in: the cookie is set, the dashboard is served.
	if code, body := get(t, b, "GET", u); code != 200 || !strings.Contains(body, "Flink Web Dashboard") {
		t.Fatalf("sign in: %d %s", code, body)
	}
	base := srv.URL + "/dashboard/app/"
	code, body := get(t, b, "GET", base+"config")
	var cfg struct{ Features map[string]bool }
	json.Unmarshal([]byte(body), &cfg)
	if code != 200 || cfg.Features["web-submit"] || cfg.Features["web-cancel"] {
		t.Fatalf("config: %d %s", code, body)
	}
	if code, _ := get(t, b, "GET", base+"jobs/overview?x=1"); code != 200 {
		t.Fatalf("jobs: %d", code)
	}
	// Read-only: nothing but GET and HEAD reaches Flink.
	for _, m := range []string{"POST", "PATCH", "DELETE", "PUT"} {
		if code, _ := get(t, b, m, base+"jars/upload"); code != http.StatusMethodNotAllowed {
			t.Errorf("%s: %d, want 405", m, code)
		}
	}
	flink.mu.Lock()
	for _, s := range flink.seen {
		if !strings.HasPrefix(s, "GET ") || !strings.HasSuffix(s, " cookie= auth=") {
			t.Errorf("Flink saw %q", s)
		}
	}
	flink.mu.Unlock()

	// Without a session, with another application's, with a forged token.
	if code, _ := get(t, browser(), "GET", base+"jobs"); code != 403 {
		t.Errorf("no session: %d", code)
	}
	if code, _ := get(t, b, "GET", srv.URL+"/dashboard/other/jobs"); code != 403 {
		t.Errorf("app's session on other: %d", code)
	}
	forged := strings.Replace(u, "token=", "token=x", 1)
	if code, _ := get(t, browser(), "GET", forged); code != 403 {
		t.Errorf("forged token: %d", code)
	}
	if code, _ := get(t, browser(), "GET", strings.Replace(u, "/dashboard/app/", "/dashboard/other/", 1)); code != 403 {
		t.Errorf("app's token for other: %d", code)
	}
	// An application that is not running.
	sb := browser()
	get(t, sb, "GET", p.SignInURL(srv.URL, "stopped", 0))
	if code, _ := get(t, sb, "GET", srv.URL+"/dashboard/stopped/jobs"); code != http.StatusServiceUnavailable {
		t.Errorf("stopped application: %d", code)
	}

	// The URL must be used within 3 minutes; the session lasts as asked.
	late := p.SignInURL(srv.URL, "app", time.Hour)
	*now = now.Add(4 * time.Minute)
	if code, body := get(t, browser(), "GET", late); code != 403 || !strings.Contains(body, "3 minutes") {
		t.Errorf("URL used after 4 minutes: %d %s", code, body)
	}
	if code, _ := get(t, b, "GET", base+"jobs"); code != 200 {
		t.Errorf("session after 4 minutes: %d", code)
	}
	*now = now.Add(time.Hour)
	if code, _ := get(t, b, "GET", base+"jobs"); code != 403 {
		t.Errorf("session after an hour and 4 minutes: %d", code)
	}
}

// FuzzSignIn: no token but one this proxy signed opens a session, and no
// input makes the proxy fail.
func FuzzSignIn(f *testing.F) {
	p := dashboard.New(nil, nil)
	good := p.SignInURL("http://h", "app", time.Hour)
	_, tok, _ := strings.Cut(good, "token=")
	f.Add(tok)
	f.Add("")
	f.Add("c2lnbmlufGFwcHw5OTk5OTk5OTk5fDM2MDA.")
	f.Add("x.y.z")
	f.Fuzz(func(t *testing.T, token string) {
		r := httptest.NewRequest("GET", "/dashboard/app/signin?token="+url.QueryEscape(token), nil)
		w := httptest.NewRecorder()
		p.ServeHTTP(w, r)
		unescaped, _ := url.QueryUnescape(tok)
		if w.Code == http.StatusSeeOther && token != unescaped {
			t.Fatalf("token %q opened a session", token)
		}
	})
}
