#!/usr/bin/env bash
# Installs PostgreSQL's server binaries (initdb, pg_ctl) from Debian's
# packages if they are missing: the tests start their own server from them
# in a temporary directory (internal/pgtest). Idempotent; a no-op when a
# server is already installed (/usr/lib/postgresql/<v>/bin, or
# FLINKPLANE_PG_BIN). No system cluster is started.
set -euo pipefail
if [[ -n "${FLINKPLANE_PG_BIN:-}" && -x "${FLINKPLANE_PG_BIN}/pg_ctl" ]]; then
	exit 0
fi
for d in /usr/lib/postgresql/*/bin; do
	if [[ -x "$d/initdb" && -x "$d/pg_ctl" ]]; then
		exit 0
	fi
done
sudo=""
if [[ $(id -u) -ne 0 ]]; then
	command -v sudo >/dev/null || { echo "install-postgres: PostgreSQL is missing and this user cannot install it (apt-get install postgresql)" >&2; exit 1; }
	sudo="sudo"
fi
echo "install-postgres: installing Debian's postgresql package" >&2
# Keep the package from starting a system cluster: the tests run their own.
policy=/usr/sbin/policy-rc.d
created=""
if [[ ! -e $policy ]]; then
	printf '#!/bin/sh\nexit 101\n' | $sudo tee $policy >/dev/null
	$sudo chmod +x $policy
	created=1
fi
trap '[[ -n "$created" ]] && $sudo rm -f '"$policy" EXIT
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
$sudo apt-get install -y -qq --no-install-recommends postgresql >/dev/null
for d in /usr/lib/postgresql/*/bin; do
	[[ -x "$d/pg_ctl" ]] && exit 0
done
echo "install-postgres: postgresql installed but no pg_ctl under /usr/lib/postgresql/*/bin" >&2
exit 1
