# The seed-shaped facade, plaintext helpers, keys, configuration, factory,
# custom providers and handle ownership.
# SPDX-License-Identifier: Apache-2.0
import asyncio
import datetime
import json
import os
import re

import pytest

import docstore
from docstore.object_storage_service import (
    ObjectStorageFactory, ObjectStorageService, get_storage_service,
    init_storage_service)
from helpers import legacy_envelope


def _today_path(user, name):
    d = datetime.datetime.now(datetime.timezone.utc).strftime("%Y/%m/%d")
    return "documents/%s/%s/%s" % (user, d, name)


@pytest.mark.asyncio
async def test_seed_direct_usage(local_service, keyring):
    storage_service = local_service
    encrypted_data = json.loads(keyring.seal(b"%PDF-1.7", "123", "456"))
    storage_path = await storage_service.store_encrypted_document(
        file_id=123,
        filename="document.pdf",
        encrypted_data=encrypted_data,
        user_id=456,
    )
    assert storage_path == _today_path("user_456",
                                       "123_document.pdf_pdf.json")
    assert await storage_service.retrieve_encrypted_document(
        storage_path) == encrypted_data
    assert await storage_service.document_exists(storage_path)
    assert await storage_service.document_size(storage_path) > 0
    assert keyring.open(await storage_service.retrieve_encrypted_document(
        storage_path), "123", "456") == b"%PDF-1.7"
    await storage_service.delete_document(storage_path)
    assert not await storage_service.document_exists(storage_path)
    assert await storage_service.document_size(storage_path) is None
    with pytest.raises(docstore.NotFoundError):
        await storage_service.retrieve_encrypted_document(storage_path)
    await storage_service.delete_document(storage_path)  # idempotent
    with pytest.raises(docstore.UnsupportedError):
        storage_service.get_download_url(storage_path, expiration_hours=24)


@pytest.mark.asyncio
async def test_system_document_and_plaintext_helpers(local_service):
    path = await local_service.store_document(5, "template.pdf", b"T" * 5000)
    assert path == _today_path("system", "5_template.pdf_pdf.json")
    assert await local_service.read_document(path) == b"T" * 5000
    assert await local_service.read_document(path, file_id=5) == b"T" * 5000
    with pytest.raises(docstore.IntegrityError):
        await local_service.read_document(path, file_id=5, user_id="9")
    empty = await local_service.store_document("e", "empty.txt", b"", "1")
    assert await local_service.read_document(empty, "e", "1") == b""
    names = [i.key for i in await local_service.list_documents()]
    assert sorted(names) == sorted([path, empty])
    assert await local_service.list_documents("documents/system/") != []
    assert local_service.storage_type == "local"
    assert "passport" in docstore.storage_path(1, "passport.pdf", 2, 0)
    assert docstore.storage_path(1, "../../x.pdf", None, 0).startswith(
        "documents/system/1970/01/01/1_")


def test_hostile_filename_stays_in_layout(local_service):
    path = local_service.store_document_sync("1", "../../etc/passwd\n.pdf",
                                             b"x", "2")
    assert re.fullmatch(r"documents/user_2/\d{4}/\d\d/\d\d/1_[^/]+\.json",
                        path), path
    assert local_service.read_document_sync(path, "1", "2") == b"x"


def test_legacy_envelope_and_fallback(local_service, key_pair, tmp_path):
    legacy = legacy_envelope(b"old scan", key_pair[1])
    (tmp_path / "legacy" / "old.json").write_text(json.dumps(legacy))
    got = local_service.retrieve_with_fallback_sync(None, "old.json")
    assert got == legacy
    assert local_service.keyring.open(got) == b"old scan"
    info = docstore.envelope_info(got)
    assert info.format == docstore.crypto.ENVELOPE_LEGACY
    assert info.key_id is None
    # Stored as is, the legacy envelope is accepted and read back.
    path = local_service.store_encrypted_document_sync("4", "c.pdf", legacy,
                                                       "1")
    assert local_service.read_document_sync(path) == b"old scan"


def test_keys_rotation_and_rewrap(tmp_path):
    old_pub, old_priv = docstore.generate_key_pair(2048)
    new_pub, new_priv = docstore.generate_key_pair(2048, passphrase="pw")
    assert "ENCRYPTED" in new_priv
    kr = docstore.Keyring()
    old_id = kr.add_private_pem(old_priv)
    new_id = kr.add_private_pem(new_priv, passphrase="pw")
    assert old_id != new_id and old_id.startswith("sha256:")
    assert kr.counts() == (2, 2)
    env = kr.seal(b"doc", "1", "2")
    assert docstore.envelope_info(env).key_id == old_id
    kr.set_default(new_id)
    rewrapped = kr.rewrap(env)
    info = docstore.envelope_info(rewrapped)
    assert info.key_id == new_id and info.file_id == "1"
    assert info.user_id == "2" and info.plaintext_size == 3
    only_new = docstore.Keyring()
    (tmp_path / "new.pem").write_text(new_priv)
    only_new.add_private_file(str(tmp_path / "new.pem"), "pw")
    assert only_new.open(rewrapped, "1", "2") == b"doc"
    with pytest.raises(docstore.BadKeyError):
        only_new.open(env)
    with pytest.raises(docstore.BadKeyError):
        docstore.Keyring().add_private_pem(new_priv, passphrase="wrong")
    pub_only = docstore.Keyring()
    (tmp_path / "pub.pem").write_text(old_pub)
    assert pub_only.add_public_file(str(tmp_path / "pub.pem")) == old_id
    assert pub_only.counts() == (1, 0)


