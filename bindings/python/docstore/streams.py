# libdocstore Python binding: streaming documents (docstore_writer_* and
# docstore_reader_* of include/docstore/service.h).
# SPDX-License-Identifier: Apache-2.0
"""Documents of any size, in bounded memory.

DocumentReader is a file-like object (io.RawIOBase) over a
docstore_reader: readinto() has the library decrypt straight into the
caller's buffer.  It releases only bytes whose segment verified, and
reports the end (read() returns b"") only after the final segment
verified; a tampered or truncated object raises IntegrityError instead.

DocumentWriter is a writable file-like object over a docstore_writer:
write() encrypts and streams to the provider; commit() makes the object
appear (atomically) and returns its storage path; abort() leaves nothing.
As a context manager it commits on a normal exit and aborts when the block
raises.

Both are blocking: ctypes releases the GIL for each C call, so other
threads run meanwhile; the service's awaitable methods (store_stream,
retrieve_to) run them in a worker thread.  cancel() may be called from any
thread: the call in progress (or the next one) fails with CanceledError.
One thread at a time may read or write a given object.
"""

import ctypes
import io
import os
import tempfile
import threading

from . import _ffi
from .crypto import doc_id
from .errors import DocstoreError, UnsupportedError, error_from_code

#: Buffer size of the copy loops (store_stream, retrieve_to).
CHUNK = 1 << 20


class _Progress:
    """A docstore_progress_cb calling fn(done, total) (total None when
    unknown).  fn returning True cancels (as a migration's progress
    callback stops the run); an exception raised by fn
    cancels too and is raised again by the call that was running."""

    def __init__(self, fn):
        self.fn = fn
        self.error = None
        self.cb = _ffi.PROGRESS_CB(self._call)

    def _call(self, payload, done, total):
        try:
            stop = self.fn(done, None if total == _ffi.UNKNOWN_SIZE else total)
            return 1 if stop is True else 0
        except BaseException as e:  # noqa: B902 - raised again by the call
            self.error = e
            return 1


def _options(struct, init_name, version, progress):
    """(options struct set up by its init function, _Progress or None)."""
    opts = struct()
    _ffi.check(getattr(_ffi.lib(), init_name)(ctypes.byref(opts), version))
    if progress is None:
        return opts, None
    if not callable(progress):
        raise TypeError("progress must be callable, not %s"
                        % type(progress).__name__)
    progress = _Progress(progress)
    opts.progress = progress.cb
    return opts, progress


class _Stream(_ffi.Wrapper):
    """What reader and writer share: the handle, a lock held during each C
    call (so close() never frees a handle another thread is using), and
    cancel() from any thread."""

    _cancel_fn = None
    _stats_fn = None
    _h = None          # until _setup(): a failed constructor leaves None
    _progress = None
    _failed = None     # (code, message) of the failure that ended it
    _calling = None    # the thread in a C call (its progress callback)

    def _setup(self, ptr, free_name, progress, keep):
        self._call_lock = threading.Lock()
        self._cancel_lock = threading.Lock()
        # The progress callback and the service stay alive as long as the
        # handle: the library calls the first and uses the second.
        self._own(ptr, free_name, keep)
        self._progress = progress

    def _call(self, name, *args, ends=True):
        """Call `name`(handle, *args); raise the binding's exception on
        failure (the progress callback's own exception first).  A failure
        of a call that `ends` the stream (a read, a write) is raised again
        by every later call: the library's handle is dead then."""
        with self._call_lock:
            ptr = self._p()
            if self._failed is not None:
                raise error_from_code(*self._failed)
            self._calling = threading.get_ident()
            try:
                rc = getattr(_ffi.lib(), name)(ptr, *args)
            finally:
                self._calling = None
            if rc >= 0:
                return rc
            try:
                return self._check(rc)
            except DocstoreError as e:
                if ends:
                    self._failed = (rc, e.message)
                error = self._progress and self._progress.error
                if error is not None:
                    self._progress.error = None
                    raise error from e
                raise

    def cancel(self):
        """Make the operation in progress, or the next one, fail with
        CanceledError (then it is aborted).  Any thread; a closed object
        ignores it."""
        if self._h is None:
            return
        with self._cancel_lock:
            if self._h.alive():
                getattr(_ffi.lib(), self._cancel_fn)(self._ptr)

    def _free(self):
        if self._h is None:
            return
        if self._calling == threading.get_ident():
            raise RuntimeError("a %s cannot be closed by its own progress "
                               "callback: cancel() it" % self._what)
        with self._call_lock, self._cancel_lock:
            self._h.close()

    def stats(self):
        """{"plaintext_bytes", "stored_bytes"} moved so far (any thread,
        also while a call runs)."""
        plain, stored = ctypes.c_uint64(), ctypes.c_uint64()
        with self._cancel_lock:
            getattr(_ffi.lib(), self._stats_fn)(
                self._p(), ctypes.byref(plain), ctypes.byref(stored))
        return {"plaintext_bytes": plain.value, "stored_bytes": stored.value}


