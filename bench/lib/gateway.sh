# Shared by bench/compare.sh, bench/gcdump.sh and bench/soak.sh (sourced, not run): the benchmark gateway's
# command line and small process helpers. Needs ROOT set to the repository root. Loopback only.

CONFIG=${CONFIG:-Release}
BIN_LT="$ROOT/bench/LoadTest/bin/$CONFIG/net10.0/LoadTest"
BIN_GW="$ROOT/src/Gateway/bin/$CONFIG/net10.0/gateway"

# Credentials of the benchmark gateway (loopback only; not a secret).
JWT_SECRET="YXJjaG1lc2gtYmVuY2gtc2VjcmV0LWtleS0wMTIzNDU2Nzg5YWJjZGVm"
API_KEY="bench-api-key"
API_KEY_SHA256="$(printf %s "$API_KEY" | sha256sum | cut -d' ' -f1)"

# $1 WebSocket transport (raw | aspnet), $2 HTTP/WebSocket port, $3 raw TCP port; extra arguments are appended.
# The transport goes in as the environment variable Gateway__WebSocket__Transport (a tree that does not know the
# setting ignores it). Limits are raised for the benchmark (one publisher connection sends far more than a client's
# default frame rate; many connections share 127.0.0.x source addresses).
gateway_cmd() {
  local transport="$1" port="$2" tcp_port="$3"; shift 3
  echo env ASPNETCORE_ENVIRONMENT=Production DOTNET_gcServer=0 Gateway__WebSocket__Transport="$transport" "$BIN_GW" --urls "http://127.0.0.1:$port" \
    --Gateway:NodeId=bench --Gateway:Tcp:Enabled=true --Gateway:Tcp:BindAddress=127.0.0.1 --Gateway:Tcp:Port="$tcp_port" \
    --Gateway:Auth:SigningKeys:0:Id=bench --Gateway:Auth:SigningKeys:0:Algorithm=HS256 --Gateway:Auth:SigningKeys:0:Secret=$JWT_SECRET \
    --Gateway:Auth:ApiKeys:0:Name=bench --Gateway:Auth:ApiKeys:0:Sha256=$API_KEY_SHA256 \
    --Gateway:Limits:MaxConnectionsPerIp=19000 --Gateway:Limits:FramesPerSecond=10000000 --Gateway:Limits:FrameBurst=10000000 \
    --Gateway:Limits:BytesPerSecond=1000000000 --Gateway:Limits:ByteBurst=1000000000 \
    --Logging:LogLevel:Default=Warning --Serilog:MinimumLevel:Default=Warning "$@"
}

# True when something accepts TCP connections on 127.0.0.1:$1.
listening() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# Waits until pid $1 listens on port $2 (30 s); 1 if it exited or did not listen.
wait_listening() {
  local pid="$1" port="$2"
  for _ in $(seq 1 300); do
    listening "$port" && return 0
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.1
  done
  return 1
}

# Stops one process this script started, by pid: TERM, then KILL after 10 s.
stop_pid() {
  local pid="$1"; [[ -z "$pid" ]] && return 0
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
