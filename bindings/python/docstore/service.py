# libdocstore Python binding: the ObjectStorageService facade
# (include/docstore/service.h).
# SPDX-License-Identifier: Apache-2.0
"""ObjectStorageService with the seed's names and shapes.

Every awaitable method runs its C call in a worker thread (the service's
`executor`, or the event loop's default one), and has a blocking twin named
`<name>_sync` that does the same in the calling thread.  get_download_url
is synchronous, as in the seed.
"""

import ctypes
import json
import time

from . import _ffi
from .config import as_config
from .crypto import Keyring, doc_id
from .providers import (StorageProvider, _Lister, _provider_class,
                        run_blocking)
from .streams import (CHUNK, DocumentReader, DocumentWriter, chunks,
                      copy_out, replace_atomically)

class _Dead:
    """Stands in for the handle of an object the library freed."""
    ptr = None

    def alive(self):
        return False


#: First bytes of a binary (version 2) envelope (docs/FORMAT.md).
ENVELOPE_V2_MAGIC = b"\x89DSE\r\n\x1a\n"


def storage_path(file_id, filename, user_id=None, when=None):
    """documents/user_<user_id>/YYYY/MM/DD/<file_id>_<filename>_<ext>.json
    (documents/system/... without a user), dated `when` (integer Unix
    seconds, now by default) in UTC; the filename is sanitised."""
    lib = _ffi.lib()
    out = ctypes.c_void_p()
    _ffi.check(lib.docstore_storage_path(
        ctypes.byref(out), _ffi.enc(file_id), _ffi.enc(filename),
        _ffi.enc(user_id), int(time.time()) if when is None else when))
    return _ffi.take_str(out)


def _awaitable(sync_name):
    async def method(self, *args, **kwargs):
        return await run_blocking(self.executor, getattr(self, sync_name),
                                  *args, **kwargs)
    method.__name__ = sync_name[:-len("_sync")]
    method.__doc__ = "Awaitable %s() (runs in a worker thread)." % sync_name
    return method


