# Library for integration tests: start the real agent on a free loopback port, drive it with
# the curl command (as a PowerShell user drives curl.exe), assert, and clean up everything the
# test started. Source it, then call it_init NAME.
set -euo pipefail
. "${DP_SRC:?}/tests/world/common.sh"

IT_CHECKS=0
IT_FAILS=0
IT_AGENTS=()
IT_PIDS=()
IT_EXTRA_PIDS=() # helper servers (registry, git) stopped at the end

it_init() {
    IT_NAME=$1
    T=$(mktemp -d "/tmp/dp-it.$IT_NAME.XXXXXX")
    # Namespaces: lowercase letters, digits and '-', at most 32 characters.
    NS="t-$(echo "$IT_NAME" | tr -c 'a-z0-9\n' '-' | cut -c1-20)-$RANDOM"
    trap it_cleanup EXIT
    trap 'exit 130' INT TERM
}

fail() {
    IT_FAILS=$((IT_FAILS + 1))
    echo "FAIL: $*" >&2
}

ok() {
    IT_CHECKS=$((IT_CHECKS + 1))
}

expect_eq() { # actual expected message
    IT_CHECKS=$((IT_CHECKS + 1))
    if [ "$1" != "$2" ]; then
        fail "$3: got '$1', expected '$2'"
    fi
}

expect_match() { # text regex message
    IT_CHECKS=$((IT_CHECKS + 1))
    if ! [[ $1 =~ $2 ]]; then
        fail "$3: '$1' does not match /$2/"
    fi
}

expect_no_match() { # text regex message
    IT_CHECKS=$((IT_CHECKS + 1))
    if [[ $1 =~ $2 ]]; then
        fail "$3: '$1' matches /$2/"
    fi
}

# JSON field of BODY (jq path) equals a value.
expect_json() { # jq-path expected message
    expect_eq "$(printf '%s' "$BODY" | jq -r "$1" 2>/dev/null)" "$2" "$3"
}

expect_status() { # code message
    expect_eq "$STATUS" "$1" "$2 (status; body: ${BODY:0:300})"
}

free_port() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# wait_for SECONDS COMMAND...: retries the command every 0.2 s until it succeeds.
wait_for() {
    local limit=$1 i
    shift
    for ((i = 0; i < limit * 5; i++)); do
        "$@" >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    return 1
}

# agent_start ID [flags...]: starts node-agent ID with its own key, data root and port.
# Sets ${ID}_URL ${ID}_KEY ${ID}_PID ${ID}_LOG ${ID}_PORT ${ID}_NS; selects it for req/acurl.
agent_start() {
    local id=$1 port key dir ns scheme=http
    shift
    port=$(free_port)
    dir="$T/agent-$id"
    ns="${AGENT_NS:-$NS}"
    mkdir -p "$dir/data"
    key=$(openssl rand -hex 16)
    printf '%s\n' "$key" >"$dir/key"
    chmod 600 "$dir/key"
    case " $* " in *" --tls-cert "*) scheme=https ;; esac
    "${DP_BIN:?}/node-agent" --listen "127.0.0.1:$port" --key-file "$dir/key" \
        --data-root "$dir/data" --namespace "$ns" --publish-ip 127.0.0.1 "$@" \
        >"$dir/log" 2>&1 &
    local pid=$!
    IT_AGENTS+=("$id")
    IT_PIDS+=("$pid")
    printf -v "${id}_URL" '%s' "$scheme://127.0.0.1:$port"
    printf -v "${id}_KEY" '%s' "$key"
    printf -v "${id}_PID" '%s' "$pid"
    printf -v "${id}_LOG" '%s' "$dir/log"
    printf -v "${id}_PORT" '%s' "$port"
    printf -v "${id}_NS" '%s' "$ns"
    printf -v "${id}_DIR" '%s' "$dir"
    use_agent "$id"
    if ! wait_for 15 grep -q 'serving on' "$dir/log"; then
        cat "$dir/log" >&2
        fail "agent $id did not start"
        exit 1
    fi
}

use_agent() {
    local u="${1}_URL" k="${1}_KEY"
    URL=${!u}
    KEY=${!k}
}

# Sanitizer reports in a log fail the test.
check_log_clean() { # log
    if grep -qE 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$1"; then
        fail "sanitizer report in $1"
        grep -E -A20 'ERROR: AddressSanitizer|ERROR: LeakSanitizer|runtime error:' "$1" | head -60 >&2
    fi
}

# agent_stop ID: SIGTERM, expect a clean exit within 15 s.
agent_stop() {
    local id=$1 p="${1}_PID" l="${1}_LOG" rc=0
    local pid=${!p}
    kill -TERM "$pid" 2>/dev/null || return 0
    wait "$pid" || rc=$?
    expect_eq "$rc" 0 "agent $id exit status after SIGTERM"
    check_log_clean "${!l}"
}

# req METHOD PATH [curl args...]: sets STATUS and BODY; sends the selected agent's key.
req() {
    local method=$1 path=$2 out
    shift 2
    out=$(curl -sS --max-time "${REQ_TIMEOUT:-120}" -X "$method" -H "X-API-Key: $KEY" \
        -w '\n%{http_code}' "$@" "$URL$path") || true
    STATUS=${out##*$'\n'}
    BODY=${out%$'\n'*}
}

# req_noauth METHOD PATH [curl args...]: like req without the key.
req_noauth() {
    local method=$1 path=$2 out
    shift 2
    out=$(curl -sS --max-time 30 -X "$method" -w '\n%{http_code}' "$@" "$URL$path") || true
    STATUS=${out##*$'\n'}
    BODY=${out%$'\n'*}
}

# Last NDJSON event of BODY.
last_event() {
    printf '%s\n' "$BODY" | grep -v '^$' | tail -n 1
}

it_cleanup() {
    local rc=$? i
    set +e
    for i in "${!IT_PIDS[@]}"; do
        if kill -0 "${IT_PIDS[$i]}" 2>/dev/null; then
            kill -TERM "${IT_PIDS[$i]}" 2>/dev/null
            wait "${IT_PIDS[$i]}" 2>/dev/null
        fi
        check_log_clean "$T/agent-${IT_AGENTS[$i]}/log"
    done
    for i in "${IT_EXTRA_PIDS[@]}"; do
        kill -TERM "$i" 2>/dev/null && wait "$i" 2>/dev/null
    done
    [ -n "${IT_EXTRA_CLEANUP:-}" ] && eval "$IT_EXTRA_CLEANUP"
    # Containers and images this test made, found by its namespace.
    docker ps -aq --filter "label=dp.namespace=$NS" | xargs -r docker rm -f >/dev/null 2>&1
    docker ps -aq --filter "name=^${NS}" | xargs -r docker rm -f >/dev/null 2>&1
    docker images --format '{{.Repository}}:{{.Tag}}' | grep "^$NS" | xargs -r docker rmi -f >/dev/null 2>&1
    docker volume ls -q | grep "^${NS}_" | xargs -r docker volume rm -f >/dev/null 2>&1
    if [ "$IT_FAILS" -gt 0 ] || [ "$rc" -ne 0 ]; then
        echo "$IT_NAME: $IT_FAILS of $IT_CHECKS checks failed (exit $rc); logs kept in $T" >&2
        for i in "${IT_AGENTS[@]}"; do
            echo "--- agent $i log (tail) ---" >&2
            tail -30 "$T/agent-$i/log" >&2
        done
        exit 1
    fi
    echo "$IT_NAME: $IT_CHECKS checks passed"
    rm -rf "$T"
    exit 0
}
