# Every buffer the library returns is freed (docstore_free): 10,000 store +
# read cycles do not grow the process.
# SPDX-License-Identifier: Apache-2.0
import docstore
from helpers import rss_bytes

WARMUP = 500
CYCLES = 10_000
MAX_GROWTH = 20 * 1024 * 1024  # generous: allocator noise, not leaks


def test_10000_store_read_cycles_do_not_grow(tmp_path, keyring):
    svc = docstore.ObjectStorageService(
        docstore.LocalStorageProvider(str(tmp_path), fsync=False), keyring)
    doc = bytes(range(256)) * 16  # 4 KiB
    envelope = keyring.seal(doc, "env", "1")

    def cycle(i):
        fid = str(i % 50)
        path = svc.store_document_sync(fid, "passport.pdf", doc, "1")
        assert svc.read_document_sync(path, fid, "1") == doc
        # The envelope path: a dict in, a dict out.
        epath = svc.store_encrypted_document_sync("env", "e.pdf", envelope,
                                                  "1")
        assert svc.retrieve_encrypted_document_sync(epath)["ciphertext"]
        assert svc.document_exists_sync(path)
        assert svc.list_documents_sync("documents/system/") == []
        svc.delete_document_sync(path)

    for i in range(WARMUP):
        cycle(i)
    before = rss_bytes()
    for i in range(CYCLES):
        cycle(i)
    growth = rss_bytes() - before
    assert growth < MAX_GROWTH, "RSS grew by %d bytes" % growth
    assert svc.stats()["put"]["failures"] == 0
