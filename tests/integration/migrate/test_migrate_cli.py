"""`docstore migrate` without S3: schema, verification of local rows, the
lock, the report, progress output, usage errors.  Label pg.  The S3
directions are in test_migrate_s3.py.
"""
import json
import os
import re

import psycopg2
import pytest

import migfix
from migfix import run_cli

NO_S3 = {k: "" for k in ("S3_BUCKET", "S3_ACCESS_KEY", "S3_SECRET_KEY", "S3_ENDPOINT_URL",
                         "STORAGE_TYPE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")}

SEED_REPORT = re.compile(
    r"^==================================================\n"
    r"📋 (MIGRATION|VERIFICATION) REPORT( \(DRY RUN\))?\n"
    r"==================================================\n"
    r"Total files: (\d+)\n"
    r"✅ Successful: (\d+)\n"
    r"❌ Failed: (\d+)\n"
    r"⏭️ Skipped: (\d+)\n"
    r"((?:❌ Errors:\n(?:- .+\n)+)?)"
    r"==================================================\n")


def parse_report(text):
    m = SEED_REPORT.match(text)
    assert m, text
    total, ok, failed, skipped = (int(m.group(i)) for i in (3, 4, 5, 6))
    errors = [line[2:] for line in m.group(7).splitlines()[1:]]
    return m.group(1), total, ok, failed, skipped, errors, text[m.end():]


def columns(db, table):
    return {name: default for name, default in db.q(
        "SELECT column_name, column_default FROM information_schema.columns "
        "WHERE table_schema = 'document' AND table_name = %s", (table,))}


def test_schema_apply_is_idempotent_and_matches_the_sql_files(db, env_for):
    migfix.create_old_tables(db)
    db.q("INSERT INTO document.attachment (filename, filepath) VALUES ('a.pdf', '/x/a.json')")
    r = run_cli("migrate", "schema", "--print", env=env_for)
    assert r.returncode == 0, r.stderr
    files = "".join(open(os.path.join(migfix.SOURCE_DIR, "sql", f)).read()
                    for f in ("001_storage_columns.sql", "002_migration_ledger.sql",
                              "003_migration_claims.sql"))
    assert r.stdout.decode() == files
    for _ in range(2):
        r = run_cli("migrate", "schema", env=env_for)
        assert r.returncode == 0, r.stderr
        assert r.stdout.decode().startswith("✅ Schema applied")
    for t in ("attachment", "attachment_staging"):
        cols = columns(db, t)
        assert "storage_path" in cols and cols["storage_type"].startswith("'local'")
    assert db.q("SELECT storage_type, storage_path FROM document.attachment") == [("local", None)]
    assert db.q("SELECT count(*) FROM document.docstore_migration_ledger") == [(0,)]
    assert db.q("SELECT count(*) FROM document.docstore_migration_claim") == [(0,)]


def test_schema_on_tables_that_already_have_the_columns(db, env_for):
    migfix.create_old_tables(db)
    db.q("ALTER TABLE document.attachment ADD COLUMN storage_path VARCHAR(500), "
         "ADD COLUMN storage_type VARCHAR(50)")
    r = run_cli("migrate", "schema", "--table", "attachment", env=env_for)
    assert r.returncode == 0, r.stderr
    assert "storage_path" not in columns(db, "attachment_staging")  # only the table asked for
    r = run_cli("migrate", "schema", env=env_for)
    assert r.returncode == 0, r.stderr
    assert "storage_path" in columns(db, "attachment_staging")


