#!/usr/bin/env bash
# Provision-time user-data as a server would get it: every rendering (plain, awkward keys, a
# three-certificate chain, RSA/EC/PKCS#8 keys, PEMs without a final newline, 16 allow lines)
# must pass Debian's real `cloud-init schema`, and PyYAML must read back the exact key and PEM
# bytes, the permissions, the agent.conf and the runcmd argv lists. The agent.conf must pass
# `node-agent --check`, and a real agent started from the written files must answer over HTTPS
# through the chain. Refusals name the field and never print a secret. Bake-time documents
# (with and without SSH addresses and extra packages) pass the same schema check and a
# byte-exact PyYAML read-back; their agent.conf passes --check, their firewall is loaded by
# the real nft in network namespaces the test makes and admits 9999 and 22 only from the
# addresses given; the firewall's unit and the agent's unit pass systemd-analyze verify.
. "$(dirname "$0")/lib.sh"
it_init cloudinit_schema

CLI="${DP_BUILD:?}/tests/cloudinit_render_cli"
PY=/usr/bin/python3 # Debian's, with python3-yaml (what cloud-init itself uses)
[ -x "$CLI" ] || { fail "missing $CLI (build first)"; exit 1; }

# --- TLS material: a root, an intermediate and a leaf for 127.0.0.1, keys in three formats.
cd "$T"
ossl() { openssl "$@" 2>/dev/null; }
ossl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 -keyout root.key \
    -out root.crt -subj /CN=dp-test-root -addext basicConstraints=critical,CA:TRUE
ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout mid.key -out mid.csr \
    -subj /CN=dp-test-intermediate
printf 'basicConstraints=critical,CA:TRUE\nkeyUsage=keyCertSign\n' >mid.ext
ossl x509 -req -in mid.csr -CA root.crt -CAkey root.key -CAcreateserial -days 2 \
    -extfile mid.ext -out mid.crt
ossl req -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout leaf.key -out leaf.csr \
    -subj /CN=127.0.0.1
printf 'subjectAltName=IP:127.0.0.1\n' >leaf.ext
ossl x509 -req -in leaf.csr -CA mid.crt -CAkey mid.key -CAcreateserial -days 2 \
    -extfile leaf.ext -out leaf.crt
cat leaf.crt mid.crt root.crt >chain.crt
ossl genrsa -traditional -out rsa.key 2048
ossl ecparam -name prime256v1 -genkey -noout -out ec.key
printf '%s' "$(cat root.crt)" >root-nonl.crt # no final newline
printf '%s' "$(cat ec.key)" >ec-nonl.key
expect_match "$(head -1 leaf.key)" 'BEGIN PRIVATE KEY' "leaf key is PKCS#8"
expect_match "$(head -1 rsa.key)" 'BEGIN RSA PRIVATE KEY' "traditional RSA key"
expect_match "$(head -1 ec.key)" 'BEGIN EC PRIVATE KEY' "traditional EC key"

# --- The checker: PyYAML reads the document back; every field must round-trip byte-exactly.
cat >check.py <<'EOF'
import sys, yaml
doc_path, key_path, cert_path, tkey_path, allow, hostname = sys.argv[1:7]
raw = open(doc_path, "rb").read()
text = raw.decode("ascii")
def want(cond, what):
    if not cond:
        print("mismatch: " + what)
        sys.exit(1)
want(text.startswith("#cloud-config\n"), "first line is #cloud-config")
want(len(raw) < 65536, "under 64 KiB")
for line in ("  - [systemctl, enable, node-agent]\n", "  - [systemctl, restart, node-agent]\n"):
    want(line in text, "runcmd line written exactly as %r" % line)
d = yaml.safe_load(text)
keys = {"write_files", "runcmd"} | ({"hostname"} if hostname else set())
want(set(d) == keys, "top-level keys %s" % sorted(d))
if hostname:
    want(d["hostname"] == hostname, "hostname")
want(d["runcmd"] == [["systemctl", "enable", "node-agent"], ["systemctl", "restart", "node-agent"]],
     "runcmd argv lists")
