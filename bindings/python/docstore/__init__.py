# libdocstore Python binding.
# SPDX-License-Identifier: Apache-2.0
"""Encrypted document storage (libdocstore) for Python, over ctypes.

The seed's module is docstore.object_storage_service; this package also
exposes keys and envelopes (docstore.crypto), configuration
(docstore.config), raw providers (docstore.providers) and the migration
engine (docstore.migrate).  docs/BINDINGS.md explains how the library is
found, how errors, memory and threads are handled.
"""

import atexit as _atexit
import logging as _logging
import threading as _threading

from . import _ffi
from ._ffi import LibraryNotFoundError, load_library
from .config import Config
from .crypto import EnvelopeInfo, Keyring, envelope_info, generate_key_pair
from .errors import *  # noqa: F401,F403 - one class per error code
from .errors import ERROR_CLASSES, DocstoreError, error_from_code
from .object_storage_service import (ObjectStorageFactory,
                                     get_storage_service,
                                     init_storage_service)
from .providers import (CustomProvider, LocalStorageProvider, ObjectInfo,
                        S3StorageProvider, StorageProvider)
from .service import ObjectStorageService, storage_path
from .streams import DocumentReader, DocumentWriter

__version__ = "0.4.0"

__all__ = [
    "load_library", "LibraryNotFoundError", "library_version", "key_check",
    "Config", "Keyring", "EnvelopeInfo", "envelope_info", "generate_key_pair",
    "ObjectStorageService", "ObjectStorageFactory", "init_storage_service",
    "get_storage_service", "storage_path", "DocumentReader",
    "DocumentWriter", "StorageProvider",
    "LocalStorageProvider", "S3StorageProvider", "CustomProvider",
    "ObjectInfo", "DocstoreError", "ERROR_CLASSES", "error_from_code",
    "set_log_callback", "use_python_logging", "set_log_level",
    "LOG_ERROR", "LOG_WARN", "LOG_INFO", "LOG_DEBUG",
] + [cls.__name__ for cls in ERROR_CLASSES.values()]

LOG_ERROR, LOG_WARN, LOG_INFO, LOG_DEBUG = 0, 1, 2, 3
_PY_LEVELS = {LOG_ERROR: _logging.ERROR, LOG_WARN: _logging.WARNING,
              LOG_INFO: _logging.INFO, LOG_DEBUG: _logging.DEBUG}


def library_version():
    """Version of the libdocstore actually loaded ("0.3.0")."""
    return _ffi.dec(_ffi.lib().docstore_version())


def key_check(key):
    """Raise InvalidArgumentError unless key is a safe object key."""
    _ffi.check(_ffi.lib().docstore_key_check(_ffi.enc(key)))


_log_lock = _threading.Lock()
# Every ctypes callback ever set: the library may still be running an old
# one in another thread just after it is replaced, so none is ever freed.
_log_cbs = []


def set_log_callback(fn, max_level=LOG_INFO):
    """Send the library's log lines to fn(level, message) (level: LOG_*).
    fn may be called from any thread, concurrently.  None restores the
    default (stderr, warnings and errors)."""
    lib = _ffi.lib()
    with _log_lock:
        if fn is None:
            lib.docstore_set_log_callback(_ffi.LOG_CB(), None, LOG_WARN)
            return
        if not _log_cbs:
            # Before the interpreter tears down: back to the default sink.
            _atexit.register(set_log_callback, None)

        def relay(payload, level, message):
            try:
                fn(level, message.decode("utf-8", "replace"))
            except Exception:  # noqa: BLE001 - never raise into C
                pass
        cb = _ffi.LOG_CB(relay)
        _log_cbs.append(cb)
        lib.docstore_set_log_callback(cb, None, max_level)


def use_python_logging(logger="docstore", max_level=LOG_INFO):
    """Send the library's log lines to the `logging` logger (name or
    Logger), with the matching levels."""
    if isinstance(logger, str):
        logger = _logging.getLogger(logger)
    set_log_callback(lambda lvl, msg: logger.log(_PY_LEVELS.get(
        lvl, _logging.DEBUG), msg), max_level)


def set_log_level(max_level):
    _ffi.lib().docstore_set_log_level(max_level)
