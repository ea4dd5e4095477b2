#!/usr/bin/env bash
# Cluster in a box: one Redis, N ArchMesh gateway nodes (Release build, Redis engine, one shared dev key)
# and HAProxy in front, as plain processes on loopback. Everything it starts is recorded by PID under the
# run dir and stopped by PID. See docs/operations.md, "Run a cluster".
#
#   cluster.sh up [N]       Redis + N nodes (default 3) + HAProxy; waits until all are ready; prints status
#   cluster.sh down         stops everything it started (nodes: SIGTERM, SIGKILL after DOWN_TIMEOUT)
#   cluster.sh status       per node: pid, ports, readiness, connections, engine state; LB and Redis
#   cluster.sh kill I       kill -9 node I (1-based)
#   cluster.sh stop I       SIGTERM node I (graceful drain) and wait until it exited
#   cluster.sh start I      (re)start node I with the same ports/settings, wait until /health/ready is 200
#   cluster.sh freeze I     SIGSTOP node I          cluster.sh thaw I    SIGCONT node I
#   cluster.sh redis-stop   SHUTDOWN SAVE, wait until gone
#   cluster.sh redis-start  start Redis again on the same port and data dir, wait for PONG
#   cluster.sh render [N]   print the haproxy.cfg that `up` would generate (used by the tests)
#
# Environment (all optional): ARCHMESH_CLUSTER_DIR (/tmp/archmesh-cluster), LB_HTTP_PORT (6080),
# LB_TCP_PORT (6081), LB_STATS_PORT (6082; HAProxy process K>1 serves its own stats on LB_STATS_PORT+K-1
# and logs to haproxy-K.log),
# REDIS_PORT (6390), NODE_BASE_PORT (6100: node i on NODE_BASE_PORT+10*i (HTTP) and +1 (raw TCP)),
# LB_PROCS (1: HAProxy processes sharing the front-end ports through SO_REUSEPORT), BUILD (1; 0 = use the
# existing Release build), DOWN_TIMEOUT (50 s: SIGTERM-to-SIGKILL deadline of a node; above the default
# drain timeout of 30 s + the 6 s cut), READY_TIMEOUT (90 s), NODE_ENV (extra "K=V K=V" settings for every
# node, e.g. NODE_ENV="Gateway__Drain__Timeout=00:00:10").
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
RUN_DIR="${ARCHMESH_CLUSTER_DIR:-/tmp/archmesh-cluster}"
ENV_FILE="$RUN_DIR/cluster.env"
TEMPLATE="$REPO/deploy/haproxy/haproxy.cfg.template"
DOWN_TIMEOUT="${DOWN_TIMEOUT:-50}"
READY_TIMEOUT="${READY_TIMEOUT:-90}"

die() { echo "cluster.sh: $*" >&2; exit 1; }
log() { echo "== $*"; }

# ---------- settings: from the environment on `up`, from cluster.env afterwards ----------
defaults() {
  NODES="${1:-3}"
  LB_HTTP_PORT="${LB_HTTP_PORT:-6080}"
  LB_TCP_PORT="${LB_TCP_PORT:-6081}"
  LB_STATS_PORT="${LB_STATS_PORT:-6082}"
  REDIS_PORT="${REDIS_PORT:-6390}"
  NODE_BASE_PORT="${NODE_BASE_PORT:-6100}"
  LB_PROCS="${LB_PROCS:-1}"
  NODE_ENV="${NODE_ENV:-}"
  DEV_KEY_FILE="$RUN_DIR/dev-keys.json"
  GATEWAY_DLL="$REPO/src/Gateway/bin/Release/net10.0/gateway.dll"
  [[ "$NODES" =~ ^[1-9][0-9]*$ ]] || die "N must be a positive number (got '$NODES')"
  [[ "$LB_PROCS" =~ ^[1-9][0-9]*$ ]] || die "LB_PROCS must be a positive number (got '$LB_PROCS')"
  for v in LB_HTTP_PORT LB_TCP_PORT LB_STATS_PORT REDIS_PORT NODE_BASE_PORT; do
    [[ "${!v}" =~ ^[0-9]+$ ]] && (( ${!v} > 0 && ${!v} < 65536 )) || die "$v must be a port number (got '${!v}')"
  done
}

