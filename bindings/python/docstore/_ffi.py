# libdocstore Python binding: loading the library and declaring its C API.
# SPDX-License-Identifier: Apache-2.0
"""Low-level ctypes layer.

Everything here mirrors include/docstore/*.h one to one: the versioned
structs, the callback types, and argtypes/restype for every public function.
The rest of the package uses only `lib()` and the helpers at the bottom.

The library is loaded lazily, on first use, from (in this order):

1. the path in the environment variable DOCSTORE_LIBRARY (if it is set and
   cannot be loaded, that is an error: no silent fallback to another copy);
2. a libdocstore shared object in this package's own folder;
3. the system linker path: ctypes.util.find_library("docstore"), then the
   SONAME "libdocstore.so.0".

ctypes.CDLL releases the GIL during every foreign call, so a C call made in a
worker thread does not hold up the event loop or other Python threads.
"""

import ctypes
import ctypes.util
import glob
import json
import os
import threading
import weakref
from ctypes import (CFUNCTYPE, POINTER, Structure, c_char, c_char_p,
                    c_double, c_int, c_int64, c_size_t, c_uint, c_uint64,
                    c_void_p)

from .errors import InvalidArgumentError

#: Major ABI version this binding was written for (DOCSTORE_VERSION_MAJOR).
ABI_MAJOR = 0
#: SONAME of that ABI.
SONAME = "libdocstore.so.%d" % ABI_MAJOR

# ------------------------------------------------------------ argument checks
# ctypes cuts a string at its first NUL (file_id "1\0x" reaches C as "1")
# and wraps an integer modulo 2**bits (2**64 + 5 hours reach C as 5).  So
# every value a Python caller hands to C passes c_value() first: each
# argument of each declared function (CFunction below) and each field set
# in a struct mirror (CStruct).  Nothing else converts arguments.


class Bytes(c_char_p):
    """A `const uint8_t *` / `const char *` buffer that comes with its
    length: NUL bytes are data there, not an end."""


def _is_int(ctype):
    code = getattr(ctype, "_type_", None)
    return (isinstance(code, str) and len(code) == 1 and code in "bBhHiIlLqQ"
            and issubclass(ctype, ctypes._SimpleCData))


def _is_checked(ctype):
    """True for the C types c_value() checks."""
    return ctype is c_char_p or ctype is Bytes or _is_int(ctype)


def _int_range(ctype):
    bits = 8 * ctypes.sizeof(ctype)
    if ctype._type_.islower():  # signed
        return -(1 << (bits - 1)), (1 << (bits - 1)) - 1
    return 0, (1 << bits) - 1


def utf8(text, where):
    """str as UTF-8, or InvalidArgumentError (a lone surrogate)."""
    try:
        return text.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidArgumentError(
            "%s: a string that is not valid Unicode (a lone surrogate) "
            "cannot be passed to C" % where) from None


def c_value(ctype, value, where):
    """`value` as ctypes should receive it for a parameter or field of C
    type `ctype`, or InvalidArgumentError naming `where` (the message never
    repeats a string: it may be a secret).  A C string takes None, str
    (UTF-8) or bytes, without NUL; a buffer with a length (Bytes) takes
    bytes; an integer takes an int (anything with __index__) within the C
    type's range.  Other types pass unchanged."""
    if ctype is c_char_p:
        if value is None:
            return None
        if isinstance(value, str):
            value = utf8(value, where)
        elif not isinstance(value, bytes):
            raise InvalidArgumentError("%s: expected a string, not %s"
                                       % (where, type(value).__name__))
        if b"\0" in value:
            raise InvalidArgumentError(
                "%s: a string with a NUL character (C would end it there)"
                % where)
        return value
    if ctype is Bytes:
        if value is not None and not isinstance(value, bytes):
            raise InvalidArgumentError("%s: expected bytes, not %s"
                                       % (where, type(value).__name__))
        return value
    if _is_int(ctype):
        if isinstance(value, float) or not hasattr(value, "__index__"):
            raise InvalidArgumentError("%s: expected an integer, not %s"
                                       % (where, type(value).__name__))
        number = value.__index__()
        low, high = _int_range(ctype)
        if not low <= number <= high:
            raise InvalidArgumentError(
                "%s: %d is out of range (%d to %d)"
                % (where, number, low, high))
        return number
    return value


class CFunction:
    """A declared function of the library: calls it with every argument
    passed through c_value() first.  `raw` is the ctypes function."""

    __slots__ = ("raw", "name", "_checks")

    def __init__(self, name, raw):
        self.raw = raw
        self.name = name
        self._checks = tuple(
            (i, t) for i, t in enumerate(raw.argtypes) if _is_checked(t))

    def __call__(self, *args):
        if self._checks:
            args = list(args)
            for i, t in self._checks:
                if i < len(args):
                    args[i] = c_value(t, args[i], "%s argument %d"
                                      % (self.name, i + 1))
        return self.raw(*args)


