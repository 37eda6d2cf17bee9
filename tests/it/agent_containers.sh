#!/usr/bin/env bash
# Containers through the agent, driven with curl: run, reach the app on its loopback port,
# list, logs (tail and follow), restart/stop/start/delete, safe replace, namespaces, an agent
# killed and restarted, and every bad input with its status.
. "$(dirname "$0")/lib.sh"
it_init agent_containers
agent_start a
port=$(free_port)
secret="s3cr3t-$(openssl rand -hex 8)"

app_cmd='["sh","-c","echo started; echo oops >&2; mkdir -p /www; echo \"$GREETING\" > /www/index.html; exec httpd -f -p 8080 -h /www"]'
run_body() { # name greeting [extra json fields]
    printf '{"name":"%s","image":"%s","ports":{"%s":8080},"env":{"GREETING":"%s","API_SECRET":"%s"},"command":%s,"labels":{"team":"blue"},"app":"shop","deployment_id":"d-1","version":"7","source":"image","memory_mb":64,"cpus":0.5%s}' \
        "$1" "$TEST_IMAGE" "$port" "$2" "$secret" "$app_cmd" "${3:-}"
}

# Run, as a PowerShell user would: curl.exe -d with JSON (form content type is fine).
req POST /containers/run -d "$(run_body web hello)"
expect_status 201 "run"
expect_json .name web "run name"
expect_json .state running "run state"
wait_for 10 curl -sf "http://127.0.0.1:$port/" || fail "app did not answer on its port"
expect_eq "$(curl -s "http://127.0.0.1:$port/")" hello "app content"

# Docker sees the platform's rules: labels, namespace, no privilege, rotated logs, limits.
dname="${NS}_web"
insp=$(docker inspect "$dname")
expect_eq "$(jq -r '.[0].Config.Labels["dp.app"]' <<<"$insp")" shop "label app"
expect_eq "$(jq -r '.[0].Config.Labels["dp.deployment_id"]' <<<"$insp")" d-1 "label deployment"
expect_eq "$(jq -r '.[0].Config.Labels["dp.version"]' <<<"$insp")" 7 "label version"
expect_eq "$(jq -r '.[0].Config.Labels["dp.source"]' <<<"$insp")" image "label source"
expect_eq "$(jq -r '.[0].Config.Labels["team"]' <<<"$insp")" blue "user label"
expect_eq "$(jq -r '.[0].HostConfig.Privileged' <<<"$insp")" false "not privileged"
expect_eq "$(jq -r '.[0].HostConfig.NetworkMode' <<<"$insp")" bridge "bridge network"
expect_eq "$(jq -r '.[0].HostConfig.Binds' <<<"$insp")" null "no host binds"
expect_eq "$(jq -r '.[0].HostConfig.PidMode' <<<"$insp")" "" "no host pid"
expect_eq "$(jq -r '.[0].HostConfig.LogConfig.Config["max-size"]' <<<"$insp")" 10m "log rotation"
expect_eq "$(jq -r '.[0].HostConfig.PortBindings["8080/tcp"][0].HostIp' <<<"$insp")" 127.0.0.1 "published on --publish-ip"
expect_eq "$(jq -r '.[0].HostConfig.Memory' <<<"$insp")" $((64 * 1024 * 1024)) "memory limit"
expect_eq "$(jq -r '.[0].HostConfig.NanoCpus' <<<"$insp")" 500000000 "cpu limit"
expect_eq "$(jq -r '.[0].HostConfig.Init' <<<"$insp")" true "an init forwards signals"

req GET /containers
expect_status 200 "list"
expect_json '.containers | length' 1 "one container listed"
expect_json '.containers[0].name' web "listed name"
expect_json '.containers[0].state' running "listed state"
expect_json '.containers[0].ports[0].host_port' "$port" "listed port"
expect_no_match "$BODY" "$secret" "list shows no env value"
req GET /containers/web
expect_status 200 "inspect"
expect_json .restart_count 0 "inspect restart count"
expect_no_match "$BODY" "$secret" "inspect shows no env value"

req GET "/containers/web/logs?tail=10"
expect_status 200 "logs"
expect_match "$BODY" '"stream":"stdout","message":"started"' "stdout line"
expect_match "$BODY" '"stream":"stderr","message":"oops"' "stderr line"
expect_eq "$(last_event | jq -r .type)" done "logs end with done"
req GET "/containers/web/logs?tail=x"
expect_status 400 "bad tail"

# Follow: lines arrive while the container writes, and the stream ends when it stops.
req POST /containers/run -d "{\"name\":\"ticker\",\"image\":\"$TEST_IMAGE\",\"command\":[\"sh\",\"-c\",\"i=0; while [ \$i -lt 300 ]; do echo tick \$i; i=\$((i+1)); sleep 0.2; done\"]}"
expect_status 201 "run ticker"
curl -sN -H "X-API-Key: $KEY" "$URL/containers/ticker/logs?tail=0&follow=1" >"$T/follow.out" &
follow=$!
wait_for 10 grep -q 'tick' "$T/follow.out" || fail "follow saw no line"
req POST /containers/ticker/stop
expect_status 200 "stop ticker"
wait_for 15 bash -c "! kill -0 $follow" || fail "follow did not end when the container stopped"
expect_eq "$(grep -v '^$' "$T/follow.out" | tail -n 1 | jq -r .type)" done "follow ends with done"
req DELETE /containers/ticker
expect_status 200 "delete ticker"

