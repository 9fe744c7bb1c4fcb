#!/usr/bin/env bash
# Installs Debian's Chromium for the console's browser tests (cmd/flinkplane
# TestConsole_Browser, TestRealFlink_ConsoleAndUpgrade), if it is missing. The
# tests drive it headless; no browser is downloaded by any other means.
# Needs root (or sudo) for apt-get; without it, says how and goes on (the
# browser tests then skip, or fail under CI=true).
set -euo pipefail
for name in chromium chromium-browser; do
	if command -v "$name" >/dev/null; then exit 0; fi
done
echo "installing chromium with apt-get for the console's browser tests (once; about 100 MiB of Debian packages)" >&2
sudo=""
if [ "$(id -u)" -ne 0 ]; then
	if command -v sudo >/dev/null && sudo -n true 2>/dev/null; then
		sudo="sudo -n"
	else
		echo "cannot install chromium without root: run 'apt-get install chromium' as root; the browser tests need it" >&2
		exit 0
	fi
fi
$sudo apt-get update -qq >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium >/dev/null
command -v chromium >/dev/null
