#!/usr/bin/env bash
# dosim's API surface with the curl command: auth (401 before routing, --token), rate-limit
# headers on every answer and the sliding burst limit, each route family's shapes, codes and id
# types, pagination over three pages, multi-create, filters, new -> active with networks, the
# pending-event 422, deletes, and the --record lines.
. "$(dirname "$0")/lib.sh"
. "$DP_SRC/tests/dosim/testlib.sh"
it_init dosim_api

# --help explains every flag; bad flags exit 2.
help=$("$DP_BIN/dosim" --help)
for flag in --listen --state-dir --agent --agent-package --seed-snapshot --time-scale --token \
    --record --ratelimit-hour --ratelimit-minute --fail-429 --fail-500 --slow-actions \
    --errored-action --create-500-after --create-500-rate --help; do
    expect_match "$help" "$flag" "--help mentions $flag"
done
rc=0; out=$("$DP_BIN/dosim" --bogus 2>&1) || rc=$?
expect_eq "$rc" 2 "unknown flag exit status"
expect_match "$out" "unknown option" "unknown flag message"
rc=0; "$DP_BIN/dosim" --fail-429 2 >/dev/null 2>&1 || rc=$?
expect_eq "$rc" 2 "out-of-range probability"

dosim_start a --record "$T/record.jsonl" --state-dir "$T/state-a"

# Auth: 401 with DigitalOcean's body, even for unknown routes; rate-limit headers anyway.
out=$(curl -s -D "$T/h401" "$DURL/v2/account")
expect_eq "$(jq -r .id <<<"$out")" unauthorized "401 id"
expect_eq "$(jq -r .message <<<"$out")" "Unable to authenticate you." "401 message"
expect_match "$(jq -r .request_id <<<"$out")" '^[0-9a-f]+$' "401 request_id"
expect_match "$(tr -d '\r' <"$T/h401")" "ratelimit-limit: 5000" "401 carries ratelimit-limit"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "$DURL/v2/no/such")" 401 "401 before routing"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer ' "$DURL/v2/account")" \
    401 "empty bearer"

api GET /v2/account
expect_status 200 "account"
expect_json .account.status active "account status"
expect_json '.account.droplet_limit | type' number "droplet_limit is a number"
expect_json '.account.email_verified' true "email_verified"
expect_match "$HDRS" $'ratelimit-limit: 5000' "ratelimit-limit header"
expect_match "$HDRS" $'ratelimit-remaining: 4999' "remaining counts down (sliding hour)"
reset=$(grep -i '^ratelimit-reset:' <<<"$HDRS" | awk '{print $2}')
now=$(date +%s)
expect_eq "$((reset > now + 3500 && reset <= now + 3601))" 1 "reset is when the oldest request expires"

api GET /v2/nope
expect_status 404 "unknown route with a token"
expect_json .id not_found "404 id"
expect_json .message "The resource you requested could not be found." "404 message"
expect_match "$HDRS" "ratelimit-remaining" "404 carries rate-limit headers"
api PATCH /v2/account
expect_status 405 "wrong method"

# Regions and sizes: the catalogue with DigitalOcean's fields.
api GET /v2/regions
expect_status 200 "regions"
for r in nyc1 nyc3 sfo3 ams3 fra1 lon1 sgp1; do
    expect_eq "$(jqb ".regions[] | select(.slug == \"$r\") | .available")" true "region $r available"
done
expect_json '.regions[] | select(.slug == "nyc2") | .available' false "nyc2 is not available"
expect_json '[.regions[0] | has("name","slug","features","available","sizes")] | all' true "region fields"
expect_json '.meta.total' "$(jqb '.regions | length')" "meta.total"
expect_json '.links' '{}' "one page: empty links"
api GET /v2/sizes
expect_status 200 "sizes"
expect_json '.sizes[] | select(.slug == "s-1vcpu-1gb") | [.memory, .vcpus, .disk, .price_monthly] | map(tostring) | join(" ")' \
    "1024 1 25 5" "s-1vcpu-1gb as in the reference"
expect_json '.sizes[] | select(.slug == "s-1vcpu-1gb") | .price_hourly' 0.00744 "hourly price"
for s in s-1vcpu-512mb-10gb s-1vcpu-2gb s-2vcpu-2gb s-2vcpu-4gb; do
    expect_eq "$(jqb ".sizes[] | select(.slug == \"$s\") | .available")" true "size $s"
