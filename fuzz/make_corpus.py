#!/usr/bin/env python3
"""Writes the hand-made seed corpora in fuzz/corpus/<name>/ (the files are kept in the tree;
run this again after changing it). Tars come from Python's tarfile, cut after the end-of-archive
blocks so the seeds stay small: good trees and every kind of member the agent must refuse."""
import gzip
import io
import json
import os
import struct
import tarfile

HERE = os.path.dirname(os.path.abspath(__file__))


def out(name, fname, data):
    d = os.path.join(HERE, "corpus", name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, fname), "wb") as f:
        f.write(data)


def member(name, kind="file", data=b"", target="", mode=0o644):
    ti = tarfile.TarInfo(name)
    ti.mtime = 1700000000
    ti.mode = mode
    if kind == "file":
        ti.size = len(data)
    elif kind == "dir":
        ti.type = tarfile.DIRTYPE
        ti.mode = 0o755
    elif kind == "sym":
        ti.type = tarfile.SYMTYPE
        ti.linkname = target
    elif kind == "hard":
        ti.type = tarfile.LNKTYPE
        ti.linkname = target
    elif kind == "chr":
        ti.type = tarfile.CHRTYPE
        ti.devmajor, ti.devminor = 1, 3
    elif kind == "fifo":
        ti.type = tarfile.FIFOTYPE
    return ti, data


def tar(members, fmt=tarfile.PAX_FORMAT):
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=fmt) as t:
        for ti, data in members:
            t.addfile(ti, io.BytesIO(data) if ti.isreg() else None)
    raw = buf.getvalue()
    end = len(raw.rstrip(b"\0"))
    end = (end + 511) // 512 * 512 + 1024  # keep the two end-of-archive blocks
    return raw[:end]


def untar_corpus():
    good = tar([member("./", "dir"), member("src/", "dir"),
                member("src/app.py", data=b"print('hi')\n"),
                member("run.sh", data=b"#!/bin/sh\nexec python3 src/app.py\n", mode=0o4755),
                member("empty/", "dir"), member("src/link", "sym", target="../run.sh"),
                member("hard", "hard", target="run.sh"),
                member("Dockerfile", data=b"FROM busybox\nCOPY . /app\n")])
    out("untar", "good.tar", good)
    out("untar", "good.tar.gz", gzip.compress(good, mtime=0))
    out("untar", "ustar.tar", tar([member("a/b/c.txt", data=b"abc")], tarfile.USTAR_FORMAT))
    out("untar", "gnu_longname.tar",
        tar([member("d/" + "x" * 150, data=b"long")], tarfile.GNU_FORMAT))
    out("untar", "pax_utf8.tar", tar([member("caf\u00e9/\u00fcber.txt", data=b"utf8")]))
    out("untar", "dotdot.tar", tar([member("ok.txt", data=b"ok"), member("../evil", data=b"x")]))
    out("untar", "dotdot_deep.tar", tar([member("a/b/../../../evil", data=b"x")]))
    out("untar", "absolute.tar", tar([member("/tmp/dp-evil", data=b"x")]))
    out("untar", "symlink_escape.tar", tar([member("l", "sym", target="../../etc")]))
    out("untar", "symlink_absolute.tar", tar([member("l", "sym", target="/etc/passwd")]))
    out("untar", "symlink_through.tar",
        tar([member("sub/", "dir"), member("l", "sym", target="sub"),
             member("l/x", data=b"through")]))
    out("untar", "symlink_chain.tar",
        tar([member("a", "sym", target="."), member("b", "sym", target="a/..")]))
    out("untar", "hardlink_escape.tar", tar([member("h", "hard", target="../../etc/passwd")]))
    out("untar", "device.tar", tar([member("null", "chr")]))
    out("untar", "fifo.tar", tar([member("pipe", "fifo")]))
    out("untar", "duplicates.tar",
        tar([member("a", data=b"1"), member("a", data=b"2"), member("d/", "dir"),
             member("d", data=b"file")]))
    out("untar", "empty_archive.tar", b"\0" * 1024)
    out("untar", "truncated.tar", good[:700])


def json_corpus():
    full = {"name": "web", "image": "dp-test/busybox:1", "ports": {"8080": 80, "9090": "53/udp"},
            "env": {"A": "1", "SECRET": "hunter2-secret"}, "restart": "always",
            "labels": {"team": "core"}, "memory_mb": 256, "cpus": 0.5,
            "command": ["httpd", "-f"], "replace": True, "app": "shop",
            "deployment_id": "d-1", "version": "v3", "source": "image",
            "volumes": {"data": "/data"}, "path": "/app/web/"}
    seeds = {
        "full.json": json.dumps(full),
        "minimal.json": '{"name":"a","image":"busybox"}',
        "bad_types.json": '{"name":5,"image":[],"ports":"80","env":{"K":{"x":1}}}',
        "bad_port.json": '{"name":"a","image":"b","ports":{"x":"80/sctp"}}',
        "bad_env.json": '{"name":"a","image":"b","env":{"1BAD":"hunter2-secret"}}',
        "reserved_label.json": '{"name":"a","image":"b","labels":{"dp.managed":"0"}}',
        "bounds.json": '{"name":"a","image":"b","memory_mb":"5","cpus":2000,"restart":"x"}',
        "path_dotdot.json": '{"path":"/app/../etc"}',
        "path_odd.json": '{"path":"//app/./web//x_y-1.2/"}',
        "dup_keys.json": '{"name":"a","name":"b"}',
        "deep.json": '{"a":' + "[" * 40 + "]" * 40 + "}",
        "not_object.json": '["name","a"]',
        "unicode.json": '{"name":"caf\\u00e9","image":"b","env":{"K":"\\ud83d\\ude00"}}',
        "malformed.json": '{"name":"a",',
    }
    for fname, text in seeds.items():
        out("json_request", fname, text.encode())


def frame(stream, payload):
    return struct.pack(">BxxxI", stream, len(payload)) + payload


def logframe_corpus():
    out("logframe", "simple", frame(1, b"hello\nworld\n") + frame(2, b"oops\n"))
    out("logframe", "partial_lines", frame(1, b"par") + frame(2, b"err\n") + frame(1, b"tial\n"))
    out("logframe", "crlf", frame(1, b"dos line\r\nnext\r\n"))
    out("logframe", "empty_frame", frame(1, b"") + frame(2, b"x"))
    out("logframe", "long_line", frame(1, b"y" * 17000 + b"\n"))
    out("logframe", "bad_stream", frame(3, b"nope\n"))
    out("logframe", "bad_header", b"\x01\x01\x00\x00\x00\x00\x00\x05hello")
    out("logframe", "short_payload", struct.pack(">BxxxI", 1, 100) + b"only a few")
    out("logframe", "stdin", frame(0, b"in\n"))


if __name__ == "__main__":
    untar_corpus()
    json_corpus()
    logframe_corpus()