allows = allow.split(",")
conf = ("listen = 0.0.0.0:9999\nkey-file = /etc/node-agent/key\n"
        "tls-cert = /etc/node-agent/tls.crt\ntls-key = /etc/node-agent/tls.key\n"
        "data-root = /var/lib/node-agent\ndocker-socket = /var/run/docker.sock\n"
        + "".join("allow = %s\n" % a for a in allows))
files = [("/etc/node-agent/key", "0600", open(key_path, "rb").read().decode("ascii")),
         ("/etc/node-agent/tls.crt", "0644", open(cert_path).read()),
         ("/etc/node-agent/tls.key", "0600", open(tkey_path).read()),
         ("/etc/node-agent/agent.conf", "0644", conf)]
wf = d["write_files"]
want(len(wf) == len(files), "four write_files entries")
for entry, (path, perms, content) in zip(wf, files):
    want(entry.get("path") == path, "path %s" % path)
    want(entry.get("permissions") == perms and isinstance(entry["permissions"], str),
         "%s permissions %r" % (path, entry.get("permissions")))
    want(entry.get("owner") == "root:root", "%s owner" % path)
    want(set(entry) == {"path", "permissions", "owner", "content"}, "%s has no other settings" % path)
    want(entry.get("content") == content, "%s content round-trips byte-exactly" % path)
# Leave the written files where a test can use them, as cloud-init would.
out = sys.argv[7] if len(sys.argv) > 7 else None
if out:
    import os
    for entry in wf:
        p = os.path.join(out, entry["path"].lstrip("/"))
        os.makedirs(os.path.dirname(p), exist_ok=True)
        with open(p, "w") as f:
            f.write(entry["content"])
        os.chmod(p, int(entry["permissions"], 8))
print("ok")
EOF

# render NAME KEYFILE CERT TLSKEY ALLOWS(comma) HOSTNAME: renders, then cloud-init and PyYAML.
render() {
    local name=$1 keyf=$2 cert=$3 tkey=$4 allows=$5 host=$6 args=() a out rc=0
    IFS=, read -ra a <<<"$allows"
    for x in "${a[@]}"; do args+=(--allow "$x"); done
    [ -n "$host" ] && args+=(--hostname "$host")
    "$CLI" --key-file "$keyf" --cert-file "$cert" --tls-key-file "$tkey" "${args[@]}" \
        >"$name.yaml" 2>"$name.err" || rc=$?
    expect_eq "$rc" 0 "$name: rendered ($(cat "$name.err"))"
    out=$(cloud-init schema --config-file "$name.yaml" 2>&1) && rc=0 || rc=$?
    expect_eq "$rc" 0 "$name: cloud-init schema exit status ($out)"
    expect_match "$out" "^Valid cloud-config: $name.yaml" "$name: cloud-init schema verdict"
    out=$("$PY" check.py "$name.yaml" "$keyf" "$cert" "$tkey" "$allows" "$host" "${7:-}" 2>&1) || true
    expect_eq "$out" ok "$name: PyYAML round trip"
}

printf '%s' "$(openssl rand -hex 16)" >k-hex
render plain k-hex leaf.crt leaf.key 127.0.0.1/32 ""

# Keys with YAML-significant characters, and keys YAML would read as other types if unquoted.
i=0
for k in 'k#ey:with"quotes'"'"'and\backslash' '"starts-with-quote"' "'single-quoted-look'" \
    '- [not, a, list]' '&anchor*alias!tag|>%@`' 'key: value #comment' '{flow: mapping}}' \
    'nullnullnullnull' '0x00000000000001' '1e10000000000000' '~~~~~~~~~~~~~~~~' \
    '\x41\u0042\n\t\\"\0000000'; do
    i=$((i + 1))
    printf '%s' "${k// /_}" >"k-odd$i"
    render "odd$i" "k-odd$i" leaf.crt leaf.key 127.0.0.1/32 ""
done
# The longest key: 256 characters, every printable one but space.
"$PY" -c 'import sys; s="".join(chr(c) for c in range(33,127)); sys.stdout.write((s*3)[:256])' >k-max
expect_eq "$(wc -c <k-max)" 256 "longest key length"
render maxkey k-max leaf.crt leaf.key 127.0.0.1/32 ""

