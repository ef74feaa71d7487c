"""Faults during a migration: the process SIGKILLed at exact points, the
target store failing, the database connections cut.  After each, a rerun
finishes the job and the invariants of migfix.check_store() hold: every row
migrated exactly once, every object present and equal, counts that add up.
Local filesystem on both sides; label pg.  The S3 versions (server stopped,
tool killed) are in test_migrate_s3.py.
"""
import os
import shutil
import time

import pytest

import migfix
from migfix import check_store, list_local, read_local, run_driver


def migrate(fx, target, *extra, env):
    return run_driver("--source", f"local:{fx.legacy}", "--target", f"local:{target}",
                      "--legacy-root", fx.legacy, "--batch", "16", *extra, env=env)


def local_check(db, fx, target, **kw):
    return check_store(db, fx, "s3", lambda k: read_local(target, k), lambda: list_local(target), **kw)


def wait_no_migrator(db, timeout=60):
    """A killed run's server session (and its advisory lock) ends when the
    server sees the socket closed; wait for that before the next run."""
    end = time.monotonic() + timeout
    while db.q("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
               "AND application_name = 'docstore-migrate'")[0][0]:
        assert time.monotonic() < end, "the killed run's sessions did not end"
        time.sleep(0.05)


def adds_up(rep):
    return rep["total"] == rep["successful"] + rep["failed"] + rep["skipped"] + rep["not_attempted"]


def finish(db, fx, target, env, *extra):
    wait_no_migrator(db)
    rc, rep, err = migrate(fx, target, "--jobs", "3", *extra, env=env)
    assert rc == 1, err  # the bad rows still fail
    assert adds_up(rep)
    assert rep["failed"] == len(fx.bad())
    return rep


KILLS = [
    # (first kill, second kill, jobs)
    ("target.put:5:kill-before", "target.put:30:kill-before", 1),
    ("target.put:5:kill-after", "target.put:25:kill-after", 1),   # uploaded, row not switched
    ("target.get:6:kill-after", "target.get:30:kill-after", 1),   # read back, not switched
    ("target.head:9:kill-after", "target.put:20:kill-after", 4),
    ("target.put:17:kill-after", "target.get:12:kill-before", 4),
    ("progress:20", "progress:45", 2),
]


@pytest.mark.parametrize("first,second,jobs", KILLS)
def test_sigkill_twice_then_rerun(migrated_db, tmp_path, env_for, first, second, jobs):
    db = migrated_db
    fx = migfix.Fixture(db, str(tmp_path / "legacy"), 80, 20)
    target = str(tmp_path / "target")
    switched = []
    for point in (first, second):
        wait_no_migrator(db)
        args = (["--kill-progress", point.split(":")[1]] if point.startswith("progress")
                else ["--fault", point])
        rc, rep, err = migrate(fx, target, "--jobs", str(jobs), *args, env=env_for)
        assert rc == -9, f"not killed at {point}: {err}"
        assert rep is None
        # Killed at any point, the database never points at a missing or
        # different object, and nothing is in the store twice.
        local_check(db, fx, target, require_all_good=False, pending_ok=2 * jobs)
        switched.append(db.q("SELECT count(*) FROM document.attachment WHERE storage_type = 's3'")[0][0])
    rep = finish(db, fx, target, env_for)
    assert rep["successful"] + rep["skipped"] == len(fx.good())
    assert rep["skipped"] >= switched[-1]
    if "put" in first and "kill-after" in first and jobs == 1:
        assert rep["recovered"] >= 1  # the object uploaded before the kill
    local_check(db, fx, target)


def test_sigkill_with_delete_source(migrated_db, tmp_path, env_for):
    """Killed after a row was switched but before its source was deleted:
    the row stays migrated; the source file is left over (never lost)."""
    db = migrated_db
    fx = migfix.Fixture(db, str(tmp_path / "legacy"), 60, 0)
    target = str(tmp_path / "target")
    rc, _, err = migrate(fx, target, "--jobs", "2", "--delete-source",
                         "--fault", "source.delete:3:kill-before", env=env_for)
    assert rc == -9, err
    local_check(db, fx, target, require_all_good=False, pending_ok=2)
    finish(db, fx, target, env_for, "--delete-source")
    local_check(db, fx, target)
    left = [r for r in fx.good() if os.path.exists(r.abspath)]
    assert 1 <= len(left) <= 2  # the rows in flight when it died
    for r in left:  # and they are migrated all the same
        assert db.q("SELECT storage_type FROM document.attachment WHERE id = %s", (r.id,))[0][0] == "s3"


