#!/usr/bin/env bash
# POST /git/clone against real git servers on loopback: a public repo over git://, a
# token-protected one over HTTPS with a private CA, and a server that never answers. Checks the
# commit, the files, no token anywhere (config, log, stream), refusals before any network, the
# deadline, a client that goes away, SIGTERM mid-clone, and that nothing half-written remains.
. "$(dirname "$0")/lib.sh"
. "$DP_SRC/tests/world/git_servers.sh"
it_init agent_git

git_world_init "$T/git"
IT_EXTRA_CLEANUP=git_world_stop
TOKEN="tok-$(openssl rand -hex 20)"
git_repo_make app
git_daemon_start
git_https_start "$TOKEN"
git_stall_start
PUB="git://127.0.0.1:$GIT_DAEMON_PORT/app.git"
PRIV="https://127.0.0.1:$GIT_HTTPS_PORT/app.git"
STALL="git://127.0.0.1:$GIT_STALL_PORT/app.git"
MAIN=$(git -C "$GW_REPOS/app.git" rev-parse main)
FEATURE=$(git -C "$GW_REPOS/app.git" rev-parse feature)
STREAMS=$T/streams.txt # every answer, searched for the token at the end

agent_start a --git-ca-file "$GW_CA" --git-timeout 5
DATA=$a_DIR/data

# clone URL BRANCH TOKEN PATH: POST /git/clone; sets STATUS, BODY and LAST (the last event).
clone() {
    req POST /git/clone -d "$(jq -nc --arg url "$1" --arg branch "$2" --arg token "$3" \
        --arg path "$4" '{url: $url, branch: $branch, token: $token, path: $path}')"
    printf '%s\n' "$BODY" >>"$STREAMS"
    LAST=$(last_event)
}

expect_last() { # jq-path expected message
    expect_eq "$(printf '%s' "$LAST" | jq -r "$1" 2>/dev/null)" "$2" "$3 (last event: ${LAST:0:300})"
}

staging_empty() {
    [ -z "$(ls -A "$DATA/.staging" 2>/dev/null)" ]
}

helpers_of() { # PID: the agent's child processes (clone helpers)
    pgrep -P "$1" || true
}

# --- public repo over git:// ---------------------------------------------------------------
clone "$PUB" feature "" /app/feat/
expect_status 200 "git:// clone of branch feature"
expect_last .type done "git:// clone ends with done"
expect_last .success true "git:// clone success"
expect_last .commit "$FEATURE" "commit is the feature branch's"
expect_last .path /app/feat "path is normalized"
[ -f "$DATA/app/feat/feature.txt" ] && [ -f "$DATA/app/feat/README.md" ]
expect_eq $? 0 "feature branch files in the data root"
expect_eq "$(git -C "$DATA/app/feat" rev-parse HEAD)" "$FEATURE" "checked-out HEAD"
expect_match "$BODY" '"type":"progress"' "progress events"
expect_match "$BODY" '"type":"log","message":"remote: ' "remote text as log events"

# What was cloned builds and runs: the feature branch's file is served.
build_and_serve() { # PATH TAG NAME FILE EXPECTED
    local port
    port=$(free_port)
    req POST /build -d '{"path":"'"$1"'","tag":"'"$NS/$2"'"}'
    expect_eq "$(last_event | jq -r .type)" done "build of the clone at $1"
    req POST /containers/run -d '{"name":"'"$3"'","image":"'"$NS/$2"'","ports":{"'"$port"'":8080}}'
    expect_status 201 "run the image built from $1"
    wait_for 10 curl -sf "http://127.0.0.1:$port/$4" || fail "app built from $1 does not answer"
    expect_eq "$(curl -s "http://127.0.0.1:$port/$4")" "$5" "app built from $1 serves $4"
    req DELETE "/containers/$3"
    expect_status 200 "delete the app built from $1"
}
build_and_serve /app/feat feat:1 feat feature.txt feature

