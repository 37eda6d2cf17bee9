#!/usr/bin/env bash
# The controller's agent client (infra/dp_agentc*) and per-server certificates (infra/dp_tlsgen)
# against real agents, through tests/tools/agentc_check: a certificate made by dp_tlsgen served
# by the agent and pinned (the pin equals openssl's), wrong pin and wrong key, uploads, builds
# streamed event by event, failures with the agent's codes, JSON calls, an image copied from an
# HTTPS agent to a plain one without spooling (with bounded memory, and cancelled midway), a
# build cancelled by tick, an agent frozen with SIGSTOP mid-stream, an unreachable address, and
# many calls in parallel.
. "$(dirname "$0")/lib.sh"
it_init agentc
AC="$DP_BUILD/tests/agentc_check"
RUNS=0

# ac ARGS...: runs the driver; OUT is its stdout, RES the ok/error line, AC_RC its status,
# AC_MS its elapsed time, AC_RSS its peak RSS in KiB. Every run's output is kept to grep for
# secrets at the end; a sanitizer report fails the test.
ac() {
    RUNS=$((RUNS + 1))
    AC_RC=0
    OUT=$("$AC" "$@" 2>"$T/ac-$RUNS.err") || AC_RC=$?
    printf '%s\n' "$OUT" >>"$T/all.out"
    cat "$T/ac-$RUNS.err" >>"$T/all.out"
    check_log_clean "$T/ac-$RUNS.err"
    ac_parse
}

ac_parse() {
    RES=$(grep -E '^(ok|error) ' <<<"$OUT" | tail -n 1 || true)
    AC_MS=$(sed -n 's/^ms \([0-9]*\) .*/\1/p' <<<"$OUT" | tail -n 1)
    AC_RSS=$(sed -n 's/.* maxrss_kb \([0-9]*\)$/\1/p' <<<"$OUT" | tail -n 1)
    AC_GAP=$(sed -n 's/.* maxgap_ms \([0-9]*\) .*/\1/p' <<<"$OUT" | tail -n 1)
    case "$AC_RC $RES" in
    "0 ok "* | "1 error "*) ;;
    *) fail "driver exit status $AC_RC with result '$RES'" ;;
    esac
}

# ac_bg FILE ARGS...: the driver in the background, stdout into FILE; AC_PID.
ac_bg() {
    local file=$1
    shift
    RUNS=$((RUNS + 1))
    "$AC" "$@" >"$file" 2>"$T/ac-$RUNS.err" &
    AC_PID=$!
    AC_ERR="$T/ac-$RUNS.err"
}

ac_wait() { # file: waits for the background driver, then parses its output
    AC_RC=0
    wait "$AC_PID" || AC_RC=$?
    OUT=$(cat "$1")
    cat "$1" "$AC_ERR" >>"$T/all.out"
    check_log_clean "$AC_ERR"
    ac_parse
}

ms_between() { # RES-independent range check: value lo hi message
    IT_CHECKS=$((IT_CHECKS + 1))
    if [ -z "$1" ] || [ "$1" -lt "$2" ] || [ "$1" -gt "$3" ]; then
        fail "$4: $1 not in [$2, $3]"
    fi
}

version=$(cat "$DP_SRC/VERSION")

# ---- certificates from dp_tlsgen, served by the agent, pinned ----
mkdir -p "$T/tls" "$T/tls2"
ac gen-cert "$T/tls" agent-test 127.0.0.1
expect_match "$RES" '^ok sha256//[A-Za-z0-9+/]{43}=$' "gen-cert prints the pin"
pin=$(cat "$T/tls/pin")
cli_pin="sha256//$(openssl x509 -in "$T/tls/cert.pem" -pubkey -noout | openssl pkey -pubin -outform der |
    openssl dgst -sha256 -binary | openssl base64 -A)"
