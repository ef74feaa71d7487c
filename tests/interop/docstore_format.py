"""Independent reader and writer of docstore envelopes, written from
docs/FORMAT.md alone (section numbers in the comments), with Debian's
python3-cryptography.  Used by test_interop.py; not part of the library.
"""
import base64
import binascii
import hashlib
import json
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FORMAT = "docstore-envelope"
ID_RE = re.compile(r"\A[A-Za-z0-9_-]{1,64}\Z")
KID_RE = re.compile(r"\Asha256:[0-9a-f]{64}\Z")


class EnvelopeError(Exception):
    """Base class; `code` is the library's symbolic error name (section 9)."""
    code = "DOCSTORE_EFORMAT"


class Malformed(EnvelopeError):
    code = "DOCSTORE_EFORMAT"


class Unsupported(EnvelopeError):
    code = "DOCSTORE_EUNSUPPORTED"


class NoKey(EnvelopeError):
    code = "DOCSTORE_EKEY"


class Integrity(EnvelopeError):
    code = "DOCSTORE_EINTEGRITY"


class TooBig(EnvelopeError):
    code = "DOCSTORE_ETOOBIG"


class InvalidArgument(EnvelopeError):
    code = "DOCSTORE_EINVAL"


def b64d(text, name):
    """Strict base64 (section 3.1): alphabet, padding, canonical."""
    if not isinstance(text, str):
        raise Malformed(f"{name} must be a string")
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
    except (binascii.Error, UnicodeEncodeError) as e:
        raise Malformed(f"{name}: bad base64") from e
    if base64.b64encode(raw).decode("ascii") != text:
        raise Malformed(f"{name}: not canonical base64")
    return raw


def b64e(raw):
    return base64.b64encode(raw).decode("ascii")


def kid_of(public_key):
    """Section 4: sha256 of the DER SubjectPublicKeyInfo, lowercase hex."""
    der = public_key.public_bytes(serialization.Encoding.DER,
                                  serialization.PublicFormat.SubjectPublicKeyInfo)
    return "sha256:" + hashlib.sha256(der).hexdigest()


def aad(file_id, user_id):
    """Section 5: the exact associated data of an "AES-256-GCM" envelope."""
    return ("docstore-envelope\nversion=1\nalg=AES-256-GCM\n"
            f"file_id={file_id or ''}\nuser_id={user_id or ''}\n").encode("ascii")


def oaep(algorithm):
    return padding.OAEP(mgf=padding.MGF1(algorithm=algorithm),
                        algorithm=algorithm, label=None)


def seal(public_key, plaintext, file_id=None, user_id=None):
    """Section 6 (writing), with Python's json module."""
    if file_id is None and user_id is not None:
        raise ValueError("user_id needs file_id")
    for v in (file_id, user_id):
        if v is not None and not ID_RE.match(v):
            raise ValueError("bad identity value")
    key = os.urandom(32)
    nonce = os.urandom(12)
    ct_tag = AESGCM(key).encrypt(nonce, plaintext, aad(file_id, user_id))
    wrapped = public_key.encrypt(key, oaep(hashes.SHA256()))
    env = {
        "format": FORMAT, "version": 1, "alg": "AES-256-GCM",
        "key_alg": "RSA-OAEP-256", "kid": kid_of(public_key),
        "file_id": file_id, "user_id": user_id,
        "wrapped_key": b64e(wrapped), "nonce": b64e(nonce),
        "tag": b64e(ct_tag[-16:]), "ciphertext": b64e(ct_tag[:-16]),
    }
    # Any member order and whitespace is valid; the library's own writer is
    # compact.  Use indentation here to exercise the reader.
    return json.dumps(env, indent=1)


# ------------------------------------------------------------- section 2:
# the JSON text, read strictly (RFC 8259 plus the format's own limits).

MAX_DEPTH = 64
MAX_NAMES = 1024
MAX_NAME_LEN = 256
WS = b" \t\n\r"
NUMBER_RE = re.compile(rb"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?")
ESCAPES = {ord('"'): '"', ord("\\"): "\\", ord("/"): "/", ord("b"): "\b",
           ord("f"): "\f", ord("n"): "\n", ord("r"): "\r", ord("t"): "\t"}