# The same path again with the default branch: the old tree is replaced whole.
clone "$PUB" "" "" /app/feat
expect_last .commit "$MAIN" "default branch commit"
[ ! -e "$DATA/app/feat/feature.txt" ] && [ -f "$DATA/app/feat/app.txt" ]
expect_eq $? 0 "re-clone replaced the old tree"
expect_eq "$(staging_empty && echo empty)" empty "no staging leftovers after success"

# --- token-protected repo over https:// with the private CA --------------------------------
clone "$PRIV" main "$TOKEN" /app/private
expect_last .type done "https clone with the token"
expect_last .commit "$MAIN" "https clone commit"
build_and_serve /app/private private:1 private app.txt main
expect_eq "$(git -C "$DATA/app/private" config remote.origin.url)" "$PRIV" "remote url is the plain url"
if grep -rqF "$TOKEN" "$DATA/app/private/.git"; then fail "token stored in the clone's .git"; else ok; fi

t0=$(date +%s)
clone "$PRIV" main "wrong-$TOKEN" /app/wrong
expect_status 200 "wrong token streams"
expect_last .type error "wrong token ends with an error event"
expect_last .error git_auth_failed "wrong token error code"
expect_match "$LAST" "authentication failed" "wrong token message"
expect_eq "$(($(date +%s) - t0 < 5))" 1 "wrong token fails fast, no retry loop"
[ ! -e "$DATA/app/wrong" ]
expect_eq $? 0 "nothing left after a wrong token"

clone "$PRIV" main "" /app/wrong
expect_last .error git_auth_failed "private repo without a token"

# Redirects to another host are not followed: the token goes only where the url says.
# (libgit2 follows a redirect within the same host whatever the option says.)
moved_before=$(grep -c '"GET /app.git/' "$GW_DIR/https.log" || true)
clone "https://127.0.0.1:$GIT_HTTPS_PORT/moved/app.git" main "$TOKEN" /app/moved
expect_last .type error "redirect not followed"
expect_match "$LAST" "redirect" "the error says why"
expect_eq "$(grep -c '"GET /app.git/' "$GW_DIR/https.log" || true)" "$moved_before" "nothing fetched from the redirect target"
[ ! -e "$DATA/app/moved" ]
expect_eq $? 0 "nothing left after a redirect"

# --- refused before any network ------------------------------------------------------------
https_requests=$(wc -l <"$GW_DIR/https.log")
clone_lines=$(grep -c 'git clone url=' "$a_LOG" || true)
refuse() { # url token path code message
    clone "$1" "" "$2" "$3"
    expect_status 400 "$5"
    expect_json .error "$4" "$5 (code)"
}
refuse "http://127.0.0.1:$GIT_HTTPS_PORT/app.git" "$TOKEN" /app/x token_needs_https "token over http://"
refuse "$PUB" "$TOKEN" /app/x token_needs_https "token over git://"
refuse "file:///etc" "" /app/x invalid_url "file:// url"
refuse "/etc" "" /app/x invalid_url "local path"
refuse "$GW_REPOS/app.git" "" /app/x invalid_url "local repo path"
refuse "localhost:/etc" "" /app/x invalid_url "host:path form"
refuse "ssh://127.0.0.1/app.git" "" /app/x invalid_url "ssh:// url"
refuse "https://user:$TOKEN@127.0.0.1:$GIT_HTTPS_PORT/app.git" "" /app/x invalid_url "userinfo in url"
expect_match "$BODY" "user name or password" "userinfo refusal says why"
refuse "https://127.0.0.1:$GIT_HTTPS_PORT/app.git?x=1" "" /app/x invalid_url "query in url"
refuse "https://127.0.0.1:$GIT_HTTPS_PORT/$(printf 'a%.0s' $(seq 1 2100))" "" /app/x invalid_url "overlong url"
refuse "$PUB" "" /app/../etc invalid_path "path with .."
refuse "$PUB" "" / invalid_path "path naming the data root"
refuse "$PRIV" "$(printf 't%.0s' $(seq 1 1100))" /app/x invalid_token "overlong token"
clone "$PUB" "a..b" "" /app/x
expect_json .error invalid_branch "branch with .."
clone "$PUB" "-rf" "" /app/x
expect_json .error invalid_branch "branch starting with -"
clone "$PUB" "$(printf 'b%.0s' $(seq 1 300))" "" /app/x
expect_status 400 "overlong branch"
expect_json .error invalid_branch "overlong branch (code)"
expect_eq "$(wc -l <"$GW_DIR/https.log")" "$https_requests" "refused urls never reached the https server"
expect_eq "$(grep -c 'git clone url=' "$a_LOG" || true)" "$clone_lines" "no helper started for refused requests"

