#!/usr/bin/env bash
# The controller end to end on the simulated cloud with real agents: log in, provision three
# servers, deploy an image, a token-protected git repository and a zip of code to all three,
# read each SSE stream to done, fetch every app on every server's address, check the code
# deploy runs one image id everywhere, redeploy a new version, stop, restart, delete; then
# replay a deployment's log from Last-Event-ID and check two viewers get identical streams.
. "$(dirname "$0")/lib.sh"
. "$DP_SRC/tests/it/ctl_lib.sh"
. "$DP_SRC/tests/world/git_servers.sh"
it_init controller_deploy

registry_start reg
REG_ADDR=$reg_ADDR
git_world_init "$T/git"
GIT_TOKEN="ghp_$(openssl rand -hex 20)"
git_repo_make app
git_tls_make
git_https_start "$GIT_TOKEN"
IT_EXTRA_CLEANUP="ctl_cleanup; git_world_stop"
sim_start
ctl_start --git-ca-file "$GW_CA"
ctl_login
servers_up 3
IPS=$(ips_json "$SERVER_IPS")
read -r ip1 ip2 ip3 <<<"$SERVER_IPS"

api GET /api/v1/infra/servers
expect_eq "$(jq '[.servers[] | select(.created_at | test("^20[0-9-]+T[0-9:]+Z$"))] | length' <<<"$BODY")" 3 \
    "servers carry RFC 3339 creation times"
expect_eq "$(jq -r '[.servers[].image.name] | unique | .[0]' <<<"$BODY")" "base-docker-debian12-agent-$(cat "$DP_SRC/VERSION")" \
    "servers carry their snapshot for filtering"

# The credentials' curl line, run as shown: it reaches a provisioned agent over pinned TLS.
api GET /api/v1/me/credentials
line=$(jq -r .curl <<<"$BODY")
AGENT_KEY=$(jq -r .agent_key <<<"$BODY")
expect_match "$line" "--pinnedpubkey 'sha256//" "the line pins the agent's certificate"
expect_eq "$(eval "$line --max-time 10 -s" | jq -r .status)" healthy "the shown curl line works"

# An image from a registry, to all three.
img=$(demo_image web "image-v1")
deploy "{\"name\":\"web\",\"source_type\":\"image\",\"image\":\"$img\",\"port\":8080,\"server_ips\":$IPS,\"env_vars\":{\"API_SECRET\":\"env-$NS\"}}" image
expect_eq "$STATUS" 200 "image deploy stream"
expect_eq "$(jq -r .success <<<"$DONE")" true "image deploy done ($(tail -c 600 "$DEPLOY_LOG"))"
expect_eq "$(jq -r '.servers | length' <<<"$DONE")" 3 "three servers in done"
for ip in $SERVER_IPS; do
    app_answers "$ip" 8080 image-v1 || fail "image app on $ip"
done
ok
grep -q '"id: ' "$DEPLOY_LOG" && fail "ids are plain"
expect_match "$(head -5 "$DEPLOY_LOG")" "id: 1" "SSE events carry ids"
expect_match "$(events_of "$DEPLOY_LOG" | jq -r 'select(.type=="progress") | .step' | sort -u | tr '\n' ' ')" "pulling .*running" "per-server steps"
IMAGE_DEP=$(jq -r .deployment_id <<<"$DONE")
expect_eq "$(events_of "$DEPLOY_LOG" | head -1 | jq -c '[.step, .deployment_id]')" "[\"started\",$IMAGE_DEP]" \
    "the first event names the deployment"
api POST "/api/v1/deployments/$IMAGE_DEP/stop" # frees port 8080 for the git app
expect_json .success true "stop the image app"

# deploy/single: one image to one server, one JSON answer; anything else is refused.
api POST /api/v1/infra/deploy/single -d "{\"name\":\"solo\",\"image\":\"$img\",\"port\":8080,\"server_ip\":\"$ip1\"}"
expect_status 200 "single deploy ($BODY)"
expect_json .success true "single deploy succeeded"
expect_json '.servers | length' 1 "one server"
app_answers "$ip1" 8080 image-v1 || fail "the single-deployed app answers"
SOLO_DEP=$(jq -r .deployment_id <<<"$BODY")
api POST /api/v1/infra/deploy/single -d "{\"name\":\"solo\",\"source_type\":\"git\",\"git_url\":\"https://x/y.git\",\"port\":8080,\"server_ip\":\"$ip1\"}"
expect_status 400 "single refuses git"
api POST /api/v1/infra/deploy/single -d "{\"name\":\"solo\",\"image\":\"$img\",\"port\":8080,\"server_ips\":$IPS}"
expect_status 400 "single refuses several servers"
api DELETE "/api/v1/deployments/$SOLO_DEP"
expect_status 200 "delete the single-deployed app"
api POST "/api/v1/deployments/$SOLO_DEP/cancel"
expect_status 404 "cancel of a deleted deployment"
api POST "/api/v1/deployments/$IMAGE_DEP/cancel"
expect_status 409 "cancel of a finished deployment"
api GET "/api/v1/deployments/$IMAGE_DEP"
expect_json .user admin "a deployment names its user"
expect_match "$(jq -r .created_at <<<"$BODY")" "^20[0-9-]+T[0-9:]+Z$" "RFC 3339 times"