expect_eq "$pin" "$cli_pin" "dp_tlsgen pin equals openssl's"
expect_eq "$(stat -c %a "$T/tls/key.pem")" 600 "key file mode"
expect_match "$(openssl x509 -in "$T/tls/cert.pem" -noout -text)" 'IP Address:127\.0\.0\.1' "SAN has the IP"
ac gen-cert "$T/tls2" other-agent
other_pin=$(cat "$T/tls2/pin")

agent_start a --tls-cert "$T/tls/cert.pem" --tls-key "$T/tls/key.pem"
expect_match "$a_URL" '^https://' "agent a serves https"
req GET /ping -k --pinnedpubkey "$pin"
expect_status 200 "curl --pinnedpubkey accepts the generated certificate"
rc=0; curl -sS -o /dev/null -k --pinnedpubkey "$other_pin" -H "X-API-Key: $KEY" "$URL/ping" 2>/dev/null || rc=$?
expect_eq "$rc" 90 "curl refuses the other certificate's pin"
A=(--url "$a_URL" --key-file "$a_DIR/key" --pin "$pin")

# ---- ping, pins, keys ----
ac "${A[@]}" ping
expect_eq "$RES" "ok $version" "ping over https with the pin"
ac --url "$a_URL" --key-file "$a_DIR/key" --pin "$other_pin" ping
expect_match "$RES" "^error upstream_denied agent_pin_mismatch: agent 127\.0\.0\.1:$a_PORT presented a TLS key that does not match its pin" "wrong pin"
ac --url "$a_URL" --key-file "$a_DIR/key" ping
expect_match "$RES" '^error bad_request invalid_agent_target: .*https needs the agent.s key pin' "https without a pin"
ac --url "http://127.0.0.1:$a_PORT" --key-file "$a_DIR/key" --pin "$pin" ping
expect_match "$RES" '^error bad_request invalid_agent_target: .*not https' "a pin on an http url"
ac --url "http://127.0.0.1:$a_PORT" --key-file "$a_DIR/key" ping
expect_match "$RES" '^error unavailable agent_(connection_lost|unreachable)' "plain http to the https agent"
wrong_key="wrong-$(openssl rand -hex 12)"
ac --url "$a_URL" --key "$wrong_key" --pin "$pin" ping
expect_match "$RES" "^error upstream_denied agent_auth_failed: agent 127\.0\.0\.1:$a_PORT refused the agent key" "wrong key"
ac --url "$a_URL" --key "$wrong_key" --pin "$pin" wait-ready 10000
expect_match "$RES" '^error upstream_denied agent_auth_failed' "wait-ready: wrong key"
ms_between "$AC_MS" 0 1500 "wait-ready gives up at once on a wrong key"
ac --url "$a_URL" --key "$wrong_key" --pin "$pin" stream /build '{"path":"/app/x","tag":"x:1"}'
expect_match "$RES" '^error upstream_denied agent_auth_failed' "stream: wrong key"
ac "${A[@]}" wait-ready 5000
expect_eq "$RES" "ok ready" "wait-ready on a serving agent"

# ---- uploads and builds, streamed ----
mkdir -p "$T/app/www"
echo "agentc-app" >"$T/app/www/index.html"
printf 'FROM %s\nCOPY www /www\nRUN echo built > /www/built.txt\nCMD ["httpd","-f","-p","8080","-h","/www"]\n' \
    "$TEST_IMAGE" >"$T/app/Dockerfile"
tar -C "$T/app" -cf "$T/app.tar" .
ac "${A[@]}" --req-id agentc-upload-1 upload /app/web "$T/app.tar" clean
expect_match "$RES" '^ok \{"path":"/app/web","files":[0-9]+,"bytes":[0-9]+\}' "upload from a file (Content-Length)"
expect_match "$(cat "$a_LOG")" 'req=agentc-upload-1 upload path=/app/web' "X-Request-Id reaches the agent's log"
ac "${A[@]}" upload /app/piped - clean <"$T/app.tar"
expect_match "$RES" '^ok \{"path":"/app/piped"' "upload from a pipe (chunked)"
ac "${A[@]}" upload /app/../etc "$T/app.tar"
expect_match "$RES" '^error bad_request invalid_path' "upload to a bad path"

