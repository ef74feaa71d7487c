"""Several `docstore migrate s3` processes at once on one database (as on
several hosts): they share the rows through claims.  One of them is
SIGKILLed at random points (several rounds, a new process takes its place
each time), and single PostgreSQL connections of the runs are cut
(pg_terminate_backend) while they work.  Then one final run, and the check,
row by row and object by object: every row on S3, its object there, its
SHA-256 equal to the source file's and to the ledger's; every object under
documents/ belongs to exactly one row; no claim left.  Labels pg and s3.
"""
import hashlib
import json
import os
import random
import signal
import subprocess
import time

import migfix
from migfix import check_store, on_s3, wait_for

PROCESSES = 4
KILL_ROUNDS = 3
CUTS = 3
MIB = 1024 * 1024


def claims(db):
    return db.q("SELECT count(*) FROM document.docstore_migration_claim")[0][0]


def migrators(db):
    return db.q("SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'docstore-migrate'")


def readers(db):
    """The sessions that hold the migrations' lock: each run's reader (the
    one that claims, renews and releases)."""
    return db.q("SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted "
                "AND database = (SELECT oid FROM pg_database "
                "WHERE datname = current_database()) "
                "AND classid::bigint = %s AND objid::bigint = %s",
                (migfix.LOCK_MIGRATING >> 32, migfix.LOCK_MIGRATING & 0xFFFFFFFF))


def make_big(fx, count, rng):
    """Turn `count` good rows into documents above the multipart threshold
    (5 MiB with 5 MiB parts below: two or three parts each)."""
    pub = fx.key.publickey()
    for r in rng.sample(fx.good(), count):
        r.plaintext = os.urandom(4 * MIB + rng.randrange(2 * MIB))
        r.data = migfix.legacy_envelope(pub, r.plaintext)
        assert len(r.data) > 5 * MIB
        with open(r.abspath, "wb") as f:
            f.write(r.data)


