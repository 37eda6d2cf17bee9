#!/usr/bin/env bash
# The dashboard (static/) in a real browser: Debian's chromium driven by playwright-core
# (tests/it/dashboard.mjs) against the controller on the simulated cloud, which starts with no
# snapshot. The browser logs in (a wrong password first), bakes the base snapshot from the Setup
# with its live log, provisions two servers in two regions, filters them by region and snapshot
# without a request, asks one agent's health, deploys the demo image to both and watches the log
# reach done, uploads a zip of code to one, deploys a token-protected git repository to a new
# server made for the deploy, shows the credentials, transfers the snapshot,
# replays the image deployment's log through a dropped connection (Last-Event-ID), restarts it,
# deletes the code deployment, and is sent back to the login by a stale token. This side then
# checks what the browser did: the image app answers on both servers' addresses, the code app is
# gone, and the credentials' curl line, run as shown, reaches an agent. Screenshots of the deploy
# view go to $T (and beside the build: $DP_BUILD/dashboard/).
#
# playwright-core is installed on first use with npm, pinned, into the cache shared with the
# OpenAPI lint: $DP_NPM_CACHE, else ~/.cache/deploy-infra/npm, else <build>/npm-cache. The
# npm registry is reached only for that install; the browser is Debian's (never downloaded).
. "$(dirname "$0")/lib.sh"
. "$DP_SRC/tests/it/ctl_lib.sh"
. "$DP_SRC/tests/it/snap_lib.sh"
. "$DP_SRC/tests/world/git_servers.sh"
it_init dashboard

PLAYWRIGHT_VERSION=1.61.1 # the newest playwright-core that still runs on Debian 12's node 18
CHROMIUM=/usr/bin/chromium
BROWSER_PID=

# The browser and its helpers run in a process group of their own (setsid): stopped by its id.
browser_stop() {
    [ -n "$BROWSER_PID" ] || return 0
    if kill -0 "$BROWSER_PID" 2>/dev/null; then
        kill -TERM -- "-$BROWSER_PID" 2>/dev/null
        local i
        for ((i = 0; i < 50; i++)); do
            kill -0 -- "-$BROWSER_PID" 2>/dev/null || break
            sleep 0.1
        done
    fi
    kill -KILL -- "-$BROWSER_PID" 2>/dev/null
    wait "$BROWSER_PID" 2>/dev/null
    BROWSER_PID=
}
dashboard_cleanup() {
    local sim_id='' id
    browser_stop
    git_world_stop
    [ -n "$SIM_PID" ] && sim_id=$(curl -s --max-time 5 "$SIM_URL/_sim/state" | jq -r .sim_id 2>/dev/null)
    ctl_cleanup
    # What the simulated servers' agents left in the shared Docker engine: the demo image they
    # pulled and the image they built from the page's zip (labelled with their namespace).
    docker images --format '{{.Repository}}:{{.Tag}}' | grep -F "/$NS/" | xargs -r docker rmi -f >/dev/null 2>&1
    if [ -n "$sim_id" ] && [ "$sim_id" != null ]; then
        for id in $(docker images -q --filter label=dp.managed=1 | sort -u); do
            case $(docker image inspect -f '{{index .Config.Labels "dp.namespace"}}' "$id" 2>/dev/null) in
            "do-$sim_id"-*) docker rmi -f "$id" >/dev/null 2>&1 ;;
            esac
        done
    fi
    return 0
}
IT_EXTRA_CLEANUP=dashboard_cleanup

for f in index.html app.js app.css; do
    [ -f "$DP_SRC/static/$f" ] || { fail "missing static/$f"; exit 1; }
done
[ -x "$CHROMIUM" ] || { fail "Debian's chromium is needed at $CHROMIUM (scripts/deps.sh installs it)"; exit 1; }
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
    fail "node and npm are needed to install playwright-core (scripts/deps.sh installs them)"
    exit 1
fi
if ! node -e 'process.exit(Number(process.versions.node.split(".")[0]) >= 18 ? 0 : 1)'; then
    fail "node $(node --version) is too old for playwright-core $PLAYWRIGHT_VERSION (needs 18+)"
    exit 1
