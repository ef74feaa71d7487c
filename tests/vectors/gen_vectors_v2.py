#!/usr/bin/python3
"""Writes tests/vectors/envelope_v2.json, the conformance vectors of
envelope version 2 (docs/FORMAT.md sections 17 to 28).  Committed with its
output; run it again only to change the vectors:

    /usr/bin/python3 tests/vectors/gen_vectors_v2.py > tests/vectors/envelope_v2.json

Envelopes come from the writer of tests/interop/docstore_v2.py in its
deterministic mode (data keys, salts, nonce prefixes and OAEP seeds from
SHA-256 of fixed labels), tampered ones from tests/interop/v2_tamper.py.
The keys are those of envelope_v1.json (gen_vectors.py).  Compressed
vectors hold the zstd frames python3-zstandard wrote when they were
generated; a reader must accept any valid frame, so a different zstd
version changes nothing but the bytes of a regenerated file.
"""
import base64
import os
import struct
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(os.path.dirname(HERE), "interop"))
sys.dont_write_bytecode = True

import docstore_v2 as V  # noqa: E402
import gen_vectors as G  # noqa: E402
import v2_tamper as T  # noqa: E402

OK, FMT, UNS = "ok", "DOCSTORE_EFORMAT", "DOCSTORE_EUNSUPPORTED"
KEY, INT, INVAL = "DOCSTORE_EKEY", "DOCSTORE_EINTEGRITY", "DOCSTORE_EINVAL"
DOC = ("123", "456")
PUB = {name: k.priv.public_key() for name, k in G.KEYS.items()}
PRIV = {name: k.priv for name, k in G.KEYS.items()}

VECTORS = []
NAMES = set()


def vec(name, rule, data, result, keys=("rsa2048_a",), expect=None,
        plaintext=None, description="", segment_size=None):
    assert name not in NAMES, name
    NAMES.add(name)
    v = {"name": name, "format": "v2", "rule": rule}
    if description:
        v["description"] = description
    v["keys"] = list(keys)
    v["expect"] = None if expect is None else {"file_id": expect[0],
                                               "user_id": expect[1]}
    if segment_size:
        v["segment_size"] = segment_size
    v["envelope_b64"] = base64.b64encode(data).decode("ascii")
    v["result"] = result
    if result == OK:
        v["plaintext_hex"] = plaintext.hex()
    VECTORS.append(v)


def seal(label, document, keys=("rsa2048_a",), ids=DOC, exponent=12, level=0,
         extra=(), parts=False):
    return V.seal([PUB[k] for k in keys], document, *ids, exponent=exponent,
                  level=level, randomness=V.labelled(label),
                  extra_recipients=extra, parts=parts)


def doc_bytes(label, n):
    return G.drbg("v2doc/" + label, n)


