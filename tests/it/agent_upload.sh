#!/usr/bin/env bash
# POST /upload with the real curl (as curl.exe users send tars): the answer and the files on
# disk under the data root, /app and /app/ the same, the default merges and clean=1 replaces;
# every bad input refused with nothing left behind ('..', absolute and escaping-symlink
# members, a path outside the root, no path, a body over the limit, a damaged or empty tar, a
# client that disconnects mid-upload), and the agent keeps serving throughout.
. "$(dirname "$0")/lib.sh"
it_init agent_upload

# mktar OUT MEMBER...: MEMBER is KIND|NAME[|DATA]; KIND f (file, DATA its content), x (an
# executable file), d (folder), l (symlink to DATA), h (hard link to DATA).
mktar() {
    python3 - "$@" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    for spec in sys.argv[2:]:
        kind, name, data = (spec.split("|") + [""])[:3]
        ti = tarfile.TarInfo(name)
        ti.mtime, ti.mode = 1700000000, 0o644
        body = None
        if kind in "fx":
            body = data.encode()
            ti.size = len(body)
            ti.mode = 0o755 if kind == "x" else 0o644
        elif kind == "d":
            ti.type, ti.mode = tarfile.DIRTYPE, 0o755
        elif kind == "l":
            ti.type, ti.linkname = tarfile.SYMTYPE, data
        elif kind == "h":
            ti.type, ti.linkname = tarfile.LNKTYPE, data
        t.addfile(ti, io.BytesIO(body) if body is not None else None)
PY
}

upload() { # PATH-QUERY TARFILE [curl args...]
    local q=$1 file=$2
    shift 2
    req POST "/upload?$q" --data-binary "@$file" "$@"
}

# Nothing of a refused upload is left: .staging empty, and the data root holds only what it
# held before (its listing is in $before).
expect_nothing_left() { # message
    expect_eq "$(ls -A "$DATA/.staging" 2>/dev/null)" "" "$1: staging leftovers"
    expect_eq "$(cd "$DATA" && find . -path ./.staging -prune -o -print | sort)" "$before" \
        "$1: the data root changed"
}

snapshot() {
    before=$(cd "$DATA" && find . -path ./.staging -prune -o -print | sort)
}

agent_start a
DATA="$a_DIR/data"
status_kb() { awk -v k="$1:" '$1 == k {print $2}' "/proc/$a_PID/status"; }
rss0=$(status_kb VmRSS)

# A tree made with the tar command, folders and an executable kept, sent as curl.exe does.
mkdir -p "$T/src/static/css" "$T/src/empty"
printf '<h1>hi</h1>\n' >"$T/src/index.html"
printf 'body{}\n' >"$T/src/static/css/site.css"
printf '#!/bin/sh\necho run\n' >"$T/src/run.sh"
chmod 4755 "$T/src/run.sh"
ln -s ../index.html "$T/src/static/home.html"
tar -C "$T/src" -cf "$T/site.tar" .
upload "path=/app/web/" "$T/site.tar"
expect_status 200 "upload a tar"
expect_json .path /app/web "answer path is normalised"
expect_json .files 4 "answer files (3 files and a symlink)"
expect_json .bytes 38 "answer bytes"
expect_eq "$(cat "$DATA/app/web/index.html")" "<h1>hi</h1>" "file on disk"
expect_eq "$(cat "$DATA/app/web/static/home.html")" "<h1>hi</h1>" "symlink inside the upload"
expect_eq "$(stat -c %a "$DATA/app/web/run.sh")" 755 "setuid dropped, exec kept"
expect_eq "$(stat -c %a "$DATA/app/web/static/css/site.css")" 644 "file mode"
expect_eq "$(test -d "$DATA/app/web/empty" && echo yes)" yes "empty folder kept"
expect_eq "$(ls -A "$DATA/.staging")" "" "no staging left after success"

# gzip works too, and Transfer-Encoding: chunked (a pipe into curl -T -).
tar -C "$T/src" -czf - . | req POST "/upload?path=/app/gz" -T - -H "Content-Type: application/gzip"
expect_status 200 "tar.gz through a pipe"
expect_eq "$(cat "$DATA/app/gz/static/css/site.css")" "body{}" "tar.gz file on disk"