class CStruct(Structure):
    """A mirror of a public C struct (`_c_name`; `_c_renamed` maps a Python
    field name to the C one where C uses a Python keyword).  Every field
    set passes c_value()."""

    _c_name = None
    _c_renamed = {}

    def __setattr__(self, name, value):
        ctype = _field_types(type(self)).get(name)
        if ctype is not None:
            value = c_value(ctype, value, "%s.%s" % (self._c_name, name))
        super().__setattr__(name, value)


_FIELD_TYPES = {}


def _field_types(cls):
    types = _FIELD_TYPES.get(cls)
    if types is None:
        types = {f[0]: f[1] for f in cls._fields_ if _is_checked(f[1])}
        _FIELD_TYPES[cls] = types
    return types


# ------------------------------------------------------------ structs
# Version numbers are those of the headers this binding was written against;
# the library accepts an older version of every struct for ever.

LOCAL_OPTIONS_VERSION = 1
SERVICE_OPTIONS_VERSION = 3
ENVELOPE_INFO_VERSION = 2
SEAL_OPTIONS_VERSION = 1
OP_STATS_VERSION = 1
OBJECT_INFO_VERSION = 1
PROVIDER_OPS_VERSION = 1
MIGRATE_OPTIONS_VERSION = 2
MIGRATE_PROGRESS_VERSION = 1
MIGRATE_COUNTS_VERSION = 1
MIGRATE_ERROR_VERSION = 1
WRITE_OPTIONS_VERSION = 1
READ_OPTIONS_VERSION = 1


class DocId(CStruct):
    _c_name = "docstore_doc_id"
    _fields_ = [("file_id", c_char_p), ("user_id", c_char_p)]


class EnvelopeInfo(CStruct):
    _c_name = "docstore_envelope_info"
    # The strings are owned by the struct (docstore_envelope_info_clear()):
    # c_void_p so that ctypes does not try to manage them.
    _fields_ = [("version", c_uint), ("format", c_int), ("key_id", c_void_p),
                ("file_id", c_void_p), ("user_id", c_void_p),
                ("plaintext_size", c_uint64),
                # version 2 (0.3.0)
                ("segment_size", c_uint), ("compressed", c_int),
                ("recipients_count", c_uint)]


class SealOptions(CStruct):
    """docstore_seal_options (streaming sealer, envelope v2)."""
    _c_name = "docstore_seal_options"
    _fields_ = [("version", c_uint), ("format", c_int),
                ("doc", POINTER(DocId)), ("recipients", POINTER(c_char_p)),
                ("recipients_count", c_size_t), ("segment_size", c_uint),
                ("compression_level", c_int)]


class SettingInfo(CStruct):
    """One setting of the schema (docstore_config_setting_at()); static in
    the library, read only."""
    _c_name = "docstore_setting_info"
    _fields_ = [("version", c_uint), ("name", c_char_p),
                ("provider", c_char_p), ("type", c_int), ("flags", c_uint),
                ("default_value", c_char_p), ("min", c_uint64),
                ("max", c_uint64), ("choices", c_char_p),
                ("field", c_char_p), ("description", c_char_p)]


#: docstore_setting_type values.
SETTING_CHOICE, SETTING_BOOL, SETTING_UINT, SETTING_SIZE = 1, 2, 3, 4


class LocalOptions(CStruct):
    _c_name = "docstore_local_options"
    _fields_ = [("version", c_uint), ("root", c_char_p), ("fsync", c_int)]


class ServiceOptions(CStruct):
    _c_name = "docstore_service_options"
    _fields_ = [("version", c_uint), ("legacy_root", c_char_p),
                ("validate_envelopes", c_int),
                ("legacy_allow_outside_root", c_int),  # version 2 (unused)
                # version 3
                ("envelope_version", c_uint), ("compression_level", c_int),
                ("segment_size", c_uint)]


class OpStats(CStruct):
    _c_name = "docstore_op_stats"
    _fields_ = [("version", c_uint), ("successes", c_uint64),
                ("failures", c_uint64), ("bytes", c_uint64),
                ("total_latency_us", c_uint64), ("avg_latency_us", c_uint64),
                ("retries", c_uint64)]


class ObjectInfo(CStruct):
    _c_name = "docstore_object_info"
    _fields_ = [("version", c_uint), ("key", c_char_p), ("size", c_uint64),
                ("mtime", c_int64), ("etag", c_char_p)]


class TempInfo(CStruct):
    _c_name = "docstore_temp_info"
    _fields_ = [("version", c_uint), ("path", c_char_p), ("size", c_uint64),
                ("mtime", c_int64), ("state", c_int)]


class UploadInfo(CStruct):
    _c_name = "docstore_upload_info"
    _fields_ = [("version", c_uint), ("key", c_char_p),
                ("upload_id", c_char_p), ("initiated", c_int64),
                ("state", c_int)]


