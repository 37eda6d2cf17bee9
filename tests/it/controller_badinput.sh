#!/usr/bin/env bash
# Bad input to the controller's deploy routes, refused before any server is touched, with a
# {"error","detail"} body, a fitting status and nothing left in --spool-dir: zips with '..',
# absolute and escaping-symlink members, a zip bomb (plain and with lying headers) against a
# small --code-max-mb, truncated zips, bodies that are no archive, bad base64, unknown servers,
# bad names, ports and env names, as JSON, as a form and as raw bodies to /infra/deploy/upload.
# Then what fails once a deploy runs: a wrong git token (done success=false, the token nowhere),
# an image that does not exist, and a second deploy of an app being deployed (409 naming the
# holder), whose first deploy is then canceled.
. "$(dirname "$0")/lib.sh"
. "$DP_SRC/tests/it/ctl_lib.sh"
. "$DP_SRC/tests/world/git_servers.sh"
it_init controller_badinput

registry_start reg
REG_ADDR=$reg_ADDR
git_world_init "$T/git"
GIT_TOKEN="ghp_$(openssl rand -hex 20)"
WRONG_TOKEN="ghp_wrong$(openssl rand -hex 16)"
ENV_SECRET="envsecret-$(openssl rand -hex 8)"
git_repo_make app
git_tls_make
git_https_start "$GIT_TOKEN"
git_stall_start
images_cleanup() { # what the servers pulled from this run's registry (dosim removed the containers)
    docker images --format '{{.Repository}}:{{.Tag}}' | grep -F "/$NS/" | xargs -r docker rmi -f >/dev/null 2>&1
    return 0
}
IT_EXTRA_CLEANUP="ctl_cleanup; git_world_stop; images_cleanup"
sim_start
ctl_start --git-ca-file "$GW_CA" --code-max-mb 1
ctl_login
servers_up 1
ip1=${SERVER_IPS%% *}
SPOOL=$T/spool

# ---- the archives ----
python3 - "$T" <<'EOF'
import stat, struct, sys, zipfile
out = sys.argv[1]

def make(name, members):
    with zipfile.ZipFile(out + "/" + name, "w", zipfile.ZIP_DEFLATED) as f:
        for info, data in members:
            f.writestr(info, data)

df = ("Dockerfile", "FROM scratch\n")
make("dotdot.zip", [df, ("../evil.txt", "x")])
make("abs.zip", [df, (zipfile.ZipInfo("/tmp/evil.txt"), "x")])  # ZipInfo keeps the '/'
link = zipfile.ZipInfo("link")
link.create_system = 3  # Unix: external_attr holds the mode
link.external_attr = (stat.S_IFLNK | 0o777) << 16
make("symlink.zip", [df, (link, "../../../etc/passwd")])
make("bomb.zip", [df, ("big.bin", b"\0" * (4 << 20))])  # 4 MiB of zeros in ~4 KiB
make("ok.zip", [df, ("www/index.html", "ok\n")])
# The same bomb with headers that lie: big.bin declared as 1000 bytes in the local header and
# in the central directory.
raw = bytearray(open(out + "/bomb.zip", "rb").read())
for sig, name_len_at, size_at, name_at in ((b"PK\x03\x04", 26, 22, 30), (b"PK\x01\x02", 28, 24, 46)):
    at = raw.find(sig)
    while at >= 0:
        n = struct.unpack_from("<H", raw, at + name_len_at)[0]
        if raw[at + name_at:at + name_at + n] == b"big.bin":
            struct.pack_into("<I", raw, at + size_at, 1000)
        at = raw.find(sig, at + 4)