def _expect_id(expect):
    """docstore_doc_id for `expect`: None, a file id, or (file_id,
    user_id)."""
    if expect is None:
        return None
    if isinstance(expect, tuple):
        if len(expect) not in (1, 2):
            raise TypeError("expect must be a file id or (file_id, user_id)")
        return doc_id(*expect)
    return doc_id(expect)


class DocumentReader(_Stream, io.RawIOBase):
    """A stored document, decrypted while it is read (see the module's
    documentation).  Made by ObjectStorageService.open_reader()."""

    _what = "document reader"
    _errmsg = "docstore_reader_errmsg"
    _cancel_fn = "docstore_reader_cancel"
    _stats_fn = "docstore_reader_stats"

    def __init__(self, service, path, expect=None, offset=0, length=None,
                 progress=None):
        lib = _ffi.lib()
        opts, progress = _options(_ffi.ReadOptions,
                                  "docstore_read_options_init",
                                  _ffi.READ_OPTIONS_VERSION, progress)
        opts.offset = offset
        # length 0 means "to the end" in C; an empty range is kept here.
        self._empty = length == 0
        opts.length = 0 if length is None else length
        expect_id = _expect_id(expect)
        out = ctypes.c_void_p()
        service._check(lib.docstore_reader_open(
            ctypes.byref(out), service._p(), _ffi.enc(path),
            ctypes.byref(expect_id) if expect_id is not None else None,
            ctypes.byref(opts)))
        self._setup(out.value, "docstore_reader_close", progress,
                    (progress, service, opts))
        self._pos = 0

    def readable(self):
        self._p()
        return True

    def readinto(self, buffer):
        """Decrypt the next bytes into `buffer` (any writable bytes-like
        object, written in place); the count, 0 at the verified end."""
        address, size, keep = _ffi.out_buffer(buffer, "readinto buffer")
        if self._empty or size == 0:
            self._p()
            return 0
        got = ctypes.c_size_t()
        self._call("docstore_reader_read", address, size, ctypes.byref(got))
        del keep
        self._pos += got.value
        return got.value

    def readall(self):
        """The rest of the document (in 1 MiB steps, not io's 8 KiB)."""
        parts = []
        buf = bytearray(CHUNK)
        while True:
            n = self.readinto(buf)
            if not n:
                return b"".join(parts)
            parts.append(bytes(buf[:n]))

    def tell(self):
        """Bytes read so far (from `offset`)."""
        self._p()
        return self._pos

    @property
    def size(self):
        """The plaintext size of the document (of the whole document, not
        of the range), or None when the library cannot know it in advance
        (a compressed document)."""
        n = ctypes.c_uint64()
        try:
            self._call("docstore_reader_size", ctypes.byref(n), ends=False)
        except UnsupportedError:
            return None
        return n.value

    def close(self):
        """Release the reader (a read in progress in another thread is
        waited for: cancel() first to stop it)."""
        self._free()
        super().close()


