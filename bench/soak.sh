#!/usr/bin/env bash
# Soak benchmark (issue 14 item 13; not part of CI): one Release gateway (taskset -c 0, out of process) under
# --minutes of connection churn, mixed-priority publishes, acked notifications and a few slow consumers driven by
# `LoadTest run --scenario soak` (taskset -c 1). Every --sample-seconds: the gateway's RSS, GC heap (its /metrics),
# threads, open fds (/proc/<pid>/fd), CPU and the interval's end-to-end p99; at the end the slope of RSS and heap
# after the warm-up (least squares, KiB/min) and a verdict. Writes bench/results/<date>-soak/: soak.csv, summary.md,
# soak.svg, soak-resources.svg, soak.json/.md, gateway.log.
#
#   bench/soak.sh                                  30 minutes (5 of warm-up), 2,000 clients, churn 20/s, 200 publishes/s
#   bench/soak.sh --minutes 3 --warmup-minutes 1 --sample-seconds 20     a short smoke
#   options: --minutes M --warmup-minutes W --sample-seconds S --connections N --groups G --rate R (publishes/s)
#            --churn-rate C (connects+disconnects/s) --personal-fraction F (share of publishes that are notifications)
#            --slow-clients K --transport raw|aspnet|tcp --out DIR --no-build
#            --gcdump: also take a dotnet-gcdump (it forces a full GC) right after the warm-up and one minute before the
#            end, and write heap-growth.md: live heap at both points and the types that grew most between them
#            (needs `dotnet tool install -g dotnet-gcdump`)
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck source=bench/lib/gateway.sh
source "$ROOT/bench/lib/gateway.sh"

MINUTES=30; WARM=5; SAMPLE=60; CONNS=2000; NGROUPS=10; RATE=200; CHURN=20; PERSONAL=0.3; SLOW=10; TRANSPORT=raw
OUT=""; BUILD=1; GCDUMP_AT=0
while [[ $# -gt 0 ]]; do
  case "$1" in
    --minutes) MINUTES="$2"; shift 2 ;;
    --warmup-minutes) WARM="$2"; shift 2 ;;
    --sample-seconds) SAMPLE="$2"; shift 2 ;;
    --connections) CONNS="$2"; shift 2 ;;
    --groups) NGROUPS="$2"; shift 2 ;;
    --rate) RATE="$2"; shift 2 ;;
    --churn-rate) CHURN="$2"; shift 2 ;;
    --personal-fraction) PERSONAL="$2"; shift 2 ;;
    --slow-clients) SLOW="$2"; shift 2 ;;
    --transport) TRANSPORT="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --gcdump) GCDUMP_AT=1; shift ;;
    -h|--help) sed -n '2,14p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done
OUT="${OUT:-$ROOT/bench/results/$(date -u +%Y-%m-%d)-soak}"
mkdir -p "$OUT"; OUT="$(cd "$OUT" && pwd)"
ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
if [[ $BUILD == 1 ]]; then
  dotnet build "$ROOT/src/Gateway/Gateway.csproj" -c "$CONFIG" -nologo -v q 2>&1 | tail -2
  dotnet build "$ROOT/bench/LoadTest/LoadTest.csproj" -c "$CONFIG" -nologo -v q 2>&1 | tail -2
fi

