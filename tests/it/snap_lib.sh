# Sourced by the snapshot tests after tests/it/lib.sh and tests/it/ctl_lib.sh: the simulated
# cloud without a seeded snapshot (every snapshot is baked by the test), the controller (it
# serves the agent package the droplets download), and helpers to run snapshot-builder and
# look at what the cloud holds. A library, not a test.

SB="$DP_BIN/snapshot-builder"
VERSION=$(cat "$DP_SRC/VERSION")
BASE_NAME="base-docker-debian12-agent-$VERSION"

# snap_sim_start [flags]: dosim with no snapshot, recording every exchange; sets SIM_URL.
snap_sim_start() {
    local port
    port=$(free_port)
    "$DP_BIN/dosim" --listen "127.0.0.1:$port" --droplet-limit 100 --record "$T/record.jsonl" \
        "$@" >"$T/dosim.log" 2>&1 &
    SIM_PID=$!
    SIM_URL="http://127.0.0.1:$port"
    wait_for 30 curl -sf "$SIM_URL/_sim/state" || { tail -20 "$T/dosim.log"; fail "dosim did not start"; exit 1; }
}

# sim_faults JSON: sets the simulator's injected faults.
sim_faults() {
    curl -sf -X POST -d "$1" "$SIM_URL/_sim/faults" >/dev/null || fail "set faults $1"
}

# The droplets the cloud holds (all of them), and the images.
droplets_left() { curl -s "$SIM_URL/_sim/state" | jq '.droplets | length'; }
droplet_names() { curl -s "$SIM_URL/_sim/state" | jq -r '[.droplets[].name] | join(" ")'; }
images_named() { curl -s "$SIM_URL/_sim/state" | jq --arg n "$1" '[.images[] | select(.name == $n)] | length'; }

# expect_no_droplet WHAT: the cloud holds no droplet (deletes finish within a few seconds).
expect_no_droplet() {
    local i n
    for ((i = 0; i < 50; i++)); do
        n=$(droplets_left)
        [ "$n" = 0 ] && break
        sleep 0.2
    done
    expect_eq "$n" 0 "$1: no droplet left behind ($(droplet_names))"
}

# sb NAME [args...]: runs snapshot-builder against the simulator with the controller's package;
# stdout in $T/NAME.out, stderr in $T/NAME.err. Sets SB_RC, SB_LAST (the last JSON line of
# stdout, for --json runs) and SB_ERR (stderr).
sb() {
    local name=$1
    shift
    SB_RC=0
    DO_API_URL=$SIM_URL DO_TOKEN=$DO_TOKEN CONTROLLER_URL=$CTL_URL \
        "$SB" "$@" >"$T/$name.out" 2>"$T/$name.err" || SB_RC=$?
    SB_LAST=$(grep '^{' "$T/$name.out" | tail -n 1) || true
    SB_ERR=$(cat "$T/$name.err")
    check_log_clean "$T/$name.err"
}

# The progress steps of a JSON-lines file, each once, in order.
steps_of() {
    jq -r 'select(.type=="progress") | .step' "$1" | awk '!seen[$0]++' | tr '\n' '|'
}

BAKE_STEPS="cleaning up leftovers|creating droplet|waiting for active|waiting for agent|finalizing|shutting down|snapshotting|finding image|deleting droplet|"

# A #cloud-config that installs no agent (for the "never answered" failure).
no_agent_user_data() {
    cat >"$T/no-agent.yaml" <<'EOF'
#cloud-config
write_files:
  - path: /etc/motd
    content: this droplet never gets an agent
runcmd:
  - echo nothing to install
EOF
    echo "$T/no-agent.yaml"
}
