#!/usr/bin/python3
"""Checks recorded DigitalOcean API exchanges against the OpenAPI description.

    contract.py [--spec FILE] RECORDING.jsonl...      check every exchange; exit 1 on mismatch
    contract.py [--spec FILE] --list-ops RECORDING... which operations a recording exercised

A recording has one JSON object a line:
    {"method": "POST", "path": "/v2/droplets/123/actions", "query": "page=2" or {...},
     "status": 201, "request_body": {...} or null, "response_body": {...} or null,
     "response_headers": {"ratelimit-limit": "5000", ...}}   (header names lower-case)

For each exchange: the concrete path is matched to a path template (literal segments win over
{parameters}) and the method to an operation; the status must be documented for it (a `default`
response covers 4xx/5xx only: a success status the spec does not list is a mismatch); the
response body must match that response's application/json schema (no body where none is
documented, e.g. 204); the rate-limit headers the response declares must be present and
integers. Request-side checks (path and query parameters, the request body against
requestBody) apply when the status is below 400: a refused request may be wrong on purpose.

OpenAPI 3.0 schemas become JSON Schema draft 4 (the draft OpenAPI 3.0 extends): $ref resolves
against the whole document, `nullable: true` also allows null (beside a $ref or an enum too),
`readOnly` properties are not required in requests nor `writeOnly` ones in responses,
annotations (example, discriminator, xml, externalDocs, x-*) are dropped, and only cheap
formats are checked (date-time, uuid, ipv4, ipv6).

Known quirks of the spec, handled here rather than reported every time:
- droplet `status` lists `false` where its YAML source says `off` (YAML 1.1 read it as a
  boolean): booleans in a string enum mean "off"/"on".
- image actions (POST /v2/images/{id}/actions, GET .../actions/{action_id}) document a bare
  action object, while the real API and the spec's own examples wrap it as {"action": {...}}:
  a wrapped body is unwrapped before validation.

The spec is --spec FILE, else $DP_DO_OPENAPI, else the copy kept beside this script,
tests/dosim/openapi/DigitalOcean-subset.v2.json (see its README for its origin).
Exit status: 0 all exchanges match, 1 a mismatch (each printed with its line, method, path,
status, the JSON path of the failing field and the validator's message), 2 bad usage or input.
Needs Debian's python3-jsonschema (4.10, RefResolver) and nothing else.
"""

import argparse
import collections
import ipaddress
import json
import os
import re
import sys
import urllib.parse
import uuid
import warnings

import jsonschema

with warnings.catch_warnings():  # newer jsonschema deprecates RefResolver; Debian's has only it
    warnings.simplefilter("ignore", DeprecationWarning)
    from jsonschema import RefResolver

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")
# Draft 4 keywords kept as they are; everything else not handled below is an annotation.
KEPT = {
    "type", "format", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
    "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems",
    "uniqueItems", "maxProperties", "minProperties",
}
RATELIMIT = re.compile(r"^ratelimit-")
IMAGE_ACTION_OPS = {"imageActions_post", "imageActions_get"}


class SpecError(Exception):
    pass


def default_spec_path():
    if os.environ.get("DP_DO_OPENAPI"):
        return os.environ["DP_DO_OPENAPI"]
    here = os.path.dirname(os.path.abspath(__file__))
    return os.path.join(here, "openapi", "DigitalOcean-subset.v2.json")


def pointer_parts(ref):
    if not ref.startswith("#/"):
        raise SpecError("only local $refs are supported, not %r" % ref)
    return [p.replace("~1", "/").replace("~0", "~") for p in ref[2:].split("/")]


def pointer_get(doc, ref):
    node = doc
    for part in pointer_parts(ref):
        try:
            node = node[int(part)] if isinstance(node, list) else node[part]
        except (KeyError, IndexError, ValueError):
            raise SpecError("$ref %r does not resolve" % ref) from None
    return node


def pointer_set(doc, ref, value):
    parts = pointer_parts(ref)
    node = doc
    for part in parts[:-1]:
        node = node.setdefault(part, {})
    node[parts[-1]] = value


def resolve(doc, node, depth=0):
    """node with $refs followed (OpenAPI 3.0 ignores a $ref's siblings)."""
    while isinstance(node, dict) and "$ref" in node and depth < 32:
        node = pointer_get(doc, node["$ref"])
        depth += 1
    return node


