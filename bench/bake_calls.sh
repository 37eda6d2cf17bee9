#!/usr/bin/env bash
# DigitalOcean API calls per bake, as snapshot-builder counts them (every HTTP request to the
# API, retries included), against the simulated cloud with real agents: the controller serves
# the agent package, snapshot-builder bakes the base (copied to two more regions) three times,
# a custom snapshot on top, a rebuild with nothing to do, and a base under 30 % injected
# 429/500 answers. Target: <= 40 calls a bake.
# Usage: bash bench/bake_calls.sh   (prints a Markdown report)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh >/dev/null
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j"$(nproc)" --target dosim controller snapshot-builder node-agent \
    agent-package >/dev/null

W=$(mktemp -d /tmp/dp-bench-bake.XXXXXX)
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
sim_port=$(free_port)
ctl_port=$(free_port)
export DO_API_URL="http://127.0.0.1:$sim_port" DO_TOKEN="dop_v1_bench"
build-bench/bin/dosim --listen "127.0.0.1:$sim_port" --droplet-limit 50 >"$W/dosim.log" 2>&1 &
SIM=$!
CONTROLLER_ADMIN_PASSWORD="bench-$RANDOM$RANDOM" build-bench/bin/controller \
    --listen "127.0.0.1:$ctl_port" --db "$W/ctl.db" --spool-dir "$W" >"$W/ctl.log" 2>&1 &
CTL=$!
trap 'kill $CTL $SIM 2>/dev/null; wait $CTL $SIM 2>/dev/null; rm -rf "$W"' EXIT
for _ in $(seq 100); do
    curl -s -o /dev/null "$DO_API_URL/_sim/state" && curl -s -o /dev/null "http://127.0.0.1:$ctl_port/api/v1/version" && break
    sleep 0.1
done
export CONTROLLER_URL="http://127.0.0.1:$ctl_port"

# bake ARGS...: runs snapshot-builder --json; echoes "calls elapsed_s" of its last event.
bake() {
    build-bench/bin/snapshot-builder --json "$@" 2>>"$W/sb.err" | tail -n 1 |
        jq -r 'if .type == "done" then "\(.api_calls) \(.elapsed_s)" else "failed: \(.detail)" end'
}

read -r b1 t1 <<<"$(bake bake base --regions sfo3,ams3)"
base=$(build-bench/bin/snapshot-builder list --json | jq -r '.snapshots[0].name')
build-bench/bin/snapshot-builder delete "$base" >/dev/null
read -r b2 t2 <<<"$(bake bake base --regions sfo3,ams3)"
build-bench/bin/snapshot-builder delete "$base" >/dev/null
read -r b3 t3 <<<"$(bake bake base --regions sfo3,ams3)"
read -r c1 tc <<<"$(bake bake custom --from "$base" --packages jq --name bench --regions sfo3)"
read -r r1 _ <<<"$(bake rebuild)"
build-bench/bin/snapshot-builder delete "$base" >/dev/null
curl -s -X POST -d '{"fail_429":0.15,"fail_500":0.15}' "$DO_API_URL/_sim/faults" >/dev/null
read -r f1 tf <<<"$(bake bake base --regions sfo3,ams3)"
curl -s -X POST -d '{"fail_429":0,"fail_500":0}' "$DO_API_URL/_sim/faults" >/dev/null
left=$(curl -s "$DO_API_URL/_sim/state" | jq '.droplets | length')

cat <<REPORT
### API calls per bake ($(date -u +%Y-%m-%d), snapshot-builder against tests/dosim)

| operation | API calls | wall time | target |
| --- | --- | --- | --- |
| bake base, copy to 2 more regions (3 runs) | **${b1}**, ${b2}, ${b3} | ${t1} s, ${t2} s, ${t3} s | <= 40 |
| bake custom on the base (+ jq), copy to 1 more region | ${c1} | ${tc} s | <= 40 |
| rebuild when the base is current | ${r1} | - | - |
| bake base, copy to 2 regions, 30 % of requests answered 429 or 500 | ${f1} | ${tf} s | - |

Droplets left behind afterwards: ${left}.
REPORT
