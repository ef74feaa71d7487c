# Every library error code maps to its own exception class, and real
# failures raise the right class with the library's message.
# SPDX-License-Identifier: Apache-2.0
import json

import pytest

import docstore
from docstore import _ffi
from helpers import closed_port

EXPECTED = {
    -1: ("InvalidArgumentError", "DOCSTORE_EINVAL"),
    -2: ("ConfigError", "DOCSTORE_ECONFIG"),
    -3: ("NotFoundError", "DOCSTORE_ENOTFOUND"),
    -4: ("AccessDeniedError", "DOCSTORE_EACCESS"),
    -5: ("NoSuchBucketError", "DOCSTORE_ENOBUCKET"),
    -6: ("ConnectError", "DOCSTORE_ECONNECT"),
    -7: ("TimedOutError", "DOCSTORE_ETIMEOUT"),
    -8: ("IntegrityError", "DOCSTORE_EINTEGRITY"),
    -9: ("CryptoError", "DOCSTORE_ECRYPTO"),
    -10: ("UnsupportedError", "DOCSTORE_EUNSUPPORTED"),
    -11: ("StorageIOError", "DOCSTORE_EIO"),
    -12: ("OutOfMemoryError", "DOCSTORE_ENOMEM"),
    -13: ("FormatError", "DOCSTORE_EFORMAT"),
    -14: ("BadKeyError", "DOCSTORE_EKEY"),
    -15: ("ServerError", "DOCSTORE_ESERVER"),
    -16: ("BusyError", "DOCSTORE_EBUSY"),
    -17: ("DatabaseError", "DOCSTORE_EDATABASE"),
    -18: ("CanceledError", "DOCSTORE_ECANCELED"),
    -19: ("TooBigError", "DOCSTORE_ETOOBIG"),
    -20: ("AlreadyExistsError", "DOCSTORE_EEXISTS"),
    -21: ("ObjectChangedError", "DOCSTORE_ECHANGED"),
}


def test_every_library_code_has_its_own_class():
    lib = _ffi.lib()
    # The library knows exactly these codes: the next one is unknown to it.
    assert _ffi.dec(lib.docstore_error_name(-22)) == "DOCSTORE_EUNKNOWN"
    classes = set()
    for code, (cls_name, name) in EXPECTED.items():
        assert _ffi.dec(lib.docstore_error_name(code)) == name
        cls = getattr(docstore, cls_name)
        assert issubclass(cls, docstore.DocstoreError)
        assert cls.code == code and cls.name == name
        assert docstore.ERROR_CLASSES[code] is cls
        exc = docstore.error_from_code(code, "detail %d" % code)
        assert type(exc) is cls
        assert exc.code == code and exc.name == name
        assert str(exc) == exc.message == "detail %d" % code
        classes.add(cls)
    assert len(classes) == len(EXPECTED)
    assert set(docstore.ERROR_CLASSES) == set(EXPECTED)


def test_unknown_code_is_the_base_class():
    exc = docstore.error_from_code(-999, "from a newer library")
    assert type(exc) is docstore.DocstoreError
    assert exc.code == -999 and exc.name == "DOCSTORE_EUNKNOWN"
    assert str(exc) == "from a newer library"


def test_builtin_bases_for_generic_handlers():
    assert issubclass(docstore.InvalidArgumentError, ValueError)
    assert issubclass(docstore.NotFoundError, LookupError)
    assert issubclass(docstore.ConnectError, ConnectionError)
    assert issubclass(docstore.TimedOutError, TimeoutError)
    exc = docstore.error_from_code(-11, "write x: disk full")
    assert isinstance(exc, OSError) and str(exc) == "write x: disk full"


def _raises(cls, fn, *args, **kwargs):
    with pytest.raises(cls) as info:
        fn(*args, **kwargs)
    assert info.value.code == cls.code
    assert info.value.message, "the library gave no message"
    return info.value


