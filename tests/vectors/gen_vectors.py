#!/usr/bin/python3
"""Writes tests/vectors/envelope_v1.json, the conformance vectors of
docs/FORMAT.md (versions 1 and legacy).  Committed with its output; run it
again only to change the vectors:

    /usr/bin/python3 tests/vectors/gen_vectors.py > tests/vectors/envelope_v1.json

The output is deterministic: AES keys, nonces, plaintexts and the OAEP seeds
come from SHA-256 of fixed labels, and RSA-OAEP is computed here (RFC 8017,
section 7.1.1) with those seeds, so running it twice gives the same bytes.
Keys: tests/interop/fixtures/format_example_key.pem and tests/vectors/keys/.
The file's schema is described in tests/vectors/README.md.
"""
import base64
import hashlib
import json
import os
import sys

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
KEY_FILES = {
    "rsa2048_a": os.path.join(TOP, "tests", "interop", "fixtures",
                              "format_example_key.pem"),
    "rsa2048_b": os.path.join(HERE, "keys", "rsa2048_b.pem"),
    "rsa3072": os.path.join(HERE, "keys", "rsa3072.pem"),
    "rsa4096": os.path.join(HERE, "keys", "rsa4096.pem"),
    "rsa1024": os.path.join(HERE, "keys", "rsa1024.pem"),
}
PREFIX = '{"format":"docstore-envelope","version":'
ORDER = ["format", "version", "alg", "key_alg", "kid", "file_id", "user_id",
         "wrapped_key", "nonce", "tag", "ciphertext"]


def drbg(label, n):
    out = b""
    i = 0
    while len(out) < n:
        out += hashlib.sha256(("%s/%d" % (label, i)).encode()).digest()
        i += 1
    return out[:n]


def b64(raw):
    return base64.b64encode(raw).decode("ascii")


# ------------------------------------------------------------- keys

class Key:
    def __init__(self, name, path):
        with open(path, "rb") as f:
            self.pem = f.read().decode("ascii")
        self.priv = serialization.load_pem_private_key(self.pem.encode(), None)
        pub = self.priv.public_key()
        self.n = pub.public_numbers().n
        self.e = pub.public_numbers().e
        self.size = (self.n.bit_length() + 7) // 8
        self.bits = self.n.bit_length()
        der = pub.public_bytes(serialization.Encoding.DER,
                               serialization.PublicFormat.SubjectPublicKeyInfo)
        self.kid = "sha256:" + hashlib.sha256(der).hexdigest()
        self.name = name


KEYS = {name: Key(name, path) for name, path in KEY_FILES.items()}


def mgf1(seed, n, h):
    out = b""
    c = 0
    while len(out) < n:
        out += hashlib.new(h, seed + c.to_bytes(4, "big")).digest()
        c += 1
    return out[:n]


def oaep(key, msg, label, h="sha256"):
    """RSAES-OAEP-Encrypt with a seed drawn from `label`."""
    hlen = hashlib.new(h).digest_size
    k = key.size
    db = (hashlib.new(h, b"").digest() + b"\0" * (k - len(msg) - 2 * hlen - 2)
          + b"\1" + msg)
    seed = drbg("oaep/" + label, hlen)
    mdb = bytes(a ^ b for a, b in zip(db, mgf1(seed, k - hlen - 1, h)))
    mseed = bytes(a ^ b for a, b in zip(seed, mgf1(mdb, hlen, h)))
    m = int.from_bytes(b"\0" + mseed + mdb, "big")
    return pow(m, key.e, key.n).to_bytes(k, "big")


def aad(file_id, user_id):
    return ("docstore-envelope\nversion=1\nalg=AES-256-GCM\n"
            "file_id=%s\nuser_id=%s\n" % (file_id or "", user_id or "")).encode()


# ------------------------------------------------------------- writers

def compact(members):
    """Members (a list of (name, raw JSON value text)) as the writer does."""
    return "{" + ",".join('"%s":%s' % (k, v) for k, v in members) + "}"


def jstr(s):
    return "null" if s is None else '"%s"' % s


class V1:
    """A v1 envelope's parts, kept so that vectors can change one."""

    def __init__(self, label, key="rsa2048_a", plaintext=b"hello, docstore",
                 file_id="123", user_id="456", alg="AES-256-GCM",
                 aes_len=32, nonce_len=12, oaep_hash="sha256"):
        self.key = KEYS[key]
        self.plaintext = plaintext
        self.aes = drbg("aes/" + label, aes_len)
        self.nonce = drbg("nonce/" + label, nonce_len)
        a = aad(file_id, user_id) if alg == "AES-256-GCM" else None
        ct = AESGCM(self.aes).encrypt(self.nonce, plaintext, a)
        self.members = [
            ("format", '"docstore-envelope"'), ("version", "1"),
            ("alg", jstr(alg)), ("key_alg", '"RSA-OAEP-256"'),
            ("kid", jstr(self.key.kid)), ("file_id", jstr(file_id)),
            ("user_id", jstr(user_id)),
            ("wrapped_key", jstr(b64(oaep(self.key, self.aes, label, oaep_hash)))),
            ("nonce", jstr(b64(self.nonce))), ("tag", jstr(b64(ct[-16:]))),
            ("ciphertext", jstr(b64(ct[:-16]))),
        ]

    def get(self, name):
        return dict(self.members)[name]

    def text(self, **change):
        """The compact text; change: name -> raw JSON text, or None to drop."""
        out = []
        for k, v in self.members:
            if k in change:
                if change[k] is None:
                    continue
                v = change[k]
            out.append((k, v))
        return compact(out)


