# What the binding hands to C: ctypes alone cuts a str/bytes at its first
# NUL and wraps an integer modulo 2**bits.  Every string and integer, as a
# function argument or a struct field, is checked first (_ffi.c_value) and
# refused with InvalidArgumentError.
# SPDX-License-Identifier: Apache-2.0
import ctypes
import re

import pytest

import docstore
from docstore import _ffi, migrate
from helpers import closed_port

NUL = "documents/a\x00/.."
HUGE = 2**64 + 5


def _refused(fn, *args, match=None, **kwargs):
    with pytest.raises(docstore.InvalidArgumentError) as info:
        fn(*args, **kwargs)
    assert info.value.code == -1 and info.value.name == "DOCSTORE_EINVAL"
    if match:
        assert re.search(match, info.value.message), info.value.message
    return info.value


def _s3(**kwargs):
    """An S3 provider that is never contacted (presigning is offline)."""
    return docstore.S3StorageProvider(
        "AKIAEXAMPLE", "secret", "bucket", region="us-east-1",
        endpoint_url="http://127.0.0.1:%d" % closed_port(), **kwargs)


# ---------------------------------------------------------------- the helper

@pytest.mark.parametrize("ctype", [ctypes.c_int, ctypes.c_uint,
                                   ctypes.c_int64, ctypes.c_uint64,
                                   ctypes.c_size_t])
def test_integer_range_of_each_c_type(ctype):
    bits = 8 * ctypes.sizeof(ctype)
    signed = ctype(-1).value < 0
    low = -(1 << (bits - 1)) if signed else 0
    high = (1 << (bits - 1)) - 1 if signed else (1 << bits) - 1
    assert _ffi.c_value(ctype, low, "x") == low
    assert _ffi.c_value(ctype, high, "x") == high
    assert _ffi.c_value(ctype, True, "x") == 1
    _refused(_ffi.c_value, ctype, low - 1, "x", match="out of range")
    _refused(_ffi.c_value, ctype, high + 1, "x", match="out of range")
    for bad in (1.0, 1.5, float("nan"), "5", None, b"5"):
        _refused(_ffi.c_value, ctype, bad, "x", match="expected an integer")


def test_c_strings_and_buffers():
    c_char_p = ctypes.c_char_p
    assert _ffi.c_value(c_char_p, "é", "x") == "é".encode()
    assert _ffi.c_value(c_char_p, b"abc", "x") == b"abc"
    assert _ffi.c_value(c_char_p, None, "x") is None
    e = _refused(_ffi.c_value, c_char_p, "s3cr\x00et", "field",
                 match="^field: a string with a NUL character")
    assert "s3cr" not in e.message  # never echoes the value
    _refused(_ffi.c_value, c_char_p, b"a\x00", "x", match="NUL")
    _refused(_ffi.c_value, c_char_p, "\udc80", "x", match="lone surrogate")
    # An int would be taken by ctypes as an address.
    _refused(_ffi.c_value, c_char_p, 4096, "x", match="expected a string")
    # A buffer with a length: NUL bytes are data.
    assert _ffi.c_value(_ffi.Bytes, b"\x00\x01", "x") == b"\x00\x01"
    _refused(_ffi.c_value, _ffi.Bytes, "text", "x", match="expected bytes")
    _refused(_ffi.as_bytes, 5, match="expected bytes or str")  # not b"\0"*5
    _refused(_ffi.as_bytes, "\ud800")


def _declared_functions():
    lib = _ffi.lib()
    names = list(_ffi._CORE) + list(_ffi._MIGRATE)
    return [getattr(lib, n) for n in names]


def _harmless(argtypes):
    """Arguments that pass every check (they never reach C below)."""
    return [0 if _ffi._is_int(t) else None for t in argtypes]


def test_every_string_argument_of_every_function_is_checked():
    count = 0
    for fn in _declared_functions():
        for i, t in enumerate(fn.raw.argtypes):
            if t is not ctypes.c_char_p:
                continue
            args = _harmless(fn.raw.argtypes)
            args[i] = NUL
            _refused(fn, *args, match=r"^%s argument %d: a string with a NUL"
                     % (fn.name, i + 1))
            count += 1
    assert count > 30


def test_every_integer_argument_of_every_function_is_checked():
    count = 0
    for fn in _declared_functions():
        for i, t in enumerate(fn.raw.argtypes):
            if not _ffi._is_int(t):
                continue
            for bad in (HUGE, -(2**64), 2.5):
                args = _harmless(fn.raw.argtypes)
                args[i] = bad
                _refused(fn, *args, match=r"^%s argument %d: "
                         % (fn.name, i + 1))
            count += 1
    assert count > 20


def _mirrors():
    seen, todo = [], [_ffi.CStruct]
    while todo:
        cls = todo.pop()
        todo.extend(cls.__subclasses__())
        if cls._c_name:
            seen.append(cls)
    return seen


