// Package console serves flinkplane's web console: a small single-page
// application (plain HTML, CSS and JavaScript modules, embedded in the
// binary, nothing fetched at run time) under Prefix on the API's own
// address.
//
// The console is a client like any other: the browser calls the public
// APIs of the same origin (kinesisanalyticsv2 on POST /, the extension
// endpoints under /flinkplane/v1/, the CloudWatch-compatible API for the
// charts), never the store. With --auth sigv4 it signs every call with
// SigV4 in the browser, from an access key pair the user enters, kept in
// the tab's sessionStorage (assets/sigv4.js); this package serves only
// static files and the console's configuration (config.json: the
// authentication mode and the signing region), so it holds no session and
// sets no cookie. See docs/console.md.
package console

import (
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
)

// Prefix is the path the console is served under.
const Prefix = "/console/"

//go:embed assets
var assets embed.FS

// Config is what the console needs to know of the server.
type Config struct {
	// Auth is the server's authentication: "none" or "sigv4".
	Auth string `json:"auth"`
	// Region is the SigV4 signing region.
	Region string `json:"region"`
}

// Handler serves the console.
type Handler struct {
	files map[string]file
}

type file struct {
	body        []byte
	contentType string
	etag        string
}

// securityHeaders go on every answer: scripts, styles and connections
// only from this origin (no inline script, so an injected string cannot
// run), no framing (clickjacking), no MIME sniffing, no Referer to other
// sites.
var securityHeaders = map[string]string{
	"Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; " +
		"form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
	"X-Frame-Options":        "DENY",
	"X-Content-Type-Options": "nosniff",
	"Referrer-Policy":        "no-referrer",
	"Cache-Control":          "no-cache",
}

// New returns the console's handler for a server configured as cfg.
func New(cfg Config) *Handler {
	h := &Handler{files: map[string]file{}}
	sub, _ := fs.Sub(assets, "assets")
	fs.WalkDir(sub, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(sub, p)
		if err != nil {
			return err
		}
		h.add(p, b)
		return nil
	})
	b, _ := json.Marshal(cfg)
	h.add("config.json", b)
	return h
}

func (h *Handler) add(name string, b []byte) {
	ct := mime.TypeByExtension(path.Ext(name))
	if ct == "" {
		ct = "application/octet-stream"
	}
	sum := sha256.Sum256(b)
	h.files[name] = file{body: b, contentType: ct, etag: `"` + hex.EncodeToString(sum[:8]) + `"`}
}

// Files returns the names of the served files (for tests).
func (h *Handler) Files() []string {
	var out []string
	for k := range h.files {
		out = append(out, k)
	}
	return out
}

// ServeHTTP serves GET and HEAD of the console's files; /console without
// the slash redirects to Prefix.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	for k, v := range securityHeaders {
		w.Header().Set(k, v)
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if r.URL.Path == strings.TrimSuffix(Prefix, "/") {
		http.Redirect(w, r, Prefix, http.StatusMovedPermanently)
		return
	}
	name := strings.TrimPrefix(r.URL.Path, Prefix)
	if name == "" {
		name = "index.html"
	}
	f, ok := h.files[name]
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", f.contentType)
	w.Header().Set("ETag", f.etag)
	if match := r.Header.Get("If-None-Match"); match != "" && match == f.etag {
		w.WriteHeader(http.StatusNotModified)
		return
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(f.body)))
	w.WriteHeader(http.StatusOK)
	if r.Method == http.MethodGet {
		w.Write(f.body)
	}
}