class Legacy:
    def __init__(self, label, key="rsa2048_a", plaintext=b"legacy document",
                 session_len=16, nonce_len=16):
        self.key = KEYS[key]
        self.plaintext = plaintext
        self.session = drbg("session/" + label, session_len)
        self.nonce = drbg("lnonce/" + label, nonce_len)
        ct = AESGCM(self.session).encrypt(self.nonce, plaintext, None)
        self.members = [
            ("enc_session_key", jstr(b64(oaep(self.key, self.session, label, "sha1")))),
            ("nonce", jstr(b64(self.nonce))), ("tag", jstr(b64(ct[-16:]))),
            ("ciphertext", jstr(b64(ct[:-16]))),
        ]

    def text(self, **change):
        out = []
        for k, v in self.members:
            if k in change:
                if change[k] is None:
                    continue
                v = change[k]
            out.append((k, v))
        # PyCryptodome's backend used json.dumps: ", " and ": ".
        return "{" + ", ".join('"%s": %s' % (k, v) for k, v in out) + "}"


# ------------------------------------------------------------- vectors

VECTORS = []
NAMES = set()


def vec(name, fmt, rule, text, result, keys=("rsa2048_a",), expect=None,
        plaintext=None, description=""):
    assert name not in NAMES, name
    NAMES.add(name)
    raw = text.encode("utf-8", "surrogatepass") if isinstance(text, str) else text
    v = {"name": name, "format": fmt, "rule": rule}
    if description:
        v["description"] = description
    v["keys"] = list(keys)
    v["expect"] = None if expect is None else {"file_id": expect[0],
                                               "user_id": expect[1]}
    try:
        s = raw.decode("utf-8")
        printable = "\0" not in s
    except UnicodeDecodeError:
        printable = False
    if printable:
        v["envelope"] = s
    else:
        v["envelope_b64"] = b64(raw)
    v["result"] = result
    if result == "ok":
        v["plaintext_hex"] = plaintext.hex()
    VECTORS.append(v)


OK, FMT, UNS = "ok", "DOCSTORE_EFORMAT", "DOCSTORE_EUNSUPPORTED"
KEY, INT, INVAL = "DOCSTORE_EKEY", "DOCSTORE_EINTEGRITY", "DOCSTORE_EINVAL"
DOC = ("123", "456")


def flip_b64(value_json, index=0):
    raw = bytearray(base64.b64decode(json.loads(value_json)))
    raw[index] ^= 0x01
    return jstr(b64(bytes(raw)))


def valid_v1():
    base = V1("base")
    vec("v1/ok/example", "v1", "§14", base.text(), OK, expect=DOC,
        plaintext=base.plaintext, description="the worked example's inputs")
    vec("v1/ok/no-expectation", "v1", "§7 step 6", base.text(), OK,
        plaintext=base.plaintext)
    for n in (0, 1, 2, 3, 16, 1000, 4096):
        e = V1("size%d" % n, plaintext=drbg("pt%d" % n, n))
        vec("v1/ok/size-%d" % n, "v1", "§6", e.text(), OK, expect=DOC,
            plaintext=e.plaintext)
    for k in ("rsa2048_b", "rsa3072", "rsa4096"):
        e = V1("key-" + k, key=k)
        vec("v1/ok/key-%s" % k, "v1", "§7 step 7", e.text(), OK, keys=[k],
            expect=DOC, plaintext=e.plaintext)
        vec("v1/ok/several-keys-%s" % k, "v1", "§7 step 7", e.text(), OK,
            keys=["rsa2048_a", k], expect=DOC, plaintext=e.plaintext)
    sysdoc = V1("system", file_id="77", user_id=None)
    vec("v1/ok/system-document", "v1", "§2", sysdoc.text(), OK,
        expect=("77", None), plaintext=sysdoc.plaintext)
    unbound = V1("unbound", file_id=None, user_id=None)
    vec("v1/ok/unbound", "v1", "§2", unbound.text(), OK,
        plaintext=unbound.plaintext)
    long_id = "A-z_9" * 12 + "abcd"
    e = V1("longid", file_id=long_id, user_id=long_id)
    vec("v1/ok/id-64-characters", "v1", "§2", e.text(), OK,
        expect=(long_id, long_id), plaintext=e.plaintext)
    # Any member order, any JSON whitespace, escapes, unknown members.
    members = base.members
    vec("v1/ok/reversed-order", "v1", "§2",
        compact(list(reversed(members))), OK, plaintext=base.plaintext)
    vec("v1/ok/whitespace", "v1", "§2",
        " \t\r\n{ " + " ,\r\n\t".join('"%s" :\t%s' % m for m in members)
        + "\n}\r\n\t ", OK, plaintext=base.plaintext)
    vec("v1/ok/pretty", "v1", "§2",
        json.dumps({k: json.loads(v) for k, v in members}, indent=4), OK,
        plaintext=base.plaintext)
    vec("v1/ok/escaped-values", "v1", "§2",
        base.text(alg='"AES\\u002d256-GCM"', format='"docstore\\u002Denvelope"',
                  file_id='"\\u0031\\u00323"'), OK, expect=DOC,
        plaintext=base.plaintext)
    ct = json.loads(base.get("ciphertext"))
    vec("v1/ok/escaped-ciphertext", "v1", "§8",
        base.text(ciphertext='"\\u00%02x%s"' % (ord(ct[0]), ct[1:])), OK,
        plaintext=base.plaintext)
    vec("v1/ok/escaped-solidus-in-base64", "v1", "§2",
        base.text(wrapped_key=base.get("wrapped_key").replace("/", "\\/")),
        OK, plaintext=base.plaintext)
    vec("v1/ok/escaped-member-name", "v1", "§2",
        base.text().replace('"ciphertext"', '"cipher\\u0074ext"'), OK,
        plaintext=base.plaintext)
    unknown = [
        ("null", "null"), ("bool", "true"), ("number", "-1.5e+300"),
        ("string", '"any text \\u00e9 \\ud83d\\ude00 \u00e9 \U0001F600"'),
        ("array", '[1, "x", [], {}, null, false]'),
        ("object", '{"a": {"b": {"c": [0.5, -0, 1E2]}}}'),
        ("duplicate-free-nested", '{"x": 1, "y": {"x": 2}}'),
        ("nul-free-escapes", '"\\"\\\\\\/\\b\\f\\n\\r\\t"'),
    ]
    for name, value in unknown:
        vec("v1/ok/unknown-member-%s" % name, "v1", "§2",
            base.text()[:-1] + ',"x-extension":%s}' % value, OK,
            plaintext=base.plaintext)
    deep = "[" * 63 + "]" * 63
    vec("v1/ok/depth-64", "v1", "§12",
        base.text()[:-1] + ',"deep":%s}' % deep, OK, plaintext=base.plaintext,
        description="the object and 63 nested arrays: 64 levels")
    many = ",".join('"m%d":0' % i for i in range(1024 - 11))
    vec("v1/ok/1024-names", "v1", "§12", base.text()[:-1] + "," + many + "}",
        OK, plaintext=base.plaintext)
    vec("v1/ok/name-256-bytes", "v1", "§12",
        base.text()[:-1] + ',"%s":0}' % ("n" * 256), OK,
        plaintext=base.plaintext)
    vec("v1/ok/name-256-bytes-utf8", "v1", "§12",
        base.text()[:-1] + ',"%s":0}' % ("\u00e9" * 128), OK,
        plaintext=base.plaintext)
    # Converted legacy envelopes (AES-GCM-NOAAD).
    for aes_len in (16, 24, 32):
        for nonce_len in (12, 16):
            e = V1("noaad%d-%d" % (aes_len, nonce_len), alg="AES-GCM-NOAAD",
                   file_id=None, user_id=None, aes_len=aes_len,
                   nonce_len=nonce_len, plaintext=b"old document")
            vec("v1/ok/noaad-aes%d-nonce%d" % (aes_len * 8, nonce_len), "v1",
                "§8", e.text(), OK, plaintext=e.plaintext)
    e = V1("noaad-expect", alg="AES-GCM-NOAAD", file_id=None, user_id=None,
           nonce_len=16)
    vec("v1/ok/noaad-identity-not-checked", "v1", "§7 step 6", e.text(), OK,
        expect=DOC, plaintext=e.plaintext)


