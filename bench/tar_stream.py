#!/usr/bin/env python3
"""Writes a tar of SIZE bytes to stdout without holding it or writing it to disk: one member
per 64 MiB of zeros, so the receiver's memory, not this generator, is what gets measured."""
import sys
import tarfile

total = int(sys.argv[1])
part = 64 * 1024 * 1024


class Zeros:
    def __init__(self, n):
        self.left = n

    def read(self, n=-1):
        n = self.left if n < 0 else min(n, self.left)
        self.left -= n
        return bytes(n)


with tarfile.open(fileobj=sys.stdout.buffer, mode="w|", format=tarfile.PAX_FORMAT) as tar:
    i = 0
    while total > 0:
        size = min(part, total)
        info = tarfile.TarInfo(f"blob/part-{i:04d}.bin")
        info.size = size
        tar.addfile(info, Zeros(size))
        total -= size
        i += 1
