"""One document's transfer (0.4.0) through `docstore migrate` against
PostgreSQL and the S3 test server (Swift s3api): the three defects of 0.3
it fixes, and the write proofs.  Labels pg and s3.

  defect 1: a source that differs from its ledger hash is refused before
            anything is committed or deleted;
  defect 2: the same id/name/owner/day in attachment and attachment_staging
            map to two objects, and two rows can never share one;
  defect 4: legacy files stay below the legacy root unless
            --allow-outside-root; oversized or non-envelope files are
            refused from their first bytes.
"""
import json
import os
import time

import psycopg2
import pytest

import migfix
from migfix import run_cli


def env_of(db, s3, legacy):
    return {"DATABASE_URL": db.url, "S3_BUCKET": s3.bucket, "LOCAL_STORAGE_PATH": legacy}


def report(r):
    """The JSON report that `--report-json -` writes after the text one."""
    return json.loads(r.stdout.decode().split("=" * 50 + "\n")[-1])


def errors_of(rep):
    return {(e["table"], int(e["id"])): e for e in rep["errors"] if e["id"] is not None}


def row_of(db, table, rid):
    return db.q(f"SELECT storage_type, storage_path FROM document.{table} WHERE id = %s", (rid,))[0]


def add_row(db, table, legacy, rel, data, rid=None, name="passport.pdf", user=7,
            created="2024-01-15 10:00:00"):
    path = os.path.join(legacy, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if data is not None:
        with open(path, "wb") as f:
            f.write(data)
    cols, vals = "filename, filepath, user_id, created_at", [name, rel, user, created]
    if rid is not None:
        cols, vals = "id, " + cols, [rid] + vals
    marks = ", ".join(["%s"] * len(vals))
    return db.q(f"INSERT INTO document.{table} ({cols}) VALUES ({marks}) RETURNING id", vals)[0][0]


def envelope(text):
    key, _, _ = migfix.rsa_key()
    return migfix.legacy_envelope(key.publickey(), text.encode())


# ------------------------------------------------------------- defect 2

def test_same_identity_in_both_tables_gives_two_objects(migrated_db, tmp_path, bucket):
    db = migrated_db
    legacy = str(tmp_path / "legacy")
    a_data, s_data = envelope("the attachment"), envelope("the staged one")
    a = add_row(db, "attachment", legacy, "a/doc.json", a_data, rid=5)
    s = add_row(db, "attachment_staging", legacy, "s/doc.json", s_data, rid=5)
    assert a == s == 5
    r = run_cli("migrate", "s3", "--delete-source", "--report-json", "-",
                env=env_of(db, bucket, legacy))
    assert r.returncode == 0, r.stdout + r.stderr
    rep = report(r)
    assert rep["successful"] == 2 and rep["failed"] == 0
    ta, ka = row_of(db, "attachment", 5)
    ts, ks = row_of(db, "attachment_staging", 5)
    assert ta == ts == "s3"
    assert ka == "documents/user_7/2024/01/15/5_passport.pdf_pdf.json"
    assert ks == "documents/user_7/2024/01/15/staging/5_passport.pdf_pdf.json"
    # Both sources are gone, both documents readable, each its own.
    assert not os.path.exists(os.path.join(legacy, "a/doc.json"))
    assert not os.path.exists(os.path.join(legacy, "s/doc.json"))
    key, _, _ = migfix.rsa_key()
    assert bucket.read(ka) == a_data and migfix.legacy_decrypt(key, bucket.read(ka)) == b"the attachment"
    assert bucket.read(ks) == s_data and migfix.legacy_decrypt(key, bucket.read(ks)) == b"the staged one"
    assert bucket.list() == {ka, ks}
    ledger = db.q("SELECT source_table, storage_path, sha256 FROM document.docstore_migration_ledger "
                  "ORDER BY source_table")
    assert ledger == [("attachment", ka, migfix.sha256(a_data)),
                      ("attachment_staging", ks, migfix.sha256(s_data))]


def test_two_rows_never_share_an_object(migrated_db, tmp_path, bucket):
    """Two rows that already name the same object (a local storage_path
    written twice by the application): the first is switched, the second is
    refused with a clear message by the ledger's UNIQUE index, and stays
    where it was.  The index itself refuses a second ledger row."""
    db = migrated_db
    legacy = str(tmp_path / "legacy")
    key = "documents/user_7/2024/01/15/9_shared.pdf_pdf.json"
    data = envelope("shared")
    ids = []
    for table in ("attachment", "attachment_staging"):
        rid = add_row(db, table, legacy, key, data if not ids else None)
        db.q(f"UPDATE document.{table} SET storage_path = %s WHERE id = %s", (key, rid))
        ids.append(rid)
    r = run_cli("migrate", "s3", "--jobs", "1", "--report-json", "-", env=env_of(db, bucket, legacy))
    assert r.returncode != 0
    rep = report(r)
    assert rep["successful"] == 1 and rep["failed"] == 1, rep
    assert row_of(db, "attachment", ids[0]) == ("s3", key)
    assert row_of(db, "attachment_staging", ids[1]) == ("local", key)
    e = errors_of(rep)[("attachment_staging", ids[1])]
    assert e["code"] == "DOCSTORE_EEXISTS"
    assert "is already the object of another row" in e["message"]
    assert "not switched" in e["message"]
    assert bucket.read(key) == data
    with pytest.raises(psycopg2.errors.UniqueViolation):
        db.q("INSERT INTO document.docstore_migration_ledger (source_table, row_id, storage_type, "
             "storage_path, sha256, size) VALUES ('other', '1', 's3', %s, %s, 1)",
             (key, "0" * 64))


# ------------------------------------------------------------- defect 1

def test_source_differing_from_its_ledger_hash_is_refused(migrated_db, tmp_path, bucket):
    db = migrated_db
    legacy = str(tmp_path / "legacy")
    data = envelope("recorded")
    rid = add_row(db, "attachment", legacy, "a/doc.json", data)
    env = env_of(db, bucket, legacy)
    r = run_cli("migrate", "s3", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    _, key = row_of(db, "attachment", rid)
    ledger_before = db.q("SELECT * FROM document.docstore_migration_ledger")
    # Changed on S3 behind the tool's back (still a valid-looking envelope).
    other = envelope("substituted")
    bucket.put(key, other)
    # Migrating it back must not carry the substituted bytes along.
    r = run_cli("migrate", "local", "--delete-source", "--report-json", "-", env=env)
    assert r.returncode != 0
    rep = report(r)
    assert rep["failed"] == 1 and rep["successful"] == 0
    e = errors_of(rep)[("attachment", rid)]
    assert e["code"] == "DOCSTORE_EINTEGRITY"
    assert f"{key} on s3 differs from the SHA-256 recorded in the ledger" in e["message"]
    assert row_of(db, "attachment", rid) == ("s3", key)
    assert not os.path.exists(os.path.join(legacy, key))  # nothing committed
    assert bucket.read(key) == other                        # nothing deleted
    assert db.q("SELECT * FROM document.docstore_migration_ledger") == ledger_before
    # Restored: it goes through, and the ledger still names the verified bytes.
    bucket.put(key, data)
    r = run_cli("migrate", "local", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert row_of(db, "attachment", rid) == ("local", key)
    assert migfix.read_local(legacy, key) == data
    assert db.q("SELECT sha256 FROM document.docstore_migration_ledger")[0][0] == migfix.sha256(data)


# ------------------------------------------------------------- defect 4

def test_legacy_files_confined_to_the_root(migrated_db, tmp_path, bucket):
    db = migrated_db
    legacy = str(tmp_path / "legacy")
    outside = tmp_path / "outside"
    outside.mkdir()
    data = envelope("outside the root")
    (outside / "doc.json").write_bytes(data)
    os.makedirs(legacy)
    os.symlink(str(outside / "doc.json"), os.path.join(legacy, "link.json"))
    rows = {
        "absolute": add_row(db, "attachment", legacy, str(outside / "doc.json"), None, name="a.pdf"),
        "dotdot": add_row(db, "attachment", legacy, "../outside/doc.json", None, name="b.pdf"),
        "symlink": add_row(db, "attachment", legacy, "link.json", None, name="c.pdf"),
    }
    env = env_of(db, bucket, legacy)
    r = run_cli("migrate", "s3", "--report-json", "-", env=env)
    assert r.returncode != 0
    rep = report(r)
    assert rep["failed"] == 3 and rep["successful"] == 0
    errs = errors_of(rep)
    for what, rid in rows.items():
        e = errs[("attachment", rid)]
        assert e["code"] == "DOCSTORE_EACCESS", (what, e)
        assert "--allow-outside-root" in e["message"], e
    assert "outside the legacy root" in errs[("attachment", rows["absolute"])]["message"]
    assert '".."' in errs[("attachment", rows["dotdot"])]["message"]
    assert "symbolic link" in errs[("attachment", rows["symlink"])]["message"]
    assert bucket.list() == set()
    # The operator's explicit choice lifts it.
    r = run_cli("migrate", "s3", "--allow-outside-root", "--report-json", "-", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    assert report(r)["successful"] == 3
    for rid in rows.values():
        t, key = row_of(db, "attachment", rid)
        assert t == "s3" and bucket.read(key) == data


def test_oversized_or_foreign_files_refused_from_their_first_bytes(migrated_db, tmp_path, bucket):
    """Sparse files of 1.5 GiB + 1 (JSON-looking) and 3 GiB (zeros): both
    refused without being read whole (a read of either would take long)."""
    db = migrated_db
    legacy = str(tmp_path / "legacy")
    os.makedirs(legacy)
    with open(os.path.join(legacy, "big.json"), "wb") as f:
        f.write(b'{"nonce": "')
        f.truncate((3 << 29) + 1)
    with open(os.path.join(legacy, "zeros.json"), "wb") as f:
        f.truncate(3 << 30)
    big = add_row(db, "attachment", legacy, "big.json", None, name="a.pdf")
    zeros = add_row(db, "attachment", legacy, "zeros.json", None, name="b.pdf")
    t0 = time.monotonic()
    r = run_cli("migrate", "s3", "--report-json", "-", env=env_of(db, bucket, legacy))
    elapsed = time.monotonic() - t0
    assert r.returncode != 0
    errs = errors_of(report(r))
    assert errs[("attachment", big)]["code"] == "DOCSTORE_ETOOBIG"
    assert "over the 1610612736-byte limit of a JSON" in errs[("attachment", big)]["message"]
    assert errs[("attachment", zeros)]["code"] == "DOCSTORE_EFORMAT"
    assert "neither a version 2 envelope nor a JSON object" in errs[("attachment", zeros)]["message"]
    assert elapsed < 30, elapsed
    assert bucket.list() == set()


# ---------------------------------------------------------- write proofs

@pytest.mark.parametrize("proof", ["store", "readback"])
def test_write_proofs(migrated_db, tmp_path, bucket, proof):
    db = migrated_db
    fx = migfix.Fixture(db, str(tmp_path / "legacy"), 20, 6)
    r = run_cli("migrate", "s3", "--write-proof", proof, "--delete-source", "--report-json", "-",
                env=env_of(db, bucket, fx.legacy))
    rep = report(r)
    assert rep["successful"] == len(fx.good()) and rep["failed"] == len(fx.bad())
    migfix.check_store(db, fx, "s3", bucket.read, bucket.list)
