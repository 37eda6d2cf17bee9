#!/usr/bin/env bash
# Installs the Debian 12 packages the build, the test world and the benchmarks need.
# Idempotent; run as root. Skips apt entirely when everything is already there.
set -euo pipefail

PKGS=(
    # build
    cmake make gcc clang libclang-rt-14-dev pkg-config clang-format clang-tidy
    libcivetweb-dev libcurl4-openssl-dev libjansson-dev libarchive-dev libgit2-dev libssl-dev
    libsqlite3-dev
    libyaml-dev # tests/dosim reads #cloud-config user-data
    # the test world and its clients
    docker.io docker-registry apache2-utils busybox-static git curl jq openssl python3
    iproute2 procps psmisc
    # benchmarks and checks
    wrk hyperfine time bc libarchive-tools python3-flask prometheus
    # packaging
    dpkg-dev file systemd binutils
    cloud-init python3-jsonschema python3-yaml # user-data schema check, DO contract checker
    nftables # the bake's firewall, loaded by the tests in network namespaces of their own
    nodejs $(command -v npm >/dev/null || echo npm) # OpenAPI lint (NodeSource's nodejs has npm)
    chromium fonts-dejavu-core # the dashboard's browser test (driven by playwright-core from npm)
)

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "deps: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    log=$(mktemp)
    if ! { apt-get update -qq && apt-get install -y -qq --no-install-recommends "${missing[@]}"; } >"$log" 2>&1; then
        cat "$log" >&2
        echo "deps: apt-get failed" >&2
        exit 1
    fi
    rm -f "$log"
fi
# Debian's prometheus package starts a server we do not want; only promtool is used.
if systemctl is-active --quiet prometheus 2>/dev/null; then systemctl stop prometheus || true; fi
echo "deps: ok"