render chain-rsa k-odd1 chain.crt rsa.key 10.0.0.0/8,192.168.1.0/24,203.0.113.7 web-1.example.com
allow16=$(seq -s, -f '10.0.%g.0/24' 1 16)
render nonl-ec k-hex root-nonl.crt ec-nonl.key "$allow16" n1

# --- The agent takes the rendered agent.conf, and serves HTTPS from the files cloud-init wrote.
mkdir -p root
render served k-odd1 chain.crt leaf.key 127.0.0.1/32 served-host "$T/root"
out=$("${DP_BIN:?}/node-agent" --config root/etc/node-agent/agent.conf --check 2>&1) || true
expect_eq "$out" "configuration ok" "node-agent --check takes the rendered agent.conf"
expect_eq "$(stat -c %a root/etc/node-agent/key root/etc/node-agent/tls.key | sort -u)" 600 \
    "secret files are 0600"
port=$(free_port)
mkdir -p agent-served/data
# The paths under /etc and the port are moved into the test folder; the rest is the rendering.
"$DP_BIN/node-agent" --config root/etc/node-agent/agent.conf --listen "127.0.0.1:$port" \
    --key-file root/etc/node-agent/key --tls-cert root/etc/node-agent/tls.crt \
    --tls-key root/etc/node-agent/tls.key --data-root "$T/agent-served/data" --namespace "$NS" \
    >agent-served/log 2>&1 &
served_PID=$!
served_LOG=$T/agent-served/log
IT_AGENTS+=(served)
IT_PIDS+=("$served_PID")
if wait_for 15 grep -q 'serving on' agent-served/log; then
    URL="https://127.0.0.1:$port"
    KEY=$(cat k-odd1)
    req GET /ping --cacert root.crt
    expect_status 200 "agent from rendered files answers over HTTPS through the chain"
    KEY=wrong-key-0123456789
    req GET /ping --cacert root.crt
    expect_status 401 "a wrong key is refused"
else
    fail "agent from the rendered files did not start: $(tail -5 agent-served/log)"
fi
agent_stop served

# --- Refusals: exit 1, the field named, no secret printed.
refuse() { # name expected-code args...
    local name=$1 code=$2 rc=0
    shift 2
    "$CLI" "$@" >/dev/null 2>"$name.err" || rc=$?
    expect_eq "$rc" 1 "$name: refused"
    expect_match "$(cat "$name.err")" "^$code: " "$name: error code"
    ok
    if [ -s "$name.secret" ] && grep -qF -- "$(head -c 12 "$name.secret")" "$name.err"; then
        fail "$name: the message shows the secret: $(cat "$name.err")"
    fi
}
base=(--cert-file leaf.crt --tls-key-file leaf.key --allow 127.0.0.1)
printf 'SECRET with space-0123' >short.secret
refuse short invalid_agent_key --key-file short.secret "${base[@]}"
printf '%s\n' "$(cat k-hex)" >nl.secret
refuse nl invalid_agent_key --key-file nl.secret "${base[@]}"
{ echo "Bag Attributes: SECRET"; cat leaf.key; } >bag.secret
refuse bag invalid_tls_key --key-file k-hex --cert-file leaf.crt --tls-key-file bag.secret \
    --allow 127.0.0.1
sed -n 2p leaf.key >keyline.secret
{ cat leaf.key; cat leaf.key; } >two.key
cp keyline.secret two.secret
refuse two invalid_tls_key --key-file k-hex --cert-file leaf.crt --tls-key-file two.key \
    --allow 127.0.0.1
ossl pkcs8 -topk8 -in leaf.key -passout pass:pw -out enc.key
cp keyline.secret enc.secret
refuse enc invalid_tls_key --key-file k-hex --cert-file leaf.crt --tls-key-file enc.key \
    --allow 127.0.0.1
head -n -1 chain.crt >noend.crt
sed -n 2p chain.crt >noend.secret
refuse noend invalid_tls_cert --key-file k-hex --cert-file noend.crt --tls-key-file leaf.key \
    --allow 127.0.0.1
sed 's/$/\r/' leaf.crt >crlf.crt
refuse crlf invalid_tls_cert --key-file k-hex --cert-file crlf.crt --tls-key-file leaf.key \
    --allow 127.0.0.1