# A token-protected git repository over HTTPS (the agents trust the test CA from provisioning).
deploy "{\"name\":\"gitapp\",\"source_type\":\"git\",\"git_url\":\"https://127.0.0.1:$GIT_HTTPS_PORT/app.git\",\"git_branch\":\"main\",\"git_token\":\"$GIT_TOKEN\",\"port\":8080,\"server_ips\":$IPS}" git
expect_eq "$(jq -r .success <<<"$DONE")" true "git deploy done ($(tail -c 600 "$DEPLOY_LOG"))"
ids=$(jq -r '[.servers[].image_id] | unique | length' <<<"$DONE")
expect_eq "$ids" 1 "git deploy: one image id on every server"
for ip in $SERVER_IPS; do
    [ "$(curl -s "http://$ip:8080/app.txt")" = main ] || fail "git app on $ip"
done
ok

# A zip of code with its own Dockerfile: built once, shipped to the others.
mkdir -p "$T/code1/www"
echo "code-v1" >"$T/code1/www/index.html"
printf 'FROM %s\nCOPY www /www\nCMD ["httpd", "-f", "-p", "8082", "-h", "/www"]\n' "$TEST_IMAGE" >"$T/code1/Dockerfile"
(cd "$T/code1" && zip -qr ../code1.zip .)
b64=$(base64 -w0 "$T/code1.zip")
deploy "{\"name\":\"shop\",\"source_type\":\"code\",\"code_zip_b64\":\"$b64\",\"port\":8082,\"server_ips\":$IPS}" code1
expect_eq "$(jq -r .success <<<"$DONE")" true "code deploy done ($(tail -c 600 "$DEPLOY_LOG"))"
expect_eq "$(jq -r '[.servers[].image_id] | unique | length' <<<"$DONE")" 1 "code deploy: the same image id on all three"
expect_match "$(jq -r '.servers[0].image_id' <<<"$DONE")" "^sha256:" "an image id"
expect_eq "$(jq -r .image <<<"$DONE")" "shop:v1" "images are tagged by version"
for ip in $SERVER_IPS; do
    app_answers "$ip" 8082 code-v1 || fail "code app v1 on $ip"
done
ok
expect_match "$(events_of "$DEPLOY_LOG" | jq -r 'select(.type=="progress") | .step' | sort -u | tr '\n' ' ')" "building .*sending image" "build once, send to the others"
CODE_DEP=$(jq -r .deployment_id <<<"$DONE")

# A new version of the same app, as a form upload (multipart): the app now serves v2.
echo "code-v2" >"$T/code1/www/index.html"
(cd "$T/code1" && rm -f ../code2.zip && zip -qr ../code2.zip .)
STATUS=$(curl -sN --max-time 300 -H "Authorization: Bearer $TOKEN" -o "$T/code2.sse" -w '%{http_code}' \
    -F name=shop -F source_type=code -F port=8082 -F "server_ips=$ip1" -F "server_ips=$ip2" -F "server_ips=$ip3" \
    -F "code=@$T/code2.zip" "$CTL_URL/api/v1/infra/deploy")
DONE=$(events_of "$T/code2.sse" | jq -c 'select(.type=="done")')
expect_eq "$(jq -r .success <<<"$DONE")" true "redeploy v2 as a form ($STATUS $(tail -c 400 "$T/code2.sse"))"
expect_eq "$(jq -r .version <<<"$DONE")" 2 "version 2"
for ip in $SERVER_IPS; do
    app_answers "$ip" 8082 code-v2 || fail "code app v2 on $ip"
done
ok
V2_DEP=$(jq -r .deployment_id <<<"$DONE")

# A static site without a Dockerfile: one is generated.
mkdir -p "$T/site"
echo "static-site" >"$T/site/index.html"
(cd "$T/site" && zip -qr ../site.zip .)
deploy "{\"name\":\"site\",\"code_zip_b64\":\"$(base64 -w0 "$T/site.zip")\",\"port\":8090,\"server_ips\":[\"$ip1\"]}" site
expect_eq "$(jq -r .success <<<"$DONE")" true "static site with a generated Dockerfile ($(tail -c 400 "$DEPLOY_LOG"))"
app_answers "$ip1" 8090 static-site || fail "static site answers"
ok

# Code to one agent's folder, as a plain `curl --data-binary` body (curl labels it
# x-www-form-urlencoded; the controller tells an archive from JSON by its first byte).
api POST "/api/v1/infra/deploy/upload?server_ip=$ip1&path=/app/raw-upload" --data-binary "@$T/site.zip"
expect_status 200 "raw zip upload ($BODY)"
expect_eq "$(jq ".files > 0 and .bytes > 0" <<<"$BODY")" true "the upload landed"
api POST "/api/v1/infra/deploy/upload?server_ip=$ip1&path=/app/raw-upload" --data-binary "@$T/site.zip" \
    -H "Content-Type: application/zip"
expect_status 200 "raw zip upload, labelled"

# Stop, restart, delete the app on all its servers.
api POST "/api/v1/deployments/$V2_DEP/stop"
expect_json .success true "stop"
curl -s --max-time 2 "http://$ip1:8082/" >/dev/null && fail "app answers after stop"
api POST "/api/v1/deployments/$V2_DEP/restart"
expect_json .success true "restart"
app_answers "$ip2" 8082 code-v2 || fail "app after restart"
api DELETE "/api/v1/deployments/$V2_DEP"
expect_status 200 "delete"
expect_json '.servers | length' 3 "deleted on three servers"
api GET "/api/v1/deployments/$V2_DEP"
expect_status 404 "the deployment record is gone"
curl -s --max-time 2 "http://$ip3:8082/" >/dev/null && fail "app answers after delete"
ok

# Replay: a late viewer with Last-Event-ID gets exactly the events after it.
total=$(events_of "$T/deploy-code1.sse" | wc -l)
curl -sN --max-time 30 -H "Authorization: Bearer $TOKEN" -H "Last-Event-ID: 5" \
    "$CTL_URL/api/v1/deployments/$CODE_DEP/events" >"$T/replay.sse"
first=$(grep -m1 '^id: ' "$T/replay.sse" | cut -d' ' -f2)
expect_eq "$first" 6 "replay starts after Last-Event-ID"
expect_eq "$(events_of "$T/replay.sse" | wc -l)" $((total - 5)) "exactly the missing events"
expect_eq "$(events_of "$T/replay.sse")" "$(events_of "$T/deploy-code1.sse" | tail -n +6)" "the same events"
# Two viewers of a finished deployment, at once: identical streams.
curl -sN --max-time 30 -H "Authorization: Bearer $TOKEN" "$CTL_URL/api/v1/deployments/$IMAGE_DEP/events" >"$T/v1.sse" &
v1=$!
curl -sN --max-time 30 -H "Authorization: Bearer $TOKEN" "$CTL_URL/api/v1/deployments/$IMAGE_DEP/events" >"$T/v2.sse" &
v2=$!
wait "$v1" "$v2" || true # by pid: %1 %2 would name the registry and git server started above
expect_eq "$(md5sum <"$T/v1.sse")" "$(md5sum <"$T/v2.sse")" "two viewers, identical streams"
expect_eq "$(grep -c '^id: ' "$T/v1.sse")" "$(events_of "$T/deploy-image.sse" | wc -l)" "the whole log"

# The deployment list.
api GET "/api/v1/deployments?app=shop"
expect_json '.deployments[0].app' shop "list by app ($STATUS ${BODY:0:300})"
api GET "/api/v1/deployments?limit=9999"
expect_status 400 "limit over 500"

# Nothing secret in the controller's log or database.
for s in "$DO_TOKEN" "$GIT_TOKEN" "env-$NS" "$ADMIN_PW" "$AGENT_KEY"; do
    grep -q -- "$s" "$T/ctl.log" && fail "a secret in the controller log"
    grep -q -a -- "$s" "$T/ctl.db"* && fail "a secret in the database"
    grep -q -- "$s" "$T"/*.sse && fail "a secret in an event stream"
    grep -q -a -- "$s" "$T/dosim.log" && fail "a secret in the cloud's log"
done
ok
