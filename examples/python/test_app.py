# Drives the example backend over HTTP with FastAPI's TestClient, on local
# storage and (when the S3_* variables are set) on S3.  With
# DOCSTORE_REQUIRE_S3=1, a missing S3 configuration fails the S3 test.
# SPDX-License-Identifier: Apache-2.0
import base64
import json
import os
import sys
import urllib.request

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "bindings", "python"))
sys.path.insert(0, HERE)

from fastapi.testclient import TestClient  # noqa: E402

import docstore  # noqa: E402
from app import create_app  # noqa: E402


@pytest.fixture(scope="module")
def keys(tmp_path_factory):
    d = tmp_path_factory.mktemp("keys")
    pub, priv = docstore.generate_key_pair(2048)
    (d / "public.pem").write_text(pub)
    (d / "private.pem").write_text(priv)
    return {"RSA_PUBLIC_KEY_PATH": str(d / "public.pem"),
            "RSA_PRIVATE_KEY_PATH": str(d / "private.pem")}, priv


def _upload(client, data, filename="passport.pdf", user_id=123):
    r = client.post("/file/add", json={
        "filename": filename, "user_id": user_id,
        "content": base64.b64encode(data).decode()})
    assert r.status_code == 200, r.text
    return r.json()


def test_local_upload_and_download(tmp_path, keys):
    config = {"STORAGE_TYPE": "local",
              "LOCAL_STORAGE_PATH": str(tmp_path / "encrypted_files"),
              **keys[0]}
    document = b"%PDF-1.7 " + os.urandom(200_000)
    with TestClient(create_app(config)) as client:
        row = _upload(client, document)
        assert row["storage_type"] == "local"
        assert row["storage_path"].startswith("documents/user_123/")
        assert row["storage_path"].endswith("_passport.pdf_pdf.json")
        stored = tmp_path / "encrypted_files" / row["storage_path"]
        assert document not in stored.read_bytes()  # encrypted at rest
        envelope = json.loads(stored.read_text())
        assert envelope["ciphertext"]

        r = client.get("/file/%d/download" % row["id"])
        assert r.status_code == 200
        assert r.content == document
        assert 'filename="passport.pdf"' in r.headers["content-disposition"]

        system = _upload(client, b"template", "t.pdf", None)
        assert system["storage_path"].startswith("documents/system/")
        assert client.get("/file/%d/download" %
                          system["id"]).content == b"template"

        assert client.get("/file/999/download").status_code == 404
        r = client.post("/file/add", json={"filename": "x", "content": "%%"})
        assert r.status_code == 422

        # A document tampered with at rest is refused, not served.
        envelope["tag"] = base64.b64encode(b"\0" * 16).decode()
        stored.write_text(json.dumps(envelope))
        assert client.get("/file/%d/download" %
                          row["id"]).status_code == 409
        stored.unlink()
        assert client.get("/file/%d/download" %
                          row["id"]).status_code == 404


def test_s3_upload_and_presigned_download(keys):
    names = ("S3_ENDPOINT_URL", "S3_BUCKET", "S3_ACCESS_KEY", "S3_SECRET_KEY")
    if not all(os.environ.get(n) for n in names):
        msg = "S3 test server not configured"
        if os.environ.get("DOCSTORE_REQUIRE_S3") == "1":
            pytest.fail(msg + " but DOCSTORE_REQUIRE_S3=1")
        pytest.skip(msg)
    config = {n: os.environ[n] for n in names}
    config.update(STORAGE_TYPE="s3",
                  S3_REGION=os.environ.get("S3_REGION", "us-east-1"),
                  **keys[0])
    document = b"licence scan " + os.urandom(1000)
    with TestClient(create_app(config)) as client:
        row = _upload(client, document, "licence.png", 7)
        assert row["storage_type"] == "s3"
        r = client.get("/file/%d/download" % row["id"],
                       follow_redirects=False)
        assert r.status_code == 307
        url = r.headers["location"]
        assert "X-Amz-Signature" in url
        r = client.get("/file/%d/download?redirect=false&expiration_hours=1"
                       % row["id"])
        assert r.json()["expiration_hours"] == 1
        assert client.get("/file/%d/download?expiration_hours=500" %
                          row["id"]).status_code == 422
        # 2**64 + 5 hours: refused, not wrapped to a 5-hour URL.
        r = client.get("/file/%d/download?redirect=false&"
                       "expiration_hours=%d" % (row["id"], 2**64 + 5))
        assert r.status_code == 422, r.text
        assert "out of range" in r.json()["detail"]
    with urllib.request.urlopen(url, timeout=30) as resp:
        envelope = resp.read()
    kr = docstore.Keyring()
    kr.add_private_pem(keys[1])
    assert kr.open(envelope, str(row["id"]), "7") == document
