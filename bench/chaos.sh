#!/usr/bin/env bash
# Chaos scenarios against a local cluster (deploy/local/cluster.sh): kill -9 of a node, rolling restart with
# drain, Redis down for 10 s, a node frozen for 20 s. Prints one `chaos <scenario>: key=value ...` line per
# scenario and writes summary.md, chaos.json and one SVG chart per scenario. How to read them: docs/operations.md, "Reading the chaos results".
#
#   bench/chaos.sh [--quick] [--clients C] [--scenarios kill,rolling,redis,freeze] [--out DIR] [-- more Chaos options]
#
# Uses the cluster running in $ARCHMESH_CLUSTER_DIR (default /tmp/archmesh-cluster); when none runs there, starts
# one with `cluster.sh up` and stops it at the end. Exit code 1 when any scenario lost an acknowledged message or
# failed to run, 2 on bad usage.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
CLUSTER_DIR=${ARCHMESH_CLUSTER_DIR:-/tmp/archmesh-cluster}
CLUSTER_SH=${CLUSTER_SH:-$ROOT/deploy/local/cluster.sh}
QUICK=0
OUT=""
ARGS=()

usage() { sed -n '2,11p' "$0" | sed 's/^# \{0,1\}//'; }

while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=1; ARGS+=(--quick); shift ;;
    --clients|--scenarios)
      [[ $# -ge 2 ]] || { echo "chaos.sh: $1 needs a value" >&2; exit 2; }
      ARGS+=("$1" "$2"); shift 2 ;;
    --out)
      [[ $# -ge 2 ]] || { echo "chaos.sh: --out needs a value" >&2; exit 2; }
      OUT=$2; shift 2 ;;
    -h|--help) usage; exit 0 ;;
    --) shift; ARGS+=("$@"); break ;;
    *) echo "chaos.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
  esac
done

if [[ -z $OUT ]]; then
  if [[ $QUICK == 1 ]]; then OUT=$ROOT/bench/results/quick-chaos; else OUT=$ROOT/bench/results/$(date +%F)-chaos; fi
fi

alive() { [[ -f $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# A cluster runs when its cluster.env exists and Redis and HAProxy are up (a dead node is started again by the program).
running() {
  [[ -f $CLUSTER_DIR/cluster.env ]] || return 1
  alive "$CLUSTER_DIR/redis.pid" || return 1
  local lb
  for lb in "$CLUSTER_DIR"/haproxy-*.pid; do alive "$lb" && return 0; done
  return 1
}

STARTED=0
stop_cluster() {
  if [[ $STARTED == 1 ]]; then
    echo "chaos.sh: stopping the cluster it started" >&2
    ARCHMESH_CLUSTER_DIR=$CLUSTER_DIR "$CLUSTER_SH" down >&2 || true
  fi
}
trap stop_cluster EXIT

if ! running; then
  [[ -x $CLUSTER_SH || -f $CLUSTER_SH ]] || { echo "chaos.sh: no cluster in $CLUSTER_DIR and no $CLUSTER_SH to start one" >&2; exit 2; }
  echo "chaos.sh: no cluster running in $CLUSTER_DIR: starting one" >&2
  STARTED=1
  ARCHMESH_CLUSTER_DIR=$CLUSTER_DIR bash "$CLUSTER_SH" up >&2
fi

echo "chaos.sh: building bench/Chaos (Release)" >&2
dotnet build "$ROOT/bench/Chaos/Chaos.csproj" -c Release -v q -nologo >&2

set +e
dotnet "$ROOT/bench/Chaos/bin/Release/net10.0/Chaos.dll" \
  --cluster-dir "$CLUSTER_DIR" --cluster-script "$CLUSTER_SH" --out "$OUT" "${ARGS[@]}"
rc=$?
set -e
echo "chaos.sh: results in $OUT (summary.md, chaos.json, chaos-<scenario>.svg)" >&2
exit $rc
