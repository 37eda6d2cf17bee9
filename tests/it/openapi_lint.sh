#!/usr/bin/env bash
# static/openapi.json, the controller's API description (served at GET /api/v1/openapi.json):
# it must pass a real OpenAPI linter, Redocly's CLI, with the rules in tests/it/redocly.yaml
# (recommended-strict: any problem fails), and it must describe exactly the routes of
# controller/ctl_routes.c, method for method, with login, openapi.json and version public and
# every other route behind the bearer token (401). Mutated copies prove both checks can fail.
#
# The linter is installed on first use with npm, pinned, into a cache shared by every build
# folder: $DP_NPM_CACHE, else ~/.cache/deploy-infra/npm (XDG_CACHE_HOME honoured), else
# <build>/npm-cache. It needs node >= 18.17 and npm (Debian's `nodejs npm`, or NodeSource's
# nodejs, which carries its own npm); the npm registry is reached only for that install.
# Needs no Docker and no controller binary.
DP_SRC=${DP_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
export DP_SRC
. "$(dirname "$0")/lib.sh"
it_init openapi_lint

REDOCLY_VERSION=1.34.20 # @redocly/cli; 1.x still runs on Debian 12's node 18 (2.x wants 20.19+)
DOC=$DP_SRC/static/openapi.json
CFG=$DP_SRC/tests/it/redocly.yaml
ROUTES=$DP_SRC/controller/ctl_routes.c
# The linter must not phone home: no telemetry, no update check.
export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true

for f in "$DOC" "$CFG" "$ROUTES"; do
    [ -f "$f" ] || { fail "missing $f"; exit 1; }
done

# --- The document against the route table, both ways. Prints one line per problem.
cat >"$T/routes_check.py" <<'PY'
import json, re, sys

doc_path, routes_path = sys.argv[1:3]
problems = []
try:
    doc = json.load(open(doc_path, encoding="utf-8"))
except ValueError as e:
    print("not JSON: %s" % e)
    sys.exit(1)
src = open(routes_path, encoding="utf-8").read()

m = re.search(r'#define\s+API\s+"([^"]+)"', src)
api = m.group(1) if m else None
if not api:
    problems.append("no '#define API \"...\"' in ctl_routes.c")
table = re.search(r"ctl_routes\[\]\s*=\s*\{(.*?)\n\};", src, re.S)
if not table:
    print("no ctl_routes[] table in ctl_routes.c")
    sys.exit(1)
entry = re.compile(r'\{\s*"([A-Z]+)"\s*,\s*API\s*"([^"]*)"\s*,\s*(\w+)\s*,\s*"([^"]*)"\s*\}')
code = {}
for method, path, fn, metric in entry.findall(table.group(1)):
    code[(method.lower(), path)] = metric.endswith("!")
# Every entry must have been understood: count the braces that open an entry.
if len(code) != len(re.findall(r'\{\s*"[A-Z]+"', table.group(1))):
    problems.append("ctl_routes[] has entries this check cannot read (not {\"METHOD\", API "
                    "\"/path\", fn, \"metric\"})")

servers = [s.get("url") for s in doc.get("servers", [])]
if servers != [api]:
    problems.append("document servers %r, expected exactly [%r] (the API macro)" % (servers, api))

methods = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
in_doc = {}
for path, item in doc.get("paths", {}).items():
    for method, op in item.items():
        if method not in methods:
            continue
        if "servers" in item:  # outside /api/v1: must be a prefix ctl_dispatch serves
            literal = path.split("{")[0]
            if '"%s"' % literal not in src and '"%s' % literal not in src:
                problems.append("%s %s is documented outside %s but ctl_routes.c does not "
                                "serve it" % (method.upper(), path, api))
            continue
        in_doc[(method, path)] = op

for key in sorted(code.keys() - in_doc.keys()):
    problems.append("route %s %s%s is not in the document" % (key[0].upper(), api, key[1]))
for key in sorted(in_doc.keys() - code.keys()):
    problems.append("document has %s %s%s, which ctl_routes.c does not route"
                    % (key[0].upper(), api, key[1]))

global_sec = doc.get("security")
if global_sec != [{"bearerAuth": []}]:
    problems.append("global security must be [{\"bearerAuth\": []}], is %r" % (global_sec,))
for key in sorted(code.keys() & in_doc.keys()):
    op, public = in_doc[key], code[key]
    name = "%s %s" % (key[0].upper(), key[1])
    if public and op.get("security") != []:
        problems.append("%s needs no login in ctl_routes.c: give it \"security\": []" % name)
    if not public and "security" in op:
        problems.append("%s needs a login: it must not override the global security" % name)
    if not public and "401" not in op.get("responses", {}):
        problems.append("%s needs a login: document its 401" % name)
print("\n".join(problems))
print("checked %d routes" % len(code), file=sys.stderr)
sys.exit(1 if problems else 0)
PY

out=$(python3 "$T/routes_check.py" "$DOC" "$ROUTES" 2>"$T/routes_check.err") && rc=0 || rc=$?
expect_eq "$rc" 0 "document and ctl_routes.c agree (problems: $out)"
expect_match "$(cat "$T/routes_check.err")" '^checked [0-9]+ routes$' "route table read"

# The check fails when they drift: a route dropped from the document, a public route made
# private, and a route the code does not have.
python3 - "$DOC" "$T" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
t = sys.argv[2]
a = json.loads(json.dumps(doc)); del a["paths"]["/deployments/{id}/stop"]
b = json.loads(json.dumps(doc)); del b["paths"]["/version"]["get"]["security"]
c = json.loads(json.dumps(doc))
c["paths"]["/deployments/{id}"]["put"] = c["paths"]["/deployments/{id}"]["get"]
for name, d in (("drop", a), ("private", b), ("extra", c)):
    json.dump(d, open("%s/drift-%s.json" % (t, name), "w"))
PY
out=$(python3 "$T/routes_check.py" "$T/drift-drop.json" "$ROUTES" 2>/dev/null) || true
expect_match "$out" 'route POST /api/v1/deployments/\{id\}/stop is not in the document' \
    "a route missing from the document is caught"
out=$(python3 "$T/routes_check.py" "$T/drift-private.json" "$ROUTES" 2>/dev/null) || true
expect_match "$out" 'GET /version needs no login' "a public route documented as private is caught"
out=$(python3 "$T/routes_check.py" "$T/drift-extra.json" "$ROUTES" 2>/dev/null) || true
expect_match "$out" 'document has PUT /api/v1/deployments/\{id\}, which ctl_routes.c does not' \
    "a documented route the code lacks is caught"

# --- The linter, installed once per version into the cache (one installer at a time: ctest
# runs several build folders' tests in parallel).
if ! command -v npm >/dev/null || ! command -v node >/dev/null; then
    fail "node and npm are needed to install the linter (scripts/deps.sh installs them)"
    exit 1
fi
node_ok='const [a, b] = process.versions.node.split(".").map(Number);
process.exit(a > 18 || (a === 18 && b >= 17) ? 0 : 1);'
if ! node -e "$node_ok"; then
    fail "node $(node --version) is too old for @redocly/cli $REDOCLY_VERSION (needs 18.17+)"
    exit 1
fi
if [ -n "${DP_NPM_CACHE:-}" ]; then
    cache=$DP_NPM_CACHE
elif [ -n "${HOME:-}" ] && mkdir -p "${XDG_CACHE_HOME:-$HOME/.cache}/deploy-infra/npm" \
    2>/dev/null; then
    cache=${XDG_CACHE_HOME:-$HOME/.cache}/deploy-infra/npm
else
    cache=${DP_BUILD:?}/npm-cache
fi
mkdir -p "$cache"
prefix=$cache/redocly-cli-$REDOCLY_VERSION
redocly=$prefix/node_modules/.bin/redocly
exec 9>"$cache/.redocly.lock"
flock -w 900 9 || { fail "timed out waiting for another linter install ($cache)"; exit 1; }
if [ "$("$redocly" --version 2>/dev/null)" != "$REDOCLY_VERSION" ]; then
    echo "installing @redocly/cli@$REDOCLY_VERSION into $prefix"
    rm -rf "$prefix" "$prefix.part"
    # No install scripts: the CLI needs none (core-js's only prints a message).
    if ! npm install --prefix "$prefix.part" --no-audit --no-fund --no-update-notifier \
        --ignore-scripts --cache "$cache/npm-download-cache" "@redocly/cli@$REDOCLY_VERSION" \
        >"$T/npm.log" 2>&1; then
        tail -20 "$T/npm.log" >&2
        fail "npm could not install @redocly/cli@$REDOCLY_VERSION"
        exit 1
    fi
    mv "$prefix.part" "$prefix"
fi
exec 9>&-
expect_eq "$("$redocly" --version 2>&1)" "$REDOCLY_VERSION" "the pinned linter runs"

# --- Lint: any problem fails (recommended-strict), the two exact exceptions aside.
lint() { # file -> sets LINT_RC and LINT_OUT
    LINT_RC=0
    LINT_OUT=$(cd "$T" && "$redocly" lint --config "$CFG" --format stylish "$1" 2>&1) ||
        LINT_RC=$?
}
lint "$DOC"
expect_eq "$LINT_RC" 0 "redocly lint static/openapi.json passes (output:
$LINT_OUT
)"
expect_match "$LINT_OUT" '2 problems are explicitly ignored' \
    "only the two exceptions of tests/it/.redocly.lint-ignore.yaml are ignored"

# The linter fails the test on an error: an operation without a summary, an example that does
# not fit its schema, a dangling $ref.
python3 - "$DOC" "$T" <<'PY'
import json, sys
doc = json.load(open(sys.argv[1]))
t = sys.argv[2]
a = json.loads(json.dumps(doc)); del a["paths"]["/deployments"]["get"]["summary"]
b = json.loads(json.dumps(doc)); b["components"]["schemas"]["Version"]["example"]["version"] = 1
c = json.loads(json.dumps(doc))
ok = c["paths"]["/settings"]["get"]["responses"]["200"]["content"]["application/json"]
ok["schema"] = {"$ref": "#/components/schemas/Nope"}
for name, d in (("summary", a), ("example", b), ("ref", c)):
    json.dump(d, open("%s/bad-%s.json" % (t, name), "w"), indent=1)
PY
for bad in summary:operation-summary example:no-invalid-schema-examples ref:no-unresolved-refs; do
    lint "$T/bad-${bad%%:*}.json"
    expect_eq "$LINT_RC" 1 "lint fails on a planted ${bad%%:*} error"
    expect_match "$LINT_OUT" "${bad#*:}" "the planted ${bad%%:*} error is reported by ${bad#*:}"
done
