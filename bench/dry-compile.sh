#!/usr/bin/env bash
# Times the dry compile (compat.CompileJob: the job's main() on the target
# runtime's classes in a JVM of its own) of counter-2.2.jar on FLINK-2_2, and
# the JVM flags it uses, in one run:
#
#   RUNS=5 bench/dry-compile.sh
#
#   flinkplane     `flinkplane check jar counter-2.2.jar --target FLINK-2_2 --compile`
#                  (the jar scan and the dry compile side by side, as UpdateApplication would)
#   jvm-default    the helper JVM with the JDK's default flags (C2, G1, no archive)
#   jvm-c1-serial  -XX:TieredStopAtLevel=1 -XX:+UseSerialGC, no class data archive
#   jvm-flinkplane the flags flinkplane uses: C1, serial GC and the class data
#                  archive its first run made (-XX:SharedArchiveFile)
#
# Each variant runs RUNS times (default 5), the variants alternating, and the
# best and median wall and CPU (user + sys, the JVM included) are printed
# with the load average before and after. Needs the runtime FLINK-2_2 and the
# fixture jar counter-2.2 (testdata/apps/build.sh).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rt=${FLINKPLANE_RUNTIMES_DIR:-$HOME/.cache/flinkplane/runtimes}
jar=$root/testdata/apps/build/counter-2.2.jar
[ -f "$jar" ] || "$root/testdata/apps/build.sh" counter-2.2
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$root" && go build -o "$work/flinkplane" ./cmd/flinkplane)
export FLINKPLANE_RUNTIMES_DIR=$rt FLINKPLANE_CACHE_DIR=$work/cache
cat >"$work/props.json" <<EOF
[{"PropertyGroupId": "FlinkApplicationProperties", "PropertyMap": {"output.path": "$work/out"}}]
EOF
# Warm-up: compiles the helper, builds the symbol index and the class data archive.
"$work/flinkplane" check jar "$jar" --target FLINK-2_2 --compile --properties "$work/props.json" >/dev/null
helper=$(ls "$work"/cache/dryrun/FLINK-2_2-*/dryrun.jar)
archive=$(dirname "$helper")/classes.jsa
[ -f "$archive" ] || { echo "dry-compile.sh: no class data archive was made" >&2; exit 1; }
cp=$helper:$(ls "$rt"/FLINK-2_2/lib/*.jar | tr '\n' ':')
cat >"$work/in.properties" <<EOF
jar=$jar
args=2
arg.0=--output.path
arg.1=$work/out
EOF
opens=(--add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED)

# timed NAME CMD...: runs CMD, appends "wall cpu" to $work/times-NAME.
timed() {
  local name=$1; shift
  /usr/bin/time -f "%e %U %S" -o "$work/t" "$@" >/dev/null 2>&1 || true
  awk '{print $1, $2 + $3}' "$work/t" >>"$work/times-$name"
}
runs=${RUNS:-5}
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
for i in $(seq "$runs"); do
  timed flinkplane "$work/flinkplane" check jar "$jar" --target FLINK-2_2 --compile --properties "$work/props.json"
  timed jvm-default java "${opens[@]}" -cp "$cp" dev.flinkplane.dryrun.DryCompile "$work/in.properties" "$work/out.json"
  timed jvm-c1-serial java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:-UsePerfData "${opens[@]}" -cp "$cp" \
    dev.flinkplane.dryrun.DryCompile "$work/in.properties" "$work/out.json"
  timed jvm-flinkplane java -XX:TieredStopAtLevel=1 -XX:+UseSerialGC -XX:-UsePerfData -Xshare:auto -XX:SharedArchiveFile="$archive" \
    "${opens[@]}" -cp "$cp" dev.flinkplane.dryrun.DryCompile "$work/in.properties" "$work/out.json"
  echo "run $i/$runs done" >&2
done
grep -q '"ok":true' "$work/out.json" || { echo "dry-compile.sh: the helper failed: $(cat "$work/out.json")" >&2; exit 1; }
load_after=$(cut -d' ' -f1-3 /proc/loadavg)
python3 - "$work" "$runs" "$load_before" "$load_after" <<'PY'
import statistics, sys
work, runs, lb, la = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4]
print(f"dry compile of counter-2.2.jar on FLINK-2_2: {runs} runs of each, alternating; load average {lb} before, {la} after")
print(f"{'':16} {'best wall':>10} {'median wall':>12} {'best CPU':>9} {'median CPU':>11}")
for name in ("flinkplane", "jvm-default", "jvm-c1-serial", "jvm-flinkplane"):
    rows = [list(map(float, l.split())) for l in open(f"{work}/times-{name}") if l.strip()]
    w, c = [r[0] for r in rows], [r[1] for r in rows]
    print(f"{name:16} {min(w):9.2f}s {statistics.median(w):11.2f}s {min(c):8.2f}s {statistics.median(c):10.2f}s")
PY