def valid():
    s = V.seal([PUB["rsa2048_a"]], b"hello, docstore", *DOC, exponent=12,
               randomness=lambda label, n: {
                   "dk": bytes(range(32)), "salt": bytes(range(0x20, 0x40)),
                   "prefix": bytes(range(0xA0, 0xA7)),
                   "oaep/0": bytes(range(0x40, 0x60))}[label])
    vec("v2/ok/example", "§27", s, OK, expect=DOC, plaintext=b"hello, docstore",
        description="the worked example", segment_size=4096)
    vec("v2/ok/no-expectation", "§21 step 8", s, OK, plaintext=b"hello, docstore")
    for e in (12, 13):
        size = 1 << e
        for n in (0, 1, size - 1, size, size + 1, 2 * size, 2 * size + 1,
                  3 * size + 17):
            d = doc_bytes("s%d-%d" % (e, n), n)
            vec("v2/ok/segment-%d/size-%d" % (size, n), "§19",
                seal("s%d-%d" % (e, n), d, exponent=e), OK, expect=DOC,
                plaintext=d, segment_size=size)
    for e, n in ((16, 0), (16, 65536), (16, 65537), (14, 40000),
                 (20, 1), (24, 10)):
        d = doc_bytes("l%d-%d" % (e, n), n)
        vec("v2/ok/segment-%d/size-%d" % (1 << e, n), "§19",
            seal("l%d-%d" % (e, n), d, exponent=e), OK, expect=DOC, plaintext=d,
            segment_size=1 << e)
    d = b"system document"
    vec("v2/ok/system-document", "§17", seal("sys", d, ids=("77",)), OK,
        expect=("77", None), plaintext=d)
    vec("v2/ok/unbound", "§17", seal("unbound", d, ids=()), OK, plaintext=d)
    long_id = "A-z_9" * 12 + "abcd"
    vec("v2/ok/id-64-characters", "§17", seal("long", d, ids=(long_id, long_id)),
        OK, expect=(long_id, long_id), plaintext=d)
    # Recipients (sections 17, 21 step 4, 23).
    two = seal("two", d, keys=("rsa2048_a", "rsa2048_b"))
    for keys in (["rsa2048_a"], ["rsa2048_b"], ["rsa2048_b", "rsa2048_a"],
                 ["rsa3072", "rsa2048_b"]):
        vec("v2/ok/two-recipients/keys-%s" % "-".join(keys), "§21 step 4", two, OK,
            keys=keys, expect=DOC, plaintext=d)
    for k in ("rsa3072", "rsa4096"):
        vec("v2/ok/key-%s" % k, "§17", seal("key" + k, d, keys=(k,)), OK,
            keys=[k], expect=DOC, plaintext=d)
    unknown = [V.Recipient(kind, body) for kind, body in
               ((0, b""), (2, b"kms key arn and ciphertext"), (3, bytes(256)),
                (255, bytes(1000)))]
    e = seal("unknown", d, keys=("rsa2048_b",), extra=unknown, parts=True)
    hd = V.parse_header(e.envelope)
    first = V.build_header(hd.recipients[1:] + hd.recipients[:1], e.dk, e.salt,
                           e.prefix, *DOC, exponent=hd.exponent)
    vec("v2/ok/unknown-kinds-after", "§17", e.envelope, OK, keys=["rsa2048_b"],
        expect=DOC, plaintext=d)
    vec("v2/ok/unknown-kinds-first", "§17", first + e.envelope[hd.length:], OK,
        keys=["rsa2048_b"], expect=DOC, plaintext=d,
        description="kinds 0, 2, 3, 255 skipped, then the RSA recipient")
    many = seal("many", d, keys=("rsa2048_a",), extra=[
        V.Recipient(200, bytes([i])) for i in range(63)])
    vec("v2/ok/64-recipients", "§17", many, OK, expect=DOC, plaintext=d)
    rw = V.rewrap([PRIV["rsa2048_a"]], two, add=[PUB["rsa3072"]],
                  remove=["*"], randomness=V.labelled("rewrap"))
    vec("v2/ok/rewrapped", "§23", rw, OK, keys=["rsa3072"], expect=DOC,
        plaintext=d, description="two recipients replaced by one; same body")
    # Compression (section 24).
    for label, n, level in (("empty", 0, 3), ("one-byte", 1, 3),
                            ("text", 30000, 3), ("text-level-19", 30000, 19),
                            ("text-level-1", 30000, 1)):
        pt = (b"compressible text, " * 2000)[:n]
        vec("v2/ok/zstd/%s" % label, "§24", seal("z" + label, pt, level=level),
            OK, expect=DOC, plaintext=pt)
    pt = doc_bytes("zr", 10000)
    vec("v2/ok/zstd/random", "§24", seal("zrandom", pt, level=3), OK, expect=DOC,
        plaintext=pt)
    s = seal("zw27", b"", level=3, parts=True)
    pt = b"w" * 200000
    vec("v2/ok/zstd/window-2-27", "§24", T.with_stream(s, V.compress(pt, 3, 27)),
        OK, expect=DOC, plaintext=pt,
        description="a frame that needs a window of 2^27 bytes, the limit")


