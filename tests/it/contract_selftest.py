#!/usr/bin/python3
"""Self-test of tests/dosim/contract.py: handcrafted recordings that must pass (a droplet
create 202, a 204 delete, a 422 error body, a paginated list, actions) and ones that must fail
(a number where the spec wants a string, missing required fields, undocumented statuses, a
wrong request body, missing rate-limit headers, ...), so we know the checker can fail; plus the
OpenAPI-to-JSON-Schema conversion rules on small synthetic documents. Run by
contract_selftest.sh with Debian's python3 (python3-jsonschema 4.10)."""

import copy
import importlib.util
import json
import os
import subprocess
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
CONTRACT = os.path.join(os.path.dirname(HERE), "dosim", "contract.py")
spec = importlib.util.spec_from_file_location("contract", CONTRACT)
contract = importlib.util.module_from_spec(spec)
spec.loader.exec_module(contract)

RL = {"ratelimit-limit": "5000", "ratelimit-remaining": "4999", "ratelimit-reset": "1700000000"}
REGION = {"name": "New York 3", "slug": "nyc3", "features": ["metadata"], "available": True,
          "sizes": ["s-1vcpu-1gb"]}
SIZE = {"slug": "s-1vcpu-1gb", "memory": 1024, "vcpus": 1, "disk": 25, "transfer": 1.0,
        "price_monthly": 6.0, "price_hourly": 0.00893, "regions": ["nyc3"], "available": True,
        "description": "Basic"}
DROPLET = {
    "id": 3164494, "name": "web-1", "memory": 1024, "vcpus": 1, "disk": 25, "locked": False,
    "status": "new", "created_at": "2024-05-01T10:00:00Z", "features": ["monitoring"],
    "backup_ids": [], "next_backup_window": None, "snapshot_ids": [],
    "image": {"id": 7555620, "name": "base-docker-debian12-agent-0.3.0", "type": "snapshot",
              "distribution": "Debian", "slug": None, "public": False, "regions": ["nyc3"],
              "created_at": "2024-04-01T10:00:00Z", "min_disk_size": 25, "size_gigabytes": 2.1,
              "tags": [], "status": "available"},
    "volume_ids": [], "size": SIZE, "size_slug": "s-1vcpu-1gb",
    "networks": {"v4": [{"ip_address": "203.0.113.10", "netmask": "255.255.240.0",
                         "gateway": "203.0.113.1", "type": "public"}], "v6": []},
    "region": REGION, "tags": ["dp"],
}
ACTION = {"id": 36804636, "status": "in-progress", "type": "power_off",
          "started_at": "2024-05-01T10:00:00Z", "completed_at": None, "resource_id": 3164494,
          "resource_type": "droplet", "region": REGION, "region_slug": "nyc3"}
CREATE = {"name": "web-1", "region": "nyc3", "size": "s-1vcpu-1gb", "image": 7555620,
          "ssh_keys": [], "backups": False, "ipv6": False, "monitoring": False, "tags": ["dp"],
          "user_data": "#cloud-config\n", "private_networking": False}


def ex(method, path, status, req=None, resp=None, query="", headers=RL):
    return {"method": method, "path": path, "query": query, "status": status,
            "request_body": req, "response_body": resp, "response_headers": dict(headers)}


def good_exchanges():
    links = {"actions": [{"id": 1, "rel": "create", "href": "https://x/v2/actions/1"}]}
    page = {"droplets": [DROPLET], "meta": {"total": 3},
            "links": {"pages": {"first": "https://api/v2/droplets?page=1&per_page=1",
                                "prev": "https://api/v2/droplets?page=1&per_page=1",
                                "next": "https://api/v2/droplets?page=3&per_page=1",
                                "last": "https://api/v2/droplets?page=3&per_page=1"}}}
    return [
        ex("POST", "/v2/droplets", 202, CREATE, {"droplet": DROPLET, "links": links}),
        ex("DELETE", "/v2/droplets/3164494", 204),
        ex("POST", "/v2/droplets", 422, {"name": "bad name!"},
           {"id": "unprocessable_entity", "message": "Name is invalid."}),
        ex("GET", "/v2/droplets", 200, None, page, query="page=2&per_page=1"),
        ex("GET", "/v2/droplets", 200, None, page, query={"tag_name": "dp", "page": "2"}),
        ex("POST", "/v2/droplets/3164494/actions", 201, {"type": "power_off"},
           {"action": ACTION}),
        ex("GET", "/v2/droplets/3164494/actions/36804636", 200, None, {"action": ACTION}),
        ex("GET", "/v2/actions/36804636", 200, None, {"action": dict(ACTION, status="completed",
                                                                     completed_at=None)}),
        ex("POST", "/v2/images/7555620/actions", 201, {"type": "transfer", "region": "sfo3"},
           {"action": dict(ACTION, type="transfer", resource_type="image")}),
        ex("GET", "/v2/droplets/3164494", 404, None,
           {"id": "not_found", "message": "The resource you requested could not be found."}),
        ex("GET", "/v2/droplets/abc", 404, None, {"id": "not_found", "message": "nope"}),
        ex("GET", "/v2/droplets/3164494", 200, None, {"droplet": dict(DROPLET, status="off")}),
        ex("GET", "/v2/account", 429, None, {"id": "too_many_requests", "message": "slow"}),
    ]


