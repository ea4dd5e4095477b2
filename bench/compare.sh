#!/usr/bin/env bash
# Gateway vs the floor (raw Kestrel broadcaster) and the peers (SignalR JSON/MessagePack, Node ws).
# Builds everything in Release, runs each server pinned to core 0 (taskset -c 0) and the load generator
# on core 1 (taskset -c 1), alternating servers within each repetition, and writes
# bench/results/<date>/{*.json,*.md,summary.md,*.png}. Loopback only; every run is bounded in time.
#
#   bench/compare.sh             full comparison (~20 min on the 2-core reference machine)
#   bench/compare.sh --quick     smoke run (< 2 min after the build; CI checks that results appear)
#   options: --reps N  --out DIR  --servers "archmesh-ws floor signalr-json signalr-msgpack node-ws"
#            --workloads "light moderate saturation idle"  --no-build  --extras / --no-extras
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ARGS="$*"
QUICK=0; REPS=3; BUILD=1; EXTRAS=1; OUT=""
SERVERS="archmesh-ws floor signalr-json signalr-msgpack node-ws"
WORKLOADS="light moderate saturation saturation-push idle"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=1; shift ;;
    --reps) REPS="$2"; shift 2 ;;
    --out) OUT="$2"; shift 2 ;;
    --servers) SERVERS="$2"; shift 2 ;;
    --workloads) WORKLOADS="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --extras) EXTRAS=1; shift ;;
    --no-extras) EXTRAS=0; shift ;;
    -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

DATE="$(date -u +%Y-%m-%d)"
if [[ $QUICK == 1 ]]; then
  REPS=1; EXTRAS=0
  [[ "$WORKLOADS" == "light moderate saturation saturation-push idle" ]] && WORKLOADS="light saturation"
  OUT="${OUT:-$ROOT/bench/results/quick}"
  # CONNS/GROUPS/durations of the smoke run
  CONNS=200; NGROUPS=10; WARMUP=1; DURATION=1.5; DRAIN=1; IDLE_CONNS=500; HOLD=2
else
  OUT="${OUT:-$ROOT/bench/results/$DATE}"
  CONNS=2000; NGROUPS=10; WARMUP=${WARMUP:-6}; DURATION=8; DRAIN=5; IDLE_CONNS=5000; HOLD=8
fi
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
LOG="$OUT/compare.log"
echo "==== $(date -u) bench/compare.sh $ARGS" >> "$LOG"
log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$LOG" >&2; }

ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
CONFIG=Release
BIN_LT="$ROOT/bench/LoadTest/bin/$CONFIG/net10.0/LoadTest"
BIN_GW="$ROOT/src/Gateway/bin/$CONFIG/net10.0/gateway"
BIN_FLOOR="$ROOT/bench/peers/FloorServer/bin/$CONFIG/net10.0/FloorServer"
BIN_SIGNALR="$ROOT/bench/peers/SignalRServer/bin/$CONFIG/net10.0/SignalRServer"
NODE_DIR="$ROOT/bench/peers/node-ws"

# Credentials of the benchmark gateway (loopback only; not a secret).
JWT_SECRET="YXJjaG1lc2gtYmVuY2gtc2VjcmV0LWtleS0wMTIzNDU2Nzg5YWJjZGVm"
API_KEY="bench-api-key"
API_KEY_SHA256="$(printf %s "$API_KEY" | sha256sum | cut -d' ' -f1)"

PORT_GW=5180; PORT_GW_TCP=5181; PORT_FLOOR=5191; PORT_SIGNALR=5192; PORT_NODE=5193

if [[ $BUILD == 1 ]]; then
  log "building (Release)"
  dotnet build "$ROOT/bench/LoadTest/LoadTest.csproj" -c $CONFIG -nologo -v q 2>&1 | tail -3 | tee -a "$LOG"
  dotnet build "$ROOT/bench/peers/FloorServer/FloorServer.csproj" -c $CONFIG -nologo -v q 2>&1 | tail -3 | tee -a "$LOG"
  dotnet build "$ROOT/bench/peers/SignalRServer/SignalRServer.csproj" -c $CONFIG -nologo -v q 2>&1 | tail -3 | tee -a "$LOG"
  dotnet build "$ROOT/src/Gateway/Gateway.csproj" -c $CONFIG -nologo -v q 2>&1 | tail -3 | tee -a "$LOG" || log "gateway build failed: its runs will be skipped"
  (cd "$NODE_DIR" && npm ci --no-audit --no-fund --silent) 2>&1 | tail -3 | tee -a "$LOG" || log "npm ci failed: node-ws runs will be skipped"
