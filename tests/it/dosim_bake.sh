#!/usr/bin/env bash
# A bake in dosim with the real bake-time user-data (cloudinit_render_cli bake): the droplet
# downloads the agent package from a loopback HTTP server, checks and installs it, and its agent
# answers /ping with the one-time bake key (and nothing else); package, firewall and other
# system lines are logged as skipped, never failed. POST /bake/finalize removes the bake key
# and cloud-init's instance state; the droplet is powered off and snapshotted, and the snapshot
# carries neither. A droplet from that snapshot with provision-time user-data runs the agent
# with the user's key over TLS. A bake document without the agent install leaves no agent and
# a log line that says why.
. "$(dirname "$0")/lib.sh"
. "$DP_SRC/tests/dosim/testlib.sh"
it_init dosim_bake
STATE=$T/state
VERSION=$(cat "$DP_SRC/VERSION")
PKG=$(basename "$(ls "$DP_BUILD"/package/node-agent-"$VERSION"-linux-*.tar.gz)")
SUM=$(cut -d' ' -f1 "$DP_BUILD/package/$PKG.sha256")
CLI="$DP_BUILD/tests/cloudinit_render_cli"
cd "$T"

# The package server, as the controller is during a bake.
port=$(free_port)
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$DP_BUILD/package" \
    >"$T/http.log" 2>&1 &
IT_EXTRA_PIDS+=("$!")
wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$port/$PKG.sha256" || fail "package server"
PURL="http://127.0.0.1:$port/$PKG"

dosim_start a --state-dir "$STATE" --record "$T/record.jsonl"
ci_of() { curl -s "$DURL/_sim/droplets/$1/log" | jq -r .cloud_init; }
alog_of() { curl -s "$DURL/_sim/droplets/$1/log" | jq -r .agent; }
root_of() { echo "$STATE/droplets/$1/root"; }
make() { # NAME IMAGE USER_DATA_FILE: sets D
    api POST /v2/droplets -d "$(create_body "$1" "$2" "$(cat "$3")" |
        jq -c '.tags = ["dp-managed", "dp-bake"]')"
    expect_status 202 "create $1"
    D=$(jqb .droplet.id)
}

# 1. The bake droplet.
BAKE_KEY=$(openssl rand -hex 24)
printf '%s' "$BAKE_KEY" >bake-key
"$CLI" bake --url "$PURL" --sha256 "$SUM" --bake-key-file bake-key --allow 127.0.0.1 \
    --ssh-allow 203.0.113.9 --package htop >bake.yaml || fail "render the bake document"
make bake-1 '"debian-12-x64"' bake.yaml
db=$D
wait_ci "$db" 30 || fail "bake user-data did not finish"
ip=$(droplet_ip "$db")
log=$(ci_of "$db")
expect_match "$log" "packages not installed \(not simulated; apt cannot run here\): docker.io nftables curl ca-certificates libcivetweb1 libcurl4 libjansson4 libarchive13 libssl3 libgit2-1.5 htop" \
    "packages named and skipped"
expect_match "$log" "cloud-config 'package_update' is not simulated; skipped" "package_update skipped"
expect_match "$log" "skipped \(not simulated\): nft -f /etc/node-agent/firewall.nft" "nft skipped"
expect_match "$log" "skipped \(not simulated\): systemctl enable node-agent-firewall.service" "firewall unit skipped"
expect_match "$log" "/tmp/node-agent.tar.gz: OK" "package checked"
expect_match "$log" "\+ mv -f /etc/node-agent/agent.conf.bake /etc/node-agent/agent.conf" "agent.conf moved into place"
expect_match "$log" "node-agent started" "agent started"
expect_no_match "$log" "no node-agent" "no complaint about the agent"
sim GET /_sim/state
expect_json ".droplets[] | select(.id == $db) | .cloud_init.failed" 0 "nothing failed"
expect_json ".droplets[] | select(.id == $db) | .cloud_init.skipped" 2 "the two system lines skipped"
r=$(root_of "$db")
expect_eq "$(cat "$r/etc/node-agent/bake-key")" "$BAKE_KEY" "bake key written"
expect_eq "$(stat -c %a "$r/etc/node-agent/bake-key")" 600 "bake key mode"
expect_match "$(cat "$r/etc/node-agent/agent.conf")" "bake-key-file = /etc/node-agent/bake-key" \
    "the bake's agent.conf, not the package's"
expect_eq "$(ls "$r/etc/node-agent/agent.conf.bake" "$r/tmp/node-agent.tar.gz" 2>/dev/null)" "" \
    "staged config and package gone"
expect_eq "$(readlink "$r/var/lib/cloud/instance")" "/var/lib/cloud/instances/$db" "instance link"
expect_eq "$(stat -c %a "$r/var/lib/cloud/instances/$db/user-data.txt")" 600 "instance user-data kept 0600"

bping() { curl -sf -H "X-API-Key: $BAKE_KEY" "http://$ip:9999/ping"; }
wait_for 15 bping || fail "the bake agent does not answer the bake key"
alog=$(alog_of "$db")
expect_match "$alog" "--bake-key-file $r/etc/node-agent/bake-key --cloud-dir $r/var/lib/cloud" \
    "agent runs with the bake key file and the cloud dir"
expect_match "$alog" "--allow 127.0.0.1" "agent admits the allowed address"
URL=http://$ip:9999 KEY=$BAKE_KEY
req GET /health
expect_status 200 "bake key on /health"
req GET /containers
expect_status 403 "bake key on /containers"