def with_(e, **changes):
    e = copy.deepcopy(e)
    e.update(changes)
    return e


def bad_exchanges():
    """(name, exchange, fragments the mismatch line must hold)."""
    g = good_exchanges()
    create, delete, err422, page = g[0], g[1], g[2], g[3]
    no_name = copy.deepcopy(create)
    del no_name["response_body"]["droplet"]["name"]
    str_id = copy.deepcopy(create)
    str_id["response_body"]["droplet"]["id"] = "3164494"
    no_msg = copy.deepcopy(err422)
    del no_msg["response_body"]["message"]
    no_meta = copy.deepcopy(page)
    del no_meta["response_body"]["meta"]
    return [
        ("int id where the spec wants a string",
         with_(err422, response_body={"id": 422, "message": "Name is invalid."}),
         ["POST /v2/droplets 422", "response $.id", "422 is not of type 'string'"]),
        ("string id where the spec wants an integer", str_id,
         ["response $.droplet.id", "'3164494' is not of type 'integer'"]),
        ("missing required field", no_name,
         ["response $.droplet", "'name' is a required property"]),
        ("missing error message", no_msg, ["'message' is a required property"]),
        ("list without meta", no_meta, ["GET /v2/droplets 200", "'meta' is a required"]),
        ("undocumented success status", with_(create, status=200),
         ["POST /v2/droplets 200", "status 200 is not documented"]),
        ("201 where 204 is documented", with_(delete, status=201),
         ["status 201 is not documented"]),
        ("wrong request body type", with_(create, request_body=dict(CREATE, size=1)),
         ["request $.size", "1 is not of type 'string'"]),
        ("request body of the wrong JSON type", with_(create, request_body=["web-1"]),
         ["request $:"]),
        ("missing rate-limit header",
         with_(delete, response_headers={"ratelimit-limit": "5000", "ratelimit-reset": "1"}),
         ["response header ratelimit-remaining is missing"]),
        ("rate-limit header not a number",
         with_(delete, response_headers=dict(RL, **{"ratelimit-limit": "lots"})),
         ["response header ratelimit-limit: 'lots' is not an integer"]),
        ("body on a 204", with_(delete, response_body={"ok": True}),
         ["status 204 documents none"]),
        ("missing body", with_(create, response_body=None), ["response body is missing"]),
        ("bad enum", with_(g[5], request_body={"type": "explode"}),
         ["request $.type", "'explode' is not one of"]),
        ("query below minimum", with_(page, query="page=0"),
         ["query parameter page='0'", "less than the minimum of 1"]),
        ("query not a number", with_(page, query={"per_page": "many"}),
         ["query parameter per_page='many'"]),
        ("undocumented query parameter", with_(page, query="colour=blue"),
         ["query parameter 'colour' is not documented"]),
        ("path parameter not an integer", with_(g[11], path="/v2/droplets/abc"),
         ["path parameter droplet_id='abc'", "is not of type 'integer'"]),
        ("unknown path", with_(delete, path="/v2/nothing/here"), ["no path in the spec"]),
        ("undocumented method", with_(delete, method="PATCH", path="/v2/droplets"),
         ["PATCH is not documented for /v2/droplets"]),
        ("bad date-time", with_(g[6], response_body={"action": dict(ACTION,
                                                                    started_at="yesterday")}),
         ["response $.action.started_at", "'yesterday' is not a 'date-time'"]),
        ("null where not nullable", with_(g[6], response_body={"action": dict(ACTION,
                                                                              region=None)}),
         ["response $.action.region", "None is not of type 'object'"]),
    ]


