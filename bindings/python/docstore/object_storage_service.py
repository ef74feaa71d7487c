# libdocstore Python binding: drop-in for the backend's
# services.object_storage_service module.
# SPDX-License-Identifier: Apache-2.0
"""The seed's module, backed by libdocstore:

    from docstore.object_storage_service import (
        init_storage_service, get_storage_service, ObjectStorageService,
        LocalStorageProvider, S3StorageProvider, ObjectStorageFactory)

    storage_service = init_storage_service(config)   # the seed's dict
    path = await storage_service.store_encrypted_document(
        file_id=123, filename="document.pdf", encrypted_data={...},
        user_id=456)
    encrypted_data = await storage_service.retrieve_encrypted_document(path)
    await storage_service.delete_document(path)
    url = storage_service.get_download_url(path, expiration_hours=24)
"""

import threading

from .config import Config, as_config
from .providers import (CustomProvider, LocalStorageProvider,
                        S3StorageProvider, StorageProvider)
from .service import ObjectStorageService

_lock = threading.Lock()
_service = None


class ObjectStorageFactory:
    """Creates providers from the seed's configuration (STORAGE_TYPE: "s3"
    or "local", S3_*, LOCAL_STORAGE_PATH; RSA_*_KEY_PATH for the plaintext
    helpers).  The library's factory does the work, so the settings, their
    checks and their messages are those of docs/CONFIG.md."""

    _provider = None

    @staticmethod
    def create_provider(config=None):
        """A LocalStorageProvider or S3StorageProvider for the config (a
        dict, a Config, or None for the environment).  Makes no network
        request; provider.check() tests connectivity."""
        return ObjectStorageService.from_config(config).provider

    @classmethod
    def initialize(cls, config=None):
        """Create the provider for config and remember it as the factory's
        current one; returns it."""
        provider = cls.create_provider(config)
        with _lock:
            cls._provider = provider
        return provider

    @classmethod
    def get_provider(cls):
        """The provider of the last initialize() (None before)."""
        return cls._provider


def init_storage_service(config=None):
    """Build the process-wide storage service from the seed's config dict
    (None: from the environment) and return it.  Calling it again replaces
    the service; the previous one is freed once no task still holds it."""
    global _service
    service = ObjectStorageService.from_config(as_config(config))
    with _lock:
        _service = service
    return service


def get_storage_service():
    """The service of the last init_storage_service()."""
    with _lock:
        service = _service
    if service is None:
        raise RuntimeError("storage service is not initialised: call "
                           "init_storage_service(config) at startup")
    return service


__all__ = ["init_storage_service", "get_storage_service",
           "ObjectStorageService", "ObjectStorageFactory", "StorageProvider",
           "LocalStorageProvider", "S3StorageProvider", "CustomProvider",
           "Config"]
