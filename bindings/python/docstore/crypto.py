# libdocstore Python binding: keys and envelopes (include/docstore/crypto.h).
# SPDX-License-Identifier: Apache-2.0
"""RSA key pairs, keyrings and the hybrid envelope (AES-256-GCM document,
RSA-OAEP-SHA256 wrapped key).  The envelope format is docs/FORMAT.md.

Decrypted documents come back as Python bytes: the library wipes its own
copy (docstore_free), but Python cannot wipe an immutable bytes object.
"""

import ctypes
from dataclasses import dataclass
from typing import Optional

from . import _ffi

ENVELOPE_V1 = 1
ENVELOPE_V2 = 2
ENVELOPE_LEGACY = 100


def generate_key_pair(bits=0, passphrase=None):
    """A new RSA key pair as (public_pem, private_pem) strings.  bits 0 means
    3072; fewer than 2048 raises BadKeyError.  With a passphrase the private
    key is encrypted PKCS#8.  Thread-safe (and slow: seconds for 4096)."""
    lib = _ffi.lib()
    pub, priv = ctypes.c_void_p(), ctypes.c_void_p()
    rc = lib.docstore_keygen(ctypes.byref(pub), ctypes.byref(priv), bits,
                             _ffi.enc(passphrase))
    _ffi.check(rc)
    return _ffi.take_str(pub), _ffi.take_str(priv)


def doc_id(file_id, user_id=None):
    """A DocId struct (or None when file_id is None).  The bytes it points to
    are kept alive by the struct."""
    if file_id is None:
        return None
    return _ffi.DocId(_ffi.enc(file_id), _ffi.enc(user_id))


def _ref(struct):
    return ctypes.byref(struct) if struct is not None else None


@dataclass(frozen=True)
class EnvelopeInfo:
    """What an envelope says about itself (no key needed)."""
    format: int                 # ENVELOPE_V1 or ENVELOPE_LEGACY
    key_id: Optional[str]       # None for legacy envelopes
    file_id: Optional[str]      # bound identity, None if none
    user_id: Optional[str]
    plaintext_size: int         # UINT64_MAX when unknown (compressed v2)
    segment_size: int = 0       # v2: plaintext bytes per segment
    compressed: bool = False    # v2: zstd before encryption
    recipients_count: int = 1   # wrapped copies of the data key


def envelope_info(envelope):
    """Parse and validate an envelope's structure without a key."""
    lib = _ffi.lib()
    data = _ffi.envelope_bytes(envelope)
    info = _ffi.EnvelopeInfo()
    _ffi.check(lib.docstore_envelope_info_init(ctypes.byref(info),
                                               _ffi.ENVELOPE_INFO_VERSION))
    try:
        _ffi.check(lib.docstore_envelope_info_get(ctypes.byref(info), data,
                                                  len(data)))

        def s(p):
            return None if not p else ctypes.string_at(p).decode()
        return EnvelopeInfo(info.format, s(info.key_id), s(info.file_id),
                            s(info.user_id), info.plaintext_size,
                            info.segment_size, bool(info.compressed),
                            info.recipients_count)
    finally:
        lib.docstore_envelope_info_clear(ctypes.byref(info))


class Keyring(_ffi.Wrapper):
    """A set of RSA keys.  Load keys first (not concurrently with anything
    else on this keyring); then any number of threads may seal and open.

    Given to an ObjectStorageService, the keyring belongs to the service
    (this object stays usable while the service lives)."""

    _what = "keyring"
    _errmsg = "docstore_keyring_errmsg"

    def __init__(self):
        lib = _ffi.lib()
        out = ctypes.c_void_p()
        buf = _ffi.errbuf()
        _ffi.check(lib.docstore_keyring_new(ctypes.byref(out), buf,
                                            _ffi.ERRBUF_LEN), buf=buf)
        self._own(out.value, "docstore_keyring_free")

    def _added(self, rc, key_id):
        self._check(rc)
        return _ffi.take_str(key_id)

    def add_public_pem(self, pem):
        """Add a public key; returns its key id ("sha256:...")."""
        data = _ffi.as_bytes(pem)
        kid = ctypes.c_void_p()
        return self._added(_ffi.lib().docstore_keyring_add_public_pem(
            self._p(), ctypes.byref(kid), data, len(data)), kid)

    def add_public_file(self, path):
        kid = ctypes.c_void_p()
        return self._added(_ffi.lib().docstore_keyring_add_public_file(
            self._p(), ctypes.byref(kid), _ffi.enc(str(path))), kid)

    def add_private_pem(self, pem, passphrase=None):
        """Add a private key (and its public half); returns its key id."""
        data = _ffi.as_bytes(pem)
        kid = ctypes.c_void_p()
        return self._added(_ffi.lib().docstore_keyring_add_private_pem(
            self._p(), ctypes.byref(kid), data, len(data),
            _ffi.enc(passphrase)), kid)

    def add_private_file(self, path, passphrase=None):
        kid = ctypes.c_void_p()
        return self._added(_ffi.lib().docstore_keyring_add_private_file(
            self._p(), ctypes.byref(kid), _ffi.enc(str(path)),
            _ffi.enc(passphrase)), kid)

    def set_default(self, key_id):
        """Seal new envelopes under this public key."""
        self._check(_ffi.lib().docstore_keyring_set_default(
            self._p(), _ffi.enc(key_id)))

    def counts(self):
        """(number of public keys, number of private keys)."""
        pub, priv = ctypes.c_size_t(), ctypes.c_size_t()
        _ffi.lib().docstore_keyring_count(self._p(), ctypes.byref(pub),
                                          ctypes.byref(priv))
        return pub.value, priv.value

    def seal(self, plaintext, file_id=None, user_id=None):
        """Encrypt into an envelope (JSON text), binding the identity when
        file_id is given."""
        data = _ffi.as_bytes(plaintext)
        out, n = ctypes.c_void_p(), ctypes.c_size_t()
        doc = doc_id(file_id, user_id)
        _ffi.check(_ffi.lib().docstore_envelope_seal(
            ctypes.byref(out), ctypes.byref(n), self._p(), data, len(data),
            _ref(doc)))
        return _ffi.take_str(out, n.value)

    def open(self, envelope, file_id=None, user_id=None):
        """Decrypt an envelope (this format or legacy).  With file_id, an
        envelope bound to another document raises IntegrityError."""
        data = _ffi.envelope_bytes(envelope)
        out, n = ctypes.c_void_p(), ctypes.c_size_t()
        doc = doc_id(file_id, user_id)
        _ffi.check(_ffi.lib().docstore_envelope_open(
            ctypes.byref(out), ctypes.byref(n), self._p(), data, len(data),
            _ref(doc)))
        return _ffi.take_bytes(out, n.value)

    def rewrap(self, envelope, new_key_id=None):
        """Re-wrap the envelope's AES key under another public key of this
        keyring (None: the default one), ciphertext untouched."""
        data = _ffi.envelope_bytes(envelope)
        out, n = ctypes.c_void_p(), ctypes.c_size_t()
        _ffi.check(_ffi.lib().docstore_envelope_rewrap(
            ctypes.byref(out), ctypes.byref(n), self._p(), data, len(data),
            _ffi.enc(new_key_id)))
        return _ffi.take_str(out, n.value)

    def close(self):
        """Free the keyring now (only one this object owns)."""
        if self._owned():
            self._h.close()
