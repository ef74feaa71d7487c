"""The migration engine against a real PostgreSQL, local filesystem on both
sides (the engine does not care which providers it moves between).  Label pg.
"""
import base64
import json
import os
import shutil

import psycopg2
import pytest

import migfix
from migfix import check_store, list_local, read_local, run_driver


def migrate(fx, target, *extra, env):
    return run_driver("--source", f"local:{fx.legacy}", "--target", f"local:{target}",
                      "--legacy-root", fx.legacy, *extra, env=env)


def local_check(db, fx, target, **kw):
    return check_store(db, fx, "s3", lambda k: read_local(target, k), lambda: list_local(target), **kw)


def errors_by_id(report):
    return {(e["table"], int(e["id"])): e for e in report["errors"] if e["id"] is not None}


def test_migrates_fixture_and_reports_every_failure(migrated_db, tmp_path, env_for):
    db = migrated_db
    fx = migfix.Fixture(db, str(tmp_path / "legacy"))
    target = str(tmp_path / "target")
    rc, rep, err = migrate(fx, target, "--jobs", "4", "--batch", "37", env=env_for)
    assert rc == 1, err
    good, bad = fx.good(), fx.bad()
    assert len(good) > 250 and len(bad) > 40
    assert (rep["total"], rep["successful"], rep["failed"], rep["skipped"]) == \
        (len(fx.rows), len(good), len(bad), 0)
    assert rep["recovered"] == 0 and rep["not_attempted"] == 0 and rep["stop_code"] is None
    errs = errors_by_id(rep)
    assert len(errs) == len(bad)
    for r in bad:
        e = errs[(r.table, r.id)]
        label = "Attachment" if r.table == "attachment" else "Staging attachment"
        if r.kind == "missing":
            assert e["message"] == f"File not found: {r.abspath}"
            assert e["code"] == "DOCSTORE_ENOTFOUND"
        elif r.kind == "directory":
            assert e["message"] == f"{label} {r.id}: file {r.abspath} is a folder"
            assert e["code"] == "DOCSTORE_EINVAL"
        elif r.kind == "fifo":
            assert e["message"] == f"{label} {r.id}: file {r.abspath} is not a regular file"
            assert e["code"] == "DOCSTORE_EINVAL"
        else:
            assert e["message"].startswith(f"{label} {r.id}: {r.abspath} does not parse as an envelope: ")
            assert e["code"] == "DOCSTORE_EFORMAT"
    on_target = local_check(db, fx, target)
    assert len(on_target) == len(good)
    # Hostile names stayed inside the layout; NULL users went to system/.
    assert any(k.startswith("documents/system/") for k in on_target)
    assert all(".." not in k.split("/") for k in on_target)
    assert any("паспорт" in k for k in on_target)

    # Second run: everything good is skipped, the bad rows fail again.
    rc, rep2, err = migrate(fx, target, "--jobs", "2", env=env_for)
    assert rc == 1, err
    assert (rep2["successful"], rep2["failed"], rep2["skipped"]) == (0, len(bad), len(good))
    local_check(db, fx, target)


@pytest.mark.parametrize("batch,jobs", [(1, 1), (7, 3), (1000, 8)])
def test_batch_sizes_and_jobs(migrated_db, tmp_path, env_for, batch, jobs):
    fx = migfix.Fixture(migrated_db, str(tmp_path / "legacy"), 40, 9)
    target = str(tmp_path / "target")
    rc, rep, err = migrate(fx, target, "--batch", str(batch), "--jobs", str(jobs), env=env_for)
    assert rc == 1, err
    assert rep["successful"] + rep["failed"] == len(fx.rows)
    local_check(migrated_db, fx, target)


