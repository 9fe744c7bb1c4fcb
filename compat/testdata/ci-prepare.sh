#!/usr/bin/env bash
# Prepares what compat's tests need in CI (they FAIL, not skip, under CI=true
# when something is missing):
#   - the fixture jars (testdata/apps/build.sh, Maven + JDK 17);
#   - the runtimes FLINK-1_20 and FLINK-2_2 under $FLINKPLANE_RUNTIMES_DIR
#     (default ~/.cache/flinkplane/runtimes), installed with
#     `flinkplane runtime install` when missing;
#   - javac (JDK 17): TestCheckSavepoint_Real takes real savepoints with
#     compat/testdata/gen-savepoints.sh.
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
rt=${FLINKPLANE_RUNTIMES_DIR:-$HOME/.cache/flinkplane/runtimes}
command -v javac >/dev/null || { echo "ci-prepare: javac (JDK 17) is required" >&2; exit 1; }
"$root/testdata/apps/build.sh"
missing=()
for id in FLINK-1_20 FLINK-2_2; do
  [ -f "$rt/$id/runtime.json" ] || missing+=("$id")
done
if [ ${#missing[@]} -gt 0 ]; then
  (cd "$root" && go run ./cmd/flinkplane runtime install "${missing[@]}")
fi
echo "ci-prepare: fixtures and runtimes ready (runtimes in $rt)"