class Run:
    def __init__(self, tmp):
        self.tmp = tmp
        self.n = 0

    def __call__(self, exchanges, *args, env=None, raw=None):
        self.n += 1
        path = os.path.join(self.tmp, "rec%d.jsonl" % self.n)
        with open(path, "w") as f:
            f.write(raw if raw is not None else
                    "".join(json.dumps(e) + "\n" for e in exchanges))
        e = dict(os.environ)
        e.pop("DP_DO_OPENAPI", None)
        e.update(env or {})
        p = subprocess.run([CONTRACT, *args, path], capture_output=True, text=True, env=e)
        return p.returncode, p.stdout, p.stderr


class RecordingTests(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.tmpdir = tempfile.TemporaryDirectory()
        cls.rec = Run(cls.tmpdir.name)

    @classmethod
    def tearDownClass(cls):
        cls.tmpdir.cleanup()

    def test_good_recording_passes(self):
        rc, out, err = self.rec(good_exchanges())
        self.assertEqual(rc, 0, out + err)
        self.assertNotIn("MISMATCH", out)
        self.assertIn("contract: 13 exchanges, 9 of 65 operations exercised, 0 mismatches", out)
        self.assertIn("POST   /v2/droplets (droplets_create): 202 x1, 422 x1", out)
        self.assertIn("DELETE /v2/droplets/{droplet_id} (droplets_destroy): 204 x1", out)

    def test_each_bad_exchange_fails(self):
        for name, e, fragments in bad_exchanges():
            with self.subTest(name):
                # The bad one sits among good ones: its line number must be reported.
                rc, out, err = self.rec(good_exchanges()[:2] + [e])
                self.assertEqual(rc, 1, out + err)
                lines = [l for l in out.splitlines() if l.startswith("MISMATCH")]
                self.assertTrue(lines, out)
                self.assertTrue(all(":3: " in l for l in lines), out)
                joined = "\n".join(lines)
                for frag in fragments:
                    self.assertIn(frag, joined)

    def test_not_json(self):
        rc, out, _ = self.rec(None, raw=json.dumps(good_exchanges()[1]) + "\n{oops\n")
        self.assertEqual(rc, 1)
        self.assertIn(":2: not a JSON object", out)

    def test_empty_recording_fails(self):
        rc, _, err = self.rec([])
        self.assertEqual(rc, 1)
        self.assertIn("no exchanges", err)

    def test_list_ops(self):
        bad = with_(good_exchanges()[1], status=200)
        rc, out, _ = self.rec(good_exchanges() + [bad, with_(bad, path="/v2/else")],
                              "--list-ops")
        self.assertEqual(rc, 0, out)
        self.assertIn("exercised (9 of 65):", out)
        self.assertIn("not exercised (56):", out)
        self.assertIn("   2  DELETE /v2/droplets/{droplet_id} (droplets_destroy)", out)
        self.assertIn("        GET    /v2/sizes (sizes_list)", out)
        self.assertIn("not in the spec (1):", out)
        self.assertNotIn("MISMATCH", out)

    def test_spec_location(self):
        good = good_exchanges()[:1]
        spec_path = contract.default_spec_path()
        self.assertTrue(os.path.isfile(spec_path), spec_path)
        self.assertEqual(self.rec(good, "--spec", spec_path)[0], 0)
        self.assertEqual(self.rec(good, env={"DP_DO_OPENAPI": spec_path})[0], 0)
        rc, _, err = self.rec(good, env={"DP_DO_OPENAPI": "/nonexistent.json"})
        self.assertEqual(rc, 2)
        self.assertIn("cannot read the OpenAPI description /nonexistent.json", err)
        self.assertEqual(self.rec(good, "--spec", "/nonexistent.json")[0], 2)


def mini_spec(schemas, body_schema, tmp):
    doc = {"openapi": "3.0.0", "info": {"title": "t", "version": "1"},
           "paths": {"/v2/things/{id}": {"put": {
               "parameters": [{"in": "path", "name": "id", "required": True,
                               "schema": {"type": "integer"}}],
               "requestBody": {"content": {"application/json": {"schema": body_schema}}},
               "responses": {"200": {"description": "ok", "content": {
                   "application/json": {"schema": body_schema}}}}}},
               "/v2/things/special": {"put": {"responses": {"204": {"description": "ok"}}}}},
           "components": {"schemas": schemas}}
    path = os.path.join(tmp, "spec.json")
    with open(path, "w") as f:
        json.dump(doc, f)
    return contract.Spec(path)


class ConversionTests(unittest.TestCase):
    """The OpenAPI 3.0 rules, on one small document each."""

    def setUp(self):
        self.tmpdir = tempfile.TemporaryDirectory()
        self.addCleanup(self.tmpdir.cleanup)
        self.schemas = {
            "Thing": {"type": "object", "required": ["id", "name", "secret"],
                      "discriminator": {"propertyName": "kind"}, "xml": {"name": "x"},
                      "externalDocs": {"url": "https://example.com"},
                      "example": {"id": "not even the right type"},
                      "properties": {
                          "id": {"$ref": "#/components/schemas/Id"},
                          "name": {"type": "string", "nullable": True, "enum": ["a", "b"]},
                          "secret": {"type": "string", "writeOnly": True},
                          "parent": {"$ref": "#/components/schemas/Thing", "nullable": True},
                          "owner": {"allOf": [{"$ref": "#/components/schemas/Owner"}],
                                    "nullable": True}}},
            "Id": {"type": "integer", "readOnly": True},
            "Owner": {"type": "object", "required": ["email"],
                      "properties": {"email": {"type": "string"}}},
        }
        self.spec = mini_spec(self.schemas, {"$ref": "#/components/schemas/Thing"},
                              self.tmpdir.name)
        self.body = self.spec.doc["paths"]["/v2/things/{id}"]["put"]["requestBody"][
            "content"]["application/json"]["schema"]

    def errors(self, direction, instance):
        v = self.spec.validator(self.body, direction)
        return sorted(e.message for e in v.iter_errors(instance))

    def test_read_only_not_required_in_requests(self):
        self.assertEqual(self.errors("request", {"name": "a", "secret": "s"}), [])
        self.assertEqual(self.errors("response", {"name": "a", "id": 1}), [])
        self.assertIn("'id' is a required property", self.errors("response", {"name": "a"}))
        self.assertIn("'secret' is a required property", self.errors("request", {"name": "a"}))

    def test_nullable_enum_and_ref(self):
        ok = {"id": 1, "name": None, "parent": None, "owner": None}
        self.assertEqual(self.errors("response", ok), [])
        self.assertTrue(self.errors("response", dict(ok, name="c")))
        self.assertEqual(self.errors("response", dict(ok, parent=dict(ok, parent=None))), [])
        self.assertTrue(self.errors("response", dict(ok, parent=dict(ok, id="x"))))
        self.assertTrue(self.errors("response", dict(ok, owner={})))
        self.assertEqual(self.errors("response", dict(ok, owner={"email": "a@b"})), [])

    def test_annotations_dropped(self):
        self.spec.validator(self.body, "response")
        thing = self.spec.conv["response"].doc["components"]["schemas"]["Thing"]
        for k in ("discriminator", "xml", "externalDocs", "example"):
            self.assertNotIn(k, thing)
        self.assertEqual(thing["properties"]["name"]["type"], ["string", "null"])
        self.assertIn(None, thing["properties"]["name"]["enum"])

    def test_literal_segment_wins(self):
        self.assertEqual(self.spec.match("/v2/things/special"), ("/v2/things/special", {}))
        self.assertEqual(self.spec.match("/v2/things/7"), ("/v2/things/{id}", {"id": "7"}))
        self.assertEqual(self.spec.match("/v2/things/7/more"), (None, None))
        self.assertEqual(self.spec.match("/v2/things/"), (None, None))

    def test_real_spec_quirks(self):
        real = contract.Spec(contract.default_spec_path())
        self.assertEqual(real.match("/v2/droplets/actions")[0], "/v2/droplets/actions")
        self.assertEqual(real.match("/v2/droplets/backups/policies")[0],
                         "/v2/droplets/backups/policies")
        self.assertEqual(real.match("/v2/droplets/12/actions/34"),
                         ("/v2/droplets/{droplet_id}/actions/{action_id}",
                          {"droplet_id": "12", "action_id": "34"}))
        status = real.conv["response"].convert({"$ref": "#/components/schemas/droplets_droplet"})
        enum = real.conv["response"].doc["components"]["schemas"]["droplets_droplet"][
            "properties"]["status"]["enum"]
        self.assertEqual(status, {"$ref": "#/components/schemas/droplets_droplet"})
        self.assertEqual(enum, ["new", "active", "off", "archive"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
