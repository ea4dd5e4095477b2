#!/usr/bin/env bash
# The whole test suite: every C# test project (Release) and, when present, the TypeScript client tests.
# Usage: bash test/run.sh            (from the repository root)
set -euo pipefail
cd "$(dirname "$0")/.."

CONFIG="${CONFIG:-Release}"
RESULTS="${TEST_RESULTS:-artifacts/test-results}"
mkdir -p "$RESULTS"

bash test/prereqs.sh   # chromium + prometheus (Debian) for the browser and ops tests

echo "== dotnet test ($CONFIG)"
dotnet test Gateway.sln -c "$CONFIG" --nologo \
  --logger "trx" --logger "console;verbosity=minimal" --results-directory "$RESULTS" \
  -- RunConfiguration.TestSessionTimeout=1800000

if [[ -f clients/typescript/package.json ]]; then
  echo "== typescript client"
  (cd clients/typescript && { [[ -d node_modules ]] || npm ci --no-audit --no-fund; } && npm test)
fi
echo "== all tests passed"
