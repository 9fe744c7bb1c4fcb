package sigv4_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/awsapi/sigv4"
)

const (
	akid   = "AKIDEXAMPLE"
	secret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	region = "us-east-1"
)

var signTime = time.Date(2026, 11, 26, 12, 0, 0, 0, time.UTC)

func newVerifier() *sigv4.Verifier {
	v := sigv4.New(map[string]string{akid: secret}, region)
	v.Now = func() time.Time { return signTime }
	return v
}

// signed returns a request for DescribeApplication signed by the AWS SDK for
// Go v2 signer, as the kinesisanalyticsv2 client signs it.
func signed(t testing.TB, body string, creds aws.Credentials, at time.Time, edit func(*http.Request)) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:8080/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	r.Header.Set("X-Amz-Target", "KinesisAnalytics_20180523.DescribeApplication")
	r.Header.Set("User-Agent", "aws-sdk-go-v2/1.48.0")
	if edit != nil {
		edit(r)
	}
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), creds, r, hex.EncodeToString(sum[:]), "kinesisanalytics", region, at); err != nil {
		t.Fatal(err)
	}
	return r
}

// signedOnly returns a request signed over host, content-length and
// x-amz-date only (the
// SDK signer signs every header present), then edited by after.
func signedOnly(t testing.TB, body string, after func(*http.Request)) *http.Request {
	t.Helper()
	r, err := http.NewRequest(http.MethodPost, "http://127.0.0.1:8080/", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), creds(akid, secret), r, hex.EncodeToString(sum[:]), "kinesisanalytics", region, signTime); err != nil {
		t.Fatal(err)
	}
	if h := r.Header.Get("Authorization"); strings.Contains(h, "x-amz-target") || strings.Contains(h, "content-type") {
		t.Fatalf("signed headers: %s", h)
	}
	after(r)
	return r
}

func creds(id, key string) aws.Credentials {
	return aws.Credentials{AccessKeyID: id, SecretAccessKey: key}
}

const body = `{"ApplicationName":"app"}`

