#!/usr/bin/env bash
# Tears down what up.sh made: the base image, and dockerd if up.sh started it.
set -uo pipefail
. "$(dirname "$0")/common.sh"
mkdir -p "$DP_WORLD"
exec 9>"$DP_WORLD/lock"
flock -w 60 9 || { echo "world: the world lock $DP_WORLD/lock is held by another process for 60 s"; exit 1; }
users=$(cat "$DP_WORLD/users" 2>/dev/null || echo 1)
users=$((users > 0 ? users - 1 : 0))
echo "$users" >"$DP_WORLD/users"
if [ "$users" -gt 0 ]; then
    echo "world: $users other user(s) remain; leaving the world up"
    exit 0
fi

# Every test removes what it started; anything left here is a leak, reported as a failure.
status=0
left=$(docker ps -aq --filter label=dp.managed=1 2>/dev/null)
if [ -n "$left" ]; then
    echo "world: $(echo "$left" | wc -l) managed containers were left by tests:"
    docker ps -a --filter label=dp.managed=1 --format '  {{.Names}} {{.Status}}'
    echo "$left" | xargs docker rm -f >/dev/null 2>&1
    status=1
fi
docker image rm -f "$TEST_IMAGE" >/dev/null 2>&1 || true
if [ -f "$DP_WORLD/dockerd.pid" ]; then
    pid=$(cat "$DP_WORLD/dockerd.pid")
    kill -TERM "$pid" 2>/dev/null || true
    for _ in $(seq 1 30); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 1
    done
    rm -f "$DP_WORLD/dockerd.pid"
    echo "world: stopped the dockerd it had started"
fi
exit $status
