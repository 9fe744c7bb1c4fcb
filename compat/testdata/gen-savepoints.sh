#!/usr/bin/env bash
# Takes real savepoints of the fixture jars on MiniClusters of the installed
# runtimes (compat's test vectors under compat/testdata/savepoints/ were made
# with it; the e2e tests run the same program).
#
#   [ONLY="name ..."] compat/testdata/gen-savepoints.sh [OUTDIR]
#
# Needs: javac/java 17, the runtimes FLINK-1_20 and FLINK-2_2 installed under
# $FLINKPLANE_RUNTIMES_DIR (default ~/.cache/flinkplane/runtimes) and the
# fixture jars (testdata/apps/build.sh).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
rt=${FLINKPLANE_RUNTIMES_DIR:-$HOME/.cache/flinkplane/runtimes}
out=${1:-$here/savepoints}
apps=$root/testdata/apps/build
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
opens=(--add-opens=java.base/java.lang=ALL-UNNAMED --add-opens=java.base/java.net=ALL-UNNAMED
  --add-opens=java.base/java.io=ALL-UNNAMED --add-opens=java.base/java.nio=ALL-UNNAMED
  --add-opens=java.base/sun.nio.ch=ALL-UNNAMED --add-opens=java.base/java.lang.reflect=ALL-UNNAMED
  --add-opens=java.base/java.text=ALL-UNNAMED --add-opens=java.base/java.time=ALL-UNNAMED
  --add-opens=java.base/java.util=ALL-UNNAMED --add-opens=java.base/java.util.concurrent=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent.atomic=ALL-UNNAMED
  --add-opens=java.base/java.util.concurrent.locks=ALL-UNNAMED)

# gen NAME RUNTIME JAR MAIN [conf k=v ...]
gen() {
  local name=$1 id=$2 jar=$3 main=$4; shift 4
  if [ -n "${ONLY:-}" ] && [[ " $ONLY " != *" $name "* ]]; then return 0; fi
  local cls=$work/cls-$id
  if [ ! -d "$cls" ]; then
    mkdir -p "$cls"
    javac -nowarn -d "$cls" -cp "$rt/$id/lib/*" "$here/savepointgen/SavepointGen.java"
  fi
  local sp=$work/sp-$name
  local line
  line=$(java -Xmx512m "${opens[@]}" -cp "$cls:$rt/$id/lib/*:$jar" SavepointGen "$jar" "$main" \
    "file://$sp" 3000 "$@" -- --output.path "$work/out-$name" --rate.per.second 50 2>"$work/$name.log" | grep '^SAVEPOINT ' || true)
  if [ -z "$line" ]; then
    echo "gen-savepoints: $name failed, log:" >&2
    tail -40 "$work/$name.log" >&2
    return 1
  fi
  local dir=${line#SAVEPOINT file:}
  rm -rf "${out:?}/$name"
  mkdir -p "$out/$name"
  cp -r "$dir"/. "$out/$name/"
  echo "gen-savepoints: $name -> $out/$name ($(du -sk "$out/$name" | cut -f1) KB)"
}

# The state verdicts (issue 8): Kryo state 2.x reads (kryo-generic) and a POJO Map field it does not.
gen kryo-generic-1.20 FLINK-1_20 "$apps/kryo-generic-1.20.jar" dev.flinkplane.fixtures.kryogeneric.KryoGenericJob
gen pojo-map-1.20 FLINK-1_20 "$apps/pojo-map-1.20.jar" dev.flinkplane.fixtures.pojomap.PojoMapJob
gen pojo-list-1.20 FLINK-1_20 "$apps/pojo-list-1.20.jar" dev.flinkplane.fixtures.pojolist.PojoListJob
gen counter-1.20 FLINK-1_20 "$apps/counter-1.20.jar" dev.flinkplane.fixtures.counter.CounterJob
gen counter-2.2 FLINK-2_2 "$apps/counter-2.2.jar" dev.flinkplane.fixtures.counter.CounterJob
gen pojo-list-1.20-files FLINK-1_20 "$apps/pojo-list-1.20.jar" dev.flinkplane.fixtures.pojolist.PojoListJob \
  execution.checkpointing.data-inline-threshold=0 "execution.checkpointing.dir=file://$work/ckpt"
# FileSink with DefaultRollingPolicy: the writer state refers to an in-progress part file.
gen ledger-1.20 FLINK-1_20 "$apps/ledger-1.20.jar" dev.flinkplane.fixtures.ledger.LedgerJob
gen ledger-2.2 FLINK-2_2 "$apps/ledger-2.2.jar" dev.flinkplane.fixtures.ledger.LedgerJob
gen ledger-1.20-files FLINK-1_20 "$apps/ledger-1.20.jar" dev.flinkplane.fixtures.ledger.LedgerJob \
  execution.checkpointing.data-inline-threshold=0 "execution.checkpointing.dir=file://$work/ckpt"
