#!/usr/bin/env bash
# Real droplets in dosim: a droplet from the seed snapshot runs its user-data (key + restart), its
# node-agent answers on the droplet's own loopback address and deploys a container published
# there; shutdown/power_off/power_on stop and restart the agent; a snapshot shows up in all
# three places with the right id types; a transfer adds a region; a droplet from the snapshot
# runs its own user-data again; delete stops the agent and removes its containers and root;
# SIGTERM stops every agent, a restart brings them back, and a temporary state dir leaves
# nothing behind.
. "$(dirname "$0")/lib.sh"
. "$DP_SRC/tests/dosim/testlib.sh"
it_init dosim_lifecycle
STATE=$T/state

dosim_start a --seed-snapshot base-it --state-dir "$STATE" --record "$T/record.jsonl"

# The seed: a ready private snapshot tagged dp-managed, in three regions, ids per endpoint.
api GET "/v2/images?private=true"
expect_json '.images | length' 1 "one private image"
seed=$(jqb '.images[0].id')
expect_json '.images[0].name' base-it "seed name"
expect_json '.images[0].type' snapshot "seed type"
expect_json '.images[0].slug' null "private images have no slug"
expect_json '.images[0].tags | index("dp-managed") != null' true "seed tagged dp-managed"
expect_json '.images[0].regions | join(",")' nyc1,sfo3,ams3 "seed regions"
expect_json '.images[0].status' available "seed available"
api GET /v2/snapshots
expect_json '.snapshots[0].id' "$seed" "seed in /v2/snapshots"
expect_json '.snapshots[0].id | type' string "snapshot id is a string there"
api POST /v2/droplets -d '{"name":"by-name","region":"nyc1","size":"s-1vcpu-1gb","image":"base-it"}'
expect_status 422 "a snapshot by name"
expect_json .message "You specified an invalid image for Droplet creation." "snapshot by name message"
api POST /v2/droplets -d "{\"name\":\"x\",\"region\":\"lon1\",\"size\":\"s-1vcpu-1gb\",\"image\":$seed}"
expect_status 422 "region not in the image's regions"
api POST /v2/droplets -d "{\"name\":\"x\",\"region\":\"nyc1\",\"size\":\"s-1vcpu-512mb-10gb\",\"image\":$seed}"
expect_status 422 "size disk below min_disk_size"

# A droplet from the seed with provision-time user-data: the agent answers with that key.
key1=$(openssl rand -hex 16)
api POST /v2/droplets -d "$(create_body web-1 "$seed" "$(user_data_key "$key1")")"
expect_status 202 "create from the seed"
d1=$(jqb .droplet.id)
wait_status "$d1" active 5 || fail "droplet 1 not active"
wait_ci "$d1" 20 || fail "droplet 1 user-data did not finish"
ip1=$(droplet_ip "$d1")
ping1() { curl -sf -H "X-API-Key: $key1" "http://$ip1:9999/ping"; }
wait_for 15 ping1 || fail "droplet 1 agent does not answer"
expect_eq "$(ping1 | jq -r .status)" ok "agent ping with the provisioned key"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H 'X-API-Key: wrong-key-wrong-key' "http://$ip1:9999/ping")" \
    401 "agent refuses another key"
sim GET "/_sim/droplets/$d1/log"
expect_match "$(jqb .cloud_init)" "wrote /etc/node-agent/key \(0600" "log: key written 0600"
expect_match "$(jqb .cloud_init)" "\+ systemctl restart node-agent" "log: restart ran"
expect_no_match "$(jqb .cloud_init)" "$key1" "the key never reaches the log"
root1=$(curl -s "$DURL/_sim/state" | jq -r ".droplets[] | select(.id == $d1) | .dir")/root
expect_eq "$(stat -c %a "$root1/etc/node-agent/key")" 600 "key file mode"
pid1=$(agent_state "$d1" pid)
expect_match "$(tr '\0' ' ' <"/proc/$pid1/cmdline")" \
    "--listen $ip1:9999 --key-file $root1/etc/node-agent/key --data-root $root1/var/lib/node-agent --namespace do-${a_SIMID}-$d1 --publish-ip $ip1" \
    "agent command line"

# Deploy a container through the droplet's agent; it is published on the droplet's address.
run='{"name":"web","image":"dp-test/busybox:1","ports":{"8080":8080},"command":["sh","-c","mkdir -p /www; echo hello-from-droplet > /www/index.html; exec httpd -f -p 8080 -h /www"]}'
out=$(curl -s -H "X-API-Key: $key1" -d "$run" "http://$ip1:9999/containers/run" || true)
expect_eq "$(jq -r .state <<<"$out")" running "container runs through the droplet's agent"
wait_for 10 curl -sf "http://$ip1:8080/" || fail "app not reachable on the droplet address"
expect_eq "$(curl -s "http://$ip1:8080/")" hello-from-droplet "app answers on $ip1:8080"
expect_eq "$(docker ps -q --filter "label=dp.namespace=do-${a_SIMID}-$d1" | wc -l)" 1 "container in the droplet's namespace"