def allow_null(schema):
    """schema that also accepts null, without changing what else it accepts."""
    if isinstance(schema.get("type"), str) and not any(k in schema for k in
                                                       ("allOf", "anyOf", "oneOf", "$ref")):
        out = dict(schema, type=[schema["type"], "null"])
        if "enum" in out and None not in out["enum"]:
            out["enum"] = out["enum"] + [None]
        return out
    return {"anyOf": [schema, {"type": "null"}]}


def fix_enum(node, values):
    if node.get("type") != "string":
        return values
    return [("on" if v else "off") if isinstance(v, bool) else v for v in values]


class Converter:
    """OpenAPI 3.0 schema objects to JSON Schema draft 4, for requests or for responses.

    Every $ref target is converted once and stored at the same JSON pointer in self.doc, the
    document the validators' RefResolver resolves against."""

    def __init__(self, spec_doc, direction):
        self.spec = spec_doc
        self.skip_flag = "readOnly" if direction == "request" else "writeOnly"
        self.doc = {}
        self.done = set()

    def convert(self, node):
        return self._conv(node, {})

    def _ref(self, ref):
        if ref not in self.done:
            self.done.add(ref)  # before converting: recursive schemas refer to themselves
            pointer_set(self.doc, ref, self._conv(pointer_get(self.spec, ref), {}))
        return {"$ref": ref}

    def _skipped(self, prop):
        """True when a property must not be required in this direction."""
        if not isinstance(prop, dict):
            return False
        if prop.get(self.skip_flag) is True:
            return True
        target = resolve(self.spec, prop)
        if target is not prop and isinstance(target, dict) and target.get(self.skip_flag) is True:
            return True
        return any(self._skipped(m) for m in prop.get("allOf", []) if isinstance(m, dict))

    def _member_props(self, members, depth=0):
        """Properties visible across allOf members: `required` in one may name another's."""
        props = {}
        for m in members:
            m = resolve(self.spec, m)
            if not isinstance(m, dict) or depth > 8:
                continue
            props.update(self._member_props(m.get("allOf", []), depth + 1))
            props.update(m.get("properties", {}))
        return props

    def _conv(self, node, outer_props):
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            out = self._ref(node["$ref"])
            return allow_null(out) if node.get("nullable") is True else out
        visible = dict(outer_props)
        visible.update(node.get("properties", {}))
        if "allOf" in node:
            visible.update(self._member_props(node["allOf"]))
        out = {}
        for key, val in node.items():
            if key == "properties":
                out[key] = {name: self._conv(s, {}) for name, s in val.items()}
            elif key in ("items", "not"):
                out[key] = self._conv(val, {})
            elif key == "additionalProperties":
                out[key] = val if isinstance(val, bool) else self._conv(val, {})
            elif key == "allOf":
                out[key] = [self._conv(s, visible) for s in val]
            elif key in ("anyOf", "oneOf"):
                out[key] = [self._conv(s, visible) for s in val]
            elif key == "required":
                req = [n for n in val if not self._skipped(visible.get(n))]
                if req:  # draft 4 wants a non-empty list
                    out[key] = req
            elif key == "enum":
                out[key] = fix_enum(node, val)
            elif key in KEPT:
                out[key] = val
        return allow_null(out) if node.get("nullable") is True else out


def _formats():
    checker = jsonschema.FormatChecker(formats=())

    @checker.checks("date-time", raises=ValueError)
    def date_time(v):
        if not isinstance(v, str):
            return True
        return re.fullmatch(r"\d{4}-\d\d-\d\d[Tt]\d\d:\d\d:\d\d(\.\d+)?([Zz]|[+-]\d\d:\d\d)",
                            v) is not None

    @checker.checks("uuid", raises=ValueError)
    def is_uuid(v):
        return not isinstance(v, str) or bool(uuid.UUID(v))

    @checker.checks("ipv4", raises=ValueError)
    def ipv4(v):
        return not isinstance(v, str) or ipaddress.IPv4Address(v) is not None

    @checker.checks("ipv6", raises=ValueError)
    def ipv6(v):
        return not isinstance(v, str) or ipaddress.IPv6Address(v) is not None

    return checker