# Callback types.  Byte pointers coming from C are c_void_p (read with
# ctypes.string_at); byte pointers going to C are c_char_p (Python bytes).
LOG_CB = CFUNCTYPE(None, c_void_p, c_int, c_char_p)
LIST_CB = CFUNCTYPE(c_int, c_void_p, POINTER(ObjectInfo))
SINK_CB = CFUNCTYPE(c_int, c_void_p, c_char_p, c_size_t)
TEMP_CB = CFUNCTYPE(c_int, c_void_p, POINTER(TempInfo))
UPLOAD_CB = CFUNCTYPE(c_int, c_void_p, POINTER(UploadInfo))

OP_PUT = CFUNCTYPE(c_int, c_void_p, c_char_p, c_void_p, c_size_t, c_void_p)
OP_GET = CFUNCTYPE(c_int, c_void_p, c_char_p, SINK_CB, c_void_p, c_void_p)
OP_HEAD = CFUNCTYPE(c_int, c_void_p, c_char_p, POINTER(ObjectInfo), c_void_p)
OP_DEL = CFUNCTYPE(c_int, c_void_p, c_char_p, c_void_p)
OP_LIST = CFUNCTYPE(c_int, c_void_p, c_char_p, LIST_CB, c_void_p, c_void_p)
OP_PRESIGN = CFUNCTYPE(c_int, c_void_p, c_char_p, c_int, c_uint64, SINK_CB,
                       c_void_p, c_void_p)
OP_CHECK = CFUNCTYPE(c_int, c_void_p, SINK_CB, c_void_p, c_void_p)
OP_GET_RANGE = CFUNCTYPE(c_int, c_void_p, c_char_p, c_uint64, c_uint64,
                         SINK_CB, c_void_p, c_void_p)
OP_FREE = CFUNCTYPE(None, c_void_p)


class ProviderOps(CStruct):
    _c_name = "docstore_provider_ops"
    _c_renamed = {"del_": "del"}
    _fields_ = [("version", c_uint), ("name", c_char_p), ("put", OP_PUT),
                ("get", OP_GET), ("head", OP_HEAD), ("del_", OP_DEL),
                ("list", OP_LIST), ("presign", OP_PRESIGN),
                ("check", OP_CHECK), ("get_range", OP_GET_RANGE),
                ("free", OP_FREE),
                # Version 2 streaming operations: Python providers do not
                # implement them (they are registered with version 1 and
                # stream through the library's buffering adapter).
                ("put_begin", c_void_p), ("put_write", c_void_p),
                ("put_commit", c_void_p), ("put_abort", c_void_p),
                ("get_open", c_void_p), ("get_read", c_void_p),
                ("get_close", c_void_p)]


class PutOptions(CStruct):
    """What a version 2 provider's put_begin receives (not used from
    Python; mirrored for the layout check)."""
    _c_name = "docstore_put_options"
    _fields_ = [("version", c_uint), ("flags", c_uint),
                ("content_type", c_char_p), ("size_hint", c_uint64)]


# docstore_progress_cb: (payload, done, total); total UINT64_MAX when
# unknown; a non-zero return cancels the operation.
PROGRESS_CB = CFUNCTYPE(c_int, c_void_p, c_uint64, c_uint64)
#: "unknown" for sizes and totals (UINT64_MAX).
UNKNOWN_SIZE = (1 << 64) - 1


class WriteOptions(CStruct):
    _c_name = "docstore_write_options"
    _fields_ = [("version", c_uint), ("progress", PROGRESS_CB),
                ("progress_payload", c_void_p), ("no_clobber", c_int),
                ("content_type", c_char_p), ("size_hint", c_uint64),
                ("envelope_version", c_int), ("compression_level", c_int),
                ("recipients", POINTER(c_char_p)),
                ("recipients_count", c_size_t)]


class ReadOptions(CStruct):
    _c_name = "docstore_read_options"
    _fields_ = [("version", c_uint), ("progress", PROGRESS_CB),
                ("progress_payload", c_void_p), ("offset", c_uint64),
                ("length", c_uint64)]


class MigrateProgress(CStruct):
    _c_name = "docstore_migrate_progress"
    _fields_ = [("version", c_uint), ("phase", c_int), ("total", c_uint64),
                ("done", c_uint64), ("successful", c_uint64),
                ("failed", c_uint64), ("skipped", c_uint64),
                ("bytes", c_uint64), ("elapsed_seconds", c_double),
                ("files_per_second", c_double), ("eta_seconds", c_double),
                ("last_error", c_char_p)]


MIGRATE_PROGRESS_CB = CFUNCTYPE(c_int, c_void_p, POINTER(MigrateProgress))


