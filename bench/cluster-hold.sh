#!/usr/bin/env bash
# Connections at scale on a local cluster (issue 12, BRIEF §9 "a cluster of 3 nodes holds ≥ 50,000"):
# holds C WebSocket connections through HAProxy for H seconds (the server pings, the clients answer), then
# publishes ONE broadcast over the HTTP API and counts, per connection, that it arrived exactly once.
# Reports the connect rate through HAProxy, RSS per node and per connection, and HAProxy's RSS.
#
#   bench/cluster-hold.sh [--connections 51000] [--hold 300] [--connect-rate 250] [--out DIR]
#
# --connect-rate is the total rate of new connections (split over the load-generator processes): on 2 shared cores,
# connecting as fast as possible makes WebSocket handshakes queue past the load generator's timeout.
#
# Needs a cluster from deploy/local/cluster.sh with enough HAProxy processes: one process holds at most
# ~9,900 proxied connections under the 20,000-file limit, so start it with e.g. `LB_PROCS=7 deploy/local/cluster.sh up`
# (this script refuses to run when the cluster's HAProxy capacity is below the requested connections).
# Load generators: LoadTest worker processes of 9,000 connections each, from 127.0.0.2..9 source addresses.
# Loopback only; bounded by --hold plus the connect and settle phases.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
CONNS=51000; HOLD=300; OUT=""; RATE=250
while [[ $# -gt 0 ]]; do
  case "$1" in
    --connections) CONNS="$2"; shift 2 ;;
    --hold) HOLD="$2"; shift 2 ;;
    --connect-rate) RATE="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
DIR="${ARCHMESH_CLUSTER_DIR:-/tmp/archmesh-cluster}"
[[ -f "$DIR/cluster.env" ]] || { echo "no cluster in $DIR (run deploy/local/cluster.sh up first)" >&2; exit 2; }
# shellcheck disable=SC1091
source "$DIR/cluster.env"
LB_PROCS_RUNNING=$(ls "$DIR"/haproxy-*.pid 2>/dev/null | wc -l)
if (( LB_PROCS_RUNNING * 9900 < CONNS )); then
  echo "the cluster runs $LB_PROCS_RUNNING HAProxy process(es) (~9,900 connections each under the 20,000-file limit);" \
       "restart it with LB_PROCS=$(( (CONNS + 8999) / 9000 )) deploy/local/cluster.sh up" >&2
  exit 2
fi
OUT="${OUT:-$ROOT/bench/results/$(date -u +%F)-cluster-hold}"
mkdir -p "$OUT"
SECRET=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["secret"])' "$DEV_KEY_FILE")
APIKEY=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["apiKey"])' "$DEV_KEY_FILE")
PIDS=$(for i in $(seq 1 "$NODES"); do cat "$DIR/node-$i.pid"; done | paste -sd,)
LB_PIDS=$(cat "$DIR"/haproxy-*.pid | paste -sd' ')

dotnet build "$ROOT/bench/LoadTest" -c Release --nologo -v q >/dev/null
LT="$ROOT/bench/LoadTest/bin/Release/net10.0/LoadTest.dll"
rss() { local t=0; for p in "$@"; do t=$(( t + $(awk '/VmRSS/{print $2}' "/proc/$p/status" 2>/dev/null || echo 0) )); done; echo $t; }
LB_RSS0=$(rss $LB_PIDS)
echo "holding $CONNS connections through HAProxy 127.0.0.1:$LB_HTTP_PORT ($LB_PROCS_RUNNING processes) on $NODES nodes (pids $PIDS) for $HOLD s"
dotnet "$LT" run --scenario hold --target archmesh-ws --host 127.0.0.1 --port "$LB_HTTP_PORT" --http-port "$LB_HTTP_PORT" \
  --connections "$CONNS" --groups 0 --per-process 9000 --sources 8 --connect-concurrency 64 \
  --connect-rate "$(python3 -c "import math,sys; print(round($RATE / math.ceil($CONNS / 9000), 1))")" \
  --hold "$HOLD" --drain 15 --timeout $(( HOLD + 900 )) --server-pids "$PIDS" \
  --jwt-secret "$SECRET" --jwt-kid dev --api-key "$APIKEY" --label hold-"$CONNS" --out "$OUT" &
LTPID=$!
# HAProxy's RSS while the connections are held (sampled in the middle of the hold: after the connect phase at --connect-rate).
( sleep $(( CONNS / RATE + HOLD / 2 )); echo "$(rss $LB_PIDS)" > "$OUT/.lb-rss" ) &
SAMPLER=$!
wait $LTPID
kill "$SAMPLER" 2>/dev/null || true
LB_RSS1=$(cat "$OUT/.lb-rss" 2>/dev/null || echo 0); rm -f "$OUT/.lb-rss"
python3 - "$OUT/hold-$CONNS.json" "$LB_RSS0" "$LB_RSS1" "$LB_PROCS_RUNNING" <<'EOF' | tee "$OUT/summary.md"
import json, sys
r = json.load(open(sys.argv[1])); x = r.get("extra", r.get("Extra", {}))
s = r.get("server", r.get("Server", {}))
def g(d, k): return d.get(k, d.get(k[0].upper() + k[1:]))
conn = g(r, "connect") or {}
print("# Cluster hold: connections at scale through HAProxy\n")
print(f"- connections requested {g(conn,'requested')}, connected {g(conn,'connected')}, failed {g(conn,'failed')}, connect phase {g(conn,'seconds')} s → {x.get('connectPerSecond')} connections/s through HAProxy")
print(f"- held {x.get('holdSeconds')} s with heartbeats: open after the hold {x.get('openAfterHold')}, closed during the hold {x.get('closedDuringHold', {})}")
print(f"- broadcast: {x.get('broadcastAnswer')}; received exactly once by {x.get('broadcastReceivedOnce')} connections, missing {x.get('broadcastMissing')}, duplicated {x.get('broadcastDuplicated')}")
base = x.get("rssBasePerNodeKiB", []); held = x.get("rssPerNodeKiB", [])
print(f"- node RSS before → during the hold (KiB): " + ", ".join(f"node {i+1}: {b} → {h}" for i, (b, h) in enumerate(zip(base, held))))
print(f"- server RSS per connection (all nodes): {g(s,'rssPerConnectionKiB')} KiB")
print(f"- HAProxy ({sys.argv[4]} processes) RSS: {sys.argv[2]} → {sys.argv[3]} KiB")
EOF