ac "${A[@]}" stream /build '{"path":"/app/web","tag":"'"$NS"'/web:1"}'
expect_match "$OUT" 'event \{"type":"log","message":"Step 1/[0-9]+ : FROM' "build events passed on"
expect_match "$RES" '^ok \{"type":"done","success":true,.*"image_id":"sha256:[0-9a-f]{64}"' "build done"
image_id=$(sed -n 's/^ok .*"image_id":"\(sha256:[0-9a-f]*\)".*/\1/p' <<<"$RES")
expect_eq "$image_id" "$(docker image inspect -f '{{.Id}}' "$NS/web:1")" "build image id matches docker"

# A quiet step: the agent heartbeats (swallowed), tick runs about once a second.
printf 'FROM %s\nRUN sleep 6 && echo slept\n' "$TEST_IMAGE" >"$T/app/Dockerfile"
tar -C "$T/app" -cf "$T/quiet.tar" .
ac "${A[@]}" upload /app/quiet "$T/quiet.tar" clean
ac "${A[@]}" stream /build '{"path":"/app/quiet","tag":"'"$NS"'/quiet:1"}'
expect_match "$RES" '^ok \{"type":"done"' "quiet build done"
expect_no_match "$OUT" '"type":"heartbeat"' "heartbeats are swallowed"
ms_between "$AC_GAP" 0 2000 "largest gap between ticks (ms)"

# Failures: in the stream (the agent's code), before it (the status), and a pull.
printf 'FROM %s\nRUN echo about to fail && exit 3\n' "$TEST_IMAGE" >"$T/app/Dockerfile"
tar -C "$T/app" -cf "$T/bad.tar" .
ac "${A[@]}" upload /app/bad "$T/bad.tar" clean
ac "${A[@]}" stream /build '{"path":"/app/bad","tag":"'"$NS"'/bad:1"}'
expect_match "$RES" '^error upstream_error build_failed: .*returned a non-zero code: 3' "failing build: the agent's code and detail"
expect_match "$OUT" 'event \{"type":"log","message":"about to fail' "failing build: its log passed on"
printf 'FROMM nothing\n' >"$T/app/Dockerfile"
tar -C "$T/app" -cf "$T/syntax.tar" .
ac "${A[@]}" upload /app/syntax "$T/syntax.tar" clean
ac "${A[@]}" stream /build '{"path":"/app/syntax","tag":"'"$NS"'/bad:1"}'
expect_match "$RES" '^error bad_request [a-z_]+: .*unknown instruction' "Dockerfile syntax error before the stream"
ac "${A[@]}" stream /build '{"path":"/app/none","tag":"'"$NS"'/x:1"}'
expect_match "$RES" '^error not_found ' "build of a missing folder"
ac "${A[@]}" stream /pull '{"image":"127.0.0.1:'"$(free_port)"'/'"$NS"'/nope:1"}'
expect_match "$RES" '^error upstream_error pull_failed: ' "pull from a registry that is not there"

# Load from a file body (Content-Length) and from a pipe (chunked).
docker save "$NS/web:1" -o "$T/web.tar"
ac "${A[@]}" --body-file "$T/web.tar" stream /images/load
expect_match "$RES" "^ok .*\"image_id\":\"$image_id\"" "load from a file body"
ac "${A[@]}" --body-file - stream /images/load <"$T/web.tar"
expect_match "$RES" "^ok .*\"image_id\":\"$image_id\"" "load from a pipe body"
ac "${A[@]}" --body-file - stream /images/load <<<"not a tar"
expect_match "$RES" '^error ' "load of garbage fails"