refuse allow invalid_allow --key-file k-hex "${base[@]}" --allow '10.0.0.0/8 # x'
refuse noallow invalid_allow --key-file k-hex --cert-file leaf.crt --tls-key-file leaf.key
refuse host invalid_hostname --key-file k-hex "${base[@]}" --hostname 'a b'
# 64 KiB: a chain of 16 long certificates is too much user-data.
"$PY" -c 'print(("-----BEGIN CERTIFICATE-----\n" + "QUJD" * 16 + "\n") * 1 +
    ("QUJD" * 16 + "\n") * 69 + "-----END CERTIFICATE-----")' >one-long.crt
for _ in $(seq 16); do cat one-long.crt; done >huge.crt
refuse huge user_data_too_large --key-file k-hex --cert-file huge.crt --tls-key-file leaf.key \
    --allow 127.0.0.1

# --- Bake-time user-data: cloud-init schema, a PyYAML round trip of every value, the written
# agent.conf through `node-agent --check`, the firewall loaded by the real nft in network
# namespaces of its own (port 9999 and 22 answered or dropped by source address), the firewall
# unit and the agent's unit through systemd-analyze verify.
cat >bake_check.py <<'EOF'
import os, sys, yaml
doc_path, key_path, url, sha, allow, ssh, pkgs, out = sys.argv[1:9]
raw = open(doc_path, "rb").read()
text = raw.decode("ascii")
def want(cond, what):
    if not cond:
        print("mismatch: " + what)
        sys.exit(1)
want(text.startswith("#cloud-config\n"), "first line is #cloud-config")
want(len(raw) < 65536, "under 64 KiB")
d = yaml.safe_load(text)
want(set(d) == {"package_update", "package_upgrade", "packages", "write_files", "runcmd"},
     "top-level keys %s" % sorted(d))
want(d["package_update"] is True and d["package_upgrade"] is True, "update and upgrade")
base = ["docker.io", "nftables", "curl", "ca-certificates", "libcivetweb1", "libcurl4",
        "libjansson4", "libarchive13", "libssl3", "libgit2-1.5"]
extra = [p for p in pkgs.split(",") if p]
want(d["packages"] == base + extra, "packages %r" % d["packages"])
allows = allow.split(",")
conf = ("listen = 0.0.0.0:9999\nkey-file = /etc/node-agent/key\n"
        "bake-key-file = /etc/node-agent/bake-key\n"
        "data-root = /var/lib/node-agent\ndocker-socket = /var/run/docker.sock\n"
        + "".join("allow = %s\n" % a for a in allows))
wf = d["write_files"]
want([e["path"] for e in wf] == ["/etc/node-agent/bake-key", "/etc/node-agent/agent.conf.bake",
     "/etc/node-agent/firewall.nft", "/etc/systemd/system/node-agent-firewall.service"],
     "write_files paths")
want([e["permissions"] for e in wf] == ["0600", "0644", "0644", "0644"], "permissions")
want(all(e["owner"] == "root:root" and set(e) == {"path", "permissions", "owner", "content"}
         for e in wf), "owners, no other settings")
want(wf[0]["content"] == open(key_path).read(), "bake key round-trips byte-exactly")
want(wf[1]["content"] == conf, "agent.conf: %r" % wf[1]["content"])
fw = wf[2]["content"]
want(("ip saddr { %s } accept" % ", ".join(allows)) in fw, "port 9999 set")
if ssh:
    want(("tcp dport 22 ip saddr { %s } accept\n" % ", ".join(ssh.split(","))) in fw, "ssh set")
else:
    want("dport 22 ip saddr" not in fw, "no ssh accept rule")
want(d["runcmd"] == [
    "set -e",
    ["nft", "-f", "/etc/node-agent/firewall.nft"],
    ["systemctl", "enable", "node-agent-firewall.service"],
    ["curl", "-fsSL", "--retry", "5", "-o", "/tmp/node-agent.tar.gz", url],
    'echo "%s  /tmp/node-agent.tar.gz" | sha256sum -c -' % sha,
    ["tar", "-xzf", "/tmp/node-agent.tar.gz", "-C", "/"],
    ["rm", "-f", "/tmp/node-agent.tar.gz"],
    ["mv", "-f", "/etc/node-agent/agent.conf.bake", "/etc/node-agent/agent.conf"],
    ["systemctl", "daemon-reload"],
    ["systemctl", "enable", "node-agent"],
    ["systemctl", "restart", "node-agent"]], "runcmd %r" % d["runcmd"])