done
expect_json '[.sizes[] | has("slug","memory","vcpus","disk","transfer","price_monthly","price_hourly","regions","available","description")] | all' \
    true "size fields"

# Stock images by slug, with distribution and regions; private ones only by id.
api GET /v2/images/debian-12-x64
expect_status 200 "image by slug"
expect_json .image.distribution Debian "distribution"
expect_json .image.public true "public"
expect_json '.image.id | type' number "image id is an int"
expect_json '.image.regions | index("nyc1") != null' true "image regions"
api GET /v2/images/ubuntu-24-04-x64
expect_status 200 "ubuntu-24-04-x64"
api GET /v2/images/no-such-slug
expect_status 404 "unknown slug"
api GET "/v2/images?type=distribution&per_page=200"
expect_json '[.images[].public] | all' true "type=distribution lists public images"
expect_json '[.images[].slug] | index("debian-12-x64") != null' true "debian listed"
api GET "/v2/images?private=true"
expect_json '.images | length' 0 "no private images yet"

# SSH keys: 201, fingerprint lookups, 422 for a duplicate, PUT, 204.
pub="ssh-ed25519 $(python3 -c 'import base64,os,struct
t=b"ssh-ed25519"; print(base64.b64encode(struct.pack(">I",len(t))+t+struct.pack(">I",32)+os.urandom(32)).decode())') it@dosim"
api POST /v2/account/keys -d "$(jq -nc --arg k "$pub" '{name:"it-key", public_key:$k}')"
expect_status 201 "key create"
kid=$(jqb .ssh_key.id)
fp=$(jqb .ssh_key.fingerprint)
expect_match "$fp" '^([0-9a-f]{2}:){15}[0-9a-f]{2}$' "MD5 fingerprint"
expect_json '.ssh_key.id | type' number "key id is an int"
api POST /v2/account/keys -d "$(jq -nc --arg k "$pub" '{name:"again", public_key:$k}')"
expect_status 422 "duplicate key"
expect_json .message "SSH Key is already in use on your account" "duplicate key message"
api POST /v2/account/keys -d '{"name":"bad","public_key":"not a key"}'
expect_status 422 "malformed key"
api GET "/v2/account/keys/$fp"
expect_status 200 "key by fingerprint"
expect_json .ssh_key.id "$kid" "same key"
api PUT "/v2/account/keys/$kid" -d '{"name":"renamed"}'
expect_status 200 "key rename"
expect_json .ssh_key.name renamed "new name"
api GET /v2/account/keys
expect_json '.ssh_keys | length' 1 "keys listed"
api POST /v2/account/keys -d '{not json'
expect_status 400 "unparsable body"
expect_json .id bad_request "400 id"

# Tags: 201, the special 400 shape, resources, 204.
api POST /v2/tags -d '{"name":"env:it"}'
expect_status 201 "tag create"
expect_json .tag.name env:it "tag name"
expect_json .tag.resources.count 0 "no resources yet"
api POST /v2/tags -d '{"name":"bad name!"}'
expect_status 400 "bad tag name"
expect_json '.error | startswith("Error validating resource tag")' true "special 400: error"
expect_json '.messages' null "special 400: messages null"
expect_json '.root_causes | length' 1 "special 400: root_causes"
expect_json 'has("id")' false "special 400 has no id"
api GET /v2/tags/env:it
expect_status 200 "tag get (colon in the path)"
api GET /v2/tags/env%3Ait
expect_status 200 "tag get (colon encoded)"
api GET /v2/tags/nope
expect_status 404 "unknown tag"

