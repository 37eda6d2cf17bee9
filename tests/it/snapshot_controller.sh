#!/usr/bin/env bash
# The controller's setup routes on the simulated cloud with real agents: status before and
# after; the base snapshot baked through POST /infra/setup/init/stream (SSE with an id on every
# event, heartbeats while quiet, the same steps as snapshot-builder), a second bake refused with
# 409 while one runs, a server provisioned from the new base reached with the derived key and
# deployed to; a custom snapshot through POST /infra/images/build/stream; bad requests refused
# before anything starts; a bake outlives its viewer (status, replay, Last-Event-ID) and stops
# on POST /infra/bake/cancel, its droplet deleted; the controller stopping cancels a bake.
. "$(dirname "$0")/lib.sh"
. "$DP_SRC/tests/it/ctl_lib.sh"
. "$DP_SRC/tests/it/snap_lib.sh"
it_init snapshot_controller

registry_start reg
REG_ADDR=$reg_ADDR
snap_sim_start
ctl_start
ctl_login

# bake_stream PATH JSON NAME: POST and read the SSE stream to its end; sets STATUS, LAST (the
# last event) and STREAM (the file).
bake_stream() {
    STREAM=$T/$3.sse
    STATUS=$(curl -sN --max-time 300 -H "Authorization: Bearer $TOKEN" -o "$STREAM" \
        -w '%{http_code}' -d "$2" "$CTL_URL/api/v1$1") || true
    LAST=$(events_of "$STREAM" | tail -n 1)
}

api GET /api/v1/infra/setup/status
expect_status 200 "setup status"
expect_eq "$(jq -c '[.base_snapshot, .current, .expected_agent_version]' <<<"$BODY")" "[null,false,\"$VERSION\"]" \
    "no base yet"
api GET /api/v1/infra/bake
expect_eq "$STATUS $(jq -c . <<<"$BODY")" '200 {"id":null,"state":"none"}' "no bake yet"
curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    "$CTL_URL/api/v1/infra/bake/events" >"$T/none.status"
expect_eq "$(cat "$T/none.status")" 404 "no bake, no events"

# --- refused before anything starts
api POST /api/v1/infra/setup/init/stream -d '{"regions":["NYC 3"]}'
expect_status 400 "a bad region"
expect_json .error invalid_field "bad region: invalid_field"
api POST /api/v1/infra/images/build/stream -d '{"from_snapshot_id":1,"name":"x"}'
expect_status 400 "a custom bake without packages"
api POST /api/v1/infra/images/build/stream -d '{"from_snapshot_id":1,"packages":["Bad Name"]}'
expect_status 400 "a bad package name"
api POST /api/v1/infra/images/build/stream -d '{"packages":["jq"]}'
expect_status 400 "a custom bake without from_snapshot_id"
expect_eq "$(droplets_left)" 0 "nothing was created"

# --- the base, slowed down so heartbeats show and a second bake meets the first
sim_faults '{"slow_actions":6}'
bake_stream /infra/setup/init/stream '{"regions":["sfo3","ams3"],"region":"nyc3"}' base &
BAKE_PID=$!
wait_for 30 test -s "$T/base.sse" || fail "the first bake sent nothing"
api POST /api/v1/infra/setup/init/stream -d '{"regions":["sfo3"]}'
expect_status 409 "a second bake while one runs"
expect_json .error bake_in_progress "409: bake_in_progress"
wait "$BAKE_PID"
STREAM=$T/base.sse
LAST=$(events_of "$STREAM" | tail -n 1)
sim_faults '{"slow_actions":1}'
expect_eq "$(jq -r '[.type, .success] | join(" ")' <<<"$LAST")" "done true" "the bake's last event ($(tail -c 400 "$STREAM"))"
expect_eq "$(jq -r .snapshot.name <<<"$LAST")" "$BASE_NAME" "the base's name"
expect_eq "$(jq -r '.snapshot.regions | sort | join(",")' <<<"$LAST")" "ams3,nyc3,sfo3" "copied to two regions"
expect_eq "$(events_of "$STREAM" | jq -r 'select(.type=="progress") | .step' | awk '!s[$0]++' | tr '\n' '|')" \
    "${BAKE_STEPS}transferring|" "the same steps as the CLI"
