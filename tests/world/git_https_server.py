#!/usr/bin/python3
"""A token-protected git server over HTTPS for the tests: `git http-backend` run as CGI behind
HTTP Basic auth (any user name; the password must equal the token in --token-file, else 401
with WWW-Authenticate); /moved/<path> answers 301 to https://localhost:PORT/<path>. Binds
127.0.0.1 on a free port and writes the port to --port-file once it listens. Stdlib only.
Exits after --lifetime seconds so a crashed test leaves nothing."""

import argparse
import base64
import hmac
import http.server
import os
import ssl
import subprocess
import sys
import threading

BODY_MAX = 64 * 1024 * 1024  # one request body, bytes


class GitHandler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "dp-test-git"

    def do_GET(self):
        self.serve_git()

    def do_POST(self):
        self.serve_git()

    def log_message(self, fmt, *args):  # request lines only; never headers
        sys.stderr.write("%s %s\n" % (self.address_string(), fmt % args))

    def user(self):
        """The Basic user name when the password is the token, else None."""
        auth = self.headers.get("Authorization", "")
        if not auth.startswith("Basic "):
            return None
        try:
            user, _, password = base64.b64decode(auth[6:], validate=True).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            return None
        return user if hmac.compare_digest(password.encode(), self.server.token) else None

    def reply(self, status, headers, body):
        # Head and body in one write, as most servers do.
        self.log_request(status)
        head = ["HTTP/1.1 %d %s" % (status, self.responses.get(status, ("",))[0])]
        head += ["%s: %s" % h for h in headers + [("Content-Length", str(len(body)))]]
        self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)

    def read_body(self):
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            data = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                if size == 0:
                    self.rfile.readline()
                    return data
                if len(data) + size > BODY_MAX:
                    raise ValueError("body too large")
                data += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        if length > BODY_MAX:
            raise ValueError("body too large")
        return self.rfile.read(length)

    def serve_git(self):
        if self.path.startswith("/moved/"):  # to another host (localhost): must not be followed
            where = "https://localhost:%d%s" % (self.server.server_address[1],
                                                 self.path[len("/moved"):])
            self.reply(301, [("Location", where)], b"")
            return
        user = self.user()
        if user is None:
            # No body: Debian's libgit2 1.5.1 then fails the retry with credentials ("http
            # parser error: invalid constant string"), even on a new connection.
            self.reply(401, [("WWW-Authenticate", 'Basic realm="git"')], b"")
            return
        body = self.read_body()
        path, _, query = self.path.partition("?")
        env = {
            "PATH": "/usr/bin:/bin",
            "GIT_PROJECT_ROOT": self.server.root,
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": path,
            "QUERY_STRING": query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_USER": user,
            "REMOTE_ADDR": self.client_address[0],
        }
        for header in ("Git-Protocol", "Content-Encoding"):
            if self.headers.get(header):
                env["HTTP_" + header.upper().replace("-", "_")] = self.headers[header]
        cgi = subprocess.run(["git", "http-backend"], input=body, env=env, capture_output=True,
                             timeout=120, check=False)
        self.reply_cgi(cgi.stdout)

    def reply_cgi(self, out):
        head, sep, body = out.partition(b"\r\n\r\n")
        if not sep:
            head, sep, body = out.partition(b"\n\n")
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            elif name:
                headers.append((name.strip(), value.strip()))
        self.reply(status, headers, body)


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--root", required=True, help="folder holding the bare repositories")
    ap.add_argument("--cert", required=True, help="PEM certificate chain")
    ap.add_argument("--key", required=True, help="PEM private key")
    ap.add_argument("--token-file", required=True, help="file holding the token (one line)")
    ap.add_argument("--port-file", required=True, help="where to write the port")
    ap.add_argument("--lifetime", type=int, default=900, help="seconds before exiting")
    args = ap.parse_args()

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), GitHandler)
    server.daemon_threads = True
    server.root = os.path.abspath(args.root)
    with open(args.token_file, "rb") as f:
        server.token = f.read().strip()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    # The handshake happens in each request's thread, so one silent client blocks no other.
    server.socket = ctx.wrap_socket(server.socket, server_side=True,
                                    do_handshake_on_connect=False)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % server.server_address[1])
    os.rename(tmp, args.port_file)
    stop = threading.Timer(args.lifetime, server.shutdown)
    stop.daemon = True
    stop.start()
    server.serve_forever()


if __name__ == "__main__":
    main()