# shutdown -> off, the agent stops; power_on -> active, it comes back; power_off likewise.
api POST "/v2/droplets/$d1/actions" -d '{"type":"shutdown"}'
expect_status 201 "shutdown"
wait_status "$d1" off 10 || fail "not off after shutdown"
expect_eq "$(agent_state "$d1" running)" false "agent stopped by shutdown"
expect_eq "$(kill -0 "$pid1" 2>/dev/null && echo alive || echo gone)" gone "agent process gone"
expect_eq "$(agent_state "$d1" last_exit)" 0 "agent exited cleanly"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://$ip1:9999/ping")" 000 "nothing on :9999 while off"
api POST "/v2/droplets/$d1/actions" -d '{"type":"power_on"}'
expect_status 201 "power_on"
wait_status "$d1" active 10 || fail "not active after power_on"
wait_for 15 ping1 || fail "agent not back after power_on"
expect_eq "$(agent_state "$d1" running)" true "agent restarted by power_on"
api POST "/v2/droplets/$d1/actions" -d '{"type":"power_off"}'
wait_status "$d1" off 10 || fail "not off after power_off"
expect_eq "$(agent_state "$d1" running)" false "agent stopped by power_off"
api POST "/v2/droplets/$d1/actions" -d '{"type":"power_on"}'
wait_status "$d1" active 10 || fail "not active again"
wait_for 15 ping1 || fail "agent not back again"

# Snapshot: locked while it runs, then one private image in all three places.
t0=$(date +%s%N)
api POST "/v2/droplets/$d1/actions" -d '{"type":"snapshot","name":"snap-it"}'
expect_status 201 "snapshot"
snap_action=$(jqb .action.id)
expect_eq "$(droplet_field "$d1" .locked)" true "locked during the snapshot"
api POST "/v2/droplets/$d1/actions" -d '{"type":"power_off"}'
expect_status 422 "no second action during the snapshot"
api GET "/v2/images?private=true"
expect_json '[.images[].name] | index("snap-it")' null "an unfinished snapshot is not listed"
wait_action "/v2/droplets/$d1/actions/$snap_action" 10 || fail "snapshot did not complete"
ms=$((($(date +%s%N) - t0) / 1000000))
expect_eq "$((ms < 5500))" 1 "snapshot within 5 s (took $ms ms)"
expect_eq "$(droplet_field "$d1" .locked)" false "unlocked after the snapshot"
api GET "/v2/images?private=true"
snap=$(jqb '.images[] | select(.name == "snap-it") | .id')
expect_match "$snap" '^[0-9]+$' "snapshot listed with an int id"
expect_json ".images[] | select(.id == $snap) | .type" snapshot "type snapshot"
expect_json ".images[] | select(.id == $snap) | .min_disk_size" 25 "min_disk_size = droplet disk"
expect_json ".images[] | select(.id == $snap) | .regions | join(\",\")" nyc1 "regions = droplet region"
expect_json ".images[] | select(.id == $snap) | .size_gigabytes > 0" true "size_gigabytes"
expect_json ".images[] | select(.id == $snap) | .status" available "available"
expect_eq "$(droplet_field "$d1" '.snapshot_ids | index('"$snap"') != null')" true "in snapshot_ids"
api GET "/v2/droplets/$d1/snapshots"
expect_json '.snapshots[0].id' "$snap" "droplet snapshots list it"
expect_json '.snapshots[0].id | type' number "int id there"
expect_json '.snapshots[0].type' snapshot "type there"
api GET "/v2/snapshots?resource_type=droplet"
expect_json ".snapshots[] | select(.id == \"$snap\") | .resource_id" "$d1" "string id and resource_id in /v2/snapshots"
api GET "/v2/snapshots/$snap"
expect_status 200 "snapshot by string id"
expect_json '.snapshot.resource_type' droplet "resource_type"
api GET "/v2/snapshots?resource_type=volume"
expect_json '.snapshots | length' 0 "no volume snapshots"

