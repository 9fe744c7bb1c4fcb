package main

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	kav2 "github.com/aws/aws-sdk-go-v2/service/kinesisanalyticsv2"
	"github.com/aws/smithy-go"
)

func TestE2E_SigV4(t *testing.T) {
	m := NewMain()
	m.Config.Addr = "127.0.0.1:0"
	m.Config.DataDir = t.TempDir()
	m.Config.Region = "eu-west-1"
	m.Config.Auth = "sigv4"
	m.Config.Credentials = "AKIDGOOD:goodsecret"
	m.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	if err := m.Run(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer m.Close()
	withCreds := func(id, secret string) *kav2.Client {
		return kav2.New(kav2.Options{Region: "eu-west-1", BaseEndpoint: aws.String(m.URL()),
			Credentials: credentials.NewStaticCredentialsProvider(id, secret, "")})
	}
	if _, err := withCreds("AKIDGOOD", "goodsecret").ListApplications(sctx, &kav2.ListApplicationsInput{}); err != nil {
		t.Fatalf("signed request refused: %v", err)
	}
	for _, tt := range []struct{ id, secret, exception string }{
		{"AKIDGOOD", "wrong", "InvalidSignatureException"},
		{"AKIDBAD", "goodsecret", "UnrecognizedClientException"},
	} {
		_, err := withCreds(tt.id, tt.secret).ListApplications(sctx, &kav2.ListApplicationsInput{})
		var ae smithy.APIError
		if !errors.As(err, &ae) || ae.ErrorCode() != tt.exception {
			t.Fatalf("%s/%s: %v, want %s", tt.id, tt.secret, err, tt.exception)
		}
	}
	// A write with a body, signed by the SDK, passes.
	good := withCreds("AKIDGOOD", "goodsecret")
	if _, err := good.CreateApplication(sctx, &kav2.CreateApplicationInput{ApplicationName: aws.String("signed"),
		RuntimeEnvironment: "FLINK-1_20", ServiceExecutionRole: aws.String("arn:aws:iam::1:role/r")}); err != nil {
		t.Fatalf("signed CreateApplication refused: %v", err)
	}
	// A captured signed DescribeApplication replayed with another target is
	// refused (issue 9, finding 3).
	rec := &recorder{}
	recording := kav2.New(kav2.Options{Region: "eu-west-1", BaseEndpoint: aws.String(m.URL()),
		Credentials: credentials.NewStaticCredentialsProvider("AKIDGOOD", "goodsecret", ""), HTTPClient: rec})
	if _, err := recording.DescribeApplication(sctx, &kav2.DescribeApplicationInput{ApplicationName: aws.String("signed")}); err != nil {
		t.Fatal(err)
	}
	replay, _ := http.NewRequest("POST", m.URL()+"/", strings.NewReader(rec.body))
	replay.Header = rec.header.Clone()
	replay.Header.Set("X-Amz-Target", "KinesisAnalytics_20180523.StartApplication")
	resp, err := http.DefaultClient.Do(replay)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 403 || !strings.Contains(string(b), "InvalidSignatureException") {
		t.Fatalf("replay with another target: %d %s", resp.StatusCode, b)
	}
	// Unsigned: 403 with the AWS error body.
	req, _ := http.NewRequest("POST", m.URL()+"/", strings.NewReader("{}"))
	req.Header.Set("X-Amz-Target", "KinesisAnalytics_20180523.ListApplications")
	resp, err = http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 403 || !strings.Contains(string(body), `"__type":"MissingAuthenticationTokenException"`) {
		t.Fatalf("%d %s", resp.StatusCode, body)
	}
}

// recorder is an HTTP client that keeps the last request's headers and
// body.
type recorder struct {
	header http.Header
	body   string
}

func (r *recorder) Do(req *http.Request) (*http.Response, error) {
	r.header = req.Header.Clone()
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		r.body = string(b)
		req.Body = io.NopCloser(strings.NewReader(r.body))
	}
	return http.DefaultClient.Do(req)
}