def test_every_string_and_integer_field_of_every_struct_is_checked():
    count = 0
    for cls in _mirrors():
        for name, t in cls._fields_:
            if t is ctypes.c_char_p:
                bad = ["a\x00b"]
            elif _ffi._is_int(t):
                bad = [HUGE, -(2**64), 1.5]
            else:
                continue
            for value in bad:
                s = cls()
                _refused(setattr, s, name, value,
                         match=r"^%s\.%s: " % (cls._c_name, name))
                count += 1
    assert count > 100
    doc = _ffi.DocId("1", None)  # the constructor goes through it too
    assert doc.file_id == b"1"
    _refused(_ffi.DocId, "1\x00", None)


# --------------------------------------------- through the public functions

def test_strings_with_nul_are_refused_not_cut(local_service, keyring,
                                              tmp_path):
    svc = local_service
    # Was accepted as file_id "1".
    _refused(svc.store_document_sync, "1\x00", "a.pdf", b"x", "7")
    _refused(svc.store_document_sync, "1", "a.pdf\x00.exe", b"x", "7")
    _refused(svc.store_document_sync, "1", "a.pdf", b"x", b"7\x00")
    env = keyring.seal(b"x", "1", "7")
    _refused(svc.store_encrypted_document_sync, "1\x00", "a.pdf", env, "7")
    path = svc.store_document_sync("1", "a.pdf", b"\x00binary\x00", "7")
    assert svc.read_document_sync(path, "1", "7") == b"\x00binary\x00"
    for method in (svc.retrieve_encrypted_document_sync,
                   svc.delete_document_sync, svc.document_exists_sync,
                   svc.read_document_sync, svc.get_download_url):
        _refused(method, path + "\x00/../x")
    # The identity goes through the docstore_doc_id struct.
    _refused(svc.read_document_sync, path, "1\x00", "7")
    _refused(svc.read_document_sync, path, "1", "7\x00")
    _refused(svc.retrieve_with_fallback_sync, None, "legacy\x00/x")
    _refused(svc.list_documents_sync, "documents/\x00")
    assert svc.document_exists_sync(path)  # nothing was deleted

    # Keys and envelopes.
    _refused(docstore.key_check, NUL)   # was checked as "documents/a"
    _refused(keyring.add_public_file, str(tmp_path / "k.pem\x00"))
    _refused(keyring.add_private_file, str(tmp_path / "k.pem"), "pw\x00")
    _refused(keyring.set_default, "sha256:\x00")
    _refused(keyring.seal, b"x", "1\x00")
    _refused(keyring.open, env, "1", "7\x00")
    _refused(keyring.rewrap, env, "sha256:\x00")
    _refused(docstore.generate_key_pair, 2048, "pass\x00phrase")
    _refused(docstore.storage_path, "1", "a\x00.pdf", "7")

    # Configuration.
    cfg = docstore.Config()
    _refused(cfg.set, "S3_BUCKET", "bucket\x00other")
    _refused(cfg.set, "S3_BUCKET\x00", "bucket")
    assert cfg.get("S3_BUCKET") is None
    _refused(docstore.Config, {"LOCAL_STORAGE_PATH": "dir\x00x"})
    _refused(cfg.load_dotenv, str(tmp_path / ".env\x00"))

    # Providers and their options structs.
    _refused(docstore.LocalStorageProvider, str(tmp_path / "d\x00x"))
    local = docstore.LocalStorageProvider(str(tmp_path / "raw"))
    _refused(local.put, NUL, b"data")
    _refused(local.get, NUL)
    _refused(local.head, NUL)
    _refused(local.delete, NUL)
    _refused(local.list, "documents\x00")
    _refused(_s3, session_token="tok\x00en")
    _refused(docstore.S3StorageProvider, "AKIA", "sec\x00ret", "bucket")
    _refused(docstore.ObjectStorageService, local, legacy_root="l\x00x")


