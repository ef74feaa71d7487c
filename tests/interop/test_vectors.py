"""The conformance vectors of docs/FORMAT.md (tests/vectors/envelope_v1.json)
through the Python reader written from the document alone
(docstore_format.py).  Run with pytest or unittest:

    /usr/bin/python3 -m pytest tests/interop/test_vectors.py
"""
import base64
import json
import os
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree

import docstore_format as F  # noqa: E402

VECTORS = os.path.join(HERE, "..", "vectors", "envelope_v1.json")
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


if __name__ == "__main__":
    unittest.main(verbosity=2)