open(out + "/liar.zip", "wb").write(raw)
ok = open(out + "/ok.zip", "rb").read()
open(out + "/truncated.zip", "wb").write(ok[: len(ok) // 2])
open(out + "/notzip.bin", "wb").write(b"this is not an archive, just text\n" * 20)

# Tars take the same way through the raw upload, with their own codes.
import io, tarfile

def tar(name, members, mode="w"):
    with tarfile.open(out + "/" + name, mode) as t:
        for info, data in members:
            info.size = len(data)
            t.addfile(info, io.BytesIO(data))

def member(name, **kw):
    ti = tarfile.TarInfo(name)
    for k, v in kw.items():
        setattr(ti, k, v)
    return ti

tdf = (member("Dockerfile"), b"FROM scratch\n")
tar("dotdot.tar", [tdf, (member("a/../../evil.txt"), b"x")])
tar("hardlink.tar", [tdf, (member("passwd", type=tarfile.LNKTYPE, linkname="/etc/passwd"), b"")])
tar("device.tar", [tdf, (member("null", type=tarfile.CHRTYPE, devmajor=1, devminor=3), b"")])
tar("bomb.tar.gz", [tdf, (member("big.bin"), b"\0" * (4 << 20))], "w:gz")
EOF
for z in dotdot.zip abs.zip symlink.zip bomb.zip liar.zip ok.zip truncated.zip dotdot.tar hardlink.tar device.tar bomb.tar.gz; do
    [ -s "$T/$z" ] || { fail "made $z"; exit 1; }
done

# ---- helpers ----

# The body is one {"error","detail"} object and nothing else, the status and code as given.
expect_err() { # status code message
    expect_status "$1" "$3"
    expect_eq "$(jq -r '[keys[]] | join(",")' <<<"$BODY" 2>/dev/null)" "detail,error" "$3: body keys"
    expect_eq "$(jq -r .error <<<"$BODY" 2>/dev/null)" "$2" "$3: error code ($BODY)"
    expect_match "$(jq -r .detail <<<"$BODY" 2>/dev/null)" "^[^ ].{8,}" "$3: a detail sentence"
}

# Nothing left behind in the controller's spool folder.
spool_empty() { # message
    expect_eq "$(ls -A "$SPOOL" | grep -vx "\.controller\.lock")" "" "spool empty after $1" # the lock stays
}

# JSON deploy of a zip as code_zip_b64.
deploy_zip_json() { # zip-file [server-ip [app]]
    printf '{"name":"%s","source_type":"code","port":8080,"server_ips":["%s"],"code_zip_b64":"%s"}' \
        "${3:-bad}" "${2:-$ip1}" "$(base64 -w0 "$1")" >"$T/body.json"
    api POST /api/v1/infra/deploy --data-binary "@$T/body.json"
}

# The same as a multipart form with the zip as the file part.
deploy_zip_form() { # zip-file
    api POST /api/v1/infra/deploy -F name=bad -F source_type=code -F port=8080 \
        -F "server_ips=$ip1" -F "code=@$1"
}

# The zip as the raw body of /infra/deploy/upload.
upload_raw() { # file [server-ip]
    api POST "/api/v1/infra/deploy/upload?server_ip=${2:-$ip1}&path=/app/bad" \
        -H 'Content-Type: application/zip' --data-binary "@$1"
}

# ---- unsafe archives, three ways in ----
for way in json form raw; do
    for z in dotdot abs symlink; do
        case $way in
        json) deploy_zip_json "$T/$z.zip" ;;
        form) deploy_zip_form "$T/$z.zip" ;;
        raw) upload_raw "$T/$z.zip" ;;
        esac
        expect_err 400 unsafe_member "$z.zip as $way"
        case $z in
        dotdot) expect_match "$BODY" "\.\./evil\.txt" "$z.zip as $way: the member named" ;;
        abs) expect_match "$BODY" "/tmp/evil\.txt.*absolute" "$z.zip as $way: the member named" ;;
        symlink) expect_match "$BODY" "symlink 'link' points to '\.\./\.\./\.\./etc/passwd'" "$z.zip as $way: the link named" ;;
        esac
        spool_empty "$z.zip as $way"
    done

    # A zip bomb: 4 MiB unpacked against --code-max-mb 1.
    case $way in
    json) deploy_zip_json "$T/bomb.zip" ;;
    form) deploy_zip_form "$T/bomb.zip" ;;
    raw) upload_raw "$T/bomb.zip" ;;
    esac
    expect_err 413 zip_too_large "zip bomb as $way"
    expect_match "$(jq -r .detail <<<"$BODY")" "1048576 bytes.*big\.bin" "zip bomb as $way: limit and member"
    spool_empty "zip bomb as $way"

    # Truncated (no central directory) and not a zip at all.
    case $way in
    json) deploy_zip_json "$T/truncated.zip" ;;
    form) deploy_zip_form "$T/truncated.zip" ;;
    raw) upload_raw "$T/truncated.zip" ;;
    esac
    expect_err 400 invalid_zip "truncated zip as $way"
    spool_empty "truncated zip as $way"
    case $way in
    json) deploy_zip_json "$T/notzip.bin" && want=invalid_zip ;;
    form) deploy_zip_form "$T/notzip.bin" && want=invalid_tar ;; # neither zip nor tar: the file's codes say tar
    raw) upload_raw "$T/notzip.bin" && want=invalid_tar ;;
    esac
    expect_err 400 "$want" "a body that is no archive as $way"
    expect_match "$(jq -r .detail <<<"$BODY")" "not a zip, tar or tar.gz" "no archive as $way: says what it is not"
    spool_empty "no archive as $way"