class Spec:
    def __init__(self, path):
        try:
            with open(path, encoding="utf-8") as f:
                self.doc = json.load(f)
        except (OSError, ValueError) as e:
            raise SpecError("cannot read the OpenAPI description %s: %s" % (path, e)) from None
        if not str(self.doc.get("openapi", "")).startswith("3.0"):
            raise SpecError("%s is not an OpenAPI 3.0 document" % path)
        self.conv = {d: Converter(self.doc, d) for d in ("request", "response")}
        self.formats = _formats()
        self.validators = {}
        self.templates = []  # (segments, template)
        self.ops = collections.OrderedDict()  # (METHOD, template) -> operation
        for tmpl, item in self.doc.get("paths", {}).items():
            self.templates.append((tmpl.strip("/").split("/"), tmpl))
            for method in METHODS:
                if method in item:
                    self.ops[(method.upper(), tmpl)] = item[method]

    def match(self, path):
        """(template, {param: value}) for a concrete path, or (None, None)."""
        segs = path.strip("/").split("/")
        best = None
        for tsegs, tmpl in self.templates:
            if len(tsegs) != len(segs):
                continue
            score, params = [], {}
            for t, s in zip(tsegs, segs):
                if t.startswith("{") and t.endswith("}") and s:
                    params[t[1:-1]] = urllib.parse.unquote(s)
                    score.append(0)
                elif t == s:
                    score.append(1)  # a literal segment beats a parameter at the same place
                else:
                    break
            else:
                if best is None or score > best[0]:
                    best = (score, tmpl, params)
        return (best[1], best[2]) if best else (None, None)

    def validator(self, node, direction):
        key = (id(node), direction)
        if key not in self.validators:
            conv = self.conv[direction]
            schema = conv.convert(node)
            self.validators[key] = jsonschema.Draft4Validator(
                schema, resolver=RefResolver("", conv.doc), format_checker=self.formats)
        return self.validators[key]

    def parameters(self, method, tmpl):
        """The operation's parameters (path-level ones included), $refs followed."""
        out = {}
        item = self.doc["paths"][tmpl]
        for p in item.get("parameters", []) + item[method.lower()].get("parameters", []):
            p = resolve(self.doc, p)
            out[(p.get("in"), p.get("name"))] = p
        return out


def json_path(parts):
    out = "$"
    for p in parts:
        out += "[%d]" % p if isinstance(p, int) else "." + str(p)
    return out


def leaf_errors(error):
    """(JSON path, message) pairs worth showing for one validation error. For anyOf/oneOf the
    branch that got furthest (fewest errors at the failing level, then fewest errors) stands
    for all; when every branch fails right there, each branch's first message is listed."""
    if not error.context:
        return [(json_path(error.absolute_path), error.message)]
    branches = collections.OrderedDict()
    for e in error.context:
        branches.setdefault(e.relative_schema_path[0], []).append(e)
    depth = len(error.absolute_path)

    def rank(errs):
        return (sum(1 for e in errs if len(e.absolute_path) <= depth), len(errs))

    best = min(branches.values(), key=rank)
    if rank(best)[0] and len(branches) > 1:
        why = "; ".join("branch %s: %s" % (k, errs[0].message) for k, errs in branches.items())
        return [(json_path(error.absolute_path), "%s (%s)" % (error.message, why))]
    return [leaf for e in best for leaf in leaf_errors(e)]


def schema_errors(validator, instance, where):
    out = []
    for err in sorted(validator.iter_errors(instance), key=lambda e: list(map(str, e.path))):
        for path, msg in leaf_errors(err):
            out.append("%s %s: %s" % (where, path, msg))
    return out


def coerce_candidates(text):
    """A query or path value as the JSON values it could stand for, likeliest first."""
    cands = []
    if re.fullmatch(r"-?\d+", text):
        cands.append(int(text))
    elif re.fullmatch(r"-?\d+\.\d*([eE][-+]?\d+)?", text):
        cands.append(float(text))
    if text in ("true", "false"):
        cands.append(text == "true")
    return cands + [text]