class MigrateOptions(CStruct):
    _c_name = "docstore_migrate_options"
    _fields_ = [("version", c_uint), ("source", c_void_p),
                ("source_type", c_char_p), ("target", c_void_p),
                ("target_type", c_char_p), ("legacy_root", c_char_p),
                ("keyring", c_void_p), ("database_url", c_char_p),
                ("schema", c_char_p), ("table_attachment", c_char_p),
                ("table_staging", c_char_p), ("tables", c_uint),
                ("col_id", c_char_p), ("col_filename", c_char_p),
                ("col_filepath", c_char_p), ("col_user_id", c_char_p),
                ("col_created", c_char_p), ("col_storage_path", c_char_p),
                ("col_storage_type", c_char_p), ("batch_size", c_uint),
                ("jobs", c_uint), ("dry_run", c_int),
                ("delete_source", c_int), ("verify_type", c_char_p),
                ("max_consecutive_failures", c_uint),
                ("max_errors", c_uint), ("progress", MIGRATE_PROGRESS_CB),
                ("progress_payload", c_void_p),
                ("progress_interval_ms", c_uint),
                # version 2 (0.4.0)
                ("lease_seconds", c_uint), ("worker_name", c_char_p),
                ("write_proof", c_int), ("allow_outside_root", c_int)]


class MigrateCounts(CStruct):
    _c_name = "docstore_migrate_counts"
    _fields_ = [("version", c_uint), ("mode", c_int), ("dry_run", c_int),
                ("total", c_uint64), ("successful", c_uint64),
                ("failed", c_uint64), ("skipped", c_uint64),
                ("recovered", c_uint64), ("not_attempted", c_uint64),
                ("source_deleted", c_uint64), ("bytes", c_uint64),
                ("elapsed_seconds", c_double), ("stop_code", c_int)]


class MigrateError(CStruct):
    _c_name = "docstore_migrate_error"
    _fields_ = [("version", c_uint), ("code", c_int), ("table", c_char_p),
                ("row_id", c_char_p), ("message", c_char_p)]


# ------------------------------------------------------------ functions

_P = c_void_p              # any opaque handle
_OUT = POINTER(c_void_p)   # char ** / uint8_t ** / handle ** out-parameter
_LEN = POINTER(c_size_t)
_ERRBUF = POINTER(c_char)  # caller's error buffer (create_string_buffer)
_S = c_char_p             # a NUL-terminated string
_BUF = Bytes               # bytes whose length is the next argument
# The address of a caller's buffer (streaming calls: bytes, or the address
# of a bytearray/memoryview, with its length as the next argument): no copy.
_ADDR = c_void_p
_U64 = POINTER(c_uint64)