done

# Tars through the raw upload.
for z in dotdot hardlink device; do
    upload_raw "$T/$z.tar"
    expect_err 400 unsafe_member "$z.tar"
    spool_empty "$z.tar"
done
expect_match "$BODY" "device, FIFO or socket" "device.tar: says why"
upload_raw "$T/bomb.tar.gz"
expect_err 413 code_too_large "a tar.gz bomb"
spool_empty "a tar.gz bomb"
# The same refusals as a form to /infra/deploy/upload.
api POST "/api/v1/infra/deploy/upload?server_ip=$ip1&path=/app/bad" -F "code=@$T/dotdot.zip"
expect_err 400 unsafe_member "dotdot.zip as a form upload"
spool_empty "dotdot.zip as a form upload"

# Forms that are broken themselves.
printf -- '--XyZ\r\nContent-Disposition: form-data; name="name"\r\n\r\nbad\r\n--XyZ\r\nContent-Disposition: form-data; name="code"; filename="c.zip"\r\n\r\n' >"$T/cut.form"
cat "$T/ok.zip" >>"$T/cut.form" # no closing boundary: the body ends inside the file part
api POST /api/v1/infra/deploy -H 'Content-Type: multipart/form-data; boundary=XyZ' --data-binary "@$T/cut.form"
expect_err 400 invalid_multipart "a form cut off inside its file"
spool_empty "a form cut off inside its file"
api POST /api/v1/infra/deploy -H 'Content-Type: multipart/form-data' --data-binary "@$T/cut.form"
expect_err 400 invalid_multipart "a form without a boundary"
api POST /api/v1/infra/deploy -F name=bad -F port=8080 -F "server_ips=$ip1" -F "code=@$T/ok.zip" -F "code=@$T/ok.zip"
expect_err 400 invalid_multipart "a form with two files"
spool_empty "a form with two files"
# No session: 401 before anything is read or spooled.
code=$(curl -s -o "$T/noauth.json" -w '%{http_code}' -F name=bad -F "server_ips=$ip1" -F "code=@$T/bomb.zip" "$CTL_URL/api/v1/infra/deploy")
expect_eq "$code" 401 "a form without a session"
expect_eq "$(jq -r .error "$T/noauth.json")" unauthorized "a form without a session: the code"
spool_empty "a form without a session"

# The bomb whose headers lie: caught by counting real bytes.
deploy_zip_json "$T/liar.zip"
expect_err 413 zip_too_large "a bomb with lying headers"
expect_match "$BODY" "past its declared size of 1000 bytes" "the lie is named"
spool_empty "a bomb with lying headers"

