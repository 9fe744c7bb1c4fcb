package main

import (
	"context"
	"os"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat"
	"github.com/flinkplane/flinkplane/runtime/local"
)

// serve runs applications on real Flink: child-process clusters of the
// runtimes installed under --runtimes-dir, and checks upgrades with the
// JAR and savepoint analyser against the same runtimes. With
// --s3-endpoint and --s3-state-bucket, checkpoints and savepoints live in
// that bucket.
func init() {
	newClusterDriver = func(c serveConfig) (flinkplane.ClusterDriver, error) {
		d := local.New(c.DataDir, c.RuntimesDir)
		if st := s3Storage(c); st != nil {
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := st.EnsureBucket(ctx); err != nil {
				return nil, err
			}
			d.Storage = st
		}
		return d, nil
	}
	newCompatChecker = func(c serveConfig) (flinkplane.CompatChecker, error) {
		var ch flinkplane.CompatChecker = &compat.Checker{RuntimesDir: c.RuntimesDir}
		if st := s3Storage(c); st != nil {
			ch = &s3SavepointChecker{CompatChecker: ch, storage: st}
		}
		return ch, nil
	}
}

// s3Storage returns the S3 state storage of the configuration, or nil.
func s3Storage(c serveConfig) *local.S3Storage {
	if c.S3Endpoint == "" || c.S3StateBucket == "" {
		return nil
	}
	return &local.S3Storage{
		Endpoint: c.S3Endpoint, Region: c.S3Region, AccessKey: c.S3AccessKey, SecretKey: c.S3SecretKey,
		Bucket: c.S3StateBucket,
		Client: s3.New(s3.Options{
			Region:       c.S3Region,
			BaseEndpoint: aws.String(c.S3Endpoint),
			UsePathStyle: true,
			Credentials:  credentials.NewStaticCredentialsProvider(c.S3AccessKey, c.S3SecretKey, ""),
		}),
	}
}

// s3SavepointChecker checks a savepoint in S3 by copying it to a temporary
// directory first (the savepoint reader reads local files).
type s3SavepointChecker struct {
	flinkplane.CompatChecker
	storage *local.S3Storage
}

func (c *s3SavepointChecker) CheckSavepoint(ctx context.Context, location string, target flinkplane.RuntimeID) ([]flinkplane.Finding, error) {
	if !local.IsS3(location) {
		return c.CompatChecker.CheckSavepoint(ctx, location, target)
	}
	dir, err := os.MkdirTemp("", "flinkplane-savepoint-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := c.storage.Download(ctx, location, dir); err != nil {
		return nil, err
	}
	return c.CompatChecker.CheckSavepoint(ctx, dir, target)
}