class _Number(str):
    """A JSON number, kept as written (section 3.2 compares text)."""


class _Other:
    """true, false, an object or an array of no interest to the reader."""


class _Reader:
    def __init__(self, data):
        self.t = data
        self.i = 0
        self.depth = 0
        self.names = 0
        self.has_nul = False

    def fail(self, why):
        raise Malformed("not JSON: %s at byte %d" % (why, self.i))

    def ws(self):
        while self.i < len(self.t) and self.t[self.i] in WS:
            self.i += 1

    def string(self):
        t = self.t
        self.i += 1
        out = []
        start = self.i
        while True:
            if self.i >= len(t):
                self.fail("unterminated string")
            c = t[self.i]
            if c == 0x22:
                break
            if c < 0x20:
                self.fail("control character")
            if c != 0x5C:
                self.i += 1
                continue
            if not self._utf8(t[start:self.i]):
                self.fail("invalid UTF-8")
            out.append(t[start:self.i].decode("utf-8"))
            e = t[self.i + 1] if self.i + 1 < len(t) else None
            if e in ESCAPES:
                out.append(ESCAPES[e])
                self.i += 2
            elif e == ord("u"):
                v = self._hex4(self.i + 2)
                if 0xDC00 <= v <= 0xDFFF:
                    self.fail("lone surrogate")
                if 0xD800 <= v <= 0xDBFF:
                    if t[self.i + 6:self.i + 8] != b"\\u":
                        self.fail("lone surrogate")
                    w = self._hex4(self.i + 8)
                    if not 0xDC00 <= w <= 0xDFFF:
                        self.fail("lone surrogate")
                    v = 0x10000 + ((v - 0xD800) << 10) + (w - 0xDC00)
                    self.i += 6
                if v == 0:
                    self.has_nul = True
                out.append(chr(v))
                self.i += 6
            else:
                self.fail("invalid escape")
            start = self.i
        if not self._utf8(t[start:self.i]):
            self.fail("invalid UTF-8")
        out.append(t[start:self.i].decode("utf-8"))
        self.i += 1
        return "".join(out)

    @staticmethod
    def _utf8(raw):
        try:
            raw.decode("utf-8", "strict")  # RFC 3629: no surrogates, <= 10FFFF
            return True
        except UnicodeDecodeError:
            return False

    def _hex4(self, at):
        h = self.t[at:at + 4]
        if len(h) != 4 or not re.fullmatch(rb"[0-9a-fA-F]{4}", h):
            self.fail("invalid \\u escape")
        return int(h, 16)

    def value(self, top=False):
        t = self.t
        if self.i >= len(t):
            self.fail("unexpected end")
        c = t[self.i]
        if c == 0x22:
            return self.string()
        if c in b"{[":
            return self.container(top)
        m = NUMBER_RE.match(t, self.i)
        if c in b"-0123456789":
            if not m:
                self.fail("invalid number")
            self.i = m.end()
            return _Number(m.group().decode())
        for word, val in ((b"null", None), (b"true", _Other()), (b"false", _Other())):
            if t.startswith(word, self.i):
                self.i += len(word)
                return val
        self.fail("invalid character")

    def container(self, top):
        obj = self.t[self.i] == ord("{")
        close = ord("}") if obj else ord("]")
        self.depth += 1
        if self.depth > MAX_DEPTH:
            self.fail("too deep")
        self.i += 1
        self.ws()
        members = {}
        if self.i < len(self.t) and self.t[self.i] == close:
            self.i += 1
            self.depth -= 1
            return members if top else _Other()
        while True:
            if obj:
                if self.i >= len(self.t) or self.t[self.i] != 0x22:
                    self.fail("expected a name")
                at = self.i
                name = self.string()
                self.names += 1
                if self.names > MAX_NAMES:
                    self.fail("too many names")
                if len(name.encode("utf-8")) > MAX_NAME_LEN:
                    self.fail("name too long")
                if name in members:
                    self.i = at
                    self.fail("duplicate member %r" % name)
                self.ws()
                if self.i >= len(self.t) or self.t[self.i] != ord(":"):
                    self.fail("expected ':'")
                self.i += 1
                self.ws()
                members[name] = self.value()
            else:
                self.value()
            self.ws()
            if self.i >= len(self.t):
                self.fail("unexpected end")
            if self.t[self.i] == close:
                break
            if self.t[self.i] != ord(","):
                self.fail("expected ','")
            self.i += 1
            self.ws()
        self.i += 1
        self.depth -= 1
        return members if top else _Other()