# Base64 that is not base64, and a code field of the wrong type.
api POST /api/v1/infra/deploy -d "{\"name\":\"bad\",\"port\":8080,\"server_ips\":[\"$ip1\"],\"code_zip_b64\":\"UEsD*\$\"}"
expect_err 400 invalid_base64 "bad base64"
spool_empty "bad base64"
api POST /api/v1/infra/deploy -d "{\"name\":\"bad\",\"port\":8080,\"server_ips\":[\"$ip1\"],\"code_zip_b64\":42}"
expect_err 400 invalid_field "code_zip_b64 a number"
api POST /api/v1/infra/deploy -d "{\"name\":\"bad\",\"port\":8080,\"server_ips\":[\"$ip1\"]}"
expect_err 400 no_code "code deploy without code"

# Not JSON at all, and JSON that is not an object.
api POST /api/v1/infra/deploy -H 'Content-Type: application/json' --data-binary "@$T/notzip.bin"
expect_status 400 "a body that is not JSON"
expect_eq "$(jq -r '[keys[]] | join(",")' <<<"$BODY")" "detail,error" "not JSON: error shape"
api POST /api/v1/infra/deploy -d '[1,2]'
expect_status 400 "a JSON array"
spool_empty "bodies that are not JSON"

# ---- fields ----
img_req() { # extra fields (JSON members, leading comma)
    api POST /api/v1/infra/deploy -d "{\"source_type\":\"image\",\"image\":\"$REG_ADDR/none:1\"$1}"
}
img_req ",\"port\":8080,\"server_ips\":[\"$ip1\"]"
expect_err 400 missing_field "no name"
expect_match "$BODY" "name" "no name: the field named"
img_req ",\"name\":\"\",\"port\":8080,\"server_ips\":[\"$ip1\"]"
expect_err 400 missing_field "an empty name"
for bad in '"Bad_Name"' '"-lead"' '"a/b"' '42' "\"$(printf 'a%.0s' {1..64})\""; do
    img_req ",\"name\":$bad,\"port\":8080,\"server_ips\":[\"$ip1\"]"
    expect_status 400 "name $bad refused"
    expect_match "$(jq -r .error <<<"$BODY")" "^invalid_field$" "name $bad: invalid_field"
done
for bad in 65536 70000 -1 '"80x"' 1.5; do
    img_req ",\"name\":\"web\",\"port\":$bad,\"server_ips\":[\"$ip1\"]"
    expect_err 400 invalid_field "port $bad"
    expect_match "$BODY" "port" "port $bad: the field named"
done
img_req ",\"name\":\"web\",\"port\":\"8080\",\"server_ips\":[\"10.255.255.1\"]"
expect_err 400 unknown_server "an address the controller does not know (port as text is fine)"
expect_match "$BODY" "10\.255\.255\.1" "unknown server: the address named"
img_req ",\"name\":\"web\",\"port\":8080,\"server_ips\":[\"not-an-ip\"]"
expect_err 400 invalid_field "a server that is no address"
img_req ",\"name\":\"web\",\"port\":8080"
expect_err 400 no_targets "no servers at all"
for bad in '1BAD' 'A B' 'A=B' '' 'X$Y'; do
    img_req ",\"name\":\"web\",\"port\":8080,\"server_ips\":[\"$ip1\"],\"env_vars\":{\"$bad\":\"$ENV_SECRET\"}"
    expect_err 400 invalid_field "env name '$bad'"
    expect_no_match "$BODY" "$ENV_SECRET" "env name '$bad': the value is not echoed"
