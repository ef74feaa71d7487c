"""Cross-language envelope tests (run with Debian's /usr/bin/python3).

  PythonReadsC        python3-cryptography, following docs/FORMAT.md only
                      (docstore_format.py), decrypts what the library wrote
  CReadsPython        the library decrypts v1 envelopes Python wrote, with
                      keys Python generated (encrypted PKCS#8 too)
  LegacyPyCryptodome  the library decrypts envelopes of the old Python
                      backend (PyCryptodome defaults, 16- and 32-byte
                      session keys) and converts them with rewrap
  FormatDocExample    the worked example printed in docs/FORMAT.md opens,
                      in Python and in C

The library is driven through envelope_tool (tests/interop/envelope_tool.c),
whose path is in DOCSTORE_ENVELOPE_TOOL.  Usage:
  DOCSTORE_ENVELOPE_TOOL=... python3 test_interop.py [TestClass ...]
"""
import json
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
import legacy_backend as L  # noqa: E402

TOOL = os.environ.get("DOCSTORE_ENVELOPE_TOOL")
FORMAT_MD = os.path.join(HERE, "..", "..", "docs", "FORMAT.md")
PASSPHRASE = "interop passphrase"
SIZES = [0, 1, 4096, (1 << 20) + 3]


def tool(*args, passphrase=None):
    """Run envelope_tool; returns (exit status, stderr)."""
    env = dict(os.environ)
    env.pop("DOCSTORE_TEST_PASSPHRASE", None)
    if passphrase is not None:
        env["DOCSTORE_TEST_PASSPHRASE"] = passphrase
    p = subprocess.run([TOOL, *args], env=env, capture_output=True, text=True,
                       timeout=120)
    return p.returncode, p.stderr


class Base(unittest.TestCase):
    def setUp(self):
        self.assertTrue(TOOL and os.access(TOOL, os.X_OK),
                        "DOCSTORE_ENVELOPE_TOOL must name envelope_tool")
        self._tmp = tempfile.TemporaryDirectory(prefix="docstore-interop-")
        self.dir = self._tmp.name

    def tearDown(self):
        self._tmp.cleanup()

    def path(self, name):
        return os.path.join(self.dir, name)

    def write(self, name, data):
        mode = "wb" if isinstance(data, bytes) else "w"
        with open(self.path(name), mode) as f:
            f.write(data)
        return self.path(name)

    def read(self, name, mode="rb"):
        with open(self.path(name), mode) as f:
            return f.read()

    def c_keygen(self, stem):
        rc, err = tool("keygen", self.path(stem + ".pub"), self.path(stem + ".key"))
        self.assertEqual(rc, 0, err)
        return F.load_private(self.read(stem + ".key"))

    def c_seal(self, pub, data, *ids):
        self.write("in", data)
        rc, err = tool("seal", pub, self.path("in"), self.path("env"), *ids)
        self.assertEqual(rc, 0, err)
        return self.read("env", "r")

    def c_open(self, key, envelope, *ids, passphrase=None):
        """Returns (plaintext or None, stderr)."""
        self.write("env", envelope)
        out = self.path("out")
        if os.path.exists(out):
            os.unlink(out)
        rc, err = tool("open", key, self.path("env"), out, *ids,
                       passphrase=passphrase)
        return (self.read("out") if rc == 0 else None), err

    def assert_c_refuses(self, key, envelope, code, *ids, passphrase=None):
        data, err = self.c_open(key, envelope, *ids, passphrase=passphrase)
        self.assertIsNone(data)
        self.assertTrue(err.startswith(code), err)


