#!/usr/bin/env python3
"""A scripted HTTP server for client tests: answers requests with canned responses, in order,
and records every request. Usage: scripted_http.py SCRIPT.json LOG.jsonl PORTFILE
SCRIPT: [{"match": "GET /v2/droplets", "status": 200, "headers": {...}, "body": {...}}, ...]
Each request takes the first unused entry whose "match" (METHOD and path prefix; optional)
fits; with no entry left it answers 599. Listens on 127.0.0.1, a free port written to
PORTFILE, and exits after 120 s."""
import json
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

script = json.load(open(sys.argv[1]))
log = open(sys.argv[2], "a", buffering=1)
lock = threading.Lock()
used = [False] * len(script)


def take(method, path):
    with lock:
        for i, e in enumerate(script):
            if used[i]:
                continue
            m = e.get("match")
            if m:
                mm, _, mp = m.partition(" ")
                if mm != method or not path.startswith(mp):
                    continue
            used[i] = True
            return e
    return None


class Handler(BaseHTTPRequestHandler):
    def handle_one(self):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n).decode() if n else ""
        log.write(json.dumps({"method": self.command, "path": self.path, "body": body,
                              "authorization": self.headers.get("Authorization", "")}) + "\n")
        e = take(self.command, self.path) or {"status": 599, "body": {"id": "script_exhausted",
                                                                       "message": "no entry"}}
        data = b"" if e.get("body") is None else json.dumps(e["body"]).encode()
        self.send_response(e["status"])
        for k, v in (e.get("headers") or {}).items():
            self.send_header(k, str(v))
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_DELETE = do_PUT = handle_one

    def log_message(self, *args):
        pass


srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
open(sys.argv[3], "w").write(str(srv.server_address[1]))
threading.Timer(120, srv.shutdown).start()
srv.serve_forever()
