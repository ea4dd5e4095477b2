#!/usr/bin/env bash
# Gateway vs the floor (raw Kestrel broadcaster) and the peers (SignalR JSON/MessagePack, Node ws).
# Builds everything in Release, runs each server pinned to core 0 (taskset -c 0) and the load generator
# on core 1 (taskset -c 1), alternating servers within each repetition, and writes
# bench/results/<date>/: summary.md (+ .csv/.json), charts (charts.md, *.png), one <run>.md per run, and the
# raw per-run JSON packed into one raw.tar.gz (what the repository keeps of a dated run; `tar -xzf raw.tar.gz`
# restores the files to re-summarize). Loopback only; every run is bounded in time.
#
# Gateway rows: archmesh-ws (WebSocket, Gateway:WebSocket:Transport=raw, the default), archmesh-ws-aspnet (the
# ASP.NET Core WebSocket path, Transport=aspnet) and archmesh-tcp (raw TCP listener of the same process); the
# transport is passed as the environment variable Gateway__WebSocket__Transport (bench/lib/gateway.sh).
#
#   bench/compare.sh             full comparison, 3 repetitions (~70 min on the 2-core reference machine):
#                                light/moderate/saturation/saturation-push for every server (medians of 3), the rate
#                                sweep (highest delivery rate at p99 <= 50 ms, per server and repetition), idle memory
#                                at 10,000 connections (every server) and 19,000 (gateway rows), the priority workload
#                                for both WebSocket transports, and the gateway-only extras (slow, churn, notify, mixed)
#   bench/compare.sh --quick     smoke run (~2-3 min after the build; CI checks that results appear)
#   bench/compare.sh --cluster   scale-out on Redis (~5 min per repetition; not part of --quick): one redis-server,
#                                2 gateway nodes (redis engine) vs 2 SignalR nodes (Redis backplane), same workload;
#                                plus the Redis hop: one gateway node, memory vs redis engine, light load.
#                                Writes bench/results/<date>-cluster/. Env: CL_CONNS (1000) CL_GROUPS (10)
#                                CL_RATES ("100 1000", total publishes/s; saturation is always added)
#                                CL_SIGNALR ("signalr-json signalr-msgpack")
#   options: --reps N  --out DIR  --servers "archmesh-ws archmesh-ws-aspnet archmesh-tcp floor signalr-json signalr-msgpack node-ws"
#            --workloads "light moderate saturation saturation-push idle-10k"  --no-build  --extras / --no-extras
#            --sweep / --no-sweep
#   env:     SWEEP_RATES (publishes/s ladder, x recipients per publish = deliveries/s; default
#            "100 150 200 250 500 1000 1500 2000 3000 4000 5000 6000 8000"), SWEEP_P99_MS (50), SWEEP_DURATION (5 s per step),
#            WARMUP (6 s)
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
ARGS="$*"
QUICK=0; REPS=3; BUILD=1; EXTRAS=1; OUT=""; CLUSTER=0; REPS_SET=0; SWEEP=1
SERVERS="archmesh-ws archmesh-ws-aspnet archmesh-tcp floor signalr-json signalr-msgpack node-ws"
WORKLOADS="light moderate saturation saturation-push idle-10k"
while [[ $# -gt 0 ]]; do
  case "$1" in
    --quick) QUICK=1; shift ;;
    --reps) REPS="$2"; REPS_SET=1; shift 2 ;;
    --cluster) CLUSTER=1; shift ;;
    --out) OUT="$2"; shift 2 ;;
    --servers) SERVERS="$2"; shift 2 ;;
    --workloads) WORKLOADS="$2"; shift 2 ;;
    --no-build) BUILD=0; shift ;;
    --extras) EXTRAS=1; shift ;;
    --no-extras) EXTRAS=0; shift ;;
    --sweep) SWEEP=1; shift ;;
    --no-sweep) SWEEP=0; shift ;;
    -h|--help) sed -n '2,30p' "$0"; exit 0 ;;
    *) echo "unknown option $1" >&2; exit 2 ;;
  esac
