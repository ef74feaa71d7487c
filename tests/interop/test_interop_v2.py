"""Cross-language tests of envelope version 2 (run with Debian's
/usr/bin/python3, python3-cryptography, python3-zstandard, pytest or
unittest).

  V2Python            the Python implementation written from docs/FORMAT.md
                      (docstore_v2.py) against itself: whole, streaming and
                      ranged reads agree; every tampering refused
  V2FormatDocExample  FORMAT.md section 27 is what docstore_v2.py writes
                      from the printed inputs, and the library opens it
  V2CReadsPython      the library (ctypes on DOCSTORE_LIBRARY: the whole
                      buffer docstore_envelope_open() and the streaming
                      docstore_opener_*) opens what Python wrote: one and
                      several recipients, unknown recipient kinds,
                      compressed, empty, 1 byte, segment boundaries, every
                      segment size
  V2PythonReadsC      Python opens what the library's docstore_sealer_*
                      wrote, with the same variety, and rewraps it
  V2Tampering         every tampering of tests/interop/v2_tamper.py, on
                      envelopes Python and the library wrote, is refused by
                      both with the same error name
  V2Cli               `docstore encrypt --format 2` / `docstore decrypt`
                      (DOCSTORE_CLI) against Python, both ways

    DOCSTORE_LIBRARY=build/libdocstore.so DOCSTORE_CLI=build/docstore \\
        /usr/bin/python3 tests/interop/test_interop_v2.py [TestClass ...]
"""
import ctypes
import os
import re
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.dont_write_bytecode = True  # leave no __pycache__ in the source tree

import docstore_format as F  # noqa: E402
import docstore_v2 as V  # noqa: E402
import v2_tamper as T  # noqa: E402

FORMAT_MD = os.path.join(HERE, "..", "..", "docs", "FORMAT.md")
KEY_FILES = [os.path.join(HERE, "fixtures", "format_example_key.pem"),
             os.path.join(HERE, "..", "vectors", "keys", "rsa2048_b.pem"),
             os.path.join(HERE, "..", "vectors", "keys", "rsa3072.pem")]


def pem(i):
    with open(KEY_FILES[i], "rb") as f:
        return f.read()


KEYS = [F.load_private(pem(i)) for i in range(len(KEY_FILES))]
PUBS = [k.public_key() for k in KEYS]
KIDS = [F.kid_of(p) for p in PUBS]


def sizes(exponent):
    s = 1 << exponent
    return [0, 1, s - 1, s, s + 1, 2 * s, 2 * s + 1, 3 * s + 17]


def py_open(keys, data, expect=None):
    """(error name or "ok", plaintext) from the whole and the streaming
    Python readers, which must agree."""
    got = []
    for fn in (V.open_envelope, V.open_streaming):
        try:
            got.append(("ok", fn(keys, data, expect)))
        except F.EnvelopeError as e:
            got.append((e.code, None))
    assert got[0] == got[1], (got[0][0], got[1][0])
    return got[0]


# ------------------------------------------------------------ the library

class DocId(ctypes.Structure):
    _fields_ = [("file_id", ctypes.c_char_p), ("user_id", ctypes.c_char_p)]


class SealOptions(ctypes.Structure):
    """docstore_seal_options, version 1 (include/docstore/crypto.h)."""
    _fields_ = [("version", ctypes.c_uint), ("format", ctypes.c_int),
                ("doc", ctypes.POINTER(DocId)),
                ("recipients", ctypes.POINTER(ctypes.c_char_p)),
                ("recipients_count", ctypes.c_size_t),
                ("segment_size", ctypes.c_uint),
                ("compression_level", ctypes.c_int)]