# ---- JSON calls ----
secret="s3cret-$(openssl rand -hex 8)"
ac "${A[@]}" call POST /containers/run '{"name":"c1","image":"'"$TEST_IMAGE"'","command":["sleep","300"],"env":{"TOKEN":"'"$secret"'"}}'
expect_match "$RES" '^ok \{"id":"[0-9a-f]+","name":"c1","state":"running"' "run"
ac "${A[@]}" call GET /containers
expect_match "$RES" '"name":"c1"' "list"
ac "${A[@]}" call POST /containers/c1/stop
expect_match "$RES" '^ok \{"name":"c1","state":"exited"' "stop"
ac "${A[@]}" call DELETE /containers/c1
expect_match "$RES" '^ok \{"name":"c1","state":"removed"' "delete"
ac "${A[@]}" call GET /containers/c1
expect_match "$RES" '^error not_found ' "a missing container"
ac "${A[@]}" call POST /containers/run '{"name":"c2"}'
expect_match "$RES" '^error bad_request ' "run without an image"
ac "${A[@]}" call GET /no/such/route
expect_match "$RES" '^error not_found ' "unknown route"

# ---- many calls at once on one client ----
ac "${A[@]}" parallel 16
expect_eq "$RES" "ok 80" "16 threads x 5 rounds of ping, call and stream"

# ---- image copy, HTTPS agent a -> plain agent b in another namespace ----
AGENT_NS="${NS}-b" agent_start b
B=(--to-url "$b_URL" --to-key-file "$b_DIR/key")
ac "${A[@]}" "${B[@]}" copy-image "$NS/web:1"
expect_eq "$RES" "ok $image_id" "copied image keeps its id"
ac "${A[@]}" "${B[@]}" copy-image "$NS/no-such:1"
expect_match "$RES" '^error not_found ' "copy of a missing image"
expect_no_match "$(cat "$b_LOG")" 'images/load' "a failed export never reaches the target"
echo "$wrong_key" >"$T/wrong.key"
ac "${A[@]}" --to-url "$b_URL" --to-key-file "$T/wrong.key" copy-image "$NS/web:1"
expect_match "$RES" '^error upstream_denied agent_auth_failed' "copy to a target that refuses the key"
ms_between "$AC_MS" 0 5000 "the refused copy stops the export quickly (ms)"

# A large image: streamed through bounded memory, then a copy cancelled midway.
printf 'FROM %s\nRUN dd if=/dev/urandom of=/big bs=1M count=64 2>/dev/null\n' "$TEST_IMAGE" >"$T/app/Dockerfile"
tar -C "$T/app" -cf "$T/big.tar" .
ac "${A[@]}" upload /app/big "$T/big.tar" clean
ac "${A[@]}" stream /build '{"path":"/app/big","tag":"'"$NS"'/big:1"}'
big_id=$(sed -n 's/^ok .*"image_id":"\(sha256:[0-9a-f]*\)".*/\1/p' <<<"$RES")
expect_match "$big_id" '^sha256:' "big image built"
ac "${A[@]}" ping
base_rss=$AC_RSS
# ASan's quarantine keeps freed memory (256 MiB by default): keep it small for this measurement.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=1" ac "${A[@]}" "${B[@]}" copy-image "$NS/big:1"
expect_eq "$RES" "ok $big_id" "64 MiB image copied"
IT_CHECKS=$((IT_CHECKS + 1))
if [ "$((AC_RSS - base_rss))" -gt 16384 ]; then
    fail "copy of 64 MiB grew the client's peak RSS by $((AC_RSS - base_rss)) KiB"
fi
echo "copy-image: 64 MiB in $AC_MS ms, peak RSS $AC_RSS KiB (ping alone: $base_rss KiB)"
ac "${A[@]}" "${B[@]}" --cancel-after-ticks 20 copy-image "$NS/big:1"
expect_match "$RES" '^error canceled canceled' "copy cancelled by tick"
ms_between "$AC_MS" 0 5000 "cancelled copy returns quickly (ms)"
wait_for 10 grep -q '/images/load failed' "$b_LOG" || fail "target did not see the cancelled load end"
ok
use_agent b
req GET /ping
expect_status 200 "target serves after the cancelled copy"
use_agent a
req GET /ping -k --pinnedpubkey "$pin"
expect_status 200 "source serves after the cancelled copy"
ac "${A[@]}" "${B[@]}" copy-image "$NS/web:1"
expect_eq "$RES" "ok $image_id" "a copy after the cancelled one"

