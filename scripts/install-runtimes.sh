#!/usr/bin/env bash
# Builds flinkplane and installs the Flink runtimes the tests need (FLINK-1_20,
# FLINK-2_2) with Maven into $FLINKPLANE_RUNTIMES_DIR (default
# ~/.cache/flinkplane/runtimes). Idempotent: complete installs are skipped.
# Extra runtimes: scripts/install-runtimes.sh FLINK-1_19 FLINK-2_3
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin
echo "building bin/flinkplane (go build; the first build downloads Go modules and compiles them: a minute or two)" >&2
go build -o bin/flinkplane ./cmd/flinkplane
if [ "$#" -eq 0 ]; then set -- FLINK-1_20 FLINK-2_2; fi
echo "installing the Flink runtimes $* with Maven (the first time: a few minutes, about 650 MiB from Maven Central; later: a check)" >&2
bin/flinkplane runtime install "$@"
bin/flinkplane runtime list
