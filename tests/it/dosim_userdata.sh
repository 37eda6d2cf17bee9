#!/usr/bin/env bash
# User-data as dosim carries it out: a bake-like #cloud-config downloads the agent package from
# a loopback HTTP server, checks its SHA-256 (both sha256sum -c forms), installs, enables and
# starts it, and the agent answers; a wrong SHA-256 leaves nothing installed and says so; any
# other runcmd line is logged as skipped; write_files honours permissions, b64 and append and
# never escapes the root; a #! script runs line by line with its -e.
. "$(dirname "$0")/lib.sh"
. "$DP_SRC/tests/dosim/testlib.sh"
it_init dosim_userdata
STATE=$T/state
VERSION=$(cat "$DP_SRC/VERSION")
PKG=$(basename "$(ls "$DP_BUILD"/package/node-agent-"$VERSION"-linux-*.tar.gz)")
SUM=$(cut -d' ' -f1 "$DP_BUILD/package/$PKG.sha256")

# The package server, as the controller will be during a bake.
port=$(free_port)
python3 -m http.server "$port" --bind 127.0.0.1 --directory "$DP_BUILD/package" \
    >"$T/http.log" 2>&1 &
IT_EXTRA_PIDS+=("$!")
wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$port/$PKG.sha256" || fail "package server"
PURL="http://127.0.0.1:$port/$PKG"

dosim_start a --state-dir "$STATE" --record "$T/record.jsonl"

ci_of() { # ID: the droplet's cloud-init log
    curl -s "$DURL/_sim/droplets/$1/log" | jq -r .cloud_init
}
root_of() {
    echo "$STATE/droplets/$1/root"
}
make() { # NAME USER_DATA: a droplet from debian-12-x64; sets D
    api POST /v2/droplets -d "$(jq -nc --arg n "$1" --arg ud "$2" \
        '{name:$n, region:"nyc1", size:"s-1vcpu-1gb", image:"debian-12-x64", user_data:$ud}')"
    expect_status 202 "create $1"
    D=$(jqb .droplet.id)
}

# 1. Bake-like, sh forms: curl, echo | sha256sum -c -, tar -C /, enable --now.
key=$(openssl rand -hex 16)
make bake-a "#cloud-config
write_files:
  - path: /etc/node-agent/key
    owner: root:root
    permissions: '0600'
    content: $key
runcmd:
  - set -e
  - curl -fsSL -o /tmp/node-agent.tar.gz $PURL
  - echo \"$SUM  /tmp/node-agent.tar.gz\" | sha256sum -c -
  - tar -xzf /tmp/node-agent.tar.gz -C /
  - systemctl daemon-reload
  - systemctl enable --now node-agent
  - apt-get install -y docker.io
  - ufw allow from 10.0.0.0/8 to any port 9999
"
da=$D
wait_ci "$da" 30 || fail "bake-a user-data did not finish"
ip=$(droplet_ip "$da")
wait_for 15 curl -sf -H "X-API-Key: $key" "http://$ip:9999/ping" || fail "installed agent does not answer"
expect_eq "$(curl -s -H "X-API-Key: $key" "http://$ip:9999/ping" | jq -r .version)" "$VERSION" "the package's agent answers"
log=$(ci_of "$da")
expect_match "$log" "downloaded [0-9]+ bytes \(HTTP 200\) to /tmp/node-agent.tar.gz" "download logged"
expect_match "$log" "/tmp/node-agent.tar.gz: OK" "checksum OK"
expect_match "$log" "unpacked [0-9]+ files" "unpacked"
expect_match "$log" "Created symlink /etc/systemd/system/multi-user.target.wants/node-agent.service" "enabled"
expect_match "$log" "skipped \(not simulated\): apt-get install -y docker.io" "unknown line skipped"
expect_match "$log" "skipped \(not simulated\): ufw allow" "second unknown line skipped"
sim GET /_sim/state
expect_json ".droplets[] | select(.id == $da) | .cloud_init.skipped" 2 "skipped lines counted"
expect_json ".droplets[] | select(.id == $da) | .cloud_init.failed" 0 "nothing failed"
r=$(root_of "$da")
expect_eq "$(test -x "$r/usr/bin/node-agent" && echo yes)" yes "binary in the root"
expect_eq "$(test -f "$r/usr/lib/deploy-infra/libssl.so" && echo yes)" yes "TLS shims in the root"
expect_eq "$(readlink "$r/etc/systemd/system/multi-user.target.wants/node-agent.service")" \
    /lib/systemd/system/node-agent.service "unit link as systemctl makes it"

# 2. The argv forms: the .sha256 file checked with sha256sum -c FILE, systemctl as lists.
key2=$(openssl rand -hex 16)
make bake-b "#cloud-config
runcmd:
  - [curl, --fail, --silent, --show-error, --location, --output, /$PKG, $PURL]
  - [curl, -fsSL, -o, /pkg.sha256, $PURL.sha256]
  - [sha256sum, --check, --strict, /pkg.sha256]
  - [tar, xzf, /$PKG, --directory, /]
  - [mkdir, -p, /etc/node-agent]
  - [sh, -c, 'ls /tmp || true']
  - [systemctl, enable, node-agent.service]
write_files:
  - path: /etc/node-agent/key
    encoding: b64
    content: $(printf '%s' "$key2" | base64 -w0)
    permissions: '0600'
