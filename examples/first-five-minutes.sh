#!/usr/bin/env bash
# Runs the README's "First five minutes" exactly as written, so the README cannot drift from what works:
# every ```bash block of that section (terminal 1: the gateway, terminal 2: the watcher, terminal 3: the
# publishes, then the Production block) is read from README.md and executed line by line. Two things differ
# from a person at three terminals, both set through the documented knobs rather than by editing commands:
#   - ports: free ones instead of 5080/5081 (ASPNETCORE_URLS and Gateway__Tcp__Port, as the README says,
#     and the same substitution in the commands' URLs), so it runs next to anything else;
#   - the Development key file is a throwaway one (Gateway__Auth__DevKeyFile), not ~/.archmesh/dev-keys.json.
# A line marked "# keeps running" is started in the background; it and every process it started are
# stopped by PID at the end. Checks: the watcher printed the workflow update, the notification and the
# broadcast; Production starts with the generated keys, accepts the generated API key and a token from
# `gateway token`, and refuses the dev API key. Also checks that docs/clients.md's "Run the example"
# commands are the README's. Usage: bash examples/first-five-minutes.sh   (from anywhere; needs .NET, curl)
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
work=$(mktemp -d /tmp/first-five-minutes.XXXXXX)
started=()

# Every process started from a background line: `dotnet run` starts the application as a child that may
# leave the process group, so the whole tree is collected by parent PID, stopped with TERM (the gateway
# drains), and killed if still there after 60 s.
tree() { local pid; for pid in "$@"; do echo "$pid"; tree $(ps -o pid= --ppid "$pid" 2>/dev/null); done; }
stop_all() {
  local pids
  pids=$(tree "${started[@]}")
  [[ -n $pids ]] || return 0
  kill -TERM $pids 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 $pids 2>/dev/null || break; sleep 0.2; done
  kill -KILL $pids 2>/dev/null || true
  started=()
}
fail() {
  echo "FAILED: $*" >&2
  for log in "$work"/*.log; do [[ -f $log ]] && { echo "--- $log" >&2; tail -n 40 "$log" >&2; }; done
  exit 1
}
trap 'stop_all; rm -rf "$work"' EXIT

free_port() { # a port nothing listens on (bash only)
  local port
  while :; do
    port=$((20000 + RANDOM % 30000))
    [[ $port == "${1:-}" ]] && continue
    (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null || { echo "$port"; return; }
  done
}
HTTP_PORT=$(free_port)
TCP_PORT=$(free_port "$HTTP_PORT")
export ASPNETCORE_URLS="http://localhost:$HTTP_PORT" Gateway__Tcp__Port=$TCP_PORT
export Gateway__Auth__DevKeyFile="$work/dev-keys.json"
unset ASPNETCORE_ENVIRONMENT DOTNET_ENVIRONMENT
echo "== ports: HTTP $HTTP_PORT, TCP $TCP_PORT; work dir $work"

# The ```bash blocks of a section ("## Title" up to the next heading of level 2 or 3), separated by NUL.
blocks() {
  awk -v title="$2" '
    $0 == title { inside = 1; next }
    inside && /^##/ { exit }
    inside && /^```bash$/ { block = 1; next }
    inside && block && /^```$/ { block = 0; printf "%c", 0; next }
    inside && block { print }
  ' "$1"
}
readarray -d '' steps < <(blocks README.md "## First five minutes")
readarray -d '' production < <(blocks README.md "### Production")
(( ${#steps[@]} == 3 )) || fail "README 'First five minutes' should have 3 bash blocks (terminals 1-3), found ${#steps[@]}"
(( ${#production[@]} == 1 )) || fail "README 'Production' should have 1 bash block, found ${#production[@]}"

wait_for() { # description, seconds, command...
  local what=$1 seconds=$2; shift 2
  for _ in $(seq 1 $((seconds * 2))); do "$@" && return 0; sleep 0.5; done
  fail "timed out after ${seconds}s waiting for $what"
}
blank_or_comment='^[[:space:]]*(#.*)?$'
gateway_up() { curl -sf "http://localhost:$HTTP_PORT/health/live" >/dev/null; }

# Runs one block: lines joined at trailing backslashes, ports substituted, each line evaluated in this
# shell (set -a: assignments are exported, as a person's later lines in the same terminal see them).
run_block() {
  local name=$1 text=$2 line="" raw
  text=${text//localhost:5080/localhost:$HTTP_PORT}
  text=${text//localhost:5081/localhost:$TCP_PORT}
  while IFS= read -r raw; do
    if [[ $raw == *\\ ]]; then line+="${raw%\\} "; continue; fi
    line+=$raw
    if [[ $line =~ $blank_or_comment ]]; then line=""; continue; fi
    echo "\$ $line"
    if [[ $line == *"# keeps running"* ]]; then
      local log="$work/$name.log"
      bash -c "$line" >"$log" 2>&1 < /dev/null &
      started+=($!)
      case $line in
        *WorkflowWatcher*) wait_for "the watcher to subscribe" 600 grep -q "^watching " "$log" ;;
        *src/Gateway*) wait_for "the gateway to answer /health/live" 600 gateway_up ;;
      esac
    else
      set -a; eval "$line" >>"$work/$name.out" 2>>"$work/$name.err" || fail "$name: $line"; set +a
    fi
    line=""
  done <<< "$text"
}

echo "== terminal 1"; run_block terminal1 "${steps[0]}"
echo "== terminal 2"; run_block terminal2 "${steps[1]}"
echo "== terminal 3"; run_block terminal3 "${steps[2]}"
[[ $(grep -c '"offset":' "$work/terminal3.out") == 3 ]] || fail "three publish answers expected: $(cat "$work/terminal3.out")"

watcher=$work/terminal2.log
wait_for "the watcher to print all three messages" 60 bash -c "grep -q '^\[update\] .*\"progress\":0.4' '$watcher' && grep -q '^\[notification\] .*Build finished' '$watcher' && grep -q '^\[broadcast\] .*hello all' '$watcher'"
grep '^\[' "$watcher"
stop_all
echo "== Development flow: OK"

echo "== production"
DEV_KEY=$KEY
port_free() { ! (exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT") 2>/dev/null; }
wait_for "the Development gateway to release port $HTTP_PORT" 60 port_free
run_block production "${production[0]}"
gw=src/Gateway/bin/Debug/net10.0/gateway
status() { curl -s -o /dev/null -w '%{http_code}' "http://localhost:$HTTP_PORT/api/v1/broadcast" -H "X-Api-Key: $1" -H 'Content-Type: application/json' -d '{"payload":"prod"}'; }
[[ $(status "$API_KEY") == 200 ]] || fail "the generated API key was refused"
[[ $(status "$DEV_KEY") == 401 ]] || fail "Production accepted the dev API key"
PROD_TOKEN=$($gw token --user alice --subscribe 'workflow:*')
clients/dotnet-examples/WorkflowWatcher/bin/Debug/net10.0/workflow-watcher --url "ws://localhost:$HTTP_PORT/ws" --token "$PROD_TOKEN" --workflow 7f3a >"$work/prod-watcher.log" 2>&1 < /dev/null &
started+=($!)
wait_for "a watcher with a token from 'gateway token' to connect in Production" 60 grep -q "^watching " "$work/prod-watcher.log"
stop_all
echo "== Production flow: OK"

echo "== docs/clients.md 'Run the example' uses the README's commands"
readme_lines=$(printf '%s\n' "${steps[@]}")
while IFS= read -r line; do
  [[ $line =~ $blank_or_comment ]] && continue
  grep -qxF -- "$line" <<< "$readme_lines" || fail "docs/clients.md line not in the README's first five minutes: $line"
done < <(awk '/^Run the example/ { go = 1 } go && /^```bash$/ { inside = 1; next } inside && /^```$/ { exit } inside { print }' docs/clients.md)
echo "== first five minutes: all OK"