def test_real_failures_raise_the_right_class(local_service, keyring,
                                             tmp_path):
    svc = local_service
    e = _raises(docstore.NotFoundError, svc.retrieve_encrypted_document_sync,
                "documents/user_1/2024/01/01/9_missing.pdf_pdf.json")
    assert "9_missing" in e.message
    _raises(docstore.InvalidArgumentError, svc.store_document_sync,
            "bad/id", "a.pdf", b"x", "1")
    _raises(docstore.InvalidArgumentError, svc.retrieve_encrypted_document_sync,
            "../etc/passwd")
    _raises(docstore.FormatError, svc.store_encrypted_document_sync,
            "1", "a.pdf", {"not": "an envelope"}, "1")
    _raises(docstore.UnsupportedError, svc.get_download_url,
            "documents/system/2024/01/01/1_a.pdf_pdf.json")
    path = svc.store_document_sync("1", "a.pdf", b"secret", "7")
    e = _raises(docstore.IntegrityError, svc.read_document_sync, path,
                "2", "7")
    assert "another document" in e.message
    _raises(docstore.BadKeyError, docstore.generate_key_pair, 1024)
    _raises(docstore.BadKeyError, keyring.add_public_pem, "not a key")
    _raises(docstore.BadKeyError, keyring.set_default, "sha256:00")
    _raises(docstore.FormatError, docstore.envelope_info, "{}")
    _raises(docstore.ConfigError, docstore.Config, {"NO_SUCH_SETTING": "x"})
    e = _raises(docstore.ConfigError, docstore.Config,
                {"S3_MAX_ATTEMPTS": "many"})
    assert "S3_MAX_ATTEMPTS" in e.message
    _raises(docstore.NotFoundError, keyring.add_private_file,
            str(tmp_path / "nope.pem"))

    # A keyring without the private key of an envelope.
    other = docstore.Keyring()
    other.add_public_pem(docstore.generate_key_pair(2048)[0])
    _raises(docstore.BadKeyError, other.open,
            svc.retrieve_encrypted_document_sync(path))
    # Tampered ciphertext: a v1 JSON envelope, and the v2 one stored.
    env = json.loads(keyring.seal(b"secret", "1", "7"))
    ct = env["ciphertext"]
    env["ciphertext"] = ("A" if ct[0] != "A" else "B") + ct[1:]
    _raises(docstore.IntegrityError, keyring.open, json.dumps(env))
    v2 = bytearray(svc.retrieve_encrypted_document_sync(path))
    assert keyring.open(bytes(v2)) == b"secret"
    v2[-1] ^= 1
    _raises(docstore.IntegrityError, keyring.open, bytes(v2))

    s3 = docstore.S3StorageProvider(
        "AKIAEXAMPLE", "secret", "bucket",
        endpoint_url="http://127.0.0.1:%d" % closed_port(), max_attempts=1)
    e = _raises(docstore.ConnectError, s3.get, "documents/x.json")
    assert "secret" not in e.message
    _raises(docstore.ConfigError, docstore.S3StorageProvider, "AKIA",
            "secret", "bucket", endpoint_url="ftp://nowhere")
    # Keywords become settings: the schema's range, under the setting's name.
    e = _raises(docstore.ConfigError, docstore.S3StorageProvider, "AKIA",
                "secret", "bucket", retry_base_ms=60001)
    assert "S3_RETRY_BASE_MS" in e.message
    e = _raises(docstore.ConfigError, docstore.S3StorageProvider, "AKIA",
                "secret", None)
    assert "S3_BUCKET" in e.message


def test_list_callback_can_stop_without_error(local_service):
    for i in range(3):
        local_service.store_document_sync(str(i), "a.pdf", b"x", "1")
    seen = []
    local_service.list_documents_sync(each=lambda info: seen.append(info)
                                      or False)
    assert len(seen) == 1  # stopped after the first, without an error
    assert len(local_service.list_documents_sync()) == 3


def test_list_callback_exception_propagates(local_service):
    local_service.store_document_sync("1", "a.pdf", b"x", "1")

    def boom(info):
        raise RuntimeError("from the callback")
    with pytest.raises(RuntimeError, match="from the callback"):
        local_service.list_documents_sync(each=boom)


def test_message_is_this_threads_own_failure(local_service):
    # Thread A fails (not found), then thread B fails on the same service
    # (invalid key), overwriting the handle's last error.  A's message, read
    # on A afterwards, is still A's own.
    import threading
    a_failed, b_failed = threading.Event(), threading.Event()
    result = {}
    lib = _ffi.lib()

    def a():
        rc = lib.docstore_service_delete(local_service._p(), b"/abs")
        assert rc == -1
        a_failed.set()
        b_failed.wait(10)
        result["a"] = _ffi.error_message(rc, lib.docstore_service_errmsg,
                                         local_service._p())
        result["handle"] = _ffi.dec(lib.docstore_service_errmsg(
            local_service._p()))

    def b():
        a_failed.wait(10)
        with pytest.raises(docstore.NotFoundError):
            local_service.retrieve_encrypted_document_sync(
                "documents/user_1/2024/01/01/1_x.pdf_pdf.json")
        b_failed.set()
    ta, tb = threading.Thread(target=a), threading.Thread(target=b)
    ta.start()
    tb.start()
    ta.join()
    tb.join()
    assert "1_x.pdf" in result["handle"]       # the handle has B's failure
    assert "1_x.pdf" not in result["a"]        # A still reads its own
    assert result["a"]


def test_errbuf_of_constructors_reaches_the_exception(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    with pytest.raises(docstore.DocstoreError) as info:
        docstore.LocalStorageProvider(str(blocker / "sub"))
    assert info.value.code in (-2, -11)
    assert info.value.message != type(info.value).__doc__
    assert "sub" in info.value.message
