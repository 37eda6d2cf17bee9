#!/usr/bin/env bash
# What a server installs: the package archive (checksum, exact file list, a binary that runs
# and serves HTTPS from wherever it is unpacked), the systemd unit (systemd-analyze verify,
# hardening), the default config, `cmake --install` with another prefix, and the .deb
# (control fields, files, conffiles, maintainer scripts, Depends against dpkg-shlibdeps).
. "$(dirname "$0")/lib.sh"
it_init packaging

VERSION=$(cat "$DP_SRC/VERSION")
ARCH=$(dpkg --print-architecture)
ARCHIVE="$DP_BUILD/package/node-agent-$VERSION-linux-$ARCH.tar.gz"
EXPECTED_FILES="etc/node-agent/agent.conf
lib/systemd/system/node-agent.service
usr/bin/node-agent
usr/lib/deploy-infra/libcrypto.so
usr/lib/deploy-infra/libssl.so"

# The archive from the normal build, its checksum, and exactly the expected files, as root.
[ -f "$ARCHIVE" ] || { fail "no package archive at $ARCHIVE"; exit 1; }
ok
expect_match "$(cat "$ARCHIVE.sha256")" "^[0-9a-f]{64}  node-agent-$VERSION-linux-$ARCH\\.tar\\.gz\$" ".sha256 format"
out=$(cd "$(dirname "$ARCHIVE")" && sha256sum -c "$(basename "$ARCHIVE").sha256" 2>&1) || true
expect_match "$out" ': OK$' "archive checksum matches"
expect_eq "$(tar -tzf "$ARCHIVE" | sort)" "$EXPECTED_FILES" "archive file list (files only, no directory entries)"
expect_eq "$(tar -tvzf "$ARCHIVE" | awk '{print $2}' | sort -u)" "0/0" "archive entries owned by root"
expect_match "$(tar -tvzf "$ARCHIVE" usr/bin/node-agent)" '^-rwxr-xr-x' "binary mode"

# Unpacked into a droplet-like root: it runs from there and finds its TLS shims beside itself.
ROOT="$T/root"
mkdir -p "$ROOT"
tar -C "$ROOT" -xzf "$ARCHIVE"
expect_eq "$("$ROOT/usr/bin/node-agent" --version)" "node-agent $VERSION" "unpacked --version"
out=$("$ROOT/usr/bin/node-agent" --config "$ROOT/etc/node-agent/agent.conf" --check 2>&1) || true
expect_eq "$out" "configuration ok" "default agent.conf passes --check"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout "$T/key.pem" -out "$T/cert.pem" -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
DP_BIN="$ROOT/usr/bin" agent_start p --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
req GET /ping --cacert "$T/cert.pem"
expect_status 200 "unpacked agent serves HTTPS"
expect_json .version "$VERSION" "unpacked agent version"
expect_match "$(awk '{print $6}' "/proc/$p_PID/maps" | sort -u)" "$ROOT/usr/lib/deploy-infra/libssl\\.so" \
    "unpacked agent loaded the shim from its own tree"
agent_stop p

# The unit: the directives that matter, then systemd-analyze on a copy whose paths point into
# the unpacked tree (verify checks that ExecStart exists; this machine has no /usr/bin/node-agent).
UNIT="$ROOT/lib/systemd/system/node-agent.service"
for line in 'ExecStart=/usr/bin/node-agent --config /etc/node-agent/agent.conf' \
    'ExecReload=/bin/kill -HUP $MAINPID' 'Restart=always' 'NoNewPrivileges=yes' \
    'ProtectSystem=strict' 'ProtectHome=yes' 'PrivateTmp=yes' 'ReadWritePaths=/var/lib/node-agent' \
    'ProtectKernelTunables=yes' 'ProtectControlGroups=yes' 'RestrictSUIDSGID=yes' \
    'LockPersonality=yes' 'ConditionFileNotEmpty=|/etc/node-agent/key' \
    'ConditionFileNotEmpty=|/etc/node-agent/bake-key' 'ReadWritePaths=-/etc/node-agent -/var/lib/cloud' \
    'WantedBy=multi-user.target'; do
    grep -qxF "$line" "$UNIT" || fail "unit lacks '$line'"
    ok
done
expect_match "$(grep '^RestrictAddressFamilies=' "$UNIT")" 'AF_UNIX' "unit keeps the Docker socket reachable"
expect_no_match "$(grep -E '^(InaccessiblePaths|ReadOnlyPaths|NoExecPaths)=' "$UNIT" || true)" '/usr|/run|/var/run' \
    "unit hides neither the shims nor the Docker socket"
mkdir -p "$T/units"
sed -e "s#/usr/bin/node-agent#$ROOT/usr/bin/node-agent#g" -e "s#/etc/node-agent#$ROOT/etc/node-agent#g" \
    "$UNIT" >"$T/units/node-agent.service"
rc=0; out=$(systemd-analyze verify "$T/units/node-agent.service" 2>&1) || rc=$?
expect_eq "$rc" 0 "systemd-analyze verify exit status"
expect_eq "$out" "" "systemd-analyze verify has no complaint"
rc=0; out=$(systemd-analyze security --offline=yes --threshold=40 "$T/units/node-agent.service" 2>&1) || rc=$?
expect_eq "$rc" 0 "systemd-analyze security: exposure at most 4.0 ($(tail -1 <<<"$out"))"