# /app, /app/ and app are the same target; the default merges into it.
mktar "$T/one.tar" "f|one.txt|1" "f|same.txt|first" "d|keep/" "f|keep/k.txt|k"
mktar "$T/two.tar" "f|two.txt|2" "f|same.txt|second" "f|keep/n.txt|n"
upload "path=/app/site" "$T/one.tar"
expect_json .path /app/site "path without a slash"
upload "path=/app/site/" "$T/two.tar"
expect_status 200 "merge upload"
expect_json .path /app/site "path with a trailing slash is the same"
upload "path=app//site" "$T/two.tar"
expect_json .path /app/site "relative path with a double slash is the same"
expect_eq "$(ls "$DATA/app/site" | tr '\n' ' ')" "keep one.txt same.txt two.txt " "merged listing"
expect_eq "$(cat "$DATA/app/site/same.txt")" second "merge replaces a file"
expect_eq "$(ls "$DATA/app/site/keep" | tr '\n' ' ')" "k.txt n.txt " "folders merge"

# clean=1 replaces the whole target.
upload "path=/app/site/&clean=1" "$T/two.tar"
expect_status 200 "clean upload"
expect_eq "$(ls "$DATA/app/site" | tr '\n' ' ')" "keep same.txt two.txt " "clean replaced the target"
expect_eq "$(ls "$DATA/app/site/keep")" "n.txt" "clean replaced subfolders"

# Bad inputs: the right error, and nothing written.
snapshot
mktar "$T/dotdot.tar" "f|ok.txt|ok" "f|../../escape.txt|x"
upload "path=/app/bad" "$T/dotdot.tar"
expect_status 400 "member with .."
expect_json .error unsafe_member "member with .. error code"
expect_match "$BODY" "\.\./\.\./escape\.txt" "the member is named"
expect_eq "$(test -e "$a_DIR/escape.txt" && echo yes)" "" "nothing beside the root"
expect_nothing_left "member with .."

mktar "$T/abs.tar" "f|$T/abs-escape.txt|x"
upload "path=/app/bad" "$T/abs.tar"
expect_status 400 "absolute member"
expect_match "$BODY" "absolute" "absolute member message"
expect_eq "$(test -e "$T/abs-escape.txt" && echo yes)" "" "absolute member not written"
expect_nothing_left "absolute member"

mktar "$T/symesc.tar" "d|d/" "l|d/link|../../../etc"
upload "path=/app/bad" "$T/symesc.tar"
expect_status 400 "escaping symlink"
expect_match "$BODY" "outside the upload" "escaping symlink message"
expect_nothing_left "escaping symlink"

mktar "$T/symabs.tar" "l|link|/etc/passwd"
upload "path=/app/bad" "$T/symabs.tar"
expect_status 400 "absolute symlink"
expect_nothing_left "absolute symlink"

mktar "$T/through.tar" "d|sub/" "l|l|sub" "f|l/x|through"
upload "path=/app/bad" "$T/through.tar"
expect_status 400 "write through a symlink"
expect_match "$BODY" "through" "write through a symlink message"
expect_nothing_left "write through a symlink"

for p in "/app/../etc" "%2Fapp%2F..%2F..%2Fetc" ".." "/" "/app/.staging" "/app/a%00b" "/app/a%20b" "/app/a+b"; do
    upload "path=$p" "$T/one.tar"
    expect_status 400 "path $p"
    expect_json .error invalid_path "path $p error code"
done
upload "" "$T/one.tar"
expect_status 400 "missing path"
expect_match "$BODY" "'path' is required" "missing path message"
expect_nothing_left "bad paths"

# A Content-Length over the limit is refused before a byte of the body is read.
req POST "/upload?path=/app/huge" -H "Content-Length: 99999999999999" -H "Expect: 100-continue" \
    --data-binary @"$T/one.tar"
expect_status 413 "Content-Length over the limit"
expect_json .error upload_too_large "over the limit error code"
expect_nothing_left "over the limit"

# Damaged, truncated, empty and not-a-tar bodies.
head -c 700 "$T/site.tar" >"$T/truncated.tar"
upload "path=/app/bad" "$T/truncated.tar"
expect_status 400 "truncated tar"
expect_json .error invalid_tar "truncated tar error code"
printf 'this is not a tar at all, just words %.0s' $(seq 1 40) >"$T/words.txt"
upload "path=/app/bad" "$T/words.txt"
expect_status 400 "not a tar"
: >"$T/empty.tar"
upload "path=/app/bad" "$T/empty.tar"
expect_status 400 "empty body"
expect_match "$BODY" "empty" "empty body message"
expect_nothing_left "damaged tars"