func TestVerify(t *testing.T) {
	for _, tt := range []struct {
		name      string
		req       func(t *testing.T) (*http.Request, []byte)
		exception string // "" for a valid signature
		message   string // checked when not ""
	}{
		{"Valid", func(t *testing.T) (*http.Request, []byte) {
			return signed(t, body, creds(akid, secret), signTime, nil), []byte(body)
		}, "", ""},
		{"ValidWithSessionToken", func(t *testing.T) (*http.Request, []byte) {
			c := creds(akid, secret)
			c.SessionToken = "FwoGZXIvYXdzEBYaDH"
			r := signed(t, body, c, signTime, nil)
			if r.Header.Get("X-Amz-Security-Token") == "" {
				t.Fatal("no X-Amz-Security-Token")
			}
			return r, []byte(body)
		}, "", ""},
		{"ValidQueryAndPath", func(t *testing.T) (*http.Request, []byte) {
			return signed(t, body, creds(akid, secret), signTime, func(r *http.Request) {
				r.URL.Path = "/a b/c"
				r.URL.RawQuery = "z=1&a=2&a=1&sp=x y&t=~*"
			}), []byte(body)
		}, "", ""},
		{"ValidSkewedWithinLimit", func(t *testing.T) (*http.Request, []byte) {
			return signed(t, body, creds(akid, secret), signTime.Add(14*time.Minute), nil), []byte(body)
		}, "", ""},
		{"WrongSecret", func(t *testing.T) (*http.Request, []byte) {
			return signed(t, body, creds(akid, "not-the-secret"), signTime, nil), []byte(body)
		}, sigv4.InvalidSignature, "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method. Consult the service documentation for details."},
		{"UnknownKey", func(t *testing.T) (*http.Request, []byte) {
			return signed(t, body, creds("AKIDUNKNOWN", secret), signTime, nil), []byte(body)
		}, sigv4.UnrecognizedClient, "The security token included in the request is invalid."},
		{"ClockSkewPast", func(t *testing.T) (*http.Request, []byte) {
			return signed(t, body, creds(akid, secret), signTime.Add(-16*time.Minute), nil), []byte(body)
		}, sigv4.InvalidSignature, "Signature expired: 20261126T114400Z is now earlier than 20261126T114500Z (20261126T120000Z - 15 min.)"},
		{"ClockSkewFuture", func(t *testing.T) (*http.Request, []byte) {
			return signed(t, body, creds(akid, secret), signTime.Add(16*time.Minute), nil), []byte(body)
		}, sigv4.InvalidSignature, "Signature not yet current: 20261126T121600Z is still later than 20261126T121500Z (20261126T120000Z + 15 min.)"},
		{"TamperedBody", func(t *testing.T) (*http.Request, []byte) {
			return signed(t, body, creds(akid, secret), signTime, nil), []byte(`{"ApplicationName":"other"}`)
		}, sigv4.InvalidSignature, ""},
		{"TamperedSignedHeader", func(t *testing.T) (*http.Request, []byte) {
			r := signed(t, body, creds(akid, secret), signTime, nil)
			r.Header.Set("X-Amz-Target", "KinesisAnalytics_20180523.DeleteApplication")
			return r, []byte(body)
		}, sigv4.InvalidSignature, ""},
		{"TamperedDate", func(t *testing.T) (*http.Request, []byte) {
			r := signed(t, body, creds(akid, secret), signTime, nil)
			r.Header.Set("X-Amz-Date", "20261126T120001Z")
			return r, []byte(body)
		}, sigv4.InvalidSignature, ""},
		{"MissingAuthorization", func(t *testing.T) (*http.Request, []byte) {
			r := signed(t, body, creds(akid, secret), signTime, nil)
			r.Header.Del("Authorization")
			return r, []byte(body)
		}, sigv4.MissingAuthenticationToken, "Missing Authentication Token"},
		{"MissingDate", func(t *testing.T) (*http.Request, []byte) {
			r := signed(t, body, creds(akid, secret), signTime, nil)
			r.Header.Del("X-Amz-Date")
			return r, []byte(body)
		}, sigv4.IncompleteSignature, ""},
		{"MissingSignature", func(t *testing.T) (*http.Request, []byte) {
			r := signed(t, body, creds(akid, secret), signTime, nil)
			r.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential="+akid+"/20261126/us-east-1/kinesisanalytics/aws4_request, SignedHeaders=host;x-amz-date")
			return r, []byte(body)
		}, sigv4.IncompleteSignature, "Authorization header requires 'Signature' parameter. Authorization=AWS4-HMAC-SHA256 Credential=" + akid + "/20261126/us-east-1/kinesisanalytics/aws4_request, SignedHeaders=host;x-amz-date"},
		{"WrongAlgorithm", func(t *testing.T) (*http.Request, []byte) {
			r := signed(t, body, creds(akid, secret), signTime, nil)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "AWS4-HMAC-SHA256", "AWS4-HMAC-SHA1", 1))
			return r, []byte(body)
		}, sigv4.IncompleteSignature, "Unsupported AWS 'algorithm': 'AWS4-HMAC-SHA1'."},
		{"HostNotSigned", func(t *testing.T) (*http.Request, []byte) {
			r := signed(t, body, creds(akid, secret), signTime, nil)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), "SignedHeaders=", "SignedHeaders=content-type;x-amz-date,Ignored=", 1))
			return r, []byte(body)
		}, sigv4.IncompleteSignature, ""},
		// A signature over host and x-amz-date only does not bind the
		// operation: a captured DescribeApplication replayed with another
		// target must not pass (issue 9, finding 3).
		{"TargetNotSigned", func(t *testing.T) (*http.Request, []byte) {
			r := signedOnly(t, body, func(r *http.Request) {
				r.Header.Set("X-Amz-Target", "KinesisAnalytics_20180523.StartApplication")
				r.Header.Set("Content-Type", "application/x-amz-json-1.1")
			})
			return r, []byte(body)
		}, sigv4.IncompleteSignature, "'X-Amz-Target' must be a 'SignedHeader' in the AWS Authorization."},
		{"ContentTypeNotSigned", func(t *testing.T) (*http.Request, []byte) {
			r := signed(t, body, creds(akid, secret), signTime, func(r *http.Request) { r.Header.Del("Content-Type") })
			r.Header.Set("Content-Type", "application/x-amz-json-1.1")
			return r, []byte(body)
		}, sigv4.IncompleteSignature, "'Content-Type' must be a 'SignedHeader' in the AWS Authorization."},
		{"SecurityTokenNotSigned", func(t *testing.T) (*http.Request, []byte) {
			r := signed(t, body, creds(akid, secret), signTime, nil)
			r.Header.Set("X-Amz-Security-Token", "FwoGZXIvYXdzEBYaDH")
			return r, []byte(body)
		}, sigv4.IncompleteSignature, "'X-Amz-Security-Token' must be a 'SignedHeader' in the AWS Authorization."},
		{"DateNotSigned", func(t *testing.T) (*http.Request, []byte) {
			r := signed(t, body, creds(akid, secret), signTime, nil)
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), ";x-amz-date", "", 1))
			return r, []byte(body)
		}, sigv4.IncompleteSignature, "'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization."},
		{"ReplayWithOtherTarget", func(t *testing.T) (*http.Request, []byte) {
			r := signed(t, body, creds(akid, secret), signTime, nil)
			r.Header.Set("X-Amz-Target", "KinesisAnalytics_20180523.StartApplication")
			return r, []byte(body)
		}, sigv4.InvalidSignature, ""},
		{"WrongRegion", func(t *testing.T) (*http.Request, []byte) {
			r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:8080/", strings.NewReader(body))
			sum := sha256.Sum256([]byte(body))
			v4.NewSigner().SignHTTP(context.Background(), creds(akid, secret), r, hex.EncodeToString(sum[:]), "kinesisanalytics", "eu-west-1", signTime)
			return r, []byte(body)
		}, sigv4.InvalidSignature, "Credential should be scoped to a valid region. "},
		{"WrongService", func(t *testing.T) (*http.Request, []byte) {
			r, _ := http.NewRequest(http.MethodPost, "http://127.0.0.1:8080/", strings.NewReader(body))
			sum := sha256.Sum256([]byte(body))
			v4.NewSigner().SignHTTP(context.Background(), creds(akid, secret), r, hex.EncodeToString(sum[:]), "kinesis", region, signTime)
			return r, []byte(body)
		}, sigv4.InvalidSignature, "Credential should be scoped to correct service: 'kinesisanalytics'. "},
		{"GarbageSignature", func(t *testing.T) (*http.Request, []byte) {
			r := signed(t, body, creds(akid, secret), signTime, nil)
			h := r.Header.Get("Authorization")
			r.Header.Set("Authorization", h[:strings.Index(h, "Signature=")]+"Signature=zz")
			return r, []byte(body)
		}, sigv4.InvalidSignature, ""},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r, b := tt.req(t)
			err := newVerifier().Verify(r, b)
			if tt.exception == "" {
				if err != nil {
					t.Fatalf("Verify() = %v, want nil", err)
				}
				return
			}
			if got, want := sigv4.ExceptionName(err), tt.exception; got != want {
				t.Fatalf("ExceptionName = %q, want %q (err %v)", got, want, err)
			}
			if got, want := flinkplane.ErrorCode(err), flinkplane.EUNAUTHORIZED; got != want {
				t.Fatalf("ErrorCode = %q, want %q", got, want)
			}
			var e *sigv4.Error
			if !errorsAs(err, &e) || e.Status != http.StatusForbidden {
				t.Fatalf("status = %v, want 403", e)
			}
			if tt.message != "" && flinkplane.ErrorMessage(err) != tt.message {
				t.Fatalf("message =\n%q\nwant\n%q", flinkplane.ErrorMessage(err), tt.message)
			}
		})
	}
}

