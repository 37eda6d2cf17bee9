#!/usr/bin/env bash
# Injected faults, from flags and from POST /_sim/faults: a share of 429s (with retry-after,
# remaining 0) and 500s, never on /_sim; an action type that ends errored without effect; a
# create that answers 500 after it did create; slow actions.
. "$(dirname "$0")/lib.sh"
. "$DP_SRC/tests/dosim/testlib.sh"
it_init dosim_faults

dosim_start a --fail-429 0.5 --state-dir "$T/state" --record "$T/record.jsonl"

n429=0 n200=0 bad=0
for _ in $(seq 1 40); do
    api GET /v2/account
    case $STATUS in
    429)
        n429=$((n429 + 1))
        [ "$(jqb .id)" = too_many_requests ] || bad=$((bad + 1))
        grep -q '^retry-after: [0-9]' <<<"$HDRS" || bad=$((bad + 1))
        grep -q '^ratelimit-remaining: 0$' <<<"$HDRS" || bad=$((bad + 1))
        ;;
    200) n200=$((n200 + 1)) ;;
    *) bad=$((bad + 1)) ;;
    esac
done
expect_eq "$((n429 > 5 && n200 > 5))" 1 "--fail-429 0.5: some 429s ($n429) and some 200s ($n200)"
expect_eq "$bad" 0 "every injected 429 has DigitalOcean's body, retry-after and remaining 0"
ok_admin=0
for _ in $(seq 1 20); do
    sim GET /_sim/state
    [ "$STATUS" = 200 ] && ok_admin=$((ok_admin + 1))
done
expect_eq "$ok_admin" 20 "faults never apply to /_sim"
sim GET /_sim/faults
expect_json .fail_429 0.5 "faults as set by the flag"

# 500s through the admin route, then off again.
sim POST /_sim/faults -d '{"fail_429":0,"fail_500":1}'
expect_status 200 "set faults"
api GET /v2/regions
expect_status 500 "injected 500"
expect_json .id server_error "500 id"
expect_json .message "Unexpected server-side error" "500 message"
expect_match "$HDRS" "ratelimit-limit: 5000" "500 carries rate-limit headers"
sim POST /_sim/faults -d '{"fail_500":0}'
api GET /v2/regions
expect_status 200 "faults off"
sim POST /_sim/faults -d '{"fail_500":2}'
expect_status 400 "out-of-range fault"
sim POST /_sim/faults -d '{"fail_429":0.7,"fail_500":0.7}'
expect_status 400 "shares adding up to more than 1"

# An errored action: the snapshot ends errored, nothing is made, the droplet is unlocked.
api POST /v2/droplets -d '{"name":"f-1","region":"nyc3","size":"s-1vcpu-2gb","image":"debian-12-x64"}'
d=$(jqb .droplet.id)
wait_status "$d" active 5 || fail "droplet not active"
sim POST /_sim/faults -d '{"errored_action":"snapshot"}'
api POST "/v2/droplets/$d/actions" -d '{"type":"snapshot","name":"never"}'
expect_status 201 "snapshot accepted"
a=$(jqb .action.id)
wait_for 10 sh -c "curl -s -H 'Authorization: Bearer $DOSIM_TOKEN' '$DURL/v2/actions/$a' | jq -e '.action.status != \"in-progress\"'" ||
    fail "snapshot action never ended"
api GET "/v2/actions/$a"
expect_json .action.status errored "action errored"
expect_json '.action.completed_at | type' string "errored actions end too"
expect_eq "$(droplet_field "$d" .locked)" false "unlocked after the errored action"
expect_eq "$(droplet_field "$d" '.snapshot_ids | length')" 0 "no snapshot made"
api GET "/v2/images?private=true"
expect_json '.images | length' 0 "no image made"
sim POST /_sim/faults -d '{"errored_action":null}'
sim GET /_sim/faults
expect_json .errored_action "" "errored_action cleared"

# Slow actions: a shutdown (0.5 s) takes ten times as long.
sim POST /_sim/faults -d '{"slow_actions":10}'
api POST "/v2/droplets/$d/actions" -d '{"type":"shutdown"}'
sleep 1
expect_eq "$(droplet_field "$d" .status)" active "still active after 1 s with slow actions"
wait_status "$d" off 20 || fail "never off"
sim POST /_sim/faults -d '{"slow_actions":1}'

# A create that answers 500 after creating: the droplet is there anyway; only once.
sim POST /_sim/faults -d '{"create_500_after":1}'
api POST /v2/droplets -d '{"name":"ghost","region":"nyc1","size":"s-1vcpu-1gb","image":"debian-12-x64","tags":["ghost"]}'
expect_status 500 "create answered 500"
api GET "/v2/droplets?tag_name=ghost"
expect_json '.meta.total' 1 "the droplet was created anyway"
expect_json '.droplets[0].name' ghost "it is the one asked for"
api POST /v2/droplets -d '{"name":"ghost-2","region":"nyc1","size":"s-1vcpu-1gb","image":"debian-12-x64","tags":["ghost"]}'
expect_status 202 "the fault fires once"
api DELETE "/v2/droplets?tag_name=ghost"
expect_status 204 "clean up by tag"
api DELETE "/v2/droplets/$d"
dosim_stop a
contract_check "$T/record.jsonl" 0

# The same from flags: --create-500-after 2 and --errored-action transfer.
dosim_start b --create-500-after 2 --errored-action create
api POST /v2/droplets -d '{"name":"c-1","region":"nyc1","size":"s-1vcpu-1gb","image":"debian-12-x64"}'
expect_status 202 "first create"
c1=$(jqb .droplet.id)
api POST /v2/droplets -d '{"name":"c-2","region":"nyc1","size":"s-1vcpu-1gb","image":"debian-12-x64"}'
expect_status 500 "second create answers 500 (--create-500-after 2)"
api GET "/v2/droplets?name=c-2"
expect_json '.meta.total' 1 "c-2 exists"
c2=$(jqb '.droplets[0].id')
sleep 2
expect_eq "$(droplet_field "$c1" .status)" new "an errored create leaves the droplet new"
api GET "/v2/droplets/$c1/actions"
expect_json '.actions[0].status' errored "create action errored"
expect_eq "$(droplet_field "$c1" '.networks.v4 | length')" 0 "no address shown"
api DELETE "/v2/droplets/$c1"
api DELETE "/v2/droplets/$c2"
expect_status 204 "delete"
dosim_stop b
expect_eq "$(dosim_leftovers)" "" "nothing left"
