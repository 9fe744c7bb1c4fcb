package awsapi_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/awsapi"
	"github.com/flinkplane/flinkplane/awsapi/model"
	"github.com/flinkplane/flinkplane/awsapi/sigv4"
)

// untouchable is a body that fails the test when read.
type untouchable struct{ t *testing.T }

func (u untouchable) Read([]byte) (int, error) {
	u.t.Error("the body was read")
	return 0, io.EOF
}

func serve(s http.Handler, r *http.Request) (int, map[string]any, http.Header) {
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	var out map[string]any
	json.Unmarshal(w.Body.Bytes(), &out)
	return w.Code, out, w.Header()
}

// A body declared larger than any valid request, and an unsigned request,
// are answered without reading the body (issue 9, finding 1).
func TestAdmission_RefusedUnread(t *testing.T) {
	s := newServer(t)
	s.Verifier = sigv4.New(map[string]string{"AKID": "secret"}, "us-east-1")
	s.Admission = awsapi.NewAdmission(1 << 20)

	r := httptest.NewRequest("POST", "/", untouchable{t})
	r.ContentLength = model.MaxBodySize + 1
	r.Header.Set("X-Amz-Target", awsapi.TargetPrefix+"CreateApplication")
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	code, out, h := serve(s, r)
	if code != 413 || out["__type"] != "RequestEntityTooLargeException" || h.Get("Connection") != "close" {
		t.Fatalf("too large: %d %v %v", code, out, h)
	}

	r = httptest.NewRequest("POST", "/", untouchable{t})
	r.ContentLength = 60 << 20
	r.Header.Set("X-Amz-Target", awsapi.TargetPrefix+"CreateApplication")
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if code, out, _ := serve(s, r); code != 403 || out["__type"] != "MissingAuthenticationTokenException" {
		t.Fatalf("unsigned: %d %v", code, out)
	}
}

// signedRequest returns a request signed by the AWS SDK's signer.
func signedRequest(t *testing.T, op, body string, edit func(*http.Request)) *http.Request {
	t.Helper()
	r := httptest.NewRequest("POST", "http://127.0.0.1:8080/", strings.NewReader(body))
	r.Header.Set("X-Amz-Target", awsapi.TargetPrefix+op)
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if edit != nil {
		edit(r)
	}
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), aws.Credentials{AccessKeyID: "AKID", SecretAccessKey: "secret"}, r,
		hex.EncodeToString(sum[:]), "kinesisanalytics", "us-east-1", time.Now()); err != nil {
		t.Fatal(err)
	}
	return r
}

// The budget: a body that does not fit waits, then gets 503.
func TestAdmission_Budget(t *testing.T) {
	a := awsapi.NewAdmission(1 << 20)
	a.BodyWait = 50 * time.Millisecond
	body := strings.Repeat("x", 700<<10)
	r1 := httptest.NewRequest("POST", "/", strings.NewReader(body))
	b1, release1, err := a.Read(r1, nil)
	if err != nil || len(b1) != len(body) {
		t.Fatalf("first: %d %v", len(b1), err)
	}
	r2 := httptest.NewRequest("POST", "/", strings.NewReader(body))
	_, release2, err := a.Read(r2, nil)
	release2()
	if flinkplane.ErrorCode(err) != flinkplane.EUNAVAILABLE {
		t.Fatalf("second while the first is held: %v", err)
	}
	release1()
	r3 := httptest.NewRequest("POST", "/", strings.NewReader(body))
	b3, release3, err := a.Read(r3, nil)
	release3()
	if err != nil || len(b3) != len(body) {
		t.Fatalf("third after release: %d %v", len(b3), err)
	}
	// Chunked (unknown length) bodies are read and cut the same way.
	a.MaxBody = 1000
	r4 := httptest.NewRequest("POST", "/", io.MultiReader(strings.NewReader(strings.Repeat("y", 1001))))
	r4.ContentLength = -1
	_, release4, err := a.Read(r4, nil)
	release4()
	if flinkplane.ErrorCode(err) != model.ETOOLARGE {
		t.Fatalf("chunked over the limit: %v", err)
	}
	r5 := httptest.NewRequest("POST", "/", bytes.NewReader(bytes.Repeat([]byte("z"), 1000)))
	r5.ContentLength = -1
	b5, release5, err := a.Read(r5, nil)
	release5()
	if err != nil || len(b5) != 1000 {
		t.Fatalf("chunked at the limit: %d %v", len(b5), err)
	}
}

// Signatures bind the operation (issue 9, finding 3): a signature over
// host and x-amz-date only is refused; the SDK's full signature passes; a
// replay with another target is refused.
func TestAdmission_SignatureBindsTarget(t *testing.T) {
	s := newServer(t)
	s.Verifier = sigv4.New(map[string]string{"AKID": "secret"}, "us-east-1")
	if code, out, _ := serve(s, signedRequest(t, "ListApplications", "{}", nil)); code != 200 {
		t.Fatalf("signed: %d %v", code, out)
	}
	replay := signedRequest(t, "ListApplications", "{}", nil)
	replay.Header.Set("X-Amz-Target", awsapi.TargetPrefix+"DescribeApplication")
	if code, out, _ := serve(s, replay); code != 403 || out["__type"] != "InvalidSignatureException" {
		t.Fatalf("replay with another target: %d %v", code, out)
	}
	bare := signedRequest(t, "ListApplications", "{}", func(r *http.Request) {
		r.Header.Del("X-Amz-Target")
		r.Header.Del("Content-Type")
	})
	bare.Header.Set("X-Amz-Target", awsapi.TargetPrefix+"StartApplication")
	bare.Header.Set("Content-Type", "application/x-amz-json-1.1")
	if code, out, _ := serve(s, bare); code != 403 || out["__type"] != "IncompleteSignatureException" {
		t.Fatalf("target not signed: %d %v", code, out)
	}
}

// Content-Type must be AWS JSON: anything else is an unknown operation
// (HTTP 404), as AWS routes by content type.
func TestAdmission_ContentType(t *testing.T) {
	s := newServer(t)
	for _, tt := range []struct {
		ct   string
		code int
	}{
		{"application/x-amz-json-1.1", 200},
		{"application/x-amz-json-1.1; charset=utf-8", 200},
		{"Application/X-Amz-Json-1.0", 200},
		{"", 404},
		{"application/json", 404},
		{"text/plain", 404},
		{"application/x-www-form-urlencoded", 404},
	} {
		r := httptest.NewRequest("POST", "/", strings.NewReader("{}"))
		r.Header.Set("X-Amz-Target", awsapi.TargetPrefix+"ListApplications")
		if tt.ct != "" {
			r.Header.Set("Content-Type", tt.ct)
		}
		code, out, _ := serve(s, r)
		if code != tt.code || (code == 404 && out["__type"] != "UnknownOperationException") {
			t.Errorf("Content-Type %q: %d %v, want %d", tt.ct, code, out, tt.code)
		}
	}
}
