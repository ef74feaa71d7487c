# Shared fixtures of the Python binding tests.
# SPDX-License-Identifier: Apache-2.0
#
# The package is imported from the source tree (no install needed); the
# library from DOCSTORE_LIBRARY, which CTest points at the built one.  When
# it is unset, the usual search applies (package folder, system path).
import os
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.dirname(HERE))
sys.path.insert(0, HERE)

import docstore  # noqa: E402
import helpers  # noqa: E402


@pytest.fixture(autouse=True)
def _seed_tests_in_tmp_dir(request, tmp_path, monkeypatch):
    """The seed's tests use relative folders ("test_storage/"): run them in
    a fresh folder, leaving their bodies as the seed wrote them."""
    if request.module.__name__ == "test_seed":
        monkeypatch.chdir(tmp_path)


@pytest.fixture(scope="session")
def key_pair():
    """(public_pem, private_pem), 2048 bits: made once per session."""
    return docstore.generate_key_pair(2048)


@pytest.fixture
def keyring(key_pair):
    kr = docstore.Keyring()
    kr.add_private_pem(key_pair[1])
    return kr


@pytest.fixture
def local_service(tmp_path, keyring):
    """A service on a local folder, with a key pair, legacy files resolved
    against tmp_path/legacy."""
    (tmp_path / "legacy").mkdir()
    svc = docstore.ObjectStorageService(
        docstore.LocalStorageProvider(str(tmp_path / "store")), keyring,
        legacy_root=str(tmp_path / "legacy"))
    yield svc
    svc.close()


@pytest.fixture
def s3_settings():
    """The S3_* settings of the test server, as the seed's config dict.
    Without them the test is skipped, unless DOCSTORE_REQUIRE_S3=1: then
    it fails (CI must not silently skip the S3 tests)."""
    settings = helpers.s3_settings()
    if settings is None:
        msg = "S3 test server not configured (S3_ENDPOINT_URL, S3_BUCKET...)"
        if os.environ.get("DOCSTORE_REQUIRE_S3") == "1":
            pytest.fail(msg + " but DOCSTORE_REQUIRE_S3=1")
        pytest.skip(msg)
    return settings
