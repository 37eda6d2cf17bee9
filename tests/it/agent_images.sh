#!/usr/bin/env bash
# Images through the agent with curl: upload a tar, build it, run it and fetch the app; build
# failures as events or statuses; a disconnect cancels a build; pull from a local registry
# with and without credentials; export from one agent and load into another.
. "$(dirname "$0")/lib.sh"
. "$DP_SRC/tests/world/registry.sh"
it_init agent_images
agent_start a
port=$(free_port)

# The app: a Dockerfile on the local base image, served by busybox httpd.
mkdir -p "$T/app/www"
echo "built-app" >"$T/app/www/index.html"
cat >"$T/app/Dockerfile" <<DOCKERFILE
FROM $TEST_IMAGE
ARG GREETING=none
COPY www /www
RUN echo "greeting=\$GREETING" > /www/greeting.txt
EXPOSE 8080
CMD ["httpd", "-f", "-p", "8080", "-h", "/www"]
DOCKERFILE
tar -C "$T/app" -cf "$T/app.tar" .

req POST "/upload?path=/app/web" --data-binary @"$T/app.tar" -H 'Content-Type: application/x-tar'
expect_status 200 "upload"
req POST /build -d '{"path":"/app/web/","tag":"'"$NS"'/web:1","buildargs":{"GREETING":"hi"}}'
expect_status 200 "build"
expect_match "$BODY" '"type":"log","message":"Step 1/[0-9]+ : FROM' "build streams docker steps"
expect_eq "$(last_event | jq -r .type)" done "build ends with done"
image_id=$(last_event | jq -r .image_id)
expect_match "$image_id" '^sha256:[0-9a-f]{64}$' "build image id"
expect_eq "$(docker image inspect -f '{{.Id}}' "$NS/web:1")" "$image_id" "image id matches docker"
expect_eq "$(docker image inspect -f '{{index .Config.Labels "dp.namespace"}}' "$NS/web:1")" "$NS" "image labelled with the namespace"

req POST /containers/run -d '{"name":"web","image":"'"$NS"'/web:1","ports":{"'"$port"'":8080}}'
expect_status 201 "run the built image"
wait_for 10 curl -sf "http://127.0.0.1:$port/" || fail "built app does not answer"
expect_eq "$(curl -s "http://127.0.0.1:$port/")" built-app "built app content"
expect_eq "$(curl -s "http://127.0.0.1:$port/greeting.txt")" greeting=hi "build args reached the build"
req POST /containers/web/restart
expect_json .state running "restart the built app"
wait_for 10 curl -sf "http://127.0.0.1:$port/" || fail "built app after restart"
req DELETE /containers/web
expect_json .state removed "delete the built app"

# Build failures: a failing RUN is an error event inside the 200 stream (Docker's way)...
mkdir -p "$T/bad"
printf 'FROM %s\nRUN echo about to fail && exit 3\n' "$TEST_IMAGE" >"$T/bad/Dockerfile"
tar -C "$T/bad" -cf "$T/bad.tar" .
req POST "/upload?path=/app/bad&clean=1" --data-binary @"$T/bad.tar"
req POST /build -d '{"path":"/app/bad","tag":"'"$NS"'/bad:1"}'
expect_eq "$(last_event | jq -r .type)" error "failing RUN ends with an error event"
expect_eq "$(last_event | jq -r .error)" build_failed "failing RUN code"
expect_match "$(last_event | jq -r .detail)" "returned a non-zero code: 3" "failing RUN detail"
# ...while errors Docker gives before streaming keep their status.
printf 'FROMM nothing\n' >"$T/bad/Dockerfile"
tar -C "$T/bad" -cf "$T/bad.tar" .
req POST "/upload?path=/app/bad&clean=1" --data-binary @"$T/bad.tar"
req POST /build -d '{"path":"/app/bad","tag":"'"$NS"'/bad:1"}'
expect_status 400 "Dockerfile syntax error"
expect_match "$BODY" "unknown instruction" "syntax error detail"
req POST /build -d '{"path":"/app/bad","tag":"'"$NS"'/bad:1","dockerfile":"Nope.dockerfile"}'
expect_status 400 "missing Dockerfile"
expect_json .error dockerfile_not_found "missing Dockerfile code"
req POST /build -d '{"path":"/app/none","tag":"'"$NS"'/x:1"}'
expect_status 404 "build of a missing folder"
req POST /build -d '{"path":"/app/../etc","tag":"'"$NS"'/x:1"}'
expect_status 400 "build path outside the data root"
req POST /build -d '{"path":"/app/web","tag":"Bad Tag!"}'
expect_status 400 "bad tag"
req POST /build -d '{"path":"/app/web","tag":"'"$NS"'/x:1","dockerfile":"../../etc/passwd"}'
expect_status 400 "dockerfile outside the context"

# A link inside the data root (as a cloned repository can hold) is never followed to find the
# build folder: host folders cannot become a build context.
ln -s / "$a_DIR/data/app/web/escape"
req POST /build -d '{"path":"/app/web/escape/etc","tag":"'"$NS"'/x:1"}'
expect_status 400 "build folder reached through a symlink"
expect_json .error invalid_path "symlinked build folder code"
req POST /build -d '{"path":"/app/web/escape","tag":"'"$NS"'/x:1"}'
expect_status 400 "build folder that is a symlink"
rm "$a_DIR/data/app/web/escape"