# Droplet create validation: DigitalOcean's 422 messages.
api POST /v2/droplets -d '{"name":"x","region":"nyc1","size":"s-9","image":"debian-12-x64"}'
expect_status 422 "unknown size"
expect_json .message "You specified an invalid size for Droplet creation." "size message"
expect_json .id unprocessable_entity "422 id"
api POST /v2/droplets -d '{"name":"x","region":"zz9","size":"s-1vcpu-1gb","image":"debian-12-x64"}'
expect_json .message "You specified an invalid region for Droplet creation." "region message"
api POST /v2/droplets -d '{"name":"x","region":"nyc1","size":"s-1vcpu-1gb","image":"nope-1"}'
expect_json .message "You specified an invalid image for Droplet creation." "image message"
api POST /v2/droplets -d '{"name":"x","region":"nyc2","size":"s-1vcpu-1gb","image":"debian-12-x64"}'
expect_status 422 "unavailable region"
api POST /v2/droplets -d '{"name":"bad_name","region":"nyc1","size":"s-1vcpu-1gb","image":"debian-12-x64"}'
expect_status 422 "bad droplet name"
api POST /v2/droplets -d '{"name":"x","region":"nyc1","size":"s-1vcpu-1gb","image":"debian-12-x64","ssh_keys":[123]}'
expect_json .message "123 are invalid key identifiers for Droplet creation." "unknown key message"
big=$(head -c 70000 /dev/zero | tr '\0' a)
api POST /v2/droplets -d "$(jq -nc --arg ud "$big" '{name:"x",region:"nyc1",size:"s-1vcpu-1gb",image:"debian-12-x64",user_data:$ud}')"
expect_status 422 "user_data over 64 KiB"

# One droplet: 202, new with no networks, then active with its loopback address.
t0=$(date +%s%N)
api POST /v2/droplets -d "$(jq -nc --argjson k "$kid" '{name:"one",region:"nyc1",size:"s-1vcpu-1gb",image:"debian-12-x64",ssh_keys:[$k],tags:["env:it","Web"],backups:false,ipv6:false,monitoring:false,private_networking:false,with_droplet_agent:false}')"
expect_status 202 "create"
one=$(jqb .droplet.id)
expect_json '.droplet.id | type' number "droplet id is an int"
expect_json .droplet.status new "status new"
expect_json '.droplet.networks.v4 | length' 0 "no v4 until active"
expect_json '.droplet.next_backup_window' null "next_backup_window null"
expect_json '.droplet.kernel' null "kernel null"
expect_json '.droplet.snapshot_ids' '[]' "snapshot_ids empty"
expect_json '.droplet.size.slug' s-1vcpu-1gb "full size object"
expect_json '.droplet.region.slug' nyc1 "full region object"
expect_json '.droplet.image.slug' debian-12-x64 "full image object"
expect_json '.droplet.tags | join(",")' env:it,Web "tags kept (created on the fly)"
expect_json '.links.actions[0].rel' create "create action link"
expect_match "$(jqb '.links.actions[0].href')" "^http://127.0.0.1:[0-9]+/v2/actions/[0-9]+$" "absolute href"
create_action=$(jqb '.links.actions[0].id')
api POST "/v2/droplets/$one/actions" -d '{"type":"power_off"}'
expect_status 422 "action on a new droplet"
expect_json .message "Droplet already has a pending event." "pending event message"
wait_status "$one" active 5 || fail "droplet did not become active"
ms=$((($(date +%s%N) - t0) / 1000000))
expect_eq "$((ms < 2500))" 1 "active within 2 s (took ${ms} ms)"
api GET "/v2/droplets/$one"
expect_json '[.droplet.networks.v4[] | select(.type == "public")] | length' 1 "one public v4"
ip=$(jqb '.droplet.networks.v4[] | select(.type == "public") | .ip_address')
expect_match "$ip" '^127\.' "public address on loopback"
expect_no_match "$ip" '^127\.0\.0\.1$' "never 127.0.0.1"
expect_eq "$(test -f "$DOSIM_IP_DIR/$ip" && echo held)" held "address lock file held"
api GET "/v2/actions/$create_action"
expect_json .action.status completed "create action completed when active"
expect_json '.action.completed_at | type' string "completed_at set"
expect_json '.action.resource_id' "$one" "create action resource"
api GET "/v2/droplets/$one/actions"
expect_json '.actions | length' 1 "droplet actions list"
api GET "/v2/droplets/$one/actions/$create_action"
expect_status 200 "droplet action by id"
api GET "/v2/droplets/999/actions/$create_action"
expect_status 404 "action of another droplet"
api GET /v2/tags/Web
expect_json .tag.resources.droplets.count 1 "tag counts the droplet"
expect_match "$(jqb .tag.resources.droplets.last_tagged_uri)" "/v2/droplets/$one$" "last_tagged_uri"

