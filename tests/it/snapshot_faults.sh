#!/usr/bin/env bash
# Bakes that go wrong leave nothing behind and say which step failed: user-data that installs
# no agent (and a package URL that does not exist), an errored snapshot action, an errored
# shutdown (power off instead), 30 % of requests answered 429 or 500, SIGINT and SIGTERM in the
# middle of a bake (exit 130 after the droplet is deleted), and a baker killed with SIGKILL
# (its droplet is deleted by the next bake). Every check looks at the cloud itself.
. "$(dirname "$0")/lib.sh"
. "$DP_SRC/tests/it/ctl_lib.sh"
. "$DP_SRC/tests/it/snap_lib.sh"
it_init snapshot_faults

snap_sim_start
ctl_start
NO_AGENT=$(no_agent_user_data)

# sb_bg NAME [args...]: snapshot-builder --json in the background; sets BG_PID.
sb_bg() {
    local name=$1
    shift
    DO_API_URL=$SIM_URL DO_TOKEN=$DO_TOKEN CONTROLLER_URL=$CTL_URL \
        "$SB" --json "$@" >"$T/$name.out" 2>"$T/$name.err" &
    BG_PID=$!
}

# wait_step NAME STEP: until the background bake's events reach STEP.
wait_step() {
    local i
    for ((i = 0; i < 300; i++)); do
        grep -q "\"step\":\"$2\"" "$T/$1.out" 2>/dev/null && return 0
        sleep 0.1
    done
    fail "the bake never reached \"$2\": $(tail -3 "$T/$1.out")"
    return 1
}

# --- user-data that installs no agent
DP_TEST_BAKE_USER_DATA=$NO_AGENT sb noagent --json bake base --agent-timeout 6
expect_eq "$SB_RC" 1 "a bake whose agent never answers fails"
expect_eq "$(jq -r '[.type, .step, .error] | join(" ")' <<<"$SB_LAST")" "error waiting for agent agent_never_answered" \
    "the error event names the step"
expect_match "$(jq -r .detail <<<"$SB_LAST")" \
    "^waiting for agent failed: the agent never answered at http://127\\.[0-9.]+:9999 within 6 s: the user-data did not install or start it$" \
    "a clear error"
expect_match "$SB_ERR" "DP_TEST_BAKE_USER_DATA" "the test hook is announced"
expect_eq "$(jq -r 'select(.type=="log") | .message' "$T/noagent.out" | grep -c '^deleted droplet')" 1 "the droplet is deleted"
expect_no_droplet "agent never answered"

# --- a package URL that does not exist: cloud-init fails, the same clear error (human output)
sb nopkg bake base --agent-url "$CTL_URL/agent/nothing.tar.gz" --agent-sha256 "$(printf '0%.0s' {1..64})" --agent-timeout 6
expect_eq "$SB_RC" 1 "a bake whose package download fails"
expect_match "$SB_ERR" "error: waiting for agent failed: the agent never answered" "the error on stderr"
expect_match "$SB_ERR" "\\[ +[0-9]+s\\] deleted droplet [0-9]+" "the clean-up is shown"
expect_no_droplet "package download failed"
sb nosum bake base --agent-url "$CTL_URL/agent/nothing.tar.gz"
expect_eq "$SB_RC" 3 "no checksum beside the package URL"
expect_match "$SB_ERR" "nothing.tar.gz.sha256 answered 404" "the error names the checksum URL"

# --- an errored snapshot action fails at once, with the cloud's word for it
sim_faults '{"errored_action":"snapshot"}'
sb errsnap --json bake base --regions sfo3
expect_eq "$SB_RC" 1 "errored snapshot"
expect_eq "$(jq -r .step <<<"$SB_LAST")" snapshotting "the failed step"
expect_match "$(jq -r .detail <<<"$SB_LAST")" "^snapshotting failed: DigitalOcean reports the snapshot action \\(/v2/actions/[0-9]+\\) errored" \
    "the error says which step failed and why"
expect_eq "$(images_named "$BASE_NAME")" 0 "no snapshot is left"
expect_no_droplet "errored snapshot"

