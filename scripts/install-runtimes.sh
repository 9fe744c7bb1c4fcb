#!/usr/bin/env bash
# Builds flinkplane and installs the Flink runtimes the tests need (FLINK-1_20,
# FLINK-2_2) with Maven into $FLINKPLANE_RUNTIMES_DIR (default
# ~/.cache/flinkplane/runtimes). Idempotent: complete installs are skipped.
# Extra runtimes: scripts/install-runtimes.sh FLINK-1_19 FLINK-2_3
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bin
go build -o bin/flinkplane ./cmd/flinkplane
if [ "$#" -eq 0 ]; then set -- FLINK-1_20 FLINK-2_2; fi
bin/flinkplane runtime install "$@"
bin/flinkplane runtime list