def header_syntax():
    """Section 21 steps 2 and 3, built with valid tags where possible so
    that only the rule under test fails."""
    d = b"header rules"
    s = seal("hs", d, parts=True)
    body = b"".join(s.segments)
    hd = V.parse_header(s.header)
    rsa = hd.recipients[0]

    def build(recipients=None, file_id="123", user_id="456", exponent=12):
        return V.build_header(hd.recipients if recipients is None else recipients,
                              s.dk, s.salt, s.prefix, file_id, user_id,
                              exponent) + body

    vec("syntax/file-id-65", "§21 step 3", build(file_id="a" * 65), FMT)
    vec("syntax/user-id-65", "§21 step 3", build(user_id="a" * 65), FMT)
    def ident_header(fid, uid):
        """Identity bytes set as given (any bytes), H fixed, old tag."""
        base = V.build_header(hd.recipients, s.dk, s.salt, s.prefix,
                              exponent=12)
        raw = base[:56] + bytes([len(fid)]) + fid + bytes([len(uid)]) + uid + base[58:]
        return raw[:12] + struct.pack(">I", len(raw)) + raw[16:] + body

    vec("syntax/ident-control", "§21 step 3", ident_header(b"123", b"456"),
        INT, description="the helper below with valid ids: only the tag fails")
    for name, v in (("dot", b"1.2"), ("slash", b"a/b"), ("space", b"a b"),
                    ("nul", b"a\0"), ("latin1", b"\xe9"), ("plus", b"a+b")):
        vec("syntax/file-id-%s" % name, "§21 step 3", ident_header(v, b""), FMT)
        vec("syntax/user-id-%s" % name, "§21 step 3", ident_header(b"1", v), FMT)
    vec("syntax/user-id-without-file-id", "§21 step 3",
        build(file_id=None, user_id="456"), FMT)
    vec("syntax/recipients-0", "§21 step 3", build(recipients=[]), FMT)
    vec("syntax/recipients-65", "§21 step 3",
        build(recipients=[rsa] + [V.Recipient(9, b"")] * 64), FMT)
    kid = rsa.kid.encode()
    w = rsa.wrapped

    def kind1(k_len=71, kid_bytes=kid, w_len=None, wrapped=w, extra=b""):
        body1 = (bytes([k_len]) + kid_bytes + struct.pack(
            ">H", len(wrapped) if w_len is None else w_len) + wrapped + extra)
        return build(recipients=[V.Recipient(1, body1)])

    vec("syntax/kid-length-70", "§21 step 3", kind1(70, kid[:70]), FMT)
    vec("syntax/kid-length-72", "§21 step 3", kind1(72, kid + b"0"), FMT)
    vec("syntax/kid-uppercase", "§21 step 3", kind1(kid_bytes=kid.upper()), FMT)
    vec("syntax/kid-not-sha256", "§21 step 3",
        kind1(kid_bytes=b"sha512" + kid[6:]), FMT)
    vec("syntax/wrapped-255-bytes", "§21 step 3", kind1(wrapped=w[:255]), FMT)
    vec("syntax/wrapped-2049-bytes", "§21 step 3",
        kind1(wrapped=G.drbg("w2049", 2049)), FMT)
    vec("syntax/wrapped-length-short", "§21 step 3", kind1(w_len=255), FMT)
    vec("syntax/kind1-body-longer", "§21 step 3", kind1(extra=b"\0"), FMT)
    vec("syntax/kind1-body-empty", "§21 step 3",
        build(recipients=[V.Recipient(1, b"")]), FMT)
    # A recipient that runs past H-64, and recipients that end before it.
    h = s.header
    at = 60 + 6                                    # after the identity
    vec("syntax/recipient-past-end", "§21 step 3",
        h[:at + 1] + struct.pack(">H", len(rsa.body) + 1) + h[at + 3:] + body, FMT)
    vec("syntax/recipient-count-2-for-1", "§21 step 3",
        h[:at - 2] + b"\x00\x02" + h[at:] + body, FMT)
    padded = V.build_header(hd.recipients, s.dk, s.salt, s.prefix, *DOC,
                            exponent=12)
    hp = padded[:-64] + b"\0" + padded[-64:]
    hp = hp[:12] + struct.pack(">I", len(hp)) + hp[16:]
    vec("syntax/byte-before-commitment", "§21 step 3", hp + body, FMT)
    vec("syntax/empty", "§21 step 1", b"", FMT)
    vec("syntax/magic-only", "§21 step 2", V.MAGIC, FMT)
    vec("syntax/order-version-before-h", "§21 step 2",
        h[:8] + b"\x09" + h[9:12] + b"\0\0\0\0" + h[16:] + body, UNS)
    vec("syntax/order-suite-before-h", "§21 step 2",
        h[:9] + b"\x05" + h[10:12] + b"\0\0\0\0" + h[16:] + body, UNS)
    vec("syntax/order-flags-before-h", "§21 step 2",
        h[:10] + b"\x00\x04" + b"\0\0\0\0" + h[16:] + body, UNS)
    vec("syntax/order-syntax-before-key", "§21 step 3",
        build(file_id="a" * 65), FMT, keys=["rsa2048_b"])


