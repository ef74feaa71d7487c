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


def _reject_duplicates(pairs):
    seen = {}
    for k, v in pairs:
        if k in seen:
            raise Malformed(f"duplicate member {k}")
        seen[k] = v
    return seen


def open_envelope(private_keys, text, expect=None):
    """Section 7 (reading) for version 1; private_keys: list of RSA keys.
    expect: None or (file_id, user_id-or-None)."""
    try:
        env = json.loads(text, object_pairs_hook=_reject_duplicates)
    except ValueError as e:
        raise Malformed(str(e)) from e
    if not isinstance(env, dict):
        raise Malformed("not an object")
    if "format" not in env:
        raise Malformed("not a v1 envelope (legacy is read with PyCryptodome)")
    if env["format"] != FORMAT:
        raise Malformed("format")
    version = env.get("version")
    if not isinstance(version, (int, float)) or isinstance(version, bool) \
            or version < 0 or version != int(version):
        raise Malformed("version")
    if version != 1:
        raise Unsupported(f"version {version}")
    alg = env.get("alg")
    if not isinstance(alg, str):
        raise Malformed("alg")
    if alg not in ("AES-256-GCM", "AES-GCM-NOAAD"):
        raise Unsupported(alg)
    if not isinstance(env.get("key_alg"), str):
        raise Malformed("key_alg")
    if env["key_alg"] != "RSA-OAEP-256":
        raise Unsupported(env["key_alg"])
    kid = env.get("kid")
    if not isinstance(kid, str) or not KID_RE.match(kid):
        raise Malformed("kid")
    ids = []
    for name in ("file_id", "user_id"):
        if name not in env:
            raise Malformed(f"missing {name}")
        v = env[name]
        if v is not None and (not isinstance(v, str) or not ID_RE.match(v)):
            raise Malformed(name)
        ids.append(v)
    file_id, user_id = ids
    if file_id is None and user_id is not None:
        raise Malformed("user_id without file_id")
    if alg == "AES-GCM-NOAAD" and file_id is not None:
        raise Malformed("AES-GCM-NOAAD binds no identity")
    wrapped = b64d(env.get("wrapped_key"), "wrapped_key")
    if not 256 <= len(wrapped) <= 2048:
        raise Malformed("wrapped_key length")
    nonce = b64d(env.get("nonce"), "nonce")
    if len(nonce) not in ((12,) if alg == "AES-256-GCM" else (12, 16)):
        raise Malformed("nonce length")
    tag = b64d(env.get("tag"), "tag")
    if len(tag) != 16:
        raise Malformed("tag length")
    ct = b64d(env.get("ciphertext"), "ciphertext")

    if expect is not None and alg == "AES-256-GCM":
        if file_id is None or (file_id, user_id) != tuple(expect):
            raise Integrity("another document")
    key = None
    for k in private_keys:
        if kid_of(k.public_key()) == kid:
            key = k
    if key is None:
        raise NoKey(kid)
    try:
        aes_key = key.decrypt(wrapped, oaep(hashes.SHA256()))
    except ValueError as e:
        raise Integrity("unwrap") from e
    if len(aes_key) not in ((32,) if alg == "AES-256-GCM" else (16, 24, 32)):
        raise Integrity("key length")
    associated = aad(file_id, user_id) if alg == "AES-256-GCM" else None
    try:
        # GCM with a 16-byte nonce is standard GCM (GHASH-derived counter
        # block); python3-cryptography's AESGCM accepts 12 to 128 bytes.
        return AESGCM(aes_key).decrypt(nonce, ct + tag, associated)
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
