#!/usr/bin/env python3
"""Writes the hand-made seed corpora in fuzz/corpus/<name>/ (the files are kept in the tree;
run this again after changing it). Tars come from Python's tarfile, cut after the end-of-archive
blocks so the seeds stay small: good trees and every kind of member the agent must refuse.
Zips come from Python's zipfile, hostile ones patched byte by byte (sizes that lie, the
encryption flag, CP437 names)."""
import gzip
import io
import json
import os
import struct
import tarfile
import zipfile

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


def zipped(entries, method=zipfile.ZIP_DEFLATED):
    """entries: (name, data, kind) with kind "file", "exec", "dir" or "sym" (data = target)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", method) as z:
        for name, data, kind in entries:
            zi = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            zi.compress_type = method
            zi.create_system = 3  # Unix: the modes below count
            zi.external_attr = {"file": 0o100644, "exec": 0o100755, "dir": 0o40755,
                                "sym": 0o120777}[kind] << 16
            if kind == "dir":
                zi.external_attr |= 0x10
            z.writestr(zi, data)
    return bytearray(buf.getvalue())


def zip_records(raw):
    """Offsets of (central record, its local header) pairs."""
    i = raw.find(b"PK\x01\x02")
    while i >= 0:
        yield i, struct.unpack_from("<I", raw, i + 42)[0]
        i = raw.find(b"PK\x01\x02", i + 4)


def zip_lie_size(raw, size):
    for c, l in zip_records(raw):
        struct.pack_into("<I", raw, c + 24, size)
        struct.pack_into("<I", raw, l + 22, size)
    return raw


def zip_set_flag(raw, bit):
    for c, l in zip_records(raw):
        for off in (c + 8, l + 6):
            struct.pack_into("<H", raw, off, struct.unpack_from("<H", raw, off)[0] | bit)
    return raw


def zip2tar_corpus():
    app = [("app/", b"", "dir"), ("app/run.sh", b"#!/bin/sh\necho hi\n", "exec"),
           ("app/index.html", b"<h1>hi</h1>\n" * 20, "file"), ("app/latest", b"index.html", "sym"),
           ("app/empty/", b"", "dir"), ("Dockerfile", b"FROM busybox\nCOPY . /www\n", "file")]
    out("zip2tar", "good.zip", zipped(app))
    out("zip2tar", "stored.zip", zipped(app, zipfile.ZIP_STORED))
    out("zip2tar", "single_top.zip", zipped([("proj/", b"", "dir"), ("proj/a.py", b"x=1", "file"),
                                             ("proj/sub/b", b"b", "file")]))
    out("zip2tar", "macos_meta.zip", zipped([("site/", b"", "dir"), ("site/index.html", b"<p>", "file"),
                                             ("__MACOSX/site/._index.html", b"\x05\x16\x07", "file")]))
    out("zip2tar", "utf8_names.zip", zipped([("caf\u00e9/\u00fcber.txt", b"utf8", "file")]))
    out("zip2tar", "cp437_names.zip",
        bytes(zipped([("cafX.txt", b"cp437", "file")])).replace(b"cafX", b"caf\x82"))
    out("zip2tar", "dotdot.zip", zipped([("ok.txt", b"ok", "file"), ("a/../../evil", b"x", "file")]))
    out("zip2tar", "absolute.zip", zipped([("/etc/dp-evil", b"x", "file")]))
    out("zip2tar", "symlink_escape.zip", zipped([("l", b"../../etc", "sym")]))
    out("zip2tar", "symlink_absolute.zip", zipped([("l", b"/etc/passwd", "sym")]))
    out("zip2tar", "symlink_through.zip",
        zipped([("sub/", b"", "dir"), ("l", b"sub", "sym"), ("l/x", b"through", "file")]))
    out("zip2tar", "below_file.zip", zipped([("f", b"1", "file"), ("f/x", b"2", "file")]))
    out("zip2tar", "lying_size.zip", zip_lie_size(zipped([("bomb.txt", b"z" * 200000, "file")]), 100))
    out("zip2tar", "encrypted.zip", zip_set_flag(zipped([("secret.txt", b"s" * 100, "file")]), 1))
    out("zip2tar", "empty.zip", b"PK\x05\x06" + b"\0" * 18)
    out("zip2tar", "dirs_only.zip", zipped([("a/", b"", "dir"), ("a/b/", b"", "dir")]))
    good = zipped(app)
    out("zip2tar", "truncated.zip", good[:len(good) // 2])
    damaged = bytearray(good)
    for i in range(60, 90):
        damaged[i] ^= 0x5A
    out("zip2tar", "damaged.zip", damaged)
    tree = tar([member("./", "dir"), member("src/", "dir"), member("src/app.py", data=b"print(1)\n"),
                member("src/link", "sym", target="app.py"), member("hard", "hard", target="src/app.py"),
                member("requirements.txt", data=b"flask\n")])
    out("zip2tar", "good.tar", tree)
    out("zip2tar", "good.tar.gz", gzip.compress(tree, mtime=0))
    out("zip2tar", "tar_escape.tar", tar([member("l", "sym", target="../x"), member("d", "chr")]))
    out("zip2tar", "tar_hard_later.tar", tar([member("h", "hard", target="a"),
                                              member("a", data=b"1")]))


def form(ct, parts, preamble=b"", epilogue=b"", boundary=b"XyZ"):
    body = preamble
    for headers, data in parts:
        body += b"--" + boundary + b"\r\n" + b"".join(h + b"\r\n" for h in headers) + b"\r\n"
        body += data + b"\r\n"
    body += b"--" + boundary + b"--\r\n" + epilogue
    return ct.encode() + b"\n" + body


def cd(name, filename=None):
    h = b'Content-Disposition: form-data; name="' + name + b'"'
    return h + (b'; filename="' + filename + b'"' if filename is not None else b"")


def multipart_corpus():
    ct = "multipart/form-data; boundary=XyZ"
    out("multipart", "deploy.form", form(ct, [
        ([cd(b"name")], b"web"), ([cd(b"port")], b"8080"),
        ([cd(b"code", b"app.zip"), b"Content-Type: application/zip"], bytes(zipped([
            ("index.html", b"<p>hi</p>", "file")]))),
        ([cd(b"server_ips")], b"127.0.0.2"), ([cd(b"server_ips")], b"127.0.0.3")],
        preamble=b"preamble\r\n", epilogue=b"epilogue"))
    out("multipart", "quoted_boundary.form",
        form('multipart/form-data; charset=utf-8; boundary="a b:c"',
             [([cd(b"k", b"C:\\dir\\f.tar")], b"\x00\x01\r\n--a b:")], boundary=b"a b:c"))
    out("multipart", "padding_and_empty.form", form(ct, [
        ([cd(b"upload", b""), b"Content-Type: application/octet-stream"], b""),
        ([cd(b"empty")], b"")]).replace(b"--XyZ\r\n", b"--XyZ \t\r\n", 1))
    out("multipart", "no_headers.form", ct.encode() + b"\n--XyZ\r\n\r\nx\r\n--XyZ--")
    out("multipart", "truncated.form", form(ct, [([cd(b"a")], b"value")])[:-12])
    out("multipart", "garbage_after_boundary.form", ct.encode() + b"\n--XyZjunk\r\n\r\n")
    out("multipart", "folded.form", form(ct, [([b"Content-Disposition: form-data;", b' name="a"'],
                                                b"x")]))
    out("multipart", "two_files.form", form(ct, [([cd(b"f", b"a")], b"1"), ([cd(b"g", b"b")], b"2")]))
    out("multipart", "not_utf8.form", form(ct, [([cd(b"a")], b"\xff\xfe")]))
    out("multipart", "bad_type.form", b"application/json\n{}")
    out("multipart", "no_boundary.form", b"multipart/form-data\n--XyZ--")


if __name__ == "__main__":
    untar_corpus()
    json_corpus()
    logframe_corpus()
    zip2tar_corpus()
    multipart_corpus()
