"""Independent reader and writer of docstore envelope version 2, written from
docs/FORMAT.md alone (sections 17 to 24; section numbers in the comments),
with Debian's python3-cryptography (HKDF, HMAC, AES-GCM, RSA-OAEP) and
python3-zstandard.  Used by test_interop_v2.py, test_vectors.py and
tests/vectors/gen_vectors_v2.py; not part of the library.

Errors are the classes of docstore_format.py (the version 1 module), whose
`code` is the library's symbolic error name (sections 9 and 25).

    python3 docstore_v2.py --example     prints the worked example (section 27)
"""
import hashlib
import hmac
import os
import re
import struct
import sys

import zstandard
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives import hmac as chmac
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDFExpand

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.dont_write_bytecode = True

from docstore_format import (ID_RE, KID_RE, EnvelopeError, Integrity,  # noqa: E402
                             InvalidArgument, Malformed, NoKey, Unsupported,
                             kid_of, oaep)

__all__ = ["EnvelopeError", "Integrity", "InvalidArgument", "Malformed",
           "NoKey", "Unsupported"]

MAGIC = b"\x89DSE\r\n\x1a\n"                   # section 17
VERSION = 2
SUITE = 1
FLAG_ZSTD = 0x0001
H_MIN, H_MAX = 127, 262144
E_MIN, E_MAX, E_DEFAULT = 12, 24, 16
R_MAX = 64
KIND_RSA_OAEP = 1
KID_LEN = 71
W_MIN, W_MAX = 256, 2048
TAG = 16
MAX_SEGMENTS = 1 << 32
WINDOW_MAX = 1 << 27                           # section 24
INFO_SEGMENT = b"docstore v2 segment key"      # section 18
INFO_HEADER = b"docstore v2 header key"
INFO_COMMIT = b"docstore v2 key commitment"


# ------------------------------------------------------------ section 18

def hkdf_extract(salt, ikm):
    h = chmac.HMAC(salt, hashes.SHA256())
    h.update(ikm)
    return h.finalize()


def hkdf_expand(prk, info):
    return HKDFExpand(hashes.SHA256(), 32, info).derive(prk)


def derive(dk, salt):
    """(K_seg, K_hdr, C) from the data key and the salt."""
    prk = hkdf_extract(salt, dk)
    return (hkdf_expand(prk, INFO_SEGMENT), hkdf_expand(prk, INFO_HEADER),
            hkdf_expand(prk, INFO_COMMIT))


def header_tag(k_hdr, header_without_tag):
    h = chmac.HMAC(k_hdr, hashes.SHA256())
    h.update(header_without_tag)
    return h.finalize()


# ------------------------------------------------------------ section 19

def segment_nonce(prefix, index, last):
    return prefix + struct.pack(">IB", index, 1 if last else 0)