load_env() {
  [[ -f "$ENV_FILE" ]] || die "no cluster in $RUN_DIR (no cluster.env): run '$0 up' first"
  # The cluster's own NODE_ENV (written only when set), not the caller's.
  NODE_ENV=""
  # shellcheck disable=SC1090
  source "$ENV_FILE"
}

node_http() { echo $((NODE_BASE_PORT + 10 * $1)); }
node_tcp() { echo $((NODE_BASE_PORT + 10 * $1 + 1)); }

write_env() {
  {
    echo "NODES=$NODES"
    echo "LB_HTTP_PORT=$LB_HTTP_PORT"
    echo "LB_TCP_PORT=$LB_TCP_PORT"
    echo "LB_STATS_PORT=$LB_STATS_PORT"
    echo "LB_PROCS=$LB_PROCS"
    echo "REDIS_PORT=$REDIS_PORT"
    echo "NODE_BASE_PORT=$NODE_BASE_PORT"
    for ((i = 1; i <= NODES; i++)); do
      echo "NODE_${i}_HTTP=$(node_http "$i")"
      echo "NODE_${i}_TCP=$(node_tcp "$i")"
    done
    echo "DEV_KEY_FILE=$DEV_KEY_FILE"
    echo "GATEWAY_DLL=$GATEWAY_DLL"
    echo "REPO=$REPO"
    [[ -z "$NODE_ENV" ]] || printf 'NODE_ENV=%q\n' "$NODE_ENV"
  } >"$ENV_FILE"
}

# ---------- processes ----------
pid_of() { [[ -f "$RUN_DIR/$1.pid" ]] && cat "$RUN_DIR/$1.pid" || true; }
alive() { [[ -n "${1:-}" ]] && kill -0 "$1" 2>/dev/null; }
# State letter from /proc (T = stopped by SIGSTOP).
proc_state() { awk '{print $3}' "/proc/$1/stat" 2>/dev/null || echo "?"; }

port_taken() { ss -Hltn "sport = :$1" 2>/dev/null | grep -q .; }

wait_gone() { # pid seconds
  local pid=$1 deadline=$((SECONDS + $2))
  while alive "$pid"; do
    # A zombie child of ours counts as gone.
    [[ "$(proc_state "$pid")" == "Z" ]] && return 0
    ((SECONDS < deadline)) || return 1
    sleep 0.2
  done
}

http_code() { curl -s -o /dev/null -m 2 -w '%{http_code}' "$1" 2>/dev/null || true; }

ensure_packages() {
  local missing=""
  command -v redis-server >/dev/null || missing="$missing redis-server"
  command -v haproxy >/dev/null || missing="$missing haproxy"
  [[ -z "$missing" ]] && return 0
  if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
    log "apt-get install$missing"
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $missing >/dev/null
  else
    die "missing:$missing (run as root, or: sudo apt-get install -y$missing)"
  fi
}