def invalid_json(base):
    t = base.text()
    pt = base.plaintext
    vec("json/bom", "v1", "§2", "\ufeff" + t, FMT,
        description="a byte-order mark is not JSON whitespace")
    for c in range(0x20):
        if chr(c) in " \t\n\r":
            continue
        vec("json/whitespace-0x%02x" % c, "v1", "§2",
            t.replace('"version":1,', '"version":1,%s' % chr(c)), FMT)
        vec("json/raw-control-0x%02x-in-unknown-string" % c, "v1", "§2",
            t[:-1] + ',"x":"a%sb"}' % chr(c), FMT)
    vec("json/leading-vertical-tab", "v1", "§2", "\x0b" + t, FMT)
    vec("json/nbsp-as-whitespace", "v1", "§2",
        t.replace(",", ",\u00a0", 1), FMT)
    vec("json/raw-tab-in-file-id", "v1", "§2",
        t.replace('"123"', '"12\t3"'), FMT)
    vec("json/raw-newline-in-ciphertext", "v1", "§2",
        t.replace('"ciphertext":"', '"ciphertext":"\n'), FMT)
    bad_utf8 = {
        "lone-continuation": b"\x80", "overlong-slash": b"\xc0\xaf",
        "overlong-nul": b"\xc0\x80", "overlong-3": b"\xe0\x80\xaf",
        "encoded-surrogate": b"\xed\xa0\x80", "above-10ffff": b"\xf4\x90\x80\x80",
        "truncated-2": b"\xc3", "truncated-3": b"\xe2\x82", "byte-ff": b"\xff",
        "byte-fe": b"\xfe", "5-byte": b"\xf8\x88\x80\x80\x80",
    }
    for name, bad in bad_utf8.items():
        vec("json/utf8-%s-in-unknown-value" % name, "v1", "§2",
            t[:-1].encode() + b',"x":"a' + bad + b'b"}', FMT)
    for name in ("overlong-slash", "encoded-surrogate", "byte-ff"):
        vec("json/utf8-%s-in-unknown-name" % name, "v1", "§2",
            t[:-1].encode() + b',"a' + bad_utf8[name] + b'":1}', FMT)
        vec("json/utf8-%s-in-file-id" % name, "v1", "§2",
            t.encode().replace(b'"123"', b'"12' + bad_utf8[name] + b'"'), FMT)
    vec("json/utf8-outside-string", "v1", "§2",
        t[:-1] + ',"x":1\u00e9}', FMT)
    surrogates = {
        "high-alone": "\\ud800", "low-alone": "\\udc00",
        "high-then-text": "\\ud800x", "high-then-high": "\\ud800\\ud800",
        "low-then-high": "\\udc00\\ud800", "high-at-end": "a\\uDBFF",
    }
    for name, esc in surrogates.items():
        vec("json/lone-surrogate-%s-in-unknown-value" % name, "v1", "§2",
            t[:-1] + ',"x":"%s"}' % esc, FMT)
    vec("json/lone-surrogate-in-unknown-name", "v1", "§2",
        t[:-1] + ',"\\ud800":1}', FMT)
    vec("json/lone-surrogate-in-file-id", "v1", "§2",
        t.replace('"123"', '"123\\udfff"'), FMT)
    for name, esc in (("x", "\\x41"), ("U", "\\U0041"), ("short-u", "\\u12"),
                      ("apostrophe", "\\'"), ("non-hex-u", "\\u00g1"),
                      ("backslash-at-end", "\\")):
        vec("json/escape-%s" % name, "v1", "§2",
            t[:-1] + ',"x":"%s"}' % esc, FMT)
    for name, num in (("leading-zero", "01"), ("plus", "+1"), ("dot-first", ".5"),
                      ("dot-last", "1."), ("exponent-empty", "1e"),
                      ("minus-alone", "-"), ("nan", "NaN"),
                      ("infinity", "Infinity"), ("hex", "0x1"),
                      ("minus-infinity", "-Infinity")):
        vec("json/number-%s-in-unknown" % name, "v1", "§2",
            t[:-1] + ',"x":%s}' % num, FMT)
    for name, lit in (("True", "True"), ("nul", "nul"), ("none", "None"),
                      ("undefined", "undefined")):
        vec("json/literal-%s" % name, "v1", "§2",
            t[:-1] + ',"x":%s}' % lit, FMT)
    syntax = {
        "trailing-comma": t[:-1] + ",}",
        "missing-comma": t.replace(',"alg"', '"alg"'),
        "single-quotes": t.replace('"alg"', "'alg'"),
        "line-comment": t[:-1] + "//c\n}",
        "block-comment": t.replace(",", "/* c */,", 1),
        "unquoted-name": t.replace('"alg"', "alg"),
        "missing-colon": t.replace('"alg":', '"alg"'),
        "unterminated-string": t[:-2],
        "unclosed-object": t[:-1],
        "array-trailing-comma": t[:-1] + ',"x":[1,]}',
        "empty": "", "whitespace-only": " \n",
    }
    for name, s in syntax.items():
        vec("json/%s" % name, "v1", "§2", s, FMT)
    for name, s in (("array", "[" + t + "]"), ("string", '"envelope"'),
                    ("number", "1"), ("null", "null"), ("true", "true")):
        vec("json/not-an-object-%s" % name, "v1", "§2", s, FMT)
    vec("json/depth-65", "v1", "§12",
        t[:-1] + ',"deep":%s}' % ("[" * 64 + "]" * 64), FMT)
    vec("json/depth-1000", "v1", "§12",
        t[:-1] + ',"deep":%s}' % ('{"a":' * 999 + "0" + "}" * 999), FMT)
    many = ",".join('"m%d":0' % i for i in range(1025 - 11))
    vec("json/1025-names", "v1", "§12", t[:-1] + "," + many + "}", FMT)
    nested_names = ",".join('"o%d":{"a":0}' % i for i in range(507))
    vec("json/1025-names-nested", "v1", "§12",
        t[:-1] + "," + nested_names + "}", FMT,
        description="11 + 507 * 2 = 1025 names, counted in every object")
    vec("json/name-257-bytes", "v1", "§12",
        t[:-1] + ',"%s":0}' % ("n" * 257), FMT)
    vec("json/name-257-bytes-escaped", "v1", "§12",
        t[:-1] + ',"%s":0}' % ("\\u006e" * 257), FMT)
    # Duplicates: every member of section 2 and 10, unknown ones, after
    # unescaping, in nested objects.
    for name, value in base.members:
        vec("json/duplicate-%s" % name, "v1", "§2",
            t[:-1] + ',"%s":%s}' % (name, value), FMT)
    vec("json/duplicate-enc-session-key", "v1", "§2",
        t[:-1] + ',"enc_session_key":"AA==","enc_session_key":"AA=="}', FMT)
    vec("json/duplicate-unknown", "v1", "§2",
        t[:-1] + ',"x":1,"x":1}', FMT)
    vec("json/duplicate-after-unescaping", "v1", "§2",
        t[:-1] + ',"n\\u006fnce":%s}' % base.get("nonce"), FMT)
    vec("json/duplicate-unknown-after-unescaping", "v1", "§2",
        t[:-1] + ',"\u00e9":1,"\\u00e9":2}', FMT)
    vec("json/duplicate-in-nested-object", "v1", "§2",
        t[:-1] + ',"x":[{"a":1,"a":1}]}', FMT)
    vec("json/no-duplicate-across-objects", "v1", "§2",
        t[:-1] + ',"x":{"nonce":1},"y":{"nonce":1}}', OK, plaintext=pt)
    # Trailing data (step 4).
    for name, tail in (("letter", "x"), ("object", "{}"), ("nul", "\0"),
                       ("comma", ","), ("bom", "\ufeff"), ("vertical-tab", "\x0b")):
        vec("text/data-after-object-%s" % name, "v1", "§7 step 4", t + tail, FMT)
    vec("text/whitespace-after-object", "v1", "§7 step 4", t + " \r\n\t", OK,
        plaintext=pt)
    # U+0000 escaped (step 4).
    for name, s in (("file-id", t.replace('"123"', '"123\\u0000x"')),
                    ("user-id", t.replace('"456"', '"456\\u0000"')),
                    ("unknown-value", t[:-1] + ',"x":"\\u0000"}'),
                    ("unknown-name", t[:-1] + ',"\\u0000":1}'),
                    ("nested", t[:-1] + ',"x":[["\\u0000"]]}'),
                    ("alg", t.replace('"AES-256-GCM"', '"AES-256-GCM\\u0000"'))):
        vec("text/escaped-nul-in-%s" % name, "v1", "§7 step 4", s, FMT)
    vec("text/escaped-backslash-u0000-is-text", "v1", "§7 step 4",
        t[:-1] + ',"x":"\\\\u0000"}', OK, plaintext=pt)