# name: (restype, argtypes).  Every function of include/docstore/*.h.
_CORE = {
    # common.h
    "docstore_version": (_S, []),
    "docstore_version_number": (c_int, []),
    "docstore_strerror": (_S, [c_int]),
    "docstore_error_name": (_S, [c_int]),
    "docstore_last_errmsg": (_S, []),
    "docstore_last_errcode": (c_int, []),
    "docstore_free": (None, [c_void_p]),
    "docstore_malloc": (c_void_p, [c_size_t]),
    "docstore_set_log_callback": (None, [LOG_CB, c_void_p, c_int]),
    "docstore_set_log_level": (None, [c_int]),
    # crypto.h
    "docstore_keyring_new": (c_int, [_OUT, _ERRBUF, c_size_t]),
    "docstore_keyring_free": (None, [_P]),
    "docstore_keyring_add_public_pem": (c_int, [_P, _OUT, _BUF, c_size_t]),
    "docstore_keyring_add_public_file": (c_int, [_P, _OUT, _S]),
    "docstore_keyring_add_private_pem": (c_int,
                                         [_P, _OUT, _BUF, c_size_t, _S]),
    "docstore_keyring_add_private_file": (c_int, [_P, _OUT, _S, _S]),
    "docstore_keyring_set_default": (c_int, [_P, _S]),
    "docstore_keyring_count": (None, [_P, _LEN, _LEN]),
    "docstore_keyring_errmsg": (_S, [_P]),
    "docstore_keygen": (c_int, [_OUT, _OUT, c_uint, _S]),
    "docstore_envelope_seal": (c_int, [_OUT, _LEN, _P, _BUF, c_size_t,
                                       POINTER(DocId)]),
    "docstore_envelope_open": (c_int, [_OUT, _LEN, _P, _BUF, c_size_t,
                                       POINTER(DocId)]),
    "docstore_envelope_rewrap": (c_int, [_OUT, _LEN, _P, _BUF, c_size_t, _S]),
    "docstore_envelope_info_init": (c_int, [POINTER(EnvelopeInfo), c_uint]),
    "docstore_envelope_info_get": (c_int, [POINTER(EnvelopeInfo), _BUF,
                                           c_size_t]),
    "docstore_envelope_info_clear": (None, [POINTER(EnvelopeInfo)]),
    # crypto.h: v2 streams (0.3.0)
    "docstore_seal_options_init": (c_int, [POINTER(SealOptions), c_uint]),
    "docstore_sealer_new": (c_int, [_OUT, _P, POINTER(SealOptions)]),
    "docstore_sealer_update": (c_int, [_P, _ADDR, c_size_t, _LEN, _ADDR,
                                       c_size_t, _LEN]),
    "docstore_sealer_finish": (c_int, [_P, _ADDR, c_size_t, _LEN]),
    "docstore_sealer_errmsg": (_S, [_P]),
    "docstore_sealer_free": (None, [_P]),
    "docstore_opener_new": (c_int, [_OUT, _P, POINTER(DocId)]),
    "docstore_opener_update": (c_int, [_P, _ADDR, c_size_t, _LEN, _ADDR,
                                       c_size_t, _LEN]),
    "docstore_opener_finish": (c_int, [_P, _ADDR, c_size_t, _LEN]),
    "docstore_opener_info": (c_int, [_P, POINTER(EnvelopeInfo)]),
    "docstore_opener_errmsg": (_S, [_P]),
    "docstore_opener_free": (None, [_P]),
    "docstore_envelope_header_size": (c_int, [_LEN, _BUF, c_size_t]),
    "docstore_envelope_rewrap_header": (c_int, [
        _OUT, _LEN, _LEN, _P, _BUF, c_size_t, POINTER(c_char_p), c_size_t,
        POINTER(c_char_p), c_size_t]),
    # sys/provider.h
    "docstore_errinfo_set": (c_int, [c_void_p, c_int, _S]),
    "docstore_provider_new": (c_int, [_OUT, POINTER(ProviderOps), c_void_p]),
    "docstore_provider_ops_init": (c_int, [POINTER(ProviderOps), c_uint]),
    "docstore_provider_free": (None, [_P]),
    "docstore_provider_name": (_S, [_P]),
    "docstore_key_check": (c_int, [_S]),
    # provider.h
    "docstore_local_options_init": (c_int, [POINTER(LocalOptions), c_uint]),
    "docstore_local_provider_new": (c_int, [_OUT, POINTER(LocalOptions),
                                            _ERRBUF, c_size_t]),
    "docstore_local_temporaries": (c_int, [_S, c_uint, c_uint64, TEMP_CB,
                                           c_void_p, _ERRBUF, c_size_t]),
    "docstore_s3_incomplete_uploads": (c_int, [_P, _S, c_uint, c_uint64,
                                               UPLOAD_CB, c_void_p]),
    "docstore_provider_put": (c_int, [_P, _S, _BUF, c_size_t]),
    "docstore_provider_get": (c_int, [_P, _OUT, _LEN, _S]),
    "docstore_provider_head": (c_int, [_P, POINTER(ObjectInfo), _S]),
    "docstore_provider_delete": (c_int, [_P, _S]),
    "docstore_provider_list": (c_int, [_P, _S, LIST_CB, c_void_p]),
    "docstore_provider_presign": (c_int, [_P, _OUT, _S, c_int, c_uint64]),
    "docstore_provider_check": (c_int, [_P, _OUT]),
    "docstore_provider_errmsg": (_S, [_P]),
    # config.h
    "docstore_config_new": (c_int, [_OUT]),
    "docstore_config_free": (None, [_P]),
    "docstore_config_set": (c_int, [_P, _S, _S]),
    "docstore_config_get": (_S, [_P, _S]),
    "docstore_config_load_env": (c_int, [_P]),
    "docstore_config_load_dotenv": (c_int, [_P, _S]),
    "docstore_config_validate": (c_int, [_P]),
    "docstore_config_dump": (c_int, [_P, _OUT]),
    "docstore_config_errmsg": (_S, [_P]),
    "docstore_config_name_at": (_S, [c_size_t]),
    "docstore_config_setting_at": (POINTER(SettingInfo), [c_size_t]),
    "docstore_config_setting_find": (POINTER(SettingInfo), [_S]),
    "docstore_provider_from_config": (c_int, [_OUT, _P, _ERRBUF, c_size_t]),
    # service.h
    "docstore_service_options_init": (c_int, [POINTER(ServiceOptions),
                                              c_uint]),
    "docstore_service_new": (c_int, [_OUT, _P, _P, POINTER(ServiceOptions),
                                     _ERRBUF, c_size_t]),
    "docstore_service_from_config": (c_int, [_OUT, _P, _ERRBUF, c_size_t]),
    "docstore_service_free": (None, [_P]),
    "docstore_service_errmsg": (_S, [_P]),
    "docstore_service_storage_type": (_S, [_P]),
    "docstore_service_keyring": (c_void_p, [_P]),
    "docstore_service_provider": (c_void_p, [_P]),
    "docstore_storage_path": (c_int, [_OUT, _S, _S, _S, c_int64]),
    "docstore_service_store_encrypted": (c_int, [_P, _OUT, _S, _S, _BUF,
                                                 c_size_t, _S]),
    "docstore_service_retrieve_encrypted": (c_int, [_P, _OUT, _LEN, _S]),
    "docstore_service_retrieve_fallback": (c_int, [_P, _OUT, _LEN, _S, _S]),
    "docstore_service_delete": (c_int, [_P, _S]),
    "docstore_service_exists": (c_int, [_P, POINTER(c_int), POINTER(c_uint64),
                                        _S]),
    "docstore_service_presign": (c_int, [_P, _OUT, _S, c_uint64]),
    "docstore_service_store_document": (c_int, [_P, _OUT, _S, _S, _BUF,
                                                c_size_t, _S]),
    "docstore_service_read_document": (c_int, [_P, _OUT, _LEN, _S,
                                               POINTER(DocId)]),
    "docstore_service_list": (c_int, [_P, _S, LIST_CB, c_void_p]),
    "docstore_service_check": (c_int, [_P, _OUT]),
    "docstore_op_name": (_S, [c_int]),
    "docstore_service_stats": (c_int, [_P, POINTER(OpStats), c_int]),
    "docstore_service_stats_json": (c_int, [_P, _OUT]),
    "docstore_service_stats_reset": (None, [_P]),
    # service.h: streaming (0.3.0)
    "docstore_write_options_init": (c_int, [POINTER(WriteOptions), c_uint]),
    "docstore_writer_begin": (c_int, [_OUT, _P, _S, _S, _S,
                                      POINTER(WriteOptions)]),
    "docstore_writer_write": (c_int, [_P, _ADDR, c_size_t]),
    "docstore_writer_commit": (c_int, [_P, _OUT]),
    "docstore_writer_abort": (c_int, [_P]),
    "docstore_writer_cancel": (None, [_P]),
    "docstore_writer_stats": (None, [_P, _U64, _U64]),
    "docstore_writer_errmsg": (_S, [_P]),
    "docstore_writer_free": (None, [_P]),
    "docstore_read_options_init": (c_int, [POINTER(ReadOptions), c_uint]),
    "docstore_reader_open": (c_int, [_OUT, _P, _S, POINTER(DocId),
                                     POINTER(ReadOptions)]),
    "docstore_reader_read": (c_int, [_P, _ADDR, c_size_t, _LEN]),
    "docstore_reader_size": (c_int, [_P, _U64]),
    "docstore_reader_cancel": (None, [_P]),
    "docstore_reader_stats": (None, [_P, _U64, _U64]),
    "docstore_reader_errmsg": (_S, [_P]),
    "docstore_reader_close": (None, [_P]),
    "docstore_default_init": (c_int, [_P, _ERRBUF, c_size_t]),
    "docstore_default_get": (c_void_p, []),
    "docstore_default_shutdown": (None, []),
}

