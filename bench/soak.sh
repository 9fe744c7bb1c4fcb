#!/usr/bin/env bash
# Soak: the mixed load of bench/mixed.sh (32 clients, 60 % reads, 40 %
# durable writes) for a fixed duration against a real `flinkplane serve`,
# printing the server's RSS every sample and, at the end, the RSS growth
# after the warm-up (the first 10 %) and the latency figures.
# Usage: bench/soak.sh [DURATION [SAMPLE [BINARY]]]   (default: 30m 60s, a build of this tree)
set -euo pipefail
cd "$(dirname "$0")/.."
export FLINKPLANE_SOAK_DURATION=${1:-30m} FLINKPLANE_SOAK_SAMPLE=${2:-60s}
if [ $# -gt 2 ]; then export FLINKPLANE_BENCH_BIN=$(realpath "$3"); fi
go test -run '^$' -bench '^BenchmarkSoak$' -benchtime 1x -timeout 0 -v ./cmd/flinkplane 2>&1 |
	grep -E '^(soak|BenchmarkSoak)|load average' || true