# Transfer: 201, then the region is added when the action completes.
api POST "/v2/images/$snap/actions" -d '{"type":"transfer","region":"sfo3"}'
expect_status 201 "transfer"
expect_json .action.type transfer "transfer action"
expect_json .action.resource_type image "on the image"
expect_json .action.region_slug sfo3 "to sfo3"
tr_action=$(jqb .action.id)
api GET "/v2/images/$snap"
expect_json '.image.regions | index("sfo3")' null "not in sfo3 yet"
wait_action "/v2/images/$snap/actions/$tr_action" 10 || fail "transfer did not complete"
api GET "/v2/images/$snap"
expect_json '.image.regions | join(",")' nyc1,sfo3 "region added by the transfer"
api POST "/v2/images/100000011/actions" -d '{"type":"transfer","region":"sfo3"}'
expect_status 422 "stock images are not transferable"
api POST "/v2/images/$snap/actions" -d '{"type":"transfer","region":"nowhere"}'
expect_status 422 "unknown transfer region"

# Tagging the snapshot as Packer does: 404 for an unknown tag, then create it and tag.
res="{\"resources\":[{\"resource_id\":\"$snap\",\"resource_type\":\"image\"}]}"
api POST /v2/tags/release-it/resources -d "$res"
expect_status 404 "tagging with an unknown tag"
api POST /v2/tags -d '{"name":"release-it"}'
api POST /v2/tags/release-it/resources -d "$res"
expect_status 204 "tag the snapshot"
api GET "/v2/images?tag_name=release-it"
expect_json '[.images[].id] | join(",")' "$snap" "images by tag"
api GET /v2/tags/release-it
expect_json .tag.resources.images.count 1 "tag counts the image"
api GET "/v2/snapshots/$snap"
expect_json '.snapshot.tags | index("release-it") != null' true "snapshot tags"
api POST /v2/tags/release-it/resources -d '{"resources":[{"resource_id":"1","resource_type":"droplet"}]}'
expect_status 404 "tagging an unknown droplet"
api DELETE /v2/tags/release-it/resources -d "$res"
expect_status 204 "untag"
api GET "/v2/images?tag_name=release-it"
expect_json '.images | length' 0 "untagged"

# A droplet from the snapshot, in the new region: a copy of the root, its own user-data again.
key2=$(openssl rand -hex 16)
ud2="$(user_data_key "$key2")
  - echo second instance"
api POST /v2/droplets -d "$(create_body web-2 "$snap" "$ud2" | jq -c '.region = "sfo3"')"
expect_status 202 "create from the snapshot"
d2=$(jqb .droplet.id)
expect_json .droplet.image.id "$snap" "its image is the snapshot"
expect_json .droplet.image.slug null "snapshot image has no slug"
wait_status "$d2" active 5 || fail "droplet 2 not active"
wait_ci "$d2" 20 || fail "droplet 2 user-data did not finish"
ip2=$(droplet_ip "$d2")
expect_no_match "$ip2" "^$ip1\$" "a different address"
ping2() { curl -sf -H "X-API-Key: $key2" "http://$ip2:9999/ping"; }
wait_for 15 ping2 || fail "droplet 2 agent does not answer its new key"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' -H "X-API-Key: $key1" "http://$ip2:9999/ping")" \
    401 "the snapshot's old key was replaced by the new user-data"
sim GET "/_sim/droplets/$d2/log"
expect_match "$(jqb .cloud_init)" "root copied from snapshot $snap" "root copied from the snapshot"
expect_match "$(jqb .cloud_init)" "second instance" "its own runcmd ran"
expect_eq "$(docker ps -q --filter "label=dp.namespace=do-${a_SIMID}-$d2" | wc -l)" 0 "no containers carried over"
out=$(curl -s -H "X-API-Key: $key2" -d "$run" "http://$ip2:9999/containers/run" || true)
expect_eq "$(jq -r .state <<<"$out")" running "container on droplet 2"

# Delete droplet 1: agent stopped, its containers and root removed, address released.
api DELETE "/v2/droplets/$d1"
expect_status 204 "delete droplet 1"
pid1=$(pgrep -f -- "--namespace do-${a_SIMID}-$d1" || true)
expect_eq "$pid1" "" "droplet 1 agent stopped"
expect_eq "$(docker ps -aq --filter "label=dp.namespace=do-${a_SIMID}-$d1" | wc -l)" 0 "droplet 1 containers removed"
expect_eq "$(test -e "$root1" && echo there || echo gone)" gone "droplet 1 root removed"
expect_eq "$(test -e "$DOSIM_IP_DIR/$ip1" && echo held || echo released)" released "address 1 released"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://$ip1:8080/")" 000 "the app is gone with it"
sim GET "/_sim/droplets/$d1/log"
check_agent_logs "$STATE"

# SIGTERM stops every agent (state kept); a restart brings the droplet and its agent back.
dosim_stop a
expect_eq "$(pgrep -f -- "--namespace do-${a_SIMID}-" || true)" "" "no agent left after SIGTERM"
check_agent_logs "$STATE"
expect_eq "$(jq -r ".droplets[] | select(.id == $d2) | .agent_wanted" "$STATE/state.json")" true \
    "state.json remembers the running agent"