# migrate.h: optional (a library built without the migration engine still
# serves everything else; docstore.migrate says so when it is missing).
_MIGRATE = {
    "docstore_migrate_options_init": (c_int, [POINTER(MigrateOptions),
                                              c_uint]),
    "docstore_migrate_options_load_env": (c_int, [POINTER(MigrateOptions)]),
    "docstore_migrate_options_from_config": (c_int, [POINTER(MigrateOptions),
                                                     _P]),
    "docstore_migrate_report_counts": (c_int, [_P, POINTER(MigrateCounts)]),
    "docstore_migrate_report_error_count": (c_size_t, [_P]),
    "docstore_migrate_report_error_at": (c_int, [_P, POINTER(MigrateError),
                                                 c_size_t]),
    "docstore_migrate_report_text": (c_int, [_P, _OUT]),
    "docstore_migrate_report_json": (c_int, [_P, _OUT]),
    "docstore_migrate_report_free": (None, [_P]),
    "docstore_migrate_run": (c_int, [_OUT, POINTER(MigrateOptions), _ERRBUF,
                                     c_size_t]),
    "docstore_migrate_verify": (c_int, [_OUT, POINTER(MigrateOptions),
                                        _ERRBUF, c_size_t]),
    "docstore_migrate_schema_sql": (c_int, [_OUT, POINTER(MigrateOptions)]),
    "docstore_migrate_schema_apply": (c_int, [POINTER(MigrateOptions),
                                              _ERRBUF, c_size_t]),
}


# ------------------------------------------------------------ loading

class LibraryNotFoundError(OSError):
    """libdocstore could not be loaded; `.tried` lists every attempt."""

    def __init__(self, tried):
        self.tried = list(tried)
        lines = "\n".join("  - " + t for t in self.tried)
        super().__init__(
            "cannot load libdocstore; tried:\n%s\nSet DOCSTORE_LIBRARY to the "
            "path of libdocstore.so, or install the library." % lines)


_lib = None
_lib_lock = threading.Lock()
_has_migrate = False
# DOCSTORE_LIBRARY as a path relative to the directory the program started
# in, even if it changes directory before the lazy load.
_ENV_LIBRARY = os.environ.get("DOCSTORE_LIBRARY")
if _ENV_LIBRARY and os.sep in _ENV_LIBRARY:
    _ENV_LIBRARY = os.path.abspath(_ENV_LIBRARY)


#: Public functions this binding does not declare, and why.
NOT_DECLARED = {
    "docstore_s3_options_init": "S3 providers are built from settings "
                                "(docstore_provider_from_config)",
    "docstore_s3_provider_new": "S3 providers are built from settings "
                                "(docstore_provider_from_config)",
}