def version_rules(base):
    t = base.text()
    for name, v, result in (
            ("string", '"1"', FMT), ("one-point-zero", "1.0", FMT),
            ("exponent", "1e0", FMT), ("long-fraction", "1.0000000000000000001", FMT),
            ("just-below-one", "0.99999999999999999999", FMT),
            ("minus-one", "-1", FMT), ("minus-zero", "-0", FMT),
            ("one-point-five", "1.5", FMT), ("two-point-five", "2.5", FMT),
            ("null", "null", FMT), ("true", "true", FMT), ("array", "[1]", FMT),
            ("1e16", "1e16", FMT), ("1e400", "1e400", FMT),
            ("zero", "0", UNS), ("two", "2", UNS), ("ten", "10", UNS),
            ("2-pow-53", "9007199254740992", UNS),
            ("2-pow-53-plus-1", "9007199254740993", UNS),
            ("huge", "1" + "0" * 400, UNS)):
        vec("version/%s" % name, "v1", "§3.2", t.replace('"version":1', '"version":%s' % v), result)
    vec("version/leading-zero", "v1", "§3.2",
        t.replace('"version":1', '"version":01'), FMT)
    vec("version/missing", "v1", "§7 step 4", base.text(version=None), FMT)
    vec("version/no-format-read-as-legacy", "legacy", "§7 step 3",
        base.text(format=None)[:-1] + ',"enc_session_key":"AA=="}', KEY,
        description="read as legacy (version and the other v1 members are "
                    "ignored): no key has a 1-byte modulus")
    for name, v in (("other", '"docstore-envelope-2"'), ("case", '"Docstore-envelope"'),
                    ("number", "1"), ("null", "null")):
        vec("version/format-%s" % name, "v1", "§7 step 4",
            t.replace('"format":"docstore-envelope"', '"format":%s' % v), FMT)
    # Section 11: text that is not JSON but begins like a newer version.
    for name, rest, result in (
            ("v2-binary-frames", '2}\x00\x01\x02frame', UNS),
            ("v2-header-not-json", '2,"frames":\x01\x02', UNS),
            ("v2-invalid-utf8", b'2,"x":"\xff"}', UNS),
            ("v10-truncated", "10", UNS), ("v0-broken", "0,", UNS),
            ("v1-broken", "1,\x01", FMT), ("v01", "01}\x00", FMT),
            ("v1.5", "1.5}\x00", FMT), ("v2.5", "2.5}\x00", FMT),
            ("v2e0", "2e0}\x00", FMT), ("v-1", "-1}\x00", FMT),
            ("v-quote", '"2"}\x00', FMT), ("v-space-2", " 2,\x01", FMT),
            ("v-space-2-json", " 2}\x00", UNS)):
        body = (PREFIX.encode() + rest) if isinstance(rest, bytes) else PREFIX + rest
        vec("version/prefix-%s" % name, "v1", "§11",
            body, result)
    v2 = t.replace('"version":1', '"version":2')
    vec("version/v2-prefix-duplicate-member", "v1", "§11",
        v2[:-1] + ',"alg":"x"}', UNS,
        description="step 2 fails, and the text begins with the v2 prefix")
    vec("version/v2-other-order-duplicate-member", "v1", "§11",
        '{"version":2,"format":"docstore-envelope","a":1,"a":2}', FMT,
        description="step 2 fails and the prefix does not match: malformed")
    vec("version/v2-other-order", "v1", "§7 step 4",
        '{"version":2,"format":"docstore-envelope"}', UNS)
    vec("version/v2-trailing-data", "v1", "§7 step 4", v2 + "\x00frames", UNS)
    vec("version/v2-escaped-nul", "v1", "§7 step 4",
        v2[:-1] + ',"x":"\\u0000"}', UNS)
    vec("version/v2-bom", "v1", "§11", "\ufeff" + v2, FMT)
    vec("version/v2-missing-members", "v1", "§7 step 4",
        '{"format":"docstore-envelope","version":2}', UNS)


