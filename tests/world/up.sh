#!/usr/bin/env bash
# Brings up what every integration test shares: a Docker engine that answers (started here if
# none does) and the local base image tests build on (no image can be pulled from the internet).
# Reference-counted, so test runs that overlap (two build trees) never tear down each other's
# world: down.sh removes things only when the last user leaves.
set -euo pipefail
. "$(dirname "$0")/common.sh"
mkdir -p "$DP_WORLD"
exec 9>"$DP_WORLD/lock"
flock -w 120 9 || { echo "world: the world lock $DP_WORLD/lock is held by another process for 120 s"; exit 1; }
users=$(cat "$DP_WORLD/users" 2>/dev/null || echo 0)
echo $((users + 1)) >"$DP_WORLD/users"

if ! docker_ping; then
    echo "world: no Docker engine answers on $DOCKER_SOCK; starting dockerd"
    # 9>&-: dockerd outlives this script and must not inherit the lock, or down.sh waits forever.
    # setsid: a session of its own, so a Ctrl-C meant for the run command (its process group)
    # does not stop the engine while the simulator is still removing its containers.
    setsid nohup dockerd >"$DP_WORLD/dockerd.log" 2>&1 9>&- &
    echo $! >"$DP_WORLD/dockerd.pid"
    for _ in $(seq 1 60); do
        docker_ping && break
        sleep 1
    done
    docker_ping || { echo "world: dockerd did not answer within 60 s"; tail -20 "$DP_WORLD/dockerd.log"; exit 1; }
fi

# A busybox-static root: sh, httpd and the usual tools, enough to build and serve test apps.
if ! docker image inspect "$TEST_IMAGE" >/dev/null 2>&1; then
    root=$(mktemp -d)
    trap 'rm -rf "$root"' EXIT
    mkdir -p "$root/bin" "$root/tmp" "$root/etc" "$root/www"
    cp /bin/busybox "$root/bin/busybox"
    for applet in $(/bin/busybox --list); do
        [ "$applet" = busybox ] || ln -sf busybox "$root/bin/$applet"
    done
    echo 'root:x:0:0:root:/:/bin/sh' >"$root/etc/passwd"
    echo 'root:x:0:' >"$root/etc/group"
    tar -C "$root" -cf "$root.tar" .
    docker import -c 'ENV PATH=/bin' -c 'CMD ["/bin/sh"]' "$root.tar" "$TEST_IMAGE" >/dev/null
    rm -f "$root.tar"
fi
echo "world: docker $(curl -s --unix-socket "$DOCKER_SOCK" http://docker/version | sed -n 's/.*"Version":"\([^"]*\)".*/\1/p' | head -1), image $TEST_IMAGE ready, $((users + 1)) user(s)"