# A client that disconnects cancels the build: Docker stops it when the connection closes.
marker=$((RANDOM + 1000))
printf 'FROM %s\nRUN sleep %d\n' "$TEST_IMAGE" "$marker" >"$T/bad/Dockerfile"
tar -C "$T/bad" -cf "$T/bad.tar" .
req POST "/upload?path=/app/slow&clean=1" --data-binary @"$T/bad.tar"
curl -s --max-time 4 -H "X-API-Key: $KEY" -d '{"path":"/app/slow","tag":"'"$NS"'/slow:1"}' "$URL/build" >"$T/slow.out" || true
expect_match "$(cat "$T/slow.out")" "RUN sleep $marker" "the slow build had started"
running() { docker ps --no-trunc --format '{{.Command}}' | grep -q "sleep $marker"; }
wait_for 20 bash -c "! $(declare -f running); running" || fail "build still running after the client left"
ok
expect_eq "$(docker images -q "$NS/slow:1")" "" "cancelled build made no image"

# Pull: a registry without auth, then one with htpasswd auth.
registry_start open
registry_push "$open_ADDR" "$NS/pulled:1"
req POST /pull -d '{"image":"'"$open_ADDR/$NS"'/pulled:1"}'
expect_status 200 "pull"
expect_eq "$(last_event | jq -r .type)" done "pull done"
expect_match "$(last_event | jq -r .image_id)" '^sha256:' "pull image id"
req POST /pull -d '{"image":"'"$open_ADDR/$NS"'/pulled:nope"}'
expect_eq "$STATUS" 404 "pull of a missing tag"
expect_json .error image_not_found "missing tag code"

registry_start locked dpuser "pw-$NS"
registry_push "$locked_ADDR" "$NS/private:1" dpuser "pw-$NS"
docker rmi "$locked_ADDR/$NS/private:1" >/dev/null 2>&1 || true
req POST /pull -d '{"image":"'"$locked_ADDR/$NS"'/private:1"}'
expect_match "$STATUS$(last_event | jq -r .error 2>/dev/null)" "registry_auth_failed" "pull without credentials"
req POST /pull -d '{"image":"'"$locked_ADDR/$NS"'/private:1","username":"dpuser","password":"wrong-'"$NS"'"}'
expect_match "$BODY" "registry_auth_failed" "pull with a wrong password"
expect_no_match "$BODY" "wrong-$NS" "password not echoed"
req POST /pull -d '{"image":"'"$locked_ADDR/$NS"'/private:1","username":"dpuser","password":"pw-'"$NS"'"}'
expect_eq "$(last_event | jq -r .type)" done "pull with credentials"
req POST /containers/run -d '{"name":"pulled","image":"'"$locked_ADDR/$NS"'/private:1","command":["sleep","60"]}'
expect_status 201 "run the pulled image"
req DELETE /containers/pulled
if grep -q "pw-$NS" "$a_LOG"; then fail "registry password in the agent log"; fi
ok

# Export from agent a, load into agent b (another namespace on the same engine): the image id
# survives the trip. The image is removed in between so the load really brings it back.
curl -sf -H "X-API-Key: $KEY" "$URL/images/$NS/web:1/export" -o "$T/web.tar" || fail "export"
expect_match "$(tar -tf "$T/web.tar" | tr '\n' ' ')" "manifest.json" "export is a docker save tar"
req GET "/images/$NS/no-such:1/export"
expect_status 404 "export of a missing image"
docker rmi -f "$NS/web:1" >/dev/null
AGENT_NS="${NS}-b" agent_start b
req POST /images/load --data-binary @"$T/web.tar" -H 'Content-Type: application/x-tar'
expect_status 200 "load"
expect_eq "$(last_event | jq -r .image_id)" "$image_id" "loaded image id equals the built one"
expect_eq "$(last_event | jq -r '.images[0]')" "$NS/web:1" "loaded tag"
# Streamed end to end, agent to agent, as the controller will do it.
docker rmi -f "$NS/web:1" >/dev/null
use_agent a
agent_start a2 # a second agent in a's namespace, to export from after the reload
use_agent b
req POST /images/load --data-binary @"$T/web.tar"
use_agent a
curl -sf -H "X-API-Key: $KEY" "$URL/images/$NS/web:1/export" |
    curl -sf -H "X-API-Key: $b_KEY" --data-binary @- "$b_URL/images/load" >"$T/pipe.out" || fail "export | load"
expect_eq "$(grep -v '^$' "$T/pipe.out" | tail -n 1 | jq -r .image_id)" "$image_id" "piped load keeps the id"
use_agent b
printf 'this is not a tar' >"$T/garbage"
req POST /images/load --data-binary @"$T/garbage"
expect_match "$STATUS $(last_event | jq -r .type 2>/dev/null)" "^(4|5)[0-9][0-9] |^200 error" "load of garbage fails"
req GET /ping
expect_status 200 "agent serves after a bad load"
agent_stop b
agent_stop a2
agent_stop a
