#!/usr/bin/env bash
# What one idle, authenticated connection with one subscription holds on the gateway's managed heap, by type
# (issue 13 item 4). Starts the Release gateway (taskset -c 0), takes a dotnet-gcdump before any client, connects
# N clients with LoadTest (`idle`, one group topic each, taskset -c 1), takes a second dump while they are held,
# and writes the difference per connection: type × objects × bytes per connection, plus RSS per connection.
# gcdump counts objects (it forces a full GC), so the table is meaningful on a busy machine; RSS is indicative.
#
#   bench/gcdump.sh                               2,000 connections over the raw WebSocket transport
#   bench/gcdump.sh --transport aspnet|tcp --connections 10000 --out DIR --label after --no-build
#
# Needs: dotnet tool install -g dotnet-gcdump. Writes DIR/<label>-<transport>-<N>.md (+ the two reports, .txt).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib/gateway.sh
source "$ROOT/bench/lib/gateway.sh"

N=2000; TRANSPORT=raw; OUT="$ROOT/bench/results/gcdump"; LABEL=run; BUILD=1; TOP=25
while [[ $# -gt 0 ]]; do
  case "$1" in
    --connections) N="$2"; shift 2 ;;
    --transport) TRANSPORT="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --label) LABEL="$2"; shift 2 ;;
    --top) TOP="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    -h|--help) sed -n '2,11p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
GCDUMP="$(command -v dotnet-gcdump || echo "$HOME/.dotnet/tools/dotnet-gcdump")"
[[ -x "$GCDUMP" ]] || { echo "dotnet-gcdump not found: dotnet tool install -g dotnet-gcdump" >&2; exit 1; }
mkdir -p "$OUT"; OUT="$(cd "$OUT" && pwd)"
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
PORT=5280; TCP_PORT=5281
if [[ $BUILD == 1 ]]; then
  dotnet build "$ROOT/src/Gateway/Gateway.csproj" -c "$CONFIG" -nologo -v q 2>&1 | tail -2
  dotnet build "$ROOT/bench/LoadTest/LoadTest.csproj" -c "$CONFIG" -nologo -v q 2>&1 | tail -2
fi

ws_transport=$TRANSPORT; target=archmesh-ws; port=$PORT
[[ $TRANSPORT == tcp ]] && { ws_transport=raw; target=archmesh-tcp; port=$TCP_PORT; }
name="$LABEL-$TRANSPORT-$N"
TMP="$(mktemp -d /tmp/gcdump.XXXXXX)"
GW_PID=""; LT_PID=""
cleanup() { stop_pid "$LT_PID"; stop_pid "$GW_PID"; rm -rf "$TMP"; }
trap cleanup EXIT
# shellcheck disable=SC2046
taskset -c 0 $(gateway_cmd "$ws_transport" $PORT $TCP_PORT) > "$TMP/gateway.log" 2>&1 &
GW_PID=$!
wait_listening "$GW_PID" $PORT || { cat "$TMP/gateway.log" >&2; exit 1; }
sleep 2
rss() { awk '/VmRSS/{print $2}' "/proc/$GW_PID/status"; }
"$GCDUMP" collect -p "$GW_PID" -o "$TMP/base.gcdump" > /dev/null
rss0=$(rss)

# Hold long enough for the dump; the dump starts once LoadTest says every client is connected.
taskset -c 1 "$BIN_LT" run --scenario idle --target $target --port $port --server-pid "$GW_PID" --connections "$N" --groups 1 \
  --connect-rate 2500 --hold 60 --sources 4 --per-process 9500 --timeout 300 --label "$name" --out "$TMP" \
  --jwt-secret "$JWT_SECRET" --api-key "$API_KEY" > /dev/null 2> "$TMP/loadtest.log" &
LT_PID=$!
for _ in $(seq 1 1200); do grep -q "connected [0-9]*/" "$TMP/loadtest.log" && break; kill -0 "$LT_PID" 2>/dev/null || break; sleep 0.25; done
connected=$(grep -o "connected [0-9]*/" "$TMP/loadtest.log" | grep -o "[0-9]*" | head -1)
[[ -n "$connected" && "$connected" -gt 0 ]] || { echo "no client connected" >&2; cat "$TMP/loadtest.log" >&2; exit 1; }
sleep 5   # subscriptions confirmed, first heartbeats exchanged
"$GCDUMP" collect -p "$GW_PID" -o "$TMP/held.gcdump" > /dev/null
rss1=$(rss)
stop_pid "$LT_PID"; LT_PID=""
"$GCDUMP" report "$TMP/base.gcdump" > "$OUT/$name-base.txt"
"$GCDUMP" report "$TMP/held.gcdump" > "$OUT/$name-held.txt"

{
  echo "# Managed heap per idle connection: $TRANSPORT, $connected connections (one subscription each)"
  echo
  echo "\`bench/gcdump.sh --transport $TRANSPORT --connections $N --label $LABEL\` — $(date -u '+%Y-%m-%d %H:%M UTC'), git $(git -C "$ROOT" rev-parse --short HEAD)$(git -C "$ROOT" diff --quiet HEAD -- src || echo '+changes')."
  echo "Difference between a dump before any client and one while $connected clients are held, divided by $connected."
  echo
  awk -v n="$connected" -v top="$TOP" -v rss0="$rss0" -v rss1="$rss1" -f "$ROOT/bench/lib/gcdump-diff.awk" \
    "$OUT/$name-base.txt" "$OUT/$name-held.txt"
} > "$OUT/$name.md"
cat "$OUT/$name.md"
