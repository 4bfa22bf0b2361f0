"""Drives Granary through Debian's python3-fsspec WebHDFS client, unpatched.

Usage: fsspec_client.py HOST PORT BASE. Every step asserts what it reads
back; the last line printed is a JSON object of SHA-256 digests of the
files it wrote, which the Go test checks against its own reads.
"""
import hashlib
import json
import os
import random
import sys
import tempfile

from fsspec.implementations.webhdfs import WebHDFS

host, port, base = sys.argv[1], int(sys.argv[2]), sys.argv[3]
fs = WebHDFS(host, port=port, user="alice")


def data(n, seed):
    return random.Random(seed).randbytes(n)


def sha(b):
    return hashlib.sha256(b).hexdigest()


fs.makedirs(base + "/a/b", exist_ok=True)
assert fs.isdir(base + "/a/b"), "makedirs"

# pipe/cat, a small file and a 20 MB one (written in several chunks).
small = b"hello granary\n"
fs.pipe(base + "/small", small)
assert fs.cat(base + "/small") == small, "small cat"
big = data(20 * 1024 * 1024, 1)
fs.pipe(base + "/big", big)
assert fs.cat(base + "/big") == big, "big cat"

# open('rb'), seek and range reads.
with fs.open(base + "/big", "rb", block_size=1 << 20) as f:
    f.seek(5_000_000)
    assert f.read(100_000) == big[5_000_000:5_100_000], "seek and read"
    f.seek(-10, 2)
    assert f.read() == big[-10:], "read the tail"
assert fs.cat_file(base + "/big", start=123, end=4567) == big[123:4567], "range read"

# A streamed write in several parts.
parts = [data(700_000, 10 + i) for i in range(5)]
with fs.open(base + "/multi", "wb", block_size=1 << 20) as f:
    for p in parts:
        f.write(p)
multi = b"".join(parts)
assert fs.cat(base + "/multi") == multi, "multi-part write"

# Append.
with fs.open(base + "/small", "ab") as f:
    f.write(b"more\n")
assert fs.cat(base + "/small") == small + b"more\n", "append"

# put and get of a directory tree.
local = tempfile.mkdtemp()
os.makedirs(local + "/tree/sub")
with open(local + "/tree/x.txt", "wb") as f:
    f.write(b"x" * 1000)
y = data(300_000, 3)
with open(local + "/tree/sub/y.bin", "wb") as f:
    f.write(y)
fs.put(local + "/tree", base + "/tree", recursive=True)
out = tempfile.mkdtemp()
fs.get(base + "/tree", out + "/tree", recursive=True)
with open(out + "/tree/x.txt", "rb") as f:
    assert f.read() == b"x" * 1000, "get x.txt"
with open(out + "/tree/sub/y.bin", "rb") as f:
    assert f.read() == y, "get sub/y.bin"

# mv, du, info.
fs.mv(base + "/tree/x.txt", base + "/moved.txt")
assert not fs.exists(base + "/tree/x.txt"), "mv source gone"
assert fs.cat(base + "/moved.txt") == b"x" * 1000, "mv target"
assert fs.du(base + "/tree") == len(y), "du"
info = fs.info(base + "/big")
assert info["type"] == "file" and info["size"] == len(big), "info"

# checksum: the same bytes written again give the same file checksum.
fs.pipe(base + "/big2", big)
c1, c2 = fs.ukey(base + "/big"), fs.ukey(base + "/big2")
assert c1 == c2 and c1["algorithm"].startswith("MD5-of-"), "checksum"

# touch, chmod, set_replication.
fs.touch(base + "/empty")
assert fs.info(base + "/empty")["size"] == 0, "touch"
fs.chmod(base + "/small", "640")
assert fs.info(base + "/small")["permission"] == "640", "chmod"
fs.set_replication(base + "/small", 2)
assert fs.info(base + "/small")["replication"] == 2, "set_replication"

# rm, recursive.
fs.rm(base + "/tree", recursive=True)
assert not fs.exists(base + "/tree"), "rm recursive"

print(json.dumps({"big": sha(big), "multi": sha(multi), "small": sha(small + b"more\n"), "checksum": c1["bytes"]}))