fi

# The exact server command lines (bench/crank/gateway.benchmarks.yml uses the same ones).
server_cmd() {
  case "$1" in
    archmesh-ws|archmesh-tcp)
      echo env ASPNETCORE_ENVIRONMENT=Production DOTNET_gcServer=0 "$BIN_GW" --urls "http://127.0.0.1:$PORT_GW" \
        --Gateway:NodeId=bench --Gateway:Tcp:Enabled=true --Gateway:Tcp:BindAddress=127.0.0.1 --Gateway:Tcp:Port=$PORT_GW_TCP \
        --Gateway:Auth:SigningKeys:0:Id=bench --Gateway:Auth:SigningKeys:0:Algorithm=HS256 --Gateway:Auth:SigningKeys:0:Secret=$JWT_SECRET \
        --Gateway:Auth:ApiKeys:0:Name=bench --Gateway:Auth:ApiKeys:0:Sha256=$API_KEY_SHA256 \
        --Gateway:Limits:MaxConnectionsPerIp=19000 --Gateway:Limits:FramesPerSecond=10000000 --Gateway:Limits:FrameBurst=10000000 \
        --Gateway:Limits:BytesPerSecond=1000000000 --Gateway:Limits:ByteBurst=1000000000 \
        --Logging:LogLevel:Default=Warning --Serilog:MinimumLevel:Default=Warning ;;
    floor) echo env DOTNET_gcServer=0 "$BIN_FLOOR" --urls "http://127.0.0.1:$PORT_FLOOR" ;;
    signalr-json|signalr-msgpack) echo env DOTNET_gcServer=0 "$BIN_SIGNALR" --urls "http://127.0.0.1:$PORT_SIGNALR" ;;
    node-ws) echo node "$NODE_DIR/server.js" --port=$PORT_NODE ;;
  esac
}
server_port() {
  case "$1" in
    archmesh-ws) echo $PORT_GW ;; archmesh-tcp) echo $PORT_GW_TCP ;; floor) echo $PORT_FLOOR ;;
    signalr-json|signalr-msgpack) echo $PORT_SIGNALR ;; node-ws) echo $PORT_NODE ;;
  esac
}
available() {
  case "$1" in
    archmesh-*) [[ -x "$BIN_GW" ]] ;; floor) [[ -x "$BIN_FLOOR" ]] ;; signalr-*) [[ -x "$BIN_SIGNALR" ]] ;;
    node-ws) [[ -d "$NODE_DIR/node_modules/ws" ]] && command -v node >/dev/null ;;
  esac
}

SERVER_PID=""
start_server() { # $1 = target; sets SERVER_PID; returns 1 if it does not listen within 30 s
  local name="$1" port; port="$(server_port "$1")"
  # shellcheck disable=SC2046
  taskset -c 0 $(server_cmd "$name") > "$OUT/server-$name.log" 2>&1 &
  SERVER_PID=$!
  for _ in $(seq 1 300); do
    if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then sleep 0.5; return 0; fi
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then log "$name exited at start (see server-$name.log)"; return 1; fi
    sleep 0.1
  done
  log "$name did not listen on $port"; stop_server; return 1
}
stop_server() {
  [[ -z "$SERVER_PID" ]] && return 0
  kill -TERM "$SERVER_PID" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$SERVER_PID" 2>/dev/null || true
  wait "$SERVER_PID" 2>/dev/null || true
  SERVER_PID=""
}
trap stop_server EXIT

