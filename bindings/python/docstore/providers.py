# libdocstore Python binding: storage providers (include/docstore/provider.h
# and include/docstore/sys/provider.h).
# SPDX-License-Identifier: Apache-2.0
"""Storage providers move opaque bytes under string keys.

StorageProvider wraps a docstore_provider.  Blocking methods (put, get,
head, exists, delete, list, presign, check) call the library directly; the
seed's awaitable methods (upload_file, download_file, delete_file,
file_exists, get_file_size, list_files) run the same calls in a worker
thread so that the event loop never waits on storage.

CustomProvider is the seed's abstract StorageProvider for backends written
in Python: subclass it, then StorageProvider.from_custom(obj) gives a
provider the library (and a service) can use like a built-in one.
"""

import asyncio
import ctypes
import functools
import itertools
import threading
from dataclasses import dataclass
from typing import Optional

from . import _ffi, _s3_options
from .errors import NotFoundError, code_of


async def run_blocking(executor, fn, *args, **kwargs):
    """Run fn in a worker thread (the loop's default executor when
    `executor` is None) and await its result.  The library call and the
    reading of its error message both happen in that thread."""
    loop = asyncio.get_running_loop()
    return await loop.run_in_executor(executor,
                                      functools.partial(fn, *args, **kwargs))


@dataclass(frozen=True)
class ObjectInfo:
    key: Optional[str]
    size: int
    mtime: int = 0                 # Unix seconds, 0 if unknown
    etag: Optional[str] = None


def _object_info(info):
    return ObjectInfo(_ffi.dec(info.key), info.size, info.mtime,
                      _ffi.dec(info.etag))


class _Lister:
    """A docstore_list_cb collecting ObjectInfo; an exception raised by a
    user callback stops the listing and is re-raised afterwards."""

    def __init__(self, each=None):
        self.items = []
        self.error = None
        self._each = each
        self.cb = _ffi.LIST_CB(self._call)

    def _call(self, payload, info):
        try:
            item = _object_info(info.contents)
            if self._each is None:
                self.items.append(item)
                return 0
            return 1 if self._each(item) is False else 0
        except BaseException as e:  # noqa: B902 - re-raised by finish()
            self.error = e
            return 1

    def finish(self, rc, check):
        if self.error is not None:
            raise self.error
        if rc == -18 and self._each is not None:  # the callback said stop
            return self.items
        check(rc)
        return self.items


PRESIGN_METHODS = {"GET": 0, "PUT": 1}


class StorageProvider(_ffi.Wrapper):
    """A docstore_provider (local, S3, or a CustomProvider).

    A provider given to ObjectStorageService belongs to the service from
    then on; this object keeps working (and keeps the service alive).
    """

    _what = "provider"
    _errmsg = "docstore_provider_errmsg"

    #: executor for the awaitable methods (None: the loop's default one)
    executor = None

    def __init__(self, *args, **kwargs):
        raise TypeError("use LocalStorageProvider, S3StorageProvider or "
                        "StorageProvider.from_custom()")

    @classmethod
    def from_custom(cls, custom):
        """Wrap a CustomProvider into a library provider."""
        return _wrap_custom(custom)

    # ------------------------------------------------- blocking calls
    @property
    def name(self):
        return _ffi.dec(_ffi.lib().docstore_provider_name(self._p()))

    def put(self, key, data):
        data = _ffi.as_bytes(data)
        self._check(_ffi.lib().docstore_provider_put(
            self._p(), _ffi.enc(key), data, len(data)))

    def get(self, key):
        out, n = ctypes.c_void_p(), ctypes.c_size_t()
        self._check(_ffi.lib().docstore_provider_get(
            self._p(), ctypes.byref(out), ctypes.byref(n), _ffi.enc(key)))
        return _ffi.take_bytes(out, n.value)

    def head(self, key):
        """ObjectInfo of an object; NotFoundError if missing."""
        info = _ffi.ObjectInfo()
        info.version = _ffi.OBJECT_INFO_VERSION
        self._check(_ffi.lib().docstore_provider_head(
            self._p(), ctypes.byref(info), _ffi.enc(key)))
        return ObjectInfo(key, info.size, info.mtime, _ffi.dec(info.etag))

    def exists(self, key):
        try:
            self.head(key)
            return True
        except NotFoundError:
            return False

    def delete(self, key):
        """Delete an object; a missing one is not an error."""
        self._check(_ffi.lib().docstore_provider_delete(self._p(),
                                                        _ffi.enc(key)))

    def list(self, prefix="", each=None):
        """ObjectInfo of every object under prefix.  With `each`, calls
        each(info) instead of collecting (return False to stop)."""
        lister = _Lister(each)
        rc = _ffi.lib().docstore_provider_list(self._p(), _ffi.enc(prefix),
                                               lister.cb, None)
        return lister.finish(rc, self._check)

    def presign(self, key, expires_seconds=3600, method="GET"):
        """A presigned URL (S3); UnsupportedError on local storage."""
        out = ctypes.c_void_p()
        self._check(_ffi.lib().docstore_provider_presign(
            self._p(), ctypes.byref(out), _ffi.enc(key),
            PRESIGN_METHODS[method.upper()], expires_seconds))
        return _ffi.take_str(out)

    def check(self):
        """Connectivity check; returns the provider's report ("" if none)."""
        out = ctypes.c_void_p()
        self._check(_ffi.lib().docstore_provider_check(self._p(),
                                                       ctypes.byref(out)))
        return _ffi.take_str(out) or ""

    def close(self):
        """Free the provider now (only one this object still owns)."""
        if self._owned():
            self._h.close()

    # ------------------------------------------------- the seed's API
    async def upload_file(self, key, data):
        """Store bytes under key; returns the storage path (the key)."""
        await run_blocking(self.executor, self.put, key, data)
        return key

    async def download_file(self, key):
        return await run_blocking(self.executor, self.get, key)

    async def delete_file(self, key):
        await run_blocking(self.executor, self.delete, key)
        return True

    async def file_exists(self, key):
        return await run_blocking(self.executor, self.exists, key)

    async def get_file_size(self, key):
        info = await run_blocking(self.executor, self.head, key)
        return info.size

    async def list_files(self, prefix=""):
        items = await run_blocking(self.executor, self.list, prefix)
        return [i.key for i in items]

    def generate_presigned_url(self, key, expiration=3600):
        """Presigned GET URL, `expiration` in seconds (synchronous)."""
        return self.presign(key, expiration, "GET")


