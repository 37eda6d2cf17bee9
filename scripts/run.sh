#!/usr/bin/env bash
# The run command: installs what is needed, builds (Release, into build-release/), makes sure a
# Docker engine answers, and starts the platform on loopback:
#   - without DO_TOKEN: dosim, the simulated DigitalOcean, with a ready base snapshot (its
#     servers run real node agents on 127.x addresses against the local Docker engine), and a
#     local registry holding a demo image those servers can pull;
#   - with DO_TOKEN: the real DigitalOcean API (DO_API_URL is honoured too);
#   - the controller (dashboard and API) on 127.0.0.1:8080, or a free port when that is taken.
# It prints the admin login and curl lines that log in and deploy the demo image to a new server.
# State (database, admin password, logs) is kept in .run/; Ctrl-C stops everything it started.
#
# Options:
#   --port N     the controller's port (default 8080; a free one is used when N is taken)
#   -- ARGS...   more controller flags, e.g. -- --public-url https://deploy.example.com
#   -h, --help   this text
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PORT=8080
CTL_EXTRA=()
while [ $# -gt 0 ]; do
    case $1 in
    --port)
        if ! [[ ${2:-} =~ ^[0-9]+$ ]] || [ "$2" -lt 1 ] || [ "$2" -gt 65535 ]; then
            echo "run: --port needs a number from 1 to 65535" >&2
            exit 2
        fi
        PORT=$2
        shift 2
        ;;
    --) shift; CTL_EXTRA=("$@"); break ;;
    -h | --help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) echo "run: unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
done