def test_dry_run_writes_nothing(migrated_db, tmp_path, env_for):
    db = migrated_db
    fx = migfix.Fixture(db, str(tmp_path / "legacy"), 60, 10)
    target = str(tmp_path / "target")
    rc, rep, err = migrate(fx, target, "--dry-run", env=env_for)
    assert rc == 1, err
    assert rep["dry_run"] is True
    assert (rep["successful"], rep["failed"]) == (len(fx.good()), len(fx.bad()))
    assert list_local(target) == set()
    for table in ("attachment", "attachment_staging"):
        assert db.q(f"SELECT count(*) FROM document.{table} WHERE storage_type <> 'local' "
                    f"OR (storage_path IS NOT NULL AND storage_path NOT LIKE '%%_stored.pdf_pdf.json')"
                    )[0][0] == 0
    assert db.q("SELECT count(*) FROM document.docstore_migration_ledger")[0][0] == 0
    assert "MIGRATION REPORT (DRY RUN)" in err


def test_one_table_only(migrated_db, tmp_path, env_for):
    db = migrated_db
    fx = migfix.Fixture(db, str(tmp_path / "legacy"), 30, 10)
    target = str(tmp_path / "target")
    rc, rep, err = migrate(fx, target, "--tables", "2", env=env_for)
    assert rc == 1, err
    assert rep["tables"] == ["attachment_staging"]
    assert rep["total"] == 10
    assert db.q("SELECT count(*) FROM document.attachment WHERE storage_type = 's3'")[0][0] == 0
    assert db.q("SELECT count(*) FROM document.attachment_staging WHERE storage_type = 's3'")[0][0] == \
        len(fx.good("attachment_staging"))


def test_interrupted_upload_is_recovered_and_foreign_object_kept(migrated_db, tmp_path, env_for):
    """A row whose object is at its path but whose update never committed is
    switched without a second upload; a different object at that path is
    never overwritten."""
    db = migrated_db
    fx = migfix.Fixture(db, str(tmp_path / "legacy"), 30, 0)
    target = str(tmp_path / "target")
    assert migrate(fx, target, env=env_for)[0] == 1
    a, b = fx.good()[0], fx.good()[1]
    key_a = db.q("SELECT storage_path FROM document.attachment WHERE id = %s", (a.id,))[0][0]
    key_b = db.q("SELECT storage_path FROM document.attachment WHERE id = %s", (b.id,))[0][0]
    # As if the tool died after the upload: rows back on local storage.
    db.q("UPDATE document.attachment SET storage_type = 'local', storage_path = NULL "
         "WHERE id IN (%s, %s)", (a.id, b.id))
    db.q("DELETE FROM document.docstore_migration_ledger WHERE row_id IN (%s, %s)",
         (str(a.id), str(b.id)))
    foreign = b'{"format": "someone else"}'
    with open(os.path.join(target, key_b), "wb") as f:
        f.write(foreign)
    before = os.stat(os.path.join(target, key_a)).st_ino
    rc, rep, err = migrate(fx, target, env=env_for)
    assert rc == 1, err
    assert (rep["successful"], rep["recovered"]) == (1, 1)
    assert os.stat(os.path.join(target, key_a)).st_ino == before  # not rewritten
    assert read_local(target, key_b) == foreign
    e = errors_by_id(rep)[("attachment", b.id)]
    assert e["code"] == "DOCSTORE_EEXISTS"
    assert e["message"] == (f"Attachment {b.id}: {key_b} on s3 already holds a different object; "
                            f"not overwritten")
    assert db.q("SELECT storage_type FROM document.attachment WHERE id = %s", (b.id,))[0][0] == "local"


def test_delete_source_only_for_switched_rows(migrated_db, tmp_path, env_for):
    db = migrated_db
    fx = migfix.Fixture(db, str(tmp_path / "legacy"), 50, 10)
    target = str(tmp_path / "target")
    rc, rep, err = migrate(fx, target, "--delete-source", "--jobs", "3", env=env_for)
    assert rc == 1, err
    assert rep["source_deleted"] == len(fx.good())
    for r in fx.rows:
        assert os.path.lexists(r.abspath) == (not r.good and r.kind != "missing"), r.abspath
    local_check(db, fx, target)


