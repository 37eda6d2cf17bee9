#!/usr/bin/env bash
# snapshot-builder end to end on the simulated cloud with real agents: bake the base snapshot
# (the agent package downloaded from the controller and checked by SHA-256, the agent reached
# with a one-time bake key, finalized, shut down, snapshotted), copy it to two regions,
# provision a server from it in a copied region with provision-time user-data, reach its agent
# with the derived key, deploy an image to it; bake a custom snapshot on top of it; list,
# transfer, delete; rebuild does nothing when current and rebakes when VERSION moves
# (DP_VERSION_OVERRIDE), comparing versions as numbers; --help on every command, exit codes;
# every exchange with the cloud checked against DigitalOcean's OpenAPI document.
. "$(dirname "$0")/lib.sh"
. "$DP_SRC/tests/it/ctl_lib.sh"
. "$DP_SRC/tests/it/snap_lib.sh"
it_init snapshot_builder

registry_start reg
REG_ADDR=$reg_ADDR
snap_sim_start
ctl_start
ctl_login

# --- the command line
for c in "bake base" "bake custom" list transfer delete rebuild; do
    rc=0
    # shellcheck disable=SC2086
    "$SB" $c --help >"$T/help.out" 2>&1 || rc=$?
    expect_eq "$rc" 0 "$c --help"
    grep -q '^Examples:' "$T/help.out" || fail "$c --help has examples"
    grep -q '^Exit codes:' "$T/help.out" || fail "$c --help lists the exit codes"
done
grep -q -- '--packages' <("$SB" bake custom --help) || fail "bake custom --help names --packages"
rc=0; "$SB" --help >/dev/null 2>&1 || rc=$?
expect_eq "$rc" 0 "--help"
rc=0; "$SB" frobnicate >/dev/null 2>&1 || rc=$?
expect_eq "$rc" 2 "an unknown command is a usage error"
sb t1 transfer --regions sfo3
expect_eq "$SB_RC" 2 "transfer without a SNAPSHOT"
sb t2 bake custom --packages jq
expect_eq "$SB_RC" 2 "bake custom without --from"
sb t3 bake base --no-such-flag
expect_eq "$SB_RC" 2 "an unknown flag"
rc=0; DO_TOKEN='' DO_API_URL=$SIM_URL "$SB" list >/dev/null 2>"$T/notoken.err" || rc=$?
expect_eq "$rc" 3 "no DO_TOKEN"
expect_match "$(cat "$T/notoken.err")" "DO_TOKEN" "the error names DO_TOKEN"

# --- bake the base snapshot and copy it to two more regions
sb bake --json bake base --region nyc3 --regions sfo3,ams3
expect_eq "$SB_RC" 0 "bake base exit status ($(tail -3 "$T/bake.err"))"
expect_eq "$(jq -r .type <<<"$SB_LAST")" done "the last event is done ($SB_LAST)"
expect_eq "$(jq -r .snapshot.name <<<"$SB_LAST")" "$BASE_NAME" "the base snapshot's name carries VERSION"
expect_eq "$(jq -r '.snapshot.regions | sort | join(",")' <<<"$SB_LAST")" "ams3,nyc3,sfo3" "in three regions"
expect_eq "$(steps_of "$T/bake.out")" "${BAKE_STEPS}transferring|" "every step, in order"
expect_eq "$(jq -s '[.[] | select(.type=="progress") | select((.elapsed_s|type)!="number")] | length' "$T/bake.out")" 0 \
    "progress events carry elapsed_s"
expect_match "$(jq -r 'select(.type=="progress" and .step=="waiting for agent") | .waiting_for' "$T/bake.out" | head -1)" \
    "^the agent at http://127\\.[0-9.]+:9999 to answer with the bake key$" "what the agent step waits for"
grep -q "$(jq -r .snapshot.id <<<"$SB_LAST")" <(jq -r 'select(.type=="log") | .message' "$T/bake.out") ||
    fail "log events name the image"
