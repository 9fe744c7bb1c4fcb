#!/usr/bin/env bash
# Fault figures on real Flink 1.20 and 2.2, through the real server and SDK:
# for a TaskManager SIGKILL, a JobManager SIGKILL, a restart loop after
# RUNNING, a job that reaches FAILED, a cancel through Flink's REST API and a
# failed update without system rollback, the time until the API told the
# truth (health endpoint or operations list), until the job ran again with
# all its tasks (Flink's REST API) and until the application was RUNNING
# again through the API (after its probation). Runs the fault tests
# (cmd/flinkplane/realflink_faults_test.go) and prints their FAULT lines.
# Needs the runtimes (scripts/install-runtimes.sh) and the fixtures
# (testdata/apps/build.sh). Usage: bench/faults.sh [runs] (default 1)
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-1}
for i in $(seq "$runs"); do
	echo "=== run $i ($(uptime | sed 's/.*load/load/'))"
	FLINKPLANE_TEST_REAL_FLINK=1 CI=true go test -count=1 -run 'TestRealFlink_Faults_' -v -timeout 30m ./cmd/flinkplane/ 2>&1 |
		grep -E '^\s+FAULT |^(--- |ok|FAIL)|_test\.go:[0-9]+: ' | grep -v 'fault figures' | sed 's/^\s*//' | awk '!seen[$0]++'
done