class ObjectStorageService(_ffi.Wrapper):
    """The facade: documents/ path layout, envelope checks, encryption
    helpers, fallback to legacy local files, counters.  Safe to use from
    many threads and tasks at once.

    ObjectStorageService(provider, keyring=None, ...) takes the provider and
    keyring over (they stay usable through this service).  Without
    arguments it is built from the environment (STORAGE_TYPE, S3_*,
    LOCAL_STORAGE_PATH, RSA_*_KEY_PATH...); see from_config().
    A provider made by ObjectStorageFactory.create_provider() already has
    its service: ObjectStorageService(that_provider) shares it.
    envelope_version (1 or 2), compression_level (1..19 zstd) and
    segment_size choose how new documents are sealed, as the settings
    DOCSTORE_ENVELOPE_VERSION, DOCSTORE_COMPRESSION and
    DOCSTORE_SEGMENT_SIZE do (0: the defaults, v2 uncompressed 64 KiB).
    """

    _what = "storage service"
    _errmsg = "docstore_service_errmsg"

    #: executor for the awaitable methods (None: the loop's default one)
    executor = None

    def __init__(self, provider=None, keyring=None, *, legacy_root=None,
                 validate_envelopes=True, executor=None, envelope_version=0,
                 compression_level=0, segment_size=0):
        if executor is not None:
            self.executor = executor
        if provider is None:
            if keyring is not None:
                raise ValueError("a keyring needs a provider")
            self._from_config(as_config(None))
            return
        if not isinstance(provider, StorageProvider):
            raise TypeError("provider must be a StorageProvider, not %s"
                            % type(provider).__name__)
        envelope = (envelope_version, compression_level, segment_size)
        if not provider._owned():
            self._share(provider, keyring, legacy_root,
                        validate_envelopes and envelope == (0, 0, 0))
            return
        if keyring is not None and not keyring._owned():
            raise ValueError("the keyring already belongs to a service")
        lib = _ffi.lib()
        opts = _ffi.ServiceOptions()
        _ffi.check(lib.docstore_service_options_init(
            ctypes.byref(opts), _ffi.SERVICE_OPTIONS_VERSION))
        opts.legacy_root = _ffi.enc(
            None if legacy_root is None else str(legacy_root))
        opts.validate_envelopes = 1 if validate_envelopes else 0
        # New documents: envelope format (0: v2), zstd level (0: off),
        # segment size (0: 64 KiB), as the DOCSTORE_* settings.
        (opts.envelope_version, opts.compression_level,
         opts.segment_size) = envelope
        # The library owns provider and keyring from here, even on failure.
        pptr = provider._h.release()
        kptr = keyring._h.release() if keyring is not None else None
        out = ctypes.c_void_p()
        buf = _ffi.errbuf()
        rc = lib.docstore_service_new(ctypes.byref(out), pptr, kptr,
                                      ctypes.byref(opts), buf,
                                      _ffi.ERRBUF_LEN)
        if rc < 0:
            provider._h = _Dead()
            if keyring is not None:
                keyring._h = _Dead()
            _ffi.check(rc, buf=buf)
        self._adopt(out.value)
        provider._h = self._h
        provider._service_ptr = self._ptr
        if keyring is not None:
            keyring._h = self._h
        self._provider = provider
        self._keyring = keyring

    def _adopt(self, ptr):
        self._own(ptr, "docstore_service_free")
        self._provider = None
        self._keyring = None

    def _share(self, provider, keyring, legacy_root, validate_envelopes):
        owner = getattr(provider, "_service_ptr", None)
        if owner is None or not provider._h.alive():
            raise ValueError("the provider already belongs to a service")
        if (keyring is not None or legacy_root is not None
                or not validate_envelopes):
            raise ValueError(
                "this provider was made from a configuration: set the key "
                "paths and options in that configuration instead")
        self._ptr = owner
        self._h = provider._h
        self._provider = provider
        self._keyring = None

    def _from_config(self, cfg):
        lib = _ffi.lib()
        out = ctypes.c_void_p()
        buf = _ffi.errbuf()
        _ffi.check(lib.docstore_service_from_config(
            ctypes.byref(out), cfg._p(), buf, _ffi.ERRBUF_LEN), buf=buf)
        self._adopt(out.value)

    @classmethod
    def from_config(cls, config=None, *, executor=None):
        """Build a service from a Config, a dict of settings (the seed's
        config dict), or None (the environment)."""
        svc = cls.__new__(cls)
        if executor is not None:
            svc.executor = executor
        svc._from_config(as_config(config))
        return svc

    # ------------------------------------------------------- plumbing
    def close(self):
        """Free the service, its provider and keyring, now.  No call may be
        in flight.  (Otherwise they are freed when no longer referenced.)"""
        self._h.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @property
    def storage_type(self):
        """"local", "s3", or a custom provider's name."""
        return _ffi.dec(_ffi.lib().docstore_service_storage_type(self._p()))

    @property
    def provider(self):
        """The service's provider (raw object operations)."""
        if self._provider is None:
            ptr = _ffi.lib().docstore_service_provider(self._p())
            p = _provider_class(self.storage_type)._borrowed(ptr, self._h)
            p._service_ptr = self._ptr
            p.executor = self.executor
            self._provider = p
        return self._provider

    @property
    def keyring(self):
        """The service's keyring, or None."""
        if self._keyring is None:
            ptr = _ffi.lib().docstore_service_keyring(self._p())
            if ptr:
                self._keyring = Keyring._borrowed(ptr, self._h)
        return self._keyring

    # ------------------------------------------------- blocking calls
    def store_encrypted_document_sync(self, file_id, filename,
                                      encrypted_data, user_id=None):
        """Store an envelope (the backend's dict, or JSON text) under the
        document's storage path; returns that path."""
        data = _ffi.envelope_bytes(encrypted_data)
        out = ctypes.c_void_p()
        self._check(_ffi.lib().docstore_service_store_encrypted(
            self._p(), ctypes.byref(out), _ffi.enc(file_id),
            _ffi.enc(filename), data, len(data), _ffi.enc(user_id)))
        return _ffi.take_str(out)

    def _retrieve(self, fn, *args):
        out, n = ctypes.c_void_p(), ctypes.c_size_t()
        self._check(fn(self._p(), ctypes.byref(out), ctypes.byref(n),
                       *args))
        data = _ffi.take_bytes(out, n.value)
        if data.startswith(ENVELOPE_V2_MAGIC):
            return data  # binary: no dict form
        return json.loads(data)

    def retrieve_encrypted_document_sync(self, path):
        """The envelope stored at path: a dict for a JSON envelope (v1,
        legacy: the seed's shape), the bytes of a binary v2 envelope
        (store_encrypted_document takes either back)."""
        return self._retrieve(
            _ffi.lib().docstore_service_retrieve_encrypted, _ffi.enc(path))

    def retrieve_with_fallback_sync(self, path, legacy_path):
        """As retrieve_encrypted_document, but when the object store fails,
        read the legacy local file (the attachment's old filepath) instead,
        logging "Failed to retrieve from object storage, falling back to
        local".  path may be None (a document never migrated)."""
        return self._retrieve(
            _ffi.lib().docstore_service_retrieve_fallback, _ffi.enc(path),
            _ffi.enc(None if legacy_path is None else str(legacy_path)))

    def delete_document_sync(self, path):
        """Delete a document; a missing one is not an error."""
        self._check(_ffi.lib().docstore_service_delete(self._p(),
                                                       _ffi.enc(path)))
        return True

    def _exists(self, path):
        exists, size = ctypes.c_int(), ctypes.c_uint64()
        self._check(_ffi.lib().docstore_service_exists(
            self._p(), ctypes.byref(exists), ctypes.byref(size),
            _ffi.enc(path)))
        return bool(exists.value), size.value

    def document_exists_sync(self, path):
        return self._exists(path)[0]

    def document_size_sync(self, path):
        """Size in bytes of the stored envelope, None if missing."""
        exists, size = self._exists(path)
        return size if exists else None

    def get_download_url(self, path, expiration_hours=24):
        """Presigned URL (S3) valid for expiration_hours (0 means 24, at
        most 168); UnsupportedError on local storage."""
        hours = _ffi.c_value(ctypes.c_uint, expiration_hours,
                             "get_download_url expiration_hours")
        out = ctypes.c_void_p()
        self._check(_ffi.lib().docstore_service_presign(
            self._p(), ctypes.byref(out), _ffi.enc(path),
            (hours or 24) * 3600))
        return _ffi.take_str(out)

    def store_document_sync(self, file_id, filename, data, user_id=None):
        """Encrypt plaintext bytes with the keyring's default key (binding
        file_id/user_id) and store them; returns the storage path."""
        data = _ffi.as_bytes(data)
        out = ctypes.c_void_p()
        self._check(_ffi.lib().docstore_service_store_document(
            self._p(), ctypes.byref(out), _ffi.enc(file_id),
            _ffi.enc(filename), data, len(data), _ffi.enc(user_id)))
        return _ffi.take_str(out)

    def read_document_sync(self, path, file_id=None, user_id=None):
        """Retrieve and decrypt.  With file_id (and user_id), an envelope
        bound to another document raises IntegrityError."""
        out, n = ctypes.c_void_p(), ctypes.c_size_t()
        doc = doc_id(file_id, user_id)
        self._check(_ffi.lib().docstore_service_read_document(
            self._p(), ctypes.byref(out), ctypes.byref(n), _ffi.enc(path),
            ctypes.byref(doc) if doc is not None else None))
        return _ffi.take_bytes(out, n.value)

    def list_documents_sync(self, prefix=None, each=None):
        """ObjectInfo of the objects under prefix (None: "documents/")."""
        lister = _Lister(each)
        rc = _ffi.lib().docstore_service_list(self._p(), _ffi.enc(prefix),
                                              lister.cb, None)
        return lister.finish(rc, self._check)

    def check_sync(self):
        """Connectivity check of the provider; returns its report."""
        out = ctypes.c_void_p()
        self._check(_ffi.lib().docstore_service_check(self._p(),
                                                      ctypes.byref(out)))
        return _ffi.take_str(out) or ""

    # ----------------------------------------------------- streaming
    def open_reader(self, path, expect=None, offset=0, length=None,
                    progress=None):
        """A DocumentReader (a file-like io.RawIOBase) decrypting the
        document at path while it is read.  expect: None, a file id, or
        (file_id, user_id): an envelope bound to another document raises
        IntegrityError.  offset/length: a plaintext range (length None: to
        the end; a range needs a v2 uncompressed document, else
        UnsupportedError).  progress(done, total): called as the stored
        bytes are read (total None when unknown); returning True
        cancels."""
        return DocumentReader(self, path, expect, offset, length, progress)

    def open_writer(self, file_id, filename, user_id=None, *,
                    no_clobber=False, content_type=None, size_hint=0,
                    progress=None, envelope_version=0,
                    compression_level=None, recipients=None):
        """A DocumentWriter storing a document under its storage path,
        encrypted while it is written: write(), then commit() (the path)
        or abort(); as a context manager it commits on a normal exit and
        aborts on an exception.  no_clobber: AlreadyExistsError when the
        path exists.  size_hint: the size if known (progress total).
        progress(done, total): plaintext bytes consumed; returning True
        cancels.  envelope_version (0: the service's setting),
        compression_level (None: the service's setting; 0 off; 1..19 zstd)
        and recipients (key ids; None: the service's) choose the
        envelope."""
        return DocumentWriter(
            self, file_id, filename, user_id, no_clobber=no_clobber,
            content_type=content_type, size_hint=size_hint,
            progress=progress, envelope_version=envelope_version,
            compression_level=compression_level, recipients=recipients)

    def store_stream_sync(self, file_id, filename, source, user_id=None,
                          **options):
        """Store a document read from `source`: a file object (readinto()
        into one reused 1 MiB buffer, or read()), a bytes-like object, or
        an iterable of bytes-like chunks.  Memory stays bounded whatever
        the size.  options: those of open_writer().  Returns the storage
        path; on any failure nothing is stored."""
        with self.open_writer(file_id, filename, user_id, **options) as w:
            for chunk in chunks(source):
                w.write(chunk)
        return w.path

    async def store_stream(self, file_id, filename, source, user_id=None,
                           **options):
        """Awaitable store_stream_sync(); `source` may also be an async
        iterator of bytes-like chunks (each write runs in a worker
        thread).  A cancelled task aborts the document."""
        if not hasattr(source, "__aiter__"):
            return await run_blocking(self.executor, self.store_stream_sync,
                                      file_id, filename, source, user_id,
                                      **options)
        writer = await run_blocking(self.executor, self.open_writer,
                                    file_id, filename, user_id, **options)
        try:
            async for chunk in source:
                await run_blocking(self.executor, writer.write, chunk)
            return await run_blocking(self.executor, writer.commit)
        except BaseException:
            # A write may still run in its worker thread (a cancelled
            # task): cancel makes it return soon; close waits, aborts.
            writer.cancel()
            writer.close()
            raise

    async def iter_document(self, path, expect=None, offset=0, length=None,
                            progress=None, chunk_size=CHUNK):
        """Async iterator of the decrypted document's bytes, in chunks of
        at most chunk_size (each read in a worker thread): for a streaming
        HTTP response.  Arguments as open_reader().  The chunks come from
        verified segments; a tampered object raises IntegrityError from
        the iteration, and only the end of the iteration means the whole
        document verified."""
        reader = await run_blocking(self.executor, self.open_reader, path,
                                    expect, offset, length, progress)
        try:
            while True:
                chunk = await run_blocking(self.executor, reader.read,
                                           chunk_size)
                if not chunk:
                    return
                yield chunk
        finally:
            reader.cancel()
            reader.close()

    def retrieve_to_sync(self, path, destination, expect=None, offset=0,
                         length=None, progress=None):
        """Decrypt the document at path into `destination` and return the
        number of bytes.  A file path: written to a temporary file beside
        it, renamed over it only once the whole document verified (on
        failure the destination is untouched).  A file object: written to
        as the segments verify (on failure it holds a verified prefix: the
        caller discards it).  Other arguments: those of open_reader()."""
        with self.open_reader(path, expect, offset, length, progress) as r:
            if hasattr(destination, "write"):
                return copy_out(r, destination)
            return replace_atomically(destination,
                                      lambda f: copy_out(r, f))

    # ------------------------------------------------------ awaitables
    store_encrypted_document = _awaitable("store_encrypted_document_sync")
    retrieve_encrypted_document = _awaitable(
        "retrieve_encrypted_document_sync")
    retrieve_with_fallback = _awaitable("retrieve_with_fallback_sync")
    delete_document = _awaitable("delete_document_sync")
    document_exists = _awaitable("document_exists_sync")
    document_size = _awaitable("document_size_sync")
    store_document = _awaitable("store_document_sync")
    read_document = _awaitable("read_document_sync")
    list_documents = _awaitable("list_documents_sync")
    check = _awaitable("check_sync")
    retrieve_to = _awaitable("retrieve_to_sync")

    # --------------------------------------------------------- metrics
    def stats(self):
        """{op: {"successes", "failures", "bytes", "total_latency_us",
        "avg_latency_us", "retries"}} for every counted operation."""
        lib = _ffi.lib()
        result = {}
        op = 0
        while True:  # the ops this library counts: until a NULL name
            name = lib.docstore_op_name(op)
            if name is None:
                return result
            s = _ffi.OpStats()
            s.version = _ffi.OP_STATS_VERSION
            self._check(lib.docstore_service_stats(self._p(), ctypes.byref(s),
                                                   op))
            result[_ffi.dec(name)] = {
                field: getattr(s, field) for field, _ in s._fields_[1:]}
            op += 1

    def stats_json(self):
        """The library's own JSON rendering of the counters, parsed."""
        out = ctypes.c_void_p()
        self._check(_ffi.lib().docstore_service_stats_json(
            self._p(), ctypes.byref(out)))
        return json.loads(_ffi.take_str(out))

    def reset_stats(self):
        _ffi.lib().docstore_service_stats_reset(self._p())