def _package_candidates():
    here = os.path.dirname(os.path.abspath(__file__))
    names = []
    for pattern in ("libdocstore.so", "libdocstore.so.*", "libdocstore.dylib",
                    "libdocstore*.dylib", "docstore.dll", "libdocstore.dll"):
        names.extend(sorted(glob.glob(os.path.join(here, pattern))))
    return here, names


def _bind(cdll, name, restype, argtypes):
    """Declare one function and put its CFunction (checked arguments) in
    its place on the CDLL."""
    fn = getattr(cdll, name)  # AttributeError: library too old / broken
    fn.restype = restype
    fn.argtypes = argtypes
    setattr(cdll, name, CFunction(name, fn))


def _declare(cdll):
    global _has_migrate
    for name, (restype, argtypes) in _CORE.items():
        _bind(cdll, name, restype, argtypes)
    present = 0
    for name, (restype, argtypes) in _MIGRATE.items():
        if hasattr(cdll, name):
            _bind(cdll, name, restype, argtypes)
            present += 1
    _has_migrate = present == len(_MIGRATE)


def _try_load(path, tried, label):
    try:
        cdll = ctypes.CDLL(path)
    except OSError as e:
        tried.append("%s: %s" % (label, e))
        return None
    try:
        _declare(cdll)
    except AttributeError as e:
        tried.append("%s: loaded, but it lacks a function (%s)" % (label, e))
        return None
    major = cdll.docstore_version_number() // 10000
    if major != ABI_MAJOR:
        tried.append("%s: version %s, this binding needs %d.x" % (
            label, cdll.docstore_version().decode(), ABI_MAJOR))
        return None
    return cdll


def load_library(path=None):
    """Load libdocstore now (optionally from an explicit path) and return the
    ctypes.CDLL.  Later calls return the library already loaded."""
    global _lib
    with _lib_lock:
        if _lib is not None:
            return _lib
        tried = []
        explicit = path or _ENV_LIBRARY
        if explicit:
            label = ("path %s" % explicit if path
                     else "DOCSTORE_LIBRARY=%s" % explicit)
            cdll = _try_load(explicit, tried, label)
            if cdll is None:
                raise LibraryNotFoundError(tried)
            _lib = cdll
            return _lib
        tried.append("DOCSTORE_LIBRARY: not set")
        here, names = _package_candidates()
        if not names:
            tried.append("package folder %s: no libdocstore there" % here)
        for n in names:
            cdll = _try_load(n, tried, "package folder: %s" % n)
            if cdll is not None:
                _lib = cdll
                return _lib
        found = ctypes.util.find_library("docstore")
        if found:
            cdll = _try_load(found, tried, "find_library('docstore') -> %s"
                             % found)
            if cdll is not None:
                _lib = cdll
                return _lib
        else:
            tried.append("find_library('docstore'): nothing found")
        cdll = _try_load(SONAME, tried, "system linker path: %s" % SONAME)
        if cdll is None:
            raise LibraryNotFoundError(tried)
        _lib = cdll
        return _lib


def lib():
    """The loaded library (loading it on first use)."""
    if _lib is not None:
        return _lib
    return load_library()


def has_migrate():
    """True when the loaded library has the migration engine (migrate.h)."""
    lib()
    return _has_migrate


# ------------------------------------------------------------ helpers

def enc(value):
    """A Python value for a C string parameter or field: None, str and
    bytes as they are (c_value() checks and encodes them when they reach
    C), anything else (ints: the seed passes file_id=123) through str()."""
    if value is None or isinstance(value, (str, bytes)):
        return value
    return str(value)


def as_bytes(data, where="data"):
    """Input bytes for a (pointer, length) pair: a bytes-like object, or a
    str as UTF-8."""
    if isinstance(data, bytes):
        return data
    if isinstance(data, str):
        return utf8(data, where)
    try:
        return bytes(memoryview(data))  # bytearray, memoryview, array...
    except TypeError:
        raise InvalidArgumentError("%s: expected bytes or str, not %s"
                                   % (where, type(data).__name__)) from None


def _byte_view(data, where):
    mv = memoryview(data)
    if not mv.c_contiguous:
        raise InvalidArgumentError("%s: a buffer that is not contiguous"
                                   % where)
    return mv if mv.format == "B" and mv.ndim == 1 else mv.cast("B")


def in_buffer(data, where="data"):
    """(pointer, length, keepalive) of input bytes for a streaming call's
    `const uint8_t *` + length, without a copy: bytes as they are, a
    writable buffer (bytearray, memoryview, array, mmap) by address.  A
    read-only buffer that is not bytes (a memoryview of bytes) is copied
    once; str is taken as UTF-8.  Keep `keepalive` referenced until the
    call returns."""
    if isinstance(data, bytes):
        return data, len(data), data
    if isinstance(data, str):
        data = utf8(data, where)
        return data, len(data), data
    try:
        mv = _byte_view(data, where)
    except TypeError:
        raise InvalidArgumentError("%s: expected a bytes-like object, not %s"
                                   % (where, type(data).__name__)) from None
    if mv.readonly:
        data = mv.tobytes()
        return data, len(data), data
    arr = (c_char * len(mv)).from_buffer(mv)
    return ctypes.addressof(arr), len(mv), arr