class PythonReadsC(Base):
    def test_bound_and_unbound_envelopes(self):
        key = self.c_keygen("a")
        for size in SIZES:
            data = os.urandom(size)
            for ids in ((), ("123", "456"), ("77",)):
                env = self.c_seal(self.path("a.pub"), data, *ids)
                expect = None if not ids else (ids[0], ids[1] if len(ids) > 1 else None)
                self.assertEqual(F.open_envelope([key], env, expect), data)
                if expect:
                    with self.assertRaises(F.Integrity):
                        F.open_envelope([key], env, ("999", expect[1]))

    def test_kid_and_shape(self):
        key = self.c_keygen("a")
        env = self.c_seal(self.path("a.pub"), b"x", "5", "6")
        obj = json.loads(env)
        self.assertEqual(obj["kid"], F.kid_of(key.public_key()))
        self.assertEqual(list(obj), ["format", "version", "alg", "key_alg",
                                     "kid", "file_id", "user_id", "wrapped_key",
                                     "nonce", "tag", "ciphertext"])
        self.assertEqual(len(F.b64d(obj["nonce"], "nonce")), 12)
        self.assertEqual(env, json.dumps(obj, separators=(",", ":")))

    def test_header_is_authenticated(self):
        key = self.c_keygen("a")
        env = json.loads(self.c_seal(self.path("a.pub"), b"doc", "123", "456"))
        for name, value in (("file_id", "124"), ("user_id", "457"),
                            ("user_id", None)):
            t = dict(env, **{name: value})
            with self.assertRaises(F.Integrity):
                F.open_envelope([key], json.dumps(t))
        # kid, key_alg and wrapped_key are not associated data: a rewrap
        # changes them without touching the ciphertext.
        self.assertEqual(F.open_envelope([key], json.dumps(env)), b"doc")

    def test_rewrapped_by_c(self):
        a = self.c_keygen("a")
        b = self.c_keygen("b")
        env = self.c_seal(self.path("a.pub"), b"rotate me", "1", "2")
        self.write("old", env)
        rc, err = tool("rewrap", self.path("a.key"), self.path("b.pub"),
                       self.path("old"), self.path("new"))
        self.assertEqual(rc, 0, err)
        new = self.read("new", "r")
        self.assertEqual(json.loads(new)["ciphertext"], json.loads(env)["ciphertext"])
        self.assertEqual(F.open_envelope([b], new, ("1", "2")), b"rotate me")
        with self.assertRaises(F.NoKey):
            F.open_envelope([a], new)


class CReadsPython(Base):
    def test_python_sealed_opens_in_c(self):
        self.c_keygen("a")
        pub = F.serialization.load_pem_public_key(self.read("a.pub"))
        for size in SIZES:
            data = os.urandom(size)
            env = F.seal(pub, data, "123", "456")
            got, err = self.c_open(self.path("a.key"), env, "123", "456")
            self.assertEqual(got, data, err)
        env = F.seal(pub, b"system doc", "9")
        got, err = self.c_open(self.path("a.key"), env, "9")
        self.assertEqual(got, b"system doc", err)
        env = F.seal(pub, b"unbound")
        got, err = self.c_open(self.path("a.key"), env)
        self.assertEqual(got, b"unbound", err)

    def test_c_refuses_what_it_must(self):
        self.c_keygen("a")
        pub = F.serialization.load_pem_public_key(self.read("a.pub"))
        env = json.loads(F.seal(pub, b"doc", "123", "456"))
        key = self.path("a.key")
        self.assert_c_refuses(key, json.dumps(env), "DOCSTORE_EINTEGRITY",
                              "123", "457")
        tag = bytearray(F.b64d(env["tag"], "tag"))
        tag[0] ^= 1
        self.assert_c_refuses(key, json.dumps(dict(env, tag=F.b64e(bytes(tag)))),
                              "DOCSTORE_EINTEGRITY")
        self.assert_c_refuses(key, json.dumps(dict(env, version=2)),
                              "DOCSTORE_EUNSUPPORTED")
        self.assert_c_refuses(key, json.dumps(dict(env, nonce="AAAA")),
                              "DOCSTORE_EFORMAT")
        other = F.generate_key()
        env2 = F.seal(other.public_key(), b"doc")
        self.assert_c_refuses(key, env2, "DOCSTORE_EKEY")

    def test_python_generated_encrypted_key(self):
        k = F.generate_key()
        self.write("p.pub", F.public_pem(k))
        self.write("p.key", F.private_pem(k, PASSPHRASE))
        env = F.seal(k.public_key(), b"with a python key", "1")
        got, err = self.c_open(self.path("p.key"), env, "1", passphrase=PASSPHRASE)
        self.assertEqual(got, b"with a python key", err)
        self.assert_c_refuses(self.path("p.key"), env, "DOCSTORE_EKEY", "1",
                              passphrase="wrong")
        self.assert_c_refuses(self.path("p.key"), env, "DOCSTORE_EKEY", "1")
        # and the other way: C seals under Python's public key
        env = self.c_seal(self.path("p.pub"), b"back to python")
        self.assertEqual(F.open_envelope([k], env), b"back to python")
        self.write("e", env)
        rc, err = tool("info", self.path("e"))
        self.assertEqual(rc, 0, err)


