#!/usr/bin/env bash
# The agent's front door: help and version, auth before routing, 401/404/405/429 as JSON,
# bearer keys, --allow, SIGHUP key reload, SIGTERM and an immediate re-bind of the same port.
. "$(dirname "$0")/lib.sh"
it_init agent_basics

# --help explains every flag; --version prints VERSION; bad flags exit 2 with a reason.
help=$("$DP_BIN/node-agent" --help)
for flag in --listen --key-file --data-root --docker-socket --publish-ip --namespace \
    --tls-cert --tls-key --git-ca-file --allow --user --config --help --version; do
    expect_match "$help" "$flag" "--help mentions $flag"
done
expect_eq "$("$DP_BIN/node-agent" --version)" "node-agent $(cat "$DP_SRC/VERSION")" "--version"
rc=0; out=$("$DP_BIN/node-agent" --bogus 2>&1) || rc=$?
expect_eq "$rc" 2 "unknown flag exit status"
expect_match "$out" "unknown option '--bogus'" "unknown flag message"
rc=0; out=$("$DP_BIN/node-agent" --tls-cert /x 2>&1) || rc=$?
expect_eq "$rc" 2 "--tls-cert without --tls-key"
printf 'listen = 127.0.0.1:1\nnamespace = Bad_NS\n' >"$T/bad.conf"
rc=0; out=$("$DP_BIN/node-agent" --config "$T/bad.conf" --check 2>&1) || rc=$?
expect_eq "$rc" 2 "--check with a bad namespace in the config file"
expect_match "$out" "namespace" "config error names the setting"

agent_start a

req GET /ping
expect_status 200 "ping"
expect_json .status ok "ping status"
expect_json .version "$(cat "$DP_SRC/VERSION")" "ping version"

req GET /ping -H "Authorization: Bearer $KEY" -H "X-API-Key:"
expect_status 200 "bearer key"

# Unauthenticated requests get 401 JSON, even for routes that do not exist.
req_noauth GET /ping
expect_status 401 "no key"
expect_json .error unauthorized "no key error code"
req_noauth GET /no/such/route
expect_status 401 "no key on an unknown route"
req_noauth GET /ping -H "X-API-Key: ${KEY}x"
expect_status 401 "key with an extra character"

req GET /no/such/route
expect_status 404 "unknown route with the key"
expect_json .error not_found "404 error code"
req DELETE /ping
expect_status 405 "wrong method"

req GET /health
expect_status 200 "health"
expect_json .docker.ok true "health sees docker"
expect_match "$(printf '%s' "$BODY" | jq -r .status)" '^(healthy|degraded)$' "health status"
expect_match "$(printf '%s' "$BODY" | jq -r .disk.free_bytes)" '^[0-9]+$' "health disk"

req GET /metrics
expect_status 200 "metrics"
expect_match "$BODY" 'node_agent_requests_total\{route="ping",code="2xx"\} [1-9]' "metrics count pings"
expect_match "$BODY" 'node_agent_auth_failures_total [1-9]' "metrics count auth failures"
# Debian's promtool (scripts/deps.sh installs it) validates the exposition format.
printf '%s\n' "$BODY" | promtool check metrics >"$T/promtool.out" 2>&1 || fail "promtool: $(cat "$T/promtool.out")"
ok

# SIGHUP re-reads the key file.
newkey=$(openssl rand -hex 16)
printf '%s\n' "$newkey" >"$a_DIR/key"
kill -HUP "$a_PID"
wait_for 5 curl -sf -H "X-API-Key: $newkey" "$URL/ping" || fail "new key after SIGHUP"
req GET /ping
expect_status 401 "old key refused after SIGHUP"
KEY=$newkey

# Repeated failures from one address: 429 with Retry-After, whatever key comes next.
for _ in $(seq 1 10); do req_noauth GET /ping -H "X-API-Key: wrong-key-wrong-key"; done
expect_status 429 "tenth failure"
hdrs=$(curl -s -D - -o /dev/null -H "X-API-Key: $KEY" "$URL/ping")
expect_match "$hdrs" "HTTP/1.1 429" "right key from a blocked address"
expect_match "$hdrs" "Retry-After: [0-9]+" "Retry-After header"

# SIGTERM: clean exit, and a new agent binds the same port at once.
port=$a_PORT
agent_stop a
"$DP_BIN/node-agent" --listen "127.0.0.1:$port" --key-file "$a_DIR/key" --data-root "$a_DIR/data" \
    --namespace "$NS" >"$T/rebind.log" 2>&1 &
rebind=$!
IT_PIDS+=("$rebind"); IT_AGENTS+=("rebind")
mkdir -p "$T/agent-rebind" && ln -sf "$T/rebind.log" "$T/agent-rebind/log"
wait_for 5 curl -sf -H "X-API-Key: $KEY" "http://127.0.0.1:$port/ping" || fail "re-bind after SIGTERM"
ok
kill -TERM "$rebind"; wait "$rebind" || fail "re-bound agent exit status"

# --allow: a client outside every range gets 403.
agent_start b --allow 10.0.0.0/8
req GET /ping
expect_status 403 "address outside --allow"
agent_stop b
agent_start c --allow 127.0.0.0/8 --allow 10.0.0.0/8
req GET /ping
expect_status 200 "address inside --allow"
agent_stop c

# --user: ports bound as root, then the agent runs as that user, keeps its supplementary docker
# group (civetweb's own run_as_user would drop it), and owns the data root.
if [ "$(id -u)" = 0 ] && getent group docker >/dev/null; then
    user="dpt$$"
    useradd --system --no-create-home --shell /usr/sbin/nologin -G docker "$user"
    IT_EXTRA_CLEANUP="userdel $user 2>/dev/null"
    chmod o+x "$T" # the test's temp folder is 0700; /var/lib, the real parent, is not
    agent_start u --user "$user"
    chmod o+x "$u_DIR"
    chown "$user" "$u_DIR/key" # SIGHUP re-reads it as that user
    expect_eq "$(ps -o user= -p "$u_PID" | tr -d ' ')" "$user" "agent runs as the --user"
    expect_match "$(grep Groups /proc/"$u_PID"/status)" "$(getent group docker | cut -d: -f3)" "keeps the docker group"
    req GET /health
    expect_json .docker.ok true "--user reaches the Docker socket"
    printf 'x' >"$T/one.txt"
    tar -C "$T" -cf "$T/one.tar" one.txt
    req POST "/upload?path=/app/u" --data-binary @"$T/one.tar"
    expect_status 200 "--user writes uploads"
    expect_eq "$(stat -c %U "$u_DIR/data/app/u/one.txt")" "$user" "uploads are the user's"
    agent_stop u
    rc=0; out=$("$DP_BIN/node-agent" --listen 127.0.0.1:0 --key-file "$u_DIR/key" \
        --data-root "$u_DIR/data" --user no-such-user-here 2>&1) || rc=$?
    expect_eq "$rc" 1 "unknown --user"
    expect_match "$out" "no user named" "unknown --user message"
fi