def test_four_processes_killed_and_cut_then_complete(migrated_db, tmp_path, bucket):
    db = migrated_db
    seed = int(os.environ.get("DOCSTORE_TEST_SEED", random.randrange(1 << 30)))
    print(f"seed {seed}")
    rng = random.Random(seed)
    fx = migfix.Fixture(db, str(tmp_path / "legacy"), 240, 60)
    make_big(fx, 4, rng)
    env = {**os.environ, "DATABASE_URL": db.url, "S3_BUCKET": bucket.bucket,
           "LOCAL_STORAGE_PATH": fx.legacy, "S3_MULTIPART_THRESHOLD": "5MiB",
           "S3_MULTIPART_PART_SIZE": "5MiB"}
    logs = tmp_path / "logs"
    logs.mkdir()

    def start(name):
        out = open(logs / f"{name}.out", "wb")
        err = open(logs / f"{name}.err", "wb")
        p = subprocess.Popen([migfix.cli(), "--no-env-file", "migrate", "s3", "--jobs", "2",
                              "--batch-size", "3", "--lease", "10", "--worker-name", name,
                              "--progress", "none", "--report-json", str(logs / f"{name}.json")],
                             env=env, stdout=out, stderr=err)
        out.close()
        err.close()
        return p

    procs = {f"w{i}": start(f"w{i}") for i in range(PROCESSES)}
    killed = 0
    cut = 0
    deadline = time.monotonic() + 600
    # Kills and cuts in a random order, at random moments; an action waits
    # for something to act on (a running process, a session), so that a
    # loaded machine that finishes one run early does not skip it.
    actions = ["kill"] * KILL_ROUNDS + ["cut"] * CUTS
    rng.shuffle(actions)
    try:
        while any(p.poll() is None for p in procs.values()):
            assert time.monotonic() < deadline, "the runs did not finish"
            time.sleep(rng.uniform(0.1, 0.8))
            action = actions[0] if actions else None
            running = sorted(n for n, p in procs.items() if p.poll() is None)
            if action == "kill" and running:
                victim = rng.choice(running)
                procs[victim].send_signal(signal.SIGKILL)
                procs[victim].wait()
                killed += 1
                actions.pop(0)
                if killed == 1:
                    # Invariants hold at any instant, the other runs going
                    # on: rows on S3 have their exact object; any other
                    # object is the exact document of a row still on local
                    # storage (an upload whose switch is to come, or the
                    # killed run's).  (Once: it reads every object.)
                    check_store(db, fx, "s3", bucket.read, bucket.list,
                                require_all_good=False, pending_ok=len(fx.rows))
                procs[f"k{killed}"] = start(f"k{killed}")
            elif action == "cut":
                # First a run's reader, then any connection of any run.
                pids = readers(db) if cut == 0 else migrators(db)
                if pids:
                    (pid,) = rng.choice(pids)
                    db.q("SELECT pg_terminate_backend(%s)", (pid,))
                    cut += 1
                    actions.pop(0)
    finally:
        for p in procs.values():
            if p.poll() is None:
                p.kill()
                p.wait()
    # At least one kill and one cut happened while the runs worked (all of
    # them unless the rows ran out first).
    assert killed >= 1 and cut >= 1, \
        f"the runs ended before a kill and a cut ({killed} kills, {cut} cuts)"
    print(f"{killed} kills, {cut} cuts")
    # A reader whose connection was cut connected again and went on.
    assert any("the database connection was lost; connected again" in f.read_text()
               for f in logs.glob("*.err")), "no run noticed the cut"
    # The runs that were not killed ended by themselves, to the end: only
    # bad rows failed (exit status 0 when none came their way).
    reports = {}
    bad = {(r.table, r.id) for r in fx.bad()}
    for name, p in procs.items():
        if p.returncode == -9:
            continue
        err = (logs / f"{name}.err").read_text()
        rep = reports[name] = json.loads((logs / f"{name}.json").read_text())
        assert (p.returncode == 0) == (rep["failed"] == 0), f"{name}: {p.returncode} {err}"
        assert rep["worker"] == name
        assert rep["stop_code"] is None, (name, rep)
        # A good row may fail only through a cut connection (its statement
        # lost: the next run switches it, checked below).
        unexpected = [e for e in rep["errors"]
                      if e["id"] is not None and (e["table"], int(e["id"])) not in bad
                      and e["code"] != "DOCSTORE_EDATABASE"]
        assert not unexpected, (name, unexpected)
    # The work was shared: more than one run migrated rows.
    assert sum(1 for r in reports.values() if r["successful"] > 0) >= 2, reports
    # Killed runs' sessions end; then one final run takes whatever they held.
    wait_for(lambda: not migrators(db), "the killed runs' sessions to end", 60)
    r = subprocess.run([migfix.cli(), "--no-env-file", "migrate", "s3", "--jobs", "3",
                        "--worker-name", "final", "--progress", "none"],
                       env=env, capture_output=True, timeout=600)
    assert r.returncode != 0, r.stderr  # the bad rows fail, every time
    assert f"❌ Failed: {len(fx.bad())}\n" in r.stdout.decode()

    # Row by row: on S3, object there, SHA-256 of the object = the source
    # file's = the ledger's (check_store compares bytes and the ledger).
    on_target = check_store(db, fx, "s3", bucket.read, bucket.list)
    assert len(on_target) == len(fx.good()) == on_s3(db)
    ledger = dict(((t, int(i)), h) for t, i, h in db.q(
        "SELECT source_table, row_id, sha256 FROM document.docstore_migration_ledger"))
    for key, row in on_target.items():
        obj = bucket.read(key)
        with open(row.abspath, "rb") as f:
            src = f.read()
        h = hashlib.sha256(obj).hexdigest()
        assert h == hashlib.sha256(src).hexdigest() == ledger[(row.table, row.id)], key
    # Object by object: every object under documents/ is one row's.
    objects = bucket.list()
    assert objects == set(on_target), sorted(objects ^ set(on_target))[:5]
    paths = [sp for t in ("attachment", "attachment_staging")
             for (sp,) in db.q(f"SELECT storage_path FROM document.{t} WHERE storage_type = 's3'")]
    assert len(paths) == len(set(paths)), "two rows share an object"
    # The bad rows never moved, and no claim is left behind.
    for row in fx.bad():
        st = db.q(f"SELECT storage_type FROM document.{row.table} WHERE id = %s", (row.id,))[0][0]
        assert st == "local"
    assert claims(db) == 0