BASE_ID=$(jq -r .snapshot.id <<<"$SB_LAST")
calls=$(jq -r .api_calls <<<"$SB_LAST")
echo "bake base (create .. transfer to 2 regions .. delete): $calls DigitalOcean API calls"
expect_eq "$((calls > 5 && calls <= 40))" 1 "API calls per bake ($calls) within the target of 40"
expect_no_droplet "bake base"
# The bake droplet's user-data: the package from the controller, checked, enabled; then finalized.
did=$(jq -r 'select(.type=="log") | .message' "$T/bake.out" | sed -n 's/^created droplet [^ ]* (\([0-9]*\)).*/\1/p')
curl -s "$SIM_URL/_sim/droplets/$did/log" >"$T/bake-droplet.json"
expect_match "$(jq -r .cloud_init "$T/bake-droplet.json")" "sha256sum -c" "the package is checked"
expect_match "$(jq -r .cloud_init "$T/bake-droplet.json")" "$CTL_URL/agent/package" "from the controller"
expect_match "$(jq -r .agent "$T/bake-droplet.json")" "bake finalized" "the agent finalized the bake"
api GET /api/v1/infra/setup/status
expect_json .current true "the controller sees a current base"
expect_json .base_snapshot.id "$BASE_ID" "the controller sees the new base"
/usr/bin/python3 "$DP_SRC/tests/dosim/contract.py" "$T/record.jsonl" >"$T/contract.out" 2>&1 ||
    fail "contract: $(grep -v '^ ' "$T/contract.out" | head -10)"
expect_match "$(head -1 "$T/contract.out")" " 0 mismatches" "every exchange of the bake fits DigitalOcean's OpenAPI"

# --- a server from it, in a region it was copied to, serving a deployed image
api POST /api/v1/infra/servers/provision -d "{\"count\":1,\"snapshot_id\":$BASE_ID,\"region\":\"ams3\"}"
expect_status 202 "provision from the baked snapshot"
SERVER_ID=$(jq -r '.servers[0].id' <<<"$BODY")
for ((i = 0; i < 150; i++)); do
    api GET /api/v1/infra/servers
    ip=$(jq -r --argjson id "$SERVER_ID" '.servers[] | select(.id==$id and .status=="active") | .ip' <<<"$BODY")
    [ -n "$ip" ] && [ "$ip" != null ] && break
    sleep 0.2
done
expect_match "$ip" "^127\\." "the server is active with an address"
expect_eq "$(jq -r --argjson id "$SERVER_ID" '.servers[] | select(.id==$id) | .image.name + " " + .region' <<<"$BODY")" \
    "$BASE_NAME ams3" "the server runs the baked snapshot in ams3"
api GET /api/v1/me/credentials
line=$(jq -r .curl <<<"$BODY")
expect_json .server_ip "$ip" "the credentials name the new server"
for ((i = 0; i < 50; i++)); do
    health=$(eval "$line --max-time 5 -s" 2>/dev/null | jq -r .status 2>/dev/null) || true
    [ "$health" = healthy ] && break
    sleep 0.2
done
expect_eq "$health" healthy "the agent answers with the derived key over pinned TLS"
api GET "/api/v1/infra/agent/health?server_ip=$ip"
expect_json .status healthy "the controller reaches the agent"
img=$(demo_image web "baked-$NS")
deploy "{\"name\":\"web\",\"source_type\":\"image\",\"image\":\"$img\",\"port\":8080,\"server_ips\":[\"$ip\"]}" web
expect_eq "$(jq -r .success <<<"$DONE")" true "deploy to the baked server ($(tail -c 400 "$DEPLOY_LOG"))"
app_answers "$ip" 8080 "baked-$NS" || fail "the app answers on the baked server"
api DELETE "/api/v1/infra/servers/$SERVER_ID"
expect_status 200 "delete the server"

# --- a custom snapshot on top of the base (plain progress lines when stderr is no terminal)
sb custom bake custom --from "$BASE_NAME" --packages jq,postgresql-client --name tools --regions sfo3
expect_eq "$SB_RC" 0 "bake custom ($(tail -3 "$T/custom.err"))"
CUSTOM_NAME="custom-tools-agent-$VERSION"
expect_match "$(cat "$T/custom.out")" "^snapshot $CUSTOM_NAME \\([0-9]+\\) is ready in nyc3, sfo3 \\([0-9]+ API calls, [0-9]+ s\\)$" \
    "the summary on stdout"
