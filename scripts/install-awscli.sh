#!/usr/bin/env bash
# Installs the AWS CLI (package awscli, from the Python package index with
# pip's default configuration) into a virtual environment under the cache
# directory, for the CLI script tests. Idempotent. Prints the aws path.
#
#   FLINKPLANE_AWSCLI_VENV  the virtual environment
#                           (default ${XDG_CACHE_HOME:-~/.cache}/flinkplane/awscli)
#   FLINKPLANE_AWSCLI_SPEC  the pip requirement (default: awscli)
set -euo pipefail

venv="${FLINKPLANE_AWSCLI_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/flinkplane/awscli}"
spec="${FLINKPLANE_AWSCLI_SPEC:-awscli}"

if [ -x "$venv/bin/aws" ] && "$venv/bin/aws" --version >/dev/null 2>&1; then
	echo "aws CLI already installed: $venv/bin/aws ($("$venv/bin/aws" --version 2>&1))" >&2
	echo "$venv/bin/aws"
	exit 0
fi

python=python3
command -v "$python" >/dev/null || { echo "install-awscli: python3 is required" >&2; exit 1; }
if ! "$python" -m venv --help >/dev/null 2>&1; then
	echo "install-awscli: the python3 venv module is missing (Debian: apt-get install python3-venv)" >&2
	exit 1
fi
echo "installing $spec into $venv ..." >&2
rm -rf "$venv"
mkdir -p "$(dirname "$venv")"
"$python" -m venv "$venv"
"$venv/bin/python" -m pip install --quiet --disable-pip-version-check "$spec" >&2
"$venv/bin/aws" --version >&2
echo "$venv/bin/aws"