class Lib:
    def __init__(self, path):
        self.c = ctypes.CDLL(path)
        c = self.c
        c.docstore_error_name.restype = ctypes.c_char_p
        c.docstore_last_errmsg.restype = ctypes.c_char_p
        c.docstore_sealer_errmsg.restype = ctypes.c_char_p
        c.docstore_opener_errmsg.restype = ctypes.c_char_p
        for name in ("docstore_sealer_update", "docstore_sealer_finish",
                     "docstore_opener_update", "docstore_opener_finish"):
            getattr(c, name).restype = ctypes.c_int

    def name(self, rc):
        return "ok" if rc == 0 else self.c.docstore_error_name(rc).decode()

    def keyring(self, private=(), public=()):
        kr = ctypes.c_void_p()
        assert self.c.docstore_keyring_new(ctypes.byref(kr), None, 0) == 0
        for i in private:
            p = pem(i)
            rc = self.c.docstore_keyring_add_private_pem(kr, None, p, len(p), None)
            assert rc == 0, self.name(rc)
        for i in public:
            p = F.public_pem(KEYS[i])
            rc = self.c.docstore_keyring_add_public_pem(kr, None, p, len(p))
            assert rc == 0, self.name(rc)
        return kr

    def free_keyring(self, kr):
        self.c.docstore_keyring_free(kr)

    @staticmethod
    def _doc(expect):
        if expect is None:
            return None
        fid, uid = expect
        return ctypes.byref(DocId(fid.encode(), uid.encode() if uid else None))

    def open(self, kr, data, expect=None):
        """docstore_envelope_open(): (error name or "ok", plaintext)."""
        out, n = ctypes.c_void_p(), ctypes.c_size_t()
        rc = self.c.docstore_envelope_open(ctypes.byref(out), ctypes.byref(n),
                                           kr, data, len(data), self._doc(expect))
        plain = ctypes.string_at(out, n.value) if rc == 0 else None
        self.c.docstore_free(out)
        return self.name(rc), plain

    @staticmethod
    def _pump(handle, update, finish, data, piece, room):
        """Drive an update/finish pair (docstore_sealer_* or
        docstore_opener_*): input in pieces, output into a small buffer.
        Returns (rc, output)."""
        buf = ctypes.create_string_buffer(room)
        got, used = ctypes.c_size_t(), ctypes.c_size_t()
        out = []
        pos = 0
        while pos < len(data):
            chunk = data[pos:pos + piece]
            rc = update(handle, buf, room, ctypes.byref(got), chunk, len(chunk),
                        ctypes.byref(used))
            if rc < 0:
                return rc, None
            assert used.value or got.value, "no progress"
            out.append(buf.raw[:got.value])
            pos += used.value
        while True:
            rc = finish(handle, buf, room, ctypes.byref(got))
            if rc < 0:
                return rc, None
            out.append(buf.raw[:got.value])
            if rc == 0:
                return 0, b"".join(out)

    def open_stream(self, kr, data, expect=None, piece=5000, room=3000):
        """docstore_opener_*: fed in pieces, output in small buffers."""
        o = ctypes.c_void_p()
        rc = self.c.docstore_opener_new(ctypes.byref(o), kr, self._doc(expect))
        if rc != 0:                    # an invalid expected identity
            return self.name(rc), None
        try:
            rc, out = self._pump(o, self.c.docstore_opener_update,
                                 self.c.docstore_opener_finish, data, piece, room)
            return self.name(rc), out
        finally:
            self.c.docstore_opener_free(o)

    def seal(self, kr, data, recipients=None, doc=None, segment_size=0,
             level=0, piece=7000, room=4000):
        """docstore_sealer_*: a version 2 envelope (raises on failure)."""
        opts = SealOptions(1, 2, None, None, 0, segment_size, level)
        keep = []
        if doc is not None:
            d = DocId(doc[0].encode(), doc[1].encode() if doc[1] else None)
            keep.append(d)
            opts.doc = ctypes.pointer(d)
        if recipients:
            arr = (ctypes.c_char_p * len(recipients))(
                *[r.encode() for r in recipients])
            keep.append(arr)
            opts.recipients = ctypes.cast(arr, ctypes.POINTER(ctypes.c_char_p))
            opts.recipients_count = len(recipients)
        s = ctypes.c_void_p()
        rc = self.c.docstore_sealer_new(ctypes.byref(s), kr, ctypes.byref(opts))
        if rc != 0:
            raise RuntimeError("sealer_new: %s: %s" % (
                self.name(rc), self.c.docstore_last_errmsg().decode()))
        try:
            rc, out = self._pump(s, self.c.docstore_sealer_update,
                                 self.c.docstore_sealer_finish, data, piece, room)
            if rc != 0:
                raise RuntimeError("sealer: %s: %s" % (
                    self.name(rc), self.c.docstore_sealer_errmsg(s).decode()))
            return out
        finally:
            self.c.docstore_sealer_free(s)


def library():
    path = os.environ.get("DOCSTORE_LIBRARY")
    if not path or not os.path.exists(path):
        raise AssertionError("DOCSTORE_LIBRARY must name libdocstore.so")
    return Lib(path)


