#!/usr/bin/python3
"""A git server that stalls: accepts TCP connections on 127.0.0.1 (a free port, written to
--port-file), reads what clients send and never answers. Holds every connection until it exits
after --lifetime seconds. Stdlib only."""

import argparse
import os
import selectors
import socket
import time


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port-file", required=True, help="where to write the port")
    ap.add_argument("--lifetime", type=int, default=900, help="seconds before exiting")
    args = ap.parse_args()

    lsock = socket.socket()
    lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    lsock.bind(("127.0.0.1", 0))
    lsock.listen(64)
    tmp = args.port_file + ".tmp"
    with open(tmp, "w") as f:
        f.write("%d\n" % lsock.getsockname()[1])
    os.rename(tmp, args.port_file)

    sel = selectors.DefaultSelector()
    sel.register(lsock, selectors.EVENT_READ)
    end = time.monotonic() + args.lifetime
    while time.monotonic() < end:
        for key, _ in sel.select(timeout=1):
            if key.fileobj is lsock:
                conn, _ = lsock.accept()
                sel.register(conn, selectors.EVENT_READ)
            elif not key.fileobj.recv(65536):  # the client gave up: forget it
                sel.unregister(key.fileobj)
                key.fileobj.close()


if __name__ == "__main__":
    main()