done

DATE="$(date -u +%Y-%m-%d)"
if [[ $CLUSTER == 1 ]]; then
  [[ $REPS_SET == 0 ]] && REPS=1
  EXTRAS=0
  OUT="${OUT:-$ROOT/bench/results/$DATE-cluster}"
  WARMUP=${WARMUP:-5}; DURATION=${DURATION:-8}; DRAIN=5
elif [[ $QUICK == 1 ]]; then
  REPS=1; EXTRAS=0
  [[ "$WORKLOADS" == "light moderate saturation saturation-push idle-10k" ]] && WORKLOADS="light saturation"
  OUT="${OUT:-$ROOT/bench/results/quick}"
  # CONNS/GROUPS/durations of the smoke run; the sweep runs two short steps on archmesh-ws only (path check)
  CONNS=200; NGROUPS=10; WARMUP=1; DURATION=1.5; DRAIN=1; IDLE_CONNS=500; HOLD=2
  SWEEP_RATES=${SWEEP_RATES:-"100 400"}; SWEEP_DURATION=1.5; SWEEP_SERVERS="archmesh-ws"
else
  OUT="${OUT:-$ROOT/bench/results/$DATE}"
  CONNS=2000; NGROUPS=10; WARMUP=${WARMUP:-6}; DURATION=8; DRAIN=5; IDLE_CONNS=5000; HOLD=8
  SWEEP_RATES=${SWEEP_RATES:-"100 150 200 250 500 1000 1500 2000 3000 4000 5000 6000 8000"}; SWEEP_DURATION=${SWEEP_DURATION:-5}
  SWEEP_SERVERS="$SERVERS"
fi
SWEEP_P99_MS=${SWEEP_P99_MS:-50}
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
LOG="$OUT/compare.log"
echo "==== $(date -u) bench/compare.sh $ARGS" >> "$LOG"
log() { echo "[$(date -u +%H:%M:%S)] $*" | tee -a "$LOG" >&2; }
# Packs the raw per-run results (<workload>__<target>__r<N>.json) of $1 into $1/raw.tar.gz and removes
# them: the repository keeps summaries, charts and one compressed raw set per dated run. Not for --quick.
pack_raw() {
  local dir=$1 files
  [[ $QUICK == 1 ]] && return 0
  files=$(cd "$dir" && ls -- *__*.json 2>/dev/null | sort) || true
  [[ -n $files ]] || return 0
  (cd "$dir" && tar --sort=name --mtime='2000-01-01 00:00Z' --owner=0 --group=0 --numeric-owner -cf - $files | gzip -9n > raw.tar.gz && rm -f $files)
  log "packed $(wc -w <<< "$files") raw result files into $dir/raw.tar.gz"
}

