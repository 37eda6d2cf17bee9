#!/usr/bin/env bash
# GET /api/v1/infra/servers under load: many dashboards listing servers at once.
#   wrk, 64 connections for 20 s, against a controller with 30 simulated servers (tests/dosim
#   with its rate limits lifted, so the figure is the controller's, not a 429 storm)
# Reports requests/s, latency, the DigitalOcean API calls the listings cost (counted by the
# simulator) and the controller's RssAnon before, right after and 35 s after the load.
# Usage: bash bench/listing_bench.sh [--duration S]   (prints a Markdown report)
set -euo pipefail
cd "$(dirname "$0")/.."
DURATION=20
[ "${1:-}" = --duration ] && DURATION=$2
bash scripts/deps.sh >/dev/null
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j"$(nproc)" --target dosim controller agent-package >/dev/null

W=$(mktemp -d /tmp/dp-bench-list.XXXXXX)
fp() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
SP=$(fp) CP=$(fp)
SIM='' CTL=''
trap 'kill $CTL $SIM 2>/dev/null; wait $CTL $SIM 2>/dev/null; rm -rf "$W"' EXIT
build-bench/bin/dosim --listen "127.0.0.1:$SP" --state-dir "$W/sim" \
    --seed-snapshot "base-docker-debian12-agent-$(cat VERSION)" \
    --ratelimit-hour 1000000 --ratelimit-minute 1000000 >"$W/dosim.log" 2>&1 &
SIM=$!
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$SP/_sim/state" && break; sleep 0.1; done
DO_API_URL="http://127.0.0.1:$SP" DO_TOKEN="dop_v1_$(openssl rand -hex 32)" CONTROLLER_ADMIN_PASSWORD=bench-password \
    build-bench/bin/controller --listen "127.0.0.1:$CP" --db "$W/ctl.db" >"$W/ctl.log" 2>&1 &
CTL=$!
URL=http://127.0.0.1:$CP
for _ in $(seq 100); do curl -s -o /dev/null "$URL/api/v1/version" && break; sleep 0.1; done
rss() { awk '/^RssAnon/ {printf "%.1f", $2 / 1024}' "/proc/$CTL/status"; }
TOKEN=$(curl -s -d '{"username":"admin","password":"bench-password"}' "$URL/api/v1/auth/login" | jq -r .token)
curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" -d '{"count":30}' "$URL/api/v1/infra/servers/provision"
for _ in $(seq 120); do
    n=$(curl -s -H "Authorization: Bearer $TOKEN" "$URL/api/v1/infra/servers" |
        jq '[.servers[] | select(.status == "active")] | length')
    [ "$n" = 30 ] && break
    sleep 1
done
[ "$n" = 30 ] || { echo "listing_bench: the 30 servers did not come up" >&2; exit 1; }
sleep 3 # past the listing's sharing window
rss0=$(rss)
curl -s -o /dev/null -X POST "http://127.0.0.1:$SP/_sim/reset-counters"
wrk -t2 -c64 -d"${DURATION}s" --latency -H "Authorization: Bearer $TOKEN" "$URL/api/v1/infra/servers" >"$W/wrk.txt"
rss1=$(rss)
calls=$(curl -s "http://127.0.0.1:$SP/_sim/state" | jq '[.counters["GET /v2/droplets"] // {} | .[]] | add // 0')
sleep 35
rss2=$(rss)
reqs=$(awk '/requests in/ {print $1}' "$W/wrk.txt")
rps=$(awk '/^Requests\/sec/ {print $2}' "$W/wrk.txt")
p50=$(awk '$1 == "50%" {print $2}' "$W/wrk.txt")
p99=$(awk '$1 == "99%" {print $2}' "$W/wrk.txt")
non2xx=$(awk '/Non-2xx/ {print $NF}' "$W/wrk.txt")
cat <<REPORT
### Server listings under load ($(date -u +%Y-%m-%d), 30 simulated servers, wrk -c64 -d${DURATION}s)

| figure | result |
| --- | --- |
| listings answered | ${reqs} (${rps} req/s), non-2xx: ${non2xx:-0} |
| latency p50 / p99 | ${p50} / ${p99} |
| DigitalOcean listings they cost | ${calls} ($(awk -v r="$reqs" -v c="$calls" 'BEGIN {printf "%.0f", c ? r / c : 0}') listings a call) |
| controller RssAnon: before / right after / 35 s later | ${rss0} / ${rss1} / ${rss2} MiB |
REPORT
