#!/usr/bin/env bash
# Controller benchmarks on the simulated cloud (dosim droplets run real agents on the local Docker
# engine), side by side in one run, printed as Markdown. No Python controller exists to compare
# with, so each figure has a floor instead:
#  1. Fan-out: one registry image deployed to N = 1, 10, max existing servers, request to `done`,
#     against the same pulls, creates and starts sent straight to the Docker Engine API (curl
#     --unix-socket, N in parallel). Alternating rounds, medians, ratio, overhead per server;
#     docker ps checks every deploy. Also one server by hand: docker pull + docker run -d.
#  2. SSE viewers: V concurrent viewers of a running deploy's events: lag of each viewer's `done`
#     after the first viewer's (p50/p99/max), identical complete streams; the floor is the same
#     stream written to V sockets by one Python thread, read by the same client.
#  3. Controller memory (RssAnon, VmRSS): started, idle, peaks during the viewers and the largest
#     fan-out, and idle again at the end.
# Usage: bash bench/controller_bench.sh [--rounds N (5)] [--max-servers N (50)] [--viewers N (500)]
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ROUNDS=5
MAXS=50
VIEWERS=500
while [ $# -gt 0 ]; do
    case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    --max-servers) MAXS=$2; shift 2 ;;
    --viewers) VIEWERS=$2; shift 2 ;;
    -h | --help) sed -n '2,15p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
if [ "$MAXS" -lt 1 ] || [ "$MAXS" -gt 100 ]; then echo "--max-servers is 1..100" >&2; exit 2; fi
SIZES=$(printf '%s\n' 1 10 "$MAXS" | awk -v m="$MAXS" '$1 <= m' | sort -nu | tr '\n' ' ')
SSE_N=$((MAXS < 10 ? MAXS : 10))
# One connection per viewer, in the controller and in the client.
[ "$(ulimit -n)" -ge 4096 ] || ulimit -n 4096
. tests/world/common.sh
bash scripts/deps.sh >/dev/null
bash tests/world/up.sh >/dev/null

W=$(mktemp -d /tmp/dp-cbench.XXXXXX)
RUN=cb$$
APP=bench-$RUN
PIDS=()
CTL_PID=
SIM_PID=
SIM_URL=
cleanup() {
    set +e
    touch "$W/stop"
    [ -n "$CTL_PID" ] && kill -TERM "$CTL_PID" 2>/dev/null && wait "$CTL_PID" 2>/dev/null
    if [ -n "$SIM_PID" ]; then
        sim_id=$(curl -s --max-time 5 "$SIM_URL/_sim/state" | jq -r .sim_id 2>/dev/null)
        # dosim removes its droplets' containers when it stops; the filter only catches a crash.
        kill -TERM "$SIM_PID" 2>/dev/null && wait "$SIM_PID" 2>/dev/null
        [ -n "$sim_id" ] && docker ps -a --filter label=dp.managed=1 --format '{{.ID}} {{.Labels}}' |
            awk -v s="dp.namespace=do-$sim_id" 'index($0, s) {print $1}' | xargs -r docker rm -f >/dev/null 2>&1
    fi
    docker ps -aq --filter "label=dp.bench=$RUN" | xargs -r docker rm -f >/dev/null 2>&1
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    [ -n "${IMG:-}" ] && docker rmi "$IMG" >/dev/null 2>&1
    rm -rf "$W"
    bash "$ROOT/tests/world/down.sh" >/dev/null 2>&1
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j"$(nproc)" --target controller dosim node-agent agent-package >/dev/null
BIN=$ROOT/build-release/bin

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 150); do curl -s -o /dev/null --max-time 2 "$1" && return 0; sleep 0.2; done; return 1; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }
die() { echo "controller_bench: $*" >&2; exit 1; }

# The world: a registry with one small web image (busybox httpd on 8080), the simulated cloud
# with a base snapshot carrying this build's agent, and the controller on it.
RP=$(port)
mkdir -p "$W/registry" "$W/img/www" "$W/spool"
mkfifo "$W/tick"
printf 'version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: %s\nhttp:\n  addr: 127.0.0.1:%s\n' \
    "$W/registry" "$RP" >"$W/registry.yml"
docker-registry serve "$W/registry.yml" >"$W/registry.log" 2>&1 &
PIDS+=("$!")
wait_up "http://127.0.0.1:$RP/v2/" || die "registry did not start"
echo "bench" >"$W/img/www/index.html"
printf 'FROM %s\nCOPY www /www\nCMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n' "$TEST_IMAGE" >"$W/img/Dockerfile"
IMG=127.0.0.1:$RP/$RUN/web:1
docker build -q -t "$IMG" "$W/img" >/dev/null 2>&1 || die "docker build failed"
docker push "$IMG" >/dev/null
docker rmi "$IMG" >/dev/null # every pull below goes to the registry