expect_match "$SB_ERR" "\\[ +[0-9]+s\\] waiting for agent: waiting for the agent at http://" "plain progress lines"
expect_match "$SB_ERR" "starting from snapshot $BASE_ID" "the custom bake starts from the base"
did=$(sed -n 's/.*created droplet [^ ]* (\([0-9]*\)).*/\1/p' "$T/custom.err")
expect_match "$(curl -s "$SIM_URL/_sim/droplets/$did/log" | jq -r .cloud_init)" "jq postgresql-client" \
    "the packages are in the user-data"
expect_no_droplet "bake custom"

# --- list, transfer, delete
sb list list
expect_eq "$SB_RC" 0 "list"
expect_match "$(cat "$T/list.out")" "$BASE_ID +$BASE_NAME +$VERSION " "list shows the base with its agent version"
expect_match "$(cat "$T/list.out")" "$CUSTOM_NAME" "list shows the custom snapshot"
sb listj list --json
expect_eq "$(jq '.snapshots | length' "$T/listj.out")" 2 "list --json"
sb tr transfer "$CUSTOM_NAME" --regions fra1,sfo3
expect_eq "$SB_RC" 0 "transfer by name ($SB_ERR)"
expect_match "$(cat "$T/tr.out")" "in nyc3, sfo3, fra1; copying to fra1" "transfer says where it is"
expect_match "$SB_ERR" "transferring" "transfer shows progress"
sb trall transfer "$CUSTOM_NAME" --all-regions --no-wait --json
expect_eq "$SB_RC" 0 "transfer --all-regions --no-wait"
expect_eq "$(jq '.transfers | length > 3' <<<"$SB_LAST")" true "transfers to every other region started"
sb del delete "$CUSTOM_NAME"
expect_eq "$SB_RC" 0 "delete by name"
expect_eq "$(images_named "$CUSTOM_NAME")" 0 "the custom snapshot is gone"
sb del2 delete "$CUSTOM_NAME"
expect_eq "$SB_RC" 4 "delete of a snapshot that does not exist"
sb del3 delete 999999
expect_eq "$SB_RC" 4 "delete of an id that does not exist"

# --- rebuild: nothing when current, a rebake when VERSION moves (compared as numbers)
sb rb0 rebuild --json
expect_eq "$SB_RC" 0 "rebuild when current"
expect_eq "$(jq -c '[.rebuilt, .snapshot.id]' <<<"$SB_LAST")" "[false,$BASE_ID]" "rebuild does nothing when current"
expect_eq "$(grep -c '"creating droplet"' "$T/rb0.out")" 0 "no droplet is made"
BUMP=$(awk -F. '{printf "%d.%d.0", $1, $2 + 10}' <<<"$VERSION")
OLDER=$(awk -F. '{printf "%d.9.0", $1}' <<<"$VERSION") # lexically after BUMP, numerically before
DP_VERSION_OVERRIDE=$BUMP sb rb1 rebuild --json
expect_eq "$SB_RC" 0 "rebuild when VERSION moved ($(tail -3 "$T/rb1.err"))"
expect_eq "$(jq -c '[.rebuilt, .snapshot.name]' <<<"$SB_LAST")" "[true,\"base-docker-debian12-agent-$BUMP\"]" "rebuilt"
expect_eq "$(jq -r '.snapshot.regions | sort | join(",")' <<<"$SB_LAST")" "ams3,nyc3,sfo3" \
    "the new base is where the old one was"
expect_match "$(cat "$T/rb1.err")" "DP_VERSION_OVERRIDE" "the override is announced"
expect_no_droplet "rebuild"
DP_VERSION_OVERRIDE=$BUMP sb rb2 rebuild --json
expect_eq "$(jq -r .rebuilt <<<"$SB_LAST")" false "rebuild after the rebuild does nothing"
DP_VERSION_OVERRIDE=$OLDER sb rb3 rebuild
expect_eq "$SB_RC" 0 "rebuild with an older VERSION"
expect_match "$(cat "$T/rb3.out")" "is current: nothing to do" "$OLDER is older than $BUMP (numbers, not text)"
api GET /api/v1/infra/setup/status
expect_json .base_snapshot.agent_version "$BUMP" "the controller sees the rebuilt base"
expect_json .current true "a newer base is current"
expect_no_droplet "the end"
