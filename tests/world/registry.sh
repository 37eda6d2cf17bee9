# Sourced by integration tests (after tests/it/lib.sh): a private image registry on loopback,
# Debian's docker-registry, with or without htpasswd auth, pre-loaded with the test image.
# Docker treats 127.0.0.0/8 registries as plain-HTTP ("insecure") ones, so no TLS is needed.

# registry_start ID [USER PASS]: sets ${ID}_ADDR (127.0.0.1:port); stopped by it_cleanup.
registry_start() {
    local id=$1 user=${2:-} pass=${3:-} port dir auth=""
    port=$(free_port)
    dir="$T/registry-$id"
    mkdir -p "$dir/data"
    if [ -n "$user" ]; then
        htpasswd -Bbn "$user" "$pass" >"$dir/htpasswd"
        auth="auth:
  htpasswd:
    realm: dp-test
    path: $dir/htpasswd"
    fi
    cat >"$dir/config.yml" <<YAML
version: 0.1
log:
  level: warn
storage:
  filesystem:
    rootdirectory: $dir/data
http:
  addr: 127.0.0.1:$port
$auth
YAML
    docker-registry serve "$dir/config.yml" >"$dir/log" 2>&1 &
    IT_EXTRA_PIDS+=("$!")
    printf -v "${id}_ADDR" '%s' "127.0.0.1:$port"
    wait_for 15 curl -s -o /dev/null "http://127.0.0.1:$port/v2/" || {
        cat "$dir/log" >&2
        fail "registry $id did not start"
        exit 1
    }
}

# registry_push ADDR REPO:TAG [USER PASS]: puts the test image into the registry. The docker
# CLI keeps its login in a config folder of this test, not the machine's.
registry_push() {
    local addr=$1 ref=$2 user=${3:-} pass=${4:-}
    export DOCKER_CONFIG="$T/docker-config"
    mkdir -p "$DOCKER_CONFIG"
    if [ -n "$user" ]; then
        printf '%s' "$pass" | docker login --username "$user" --password-stdin "$addr" >/dev/null 2>&1 ||
            { fail "docker login to $addr"; return 1; }
    fi
    docker tag "$TEST_IMAGE" "$addr/$ref"
    docker push "$addr/$ref" >/dev/null || { fail "docker push $addr/$ref"; return 1; }
    docker rmi "$addr/$ref" >/dev/null
}