SP=$(port)
SIM_URL=http://127.0.0.1:$SP
"$BIN/dosim" --listen "127.0.0.1:$SP" --droplet-limit $((MAXS + 10)) --threads 64 \
    --seed-snapshot "base-docker-debian12-agent-$(cat VERSION)" >"$W/dosim.log" 2>&1 &
SIM_PID=$!
wait_up "$SIM_URL/_sim/state" || die "dosim did not start: $(tail -5 "$W/dosim.log")"
CP=$(port)
CTL=http://127.0.0.1:$CP
ADMIN_PW=pw-$(openssl rand -hex 8)
DO_API_URL=$SIM_URL DO_TOKEN="dop_v1_$(openssl rand -hex 32)" CONTROLLER_ADMIN_PASSWORD=$ADMIN_PW \
    "$BIN/controller" --listen "127.0.0.1:$CP" --db "$W/ctl.db" --spool-dir "$W/spool" >"$W/ctl.log" 2>&1 &
CTL_PID=$!
wait_up "$CTL/api/v1/version" || die "controller did not start: $(tail -5 "$W/ctl.log")"
sleep 0.5
START_ANON=$(status_kb "$CTL_PID" RssAnon); START_RSS=$(status_kb "$CTL_PID" VmRSS)
START_THREADS=$(status_kb "$CTL_PID" Threads)
TOKEN=$(curl -s -d "{\"username\":\"admin\",\"password\":\"$ADMIN_PW\"}" "$CTL/api/v1/auth/login" | jq -r .token)
if [ -z "$TOKEN" ] || [ "$TOKEN" = null ]; then die "login failed"; fi
api() { curl -sS --max-time 120 -H "Authorization: Bearer $TOKEN" "$@"; }

echo "controller_bench: provisioning $MAXS servers" >&2
# MAXS servers, provisioned once and reused by every round.
api -d "{\"count\":$MAXS}" "$CTL/api/v1/infra/servers/provision" >"$W/provision.json"
for _ in $(seq 300); do
    { api "$CTL/api/v1/infra/servers" | jq -r '.servers[]? | select(.status=="active" and .ip!="") | .ip' |
        sort -t. -k2,2n -k3,3n -k4,4n >"$W/ips"; } || true
    [ "$(wc -l <"$W/ips")" -ge "$MAXS" ] && break
    sleep 0.2
done
[ "$(wc -l <"$W/ips")" -ge "$MAXS" ] || die "only $(wc -l <"$W/ips") of $MAXS servers came up"
ips_json() { head -n "$1" "$W/ips" | jq -R . | jq -sc .; }

# deploy N ROUND: the controller deploys IMG to the first N servers; prints the seconds from
# starting the client (one curl) to the end of the stream, which ends right after `done`. Checks
# the result and that docker ps shows all N containers running.
deploy() {
    local n=$1 log=$W/deploy-$1-$2.sse t0 t1 dep running body
    body="{\"name\":\"$APP\",\"source_type\":\"image\",\"image\":\"$IMG\",\"port\":8080,\"server_ips\":$(ips_json "$n"),\"env_vars\":{\"ROUND\":\"$2\"}}"
    t0=$EPOCHREALTIME
    curl -sN --max-time 300 -H "Authorization: Bearer $TOKEN" -o "$log" -d "$body" "$CTL/api/v1/infra/deploy"
    t1=$EPOCHREALTIME
    sed -n 's/^data: //p' "$log" | jq -c 'select(.type=="done")' >"$W/done.json"
    [ "$(jq -r .success "$W/done.json")" = true ] || die "deploy to $n failed: $(tail -c 600 "$log")"
    dep=$(jq -r .deployment_id "$W/done.json")
    running=$(docker ps -q --filter "label=dp.app=$APP" --filter "label=dp.deployment_id=$dep" --filter status=running | wc -l)
    [ "$running" -eq "$n" ] || die "deploy $dep to $n servers: docker ps shows $running running"
    echo "$n $(jq -r .version "$W/done.json") $(grep -c '^id: ' "$log")" >>"$W/deploy-checks"
    # Untimed: remove the containers so every timed deploy creates fresh ones, as the floor does.
    docker ps -aq --filter "label=dp.app=$APP" | xargs -r docker rm -f >/dev/null
    echo "$t1 - $t0" | bc -l
}