done
img_req ",\"name\":\"web\",\"port\":8080,\"server_ips\":[\"$ip1\"],\"env_vars\":[\"A=1\"]"
expect_err 400 invalid_field "env_vars as a list"
api POST /api/v1/infra/deploy -d "{\"name\":\"web\",\"name\":\"web2\",\"port\":8080}"
expect_err 400 invalid_json "a duplicate key"
api POST /api/v1/infra/deploy -d "{\"source_type\":\"ftp\",\"name\":\"web\",\"port\":8080,\"server_ips\":[\"$ip1\"]}"
expect_err 400 invalid_field "source_type ftp"
# A form with a bad env field, and an unknown server with a code zip: the code was converted
# before the server was checked, and must be gone again.
api POST /api/v1/infra/deploy -F name=bad -F port=8080 -F "server_ips=$ip1" -F "env=NOEQUALS" -F "code=@$T/ok.zip"
expect_err 400 invalid_field "form env without '='"
spool_empty "a form refused after its file was spooled"
# A form env name over 255 bytes is refused, not cut short into another name.
api POST /api/v1/infra/deploy -F name=bad -F port=8080 -F "server_ips=$ip1" -F source_type=image \
    -F "image=$REG_ADDR/$NS/none:1" -F "env=$(printf 'K%.0s' {1..300})=$ENV_SECRET"
expect_err 400 invalid_field "a form env name of 300 bytes"
expect_no_match "$BODY" "$ENV_SECRET" "a long env name: the value is not echoed"
deploy_zip_json "$T/ok.zip" 10.255.255.2
expect_err 400 unknown_server "a code deploy to an unknown server"
spool_empty "a code deploy to an unknown server"

# The dockerfile field: a path inside the code that exists.
api POST /api/v1/infra/deploy -d "{\"name\":\"bad\",\"port\":8080,\"server_ips\":[\"$ip1\"],\"dockerfile\":\"../Dockerfile\",\"code_zip_b64\":\"$(base64 -w0 "$T/ok.zip")\"}"
expect_err 400 invalid_field "dockerfile outside the code"
api POST /api/v1/infra/deploy -d "{\"name\":\"bad\",\"port\":8080,\"server_ips\":[\"$ip1\"],\"dockerfile\":\"docker/Dockerfile.prod\",\"code_zip_b64\":\"$(base64 -w0 "$T/ok.zip")\"}"
expect_err 400 dockerfile_not_found "a dockerfile the code does not have"
expect_match "$BODY" "docker/Dockerfile.prod" "dockerfile_not_found names the path"
spool_empty "a dockerfile the code does not have"

# ---- /infra/deploy/upload ----
upload_raw "$T/ok.zip" 10.255.255.3
expect_err 404 unknown_server "upload to an unknown server"
spool_empty "upload to an unknown server"
# A big body to an unknown server is refused at once, not read first (curl asks with Expect).
head -c $((64 << 20)) /dev/zero >"$T/big.bin"
t0=$(date +%s%N)
api POST "/api/v1/infra/deploy/upload?server_ip=10.255.255.3&path=/app/bad" \
    -H 'Content-Type: application/zip' -H 'Expect: 100-continue' --data-binary "@$T/big.bin"
expect_err 404 unknown_server "a 64 MiB upload to an unknown server"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 3000 ] || fail "a 64 MiB upload to an unknown server took $ms ms: its body was read"
ok
rm -f "$T/big.bin"
spool_empty "a big upload to an unknown server"
api POST "/api/v1/infra/deploy/upload?path=/app/bad" -H 'Content-Type: application/zip' --data-binary "@$T/ok.zip"
expect_err 400 missing_field "upload without server_ip"
api POST "/api/v1/infra/deploy/upload?server_ip=$ip1&path=/app/bad" -d '{}'
expect_err 400 no_code "upload of JSON without code"
api POST "/api/v1/infra/deploy/upload?server_ip=$ip1&path=/app/../etc" -H 'Content-Type: application/zip' --data-binary "@$T/ok.zip"
expect_status 400 "upload to a path with '..'"
expect_eq "$(jq -r '[keys[]] | join(",")' <<<"$BODY")" "detail,error" "bad path: error shape"
spool_empty "upload to a bad path"
# The control: the good zip goes through the same routes.
upload_raw "$T/ok.zip"
expect_status 200 "a good zip uploads ($BODY)"
expect_json .files 2 "the agent got the file and the generated-or-own Dockerfile"
spool_empty "a good upload"

