#!/usr/bin/env bash
# Agent benchmarks, side by side in one run on this machine, reported as ratios:
#  1. /ping throughput (wrk) against the bare civetweb ceiling and the Flask agent it replaces,
#     alternating rounds, median of each.
#  2. Private memory (RssAnon) idle, and its peak while a 1 GiB tar upload streams in; VmRSS too.
#  3. /health latency (wrk --latency p99) while a 1 GiB upload and a docker build run.
# Usage: bash bench/agent_bench.sh [--rounds N] [--seconds S]   (prints a Markdown report)
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
ROUNDS=3
SECS=8
while [ $# -gt 0 ]; do
    case $1 in
    --rounds) ROUNDS=$2; shift 2 ;;
    --seconds) SECS=$2; shift 2 ;;
    -h | --help) sed -n '2,8p' "$0"; exit 0 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
done
BASELINES=${DP_BASELINES:-$ROOT/../shared/baselines}
[ -f "$BASELINES/civetweb_ping.c" ] || { echo "baselines not found in $BASELINES (set DP_BASELINES)" >&2; exit 1; }
bash scripts/deps.sh >/dev/null
bash tests/world/up.sh >/dev/null

W=$(mktemp -d /tmp/dp-bench.XXXXXX)
PIDS=()
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; wait "$p" 2>/dev/null; done
    docker ps -aq --filter label=dp.namespace=bench | xargs -r docker rm -f >/dev/null 2>&1
    docker images -q 'bench/*' | xargs -r docker rmi -f >/dev/null 2>&1
    rm -rf "$W"
    bash tests/world/down.sh >/dev/null # the world is reference-counted: leave as we came
}
trap cleanup EXIT

cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j"$(nproc)" --target node-agent >/dev/null
gcc -O2 -o "$W/civetweb_ping" "$BASELINES/civetweb_ping.c" -lcivetweb

