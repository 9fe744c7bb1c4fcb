#!/usr/bin/env bash
# Benchmarks the local driver on real Flink 1.20 and 2.2: Start → job RUNNING,
# savepoint → completed, stop-with-savepoint → FINISHED, and the resident
# memory of one running cluster (1 JobManager + 2 TaskManagers, parallelism 2).
# Needs the runtimes (scripts/install-runtimes.sh). Usage: bench/runtimes.sh [count]
set -euo pipefail
cd "$(dirname "$0")/.."
go test -run '^$' -bench 'BenchmarkCluster' -benchtime "${1:-1}x" -timeout 30m ./runtime/local/