fi

# --- playwright-core, installed once per version into the cache (one installer at a time).
if [ -n "${DP_NPM_CACHE:-}" ]; then
    cache=$DP_NPM_CACHE
elif [ -n "${HOME:-}" ] && mkdir -p "${XDG_CACHE_HOME:-$HOME/.cache}/deploy-infra/npm" 2>/dev/null; then
    cache=${XDG_CACHE_HOME:-$HOME/.cache}/deploy-infra/npm
else
    cache=${DP_BUILD:?}/npm-cache
fi
mkdir -p "$cache"
PW_PREFIX=$cache/playwright-core-$PLAYWRIGHT_VERSION
pw_version() { node -p "require('$PW_PREFIX/node_modules/playwright-core/package.json').version" 2>/dev/null; }
exec 9>"$cache/.playwright.lock"
flock -w 900 9 || { fail "timed out waiting for another playwright-core install ($cache)"; exit 1; }
if [ "$(pw_version)" != "$PLAYWRIGHT_VERSION" ]; then
    echo "installing playwright-core@$PLAYWRIGHT_VERSION into $PW_PREFIX"
    rm -rf "$PW_PREFIX" "$PW_PREFIX.part"
    # No install scripts: playwright-core has none, and browsers are never downloaded.
    if ! PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm install --prefix "$PW_PREFIX.part" --no-audit --no-fund \
        --no-update-notifier --ignore-scripts --cache "$cache/npm-download-cache" \
        "playwright-core@$PLAYWRIGHT_VERSION" >"$T/npm.log" 2>&1; then
        tail -20 "$T/npm.log" >&2
        fail "npm could not install playwright-core@$PLAYWRIGHT_VERSION"
        exit 1
    fi
    mv "$PW_PREFIX.part" "$PW_PREFIX"
fi
exec 9>&-
expect_eq "$(pw_version)" "$PLAYWRIGHT_VERSION" "the pinned playwright-core is there"

# --- The world: a registry with the demo image, the simulated cloud with no snapshot (the page
# bakes the base), the controller; a zip of a static site with its Dockerfile.
registry_start reg
REG_ADDR=$reg_ADDR
snap_sim_start
IMG=$(demo_image web "dashboard-v1")
# A token-protected repository over HTTPS; new servers' agents trust its CA from provisioning.
git_world_init "$T/git"
GIT_TOKEN="ghp_$(openssl rand -hex 20)"
git_repo_make app
git_tls_make
git_https_start "$GIT_TOKEN"
ctl_start --example-image "$IMG" --git-ca-file "$GW_CA" # the example image: as in the run command
ctl_login
mkdir -p "$T/site/www"
echo "site-v1" >"$T/site/www/index.html"
printf 'FROM %s\nCOPY www /www\nCMD ["httpd", "-f", "-p", "8082", "-h", "/www"]\n' "$TEST_IMAGE" >"$T/site/Dockerfile"
(cd "$T/site" && zip -qr ../site.zip .)

# The page is served at / with its files, under the same-origin policy the page relies on.
out=$(curl -s -D "$T/index.headers" -o "$T/index.html" -w '%{http_code} %{content_type}' "$CTL_URL/")
expect_eq "$out" "200 text/html; charset=utf-8" "GET / answers the page"
expect_match "$(cat "$T/index.headers")" "Content-Security-Policy: default-src 'self'" "the page is served with its CSP"
for f in app.js app.css; do
    expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$CTL_URL/$f")" 200 "GET /$f"
done
# The version the page shows comes from the API, never from the page's own text.
if grep -qF "$VERSION" "$DP_SRC/static/index.html" "$DP_SRC/static/app.js"; then
    fail "the page carries the version $VERSION as a constant"
fi
ok

# --- The browser run.
CTL_URL=$CTL_URL OUT=$T PW_PREFIX=$PW_PREFIX ADMIN_PW=$ADMIN_PW DEMO_IMAGE=$IMG EXPECTED_VERSION=$VERSION \
    CODE_ZIP=$T/site.zip SIM_URL=$SIM_URL GIT_URL="https://127.0.0.1:$GIT_HTTPS_PORT/app.git" \
    GIT_TOKEN=$GIT_TOKEN setsid node "$DP_SRC/tests/it/dashboard.mjs" >"$T/browser.log" 2>&1 &