# cmake --install elsewhere: the prefix lands in ExecStart; /etc and the unit stay absolute
# (under DESTDIR), and the shims sit at <prefix>/lib/deploy-infra as the binary expects.
DESTDIR="$T/inst" cmake --install "$DP_BUILD" --component agent --prefix /opt/na >"$T/install.log" 2>&1 ||
    fail "cmake --install: $(tail -5 "$T/install.log")"
for f in opt/na/bin/node-agent opt/na/lib/deploy-infra/libssl.so opt/na/lib/deploy-infra/libcrypto.so \
    etc/node-agent/agent.conf lib/systemd/system/node-agent.service; do
    [ -f "$T/inst/$f" ] || fail "cmake --install did not place $f"
    ok
done
expect_match "$(grep '^ExecStart=' "$T/inst/lib/systemd/system/node-agent.service")" \
    '^ExecStart=/opt/na/bin/node-agent --config /etc/node-agent/agent.conf$' "installed unit follows the prefix"

# The .deb, built into this test's folder.
cpack -G DEB --config "$DP_BUILD/CPackConfig.cmake" -B "$T/deb" >"$T/cpack.log" 2>&1 ||
    fail "cpack: $(tail -5 "$T/cpack.log")"
DEB="$T/deb/node-agent_${VERSION}_$ARCH.deb"
[ -f "$DEB" ] || { fail "no .deb at $DEB"; exit 1; }
ok
info=$(dpkg-deb -I "$DEB")
expect_eq "$(dpkg-deb -f "$DEB" Package)" node-agent "deb Package"
expect_eq "$(dpkg-deb -f "$DEB" Version)" "$VERSION" "deb Version"
expect_eq "$(dpkg-deb -f "$DEB" Architecture)" "$ARCH" "deb Architecture"
depends=$(dpkg-deb -f "$DEB" Depends)
for p in libcivetweb1 libcurl4 libjansson4 libarchive13 libssl3 libgit2-1.5 'docker.io | docker-ce'; do
    pat=${p//./\\.}
    expect_match "$depends" "(^|, )${pat//|/\\|}( \\(|,|\$)" "deb Depends on $p"
done
for p in $(tr ',|' '\n\n' <<<"$depends" | sed 's/(.*//; s/ //g' | sort -u); do
    # docker-ce is Docker's own package, the alternative to Debian's docker.io.
    [ "$p" = docker-ce ] && continue
    apt-cache show "$p" >/dev/null 2>&1 || dpkg -s "$p" >/dev/null 2>&1 || fail "Depends names $p, not a Debian package here"
    ok
done
for s in postinst prerm postrm conffiles; do
    expect_match "$info" " $s " "deb has $s"
done
dpkg-deb -e "$DEB" "$T/control"
expect_eq "$(cat "$T/control/conffiles")" /etc/node-agent/agent.conf "conffiles"
for s in postinst prerm postrm; do
    sh -n "$T/control/$s" || fail "$s is not valid sh"
    ok
done
# Without a key nothing starts: the one restart in postinst sits under the key-file test.
expect_eq "$(grep -cE 'systemctl (start|restart)' "$T/control/postinst")" 1 "postinst starts the agent in one place"
expect_match "$(grep -B1 -E 'systemctl (start|restart)' "$T/control/postinst" | head -1)" '\[ -s /etc/node-agent/key \]' \
    "postinst starts the agent only with a key"
expect_eq "$(dpkg-deb -c "$DEB" | awk '$1 !~ /^d/ {print $6}' | sed 's#^\./##' | sort)" "$EXPECTED_FILES" "deb file list"
expect_eq "$(dpkg-deb -c "$DEB" | awk '{print $2}' | sort -u)" "root/root" "deb files owned by root"

# Depends covers what the binaries need, by dpkg-shlibdeps (libraries linked but unused, as a
# sanitizer build leaves them, are left out: the package would not need them).
dpkg-deb -x "$DEB" "$T/debroot"
mkdir -p "$T/shl/debian"
touch "$T/shl/debian/control"
(cd "$T/shl" && dpkg-shlibdeps -O "$T/debroot/usr/bin/node-agent" "$T/debroot"/usr/lib/deploy-infra/*.so) \
    >"$T/shl/out" 2>"$T/shl/warn" || fail "dpkg-shlibdeps: $(cat "$T/shl/warn")"
unused=""
# A sanitizer build's binaries also need the runtime's own libraries; a shipped build does not.
[ "${DP_SANITIZE:-0}" = 1 ] && unused="libgcc-s1 libstdc++6"
for lib in $(sed -n 's/.*not linked against \([^ ]*\) (it uses none.*/\1/p' "$T/shl/warn"); do
    unused+=" $(dpkg -S "*/$lib" 2>/dev/null | head -1 | cut -d: -f1)"
done
for p in $(sed 's/^shlibs:Depends=//' "$T/shl/out" | tr ',' '\n' | sed 's/(.*//; s/ //g'); do
    [[ " $unused " == *" $p "* ]] && continue
    expect_match "$depends" "(^|, )${p//./\\.}( |,|\$)" "Depends covers $p (dpkg-shlibdeps)"
done