# Locked while an action runs: a second one gets 422 "pending event". The long action is a
# snapshot (5 s), so a loaded machine cannot finish it before the second request arrives.
api POST "/v2/droplets/$one/actions" -d '{"type":"snapshot","name":"lock-test"}'
expect_status 201 "snapshot accepted"
expect_json .action.status in-progress "action in progress"
expect_json '.action.region.slug' nyc1 "action region object"
snapact=$(jqb .action.id)
expect_eq "$(droplet_field "$one" .locked)" true "locked while the action runs"
api POST "/v2/droplets/$one/actions" -d '{"type":"power_off"}'
expect_status 422 "second action while locked"
expect_json .message "Droplet already has a pending event." "pending event"
wait_action "/v2/droplets/$one/actions/$snapact" 15 || fail "snapshot did not complete"
expect_eq "$(droplet_field "$one" .locked)" false "unlocked after it"
api POST "/v2/droplets/$one/actions" -d '{"type":"power_off"}'
expect_status 201 "power_off accepted"
poweroff=$(jqb .action.id)
wait_action "/v2/droplets/$one/actions/$poweroff" 10 || fail "power_off did not complete"
expect_eq "$(droplet_field "$one" .status)" off "off after power_off"
api POST "/v2/droplets/$one/actions" -d '{"type":"power_off"}'
expect_status 422 "power_off when off"
api POST "/v2/droplets/$one/actions" -d '{"type":"teleport"}'
expect_status 422 "unknown action type"

# Multi-create with names: droplets plus one create action link each.
api POST /v2/droplets -d '{"names":["m-1","m-2","m-3"],"region":"sfo3","size":"s-1vcpu-1gb","image":"ubuntu-24-04-x64","tags":["multi"]}'
expect_status 202 "multi-create"
expect_json '.droplets | length' 3 "three droplets"
expect_json '.links.actions | length' 3 "three create actions"
expect_json '[.droplets[].name] | join(",")' m-1,m-2,m-3 "names in order"
expect_json 'has("droplet")' false "no single droplet key"
api POST /v2/droplets -d "$(jq -nc '{names:[range(11) | "n-\(.)"],region:"nyc1",size:"s-1vcpu-1gb",image:"debian-12-x64"}')"
expect_status 422 "more than 10 names"

# Pagination over three pages: 22 more droplets; links keep the other query parameters.
for i in $(seq 1 11); do
    api POST /v2/droplets -d "$(jq -nc --arg a "p-$i-a" --arg b "p-$i-b" '{names:[$a,$b],region:"ams3",size:"s-1vcpu-1gb",image:"debian-12-x64",tags:["page"]}')"
    [ "$STATUS" = 202 ] || fail "page create $i: $STATUS $BODY"
done
api GET "/v2/droplets?tag_name=page&per_page=10"
expect_json '.meta.total' 22 "meta.total over all pages"
expect_json '.droplets | length' 10 "first page"
expect_json '.links.pages | has("first") or has("prev")' false "page 1 has no first/prev"
next=$(jqb .links.pages.next)
expect_match "$next" "^http://127\.0\.0\.1:[0-9]+/v2/droplets\?page=2&tag_name=page&per_page=10$" "next keeps the query"
expect_match "$(jqb .links.pages.last)" "page=3" "last page link"
BODY=$(curl -s -H "Authorization: Bearer $DOSIM_TOKEN" "$next")
expect_json '.droplets | length' 10 "second page"
expect_match "$(jqb .links.pages.prev)" "page=1&tag_name=page" "prev link"
expect_match "$(jqb .links.pages.first)" "page=1" "first link"
BODY=$(curl -s -H "Authorization: Bearer $DOSIM_TOKEN" "$(jqb .links.pages.next)")
expect_json '.droplets | length' 2 "third page"
expect_json '.links.pages | has("next") or has("last")' false "last page has no next/last"
api GET "/v2/droplets?per_page=200"
expect_json '.droplets | length' 26 "per_page 200: all on one page"
api GET "/v2/droplets"
expect_json '.droplets | length' 20 "default per_page 20"

# Filters: name (case-insensitive), tag_name; tag_name with name is a 400.
api GET "/v2/droplets?name=M-2"
expect_json '[.droplets[].name] | join(",")' m-2 "name filter, case-insensitive"
api GET "/v2/droplets?tag_name=multi"
expect_json '.meta.total' 3 "tag_name filter"
api GET "/v2/droplets?tag_name=multi&name=m-2"
expect_status 400 "tag_name with name"
expect_json .id bad_request "400 id"
api GET "/v2/droplets/12345"
expect_status 404 "unknown droplet"

