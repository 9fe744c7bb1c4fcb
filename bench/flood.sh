#!/usr/bin/env bash
# The attacker's probes of issue 9 against a real `flinkplane serve --auth sigv4`:
#   BenchmarkFlood     32 requests of 69 MiB at once: unsigned (403), declared
#                      over the 70 MiB limit (413), forged signature of a known
#                      key (403); server peak RSS and RSS one second later;
#   BenchmarkSlowBody  200 connections sending headers and one byte of body:
#                      when the server closes them (read timeout, per-client cap).
# Usage: bench/flood.sh [BINARY]   (default: a build of this tree)
#   FLINKPLANE_FLOOD_SIZE, FLINKPLANE_FLOOD_CLIENTS, FLINKPLANE_SLOW_WAIT (seconds)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ $# -gt 0 ]; then export FLINKPLANE_BENCH_BIN=$(realpath "$1"); fi
go test -run '^$' -bench 'BenchmarkFlood|BenchmarkSlowBody' -benchtime 1x -timeout 30m -v ./cmd/flinkplane 2>&1 |
	grep -E '^(Benchmark|    serve_limits)|slow-body|bytes:' || true
