#!/usr/bin/env bash
# The controller's front: help and version, login (wrong password 401, repeated failures 429,
# tokens), auth before routing, CORS answers off, /version, settings that never show the token,
# credentials whose key matches the openssl-made HMAC, the OpenAPI document, /metrics through
# promtool, the agent package for bakes, servers provisioned and deleted on the simulator, and
# a clean SIGTERM.
. "$(dirname "$0")/lib.sh"
. "$DP_SRC/tests/it/ctl_lib.sh"
it_init controller_api

help=$("$DP_BIN/controller" --help)
for flag in --listen --public-url --db --static --help --version DO_TOKEN DO_API_URL \
    CONTROLLER_ADMIN_PASSWORD; do
    expect_match "$help" "$flag" "--help mentions $flag"
done
expect_eq "$("$DP_BIN/controller" --version)" "controller $(cat "$DP_SRC/VERSION")" "--version"
rc=0; out=$("$DP_BIN/controller" --db relative.db 2>&1) || rc=$?
expect_eq "$rc" 2 "relative --db refused"
rc=0; out=$("$DP_BIN/controller" --db /nonexistent/x.db --example-image 'not an image!' 2>&1) || rc=$?
expect_eq "$rc" 2 "a bad --example-image refused"
expect_match "$out" "--example-image must be an image reference" "and said why"

sim_start
ctl_start
expect_match "$(cat "$T/ctl.log")" "created user 'admin'" "admin made on a new database"

# Auth before routing: 401 JSON even where no route is.
TOKEN=nope
api GET /api/v1/no/such/thing
expect_status 401 "no session, unknown route"
expect_json .error unauthorized "401 code"
api GET /api/v1/version
expect_status 200 "version needs no login"
expect_json .expected_agent_version "$(cat "$DP_SRC/VERSION")" "expected agent version from VERSION"

# Login: wrong password 401, then 429 with Retry-After after repeated failures.
code=$(curl -s -o /dev/null -w '%{http_code}' -d '{"username":"admin","password":"wrong"}' "$CTL_URL/api/v1/auth/login")
expect_eq "$code" 401 "wrong password"
for _ in $(seq 1 10); do
    curl -s -o /dev/null -H "X-Forwarded-For: 1.2.3.4" -d '{"username":"admin","password":"wrong"}' "$CTL_URL/api/v1/auth/login"
done
hdrs=$(curl -s -D - -o /dev/null -d "{\"username\":\"admin\",\"password\":\"$ADMIN_PW\"}" "$CTL_URL/api/v1/auth/login")
expect_match "$hdrs" "HTTP/1.1 429" "blocked after repeated failures, even with the right password"
expect_match "$hdrs" "Retry-After: [0-9]+" "Retry-After"
# The block is per address: restart the controller (the gate is in memory) to go on.
kill -TERM "$CTL_PID"; wait "$CTL_PID"; expect_eq $? 0 "controller exits 0 on SIGTERM"
CTL_PID=; ctl_start
ctl_login
api GET /api/v1/deployments
expect_status 200 "a session works"
api GET /api/v1/no/such/thing
expect_status 404 "unknown route with a session"

# civetweb's automatic CORS answers are off.
hdrs=$(curl -s -D - -o /dev/null -X OPTIONS -H "Origin: http://evil.example" \
    -H "Access-Control-Request-Method: POST" "$CTL_URL/api/v1/auth/login")
expect_no_match "$hdrs" "Access-Control-Allow-Origin" "no CORS answer"

# Settings never show the token.
api GET /api/v1/settings
expect_json .do_token_set true "token is set"
expect_json .do_token_source environment "token from the environment"
expect_no_match "$BODY" "$DO_TOKEN" "settings do not show the token"
expect_json .example_image "" "no example image unless --example-image"
api PUT /api/v1/settings -d '{"do_token":"dop_v1_other"}'
expect_json .restart_required true "saving a token says it needs a restart"

