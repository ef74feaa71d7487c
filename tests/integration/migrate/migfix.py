"""Fixtures and checks for the migration integration tests.

Debian's /usr/bin/python3 with python3-psycopg2, python3-pycryptodome and
python3-boto3.  The servers come from tools/with-test-servers.sh (DATABASE_URL,
S3_*); without them the tests FAIL: they never skip.
"""
import atexit
import base64
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import uuid

import psycopg2
import pytest
from Cryptodome.Cipher import AES, PKCS1_OAEP
from Cryptodome.PublicKey import RSA
from Cryptodome.Random import get_random_bytes

SOURCE_DIR = os.environ.get("DOCSTORE_SOURCE_DIR",
                            os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "..", "..")))
LOCK_KEY = 0x646F6373746F7265  # "docstore", the engine's advisory lock
LOCK_MIGRATING = 0x646F6373746F726D  # "docstorm": held shared by migrations
LOCK_VERIFYING = 0x646F6373746F7276  # "docstorv": held shared by verifications
TMP_PREFIX = ".docstore-tmp-"   # the local provider's temporary files


def need(var):
    value = os.environ.get(var)
    if not value:
        pytest.fail(f"{var} is not set: run the tests under tools/with-test-servers.sh "
                    f"(or ctest, which does)", pytrace=False)
    return value


def cli():
    return need("DOCSTORE_CLI")


def driver():
    return need("DOCSTORE_MIGRATE_DRIVER")


def sha256(data):
    return hashlib.sha256(data).hexdigest()


# ------------------------------------------------------------- envelopes

def legacy_envelope(pub, plaintext):
    """The old Python backend's format (PyCryptodome defaults)."""
    session = get_random_bytes(32)
    enc_session_key = PKCS1_OAEP.new(pub).encrypt(session)
    cipher = AES.new(session, AES.MODE_GCM)
    ciphertext, tag = cipher.encrypt_and_digest(plaintext)
    b64 = lambda b: base64.b64encode(b).decode()
    return json.dumps({"enc_session_key": b64(enc_session_key), "nonce": b64(cipher.nonce),
                       "tag": b64(tag), "ciphertext": b64(ciphertext)}).encode()


def legacy_decrypt(priv, envelope):
    e = {k: base64.b64decode(v) for k, v in json.loads(envelope).items()}
    session = PKCS1_OAEP.new(priv).decrypt(e["enc_session_key"])
    return AES.new(session, AES.MODE_GCM, nonce=e["nonce"]).decrypt_and_verify(e["ciphertext"], e["tag"])


_KEY = None


def rsa_key(tmpdir_factory=None):
    """One RSA-2048 key per test process, also as PEM files."""
    global _KEY
    if _KEY is None:
        key = RSA.generate(2048)
        d = tempfile.mkdtemp(prefix="docstore-migtest-keys-")
        atexit.register(shutil.rmtree, d, True)
        priv = os.path.join(d, "private.pem")
        pub = os.path.join(d, "public.pem")
        with open(priv, "wb") as f:
            f.write(key.export_key(pkcs=8))
        os.chmod(priv, 0o600)
        with open(pub, "wb") as f:
            f.write(key.publickey().export_key())
        _KEY = (key, priv, pub)
    return _KEY


# -------------------------------------------------------------- database

class DB:
    """A database of its own for one test (dropped at the end)."""

    def __init__(self):
        base = need("DATABASE_URL")
        self.name = "mig_" + uuid.uuid4().hex[:12]
        self.admin = psycopg2.connect(base)
        self.admin.autocommit = True
        with self.admin.cursor() as c:
            c.execute(f'CREATE DATABASE "{self.name}"')
        dsn = psycopg2.extensions.parse_dsn(base)
        dsn["dbname"] = self.name
        self.url = " ".join(f"{k}={v}" for k, v in dsn.items())
        self.conn = psycopg2.connect(self.url)
        self.conn.autocommit = True

    def q(self, sql, args=None):
        with self.conn.cursor() as c:
            c.execute(sql, args)
            return c.fetchall() if c.description else None

    def close(self):
        self.conn.close()
        with self.admin.cursor() as c:
            c.execute(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)')
        self.admin.close()


OLD_TABLE = """CREATE TABLE {t} (
    id SERIAL PRIMARY KEY,
    filename TEXT,
    filepath VARCHAR(1000),
    user_id INTEGER,
    {created} TIMESTAMP NOT NULL DEFAULT now())"""


def create_old_tables(db, created="created_at"):
    """The tables as the old backend had them: no storage columns yet."""
    db.q("CREATE SCHEMA document")
    for t in ("document.attachment", "document.attachment_staging"):
        db.q(OLD_TABLE.format(t=t, created=created))
    db.q("ALTER SEQUENCE document.attachment_staging_id_seq RESTART WITH 100000")


def apply_schema_files(db):
    for f in ("001_storage_columns.sql", "002_migration_ledger.sql", "003_migration_claims.sql"):
        with open(os.path.join(SOURCE_DIR, "sql", f)) as fh:
            db.q(fh.read())


