# Against a real S3 server (CI: OpenStack Swift with s3api).  Run when the
# S3_* variables are set; with DOCSTORE_REQUIRE_S3=1 a missing or
# unreachable server fails these tests instead of skipping them.
# SPDX-License-Identifier: Apache-2.0
import asyncio
import json
import os
import urllib.request

import pytest

import docstore
from docstore.object_storage_service import (
    ObjectStorageService, S3StorageProvider, get_storage_service,
    init_storage_service)

RUN = "py%d" % os.getpid()


def _provider(settings, **kw):
    return S3StorageProvider(
        settings["S3_ACCESS_KEY"], kw.pop("secret_key",
                                          settings["S3_SECRET_KEY"]),
        kw.pop("bucket", settings["S3_BUCKET"]), settings["S3_REGION"],
        settings["S3_ENDPOINT_URL"], **kw)


def test_server_reachable(s3_settings):
    report = _provider(s3_settings).check()
    assert isinstance(report, str)


@pytest.mark.asyncio
async def test_seed_usage_on_s3(s3_settings, keyring):
    storage_service = init_storage_service(s3_settings)
    assert get_storage_service().storage_type == "s3"
    encrypted_data = json.loads(keyring.seal(b"%PDF s3", RUN, "456"))
    storage_path = await storage_service.store_encrypted_document(
        file_id=RUN, filename="document.pdf",
        encrypted_data=encrypted_data, user_id=456)
    assert storage_path.startswith("documents/user_456/")
    assert await storage_service.retrieve_encrypted_document(
        storage_path) == encrypted_data
    url = storage_service.get_download_url(storage_path, expiration_hours=24)
    assert "X-Amz-Signature" in url
    with urllib.request.urlopen(url, timeout=30) as r:
        assert json.loads(r.read()) == encrypted_data
    with pytest.raises(docstore.InvalidArgumentError):
        storage_service.get_download_url(storage_path, expiration_hours=169)
    await storage_service.delete_document(storage_path)
    assert not await storage_service.document_exists(storage_path)
    with pytest.raises(docstore.NotFoundError):
        await storage_service.retrieve_encrypted_document(storage_path)


@pytest.mark.asyncio
async def test_provider_seed_methods_on_s3(s3_settings):
    provider = _provider(s3_settings)
    key = "tests/%s/test.txt" % RUN
    path = await provider.upload_file(key, b"test content")
    assert path.endswith("test.txt")
    assert await provider.download_file(key) == b"test content"
    assert await provider.file_exists(key)
    assert await provider.get_file_size(key) == 12
    assert key in await provider.list_files("tests/%s/" % RUN)
    with urllib.request.urlopen(provider.generate_presigned_url(key, 60),
                                timeout=30) as r:
        assert r.read() == b"test content"
    await provider.delete_file(key)
    assert not await provider.file_exists(key)


@pytest.mark.asyncio
async def test_concurrent_plaintext_stores_on_s3(s3_settings, keyring):
    svc = ObjectStorageService(_provider(s3_settings), keyring)
    paths = await asyncio.gather(*[
        svc.store_document("%s-%d" % (RUN, i), "scan.png", b"S%d" % i, "9")
        for i in range(100)])
    got = await asyncio.gather(*[
        svc.read_document(p, "%s-%d" % (RUN, i), "9")
        for i, p in enumerate(paths)])
    assert got == [b"S%d" % i for i in range(100)]
    await asyncio.gather(*[svc.delete_document(p) for p in paths])
    assert svc.stats()["put"]["successes"] == 100


def test_s3_errors(s3_settings):
    bad = _provider(s3_settings, secret_key="wrong-secret", max_attempts=1)
    with pytest.raises(docstore.AccessDeniedError) as info:
        bad.put("tests/%s/x" % RUN, b"x")
    assert "wrong-secret" not in info.value.message
    nobucket = _provider(s3_settings, bucket="no-such-bucket-%s" % RUN,
                         max_attempts=1)
    with pytest.raises(docstore.NoSuchBucketError):
        nobucket.get("tests/x")


@pytest.mark.parametrize("concurrency", [1, 3])
def test_multipart_concurrency(s3_settings, concurrency):
    provider = _provider(s3_settings, multipart_threshold=5 << 20,
                         multipart_part_size=5 << 20,
                         multipart_concurrency=concurrency)
    key = "tests/%s/multipart-c%d.bin" % (RUN, concurrency)
    data = os.urandom(5 << 20) * 3 + b"tail"  # 4 parts
    provider.put(key, data)
    try:
        assert provider.get(key) == data
    finally:
        provider.delete(key)
    with pytest.raises(docstore.ConfigError) as info:
        _provider(s3_settings, multipart_concurrency=65)
    # Named as the setting the keyword fills, with the schema's range.
    assert "S3_MULTIPART_CONCURRENCY" in info.value.message
    assert "1 to 64" in info.value.message


@pytest.mark.asyncio
async def test_streams_on_s3(s3_settings, keyring):
    """S3 streams through the library's buffering adapter until it has
    streaming operations of its own: the same calls, the same results."""
    svc = ObjectStorageService(_provider(s3_settings), keyring)
    data = os.urandom(3 * 1024 * 1024 + 5)

    async def chunks():
        for i in range(0, len(data), 500_000):
            yield data[i:i + 500_000]
    path = await svc.store_stream(RUN + "s", "scan.pdf", chunks(), "456")
    try:
        with svc.open_reader(path, expect=(RUN + "s", "456")) as r:
            assert r.size == len(data)
            assert r.read() == data
        with svc.open_reader(path, offset=70_000, length=100_000) as r:
            assert r.read() == data[70_000:170_000]
        with pytest.raises(docstore.AlreadyExistsError):
            svc.store_stream_sync(RUN + "s", "scan.pdf", b"x", "456",
                                  no_clobber=True)
        with pytest.raises(RuntimeError):
            with svc.open_writer(RUN + "t", "scan.pdf", "456") as w:
                w.write(data)
                raise RuntimeError("abort")
        assert not svc.document_exists_sync(
            docstore.storage_path(RUN + "t", "scan.pdf", "456"))
    finally:
        svc.delete_document_sync(path)
