"""The conformance vectors of docs/FORMAT.md (tests/vectors/envelope_v1.json
and envelope_v2.json) through the Python readers written from the document
alone (docstore_format.py, docstore_v2.py), and a differential check: every seed of the envelope
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
import docstore_v2 as V2  # noqa: E402

VECTORS = os.path.join(HERE, "..", "vectors", "envelope_v1.json")
VECTORS_V2 = os.path.join(HERE, "..", "vectors", "envelope_v2.json")
CORPUS = os.path.join(HERE, "..", "fuzz", "corpus", "envelope")
EXAMPLE_KEY = os.path.join(HERE, "fixtures", "format_example_key.pem")
IMPLEMENTED = ("v1", "legacy", "v2")


def load(path=VECTORS):
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def open_any(ring, data, expect, streaming=False):
    """A reader of every format: the first bytes decide (FORMAT.md section
    21, step 1)."""
    if bytes(data[:len(V2.MAGIC)]) == V2.MAGIC:
        if streaming:
            return V2.open_streaming(ring, data, expect, piece=1000)
        return V2.open_envelope(ring, data, expect)
    return F.open_envelope(ring, data, expect)


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


def run(keys, v, streaming=False):
    """The vector's outcome: ("ok", plaintext) or (error name, None)."""
    ring = []
    try:
        for name in v["keys"]:
            ring.append(key(keys, name))
        expect = v["expect"]
        if expect is not None:
            expect = (expect["file_id"], expect["user_id"])
        return "ok", open_any(ring, envelope_bytes(v), expect, streaming)
    except F.EnvelopeError as e:
        return e.code, None


class ConformanceVectors(unittest.TestCase):
    def run_file(self, path, minimum, streaming=False):
        data = load(path)
        self.assertEqual(data["schema"], "docstore-envelope-vectors")
        self.assertEqual(data["schema_version"], 1)
        self.assertGreaterEqual(len(data["vectors"]), minimum)
        failures = []
        for v in data["vectors"]:
            want = v["result"]
            if v["format"] not in IMPLEMENTED:
                want = "DOCSTORE_EUNSUPPORTED"  # section 11
            got, plain = run(data["keys"], v, streaming)
            if got != want:
                failures.append("%s: got %s, want %s" % (v["name"], got, want))
            elif got == "ok" and plain != bytes.fromhex(v["plaintext_hex"]):
                failures.append("%s: wrong plaintext" % v["name"])
        self.assertEqual(failures, [])

    def test_every_vector(self):
        self.run_file(VECTORS, 200)

    def test_every_v2_vector(self):
        self.run_file(VECTORS_V2, 250)

    def test_every_v2_vector_streaming(self):
        """The streaming reader of section 21.2 gives the same answers."""
        self.run_file(VECTORS_V2, 250, streaming=True)

    def test_v2_file_covers_the_rules(self):
        data = load(VECTORS_V2)
        self.assertEqual(data["formats"], ["v2"])
        names = {v["name"] for v in data["vectors"]}
        for must in ("v2/ok/example", "v2/ok/segment-4096/size-0",
                     "v2/ok/segment-4096/size-4096", "v2/ok/zstd/empty",
                     "v2/ok/unknown-kinds-first", "v2/ok/64-recipients",
                     "tamper/base/segments/reordered",
                     "tamper/base/segments/first-duplicated",
                     "tamper/base/segments/last-dropped",
                     "tamper/base/segments/trailing-1-byte",
                     "tamper/base/header/wrong-commitment-retagged",
                     "tamper/full/segments/empty-last-after-full",
                     "tamper/zstd/zstd/window-2-28", "key/only-unknown-kinds"):
            self.assertIn(must, names)
        for v in data["vectors"]:
            self.assertEqual(v["format"], "v2")
            self.assertIn("envelope_b64", v)

    def test_counts_match(self):
        for path in (VECTORS, VECTORS_V2):
            self.check_counts(load(path))

    def check_counts(self, data):
        counts = {}
        for v in data["vectors"]:
            counts[v["result"]] = counts.get(v["result"], 0) + 1
        self.assertEqual(counts, data["counts"])
        names = [v["name"] for v in data["vectors"]]
        self.assertEqual(len(names), len(set(names)))


class LibraryVectors(unittest.TestCase):
    """The C library (ctypes on DOCSTORE_LIBRARY) on every vector of both
    files, through the whole-buffer docstore_envelope_open() and the
    streaming docstore_opener_* (input in 5000-byte pieces, output into a
    3000-byte buffer: FORMAT.md section 21.2): the same answers as the
    files.  (unit/test_vectors runs the whole-buffer call with more checks.)"""

    def test_whole_and_streaming(self):
        import test_interop_v2 as X
        lib = X.library()
        failures = []
        for path in (VECTORS, VECTORS_V2):
            data = load(path)
            rings = {}
            for v in data["vectors"]:
                names = tuple(v["keys"])
                if names not in rings:
                    kr = ctypes.c_void_p()
                    self.assertEqual(lib.c.docstore_keyring_new(
                        ctypes.byref(kr), None, 0), 0)
                    refused = None
                    for name in names:
                        pem = data["keys"][name]["private_pem"].encode()
                        rc = lib.c.docstore_keyring_add_private_pem(
                            kr, None, pem, len(pem), None)
                        if rc:
                            refused = lib.name(rc)
                            break
                    rings[names] = (kr, refused)
                kr, refused = rings[names]
                if refused:            # the key's refusal is the answer
                    if refused != v["result"]:
                        failures.append("%s: key refused with %s, want %s" % (
                            v["name"], refused, v["result"]))
                    continue
                env = envelope_bytes(v)
                e = v["expect"] and (v["expect"]["file_id"], v["expect"]["user_id"])
                want = v["result"]
                plain = (bytes.fromhex(v["plaintext_hex"]) if want == "ok"
                         else None)
                for how, got in (("open", lib.open(kr, env, e or None)),
                                 ("opener", lib.open_stream(kr, env, e or None))):
                    if got != (want, plain):
                        failures.append("%s (%s): got %s, want %s" % (
                            v["name"], how, got[0], want))
            for kr, _ in rings.values():
                lib.free_keyring(kr)
        self.assertEqual(failures, [])


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
