package main

import (
	"github.com/flinkplane/flinkplane"
	"github.com/flinkplane/flinkplane/compat"
	"github.com/flinkplane/flinkplane/runtime/local"
)

// serve runs applications on real Flink: child-process clusters of the
// runtimes installed under --runtimes-dir, and checks upgrades with the
// JAR and savepoint analyser against the same runtimes.
func init() {
	newClusterDriver = func(c serveConfig) (flinkplane.ClusterDriver, error) {
		return local.New(c.DataDir, c.RuntimesDir), nil
	}
	newCompatChecker = func(c serveConfig) (flinkplane.CompatChecker, error) {
		return &compat.Checker{RuntimesDir: c.RuntimesDir}, nil
	}
}
