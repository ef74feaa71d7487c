# libdocstore Python binding: the S3 provider's options struct.
# SPDX-License-Identifier: Apache-2.0
"""Everything that knows the layout of docstore_s3_options
(include/docstore/provider.h) lives here and only here: the ctypes mirror,
its version, the two functions that take it, and new_provider(), which
S3StorageProvider calls with its keyword arguments.

When the library builds providers from named settings (one schema per
provider), this module is the one to replace: new_provider() keeps its
signature and the rest of the package does not change.
"""

import ctypes
from ctypes import POINTER, c_char_p, c_int, c_size_t, c_uint, c_uint64

from . import _ffi

#: docstore_s3_options version this mirror was written against.
VERSION = 2


class S3Options(_ffi.CStruct):
    _c_name = "docstore_s3_options"
    _fields_ = [("version", c_uint), ("bucket", c_char_p),
                ("region", c_char_p), ("endpoint_url", c_char_p),
                ("access_key", c_char_p), ("secret_key", c_char_p),
                ("session_token", c_char_p), ("addressing", c_int),
                ("ca_bundle", c_char_p), ("insecure_skip_verify", c_int),
                ("multipart_threshold", c_uint64),
                ("multipart_part_size", c_uint64),
                ("max_attempts", c_uint), ("retry_base_ms", c_uint),
                ("retry_max_ms", c_uint), ("connect_timeout_ms", c_uint),
                ("request_timeout_ms", c_uint), ("stall_timeout_ms", c_uint),
                ("stall_min_bps", c_uint),
                ("multipart_concurrency", c_uint)]  # version 2


#: name: (restype, argtypes), merged into _ffi's declarations.
DECLARATIONS = {
    "docstore_s3_options_init": (c_int, [POINTER(S3Options), c_uint]),
    "docstore_s3_provider_new": (c_int, [_ffi._OUT, POINTER(S3Options),
                                         _ffi._ERRBUF, c_size_t]),
}

#: addressing= values (docstore_s3_addressing).
ADDRESSING = {"auto": 0, "path": 1, "virtual": 2}

#: keyword -> how it becomes the field of the same name
_CONVERT = {
    "bucket": _ffi.enc, "region": _ffi.enc, "endpoint_url": _ffi.enc,
    "access_key": _ffi.enc, "secret_key": _ffi.enc,
    "session_token": _ffi.enc, "ca_bundle": _ffi.enc,
    "insecure_skip_verify": lambda v: 1 if v else 0,
}


def _addressing(value):
    try:
        return ADDRESSING[value]
    except (KeyError, TypeError):
        from .errors import InvalidArgumentError
        raise InvalidArgumentError(
            "docstore_s3_options.addressing: %r is not one of %s"
            % (value, ", ".join(ADDRESSING))) from None


def new_provider(**settings):
    """A new S3 docstore_provider (its address) from keyword settings named
    as the fields of docstore_s3_options (addressing: "auto", "path" or
    "virtual"); numbers go through unchanged (0: the library default)."""
    lib = _ffi.lib()
    o = S3Options()
    _ffi.check(lib.docstore_s3_options_init(ctypes.byref(o), VERSION))
    for name, value in settings.items():
        if name == "addressing":
            value = _addressing(value)
        elif name in _CONVERT:
            value = _CONVERT[name](value)
        elif name not in dict(S3Options._fields_) or name == "version":
            raise TypeError("unknown S3 option %r" % name)
        setattr(o, name, value)
    out = ctypes.c_void_p()
    buf = _ffi.errbuf()
    try:
        _ffi.check(lib.docstore_s3_provider_new(
            ctypes.byref(out), ctypes.byref(o), buf, _ffi.ERRBUF_LEN),
            buf=buf)
    finally:
        o.secret_key = None  # drop our reference to the secret
    return out.value
