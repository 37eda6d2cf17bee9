#!/usr/bin/env bash
# HTTPS on the agent with Debian's civetweb 1.15 and OpenSSL 3 through our shims
# (packaging/TLS-NOTES.md): a pinned P-256 certificate, TLS 1.2 floor and forward-secret
# ciphers, no plain HTTP on the TLS port, auth over TLS, SIGTERM with TLS connections open,
# and clean start-up errors for bad certificate files or missing shims.
. "$(dirname "$0")/lib.sh"
it_init agent_tls

SHIMS="$DP_BUILD/lib/deploy-infra"

# Every OpenSSL name civetweb looks up (its table, read from the library itself) resolves
# through the shim it dlopen()s, as civetweb's dlsym(handle, name) will.
civetweb_lib=$(ldconfig -p | awk '/libcivetweb\.so\.1 /{print $NF; exit}')
strings "$civetweb_lib" | grep -E '^(SSL|TLS|OPENSSL|ERR|X509|EVP|BN|ASN1|CRYPTO|CONF|i2d)_[A-Za-z0-9_]*$' |
    sort -u >"$T/civetweb-syms"
expect_match "$(wc -l <"$T/civetweb-syms")" '^(5[0-9]|6[0-9])$' "civetweb's OpenSSL table was found"
missing=$(python3 - "$SHIMS" "$T/civetweb-syms" <<'EOF'
import ctypes, re, sys
crypto = ctypes.CDLL(sys.argv[1] + "/libcrypto.so", mode=ctypes.RTLD_GLOBAL)
ssl = ctypes.CDLL(sys.argv[1] + "/libssl.so", mode=ctypes.RTLD_GLOBAL)
for name in open(sys.argv[2]).read().split():
    lib = ssl if re.match(r"(SSL|TLS|OPENSSL)_", name) else crypto
    if not hasattr(lib, name):
        print(name)
EOF
)
expect_eq "$missing" "" "civetweb symbols the shims do not resolve"
expect_match "$(readelf -d "$SHIMS/libssl.so")" 'SONAME.*\[libssl\.so\]' "ssl shim SONAME"
expect_match "$(readelf -d "$SHIMS/libssl.so")" 'NEEDED.*\[libssl\.so\.3\]' "ssl shim needs libssl.so.3"
expect_match "$(readelf -d "$SHIMS/libcrypto.so")" 'SONAME.*\[libcrypto\.so\]' "crypto shim SONAME"
expect_match "$(readelf -d "$SHIMS/libcrypto.so")" 'NEEDED.*\[libcrypto\.so\.3\]' "crypto shim needs libcrypto.so.3"

# A P-256 self-signed certificate for 127.0.0.1, and its curl pin (SHA-256 of the DER SPKI).
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -days 2 \
    -keyout "$T/key.pem" -out "$T/cert.pem" -subj "/CN=127.0.0.1" \
    -addext "subjectAltName=IP:127.0.0.1" 2>/dev/null
chmod 600 "$T/key.pem"
pin=$(openssl x509 -in "$T/cert.pem" -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | openssl base64 -A)
wrong_pin=$(openssl rand 32 | openssl base64 -A)

agent_start a --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
expect_match "$URL" '^https://' "agent URL scheme"
expect_match "$(cat "$a_LOG")" 'serving on .* \(https\)' "log says https"

req GET /ping --cacert "$T/cert.pem"
expect_status 200 "ping over TLS, CA file"
expect_json .version "$(cat "$DP_SRC/VERSION")" "ping version over TLS"
req GET /ping --cacert "$T/cert.pem" --pinnedpubkey "sha256//$pin"
expect_status 200 "ping over TLS, CA file and pin"
req GET /ping -k --pinnedpubkey "sha256//$pin"
expect_status 200 "ping over TLS, pin only (the controller's way)"
rc=0; curl -sS -o /dev/null -k --pinnedpubkey "sha256//$wrong_pin" -H "X-API-Key: $KEY" \
    "$URL/ping" 2>"$T/pin.err" || rc=$?
expect_eq "$rc" 90 "wrong pin: curl's pinned-key mismatch"
rc=0; curl -sS -o /dev/null -H "X-API-Key: $KEY" "$URL/ping" 2>/dev/null || rc=$?
expect_eq "$rc" 60 "unpinned, untrusted certificate is refused by curl"

# Auth is the same over TLS.
req_noauth GET /ping --cacert "$T/cert.pem"
expect_status 401 "no key over TLS"
expect_json .error unauthorized "no key over TLS error code"
req_noauth GET /no/such/route --cacert "$T/cert.pem"
expect_status 401 "no key on an unknown route over TLS"

# The TLS port speaks nothing else: plain HTTP gets no answer, and HTTPS still works after.
rc=0; out=$(curl -sS --max-time 10 -H "X-API-Key: $KEY" "http://127.0.0.1:$a_PORT/ping" 2>&1) || rc=$?
expect_match "$rc" '^(52|56)$' "plain HTTP to the TLS port fails ($out)"
expect_no_match "$out" '"status"' "plain HTTP gets no JSON"
req GET /ping --cacert "$T/cert.pem"
expect_status 200 "HTTPS after a plain-HTTP attempt"

# Protocol floor and ciphers: the server itself refuses TLS 1.1 and a non-forward-secret cipher.
out=$(echo Q | timeout 10 openssl s_client -connect "127.0.0.1:$a_PORT" -tls1_1 \
    -cipher 'DEFAULT@SECLEVEL=0' 2>&1) || true