class DocumentWriter(_Stream, io.RawIOBase):
    """A document being stored (see the module's documentation).  Made by
    ObjectStorageService.open_writer().  `path` is the storage path once
    committed.  close() without commit() aborts."""

    _what = "document writer"
    _errmsg = "docstore_writer_errmsg"
    _cancel_fn = "docstore_writer_cancel"
    _stats_fn = "docstore_writer_stats"
    _done = None   # "committed" or "aborted"
    path = None

    def __init__(self, service, file_id, filename, user_id=None, *,
                 no_clobber=False, content_type=None, size_hint=0,
                 progress=None, envelope_version=0, compression_level=None,
                 recipients=None):
        lib = _ffi.lib()
        opts, progress = _options(_ffi.WriteOptions,
                                  "docstore_write_options_init",
                                  _ffi.WRITE_OPTIONS_VERSION, progress)
        opts.no_clobber = 1 if no_clobber else 0
        opts.content_type = _ffi.enc(content_type)
        opts.size_hint = size_hint
        opts.envelope_version = envelope_version
        opts.compression_level = (-1 if compression_level is None
                                  else compression_level)
        keys = None
        if recipients is not None:
            if isinstance(recipients, (str, bytes)):
                recipients = [recipients]
            keys = (ctypes.c_char_p * max(1, len(recipients)))(*[
                _ffi.c_value(ctypes.c_char_p, _ffi.enc(r),
                             "recipients[%d]" % i)
                for i, r in enumerate(recipients)])
            opts.recipients = ctypes.cast(keys, ctypes.POINTER(
                ctypes.c_char_p))
            opts.recipients_count = len(recipients)
        out = ctypes.c_void_p()
        service._check(lib.docstore_writer_begin(
            ctypes.byref(out), service._p(), _ffi.enc(file_id),
            _ffi.enc(filename), _ffi.enc(user_id), ctypes.byref(opts)))
        self._setup(out.value, "docstore_writer_free", progress,
                    (progress, service, keys, opts))

    def writable(self):
        self._p()
        return True

    def write(self, data):
        """Encrypt and store `data` (any bytes-like object, read in place;
        str as UTF-8); returns its length."""
        pointer, size, keep = _ffi.in_buffer(data, "write data")
        self._call("docstore_writer_write", pointer, size)
        del keep
        return size

    def commit(self):
        """Finish the document and make it appear; returns its storage
        path.  The writer is closed afterwards, whatever the result."""
        out = ctypes.c_void_p()
        try:
            self._call("docstore_writer_commit", ctypes.byref(out))
            self.path = _ffi.take_str(out)
            self._done = "committed"
        finally:
            self.close()
        return self.path

    def abort(self):
        """Discard the document (nothing is left behind) and close."""
        if self._done == "committed":
            raise ValueError("the document is already committed")
        try:
            if (self._h.alive() and self._done is None
                    and self._failed is None):
                self._done = "aborted"
                self._call("docstore_writer_abort")
        finally:
            self.close()

    def close(self):
        """Close; a writer neither committed nor aborted is aborted."""
        if self._done is None and self._h is not None:
            self._done = "aborted"  # docstore_writer_free() aborts
        self._free()
        super().close()

    def __exit__(self, exc_type, exc, tb):
        if exc_type is None and self._done is None:
            self.commit()
        else:
            self.close()
        return False


# ------------------------------------------------------------ copy loops

def chunks(source):
    """Byte chunks of `source`: a file object (readinto() into one reused
    1 MiB buffer when it has it, else read(1 MiB)), a bytes-like object
    (one chunk), or an iterable of bytes-like chunks."""
    if isinstance(source, (bytes, bytearray, memoryview, str)):
        yield source
        return
    if hasattr(source, "__aiter__") and not hasattr(source, "__iter__"):
        raise TypeError("an async iterator needs the awaitable "
                        "store_stream(), not store_stream_sync()")
    readinto = getattr(source, "readinto", None)
    if readinto is not None:
        buf = bytearray(CHUNK)
        view = memoryview(buf)
        while True:
            n = readinto(buf)
            if n is None:
                raise ValueError("the source is non-blocking and has no "
                                 "data now: give a blocking file")
            if not n:
                return
            yield view[:n]
    read = getattr(source, "read", None)
    if read is not None:
        while True:
            data = read(CHUNK)
            if not data:
                return
            yield data
    else:
        yield from source


def copy_out(reader, fileobj):
    """Copy the rest of `reader` into fileobj through one 1 MiB buffer;
    returns the number of bytes."""
    buf = bytearray(CHUNK)
    view = memoryview(buf)
    total = 0
    while True:
        n = reader.readinto(buf)
        if not n:
            return total
        fileobj.write(view[:n])
        total += n


def replace_atomically(dest, fill):
    """Call fill(file) on a new temporary file beside `dest` (mode 0600),
    fsync it and rename it to dest; on any failure remove it, leaving dest
    as it was.  Returns fill's result."""
    dest = os.fspath(dest)
    folder = os.path.dirname(os.path.abspath(dest))
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part",
                               prefix="." + os.path.basename(dest) + ".")
    try:
        with os.fdopen(fd, "wb") as f:
            result = fill(f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, dest)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise
    try:
        dfd = os.open(folder, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)
    except OSError:
        pass  # the rename is done; a folder that cannot be synced is fine
    return result