# ---------- HAProxy config ----------
# Renders the template for process $1 (1-based): global placeholders, and every @NODE_*@ line once per node.
render() {
  local proc=${1:-1} maxconn fdlimit
  fdlimit=$(ulimit -n)
  [[ "$fdlimit" == "unlimited" ]] && fdlimit=1000000
  # Two fds per proxied connection plus listeners, checks and a margin.
  maxconn=$(((fdlimit - 200) / 2))
  ((maxconn > 100000)) && maxconn=100000
  ((maxconn < 100)) && die "ulimit -n ($fdlimit) is too low for HAProxy"
  awk -v n="$NODES" -v base="$NODE_BASE_PORT" -v maxconn="$maxconn" -v bind="127.0.0.1" \
      -v http="$LB_HTTP_PORT" -v tcp="$LB_TCP_PORT" -v stats="$((LB_STATS_PORT + proc - 1))" -v logt="stdout" '
    function globals(s) {
      gsub(/@MAXCONN@/, maxconn, s); gsub(/@LB_BIND@/, bind, s); gsub(/@LB_HTTP_PORT@/, http, s)
      gsub(/@LB_TCP_PORT@/, tcp, s); gsub(/@LB_STATS_PORT@/, stats, s); gsub(/@LOG_TARGET@/, logt, s)
      return s
    }
    /^[ \t]*#/ { print; next }  # comments (the placeholder legend) stay as written
    /@NODE_(NAME|ADDR|HTTP|TCP)@/ {
      for (i = 1; i <= n; i++) {
        s = $0
        gsub(/@NODE_NAME@/, "node-" i, s); gsub(/@NODE_ADDR@/, "127.0.0.1", s)
        gsub(/@NODE_HTTP@/, base + 10 * i, s); gsub(/@NODE_TCP@/, base + 10 * i + 1, s)
        print globals(s)
      }
      next
    }
    { print globals($0) }
  ' "$TEMPLATE"
}

hlog_of() { (($1 == 1)) && echo "$RUN_DIR/haproxy.log" || echo "$RUN_DIR/haproxy-$1.log"; }
cfg_of() { (($1 == 1)) && echo "$RUN_DIR/haproxy.cfg" || echo "$RUN_DIR/haproxy-$1.cfg"; }