# floor N: what an agent asks Docker for, sent straight to the Docker Engine API, N times in
# parallel: N curl processes, each pulls the image from the registry, creates the container (the
# agent's host config: init, log rotation, a published port, labels) and starts it; then one
# list shows all N running. Prints the seconds from starting the first curl to the list's answer.
DAPI=http://docker/v1.41
floor() {
    local n=$1 tag=f$RANDOM i t0 t1 list rest ok running pids=()
    printf '%s' '{"Image":"'"$IMG"'","Labels":{"dp.bench":"'"$RUN"'"},"ExposedPorts":{"8080/tcp":{}},"Env":["ROUND='"$tag"'"],"HostConfig":{"Init":true,"NetworkMode":"bridge","SecurityOpt":["no-new-privileges"],"RestartPolicy":{"Name":"unless-stopped"},"LogConfig":{"Type":"json-file","Config":{"max-size":"10m","max-file":"3"}},"PortBindings":{"8080/tcp":[{"HostIp":"127.0.0.1","HostPort":""}]}}}' >"$W/spec.json"
    for ((i = 1; i <= n; i++)); do
        {
            printf 'url = "%s/images/create?fromImage=%s&tag=1"\nrequest = POST\n' "$DAPI" "${IMG%:1}"
            printf 'unix-socket = "%s"\noutput = /dev/null\nwrite-out = "%%{http_code}\\n"\nnext\n' "$DOCKER_SOCK"
            printf 'url = "%s/containers/create?name=%s-%s-%d"\ndata-binary = "@%s"\n' "$DAPI" "$RUN" "$tag" "$i" "$W/spec.json"
            printf 'header = "Content-Type: application/json"\n'
            printf 'unix-socket = "%s"\noutput = /dev/null\nwrite-out = "%%{http_code}\\n"\nnext\n' "$DOCKER_SOCK"
            printf 'url = "%s/containers/%s-%s-%d/start"\nrequest = POST\n' "$DAPI" "$RUN" "$tag" "$i"
            printf 'unix-socket = "%s"\noutput = /dev/null\nwrite-out = "%%{http_code}\\n"\n' "$DOCKER_SOCK"
        } >"$W/slot-$i.cfg"
    done
    t0=$EPOCHREALTIME
    for ((i = 1; i <= n; i++)); do
        curl -s -K "$W/slot-$i.cfg" >"$W/slot-$i.out" &
        pids+=("$!")
    done
    wait "${pids[@]}"
    list=$(curl -s --unix-socket "$DOCKER_SOCK" -G "$DAPI/containers/json" \
        --data-urlencode "filters={\"label\":[\"dp.bench=$RUN\"],\"status\":[\"running\"]}")
    t1=$EPOCHREALTIME
    rest=${list//\"State\":\"running\"/}
    running=$(((${#list} - ${#rest}) / 17))
    ok=$(cat "$W"/slot-*.out | tr '\n' ' ' | grep -o '200 201 204' | wc -l)
    rm -f "$W"/slot-*
    if [ "$ok" -ne "$n" ] || [ "$running" -ne "$n" ]; then
        die "floor $n: $ok of $n pull, create and start went through, $running running"
    fi
    docker ps -aq --filter "label=dp.bench=$RUN" | xargs -r docker rm -f >/dev/null
    echo "$t1 - $t0" | bc -l
}

# cli: the single-server deploy by hand, `docker pull` then `docker run -d` (figure 4).
cli() {
    local t0 t1
    t0=$EPOCHREALTIME
    docker pull -q "$IMG" >/dev/null
    docker run -d --init --label "dp.bench=$RUN" -p 127.0.0.1::8080 "$IMG" >/dev/null
    t1=$EPOCHREALTIME
    docker ps -aq --filter "label=dp.bench=$RUN" | xargs -r docker rm -f >/dev/null
    echo "$t1 - $t0" | bc -l
}

sample_peak() { # pid out-file: until the file "$W/stop" appears, every 20 ms, without forking
    local peak_a=0 peak_r=0 k v
    exec 7<>"$W/tick"
    while [ ! -f "$W/stop" ]; do
        while read -r k v _; do
            case $k in
            RssAnon:) [ "$v" -le "$peak_a" ] || peak_a=$v ;;
            VmRSS:) [ "$v" -le "$peak_r" ] || peak_r=$v ;;
            esac
        done <"/proc/$1/status"
        read -rt 0.02 -u 7 _ || true
    done
    echo "$peak_a $peak_r" >"$2"
}
# The controller's CPU time (user + system) in ms, from /proc/PID/stat fields 14 and 15.
cpu_ms() { awk -v t="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); print int(($12 + $13) * 1000 / t)}' "/proc/$1/stat"; }
peak_start() { rm -f "$W/stop"; CPU0=$(cpu_ms "$CTL_PID"); sample_peak "$CTL_PID" "$W/peak-$1" & SAMPLER=$!; }
peak_stop() { touch "$W/stop"; wait "$SAMPLER"; echo $(($(cpu_ms "$CTL_PID") - CPU0)) >>"$W/cpu-fan"; }

# Idle: logged in, MAXS servers known, nothing deployed yet.
sleep 1
IDLE_ANON=$(status_kb "$CTL_PID" RssAnon); IDLE_RSS=$(status_kb "$CTL_PID" VmRSS)

# Warm-up, untimed: every agent answers and the image is on the engine (all pulls below are the
# same warm pull: the registry is asked for the manifest, the layers are there).
deploy "$MAXS" 0 >/dev/null
floor 1 >/dev/null

# 1 (and 4). Fan-out, alternating which side goes first; peak memory over the largest deploys.
: >"$W/peak-all"
for ((r = 1; r <= ROUNDS; r++)); do
    echo "controller_bench: fan-out round $r of $ROUNDS" >&2
    for n in $SIZES; do
        if [ $((r % 2)) -eq 1 ]; then
            [ "$n" -eq "$MAXS" ] && peak_start fan
            deploy "$n" "$r" >>"$W/ctl-$n"
            [ "$n" -eq "$MAXS" ] && { peak_stop; cat "$W/peak-fan" >>"$W/peak-all"; }
            floor "$n" >>"$W/floor-$n"
        else
            floor "$n" >>"$W/floor-$n"
            [ "$n" -eq "$MAXS" ] && peak_start fan
            deploy "$n" "$r" >>"$W/ctl-$n"
            [ "$n" -eq "$MAXS" ] && { peak_stop; cat "$W/peak-fan" >>"$W/peak-all"; }
        fi
    done
    cli >>"$W/cli-1"
done
FAN_PEAK_ANON=$(awk '$1 > m {m = $1} END {print m}' "$W/peak-all")
FAN_CPU_MS=$(sort -n "$W/cpu-fan" | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}')
FAN_PEAK_RSS=$(awk '$2 > m {m = $2} END {print m}' "$W/peak-all")

echo "controller_bench: $VIEWERS viewers" >&2
# 2. SSE viewers on a deploy to SSE_N servers, opened as soon as its first event names it.
printf '{"name":"%s-sse","source_type":"image","image":"%s","port":8080,"server_ips":%s}' \
    "$APP" "$IMG" "$(ips_json "$SSE_N")" >"$W/sse-body.json"
peak_start sse
python3 bench/sse_viewers.py --port "$CP" --token "$TOKEN" --body-file "$W/sse-body.json" \
    --viewers "$VIEWERS" --save-stream "$W/stream.sse" >"$W/sse.json" || true
peak_stop
# Its floor: the same stream written to as many sockets by one Python thread, the same client.
FP=$(port)
python3 bench/sse_viewers.py --floor-serve "$FP" --replay "$W/stream.sse" --viewers "$VIEWERS" >"$W/floor-serve.out" &
FLOOR_SERVER=$!
PIDS+=("$FLOOR_SERVER")
for _ in $(seq 100); do grep -q listening "$W/floor-serve.out" && break; sleep 0.1; done
python3 bench/sse_viewers.py --floor-port "$FP" --viewers "$VIEWERS" >"$W/sse-floor.json" || true
wait "$FLOOR_SERVER" || true
read -r SSE_PEAK_ANON SSE_PEAK_RSS <"$W/peak-sse"
jq -e .done_lag_ms "$W/sse.json" >/dev/null 2>&1 || die "viewers: $(cat "$W/sse.json")"
SSE_RUNNING=$(docker ps -q --filter "label=dp.app=$APP-sse" --filter status=running | wc -l)
[ "$SSE_RUNNING" -eq "$SSE_N" ] || die "viewed deploy: docker ps shows $SSE_RUNNING of $SSE_N running"
docker ps -aq --filter "label=dp.app=$APP-sse" | xargs -r docker rm -f >/dev/null
sleep 1
END_ANON=$(status_kb "$CTL_PID" RssAnon); END_RSS=$(status_kb "$CTL_PID" VmRSS)

# ---- report ----
mib() { echo "scale=1; $1 / 1024" | bc -l; }
f2() { printf '%.2f' "$1"; }
rounds_of() { awk '{printf "%s%.2f", (NR > 1 ? " " : ""), $1}' "$1"; }
sse() { jq -r "$1" "${2:-$W/sse.json}"; }
ms() { printf '%.1f ms' "$(sse "$1" "${2:-}")"; }
CHECKS=$(wc -l <"$W/deploy-checks")
VERSIONS=$(awk '{print $2}' "$W/deploy-checks" | sort -n | uniq | awk 'NR == 1 {a = $1} {b = $1; n++} END {printf "%d distinct, v%s to v%s", n, a, b}')
cat <<REPORT
### Controller ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m), ${ROUNDS} alternating rounds, ${MAXS} simulated servers on one Docker engine)

| fan-out: one image to N servers, request to \`done\` (median) | controller | Docker API floor | ratio | controller overhead per server |
| --- | --- | --- | --- | --- |
REPORT
for n in $SIZES; do
    c=$(median <"$W/ctl-$n"); f=$(median <"$W/floor-$n")
    printf '| N = %s | %s s | %s s | %sx | %s ms |\n' "$n" "$(f2 "$c")" "$(f2 "$f")" \
        "$(f2 "$(echo "$c / $f" | bc -l)")" "$(printf '%.0f' "$(echo "($c - $f) * 1000 / $n" | bc -l)")"
done
C1=$(median <"$W/ctl-1"); CLI1=$(median <"$W/cli-1")
cat <<REPORT

| one server, by hand | median | controller (N = 1) / it |
| --- | --- | --- |
| \`docker pull -q\` + \`docker run -d --init -p\` (CLI) | $(f2 "$CLI1") s | $(f2 "$(echo "$C1 / $CLI1" | bc -l)")x |

All ${CHECKS} deploys (warm-up included) succeeded with every container running (\`docker ps\` after
each); app versions: ${VERSIONS}. Rounds, in seconds:

$(for n in $SIZES; do printf -- '- N = %s: controller %s; floor %s\n' "$n" "$(rounds_of "$W/ctl-$n")" "$(rounds_of "$W/floor-$n")"; done)

| ${VIEWERS} SSE viewers of a deploy to ${SSE_N} servers | controller | floor: one Python thread writes the same stream to ${VIEWERS} sockets |
| --- | --- | --- |
| \`done\` after the first viewer's: p50 / p99 / max | $(ms .done_lag_ms.p50) / **$(ms .done_lag_ms.p99)** / $(ms .done_lag_ms.max) | $(ms .done_lag_ms.p50 "$W/sse-floor.json") / $(ms .done_lag_ms.p99 "$W/sse-floor.json") / $(ms .done_lag_ms.max "$W/sse-floor.json") |
| all ${VIEWERS} attached, after the first event | $(printf '%.2f' "$(sse .attach_s_last)") s | $(printf '%.2f' "$(sse .attach_s_last "$W/sse-floor.json")") s |
| viewers answered 200 / got \`done\` / attached before \`done\` | $(sse .status_200) / $(sse .got_done) / $(sse .attached_before_done) | $(sse .status_200 "$W/sse-floor.json") / $(sse .got_done "$W/sse-floor.json") / - |
| identical complete streams | $(sse .distinct_bodies) distinct body, $(sse '.viewer_id_counts | map(tostring) | join(",")') \`id:\` lines each, deploy stream $(sse .deploy_events), same bytes as the deploy's: $(sse .identical_to_deploy) | $(sse .distinct_bodies "$W/sse-floor.json") distinct body |

| controller memory | RssAnon | VmRSS |
| --- | --- | --- |
| just started (${START_THREADS} threads) | $(mib "$START_ANON") MiB | $(mib "$START_RSS") MiB |
| idle: logged in, ${MAXS} servers provisioned, nothing deployed | $(mib "$IDLE_ANON") MiB | $(mib "$IDLE_RSS") MiB |
| peak during the ${MAXS}-server fan-outs | $(mib "$FAN_PEAK_ANON") MiB | $(mib "$FAN_PEAK_RSS") MiB |
| peak during ${VIEWERS} viewers | $(mib "$SSE_PEAK_ANON") MiB | $(mib "$SSE_PEAK_RSS") MiB |
| idle again at the end | $(mib "$END_ANON") MiB | $(mib "$END_RSS") MiB |

Controller CPU time (user + system) for one ${MAXS}-server deploy, median: **${FAN_CPU_MS} ms**.
REPORT
