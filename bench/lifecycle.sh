#!/usr/bin/env bash
# Benchmarks the application lifecycle through the AWS SDK against the real
# server on real Flink 1.20 and 2.2: StartApplication → RUNNING,
# CreateApplicationSnapshot → READY, StopApplication → READY, and the resident
# memory of the running application's cluster (1 JobManager + 1 TaskManager),
# for a DataStream application (counter) and a SQL one (sql-window).
# FLINKPLANE_BENCH_APPS=FLINK-1_20,FLINK-2_2-SQL selects some.
# Needs the runtimes (scripts/install-runtimes.sh) and the fixtures
# (testdata/apps/build.sh). Usage: bench/lifecycle.sh [cycles]
set -euo pipefail
cd "$(dirname "$0")/.."
CI=true go test -run '^$' -bench 'BenchmarkRealFlinkLifecycle' -benchtime "${1:-2}x" -timeout 30m ./cmd/flinkplane/