ulimit -n 20000 2>/dev/null || ulimit -n "$(ulimit -Hn)" || true
CONFIG=Release
# shellcheck source=bench/lib/gateway.sh
source "$ROOT/bench/lib/gateway.sh"   # BIN_LT, BIN_GW, JWT_SECRET, API_KEY, API_KEY_SHA256, gateway_cmd
BIN_FLOOR="$ROOT/bench/peers/FloorServer/bin/$CONFIG/net10.0/FloorServer"
BIN_SIGNALR="$ROOT/bench/peers/SignalRServer/bin/$CONFIG/net10.0/SignalRServer"
NODE_DIR="$ROOT/bench/peers/node-ws"

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
    archmesh-ws|archmesh-tcp) gateway_cmd raw $PORT_GW $PORT_GW_TCP ;;
    archmesh-ws-aspnet) gateway_cmd aspnet $PORT_GW $PORT_GW_TCP ;;
    floor) echo env DOTNET_gcServer=0 "$BIN_FLOOR" --urls "http://127.0.0.1:$PORT_FLOOR" ;;
    signalr-json|signalr-msgpack) echo env DOTNET_gcServer=0 "$BIN_SIGNALR" --urls "http://127.0.0.1:$PORT_SIGNALR" ;;
    node-ws) echo node "$NODE_DIR/server.js" --port=$PORT_NODE ;;
  esac
}
server_port() {
  case "$1" in
    archmesh-ws|archmesh-ws-aspnet) echo $PORT_GW ;; archmesh-tcp) echo $PORT_GW_TCP ;; floor) echo $PORT_FLOOR ;;
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
    idle-10k)   echo --scenario idle --connections 10000 --groups 0 --connect-rate 2500 --hold $HOLD --sources 4 --per-process 9500 ;;
    idle-19k)   echo --scenario idle --connections 19000 --groups 0 --connect-rate 2500 --hold $HOLD --sources 8 --per-process 9500 ;;
    priority)   echo --scenario priority --connections $CONNS --groups $NGROUPS --rate 0 --window 64 --critical-rate 50 ;;
    sweep-*)    echo --scenario fanout --connections $CONNS --groups $NGROUPS --rate "${1#sweep-}" ;;
    slow)       echo --scenario slow --connections 400 --groups 4 --rate 400 --slow-fraction 0.1 --payload-size 4096 ;;
    churn)      echo --scenario churn --connections $CONNS --groups $NGROUPS --rate 100 --churn-rate 50 ;;
    notify)     echo --scenario notify --connections $CONNS --rate 1000 --ack-fraction 0.9 --reconnect-fraction 0.01 ;;
    fanout-mixed) echo --scenario fanout --connections $CONNS --groups $NGROUPS --rate 1000 --priorities mixed --personal-fraction 0.2 ;;
    broadcast)  echo --scenario broadcast --connections $CONNS --groups 0 --rate 100 ;;
  esac
}

run_one() { # $1 workload, $2 target, $3 rep
  local w="$1" t="$2" rep="$3" label="$1__$2__r$3" duration=$DURATION
  [[ "$w" == sweep-* ]] && duration=$SWEEP_DURATION
  if ! available "$t"; then log "skip $label: $t not built"; return 0; fi
  start_server "$t" || return 0
  local pid="$SERVER_PID"
  log "run $label (server pid $pid; loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
  # shellcheck disable=SC2046
  taskset -c 1 env DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 DOTNET_gcServer=0 "$BIN_LT" run $(workload_args "$w") --target "$t" --port "$(server_port "$t")" --server-pid "$pid" \
      --warmup $WARMUP --duration "$duration" --drain $DRAIN --timeout 300 --label "$label" --out "$OUT" \
      --jwt-secret "$JWT_SECRET" --api-key "$API_KEY" > /dev/null 2>>"$LOG" \
    || log "LoadTest failed for $label (exit $?)"
  stop_server
  sleep 0.3
}