// TestVerify_OverHTTP checks a request signed by the SDK as it arrives at a
// real net/http server (Host moved to r.Host, Content-Length parsed).
func TestVerify_OverHTTP(t *testing.T) {
	v := newVerifier()
	var got error
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		got = v.Verify(r, b)
	}))
	defer srv.Close()
	r, err := http.NewRequest(http.MethodPost, srv.URL+"/", bytes.NewReader([]byte(body)))
	if err != nil {
		t.Fatal(err)
	}
	r.Header.Set("Content-Type", "application/x-amz-json-1.1")
	sum := sha256.Sum256([]byte(body))
	if err := v4.NewSigner().SignHTTP(context.Background(), creds(akid, secret), r, hex.EncodeToString(sum[:]), "kinesisanalytics", region, signTime); err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got != nil {
		t.Fatalf("Verify over HTTP = %v", got)
	}
}

// TestBegin checks that everything but the body is verified by Begin, so a
// refused request never needs its body.
func TestBegin(t *testing.T) {
	v := newVerifier()
	r := signed(t, body, creds(akid, secret), signTime, nil)
	p, err := v.Begin(r)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(body))
	if err := p.Finish(sum[:]); err != nil {
		t.Fatal(err)
	}
	other := sha256.Sum256([]byte(body + " "))
	if err := p.Finish(other[:]); sigv4.ExceptionName(err) != sigv4.InvalidSignature {
		t.Fatalf("Finish(other body) = %v", err)
	}
	for name, edit := range map[string]func(*http.Request){
		"unsigned": func(r *http.Request) { r.Header.Del("Authorization") },
		"unknown key": func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), akid, "AKIDOTHER", 1))
		},
		"old": func(r *http.Request) { r.Header.Set("X-Amz-Date", "20261125T120000Z") },
		"target unsigned": func(r *http.Request) {
			r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), ";x-amz-target", "", 1))
		},
	} {
		r := signed(t, body, creds(akid, secret), signTime, nil)
		edit(r)
		if _, err := v.Begin(r); err == nil {
			t.Errorf("%s: Begin accepted the request", name)
		}
	}
}

func BenchmarkVerify(b *testing.B) {
	v := newVerifier()
	r := signed(b, body, creds(akid, secret), signTime, nil)
	for b.Loop() {
		if err := v.Verify(r, []byte(body)); err != nil {
			b.Fatal(err)
		}
	}
}