# ---- a build cancelled by tick: Docker stops it ----
marker=$((RANDOM + 1000))
printf 'FROM %s\nRUN sleep %d\n' "$TEST_IMAGE" "$marker" >"$T/app/Dockerfile"
tar -C "$T/app" -cf "$T/slow.tar" .
ac "${A[@]}" upload /app/slow "$T/slow.tar" clean
ac "${A[@]}" --cancel-after-ms 2000 stream /build '{"path":"/app/slow","tag":"'"$NS"'/slow:1"}'
expect_match "$RES" '^error canceled canceled' "build cancelled by tick"
expect_match "$OUT" "RUN sleep $marker" "the slow build had started"
ms_between "$AC_MS" 1900 4000 "cancel takes effect within a tick (ms)"
running() { docker ps --no-trunc --format '{{.Command}}' | grep -q "sleep $marker"; }
wait_for 20 bash -c "! $(declare -f running); running" || fail "build still running after the cancel"
ok
expect_eq "$(docker images -q "$NS/slow:1")" "" "cancelled build made no image"
ac "${A[@]}" ping
expect_eq "$RES" "ok $version" "agent serves after the cancelled build"

# ---- a frozen agent: agent_unresponsive after stall_ms ----
agent_start c
C=(--url "$c_URL" --key-file "$c_DIR/key")
ac "${C[@]}" call POST /containers/run '{"name":"ticker","image":"'"$TEST_IMAGE"'","command":["sh","-c","while true; do echo tick; sleep 0.3; done"]}'
expect_match "$RES" '"state":"running"' "ticker runs"
ac_bg "$T/follow.out" "${C[@]}" --stall-ms 3000 stream "/containers/ticker/logs?follow=1&tail=0"
wait_for 10 grep -q 'event .*"message":"tick"' "$T/follow.out" || fail "follow stream did not start"
sleep 4 # longer than stall_ms: a live stream is not mistaken for a dead one
kill -0 "$AC_PID" 2>/dev/null || fail "a live stream ended: $(tail -2 "$T/follow.out")"
ok
kill -STOP "$c_PID"
stopped_at=$(date +%s%N)
ac_wait "$T/follow.out"
waited=$((($(date +%s%N) - stopped_at) / 1000000))
expect_match "$RES" "^error unavailable agent_unresponsive: agent 127\.0\.0\.1:$c_PORT sent nothing for 3 s" "frozen agent is unresponsive"
ms_between "$waited" 2500 8000 "frozen agent noticed after (ms)"
# wait-ready waits for the agent to come back.
ac_bg "$T/ready.out" "${C[@]}" wait-ready 20000
sleep 3
kill -CONT "$c_PID"
ac_wait "$T/ready.out"
expect_eq "$RES" "ok ready" "wait-ready: the agent came back"
ms_between "$AC_MS" 2500 12000 "wait-ready waited for the thaw (ms)"
ac "${C[@]}" call DELETE /containers/ticker
expect_match "$RES" '"state":"removed"' "ticker removed"

