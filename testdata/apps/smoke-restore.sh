#!/usr/bin/env bash
# Manual smoke test of a fixture across stop-with-savepoint and restore, on real Flink session
# clusters started from flinkplane's installed runtimes (no flinkplane server involved).
#
#   testdata/apps/smoke-restore.sh RUNTIME1 JAR1 [RUNTIME2 JAR2]
#   e.g. smoke-restore.sh FLINK-1_20 counter-1.20                       (same runtime and jar)
#        smoke-restore.sh FLINK-1_20 counter-1.20 FLINK-2_2 counter-2.2 (upgrade path)
#
# Runs JAR1 on RUNTIME1 for $RUN_SECONDS (default 12), stops it with a savepoint, starts
# JAR2 on RUNTIME2 (default: the same) from that savepoint, runs it, stops it with a savepoint
# again, and checks the FileSink output with internal/fixtures (contiguous counts per key).
# EXTRA_ARGS adds program arguments (e.g. "--restart.attempts 0").
# Prints each Flink failure's root cause. Needs curl and jq; kills every JVM it started.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rt1=$1 jar1=$2 rt2=${3:-$1} jar2=${4:-$2}
runtimes=${FLINKPLANE_RUNTIMES_DIR:-$HOME/.cache/flinkplane/runtimes}
secs=${RUN_SECONDS:-12}
work=$(mktemp -d /tmp/fixtures-smoke.XXXXXX)
out=$work/output
main_of() { unzip -p "$here/build/$1.jar" META-INF/MANIFEST.MF | sed -n 's/^Main-Class: *//p' | tr -d '\r'; }

pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
}
trap cleanup EXIT

opens=(--add-exports=java.rmi/sun.rmi.registry=ALL-UNNAMED --add-exports=java.security.jgss/sun.security.krb5=ALL-UNNAMED
  --add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.net=ALL-UNNAMED --add-opens=java.base/java.io=ALL-UNNAMED
  --add-opens=java.base/java.nio=ALL-UNNAMED --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens=java.base/java.text=ALL-UNNAMED --add-opens=java.base/java.time=ALL-UNNAMED --add-opens=java.base/java.util=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent=ALL-UNNAMED --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED)

# start_cluster RUNTIME NAME PORT -> sets rest
start_cluster() {
  local rt=$1 name=$2 port=$3 dir=$work/$2
  [ -f "$runtimes/$rt/runtime.json" ] || { echo "runtime $rt not installed in $runtimes (flinkplane runtime install $rt)" >&2; exit 1; }
  mkdir -p "$dir/conf" "$dir/tmp" "$dir/log"
  cat >"$dir/conf/config.yaml" <<YAML
jobmanager.rpc.address: 127.0.0.1
jobmanager.rpc.port: $((port + 1))
jobmanager.bind-host: 127.0.0.1
taskmanager.bind-host: 127.0.0.1
taskmanager.host: 127.0.0.1
rest.address: 127.0.0.1
rest.bind-address: 127.0.0.1
rest.port: $port
blob.server.port: $((port + 2))
taskmanager.numberOfTaskSlots: 2
parallelism.default: 2
state.backend.type: hashmap
io.tmp.dirs: $dir/tmp
web.upload.dir: $dir/tmp
execution.checkpointing.interval: 2s
execution.checkpointing.dir: file://$work/checkpoints
execution.checkpointing.savepoint-dir: file://$work/savepoints
jobmanager.memory.heap.size: 256m
jobmanager.memory.off-heap.size: 64m
jobmanager.memory.jvm-metaspace.size: 160m
jobmanager.memory.jvm-overhead.min: 96m
jobmanager.memory.jvm-overhead.max: 96m
taskmanager.cpu.cores: 2
taskmanager.memory.framework.heap.size: 64m
taskmanager.memory.task.heap.size: 192m
taskmanager.memory.framework.off-heap.size: 64m
taskmanager.memory.task.off-heap.size: 0m
taskmanager.memory.network.min: 64m
taskmanager.memory.network.max: 64m
taskmanager.memory.managed.size: 64m
taskmanager.memory.jvm-metaspace.size: 192m
taskmanager.memory.jvm-overhead.min: 96m
taskmanager.memory.jvm-overhead.max: 96m
YAML
  cat >"$dir/conf/log4j.properties" <<'PROPS'
rootLogger.level = INFO
rootLogger.appenderRef.file.ref = F
appender.file.name = F
appender.file.type = File
appender.file.fileName = ${sys:log.file}
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = %d{HH:mm:ss,SSS} %-5p %c - %m%n
PROPS
  local cp="$runtimes/$rt/lib/*"
  java -Xmx320m -Xms320m "${opens[@]}" -Dlog.file="$dir/log/jm.log" -Dlog4j.configurationFile="file:$dir/conf/log4j.properties" \
    -cp "$cp" org.apache.flink.runtime.entrypoint.StandaloneSessionClusterEntrypoint --configDir "$dir/conf" >"$dir/log/jm.out" 2>&1 &
  pids+=($!)
  java -Xmx256m -Xms256m -XX:MaxDirectMemorySize=128m "${opens[@]}" -Dlog.file="$dir/log/tm.log" -Dlog4j.configurationFile="file:$dir/conf/log4j.properties" \
    -cp "$cp" org.apache.flink.runtime.taskexecutor.TaskManagerRunner --configDir "$dir/conf" >"$dir/log/tm.out" 2>&1 &
  pids+=($!)
  rest=http://127.0.0.1:$port
  for _ in $(seq 60); do
    if [ "$(curl -sf "$rest/overview" | jq -r '."slots-available" // 0' 2>/dev/null)" -ge 2 ] 2>/dev/null; then
      echo "smoke: $rt cluster up at $rest"; return
    fi
    sleep 1
  done
  echo "smoke: $rt cluster did not come up; logs in $dir/log" >&2; exit 1
}

