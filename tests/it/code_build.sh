#!/usr/bin/env bash
# Generated Dockerfiles, built for real: code for each runtime (zip, tar, tar.gz, base64) goes
# through the controller's intake (build/tests/code_prepare = dp_code_prepare), and the tar it
# makes is the build context of a real `docker build`. Nothing can be pulled here, so the
# configured base images are test stand-ins built from the local busybox image: their python,
# pip, gunicorn, npm, node and go are small scripts that log what the Dockerfile asked for and
# finally serve the app folder with busybox httpd on the port the Dockerfile passed. Each image
# is then run with its port published on 127.0.0.1 and fetched. The static site uses the busybox
# image itself as its base and serves the site for real.
. "${DP_SRC:?}/tests/it/lib.sh"
it_init code_build
PREP=${DP_BUILD:?}/tests/code_prepare
export DOCKER_BUILDKIT=0 # the classic builder; no buildx here
command -v docker >/dev/null || { echo "code_build: the docker command is needed" >&2; exit 1; }

SB="$NS/standin"
CTRS=()
IT_EXTRA_CLEANUP='for c in "${CTRS[@]}"; do docker rm -f "$c" >/dev/null 2>&1; done'

# ---- stand-in base images ----
standin() { # name, then "path<TAB>script" lines on stdin
    local dir="$T/standin-$1" path body
    mkdir -p "$dir/bin"
    while IFS=$'\t' read -r path body; do
        printf '#!/bin/sh\n%b\n' "$body" >"$dir/bin/$path"
        chmod 755 "$dir/bin/$path"
    done
    printf 'FROM %s\nCOPY bin/ /usr/local/bin/\nENV PATH=/usr/local/bin:/bin\n' "$TEST_IMAGE" >"$dir/Dockerfile"
    docker build -q -t "$SB-$1:1" "$dir" >"$dir.log" 2>&1 || fail "stand-in $1 builds: $(tail -3 "$dir.log")"
}
serve='exec httpd -f -v -p "${PORT:?}" -h "$(pwd)"'
standin python <<EOF
python	echo "python \$*" >&2\nif [ "\$1" = manage.py ]; then PORT=\${3##*:}; fi\n$serve
pip	echo "pip \$*" >>pip.log
gunicorn	echo "gunicorn \$*" >&2\nPORT=\${2##*:}\n$serve
EOF
standin node <<EOF
npm	if [ "\$1" = start ]; then $serve; fi\necho "npm \$*" >>npm.log
node	echo "node \$*" >&2\n$serve
EOF
standin go <<'EOF'
go	echo "go $*" >>/go.log\nfor a; do pkg=$a; done\ncase "$*" in *"-o /out/app"*) mkdir -p /out; printf '#!/bin/sh\\n# built %s\\nexec httpd -f -v -p "$PORT" -h /\\n' "$pkg" >/out/app; chmod 755 /out/app;; esac
EOF
docker tag "$TEST_IMAGE" "$SB-run:1"
BASES=(--base "python=$SB-python:1" --base "node=$SB-node:1" --base "go_build=$SB-go:1"
    --base "go_run=$SB-run:1" --base "static=$TEST_IMAGE")

# ---- code ----
mkcode() { # dir, then "name<TAB>content" lines on stdin
    local dir=$T/code/$1 name content
    mkdir -p "$dir"
    while IFS=$'\t' read -r name content; do
        mkdir -p "$dir/$(dirname "$name")"
        printf '%b' "$content" >"$dir/$name"
    done
}
zipdir() { (cd "$T/code/$1" && python3 -c 'import os, sys, zipfile
with zipfile.ZipFile(sys.argv[1], "w", zipfile.ZIP_DEFLATED) as z:
    for d, _, fs in sorted(os.walk(".")):
        for f in sorted(fs): z.write(os.path.join(d, f))' "$2"); }

# prepare NAME ARGS...: runs the intake; sets OUT (its JSON) and TAR.
prepare() {
    local name=$1
    shift
    mkdir -p "$T/spool"
    OUT=$("$PREP" --spool "$T/spool" "${BASES[@]}" "$@") || fail "$name: intake failed: $OUT"
    TAR=$(printf '%s' "$OUT" | jq -r .tar)
}

# build_run NAME PORT: docker build from $TAR, run with PORT published; sets HP (host port).
build_run() {
    local name=$1 port=$2 img="$NS/$1:1" ctr="${NS}_$1"
    if ! docker build -q -t "$img" - <"$TAR" >"$T/$name.build" 2>&1; then
        fail "$name: docker build failed: $(tail -5 "$T/$name.build")"
        return 1
    fi
    ok
    CTRS+=("$ctr")
    docker run -d --name "$ctr" -p "127.0.0.1::$port" "$img" >/dev/null || { fail "$name: run"; return 1; }
    HP=$(docker port "$ctr" "$port/tcp" | head -1 | sed 's/.*://')
    expect_eq "$(docker inspect -f '{{.Config.User}}' "$img")" "10001:10001" "$name: runs as non-root"
    wait_for 10 curl -s "http://127.0.0.1:$HP/" -o /dev/null ||
        fail "$name: nothing answers on 127.0.0.1:$HP ($(docker logs "$ctr" 2>&1 | tail -3))"
}

fetch() { curl -s --max-time 5 "http://127.0.0.1:$HP/$1"; }
expect_json_out() { expect_eq "$(printf '%s' "$OUT" | jq -r "$1")" "$2" "$3"; }

# ---- static: the real busybox httpd serves the site ----
mkcode site <<'EOF'
index.html	<!doctype html><title>dp</title><h1>static site works</h1>\n
css/site.css	h1 { color: teal }\n
EOF
zipdir site "$T/site.zip"
prepare static --file "$T/site.zip" --port 8080
expect_json_out .runtime static "static detected"
expect_json_out .generated true "static Dockerfile generated"
expect_json_out .format zip "zip read"
if build_run static 8080; then
    expect_match "$(fetch index.html)" "static site works" "static site served"
    expect_match "$(fetch css/site.css)" "teal" "static css served"
    expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HP/nope.html")" 404 "missing page 404"
fi

# ---- python: requirements installed before the copy, app.py run on PORT ----
mkcode py <<'EOF'
requirements.txt	flask==3.0.0\n
app.py	print("hello from app.py")\n
EOF
tar -C "$T/code/py" -cf "$T/py.tar" .
prepare python --file "$T/py.tar" --port 5000
expect_json_out .runtime python "python detected"
expect_json_out .format tar "tar read"
if build_run python 5000; then
    expect_match "$(fetch app.py)" "hello from app.py" "python: the code is in /app and app.py runs"
    expect_eq "$(fetch pip.log)" "pip install -r requirements.txt" "python: pip installed the requirements"
fi

# ---- python via wsgi.py (gunicorn), base64 code, one top folder stripped ----
mkcode wsgi <<'EOF'
proj/pyproject.toml	[project]\nname = "x"\n
proj/wsgi.py	application = None\n
EOF
tar -C "$T/code/wsgi" -czf "$T/wsgi.tgz" proj
base64 "$T/wsgi.tgz" >"$T/wsgi.b64"
prepare wsgi --b64 "$T/wsgi.b64" --port 8000
expect_json_out .format tar.gz "base64 tar.gz read"
expect_json_out .stripped proj "the single top folder is the code's top"
if build_run wsgi 8000; then
    expect_match "$(fetch wsgi.py)" "application" "wsgi: served by the gunicorn stand-in on its --bind port"
    expect_eq "$(fetch pip.log | tr '\n' '|')" "pip install .|pip install gunicorn|" "wsgi: project and gunicorn installed"
fi

# ---- python via manage.py: the port comes from the runserver argument ----
mkcode dj <<'EOF'
manage.py	# django\n
EOF
zipdir dj "$T/dj.zip"
prepare django --file "$T/dj.zip" --port 8001
build_run django 8001 && expect_match "$(fetch manage.py)" "django" "django: runserver on the port"

# ---- node: npm ci with a lock file, a build script, npm start ----
mkcode node <<'EOF'
package.json	{"name":"n","scripts":{"start":"node server.js","build":"echo build"}}\n
package-lock.json	{"lockfileVersion":3}\n
server.js	console.log("node server")\n
EOF
zipdir node "$T/node.zip"
base64 -w0 "$T/node.zip" >"$T/node.b64"
prepare node --b64 "$T/node.b64" --zip --port 3000
expect_json_out .runtime node "node detected"
if build_run node 3000; then
    expect_match "$(fetch server.js)" "node server" "node: npm start serves /app"
    expect_eq "$(fetch npm.log | tr '\n' '|')" "npm ci --no-audit --no-fund|npm run build|" "node: npm ci, then the build script"
fi

# ---- node without a start script: node <main> ----
mkcode node2 <<'EOF'
package.json	{"name":"n2","main":"lib/main.js"}\n
lib/main.js	console.log("main")\n
EOF
zipdir node2 "$T/node2.zip"
prepare node2 --file "$T/node2.zip" --port 3001
if build_run node2 3001; then
    expect_match "$(fetch lib/main.js)" "main" "node: node lib/main.js serves /app"
    expect_eq "$(fetch npm.log)" "npm install --no-audit --no-fund" "node: npm install without a lock file"
fi

# ---- go: multi-stage, the binary alone in the run image ----
mkcode go <<'EOF'
go.mod	module example.com/web\n\ngo 1.22\n
go.sum	\n
cmd/web/main.go	package main\n
EOF
zipdir go "$T/go.zip"
prepare go --file "$T/go.zip" --port 8090
expect_json_out .runtime go "go detected"
if build_run go 8090; then
    expect_match "$(fetch app)" "# built ./cmd/web" "go: the built binary runs on PORT"
    expect_eq "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HP/src/go.mod")" 404 "go: no sources in the run image"
fi

# ---- the user's own Dockerfile is kept, nothing generated ----
mkcode own <<'EOF'
Dockerfile	FROM dp-test/busybox:1\nCOPY index.html /www/\nCMD ["httpd", "-f", "-p", "8081", "-h", "/www"]\n
index.html	own dockerfile\n
EOF
zipdir own "$T/own.zip"
prepare own --file "$T/own.zip" --port 8081
expect_json_out .runtime dockerfile "own Dockerfile detected"
expect_json_out .generated false "own Dockerfile kept"
if docker build -q -t "$NS/own:1" - <"$TAR" >/dev/null 2>&1; then ok; else fail "own Dockerfile builds"; fi

# ---- refusals happen before any build ----
printf 'not an archive' >"$T/junk"
OUT=$("$PREP" --spool "$T/spool" --file "$T/junk") && fail "junk accepted"
expect_json_out .error invalid_tar "junk refused"
python3 -c 'import sys, zipfile
z = zipfile.ZipFile(sys.argv[1], "w")
z.writestr("index.html", "x")
i = zipfile.ZipInfo("l"); i.create_system = 3; i.external_attr = 0o120777 << 16
z.writestr(i, "../../etc/passwd"); z.close()' "$T/evil.zip"
OUT=$("$PREP" --spool "$T/spool" --file "$T/evil.zip") && fail "escaping symlink accepted"
expect_json_out .error unsafe_member "escaping symlink refused"
expect_match "$(printf '%s' "$OUT" | jq -r .detail)" "symlink 'l' points to '../../etc/passwd'" "the member is named"