# ---- failures once the deploy runs ----

# A wrong git token: the stream ends with done success=false; the token is nowhere.
deploy "{\"name\":\"gitapp\",\"source_type\":\"git\",\"git_url\":\"https://127.0.0.1:$GIT_HTTPS_PORT/app.git\",\"git_branch\":\"main\",\"git_token\":\"$WRONG_TOKEN\",\"port\":8080,\"server_ips\":[\"$ip1\"]}" wrongtoken
expect_eq "$STATUS" 200 "wrong token: the stream starts"
expect_eq "$(jq -r .success <<<"$DONE")" false "wrong token: done says failed ($(tail -c 400 "$DEPLOY_LOG"))"
err=$(jq -r '.servers[0].error' <<<"$DONE")
expect_match "$err" "[Aa]uth|credential|401|denied" "wrong token: the error says why"
expect_no_match "$(cat "$DEPLOY_LOG")" "$WRONG_TOKEN" "wrong token not in the stream"
expect_no_match "$(cat "$DEPLOY_LOG")" "${WRONG_TOKEN:4}" "wrong token (without its prefix) not in the stream"
api GET "/api/v1/deployments/$(jq -r .deployment_id <<<"$DONE")"
expect_json .status failed "wrong token: stored as failed"
expect_no_match "$BODY" "$WRONG_TOKEN" "wrong token not in the deployment record"

# A token written into the URL instead of git_token: refused before a deployment exists (the
# agents never take userinfo either), and the secret in it is kept nowhere.
URL_SECRET="urlsecret$(openssl rand -hex 8)"
api POST /api/v1/infra/deploy -d "{\"name\":\"urlcred\",\"source_type\":\"git\",\"git_url\":\"https://x-access-token:$URL_SECRET@127.0.0.1:$GIT_HTTPS_PORT/app.git\",\"port\":8080,\"server_ips\":[\"$ip1\"]}"
expect_err 400 invalid_url "credentials in the git URL"
expect_no_match "$BODY" "$URL_SECRET" "credentials in the git URL: not echoed"
api GET "/api/v1/deployments?app=urlcred"
expect_json '.deployments | length' 0 "credentials in the git URL: no deployment recorded"
# file:// (and local paths, ssh://) are refused before libgit2 or even a deployment sees them;
# a token only travels over https://.
for u in file:///etc /srv/git/app.git ssh://git@127.0.0.1/app.git "127.0.0.1:app.git"; do
    api POST /api/v1/infra/deploy -d "{\"name\":\"fileurl\",\"git_url\":\"$u\",\"port\":8080,\"server_ips\":[\"$ip1\"]}"
    expect_err 400 invalid_url "git URL $u"
done
api POST /api/v1/infra/deploy -d "{\"name\":\"fileurl\",\"git_url\":\"http://127.0.0.1:$GIT_HTTPS_PORT/app.git\",\"git_token\":\"$WRONG_TOKEN\",\"port\":8080,\"server_ips\":[\"$ip1\"]}"
expect_err 400 token_needs_https "a token over http://"
expect_no_match "$BODY" "$WRONG_TOKEN" "a token over http://: not echoed"
spool_empty "refused git URLs"

# An image that does not exist.
deploy "{\"name\":\"ghost\",\"source_type\":\"image\",\"image\":\"$REG_ADDR/$NS/ghost:404\",\"port\":8080,\"server_ips\":[\"$ip1\"]}" ghost
expect_eq "$(jq -r .success <<<"$DONE")" false "missing image: done says failed ($(tail -c 400 "$DEPLOY_LOG"))"
expect_match "$(jq -r '.servers[0].error' <<<"$DONE")" "(no image|not found|does not exist).*ghost:404" "missing image: a clear error"
expect_eq "$(jq -r '.servers[0].container_id' <<<"$DONE")" "" "missing image: no container"

