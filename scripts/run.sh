#!/usr/bin/env bash
# The run command: installs what is needed, builds, makes sure a Docker engine answers, and
# runs the node agent on loopback with a generated key, printing curl lines that work.
# (Later issues make this start the whole platform: simulated cloud, controller, dashboard.)
# Options: --port N (default 9999, or a free one if taken). Stop with Ctrl-C.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
PORT=9999
while [ $# -gt 0 ]; do
    case $1 in
    --port) PORT=$2; shift 2 ;;
    -h | --help) sed -n '2,6p' "$0"; exit 0 ;;
    *) echo "unknown argument $1 (try --help)" >&2; exit 2 ;;
    esac
done

bash scripts/deps.sh
cmake -S . -B build-release -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build-release -j"$(nproc)" >/dev/null
echo "run: built node-agent $(cat VERSION)"

STATE=$ROOT/.run
mkdir -p "$STATE/data"
chmod 700 "$STATE"
# Docker and a small local image to run (nothing is pulled from the internet).
DP_WORLD=$STATE/world TEST_IMAGE=demo/busybox:1 bash tests/world/up.sh >/dev/null
echo 0 >"$STATE/world/users" # the demo keeps its world; nothing tears it down

[ -s "$STATE/key" ] || { openssl rand -hex 16 >"$STATE/key"; chmod 600 "$STATE/key"; }
KEY=$(cat "$STATE/key")
if ss -ltn "( sport = :$PORT )" | grep -q LISTEN; then
    PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
fi
URL="http://127.0.0.1:$PORT"

cat <<MSG

node-agent $(cat VERSION) is starting on $URL (Ctrl-C stops it).
Its key is in $STATE/key. Try, from a shell:

  curl -H "X-API-Key: $KEY" $URL/ping
  curl -H "X-API-Key: $KEY" $URL/health
  curl -H "X-API-Key: $KEY" -d '{"name":"hello","image":"demo/busybox:1","ports":{"8081":8080},"command":["sh","-c","mkdir -p /www && echo hello from the agent > /www/index.html && exec httpd -f -p 8080 -h /www"]}' $URL/containers/run
  curl http://127.0.0.1:8081/
  curl -H "X-API-Key: $KEY" $URL/containers
  curl -H "X-API-Key: $KEY" -X DELETE $URL/containers/hello

From PowerShell, use curl.exe with the same arguments; put JSON bodies in a file
(Set-Content -Encoding ascii body.json) and send them with -d "@body.json".

MSG
exec build-release/bin/node-agent --listen "127.0.0.1:$PORT" --key-file "$STATE/key" \
    --data-root "$STATE/data" --publish-ip 127.0.0.1