# A target that is a file needs clean=1.
printf 'a file\n' >"$DATA/app/file"
snapshot
upload "path=/app/file" "$T/one.tar"
expect_status 409 "target is a file"
expect_json .error path_conflict "target is a file error code"
expect_nothing_left "target is a file"
upload "path=/app/file&clean=1" "$T/one.tar"
expect_status 200 "clean=1 replaces a file"

# A client that goes away mid-upload: nothing is left, the target is untouched.
head -c 30000000 /dev/urandom >"$T/big.bin"
tar -C "$T" -cf "$T/big.tar" big.bin
snapshot
curl -sS -o /dev/null -H "X-API-Key: $KEY" --limit-rate 2M --data-binary @"$T/big.tar" \
    "$URL/upload?path=/app/site&clean=1" 2>/dev/null &
cpid=$!
staging_busy() { [ -n "$(ls -A "$DATA/.staging" 2>/dev/null)" ]; }
wait_for 10 staging_busy || fail "the slow upload did not start"
sleep 1
kill "$cpid" 2>/dev/null || true
wait "$cpid" 2>/dev/null || true
staging_idle() { ! staging_busy; }
wait_for 10 staging_idle || fail "staging left after a disconnect"
expect_nothing_left "client disconnect"
expect_eq "$(cat "$DATA/app/site/same.txt")" second "target untouched after a disconnect"
wait_for 5 grep -q 'upload refused path=/app/site.*went away' "$a_LOG" || fail "disconnect logged"
ok

# A refusal early in a big body still reaches the client (no reset while it sends the rest),
# with or without Expect: 100-continue, and for a Content-Length over the limit too.
python3 - "$T/bigbad.tar" "$T/big.bin" <<'PY'
import io, sys, tarfile
with tarfile.open(sys.argv[1], "w") as t:
    ti = tarfile.TarInfo("../evil")
    ti.size = 1
    t.addfile(ti, io.BytesIO(b"x"))
    t.add(sys.argv[2], arcname="big.bin")
PY
snapshot
for expect in "Expect:" "Expect: 100-continue"; do
    upload "path=/app/bad" "$T/bigbad.tar" -H "$expect"
    expect_status 400 "bad member early in a 30 MB body ($expect)"
    expect_json .error unsafe_member "bad member early in a 30 MB body ($expect)"
    upload "path=/app/../bad" "$T/big.tar" -H "$expect"
    expect_status 400 "bad path with a 30 MB body ($expect)"
done
req POST "/upload?path=/app/huge" -H "Content-Length: 99999999999999" --data-binary @"$T/one.tar"
expect_status 413 "Content-Length over the limit without Expect"
expect_nothing_left "refusals early in big bodies"

# The agent keeps serving, on a fresh connection and after a completed upload.
req GET /ping
expect_status 200 "ping after the bad uploads"
upload "path=/app/big" "$T/big.tar"
expect_status 200 "a 30 MB upload"
expect_eq "$(cmp "$T/big.bin" "$DATA/app/big/big.bin" && echo same)" same "30 MB file intact"

# Metrics count uploads by outcome and the bytes received.
req GET /metrics
expect_match "$BODY" 'node_agent_operations_total\{op="upload",outcome="ok"\} [1-9]' "ok uploads counted"
expect_match "$BODY" 'node_agent_operations_total\{op="upload",outcome="failed"\} [1-9]' "failed uploads counted"
expect_match "$BODY" 'node_agent_upload_bytes_total [1-9][0-9]{7}' "upload bytes counted"

# Memory stays bounded while tars stream in: 30 MB above, 300 MB here (not under the
# sanitizers, which inflate it). File pages are never mapped, so RSS growth is private memory.
if [ "${DP_SANITIZE:-0}" != 1 ]; then
    truncate -s 300M "$T/zero.bin"
    tar -C "$T" -cf - zero.bin | req POST "/upload?path=/app/zero" -T -
    expect_status 200 "a 300 MB upload through a pipe"
    grown=$(($(status_kb VmHWM) - rss0))
    expect_eq "$((grown < 16384))" 1 "peak memory grew by $grown KiB during the uploads"
    rm -f "$T/zero.bin" "$DATA/app/zero/zero.bin"
fi

agent_stop a
