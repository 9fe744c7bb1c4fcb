#!/usr/bin/env bash
# Builds the fixture applications' jars into testdata/apps/build/ with Maven.
#
#   testdata/apps/build.sh                 build every stale jar
#   testdata/apps/build.sh counter-2.2 ... build only the named jars
#   FORCE=1 testdata/apps/build.sh         rebuild even if up to date
#
# A jar is up to date when it is newer than every file and directory of its module (so a
# deleted source counts too) and than the parent pom.xml; stale modules are built with
# "clean package". One line of progress per jar; Maven's own output only on failure.
# big-shaded.jar (the compat benchmark's jar) is built by bench/make-big-jar.sh, not here.
set -euo pipefail

cd "$(dirname "$0")"
out=build
mkdir -p "$out"
# Test packages may run this concurrently (go test runs packages in parallel): one at a time.
exec 9>"$out/.lock"
flock 9

# jar name -> "module flink-line"
declare -A jars=(
  [counter-1.20]="counter 1.20"
  [counter-2.2]="counter 2.2"
  [ledger-1.20]="ledger 1.20"
  [ledger-2.2]="ledger 2.2"
  [pojo-list-1.20]="pojo-list 1.20"
  [pojo-list-2.2]="pojo-list 2.2"
  [legacy-source-1.20]="legacy-source 1.20"
  [kafka-legacy-1.20]="kafka-legacy 1.20"
  [sql-window-1.20]="sql-window 1.20"
  [sql-window-2.2]="sql-window 2.2"
  [table-bridge-1.20]="table-bridge 1.20"
  [table-bridge-2.2]="table-bridge 2.2"
  [rocksdb-state-1.20]="rocksdb-state 1.20"
  [rocksdb-state-2.2]="rocksdb-state 2.2"
  [cep-pattern-1.20]="cep-pattern 1.20"
  [cep-pattern-2.2]="cep-pattern 2.2"
)
order=(counter-1.20 counter-2.2 ledger-1.20 ledger-2.2 pojo-list-1.20 pojo-list-2.2 legacy-source-1.20 kafka-legacy-1.20
  sql-window-1.20 sql-window-2.2 table-bridge-1.20 table-bridge-2.2 rocksdb-state-1.20 rocksdb-state-2.2
  cep-pattern-1.20 cep-pattern-2.2)

wanted=("$@")
if [ ${#wanted[@]} -eq 0 ]; then
  wanted=("${order[@]}")
fi

stale() { # jar module [more directories]
  local jar=$out/$1.jar mod=$2
  shift 2
  [ -n "${FORCE:-}" ] && return 0
  [ -f "$jar" ] || return 0
  [ -n "$(find "$mod" "$@" pom.xml -newer "$jar" -not -path "*/target*" -print -quit)" ]
}

# Fixtures of the dry compile and the state verdicts (issue 8). counter-uid is built from
# counter's sources: it is stale when they change too (extra directories after the line).
jars+=(
  [kryo-generic-1.20]="kryo-generic 1.20"
  [kryo-generic-2.2]="kryo-generic 2.2"
  [pojo-map-1.20]="pojo-map 1.20"
  [pojo-map-2.2]="pojo-map 2.2"
  [counter-uid-2.2]="counter-uid 2.2 counter"
  [bad-main-2.2]="bad-main 2.2"
)
order+=(kryo-generic-1.20 kryo-generic-2.2 pojo-map-1.20 pojo-map-2.2 counter-uid-2.2 bad-main-2.2)

# The state migration's fixture (issue 13).
jars+=(
  [pojo-nested-1.20]="pojo-nested 1.20"
  [pojo-nested-2.2]="pojo-nested 2.2"
)
order+=(pojo-nested-1.20 pojo-nested-2.2)

if [ $# -eq 0 ]; then
  wanted=("${order[@]}")
fi

declare -A todo=()  # flink line -> comma-separated modules
for name in "${wanted[@]}"; do
  spec=${jars[$name]:-}
  if [ -z "$spec" ]; then
    echo "build.sh: unknown jar $name (known: ${order[*]})" >&2
    exit 2
  fi
  read -r mod line deps <<<"$spec"
  # shellcheck disable=SC2086 # deps: directory names without spaces
  if stale "$name" "$mod" $deps; then
    todo[$line]="${todo[$line]:+${todo[$line]},}$mod"
  else
    echo "fixtures: $name.jar up to date"
  fi
done

mvn_flags=(-B -q -Dstyle.color=never)
export MAVEN_OPTS="${MAVEN_OPTS:--Xmx512m -XX:TieredStopAtLevel=1}"
for line in 1.20 2.2; do
  mods=${todo[$line]:-}
  [ -n "$mods" ] || continue
  echo "fixtures: building ${mods//,/ } against Flink $line"
  log=$(mktemp)
  if ! mvn "${mvn_flags[@]}" -P "flink-$line" -pl "$mods" clean package >"$log" 2>&1; then
    cat "$log" >&2
    rm -f "$log"
    echo "build.sh: FAILED building ${mods//,/ } against Flink $line" >&2
    exit 1
  fi
  rm -f "$log"
  IFS=, read -r -a list <<<"$mods"
  for mod in "${list[@]}"; do
    src=$mod/target/$line/$mod-$line.jar
    if [ ! -f "$src" ]; then
      echo "build.sh: Maven succeeded but $src is missing" >&2
      exit 1
    fi
    cp "$src" "$out/.$mod-$line.jar.tmp"
    mv -f "$out/.$mod-$line.jar.tmp" "$out/$mod-$line.jar"
    echo "fixtures: built $out/$mod-$line.jar ($(( $(stat -c %s "$out/$mod-$line.jar") / 1024 )) KiB)"
  done
done
