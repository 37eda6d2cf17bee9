# Sourced by tests/it/dosim_*.sh after tests/it/lib.sh: start dosim on a free port, talk to it
# with the curl command, wait for droplets, and make sure nothing it started outlives the test
# (agents, containers, address locks).

DOSIM_TOKEN="dop_v1_$(openssl rand -hex 32)"
DOSIM_IDS=() # every sim id started, for the leak checks at the end
DOSIM_IP_DIR=${DOSIM_IP_DIR:-/tmp/dosim-ips}
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export ASAN_OPTIONS

# dosim_start ID [flags...]: sets ${ID}_URL ${ID}_PID ${ID}_LOG ${ID}_SIMID ${ID}_STATE and
# selects it (DURL). Without --state-dir among the flags, dosim uses a temporary one.
dosim_start() {
    local id=$1 port dir sid
    shift
    port=$(free_port)
    dir="$T/dosim-$id"
    mkdir -p "$dir"
    "${DP_BIN:?}/dosim" --listen "127.0.0.1:$port" "$@" >>"$dir/log" 2>&1 &
    local pid=$!
    printf -v "${id}_PID" '%s' "$pid"
    printf -v "${id}_LOG" '%s' "$dir/log"
    printf -v "${id}_URL" '%s' "http://127.0.0.1:$port"
    DOSIM_ALL_PIDS+=("$pid")
    if ! wait_for 20 grep -q 'serving on' "$dir/log"; then
        cat "$dir/log" >&2
        fail "dosim $id did not start"
        exit 1
    fi
    sid=$(grep -o 'sim_id=[0-9a-f]*' "$dir/log" | tail -1 | cut -d= -f2)
    printf -v "${id}_SIMID" '%s' "$sid"
    printf -v "${id}_STATE" '%s' "$(grep -o 'state_dir=[^ ]*' "$dir/log" | tail -1 | cut -d= -f2)"
    DOSIM_IDS+=("$sid")
    dosim_use "$id"
}

dosim_use() {
    local u="${1}_URL"
    DURL=${!u}
}

# dosim_stop ID: SIGTERM, expect exit 0 within 60 s and a clean log.
dosim_stop() {
    local p="${1}_PID" l="${1}_LOG" rc=0
    local pid=${!p}
    kill -TERM "$pid" 2>/dev/null || return 0
    wait "$pid" || rc=$?
    expect_eq "$rc" 0 "dosim $1 exit status after SIGTERM"
    check_log_clean "${!l}"
}

