#!/usr/bin/env bash
# Builds testdata/apps/build/big-shaded.jar, the >= 100 MB shaded jar for the compat benchmark
# (flink-table-planner, flink-table-runtime, flink-connector-kafka, Hadoop client; minimizeJar
# off). Idempotent: skipped when the jar is newer than bench/big-shaded/. Not part of
# testdata/apps/build.sh or CI's test step.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
proj=$root/bench/big-shaded
out=$root/testdata/apps/build/big-shaded.jar
mkdir -p "$(dirname "$out")"
if [ -z "${FORCE:-}" ] && [ -f "$out" ] && [ -z "$(find "$proj" -type f -newer "$out" -not -path '*/target/*' -print -quit)" ]; then
  echo "bench: big-shaded.jar up to date"
  exit 0
fi
echo "bench: building big-shaded.jar (downloads ~150 MB of artifacts the first time)"
log=$(mktemp)
export MAVEN_OPTS="${MAVEN_OPTS:--Xmx1g}"
if ! mvn -B -q -Dstyle.color=never -f "$proj/pom.xml" package >"$log" 2>&1; then
  cat "$log" >&2
  rm -f "$log"
  echo "make-big-jar.sh: FAILED" >&2
  exit 1
fi
rm -f "$log"
cp "$proj/target/big-shaded.jar" "$out"
classes=$(unzip -l "$out" '*.class' | tail -n 1 | awk '{print $1}')
echo "bench: built $out ($(( $(stat -c %s "$out") / 1048576 )) MiB on disk, $(( classes / 1048576 )) MiB of class data)"
