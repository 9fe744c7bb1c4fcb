#!/usr/bin/env bash
# Mixed load (60 % reads, 40 % durable writes) at 32 clients against real
# `flinkplane serve` processes, alternating binaries run by run so that both
# see the same machine load (the machine is shared: compare ratios).
# Usage: bench/mixed.sh [-n REQUESTS] [-r ROUNDS] [-q RATE] BINARY...   (default: a build of this tree)
#   -q RATE: send RATE requests/s in all (open loop, latency from each request's
#            scheduled time) instead of as fast as the server answers.
# Prints one line per run (req/s, p99 overall, read and write p99) and the load average.
set -euo pipefail
cd "$(dirname "$0")/.."
n=30000 rounds=3 rate=0
while getopts n:r:q: o; do case $o in n) n=$OPTARG ;; r) rounds=$OPTARG ;; q) rate=$OPTARG ;; *) exit 2 ;; esac; done
shift $((OPTIND - 1))
bins=("$@")
if [ ${#bins[@]} -eq 0 ]; then
	mkdir -p bin && go build -o bin/flinkplane ./cmd/flinkplane && bins=(bin/flinkplane)
fi
go test -c -o /tmp/flinkplane-bench.test ./cmd/flinkplane
for r in $(seq "$rounds"); do
	for b in "${bins[@]}"; do
		out=$(cd cmd/flinkplane && FLINKPLANE_MIXED_RATE=$rate FLINKPLANE_BENCH_BIN=$(realpath "$OLDPWD/$b" 2>/dev/null || realpath "$b") \
			/tmp/flinkplane-bench.test -test.run '^$' -test.bench '^BenchmarkMixedLoad$' -test.benchtime "${n}x" -test.v 2>&1)
		line=$(grep -E '^BenchmarkMixedLoad' <<<"$out" | tail -1)
		load=$(grep -o 'load average: .*' <<<"$out" | tail -1)
		printf 'round %s  %-40s %s  (%s)\n' "$r" "$b" "$(sed -E 's/^BenchmarkMixedLoad-[0-9]+ +[0-9]+ +//' <<<"$line")" "$load"
	done
done
