# libdocstore Python binding: exceptions.
# SPDX-License-Identifier: Apache-2.0
"""One exception class per library error code, all under DocstoreError.

Each carries `.code` (the negative DOCSTORE_E* value), `.name` (its symbolic
name, "DOCSTORE_ENOTFOUND") and `.message` (the library's detail, e.g.
"get documents/x.json: not found"); str(e) is the message.  The codes are
stable forever (include/docstore/common.h), so they are written out here.
"""


class DocstoreError(Exception):
    """Base class of every error the library reports.  An unknown code (from
    a newer library) is raised as DocstoreError itself."""

    code = None
    name = "DOCSTORE_EUNKNOWN"

    def __init__(self, message=None):
        # One positional argument only: several classes also derive from
        # OSError, whose constructor reads (errno, strerror) from two.
        message = message or self.__doc__
        super().__init__(message)
        self.message = message

    def __str__(self):
        return self.message


def _define(cls_name, code, name, doc, *bases):
    cls = type(cls_name, (DocstoreError,) + bases,
               {"code": code, "name": name, "__doc__": doc,
                "__module__": __name__})
    globals()[cls_name] = cls
    return cls


# (class name, code, symbolic name, description, extra built-in bases)
_TABLE = [
    ("InvalidArgumentError", -1, "DOCSTORE_EINVAL",
     "Invalid argument (NULL, bad id, bad key).", (ValueError,)),
    ("ConfigError", -2, "DOCSTORE_ECONFIG",
     "Invalid or missing configuration value.", ()),
    ("NotFoundError", -3, "DOCSTORE_ENOTFOUND",
     "Object or file does not exist.", (LookupError,)),
    ("AccessDeniedError", -4, "DOCSTORE_EACCESS",
     "Access denied or bad credentials.", (PermissionError,)),
    ("NoSuchBucketError", -5, "DOCSTORE_ENOBUCKET",
     "The bucket does not exist.", ()),
    ("ConnectError", -6, "DOCSTORE_ECONNECT",
     "Cannot connect to the server.", (ConnectionError,)),
    ("TimedOutError", -7, "DOCSTORE_ETIMEOUT",
     "Timed out or stalled.", (TimeoutError,)),
    ("IntegrityError", -8, "DOCSTORE_EINTEGRITY",
     "Tampered data, wrong key or wrong document.", ()),
    ("CryptoError", -9, "DOCSTORE_ECRYPTO",
     "Crypto library failure.", ()),
    ("UnsupportedError", -10, "DOCSTORE_EUNSUPPORTED",
     "Not supported by this provider or version.", ()),
    ("StorageIOError", -11, "DOCSTORE_EIO",
     "Local I/O error.", (OSError,)),
    ("OutOfMemoryError", -12, "DOCSTORE_ENOMEM",
     "Out of memory.", (MemoryError,)),
    ("FormatError", -13, "DOCSTORE_EFORMAT",
     "Malformed input (envelope, JSON, server reply).", ()),
    ("BadKeyError", -14, "DOCSTORE_EKEY",
     "Bad key, or no key with that key id.", ()),
    ("ServerError", -15, "DOCSTORE_ESERVER",
     "Server error not covered by another class.", ()),
    ("BusyError", -16, "DOCSTORE_EBUSY",
     "Resource locked by someone else.", ()),
    ("DatabaseError", -17, "DOCSTORE_EDATABASE",
     "Database error.", ()),
    ("CanceledError", -18, "DOCSTORE_ECANCELED",
     "A callback asked to stop.", ()),
    ("TooBigError", -19, "DOCSTORE_ETOOBIG",
     "Input exceeds a documented limit.", ()),
    ("AlreadyExistsError", -20, "DOCSTORE_EEXISTS",
     "Already exists.", ()),
    ("ObjectChangedError", -21, "DOCSTORE_ECHANGED",
     "The object changed while it was being read; read it again.", ()),
]

#: code -> exception class
ERROR_CLASSES = {code: _define(cls, code, name, doc, *bases)
                 for cls, code, name, doc, bases in _TABLE}


def error_from_code(code, message=None):
    """The exception for a library code (DocstoreError for unknown codes)."""
    cls = ERROR_CLASSES.get(code)
    if cls is None:
        from . import _ffi
        exc = DocstoreError(message or "error %d" % code)
        exc.code = code
        exc.name = _ffi.dec(_ffi.lib().docstore_error_name(code))
        return exc
    return cls(message)


def code_of(exc):
    """The library code to report for a Python exception raised inside a
    callback the library called (custom providers): a DocstoreError's own
    code, NotFound for KeyError/FileNotFoundError, EIO otherwise."""
    if isinstance(exc, DocstoreError) and exc.code is not None:
        return exc.code
    if isinstance(exc, (KeyError, FileNotFoundError)):
        return -3
    if isinstance(exc, MemoryError):
        return -12
    return -11


__all__ = ["DocstoreError", "ERROR_CLASSES", "error_from_code"] + [
    t[0] for t in _TABLE]