def parse_query(q):
    if q is None or q == "":
        return {}
    if isinstance(q, dict):
        return {k: v if isinstance(v, list) else [v] for k, v in q.items()}
    if isinstance(q, str):
        out = collections.OrderedDict()
        for k, v in urllib.parse.parse_qsl(q.lstrip("?"), keep_blank_values=True):
            out.setdefault(k, []).append(v)
        return out
    raise ValueError("query must be a string or an object")


class Checker:
    def __init__(self, spec):
        self.spec = spec
        self.counts = collections.OrderedDict()  # (METHOD, template) -> Counter of statuses
        self.unmatched = collections.Counter()
        self.exchanges = 0
        self.mismatches = []

    def check_param(self, p, value, where):
        schema = p.get("schema")
        if schema is None:
            return []
        values = value if isinstance(value, list) else [value]
        v = self.spec.validator(schema, "request")
        out = []
        for one in values:
            one = str(one)
            cands = coerce_candidates(one)
            if not any(v.is_valid(c) for c in cands):
                out += schema_errors(v, cands[0], "%s %s=%r" % (where, p["name"], one))
        return out

    def check_request(self, key, params, ex):
        method, tmpl = key
        op = self.spec.ops[key]
        declared = self.spec.parameters(method, tmpl)
        errs = []
        for name, value in params.items():
            p = declared.get(("path", name))
            if p is None:
                errs.append("path parameter %r is not declared by the spec" % name)
            else:
                errs += self.check_param(p, value, "path parameter")
        query = parse_query(ex.get("query"))
        for name, values in query.items():
            p = declared.get(("query", name))
            if p is None:
                errs.append("query parameter %r is not documented for this operation" % name)
            else:
                errs += self.check_param(p, values, "query parameter")
        for (where, name), p in declared.items():
            if where == "query" and p.get("required") and name not in query:
                errs.append("required query parameter %r is missing" % name)
        errs += self.check_request_body(op, ex.get("request_body"))
        return errs

    def check_request_body(self, op, body):
        rb = resolve(self.spec.doc, op.get("requestBody"))
        if not rb:
            return [] if body is None else ["request has a body, but the operation takes none"]
        if body is None:
            return ["request body is required"] if rb.get("required") else []
        media = rb.get("content", {}).get("application/json")
        if not media or "schema" not in media:
            return []
        return schema_errors(self.spec.validator(media["schema"], "request"), body,
                             "request")

    def pick_response(self, op, status):
        responses = op.get("responses", {})
        if str(status) in responses:
            return resolve(self.spec.doc, responses[str(status)]), None
        if "default" in responses and status >= 400:
            return resolve(self.spec.doc, responses["default"]), None
        listed = ", ".join(sorted(responses))
        return None, "status %s is not documented (documented: %s)" % (status, listed)

    def check_headers(self, resp, headers):
        errs = []
        headers = {str(k).lower(): v for k, v in (headers or {}).items()}
        for name in resp.get("headers", {}):
            if not RATELIMIT.match(name.lower()):
                continue
            if name.lower() not in headers:
                errs.append("response header %s is missing" % name)
            elif not re.fullmatch(r"\d+", str(headers[name.lower()]).strip()):
                errs.append("response header %s: %r is not an integer" %
                            (name, headers[name.lower()]))
        return errs

    def check_response(self, op, resp, status, body):
        media = resp.get("content", {}).get("application/json")
        if not media:
            if body is not None:
                return ["response has a body, but status %s documents none" % status]
            return []
        if body is None:
            return ["response body is missing"]
        if "schema" not in media:
            return []
        if (op.get("operationId") in IMAGE_ACTION_OPS and status < 300 and
                isinstance(body, dict) and set(body) == {"action"}):
            body = body["action"]  # see the module docstring
        return schema_errors(self.spec.validator(media["schema"], "response"), body,
                             "response")

    def check(self, ex):
        """Mismatches of one exchange; the operation's key or None."""
        method = str(ex.get("method", "")).upper()
        path = str(ex.get("path", ""))
        status = ex.get("status")
        if not method or not path.startswith("/") or not isinstance(status, int):
            return None, ["needs method, path (starting with /) and an integer status"]
        if "?" in path:
            path, query = path.split("?", 1)
            ex = dict(ex, query=ex.get("query") or query)
        tmpl, params = self.spec.match(path)
        if tmpl is None:
            self.unmatched[(method, path)] += 1
            return None, ["no path in the spec matches %s" % path]
        key = (method, tmpl)
        if key not in self.spec.ops:
            self.unmatched[(method, path)] += 1
            return None, ["%s is not documented for %s" % (method, tmpl)]
        self.counts.setdefault(key, collections.Counter())[status] += 1
        op = self.spec.ops[key]
        resp, err = self.pick_response(op, status)
        if err:
            return key, [err]
        errs = []
        if status < 400:
            errs += self.check_request(key, params, ex)
        errs += self.check_headers(resp, ex.get("response_headers"))
        errs += self.check_response(op, resp, status, ex.get("response_body"))
        return key, errs

    def run(self, name, lines):
        for lineno, line in enumerate(lines, 1):
            if not line.strip():
                continue
            self.exchanges += 1
            where = "%s:%d" % (name, lineno)
            try:
                ex = json.loads(line)
                if not isinstance(ex, dict):
                    raise ValueError("not an object")
            except ValueError as e:
                self.mismatches.append("%s: not a JSON object (%s)" % (where, e))
                continue
            try:
                _, errs = self.check(ex)
            except ValueError as e:
                errs = [str(e)]
            label = "%s %s %s" % (str(ex.get("method", "?")).upper(), ex.get("path", "?"),
                                  ex.get("status", "?"))
            for e in errs:
                self.mismatches.append("%s: %s: %s" % (where, label, e))


