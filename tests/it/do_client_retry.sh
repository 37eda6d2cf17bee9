#!/usr/bin/env bash
# The DigitalOcean client's retry rules, exactly, against a scripted server: retry-after and
# exhausted rate limits are honoured, 5xx is retried but 501 is not, a create that failed is
# never blindly re-sent (the client looks for it by its tag first), DigitalOcean's error id,
# message and request id reach the caller, an errored action fails at once, a wait's own cancel
# check ends it mid-sleep, and the token goes only into the Authorization header.
. "$(dirname "$0")/lib.sh"
it_init do_client_retry
CHECK=$DP_BUILD/tests/do_client_check
TOKEN="dop_v1_$(openssl rand -hex 32)"

# serve SCRIPT-JSON: starts the scripted server; sets SURL and SLOG.
serve() {
    local n=$((${SN:-0} + 1))
    SN=$n
    printf '%s' "$1" >"$T/script$n.json"
    SLOG=$T/log$n.jsonl
    : >"$SLOG"
    /usr/bin/python3 "$DP_SRC/tests/world/scripted_http.py" "$T/script$n.json" "$SLOG" "$T/port$n" &
    IT_EXTRA_PIDS+=("$!")
    wait_for 10 test -s "$T/port$n" || { fail "scripted server did not start"; exit 1; }
    SURL="http://127.0.0.1:$(cat "$T/port$n")"
}

client() { # args...: runs the check tool against the scripted server
    OUT=$(DO_API_URL=$SURL DO_TOKEN=$TOKEN "$CHECK" --retries 4 --backoff-ms 50 "$@" 2>&1) || true
}

requests() { wc -l <"$SLOG" | tr -d ' '; }

ERR404='{"id":"not_found","message":"The resource you requested could not be found.","request_id":"req-404-abc"}'
ERR500='{"id":"server_error","message":"Unexpected server-side error"}'
ACCT='{"account":{"droplet_limit":25,"email":"a@b.c","uuid":"u","status":"active","status_message":"","floating_ip_limit":3,"email_verified":true}}'

# 429 with retry-after: 1 -> waits about a second, then succeeds.
serve '[{"status":429,"headers":{"retry-after":"1","ratelimit-remaining":"0"},"body":{"id":"too_many_requests","message":"API rate limit exceeded."}},{"status":200,"body":'"$ACCT"'}]'
start=$(date +%s%N)
client call GET /v2/account
elapsed=$((($(date +%s%N) - start) / 1000000))
expect_match "$OUT" "rc=0 code=ok" "429 then 200 succeeds"
expect_eq "$(requests)" 2 "one retry after 429"
[ "$elapsed" -ge 950 ] || fail "retry-after: 1 was not honoured (waited ${elapsed} ms)"
ok

# An exhausted rate limit without retry-after waits until ratelimit-reset.
reset=$(($(date +%s) + 2))
serve '[{"status":429,"headers":{"ratelimit-remaining":"0","ratelimit-reset":"'"$reset"'"},"body":{"id":"too_many_requests","message":"API rate limit exceeded."}},{"status":200,"body":'"$ACCT"'}]'
start=$(date +%s)
client call GET /v2/account
expect_match "$OUT" "rc=0" "429 with ratelimit-reset, then 200"
[ "$(date +%s)" -ge "$reset" ] || fail "did not wait for ratelimit-reset"
ok

# 5xx is retried (backoff with jitter), up to the attempt limit.
serve '[{"status":500,"body":'"$ERR500"'},{"status":502,"body":'"$ERR500"'},{"status":503,"body":'"$ERR500"'},{"status":200,"body":'"$ACCT"'}]'
client call GET /v2/account
expect_match "$OUT" "rc=0" "three 5xx then 200"
expect_eq "$(requests)" 4 "three retries"
serve '[{"status":500,"body":'"$ERR500"'},{"status":500,"body":'"$ERR500"'},{"status":500,"body":'"$ERR500"'},{"status":500,"body":'"$ERR500"'},{"status":200,"body":'"$ACCT"'}]'
client call GET /v2/account
expect_match "$OUT" "code=server_error .*after retries" "gives up after the attempt limit"
expect_match "$OUT" "attempts=4" "bounded attempts"
expect_eq "$(requests)" 4 "no request past the limit"

# 501 is not retried.
serve '[{"status":501,"body":{"id":"not_implemented","message":"no"}},{"status":200,"body":'"$ACCT"'}]'
client call GET /v2/account
expect_match "$OUT" "rc=[1-9]" "501 fails"
expect_eq "$(requests)" 1 "501 not retried"

# Errors carry DigitalOcean's id, message and request id; never the token.
serve '[{"status":404,"body":'"$ERR404"'}]'
client call GET /v2/droplets/42
expect_match "$OUT" "code=not_found" "404 id"
expect_match "$OUT" "could not be found" "404 message"
expect_match "$OUT" "req-404-abc" "404 request id"
expect_no_match "$OUT" "$TOKEN" "token not in the error"
expect_eq "$(jq -r .authorization "$SLOG")" "Bearer $TOKEN" "token only in Authorization"
expect_no_match "$(jq -r .path "$SLOG")" "$TOKEN" "token not in the URL"