# api METHOD PATH [curl args...]: a /v2 call with the token; sets STATUS, BODY and HDRS.
api() {
    local method=$1 path=$2 out
    shift 2
    out=$(curl -sS --max-time 120 -X "$method" -H "Authorization: Bearer $DOSIM_TOKEN" \
        -D "$T/hdrs" -w '\n%{http_code}' "$@" "$DURL$path") || true
    STATUS=${out##*$'\n'}
    BODY=${out%$'\n'*}
    HDRS=$(tr -d '\r' <"$T/hdrs" 2>/dev/null || true)
}

# sim METHOD PATH [curl args...]: an admin call (/_sim), no token.
sim() {
    local method=$1 path=$2 out
    shift 2
    out=$(curl -sS --max-time 60 -X "$method" -w '\n%{http_code}' "$@" "$DURL$path") || true
    STATUS=${out##*$'\n'}
    BODY=${out%$'\n'*}
}

jqb() { printf '%s' "$BODY" | jq -r "$@"; }

# droplet_field ID JQ: a field of GET /v2/droplets/ID.
droplet_field() {
    curl -s -H "Authorization: Bearer $DOSIM_TOKEN" "$DURL/v2/droplets/$1" | jq -r ".droplet$2"
}

droplet_ip() {
    droplet_field "$1" '.networks.v4[] | select(.type == "public") | .ip_address'
}

status_is() { # ID STATUS
    test "$(droplet_field "$1" .status)" = "$2"
}

# wait_status ID STATUS SECONDS
wait_status() {
    wait_for "$3" status_is "$1" "$2"
}

# wait_ci ID SECONDS: until the droplet's user-data has run.
wait_ci() {
    wait_for "$2" sh -c "curl -s '$DURL/_sim/state' | jq -e '.droplets[] | select(.id == $1) | .cloud_init.status == \"done\"'"
}

agent_state() { # ID FIELD
    curl -s "$DURL/_sim/state" | jq -r ".droplets[] | select(.id == $1) | .agent.$2"
}

# wait_action URL_PATH SECONDS: until the action at that path is completed.
wait_action() {
    wait_for "$2" sh -c "curl -s -H 'Authorization: Bearer $DOSIM_TOKEN' '$DURL$1' | jq -e '.action.status == \"completed\"'"
}

# user_data_key KEY: provision-style user-data writing the agent key and restarting it.
user_data_key() {
    printf '#cloud-config\nwrite_files:\n  - path: /etc/node-agent/key\n    owner: root:root\n    permissions: "0600"\n    content: %s\nruncmd:\n  - [systemctl, restart, node-agent]\n' "$1"
}

# create_body NAME IMAGE [USER_DATA] [extra jq args]: a POST /v2/droplets body.
create_body() {
    jq -nc --arg n "$1" --argjson img "$2" --arg ud "${3:-}" \
        '{name:$n, region:"nyc1", size:"s-1vcpu-1gb", image:$img, ssh_keys:[], backups:false,
          ipv6:false, private_networking:false, monitoring:false, tags:["dosim-it"]}
         + (if $ud == "" then {} else {user_data:$ud} end)'
}

# Agents (by their namespace) and managed containers of every dosim this test started.
dosim_leftovers() {
    local sid
    for sid in "${DOSIM_IDS[@]}"; do
        pgrep -f -- "--namespace do-$sid-" || true
        docker ps -a --filter label=dp.managed=1 --format '{{.ID}} {{.Label "dp.namespace"}}' |
            awk -v p="do-$sid-" 'index($2, p) == 1 {print $1}'
    done
}

# Sanitizer reports in any droplet agent log under a state dir.
check_agent_logs() { # state_dir
    local f
    for f in "$1"/droplets/*/agent.log; do
        [ -f "$f" ] && check_log_clean "$f"
    done
    return 0
}

# contract_check RECORDING MISMATCHES [GREP]: runs the contract checker (tests/dosim/contract.py,
# when it is there) on a --record file and expects that many mismatches, all matching GREP.
contract_check() {
    local checker=$DP_SRC/tests/dosim/contract.py out
    [ -f "$checker" ] || return 0
    out=$(/usr/bin/python3 "$checker" "$1" 2>&1 || true)
    expect_match "$out" $'(^|\n)contract: [0-9]+ exchanges' "contract checker ran"
    expect_eq "$(grep -c '^MISMATCH' <<<"$out" || true)" "$2" "contract mismatches ($out)"
    if [ -n "${3:-}" ]; then
        expect_eq "$(grep '^MISMATCH' <<<"$out" | grep -cE "$3" || true)" "$2" "contract: only $3"
    fi
}

# Fallback when a test fails half-way: stop every dosim, then whatever they left.
dosim_cleanup() {
    local pid sid
    for pid in "${DOSIM_ALL_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    for sid in "${DOSIM_IDS[@]}"; do
        pgrep -f -- "--namespace do-$sid-" | xargs -r kill -TERM 2>/dev/null
        docker ps -a --filter label=dp.managed=1 --format '{{.ID}} {{.Label "dp.namespace"}}' |
            awk -v p="do-$sid-" 'index($2, p) == 1 {print $1}' | xargs -r docker rm -f >/dev/null 2>&1
    done
    return 0
}
DOSIM_ALL_PIDS=()
IT_EXTRA_CLEANUP=dosim_cleanup