def header_rules(base):
    t = base.text()
    for name in ("alg", "key_alg", "kid", "file_id", "user_id", "wrapped_key",
                 "nonce", "tag", "ciphertext"):
        vec("header/missing-%s" % name.replace("_", "-"), "v1", "§7 step 5",
            base.text(**{name: None}), FMT)
    for name in ("alg", "key_alg", "kid", "wrapped_key", "nonce", "tag",
                 "ciphertext"):
        for kind, value in (("number", "5"), ("null", "null"), ("array", "[]"),
                            ("object", "{}")):
            vec("header/%s-%s" % (name.replace("_", "-"), kind), "v1",
                "§7 step 5", base.text(**{name: value}), FMT)
    for name, v in (("lowercase", '"aes-256-gcm"'), ("aes128", '"AES-128-GCM"'),
                    ("empty", '""'), ("chacha", '"CHACHA20-POLY1305"')):
        vec("header/alg-%s" % name, "v1", "§7 step 5", base.text(alg=v), UNS)
    for name, v in (("sha1", '"RSA-OAEP"'), ("lowercase", '"rsa-oaep-256"'),
                    ("pkcs1", '"RSA1_5"')):
        vec("header/key-alg-%s" % name, "v1", "§7 step 5", base.text(key_alg=v), UNS)
    kid = base.key.kid
    for name, v in (("uppercase", kid.upper().replace("SHA256:", "sha256:")),
                    ("short", kid[:-1]), ("long", kid + "0"),
                    ("md5", "md5:" + kid[7:]), ("no-prefix", kid[7:]),
                    ("empty", "")):
        vec("header/kid-%s" % name, "v1", "§4", base.text(kid=jstr(v)), FMT)
    for member in ("file_id", "user_id"):
        m = member.replace("_", "-")
        for name, v in (("number", "123"), ("empty", '""'), ("65-chars", jstr("a" * 65)),
                        ("space", '"a b"'), ("dots", '"../x"'), ("non-ascii", '"\u00e9"'),
                        ("escaped-slash", '"a\\/b"'), ("bool", "true")):
            vec("header/%s-%s" % (m, name), "v1", "§2", base.text(**{member: v}), FMT)
    vec("header/user-id-without-file-id", "v1", "§2", base.text(file_id="null"), FMT)
    noaad = V1("noaad-ids", alg="AES-GCM-NOAAD", file_id=None, user_id=None)
    vec("header/noaad-with-file-id", "v1", "§2", noaad.text(file_id='"1"'), FMT)
    vec("header/noaad-with-both-ids", "v1", "§2",
        noaad.text(file_id='"1"', user_id='"2"'), FMT)
    vec("header/noaad-with-user-id-only", "v1", "§2", noaad.text(user_id='"2"'), FMT)
    # Base64 (section 3.1), for each member.
    for name in ("wrapped_key", "nonce", "tag", "ciphertext"):
        m = name.replace("_", "-")
        good = json.loads(base.get(name))
        cases = {
            "bad-character": good[:1] + "*" + good[2:],
            "url-safe": good[:1] + "-" + good[2:],
            "length-not-multiple-of-4": good[:-1],
            "escaped-newline": good[:4] + "\\n" + good[4:],
            "escaped-space": good[:4] + "\\u0020" + good[4:],
            "padding-first": "AA==" + good,
            "three-padding": good + "A===",
            "unpadded": good.rstrip("=") if good.endswith("=") else good + "A",
        }
        for cname, v in cases.items():
            vec("base64/%s-%s" % (m, cname), "v1", "§3.1",
                base.text(**{name: '"%s"' % v}), FMT)
    # Non-canonical unused bits: the ciphertext (15 bytes) has none, so use
    # a 14-byte document; the tag ends with "==".
    e = V1("canon", plaintext=b"document body!")
    ctv = json.loads(e.get("ciphertext"))
    assert ctv.endswith("=") and not ctv.endswith("==")
    bad = ctv[:-2] + ("B" if ctv[-2] == "A" else chr(ord(ctv[-2]) ^ 1)) + "="
    vec("base64/ciphertext-nonzero-unused-bits", "v1", "§3.1",
        e.text(ciphertext=jstr(bad)), FMT)
    tagv = json.loads(e.get("tag"))
    bad = tagv[:-3] + ("B" if tagv[-3] == "A" else chr(ord(tagv[-3]) ^ 1)) + "=="
    vec("base64/tag-nonzero-unused-bits", "v1", "§3.1", e.text(tag=jstr(bad)), FMT)
    # Decoded lengths.
    for name, n in (("nonce", 0), ("nonce", 8), ("nonce", 11), ("nonce", 13),
                    ("nonce", 16), ("nonce", 17), ("tag", 0), ("tag", 12),
                    ("tag", 15), ("tag", 17), ("wrapped_key", 0),
                    ("wrapped_key", 32), ("wrapped_key", 255),
                    ("wrapped_key", 2049)):
        vec("length/%s-%d-bytes" % (name.replace("_", "-"), n), "v1", "§2",
            base.text(**{name: jstr(b64(drbg("len%s%d" % (name, n), n)))}), FMT)
    vec("length/noaad-nonce-13-bytes", "v1", "§2",
        noaad.text(nonce=jstr(b64(bytes(13)))), FMT)