# --------------------------------------------------------------- fixture

FILENAMES = [
    "passport.pdf", "license.PDF", "pässport ✓.pdf", "паспорт.pdf", "../../etc/passwd",
    "a/b\\c.pdf", "new\nline\t.pdf", ".hidden", "", "x" * 300 + ".pdf",
    "scan 2024-01-15 (1).jpeg", "\u202eevil\u202c.pdf", "漢字.png", "..", "C:\\win\\doc.docx",
]


class Row:
    def __init__(self, table, rid, kind, filepath, abspath, data, plaintext, user_id, created):
        self.table, self.id, self.kind = table, rid, kind
        self.filepath, self.abspath = filepath, abspath
        self.data, self.plaintext = data, plaintext
        self.user_id, self.created = user_id, created

    @property
    def good(self):
        return self.kind == "good"


class Fixture:
    """Rows in both tables with their legacy files under `legacy`.

    Every 25th row (offset 3) has no file, offset 7 corrupt JSON, offset 19
    a JSON object that is not an envelope; every 50th (offset 11) points at
    a directory, offset 36 at a FIFO.  Every 7th row has no user.  Even rows
    have an absolute filepath, odd rows one relative to `legacy`.  Every 9th
    good row (offset 4) was stored by the new library with local storage:
    it has a storage_path, its object is `legacy`/<storage_path> (the local
    provider's root) and its filepath names no file.
    """

    def __init__(self, db, legacy, n_attachment=300, n_staging=60, created="created_at"):
        self.db, self.legacy = db, legacy
        self.key, self.priv_pem, self.pub_pem = rsa_key()
        pub = self.key.publickey()
        os.makedirs(legacy, mode=0o700, exist_ok=True)
        self.rows = []
        for table, n in (("attachment", n_attachment), ("attachment_staging", n_staging)):
            for i in range(n):
                kind = "good"
                if i % 25 == 3:
                    kind = "missing"
                elif i % 25 == 7:
                    kind = "corrupt"
                elif i % 25 == 19:
                    kind = "notenvelope"
                elif i % 50 == 11:
                    kind = "directory"
                elif i % 50 == 36:
                    kind = "fifo"
                user = None if i % 7 == 0 else 1000 + i % 13
                name = FILENAMES[i % len(FILENAMES)]
                rel = f"{table}/{i // 100:02d}/file_{i}.json"
                abspath = os.path.join(legacy, rel)
                filepath = abspath if i % 2 == 0 else rel
                plaintext = f"document {table} {i} ".encode() * (1 + i % 40)
                data = None
                os.makedirs(os.path.dirname(abspath), exist_ok=True)
                if kind == "good":
                    data = legacy_envelope(pub, plaintext)
                elif kind == "corrupt":
                    data = b'{"enc_session_key": "AAAA", "nonce": '
                elif kind == "notenvelope":
                    data = b'{"hello": "world"}'
                elif kind == "directory":
                    os.makedirs(abspath)
                elif kind == "fifo":
                    os.mkfifo(abspath)
                if data is not None:
                    with open(abspath, "wb") as f:
                        f.write(data)
                created_at = f"2024-01-{15 + i % 5:02d} {(i * 7) % 24:02d}:{i % 60:02d}:00"
                rid = db.q(f"INSERT INTO document.{table} (filename, filepath, user_id, {created}) "
                           f"VALUES (%s, %s, %s, %s) RETURNING id",
                           (name, filepath, user, created_at))[0][0]
                if kind == "good" and i % 9 == 4:
                    folder = f"user_{user}" if user is not None else "system"
                    key = f"documents/{folder}/{created_at[:10].replace('-', '/')}/{rid}_stored.pdf_pdf.json"
                    os.rename(abspath, os.path.join(legacy, "moved"))
                    abspath = os.path.join(legacy, key)
                    os.makedirs(os.path.dirname(abspath), exist_ok=True)
                    os.rename(os.path.join(legacy, "moved"), abspath)
                    db.q(f"UPDATE document.{table} SET storage_path = %s WHERE id = %s", (key, rid))
                self.rows.append(Row(table, rid, kind, filepath, abspath, data, plaintext, user,
                                     created_at))

    def good(self, table=None):
        return [r for r in self.rows if r.good and (table is None or r.table == table)]

    def bad(self, table=None):
        return [r for r in self.rows if not r.good and (table is None or r.table == table)]

    def row(self, table, rid):
        return next(r for r in self.rows if r.table == table and r.id == rid)


# ---------------------------------------------------------------- stores

def list_local(root):
    keys = set()
    for d, _, files in os.walk(root):
        for f in files:
            if not f.startswith(TMP_PREFIX):
                keys.add(os.path.relpath(os.path.join(d, f), root))
    return keys


def read_local(root, key):
    try:
        with open(os.path.join(root, key), "rb") as f:
            return f.read()
    except FileNotFoundError:
        return None


