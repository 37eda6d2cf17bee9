#!/usr/bin/env bash
# The agent's bake mode: with only a one-time bake key (no agent key yet) the agent starts and
# serves; the bake key reaches GET /ping, GET /health and POST /bake/finalize and nothing else
# (403: the key is known, the route is not for it; 403s never count towards the 429 gate);
# finalize removes cloud-init's instance state (never through a symlink) and the bake key file,
# answers what it removed, and the bake key is refused (401) from then on, a second finalize
# included. The agent key works as before, never on /bake/finalize; SIGHUP loads a key written
# later; SIGTERM ends the agent cleanly.
. "$(dirname "$0")/lib.sh"
it_init agent_bake

help=$("$DP_BIN/node-agent" --help)
expect_match "$help" "--bake-key-file" "--help mentions --bake-key-file"
expect_match "$help" "--cloud-dir" "--help mentions --cloud-dir"
rc=0; out=$("$DP_BIN/node-agent" --cloud-dir rel/cloud --check 2>&1) || rc=$?
expect_eq "$rc" 2 "relative --cloud-dir refused"
expect_match "$out" "cloud-dir" "the message names --cloud-dir"
rc=0; out=$("$DP_BIN/node-agent" --bake-key-file bake-key --check 2>&1) || rc=$?
expect_eq "$rc" 2 "relative --bake-key-file refused"
# The agent.conf a bake writes (cloudinit's bake template) is one the agent takes.
printf 'listen = 0.0.0.0:9999\nkey-file = /etc/node-agent/key\nbake-key-file = /etc/node-agent/bake-key\ndata-root = /var/lib/node-agent\ndocker-socket = /var/run/docker.sock\nallow = 10.0.0.0/8\n' >"$T/bake.conf"
expect_eq "$("$DP_BIN/node-agent" --config "$T/bake.conf" --check 2>&1)" "configuration ok" \
    "the bake's agent.conf passes --check"

# A cloud dir as cloud-init leaves it after a first boot, plus what must survive: the seed,
# the scripts, and a folder outside that the instance link points to.
CLOUD=$T/cloud
mkdir -p "$CLOUD/instances/i-0bake/sem" "$CLOUD/data" "$CLOUD/sem" "$CLOUD/handlers" \
    "$CLOUD/seed/nocloud" "$CLOUD/scripts/per-boot" "$T/outside"
echo "#cloud-config" >"$CLOUD/instances/i-0bake/user-data.txt"
echo i-0bake >"$CLOUD/data/instance-id"
touch "$CLOUD/sem/config_scripts_per_once.once" "$T/outside/keep"
ln -s "$T/outside" "$CLOUD/instance"
ln -s "$T/outside" "$CLOUD/instances/i-0bake/escape"
BAKE_KEY=$(openssl rand -hex 20)
printf '%s\n' "$BAKE_KEY" >"$T/bake-key"
chmod 600 "$T/bake-key"

# --- Only a bake key: the key file does not exist yet.
agent_start b --key-file "$T/agent-key" --bake-key-file "$T/bake-key" --cloud-dir "$CLOUD"
expect_match "$(cat "$b_LOG")" "bake mode: the bake key from $T/bake-key reaches" "start-up says bake mode"
expect_match "$(cat "$b_LOG")" "only the bake key's routes answer" "start-up says what the bake key reaches"
KEY=$BAKE_KEY
req GET /ping
expect_status 200 "bake key on /ping"
expect_json .version "$(cat "$DP_SRC/VERSION")" "bake ping version"
req GET /health
expect_status 200 "bake key on /health"
expect_json .docker.ok true "bake health sees docker"
req GET /ping -H "Authorization: Bearer $BAKE_KEY" -H "X-API-Key:"
expect_status 200 "bake key as a bearer token"
for route in "GET /containers" "GET /metrics" "POST /containers/run" "POST /pull" \
    "GET /containers/x/logs" "DELETE /containers/x" "GET /no/such/route" "GET /bake/finalize"; do
    req ${route% *} "${route#* }" -d '{}'
    expect_status 403 "bake key on $route"
    expect_json .error forbidden "bake key on $route: error code"
