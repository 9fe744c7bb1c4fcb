package local_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"io"
	"math/big"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/runtime/local"
	"github.com/flinkplane/flinkplane/runtime/local/localtest"
)

// checkRESTLocked proves, on a running cluster with a running job, that
// Flink's REST API is not a back door (issue 9, finding 4): a local
// process without the cluster's client certificate can neither submit a
// jar nor cancel the job, over plain HTTP, over TLS without a certificate
// or with a certificate of its own; the key files are private; the Web
// UI's cancel button is off; the job still runs.
func checkRESTLocked(t *testing.T, ctx context.Context, d *local.Driver, h flinkplane.ClusterHandle, jobID, jar string) {
	t.Helper()
	if !strings.HasPrefix(h.RESTURL, "https://") {
		t.Fatalf("REST endpoint %s is not TLS", h.RESTURL)
	}
	for _, f := range []string{"tls/keystore.p12", "tls/truststore.p12", "tls/rest.pem", "tls/password", "conf/config.yaml"} {
		fi, err := os.Stat(filepath.Join(h.Dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, fi.Mode().Perm())
		}
	}
	if fi, err := os.Stat(filepath.Join(h.Dir, "tls")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("tls directory: %v %v", fi.Mode().Perm(), err)
	}

	plainURL := "http" + strings.TrimPrefix(h.RESTURL, "https")
	own := selfSigned(t)
	clients := map[string]struct {
		base string
		c    *http.Client
	}{
		"plain HTTP":          {plainURL, &http.Client{Timeout: 10 * time.Second}},
		"TLS, no client cert": {h.RESTURL, &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}},
		"TLS, another cert": {h.RESTURL, &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{
			InsecureSkipVerify: true, Certificates: []tls.Certificate{own}}}}},
	}
	jarBytes, err := os.ReadFile(jar)
	if err != nil {
		t.Fatal(err)
	}
	for name, cl := range clients {
		var body bytes.Buffer
		mw := multipart.NewWriter(&body)
		part, _ := mw.CreateFormFile("jarfile", "evil.jar")
		part.Write(jarBytes)
		mw.Close()
		for _, r := range []struct {
			what, method, path, ctype string
			body                      []byte
		}{
			{"read the overview", "GET", "/overview", "", nil},
			{"upload a jar", "POST", "/jars/upload", mw.FormDataContentType(), body.Bytes()},
			{"cancel the job", "PATCH", "/jobs/" + jobID + "?mode=cancel", "", nil},
			{"stop the job", "POST", "/jobs/" + jobID + "/stop", "application/json", []byte(`{"drain":false}`)},
		} {
			req, _ := http.NewRequestWithContext(ctx, r.method, cl.base+r.path, bytes.NewReader(r.body))
			if r.ctype != "" {
				req.Header.Set("Content-Type", r.ctype)
			}
			resp, err := cl.c.Do(req)
			if err == nil {
				b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
				resp.Body.Close()
				if resp.StatusCode/100 == 2 {
					t.Errorf("%s: a process without the client certificate could %s: %d %s", name, r.what, resp.StatusCode, b)
				}
			}
		}
	}
	jh, err := d.JobHealth(ctx, h, jobID)
	if err != nil || jh.State != "RUNNING" {
		t.Fatalf("job after the attempts: %+v %v", jh, err)
	}
	c := localtest.RESTClient(t, d, h)
	cfg, err := c.Config(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Features["web-cancel"] || !cfg.Features["web-submit"] {
		t.Errorf("dashboard features %v: want web-cancel off (flinkplane cancels over REST) and web-submit on (it submits over REST)", cfg.Features)
	}
	if jars, err := c.Jars(ctx); err != nil {
		t.Fatal(err)
	} else {
		for _, j := range jars {
			if strings.Contains(j.Name, "evil") {
				t.Errorf("a jar was uploaded without the client certificate: %+v", j)
			}
		}
	}
}

// selfSigned is a key pair of an attacker's own.
func selfSigned(t *testing.T) tls.Certificate {
	key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "flinkplane cluster"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, KeyUsage: x509.KeyUsageDigitalSignature}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}
}
