#!/usr/bin/env bash
# Runs every benchmark the issues name and prints their figures:
#   1. API: DescribeApplication / ListApplications throughput and p99 at 64
#      clients over loopback with 10,000 stored applications, server RSS;
#   2. cluster lifecycle on real Flink 1.20 and 2.2 (bench/runtimes.sh and,
#      when present, bench/lifecycle.sh through the API);
#   3. `flinkplane check jar` vs jdeps on a >= 100 MB shaded jar;
#   4. fault recovery figures on real Flink 1.20 and 2.2 (bench/faults.sh).
#   5. what keeping a snapshot's files costs (snapfiles: keep, verify, restore
#      of part files of 64 KiB to 128 MiB against a plain copy).
#   6. metrics: storage per application per day at each MetricsLevel, and
#      the freshness of numRestarts on real Flink (docs/metrics.md).
#   7. the attacker's probes (bench/flood.sh) and the mixed load of reads and
#      durable writes, this tree's binary (bench/mixed.sh; the 30-minute soak
#      is bench/soak.sh, not run here).
#   8. the state migration on real Flink: time and peak memory of its JVMs
#      against the number of keys (1k, 100k, 1M), and an upgrade's total time
#      with it against without (docs/migrate.md).
# Usage: bench/run.sh [api|runtimes|lifecycle|compat|faults|snapfiles|metrics|flood|mixed|migrate ...] (default: all)
set -euo pipefail
cd "$(dirname "$0")/.."
what=("$@")
[ ${#what[@]} -gt 0 ] || what=(api runtimes lifecycle compat faults snapfiles metrics flood mixed migrate)
for w in "${what[@]}"; do
	echo "=== $w"
	case $w in
	api) go test -run '^$' -bench 'BenchmarkDescribeApplication|BenchmarkListApplications' -benchtime 100000x -timeout 30m ./cmd/flinkplane ;;
	runtimes) bench/runtimes.sh ;;
	lifecycle) if [ -x bench/lifecycle.sh ]; then bench/lifecycle.sh; else echo "(no bench/lifecycle.sh)"; fi ;;
	compat) bench/compat-vs-jdeps.sh ;;
	faults) bench/faults.sh ;;
	snapfiles) go test -run '^$' -bench BenchmarkKeep -benchtime 10x ./snapfiles ;;
	metrics)
		go test -run '^$' -bench 'BenchmarkStorage_AppDay' -benchtime 1x -timeout 30m ./metrics
		go test -run 'TestRealFlink_Metrics' -v -count=1 -timeout 30m ./cmd/flinkplane | grep -E 'freshness|^(--- |ok|FAIL)' ;;
	flood) bench/flood.sh ;;
	mixed) bench/mixed.sh -r 1 ;;
	migrate)
		go test -run '^$' -bench RealFlinkMigrateState -benchtime 2x -timeout 60m ./cmd/flinkplane | grep -E 'ns/op|^(ok|FAIL)'
		go test -run '^$' -bench RealFlinkUpgradeMigration -benchtime 2x -timeout 60m ./cmd/flinkplane | grep -E 'ns/op|^(ok|FAIL)' ;;
	*) echo "unknown benchmark $w" >&2; exit 2 ;;
	esac
done