def keys_and_unwrap():
    d = b"key rules"
    s = seal("ku", d, parts=True)
    env = s.envelope
    body = b"".join(s.segments)
    hd = V.parse_header(s.header)
    vec("key/absent", "§21 step 4", env, KEY, keys=["rsa2048_b"])
    vec("key/no-keys", "§21 step 4", env, KEY, keys=[])
    vec("key/refused-1024-bit", "§12", env, KEY, keys=["rsa1024", "rsa2048_a"])
    only_unknown = seal("ku-unknown", d, keys=(), extra=[
        V.Recipient(2, b"x"), V.Recipient(3, bytes(256))])
    vec("key/only-unknown-kinds", "§21 step 4", only_unknown, KEY)
    vec("key/wrong-identity-and-no-key", "§21 step 4", env, KEY,
        keys=["rsa2048_b"], expect=("999", "456"),
        description="version 2 checks the identity after the header tag")

    def with_recipients(recs, dk=None):
        return V.build_header(recs, dk or s.dk, s.salt, s.prefix, *DOC,
                              exponent=12) + body

    kid_a = G.KEYS["rsa2048_a"].kid
    kid_3072 = G.KEYS["rsa3072"].kid
    vec("unwrap/wrapped-for-other-key", "§21 step 5", with_recipients(
        [V.Recipient.rsa(kid_a, V.oaep_wrap(PUB["rsa2048_b"], s.dk, bytes(32)))]),
        INT, description="the named key is held, OAEP fails under it")
    vec("unwrap/random-wrapped", "§21 step 5", with_recipients(
        [V.Recipient.rsa(kid_a, G.drbg("rw", 256))]), INT)
    vec("unwrap/length-not-modulus", "§21 step 5", with_recipients(
        [V.Recipient.rsa(kid_3072, V.oaep_wrap(PUB["rsa2048_a"], s.dk, bytes(32)))]),
        INT, keys=["rsa3072"], description="256 bytes under a 3072-bit key")
    for n in (16, 31, 33, 64):
        dk = G.drbg("dk%d" % n, n)
        vec("unwrap/data-key-%d-bytes" % n, "§21 step 5", V.build_header(
            [V.Recipient.rsa(kid_a, V.oaep_wrap(PUB["rsa2048_a"], dk, bytes(32)))],
            dk, s.salt, s.prefix, *DOC, exponent=12) + body, INT)
    vec("unwrap/oaep-sha1", "§21 step 5", with_recipients(
        [V.Recipient.rsa(kid_a, G.oaep(G.KEYS["rsa2048_a"], s.dk, "sha1-v2", "sha1"))]),
        INT)
    # The first recipient the reader has a key for is the one: no fallback.
    bad_first = with_recipients(
        [V.Recipient.rsa(kid_a, G.drbg("bad-first", 256)),
         V.Recipient.rsa(G.KEYS["rsa2048_b"].kid,
                         V.oaep_wrap(PUB["rsa2048_b"], s.dk, bytes(32)))])
    vec("unwrap/first-usable-recipient-bad", "§21 step 4", bad_first, INT,
        keys=["rsa2048_b", "rsa2048_a"],
        description="the first recipient in header order with a key is used; "
                    "no fallback to the second")
    vec("unwrap/bad-recipient-without-key", "§21 step 4", bad_first, OK,
        keys=["rsa2048_b"], expect=DOC, plaintext=d,
        description="a recipient without a key is not looked into")
    # A commitment of another data key, the whole header re-tagged.
    other = G.drbg("other-dk", 32)
    _, _, c_other = V.derive(other, s.salt)
    vec("commitment/of-other-key-retagged", "§21 step 6", V.build_header(
        hd.recipients, s.dk, s.salt, s.prefix, *DOC, exponent=12,
        commitment=c_other) + body, INT)
    vec("order/invalid-expected-identity", "§21 step 0", env, INVAL,
        expect=("a b", None))
    vec("order/invalid-expected-on-garbage", "§21 step 0", V.MAGIC + b"\0", INVAL,
        expect=("", None))


def tamperings():
    for label, d, ids, level, exponent in (
            ("base", doc_bytes("tb", 2 * 4096 + 100), DOC, 0, 12),
            ("full", doc_bytes("tf", 4096), ("5", None), 0, 12),
            ("empty", b"", (), 0, 12),
            ("zstd", b"compress me " * 3000, DOC, 3, 12)):
        s = seal("t" + label, d, ids=ids, level=level, exponent=exponent, parts=True)
        for name, data, result, expect in T.all_cases(s, d):
            vec("tamper/%s/%s" % (label, name), "§21", data, result,
                expect=expect, segment_size=1 << exponent)


def main():
    valid()
    header_syntax()
    keys_and_unwrap()
    tamperings()
    # Every vector's result is what the implementation written from
    # FORMAT.md gives (whole and streaming): a generator bug fails here.
    for v in VECTORS:
        data = base64.b64decode(v["envelope_b64"])
        keys = []
        got = None
        try:
            for k in v["keys"]:
                if G.KEYS[k].bits < 2048:
                    raise V.NoKey("refused")
                keys.append(PRIV[k])
            e = v["expect"] and (v["expect"]["file_id"], v["expect"]["user_id"])
            plain = V.open_envelope(keys, data, e or None)
            assert V.open_streaming(keys, data, e or None) == plain, v["name"]
            got = OK
        except V.EnvelopeError as err:
            got = err.code
        assert got == v["result"], (v["name"], got, v["result"])
        if got == OK:
            assert plain.hex() == v["plaintext_hex"], v["name"]
    G.write_file(VECTORS, ["v2"],
                 "Conformance vectors of docs/FORMAT.md, envelope version 2; "
                 "written by tests/vectors/gen_vectors_v2.py; schema in "
                 "tests/vectors/README.md. Test-only keys: never use them "
                 "for anything else.")

if __name__ == "__main__":
    main()