"
db=$D
wait_ci "$db" 30 || fail "bake-b user-data did not finish"
ipb=$(droplet_ip "$db")
log=$(ci_of "$db")
expect_match "$log" "$PKG: OK" "sha256sum -c FILE"
expect_match "$log" "skipped \(not simulated\): sh -c ls /tmp \|\| true" "sh -c with || is skipped whole"
expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://$ipb:9999/ping")" 000 "enabled but not started: no agent yet"
api POST "/v2/droplets/$db/actions" -d '{"type":"reboot"}'
expect_status 201 "reboot"
wait_for 15 curl -sf -H "X-API-Key: $key2" "http://$ipb:9999/ping" || fail "enabled agent does not start at boot"
expect_eq "$(stat -c %a "$(root_of "$db")/etc/node-agent/key")" 600 "b64 key file mode"

# 3. A wrong SHA-256: nothing installed, the log says why, runcmd stops (set -e).
make bad-sum "#cloud-config
runcmd:
  - set -e
  - curl -fsSL -o /tmp/node-agent.tar.gz $PURL
  - echo \"$(printf '0%.0s' $(seq 64))  /tmp/node-agent.tar.gz\" | sha256sum -c -
  - tar -xzf /tmp/node-agent.tar.gz -C /
  - systemctl enable --now node-agent
"
dc=$D
wait_ci "$dc" 30 || fail "bad-sum user-data did not finish"
log=$(ci_of "$dc")
expect_match "$log" "/tmp/node-agent.tar.gz: FAILED" "checksum FAILED"
expect_match "$log" "WARNING: 1 computed checksum did NOT match" "sha256sum's warning"
expect_match "$log" "set -e: runcmd ends" "set -e stops runcmd"
expect_no_match "$log" "\+ tar" "tar never ran"
expect_eq "$(test -e "$(root_of "$dc")/usr/bin/node-agent" && echo yes || echo no)" no "agent not installed"
sim GET /_sim/state
expect_json ".droplets[] | select(.id == $dc) | .cloud_init.failed" 1 "one failed entry"
expect_json ".droplets[] | select(.id == $dc) | .agent.running" false "no agent"

# 4. The same with && instead of set -e, and a download that is not on loopback.
make bad-chain "#cloud-config
runcmd:
  - curl -fsSL -o /tmp/p.tgz $PURL && echo '$(printf 'f%.0s' $(seq 64))  /tmp/p.tgz' | sha256sum -c - && tar -xzf /tmp/p.tgz -C /
  - curl -fsSL -o /tmp/x https://192.0.2.1/x
  - curl -fsSL -o /tmp/y http://127.0.0.1:$port/missing
  - echo after
"
dd=$D
wait_ci "$dd" 30 || fail "bad-chain user-data did not finish"
log=$(ci_of "$dd")
expect_match "$log" "/tmp/p.tgz: FAILED" "chain: checksum failed"
expect_no_match "$log" "\+ tar" "chain: tar skipped by &&"
expect_match "$log" "downloads only reach loopback addresses" "non-loopback download refused"
expect_match "$log" "curl: \(22\) The requested URL returned error: 404" "curl -f on a 404"
expect_match "$log" "after" "without set -e runcmd goes on"
expect_eq "$(test -e "$(root_of "$dd")/usr/bin/node-agent" && echo yes || echo no)" no "chain: nothing installed"

# 5. write_files: modes, b64, append, owner ignored, no escape from the root.
make files "#cloud-config
write_files:
  - path: /opt/app/run.sh
    permissions: '0755'
    owner: app:app
    content: |
      #!/bin/sh
      echo hi
  - path: /opt/app/data.bin
    encoding: base64
    content: aGVsbG8gd29ybGQ=
  - path: /opt/app/run.sh
    append: true
    permissions: '0755'
    content: 'echo more'
  - path: /../../escape.txt
    content: nope
  - path: relative/file.txt
    content: mapped
  - path: /etc/bad-mode
    permissions: rwx
    content: x
hostname: ignored-host
"
de=$D
wait_ci "$de" 30 || fail "files user-data did not finish"
r=$(root_of "$de")
expect_eq "$(stat -c %a "$r/opt/app/run.sh")" 755 "permissions 0755"
expect_eq "$(cat "$r/opt/app/run.sh")" "$(printf '#!/bin/sh\necho hi\necho more')" "append added"
expect_eq "$(cat "$r/opt/app/data.bin")" "hello world" "base64 content"
expect_eq "$(stat -c %a "$r/opt/app/data.bin")" 644 "default mode 0644"
expect_eq "$(cat "$r/relative/file.txt")" mapped "relative path under the root"
expect_eq "$(find "$STATE" -name escape.txt | wc -l)" 0 "no escape with .."
log=$(ci_of "$de")
expect_match "$log" "/../../escape.txt: path '/../../escape.txt' climbs" "escape refused in the log"
expect_match "$log" "permissions are not an octal mode" "bad mode refused"
expect_match "$log" "cloud-config 'hostname' is not simulated; skipped" "other modules logged"

# 6. A #! script: each line as a runcmd string; -e on the #! line stops at a failure.
make script "#!/bin/sh -e
echo first line
mkdir -p /srv/made-by-script
rm -f /srv/nothing-here
false
echo never printed
"
df=$D
wait_ci "$df" 30 || fail "script user-data did not finish"
log=$(ci_of "$df")
expect_match "$log" "first line" "script line ran"
expect_eq "$(test -d "$(root_of "$df")/srv/made-by-script" && echo yes)" yes "mkdir -p in the root"
expect_no_match "$log" "never printed" "-e from the #! line"

# Cleanup: every droplet deleted, agents gone, logs clean.
for d in "$da" "$db" "$dc" "$dd" "$de" "$df"; do
    api DELETE "/v2/droplets/$d"
    [ "$STATUS" = 204 ] || fail "delete $d: $STATUS"
done
check_agent_logs "$STATE"
dosim_stop a
expect_eq "$(dosim_leftovers)" "" "nothing left"
contract_check "$T/record.jsonl" 0