stop_cluster() { cleanup; pids=(); }

# run_job JAR [SAVEPOINT] -> sets job
run_job() {
  local jar=$1 sp=${2:-} id body
  id=$(curl -sf -X POST -F "jarfile=@$here/build/$jar.jar" "$rest/jars/upload" | jq -r '.filename' | xargs basename)
  body=$(jq -n --arg c "$(main_of "$jar")" --arg out "$out" --arg sp "$sp" --arg extra "${EXTRA_ARGS:-}" \
    '{entryClass:$c, programArgsList:(["--output.path",$out,"--rate.per.second","50"] + ($extra | split(" ") | map(select(. != ""))))} + (if $sp=="" then {} else {savepointPath:$sp, allowNonRestoredState:false} end)')
  local resp; resp=$(curl -s -X POST -H 'Content-Type: application/json' -d "$body" "$rest/jars/$id/run")
  job=$(echo "$resp" | jq -r '.jobid // empty')
  if [ -z "$job" ]; then
    echo "smoke: submitting $jar FAILED:"; echo "$resp" | jq -r '.errors[]?' | grep -E 'Exception|Error' | head -8 || true
    return 1
  fi
  echo "smoke: $jar running as job $job${sp:+ (restored from $sp)}"
}

# wait_running: RUNNING with all tasks running, or report the root cause
check_job() {
  local st; st=$(curl -sf "$rest/jobs/$job" | jq -r '.state')
  local ex; ex=$(curl -sf "$rest/jobs/$job/exceptions?maxExceptions=1" | jq -r '.exceptionHistory.entries[0].stacktrace // empty' | grep -E "Exception|Error" | head -6 || true)
  if [ -n "$ex" ]; then echo "smoke: job $job state $st, first exception:"; echo "$ex"; return 1; fi
  echo "smoke: job $job state $st"
}

stop_with_savepoint() {
  local trig; trig=$(curl -sf -X POST -H 'Content-Type: application/json' -d "{\"targetDirectory\":\"$work/savepoints\",\"drain\":false}" "$rest/jobs/$job/stop" | jq -r '.["request-id"]')
  for _ in $(seq 60); do
    local r; r=$(curl -sf "$rest/jobs/$job/savepoints/$trig")
    if [ "$(echo "$r" | jq -r '.status.id')" = COMPLETED ]; then
      savepoint=$(echo "$r" | jq -r '.operation.location // empty')
      [ -n "$savepoint" ] || { echo "smoke: stop-with-savepoint failed: $(echo "$r" | jq -c '.operation')"; return 1; }
      echo "smoke: stopped with savepoint $savepoint"; return 0
    fi
    sleep 1
  done
  echo "smoke: stop-with-savepoint timed out" >&2; return 1
}

check_output() {
  (cd "$root" && FIXTURES_COUNTER_OUTPUT=$out go test -count=1 -run RealFixture -v ./internal/fixtures/ | grep -E 'records in|Error|FAIL|inconsistent|missing|twice' || true)
}

start_cluster "$rt1" c1 18081
run_job "$jar1"; sleep "$secs"; check_job; stop_with_savepoint
check_output
if [ "$rt2" != "$rt1" ]; then stop_cluster; start_cluster "$rt2" c2 18181; fi
if run_job "$jar2" "$savepoint"; then
  sleep "$secs"
  if check_job; then stop_with_savepoint; fi
fi
check_output
echo "smoke: work directory $work"