# --- an errored shutdown: power off instead, and the bake goes on
sim_faults '{"errored_action":"shutdown"}'
sb errshut --json bake base
expect_eq "$SB_RC" 0 "a bake whose shutdown errors ($(tail -2 "$T/errshut.err"))"
expect_match "$(steps_of "$T/errshut.out")" "shutting down\\|powering off\\|snapshotting" "power off after the errored shutdown"
expect_no_droplet "errored shutdown"
sim_faults '{"errored_action":null}'
sb cleanup1 delete "$BASE_NAME"

# --- 30 % of requests answered 429 or 500: the bake still succeeds, nothing leaks
sim_faults '{"fail_429":0.15,"fail_500":0.15}'
sb flaky --json bake base --regions sfo3,ams3
sim_faults '{"fail_429":0,"fail_500":0}'
expect_eq "$SB_RC" 0 "a bake under 30 % injected faults ($(tail -3 "$T/flaky.err"))"
expect_eq "$(jq -r '.snapshot.regions | length' <<<"$SB_LAST")" 3 "copied to both regions"
echo "bake under 30 % 429/500: $(jq -r .api_calls <<<"$SB_LAST") API calls (retries included)"
expect_no_droplet "faults"
expect_eq "$(images_named "$BASE_NAME")" 1 "one snapshot, no duplicate"
sb cleanup2 delete "$BASE_NAME"

# --- SIGINT while the snapshot is being made
sim_faults '{"slow_actions":5}'
sb_bg sigint bake base
wait_step sigint snapshotting
sleep 1
kill -INT "$BG_PID"
rc=0
wait "$BG_PID" || rc=$?
sim_faults '{"slow_actions":1}'
expect_eq "$rc" 130 "SIGINT: exit 130"
last=$(tail -n 1 "$T/sigint.out")
expect_eq "$(jq -r '[.type, .error, .step] | join(" ")' <<<"$last")" "error canceled snapshotting" "the stop is reported"
expect_eq "$(jq -r .detail <<<"$last")" 'canceled during step "snapshotting"' "the error says where"
expect_match "$(cat "$T/sigint.err")" "interrupted" "the interrupt is acknowledged"
expect_no_droplet "SIGINT"
sleep 3 # a snapshot action in flight would have finished by now
expect_eq "$(images_named "$BASE_NAME")" 0 "no half-made snapshot poses as the base"
check_log_clean "$T/sigint.err"

# --- SIGTERM while waiting for the agent
DP_TEST_BAKE_USER_DATA=$NO_AGENT sb_bg sigterm bake base
wait_step sigterm "waiting for agent"
kill -TERM "$BG_PID"
rc=0
wait "$BG_PID" || rc=$?
expect_eq "$rc" 130 "SIGTERM: exit 130"
expect_eq "$(tail -n 1 "$T/sigterm.out" | jq -r .detail)" 'canceled during step "waiting for agent"' "SIGTERM is reported"
expect_no_droplet "SIGTERM"

# --- a baker killed outright leaves its droplet; the next bake deletes it first
DP_TEST_BAKE_USER_DATA=$NO_AGENT sb_bg killed bake base
wait_step killed "waiting for agent"
kill -KILL "$BG_PID"
wait "$BG_PID" 2>/dev/null || true
expect_eq "$(droplets_left)" 1 "SIGKILL leaves the droplet"
left=$(curl -s "$SIM_URL/_sim/state" | jq -r '.droplets[0].id')
expect_eq "$(curl -s "$SIM_URL/_sim/state" | jq -r '.droplets[0].tags | index("dp-bake") != null')" true "tagged as a bake droplet"
sb after --json bake base
expect_eq "$SB_RC" 0 "the next bake ($(tail -2 "$T/after.err"))"
expect_match "$(jq -r 'select(.type=="log") | .message' "$T/after.out")" "deleted droplet $left \\(bake-base-[0-9a-f]+\\) left by an earlier bake" \
    "the leftover is deleted first"
expect_no_droplet "after a crash"
/usr/bin/python3 "$DP_SRC/tests/dosim/contract.py" "$T/record.jsonl" >"$T/contract.out" 2>&1 ||
    fail "contract: $(grep -v '^ ' "$T/contract.out" | head -10)"
expect_match "$(head -1 "$T/contract.out")" " 0 mismatches" "every exchange fits DigitalOcean's OpenAPI"