def body_layout(body_len, seg):
    """(n, last wire length) of a body of body_len bytes, or Integrity."""
    wire = seg + TAG
    n = max(1, -(-body_len // wire))
    last = body_len - (n - 1) * wire
    if last < TAG or last > wire or (n > 1 and last == TAG) or n > MAX_SEGMENTS:
        raise Integrity("segments: body of %d bytes is not a segment stream"
                        % body_len)
    return n, last


# ------------------------------------------------------------ section 17

class Recipient:
    """One recipient: kind, body; for kind 1 also kid and wrapped key."""

    def __init__(self, kind, body, kid=None, wrapped=None):
        self.kind = kind
        self.body = body
        self.kid = kid
        self.wrapped = wrapped

    @classmethod
    def rsa(cls, kid, wrapped):
        k = kid.encode("ascii")
        body = bytes([len(k)]) + k + struct.pack(">H", len(wrapped)) + wrapped
        return cls(KIND_RSA_OAEP, body, kid, wrapped)

    def encode(self):
        return struct.pack(">BH", self.kind, len(self.body)) + self.body


class Header:
    """A parsed header (sections 17 and 21, steps 2 and 3)."""

    def __init__(self):
        self.raw = b""
        self.version = VERSION
        self.suite = SUITE
        self.flags = 0
        self.length = 0
        self.exponent = E_DEFAULT
        self.salt = b""
        self.prefix = b""
        self.file_id = None
        self.user_id = None
        self.recipients = []
        self.commitment = b""
        self.tag = b""

    @property
    def segment_size(self):
        return 1 << self.exponent

    @property
    def compressed(self):
        return bool(self.flags & FLAG_ZSTD)


def header_size(prefix):
    """Step 2 on the first 16 bytes: returns H."""
    if len(prefix) < 16:
        raise Malformed("header: fewer than 16 bytes")
    if prefix[:8] != MAGIC:
        raise Malformed("not a version 2 envelope")
    if prefix[8] != VERSION:
        raise Unsupported("format version %d" % prefix[8])
    if prefix[9] != SUITE:
        raise Unsupported("suite %d" % prefix[9])
    flags, h = struct.unpack(">HI", prefix[10:16])
    if flags & ~FLAG_ZSTD:
        raise Unsupported("flags %#06x" % flags)
    if h < H_MIN or h > H_MAX:
        raise Malformed("header length %d" % h)
    return h


def _ident(raw, name):
    s = raw.decode("latin-1")
    if not ID_RE.match(s):
        raise Malformed("header: bad " + name)
    return s


def parse_header(data):
    """Steps 2 and 3: a Header from the envelope's first bytes."""
    h = header_size(data[:16])
    if len(data) < h:
        raise Malformed("header: fewer than H bytes")
    raw = bytes(data[:h])
    end = h - 64                        # the recipients' area ends here
    hd = Header()
    hd.raw = raw
    hd.flags, hd.length = struct.unpack(">HI", raw[10:16])
    hd.exponent = raw[16]
    if not E_MIN <= hd.exponent <= E_MAX:
        raise Malformed("segment size exponent %d" % hd.exponent)
    hd.salt = raw[17:49]
    hd.prefix = raw[49:56]
    pos = 56

    def take(n, what):
        nonlocal pos
        if pos + n > end:
            raise Malformed("header: %s past the recipients' end" % what)
        out = raw[pos:pos + n]
        pos += n
        return out

    f = take(1, "file id length")[0]
    if f > 64:
        raise Malformed("file id length %d" % f)
    if f:
        hd.file_id = _ident(take(f, "file id"), "file id")
    u = take(1, "user id length")[0]
    if u > 64:
        raise Malformed("user id length %d" % u)
    if u:
        hd.user_id = _ident(take(u, "user id"), "user id")
    if f == 0 and u > 0:
        raise Malformed("user id without file id")
    (r,) = struct.unpack(">H", take(2, "recipient count"))
    if r == 0 or r > R_MAX:
        raise Malformed("recipient count %d" % r)
    for _ in range(r):
        kind, ln = struct.unpack(">BH", take(3, "recipient"))
        body = take(ln, "recipient body")
        rec = Recipient(kind, body)
        if kind == KIND_RSA_OAEP:
            k = body[0] if body else 0
            if k != KID_LEN or len(body) < 1 + k + 2:
                raise Malformed("recipient: key id length")
            kid = body[1:1 + k].decode("latin-1")
            if not KID_RE.match(kid):
                raise Malformed("recipient: key id")
            (w,) = struct.unpack(">H", body[1 + k:3 + k])
            if not W_MIN <= w <= W_MAX:
                raise Malformed("recipient: wrapped key length %d" % w)
            if ln != 1 + k + 2 + w:
                raise Malformed("recipient: body length")
            rec.kid, rec.wrapped = kid, body[3 + k:]
        hd.recipients.append(rec)
    if pos != end:
        raise Malformed("header: recipients end at %d, not at H-64" % pos)
    hd.commitment = raw[end:end + 32]
    hd.tag = raw[end + 32:h]
    return hd


def _check_expect(expect):
    if expect is None:
        return
    file_id, user_id = expect
    if not isinstance(file_id, str) or not ID_RE.match(file_id) or (
            user_id is not None and (not isinstance(user_id, str)
                                     or not ID_RE.match(user_id))):
        raise InvalidArgument("expected identity")


def unlock(hd, private_keys, expect=None):
    """Steps 4 to 8: returns (K_seg, DK, the recipient used)."""
    keys = {kid_of(k.public_key()): k for k in reversed(private_keys)}
    rec = next((r for r in hd.recipients
                if r.kind == KIND_RSA_OAEP and r.kid in keys), None)
    if rec is None:                                      # step 4
        raise NoKey("no recipient for a key held")
    key = keys[rec.kid]
    if len(rec.wrapped) != (key.key_size + 7) // 8:     # step 5
        raise Integrity("wrapped key length")
    try:
        dk = key.decrypt(rec.wrapped, oaep(hashes.SHA256()))
    except ValueError as e:
        raise Integrity("unwrap") from e
    if len(dk) != 32:
        raise Integrity("data key length")
    k_seg, k_hdr, c = derive(dk, hd.salt)
    if not hmac.compare_digest(c, hd.commitment):       # step 6
        raise Integrity("key commitment")
    if not hmac.compare_digest(header_tag(k_hdr, hd.raw[:-32]), hd.tag):
        raise Integrity("header tag")                     # step 7
    if expect is not None and (hd.file_id is None or
                               (hd.file_id, hd.user_id) != tuple(expect)):
        raise Integrity("another document")              # step 8
    return k_seg, dk, rec


def decrypt_segment(hd, k_seg, index, last, wire):
    try:
        return AESGCM(k_seg).decrypt(segment_nonce(hd.prefix, index, last),
                                     bytes(wire), None)
    except InvalidTag as e:
        raise Integrity("segment %d%s" % (index, " (last)" if last else "")) from e


ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


class _Inflater:
    """Step 10: exactly one zstd frame (not a skippable one), window
    bounded."""

    def __init__(self):
        self.d = zstandard.ZstdDecompressor(
            max_window_size=WINDOW_MAX).decompressobj()
        self.head = b""             # the first 4 bytes, until checked

    def feed(self, data):
        if len(self.head) < 4:
            take = 4 - len(self.head)
            self.head += data[:take]
            data = data[take:]
            if len(self.head) < 4:
                return b""
            if self.head != ZSTD_MAGIC:
                raise Integrity("zstd: the stream is not a zstd frame")
            data = self.head + data
        if not data:
            return b""
        if self.d.eof:
            raise Integrity("zstd: data after the frame")
        try:
            out = self.d.decompress(data)
        except zstandard.ZstdError as e:
            raise Integrity("zstd: %s" % e) from e
        if self.d.eof and self.d.unused_data:
            raise Integrity("zstd: data after the frame")
        return out

    def end(self):
        if len(self.head) < 4 or not self.d.eof:
            raise Integrity("zstd: the stream ends before the frame")


def open_envelope(private_keys, data, expect=None):
    """Section 21 on a whole envelope (the segments laid out from the size,
    section 22).  private_keys: RSA private keys; expect: None or
    (file_id, user_id or None).  Returns the document."""
    _check_expect(expect)                                 # step 0
    data = bytes(data)
    if not data.startswith(MAGIC):                        # step 1
        raise Malformed("not a version 2 envelope (section 7 reads it)")
    hd = parse_header(data)                               # steps 2, 3
    k_seg, _, _ = unlock(hd, private_keys, expect)        # steps 4 to 8
    seg = hd.segment_size
    n, _ = body_layout(len(data) - hd.length, seg)        # step 9
    out = []
    inflater = _Inflater() if hd.compressed else None
    for i in range(n):
        start = hd.length + i * (seg + TAG)
        plain = decrypt_segment(hd, k_seg, i, i == n - 1,
                                data[start:start + seg + TAG])
        out.append(inflater.feed(plain) if inflater else plain)
    if inflater:                                          # step 10
        inflater.end()
    return b"".join(out)


class StreamReader:
    """Section 21.2: feed() envelope bytes in any pieces, get verified
    plaintext back; finish() at the end of input."""

    def __init__(self, private_keys, expect=None):
        _check_expect(expect)
        self.keys = private_keys
        self.expect = expect
        self.buf = bytearray()
        self.hd = None
        self.index = 0
        self.inflater = None
        self.done = False

    def _release(self, plain):
        return self.inflater.feed(plain) if self.inflater else plain

    def feed(self, data):
        self.buf += data
        out = []
        if self.hd is None:
            if len(self.buf) < 16:
                if self.buf and not MAGIC.startswith(bytes(self.buf[:8])):
                    raise Malformed("not a version 2 envelope")
                return b""
            if not self.buf.startswith(MAGIC):
                raise Malformed("not a version 2 envelope")
            h = header_size(bytes(self.buf[:16]))
            if len(self.buf) < h:
                return b""
            self.hd = parse_header(bytes(self.buf[:h]))
            self.k_seg, _, _ = unlock(self.hd, self.keys, self.expect)
            if self.hd.compressed:
                self.inflater = _Inflater()
            del self.buf[:h]
        wire = self.hd.segment_size + TAG
        while len(self.buf) > wire:          # a byte follows: not the last
            if self.index >= MAX_SEGMENTS - 1:
                raise Integrity("too many segments")
            out.append(self._release(decrypt_segment(
                self.hd, self.k_seg, self.index, False, self.buf[:wire])))
            del self.buf[:wire]
            self.index += 1
        return b"".join(out)

    def finish(self):
        if self.hd is None:
            raise Malformed("header: fewer than %s bytes" %
                            ("16" if len(self.buf) < 16 else "H"))
        if len(self.buf) < TAG or (self.index > 0 and len(self.buf) == TAG):
            raise Integrity("truncated")
        out = self._release(decrypt_segment(self.hd, self.k_seg, self.index,
                                            True, self.buf))
        if self.inflater:
            self.inflater.end()
        self.buf.clear()
        self.done = True
        return out


def open_streaming(private_keys, data, expect=None, piece=4093):
    """The whole envelope through StreamReader, fed in pieces."""
    r = StreamReader(private_keys, expect)
    data = bytes(data)
    out = [r.feed(data[i:i + piece]) for i in range(0, len(data), piece)]
    out.append(r.finish())
    return b"".join(out)


def read_range(private_keys, data, offset, length, expect=None):
    """Section 22: plaintext [offset, offset+length) of an uncompressed
    envelope, decrypting only the segments that hold it."""
    data = bytes(data)
    hd = parse_header(data)
    if hd.compressed:
        raise Unsupported("no random access into a compressed envelope")
    k_seg, _, _ = unlock(hd, private_keys, expect)
    seg = hd.segment_size
    n, _ = body_layout(len(data) - hd.length, seg)
    size = len(data) - hd.length - TAG * n
    if offset < 0 or length < 0 or offset + length > size:
        raise InvalidArgument("range")
    if length == 0:
        return b""
    out = []
    for k in range(offset // seg, (offset + length - 1) // seg + 1):
        start = hd.length + k * (seg + TAG)
        out.append(decrypt_segment(hd, k_seg, k, k == n - 1,
                                   data[start:start + seg + TAG]))
    first = offset - (offset // seg) * seg
    return b"".join(out)[first:first + length]


def info(data):
    """What the header says (no key): steps 2 and 3."""
    hd = parse_header(bytes(data))
    return {"file_id": hd.file_id, "user_id": hd.user_id,
            "segment_size": hd.segment_size, "compressed": hd.compressed,
            "recipients": len(hd.recipients),
            "key_id": next((r.kid for r in hd.recipients
                            if r.kind == KIND_RSA_OAEP), None)}


# ------------------------------------------------------------ section 20

def _mgf1(seed, n):
    out = b""
    c = 0
    while len(out) < n:
        out += hashlib.sha256(seed + c.to_bytes(4, "big")).digest()
        c += 1
    return out[:n]


def oaep_wrap(public_key, message, seed=None):
    """RSAES-OAEP-Encrypt (RFC 8017, 7.1.1) with SHA-256, MGF1-SHA-256, the
    empty label.  seed None: python3-cryptography's (random); else the
    given 32-byte seed (deterministic vectors only)."""
    if seed is None:
        return public_key.encrypt(message, oaep(hashes.SHA256()))
    nums = public_key.public_numbers()
    k = (nums.n.bit_length() + 7) // 8
    db = (hashlib.sha256(b"").digest() + b"\0" * (k - len(message) - 66)
          + b"\1" + message)
    mdb = bytes(a ^ b for a, b in zip(db, _mgf1(seed, k - 33)))
    mseed = bytes(a ^ b for a, b in zip(seed, _mgf1(mdb, 32)))
    m = int.from_bytes(b"\0" + mseed + mdb, "big")
    return pow(m, nums.e, nums.n).to_bytes(k, "big")


def build_header(recipients, dk, salt, prefix, file_id=None, user_id=None,
                 exponent=E_DEFAULT, flags=0, commitment=None, version=VERSION,
                 suite=SUITE):
    """The header bytes (section 17) for recipients (Recipient objects);
    commitment None = the right one.  Tests change the other arguments to
    build invalid headers that still carry a valid tag."""
    _, k_hdr, c = derive(dk, salt)
    if commitment is not None:
        c = commitment
    fid = (file_id or "").encode("ascii")
    uid = (user_id or "").encode("ascii")
    middle = (bytes([exponent]) + salt + prefix + bytes([len(fid)]) + fid
              + bytes([len(uid)]) + uid + struct.pack(">H", len(recipients))
              + b"".join(r.encode() for r in recipients))
    h = 16 + len(middle) + 64
    head = MAGIC + bytes([version, suite]) + struct.pack(">HI", flags, h)
    body = head + middle + c
    return body + header_tag(k_hdr, body)


def encrypt_segments(k_seg, prefix, chunks, last_index=None):
    """Encrypt the given plaintext chunks as segments 0, 1, ...; the last
    flag on chunk last_index (default: the last chunk)."""
    if last_index is None:
        last_index = len(chunks) - 1
    aes = AESGCM(k_seg)
    return [aes.encrypt(segment_nonce(prefix, i, i == last_index), c, None)
            for i, c in enumerate(chunks)]


def split_stream(stream, seg):
    """Section 19: full segments, the last 1..S bytes (or the only one empty)."""
    chunks = [stream[i:i + seg] for i in range(0, len(stream), seg)]
    return chunks or [b""]


def compress(document, level=3, window_log=None):
    """One zstd frame of the document (section 24)."""
    if window_log is None:
        return zstandard.ZstdCompressor(level=level).compress(document)
    params = zstandard.ZstdCompressionParameters.from_level(
        level, window_log=window_log, write_content_size=False)
    c = zstandard.ZstdCompressor(compression_params=params)
    co = c.compressobj()
    return co.compress(document) + co.flush()


class Sealed:
    """A sealed envelope's parts (the deterministic writer keeps them so
    that tests and vectors can change one and rebuild)."""

    def __init__(self, header, segments, dk, salt, prefix, k_seg, stream):
        self.header = header
        self.segments = segments
        self.dk = dk
        self.salt = salt
        self.prefix = prefix
        self.k_seg = k_seg
        self.stream = stream

    @property
    def envelope(self):
        return self.header + b"".join(self.segments)


def seal(public_keys, document, file_id=None, user_id=None,
         exponent=E_DEFAULT, level=0, randomness=None, extra_recipients=(),
         parts=False):
    """Section 20.  public_keys: RSA public keys (the recipients, in order).
    level: 0 = no compression, else the zstd level.  randomness: None
    (os.urandom) or a function label -> bytes for deterministic vectors
    (labels "dk", "salt", "prefix", "oaep/<i>").  extra_recipients: more
    Recipient objects (other kinds) after the RSA ones.  Returns the
    envelope bytes, or a Sealed with parts=True."""
    if file_id is None and user_id is not None:
        raise ValueError("user_id needs file_id")
    for v in (file_id, user_id):
        if v is not None and not ID_RE.match(v):
            raise ValueError("bad identity value")
    if not E_MIN <= exponent <= E_MAX:
        raise ValueError("segment size exponent")
    kids = [kid_of(k) for k in public_keys]
    if len(set(kids)) != len(kids) or not 1 <= len(kids) + len(extra_recipients) <= R_MAX:
        raise ValueError("recipients")
    rnd = randomness or (lambda label, n: os.urandom(n))

    def draw(label, n):
        out = rnd(label, n)
        assert len(out) == n
        return out

    dk, salt, prefix = draw("dk", 32), draw("salt", 32), draw("prefix", 7)
    k_seg, _, _ = derive(dk, salt)
    recs = []
    for i, (pub, kid) in enumerate(zip(public_keys, kids)):
        seed = draw("oaep/%d" % i, 32) if randomness else None
        recs.append(Recipient.rsa(kid, oaep_wrap(pub, dk, seed)))
    recs.extend(extra_recipients)
    header = build_header(recs, dk, salt, prefix, file_id, user_id, exponent,
                          FLAG_ZSTD if level else 0)
    stream = compress(document, level) if level else document
    segments = encrypt_segments(k_seg, prefix,
                                split_stream(stream, 1 << exponent))
    s = Sealed(header, segments, dk, salt, prefix, k_seg, stream)
    return s if parts else s.envelope


def rewrap(private_keys, data, add=(), remove=(), randomness=None):
    """Section 23: a new header with recipients changed (add: public keys;
    remove: key ids, "*" = every recipient not added), then the old body."""
    data = bytes(data)
    hd = parse_header(data)
    _, dk, _ = unlock(hd, private_keys)
    add_kids = [kid_of(k) for k in add]
    recs = [r for r in hd.recipients
            if "*" not in remove and r.kid not in remove and r.kid not in add_kids]
    for i, pub in enumerate(add):
        seed = randomness("rewrap/%d" % i, 32) if randomness else None
        recs.append(Recipient.rsa(kid_of(pub), oaep_wrap(pub, dk, seed)))
    if not 1 <= len(recs) <= R_MAX:
        raise ValueError("recipients")
    header = build_header(recs, dk, hd.salt, hd.prefix, hd.file_id, hd.user_id,
                          hd.exponent, hd.flags)
    return header + data[hd.length:]


def labelled(label):
    """Deterministic randomness for vectors: SHA-256 of label and purpose."""
    def rnd(purpose, n):
        out = b""
        i = 0
        while len(out) < n:
            out += hashlib.sha256(("%s/%s/%d" % (label, purpose, i)).encode()).digest()
            i += 1
        return out[:n]
    return rnd


# ------------------------------------------------------------ section 27

def _hex_lines(raw, width=32):
    return "\n".join(raw[i:i + width].hex(" ") for i in range(0, len(raw), width))


def example(private_key):
    """The worked example's text (markdown), from fixed inputs."""
    dk = bytes(range(32))
    salt = bytes(range(0x20, 0x40))
    prefix = bytes(range(0xA0, 0xA7))
    seed = bytes(range(0x40, 0x60))
    fixed = {"dk": dk, "salt": salt, "prefix": prefix, "oaep/0": seed}
    doc = b"hello, docstore"
    s = seal([private_key.public_key()], doc, "123", "456", exponent=12,
             randomness=lambda label, n: fixed[label], parts=True)
    k_seg, k_hdr, c = derive(dk, salt)
    prk = hkdf_extract(salt, dk)
    env = s.envelope
    hd = parse_header(env)
    assert open_envelope([private_key], env, ("123", "456")) == doc
    rec = hd.recipients[0]
    lines = [
        "| input | value (hex unless quoted) |", "|---|---|",
        "| document | `\"hello, docstore\"` (15 bytes) |",
        "| identity | file id `\"123\"`, user id `\"456\"` |",
        "| segment size | 4096 (`e` = 12), no compression |",
        "| `DK` | `%s` |" % dk.hex(), "| salt | `%s` |" % salt.hex(),
        "| nonce prefix | `%s` |" % prefix.hex(),
        "| OAEP seed (RFC 8017 7.1.1 step 2d; random in real use) | `%s` |" % seed.hex(),
        "", "Derived (section 18):", "",
        "| value | hex |", "|---|---|",
        "| `PRK` | `%s` |" % prk.hex(), "| `K_seg` | `%s` |" % k_seg.hex(),
        "| `K_hdr` | `%s` |" % k_hdr.hex(), "| `C` | `%s` |" % c.hex(),
        "| `T` | `%s` |" % hd.tag.hex(),
        "| segment 0 nonce (last) | `%s` |" % segment_nonce(prefix, 0, True).hex(),
        "",
        "The header is %d bytes (`H` = 0x%08x): 16 fixed bytes, `e`, salt, "
        "nonce prefix, `03` `313233`, `03` `343536`, `00 01` recipient, kind "
        "`01` with a body of %d bytes (`47`, the key id `%s`, `01 00`, the "
        "256-byte OAEP output), `C`, `T`. The one segment (the last) is the "
        "15-byte ciphertext `%s` and its tag `%s`; the envelope is %d bytes."
        % (hd.length, hd.length, len(rec.body), rec.kid, s.segments[0][:-16].hex(),
           s.segments[0][-16:].hex(), len(env)),
        "", "The whole envelope, hex (32 bytes a line):", "",
        "<!-- v2-example-envelope -->", "```", _hex_lines(env), "```",
    ]
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["--example"]:
        from docstore_format import load_private
        here = os.path.dirname(os.path.abspath(__file__))
        with open(os.path.join(here, "fixtures", "format_example_key.pem"), "rb") as f:
            sys.stdout.write(example(load_private(f.read())))
    else:
        sys.exit(__doc__)
