# Shared by the test world's scripts: where its state lives and how to reach Docker.
DP_WORLD=${DP_WORLD:-/tmp/dp-world}
DOCKER_SOCK=${DOCKER_SOCK:-/var/run/docker.sock}
TEST_IMAGE=${TEST_IMAGE:-dp-test/busybox:1}

docker_ping() {
    [ "$(curl -s --max-time 3 --unix-socket "$DOCKER_SOCK" http://docker/_ping 2>/dev/null)" = OK ]
}