# A second deploy of an app that is being deployed: a clone from a server that never answers
# holds the app's lock.
curl -sN --max-time 120 -H "Authorization: Bearer $TOKEN" -o "$T/slow.sse" \
    -d "{\"name\":\"slow\",\"source_type\":\"git\",\"git_url\":\"git://127.0.0.1:$GIT_STALL_PORT/x.git\",\"port\":8080,\"server_ips\":[\"$ip1\"]}" \
    "$CTL_URL/api/v1/infra/deploy" &
SLOW_PID=$!
wait_for 30 grep -q '"step":"cloning"' "$T/slow.sse" || fail "the slow deploy reaches its clone: $(cat "$T/slow.sse")"
SLOW_ID=$(events_of "$T/slow.sse" | jq -r 'select(.deployment_id) | .deployment_id' | head -n 1)
expect_match "$SLOW_ID" "^[0-9]+$" "the slow deploy's id from its first event"
# As code, so the refusal comes after the code was prepared: its tar must go too.
deploy_zip_json "$T/ok.zip" "$ip1" slow
expect_err 409 deploy_in_progress "a second deploy of the same app"
expect_match "$(jq -r .detail <<<"$BODY")" "deployment $SLOW_ID by admin since [0-9]{4}-[0-9]{2}-[0-9]{2}T" "409 names the holder and since when"
spool_empty "a deploy refused with 409"
api POST "/api/v1/deployments/$SLOW_ID/cancel"
expect_status 202 "cancel the slow deploy"
expect_json .canceling true "cancel answer"
wait "$SLOW_PID" || true
DONE=$(events_of "$T/slow.sse" | jq -c 'select(.type=="done")' | tail -n 1)
expect_eq "$(jq -r .success <<<"$DONE")" false "canceled deploy: done success=false ($(tail -c 300 "$T/slow.sse"))"
expect_eq "$(jq -r .error <<<"$DONE")" canceled "canceled deploy: done says canceled"
api GET "/api/v1/deployments/$SLOW_ID"
expect_json .status canceled "the canceled deploy is stored as canceled"
api POST "/api/v1/deployments/$SLOW_ID/cancel"
expect_err 409 not_running "cancel of a finished deploy"
api POST /api/v1/deployments/987654/cancel
expect_err 404 not_found "cancel of a deployment that does not exist"
api POST /api/v1/deployments/abc/cancel
expect_err 400 invalid_id "cancel with a bad id"
# The lock is free again: the same app deploys.
img=$(demo_image slow "slow-ok")
deploy "{\"name\":\"slow\",\"source_type\":\"image\",\"image\":\"$img\",\"port\":8080,\"server_ips\":[\"$ip1\"]}" slow2
expect_eq "$(jq -r .success <<<"$DONE")" true "the app deploys after the cancel ($(tail -c 400 "$DEPLOY_LOG"))"
app_answers "$ip1" 8080 slow-ok || fail "the app answers after the cancel"
ok
spool_empty "everything"

# Secrets: not in the controller's log, its streams or its database.
for s in "$GIT_TOKEN" "$WRONG_TOKEN" "$ENV_SECRET" "$DO_TOKEN" "$ADMIN_PW" "$URL_SECRET"; do
    expect_eq "$(grep -c -a -F -- "$s" "$T/ctl.log" || true)" 0 "a secret (${s:0:9}...) in the controller log"
    expect_eq "$(cat "$T"/*.sse | grep -c -a -F -- "$s" || true)" 0 "a secret (${s:0:9}...) in a stream"
    expect_eq "$(cat "$T/ctl.db"* | grep -c -a -F -- "$s" || true)" 0 "a secret (${s:0:9}...) in the database files"
done