BROWSER_PID=$!
rc=0
wait "$BROWSER_PID" || rc=$?
BROWSER_PID=
sed 's/^/  browser: /' "$T/browser.log"
n=$(sed -n 's/^checks: \([0-9]*\)$/\1/p' "$T/browser.log")
IT_CHECKS=$((IT_CHECKS + ${n:-0}))
IT_FAILS=$((IT_FAILS + $(grep -c '^FAIL: ' "$T/browser.log" || true)))
expect_eq "$rc" 0 "the browser run"
expect_match "$(file -b "$T/deploy-view.png" 2>&1)" "^PNG image data" "a screenshot of the deploy view"
if [ -n "${DP_BUILD:-}" ] && [ -f "$T/deploy-view.png" ]; then
    mkdir -p "$DP_BUILD/dashboard" && cp "$T"/*.png "$DP_BUILD/dashboard/" 2>/dev/null
fi

# --- What the browser did, checked from here.
read -r -a IPS <<<"$(jq -r '.ips // [] | join(" ")' "$T/browser.json" 2>/dev/null)"
expect_eq "${#IPS[@]}" 2 "the browser saw two servers"
for ip in "${IPS[@]}"; do
    app_answers "$ip" 8080 dashboard-v1 || fail "the app deployed from the page answers on $ip"
done
ok
api GET /api/v1/infra/servers
BODY=$(jq --argjson ips "$(jq -c '.ips // []' "$T/browser.json")" \
    '.servers |= map(select(.ip as $ip | $ips | index($ip)))' <<<"$BODY") # not the canceled deploy's
expect_eq "$(jq -r '[.servers[].region] | sort | join(",")' <<<"$BODY")" \
    "$(jq -r '.regions // [] | sort | join(",")' "$T/browser.json")" "the two servers are in the regions the page chose"
expect_eq "$(jq -r '[.servers[] | "\(.region)=\(.size)"] | sort | join(",")' <<<"$BODY")" \
    "$(jq -r '[.regions, .sizes] | transpose | map("\(.[0])=\(.[1])") | sort | join(",")' "$T/browser.json")" \
    "each server has the size the page preselected for its region"
expect_eq "$(jq -r '[.servers[].image.name] | unique | join(",")' <<<"$BODY")" "$BASE_NAME" \
    "the servers run the snapshot the page baked"
if [ "${#IPS[@]}" -gt 0 ]; then
    expect_eq "$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' "http://${IPS[0]}:8082/")" 000 \
        "the code app deleted from the page is gone"
fi
GIT_IP=$(jq -r '.git_ip // ""' "$T/browser.json")
expect_match "$GIT_IP" '^127\.' "the git deploy made a new server"
[ -n "$GIT_IP" ] && expect_eq "$(curl -s --max-time 5 "http://$GIT_IP:8080/app.txt")" main \
    "the app built from the repository's main branch answers on the new server"
CODE_DEP=$(jq -r '.code_deployment_id // 0' "$T/browser.json")
api GET "/api/v1/deployments/$CODE_DEP"
expect_status 404 "the deleted deployment's record is gone"
DEP=$(jq -r '.deployment_id // 0' "$T/browser.json")
api GET "/api/v1/deployments/$DEP"
expect_json .status succeeded "the page's deploy is recorded"
expect_json '.summary.env | join(",")' "GREETING=***,MODE=***" "the env from the page reached the deploy"

# The credentials' curl line, run as the page shows it, reaches a provisioned agent.
line=$(jq -r '.curl // ""' "$T/browser.json")
expect_match "$line" "^curl -k --pinnedpubkey 'sha256//" "the page showed the curl line"
if [ -n "$line" ]; then
    expect_eq "$(eval "$line --max-time 10 -s" | jq -r .status 2>/dev/null)" healthy "the shown curl line works"
fi