os.makedirs(out, exist_ok=True)
for e in wf:
    with open(os.path.join(out, os.path.basename(e["path"])), "w") as f:
        f.write(e["content"])
print("ok")
EOF

SHA=$(printf 'x' | sha256sum | cut -d' ' -f1)
# bake NAME URL ALLOWS SSH PKGS: renders, then cloud-init, PyYAML, agent --check, the firewall.
bake() {
    local name=$1 url=$2 allows=$3 ssh=$4 pkgs=$5 args=() x out rc=0 a
    IFS=, read -ra a <<<"$allows"
    for x in "${a[@]}"; do args+=(--allow "$x"); done
    IFS=, read -ra a <<<"$ssh"
    for x in "${a[@]}"; do args+=(--ssh-allow "$x"); done
    IFS=, read -ra a <<<"$pkgs"
    for x in "${a[@]}"; do args+=(--package "$x"); done
    "$CLI" bake --url "$url" --sha256 "$SHA" --bake-key-file k-odd1 "${args[@]}" \
        >"$name.yaml" 2>"$name.err" || rc=$?
    expect_eq "$rc" 0 "$name: rendered ($(cat "$name.err"))"
    out=$(cloud-init schema --config-file "$name.yaml" 2>&1) && rc=0 || rc=$?
    expect_eq "$rc" 0 "$name: cloud-init schema exit status ($out)"
    expect_match "$out" "^Valid cloud-config: $name.yaml" "$name: cloud-init schema verdict"
    out=$("$PY" bake_check.py "$name.yaml" k-odd1 "$url" "$SHA" "$allows" "$ssh" "$pkgs" \
        "$T/$name.files" 2>&1) || true
    expect_eq "$out" ok "$name: PyYAML round trip"
    out=$("$DP_BIN/node-agent" --config "$name.files/agent.conf.bake" --check 2>&1) || true
    expect_eq "$out" "configuration ok" "$name: node-agent --check takes the bake's agent.conf"
    out=$(unshare --net sh -c "nft -f $name.files/firewall.nft && nft -f $name.files/firewall.nft && nft list ruleset" 2>&1) && rc=0 || rc=$?
    expect_eq "$rc" 0 "$name: nft loads the firewall (twice: it replaces its own table) ($out)"
    expect_match "$out" "type filter hook forward priority filter - 10; policy accept;"$'\n'"[[:space:]]*ip daddr 169.254.169.254 drop" \
        "$name: forwarded traffic to the metadata service is dropped"
    expect_match "$out" "tcp dport 9999 drop"$'\n'".*tcp dport 22 drop" "$name: 9999 and 22 closed to the rest"
    expect_eq "$(grep -c '^table' <<<"$out")" 1 "$name: one table of its own"
}
bake bake-plain "http://127.0.0.1:8080/agent/node-agent-0.1.0-linux-amd64.tar.gz" 127.0.0.1 "" ""
bake bake-ssh-pkgs "https://ctl.example.com:8443/agent/node-agent.tar.gz?v=0.1.0&x=(1)" \
    10.99.0.2,192.168.0.0/16,0.0.0.0/32 10.99.0.4,203.0.113.0/24 htop,null,g++,libfoo1.2-dev
bake bake-16 "http://10.0.0.1/a" "$allow16" "$allow16" "$(seq -s, -f 'pkg%g' 1 64)"

