#!/usr/bin/env bash
# The DigitalOcean client against the simulator: every operation, lists over several pages, a
# batch of 25, a bake-like sequence; then all of it again with 30 % injected 429/500 answers and
# a create that answers 500 after creating. Each run ends with exactly the droplets expected
# (none), and every exchange is checked against DigitalOcean's OpenAPI document. Last, a droplet
# from the seed snapshot, given the provision-time user-data that cloudinit renders, answers
# /ping at its address over TLS with the key the user-data wrote.
. "$(dirname "$0")/lib.sh"
it_init do_client
CHECK=$DP_BUILD/tests/do_client_check

port=$(free_port)
"$DP_BIN/dosim" --listen "127.0.0.1:$port" --state-dir "$T/sim" --record "$T/rec.jsonl" \
    --droplet-limit 500 --seed-snapshot "dp-seed-$NS" >"$T/dosim.log" 2>&1 &
SIM=$!
IT_EXTRA_CLEANUP="kill -TERM $SIM 2>/dev/null; wait $SIM 2>/dev/null"
SIM_URL="http://127.0.0.1:$port"
wait_for 20 curl -sf "$SIM_URL/_sim/state" || { cat "$T/dosim.log"; fail "dosim did not start"; exit 1; }
export DO_API_URL=$SIM_URL DO_TOKEN="dop_v1_$(openssl rand -hex 32)"

run() { # tag scenario args...: runs a scenario, fails the test on any failed check
    local tag=$1 out
    shift
    out=$("$CHECK" --tag "$tag" "$@" 2>&1) && ok || fail "scenario $* failed: $(printf '%s' "$out" | grep -E 'FAIL|check failed' | head -5)"
    printf '%s\n' "$out" >>"$T/scenarios.log"
}

droplets_with() { # tag: how many droplets the simulator holds with it
    curl -s "$SIM_URL/_sim/state" | jq --arg t "$1" '[.droplets[] | select(.tags | index($t))] | length'
}

# Clean runs.
run t-ops ops
run t-batch --page-size 10 batch 25
run t-bake bake
expect_eq "$(droplets_with t-ops)$(droplets_with t-batch)$(droplets_with t-bake)" 000 "clean runs leave no droplet"
expect_match "$(grep -c 'GET /v2/droplets?' "$T/rec.jsonl" || true)" '^[0-9]+$' "listings recorded"
pages=$(jq -c 'select(.method=="GET" and .path=="/v2/droplets" and .query.tag_name=="t-batch" and .query.page=="3")' "$T/rec.jsonl" | wc -l)
[ "$pages" -ge 1 ] || fail "25 droplets at 10 a page were not listed over 3 pages"
ok

# With 30 % faults and a create that answers 500 after creating: same outcome, no duplicates.
curl -sf -X POST "$SIM_URL/_sim/faults" -d '{"fail_429":0.15,"fail_500":0.15,"create_500_rate":0.5}' >/dev/null ||
    fail "setting faults"
run f-ops --retries 12 --backoff-ms 50 ops
run f-batch --retries 12 --backoff-ms 50 --page-size 10 batch 25
run f-bake --retries 12 --backoff-ms 50 bake
curl -sf -X POST "$SIM_URL/_sim/faults" -d '{"fail_429":0,"fail_500":0,"create_500_rate":0}' >/dev/null
expect_eq "$(droplets_with f-ops)$(droplets_with f-batch)$(droplets_with f-bake)" 000 "faulty runs leave no droplet"
retries=$(grep -h '^client:' "$T/scenarios.log" | tail -3 | sed -n 's/.* \([0-9]*\) retries.*/\1/p' | paste -sd+ | bc)
[ "${retries:-0}" -gt 0 ] || fail "the faulty runs saw no retries: faults were not injected"
ok
created500=$(jq -s '[.[] | select(.method=="POST" and .path=="/v2/droplets" and .status==500)] | length' "$T/rec.jsonl")
[ "$created500" -gt 0 ] || fail "no create answered 500: the recovery path was not exercised"
ok

# A droplet from the seed snapshot, with provision-time user-data: its agent answers with the
# key and serves TLS with the certificate that user-data wrote.
seed=$(curl -s -H "Authorization: Bearer $DO_TOKEN" "$SIM_URL/v2/images?private=true" |
    jq -r --arg n "dp-seed-$NS" '.images[] | select(.name==$n) | .id')
expect_match "$seed" '^[0-9]+$' "the seed snapshot has an integer id"
key=$(openssl rand -hex 16)
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -subj "/CN=agent" \
    -keyout "$T/agent.key" -out "$T/agent.crt" -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
printf '%s' "$key" >"$T/agent.keytext"
"$DP_BUILD/tests/cloudinit_render_cli" --key-file "$T/agent.keytext" --cert-file "$T/agent.crt" \
    --tls-key-file "$T/agent.key" --allow 127.0.0.0/8 >"$T/user-data" || fail "render provision user-data"
body=$(jq -n --rawfile ud "$T/user-data" --argjson img "$seed" \
    '{name:"prov-1",region:"nyc1",size:"s-1vcpu-1gb",image:$img,tags:["dp-managed","t-prov"],user_data:$ud}')
id=$(curl -s -H "Authorization: Bearer $DO_TOKEN" -d "$body" "$SIM_URL/v2/droplets" | jq -r .droplet.id)
expect_match "$id" '^[0-9]+$' "create from the seed snapshot"
ip_of() { curl -s -H "Authorization: Bearer $DO_TOKEN" "$SIM_URL/v2/droplets/$id" | jq -r '.droplet.networks.v4[] | select(.type=="public") | .ip_address'; }
has_ip() { [ -n "$(ip_of)" ]; }
wait_for 20 has_ip || fail "droplet got no public address"
ip=$(ip_of)
pin=$(openssl x509 -in "$T/agent.crt" -pubkey -noout | openssl pkey -pubin -outform der | openssl dgst -sha256 -binary | base64)
pingit() { curl -sf -k --pinnedpubkey "sha256//$pin" -H "X-API-Key: $key" "https://$ip:9999/ping"; }
wait_for 30 pingit || { curl -s "$SIM_URL/_sim/droplets/$id/log" | jq -r '.cloud_init, .agent' | tail -20 >&2; fail "the droplet's agent does not answer"; }
expect_json_of() { printf '%s' "$(pingit)" | jq -r "$1"; }
expect_eq "$(expect_json_of .version)" "$(cat "$DP_SRC/VERSION")" "agent version on the droplet"
code=$(curl -s -k -o /dev/null -w '%{http_code}' -H "X-API-Key: wrong-key-wrong-key" "https://$ip:9999/ping")
expect_eq "$code" 401 "the droplet's agent refuses another key"
curl -s -X DELETE -H "Authorization: Bearer $DO_TOKEN" "$SIM_URL/v2/droplets/$id" >/dev/null
agent_gone() { ! curl -s -k -o /dev/null "https://$ip:9999/ping"; }
wait_for 15 agent_gone || fail "agent still answers after delete"
expect_eq "$(droplets_with t-prov)" 0 "provisioned droplet deleted"

# Every exchange of this test matches DigitalOcean's OpenAPI description.
/usr/bin/python3 "$DP_SRC/tests/dosim/contract.py" "$T/rec.jsonl" >"$T/contract.out" 2>&1 ||
    fail "contract: $(grep -v '^ ' "$T/contract.out" | head -10)"
expect_match "$(head -1 "$T/contract.out")" " 0 mismatches" "contract summary"
head -1 "$T/contract.out"
