#!/usr/bin/env bash
# Times `flinkplane check jar` and the JDK's jdeps on the same >= 100 MB
# shaded jar, in one run, and prints both figures and the ratio.
#
#   bench/compat-vs-jdeps.sh [JAR]
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
timed "$work/compat.time" "$work/flinkplane" check jar "$jar" --target FLINK-2_2 --format json
timed "$work/jdeps.time" jdeps --multi-release 17 -verbose:class -cp "$rt/FLINK-2_2/lib/*" "$jar"

read -r read_bytes read_classes jar_classes < <(python3 -c 'import json,sys; s=json.load(open(sys.argv[1]))["summary"]; print(s["classBytes"], s["classes"], s.get("jarClasses", s["classes"]))' "$work/warm.json")
class_bytes=$(python3 -c 'import sys,zipfile; print(sum(i.file_size for i in zipfile.ZipFile(sys.argv[1]).infolist() if i.filename.endswith(".class")))' "$jar")
read -r cw cu cs < <(tail -n 1 "$work/compat.time")
read -r jw ju js < <(tail -n 1 "$work/jdeps.time")
python3 - "$jar" "$class_bytes" "$read_bytes" "$read_classes" "$jar_classes" "$cw" "$cu" "$cs" "$jw" "$ju" "$js" <<'PY'
import os, sys
jar, cb, rb, rc, jc = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
cw, cu, cs, jw, ju, js = map(float, sys.argv[6:])
mb = cb / 1e6
print(f"jar: {jar} ({os.path.getsize(jar)/1e6:.0f} MB on disk, {mb:.0f} MB of class data in {jc} classes), {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
print(f"flinkplane check jar: {cw:6.1f} s wall ({cu+cs:6.1f} s CPU)  {mb/cw:6.1f} MB/s of the jar's class data"
      f" (read and checked the {rc} loadable classes, {rb/1e6:.0f} MB: {rb/1e6/cw:.1f} MB/s)")
print(f"jdeps -verbose:class: {jw:6.1f} s wall ({ju+js:6.1f} s CPU)  {mb/jw:6.1f} MB/s")
print(f"ratio (jdeps / flinkplane): {jw/cw:.1f}x wall, {(ju+js)/(cu+cs):.1f}x CPU")
PY
