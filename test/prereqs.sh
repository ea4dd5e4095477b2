#!/usr/bin/env bash
# Installs the Debian packages the test suite needs (.ci/apt-packages: chromium for the browser tests,
# prometheus/promtool for the ops tests, haproxy for the cluster tests) when they are missing. Needs root
# and apt-get; otherwise it names what is missing and fails, so a test run never silently skips those tests.
set -euo pipefail
cd "$(dirname "$0")/.."
pkgs=$(grep -v '^#' .ci/apt-packages | xargs)
missing=""
for p in $pkgs; do dpkg -s "$p" >/dev/null 2>&1 || missing="$missing $p"; done
[[ -z "$missing" ]] && exit 0
if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
  echo "== apt-get install$missing"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
else
  echo "missing Debian packages:$missing (run as root, or: sudo apt-get install -y$missing)" >&2
  exit 1
fi
