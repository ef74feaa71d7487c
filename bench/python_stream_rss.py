#!/usr/bin/python3
# libdocstore - encrypted document storage.
# SPDX-License-Identifier: Apache-2.0
"""Peak RSS of the Python binding storing and retrieving one large document
as a stream (issue 9's target: at most 64 MiB whatever the size).

For each size, two fresh child processes on a local store:
  put: ObjectStorageService.store_stream_sync() of `size` bytes generated
       1 MiB at a time (never in memory as a whole), SHA-256 on the way;
  get: open_reader() + readinto() into one 1 MiB buffer, SHA-256.
Each child reports its peak RSS (resource.getrusage ru_maxrss) at the end
and before the transfer (the interpreter, the package, the library and the
key: the baseline).  The object is deleted afterwards.

stdout, one line per size (what the benchmark program parses):
  python put_peak_rss_kib=N get_peak_rss_kib=M size=BYTES
stderr: the baselines, the growths, the times, and "identical" when the
document read back has the SHA-256 of the one written.

  bench/python_stream_rss.py                      # 1 GiB and 4 GiB
  bench/python_stream_rss.py --size 1073741824 --dir /var/tmp/x

The library comes from DOCSTORE_LIBRARY (else the usual search: see
docs/BINDINGS.md); the package from bindings/python of this source tree.
"""

import argparse
import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "bindings", "python"))

CHUNK = 1 << 20


def peak_kib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB (Linux)


def service(workdir):
    import docstore
    kr = docstore.Keyring()
    with open(os.path.join(workdir, "key.pem")) as f:
        kr.add_private_pem(f.read())
    provider = docstore.LocalStorageProvider(os.path.join(workdir, "store"))
    return docstore.ObjectStorageService(provider, kr)


def generated(size, digest):
    """`size` bytes, 1 MiB at a time, each chunk different (a counter over
    a random block); fed to `digest` on the way."""
    block = bytearray(os.urandom(CHUNK))
    sent = 0
    i = 0
    while sent < size:
        block[:8] = i.to_bytes(8, "big")
        n = min(CHUNK, size - sent)
        view = memoryview(block)[:n]
        digest.update(view)
        yield view
        sent += n
        i += 1


def child_put(workdir, size):
    svc = service(workdir)
    digest = hashlib.sha256()
    base = peak_kib()
    start = time.monotonic()
    path = svc.store_stream_sync("rss", "big.bin", generated(size, digest),
                                 "bench", size_hint=size)
    return {"path": path, "sha256": digest.hexdigest(), "base": base,
            "peak": peak_kib(), "seconds": time.monotonic() - start}


def child_get(workdir, path):
    svc = service(workdir)
    digest = hashlib.sha256()
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    base = peak_kib()
    start = time.monotonic()
    total = 0
    with svc.open_reader(path, expect=("rss", "bench")) as r:
        while True:
            n = r.readinto(buf)
            if not n:
                break
            digest.update(view[:n])
            total += n
    result = {"sha256": digest.hexdigest(), "bytes": total, "base": base,
              "peak": peak_kib(), "seconds": time.monotonic() - start}
    svc.delete_document_sync(path)
    return result


def run_child(args):
    out = subprocess.run([sys.executable, os.path.abspath(__file__)] + args,
                         check=True, stdout=subprocess.PIPE)
    return json.loads(out.stdout)


def measure(size, workdir):
    put = run_child(["--child", "put", "--dir", workdir, "--size",
                     str(size)])
    get = run_child(["--child", "get", "--dir", workdir, "--path",
                     put["path"]])
    same = get["sha256"] == put["sha256"] and get["bytes"] == size
    print("python put_peak_rss_kib=%d get_peak_rss_kib=%d size=%d"
          % (put["peak"], get["peak"], size), flush=True)
    print("size=%d put_base_kib=%d put_growth_kib=%d put_s=%.1f "
          "get_base_kib=%d get_growth_kib=%d get_s=%.1f %s"
          % (size, put["base"], put["peak"] - put["base"], put["seconds"],
             get["base"], get["peak"] - get["base"], get["seconds"],
             "identical" if same else "DIFFERENT"), file=sys.stderr,
          flush=True)
    return same


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--size", type=int, action="append",
                    help="document size in bytes (repeatable; default "
                         "1 GiB and 4 GiB)")
    ap.add_argument("--dir", help="work folder (default: a temporary one)")
    ap.add_argument("--child", choices=("put", "get"), help=argparse.SUPPRESS)
    ap.add_argument("--path", help=argparse.SUPPRESS)
    args = ap.parse_args()

    if args.child == "put":
        json.dump(child_put(args.dir, args.size[0]), sys.stdout)
        return 0
    if args.child == "get":
        json.dump(child_get(args.dir, args.path), sys.stdout)
        return 0

    import docstore
    workdir = args.dir or tempfile.mkdtemp(prefix="docstore-rss-")
    os.makedirs(workdir, exist_ok=True)
    try:
        _, private_pem = docstore.generate_key_pair(2048)
        with open(os.path.join(workdir, "key.pem"), "w") as f:
            f.write(private_pem)
        ok = all([measure(size, workdir)
                  for size in (args.size or [1 << 30, 4 << 30])])
    finally:
        if not args.dir:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            for name in ("key.pem",):
                try:
                    os.unlink(os.path.join(workdir, name))
                except OSError:
                    pass
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