def test_integers_are_refused_not_wrapped(tmp_path):
    svc = docstore.ObjectStorageService(_s3())
    path = "documents/system/2024/01/01/1_a.pdf_pdf.json"
    # 5 hours: what 2**64 + 5 used to become.
    assert "X-Amz-Expires=18000" in svc.get_download_url(path, 5)
    # Hours become docstore_service_presign's seconds; 0 still means 24.
    assert "X-Amz-Expires=86400&" in svc.get_download_url(path, 0)
    assert "X-Amz-Expires=604800&" in svc.get_download_url(path, 168)
    with pytest.raises(docstore.InvalidArgumentError, match="604800"):
        svc.get_download_url(path, 169)
    _refused(svc.get_download_url, path, HUGE, match="out of range")
    _refused(svc.get_download_url, path, 2**32 + 5, match="out of range")
    _refused(svc.get_download_url, path, -1, match="out of range")
    _refused(svc.get_download_url, path, 1.5, match="expected an integer")
    _refused(svc.get_download_url, path, float("nan"))
    _refused(svc.get_download_url, path, "5")
    p = svc.provider
    assert "X-Amz-Expires=60" in p.presign(path, 60)
    _refused(p.presign, path, HUGE)
    _refused(p.presign, path, -60)
    _refused(p.generate_presigned_url, path, 2**64 + 60)

    # 2**32 + 2048 bits was 2048; -1 was 4294967295.
    _refused(docstore.generate_key_pair, 2**32 + 2048)
    _refused(docstore.generate_key_pair, -1)
    _refused(docstore.storage_path, "1", "a.pdf", "7", 2**63)
    _refused(docstore.storage_path, "1", "a.pdf", "7", 1.7e9)
    assert "/2024/01/01/" in docstore.storage_path("1", "a.pdf", "7",
                                                   1704067200)
    # Option structs.
    _refused(_s3, max_attempts=2**32 + 1)
    _refused(_s3, multipart_part_size=-1)
    _refused(_s3, request_timeout_ms=1.5)
    _refused(_s3, addressing="sideways", match="auto, path, virtual")
    _refused(migrate.schema_sql, env=False, batch_size=2**32 + 10)
    _refused(migrate.schema_sql, env=False, tables=2**32 + 3)
    _refused(migrate.schema_sql, env=False, schema="doc\x00ument")
    assert "document" in migrate.schema_sql(env=False, jobs=2)


class _Liar(docstore.CustomProvider):
    """Reports sizes and keys C cannot hold."""

    def __init__(self):
        self.objects = {}

    def put(self, key, data):
        self.objects[key] = data

    def get(self, key):
        return self.objects[key]

    def head(self, key):
        if key.endswith("neg"):
            return -1
        return len(self.objects[key]), 1704067200.75  # float mtime: fine

    def delete(self, key):
        self.objects.pop(key, None)

    def list(self, prefix):
        return [("documents/ok", 1), ("documents/bad\x00key", 2)]


def test_values_a_custom_provider_returns_are_checked():
    p = docstore.StorageProvider.from_custom(_Liar())
    p.put("documents/ok", b"12")
    assert p.head("documents/ok").size == 2
    assert p.head("documents/ok").mtime == 1704067200
    # size -1 was 2**64 - 1; a key with a NUL was cut.
    p.put("documents/neg", b"")
    e = _refused(p.head, "documents/neg")
    assert "docstore_object_info.size" in e.message
    e = _refused(p.list, "documents/")
    assert "docstore_object_info.key" in e.message


def test_streaming_arguments_are_refused_not_cut(local_service):
    svc = local_service
    path = svc.store_document_sync("1", "a.pdf", b"data", "7")
    # docstore_writer_begin's arguments and docstore_write_options' fields.
    _refused(svc.open_writer, "1\x00", "a.pdf", "7",
             match=r"^docstore_writer_begin argument 3: .*NUL")
    _refused(svc.open_writer, "1", "a.pdf\x00.exe", "7")
    _refused(svc.open_writer, "1", "a.pdf", "7", content_type="text/\x00x",
             match=r"^docstore_write_options\.content_type: ")
    _refused(svc.open_writer, "1", "a.pdf", "7", size_hint=-1,
             match=r"^docstore_write_options\.size_hint: .*out of range")
    _refused(svc.open_writer, "1", "a.pdf", "7", size_hint=HUGE)
    _refused(svc.open_writer, "1", "a.pdf", "7", compression_level=2**31)
    _refused(svc.open_writer, "1", "a.pdf", "7", envelope_version=1.5)
    _refused(svc.open_writer, "1", "a.pdf", "7", recipients=["sha256:\x00"],
             match=r"^recipients\[0\]: ")
    _refused(svc.store_stream_sync, "1\x00", "a.pdf", b"x", "7")
    # docstore_reader_open's arguments and docstore_read_options' fields.
    _refused(svc.open_reader, path + "\x00/../x",
             match=r"^docstore_reader_open argument 3: ")
    _refused(svc.open_reader, path, expect=("1\x00", "7"),
             match=r"^docstore_doc_id\.file_id: ")
    _refused(svc.open_reader, path, offset=-1,
             match=r"^docstore_read_options\.offset: ")
    _refused(svc.open_reader, path, length=HUGE,
             match=r"^docstore_read_options\.length: ")
    _refused(svc.open_reader, path, offset=1.5)
    _refused(svc.retrieve_to_sync, path + "\x00", "out.bin")
    # Data: bytes-like only (an int would be taken as a size or address).
    w = svc.open_writer("1", "b.pdf", "7")
    _refused(w.write, 5, match="bytes-like")
    _refused(w.write, [1, 2])
    _refused(w.write, "\udc80", match="lone surrogate")
    w.abort()
    with svc.open_reader(path) as r:
        _refused(r.readinto, b"read-only", match="read-only")
        _refused(r.readinto, 4096)
        assert r.read() == b"data"
    assert [i.key for i in svc.list_documents_sync("documents/")] == [path]
