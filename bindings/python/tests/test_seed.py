# The seed guide's own unit tests ("Testing" section), with only the import
# line changed from services.object_storage_service to the package.  The
# seed left the body of test_s3_storage_fallback as `...`: it is written out
# here (S3 at a closed port, the document's legacy local file present).
# conftest.py runs them in a fresh folder (they use relative paths).
# SPDX-License-Identifier: Apache-2.0
import pytest

from docstore.object_storage_service import (
    LocalStorageProvider,
    S3StorageProvider,
    ObjectStorageFactory,
)


@pytest.mark.asyncio
async def test_local_storage_upload():
    provider = LocalStorageProvider("test_storage/")
    path = await provider.upload_file(
        "test.txt",
        b"test content"
    )
    assert path.endswith("test.txt")


@pytest.mark.asyncio
async def test_s3_storage_fallback():
    # Test graceful fallback when S3 is unavailable
    import json
    import logging
    import os
    import docstore
    from helpers import bytes_to_dict, closed_port, legacy_envelope

    _, private_pem = docstore.generate_key_pair(2048)
    legacy = legacy_envelope(b"passport scan", private_pem)
    os.makedirs("encrypted_files", exist_ok=True)
    with open("encrypted_files/4_certificate.json", "w") as f:
        json.dump(legacy, f)
    attachment_filepath = "encrypted_files/4_certificate.json"
    storage_path = "documents/user_456/2024/01/15/4_certificate.pdf_pdf.json"

    config = {
        "STORAGE_TYPE": "s3",
        "S3_ACCESS_KEY": "AKIA1234567890ABCDEF",
        "S3_SECRET_KEY": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
        "S3_BUCKET": "bank-documents",
        "S3_REGION": "us-east-1",
        "S3_ENDPOINT_URL": "http://127.0.0.1:%d" % closed_port(),
        "S3_MAX_ATTEMPTS": "1",
        "LOCAL_STORAGE_PATH": "encrypted_files/",
        "DOCSTORE_LEGACY_ROOT": os.getcwd(),
    }
    provider = ObjectStorageFactory.initialize(config)
    assert isinstance(provider, S3StorageProvider)
    assert ObjectStorageFactory.get_provider() is provider
    storage_service = docstore.ObjectStorageService(provider)
    assert storage_service.storage_type == "s3"

    # The seed's pattern: the caller falls back by hand.
    failed_with = None
    try:
        encrypted_data = await storage_service.retrieve_encrypted_document(
            storage_path)
    except Exception as e:
        logging.getLogger(__name__).warning(
            f"Failed to retrieve from storage: {e}")
        failed_with = e
        if os.path.exists(attachment_filepath):
            with open(attachment_filepath, "rb") as f:
                encrypted_data = bytes_to_dict(f.read())
    assert isinstance(failed_with, docstore.ConnectError)
    assert failed_with.code == -6 and failed_with.name == "DOCSTORE_ECONNECT"
    assert encrypted_data == legacy

    # The library's own fallback does the same and logs the seed's warning.
    lines = []
    docstore.set_log_callback(lambda level, msg: lines.append((level, msg)),
                              docstore.LOG_WARN)
    try:
        fallback = await storage_service.retrieve_with_fallback(
            storage_path, attachment_filepath)
    finally:
        docstore.set_log_callback(None)
    assert fallback == legacy
    assert any(level == docstore.LOG_WARN and "falling back to local" in msg
               for level, msg in lines), lines
    assert storage_service.stats()["fallback"]["successes"] == 1

    # Without the legacy file the failure is the object store's.
    os.remove(attachment_filepath)
    with pytest.raises(docstore.ConnectError):
        await storage_service.retrieve_with_fallback(storage_path,
                                                     attachment_filepath)

    # And the fallback content is the real document.
    kr = docstore.Keyring()
    kr.add_private_pem(private_pem)
    assert kr.open(fallback) == b"passport scan"