def test_config_dump_masks_secrets_and_validates(tmp_path):
    cfg = docstore.Config({"STORAGE_TYPE": "s3", "S3_BUCKET": "bank-documents",
                           "S3_ACCESS_KEY": "AKIA", "S3_SECRET_KEY": "hunter2",
                           "S3_ENDPOINT_URL": None})
    assert cfg.get("S3_BUCKET") == "bank-documents"
    assert cfg.get("S3_ENDPOINT_URL") is None
    dump = cfg.dump()
    assert "S3_BUCKET=bank-documents" in dump and "hunter2" not in dump
    cfg.validate()
    cfg.set("S3_BUCKET", None)
    with pytest.raises(docstore.ConfigError, match="S3_BUCKET"):
        cfg.validate()
    dotenv = tmp_path / ".env"
    dotenv.write_text("# comment\nexport STORAGE_TYPE=local\n"
                      "LOCAL_STORAGE_PATH='%s'\nOTHER_APP_VAR=1\n"
                      % (tmp_path / "files"))
    cfg2 = docstore.Config(dotenv=str(dotenv))
    assert cfg2.get("STORAGE_TYPE") == "local"
    svc = ObjectStorageService.from_config(cfg2)
    assert svc.storage_type == "local"
    assert isinstance(svc.provider, docstore.LocalStorageProvider)
    assert "STORAGE_TYPE" in docstore.Config.names()


@pytest.mark.asyncio
async def test_init_and_get_storage_service(tmp_path, key_pair):
    (tmp_path / "pub.pem").write_text(key_pair[0])
    (tmp_path / "priv.pem").write_text(key_pair[1])
    config = {
        "STORAGE_TYPE": "local",
        "S3_ACCESS_KEY": None, "S3_SECRET_KEY": None, "S3_BUCKET": None,
        "S3_REGION": None, "S3_ENDPOINT_URL": None,
        "LOCAL_STORAGE_PATH": str(tmp_path / "encrypted_files"),
        "RSA_PUBLIC_KEY_PATH": str(tmp_path / "pub.pem"),
        "RSA_PRIVATE_KEY_PATH": str(tmp_path / "priv.pem"),
    }
    storage_service = init_storage_service(config)
    assert get_storage_service() is storage_service
    path = await get_storage_service().store_document(1, "passport.pdf",
                                                      b"P", 123)
    assert os.path.isfile(tmp_path / "encrypted_files" / path)
    assert await storage_service.read_document(path, 1, 123) == b"P"
    again = init_storage_service(config)  # replaces, the old one still works
    assert get_storage_service() is again and again is not storage_service
    assert await storage_service.read_document(path) == b"P"


def test_factory_providers(tmp_path):
    p = ObjectStorageFactory.create_provider(
        {"STORAGE_TYPE": "local", "LOCAL_STORAGE_PATH": str(tmp_path)})
    assert isinstance(p, docstore.LocalStorageProvider)
    assert p.name == "local"
    p.put("a/b.txt", b"1")
    assert p.get("a/b.txt") == b"1"
    assert p.head("a/b.txt").size == 1
    svc = ObjectStorageService(p)  # shares the provider's service
    assert svc.provider is p and svc.storage_type == "local"
    with pytest.raises(ValueError):
        ObjectStorageService(p, docstore.Keyring())
    s3 = ObjectStorageFactory.initialize(
        {"STORAGE_TYPE": "s3", "S3_BUCKET": "bank-documents", "S3_ACCESS_KEY": "a",
         "S3_SECRET_KEY": "s", "S3_ENDPOINT_URL": "http://127.0.0.1:9"})
    assert isinstance(s3, docstore.S3StorageProvider)
    assert s3.name == "s3"
    assert ObjectStorageFactory.get_provider() is s3
    url = s3.generate_presigned_url("documents/x.json", expiration=60)
    assert url.startswith("http://127.0.0.1:9/") and "X-Amz-Signature" in url
    with pytest.raises(docstore.ConfigError, match="S3_BUCKET"):
        ObjectStorageFactory.create_provider({"STORAGE_TYPE": "s3"})


@pytest.mark.asyncio
async def test_provider_seed_methods(tmp_path):
    provider = docstore.LocalStorageProvider(str(tmp_path), fsync=False)
    assert await provider.upload_file("x/y.bin", bytearray(b"abc")) == \
        "x/y.bin"
    assert await provider.download_file("x/y.bin") == b"abc"
    assert await provider.file_exists("x/y.bin")
    assert await provider.get_file_size("x/y.bin") == 3
    assert await provider.list_files("x/") == ["x/y.bin"]
    assert await provider.delete_file("x/y.bin") is True
    assert not await provider.file_exists("x/y.bin")
    with pytest.raises(docstore.NotFoundError):
        await provider.download_file("x/y.bin")
    with pytest.raises(docstore.UnsupportedError):
        provider.generate_presigned_url("x/y.bin")
    with pytest.raises(docstore.InvalidArgumentError):
        await provider.upload_file("../escape", b"")
    assert provider.check() is not None