def test_decrypt_check(migrated_db, tmp_path, env_for):
    """With a keyring every document must decrypt: one sealed for another
    key fails, the others pass."""
    from Cryptodome.PublicKey import RSA
    db = migrated_db
    fx = migfix.Fixture(db, str(tmp_path / "legacy"), 20, 0)
    stranger = fx.good()[2]
    stranger.data = migfix.legacy_envelope(RSA.generate(2048).publickey(), b"not yours")
    with open(stranger.abspath, "wb") as f:
        f.write(stranger.data)
    target = str(tmp_path / "target")
    rc, rep, err = migrate(fx, target, "--private-key", fx.priv_pem, env=env_for)
    assert rc == 1, err
    e = errors_by_id(rep)[("attachment", stranger.id)]
    assert e["code"] == "DOCSTORE_EKEY"
    assert "does not decrypt with the configured key" in e["message"]
    assert rep["successful"] == len(fx.good()) - 1


def test_row_changed_during_migration_is_not_switched(migrated_db, tmp_path, env_for):
    db = migrated_db
    fx = migfix.Fixture(db, str(tmp_path / "legacy"), 20, 0)
    victim = fx.good()[4]  # jobs 1: the 5th upload is this row's
    sql = f"UPDATE document.attachment SET storage_type = 'gcs' WHERE id = {victim.id}"
    rc, rep, err = migrate(fx, str(tmp_path / "target"), "--jobs", "1",
                           "--fault", f"target.put:5:exec=psql -qX '{db.url}' -c \"{sql}\"",
                           env=env_for)
    assert rc == 1, err
    e = errors_by_id(rep)[("attachment", victim.id)]
    assert e["message"] == f"Attachment {victim.id}: the row changed during the migration; not switched"
    assert db.q("SELECT storage_type, storage_path FROM document.attachment WHERE id = %s",
                (victim.id,)) == [("gcs", None)]


def test_mapped_column_names(db, tmp_path, env_for):
    migfix.create_old_tables(db, created="uploaded_at")
    rc, rep, err = run_driver("--source", f"local:{tmp_path}/s", "--target", f"local:{tmp_path}/t",
                              env=env_for)
    assert (rc, rep) == (4, None)
    assert "apply the schema with `docstore migrate schema`" in err
    r = migfix.run_cli("migrate", "schema", env={**env_for})
    assert r.returncode == 0, r.stderr
    fx = migfix.Fixture(db, str(tmp_path / "legacy"), 20, 5, created="uploaded_at")
    rc, rep, err = migrate(fx, str(tmp_path / "target"), env=env_for)
    assert rc == 4 and "created_at" in err  # the default name does not exist here
    rc, rep, err = migrate(fx, str(tmp_path / "target"),
                           env={**env_for, "DOCSTORE_MIGRATE_COL_CREATED": "uploaded_at"})
    assert rc == 1, err
    local_check(db, fx, str(tmp_path / "target"))


