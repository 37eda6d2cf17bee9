# Sourced by controller tests after tests/it/lib.sh: the simulated cloud (with a base snapshot
# carrying this build's agent), a local registry with demo images, the controller, and helpers
# to log in, call the API and follow a deploy's events. A library, not a test (tests/CMakeLists.txt
# leaves *_lib.sh out).
. "$DP_SRC/tests/world/registry.sh"

SIM_PID=
CTL_PID=
DO_TOKEN="dop_v1_$(openssl rand -hex 32)"
ADMIN_PW="pw-$(openssl rand -hex 8)"

ctl_cleanup() {
    [ -n "$CTL_PID" ] && kill -TERM "$CTL_PID" 2>/dev/null && wait "$CTL_PID" 2>/dev/null
    if [ -n "$SIM_PID" ]; then
        local sim_id
        sim_id=$(curl -s --max-time 5 "$SIM_URL/_sim/state" | jq -r .sim_id 2>/dev/null)
        kill -TERM "$SIM_PID" 2>/dev/null && wait "$SIM_PID" 2>/dev/null
        # dosim removes its droplets' containers at exit; this only catches a crash of it.
        [ -n "$sim_id" ] && docker ps -a --filter "label=dp.managed=1" --format '{{.ID}} {{.Labels}}' |
            awk -v s="dp.namespace=do-$sim_id" 'index($0, s) {print $1}' | xargs -r docker rm -f >/dev/null 2>&1
    fi
    [ -f "$T/ctl.log" ] && check_log_clean "$T/ctl.log"
}
IT_EXTRA_CLEANUP=ctl_cleanup

# sim_start [flags]: the simulated cloud with a ready base snapshot; sets SIM_URL.
sim_start() {
    local port
    port=$(free_port)
    "$DP_BIN/dosim" --listen "127.0.0.1:$port" --droplet-limit 100 \
        --seed-snapshot "base-docker-debian12-agent-$(cat "$DP_SRC/VERSION")" "$@" >"$T/dosim.log" 2>&1 &
    SIM_PID=$!
    SIM_URL="http://127.0.0.1:$port"
    wait_for 30 curl -sf "$SIM_URL/_sim/state" || { tail -20 "$T/dosim.log"; fail "dosim did not start"; exit 1; }
}

# ctl_start [flags]: the controller on the simulator; sets CTL_URL. Admin's password is ADMIN_PW.
ctl_start() {
    local port
    CTL_PORT=${CTL_PORT:-$(free_port)}
    port=$CTL_PORT
    mkdir -p "$T/spool"
    DO_API_URL=$SIM_URL DO_TOKEN=$DO_TOKEN CONTROLLER_ADMIN_PASSWORD=$ADMIN_PW \
        "$DP_BIN/controller" --listen "127.0.0.1:$port" --db "$T/ctl.db" --spool-dir "$T/spool" \
        --base-image-static "$TEST_IMAGE" "$@" >>"$T/ctl.log" 2>&1 &
    CTL_PID=$!
    CTL_URL="http://127.0.0.1:$port"
    wait_for 30 curl -sf "$CTL_URL/api/v1/version" || { tail -20 "$T/ctl.log"; fail "controller did not start"; exit 1; }
}

ctl_login() {
    TOKEN=$(curl -s -d "{\"username\":\"admin\",\"password\":\"$ADMIN_PW\"}" "$CTL_URL/api/v1/auth/login" | jq -r .token)
    [ -n "$TOKEN" ] && [ "$TOKEN" != null ] || { fail "login"; exit 1; }
}

# api METHOD PATH [curl args...]: sets STATUS and BODY.
api() {
    local method=$1 path=$2 out
    shift 2
    out=$(curl -sS --max-time "${API_TIMEOUT:-120}" -X "$method" -H "Authorization: Bearer $TOKEN" \
        -w '\n%{http_code}' "$@" "$CTL_URL$path") || true
    STATUS=${out##*$'\n'}
    BODY=${out%$'\n'*}
}

# deploy JSON [name-of-log]: POST /infra/deploy and read the SSE stream to its end. Sets STATUS,
# DONE (the done event, or "" when none came) and DEPLOY_LOG (the raw stream, in $T).
deploy() {
    local log=$T/deploy-${2:-$RANDOM}.sse
    DEPLOY_LOG=$log
    STATUS=$(curl -sN --max-time "${DEPLOY_TIMEOUT:-300}" -H "Authorization: Bearer $TOKEN" \
        -o "$log" -w '%{http_code}' -d "$1" "$CTL_URL/api/v1/infra/deploy") || true
    DONE=$(sed -n 's/^data: //p' "$log" | jq -c 'select(.type=="done")' 2>/dev/null | tail -n 1)
}

# The events of a stream file, one JSON object a line.
events_of() { sed -n 's/^data: //p' "$1"; }

# servers_up N: provisions N servers and waits until they are active with addresses; sets
# SERVER_IPS (space-separated).
servers_up() {
    api POST /api/v1/infra/servers/provision -d "{\"count\":$1}"
    expect_status 202 "provision $1 server(s)"
    local i
    for ((i = 0; i < 150; i++)); do
        api GET /api/v1/infra/servers
        SERVER_IPS=$(printf '%s' "$BODY" | jq -r '.servers[] | select(.status=="active" and .ip!="") | .ip' | sort | tr '\n' ' ')
        [ "$(wc -w <<<"$SERVER_IPS")" -ge "$1" ] && return 0
        sleep 0.2
    done
    fail "servers did not come up: $BODY"
    exit 1
}

# ips_json "a b c" -> ["a","b","c"]
ips_json() { printf '%s\n' $1 | jq -R . | jq -sc .; }

# demo_image NAME CONTENT: builds an image serving CONTENT on 8080 and pushes it to the
# registry at REG_ADDR; echoes its reference.
demo_image() {
    local dir=$T/img-$1
    mkdir -p "$dir/www"
    printf '%s\n' "$2" >"$dir/www/index.html"
    printf 'FROM %s\nCOPY www /www\nCMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n' "$TEST_IMAGE" >"$dir/Dockerfile"
    docker build -q -t "$REG_ADDR/$NS/$1:1" "$dir" >/dev/null 2>&1 || { fail "build demo image"; return 1; }
    docker push "$REG_ADDR/$NS/$1:1" >/dev/null || { fail "push demo image"; return 1; }
    docker rmi "$REG_ADDR/$NS/$1:1" >/dev/null 2>&1
    echo "$REG_ADDR/$NS/$1:1"
}

# app_answers IP PORT EXPECTED: waits for the app to serve EXPECTED.
app_answers() {
    local i
    for ((i = 0; i < 50; i++)); do
        [ "$(curl -s --max-time 2 "http://$1:$2/")" = "$3" ] && return 0
        sleep 0.2
    done
    return 1
}