class LibBase(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.lib = library()
        cls.kr_all = cls.lib.keyring(private=(0, 1, 2))
        cls.kr_b = cls.lib.keyring(private=(1,))

    @classmethod
    def tearDownClass(cls):
        cls.lib.free_keyring(cls.kr_all)
        cls.lib.free_keyring(cls.kr_b)

    def c_open_both(self, kr, data, expect=None):
        """The whole-buffer and the streaming call agree; returns one."""
        a = self.lib.open(kr, data, expect)
        b = self.lib.open_stream(kr, data, expect)
        self.assertEqual(a[0], b[0], "docstore_envelope_open vs opener")
        self.assertEqual(a[1], b[1])
        return a


# ------------------------------------------------------------ the tests

class V2Python(unittest.TestCase):
    def test_round_trips(self):
        for e in (12, 13, 16):
            for n in sizes(e):
                doc = os.urandom(n)
                env = V.seal([PUBS[0]], doc, "123", "456", exponent=e)
                segs = max(1, -(-n // (1 << e)))
                self.assertEqual(len(env), 463 + n + 16 * segs)
                self.assertEqual(py_open([KEYS[0]], env, ("123", "456")), ("ok", doc))

    def test_ranges(self):
        doc = os.urandom(3 * 4096 + 100)
        env = V.seal([PUBS[0]], doc, exponent=12)
        for off, ln in ((0, 1), (4095, 2), (4096, 4096), (100, 12000),
                        (len(doc) - 1, 1), (0, len(doc)), (5000, 0)):
            self.assertEqual(V.read_range([KEYS[0]], env, off, ln),
                             doc[off:off + ln])

    def test_recipients_and_rewrap(self):
        doc = b"for two teams"
        env = V.seal(PUBS[:2], doc, "9", extra_recipients=[
            V.Recipient(7, b"opaque"), V.Recipient(2, b"")])
        for k in KEYS[:2]:
            self.assertEqual(py_open([k], env), ("ok", doc))
        self.assertEqual(py_open([KEYS[2]], env)[0], "DOCSTORE_EKEY")
        new = V.rewrap([KEYS[0]], env, add=[PUBS[2]], remove=[KIDS[1]])
        self.assertEqual(new[V.parse_header(new).length:],
                         env[V.parse_header(env).length:])
        self.assertEqual(py_open([KEYS[2]], new), ("ok", doc))
        self.assertEqual(py_open([KEYS[1]], new)[0], "DOCSTORE_EKEY")
        self.assertEqual(V.info(new)["recipients"], 4)
        only_unknown = V.seal([], b"x", extra_recipients=[V.Recipient(3, b"k")])
        self.assertEqual(py_open(KEYS, only_unknown)[0], "DOCSTORE_EKEY")

    def test_compressed(self):
        for doc in (b"", b"a", b"abc" * 50000, os.urandom(70000)):
            env = V.seal([PUBS[0]], doc, level=3, exponent=12)
            self.assertTrue(V.info(env)["compressed"])
            self.assertEqual(py_open([KEYS[0]], env), ("ok", doc))
        self.assertLess(len(V.seal([PUBS[0]], bytes(1 << 20), level=3)), 2000)

    def test_tampering(self):
        for doc, level, ids in ((b"x" * 9000, 0, ("123", "456")),
                                (b"y" * 9000, 3, ("1", None)),
                                (b"", 0, ())):
            s = V.seal([PUBS[0]], doc, *ids, exponent=12, level=level, parts=True)
            n = 0
            for name, data, code, expect in T.all_cases(s, doc):
                self.assertEqual(py_open([KEYS[0]], data, expect)[0], code, name)
                n += 1
            self.assertGreater(n, 30)

    def test_deterministic_writer(self):
        a = V.seal([PUBS[0]], b"doc", randomness=V.labelled("t"))
        b = V.seal([PUBS[0]], b"doc", randomness=V.labelled("t"))
        c = V.seal([PUBS[0]], b"doc", randomness=V.labelled("u"))
        self.assertEqual(a, b)
        self.assertNotEqual(a, c)
        self.assertEqual(py_open([KEYS[0]], a), ("ok", b"doc"))


class V2FormatDocExample(LibBase):
    def test_example(self):
        with open(FORMAT_MD, encoding="utf-8") as f:
            doc = f.read()
        section = doc[doc.index("## 27. "):doc.index("## 28. ")]
        self.assertIn(V.example(KEYS[0]), section,
                      "FORMAT.md section 27 differs from docstore_v2.py --example")
        m = re.search(r"<!-- v2-example-envelope -->\s*```\n(.*?)```", section, re.S)
        env = bytes.fromhex(m.group(1).replace("\n", " "))
        self.assertEqual(py_open([KEYS[0]], env, ("123", "456")),
                         ("ok", b"hello, docstore"))
        kr = self.lib.keyring(private=(0,))
        try:
            self.assertEqual(self.c_open_both(kr, env, ("123", "456")),
                             ("ok", b"hello, docstore"))
        finally:
            self.lib.free_keyring(kr)


class V2CReadsPython(LibBase):
    def test_sizes_and_segment_sizes(self):
        for e in (12, 13, 16):
            for n in sizes(e):
                doc = os.urandom(n)
                env = V.seal([PUBS[0]], doc, "123", "456", exponent=e)
                self.assertEqual(self.c_open_both(self.kr_all, env, ("123", "456")),
                                 ("ok", doc), "size %d, 2^%d" % (n, e))
        for e in (14, 15, 17, 20, 24):
            doc = os.urandom((1 << 12) * 3 + 5)
            env = V.seal([PUBS[0]], doc, exponent=e)
            self.assertEqual(self.c_open_both(self.kr_all, env), ("ok", doc))

    def test_recipients(self):
        doc = os.urandom(5000)
        env = V.seal([PUBS[2], PUBS[1]], doc, "7", exponent=12, extra_recipients=[
            V.Recipient(2, b"kms"), V.Recipient(200, bytes(300))])
        self.assertEqual(self.c_open_both(self.kr_b, env, ("7", None)), ("ok", doc))
        self.assertEqual(self.c_open_both(self.kr_all, env, ("7", None)), ("ok", doc))
        unknown_first = V.seal([PUBS[1]], doc, extra_recipients=[V.Recipient(9, b"")])
        unknown_first = _move_last_recipient_first(unknown_first, KEYS[1])
        self.assertEqual(self.c_open_both(self.kr_b, unknown_first), ("ok", doc))
        kr = self.lib.keyring(private=(0,))
        try:
            self.assertEqual(self.c_open_both(kr, env)[0], "DOCSTORE_EKEY")
        finally:
            self.lib.free_keyring(kr)
        many = V.seal([PUBS[1]], b"64", extra_recipients=[
            V.Recipient(50, bytes([i])) for i in range(63)])
        self.assertEqual(self.c_open_both(self.kr_b, many), ("ok", b"64"))

    def test_compressed(self):
        for doc in (b"", b"z", b"compressible " * 40000, os.urandom(100000)):
            for level in (1, 3, 19):
                env = V.seal([PUBS[0]], doc, level=level, exponent=12)
                self.assertEqual(self.c_open_both(self.kr_all, env), ("ok", doc))
        # A frame that needs a window of exactly 2^27 bytes opens.
        s = V.seal([PUBS[0]], b"", level=3, exponent=12, parts=True)
        ok27 = T.with_stream(s, V.compress(b"w" * 300000, 3, 27))
        self.assertEqual(self.c_open_both(self.kr_all, ok27), ("ok", b"w" * 300000))

    def test_python_rewrap_opens(self):
        doc = os.urandom(9999)
        env = V.seal([PUBS[0]], doc, "5", "6", exponent=12)
        new = V.rewrap([KEYS[0]], env, add=[PUBS[1]], remove=["*"])
        self.assertEqual(self.c_open_both(self.kr_b, new, ("5", "6")), ("ok", doc))


def _move_last_recipient_first(env, key):
    """Re-tag a header with its recipients' order changed (any holder of
    the data key may write any order)."""
    s = T.parts_of(env, [key])
    hd = V.parse_header(env)
    recs = hd.recipients[-1:] + hd.recipients[:-1]
    return V.build_header(recs, s.dk, s.salt, s.prefix, hd.file_id, hd.user_id,
                          hd.exponent, hd.flags) + env[hd.length:]


class V2PythonReadsC(LibBase):
    def test_sizes_and_segment_sizes(self):
        for seg in (4096, 8192, 65536):
            e = seg.bit_length() - 1
            for n in sizes(e):
                doc = os.urandom(n)
                env = self.lib.seal(self.kr_all, doc, [KIDS[0]], ("123", "456"),
                                    segment_size=seg)
                hd = V.parse_header(env)
                self.assertEqual((hd.segment_size, hd.file_id, hd.user_id,
                                  hd.compressed), (seg, "123", "456", False))
                self.assertEqual(py_open([KEYS[0]], env, ("123", "456")),
                                 ("ok", doc), "size %d, %d" % (n, seg))
                self.assertEqual(len(env), hd.length + n + 16 * max(1, -(-n // seg)))
        doc = os.urandom(70000)
        env = self.lib.seal(self.kr_all, doc, [KIDS[0]])
        self.assertEqual(V.parse_header(env).segment_size, 65536)
        self.assertEqual(V.read_range([KEYS[0]], env, 65530, 100), doc[65530:65630])

    def test_recipients(self):
        doc = os.urandom(3000)
        env = self.lib.seal(self.kr_all, doc, KIDS, ("1", None), segment_size=4096)
        hd = V.parse_header(env)
        self.assertEqual([r.kid for r in hd.recipients], KIDS)
        self.assertEqual(len(hd.recipients[2].wrapped), 384)
        for k in KEYS:
            self.assertEqual(py_open([k], env, ("1", None)), ("ok", doc))
        new = V.rewrap([KEYS[2]], env, remove=[KIDS[0], KIDS[1]])
        self.assertEqual(self.c_open_both(self.kr_b, new)[0], "DOCSTORE_EKEY")
        self.assertEqual(py_open([KEYS[2]], new), ("ok", doc))

    def test_compressed(self):
        for doc in (b"", b"q", b"abcabc" * 30000, os.urandom(50000)):
            for level in (1, 19):
                env = self.lib.seal(self.kr_all, doc, [KIDS[1]], level=level,
                                    segment_size=4096)
                self.assertTrue(V.info(env)["compressed"])
                self.assertEqual(py_open([KEYS[1]], env), ("ok", doc))
        env = self.lib.seal(self.kr_all, bytes(1 << 20), [KIDS[1]], level=3)
        self.assertLess(len(env), 2000)

    def test_fresh_randomness(self):
        a = self.lib.seal(self.kr_all, b"same", [KIDS[0]])
        b = self.lib.seal(self.kr_all, b"same", [KIDS[0]])
        ha, hb = V.parse_header(a), V.parse_header(b)
        self.assertNotEqual(ha.salt, hb.salt)
        self.assertNotEqual(ha.prefix, hb.prefix)
        self.assertNotEqual(T.parts_of(a, [KEYS[0]]).dk, T.parts_of(b, [KEYS[0]]).dk)


class V2Tampering(LibBase):
    def check(self, s, doc, keys, kr):
        n = 0
        differ = []
        for name, data, code, expect in T.all_cases(s, doc):
            p = py_open(keys, data, expect)[0]
            c = self.c_open_both(kr, data, expect)[0]
            if (p, c) != (code, code):
                differ.append("%s: want %s, Python %s, C %s" % (name, code, p, c))
            n += 1
        self.assertEqual(differ, [])
        return n

    def test_python_written(self):
        for doc, level, ids in ((os.urandom(9000), 0, ("123", "456")),
                                (b"t" * 20000, 3, ("1", None)),
                                (b"", 0, ()), (bytes(8192), 0, ("a-b", "c_d"))):
            s = V.seal([PUBS[0]], doc, *ids, exponent=12, level=level, parts=True)
            self.assertGreater(self.check(s, doc, [KEYS[0]], self.kr_all), 30)

    def test_library_written(self):
        for doc, level, ids in ((os.urandom(9000), 0, ("123", "456")),
                                (b"t" * 20000, 5, ("1", None)), (b"", 0, None)):
            env = self.lib.seal(self.kr_all, doc, [KIDS[1]], ids,
                                segment_size=4096, level=level)
            s = T.parts_of(env, [KEYS[1]])
            self.assertGreater(self.check(s, doc, [KEYS[1]], self.kr_b), 30)

    def test_every_header_byte_and_random_body_bytes(self):
        """Each byte of the header flipped in turn, and 64 body bytes chosen
        by a seeded generator: both refuse, with the same error."""
        import random
        rnd = random.Random(9)
        doc = bytes(rnd.getrandbits(8) for _ in range(3 * 4096 + 77))
        env = V.seal(PUBS[:2], doc, "123", "456", exponent=12,
                     extra_recipients=[V.Recipient(2, b"kms")])
        h = V.parse_header(env).length
        spots = list(range(h)) + rnd.sample(range(h, len(env)), 64)
        differ = []
        for at in spots:
            bad = bytearray(env)
            bad[at] ^= 1 << rnd.randrange(8)
            p = py_open(KEYS, bytes(bad))[0]
            c = self.c_open_both(self.kr_all, bytes(bad))[0]
            if p == "ok" or p != c:
                differ.append("byte %d: Python %s, C %s" % (at, p, c))
        self.assertEqual(differ, [])

    def test_no_key_and_wrong_key(self):
        env = V.seal([PUBS[0]], b"doc", "1", "2")
        self.assertEqual(self.c_open_both(self.kr_b, env)[0], "DOCSTORE_EKEY")
        # A wrapped key for another key under the first key's id: OAEP fails
        # under the named key (integrity), as in version 1.
        hd = V.parse_header(env)
        s = T.parts_of(env, [KEYS[0]])
        forged = V.Recipient.rsa(KIDS[0], V.oaep_wrap(PUBS[1], s.dk))
        bad = V.build_header([forged], s.dk, s.salt, s.prefix, "1", "2",
                             hd.exponent) + env[hd.length:]
        self.assertEqual(self.c_open_both(self.kr_all, bad)[0], "DOCSTORE_EINTEGRITY")
        self.assertEqual(py_open([KEYS[0]], bad)[0], "DOCSTORE_EINTEGRITY")


class V2Cli(unittest.TestCase):
    """The CLI: `docstore encrypt --format 2` and `docstore decrypt`."""

    def setUp(self):
        self.cli = os.environ.get("DOCSTORE_CLI")
        self.assertTrue(self.cli and os.access(self.cli, os.X_OK),
                        "DOCSTORE_CLI must name the docstore program")
        self._tmp = tempfile.TemporaryDirectory(prefix="docstore-v2-cli-")
        self.dir = self._tmp.name
        self.pub = []
        for i in range(2):
            p = os.path.join(self.dir, "k%d.pub" % i)
            with open(p, "wb") as f:
                f.write(F.public_pem(KEYS[i]))
            self.pub.append(p)

    def tearDown(self):
        self._tmp.cleanup()

    def run_cli(self, *args):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("DOCSTORE_", "RSA_"))}
        return subprocess.run([self.cli, *args], env=env, capture_output=True,
                              timeout=300)

    def path(self, name):
        return os.path.join(self.dir, name)

    def test_cli_writes_python_reads(self):
        for n, extra in ((0, []), (1, []), (70000, ["--segment-size", "4096"]),
                         (200000, ["--compress"]), (5000, ["--compress=19"])):
            doc = os.urandom(n) if "--compress" not in " ".join(extra) else b"c" * n
            with open(self.path("in"), "wb") as f:
                f.write(doc)
            p = self.run_cli("encrypt", "--format", "2", "--file-id", "11",
                             "--user-id", "22", "--public-key", self.pub[0],
                             "--recipient", self.pub[1], *extra,
                             self.path("in"), self.path("out"))
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(self.path("out"), "rb") as f:
                env = f.read()
            self.assertEqual(len(V.parse_header(env).recipients), 2)
            for k in KEYS[:2]:
                self.assertEqual(py_open([k], env, ("11", "22")), ("ok", doc))

    def test_python_writes_cli_reads(self):
        key = self.path("k1.key")
        with open(key, "wb") as f:
            f.write(pem(1))
        doc = os.urandom(100000)
        for level in (0, 3):
            env = V.seal([PUBS[0], PUBS[1]], doc, "11", exponent=12, level=level)
            with open(self.path("env"), "wb") as f:
                f.write(env)
            out = self.path("plain")
            p = self.run_cli("decrypt", "--private-key", key, "--file-id", "11",
                             self.path("env"), out)
            self.assertEqual(p.returncode, 0, p.stderr)
            with open(out, "rb") as f:
                self.assertEqual(f.read(), doc)
            os.unlink(out)
            # Refused, and nothing written: a dropped last segment, and
            # another document.
            with open(self.path("env"), "wb") as f:
                f.write(env[:-100])
            p = self.run_cli("decrypt", "--private-key", key, self.path("env"), out)
            self.assertNotEqual(p.returncode, 0)
            self.assertFalse(os.path.exists(out))
            with open(self.path("env"), "wb") as f:
                f.write(env)
            p = self.run_cli("decrypt", "--private-key", key, "--file-id", "12",
                             self.path("env"), out)
            self.assertNotEqual(p.returncode, 0)
            self.assertFalse(os.path.exists(out))


if __name__ == "__main__":
    unittest.main(verbosity=2)