def summary(spec, checker, out):
    exercised = len(checker.counts)
    print("contract: %d exchanges, %d of %d operations exercised, %d mismatches" %
          (checker.exchanges, exercised, len(spec.ops), len(checker.mismatches)), file=out)
    for (method, tmpl), statuses in checker.counts.items():
        op_id = spec.ops[(method, tmpl)].get("operationId", "")
        seen = ", ".join("%s x%d" % (s, n) for s, n in sorted(statuses.items()))
        print("  %4d  %-6s %s (%s): %s" % (sum(statuses.values()), method, tmpl, op_id, seen),
              file=out)


def list_ops(spec, checker, out):
    done = [k for k in spec.ops if k in checker.counts]
    todo = [k for k in spec.ops if k not in checker.counts]
    print("exercised (%d of %d):" % (len(done), len(spec.ops)), file=out)
    for k in done:
        print("  %4d  %-6s %s (%s)" % (sum(checker.counts[k].values()), k[0], k[1],
                                       spec.ops[k].get("operationId", "")), file=out)
    print("not exercised (%d):" % len(todo), file=out)
    for k in todo:
        print("        %-6s %s (%s)" % (k[0], k[1], spec.ops[k].get("operationId", "")),
              file=out)
    if checker.unmatched:
        print("not in the spec (%d):" % len(checker.unmatched), file=out)
        for (method, path), n in sorted(checker.unmatched.items()):
            print("  %4d  %-6s %s" % (n, method, path), file=out)


def main(argv):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("recordings", nargs="+", metavar="RECORDING.jsonl")
    ap.add_argument("--spec", default=None, help="OpenAPI 3.0 JSON (default: see --help)")
    ap.add_argument("--list-ops", action="store_true",
                    help="print the operations exercised and not exercised, then exit 0")
    args = ap.parse_args(argv)
    try:
        spec = Spec(args.spec or default_spec_path())
    except SpecError as e:
        print("contract: %s" % e, file=sys.stderr)
        return 2
    checker = Checker(spec)
    for name in args.recordings:
        try:
            with open(name, encoding="utf-8") as f:
                checker.run(name, f.read().splitlines())
        except (OSError, UnicodeDecodeError) as e:
            print("contract: cannot read %s: %s" % (name, e), file=sys.stderr)
            return 2
        except SpecError as e:
            print("contract: %s" % e, file=sys.stderr)
            return 2
    if args.list_ops:
        list_ops(spec, checker, sys.stdout)
        return 0
    for m in checker.mismatches:
        print("MISMATCH " + m)
    summary(spec, checker, sys.stdout)
    if checker.exchanges == 0:
        print("contract: no exchanges in %s" % " ".join(args.recordings), file=sys.stderr)
        return 1
    return 1 if checker.mismatches else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
