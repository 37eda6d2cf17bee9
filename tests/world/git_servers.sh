# Git servers for the tests, all on 127.0.0.1 and free ports, all stopped by git_world_stop:
#   git_repo_make NAME     a bare repo with branches main (default) and feature
#   git_daemon_start       git daemon serving every repo publicly over git://
#   git_tls_make           a test CA and a server certificate for 127.0.0.1
#   git_https_start TOKEN  git http-backend over HTTPS, Basic auth with TOKEN as the password
#   git_stall_start        a server that accepts connections and never answers
# Source it, call git_world_init DIR, and register git_world_stop for the test's end (with
# tests/it/lib.sh: IT_EXTRA_CLEANUP=git_world_stop).

GW_WORLD_SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
GW_PIDS=()
GW_PY=${GW_PY:-/usr/bin/python3} # Debian's, stdlib only; a shim would hide the server's pid
GW_LIFETIME=${GW_LIFETIME:-900} # seconds; servers exit on their own after this

git_world_init() { # DIR
    GW_DIR=$1
    GW_REPOS=$GW_DIR/repos
    mkdir -p "$GW_REPOS"
}

gw_port_open() { # PORT
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

gw_free_port() {
    "$GW_PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# gw_wait_file SECONDS FILE: waits until FILE exists and is non-empty.
gw_wait_file() {
    local i
    for ((i = 0; i < $1 * 10; i++)); do
        [ -s "$2" ] && return 0
        sleep 0.1
    done
    return 1
}

gw_git() {
    git -c user.name=dp-test -c user.email=dp-test@example.invalid -c init.defaultBranch=main \
        -c advice.detachedHead=false "$@"
}

# git_repo_make NAME: $GW_REPOS/NAME.git with main (README.md, app.txt, a Dockerfile serving
# the tree with busybox httpd on 8080) and feature (one more commit adding feature.txt).
# HEAD is main.
git_repo_make() {
    local name=$1 work=$GW_DIR/work-$1
    gw_git init -q "$work"
    printf '# %s\n' "$name" >"$work/README.md"
    printf 'main\n' >"$work/app.txt"
    printf 'FROM %s\nCOPY . /www\nCMD ["httpd", "-f", "-p", "8080", "-h", "/www"]\n' \
        "${TEST_IMAGE:-dp-test/busybox:1}" >"$work/Dockerfile"
    gw_git -C "$work" add -A
    gw_git -C "$work" commit -qm "main: first"
    gw_git -C "$work" checkout -qb feature
    printf 'feature\n' >"$work/feature.txt"
    gw_git -C "$work" add -A
    gw_git -C "$work" commit -qm "feature: second"
    gw_git -C "$work" checkout -q main
    gw_git clone -q --bare "$work" "$GW_REPOS/$name.git"
    rm -rf "$work"
}

# git_daemon_start: sets GIT_DAEMON_PORT; repos are git://127.0.0.1:PORT/NAME.git.
git_daemon_start() {
    local i
    GIT_DAEMON_PORT=$(gw_free_port)
    git daemon --reuseaddr --listen=127.0.0.1 --port="$GIT_DAEMON_PORT" --export-all \
        --base-path="$GW_REPOS" "$GW_REPOS" >"$GW_DIR/git-daemon.log" 2>&1 &
    GIT_DAEMON_PID=$!
    GW_PIDS+=("$GIT_DAEMON_PID")
    for ((i = 0; i < 50; i++)); do
        gw_port_open "$GIT_DAEMON_PORT" && return 0
        sleep 0.1
    done
    echo "git daemon did not start:" >&2
    cat "$GW_DIR/git-daemon.log" >&2
    return 1
}

# git_tls_make: GW_CA (give it to --git-ca-file), GW_CERT and GW_KEY for 127.0.0.1. The SAN
# carries 127.0.0.1 as an IP and as a DNS name: Debian's libgit2 checks names with mbedTLS
# 2.28, which matches only DNS names.
git_tls_make() {
    local d=$GW_DIR/tls
    mkdir -p "$d"
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
        -subj "/CN=dp test git CA" -keyout "$d/ca.key" -out "$d/ca.pem" \
        -addext "basicConstraints=critical,CA:TRUE" \
        -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
    openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes \
        -subj "/CN=127.0.0.1" -keyout "$d/server.key" -out "$d/server.csr" 2>/dev/null
    printf '%s\n' "subjectAltName=IP:127.0.0.1,DNS:127.0.0.1,DNS:localhost" \
        "basicConstraints=CA:FALSE" "keyUsage=critical,digitalSignature" \
        "extendedKeyUsage=serverAuth" >"$d/server.ext"
    openssl x509 -req -in "$d/server.csr" -CA "$d/ca.pem" -CAkey "$d/ca.key" \
        -set_serial "0x$(openssl rand -hex 8)" -days 2 -extfile "$d/server.ext" \
        -out "$d/server.pem" 2>/dev/null
    GW_CA=$d/ca.pem
    GW_CERT=$d/server.pem
    GW_KEY=$d/server.key
}

# git_https_start TOKEN: sets GIT_HTTPS_PORT; repos are https://127.0.0.1:PORT/NAME.git and
# need TOKEN as the Basic password. Calls git_tls_make when no certificate exists yet.
git_https_start() {
    local tokfile=$GW_DIR/https.token
    [ -n "${GW_CERT:-}" ] || git_tls_make
    (umask 077 && printf '%s\n' "$1" >"$tokfile")
    rm -f "$GW_DIR/https.port"
    "$GW_PY" "$GW_WORLD_SRC/git_https_server.py" --root "$GW_REPOS" --cert "$GW_CERT" \
        --key "$GW_KEY" --token-file "$tokfile" --port-file "$GW_DIR/https.port" \
        --lifetime "$GW_LIFETIME" >"$GW_DIR/https.log" 2>&1 &
    GIT_HTTPS_PID=$!
    GW_PIDS+=("$GIT_HTTPS_PID")
    if ! gw_wait_file 10 "$GW_DIR/https.port"; then
        echo "git https server did not start:" >&2
        cat "$GW_DIR/https.log" >&2
        return 1
    fi
    GIT_HTTPS_PORT=$(cat "$GW_DIR/https.port")
}

# git_stall_start: sets GIT_STALL_PORT; any git://127.0.0.1:PORT/x.git clone hangs there.
git_stall_start() {
    rm -f "$GW_DIR/stall.port"
    "$GW_PY" "$GW_WORLD_SRC/git_stall_server.py" --port-file "$GW_DIR/stall.port" \
        --lifetime "$GW_LIFETIME" >"$GW_DIR/stall.log" 2>&1 &
    GIT_STALL_PID=$!
    GW_PIDS+=("$GIT_STALL_PID")
    if ! gw_wait_file 10 "$GW_DIR/stall.port"; then
        echo "stalled git server did not start:" >&2
        cat "$GW_DIR/stall.log" >&2
        return 1
    fi
    GIT_STALL_PORT=$(cat "$GW_DIR/stall.port")
}

# git_world_stop: stops every server started above (the git daemon's per-connection children
# too). Files stay in GW_DIR for the caller to keep or remove.
git_world_stop() {
    local pid i
    for pid in "${GW_PIDS[@]}"; do # "|| true": this runs in EXIT traps under set -e
        pkill -TERM -P "$pid" 2>/dev/null || true
        kill -TERM "$pid" 2>/dev/null || true
    done
    for pid in "${GW_PIDS[@]}"; do
        for ((i = 0; i < 50; i++)); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
        wait "$pid" 2>/dev/null || true
    done
    GW_PIDS=()
    return 0
}
