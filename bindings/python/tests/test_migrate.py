# The migration engine through the binding, against a real PostgreSQL
# (DATABASE_URL; CI starts one).  Without it these tests are skipped,
# unless DOCSTORE_REQUIRE_PG=1: then they fail.
# SPDX-License-Identifier: Apache-2.0
import asyncio
import json
import os
import time

import pytest

import docstore
from docstore import migrate

SCHEMA = "pymig_%d" % os.getpid()


DBNAME = "pymig_%d" % os.getpid()


@pytest.fixture
def database():
    """A database of its own (the migration lock is per database, and other
    migration tests may run at the same time), with the seed's tables in
    schema SCHEMA.  Yields (url, connection)."""
    url = os.environ.get("DATABASE_URL")
    if not url:
        msg = "PostgreSQL not configured (DATABASE_URL)"
        if os.environ.get("DOCSTORE_REQUIRE_PG") == "1":
            pytest.fail(msg + " but DOCSTORE_REQUIRE_PG=1")
        pytest.skip(msg)
    import urllib.parse
    import psycopg2
    admin = psycopg2.connect(url)
    admin.autocommit = True
    with admin.cursor() as cur:
        cur.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % DBNAME)
        cur.execute('CREATE DATABASE "%s"' % DBNAME)
    own = urllib.parse.urlsplit(url)._replace(path="/" + DBNAME).geturl()
    conn = psycopg2.connect(own)
    conn.autocommit = True
    with conn.cursor() as cur:
        cur.execute("CREATE SCHEMA %s" % SCHEMA)
        for table in ("attachment", "attachment_staging"):
            cur.execute(
                "CREATE TABLE %s.%s (id BIGINT PRIMARY KEY, filename TEXT, "
                "filepath TEXT, user_id BIGINT, created_at TIMESTAMPTZ "
                "NOT NULL DEFAULT '2024-01-15 10:00:00+00')" % (SCHEMA, table))
    yield own, conn
    conn.close()
    with admin.cursor() as cur:
        cur.execute('DROP DATABASE IF EXISTS "%s" WITH (FORCE)' % DBNAME)
    admin.close()


def _after_lock(fn, *args, **kwargs):
    """Run fn, retrying while the previous run's advisory lock is still
    held: the engine releases it by closing its connection, and the server
    ends that session a moment later, so a run started right after another
    can see DOCSTORE_EBUSY (reported to the migration engine's owner)."""
    for _ in range(100):
        try:
            return fn(*args, **kwargs)
        except docstore.BusyError:
            time.sleep(0.05)
    return fn(*args, **kwargs)


async def _after_lock_async(fn, *args, **kwargs):
    for _ in range(100):
        try:
            return await fn(*args, **kwargs)
        except docstore.BusyError:
            await asyncio.sleep(0.05)
    return await fn(*args, **kwargs)


def _rows(conn, tmp_path, keyring, n):
    legacy = tmp_path / "legacy"
    legacy.mkdir()
    with conn.cursor() as cur:
        for i in range(1, n + 1):
            user = None if i % 5 == 0 else 100 + i % 3
            env = keyring.seal(b"doc %d" % i, str(i),
                               None if user is None else str(user))
            (legacy / ("%d.json" % i)).write_text(env)
            cur.execute("INSERT INTO %s.attachment (id, filename, filepath, "
                        "user_id) VALUES (%%s, %%s, %%s, %%s)" % SCHEMA,
                        (i, "scan%d.pdf" % i, "%d.json" % i, user))
        # One row whose file is missing.
        cur.execute("INSERT INTO %s.attachment (id, filename, filepath) "
                    "VALUES (%%s, 'gone.pdf', 'gone.json')" % SCHEMA,
                    (n + 1,))
    return legacy


def test_schema_sql_without_database():
    if not docstore._ffi.has_migrate():
        pytest.fail("library built without the migration engine")
    sql = migrate.schema_sql(schema="document", env=False)
    assert "storage_path" in sql and "storage_type" in sql


@pytest.mark.asyncio
async def test_migrate_with_progress_then_verify(database, tmp_path, keyring):
    url, conn = database
    opts = dict(database_url=url, schema=SCHEMA, env=False)
    _after_lock(migrate.apply_schema, **opts)
    _after_lock(migrate.apply_schema, **opts)  # idempotent
    legacy = _rows(conn, tmp_path, keyring, 20)
    source = docstore.LocalStorageProvider(str(legacy))
    target = docstore.LocalStorageProvider(str(tmp_path / "target"))
    run = dict(source_type="local", target_type="archive",
               legacy_root=str(legacy), **opts)
    seen = []
    report = await _after_lock_async(
        migrate.migrate_async, source, target, keyring=keyring, jobs=2,
        batch_size=7, progress=seen.append, progress_interval_ms=1, **run)
    c = report.counts
    assert (c.total, c.successful, c.failed, c.skipped) == (21, 20, 1, 0)
    assert c.mode == "migrate"
    assert seen and seen[-1].phase == "done" and seen[-1].done == 21
    assert any("gone.json" in e.message for e in report.errors)
    assert "MIGRATION REPORT" in report.text
    assert report.json["successful"] == 20
    with conn.cursor() as cur:
        cur.execute("SELECT storage_path FROM %s.attachment WHERE "
                    "storage_type = 'archive' ORDER BY id" % SCHEMA)
        paths = [r[0] for r in cur.fetchall()]
    assert len(paths) == 20
    assert target.get(paths[0]) == (legacy / "1.json").read_bytes()

    again = _after_lock(migrate.migrate, source, target, **run)
    assert again.counts.successful == 0 and again.counts.skipped == 20

    ok = _after_lock(migrate.verify, source, target, verify_type="archive",
                     **run)
    assert ok.counts.mode == "verify" and ok.counts.failed == 0
    target.put(paths[3], b'{"tampered": true}')
    bad = _after_lock(migrate.verify, source, target, verify_type="archive",
                      **run)
    assert bad.counts.failed == 1
    assert json.dumps(bad.json)


def test_progress_callback_can_stop(database, tmp_path, keyring):
    url, conn = database
    opts = dict(database_url=url, schema=SCHEMA, env=False)
    _after_lock(migrate.apply_schema, **opts)
    legacy = _rows(conn, tmp_path, keyring, 30)
    run = dict(target_type="archive", legacy_root=str(legacy), batch_size=5,
               jobs=1, progress_interval_ms=1, **opts)

    def stop(progress):
        raise KeyboardInterrupt("operator")
    with pytest.raises(KeyboardInterrupt) as info:
        _after_lock(migrate.migrate, docstore.LocalStorageProvider(str(legacy)),
                    docstore.LocalStorageProvider(str(tmp_path / "t")),
                    progress=stop, **run)
    report = info.value.migration_report
    assert report is None or report.counts.successful < 31
    with pytest.raises(docstore.CanceledError) as info:
        _after_lock(migrate.migrate, docstore.LocalStorageProvider(str(legacy)),
                    docstore.LocalStorageProvider(str(tmp_path / "t")),
                    progress=lambda p: True, **run)
    assert info.value.code == -18


def test_migration_errors(database):
    url, _ = database
    with pytest.raises(docstore.InvalidArgumentError):
        migrate.migrate(None, None, database_url=url, env=False)
    with pytest.raises(TypeError):
        migrate.migrate(None, None, no_such_option=1)
    with pytest.raises(docstore.DatabaseError):
        migrate.apply_schema(database_url="postgresql://nobody@127.0.0.1:1/x",
                             env=False)