dosim_start b --seed-snapshot base-it --state-dir "$STATE" --record "$T/record.jsonl"
expect_eq "$b_SIMID" "$a_SIMID" "same sim id after a restart"
api GET "/v2/droplets/$d2"
expect_status 200 "droplet 2 restored"
expect_eq "$(droplet_ip "$d2")" "$ip2" "same address after a restart"
wait_for 15 ping2 || fail "agent 2 not back after the restart"
out=$(curl -s -H "X-API-Key: $key2" "http://$ip2:9999/containers" || true)
expect_eq "$(jq -r '.containers[0].name' <<<"$out")" web "the agent manages its container again"
api GET "/v2/images?private=true"
expect_json '.images | length' 2 "seed and snapshot restored, seed not doubled"

# Delete the snapshot and the last droplet; nothing is left.
api DELETE "/v2/snapshots/$snap"
expect_status 204 "delete the snapshot"
expect_eq "$(ls "$STATE/images" | grep -c "^$snap\$" || true)" 0 "snapshot folder removed"
api GET "/v2/images/$snap"
expect_status 404 "snapshot gone"
api DELETE "/v2/droplets/$d2"
expect_status 204 "delete droplet 2"
expect_eq "$(docker ps -aq --filter "label=dp.namespace=do-${a_SIMID}-$d2" | wc -l)" 0 "droplet 2 containers removed"
check_agent_logs "$STATE"
dosim_stop b
expect_eq "$(dosim_leftovers)" "" "nothing left by the persistent dosim"
contract_check "$T/record.jsonl" 0

# A temporary state dir (and --agent): the provision template's TLS files and allow lines reach
# the agent's command line; SIGTERM removes droplets, containers, roots and address locks.
dosim_start c --seed-snapshot base-tmp --agent "$DP_BIN/node-agent"
state_c=$c_STATE
api GET "/v2/images?private=true"
seed=$(jqb '.images[0].id')
key3=$(openssl rand -hex 16)
openssl req -x509 -newkey rsa:2048 -nodes -keyout "$T/tls.key" -out "$T/tls.crt" -days 1 \
    -subj /CN=dosim-it >/dev/null 2>&1
indent() { sed 's/^/      /' "$1"; }
ud3="#cloud-config
write_files:
  - path: /etc/node-agent/key
    permissions: '0600'
    content: $key3
  - path: /etc/node-agent/tls.crt
    content: |
$(indent "$T/tls.crt")
  - path: /etc/node-agent/tls.key
    permissions: '0600'
    content: |
$(indent "$T/tls.key")
  - path: /etc/node-agent/agent.conf
    content: |
      listen = 0.0.0.0:9999
      key-file = /etc/node-agent/key
      tls-cert = /etc/node-agent/tls.crt
      tls-key = /etc/node-agent/tls.key
      allow = 127.0.0.0/8
runcmd:
  - [systemctl, enable, node-agent]
  - [systemctl, restart, node-agent]"
api POST /v2/droplets -d "$(create_body tmp-1 "$seed" "$ud3")"
d3=$(jqb .droplet.id)
wait_status "$d3" active 5 || fail "droplet 3 not active"
ip3=$(droplet_ip "$d3")
ping3() { curl -skf -H "X-API-Key: $key3" "https://$ip3:9999/ping"; }
wait_for 20 ping3 || fail "agent 3 does not answer over HTTPS"
pid3=$(agent_state "$d3" pid)
cmd3=$(tr '\0' ' ' <"/proc/$pid3/cmdline")
expect_match "$cmd3" "^$DP_BIN/node-agent " "--agent is the binary droplets run"
expect_match "$cmd3" "--tls-cert $state_c/droplets/$d3/root/etc/node-agent/tls.crt --tls-key $state_c/droplets/$d3/root/etc/node-agent/tls.key" \
    "TLS files mapped into the root"
expect_match "$cmd3" "--allow 127.0.0.0/8" "allow lines passed on"
out=$(curl -sk -H "X-API-Key: $key3" -d "$run" "https://$ip3:9999/containers/run" || true)
expect_eq "$(jq -r .state <<<"$out")" running "container on droplet 3"
check_agent_logs "$state_c"
dosim_stop c
expect_eq "$(dosim_leftovers)" "" "no agent or container left by the temporary dosim"
expect_eq "$(test -e "$state_c" && echo there || echo gone)" gone "temporary state dir removed"
expect_eq "$(test -e "$DOSIM_IP_DIR/$ip3" && echo held || echo released)" released "address 3 released"