expect_match "$out" 'alert protocol version' "TLS 1.1 refused by the server"
out=$(echo Q | timeout 10 openssl s_client -connect "127.0.0.1:$a_PORT" -tls1_2 -cipher AES128-SHA 2>&1) || true
expect_match "$out" 'alert handshake failure' "static-RSA cipher refused by the server"
out=$(curl -sS -v -o /dev/null --cacert "$T/cert.pem" --tlsv1.2 --tls-max 1.2 -H "X-API-Key: $KEY" \
    "$URL/ping" 2>&1) || true
expect_match "$out" 'SSL connection using TLSv1\.2 / ECDHE-ECDSA-(AES(128|256)-GCM|CHACHA20)' "TLS 1.2 with ECDHE+AEAD"
out=$(curl -sS -v -o /dev/null --cacert "$T/cert.pem" -H "X-API-Key: $KEY" "$URL/ping" 2>&1) || true
expect_match "$out" 'SSL connection using TLSv1\.3' "TLS 1.3 by default"

# Keep-alive over TLS: two requests, one connection.
out=$(curl -sS -v --cacert "$T/cert.pem" -H "X-API-Key: $KEY" "$URL/ping" "$URL/ping" 2>&1) || true
expect_match "$out" '(Re-using|Reusing) existing connection' "keep-alive over TLS"

# One OpenSSL in the process: the shims from the build tree and Debian's libssl.so.3 only.
maps=$(awk '$6 ~ /libssl|libcrypto/ {print $6}' "/proc/$a_PID/maps" | sort -u)
expect_match "$maps" "$SHIMS/libssl.so" "ssl shim mapped"
expect_match "$maps" "$SHIMS/libcrypto.so" "crypto shim mapped"
expect_eq "$(grep -c 'libssl\.so\.3$' <<<"$maps")" 1 "one libssl.so.3 mapped"

# SIGTERM with TLS connections open: idle after a request, mid-handshake, and a bare TCP one.
# The writer holds the connection open until $T/idle.stop appears (a bare sleep would outlive
# the test and keep ctest's output pipe open).
(printf 'GET /ping HTTP/1.1\r\nHost: a\r\nX-API-Key: %s\r\n\r\n' "$KEY"
    while [ ! -e "$T/idle.stop" ]; do sleep 0.2; done) 2>/dev/null |
    openssl s_client -connect "127.0.0.1:$a_PORT" -quiet >"$T/idle.out" 2>/dev/null &
idle=$!
exec 3<>"/dev/tcp/127.0.0.1/$a_PORT"
wait_for 10 grep -q '"status":"ok"' "$T/idle.out" || fail "request on the idle connection"
start=$(date +%s)
agent_stop a
expect_match "$(($(date +%s) - start))" '^([0-9]|1[0-4])$' "stopped within 15 s with TLS connections open"
exec 3<&-
touch "$T/idle.stop"
wait "$idle" 2>/dev/null || true

# Bad certificate files: exit 1 with the reason, never serve (neither TLS nor plain HTTP).
printf 'not a certificate\n' >"$T/junk.pem"
openssl ecparam -name prime256v1 -genkey -noout -out "$T/other.pem" 2>/dev/null
bad_start() { # name expected-message-regex flags...
    local name=$1 want=$2 rc=0 port
    shift 2
    port=$(free_port)
    timeout 30 "$DP_BIN/node-agent" --listen "127.0.0.1:$port" --key-file "$a_DIR/key" \
        --data-root "$a_DIR/data" --namespace "$NS" "$@" >"$T/$name.log" 2>&1 || rc=$?
    expect_eq "$rc" 1 "$name: exit status"
    expect_match "$(cat "$T/$name.log")" "$want" "$name: message"
    expect_no_match "$(cat "$T/$name.log")" 'serving on' "$name: did not serve"
    check_log_clean "$T/$name.log"
}
bad_start junk-cert 'TLS certificate .*junk\.pem is not a PEM certificate chain' \
    --tls-cert "$T/junk.pem" --tls-key "$T/key.pem"
bad_start junk-key 'TLS key .*junk\.pem is not an unencrypted PEM private key' \
    --tls-cert "$T/cert.pem" --tls-key "$T/junk.pem"
bad_start other-key 'TLS key .*other\.pem does not belong to certificate' \
    --tls-cert "$T/cert.pem" --tls-key "$T/other.pem"
bad_start missing-cert 'cannot read TLS certificate .*nope\.pem: No such file' \
    --tls-cert "$T/nope.pem" --tls-key "$T/key.pem"
openssl ec -in "$T/key.pem" -aes128 -passout pass:secret -out "$T/enc.pem" 2>/dev/null
bad_start encrypted-key 'TLS key .*enc\.pem is not an unencrypted PEM private key' \
    --tls-cert "$T/cert.pem" --tls-key "$T/enc.pem" </dev/null
rc=0; out=$("$DP_BIN/node-agent" --tls-cert "$T/cert.pem" 2>&1) || rc=$?
expect_eq "$rc" 2 "--tls-cert without --tls-key is a usage error"
# civetweb's own TLS suffix without a certificate would start TLS unprepared: refused.
rc=0; out=$(timeout 30 "$DP_BIN/node-agent" --listen "127.0.0.1:$(free_port)s" --key-file "$a_DIR/key" \
    --data-root "$a_DIR/data" 2>&1) || rc=$?
expect_eq "$rc" 1 "'s' port without a certificate: exit status"
expect_match "$out" "asks for TLS; give a certificate and key" "'s' port without a certificate: message"

# The binary without its shims next to it: a clear error naming the file, no crash.
mkdir -p "$T/lonely/bin"
cp "$DP_BIN/node-agent" "$T/lonely/bin/"
DP_BIN="$T/lonely/bin" bad_start no-shims "HTTPS needs $T/lonely/lib/deploy-infra/libcrypto\.so, which ships with this program" \
    --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