def order_rules(base):
    """Faults in two steps: the earlier step decides (section 7)."""
    t = base.text()
    ct = json.loads(base.get("ciphertext"))
    bad_ct = jstr("!" + ct[1:])
    vec("order/bad-ciphertext-and-no-key", "v1", "§7", base.text(ciphertext=bad_ct),
        FMT, keys=["rsa2048_b"])
    vec("order/bad-ciphertext-and-wrong-identity", "v1", "§7",
        base.text(ciphertext=bad_ct), FMT, expect=("999", None))
    vec("order/bad-ciphertext-and-bad-tag", "v1", "§7",
        base.text(ciphertext=bad_ct, tag=flip_b64(base.get("tag"))), FMT)
    vec("order/unknown-alg-and-missing-kid", "v1", "§7 step 5",
        base.text(alg='"X"', kid=None), UNS)
    vec("order/missing-alg-and-unknown-key-alg", "v1", "§7 step 5",
        base.text(alg=None, key_alg='"X"'), FMT)
    vec("order/unknown-key-alg-and-bad-nonce", "v1", "§7 step 5",
        base.text(key_alg='"X"', nonce='"!"'), UNS)
    vec("order/version-2-and-bad-alg", "v1", "§7 step 4",
        t.replace('"version":1', '"version":2').replace('"AES-256-GCM"', "5"), UNS)
    vec("order/version-string-and-trailing-data", "v1", "§7 step 4",
        t.replace('"version":1', '"version":"1"') + "x", FMT)
    vec("order/wrong-identity-and-no-key", "v1", "§7 step 6", t, INT,
        keys=["rsa2048_b"], expect=("999", "456"))
    vec("order/wrong-identity-and-bad-tag", "v1", "§7 step 6",
        base.text(tag=flip_b64(base.get("tag"))), INT, expect=("123", "999"))
    vec("order/no-key-and-bad-wrapped-key", "v1", "§7 step 7",
        base.text(wrapped_key=flip_b64(base.get("wrapped_key"))), KEY,
        keys=["rsa2048_b"])
    vec("order/invalid-expected-identity", "v1", "§7 step 0",
        "not even JSON", INVAL, expect=("a b", None),
        description="the caller's expected identity is checked first")
    vec("order/invalid-expected-user-id", "v1", "§7 step 0", t, INVAL,
        expect=("123", "../456"))
    vec("order/empty-expected-file-id", "v1", "§7 step 0", t, INVAL,
        expect=("", None))


