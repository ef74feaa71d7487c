# libdocstore Python binding: S3StorageProvider's keyword arguments.
# SPDX-License-Identifier: Apache-2.0
"""new_provider() turns S3StorageProvider's keyword arguments into settings
of a docstore_config and builds the provider with
docstore_provider_from_config(): the binding mirrors no options struct.

Each keyword is the `field` the settings schema names for an S3 setting
(docstore_config_setting_at(): S3_BUCKET's field is "bucket", S3_MAX_ATTEMPTS's
"max_attempts"), so the keyword-to-setting map comes from the library and
follows it.  Conversions:

- strings (None: unset) pass as they are;
- addressing must be one of the setting's choices ("auto", "path",
  "virtual");
- numbers must be integers within the C type of their field (unsigned int,
  or 64 bits for sizes); 0 means the library default (unset);
- insecure_skip_verify=True sets S3_VERIFY_TLS=false (the one keyword that
  is the inverse of its setting).

A value of the wrong type or range for its keyword raises
InvalidArgumentError; a value the settings schema refuses (a setting's
[min, max], an endpoint that is not http(s)) raises ConfigError.
"""

import ctypes
import threading
from ctypes import c_uint, c_uint64

from . import _ffi
from .config import Config
from .errors import InvalidArgumentError

#: keyword -> setting name, filled from the schema on first use.
_settings = {}
_lock = threading.Lock()

#: the C type of the options field each numeric setting type fills.
_INT_TYPES = {_ffi.SETTING_UINT: c_uint, _ffi.SETTING_SIZE: c_uint64}


def _schema():
    """{keyword: SettingInfo} of the S3 provider's settings."""
    with _lock:
        if not _settings:
            lib = _ffi.lib()
            i = 0
            while True:
                p = lib.docstore_config_setting_at(i)
                if not p:
                    break
                s = p.contents
                if s.provider == b"s3" and s.field:
                    _settings[_ffi.dec(s.field)] = s
                i += 1
        return _settings


def _text(keyword, info, value):
    """The setting's text for a keyword's value, or None: leave it unset."""
    where = "S3StorageProvider %s" % keyword
    if keyword == "insecure_skip_verify":
        return b"false" if value else None
    if info.type in _INT_TYPES:
        number = _ffi.c_value(_INT_TYPES[info.type], value, where)
        return str(number).encode() if number else None
    if value is None:
        return None
    if info.type == _ffi.SETTING_CHOICE:
        choices = _ffi.dec(info.choices).split("|")
        if value not in choices:
            raise InvalidArgumentError("%s: %r is not one of %s" % (
                where, value, ", ".join(choices)))
    return _ffi.c_value(ctypes.c_char_p, _ffi.enc(value), where)


def new_provider(**keywords):
    """A new S3 docstore_provider (its address) from S3StorageProvider's
    keyword arguments."""
    schema = _schema()
    with Config({"STORAGE_TYPE": "s3"}) as cfg:
        for keyword, value in keywords.items():
            info = schema.get(keyword)
            if info is None:
                raise TypeError("unknown S3 option %r" % keyword)
            text = _text(keyword, info, value)
            if text is not None:
                cfg.set(_ffi.dec(info.name), text)
        out = ctypes.c_void_p()
        buf = _ffi.errbuf()
        _ffi.check(_ffi.lib().docstore_provider_from_config(
            ctypes.byref(out), cfg._p(), buf, _ffi.ERRBUF_LEN), buf=buf)
        return out.value