# ---- nothing listening: agent_unreachable, quickly; polling pace ----
dead=$(free_port)
ac --url "http://127.0.0.1:$dead" --key x1234567890abcdef ping
expect_match "$RES" "^error unavailable agent_unreachable: agent 127\.0\.0\.1:$dead is unreachable" "unreachable ping"
ms_between "$AC_MS" 0 1000 "unreachable ping fails fast (ms)"
ac --url "http://127.0.0.1:$dead" --key x1234567890abcdef stream /build '{"path":"/app/x","tag":"x:1"}'
expect_match "$RES" '^error unavailable agent_unreachable' "unreachable stream"
ac --url "http://127.0.0.1:$dead" --key x1234567890abcdef wait-ready 1500
expect_match "$RES" '^error timeout agent_not_ready: .*unreachable' "wait-ready gives up after its timeout"
ms_between "$AC_MS" 1200 3000 "wait-ready timeout (ms)"
# Count the polls: a listener that accepts and hangs up at once.
port=$(free_port)
python3 - "$port" >"$T/polls" <<'EOF' &
import socket, sys, time
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", int(sys.argv[1])))
s.listen(16)
s.settimeout(0.1)
n, end = 0, time.time() + 6
while time.time() < end:
    try:
        c, _ = s.accept()
        n += 1
        c.close()
    except socket.timeout:
        pass
print(n)
EOF
counter=$!
wait_for 5 python3 -c "import socket; socket.create_connection(('127.0.0.1', $port)).close()" || fail "counter"
ac --url "http://127.0.0.1:$port" --key x1234567890abcdef wait-ready 2000
expect_match "$RES" '^error timeout agent_not_ready' "wait-ready against a hang-up server"
wait "$counter"
ms_between "$(($(cat "$T/polls") - 1))" 3 5 "polls in 2 s (every 0.5 s, not faster)"

# ---- a scripted agent: NDJSON split at any byte, broken streams, bounds, redirects ----
cat >"$T/fake.py" <<'PY'
import json, random, socket, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
rnd = random.Random(7)
DONE = b'{"type":"done","success":true,"image_id":"sha256:' + b"ab" * 32 + b'"}'
STREAMS = {
    "/split": b'{"type":"log","message":"caf\xc3\xa9 \\u00e9"}\r\n{"type":"heartbeat"}\n\n'
              b'{"type":"progress","current":1,"total":2}\n' + DONE,
    "/nolast": b'{"type":"log","message":"then nothing"}\n',
    "/garbage": b'{"type":"log","message":"ok"}\nnot json at all\n' + DONE + b"\n",
    "/huge": b'{"type":"log","message":"' + b"x" * (1536 * 1024) + b'"}\n' + DONE + b"\n",
    "/errevent": b'{"type":"log","message":"working"}\n'
                 b'{"type":"error","error":"image_not_found","detail":"no such\\nimage"}\n',
    "/after": DONE + b'\nnot json after the end\n',
}
class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a):
        pass
    def head(self, status, ctype, extra=""):
        self.wfile.write(("HTTP/1.1 %d X\r\nContent-Type: %s\r\n%s" % (status, ctype, extra)).encode())
    def chunked(self, data, pieces):
        self.head(200, "application/x-ndjson", "Transfer-Encoding: chunked\r\n\r\n")
        i = 0
        while i < len(data):
            n = rnd.randint(1, pieces)
            part = data[i:i + n]
            i += n
            self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.flush()
            if pieces < 64 and rnd.random() < 0.3:
                time.sleep(0.002)
    def sized(self, status, body):
        self.head(status, "application/json", "Content-Length: %d\r\n\r\n" % len(body))
        self.wfile.write(body)
    def answer(self):
        n = int(self.headers.get("Content-Length") or 0)
        if n:
            self.rfile.read(n)
        p = self.path
        if p in STREAMS:
            self.chunked(STREAMS[p], 7 if p != "/huge" else 65536)
            self.wfile.write(b"0\r\n\r\n")
        elif p == "/cut":
            self.chunked(b'{"type":"log","message":"cut next"}\n', 5)
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
        elif p == "/headers":
            self.sized(200, json.dumps({"key_ok": self.headers.get("X-API-Key") == sys.argv[2],
                                        "req_id": self.headers.get("X-Request-Id"),
                                        "method": self.command}).encode())
        elif p == "/redirect":
            self.head(302, "application/json", "Location: http://127.0.0.1:1/\r\nContent-Length: 0\r\n\r\n")
        elif p == "/bigcall":
            self.sized(200, b'{"x":"' + b"y" * (9 * 1024 * 1024) + b'"}')
        elif p == "/bigerror":
            self.sized(400, b'{"error":"too_much","detail":"' + b"z" * (200 * 1024) + b'"}')
        else:
            self.sized(404, b'{"error":"not_found","detail":"no route"}')
    do_GET = do_POST = do_DELETE = answer