ids=$(grep -c '^id: ' "$STREAM")
expect_eq "$ids" "$(grep -c '^data: ' "$STREAM")" "every event has an id"
expect_eq "$(grep '^id: ' "$STREAM" | awk '{print $2}' | sort -n | uniq | wc -l)" "$(grep '^id: ' "$STREAM" | sort -u | wc -l)" \
    "ids are distinct"
expect_eq "$(grep '^id: ' "$STREAM" | head -1)" "id: 1" "ids start at 1"
expect_match "$(events_of "$STREAM" | jq -r .type | sort -u | tr '\n' ' ')" "heartbeat" "heartbeats while quiet"
calls=$(jq -r .api_calls <<<"$LAST")
echo "bake base through the controller (slowed 6x): $calls DigitalOcean API calls"
expect_eq "$((calls > 5 && calls <= 40))" 1 "API calls per bake ($calls)"
BASE_ID=$(jq -r .snapshot.id <<<"$LAST")
expect_no_droplet "setup stream"
api GET /api/v1/infra/setup/status
expect_eq "$(jq -c '[.base_snapshot.id, .base_snapshot.agent_version, .current]' <<<"$BODY")" "[$BASE_ID,\"$VERSION\",true]" \
    "status: a current base"
api GET /api/v1/infra/snapshots
expect_eq "$(jq -r --argjson id "$BASE_ID" '.snapshots[] | select(.id==$id) | .agent_version' <<<"$BODY")" "$VERSION" \
    "listed with its agent version"

# --- a server from it (provision-time user-data), reached with the derived key, deployed to
api POST /api/v1/infra/servers/provision -d "{\"count\":1,\"snapshot_id\":$BASE_ID,\"region\":\"sfo3\"}"
expect_status 202 "provision from the controller-baked base"
for ((i = 0; i < 150; i++)); do
    api GET /api/v1/infra/servers
    ip=$(jq -r '.servers[] | select(.status=="active" and .ip!="") | .ip' <<<"$BODY" | head -1)
    [ -n "$ip" ] && break
    sleep 0.2
done
expect_match "$ip" "^127\\." "the server is up"
for ((i = 0; i < 50; i++)); do
    api GET "/api/v1/infra/agent/health?server_ip=$ip"
    [ "$(jq -r .status <<<"$BODY" 2>/dev/null)" = healthy ] && break
    sleep 0.2
done
expect_json .status healthy "its agent answers the derived key"
img=$(demo_image web "setup-$NS")
deploy "{\"name\":\"web\",\"source_type\":\"image\",\"image\":\"$img\",\"port\":8080,\"server_ips\":[\"$ip\"]}" web
expect_eq "$(jq -r .success <<<"$DONE")" true "deploy to it ($(tail -c 400 "$DEPLOY_LOG"))"
app_answers "$ip" 8080 "setup-$NS" || fail "the app answers"
api GET /api/v1/infra/servers
SERVER_ID=$(jq -r '.servers[0].id' <<<"$BODY")
api DELETE "/api/v1/infra/servers/$SERVER_ID"
expect_status 200 "delete the server"

# --- a custom snapshot on top of it
bake_stream /infra/images/build/stream "{\"from_snapshot_id\":$BASE_ID,\"name\":\"tools\",\"packages\":[\"jq\"]}" custom
expect_eq "$STATUS" 200 "custom bake stream"
expect_eq "$(jq -r '[.type, .snapshot.name] | join(" ")' <<<"$LAST")" "done custom-tools-agent-$VERSION" \
    "the custom snapshot ($(tail -c 300 "$STREAM"))"
bake_stream /infra/images/build/stream '{"from_snapshot_id":"no-such-snapshot","packages":["jq"]}' nosrc
expect_eq "$(jq -r '[.type, .error, .step] | join(" ")' <<<"$LAST")" "error snapshot_not_found preparing" \
    "an unknown source fails in the stream, naming the step"
expect_no_droplet "custom bakes"

# --- a viewer that leaves does not stop the bake: GET /infra/bake shows it running, its events
# replay (whole, or after Last-Event-ID) and follow live, and POST /infra/bake/cancel stops it;
# the droplet is deleted all the same
real_events() { events_of "$1" | grep -v '"type":"heartbeat"'; }
sim_faults '{"slow_actions":6}'
curl -sN --max-time 5 -D "$T/gone.h" -H "Authorization: Bearer $TOKEN" -d '{}' -o "$T/gone.sse" \
    "$CTL_URL/api/v1/infra/setup/init/stream" || true