def crypto_rules(base):
    t = base.text()
    pt = base.plaintext
    # Identity (step 6).
    for name, exp in (("other-file", ("124", "456")), ("other-user", ("123", "457")),
                      ("user-expected-none", ("123", None))):
        vec("identity/%s" % name, "v1", "§7 step 6", t, INT, expect=exp)
    sysdoc = V1("system2", file_id="77", user_id=None)
    vec("identity/system-but-user-expected", "v1", "§7 step 6", sysdoc.text(),
        INT, expect=("77", "1"))
    unbound = V1("unbound2", file_id=None, user_id=None)
    vec("identity/unbound-but-expected", "v1", "§7 step 6", unbound.text(), INT,
        expect=("1", None))
    # Key (step 7).
    vec("key/absent", "v1", "§7 step 7", t, KEY, keys=["rsa2048_b"])
    vec("key/no-keys", "v1", "§7 step 7", t, KEY, keys=[])
    other = KEYS["rsa2048_b"].kid
    vec("key/kid-of-other-key", "v1", "§7 step 7", base.text(kid=jstr(other)),
        INT, keys=["rsa2048_b"],
        description="the named key is present but OAEP fails under it")
    vec("key/refused-1024-bit", "v1", "§12", t, KEY, keys=["rsa1024", "rsa2048_a"],
        description="keys under 2048 bits are refused when loaded")
    # Unwrap (step 8).
    vec("unwrap/flipped-first-byte", "v1", "§7 step 8",
        base.text(wrapped_key=flip_b64(base.get("wrapped_key"))), INT)
    vec("unwrap/flipped-last-byte", "v1", "§7 step 8",
        base.text(wrapped_key=flip_b64(base.get("wrapped_key"), -1)), INT)
    k3 = V1("k3072", key="rsa3072")
    vec("unwrap/length-of-other-modulus", "v1", "§7 step 8",
        base.text(wrapped_key=jstr(b64(drbg("wk384", 384)))), INT,
        description="384 bytes under a 2048-bit key")
    # A 3072-bit wrapping whose first byte is 0: without it, 383 bytes are
    # the same number to RSA, but not the modulus length.
    label = next("lz%d" % i for i in range(100000)
                 if oaep(KEYS["rsa3072"], k3.aes, "lz%d" % i)[0] == 0)
    wk = oaep(KEYS["rsa3072"], k3.aes, label)
    vec("unwrap/leading-zero-byte-kept", "v1", "§7 step 8",
        k3.text(wrapped_key=jstr(b64(wk))), OK, keys=["rsa3072"], expect=DOC,
        plaintext=k3.plaintext)
    vec("unwrap/leading-zero-byte-stripped", "v1", "§7 step 8",
        k3.text(wrapped_key=jstr(b64(wk[1:]))), INT, keys=["rsa3072"],
        description="383 bytes: the same RSA number, not the modulus length")
    key = base.key
    for n in (16, 24, 31, 33):
        vec("unwrap/aes-key-%d-bytes" % n, "v1", "§7 step 8",
            base.text(wrapped_key=jstr(b64(oaep(key, drbg("k%d" % n, n), "w%d" % n)))),
            INT)
    noaad = V1("noaad-k", alg="AES-GCM-NOAAD", file_id=None, user_id=None)
    vec("unwrap/noaad-aes-key-20-bytes", "v1", "§7 step 8",
        noaad.text(wrapped_key=jstr(b64(oaep(key, bytes(20), "w20")))), INT)
    vec("unwrap/oaep-sha1", "v1", "§7 step 8",
        V1("sha1", oaep_hash="sha1").text(), INT)
    # Decrypt (step 9).
    for name in ("tag", "ciphertext", "nonce"):
        for idx in (0, -1):
            vec("decrypt/flipped-%s-%s" % (name, "first" if idx == 0 else "last"),
                "v1", "§7 step 9", base.text(**{name: flip_b64(base.get(name), idx)}),
                INT)
    for name, change in (("file-id", {"file_id": '"124"'}),
                         ("user-id", {"user_id": '"457"'}),
                         ("user-id-null", {"user_id": "null"}),
                         ("both-null", {"file_id": "null", "user_id": "null"})):
        vec("decrypt/header-changed-%s" % name, "v1", "§5", base.text(**change), INT)
    vec("decrypt/alg-changed-to-noaad", "v1", "§5",
        unbound.text(alg='"AES-GCM-NOAAD"'), INT)
    ctb = base64.b64decode(json.loads(base.get("ciphertext")))
    vec("decrypt/ciphertext-truncated", "v1", "§7 step 9",
        base.text(ciphertext=jstr(b64(ctb[:-1]))), INT)
    vec("decrypt/ciphertext-extended", "v1", "§7 step 9",
        base.text(ciphertext=jstr(b64(ctb + b"\0"))), INT)
    vec("decrypt/ciphertext-empty", "v1", "§7 step 9",
        base.text(ciphertext='""'), INT)
    other = V1("other-doc")
    vec("decrypt/tag-of-other-envelope", "v1", "§7 step 9",
        base.text(tag=other.get("tag")), INT)
    vec("decrypt/wrapped-key-of-other-envelope", "v1", "§7 step 9",
        base.text(wrapped_key=other.get("wrapped_key")), INT)