srv = ThreadingHTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(srv.server_address[1]))
srv.serve_forever()
PY
fake_key=$(openssl rand -hex 16)
python3 "$T/fake.py" "$T/fake.port" "$fake_key" &
IT_EXTRA_PIDS+=("$!")
wait_for 10 test -s "$T/fake.port" || fail "scripted agent did not start"
F=(--url "http://127.0.0.1:$(cat "$T/fake.port")" --key "$fake_key")
ac "${F[@]}" stream /split
expect_eq "$(grep -c '^event ' <<<"$OUT")" 2 "split stream: two events passed on, the heartbeat swallowed"
expect_match "$OUT" 'event \{"type":"log","message":"café é"\}' "split stream: a log event whole, UTF-8 intact"
expect_match "$OUT" 'event \{"type":"progress","current":1,"total":2\}' "split stream: a progress event"
expect_match "$RES" '^ok \{"type":"done","success":true,"image_id":"sha256:(ab){32}"\}$' "split stream: last line without a newline"
ac "${F[@]}" stream /nolast
expect_match "$RES" '^error unavailable agent_stream_broken: agent 127\.0\.0\.1:[0-9]+ ended the stream without a last event' "stream without a last event"
ac "${F[@]}" stream /cut
expect_match "$RES" '^error unavailable agent_stream_broken: ' "stream cut off"
ac "${F[@]}" stream /garbage
expect_match "$RES" '^error upstream_error agent_bad_stream: .*not a JSON object' "a line that is not JSON"
ac "${F[@]}" stream /huge
expect_match "$RES" '^error too_large agent_event_too_large: .*over 1048576 bytes' "an event over 1 MiB"
ac "${F[@]}" stream /errevent
expect_eq "$RES" "error not_found image_not_found: no such image" "an error event: the agent's code, its detail on one line"
ac "${F[@]}" stream /after
expect_match "$RES" '^ok \{"type":"done"' "lines after the last event do not count"
ac "${F[@]}" --req-id deploy-42.a call DELETE /headers
expect_eq "$RES" 'ok {"key_ok":true,"req_id":"deploy-42.a","method":"DELETE"}' "key and request id sent"
ac "${F[@]}" --req-id $'bad\r\nX-Evil: 1' call GET /headers
expect_eq "$RES" 'ok {"key_ok":true,"req_id":null,"method":"GET"}' "a request id that is not a token is not sent"
ac "${F[@]}" call GET /redirect
expect_match "$RES" '^error upstream_error agent_error: agent 127\.0\.0\.1:[0-9]+ answered 302' "redirects are not followed"
ac "${F[@]}" call GET /bigcall
expect_match "$RES" '^error too_large agent_answer_too_large' "an answer over 8 MiB"
ac "${F[@]}" stream /bigerror
expect_match "$RES" '^error bad_request agent_error: agent 127\.0\.0\.1:[0-9]+ answered 400' "an error answer over 64 KiB"

# ---- secrets never show ----
expect_no_match "$(cat "$T/all.out")" "$a_KEY|$b_KEY|$c_KEY|$wrong_key|$fake_key" "no agent key in the client's output"
expect_no_match "$(cat "$T/all.out")" "$secret" "no env secret in the client's output"
expect_no_match "$(cat "$a_LOG")" "$secret|$wrong_key" "no secret in the agent log"

agent_stop c
agent_stop b
agent_stop a
echo "agentc: $RUNS client runs"