STATE=$ROOT/.run
VERSION=$(cat VERSION)
DEMO_BASE=demo/busybox:1
CTL_PID='' SIM_PID='' REG_PID='' SIM_ID=''

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# port_taken PORT: something listens on 127.0.0.1:PORT or on every address (other 127.x do not count).
port_taken() {
    ! python3 -c 'import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))' "$1" 2>/dev/null
}
# wait_up SECONDS URL [curl args]: until URL answers 2xx.
wait_up() {
    local t=$1 i
    shift
    for ((i = 0; i < t * 5; i++)); do
        curl -sf --max-time 2 -o /dev/null "$@" && return 0
        sleep 0.2
    done
    return 1
}
# stop PID NAME: SIGTERM, SIGKILL after 30 s; true when it ended by itself.
# shellcheck disable=SC2317 # stop and cleanup run from the EXIT trap
stop() {
    local pid=$1 i
    [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 300; i++)); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }
        sleep 0.1
    done
    echo "run: $2 did not stop within 30 s; killing it" >&2
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
    return 1
}
# shellcheck disable=SC2317
cleanup() {
    trap '' INT TERM
    trap - EXIT
    [ -n "$CTL_PID$SIM_PID$REG_PID" ] && echo && echo "run: stopping"
    stop "$CTL_PID" controller || true
    # dosim stops its droplets' agents and removes their containers as it exits.
    if ! stop "$SIM_PID" dosim && [ -n "$SIM_ID" ]; then
        docker ps -aq --filter label=dp.managed=1 --filter "label=dp.namespace" \
            --format '{{.ID}} {{.Labels}}' | awk -v s="dp.namespace=do-$SIM_ID" 'index($0, s) {print $1}' |
            xargs -r docker rm -f >/dev/null 2>&1 || true
    fi
    stop "$REG_PID" registry || true
    [ -n "$CTL_PID$SIM_PID$REG_PID" ] && echo "run: stopped (state kept in $STATE)"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

bash scripts/deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j"$(nproc)" >/dev/null
echo "run: built $VERSION (build-release/)"
BIN=$ROOT/build-release/bin

mkdir -p "$STATE/spool"
chmod 700 "$STATE"
# Docker and a small local base image (nothing is pulled from the internet).
DP_WORLD=$STATE/world TEST_IMAGE=$DEMO_BASE bash tests/world/up.sh >/dev/null
echo 0 >"$STATE/world/users" # the demo keeps its world; nothing tears it down

# admin's password, made once: the controller sets it when it makes the database, so a database
# from before the password file is set aside.
if [ ! -s "$STATE/admin-password" ]; then
    (umask 077 && openssl rand -hex 12 >"$STATE/admin-password")
    if [ -e "$STATE/controller.db" ]; then
        old=$STATE/controller.db.old-$(date +%s)
        mv "$STATE/controller.db" "$old"
        rm -f "$STATE/controller.db-wal" "$STATE/controller.db-shm"
        echo "run: .run/controller.db predates .run/admin-password; set it aside as $old"
    fi
fi
ADMIN_PW=$(cat "$STATE/admin-password")

if [ -z "${DO_TOKEN:-}" ]; then
    SIMULATED=1
    (
        umask 077
        [ -s "$STATE/do-token" ] || echo "dop_v1_$(openssl rand -hex 32)" >"$STATE/do-token"
    )
    DO_TOKEN=$(cat "$STATE/do-token")
    # The simulated cloud: a fresh one each run (its droplets and their containers go when it
    # exits), with a ready base snapshot carrying this build's agent.
    sim_port=$(free_port)
    SNAP_NAME=base-docker-debian12-agent-$VERSION
    "$BIN/dosim" --listen "127.0.0.1:$sim_port" --seed-snapshot "$SNAP_NAME" >"$STATE/dosim.log" 2>&1 &
    SIM_PID=$!
    DO_API_URL=http://127.0.0.1:$sim_port
    wait_up 30 "$DO_API_URL/_sim/state" || { tail -20 "$STATE/dosim.log"; echo "run: dosim did not start" >&2; exit 1; }
    SIM_ID=$(curl -s "$DO_API_URL/_sim/state" | jq -r .sim_id)
    SNAP_ID=$(curl -s -H "Authorization: Bearer $DO_TOKEN" "$DO_API_URL/v2/images?private=true" |
        jq -r --arg n "$SNAP_NAME" '.images[] | select(.name == $n) | .id')
    REGION=nyc1
    SIZE=s-1vcpu-1gb
    echo "run: simulated DigitalOcean at $DO_API_URL (snapshot $SNAP_NAME, id $SNAP_ID)"

    # A registry on loopback and the demo image in it: busybox httpd serving one page on 8080.
    reg_port=5000
    port_taken $reg_port && reg_port=$(free_port)
    REG=127.0.0.1:$reg_port
    mkdir -p "$STATE/registry/data"
    cat >"$STATE/registry/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $STATE/registry/data
http:
  addr: $REG
YAML
    docker-registry serve "$STATE/registry/config.yml" >"$STATE/registry.log" 2>&1 &
    REG_PID=$!
    wait_up 15 "http://$REG/v2/" || { tail -20 "$STATE/registry.log"; echo "run: the registry did not start" >&2; exit 1; }
    DEMO_IMAGE=$REG/demo/hello:1
    mkdir -p "$STATE/demo/www"
    echo "hello from a simulated server" >"$STATE/demo/www/index.html"
    printf 'FROM %s\nCOPY www /www\nCMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n' "$DEMO_BASE" >"$STATE/demo/Dockerfile"
    docker build -q -t "$DEMO_IMAGE" "$STATE/demo" >"$STATE/demo/build.log" 2>&1 ||
        { cat "$STATE/demo/build.log"; echo "run: could not build the demo image" >&2; exit 1; }
    docker push -q "$DEMO_IMAGE" >/dev/null 2>&1 || docker push "$DEMO_IMAGE" >/dev/null
    docker rmi "$DEMO_IMAGE" >/dev/null # servers pull it from the registry
    echo "run: registry at $REG with $DEMO_IMAGE"
else
    SIMULATED=
    echo "run: DO_TOKEN is set: using the DigitalOcean API at ${DO_API_URL:-https://api.digitalocean.com}"
fi

if port_taken "$PORT"; then
    new=$(free_port)
    echo "run: port $PORT is taken; the controller uses $new"
    PORT=$new
fi
URL=http://127.0.0.1:$PORT
CTL_FLAGS=(--listen "127.0.0.1:$PORT" --db "$STATE/controller.db" --spool-dir "$STATE/spool" --static "$ROOT/static")
# Generated Dockerfiles for static sites start from the local busybox image (no internet here);
# the Deploy view starts with the demo image in its Image field.
[ -n "$SIMULATED" ] && CTL_FLAGS+=(--base-image-static "$DEMO_BASE" --example-image "$DEMO_IMAGE")
env DO_TOKEN="$DO_TOKEN" ${DO_API_URL:+DO_API_URL="$DO_API_URL"} CONTROLLER_ADMIN_PASSWORD="$ADMIN_PW" \
    "$BIN/controller" "${CTL_FLAGS[@]}" ${CTL_EXTRA[@]+"${CTL_EXTRA[@]}"} >>"$STATE/controller.log" 2>&1 &
CTL_PID=$!
wait_up 30 "$URL/api/v1/version" || { tail -20 "$STATE/controller.log"; echo "run: the controller did not start" >&2; exit 1; }
LOGIN="TOKEN=\$(curl -s -d '{\"username\":\"admin\",\"password\":\"$ADMIN_PW\"}' $URL/api/v1/auth/login | jq -r .token)"
# shellcheck disable=SC2016 # printed as it is, for the reader's shell to expand
H='-H "Authorization: Bearer $TOKEN"'

cat <<MSG

The platform $VERSION is running (Ctrl-C stops it; logs and state in $STATE).

  Dashboard:  $URL/  (log in as admin)
  API:        $URL/api/v1/  (description: $URL/api/v1/openapi.json)
  Login:      admin / $ADMIN_PW

Log in (the token lasts 12 hours):

  $LOGIN

MSG
if [ -n "$SIMULATED" ]; then
    cat <<MSG
Deploy the demo image ($DEMO_IMAGE, busybox httpd on port 8080) to one new simulated
server; the log streams live and ends with {"type":"done","success":true,"servers":[{"ip":...}]}:

  curl -sN $H -d '{"name":"hello","source_type":"image","image":"$DEMO_IMAGE","port":8080,"new_server_count":1,"snapshot_id":$SNAP_ID,"region":"$REGION","size":"$SIZE"}' $URL/api/v1/infra/deploy | tee $STATE/deploy.sse

The app listens on port 8080 of the new server's own address (from the done event):

  IP=\$(sed -n 's/^data: //p' $STATE/deploy.sse | jq -r 'select(.type=="done") | .servers[0].ip')
  curl http://\$IP:8080/

Servers and deployments:

  curl $H $URL/api/v1/infra/servers
  curl $H $URL/api/v1/deployments

MSG
else
    cat <<MSG
Servers, snapshots, and a deploy to one new server from the newest base snapshot (an image its
servers can pull; they must reach this controller: see --public-url and --agent-allow, passed
after --):

  curl $H $URL/api/v1/infra/servers
  curl $H $URL/api/v1/infra/snapshots
  curl -sN $H -d '{"name":"hello","image":"registry.example.com/team/app:1","port":8080,"new_server_count":1}' $URL/api/v1/infra/deploy

MSG
fi
cat <<MSG
From PowerShell, call curl.exe (not the curl alias) with the same arguments and JSON bodies in
files (PowerShell 5 and 7 pass quotes inside arguments differently), e.g.:

  '{"username":"admin","password":"$ADMIN_PW"}' | Set-Content -Encoding ascii login.json
  \$TOKEN = (curl.exe -s -d "@login.json" $URL/api/v1/auth/login | ConvertFrom-Json).token
  curl.exe -H "Authorization: Bearer \$TOKEN" $URL/api/v1/infra/servers

MSG
if [ -n "$SIMULATED" ]; then
    cat <<MSG
In the browser: under Servers press Provision (a simulated server is up in seconds); under
Deploy give a Name and Port 8080 (the Image field holds $DEMO_IMAGE), select the new server (or ask
for 1 new server) and press Deploy: the log streams beside each server's progress, and the app
answers at http://<server address>:8080/.

MSG
fi
cat <<MSG
Open the dashboard and log in:

  $URL/
  Username: admin
  Password: $ADMIN_PW

MSG

# Until Ctrl-C, or until one of them stops by itself.
pids=("$CTL_PID")
[ -n "$SIM_PID" ] && pids+=("$SIM_PID" "$REG_PID")
set +e
wait -n "${pids[@]}"
rc=$?
set -e
for p in "${pids[@]}"; do
    kill -0 "$p" 2>/dev/null && continue
    case $p in
    "$CTL_PID") echo "run: the controller stopped (exit $rc); see $STATE/controller.log" >&2; CTL_PID= ;;
    "$SIM_PID") echo "run: dosim stopped (exit $rc); see $STATE/dosim.log" >&2; SIM_PID= ;;
    "$REG_PID") echo "run: the registry stopped (exit $rc); see $STATE/registry.log" >&2; REG_PID= ;;
    esac
done
exit 1