PREFIX = b'{"format":"docstore-envelope","version":'


def _newer_version_prefix(data):
    """Section 11: after a failed step 2, the writer's prefix followed by an
    integer other than 1."""
    if not data.startswith(PREFIX):
        return False
    m = re.match(rb"[0-9]+", data[len(PREFIX):])
    if not m:
        return False
    d = m.group()
    after = data[len(PREFIX) + len(d):len(PREFIX) + len(d) + 1]
    if (d.startswith(b"0") and len(d) > 1) or after in (b".", b"e", b"E"):
        return False
    return d != b"1"


def parse(text):
    """Section 7, steps 1 to 5.  Returns (kind, members)."""
    data = text.encode("utf-8") if isinstance(text, str) else bytes(text)
    if len(data) > 3 << 29:
        raise TooBig("envelope text")
    r = _Reader(data)
    try:                                   # step 2
        r.ws()
        if r.i >= len(data) or data[r.i] != ord("{"):
            r.value()
            r.i = 0
            r.fail("not an object")
        env = r.value(top=True)
    except Malformed:
        if _newer_version_prefix(data):
            raise Unsupported("newer version")
        raise
    end = r.i
    if "format" in env:                    # step 3
        kind = "v1"
    elif "enc_session_key" in env:
        kind = "legacy"
    else:
        raise Malformed("neither format nor enc_session_key")
    if kind == "v1":                       # step 4
        if env["format"] != FORMAT:
            raise Malformed("format")
        version = env.get("version", _Other())
        if not isinstance(version, _Number) or not version.isdigit():
            raise Malformed("version")
        if version != "1":
            raise Unsupported("version %s" % version[:20])
    r.i = end
    r.ws()
    if r.i != len(data):
        raise Malformed("data after the object")
    if r.has_nul:
        raise Malformed("U+0000 in a string")
    return kind, env


def _string(env, name):
    if name not in env:
        raise Malformed("missing " + name)
    if not isinstance(env[name], str) or isinstance(env[name], _Number):
        raise Malformed(name + " must be a string")
    return env[name]


def _b64_member(env, name, lengths):
    raw = b64d(_string(env, name), name)
    if len(raw) not in lengths:
        raise Malformed("%s: %d bytes" % (name, len(raw)))
    return raw


def _gcm_members(env, nonce_lengths):
    nonce = _b64_member(env, "nonce", nonce_lengths)
    tag = _b64_member(env, "tag", (16,))
    ct = b64d(_string(env, "ciphertext"), "ciphertext")
    if len(ct) > 1 << 30:
        raise TooBig("document")
    return nonce, tag, ct


def _check_expect(expect):
    if expect is None:
        return
    file_id, user_id = expect
    if not isinstance(file_id, str) or not ID_RE.match(file_id) or (
            user_id is not None and (not isinstance(user_id, str)
                                     or not ID_RE.match(user_id))):
        raise InvalidArgument("expected identity")


def check_key(private_key):
    """Section 12: RSA keys of 2048 to 16384 bits."""
    if not isinstance(private_key, rsa.RSAPrivateKey) or \
            not 2048 <= private_key.key_size <= 16384:
        raise NoKey("RSA key of 2048 to 16384 bits required")
    return private_key


