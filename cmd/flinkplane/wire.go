package main

import (
	"log/slog"

	"github.com/aws/aws-sdk-go-v2/service/s3"

	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat"
	"github.com/flinkplane/flinkplane/runtime/local"
	"github.com/flinkplane/flinkplane/snapfiles"
)

// serve runs applications on real Flink: child-process clusters of the
// runtimes installed under --runtimes-dir, checks upgrades with the JAR and
// savepoint analyser against the same runtimes, and looks after the files
// snapshots refer to outside themselves.
func init() {
	newClusterDriver = func(c serveConfig) (flinkplane.ClusterDriver, error) {
		return local.New(c.DataDir, c.RuntimesDir), nil
	}
	newCompatChecker = func(c serveConfig) (flinkplane.CompatChecker, error) {
		return &compat.Checker{RuntimesDir: c.RuntimesDir}, nil
	}
	newSnapshotFiles = func(c serveConfig, s3 *s3.Client, logger *slog.Logger) flinkplane.SnapshotFiles {
		return &snapfiles.Files{S3: s3, Logger: logger, NoCopies: !c.KeepSnapshotFiles}
	}
}