def out_buffer(buf, where="buffer"):
    """(address, length, keepalive) of a caller's writable buffer (what
    readinto() receives), for the library to write into directly."""
    try:
        mv = _byte_view(buf, where)
    except TypeError:
        raise InvalidArgumentError("%s: expected a writable bytes-like "
                                   "object, not %s"
                                   % (where, type(buf).__name__)) from None
    if mv.readonly:
        raise InvalidArgumentError("%s: the buffer is read-only" % where)
    arr = (c_char * len(mv)).from_buffer(mv)
    return ctypes.addressof(arr), len(mv), arr


def envelope_bytes(envelope):
    """An envelope as the backend holds it (a dict), or its JSON text."""
    if isinstance(envelope, dict):
        return json.dumps(envelope, separators=(",", ":")).encode()
    return as_bytes(envelope)


def dec(ptr):
    """A borrowed C string (restype c_char_p gives bytes) as str."""
    return None if ptr is None else ptr.decode("utf-8", "replace")


def take_bytes(ptr, length):
    """Copy a library-owned buffer into bytes and free it (docstore_free
    wipes it).  ptr is a c_void_p (or its value)."""
    p = ptr.value if isinstance(ptr, c_void_p) else ptr
    if not p:
        return b""
    try:
        return ctypes.string_at(p, length)
    finally:
        _lib.docstore_free(p)


def take_str(ptr, length=None):
    """Copy a library-owned NUL-terminated string into str and free it.
    None for NULL."""
    p = ptr.value if isinstance(ptr, c_void_p) else ptr
    if not p:
        return None
    try:
        raw = (ctypes.string_at(p) if length is None
               else ctypes.string_at(p, length))
    finally:
        _lib.docstore_free(p)
    return raw.decode("utf-8", "replace")


ERRBUF_LEN = 512


def errbuf():
    return ctypes.create_string_buffer(ERRBUF_LEN)


def error_message(rc, handle_errmsg=None, handle=None, buf=None):
    """The library's message for a failure `rc` that just happened on this
    thread.  Must be called on the thread that made the call (bindings run
    each call and this together in one worker-thread function).

    Order: the caller's errbuf (constructors); the thread's own last error
    when its code is rc (cannot be overwritten by another thread sharing the
    handle); the handle's last error."""
    if buf is not None and buf.value:
        return buf.value.decode("utf-8", "replace")
    if _lib.docstore_last_errcode() == rc:
        msg = _lib.docstore_last_errmsg()
        if msg:
            return msg.decode("utf-8", "replace")
    if handle_errmsg is not None and handle:
        msg = handle_errmsg(handle)
        if msg:
            return msg.decode("utf-8", "replace")
    return _lib.docstore_strerror(rc).decode()


def check(rc, handle_errmsg=None, handle=None, buf=None):
    """Raise the DocstoreError subclass for rc < 0; return rc otherwise."""
    if rc >= 0:
        return rc
    from .errors import error_from_code
    raise error_from_code(rc, error_message(rc, handle_errmsg, handle, buf))


def _free_handle(free_name, ptr, keep=None):
    getattr(_lib, free_name)(ptr)


class Handle:
    """Owner of one C handle.  Frees it exactly once: on close(), when the
    Handle is garbage collected, or at interpreter exit (weakref.finalize),
    unless release() handed the ownership to the library.  `keep` (ctypes
    callbacks the handle calls, the service it belongs to) stays alive
    until the handle is freed."""

    __slots__ = ("ptr", "_fin", "__weakref__")

    def __init__(self, ptr, free_name, keep=None):
        self.ptr = ptr
        self._fin = weakref.finalize(self, _free_handle, free_name, ptr, keep)

    def release(self):
        """The library took the handle over (docstore_service_new)."""
        self._fin.detach()
        ptr, self.ptr = self.ptr, None
        return ptr

    def close(self):
        self._fin()
        self.ptr = None

    def alive(self):
        return self.ptr is not None


class Wrapper:
    """Base of the Python objects over a C handle: `_ptr` is the handle,
    `_h` the Handle that owns it (its own, or the service's that took it
    over)."""

    _what = "handle"      # for the "... is closed" message
    _errmsg = None        # name of the handle's errmsg function

    @classmethod
    def _borrowed(cls, ptr, owner):
        """An object over `ptr`, which `owner` (a Handle) keeps alive."""
        obj = cls.__new__(cls)
        obj._ptr = ptr
        obj._h = owner
        return obj

    def _own(self, ptr, free_name, keep=None):
        self._ptr = ptr
        self._h = Handle(ptr, free_name, keep)

    def _owned(self):
        return self._h.ptr is not None and self._h.ptr == self._ptr

    def _p(self):
        if not self._h.alive():
            raise ValueError("%s is closed" % self._what)
        return self._ptr

    def _check(self, rc):
        return check(rc, getattr(_lib, self._errmsg), self._p())

