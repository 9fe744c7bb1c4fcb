package sigv4_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/awsapi/sigv4"
)

// FuzzVerify checks that Verify never panics on any Authorization header,
// date, path, query and body, that every failure is an *sigv4.Error with
// code EUNAUTHORIZED, and that only the unmodified signed request passes.
func FuzzVerify(f *testing.F) {
	r := signed(f, body, creds(akid, secret), signTime, nil)
	auth, date := r.Header.Get("Authorization"), r.Header.Get("X-Amz-Date")
	f.Add(auth, date, "/", "", []byte(body))
	// Issue 9: a signature over host and x-amz-date only, replayed with a
	// target, must not pass.
	only := signedOnly(f, body, func(*http.Request) {})
	f.Add(only.Header.Get("Authorization"), only.Header.Get("X-Amz-Date"), "/", "", []byte(body))
	f.Add(auth, date, "/", "", []byte(body+" "))
	f.Add(strings.Replace(auth, "Signature=", "Signature=0", 1), date, "/", "", []byte(body))
	f.Add("AWS4-HMAC-SHA256 Credential=a/b/c/d/e, SignedHeaders=host, Signature=00", "20261126T120000Z", "/%zz", "a=%zz&b", []byte{})
	f.Add("AWS4-HMAC-SHA256 ,,,==", "x", "//", "=&=", []byte(nil))
	f.Add("", "", "", "X-Amz-Signature=1", []byte(nil))
	v := newVerifier()
	f.Fuzz(func(t *testing.T, auth, date, path, query string, b []byte) {
		req, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:8080/", strings.NewReader(string(b)))
		if err != nil {
			t.Skip()
		}
		for k, vals := range r.Header {
			req.Header[k] = vals
		}
		req.Header.Set("Authorization", auth)
		req.Header.Set("X-Amz-Date", date)
		req.URL.Path, req.URL.RawPath, req.URL.RawQuery = path, "", query
		err = v.Verify(req, b)
		if err == nil {
			if auth != r.Header.Get("Authorization") || date != r.Header.Get("X-Amz-Date") || string(b) != body {
				t.Fatalf("Verify accepted a modified request: auth=%q date=%q path=%q query=%q body=%q", auth, date, path, query, b)
			}
			return
		}
		var e *sigv4.Error
		if !errors.As(err, &e) || flinkplane.ErrorCode(err) != flinkplane.EUNAUTHORIZED || e.Exception == "" || e.Status != http.StatusForbidden {
			t.Fatalf("Verify() = %#v: not a documented error", err)
		}
	})
}