class S3:
    def __init__(self, prefix=""):
        import boto3
        import botocore.config
        self.bucket = need("S3_BUCKET")
        self.client = boto3.client(
            "s3", endpoint_url=need("S3_ENDPOINT_URL"), region_name=os.environ.get("S3_REGION", "us-east-1"),
            aws_access_key_id=need("S3_ACCESS_KEY"), aws_secret_access_key=need("S3_SECRET_KEY"),
            config=botocore.config.Config(signature_version="s3v4", s3={"addressing_style": "path"},
                                          retries={"total_max_attempts": 2}))

    def list(self, prefix="documents/"):
        keys = set()
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys.update(o["Key"] for o in page.get("Contents", []))
        return keys

    def read(self, key):
        try:
            return self.client.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except self.client.exceptions.NoSuchKey:
            return None

    def put(self, key, data):
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def delete(self, key):
        self.client.delete_object(Bucket=self.bucket, Key=key)

    def clear(self, prefix="documents/"):
        for k in self.list(prefix):
            self.delete(k)


# -------------------------------------------------------------- programs

def run_driver(*args, env=None, timeout=600):
    """Run the test driver; returns (returncode, report dict or None, stderr)."""
    p = subprocess.run([driver(), *args], capture_output=True, timeout=timeout,
                       env={**os.environ, **(env or {})})
    out = p.stdout.decode()
    report = json.loads(out) if out.strip() else None
    return p.returncode, report, p.stderr.decode(errors="replace")


def run_cli(*args, env=None, timeout=600, cwd=None):
    return subprocess.run([cli(), "--no-env-file", *args], capture_output=True, timeout=timeout,
                          env={**os.environ, **(env or {})}, cwd=cwd)


def wait_for(cond, what, timeout=300):
    end = time.monotonic() + timeout
    while not cond():
        assert time.monotonic() < end, f"gave up waiting for {what}"
        time.sleep(0.02)


def on_s3(db):
    return sum(db.q(f"SELECT count(*) FROM document.{t} WHERE storage_type = 's3'")[0][0]
               for t in ("attachment", "attachment_staging"))


# ---------------------------------------------------------------- checks

# The staging table's rows get a "staging/" folder after the date (0.4.0):
# their ids, names, owners and days may equal the attachment table's.
KEY_RE = re.compile(r"^documents/(user_\d+|system)/(\d{4})/(\d{2})/(\d{2})/"
                    r"(?P<staging>staging/)?(?P<id>\d+)_[^/]+\.json$")


def check_store(db, fx, target_type, read, listing, require_all_good=True, source_type="local",
                pending_ok=0):
    """The invariants of a migration, checked from the database outwards:
    every row on the target points at an object that exists and equals the
    original file byte for byte, recorded once in the ledger; every row not
    on the target is untouched; the target holds no object that no row
    points at (nothing migrated twice); bad rows never moved.  After a
    kill, up to `pending_ok` objects may be uploaded but not yet switched:
    each must be the exact document of a row still on the source (the next
    run switches it without a second upload)."""
    rows = {}
    for table in ("attachment", "attachment_staging"):
        for rid, sp, st in db.q(f"SELECT id, storage_path, storage_type FROM document.{table}"):
            rows[(table, rid)] = (sp, st)
    ledger = {(t, int(r)): (st, sp, h, size) for t, r, st, sp, h, size in db.q(
        "SELECT source_table, row_id, storage_type, storage_path, sha256, size "
        "FROM document.docstore_migration_ledger")}
    on_target = {}
    for r in fx.rows:
        sp, st = rows[(r.table, r.id)]
        if st == target_type:
            assert r.good, f"{r.table} {r.id} ({r.kind}) was switched"
            data = read(sp)
            assert data is not None, f"{r.table} {r.id}: {sp} missing on {target_type}"
            assert data == r.data, f"{r.table} {r.id}: {sp} differs from the source"
            m = KEY_RE.match(sp)
            assert m, sp
            assert m.group(1) == (f"user_{r.user_id}" if r.user_id is not None else "system")
            assert "-".join(m.group(2, 3, 4)) == r.created[:10]
            assert int(m.group("id")) == r.id
            if m.group("staging"):
                assert r.table == "attachment_staging", sp
            assert ledger[(r.table, r.id)] == (target_type, sp, sha256(r.data), len(r.data))
            assert sp not in on_target, f"{sp} used by two rows"
            on_target[sp] = r
        else:
            assert st == source_type, (r.table, r.id, st)
            if require_all_good:
                assert not r.good, f"{r.table} {r.id} was not migrated"
    extra = listing() - set(on_target)
    assert len(extra) <= pending_ok, f"objects no row points at: {sorted(extra)[:5]}"
    for key in extra:
        m = KEY_RE.match(key)
        assert m, key
        owners = [r for r in fx.good() if r.id == int(m.group("id"))
                  and rows[(r.table, r.id)][1] != target_type]
        assert owners and read(key) == owners[0].data, f"{key} is no pending upload"
    assert len([k for k in ledger if rows[k][1] == target_type]) == len(on_target)
    return on_target
