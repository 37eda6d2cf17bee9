#!/usr/bin/env bash
# The controller when things break: (a) kill -9 in the middle of a build, restart on the same
# database: the deployment is "interrupted" with a last error event saying why, its log up to
# the crash is kept, the agent stops the orphaned build, what the deploy spooled is swept, the
# app's lock is free and the app deploys again. (b) With --agent-stall-seconds 5, one of three servers' agents is frozen
# (SIGSTOP) in the middle of a deploy: that server fails with a stall error, the other two run
# the app, the done event says success=false with every server's result. (c) Secrets - the DO
# token, the admin password, env values, the git token - are nowhere in the controller's log,
# its SSE streams or its database files. (d) A deploy to a new server, canceled while the
# droplet boots (slowed 20x by the simulator): the stream ends with done/canceled while the
# droplet is still "new", the deployment is stored as canceled, and the log names the server,
# which stays listed under Servers.
. "$(dirname "$0")/lib.sh"
. "$DP_SRC/tests/it/ctl_lib.sh"
. "$DP_SRC/tests/world/git_servers.sh"
it_init controller_faults

STOPPED_PID= # an agent frozen by this test: always thawed at the end
thaw() { [ -n "$STOPPED_PID" ] && kill -CONT "$STOPPED_PID" 2>/dev/null; STOPPED_PID=; return 0; }
slow_off() { [ -n "${SIM_URL:-}" ] && curl -s --max-time 5 -d '{"slow_actions":1}' "$SIM_URL/_sim/faults" >/dev/null; return 0; }
git_world_init "$T/git"
GIT_TOKEN="ghp_$(openssl rand -hex 20)"
ENV_SECRET="envval-$(openssl rand -hex 10)"
ENV_SECRET2="dbpass-$(openssl rand -hex 10)"
SLEEP_S=$((40 + RANDOM % 50)) # the orphaned build's RUN sleep, told apart from other tests'
git_repo_make app
git_tls_make
git_https_start "$GIT_TOKEN"
# App names unique to this run: the simulated servers share one Docker engine, and images are
# tagged NAME:vN, so two runs at once must not build the same tag.
SUF=${NS##*-}
A_CRASH=crashy-$SUF A_STALL=stally-$SUF A_AUDIT=audit-$SUF A_BOOT=booty-$SUF
images_cleanup() { # the images this run's deploys built (dosim has removed their containers)
    docker images --format '{{.Repository}}:{{.Tag}}' | grep -E "^($A_CRASH|$A_STALL|$A_AUDIT|$A_BOOT):" |
        xargs -r docker rmi -f >/dev/null 2>&1
    return 0
}
IT_EXTRA_CLEANUP="thaw; slow_off; ctl_cleanup; git_world_stop; images_cleanup"
sim_start
CTL_FLAGS=(--git-ca-file "$GW_CA" --agent-stall-seconds 5)
ctl_start "${CTL_FLAGS[@]}"
ctl_login
servers_up 3
read -r ip1 ip2 ip3 <<<"$SERVER_IPS"
SIM_ID=$(curl -s "$SIM_URL/_sim/state" | jq -r .sim_id)

# code_zip DIR PORT [RUN-line]: a zip of a site served by busybox httpd on PORT; echoes its path.
code_zip() {
    local dir=$T/$1
    mkdir -p "$dir/www"
    echo "$1" >"$dir/www/index.html"
    {
        printf 'FROM %s\n' "$TEST_IMAGE"
        [ -n "${3:-}" ] && printf '%s\n' "$3"
        printf 'COPY www /www\nCMD ["httpd", "-f", "-p", "%s", "-h", "/www"]\n' "$2"
    } >"$dir/Dockerfile"
    (cd "$dir" && rm -f ../"$1".zip && zip -qr ../"$1".zip .)
    echo "$T/$1.zip"
}

# deploy_bg NAME JSON: the deploy's SSE stream into $T/NAME.sse in the background; BG_PID.
deploy_bg() {
    curl -sN --max-time 120 -H "Authorization: Bearer $TOKEN" -o "$T/$1.sse" -d "$2" \
        "$CTL_URL/api/v1/infra/deploy" &
    BG_PID=$!
}

first_id() { events_of "$1" | jq -r 'select(.deployment_id) | .deployment_id' | head -n 1; }
# The events of a stream without heartbeats (live viewers get them, replays need not).
real_events() { events_of "$1" | jq -c 'select(.type != "heartbeat")'; }
# The RUN sleep of the crashy build, as a process (anchored: not this shell's own command line).
build_sleeping() { pgrep -f "^sleep $SLEEP_S\$" >/dev/null; }
build_gone() { ! build_sleeping; }

# ---- (a) kill -9 while a build runs ----
zip=$(code_zip crashy 8081 "RUN sleep $SLEEP_S")
deploy_bg crash "{\"name\":\"$A_CRASH\",\"code_zip_b64\":\"$(base64 -w0 "$zip")\",\"port\":8081,\"server_ips\":[\"$ip1\"],\"env_vars\":{\"API_SECRET\":\"$ENV_SECRET\"}}"
wait_for 60 grep -q '"step":"building"' "$T/crash.sse" || fail "the crashy build starts: $(tail -c 600 "$T/crash.sse")"
wait_for 20 build_sleeping || fail "the build's RUN sleep $SLEEP_S runs"
CRASH_ID=$(first_id "$T/crash.sse")
expect_match "$CRASH_ID" "^[0-9]+$" "crash: the deployment id from the first event"
kill -KILL "$CTL_PID"
wait "$CTL_PID" 2>/dev/null || true
CTL_PID=
wait "$BG_PID" || true # the stream broke off
expect_eq "$(events_of "$T/crash.sse" | jq -c 'select(.type=="done")')" "" "no done event from a killed controller"
# The agent notices its client is gone (its next heartbeat write fails) and stops the build.
wait_for 30 build_gone || fail "the orphaned build stopped on the agent"
ok
SPOOL_AFTER_CRASH=$(ls -A "$T/spool")
expect_match "$SPOOL_AFTER_CRASH" "dp-code-" "the crash left the deploy's code in the spool (what the restart must sweep)"

ctl_start "${CTL_FLAGS[@]}"
ctl_login
expect_match "$(cat "$T/ctl.log")" "1 deployment\(s\) were running when the controller stopped; marked interrupted" "restart reports the interrupted deploy"
api GET "/api/v1/deployments/$CRASH_ID"
expect_status 200 "the crashed deployment is kept"
expect_json .status interrupted "status interrupted"
expect_match "$(jq -r .finished_at <<<"$BODY")" "^([1-9][0-9]+|[0-9]{4}-[0-9]{2}-[0-9]{2}T.+)$" "interrupted: it has an end time"
expect_no_match "$BODY" "$ENV_SECRET" "interrupted record: no env value"
rc=0
curl -sN --max-time 20 -H "Authorization: Bearer $TOKEN" \
    "$CTL_URL/api/v1/deployments/$CRASH_ID/events" >"$T/crash-replay.sse" || rc=$?
expect_eq "$rc" 0 "the replay of an interrupted deploy ends by itself"
last=$(events_of "$T/crash-replay.sse" | tail -n 1)
expect_eq "$(jq -r .type <<<"$last")" error "the last event is an error"
expect_eq "$(jq -r .error <<<"$last")" interrupted "... interrupted"
expect_match "$(jq -r .detail <<<"$last")" "controller stopped" "... saying why"
expect_match "$(events_of "$T/crash-replay.sse" | jq -r 'select(.type=="progress") | .step' | tr '\n' ' ')" "started .*building" "the log up to the crash is kept"
expect_eq "$(real_events "$T/crash-replay.sse" | head -n "$(real_events "$T/crash.sse" | wc -l)")" \
    "$(real_events "$T/crash.sse")" "the replay starts with exactly what the live viewer saw"
# What the crashed deploy had spooled (its code's tar) is swept by the restart.
expect_eq "$(ls -A "$T/spool" | grep -vx "\.controller\.lock")" "" "the restart swept what the crashed deploy spooled ($SPOOL_AFTER_CRASH)"
# The app's lock is free: it deploys again.
zip=$(code_zip crashy 8081)
deploy "{\"name\":\"$A_CRASH\",\"code_zip_b64\":\"$(base64 -w0 "$zip")\",\"port\":8081,\"server_ips\":[\"$ip1\"]}" crashy2
expect_eq "$(jq -r .success <<<"$DONE")" true "the app deploys after the crash ($(tail -c 400 "$DEPLOY_LOG"))"
expect_eq "$(jq -r .version <<<"$DONE")" 2 "as version 2"
app_answers "$ip1" 8081 crashy || fail "the app answers after the crash"
ok
api GET "/api/v1/deployments?app=$A_CRASH"
expect_eq "$(jq -r '[.deployments[].status] | sort | join(",")' <<<"$BODY")" "interrupted,succeeded" "the app's history"

# ---- (b) one agent frozen in the middle of a deploy to three ----
zip=$(code_zip stally 8082 "RUN sleep 3")
deploy_bg stall "{\"name\":\"$A_STALL\",\"code_zip_b64\":\"$(base64 -w0 "$zip")\",\"port\":8082,\"server_ips\":$(ips_json "$ip1 $ip2 $ip3")}"
wait_for 60 grep -q "\"step\":\"building\",\"server\":\"$ip1\"" "$T/stall.sse" ||
    fail "the build on $ip1 starts: $(tail -c 600 "$T/stall.sse")"
STOPPED_PID=$(pgrep -f "node-agent --listen $ip3:" | head -n 1)
expect_match "$STOPPED_PID" "^[0-9]+$" "the agent of $ip3 found"
kill -STOP "$STOPPED_PID"
t0=$(date +%s)
wait "$BG_PID" || true
took=$(($(date +%s) - t0))
DONE=$(events_of "$T/stall.sse" | jq -c 'select(.type=="done")' | tail -n 1)
thaw
expect_eq "$(jq -r .success <<<"$DONE")" false "stall: done says success=false ($(tail -c 600 "$T/stall.sse"))"
expect_eq "$(jq -r '.servers | length' <<<"$DONE")" 3 "stall: every server in done"
for ip in $ip1 $ip2; do
    expect_eq "$(jq -r --arg ip "$ip" '.servers[] | select(.ip==$ip) | .success' <<<"$DONE")" true "stall: $ip succeeded"
    expect_match "$(jq -r --arg ip "$ip" '.servers[] | select(.ip==$ip) | .container_id' <<<"$DONE")" "^[0-9a-f]{12,}$" "stall: $ip runs a container"
    app_answers "$ip" 8082 stally || fail "stall: the app answers on $ip"
done
ok
expect_eq "$(jq -r --arg ip "$ip3" '.servers[] | select(.ip==$ip) | .success' <<<"$DONE")" false "stall: $ip3 failed"
expect_match "$(jq -r --arg ip "$ip3" '.servers[] | select(.ip==$ip) | .error' <<<"$DONE")" \
    "agent $ip3:[0-9]+ (sent nothing for 5 s.*stopped answering|did not accept a connection within 5000 ms)" \
    "stall: $ip3's error says it stalled (mid-stream, or frozen before the connection was made)"
expect_eq "$(jq -r --arg ip "$ip3" '.servers[] | select(.ip==$ip) | .container_id' <<<"$DONE")" "" "stall: no container on $ip3"
[ "$took" -le 40 ] || fail "stall: the deploy took $took s after the freeze (the limit is 5 s)"
ok
api GET "/api/v1/deployments/$(jq -r .deployment_id <<<"$DONE")"
expect_json .status failed "stall: stored as failed"
expect_json "[.servers[] | select(.success)] | length" 2 "stall: the stored result has two successes"
# The thawed agent is usable again.
api GET "/api/v1/infra/agent/health?server_ip=$ip3"
expect_status 200 "the thawed agent answers ($BODY)"

# ---- (c) secrets ----
deploy "{\"name\":\"$A_AUDIT\",\"source_type\":\"git\",\"git_url\":\"https://127.0.0.1:$GIT_HTTPS_PORT/app.git\",\"git_branch\":\"main\",\"git_token\":\"$GIT_TOKEN\",\"port\":8080,\"server_ips\":[\"$ip2\"],\"env_vars\":{\"API_SECRET\":\"$ENV_SECRET\",\"DB_PASSWORD\":\"$ENV_SECRET2\"}}" audit
expect_eq "$(jq -r .success <<<"$DONE")" true "audit: a git deploy with a token and env values ($(tail -c 400 "$DEPLOY_LOG"))"
AUDIT_ID=$(jq -r .deployment_id <<<"$DONE")
# The values did reach the container (so their absence below means something).
cid=$(docker ps --filter "label=dp.app=$A_AUDIT" --filter "label=dp.deployment_id=$AUDIT_ID" \
    --format '{{.ID}} {{.Label "dp.namespace"}}' | awk -v s="do-$SIM_ID" 'index($2, s) == 1 {print $1}' | head -n 1)
envs=$(docker inspect --format '{{join .Config.Env " "}}' "$cid" 2>/dev/null)
expect_match "$envs" "API_SECRET=$ENV_SECRET" "audit: the env value is in the container"
expect_match "$envs" "DB_PASSWORD=$ENV_SECRET2" "audit: the second env value is in the container"
api GET "/api/v1/deployments/$AUDIT_ID"
expect_match "$BODY" "API_SECRET=\*\*\*" "audit: the record shows env names with masked values"
curl -sN --max-time 20 -H "Authorization: Bearer $TOKEN" "$CTL_URL/api/v1/deployments/$AUDIT_ID/events" >"$T/audit-replay.sse"
expect_match "$(cat "$T/audit-replay.sse")" "cloning https://127.0.0.1:$GIT_HTTPS_PORT/app.git" "audit: the replay has the clone"
# The controller's files hold the deploys at all (the greps below look in the right places).
grep -q -a "API_SECRET" "$T/ctl.db"* || fail "audit: the database holds the env names"
grep -q -a "app.git" "$T/ctl.db"* || fail "audit: the database holds the git url"
ok
nsse=$(ls "$T"/*.sse | wc -l)
[ "$nsse" -ge 6 ] || fail "audit: streams to search ($nsse)"
for s in "$DO_TOKEN" "${DO_TOKEN#dop_v1_}" "$ADMIN_PW" "$ENV_SECRET" "$ENV_SECRET2" "$GIT_TOKEN" "${GIT_TOKEN#ghp_}"; do
    expect_eq "$(grep -c -a -F -- "$s" "$T/ctl.log" || true)" 0 "a secret (${s:0:6}...) in the controller log"
    expect_eq "$(cat "$T"/*.sse | grep -c -a -F -- "$s" || true)" 0 "a secret (${s:0:6}...) in an SSE stream"
    expect_eq "$(cat "$T/ctl.db"* | grep -c -a -F -- "$s" || true)" 0 "a secret (${s:0:6}...) in the database files"
done
# The database file itself is private.
expect_eq "$(stat -c %a "$T/ctl.db")" 600 "the database is mode 0600"

# ---- (d) canceled while a new server boots ----
# Droplet creation slowed 20x (about 20 s until active): the cancel must not wait for it.
curl -s --max-time 5 -o /dev/null -w '%{http_code}' -d '{"slow_actions":20}' "$SIM_URL/_sim/faults" >"$T/faults.status"
expect_eq "$(cat "$T/faults.status")" 200 "slow the simulator's actions"
deploy_bg boot "{\"name\":\"$A_BOOT\",\"source_type\":\"image\",\"image\":\"$TEST_IMAGE\",\"port\":8080,\"new_server_count\":1}"
wait_for 60 grep -q 'waiting for 1 new server(s) to be active' "$T/boot.sse" ||
    fail "boot: the deploy waits for its new server: $(tail -c 600 "$T/boot.sse")"
BOOT_ID=$(first_id "$T/boot.sse")
created=$(events_of "$T/boot.sse" | jq -r 'select(.type=="log") | .message' | sed -n 's/^created server \(.*\) (droplet \([0-9]*\))$/\1 \2/p' | head -n 1)
read -r BOOT_NAME BOOT_DROPLET <<<"$created"
expect_match "$BOOT_DROPLET" "^[0-9]+$" "boot: the log says which droplet was created ($created)"
api POST "/api/v1/deployments/$BOOT_ID/cancel"
expect_status 202 "boot: cancel the deploy while its server boots"
wait "$BG_PID" || true # curl's --max-time bounds it
# The stream ended before the droplet is active (it needs about 20 s; the wait polls every 100 ms).
drop_status=$(curl -s --max-time 5 "$SIM_URL/_sim/state" |
    jq -r --argjson id "${BOOT_DROPLET:-0}" '.droplets[] | select(.id==$id) | .status')
expect_eq "$drop_status" new "boot: the droplet is still booting when the stream ended"
DONE=$(events_of "$T/boot.sse" | jq -c 'select(.type=="done")' | tail -n 1)
expect_eq "$(jq -r .success <<<"$DONE")" false "boot: done says success=false ($(tail -c 600 "$T/boot.sse"))"
expect_eq "$(jq -r .error <<<"$DONE")" canceled "boot: done says canceled, nothing more"
expect_eq "$(events_of "$T/boot.sse" | jq -c 'select(.type=="error")')" "" "boot: no error event"
expect_eq "$(events_of "$T/boot.sse" | jq -r 'select(.type=="progress") | .step' | tr '\n' ' ')" \
    "started provisioning " "boot: no step after provisioning"
msgs=$(events_of "$T/boot.sse" | jq -r 'select(.type=="log") | .message')
expect_no_match "$msgs" "is active at|failed" "boot: no server became active or failed in the deploy"
expect_match "$msgs" "deploy canceled while new server\(s\) boot: $BOOT_NAME will keep booting and stay listed under Servers" \
    "boot: the log names the server that keeps booting"
api GET "/api/v1/deployments/$BOOT_ID"
expect_json .status canceled "boot: stored as canceled"
api GET /api/v1/infra/servers
expect_eq "$(jq -r --argjson id "${BOOT_DROPLET:-0}" '.servers[] | select(.id==$id) | .name' <<<"$BODY")" \
    "$BOOT_NAME" "boot: the new server is listed under Servers"
expect_eq "$(jq -r --argjson id "${BOOT_DROPLET:-0}" '.servers[] | select(.id==$id) | .status' <<<"$BODY")" \
    new "boot: ... still booting"
slow_off