class DictProvider(docstore.CustomProvider):
    name = "memory"

    def __init__(self):
        self.objects = {}
        self.freed = False

    def put(self, key, data):
        self.objects[key] = bytes(data)

    def get(self, key):
        return self.objects[key]  # KeyError -> not found

    def head(self, key):
        return len(self.objects[key]), 1700000000

    def delete(self, key):
        self.objects.pop(key, None)

    def list(self, prefix):
        return [(k, len(v)) for k, v in sorted(self.objects.items())
                if k.startswith(prefix)]


def test_custom_provider_through_the_service(keyring):
    backend = DictProvider()
    provider = docstore.StorageProvider.from_custom(backend)
    assert provider.name == "memory"
    svc = ObjectStorageService(provider, keyring)
    assert svc.storage_type == "memory"
    path = svc.store_document_sync("1", "a.pdf", b"data", "2")
    assert path in backend.objects
    # a v2 envelope (the default since 0.3.0), stored by the adapter
    assert backend.objects[path].startswith(b"\x89DSE\r\n\x1a\n")
    assert svc.read_document_sync(path, "1", "2") == b"data"
    assert svc.document_size_sync(path) == len(backend.objects[path])
    assert [i.key for i in svc.list_documents_sync()] == [path]
    with pytest.raises(docstore.NotFoundError) as info:
        svc.read_document_sync(path + "x")
    assert "KeyError" in info.value.message or "x" in info.value.message
    with pytest.raises(docstore.UnsupportedError):
        svc.get_download_url(path)
    stats = svc.stats()
    assert stats["put"]["successes"] == 1
    assert stats["get"]["failures"] == 1
    assert svc.stats_json()["put"]["successes"] == 1
    svc.reset_stats()
    assert svc.stats()["put"]["successes"] == 0
    svc.close()
    with pytest.raises(ValueError):
        provider.get(path)  # freed with its service
    from docstore import providers
    assert not providers._custom  # the library released the payload


def test_custom_provider_error_codes():
    class Failing(DictProvider):
        def put(self, key, data):
            raise docstore.AccessDeniedError("no writes today")

        def get(self, key):
            raise RuntimeError("disk on fire")
    p = docstore.StorageProvider.from_custom(Failing())
    with pytest.raises(docstore.AccessDeniedError, match="no writes today"):
        p.put("k", b"v")
    with pytest.raises(docstore.StorageIOError, match="disk on fire"):
        p.get("k")
    with pytest.raises(docstore.UnsupportedError):
        p.presign("k")
    p.close()


def test_ownership_moves_to_the_service(tmp_path, keyring):
    provider = docstore.LocalStorageProvider(str(tmp_path))
    svc = ObjectStorageService(provider, keyring)
    with pytest.raises(ValueError):
        ObjectStorageService(docstore.LocalStorageProvider(str(tmp_path)),
                             keyring)  # the keyring belongs to svc now
    provider.close()  # not the owner any more: no effect
    provider.put("k", b"v")
    assert svc.provider.get("k") == b"v"
    assert keyring.counts() == (1, 1)
    assert svc.keyring is keyring
    del svc
    import gc
    gc.collect()
    assert provider.get("k") == b"v"  # the provider keeps the service alive


def test_version_and_key_check():
    assert docstore.library_version() == docstore.__version__
    docstore.key_check("documents/a.json")
    with pytest.raises(docstore.InvalidArgumentError):
        docstore.key_check("a//b")


def test_logging_to_python_logging(local_service, caplog):
    import logging
    docstore.use_python_logging("docstore.test", docstore.LOG_INFO)
    try:
        with caplog.at_level(logging.INFO, logger="docstore.test"):
            local_service.store_document_sync("1", "a.pdf", b"x", "2")
    finally:
        docstore.set_log_callback(None)
    assert any(r.name == "docstore.test" for r in caplog.records)


def test_awaitables_use_the_given_executor(tmp_path, keyring):
    from concurrent.futures import ThreadPoolExecutor
    import threading
    names = set()

    class Recording(ThreadPoolExecutor):
        def submit(self, fn, *a, **k):
            def wrapped():
                names.add(threading.current_thread().name)
                return fn(*a, **k)
            return super().submit(wrapped)
    with Recording(max_workers=2, thread_name_prefix="dsx") as pool:
        svc = ObjectStorageService(docstore.LocalStorageProvider(
            str(tmp_path)), keyring, executor=pool)
        path = asyncio.run(svc.store_document("1", "a.pdf", b"x", "2"))
        assert asyncio.run(svc.read_document(path)) == b"x"
    assert names and all(n.startswith("dsx") for n in names)
