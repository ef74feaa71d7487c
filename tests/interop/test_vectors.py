"""The conformance vectors of docs/FORMAT.md (tests/vectors/envelope_v1.json)
through the Python reader written from the document alone
(docstore_format.py), and a differential check: every seed of the envelope
fuzz corpus gets the same answer from that reader and from the C library
(loaded with ctypes from DOCSTORE_LIBRARY).  Run with pytest or unittest:

    DOCSTORE_LIBRARY=build/libdocstore.so \
        /usr/bin/python3 -m pytest tests/interop/test_vectors.py
"""
import base64
import ctypes
import glob
import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree

import docstore_format as F  # noqa: E402

VECTORS = os.path.join(HERE, "..", "vectors", "envelope_v1.json")
CORPUS = os.path.join(HERE, "..", "fuzz", "corpus", "envelope")
EXAMPLE_KEY = os.path.join(HERE, "fixtures", "format_example_key.pem")
IMPLEMENTED = ("v1", "legacy")


def load():
    with open(VECTORS, encoding="utf-8") as f:
        return json.load(f)


def envelope_bytes(v):
    if "envelope" in v:
        return v["envelope"].encode("utf-8")
    return base64.b64decode(v["envelope_b64"], validate=True)


_LOADED = {}


def key(keys, name):
    """Loading (and checking) an RSA key is slow: once per key."""
    if name not in _LOADED:
        try:
            _LOADED[name] = F.check_key(F.load_private(
                keys[name]["private_pem"].encode()))
        except F.EnvelopeError as e:
            _LOADED[name] = e
    if isinstance(_LOADED[name], F.EnvelopeError):
        raise _LOADED[name]
    return _LOADED[name]


def run(keys, v):
    """The vector's outcome: ("ok", plaintext) or (error name, None)."""
    ring = []
    try:
        for name in v["keys"]:
            ring.append(key(keys, name))
        expect = v["expect"]
        if expect is not None:
            expect = (expect["file_id"], expect["user_id"])
        return "ok", F.open_envelope(ring, envelope_bytes(v), expect)
    except F.EnvelopeError as e:
        return e.code, None


class ConformanceVectors(unittest.TestCase):
    def test_every_vector(self):
        data = load()
        self.assertEqual(data["schema"], "docstore-envelope-vectors")
        self.assertEqual(data["schema_version"], 1)
        self.assertGreaterEqual(len(data["vectors"]), 200)
        failures = []
        for v in data["vectors"]:
            want = v["result"]
            if v["format"] not in IMPLEMENTED:
                want = "DOCSTORE_EUNSUPPORTED"  # section 11
            got, plain = run(data["keys"], v)
            if got != want:
                failures.append("%s: got %s, want %s" % (v["name"], got, want))
            elif got == "ok" and plain != bytes.fromhex(v["plaintext_hex"]):
                failures.append("%s: wrong plaintext" % v["name"])
        self.assertEqual(failures, [])

    def test_counts_match(self):
        data = load()
        counts = {}
        for v in data["vectors"]:
            counts[v["result"]] = counts.get(v["result"], 0) + 1
        self.assertEqual(counts, data["counts"])
        names = [v["name"] for v in data["vectors"]]
        self.assertEqual(len(names), len(set(names)))


class CorpusAgreement(unittest.TestCase):
    """The C library and the Python reader agree on every fuzz seed."""

    def test_same_answer(self):
        path = os.environ.get("DOCSTORE_LIBRARY")
        self.assertTrue(path and os.path.exists(path),
                        "DOCSTORE_LIBRARY must name libdocstore.so")
        lib = ctypes.CDLL(path)
        lib.docstore_error_name.restype = ctypes.c_char_p
        kr = ctypes.c_void_p()
        self.assertEqual(lib.docstore_keyring_new(ctypes.byref(kr), None, 0), 0)
        with open(EXAMPLE_KEY, "rb") as f:
            pem = f.read()
        self.assertEqual(lib.docstore_keyring_add_private_pem(
            kr, None, pem, len(pem), None), 0)
        key = F.load_private(pem)
        seeds = sorted(glob.glob(os.path.join(CORPUS, "*")))
        self.assertGreaterEqual(len(seeds), 100)
        differ = []
        opened = 0
        for seed in seeds:
            with open(seed, "rb") as f:
                data = f.read()
            out, n = ctypes.c_void_p(), ctypes.c_size_t()
            rc = lib.docstore_envelope_open(ctypes.byref(out), ctypes.byref(n),
                                            kr, data, len(data), None)
            c = "ok" if rc == 0 else lib.docstore_error_name(rc).decode()
            c_plain = ctypes.string_at(out, n.value) if rc == 0 else None
            lib.docstore_free(out)
            try:
                p_plain, p = F.open_envelope([key], data), "ok"
            except F.EnvelopeError as e:
                p_plain, p = None, e.code
            opened += p == "ok"
            if (c, c_plain) != (p, p_plain):
                differ.append("%s: C %s, Python %s" % (os.path.basename(seed), c, p))
        lib.docstore_keyring_free(kr)
        self.assertEqual(differ, [])
        self.assertGreater(opened, 10)


if __name__ == "__main__":
    unittest.main(verbosity=2)