expect_match "$(cat "$T/gone.sse")" "creating droplet" "the bake had started"
bake_id=$(tr -d '\r' <"$T/gone.h" | sed -n 's/^[Xx]-[Bb]ake-[Ii]d: //p')
expect_match "$bake_id" '^[0-9]+$' "the stream names its bake (X-Bake-Id)"
api GET /api/v1/infra/bake
expect_status 200 "the latest bake"
expect_eq "$(jq -r '[.id, .kind, .state, .started_by] | join(" ")' <<<"$BODY")" "$bake_id base running admin" \
    "the bake runs on without its viewer"
curl -sN --max-time 3 -H "Authorization: Bearer $TOKEN" -o "$T/replay.sse" \
    "$CTL_URL/api/v1/infra/bake/events" || true
n=$(real_events "$T/gone.sse" | wc -l)
expect_eq "$(real_events "$T/replay.sse" | head -n "$n")" "$(real_events "$T/gone.sse")" \
    "a new viewer replays what the first one saw"
last_id=$(sed -n 's/^id: //p' "$T/gone.sse" | tail -n 1)
curl -sN --max-time 3 -H "Authorization: Bearer $TOKEN" -H "Last-Event-ID: $last_id" -o "$T/resume.sse" \
    "$CTL_URL/api/v1/infra/bake/events" || true
expect_eq "$(real_events "$T/resume.sse" | head -n 1)" "$(real_events "$T/replay.sse" | sed -n "$((n + 1))p")" \
    "Last-Event-ID resumes right after the last event seen"
api POST /api/v1/infra/bake/cancel -d "{\"id\":$((bake_id + 1))}"
expect_status 409 "cancel names another bake"
api POST /api/v1/infra/bake/cancel -d "{\"id\":$bake_id}"
expect_status 202 "cancel the bake"
curl -sN --max-time 60 -H "Authorization: Bearer $TOKEN" -o "$T/canceled.sse" \
    "$CTL_URL/api/v1/infra/bake/events?id=$bake_id" || true
expect_eq "$(real_events "$T/canceled.sse" | tail -n 1 | jq -r .error)" canceled "the stream ends with the cancel"
api GET /api/v1/infra/bake
expect_eq "$(jq -r '[.state, .last_event.error, (.ended_at != null)] | join(" ")' <<<"$BODY")" "canceled canceled true" \
    "the bake's state says so"
expect_match "$(cat "$T/ctl.log")" 'bake canceled by admin' "the cancel is logged with who asked"
expect_no_droplet "a bake canceled without a viewer"
api POST /api/v1/infra/bake/cancel
expect_status 409 "nothing left to cancel"
expect_json .error bake_not_running "409: bake_not_running"
curl -s -o /dev/null -w '%{http_code}' -H "Authorization: Bearer $TOKEN" \
    "$CTL_URL/api/v1/infra/bake/events?id=$((bake_id + 5))" >"$T/other.status"
expect_eq "$(cat "$T/other.status")" 404 "another bake's events are gone"
sim_faults '{"slow_actions":1}'
bake_stream /infra/images/build/stream '{"from_snapshot_id":"no-such-snapshot","packages":["jq"]}' again
expect_eq "$STATUS $(jq -r .error <<<"$LAST")" "200 snapshot_not_found" "the bake lock is free again"

# --- the controller stopping mid-bake: the bake is canceled, its droplet deleted, a clean exit
sim_faults '{"slow_actions":4}'
curl -sN --max-time 60 -H "Authorization: Bearer $TOKEN" -d '{}' -o "$T/stop.sse" \
    "$CTL_URL/api/v1/infra/setup/init/stream" &
VIEWER=$!
for ((i = 0; i < 100; i++)); do
    grep -q '"step":"waiting for active"' "$T/stop.sse" 2>/dev/null && break
    sleep 0.1
done
kill -TERM "$CTL_PID"
rc=0
wait "$CTL_PID" || rc=$?
CTL_PID=
wait "$VIEWER" || true
expect_eq "$rc" 0 "the controller exits cleanly mid-bake"
# civetweb writes nothing more once it stops, so the stream just ends; the log tells.
expect_eq "$(events_of "$T/stop.sse" | jq -r 'select(.type=="done")' | wc -l)" 0 "no done event"
expect_match "$(cat "$T/ctl.log")" 'bake failed after [0-9]+ API calls: canceled during step' \
    "the controller canceled the bake"
expect_no_droplet "a controller stopped mid-bake"
sim_faults '{"slow_actions":1}'
