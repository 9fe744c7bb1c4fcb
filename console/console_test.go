package console_test

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/flinkplane/flinkplane/console"
)

func get(h http.Handler, method, path string, hdr ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, path, nil)
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestConsole_Serves(t *testing.T) {
	h := console.New(console.Config{Auth: "sigv4", Region: "eu-west-1"})
	for _, tt := range []struct {
		path, ctype string
	}{
		{"/console/", "text/html; charset=utf-8"},
		{"/console/index.html", "text/html; charset=utf-8"},
		{"/console/app.js", "text/javascript; charset=utf-8"},
		{"/console/style.css", "text/css; charset=utf-8"},
		{"/console/config.json", "application/json"},
	} {
		w := get(h, "GET", tt.path)
		if w.Code != 200 || w.Header().Get("Content-Type") != tt.ctype || w.Body.Len() == 0 {
			t.Errorf("GET %s: %d %q (%d bytes)", tt.path, w.Code, w.Header().Get("Content-Type"), w.Body.Len())
		}
		csp := w.Header().Get("Content-Security-Policy")
		if !strings.Contains(csp, "script-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") ||
			w.Header().Get("X-Frame-Options") != "DENY" || w.Header().Get("X-Content-Type-Options") != "nosniff" {
			t.Errorf("GET %s: security headers %v", tt.path, w.Header())
		}
		if w.Header().Get("Set-Cookie") != "" {
			t.Errorf("GET %s sets a cookie", tt.path)
		}
	}
	var cfg console.Config
	if err := json.Unmarshal(get(h, "GET", "/console/config.json").Body.Bytes(), &cfg); err != nil || cfg.Auth != "sigv4" || cfg.Region != "eu-west-1" {
		t.Fatalf("config.json: %+v %v", cfg, err)
	}
	if w := get(h, "GET", "/console"); w.Code != http.StatusMovedPermanently || w.Header().Get("Location") != "/console/" {
		t.Errorf("GET /console: %d %v", w.Code, w.Header())
	}
	if w := get(h, "GET", "/console/nope.js"); w.Code != 404 {
		t.Errorf("unknown file: %d", w.Code)
	}
	if w := get(h, "POST", "/console/index.html"); w.Code != http.StatusMethodNotAllowed {
		t.Errorf("POST: %d", w.Code)
	}
	w := get(h, "GET", "/console/app.js")
	if w2 := get(h, "GET", "/console/app.js", "If-None-Match", w.Header().Get("ETag")); w2.Code != http.StatusNotModified || w2.Body.Len() != 0 {
		t.Errorf("If-None-Match: %d", w2.Code)
	}
	if w := get(h, "HEAD", "/console/app.js"); w.Code != 200 || w.Body.Len() != 0 {
		t.Errorf("HEAD: %d %d bytes", w.Code, w.Body.Len())
	}
}

// TestConsole_Assets: every module a module imports is embedded, and no
// page has an inline script or handler the CSP would block (or that would
// need 'unsafe-inline'), and nothing is loaded from another origin.
func TestConsole_Assets(t *testing.T) {
	h := console.New(console.Config{Auth: "none", Region: "us-east-1"})
	files := h.Files()
	importRE := regexp.MustCompile(`(?m)^import .* from '\./([^']+)';|import\('\./([^']+)'\)`)
	for _, f := range files {
		body := get(h, "GET", "/console/"+f).Body.String()
		if strings.HasSuffix(f, ".js") {
			for _, m := range importRE.FindAllStringSubmatch(body, -1) {
				if dep := m[1] + m[2]; !slices.Contains(files, dep) {
					t.Errorf("%s imports %s, which is not embedded", f, dep)
				}
			}
		}
		if regexp.MustCompile(`https?://`).MatchString(body) && f != "config.json" {
			for _, u := range regexp.MustCompile(`https?://[^\s'"<>)]+`).FindAllString(body, -1) {
				if u != "http://www.w3.org/2000/svg" {
					t.Errorf("%s refers to %s: nothing may be fetched from elsewhere", f, u)
				}
			}
		}
		if strings.HasSuffix(f, ".html") {
			if regexp.MustCompile(`<script(?:\s[^>]*)?>\s*[^<\s]`).MatchString(body) || regexp.MustCompile(`\son[a-z]+=`).MatchString(body) {
				t.Errorf("%s has an inline script or event handler", f)
			}
		}
	}
	for _, want := range []string{"index.html", "app.js", "api.js", "sigv4.js", "sha256.js", "style.css", "config.json"} {
		if !slices.Contains(files, want) {
			t.Errorf("%s is not served", want)
		}
	}
}