class LocalStorageProvider(StorageProvider):
    """Files under base_path (folders 0700, files 0600, atomic writes; keys
    cannot escape the root)."""

    def __init__(self, base_path="encrypted_files/", *, fsync=True):
        lib = _ffi.lib()
        opts = _ffi.LocalOptions()
        _ffi.check(lib.docstore_local_options_init(
            ctypes.byref(opts), _ffi.LOCAL_OPTIONS_VERSION))
        opts.root = _ffi.enc(str(base_path))
        opts.fsync = 1 if fsync else 0
        out = ctypes.c_void_p()
        buf = _ffi.errbuf()
        _ffi.check(lib.docstore_local_provider_new(
            ctypes.byref(out), ctypes.byref(opts), buf, _ffi.ERRBUF_LEN),
            buf=buf)
        self._own(out.value, "docstore_provider_free")
        self.base_path = str(base_path)


class S3StorageProvider(StorageProvider):
    """AWS S3, MinIO, Ceph RGW, Swift s3api.  Makes no request until used
    (check() tests connectivity).  Zero numbers mean the library default."""

    def __init__(self, access_key=None, secret_key=None, bucket=None,
                 region="us-east-1", endpoint_url=None, *,
                 session_token=None, addressing="auto", ca_bundle=None,
                 insecure_skip_verify=False, max_attempts=0,
                 retry_base_ms=0, retry_max_ms=0, connect_timeout_ms=0,
                 request_timeout_ms=0, stall_timeout_ms=0, stall_min_bps=0,
                 multipart_threshold=0, multipart_part_size=0,
                 multipart_concurrency=0, checksum="auto",
                 payload_signing="auto", conditional_writes="auto",
                 download_concurrency=0, download_part_size=0,
                 stale_upload_seconds=0):
        # The keyword arguments, each the `field` of an S3 setting of the
        # schema: _s3_options sets them in a docstore_config.
        settings = {k: v for k, v in locals().items() if k != "self"}
        self._own(_s3_options.new_provider(**settings),
                  "docstore_provider_free")
        self.bucket = bucket


def _provider_class(storage_type):
    return {"local": LocalStorageProvider,
            "s3": S3StorageProvider}.get(storage_type, StorageProvider)


# ================================================================ custom

class CustomProvider:
    """Base class of a storage backend written in Python (the seed's
    StorageProvider abstract class).  Implement put, get, head and delete;
    list, presign and check are optional.  The library calls these methods
    from its own threads, possibly several at once: make them thread-safe.
    Raise a DocstoreError subclass (NotFoundError...) to report a specific
    code; KeyError and FileNotFoundError mean not found; any other exception
    is reported as an I/O error with its text.
    """

    name = "python"

    def put(self, key, data):
        raise NotImplementedError

    def get(self, key):
        """Return the object's bytes."""
        raise NotImplementedError

    def head(self, key):
        """Return the size (an int), or a (size, mtime) pair (mtime in Unix
        seconds, an int or a float)."""
        raise NotImplementedError

    def delete(self, key):
        """Delete; a missing key is not an error."""
        raise NotImplementedError

    list = None      # optional: list(prefix) -> iterable of (key, size)
    presign = None   # optional: presign(key, method, expires_seconds) -> str
    check = None     # optional: check() -> report str