def open_envelope(private_keys, text, expect=None):
    """Section 7 (reading) for version 1 and legacy; private_keys: list of
    RSA keys in the order they were loaded.  expect: None or (file_id,
    user_id-or-None).  Raises an EnvelopeError subclass."""
    _check_expect(expect)                  # step 0
    kind, env = parse(text)
    if kind == "legacy":
        return _open_legacy(private_keys, env)
    alg = _string(env, "alg")              # step 5
    if alg not in ("AES-256-GCM", "AES-GCM-NOAAD"):
        raise Unsupported(alg)
    if _string(env, "key_alg") != "RSA-OAEP-256":
        raise Unsupported("key_alg")
    kid = _string(env, "kid")
    if not KID_RE.match(kid):
        raise Malformed("kid")
    ids = []
    for name in ("file_id", "user_id"):
        if name not in env:
            raise Malformed(f"missing {name}")
        v = env[name]
        if v is not None and (not isinstance(v, str) or isinstance(v, _Number)
                              or not ID_RE.match(v)):
            raise Malformed(name)
        ids.append(v)
    file_id, user_id = ids
    if file_id is None and user_id is not None:
        raise Malformed("user_id without file_id")
    if alg == "AES-GCM-NOAAD" and file_id is not None:
        raise Malformed("AES-GCM-NOAAD binds no identity")
    wrapped = _b64_member(env, "wrapped_key", range(256, 2049))
    nonce, tag, ct = _gcm_members(
        env, (12,) if alg == "AES-256-GCM" else (12, 16))

    if expect is not None and alg == "AES-256-GCM":   # step 6
        if file_id is None or (file_id, user_id) != tuple(expect):
            raise Integrity("another document")
    key = None                                         # step 7
    for k in private_keys:
        if kid_of(k.public_key()) == kid:
            key = k
            break
    if key is None:
        raise NoKey(kid)
    if len(wrapped) != key.key_size // 8 + (key.key_size % 8 != 0):
        raise Integrity("wrapped_key length")          # step 8
    try:
        aes_key = key.decrypt(wrapped, oaep(hashes.SHA256()))
    except ValueError as e:
        raise Integrity("unwrap") from e
    if len(aes_key) not in ((32,) if alg == "AES-256-GCM" else (16, 24, 32)):
        raise Integrity("key length")
    associated = aad(file_id, user_id) if alg == "AES-256-GCM" else None
    try:                                               # step 9
        # GCM with a 16-byte nonce is standard GCM (GHASH-derived counter
        # block); python3-cryptography's AESGCM accepts 12 to 128 bytes.
        return AESGCM(aes_key).decrypt(nonce, ct + tag, associated)
    except InvalidTag as e:
        raise Integrity("tag") from e


def _open_legacy(private_keys, env):
    """Section 10."""
    wrapped = _b64_member(env, "enc_session_key", range(1, 2049))
    nonce, tag, ct = _gcm_members(env, (12, 16))
    session = None
    for k in private_keys:
        if (k.key_size + 7) // 8 != len(wrapped):
            continue
        try:
            session = k.decrypt(wrapped, oaep(hashes.SHA1()))
        except ValueError:
            continue
        if len(session) in (16, 24, 32):
            break
        session = None
    if session is None:
        raise NoKey("no key unwraps enc_session_key")
    try:
        return AESGCM(session).decrypt(nonce, ct + tag, None)
    except InvalidTag as e:
        raise Integrity("tag") from e


def generate_key(bits=2048):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def public_pem(private_key):
    return private_key.public_key().public_bytes(
        serialization.Encoding.PEM,
        serialization.PublicFormat.SubjectPublicKeyInfo)


def private_pem(private_key, passphrase=None):
    enc = (serialization.BestAvailableEncryption(passphrase.encode())
           if passphrase else serialization.NoEncryption())
    return private_key.private_bytes(serialization.Encoding.PEM,
                                     serialization.PrivateFormat.PKCS8, enc)


def load_private(pem_bytes, passphrase=None):
    return serialization.load_pem_private_key(
        pem_bytes, password=passphrase.encode() if passphrase else None)