done
expect_json .detail "the bake key reaches only GET /ping, GET /health and POST /bake/finalize" \
    "403 says what the bake key reaches"
# More 403s than the failure limit: none counts, the bake key still works.
for _ in $(seq 12); do req GET /containers; done
expect_status 403 "still 403, not 429, after 12 refusals"
req GET /ping
expect_status 200 "bake key still answered after the refusals"
req_noauth GET /ping
expect_status 401 "no key"
req_noauth GET /ping -H "X-API-Key: ${BAKE_KEY}x"
expect_status 401 "a wrong key"

# Finalize: the body is ignored; cloud-init's instance state and the bake key go.
req POST /bake/finalize -d '{"command":"rm -rf /","path":"/etc"}'
expect_status 200 "finalize"
expect_json .finalized true "finalized"
expect_eq "$(printf '%s' "$BODY" | jq -c .removed)" \
    "$(jq -nc --arg c "$CLOUD" --arg k "$T/bake-key" '[$c+"/instances",$c+"/instance",$c+"/data",$c+"/sem",$c+"/handlers",$k]')" \
    "finalize lists what it removed"
for gone in instances instance data sem handlers; do
    expect_eq "$(test -e "$CLOUD/$gone" || test -L "$CLOUD/$gone" && echo there || echo gone)" gone "$gone removed"
done
expect_eq "$(test -e "$T/bake-key" && echo there || echo gone)" gone "bake key file removed"
expect_eq "$(ls "$CLOUD" | tr '\n' ' ')" "scripts seed " "seed and scripts stay"
expect_eq "$(ls "$T/outside")" keep "the folder behind the instance link is untouched"
expect_match "$(cat "$b_LOG")" "bake finalized" "finalize logged"
if grep -qF "$BAKE_KEY" "$b_LOG"; then fail "the bake key is in the log"; else ok; fi

req GET /ping
expect_status 401 "bake key refused after finalize"
req POST /bake/finalize
expect_status 401 "a second finalize is refused"

# A key written later (provisioning) is loaded by SIGHUP and works for everything.
AGENT_KEY=$(openssl rand -hex 16)
printf '%s\n' "$AGENT_KEY" >"$T/agent-key"
kill -HUP "$b_PID"
wait_for 10 grep -q 'key reloaded' "$b_LOG" || fail "no key reload after SIGHUP"
KEY=$AGENT_KEY
req GET /containers
expect_status 200 "agent key on /containers"
req POST /bake/finalize
expect_status 403 "agent key on /bake/finalize"
expect_json .detail "POST /bake/finalize takes the bake key only" "403 says finalize needs the bake key"
req GET /metrics
expect_match "$BODY" 'node_agent_requests_total\{route="bake_finalize",code="2xx"\} 1' "metrics count the finalize"
agent_stop b

# --- Both keys (an agent restarted mid-bake with a key already there): each keeps its scope.
BAKE2=$(openssl rand -hex 20)
printf '%s' "$BAKE2" >"$T/bake-key"
agent_start c --bake-key-file "$T/bake-key" --cloud-dir "$T/no-cloud-dir"
req GET /containers
expect_status 200 "agent key with a bake key loaded"
req POST /bake/finalize
expect_status 403 "agent key cannot finalize"
KEY=$BAKE2
req GET /containers
expect_status 403 "bake key on /containers with both loaded"
# The bake key file removed by hand: the bake key is over at once.
mv "$T/bake-key" "$T/bake-key.aside"
req GET /ping
expect_status 401 "bake key refused while its file is gone"
mv "$T/bake-key.aside" "$T/bake-key"
req GET /ping
expect_status 200 "bake key back with its file"
req POST /bake/finalize
expect_status 200 "finalize without a cloud dir"
expect_eq "$(printf '%s' "$BODY" | jq -c .removed)" "[\"$T/bake-key\"]" "only the key removed"
req GET /health
expect_status 401 "bake key refused after the second agent's finalize"
use_agent c
req GET /ping
expect_status 200 "agent key still works after finalize"
agent_stop c