def test_verify_finds_missing_changed_and_unparsable_objects(migrated_db, tmp_path, env_for):
    db = migrated_db
    fx = migfix.Fixture(db, str(tmp_path / "legacy"), 40, 5)
    target = str(tmp_path / "target")
    assert migrate(fx, target, env=env_for)[0] == 1
    rc, rep, err = run_driver("--verify", "--verify-type", "s3", "--source", f"local:{fx.legacy}",
                              "--target", f"local:{target}", env=env_for)
    assert rc == 0, err
    assert rep["mode"] == "verify" and rep["successful"] == len(fx.good())
    assert rep["skipped"] == len(fx.bad())
    gone, changed, garbage = fx.good()[0], fx.good()[1], fx.good()[2]
    key = {r.id: db.q("SELECT storage_path FROM document.attachment WHERE id = %s", (r.id,))[0][0]
           for r in (gone, changed, garbage)}
    os.unlink(os.path.join(target, key[gone.id]))
    env = json.loads(fx.good()[1].data)  # still valid JSON, different ciphertext
    ct = bytearray(base64.b64decode(env["ciphertext"]))
    ct[0] ^= 1
    env["ciphertext"] = base64.b64encode(bytes(ct)).decode()
    with open(os.path.join(target, key[changed.id]), "w") as f:
        json.dump(env, f)
    # A row the application stored itself (no ledger entry) whose object
    # is not an envelope.
    with open(os.path.join(target, key[garbage.id]), "wb") as f:
        f.write(b"<html>not a document</html>")
    db.q("DELETE FROM document.docstore_migration_ledger WHERE row_id = %s", (str(garbage.id),))
    rc, rep, err = run_driver("--verify", "--source", f"local:{fx.legacy}",
                              "--target", f"local:{target}", env=env_for)
    assert rc == 1, err
    errs = errors_by_id(rep)
    assert errs[("attachment", gone.id)]["message"] == f"File not found: {key[gone.id]} on s3"
    assert errs[("attachment", changed.id)]["code"] == "DOCSTORE_EINTEGRITY"
    assert "differs from the SHA-256 recorded when it was migrated" in errs[("attachment", changed.id)]["message"]
    assert "does not parse as an envelope" in errs[("attachment", garbage.id)]["message"]
    # Without --verify-type the rows still on local storage are checked too.
    assert set(errs) == {("attachment", gone.id), ("attachment", changed.id),
                         ("attachment", garbage.id)} | {(r.table, r.id) for r in fx.bad()}
    assert rep["failed"] == 3 + len(fx.bad())
    # Nothing was written by a verification.
    assert read_local(target, key[gone.id]) is None


def test_advisory_lock(migrated_db, tmp_path, env_for):
    db = migrated_db
    fx = migfix.Fixture(db, str(tmp_path / "legacy"), 10, 0)
    target = str(tmp_path / "target")
    holder = psycopg2.connect(db.url)
    holder.autocommit = True
    with holder.cursor() as c:
        c.execute("SET application_name = 'other-migrator'")
        c.execute("SELECT pg_advisory_lock(%s), pg_backend_pid()", (migfix.LOCK_KEY,))
        pid = c.fetchone()[1]
    rc, rep, err = migrate(fx, target, env=env_for)
    assert (rc, rep) == (3, None)
    assert f"another migration is running (server pid {pid}, other-migrator)" in err
    assert "DOCSTORE_EBUSY" in err
    assert list_local(target) == set()
    # A verification cannot run beside a migration either.
    rc, _, err = run_driver("--verify", "--source", f"local:{fx.legacy}", env=env_for)
    assert rc == 3 and "another migration is running" in err
    with holder.cursor() as c:
        c.execute("SELECT pg_advisory_unlock(%s)", (migfix.LOCK_KEY,))
        # A verification of this version: the base key and its group's key.
        c.execute("SELECT pg_advisory_lock_shared(%s), pg_advisory_lock_shared(%s)",
                  (migfix.LOCK_KEY, migfix.LOCK_VERIFYING))
    rc, _, err = migrate(fx, target, env=env_for)
    assert rc == 3 and f"a verification is running (server pid {pid}, other-migrator)" in err
    # The failed attempt left no lock behind (in this test's database: other
    # tests running at the same time hold their own).
    assert db.q("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid <> %s "
                "AND database = (SELECT oid FROM pg_database "
                "WHERE datname = current_database())", (pid,)) == [(0,)]
    rc, rep, err = run_driver("--verify", "--source", f"local:{fx.legacy}",
                              "--legacy-root", fx.legacy, env=env_for)
    assert rc == 1, err  # verifications share the lock; bad rows fail
    assert (rep["successful"], rep["failed"]) == (len(fx.good()), len(fx.bad()))
    holder.close()
    rc, rep, err = migrate(fx, target, env=env_for)
    assert rc == 1, err
    assert rep["successful"] == len(fx.good())