# A create answered 500 is not sent again blindly: the client lists its create tag, finds the
# droplet it made, and stops there.
DROPLET='{"id":7001,"name":"web-1","status":"new","locked":false,"tags":["dp-managed","x"],"networks":{"v4":[],"v6":[]}}'
serve '[{"match":"POST /v2/droplets","status":500,"body":'"$ERR500"'},{"match":"GET /v2/droplets?tag_name=dp-create-","status":200,"body":{"droplets":['"$DROPLET"'],"links":{},"meta":{"total":1}}},{"match":"POST /v2/droplets","status":202,"body":{"droplet":'"$DROPLET"'}}]'
client create web-1
expect_match "$OUT" "rc=0" "create after a 500 that did create"
expect_match "$OUT" "droplet 7001" "the droplet found by its tag"
expect_eq "$(jq -r 'select(.method=="POST") | .path' "$SLOG" | wc -l)" 1 "only one create sent"
tag=$(jq -r 'select(.method=="POST") | .body | fromjson | .tags[]' "$SLOG" | grep '^dp-create-')
expect_match "$tag" '^dp-create-[0-9a-f]{16}$' "the create carries a unique create tag"
expect_match "$(jq -r 'select(.method=="POST") | .body | fromjson | .tags[0]' "$SLOG")" '^dp-managed$' "and the managed tag"
expect_match "$(jq -r 'select(.method=="GET") | .path' "$SLOG")" "tag_name=$tag" "looked up by that tag"

# ...and when the lookup finds nothing, the create is sent again (once).
serve '[{"match":"POST /v2/droplets","status":502,"body":'"$ERR500"'},{"match":"GET /v2/droplets?tag_name=","status":200,"body":{"droplets":[],"links":{},"meta":{"total":0}}},{"match":"POST /v2/droplets","status":202,"body":{"droplet":'"$DROPLET"'}}]'
client create web-1
expect_match "$OUT" "rc=0" "create re-sent after an empty lookup"
expect_eq "$(jq -r 'select(.method=="POST") | .path' "$SLOG" | wc -l)" 2 "two creates in all"

# ...and a create that keeps failing before creating anything stops after the policy's attempts
# (--retries 4 here): four creates, each failure but the last followed by a lookup.
P500='{"match":"POST /v2/droplets","status":500,"body":'"$ERR500"'}'
EMPTY='{"match":"GET /v2/droplets?tag_name=","status":200,"body":{"droplets":[],"links":{},"meta":{"total":0}}}'
serve "[$P500,$EMPTY,$P500,$EMPTY,$P500,$EMPTY,$P500,$EMPTY,$P500]"
client create web-1
expect_match "$OUT" "code=server_error" "the last 500 reaches the caller"
expect_eq "$(jq -r 'select(.method=="POST") | .path' "$SLOG" | wc -l)" 4 "creates bounded by the policy"
expect_eq "$(jq -r 'select(.method=="GET") | .path' "$SLOG" | wc -l)" 3 "a lookup between creates"

# A 422 on create (bad input) is final.
serve '[{"match":"POST /v2/droplets","status":422,"body":{"id":"unprocessable_entity","message":"You specified an invalid image for Droplet creation."}}]'
client create web-1
expect_match "$OUT" "code=unprocessable_entity msg=.*invalid image" "422 on create"
expect_eq "$(requests)" 1 "422 not retried, no lookup"

# An errored action fails the wait at once, with DigitalOcean's verdict.
ACT='"id":9,"type":"snapshot","started_at":"2026-01-01T00:00:00Z","completed_at":null,"resource_id":1,"resource_type":"droplet","region_slug":"nyc1"'
serve '[{"status":200,"body":{"action":{'"$ACT"',"status":"in-progress"}}},{"status":200,"body":{"action":{'"$ACT"',"status":"errored"}}}]'
start=$(date +%s)
client wait-action /v2/actions/9
expect_match "$OUT" "code=action_errored" "errored action"
[ $(($(date +%s) - start)) -lt 5 ] || fail "errored action not reported at once"
ok

# A wait's own cancel check ends each kind of wait in the middle of its sleep (the first poll
# is 20 s away), canceled, before it sends a request.
for which in action droplets image; do
    serve '[]'
    client wait-cancel "$which"
    expect_match "$OUT" "rc=[0-9]+ code=canceled" "$which wait canceled by its own check"
    expect_match "$OUT" "cancel checks=3" "$which wait: canceled on the check that fired"
    expect_eq "$(requests)" 0 "$which wait canceled before its first poll"
done

# The token never crosses a network in clear: http:// only to loopback.
OUT=$(DO_API_URL=http://api.example.com DO_TOKEN=$TOKEN "$CHECK" call GET /v2/account 2>&1) || true
expect_match "$OUT" "not loopback" "http:// to a remote host refused"
expect_no_match "$OUT" "$TOKEN" "token not in that message either"
OUT=$(DO_API_URL=$SURL DO_TOKEN= "$CHECK" call GET /v2/account 2>&1) || true
expect_match "$OUT" "DO_TOKEN" "a missing token is named"