# 2. Finalize, power off, snapshot.
req POST /bake/finalize
expect_status 200 "finalize"
expect_eq "$(printf '%s' "$BODY" | jq -c .removed)" \
    "$(jq -nc --arg c "$r/var/lib/cloud" --arg k "$r/etc/node-agent/bake-key" \
        '[$c+"/instances",$c+"/instance",$c+"/data",$c+"/sem",$k]')" "finalize removed the state and the key"
req GET /ping
expect_status 401 "bake key refused after finalize"
api POST "/v2/droplets/$db/actions" -d '{"type":"shutdown"}'
expect_status 201 "shutdown"
wait_status "$db" off 15 || fail "bake droplet not off"
expect_eq "$(agent_state "$db" running)" false "agent stopped by the shutdown"
SNAP_NAME="base-docker-debian12-agent-$VERSION"
api POST "/v2/droplets/$db/actions" -d "{\"type\":\"snapshot\",\"name\":\"$SNAP_NAME\"}"
expect_status 201 "snapshot"
wait_action "/v2/droplets/$db/actions/$(jqb .action.id)" 20 || fail "snapshot did not complete"
api GET "/v2/droplets/$db/snapshots"
snap=$(jqb '.snapshots[0].id')
expect_json '.snapshots[0].name' "$SNAP_NAME" "snapshot name"
sroot="$STATE/images/$snap/root"
expect_eq "$(test -x "$sroot/usr/bin/node-agent" && test -L "$sroot/etc/systemd/system/multi-user.target.wants/node-agent.service" && echo yes)" \
    yes "the snapshot carries the installed, enabled agent"
expect_eq "$(ls "$sroot/etc/node-agent/bake-key" "$sroot/var/lib/cloud/instances" "$sroot/var/lib/cloud/instance" 2>/dev/null)" "" \
    "the snapshot carries no bake key and no instance state"
if grep -rqF "$BAKE_KEY" "$sroot"; then fail "the bake key is somewhere in the snapshot"; else ok; fi
api DELETE "/v2/droplets/$db"
expect_status 204 "delete the bake droplet"

# 3. A server from the baked snapshot: provision-time user-data, the user's key over TLS.
ossl() { openssl "$@" 2>/dev/null; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -keyout tls.key \
    -out tls.crt -subj /CN=agent.test -addext subjectAltName=DNS:agent.test
printf '%s' "$(openssl rand -hex 16)" >user-key
"$CLI" --key-file user-key --cert-file tls.crt --tls-key-file tls.key --allow 127.0.0.1 \
    >provision.yaml || fail "render the provision document"
make web-1 "$snap" provision.yaml
dw=$D
wait_ci "$dw" 30 || fail "provision user-data did not finish"
ipw=$(droplet_ip "$dw")
rw=$(root_of "$dw")
uping() {
    curl -sf --cacert tls.crt --resolve "agent.test:9999:$ipw" -H "X-API-Key: $(cat user-key)" \
        https://agent.test:9999/ping
}
wait_for 15 uping || fail "the server from the baked snapshot does not answer the user's key over TLS"
URL=https://agent.test:9999 KEY=$(cat user-key)
req GET /containers --cacert tls.crt --resolve "agent.test:9999:$ipw"
expect_status 200 "user key on /containers over TLS"
KEY=$BAKE_KEY
req GET /ping --cacert tls.crt --resolve "agent.test:9999:$ipw"
expect_status 401 "the bake key means nothing on a provisioned server"
alog=$(alog_of "$dw")
expect_no_match "$alog" "--bake-key-file" "no bake key file for the provisioned agent"
expect_match "$alog" "--tls-cert $rw/etc/node-agent/tls.crt" "the provisioned agent serves TLS"
expect_eq "$(readlink "$rw/var/lib/cloud/instance")" "/var/lib/cloud/instances/$dw" \
    "the new droplet is a new cloud-init instance"
expect_eq "$(ls "$rw/var/lib/cloud/instances")" "$dw" "only its own instance state"

# 4. A bake document without the agent install: no agent, and the log says why.
grep -vE 'node-agent.tar.gz|systemctl, (enable|restart), node-agent\]' bake.yaml >noagent.yaml
expect_no_match "$(cat noagent.yaml)" "tar, -xzf" "the install lines are gone"
make bake-noagent '"debian-12-x64"' noagent.yaml
dn=$D
wait_ci "$dn" 30 || fail "no-agent user-data did not finish"
log=$(ci_of "$dn")
expect_match "$log" "dosim: no node-agent enabled: the user-data did not install node-agent.service; no agent answers on $(droplet_ip "$dn"):9999" \
    "the log says why no agent answers"
expect_eq "$(agent_state "$dn" running)" false "no agent"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $BAKE_KEY" "http://$(droplet_ip "$dn"):9999/ping")" \
    000 "nothing listens on 9999"
# Installed but never enabled or started: a different reason.
grep -vE 'systemctl, (enable|restart), node-agent\]' bake.yaml >noenable.yaml
make bake-noenable '"debian-12-x64"' noenable.yaml
dm=$D
wait_ci "$dm" 30 || fail "no-enable user-data did not finish"
expect_match "$(ci_of "$dm")" "no node-agent enabled: node-agent.service is installed but not enabled" \
    "installed but not enabled"

for d in "$dw" "$dn" "$dm"; do
    api DELETE "/v2/droplets/$d"
    [ "$STATUS" = 204 ] || fail "delete $d: $STATUS"
done
check_agent_logs "$STATE"
dosim_stop a
expect_eq "$(dosim_leftovers)" "" "nothing left"
contract_check "$T/record.jsonl" 0
