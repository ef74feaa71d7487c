# A small document-controller backend on libdocstore (FastAPI), in the shape
# of the seed's: POST /file/add encrypts and stores an upload and answers
# with its storage path and type; GET /file/{file_id}/download answers with
# a presigned URL on S3 (a redirect, or JSON with ?redirect=false) and
# streams the decrypted document on local storage.
#
#   STORAGE_TYPE=local LOCAL_STORAGE_PATH=encrypted_files/ \
#   RSA_PUBLIC_KEY_PATH=keys/public.pem RSA_PRIVATE_KEY_PATH=keys/private.pem \
#   PYTHONPATH=bindings/python uvicorn --app-dir examples/python app:app
#
# SPDX-License-Identifier: Apache-2.0
import asyncio
import base64
import binascii
import itertools
import json
import os
from typing import Optional

from fastapi import FastAPI, HTTPException
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from pydantic import BaseModel

import docstore
from docstore.object_storage_service import (get_storage_service,
                                             init_storage_service)

SETTINGS = ("STORAGE_TYPE", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_BUCKET",
            "S3_REGION", "S3_ENDPOINT_URL", "LOCAL_STORAGE_PATH",
            "RSA_PUBLIC_KEY_PATH", "RSA_PRIVATE_KEY_PATH",
            "RSA_PRIVATE_KEY_PASSPHRASE")
CHUNK = 64 * 1024


class FileUploadRequest(BaseModel):
    filename: str
    content: str                 # the file, base64
    user_id: Optional[int] = None


def create_app(config=None):
    """The app; config is the seed's settings dict (default: the
    environment)."""
    app = FastAPI(title="docstore example backend")
    # The seed's document.attachment rows (storage_path, storage_type),
    # kept in memory for the example.
    attachments = {}
    ids = itertools.count(1)

    @app.on_event("startup")
    def startup():
        settings = config
        if settings is None:
            settings = {n: os.environ.get(n) for n in SETTINGS}
        init_storage_service(settings)

    @app.post("/file/add")
    async def upload_file(payload: FileUploadRequest):
        storage_service = get_storage_service()
        try:
            data = base64.b64decode(payload.content, validate=True)
        except (binascii.Error, ValueError):
            raise HTTPException(422, "content is not base64")
        file_id = next(ids)
        keyring = storage_service.keyring
        if keyring is None:
            raise HTTPException(500, "no RSA key configured")
        # Encrypt (in a worker thread: RSA and AES are CPU work), then
        # store the envelope dict as the backend does.
        envelope = await asyncio.to_thread(keyring.seal, data, file_id,
                                           payload.user_id)
        try:
            storage_path = await storage_service.store_encrypted_document(
                file_id=file_id, filename=payload.filename,
                encrypted_data=json.loads(envelope), user_id=payload.user_id)
        except docstore.DocstoreError as e:
            raise HTTPException(502, "storage failed: %s" % e)
        attachments[file_id] = {
            "filename": payload.filename, "user_id": payload.user_id,
            "storage_path": storage_path,
            "storage_type": storage_service.storage_type}
        return {"id": file_id, **attachments[file_id]}

    @app.get("/file/{file_id}/download")
    async def download_file(file_id: int, redirect: bool = True,
                            expiration_hours: int = 24):
        row = attachments.get(file_id)
        if row is None:
            raise HTTPException(404, "no such file")
        storage_service = get_storage_service()
        if row["storage_type"] == "s3":
            # The URL serves the stored (encrypted) object for a limited
            # time; the seed's presigned URL flow.
            try:
                url = storage_service.get_download_url(
                    row["storage_path"], expiration_hours=expiration_hours)
            except docstore.InvalidArgumentError as e:
                raise HTTPException(422, str(e))
            if redirect:
                return RedirectResponse(url, status_code=307)
            return JSONResponse({"url": url,
                                 "expiration_hours": expiration_hours})
        try:
            data = await storage_service.read_document(
                row["storage_path"], file_id=file_id,
                user_id=row["user_id"])
        except docstore.NotFoundError:
            raise HTTPException(404, "document missing from storage")
        except docstore.IntegrityError:
            raise HTTPException(409, "document failed its integrity check")

        def chunks():
            for i in range(0, len(data), CHUNK):
                yield data[i:i + CHUNK]
        return StreamingResponse(
            chunks(), media_type="application/octet-stream",
            headers={"Content-Disposition":
                     'attachment; filename="%s"' % row["filename"].replace(
                         '"', "")})

    return app


app = create_app()