def test_target_fails_midrun_stops_then_rerun_completes(migrated_db, tmp_path, env_for):
    db = migrated_db
    fx = migfix.Fixture(db, str(tmp_path / "legacy"), 80, 20)
    target = str(tmp_path / "target")
    rc, rep, err = migrate(fx, target, "--jobs", "2", "--max-failures", "8",
                           "--fault", "target.put:30:fail", env=env_for)
    assert rc == 2, err
    assert rep["stop_code"] == "DOCSTORE_ECONNECT"
    assert rep["not_attempted"] > 0 and adds_up(rep)
    injected = [e for e in rep["errors"] if e["message"].endswith(": connection refused (injected)")]
    assert len(injected) >= 8
    assert all(e["code"] == "DOCSTORE_ECONNECT" for e in injected)
    assert rep["errors"][-1]["message"] == (
        f"Run stopped after 8 documents in a row failed on a store or the database: "
        f"{rep['not_attempted']} files not attempted")
    assert "Run stopped after 8 documents" in err  # in the text report too
    # A row whose object was written just before the store went down (its
    # read-back failed) is not switched: the next run finds the object.
    local_check(db, fx, target, require_all_good=False, pending_ok=2)
    assert db.q("SELECT count(*) FROM document.attachment WHERE storage_type = 's3'")[0][0] <= 29
    rep = finish(db, fx, target, env_for)
    local_check(db, fx, target)


def test_target_fails_without_limit_reports_every_row(migrated_db, tmp_path, env_for):
    db = migrated_db
    fx = migfix.Fixture(db, str(tmp_path / "legacy"), 40, 0)
    target = str(tmp_path / "target")
    rc, rep, err = migrate(fx, target, "--jobs", "1", "--max-failures", str(0xFFFFFFFF),
                           "--fault", "target.put:10:fail", env=env_for)
    assert rc == 1, err
    assert rep["not_attempted"] == 0 and adds_up(rep)
    assert rep["successful"] == 9
    assert rep["failed"] == len(fx.good()) - 9 + len(fx.bad())
    local_check(db, fx, target, require_all_good=False)
    finish(db, fx, target, env_for)
    local_check(db, fx, target)


def test_target_root_broken_midrun(migrated_db, tmp_path, env_for):
    """A real filesystem failure: the target's documents/ folder replaced
    by a file in the middle of the run."""
    db = migrated_db
    fx = migfix.Fixture(db, str(tmp_path / "legacy"), 60, 0)
    target = str(tmp_path / "target")
    docs = os.path.join(target, "documents")
    rc, rep, err = migrate(fx, target, "--jobs", "1", "--max-failures", "5", "--fault",
                           f"target.put:20:exec=mv {docs} {docs}.gone && touch {docs}", env=env_for)
    assert rc == 2, err
    assert rep["successful"] == 19
    assert rep["stop_code"] is not None
    bad = {str(r.id) for r in fx.bad()}
    failures = [e for e in rep["errors"] if e["id"] is not None and e["id"] not in bad]
    assert len(failures) == 5, failures
    assert all(e["code"] == "DOCSTORE_EIO" and "documents is a file" in e["message"]
               for e in failures), failures
    os.unlink(docs)
    os.rename(docs + ".gone", docs)
    local_check(db, fx, target, require_all_good=False)
    finish(db, fx, target, env_for)
    local_check(db, fx, target)


def test_database_connections_cut_midrun(migrated_db, tmp_path, env_for):
    db = migrated_db
    # Enough rows that the reader (at most a page and a queue ahead of the
    # workers) still has pages to read when its connection is cut.
    fx = migfix.Fixture(db, str(tmp_path / "legacy"), 150, 30)
    target = str(tmp_path / "target")
    sql = ("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() "
           "AND application_name = 'docstore-migrate'")
    # One worker: while it runs psql, the reader can be at most a page and
    # a queue ahead, so the run cannot finish before the cut however slow
    # psql is to start on a loaded machine.
    rc, rep, err = migrate(fx, target, "--jobs", "1",
                           "--fault", f"target.put:20:exec=psql -qtAX '{db.url}' -c \"{sql}\" >/dev/null",
                           env=env_for)
    # Every connection of the run is gone: the reader connects again, takes
    # the lock and its claims again and goes on (0.4.0; it used to stop);
    # the workers reconnect for the rows they were finishing.
    assert rc == 1, err  # the bad rows only
    assert "the database connection was lost; connected again" in err
    assert rep["stop_code"] is None
    assert adds_up(rep)
    assert (rep["successful"], rep["failed"]) == (len(fx.good()), len(fx.bad()))
    local_check(db, fx, target)
    assert db.q("SELECT count(*) FROM document.docstore_migration_claim") == [(0,)]
    finish(db, fx, target, env_for)
    local_check(db, fx, target)
