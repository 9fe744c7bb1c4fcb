package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat"
	"github.com/flinkplane/flinkplane/migrate"
	"github.com/flinkplane/flinkplane/runtime/local"
	"github.com/flinkplane/flinkplane/snapfiles"
)

// serve runs applications on real Flink: child-process clusters of the
// runtimes installed under --runtimes-dir, checks upgrades with the JAR and
// savepoint analyser against the same runtimes, and looks after the files
// snapshots refer to outside themselves. With --s3-endpoint and
// --s3-state-bucket, checkpoints and savepoints live in that bucket.
func init() {
	newClusterDriver = func(c serveConfig) (flinkplane.ClusterDriver, error) {
		if c.Driver == "kubernetes" {
			d, err := newKubernetesDriver(c)
			if err != nil {
				return nil, err
			}
			return d, nil
		}
		d := local.New(c.DataDir, c.RuntimesDir)
		if !c.ClassDataSharing {
			d.ClassDataDir = ""
		}
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
		return &serveChecker{Checker: &compat.Checker{RuntimesDir: c.RuntimesDir}, storage: s3Storage(c)}, nil
	}
	newSnapshotFiles = func(c serveConfig, s3 *s3.Client, logger *slog.Logger) flinkplane.SnapshotFiles {
		return &snapfiles.Files{S3: s3, Logger: logger, NoCopies: !c.KeepSnapshotFiles}
	}
	newStateMigrator = func(c serveConfig) flinkplane.StateMigrator {
		return &migrate.Migrator{RuntimesDir: c.RuntimesDir}
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

// serveChecker is serve's compatibility checker: the JAR and savepoint
// checks and the dry compile (compat.Checker: the new job built on the
// target runtime, checked against the state it restores), with savepoints
// and checkpoints in S3 read from a temporary copy (the savepoint reader
// reads local files).
type serveChecker struct {
	*compat.Checker
	storage *local.S3Storage // nil: savepoints are local
}

var (
	_ flinkplane.CompatChecker = (*serveChecker)(nil)
	_ flinkplane.JobCompiler   = (*serveChecker)(nil)
)

// local returns a local path of a savepoint and a clean-up function.
func (c *serveChecker) local(ctx context.Context, location string) (string, func(), error) {
	if !local.IsS3(location) || c.storage == nil {
		return location, func() {}, nil
	}
	dir, err := os.MkdirTemp("", "flinkplane-savepoint-")
	if err != nil {
		return "", nil, err
	}
	done := func() { os.RemoveAll(dir) }
	if err := c.storage.Download(ctx, location, dir); err != nil {
		done()
		return "", nil, err
	}
	return dir, done, nil
}

func (c *serveChecker) CheckSavepoint(ctx context.Context, location string, target flinkplane.RuntimeID) ([]flinkplane.Finding, error) {
	p, done, err := c.local(ctx, location)
	if err != nil {
		return nil, err
	}
	defer done()
	return c.Checker.CheckSavepoint(ctx, p, target)
}

func (c *serveChecker) CheckRestore(ctx context.Context, location string, target flinkplane.RuntimeID, graph, previous *flinkplane.JobGraphInfo, allowNonRestoredState bool) ([]flinkplane.Finding, error) {
	p, done, err := c.local(ctx, location)
	if err != nil {
		return nil, err
	}
	defer done()
	return c.Checker.CheckRestore(ctx, p, target, graph, previous, allowNonRestoredState)
}

// routeDriverLogs sends the local driver's progress lines (its Logf,
// log.Printf by default) into the server's slog logger, so that the whole
// server logs in one format. A driver whose Logf is already set keeps it.
func routeDriverLogs(driver flinkplane.ClusterDriver, checker flinkplane.CompatChecker, logger *slog.Logger) {
	logf := func(format string, args ...any) {
		msg := strings.TrimPrefix(fmt.Sprintf(format, args...), "local: ")
		lvl := slog.LevelInfo
		if strings.Contains(msg, "cannot") || strings.Contains(msg, "only partly alive") || strings.Contains(msg, "was gone") {
			lvl = slog.LevelWarn
		}
		logger.Log(context.Background(), lvl, msg, "driver", "local")
	}
	if d, ok := driver.(*local.Driver); ok && d.Logf == nil {
		d.Logf = logf
	}
}