def legacy_rules():
    for slen in (16, 24, 32):
        for nlen in (16, 12):
            e = Legacy("l%d-%d" % (slen, nlen), session_len=slen, nonce_len=nlen)
            vec("legacy/ok/session%d-nonce%d" % (slen, nlen), "legacy", "§10",
                e.text(), OK, plaintext=e.plaintext)
    base = Legacy("lbase")
    pt = base.plaintext
    t = base.text()
    vec("legacy/ok/identity-not-checked", "legacy", "§10", t, OK, expect=DOC,
        plaintext=pt)
    vec("legacy/ok/second-key", "legacy", "§10", t, OK,
        keys=["rsa2048_b", "rsa3072", "rsa2048_a"], plaintext=pt)
    e = Legacy("l3072", key="rsa3072", plaintext=b"")
    vec("legacy/ok/3072-empty", "legacy", "§10", e.text(), OK,
        keys=["rsa2048_a", "rsa3072"], plaintext=b"")
    vec("legacy/ok/compact", "legacy", "§10",
        compact(base.members), OK, plaintext=pt)
    vec("legacy/ok/unknown-member", "legacy", "§10",
        t[:-1] + ', "comment": {"a": [1, 2]}}', OK, plaintext=pt)
    vec("legacy/ok/version-ignored", "legacy", "§10",
        t[:-1] + ', "version": "x"}', OK, plaintext=pt)
    for n in (8, 20, 33):
        vec("legacy/session-key-%d-bytes" % n, "legacy", "§10",
            base.text(enc_session_key=jstr(b64(oaep(base.key, bytes(n), "s%d" % n,
                                                    "sha1")))),
            KEY, description="no key gives a 16-, 24- or 32-byte key")
    vec("legacy/no-key-of-that-size", "legacy", "§10", t, KEY, keys=["rsa3072"])
    vec("legacy/wrong-key", "legacy", "§10", t, KEY, keys=["rsa2048_b"])
    vec("legacy/flipped-session-key", "legacy", "§10",
        base.text(enc_session_key=flip_b64(dict(base.members)["enc_session_key"])),
        KEY, description="indistinguishable from a missing key")
    for name in ("tag", "ciphertext", "nonce"):
        vec("legacy/flipped-%s" % name, "legacy", "§10",
            base.text(**{name: flip_b64(dict(base.members)[name])}), INT)
    for name in ("nonce", "tag", "ciphertext"):
        vec("legacy/missing-%s" % name, "legacy", "§10", base.text(**{name: None}), FMT)
        vec("legacy/%s-not-string" % name, "legacy", "§10", base.text(**{name: "1"}), FMT)
    vec("legacy/enc-session-key-not-string", "legacy", "§10",
        base.text(enc_session_key="null"), FMT)
    vec("legacy/enc-session-key-empty", "legacy", "§10",
        base.text(enc_session_key='""'), FMT)
    vec("legacy/enc-session-key-2049-bytes", "legacy", "§10",
        base.text(enc_session_key=jstr(b64(bytes(2049)))), FMT)
    vec("legacy/nonce-13-bytes", "legacy", "§10",
        base.text(nonce=jstr(b64(bytes(13)))), FMT)
    vec("legacy/tag-15-bytes", "legacy", "§10", base.text(tag=jstr(b64(bytes(15)))), FMT)
    vec("legacy/bad-base64", "legacy", "§3.1", base.text(ciphertext='"A*=="'), FMT)
    vec("legacy/trailing-data", "legacy", "§10", t + " x", FMT)
    vec("legacy/escaped-nul", "legacy", "§10", t[:-1] + ', "x": "\\u0000"}', FMT)
    vec("legacy/bom", "legacy", "§10", "\ufeff" + t, FMT)
    vec("legacy/duplicate-nonce", "legacy", "§10",
        t[:-1] + ', "nonce": %s}' % dict(base.members)["nonce"], FMT)
    vec("legacy/neither-format-nor-session-key", "legacy", "§7 step 3",
        base.text(enc_session_key=None), FMT)
    vec("legacy/format-wins", "v1", "§7 step 3",
        t[:-1] + ', "format": "docstore-envelope", "version": 1}', FMT,
        description="with a format member the v1 rules apply: alg missing")


def main():
    base = V1("base")
    valid_v1()
    invalid_json(base)
    version_rules(base)
    header_rules(base)
    order_rules(base)
    crypto_rules(base)
    legacy_rules()
    write_file(VECTORS, ["v1", "legacy"],
               "Conformance vectors of docs/FORMAT.md; written by "
               "tests/vectors/gen_vectors.py; schema in "
               "tests/vectors/README.md. Test-only keys: never use "
               "them for anything else.")


def write_file(vectors, formats, description):
    """The vector file (schema: tests/vectors/README.md) on stdout, with
    every key of KEYS; gen_vectors_v2.py writes its file with it too."""
    keys = {}
    for name, k in KEYS.items():
        keys[name] = {"bits": k.bits, "kid": k.kid, "private_pem": k.pem,
                      "loads": "ok" if k.bits >= 2048 else "DOCSTORE_EKEY"}
    counts = {}
    for v in vectors:
        counts[v["result"]] = counts.get(v["result"], 0) + 1
    out = {
        "schema": "docstore-envelope-vectors",
        "schema_version": 1,
        "formats": formats,
        "description": description,
        "counts": dict(sorted(counts.items())),
        "keys": keys,
        "vectors": vectors,
    }
    json.dump(out, sys.stdout, indent=1, ensure_ascii=True)
    sys.stdout.write("\n")

if __name__ == "__main__":
    main()