PORT=5380; TCP_PORT=5381
ws_transport=$TRANSPORT; target=archmesh-ws; port=$PORT
[[ $TRANSPORT == tcp ]] && { ws_transport=raw; target=archmesh-tcp; port=$TCP_PORT; }
[[ $TRANSPORT == aspnet ]] && target=archmesh-ws-aspnet
# A gateway left on the port (e.g. one still draining) would be measured instead of ours: refuse to start.
listening $PORT && { echo "port $PORT is already in use; stop what listens there first" >&2; exit 1; }
GW_PID=""
trap 'stop_pid "$GW_PID"; [[ -n "${DUMP_PID:-}" ]] && kill "$DUMP_PID" 2>/dev/null; true' EXIT
# shellcheck disable=SC2046
taskset -c 0 $(gateway_cmd "$ws_transport" $PORT $TCP_PORT) > "$OUT/gateway.log" 2>&1 &
GW_PID=$!
wait_listening "$GW_PID" $PORT && sleep 1 && kill -0 "$GW_PID" 2>/dev/null || { echo "gateway did not start (see $OUT/gateway.log)" >&2; exit 1; }
echo "[$(date -u +%H:%M:%S)] soak: gateway pid $GW_PID ($TRANSPORT), $MINUTES min → $OUT" >&2
GCDUMP="$(command -v dotnet-gcdump || echo "$HOME/.dotnet/tools/dotnet-gcdump")"
DUMP_PID=""
if [[ $GCDUMP_AT == 1 ]]; then
  [[ -x "$GCDUMP" ]] || { echo "dotnet-gcdump not found: dotnet tool install -g dotnet-gcdump" >&2; exit 1; }
  # Two dumps of the same process: after the warm-up (+30 s) and a minute before the end. A dump forces a full
  # blocking GC, so its total is the live heap at that moment, not the saw-tooth of collectable garbage.
  (
    sleep $(( WARM * 60 + 30 )); "$GCDUMP" collect -p "$GW_PID" -o "$OUT/.warm.gcdump" > /dev/null 2>&1
    echo "$(awk '/VmRSS/{print $2}' "/proc/$GW_PID/status")" > "$OUT/.warm.rss"
    sleep $(( (MINUTES - WARM) * 60 - 90 )); "$GCDUMP" collect -p "$GW_PID" -o "$OUT/.end.gcdump" > /dev/null 2>&1
    echo "$(awk '/VmRSS/{print $2}' "/proc/$GW_PID/status")" > "$OUT/.end.rss"
  ) &
  DUMP_PID=$!
fi
timeout_s=$(awk -v m="$MINUTES" 'BEGIN { printf "%d", m * 60 + 600 }')
taskset -c 1 env DOTNET_gcServer=0 "$BIN_LT" run --scenario soak --target $target --port $port --http-port $PORT --server-pid "$GW_PID" \
  --connections "$CONNS" --groups "$NGROUPS" --rate "$RATE" --churn-rate "$CHURN" --personal-fraction "$PERSONAL" \
  --slow-clients "$SLOW" --minutes "$MINUTES" --warmup-minutes "$WARM" --sample-seconds "$SAMPLE" --connect-rate 1000 \
  --sources 4 --timeout "$timeout_s" --label soak --out "$OUT" --jwt-secret "$JWT_SECRET" --api-key "$API_KEY" > /dev/null
stop_pid "$GW_PID"; GW_PID=""
if [[ -n "$DUMP_PID" ]]; then
  wait "$DUMP_PID" 2>/dev/null || true
  if [[ -s "$OUT/.warm.gcdump" && -s "$OUT/.end.gcdump" ]]; then
    "$GCDUMP" report "$OUT/.warm.gcdump" > "$OUT/.warm.txt"; "$GCDUMP" report "$OUT/.end.gcdump" > "$OUT/.end.txt"
    {
      echo "# Live heap after the warm-up vs one minute before the end (dotnet-gcdump, full GC each)"
      echo
      echo "Dumps at minute $(awk -v w="$WARM" 'BEGIN{print w+0.5}') and $(( MINUTES - 1 )) of the soak in summary.md. Types ordered by growth between the two dumps."
      echo
      awk -v rss0="$(cat "$OUT/.warm.rss")" -v rss1="$(cat "$OUT/.end.rss")" -f "$ROOT/bench/lib/gcdump-growth.awk" "$OUT/.warm.txt" "$OUT/.end.txt"
    } > "$OUT/heap-growth.md"
    cat "$OUT/heap-growth.md"
  else
    echo "gcdump: a dump is missing; heap-growth.md not written" >&2
  fi
  rm -f "$OUT"/.warm.* "$OUT"/.end.*
fi
{ echo; echo "Command: \`bench/soak.sh --minutes $MINUTES --warmup-minutes $WARM --sample-seconds $SAMPLE --connections $CONNS --groups $NGROUPS --rate $RATE --churn-rate $CHURN --personal-fraction $PERSONAL --slow-clients $SLOW --transport $TRANSPORT\` — $(date -u '+%Y-%m-%d %H:%M UTC'), git $(git -C "$ROOT" rev-parse --short HEAD), $(nproc) cores, load average at the end $(cut -d' ' -f1-3 /proc/loadavg); gateway taskset -c 0, LoadTest taskset -c 1."; } >> "$OUT/summary.md"
cat "$OUT/summary.md"
