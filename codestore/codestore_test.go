package codestore_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/codestore"
)

var ctx = context.Background()

func TestLocal(t *testing.T) {
	dir := t.TempDir()
	s := codestore.New(dir)
	os.MkdirAll(filepath.Join(dir, "my-bucket", "apps"), 0o755)
	os.WriteFile(filepath.Join(dir, "my-bucket", "apps", "app.jar"), []byte("PK"), 0o644)
	os.WriteFile(filepath.Join(dir, "secret"), []byte("x"), 0o644)

	ok := flinkplane.S3ContentLocation{BucketARN: "arn:aws:s3:::my-bucket", FileKey: "apps/app.jar"}
	if err := s.Check(ctx, ok); err != nil {
		t.Fatal(err)
	}
	p, err := s.Fetch(ctx, flinkplane.CodeConfig{S3: &ok})
	if err != nil || p != filepath.Join(dir, "my-bucket", "apps", "app.jar") {
		t.Fatalf("Fetch = %q, %v", p, err)
	}
	for _, tt := range []struct {
		loc  flinkplane.S3ContentLocation
		code string
	}{
		{flinkplane.S3ContentLocation{BucketARN: "arn:aws:s3:::my-bucket", FileKey: "nope.jar"}, flinkplane.ECODE},
		{flinkplane.S3ContentLocation{BucketARN: "arn:aws:s3:::my-bucket", FileKey: "apps"}, flinkplane.ECODE},
		{flinkplane.S3ContentLocation{BucketARN: "arn:aws:s3:::my-bucket", FileKey: "../secret"}, flinkplane.EINVALID},
		{flinkplane.S3ContentLocation{BucketARN: "arn:aws:s3:::my-bucket", FileKey: "apps/../../secret"}, flinkplane.EINVALID},
		{flinkplane.S3ContentLocation{BucketARN: "arn:aws:s3:::my-bucket", FileKey: "/etc/passwd"}, flinkplane.EINVALID},
		{flinkplane.S3ContentLocation{BucketARN: "arn:aws:s3:::..", FileKey: "secret"}, flinkplane.EINVALID},
		{flinkplane.S3ContentLocation{BucketARN: "arn:aws:s3:::a/../b", FileKey: "x"}, flinkplane.EINVALID},
		{flinkplane.S3ContentLocation{BucketARN: "arn:aws:iam::1:role/x", FileKey: "x"}, flinkplane.EINVALID},
		{flinkplane.S3ContentLocation{BucketARN: "arn:aws:s3:::my-bucket", FileKey: "apps/app.jar", ObjectVersion: "v1"}, flinkplane.ECODE},
	} {
		if got := flinkplane.ErrorCode(s.Check(ctx, tt.loc)); got != tt.code {
			t.Errorf("Check(%+v) = %s, want %s", tt.loc, got, tt.code)
		}
	}
}

func TestZip(t *testing.T) {
	s := codestore.New(t.TempDir())
	ref, sum, err := s.PutZip(ctx, []byte("PK\x03\x04hello"))
	if err != nil {
		t.Fatal(err)
	}
	if len(sum) != 128 {
		t.Fatalf("md5 = %q", sum)
	}
	p, err := s.Fetch(ctx, flinkplane.CodeConfig{ZipRef: ref})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "PK\x03\x04hello" {
		t.Fatalf("content %q", b)
	}
	if _, err := s.Fetch(ctx, flinkplane.CodeConfig{}); flinkplane.ErrorCode(err) != flinkplane.ECODE {
		t.Fatalf("no code: %v", err)
	}
}

// TestS3Endpoint reads code from an S3-compatible endpoint through the AWS
// SDK's S3 client (path-style requests to a minimal fake endpoint).
func TestS3Endpoint(t *testing.T) {
	var gets int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/my-bucket/apps/app.jar" {
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(http.StatusNotFound)
			if r.Method == http.MethodGet {
				io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>NoSuchKey</Code><Message>The specified key does not exist.</Message></Error>`)
			}
			return
		}
		w.Header().Set("ETag", `"abc123"`)
		w.Header().Set("Content-Length", "9")
		if r.Method == http.MethodGet {
			gets++
			io.WriteString(w, "PK jar!!!")
		}
	}))
	defer srv.Close()
	s := codestore.New(t.TempDir())
	s.S3 = s3.New(s3.Options{Region: "us-east-1", BaseEndpoint: aws.String(srv.URL), UsePathStyle: true,
		Credentials: credentials.NewStaticCredentialsProvider("a", "b", "")})

	ok := flinkplane.S3ContentLocation{BucketARN: "arn:aws:s3:::my-bucket", FileKey: "apps/app.jar"}
	if err := s.Check(ctx, ok); err != nil {
		t.Fatal(err)
	}
	missing := flinkplane.S3ContentLocation{BucketARN: "arn:aws:s3:::my-bucket", FileKey: "nope.jar"}
	if err := s.Check(ctx, missing); flinkplane.ErrorCode(err) != flinkplane.ECODE {
		t.Fatalf("missing object: %v", err)
	}
	if _, err := s.Fetch(ctx, flinkplane.CodeConfig{S3: &missing}); flinkplane.ErrorCode(err) != flinkplane.ECODE {
		t.Fatalf("fetch missing: %v", err)
	}
	p, err := s.Fetch(ctx, flinkplane.CodeConfig{S3: &ok})
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "PK jar!!!" {
		t.Fatalf("content %q", b)
	}
	if p2, _ := s.Fetch(ctx, flinkplane.CodeConfig{S3: &ok}); p2 != p || gets != 1 {
		t.Fatalf("cache not used: %s %s, %d downloads", p, p2, gets)
	}
}
