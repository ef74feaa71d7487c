#!/usr/bin/python3
# libdocstore - encrypted document storage.
# SPDX-License-Identifier: Apache-2.0
"""Sequential Python reference for the migration benchmark
(bench/migrate/migrate_bench.c, `docstore_migrate_bench`).

What the seed's `python -m scripts.migrate_documents_to_storage s3` does,
with boto3 and psycopg2 (Debian's python3-boto3 and python3-psycopg2: run it
with /usr/bin/python3), one document at a time, doing the same checks as
the library's engine so that the figures compare like with like:

  page the rows of <schema>.attachment still on local storage by id
  (WHERE id > last ORDER BY id LIMIT batch); for each: read the legacy file,
  parse it as an envelope, compute the storage path, put_object, read it
  back with get_object and compare SHA-256, then UPDATE the row's
  storage_path / storage_type and commit.

Settings from the environment: DATABASE_URL, S3_BUCKET, S3_ENDPOINT_URL,
S3_REGION, S3_ACCESS_KEY / S3_SECRET_KEY (else AWS_ACCESS_KEY_ID /
AWS_SECRET_ACCESS_KEY).  Prints one JSON object on stdout:
{"files": migrated, "failed": n, "seconds": wall time of the migration,
 "files_per_second": ...}.  Objects are left for the caller to delete.
"""

import argparse
import datetime
import hashlib
import json
import os
import re
import sys
import time

import boto3
import botocore.config
import psycopg2


def env(*names, default=None):
    for name in names:
        value = os.environ.get(name)
        if value:
            return value
    return default


def storage_path(file_id, filename, user_id, created):
    """The seed's layout (ASCII names only: enough for the benchmark's)."""
    name = re.sub(r"[^A-Za-z0-9._-]", "_", filename).lstrip(".") or "file"
    ext = name.rsplit(".", 1)[1].lower() if "." in name else "bin"
    folder = f"user_{user_id}" if user_id is not None else "system"
    day = created.astimezone(datetime.timezone.utc).strftime("%Y/%m/%d")
    return f"documents/{folder}/{day}/{file_id}_{name}_{ext}.json"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--schema", required=True)
    ap.add_argument("--legacy-root", required=True)
    ap.add_argument("--batch", type=int, default=500)
    a = ap.parse_args()

    s3 = boto3.client(
        "s3", endpoint_url=env("S3_ENDPOINT_URL"),
        region_name=env("S3_REGION", "AWS_REGION", "AWS_DEFAULT_REGION", default="us-east-1"),
        aws_access_key_id=env("S3_ACCESS_KEY", "AWS_ACCESS_KEY_ID"),
        aws_secret_access_key=env("S3_SECRET_KEY", "AWS_SECRET_ACCESS_KEY"),
        config=botocore.config.Config(signature_version="s3v4", s3={"addressing_style": "path"}))
    bucket = env("S3_BUCKET")
    conn = psycopg2.connect(env("DATABASE_URL", default=""))
    table = f'"{a.schema}".attachment'

    done = failed = 0
    last = None
    t0 = time.monotonic()
    while True:
        with conn.cursor() as cur:
            if last is None:
                cur.execute(f"SELECT id, filename, filepath, user_id, created_at FROM {table} "
                            f"WHERE COALESCE(storage_type, 'local') = 'local' ORDER BY id LIMIT %s",
                            (a.batch,))
            else:
                cur.execute(f"SELECT id, filename, filepath, user_id, created_at FROM {table} "
                            f"WHERE COALESCE(storage_type, 'local') = 'local' AND id > %s "
                            f"ORDER BY id LIMIT %s", (last, a.batch))
            rows = cur.fetchall()
        conn.commit()
        if not rows:
            break
        for rid, filename, filepath, user_id, created in rows:
            last = rid
            try:
                path = filepath if os.path.isabs(filepath) else os.path.join(a.legacy_root, filepath)
                with open(path, "rb") as f:
                    data = f.read()
                envelope = json.loads(data)
                if not all(k in envelope for k in ("enc_session_key", "nonce", "tag", "ciphertext")) \
                        and envelope.get("format") is None:
                    raise ValueError("not an envelope")
                key = storage_path(rid, filename, user_id, created)
                s3.put_object(Bucket=bucket, Key=key, Body=data)
                back = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                if hashlib.sha256(back).digest() != hashlib.sha256(data).digest():
                    raise ValueError("read back differs")
                with conn.cursor() as cur:
                    cur.execute(f"UPDATE {table} SET storage_path = %s, storage_type = 's3' "
                                f"WHERE id = %s", (key, rid))
                conn.commit()
                done += 1
            except Exception as e:  # noqa: BLE001 - counted, like the seed's script
                conn.rollback()
                failed += 1
                print(f"Attachment {rid}: {e}", file=sys.stderr)
    seconds = time.monotonic() - t0
    print(json.dumps({"files": done, "failed": failed, "seconds": seconds,
                      "files_per_second": done / seconds if seconds > 0 else 0.0}))
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