class LegacyPyCryptodome(Base):
    def setUp(self):
        super().setUp()
        self.rsa = L.generate_key()
        self.write("legacy.pub", self.rsa.publickey().export_key())
        # Traditional PEM ("RSA PRIVATE KEY", Proc-Type encrypted with
        # DES-EDE3-CBC), as PyCryptodome exports by default.
        pem = self.rsa.export_key(passphrase=PASSPHRASE, pkcs=1)
        self.assertIn(b"Proc-Type: 4,ENCRYPTED", pem)
        self.write("legacy.key", pem)

    def test_legacy_envelopes_open(self):
        for session_key_len in (16, 32):
            for size in SIZES:
                data = os.urandom(size)
                d = L.encrypt_document(self.read("legacy.pub"), data,
                                       session_key_len)
                self.assertEqual(len(F.b64d(d["nonce"], "nonce")), 16)
                env = L.dict_to_bytes(d)
                self.assertEqual(L.decrypt_document(self.read("legacy.key"), d,
                                                    PASSPHRASE), data)
                got, err = self.c_open(self.path("legacy.key"), env,
                                       passphrase=PASSPHRASE)
                self.assertEqual(got, data, err)

    def test_legacy_tampered(self):
        d = L.encrypt_document(self.read("legacy.pub"), b"legacy doc")
        tag = bytearray(F.b64d(d["tag"], "tag"))
        tag[3] ^= 0x10
        bad = dict(d, tag=F.b64e(bytes(tag)))
        self.assert_c_refuses(self.path("legacy.key"), L.dict_to_bytes(bad),
                              "DOCSTORE_EINTEGRITY", passphrase=PASSPHRASE)
        other = L.generate_key()
        d2 = L.encrypt_document(other.publickey().export_key(), b"x")
        self.assert_c_refuses(self.path("legacy.key"), L.dict_to_bytes(d2),
                              "DOCSTORE_EKEY", passphrase=PASSPHRASE)

    def test_legacy_converted_by_rewrap(self):
        new = self.c_keygen("new")
        for session_key_len in (16, 32):
            d = L.encrypt_document(self.read("legacy.pub"), b"old document",
                                   session_key_len)
            self.write("old", L.dict_to_bytes(d))
            rc, err = tool("rewrap", self.path("legacy.key"), self.path("new.pub"),
                           self.path("old"), self.path("conv"),
                           passphrase=PASSPHRASE)
            self.assertEqual(rc, 0, err)
            conv = json.loads(self.read("conv"))
            self.assertEqual(conv["alg"], "AES-GCM-NOAAD")
            for m in ("nonce", "tag", "ciphertext"):
                self.assertEqual(conv[m], d[m])
            # The Python reader written from FORMAT.md opens it too.
            self.assertEqual(F.open_envelope([new], json.dumps(conv)),
                             b"old document")
            got, err = self.c_open(self.path("new.key"), json.dumps(conv))
            self.assertEqual(got, b"old document", err)


class FormatDocExample(Base):
    def example(self):
        with open(FORMAT_MD, encoding="utf-8") as f:
            doc = f.read()
        m = re.search(r"<!-- example-envelope -->\s*```json\n(.*?)```", doc, re.S)
        self.assertIsNotNone(m, "example envelope block missing in FORMAT.md")
        return m.group(1)

    def test_example_opens(self):
        text = self.example()
        # The key printed in FORMAT.md (the document stands alone) is the
        # fixture that the C side loads.
        with open(FORMAT_MD, encoding="utf-8") as f:
            m = re.search(r"<!-- example-key -->\s*```\n(.*?)```", f.read(), re.S)
        self.assertIsNotNone(m, "example key block missing in FORMAT.md")
        key_path = os.path.join(HERE, "fixtures", "format_example_key.pem")
        with open(key_path, encoding="ascii") as f:
            self.assertEqual(m.group(1), f.read())
        key = F.load_private(m.group(1).encode())
        self.assertEqual(F.open_envelope([key], text, ("123", "456")),
                         b"hello, docstore")
        got, err = self.c_open(key_path, text, "123", "456")
        self.assertEqual(got, b"hello, docstore", err)
        # The AES-GCM vector printed beside it.
        obj = json.loads(text)
        self.assertEqual(obj["nonce"], F.b64e(bytes(range(0xA0, 0xAC))))
        ct = F.AESGCM(bytes(range(32))).encrypt(bytes(range(0xA0, 0xAC)),
                                                b"hello, docstore",
                                                F.aad("123", "456"))
        self.assertEqual(F.b64e(ct[:-16]), obj["ciphertext"])
        self.assertEqual(F.b64e(ct[-16:]), obj["tag"])


if __name__ == "__main__":
    unittest.main(verbosity=2)
