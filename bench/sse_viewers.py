#!/usr/bin/env python3
"""SSE viewers for bench/controller_bench.sh (stdlib only, one asyncio loop).

Starts a deploy (POST /api/v1/infra/deploy with the JSON body from --body-file), reads the
deployment id from its first event, then opens --viewers concurrent viewers of
GET /api/v1/deployments/{id}/events and reads every stream to its end. Prints one JSON object:
the time each viewer got the `done` event after the first viewer got it (p50/p99/max), how many
viewers were attached before the deploy finished, and whether every viewer got the identical
complete stream (the same bytes and the same number of `id:` lines as the deploy's own stream).

With --save-stream FILE it also writes the deploy's stream body there. The floor for the same
measurement: `--floor-serve PORT --replay FILE` accepts --viewers connections, then writes that
stream, event by event, to every socket from one thread (blocking sendall, nothing else to do);
`--floor-port PORT` runs the same viewers against it and prints the same figures.

Usage: sse_viewers.py --port P --token T --body-file F [--viewers 500] [--save-stream FILE]
       sse_viewers.py --floor-serve P --replay FILE [--viewers 500] &
       sse_viewers.py --floor-port P [--viewers 500]
"""
import argparse
import asyncio
import hashlib
import json
import socket
import sys
import time

DONE = b'"done"'