# workload name → LoadTest arguments
workload_args() {
  case "$1" in
    light)      echo --scenario fanout --connections $CONNS --groups $NGROUPS --rate 100 ;;
    moderate)   echo --scenario fanout --connections $CONNS --groups $NGROUPS --rate 1000 ;;
    saturation) echo --scenario fanout --connections $CONNS --groups $NGROUPS --rate 0 --window 64 ;;
    saturation-push) echo --scenario fanout --connections $CONNS --groups $NGROUPS --rate 0 --window 0 ;;
    idle)       echo --scenario idle --connections $IDLE_CONNS --groups 0 --connect-rate 2500 --hold $HOLD --sources 4 ;;
    idle-19k)   echo --scenario idle --connections 19000 --groups 0 --connect-rate 2500 --hold $HOLD --sources 8 --per-process 9500 ;;
    priority)   echo --scenario priority --connections $CONNS --groups $NGROUPS --rate 0 --window 64 --critical-rate 50 ;;
    slow)       echo --scenario slow --connections 400 --groups 4 --rate 400 --slow-fraction 0.1 --payload-size 4096 ;;
    churn)      echo --scenario churn --connections $CONNS --groups $NGROUPS --rate 100 --churn-rate 50 ;;
    notify)     echo --scenario notify --connections $CONNS --rate 1000 --ack-fraction 0.9 --reconnect-fraction 0.01 ;;
    fanout-mixed) echo --scenario fanout --connections $CONNS --groups $NGROUPS --rate 1000 --priorities mixed --personal-fraction 0.2 ;;
    broadcast)  echo --scenario broadcast --connections $CONNS --groups 0 --rate 100 ;;
  esac
}

run_one() { # $1 workload, $2 target, $3 rep
  local w="$1" t="$2" rep="$3" label="$1__$2__r$3"
  if ! available "$t"; then log "skip $label: $t not built"; return 0; fi
  start_server "$t" || return 0
  local pid="$SERVER_PID"
  log "run $label (server pid $pid)"
  # shellcheck disable=SC2046
  taskset -c 1 env DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 DOTNET_gcServer=0 "$BIN_LT" run $(workload_args "$w") --target "$t" --port "$(server_port "$t")" --server-pid "$pid" \
      --warmup $WARMUP --duration $DURATION --drain $DRAIN --timeout 300 --label "$label" --out "$OUT" \
      --jwt-secret "$JWT_SECRET" --api-key "$API_KEY" > /dev/null 2>>"$LOG" \
    || log "LoadTest failed for $label (exit $?)"
  stop_server
  sleep 0.3
}

START=$(date +%s)
log "compare: servers [$SERVERS], workloads [$WORKLOADS], $REPS repetition(s) → $OUT"
for rep in $(seq 1 "$REPS"); do
  for w in $WORKLOADS; do
    [[ "$w" == idle* && $rep -gt 1 && $QUICK == 0 ]] && continue   # memory per connection: one repetition
    for t in $SERVERS; do run_one "$w" "$t" "$rep"; done
  done
done
if [[ $EXTRAS == 1 ]]; then
  # Gateway-only scenarios (priorities, slow consumers, churn, notifications, raw TCP, 19k idle), once each.
  for w in priority slow churn notify fanout-mixed; do run_one "$w" archmesh-ws 1; done
  run_one saturation archmesh-tcp 1
  run_one idle archmesh-tcp 1
  run_one idle-19k archmesh-ws 1
fi

HEADER="Command: \`bench/compare.sh $([[ $QUICK == 1 ]] && echo --quick) --reps $REPS\` — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB, kernel $(uname -r), .NET $(dotnet --version 2>/dev/null), node $(node --version 2>/dev/null). Servers pinned with taskset -c 0, LoadTest with taskset -c 1; each run starts a fresh server process. Duration $(( $(date +%s) - START )) s."
"$BIN_LT" summarize "$OUT" --header "$HEADER" > /dev/null 2>>"$LOG" || log "summarize failed"
"$BIN_LT" report "$OUT" --out "$OUT" >> "$LOG" 2>&1 || log "report failed"
count=$(ls "$OUT"/*.json 2>/dev/null | wc -l)
log "done: $count result files, summary at $OUT/summary.md ($(( $(date +%s) - START )) s)"
[[ $count -gt 0 && -f "$OUT/summary.md" ]]