port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
wait_up() { for _ in $(seq 100); do curl -s -o /dev/null "$1" && return 0; sleep 0.1; done; return 1; }
median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }
status_kb() { awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status"; }

KEY=$(openssl rand -hex 16)
printf '%s\n' "$KEY" >"$W/key"
AP=$(port)
build-bench/bin/node-agent --listen "127.0.0.1:$AP" --key-file "$W/key" --data-root "$W/data" \
    --namespace bench --publish-ip 127.0.0.1 >"$W/agent.log" 2>&1 &
AGENT=$!
PIDS+=("$AGENT")
"$W/civetweb_ping" >/dev/null 2>&1 &
PIDS+=("$!")
FP=$(port)
PORT=$FP AGENT_KEY=$KEY python3 "$BASELINES/flask_agent.py" >"$W/flask.log" 2>&1 &
PIDS+=("$!")
wait_up "http://127.0.0.1:$AP/ping"
wait_up "http://127.0.0.1:19998/ping"
wait_up "http://127.0.0.1:$FP/ping"

# 1. /ping throughput, alternating.
rps() { wrk -t2 -c16 -d"${SECS}s" -H "X-API-Key: $2" "$1" | awk '/Requests\/sec/ {print $2}'; }
: >"$W/ours"; : >"$W/ceiling"; : >"$W/flask"
for _ in $(seq "$ROUNDS"); do
    rps "http://127.0.0.1:19998/ping" kkkkkkkkkkkkkkkkkkkkkkkkkkkkkkkk >>"$W/ceiling"
    rps "http://127.0.0.1:$AP/ping" "$KEY" >>"$W/ours"
    rps "http://127.0.0.1:$FP/ping" "$KEY" >>"$W/flask"
done
OURS=$(median <"$W/ours"); CEIL=$(median <"$W/ceiling"); FLASK=$(median <"$W/flask")

# 2. Memory: idle, then the peak while 1 GiB of tar streams in (sampled every 20 ms).
sleep 1
IDLE_ANON=$(status_kb "$AGENT" RssAnon); IDLE_RSS=$(status_kb "$AGENT" VmRSS)
sample_peak() { # pid out-file: until the file "$W/stop" appears
    local peak_a=0 peak_r=0 a r
    while [ ! -f "$W/stop" ]; do
        a=$(status_kb "$1" RssAnon); r=$(status_kb "$1" VmRSS)
        [ "$a" -gt "$peak_a" ] && peak_a=$a
        [ "$r" -gt "$peak_r" ] && peak_r=$r
        sleep 0.02
    done
    echo "$peak_a $peak_r" >"$2"
}
upload_1g() {
    python3 bench/tar_stream.py $((1024 * 1024 * 1024)) |
        curl -sS -H "X-API-Key: $KEY" -H 'Content-Type: application/x-tar' -T - -X POST \
            "http://127.0.0.1:$AP/upload?path=/bench/big&clean=1" -o "$W/upload.json"
}
rm -f "$W/stop"
sample_peak "$AGENT" "$W/peak" &
SAMPLER=$!
T0=$(date +%s.%N)
upload_1g
T1=$(date +%s.%N)
touch "$W/stop"; wait "$SAMPLER"
read -r PEAK_ANON PEAK_RSS <"$W/peak"
UP_S=$(echo "$T1 - $T0" | bc -l)
UP_FILES=$(jq -r .files "$W/upload.json")

# 3. /health latency while an upload and a build run together. The build gets a fresh
# argument each run so Docker's cache cannot skip it; it spins a CPU for the whole window.
mkdir -p "$W/ctx"
printf 'FROM %s\nARG NONCE\nRUN echo "$NONCE"; i=0; while [ $i -lt 6000000 ]; do i=$((i+1)); done\n' \
    "${TEST_IMAGE:-dp-test/busybox:1}" >"$W/ctx/Dockerfile"
tar -C "$W/ctx" -cf "$W/ctx.tar" .
curl -s -H "X-API-Key: $KEY" --data-binary @"$W/ctx.tar" "http://127.0.0.1:$AP/upload?path=/bench/ctx&clean=1" >/dev/null
curl -s -H "X-API-Key: $KEY" -d '{"path":"/bench/ctx","tag":"bench/busy:1","buildargs":{"NONCE":"'"$RANDOM$RANDOM"'"}}' \
    "http://127.0.0.1:$AP/build" >"$W/build.out" &
BUILD=$!
upload_1g &
UPLOAD=$!
sleep 0.5
wrk -t1 -c2 -d"${SECS}s" --latency -H "X-API-Key: $KEY" "http://127.0.0.1:$AP/health" >"$W/health.txt"
BUILD_RUNNING=$(kill -0 "$BUILD" 2>/dev/null && echo yes || echo "no (ended early)")
wait "$UPLOAD" "$BUILD" || true
P99=$(awk '/ 99%/ {print $2}' "$W/health.txt")
P50=$(awk '/ 50%/ {print $2}' "$W/health.txt")
HRPS=$(awk '/Requests\/sec/ {print $2}' "$W/health.txt")
HMAX=$(awk '/Latency/ && !/Distribution/ {print $4; exit}' "$W/health.txt")
BUILD_OK=$(grep -q '"type":"done"' "$W/build.out" && echo "succeeded" || echo "FAILED")

ratio() { echo "scale=2; $1 / $2" | bc -l; }
mib() { echo "scale=1; $1 / 1024" | bc -l; }
cat <<REPORT
### Agent ($(date -u +%Y-%m-%d), $(nproc) cores, $(uname -m), ${ROUNDS} alternating rounds of ${SECS} s, \`wrk -t2 -c16\`)

| figure | node-agent | bare civetweb (ceiling) | Flask agent (baseline) | ratio |
| --- | --- | --- | --- | --- |
| /ping throughput, req/s (median) | ${OURS} | ${CEIL} | ${FLASK} | $(ratio "$OURS" "$CEIL")x civetweb (target >= 0.8), $(ratio "$OURS" "$FLASK")x Flask |

| memory | RssAnon | VmRSS | target |
| --- | --- | --- | --- |
| idle, after the throughput runs | $(mib "$IDLE_ANON") MiB | $(mib "$IDLE_RSS") MiB | RssAnon <= 4 MiB |
| peak while a 1 GiB tar uploads ($UP_FILES files, $(printf '%.1f' "$UP_S") s) | $(mib "$PEAK_ANON") MiB | $(mib "$PEAK_RSS") MiB | RssAnon <= 16 MiB |

| /health while a 1 GiB upload and a docker build run | p50 | p99 | max | req/s | target |
| --- | --- | --- | --- | --- | --- |
| \`wrk -t1 -c2 --latency\` (build still running at the end: ${BUILD_RUNNING}; build ${BUILD_OK}) | ${P50} | ${P99} | ${HMAX} | ${HRPS} | p99 <= 50 ms |
REPORT
