"""Store a file through the Python binding and read it back, for
stream_bench.sh's peak-RSS row.  Uses the binding's streaming calls when the
build has them, else the whole-buffer ones (0.1's path).  Prints the mode.
    python3 py_roundtrip.py FILE
SPDX-License-Identifier: Apache-2.0
"""
import hashlib
import sys

import docstore

path_in = sys.argv[1]
svc = docstore.ObjectStorageService()
h_in = hashlib.sha256()
h_out = hashlib.sha256()
if hasattr(svc, "store_stream_sync") and hasattr(svc, "open_reader"):
    with open(path_in, "rb") as f:
        path = svc.store_stream_sync("py1", "doc.bin", f)
    buf = bytearray(1 << 20)
    view = memoryview(buf)
    with open(path_in, "rb") as f:
        while True:
            n = f.readinto(buf)
            if not n:
                break
            h_in.update(view[:n])
    with svc.open_reader(path) as r:
        while True:
            n = r.readinto(buf)
            if not n:
                break
            h_out.update(view[:n])
    mode = "streaming"
else:
    with open(path_in, "rb") as f:
        data = f.read()
    h_in.update(data)
    path = svc.store_document_sync("py1", "doc.bin", data)
    del data
    back = svc.read_document_sync(path)
    h_out.update(back)
    del back
    mode = "whole buffer"
svc.delete_document_sync(path)
if h_in.digest() != h_out.digest():
    sys.exit("python round trip: bytes differ")
print(mode)