# ---------------------------------------------------------------------------------------------------------------
# --cluster: scale-out on one redis-server. Gateway nodes (redis engine) and SignalR nodes (Redis backplane) get the
# same workload: CL_CONNS subscribers spread over both nodes (i % 2), one publisher per node at half the rate (or a
# closed loop of 64 in flight each). Node A is pinned to core 0, node B to core 1; LoadTest and redis-server share
# both cores (taskset -c 0,1). The Redis hop is measured on ONE node (core 0, LoadTest and redis-server on core 1):
# memory vs redis engine at light load, plus INFO commandstats per publish over the measurement window.
if [[ $CLUSTER == 1 ]]; then
  CL_CONNS=${CL_CONNS:-1000}; CL_GROUPS=${CL_GROUPS:-10}; CL_RATES=${CL_RATES:-"100 1000"}
  CL_SIGNALR=${CL_SIGNALR:-"signalr-json signalr-msgpack"}
  PORT_GW_B=5182; PORT_SIGNALR_B=5194
  REDIS_PID=""; REDIS_DIR=""; NODE_PIDS=()
  stop_pid() { # stop one process we started, by pid: TERM, then KILL after 10 s
    local pid="$1"; [[ -z "$pid" ]] && return 0
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  }
  stop_nodes() { local p; for p in "${NODE_PIDS[@]}"; do stop_pid "$p"; done; NODE_PIDS=(); }
  stop_redis() { stop_pid "$REDIS_PID"; REDIS_PID=""; [[ -n "$REDIS_DIR" ]] && rm -rf "$REDIS_DIR"; REDIS_DIR=""; }
  trap 'stop_nodes; stop_redis; stop_server' EXIT
  listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

  # redis-server on a free loopback port, no persistence, throwaway directory.
  command -v redis-server >/dev/null || { log "redis-server not installed (Debian package redis-server)"; exit 1; }
  REDIS_PORT=""
  for p in $(seq 6390 6490); do listening "$p" || { REDIS_PORT=$p; break; }; done
  [[ -z "$REDIS_PORT" ]] && { log "no free port for redis-server"; exit 1; }
  REDIS_DIR="$(mktemp -d /tmp/bench-redis.XXXXXX)"
  taskset -c 0,1 redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no --dir "$REDIS_DIR" \
    --daemonize no --logfile "" > "$OUT/redis-server.log" 2>&1 &
  REDIS_PID=$!
  for _ in $(seq 1 100); do listening "$REDIS_PORT" && break; sleep 0.1; done
  listening "$REDIS_PORT" || { log "redis-server did not listen on $REDIS_PORT"; exit 1; }
  REDIS="127.0.0.1:$REDIS_PORT"
  log "redis-server $(redis-server --version | awk '{print $3}') pid $REDIS_PID on $REDIS"
  rcli() { redis-cli -h 127.0.0.1 -p "$REDIS_PORT" "$@"; }

  # $1 node id, $2 port, $3 memory|redis
  gw_node_cmd() {
    local engine=()
    [[ "$3" == redis ]] && engine=(--Gateway:Engine:Kind=redis --Gateway:Engine:Redis:Configuration=$REDIS)
    echo env ASPNETCORE_ENVIRONMENT=Production DOTNET_gcServer=0 "$BIN_GW" --urls "http://127.0.0.1:$2" --Gateway:NodeId=$1 --Gateway:Tcp:Enabled=false \
      --Gateway:Auth:SigningKeys:0:Id=bench --Gateway:Auth:SigningKeys:0:Algorithm=HS256 --Gateway:Auth:SigningKeys:0:Secret=$JWT_SECRET \
      --Gateway:Auth:ApiKeys:0:Name=bench --Gateway:Auth:ApiKeys:0:Sha256=$API_KEY_SHA256 \
      --Gateway:Limits:MaxConnectionsPerIp=19000 --Gateway:Limits:FramesPerSecond=10000000 --Gateway:Limits:FrameBurst=10000000 \
      --Gateway:Limits:BytesPerSecond=1000000000 --Gateway:Limits:ByteBurst=1000000000 \
      "${engine[@]}" --Logging:LogLevel:Default=Warning --Serilog:MinimumLevel:Default=Warning
  }
  # $1 port, $2 memory|redis
  sr_node_cmd() {
    local redis=(); [[ "$2" == redis ]] && redis=(--Redis=$REDIS)
    echo env DOTNET_gcServer=0 "$BIN_SIGNALR" --urls "http://127.0.0.1:$1" "${redis[@]}"
  }
  # $1 cpu list, $2 port, $3 log name, rest: command. Appends the pid to NODE_PIDS; 1 if it does not listen in 30 s.
  start_node() {
    local cpus="$1" port="$2" name="$3"; shift 3
    # shellcheck disable=SC2068
    taskset -c "$cpus" $@ > "$OUT/server-$name.log" 2>&1 &
    local pid=$!
    NODE_PIDS+=("$pid")
    for _ in $(seq 1 300); do
      if listening "$port"; then
        # Gateway: /health/ready builds the engine (connects to Redis, loads the scripts) before any client arrives;
        # otherwise the first WebSocket requests resolve it and, on one starved core, can time out (see docs).
        [[ "$name" != *archmesh* ]] && return 0
        for _ in $(seq 1 30); do
          [[ "$(curl -s -m 5 -o /dev/null -w '%{http_code}' "http://127.0.0.1:$port/health/ready")" == 200 ]] && return 0
          kill -0 "$pid" 2>/dev/null || break
          sleep 0.5
        done
        log "$name not ready (/health/ready) on $port"; return 1
      fi
      if ! kill -0 "$pid" 2>/dev/null; then log "$name exited at start (see server-$name.log)"; return 1; fi
      sleep 0.1
    done
    log "$name did not listen on $port"; return 1
  }
  # $1 workload label, $2 target label, $3 rep, $4 LoadTest --target, $5 LoadTest cpu list, rest: extra LoadTest args
  run_lt() {
    local w="$1" t="$2" rep="$3" lt="$4" cpus="$5"; shift 5
    local label="${w}__${t}__r${rep}"
    log "run $label (nodes ${NODE_PIDS[*]}; loadavg $(cut -d' ' -f1-3 /proc/loadavg))"
    # shellcheck disable=SC2068
    timeout 120 taskset -c "$cpus" env DOTNET_SYSTEM_NET_SOCKETS_INLINE_COMPLETIONS=1 DOTNET_gcServer=0 "$BIN_LT" run --scenario fanout \
        --target "$lt" --connections $CL_CONNS --groups $CL_GROUPS --warmup $WARMUP --duration $DURATION --drain $DRAIN --timeout 100 \
        --label "$label" --out "$OUT" --jwt-secret "$JWT_SECRET" --api-key "$API_KEY" $@ > /dev/null 2>>"$LOG" \
      || log "LoadTest failed for $label (exit $?)"
  }
  rate_args() { if [[ "$1" == saturation ]]; then echo --rate 0 --window 64; else echo --rate "$1"; fi; }

  # Redis hop: one node on core 0, LoadTest and redis-server on core 1, light load (100 publishes/s).
  hop_run() { # $1 target label, $2 gateway|signalr, $3 memory|redis, $4 LoadTest target, $5 rep
    local port=$PORT_GW redis_args=() cmd
    [[ "$2" == signalr ]] && port=$PORT_SIGNALR
    rcli FLUSHALL > /dev/null
    if [[ "$2" == gateway ]]; then cmd="$(gw_node_cmd bench-a $port "$3")"; else cmd="$(sr_node_cmd $port "$3")"; fi
    if start_node 0 $port "hop-$1" $cmd; then
      sleep 0.5
      [[ "$3" == redis ]] && redis_args=(--redis-port "$REDIS_PORT")
      run_lt hop-light "$1" "$5" "$4" 1 --port $port --server-pid "${NODE_PIDS[0]}" --rate 100 "${redis_args[@]}"
    fi
    stop_nodes; sleep 0.3
  }
  # Cluster: node A on core 0, node B on core 1; LoadTest and redis-server on both.
  cluster_run() { # $1 workload (rate or saturation), $2 target label, $3 gateway|signalr, $4 LoadTest target, $5 rep
    local pa pb ok=1
    rcli FLUSHALL > /dev/null
    if [[ "$3" == gateway ]]; then
      pa=$PORT_GW; pb=$PORT_GW_B
      start_node 0 $pa "cluster-$2-a" "$(gw_node_cmd bench-a $pa redis)" || ok=0
      start_node 1 $pb "cluster-$2-b" "$(gw_node_cmd bench-b $pb redis)" || ok=0
    else
      pa=$PORT_SIGNALR; pb=$PORT_SIGNALR_B
      start_node 0 $pa "cluster-$2-a" "$(sr_node_cmd $pa redis)" || ok=0
      start_node 1 $pb "cluster-$2-b" "$(sr_node_cmd $pb redis)" || ok=0
    fi
    if [[ $ok == 1 ]]; then
      sleep 0.5
      local wl="cluster-$1"; [[ "$1" != saturation ]] && wl="cluster-rate$1"
      # shellcheck disable=SC2046
      run_lt "$wl" "$2" "$5" "$4" 0,1 --port $pa --ports "$pa,$pb" --server-pids "${NODE_PIDS[0]},${NODE_PIDS[1]}" \
        --redis-port "$REDIS_PORT" $(rate_args "$1")
    fi
    stop_nodes; sleep 0.3
  }

  START=$(date +%s)
  log "cluster: $CL_CONNS connections in $CL_GROUPS groups over 2 nodes, rates [$CL_RATES saturation], SignalR [$CL_SIGNALR], $REPS repetition(s) → $OUT"
  for rep in $(seq 1 "$REPS"); do
    taskset -pc 1 "$REDIS_PID" > /dev/null
    hop_run archmesh-memory gateway memory archmesh-ws "$rep"
    hop_run archmesh-redis gateway redis archmesh-ws "$rep"
    hop_run signalr-json-memory signalr memory signalr-json "$rep"
    hop_run signalr-json-redis signalr redis signalr-json "$rep"
    taskset -pc 0,1 "$REDIS_PID" > /dev/null
    for r in $CL_RATES saturation; do
      cluster_run "$r" archmesh-2n gateway archmesh-ws "$rep"
      for sr in $CL_SIGNALR; do cluster_run "$r" "$sr-2n" signalr "$sr" "$rep"; done
    done
  done
  rcli INFO server | grep -E '^redis_version' >> "$LOG" || true
  stop_redis
  HEADER="Command: \`bench/compare.sh --cluster --reps $REPS\` (CL_CONNS=$CL_CONNS CL_GROUPS=$CL_GROUPS CL_RATES=\"$CL_RATES\") — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), kernel $(uname -r), .NET $(dotnet --version 2>/dev/null), redis-server $(redis-server --version | awk '{print $3}' | cut -d= -f2). Cluster: node A taskset -c 0, node B taskset -c 1, LoadTest and redis-server taskset -c 0,1. Hop: node taskset -c 0, LoadTest and redis-server taskset -c 1. Duration $(( $(date +%s) - START )) s."
  "$BIN_LT" cluster-summary "$OUT" --header "$HEADER" > /dev/null 2>>"$LOG" || log "cluster-summary failed"
  count=$(ls "$OUT"/*__*.json 2>/dev/null | wc -l)
  log "done: $count result files, summary at $OUT/summary.md ($(( $(date +%s) - START )) s)"
  [[ $count -gt 0 && -f "$OUT/summary.md" ]] || exit 1
  pack_raw "$OUT"
  exit 0
fi

# Rate sweep (BRIEF §9's headline figure): per server and repetition, open-loop fanout at each SWEEP_RATES step in
# increasing order until a step misses p99 <= SWEEP_P99_MS or delivers < 99.9 %; then one step halfway between the
# last pass and the first miss. The highest passing step is that repetition's sustained rate (summary: median over
# repetitions, beside the saturation throughput). A server whose first step misses has no sustained rate.
sweep_server() { # $1 target, $2 rep
  local t="$1" rep="$2" pass="" fail="" r mid
  available "$t" || { log "skip sweep for $t: not built"; return 0; }
  for r in $SWEEP_RATES; do
    run_one "sweep-$r" "$t" "$rep"
    if "$BIN_LT" check "$OUT/sweep-${r}__${t}__r${rep}.json" --p99 "$SWEEP_P99_MS" --completeness 0.999 >> "$LOG" 2>&1; then
      pass=$r
    else
      fail=$r; break
    fi
  done
  if [[ -n "$pass" && -n "$fail" ]]; then
    mid=$(( (pass + fail) / 2 ))
    if [[ $mid -gt $pass && $mid -lt $fail ]]; then
      run_one "sweep-$mid" "$t" "$rep"
      "$BIN_LT" check "$OUT/sweep-${mid}__${t}__r${rep}.json" --p99 "$SWEEP_P99_MS" --completeness 0.999 >> "$LOG" 2>&1 && pass=$mid
    fi
  fi
  log "sweep $t r$rep: sustained ${pass:-none} publishes/s at p99 <= $SWEEP_P99_MS ms (first miss: ${fail:-none})"
}

START=$(date +%s)
log "compare: servers [$SERVERS], workloads [$WORKLOADS], $REPS repetition(s), sweep $([[ $SWEEP == 1 ]] && echo "[$SWEEP_RATES] on [$SWEEP_SERVERS]" || echo off) → $OUT"
for rep in $(seq 1 "$REPS"); do
  for w in $WORKLOADS; do
    [[ "$w" == idle* && $rep -gt 1 && $QUICK == 0 ]] && continue   # memory per connection: one repetition
    for t in $SERVERS; do run_one "$w" "$t" "$rep"; done
  done
  if [[ $SWEEP == 1 ]]; then
    for t in $SWEEP_SERVERS; do [[ " $SERVERS " == *" $t "* ]] && sweep_server "$t" "$rep"; done
  fi
done
if [[ $EXTRAS == 1 ]]; then
  # Gateway-only scenarios, once each: priorities on both WebSocket transports; slow consumers, churn, notifications
  # and mixed traffic on the default one; raw TCP saturation; idle memory at 19,000 connections on every gateway row.
  for t in archmesh-ws archmesh-ws-aspnet; do run_one priority "$t" 1; done
  for w in slow churn notify fanout-mixed; do run_one "$w" archmesh-ws 1; done
  [[ " $SERVERS " == *" archmesh-tcp "* ]] || run_one saturation archmesh-tcp 1
  for t in archmesh-ws archmesh-ws-aspnet archmesh-tcp; do run_one idle-19k "$t" 1; done
fi

HEADER="Command: \`bench/compare.sh $([[ $QUICK == 1 ]] && echo --quick) --reps $REPS\` — $(date -u '+%Y-%m-%d %H:%M UTC'), $(nproc) cores ($(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs)), $(free -g | awk '/Mem:/{print $2}') GiB, kernel $(uname -r), .NET $(dotnet --version 2>/dev/null), node $(node --version 2>/dev/null). Servers pinned with taskset -c 0, LoadTest with taskset -c 1; each run starts a fresh server process. Gateway rows: archmesh-ws = Gateway__WebSocket__Transport=raw, archmesh-ws-aspnet = aspnet, archmesh-tcp = raw TCP listener; every publisher drives its server over the network (gateway: Publish frames on one protocol connection; peers: the same envelope over WebSocket / a hub invocation). $([[ $SWEEP == 1 ]] && echo "Rate sweep steps [$SWEEP_RATES] publishes/s, ${SWEEP_DURATION} s each, bound p99 <= $SWEEP_P99_MS ms.") Duration $(( $(date +%s) - START )) s."
"$BIN_LT" summarize "$OUT" --header "$HEADER" --sweep-p99 "$SWEEP_P99_MS" > /dev/null 2>>"$LOG" || log "summarize failed"
# Charts of every run except the sweep steps (those are summarized as one table).
mapfile -t CHART_INPUTS < <(ls "$OUT"/*__*.json 2>/dev/null | grep -v "/sweep-")
[[ ${#CHART_INPUTS[@]} -gt 0 ]] && { "$BIN_LT" report "${CHART_INPUTS[@]}" --out "$OUT" >> "$LOG" 2>&1 || log "report failed"; }
count=$(ls "$OUT"/*__*.json 2>/dev/null | wc -l)
log "done: $count result files, summary at $OUT/summary.md ($(( $(date +%s) - START )) s)"
[[ $count -gt 0 && -f "$OUT/summary.md" ]] || exit 1
pack_raw "$OUT"
