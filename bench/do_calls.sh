#!/usr/bin/env bash
# DigitalOcean API calls the client needs, counted against the simulator (each request the
# client sends, retries included):
#   provision 100 droplets and wait until all are active   (target <= 30)
#   bake one snapshot: create, wait, shutdown, snapshot, find the image, transfer to two
#   regions, delete                                          (target <= 40)
# Usage: bash bench/do_calls.sh   (prints a Markdown report)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/deps.sh >/dev/null
cmake -S . -B build-bench -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-bench -j"$(nproc)" --target dosim do_client_check agent-package >/dev/null

W=$(mktemp -d /tmp/dp-bench-do.XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
build-bench/bin/dosim --listen "127.0.0.1:$port" --state-dir "$W/state" --droplet-limit 500 \
    >"$W/dosim.log" 2>&1 &
SIM=$!
trap 'kill $SIM 2>/dev/null; wait $SIM 2>/dev/null; rm -rf "$W"' EXIT
for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$port/_sim/state" && break; sleep 0.1; done
export DO_API_URL="http://127.0.0.1:$port" DO_TOKEN="dop_v1_bench"

prov=$(build-bench/tests/do_client_check --tag b-prov provision 100 2>/dev/null | sed -n 's/^provision 100 droplets: \([0-9]*\) API calls.*/\1/p')
bake=$(build-bench/tests/do_client_check --tag b-bake bake 2>/dev/null | sed -n 's/^bake: \([0-9]*\) API calls.*/\1/p')

cat <<REPORT
### DigitalOcean API calls ($(date -u +%Y-%m-%d), against tests/dosim)

| operation | API calls | target |
| --- | --- | --- |
| provision 100 droplets (10 creates of 10 names) and wait until all are active (one list-by-tag a poll) | ${prov} | <= 30 |
| bake one snapshot (create, wait, shutdown, wait off, snapshot, wait, find image, transfer x2 and wait, delete) | ${bake} | <= 40 |
REPORT
