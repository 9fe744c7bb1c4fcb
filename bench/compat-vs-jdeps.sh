#!/usr/bin/env bash
# Times `flinkplane check jar` and the JDK's jdeps on the same >= 100 MB
# shaded jar, in one run, and prints both figures and the ratios.
#
#   RUNS=3 bench/compat-vs-jdeps.sh [JAR]
#
# Each tool runs RUNS times (default 3, at least 2), alternating
# (flinkplane, jdeps, flinkplane, jdeps, ...), so a load change on the
# machine hits both; the best and the median wall and CPU (user + sys)
# times of each are printed, with the ratios of the bests and the medians.
# The load average before and after is printed too.
#
# JAR defaults to testdata/apps/build/big-shaded.jar (built by
# bench/make-big-jar.sh when missing). Needs the runtime FLINK-2_2 installed
# under $FLINKPLANE_RUNTIMES_DIR (default ~/.cache/flinkplane/runtimes).
# The symbol index is built (and cached) by a warm-up run first, so the
# timed run measures the scan; jdeps resolves against the same runtime
# classpath (-verbose:class -cp <runtime>/lib/*).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
jar=${1:-$root/testdata/apps/build/big-shaded.jar}
rt=${FLINKPLANE_RUNTIMES_DIR:-$HOME/.cache/flinkplane/runtimes}
[ -f "$jar" ] || "$root/bench/make-big-jar.sh"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$root" && go build -o "$work/flinkplane" ./cmd/flinkplane)
export FLINKPLANE_RUNTIMES_DIR=$rt FLINKPLANE_CACHE_DIR=$work/cache

# Warm-up: builds the FLINK-2_2 symbol index into the cache.
"$work/flinkplane" check jar "$jar" --target FLINK-2_2 --format json >"$work/warm.json" 2>/dev/null || true

# timed OUT CMD...: runs CMD, stores "wall user sys" in OUT.
timed() {
  local out=$1; shift
  /usr/bin/time -f "%e %U %S" -o "$out" "$@" >/dev/null 2>&1 || true
}
runs=${RUNS:-3}
[ "$runs" -ge 2 ] || runs=2
load_before=$(cut -d' ' -f1-3 /proc/loadavg)
: >"$work/compat.times"
: >"$work/jdeps.times"
for i in $(seq "$runs"); do
  timed "$work/t" "$work/flinkplane" check jar "$jar" --target FLINK-2_2 --format json
  tail -n 1 "$work/t" >>"$work/compat.times"
  timed "$work/t" jdeps --multi-release 17 -verbose:class -cp "$rt/FLINK-2_2/lib/*" "$jar"
  tail -n 1 "$work/t" >>"$work/jdeps.times"
  echo "run $i/$runs: flinkplane $(tail -n 1 "$work/compat.times"), jdeps $(tail -n 1 "$work/jdeps.times") (wall user sys, s)" >&2
done
load_after=$(cut -d' ' -f1-3 /proc/loadavg)

read -r read_bytes read_classes jar_classes < <(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print(s["classBytes"], s["classes"], s.get("jarClasses", s["classes"]))' "$work/warm.json")
class_bytes=$(python3 -c 'import sys,zipfile; print(sum(i.file_size for i in zipfile.ZipFile(sys.argv[1]).infolist() if i.filename.endswith(".class")))' "$jar")
python3 - "$jar" "$class_bytes" "$read_bytes" "$read_classes" "$jar_classes" "$work/compat.times" "$work/jdeps.times" "$load_before" "$load_after" <<'PY'
import os, statistics, sys
jar, cb, rb, rc, jc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
def load(p):
    rows = [list(map(float, l.split())) for l in open(p) if l.strip()]
    return [r[0] for r in rows], [r[1] + r[2] for r in rows]
cw, cc = load(sys.argv[6])
jw, jc_ = load(sys.argv[7])
mb = cb / 1e6
print(f"jar: {jar} ({os.path.getsize(jar)/1e6:.0f} MB on disk, {mb:.0f} MB of class data in {jc} classes)")
print(f"machine: {os.cpu_count()} CPUs, load average {sys.argv[8]} before, {sys.argv[9]} after; {len(cw)} runs of each tool, alternating")
print(f"flinkplane reads and checks the {rc} loadable classes ({rb/1e6:.0f} MB)")
print(f"{'':22} {'best wall':>10} {'median wall':>12} {'best CPU':>9} {'median CPU':>11}")
for name, w, c in (("flinkplane check jar", cw, cc), ("jdeps -verbose:class", jw, jc_)):
    print(f"{name:22} {min(w):9.2f}s {statistics.median(w):11.2f}s {min(c):8.2f}s {statistics.median(c):10.2f}s")
print(f"{'ratio jdeps/flinkplane':22} {min(jw)/min(cw):9.1f}x {statistics.median(jw)/statistics.median(cw):11.1f}x"
      f" {min(jc_)/min(cc):8.1f}x {statistics.median(jc_)/statistics.median(cc):10.1f}x")
print(f"flinkplane throughput (best wall): {mb/min(cw):.0f} MB/s of the jar's class data")
PY