# Custom providers are found through their payload, a small integer.  The
# trampolines below are created once for the module: a ctypes callback must
# outlive every C call into it, including the `free` that drops the object.
_custom = {}
_custom_lock = threading.Lock()
_custom_ids = itertools.count(1)


def _fail(err, exc):
    msg = str(exc) or type(exc).__name__
    return _ffi.lib().docstore_errinfo_set(err, code_of(exc),
                                           _ffi.enc(msg))


def _tramp(fn):
    def call(payload, *args):
        err = args[-1]
        try:
            obj = _custom[payload]
            return fn(obj, *args[:-1]) or 0
        except BaseException as e:  # noqa: B902 - reported to the library
            return _fail(err, e)
    return call


def _seconds(mtime):
    """A custom provider's mtime: Unix seconds, an int or a float such as
    os.stat().st_mtime (whole seconds kept); the size must be an int."""
    return int(mtime) if isinstance(mtime, float) else mtime


def _sink_all(sink, sink_payload, data):
    data = _ffi.as_bytes(data)
    rc = sink(sink_payload, data, len(data))
    return 0 if rc == 0 else (rc if rc < 0 else -18)


@_ffi.OP_PUT
@_tramp
def _c_put(obj, key, data, n):
    obj.put(_ffi.dec(key), ctypes.string_at(data, n) if n else b"")


@_ffi.OP_GET
@_tramp
def _c_get(obj, key, sink, sink_payload):
    return _sink_all(sink, sink_payload, obj.get(_ffi.dec(key)))


@_ffi.OP_HEAD
@_tramp
def _c_head(obj, key, info):
    r = obj.head(_ffi.dec(key))
    size, mtime = (r if isinstance(r, tuple) else (r, 0))
    info.contents.size = size
    info.contents.mtime = _seconds(mtime)
    info.contents.etag = None


@_ffi.OP_DEL
@_tramp
def _c_del(obj, key):
    obj.delete(_ffi.dec(key))


@_ffi.OP_LIST
@_tramp
def _c_list(obj, prefix, cb, list_payload):
    info = _ffi.ObjectInfo()
    info.version = _ffi.OBJECT_INFO_VERSION
    for item in obj.list(_ffi.dec(prefix)):
        key, size = item[0], item[1]
        info.key = _ffi.enc(key)
        info.size = size
        info.mtime = _seconds(item[2]) if len(item) > 2 else 0
        if cb(list_payload, ctypes.byref(info)) != 0:
            break


@_ffi.OP_PRESIGN
@_tramp
def _c_presign(obj, key, method, expires, sink, sink_payload):
    url = obj.presign(_ffi.dec(key), "PUT" if method == 1 else "GET",
                      expires)
    return _sink_all(sink, sink_payload, url)


@_ffi.OP_CHECK
@_tramp
def _c_check(obj, sink, sink_payload):
    report = obj.check()
    if report and sink:
        return _sink_all(sink, sink_payload, report)


@_ffi.OP_FREE
def _c_free(payload):
    with _custom_lock:
        _custom.pop(payload, None)


def _wrap_custom(custom):
    lib = _ffi.lib()
    ops = _ffi.ProviderOps()
    _ffi.check(lib.docstore_provider_ops_init(ctypes.byref(ops),
                                              _ffi.PROVIDER_OPS_VERSION))
    ops.name = _ffi.enc(getattr(custom, "name", None) or "python")
    ops.put, ops.get, ops.head, ops.del_ = _c_put, _c_get, _c_head, _c_del
    if callable(getattr(custom, "list", None)):
        ops.list = _c_list
    if callable(getattr(custom, "presign", None)):
        ops.presign = _c_presign
    if callable(getattr(custom, "check", None)):
        ops.check = _c_check
    ops.free = _c_free
    with _custom_lock:
        pid = next(_custom_ids)
        _custom[pid] = custom
    out = ctypes.c_void_p()
    # On failure the library has already called free (dropping pid).
    _ffi.check(lib.docstore_provider_new(ctypes.byref(out),
                                         ctypes.byref(ops), pid))
    p = StorageProvider.__new__(StorageProvider)
    p._own(out.value, "docstore_provider_free")
    p.custom = custom
    return p