# Credentials: the key is hex(HMAC-SHA256(DO token, "node-agent:" + user id))[:32].
api GET /api/v1/me/credentials
uid=$(printf '%s' "$BODY" | jq -r .user_id)
want=$(printf 'node-agent:%s' "$uid" | openssl dgst -sha256 -hmac "$DO_TOKEN" | awk '{print $2}' | cut -c1-32)
expect_json .agent_key "$want" "agent key matches the openssl HMAC"
expect_match "$(printf '%s' "$BODY" | jq -r .curl_exe)" "^curl.exe " "a curl.exe line for PowerShell"
expect_no_match "$(printf '%s' "$BODY" | jq -r .curl)" "pinnedpubkey" "no empty pin while there is no server"
expect_json .tls_pin null "no pin without a server"

# The API description and the metrics.
code=$(curl -s -o "$T/openapi.json" -w '%{http_code}' "$CTL_URL/api/v1/openapi.json")
expect_eq "$code" 200 "openapi.json served without login"
expect_eq "$(jq -r .openapi "$T/openapi.json" | cut -c1-2)" "3." "an OpenAPI 3 document"
curl -s "$CTL_URL/metrics" >"$T/metrics.txt"
promtool check metrics <"$T/metrics.txt" >"$T/promtool.out" 2>&1 || fail "promtool: $(cat "$T/promtool.out")"
expect_match "$(cat "$T/metrics.txt")" "controller_deploys_total\{outcome=\"succeeded\"\}" "deploy metrics"
expect_match "$(cat "$T/metrics.txt")" "controller_sse_viewers" "viewer gauge"
expect_match "$(cat "$T/metrics.txt")" "controller_cloud_api_calls_total [0-9]" "cloud call metrics"

# The agent package a bake downloads, with its checksum.
curl -sf -o "$T/pkg.tgz" "$CTL_URL/agent/package" || fail "agent package"
sum=$(curl -sf "$CTL_URL/agent/package.sha256" | awk '{print $1}')
expect_eq "$(sha256sum "$T/pkg.tgz" | awk '{print $1}')" "$sum" "package checksum"
expect_match "$(tar -tzf "$T/pkg.tgz" | tr '\n' ' ')" "usr/bin/node-agent" "package holds the agent"

# Setup status, snapshots and servers on the simulator.
api GET /api/v1/infra/setup/status
expect_json .current true "the seed snapshot is current"
api GET /api/v1/infra/snapshots
expect_json '.snapshots | length' 1 "one snapshot"
expect_json '.snapshots[0].agent_version' "$(cat "$DP_SRC/VERSION")" "its agent version"
api POST /api/v1/infra/setup/init/stream -d '{"regions":"sfo3"}'
expect_status 400 "a bake request is checked before anything starts (tests/it/snapshot_controller.sh bakes)"
# Sizes: what DigitalOcean offers now, cheapest first, trimmed to what choosing one needs.
api GET /api/v1/infra/sizes
expect_status 200 "sizes"
want=$(curl -s -H "Authorization: Bearer $DO_TOKEN" "$SIM_URL/v2/sizes?per_page=200" |
    jq -c '[.sizes[] | select(.available) | .slug] | sort')
expect_eq "$(jq -c '[.sizes[].slug] | sort' <<<"$BODY")" "$want" "every available size, none other"
expect_json '[.sizes[].price_monthly] == ([.sizes[].price_monthly] | sort)' true "cheapest first"
expect_json '[.sizes[] | keys | sort | join(",")] | unique | join(" ")' \
    "description,disk,memory,price_monthly,regions,slug,vcpus" "each size says slug, disk, price, regions"
code=$(curl -s -o /dev/null -w '%{http_code}' "$CTL_URL/api/v1/infra/sizes")
expect_eq "$code" 401 "sizes need a login"
servers_up 2
api GET /api/v1/infra/servers
expect_json '[.servers[] | select(.image.name | startswith("base-docker-debian12-agent-"))] | length' 2 "servers carry their image"
id=$(printf '%s' "$BODY" | jq -r '.servers[0].id')
api DELETE "/api/v1/infra/servers/$id"
expect_status 200 "delete a server"
left=$(curl -s "$SIM_URL/_sim/state" | jq '[.droplets[] | select(.status != "deleted")] | length')
expect_eq "$left" 1 "one droplet left in the cloud"
api DELETE "/api/v1/infra/servers/abc"
expect_status 400 "bad server id"

kill -TERM "$CTL_PID"; wait "$CTL_PID"; expect_eq $? 0 "controller exits 0 on SIGTERM"
CTL_PID=