# Snapshot endpoints on things that are not snapshots.
api GET /v2/snapshots/100000011
expect_status 400 "a stock image is not a snapshot"
expect_json .message "the resource is not a snapshot" "not-a-snapshot message"
api GET /v2/snapshots/fbe805e8-866b-11e6-96bf-000f53315a41
expect_status 404 "unknown volume snapshot"
api DELETE /v2/images/100000011
expect_status 404 "public images cannot be deleted"

# Deletes: by tag (every droplet carrying it), then one by id; 204 with no body.
api DELETE "/v2/droplets?tag_name=page"
expect_status 204 "delete by tag"
expect_eq "$BODY" "" "204 has no body"
api GET "/v2/droplets?tag_name=page"
expect_json '.meta.total' 0 "tagged droplets gone"
api DELETE /v2/droplets
expect_status 400 "delete without tag_name"
api DELETE "/v2/droplets/$one"
expect_status 204 "delete one"
api GET "/v2/droplets/$one"
expect_status 404 "deleted droplet is 404"
expect_eq "$(test -e "$DOSIM_IP_DIR/$ip" && echo held || echo released)" released "address released"
api GET "/v2/actions/$create_action"
expect_status 200 "actions outlive their droplet"
api DELETE "/v2/droplets?tag_name=multi"
api DELETE "/v2/account/keys/$kid"
expect_status 204 "key delete"
api DELETE /v2/tags/env:it
expect_status 204 "tag delete"

# Counters by method + path template and status.
sim GET /_sim/state
expect_json '.counters["POST /v2/droplets"]["202"] > 10' true "create calls counted"
expect_json '.counters["GET /v2/droplets/{droplet_id}"]["200"] > 0' true "template counters"
expect_json '.droplets | length' 0 "no droplet left"
sim POST /_sim/reset-counters
expect_status 204 "reset counters"
sim GET /_sim/state
expect_json '.counters | length' 0 "counters reset"

# The record: one line per /v2 request with parsed bodies and rate-limit headers.
first() { jq -sc "[.[] | select($1)][0]" "$T/record.jsonl"; }
rec=$(first '.path == "/v2/droplets" and .method == "POST" and .status == 202')
expect_eq "$(jq -r .request_body.name <<<"$rec")" one "record: request body"
expect_eq "$(jq -r '.response_body.droplet.status' <<<"$rec")" new "record: response body"
expect_match "$(jq -r '.response_headers["ratelimit-limit"]' <<<"$rec")" '^5000$' "record: headers"
rec=$(first '.status == 401')
expect_eq "$(jq -r .response_body.id <<<"$rec")" unauthorized "record: 401 too"
rec=$(first '.query.tag_name != null')
expect_eq "$(jq -r .query.tag_name <<<"$rec")" page "record: query object"
expect_eq "$(jq -r .path <<<"$rec")" /v2/droplets "record: path without query"
expect_eq "$(grep -c . "$T/record.jsonl")" "$(jq -s 'length' "$T/record.jsonl")" "every line is JSON"
expect_no_match "$(cat "$T/record.jsonl" "$a_LOG")" "$DOSIM_TOKEN" "the token is never written"
dosim_stop a
expect_eq "$(dosim_leftovers)" "" "nothing left by dosim a"
# The contract checker (tests/dosim/contract.py) against the OpenAPI document: every exchange
# matches but the three sent to routes the API does not have.
contract_check "$T/record.jsonl" 3 'GET /v2/no/such|GET /v2/nope|PATCH /v2/account'

# --token: only that token; a tiny burst limit: 429 with retry-after, remaining 0.
dosim_start b --token "$DOSIM_TOKEN" --ratelimit-minute 3 --ratelimit-hour 100
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer other' "$DURL/v2/account")" \
    401 "--token refuses another token"
for i in 1 2 3; do api GET /v2/regions; done
expect_status 200 "third request within the burst"
expect_match "$HDRS" "ratelimit-remaining: 97" "remaining after three"
api GET /v2/regions
expect_status 429 "fourth request in a minute"
expect_json .id too_many_requests "429 id"
expect_json .message "API rate limit exceeded." "429 message"
expect_match "$HDRS" "retry-after: [0-9]+" "retry-after"
expect_match "$HDRS" "ratelimit-remaining: 0" "remaining reads 0 on a burst 429"
sim GET /_sim/state
expect_status 200 "admin routes are not rate limited"
dosim_stop b