def percentile(sorted_vals, p):
    """Nearest-rank percentile of an ascending list."""
    if not sorted_vals:
        return None
    k = max(0, min(len(sorted_vals) - 1, -(-len(sorted_vals) * p // 100) - 1))
    return sorted_vals[int(k)]


class Stream:
    """One SSE response read to EOF: when its first byte and its done event arrived, its body."""

    def __init__(self):
        self.t_first = None
        self.t_done = None
        self.status = None
        self.chunks = []
        self.partial = b""
        self.first_event = None
        self.error = None

    def feed(self, data, now):
        if self.t_first is None:
            self.t_first = now
        self.chunks.append(data)
        if self.t_done is not None and self.first_event is not None:
            return
        lines = (self.partial + data).split(b"\n")
        self.partial = lines.pop()
        for line in lines:
            if not line.startswith(b"data: "):
                continue
            if self.first_event is None:
                try:
                    self.first_event = json.loads(line[6:])
                except ValueError:
                    pass
            if self.t_done is None and DONE in line:
                try:
                    ev = json.loads(line[6:])
                except ValueError:
                    continue
                if ev.get("type") in ("done", "error"):
                    self.t_done = now

    def body(self):
        raw = b"".join(self.chunks)
        head, sep, body = raw.partition(b"\r\n\r\n")
        if sep and head.startswith(b"HTTP/1."):
            self.status = int(head.split(b" ", 2)[1])
        return body


async def read_stream(reader, st):
    while True:
        data = await reader.read(65536)
        if not data:
            break
        st.feed(data, time.monotonic())


async def run_deploy(args, body, st, got_id):
    reader, writer = await asyncio.open_connection(args.host, args.port)
    head = (
        f"POST /api/v1/infra/deploy HTTP/1.1\r\nHost: {args.host}:{args.port}\r\n"
        f"Authorization: Bearer {args.token}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    writer.write(head.encode() + body)
    await writer.drain()
    while True:
        data = await reader.read(65536)
        if not data:
            break
        st.feed(data, time.monotonic())
        if not got_id.done() and st.first_event is not None:
            got_id.set_result(st.first_event.get("deployment_id"))
    if not got_id.done():
        got_id.set_result(None)
    writer.close()


async def run_viewer(args, dep_id, st):
    try:
        reader, writer = await asyncio.open_connection(args.host, args.port)
        writer.write(
            (
                f"GET /api/v1/deployments/{dep_id}/events HTTP/1.1\r\n"
                f"Host: {args.host}:{args.port}\r\nAuthorization: Bearer {args.token}\r\n"
                "Accept: text/event-stream\r\nConnection: close\r\n\r\n"
            ).encode()
        )
        await writer.drain()
        await read_stream(reader, st)
        writer.close()
    except OSError as e:
        st.error = str(e)


def floor_serve(port, n, replay):
    """Accept n viewers, then broadcast the recorded stream event by event, 5 ms apart."""
    with open(replay, "rb") as f:
        events = [e + b"\n\n" for e in f.read().split(b"\n\n") if e.strip()]
    head = b"HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nConnection: close\r\n\r\n"
    ls = socket.socket()
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind(("127.0.0.1", port))
    ls.listen(4096)
    print("listening", flush=True)
    conns = []
    while len(conns) < n:
        c, _ = ls.accept()
        c.recv(4096)  # the request; one read is enough for a small GET on loopback
        c.sendall(head)
        conns.append(c)
    for ev in events:
        time.sleep(0.005)
        for c in conns:
            c.sendall(ev)
    for c in conns:
        c.close()
    ls.close()
    return 0


def summarize(viewers, t_open):
    bodies = [v.body() for v in viewers]
    done_times = sorted(v.t_done for v in viewers if v.t_done is not None)
    t0 = done_times[0] if done_times else None
    lat_ms = [(t - t0) * 1000 for t in done_times]
    first_bytes = sorted(v.t_first for v in viewers if v.t_first is not None)
    return bodies, t0, first_bytes, {
        "viewers": len(viewers),
        "status_200": sum(1 for v in viewers if v.status == 200),
        "errors": sorted({v.error for v in viewers if v.error})[:5],
        "got_done": len(done_times),
        "attach_s_last": (first_bytes[-1] - t_open) if first_bytes else None,
        "viewer_id_counts": sorted({sum(1 for line in b.split(b"\n") if line.startswith(b"id: ")) for b in bodies}),
        "distinct_bodies": len({hashlib.sha256(b).hexdigest() for b in bodies}),
        "done_lag_ms": {
            "p50": percentile(lat_ms, 50),
            "p99": percentile(lat_ms, 99),
            "max": lat_ms[-1] if lat_ms else None,
        },
    }


async def floor_client(args):
    viewers = [Stream() for _ in range(args.viewers)]
    t_open = time.monotonic()
    await asyncio.wait_for(asyncio.gather(*(run_viewer(args, 1, v) for v in viewers)), args.timeout)
    out = summarize(viewers, t_open)[3]
    print(json.dumps(out))
    return 0 if out["got_done"] == args.viewers else 1


async def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--host", default="127.0.0.1")
    ap.add_argument("--port", type=int)
    ap.add_argument("--token", default="")
    ap.add_argument("--body-file")
    ap.add_argument("--viewers", type=int, default=500)
    ap.add_argument("--timeout", type=float, default=180)
    ap.add_argument("--save-stream")
    ap.add_argument("--floor-serve", type=int)
    ap.add_argument("--replay")
    ap.add_argument("--floor-port", type=int)
    args = ap.parse_args()
    if args.floor_serve:
        return floor_serve(args.floor_serve, args.viewers, args.replay)
    if args.floor_port:
        args.port = args.floor_port
        return await floor_client(args)
    if not args.port or not args.body_file:
        ap.error("--port and --body-file are required")
    with open(args.body_file, "rb") as f:
        body = f.read()

    dep = Stream()
    got_id = asyncio.get_running_loop().create_future()
    deploy_task = asyncio.create_task(run_deploy(args, body, dep, got_id))
    dep_id = await asyncio.wait_for(got_id, 60)
    if not dep_id:
        print(json.dumps({"error": "no deployment id", "stream": dep.body()[-600:].decode("utf-8", "replace")}))
        return 1
    t_open = time.monotonic()
    viewers = [Stream() for _ in range(args.viewers)]
    await asyncio.wait_for(
        asyncio.gather(deploy_task, *(run_viewer(args, dep_id, v) for v in viewers)), args.timeout
    )

    ref = dep.body()
    if args.save_stream:
        with open(args.save_stream, "wb") as f:
            f.write(ref.partition(b"\n\n")[2])
    bodies, t0, first_bytes, out = summarize(viewers, t_open)
    first_done = min([t for t in [t0, dep.t_done] if t is not None], default=None)
    out.update(
        {
            "deployment_id": dep_id,
            "attached_before_done": sum(1 for t in first_bytes if first_done is not None and t < first_done),
            "deploy_events": sum(1 for line in ref.split(b"\n") if line.startswith(b"id: ")),
            "deploy_success": b'"type":"done","success":true' in ref,
            "identical_to_deploy": out["distinct_bodies"] == 1
            and ref.partition(b"\n\n")[2] == bodies[0].partition(b"\n\n")[2],
            "deploy_done_vs_first_viewer_ms": ((dep.t_done - t0) * 1000) if dep.t_done and t0 else None,
        }
    )
    print(json.dumps(out))
    return 0 if out["status_200"] == args.viewers and out["got_done"] == args.viewers else 1


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