clone "$PUB" nope "" /app/nope
expect_last .error git_branch_not_found "missing branch"
[ ! -e "$DATA/app/nope" ]
expect_eq $? 0 "nothing left after a missing branch"

# --- a server that never answers: the deadline ---------------------------------------------
t0=$(date +%s)
clone "$STALL" "" "" /app/stall
expect_last .error git_timeout "stalled server times out"
expect_match "$LAST" "5 s" "timeout message names the limit"
expect_eq "$(($(date +%s) - t0 <= 12))" 1 "timeout within the limit"
[ ! -e "$DATA/app/stall" ]
expect_eq $? 0 "no target after a timeout"
expect_eq "$(staging_empty && echo empty)" empty "no staging leftovers after a timeout"
expect_eq "$(helpers_of "$a_PID")" "" "no helper left after a timeout"

# --- the client goes away: the clone is canceled ------------------------------------------
agent_start b --git-timeout 300
curl -s --max-time 2 -H "X-API-Key: $KEY" -d "$(jq -nc --arg url "$STALL" '{url: $url, path: "/app/gone"}')" \
    "$URL/git/clone" >>"$STREAMS" || true
gone() { [ -z "$(helpers_of "$b_PID")" ]; }
wait_for 25 gone
expect_eq "$(helpers_of "$b_PID")" "" "helper gone after the client disconnected"
wait_for 5 grep -q 'client went away' "$b_LOG"
expect_match "$(cat "$b_LOG")" "client went away" "cancel logged"
[ -z "$(ls -A "$b_DIR/data/.staging" 2>/dev/null)" ] && [ ! -e "$b_DIR/data/app/gone" ]
expect_eq $? 0 "no leftovers after a disconnect"

# --- SIGTERM mid-clone: the helper is killed, the agent exits cleanly ----------------------
curl -s --max-time 30 -H "X-API-Key: $KEY" -d "$(jq -nc --arg url "$STALL" '{url: $url, path: "/app/term"}')" \
    "$URL/git/clone" >>"$STREAMS" 2>&1 &
curl_pid=$!
has_helper() { [ -n "$(helpers_of "$b_PID")" ]; }
wait_for 10 has_helper || fail "no helper started for the clone before SIGTERM"
helper=$(helpers_of "$b_PID")
t0=$(date +%s)
agent_stop b
expect_eq "$(($(date +%s) - t0 <= 5))" 1 "agent stops promptly mid-clone"
wait "$curl_pid" 2>/dev/null || true
if [ -n "$helper" ] && kill -0 "$helper" 2>/dev/null; then fail "helper $helper outlived the agent"; else ok; fi
[ -z "$(ls -A "$b_DIR/data/.staging" 2>/dev/null)" ] && [ ! -e "$b_DIR/data/app/term" ]
expect_eq $? 0 "no leftovers after SIGTERM"

# --- the token never shows, and the agent keeps serving ------------------------------------
use_agent a
if grep -qF "$TOKEN" "$a_LOG" "$b_LOG" "$STREAMS"; then fail "token in a log or a stream"; else ok; fi
if grep -rqF "$TOKEN" "$DATA"; then fail "token in the data root"; else ok; fi
req GET /ping
expect_status 200 "agent serves after all of it"
req GET /metrics
expect_match "$BODY" 'node_agent_operations_total\{op="clone",outcome="ok"\} [3-9]' "clone successes counted"
expect_match "$BODY" 'node_agent_operations_total\{op="clone",outcome="failed"\} [1-9]' "clone failures counted"
expect_match "$BODY" 'node_agent_streams_active 0' "no stream left active"
expect_eq "$(helpers_of "$a_PID")" "" "no helper left at the end"
agent_stop a
