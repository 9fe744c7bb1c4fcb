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

// Symbolic links that lead out of the store are refused (issue 9, finding
// 7: StartApplication opened a file outside the data directory as the
// job's jar); links within the store work.
func TestLocal_Symlinks(t *testing.T) {
	root := t.TempDir()
	outside := t.TempDir()
	secret := filepath.Join(outside, "secret.jar")
	os.WriteFile(secret, []byte("PK secret"), 0o644)
	s := codestore.New(root)
	os.MkdirAll(filepath.Join(root, "bk", "apps"), 0o755)
	os.WriteFile(filepath.Join(root, "bk", "apps", "real.jar"), []byte("PK"), 0o644)
	os.Symlink(secret, filepath.Join(root, "bk", "apps", "out.jar"))
	os.Symlink(filepath.Join(root, "bk", "apps", "real.jar"), filepath.Join(root, "bk", "apps", "in.jar"))
	os.Symlink("../../../"+filepath.Base(outside)+"/secret.jar", filepath.Join(root, "bk", "apps", "rel.jar"))
	os.Symlink(outside, filepath.Join(root, "linked-bucket"))
	loc := func(bucket, key string) flinkplane.S3ContentLocation {
		return flinkplane.S3ContentLocation{BucketARN: "arn:aws:s3:::" + bucket, FileKey: key}
	}
	for _, tt := range []struct {
		loc  flinkplane.S3ContentLocation
		code string
	}{
		{loc("bk", "apps/real.jar"), ""},
		{loc("bk", "apps/in.jar"), ""},
		{loc("bk", "apps/out.jar"), flinkplane.EINVALID},
		{loc("bk", "apps/rel.jar"), flinkplane.EINVALID},
		{loc("linked-bucket", "secret.jar"), flinkplane.EINVALID},
	} {
		if got := flinkplane.ErrorCode(s.Check(ctx, tt.loc)); got != tt.code {
			t.Errorf("Check(%s) = %q, want %q", tt.loc.FileKey, got, tt.code)
		}
		p, err := s.Fetch(ctx, flinkplane.CodeConfig{S3: &tt.loc})
		if got := flinkplane.ErrorCode(err); got != tt.code {
			t.Errorf("Fetch(%s) = %q %v, want %q", tt.loc.FileKey, p, err, tt.code)
		}
		if err == nil && p != filepath.Join(root, "bk", "apps", "real.jar") {
			t.Errorf("Fetch(%s) = %q, want the resolved file", tt.loc.FileKey, p)
		}
	}
	// An upload replaced by a link out of the store.
	ref, _, err := s.PutZip(ctx, []byte("PK upload"))
	if err != nil {
		t.Fatal(err)
	}
	s.Release(ref)
	zp := filepath.Join(root, ".zip", ref+".zip")
	os.Remove(zp)
	os.Symlink(secret, zp)
	if _, err := s.Fetch(ctx, flinkplane.CodeConfig{ZipRef: ref}); flinkplane.ErrorCode(err) != flinkplane.EINVALID {
		t.Fatalf("Fetch of an upload linked out of the store: %v", err)
	}
}

// Uploads are pinned until released, and removed only when unused.
func TestZip_PinAndRemove(t *testing.T) {
	s := codestore.New(t.TempDir())
	ref, _, err := s.PutZip(ctx, []byte("PK pinned"))
	if err != nil {
		t.Fatal(err)
	}
	unused := func() (bool, error) { return false, nil }
	used := func() (bool, error) { return true, nil }
	s.RemoveZip(ctx, ref, unused)
	if _, err := s.Fetch(ctx, flinkplane.CodeConfig{ZipRef: ref}); err != nil {
		t.Fatalf("a pinned upload was removed: %v", err)
	}
	s.Release(ref)
	s.RemoveZip(ctx, ref, used)
	if _, err := s.Fetch(ctx, flinkplane.CodeConfig{ZipRef: ref}); err != nil {
		t.Fatalf("a used upload was removed: %v", err)
	}
	s.RemoveZip(ctx, ref, unused)
	if _, err := s.Fetch(ctx, flinkplane.CodeConfig{ZipRef: ref}); flinkplane.ErrorCode(err) != flinkplane.ECODE {
		t.Fatalf("an unused upload was kept: %v", err)
	}
	if err := s.RemoveZip(ctx, "../x", unused); flinkplane.ErrorCode(err) != flinkplane.EINVALID {
		t.Fatalf("RemoveZip(../x) = %v", err)
	}
}