# Lifecycle.
req POST /containers/web/restart
expect_status 200 "restart"
expect_json .state running "restarted"
req POST /containers/web/stop
expect_json .state exited "stopped"
curl -s --max-time 2 "http://127.0.0.1:$port/" >/dev/null && fail "app answers after stop"
req POST /containers/web/start
expect_json .state running "started"
wait_for 10 curl -sf "http://127.0.0.1:$port/" || fail "app after start"

# Exists without replace: 409. Replace with a broken image: 404, and the old one still serves.
req POST /containers/run -d "$(run_body web again)"
expect_status 409 "run over an existing container"
expect_json .error container_exists "409 code"
req POST /containers/run -d "$(run_body web x ',"replace":true' | sed "s#\"image\":\"$TEST_IMAGE\"#\"image\":\"dp-test/no-such-image:1\"#")"
expect_status 404 "replace with a missing image"
expect_json .error image_not_found "missing image code"
wait_for 10 curl -sf "http://127.0.0.1:$port/" || fail "old container restored after a failed replace"
expect_eq "$(curl -s "http://127.0.0.1:$port/")" hello "old app still serves"
req POST /containers/run -d "$(run_body web world ',"replace":true')"
expect_status 201 "replace"
wait_for 10 bash -c "[ \"\$(curl -s http://127.0.0.1:$port/)\" = world ]" || fail "replaced app content"
expect_eq "$(docker ps -a --filter "label=dp.namespace=$NS" --filter label=dp.name=web -q | wc -l)" 1 "one container after replace"

# A second container on the same host port: 409 port_in_use, nothing left behind.
req POST /containers/run -d "$(run_body web2 clash)"
expect_status 409 "port in use"
expect_json .error port_in_use "port in use code"
expect_eq "$(docker ps -a --filter "name=^${NS}_web2\$" -q | wc -l)" 0 "no leftover after a failed start"

# Another namespace on the same engine sees none of it.
AGENT_NS="${NS}-b" agent_start b
req GET /containers
expect_json '.containers | length' 0 "other namespace lists nothing"
req POST /containers/web/stop
expect_status 404 "other namespace cannot stop it"
agent_stop b
use_agent a

# Kill -9 and restart: the new agent lists and manages what the old one started.
kill -9 "$a_PID"
wait "$a_PID" 2>/dev/null || true
"$DP_BIN/node-agent" --listen "127.0.0.1:$a_PORT" --key-file "$a_DIR/key" --data-root "$a_DIR/data" \
    --namespace "$NS" --publish-ip 127.0.0.1 >>"$a_DIR/log" 2>&1 &
a_PID=$!
IT_PIDS+=("$a_PID"); IT_AGENTS+=("a")
wait_for 10 curl -sf -H "X-API-Key: $KEY" "$URL/ping" || fail "restarted agent"
req GET /containers
expect_json '.containers[0].name' web "restarted agent lists the container"
req POST /containers/web/stop
expect_json .state exited "restarted agent stops it"
req DELETE /containers/web
expect_json .state removed "restarted agent removes it"

# Bad input: each a JSON error with the right status, and the agent keeps serving.
req POST /containers/run -d '{"name":"x",'
expect_status 400 "malformed JSON"
expect_json .error invalid_json "malformed code"
req POST /containers/run -d '{"name":5,"image":"a"}'
expect_status 400 "name of the wrong type"
expect_match "$BODY" "name" "type error names the field"
req POST /containers/run -d "{\"name\":\"../x\",\"image\":\"$TEST_IMAGE\"}"
expect_status 400 "bad name"
req POST /containers/run -d "{\"name\":\"x\",\"image\":\"$TEST_IMAGE\",\"labels\":{\"dp.managed\":\"0\"}}"
expect_status 400 "reserved label"
req POST /containers/run -d "{\"name\":\"x\",\"image\":\"$TEST_IMAGE\",\"ports\":{\"99999\":80}}"
expect_status 400 "bad port"
req POST /containers/run -d "{\"name\":\"x\",\"image\":\"$TEST_IMAGE\",\"restart\":\"sometimes\"}"
expect_status 400 "bad restart policy"
req POST /containers/run -d "{\"name\":\"x\",\"image\":\"$TEST_IMAGE\",\"env\":{\"BAD NAME\":\"$secret\"}}"
expect_status 400 "bad env name"
expect_no_match "$BODY" "$secret" "env value not in the error"
req POST /containers/run -d "[$(printf '[%.0s' $(seq 1 200))$(printf ']%.0s' $(seq 1 200))]"
expect_status 400 "deeply nested JSON"
head -c $((2 * 1024 * 1024)) /dev/zero | tr '\0' ' ' >"$T/big.json"
req POST /containers/run --data-binary @"$T/big.json"
expect_status 413 "body over the limit"
req GET /ping
expect_status 200 "agent still serves after bad input"

# Secrets: the env value appears nowhere but in the container.
if grep -q "$secret" "$a_LOG"; then fail "env value in the agent log"; fi
ok

# An unreachable Docker: health says degraded, container routes say 503.
agent_start c --docker-socket "$T/no-docker.sock"
req GET /health
expect_status 200 "health without docker"
expect_json .status degraded "degraded without docker"
expect_json .docker.ok false "docker not ok"
req GET /containers
expect_status 503 "list without docker"
expect_json .error docker_unavailable "docker unavailable code"
agent_stop c
agent_stop a