def test_schema_errors(db, env_for):
    r = run_cli("migrate", "schema", env=env_for)  # no document schema at all
    assert r.returncode == 1
    err = r.stderr.decode()
    assert err.startswith("docstore: migrate: schema: applying the schema: ")
    assert "does not exist" in err and err.rstrip().endswith("(DOCSTORE_EDATABASE)")
    r = run_cli("migrate", "schema", env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    assert r.returncode == 1
    assert "cannot connect to the database" in r.stderr.decode()


def test_verify_local_rows_report_and_exit_status(migrated_db, tmp_path, env_for):
    db = migrated_db
    fx = migfix.Fixture(db, str(tmp_path / "legacy"), 60, 12)
    env = {**env_for, **NO_S3, "LOCAL_STORAGE_PATH": fx.legacy}
    json_path = tmp_path / "report.json"
    r = run_cli("migrate", "--verify", "--report-json", str(json_path), "--progress", "none",
                "--jobs", "3", env=env)
    assert r.returncode != 0
    kind, total, ok, failed, skipped, errors, rest = parse_report(r.stdout.decode())
    assert (kind, total, ok, failed, skipped) == ("VERIFICATION", len(fx.rows), len(fx.good()),
                                                  len(fx.bad()), 0)
    assert rest == ""
    missing = {f"File not found: {x.abspath}" for x in fx.bad() if x.kind == "missing"}
    assert missing <= set(errors)
    rep = json.loads(json_path.read_text())
    assert sorted(e["message"] for e in rep["errors"]) == sorted(errors)
    assert oct(os.stat(json_path).st_mode & 0o777) == "0o600"
    line = r.stderr.decode().strip().splitlines()[-1]
    assert line.startswith(f"docstore: migrate: {len(fx.bad())} of {len(fx.rows)} documents failed (first: ")
    # Exit status: the class of the first failure (see `docstore help`).
    first = rep["errors"][0]["code"]
    assert r.returncode == {"DOCSTORE_ENOTFOUND": 4, "DOCSTORE_EFORMAT": 6, "DOCSTORE_EIO": 9}[first]
    assert line.endswith(f"({first})")

    # Only good rows: exit status 0 and no "Errors" section.
    db.q("DELETE FROM document.attachment WHERE id = ANY(%s)",
         ([x.id for x in fx.bad("attachment")],))
    r = run_cli("migrate", "--verify", "local", "--table", "attachment", "--report-json", "-",
                "--progress", "none", env=env)
    assert r.returncode == 0, r.stderr
    kind, total, ok, failed, skipped, errors, rest = parse_report(r.stdout.decode())
    assert (total, ok, failed, errors) == (len(fx.good("attachment")), len(fx.good("attachment")), 0, [])
    assert json.loads(rest)["successful"] == ok


def test_progress_bar_and_lines(migrated_db, tmp_path, env_for):
    fx = migfix.Fixture(migrated_db, str(tmp_path / "legacy"), 20, 0)
    env = {**env_for, **NO_S3, "LOCAL_STORAGE_PATH": fx.legacy}
    r = run_cli("migrate", "--verify", "--progress", "bar", env=env)
    err = r.stderr.decode()
    assert re.search(r"\r\x1b\[K\[#{30}\] 20/20 100\.0% [\d.]+ files/s ETA 0:00 failed \d+ skipped 0\n", err), err
    r = run_cli("migrate", "--verify", "--progress", "lines", env=env)
    lines = [x for x in r.stderr.decode().splitlines() if x.startswith("docstore: verify: ")]
    assert lines[0].startswith("docstore: verify: 0/20 (0.0%)")
    assert lines[-1].startswith("docstore: verify: 20/20 (100.0%)") and lines[-1].endswith(", done")
    r = run_cli("migrate", "--verify", env=env)  # auto: not a terminal -> lines
    assert "\x1b[K" not in r.stderr.decode() and "docstore: verify: 20/20" in r.stderr.decode()


def test_second_run_is_refused_while_one_holds_the_lock(migrated_db, tmp_path, env_for):
    db = migrated_db
    fx = migfix.Fixture(db, str(tmp_path / "legacy"), 5, 0)
    env = {**env_for, **NO_S3, "LOCAL_STORAGE_PATH": fx.legacy}
    holder = psycopg2.connect(db.url + " application_name=docstore-migrate")
    holder.autocommit = True
    with holder.cursor() as c:
        c.execute("SELECT pg_advisory_lock(%s), pg_backend_pid()", (migfix.LOCK_KEY,))
        pid = c.fetchone()[1]
    for args in (("migrate", "--verify"), ("migrate", "schema")):
        r = run_cli(*args, env=env)
        assert r.returncode == 7, r.stderr
        err = r.stderr.decode()
        assert f"another migration is running (server pid {pid}, docstore-migrate): this one does " \
               f"not start" in err, err
        assert err.rstrip().endswith("(DOCSTORE_EBUSY)")
        assert r.stdout == b""
    holder.close()


@pytest.mark.parametrize("args,message", [
    ((), "missing argument"),
    (("gcs",), "unknown migration 'gcs'"),
    (("s3", "--jobs", "0"), "--jobs needs a number from 1 to 64"),
    (("s3", "--batch-size", "100001"), "--batch-size needs a number from 1 to 100000"),
    (("s3", "--table", "users"), "--table takes attachment, attachment_staging or all"),
    (("s3", "--dry-run", "--delete-source"), "--delete-source goes with a real migration only"),
    (("--verify", "--delete-source"), "--delete-source goes with a real migration only"),
    (("--verify", "gcs"), "--verify takes s3 or local"),
    (("s3", "--print"), "--print goes with `migrate schema`"),
    (("s3", "local"), "too many arguments"),
    (("s3", "--progress", "fancy"), "--progress takes auto, bar, lines or none"),
])
def test_usage_errors(args, message):
    r = run_cli("migrate", *args, env={"DATABASE_URL": "postgresql://nobody@127.0.0.1:1/none"})
    assert r.returncode == 2, r.stderr
    assert message in r.stderr.decode()


def test_help():
    r = run_cli("help", "migrate")
    assert r.returncode == 0
    out = r.stdout.decode()
    for word in ("--batch-size", "--jobs", "--dry-run", "--table", "--report-json", "--delete-source",
                 "--verify", "DOCSTORE_MIGRATE_COL_"):
        assert word in out