# The firewall at work: a server namespace with the rules and listeners on 9999 and 22, a
# client namespace with addresses inside and outside the allowed ones.
NSA="dpfw-$$-s" NSB="dpfw-$$-c"
fw_cleanup() {
    [ -n "${FW_PIDS:-}" ] && kill $FW_PIDS 2>/dev/null
    ip netns del "$NSA" 2>/dev/null
    ip netns del "$NSB" 2>/dev/null
    return 0
}
IT_EXTRA_CLEANUP="fw_cleanup"
if ip netns add "$NSA" && ip netns add "$NSB" &&
    ip link add "dpv$$a" netns "$NSA" type veth peer name "dpv$$b" netns "$NSB"; then
    ip -n "$NSA" addr add 10.99.0.1/24 dev "dpv$$a"
    for a in 2 3 4 5; do ip -n "$NSB" addr add "10.99.0.$a/24" dev "dpv$$b"; done
    for n in "$NSA" "$NSB"; do ip -n "$n" link set lo up; done
    ip -n "$NSA" link set "dpv$$a" up
    ip -n "$NSB" link set "dpv$$b" up
    ip netns exec "$NSA" nft -f bake-ssh-pkgs.files/firewall.nft || fail "nft -f in the namespace"
    FW_PIDS=""
    for port in 9999 22; do
        ip netns exec "$NSA" "$PY" -m http.server "$port" --bind 10.99.0.1 >/dev/null 2>&1 &
        FW_PIDS="$FW_PIDS $!"
    done
    wait_for 10 ip netns exec "$NSA" curl -sf -o /dev/null http://10.99.0.1:9999/ || fail "listener in the namespace"
    reach() { # SOURCE PORT: "open" or "dropped"
        ip netns exec "$NSB" curl -s -o /dev/null --max-time 2 --interface "10.99.0.$1" \
            "http://10.99.0.1:$2/" && echo open || echo dropped
    }
    expect_eq "$(reach 2 9999)" open "9999 from an allowed address"
    expect_eq "$(reach 3 9999)" dropped "9999 from another address"
    expect_eq "$(reach 4 22)" open "22 from an emergency admin address"
    expect_eq "$(reach 2 22)" dropped "22 from a controller address"
    ip netns exec "$NSA" nft -f bake-plain.files/firewall.nft || fail "nft -f: the ruleset without SSH"
    expect_eq "$(reach 4 22)" dropped "22 from anywhere without emergency admin addresses"
    expect_eq "$(reach 2 9999)" dropped "9999 from an address the new ruleset does not allow"
    fw_cleanup
    FW_PIDS=""
else
    fail "cannot make network namespaces for the firewall test"
fi

# The units: the bake's firewall unit as written, and the agent's (ExecStart pointed at the
# built binary: verify checks that it exists).
mkdir -p units
cp bake-plain.files/node-agent-firewall.service units/
rc=0; out=$(systemd-analyze verify units/node-agent-firewall.service 2>&1) || rc=$?
expect_eq "$rc:$out" "0:" "systemd-analyze verify node-agent-firewall.service"
sed -e "s#/usr/bin/node-agent#$DP_BIN/node-agent#g" "$DP_SRC/packaging/node-agent.service" \
    >units/node-agent.service
rc=0; out=$(systemd-analyze verify units/node-agent.service 2>&1) || rc=$?
expect_eq "$rc:$out" "0:" "systemd-analyze verify node-agent.service"

# Bake refusals: exit 1, the field named, the bake key never printed.
bbase=(--url http://127.0.0.1/p.tgz --sha256 "$SHA" --allow 127.0.0.1)
for n in b-url b-scheme b-sha b-allow b-ssh b-pkg b-pkg2; do cp k-odd1 "$n.secret"; done
refuse b-url invalid_agent_url bake --bake-key-file k-odd1 --url 'http://h/$(id)' --sha256 "$SHA" \
    --allow 127.0.0.1
refuse b-scheme invalid_agent_url bake --bake-key-file k-odd1 --url file:///etc/passwd \
    --sha256 "$SHA" --allow 127.0.0.1
refuse b-sha invalid_agent_sha256 bake --bake-key-file k-odd1 --url http://h/p \
    --sha256 "${SHA^^}" --allow 127.0.0.1
printf 'SECRET bake key with spaces' >bspace.secret
refuse b-key invalid_bake_key bake --bake-key-file bspace.secret "${bbase[@]}"
refuse b-allow invalid_allow bake --bake-key-file k-odd1 --url http://h/p --sha256 "$SHA"
refuse b-ssh invalid_ssh_allow bake --bake-key-file k-odd1 "${bbase[@]}" --ssh-allow '0.0.0.0/0 #'
refuse b-pkg invalid_packages bake --bake-key-file k-odd1 "${bbase[@]}" --package 'x; rm -rf /'
refuse b-pkg2 invalid_packages bake --bake-key-file k-odd1 "${bbase[@]}" --package Docker