start_haproxy() {
  local k cfg pid
  for ((k = 1; k <= LB_PROCS; k++)); do
    cfg=$(cfg_of "$k")
    render "$k" >"$cfg"
    haproxy -c -q -f "$cfg" || die "generated $cfg is invalid (haproxy -c)"
    # -db: stay in the foreground (one PID per process, logs on stdout into haproxy.log).
    # One log per process: several writers on one file interleave partial lines.
    setsid haproxy -db -f "$cfg" >>"$(hlog_of "$k")" 2>&1 </dev/null &
    pid=$!
    echo "$pid" >"$RUN_DIR/haproxy-$k.pid"
  done
  local deadline=$((SECONDS + 20))
  until [[ "$(http_code "http://127.0.0.1:$LB_HTTP_PORT/health/ready")" == "200" ]]; do
    for ((k = 1; k <= LB_PROCS; k++)); do
      alive "$(pid_of "haproxy-$k")" || { tail -n 20 "$(hlog_of "$k")" >&2; die "HAProxy process $k exited ($(hlog_of "$k") above)"; }
    done
    ((SECONDS < deadline)) || die "HAProxy does not answer 200 on 127.0.0.1:$LB_HTTP_PORT/health/ready after 20 s"
    sleep 0.2
  done
}

# ---------- Redis ----------
start_redis() {
  mkdir -p "$RUN_DIR/redis"
  port_taken "$REDIS_PORT" && die "port $REDIS_PORT (REDIS_PORT) is already in use"
  # AOF (fsync every second) + RDB: SHUTDOWN SAVE on redis-stop writes both, a kill -9 loses ≤ 1 s.
  setsid redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --dir "$RUN_DIR/redis" \
    --appendonly yes --appendfsync everysec --save "60 1000" --dbfilename dump.rdb \
    --daemonize no --logfile "$RUN_DIR/redis.log" </dev/null >/dev/null 2>&1 &
  echo $! >"$RUN_DIR/redis.pid"
  local deadline=$((SECONDS + 20))
  until [[ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null || true)" == "PONG" ]]; do
    alive "$(pid_of redis)" || { tail -n 20 "$RUN_DIR/redis.log" >&2; die "redis-server exited (redis.log above)"; }
    ((SECONDS < deadline)) || die "Redis does not answer PING on $REDIS_PORT after 20 s"
    sleep 0.1
  done
}

stop_redis() {
  local pid
  pid=$(pid_of redis)
  if ! alive "$pid"; then rm -f "$RUN_DIR/redis.pid"; return 0; fi
  # SHUTDOWN SAVE writes the RDB (and AOF) before exiting; SIGTERM does the same if the command fails.
  redis-cli -p "$REDIS_PORT" shutdown save >/dev/null 2>&1 || kill -TERM "$pid" 2>/dev/null || true
  wait_gone "$pid" 30 || { kill -KILL "$pid" 2>/dev/null || true; echo "Redis did not exit in 30 s: killed" >&2; }
  rm -f "$RUN_DIR/redis.pid"
}

# ---------- nodes ----------
check_index() {
  [[ "${1:-}" =~ ^[1-9][0-9]*$ ]] && (($1 <= NODES)) || die "node index must be 1..$NODES (got '${1:-}')"
}

start_node() {
  local i=$1 http tcp pid
  http=$(node_http "$i")
  tcp=$(node_tcp "$i")
  pid=$(pid_of "node-$i")
  alive "$pid" && die "node $i is already running (pid $pid)"
  port_taken "$http" && die "port $http (node $i HTTP) is already in use"
  port_taken "$tcp" && die "port $tcp (node $i raw TCP) is already in use"
  [[ -f "$GATEWAY_DLL" ]] || die "$GATEWAY_DLL is missing: run with BUILD=1"
  # HAProxy (127.0.0.1) is the only proxy trusted for X-Forwarded-For (the template sets `option forwardfor`):
  # on /ws and the HTTP API the per-address cap and the logs see the client. The per-address cap stays at
  # 19000 all the same: raw TCP carries no header (PROXY protocol is not supported), so every raw TCP
  # connection through HAProxy counts as 127.0.0.1, and the local load generators all connect from
  # 127.0.0.1 anyway; a lower cap would refuse them. Lower it with NODE_ENV on a WebSocket-only run.
  # shellcheck disable=SC2086  # NODE_ENV is a list of K=V words
  (
    # Content root = the build output, so appsettings*.json are read as in a deployment (WORKDIR /app).
    cd "$(dirname "$GATEWAY_DLL")"
    exec env ASPNETCORE_ENVIRONMENT=Development DOTNET_NOLOGO=1 \
      Gateway__Auth__DevKeyFile="$DEV_KEY_FILE" \
      Gateway__Engine__Kind=redis \
      Gateway__Engine__Redis__Configuration="127.0.0.1:$REDIS_PORT" \
      Gateway__Engine__Replicas="$NODES" \
      Gateway__NodeId="node-$i" \
      Gateway__Tcp__Port="$tcp" \
      Gateway__Tcp__BindAddress=127.0.0.1 \
      Gateway__Limits__MaxConnectionsPerIp=19000 \
      Gateway__Http__ForwardedHeaders__KnownProxies__0=127.0.0.1 \
      $NODE_ENV \
      setsid dotnet "$GATEWAY_DLL" --urls "http://127.0.0.1:$http" </dev/null >>"$RUN_DIR/node-$i.log" 2>&1
  ) &
  echo $! >"$RUN_DIR/node-$i.pid"
}

wait_node_ready() {
  local i=$1 http pid deadline code
  http=$(node_http "$i")
  pid=$(pid_of "node-$i")
  deadline=$((SECONDS + READY_TIMEOUT))
  while :; do
    code=$(http_code "http://127.0.0.1:$http/health/ready")
    [[ "$code" == "200" ]] && return 0
    alive "$pid" || { tail -n 30 "$RUN_DIR/node-$i.log" >&2; die "node $i exited during start (node-$i.log above)"; }
    ((SECONDS < deadline)) || die "node $i: /health/ready on $http is '$code', not 200, after $READY_TIMEOUT s (see $RUN_DIR/node-$i.log)"
    sleep 0.3
  done
}

stop_node() { # i signal
  local i=$1 pid
  pid=$(pid_of "node-$i")
  if ! alive "$pid"; then rm -f "$RUN_DIR/node-$i.pid"; return 0; fi
  # A frozen node cannot handle SIGTERM: continue it first.
  kill -CONT "$pid" 2>/dev/null || true
  kill -TERM "$pid" 2>/dev/null || true
}

finish_node() { # i: wait for exit after SIGTERM, SIGKILL after DOWN_TIMEOUT
  local i=$1 pid
  pid=$(pid_of "node-$i")
  if alive "$pid" && ! wait_gone "$pid" "$DOWN_TIMEOUT"; then
    echo "node $i (pid $pid) still running $DOWN_TIMEOUT s after SIGTERM: SIGKILL" >&2
    kill -KILL "$pid" 2>/dev/null || true
    wait_gone "$pid" 10 || true
  fi
  rm -f "$RUN_DIR/node-$i.pid"
}

# ---------- status ----------
json_field() { # json key -> first value of "key": (string or number)
  { grep -o "\"$2\": *\(\"[^\"]*\"\|[-0-9.a-z]*\)" <<<"$1" || true; } | head -n1 | sed 's/^[^:]*: *//; s/"//g'
}

lb_states() { # prints "node-1=UP node-2=DOWN ..." for backend $1 from process 1's stats CSV
  curl -s -m 2 "http://127.0.0.1:$LB_STATS_PORT/;csv" 2>/dev/null |
    awk -F, -v be="$1" '$1 == be && $2 != "BACKEND" && $2 != "FRONTEND" { printf "%s=%s ", $2, $18 }' || true
}

status() {
  load_env
  local lb_http lb_tcp
  lb_http=$(lb_states be_ready)
  lb_tcp=$(lb_states be_tcp_ready)
  printf '%-6s %-8s %-7s %-11s %-6s %-28s %-6s %-28s %-9s %s\n' NODE PID PROC HTTP/TCP READY STATUS CONNS ENGINE LB-HTTP LB-TCP
  local i pid st ready body code stats conns engine state lbh lbt
  for ((i = 1; i <= NODES; i++)); do
    pid=$(pid_of "node-$i")
    if alive "$pid"; then
      st=$(proc_state "$pid")
      case "$st" in T | t) state=frozen ;; Z) state=dead ;; *) state=running ;; esac
    else
      state=down
      pid=${pid:--}
    fi
    body=$(curl -s -m 1 -w $'\n%{http_code}' "http://127.0.0.1:$(node_http "$i")/health/ready" 2>/dev/null || true)
    code=$(tail -n1 <<<"$body")
    [[ "$code" =~ ^[0-9]{3}$ && "$code" != "000" ]] || code="-"
    ready=$(json_field "$body" status)
    [[ -n "$ready" ]] || ready="-"
    # The readiness description says why a node is not ready (draining, connection cap, rings).
    if [[ "$ready" == "Unhealthy" ]]; then
      ready="$ready($({ grep -o '"description": *"[^"]*"' <<<"$body" || true; } | sed -n 2p | sed 's/^[^:]*: *"//; s/"$//; s/^Not ready: //; s/\\u0027/'"'"'/g' | cut -c1-30))"
    fi
    engine=$(json_field "$body" engineState)
    stats=$(curl -s -m 1 "http://127.0.0.1:$(node_http "$i")/api/v1/stats" 2>/dev/null || true)
    conns=$(json_field "$stats" connections)
    lbh=$(grep -o "node-$i=[^ ]*" <<<"$lb_http" | cut -d= -f2 || true)
    lbt=$(grep -o "node-$i=[^ ]*" <<<"$lb_tcp" | cut -d= -f2 || true)
    printf '%-6s %-8s %-7s %-11s %-6s %-28s %-6s %-28s %-9s %s\n' "node-$i" "$pid" "$state" \
      "$(node_http "$i")/$(node_tcp "$i")" "$code" "$ready" "${conns:--}" "${engine:--}" "${lbh:--}" "${lbt:--}"
  done
  local rpid rstate k hp hps=""
  rpid=$(pid_of redis)
  if alive "$rpid" && [[ "$(redis-cli -p "$REDIS_PORT" ping 2>/dev/null || true)" == "PONG" ]]; then rstate=up; elif alive "$rpid"; then rstate="not answering"; else rstate=down; fi
  echo "redis    pid ${rpid:--} port $REDIS_PORT: $rstate (data: $RUN_DIR/redis)"
  for ((k = 1; k <= LB_PROCS; k++)); do
    hp=$(pid_of "haproxy-$k")
    alive "$hp" && hps="$hps $hp" || hps="$hps ${hp:-?}(down)"
  done
  echo "haproxy  pid$hps: http 127.0.0.1:$LB_HTTP_PORT (/ws + API), tcp 127.0.0.1:$LB_TCP_PORT, stats http://127.0.0.1:$LB_STATS_PORT/ (;csv); through LB: /health/ready $(http_code "http://127.0.0.1:$LB_HTTP_PORT/health/ready")"
  echo "run dir  $RUN_DIR  (cluster.env, node-I.log, redis.log, haproxy.log (process K>1: haproxy-K.log))"
  echo "dev keys $DEV_KEY_FILE"
  echo "token:   Gateway__Auth__DevKeyFile=$DEV_KEY_FILE dotnet $GATEWAY_DLL token --user alice --subscribe 'workflow:*'"
  echo "apikey:  Gateway__Auth__DevKeyFile=$DEV_KEY_FILE dotnet $GATEWAY_DLL apikey"
}

# ---------- commands ----------
cmd_up() {
  defaults "${1:-3}"
  mkdir -p "$RUN_DIR"
  # Refuse to start over a running cluster: its PIDs would be lost.
  local f pid
  for f in "$RUN_DIR"/*.pid; do
    [[ -e "$f" ]] || continue
    pid=$(cat "$f")
    alive "$pid" && die "a cluster is already running in $RUN_DIR ($(basename "$f" .pid) pid $pid): '$0 down' first, or set ARCHMESH_CLUSTER_DIR"
    rm -f "$f"
  done
  local p ports=("$LB_HTTP_PORT" "$LB_TCP_PORT" "$REDIS_PORT") k i
  for ((k = 1; k <= LB_PROCS; k++)); do ports+=($((LB_STATS_PORT + k - 1))); done
  for ((i = 1; i <= NODES; i++)); do ports+=("$(node_http "$i")" "$(node_tcp "$i")"); done
  [[ $(printf '%s\n' "${ports[@]}" | sort | uniq -d | wc -l) -eq 0 ]] || die "port settings overlap: ${ports[*]}"
  for p in "${ports[@]}"; do
    port_taken "$p" && die "port $p is already in use (ports: ${ports[*]}; change LB_*_PORT / REDIS_PORT / NODE_BASE_PORT)"
  done
  ensure_packages
  # A failed `up` stops what it already started, so no half cluster is left behind.
  trap 'rc=$?; if ((rc != 0)); then echo "cluster.sh: up failed: stopping what was started" >&2; cmd_down >&2 || true; fi' EXIT
  if [[ "${BUILD:-1}" != "0" ]]; then
    log "dotnet build src/Gateway -c Release"
    dotnet build "$REPO/src/Gateway" -c Release -nologo -v q >"$RUN_DIR/build.log" 2>&1 ||
      { tail -n 30 "$RUN_DIR/build.log" >&2; die "build failed (full log: $RUN_DIR/build.log)"; }
  fi
  [[ -f "$GATEWAY_DLL" ]] || die "$GATEWAY_DLL is missing: build first (BUILD=1)"
  write_env
  # Logs of the previous run in this dir are kept once, as *.log.prev.
  for f in "$RUN_DIR"/*.log; do [[ -e "$f" && "$f" != "$RUN_DIR/build.log" ]] && mv -f "$f" "$f.prev"; done
  # One dev signing key + API key for every node and for `token`/`apikey`: created once here so the
  # nodes do not race to create it.
  Gateway__Auth__DevKeyFile="$DEV_KEY_FILE" ASPNETCORE_ENVIRONMENT=Development dotnet "$GATEWAY_DLL" apikey >/dev/null 2>&1 ||
    die "could not create the dev key file $DEV_KEY_FILE"
  log "redis-server on 127.0.0.1:$REDIS_PORT"
  start_redis
  log "$NODES gateway nodes"
  for ((i = 1; i <= NODES; i++)); do start_node "$i"; done
  for ((i = 1; i <= NODES; i++)); do wait_node_ready "$i"; done
  log "HAProxy x$LB_PROCS on 127.0.0.1:$LB_HTTP_PORT (HTTP + /ws) and :$LB_TCP_PORT (raw TCP)"
  start_haproxy
  trap - EXIT
  status
}

cmd_down() {
  [[ -f "$ENV_FILE" ]] || { echo "no cluster in $RUN_DIR"; return 0; }
  load_env
  local i k pid
  for ((i = 1; i <= NODES; i++)); do stop_node "$i"; done
  for ((i = 1; i <= NODES; i++)); do finish_node "$i"; done
  for ((k = 1; k <= LB_PROCS; k++)); do
    pid=$(pid_of "haproxy-$k")
    if alive "$pid"; then
      kill -TERM "$pid" 2>/dev/null || true
      wait_gone "$pid" 10 || kill -KILL "$pid" 2>/dev/null || true
    fi
    rm -f "$RUN_DIR/haproxy-$k.pid"
  done
  stop_redis
  echo "cluster in $RUN_DIR stopped (logs and Redis data kept)"
}

cmd_node() { # command i
  load_env
  check_index "${2:-}"
  local i=$2 pid
  pid=$(pid_of "node-$i")
  case "$1" in
    kill)
      alive "$pid" || die "node $i is not running"
      kill -KILL "$pid"
      wait_gone "$pid" 10 || die "node $i (pid $pid) did not die"
      echo "node $i (pid $pid) killed"
      ;;
    stop)
      alive "$pid" || { echo "node $i is not running"; rm -f "$RUN_DIR/node-$i.pid"; return 0; }
      stop_node "$i"
      finish_node "$i"
      echo "node $i (pid $pid) stopped"
      ;;
    start)
      start_node "$i"
      wait_node_ready "$i"
      echo "node $i started (pid $(pid_of "node-$i")), ready"
      ;;
    freeze)
      alive "$pid" || die "node $i is not running"
      kill -STOP "$pid"
      echo "node $i (pid $pid) frozen (SIGSTOP)"
      ;;
    thaw)
      alive "$pid" || die "node $i is not running"
      kill -CONT "$pid"
      echo "node $i (pid $pid) continued (SIGCONT)"
      ;;
  esac
}

cmd="${1:-}"
case "$cmd" in
  up) cmd_up "${2:-3}" ;;
  down) cmd_down ;;
  status) status ;;
  kill | stop | start | freeze | thaw) cmd_node "$cmd" "${2:-}" ;;
  redis-stop) load_env; stop_redis; echo "Redis stopped (data saved in $RUN_DIR/redis)" ;;
  redis-start)
    load_env
    alive "$(pid_of redis)" && die "Redis is already running (pid $(pid_of redis))"
    start_redis
    echo "Redis started (pid $(pid_of redis)), PONG"
    ;;
  render) defaults "${2:-3}"; render "${3:-1}" ;;
  *) sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
