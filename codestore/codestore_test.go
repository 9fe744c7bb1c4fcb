package codestore_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

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
