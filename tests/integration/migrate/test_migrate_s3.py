"""`docstore migrate s3` / `local` / `--verify` against PostgreSQL and the
S3 test server (Swift s3api).  Labels pg and s3.  Each test has a bucket of
its own; the tests that stop the S3 server start a private one (the shared
server of tools/with-test-servers.sh serves other tests meanwhile).
"""
import json
import os
import random
import re
import signal
import shutil
import socket
import subprocess
import time
import uuid

import pytest

import migfix
from migfix import check_store, list_local, on_s3, read_local, run_cli, run_driver, wait_for


def s3_env(db, s3, fx):
    return {"DATABASE_URL": db.url, "S3_BUCKET": s3.bucket, "LOCAL_STORAGE_PATH": fx.legacy}


def s3_check(db, fx, s3, **kw):
    return check_store(db, fx, "s3", s3.read, s3.list, **kw)


def no_migrator(db):
    return db.q("SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND application_name = 'docstore-migrate'")[0][0] == 0


# ---------------------------------------------------------- private server

def free_base(n=6):
    for _ in range(200):
        # Below Linux's ephemeral range (32768-60999): a port there that is
        # free now can be taken by any client's outgoing connection before
        # Swift binds it.
        base = random.randrange(22000, 32000, 10)
        ok = True
        for p in range(base, base + n):
            with socket.socket() as s:
                try:
                    s.bind(("127.0.0.1", p))
                except OSError:
                    ok = False
                    break
        if ok:
            return base
    pytest.fail("no free ports for a private S3 server")


class PrivateS3:
    def __init__(self, d):
        self.dir = d
        self.tool = os.path.join(os.environ.get("DOCSTORE_TEST_TOOLS_DIR",
                                                os.path.join(migfix.SOURCE_DIR, "tools")), "s3-server.sh")
        # Another process may still take a port between the check and the
        # bind: try a few sets of ports before giving up.
        for attempt in range(3):
            b = free_base()
            self.env = {**os.environ, "DOCSTORE_TEST_S3_TLS": "0", "DOCSTORE_TEST_S3_PORT": str(b),
                        "DOCSTORE_TEST_S3_TLS_PORT": str(b + 1), "DOCSTORE_TEST_SWIFT_OBJECT_PORT": str(b + 2),
                        "DOCSTORE_TEST_SWIFT_CONTAINER_PORT": str(b + 3),
                        "DOCSTORE_TEST_SWIFT_ACCOUNT_PORT": str(b + 4),
                        "DOCSTORE_TEST_MEMCACHED_PORT": str(b + 5)}
            try:
                self.start()
                break
            except subprocess.CalledProcessError:
                subprocess.run([self.tool, "stop", d], check=False, timeout=120,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                if attempt == 2:
                    raise
                shutil.rmtree(d, ignore_errors=True)
                os.makedirs(d)
        out = subprocess.run([self.tool, "env", d], capture_output=True, check=True).stdout.decode()
        self.vars = dict(line[len("export "):].split("=", 1) for line in out.splitlines()
                         if line.startswith("export S3_"))

    def start(self):
        subprocess.run([self.tool, "start", self.dir], env=self.env, check=True, timeout=180,
                       stdout=subprocess.DEVNULL)

    def stop_cmd(self):
        return f"{self.tool} stop {self.dir} >/dev/null 2>&1"

    def stop(self):
        subprocess.run(self.stop_cmd(), shell=True, check=True, timeout=120)


@pytest.fixture(scope="module")
def private_s3(tmp_path_factory):
    srv = PrivateS3(str(tmp_path_factory.mktemp("s3-private")))
    yield srv
    srv.stop()


@pytest.fixture
def private_bucket(private_s3):
    saved = {k: os.environ.get(k) for k in private_s3.vars}
    os.environ.update(private_s3.vars)  # migfix.S3() reads them
    try:
        s3 = migfix.S3()
        s3.bucket = "mig-" + uuid.uuid4().hex[:12]
        s3.client.create_bucket(Bucket=s3.bucket)
        yield s3
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


# ------------------------------------------------------------------ tests

def test_cli_migrate_s3_seed_report_and_second_run(migrated_db, tmp_path, bucket):
    db = migrated_db
    fx = migfix.Fixture(db, str(tmp_path / "legacy"))
    env = s3_env(db, bucket, fx)
    r = run_cli("migrate", "s3", "--jobs", "8", "--batch-size", "50",
                "--report-json", str(tmp_path / "r.json"), env=env)
    assert r.returncode != 0
    out = r.stdout.decode()
    good, bad = fx.good(), fx.bad()
    assert out.startswith("==================================================\n📋 MIGRATION REPORT\n"
                          "==================================================\n"
                          f"Total files: {len(fx.rows)}\n✅ Successful: {len(good)}\n"
                          f"❌ Failed: {len(bad)}\n⏭️ Skipped: 0\n❌ Errors:\n- ")
    assert out.endswith("\n==================================================\n")
    assert len([x for x in out.splitlines() if x.startswith("- ")]) == len(bad)
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["source_type"] == "local" and rep["target_type"] == "s3"
    s3_check(db, fx, bucket)
    r = run_cli("migrate", "s3", env=env)
    assert r.returncode != 0
    assert f"✅ Successful: 0\n❌ Failed: {len(bad)}\n⏭️ Skipped: {len(good)}\n" in r.stdout.decode()
    s3_check(db, fx, bucket)


def test_round_trip_local_s3_local_leaves_documents_unchanged(migrated_db, tmp_path, bucket):
    db = migrated_db
    fx = migfix.Fixture(db, str(tmp_path / "legacy"), 60, 15)
    env = {**s3_env(db, bucket, fx), "RSA_PRIVATE_KEY_PATH": fx.priv_pem}
    r = run_cli("migrate", "s3", "--decrypt-check", env=env)
    assert r.returncode != 0 and b"Successful: %d\n" % len(fx.good()) in r.stdout
    keys = {(t, i): sp for t in ("attachment", "attachment_staging")
            for i, sp in db.q(f"SELECT id, storage_path FROM document.{t} WHERE storage_type = 's3'")}
    assert len(keys) == len(fx.good())
    # ... and back, into LOCAL_STORAGE_PATH under the same keys.
    r = run_cli("migrate", "local", "--decrypt-check", "--jobs", "3", env=env)
    assert r.returncode == 0, r.stderr
    assert b"Successful: %d\n" % len(fx.good()) in r.stdout
    assert b"Skipped: %d\n" % len(fx.bad()) in r.stdout  # never left local storage
    for x in fx.good():
        sp, st = db.q(f"SELECT storage_path, storage_type FROM document.{x.table} WHERE id = %s",
                      (x.id,))[0]
        assert (sp, st) == (keys[(x.table, x.id)], "local")
        data = read_local(fx.legacy, sp)
        assert data == x.data
        assert migfix.legacy_decrypt(fx.key, data) == x.plaintext
    r = run_cli("migrate", "--verify", "local", env=env)
    assert r.returncode != 0  # the bad legacy rows; the documents themselves verify
    assert b"Successful: %d\n" % len(fx.good()) in r.stdout
    # To S3 again: the objects are still there, nothing is uploaded twice.
    r = run_cli("migrate", "s3", "--report-json", "-", env=env)
    assert r.returncode != 0
    rep = json.loads(r.stdout.decode().split("==================================================\n")[-1])
    assert rep["successful"] == rep["recovered"] == len(fx.good())
    s3_check(db, fx, bucket)


def test_dry_run_and_delete_source_with_s3(migrated_db, tmp_path, bucket):
    db = migrated_db
    fx = migfix.Fixture(db, str(tmp_path / "legacy"), 30, 5)
    env = s3_env(db, bucket, fx)
    r = run_cli("migrate", "s3", "--dry-run", env=env)
    assert b"MIGRATION REPORT (DRY RUN)" in r.stdout and r.returncode != 0
    assert bucket.list() == set() and on_s3(db) == 0
    r = run_cli("migrate", "s3", "--delete-source", env=env)
    assert r.returncode != 0
    s3_check(db, fx, bucket)
    assert not any(os.path.exists(x.abspath) for x in fx.good())
    assert all(os.path.lexists(x.abspath) for x in fx.bad() if x.kind != "missing")


def test_verify_finds_objects_deleted_or_altered_on_s3(migrated_db, tmp_path, bucket):
    db = migrated_db
    fx = migfix.Fixture(db, str(tmp_path / "legacy"), 30, 5)
    env = s3_env(db, bucket, fx)
    run_cli("migrate", "s3", env=env)
    r = run_cli("migrate", "--verify", "s3", env=env)
    assert r.returncode == 0, r.stdout + r.stderr
    a, b = fx.good()[0], fx.good()[3]
    ka = db.q("SELECT storage_path FROM document.attachment WHERE id = %s", (a.id,))[0][0]
    kb = db.q("SELECT storage_path FROM document.attachment WHERE id = %s", (b.id,))[0][0]
    bucket.delete(ka)
    bucket.put(kb, b.data.replace(b'"tag": "', b'"tag": "A', 1).replace(b'"tag": "AA', b'"tag": "AB', 1))
    r = run_cli("migrate", "--verify", "s3", "--jobs", "1", "--report-json", str(tmp_path / "v.json"),
                env=env)
    assert r.returncode == 4  # the class of the first failure (in id order with one job)
    out = r.stdout.decode()
    assert "📋 VERIFICATION REPORT" in out and "❌ Failed: 2\n" in out
    assert f"- File not found: {ka} on s3\n" in out
    assert f"- Attachment {b.id}: {kb} on s3 differs from the SHA-256 recorded when it was migrated" in out


def test_cli_killed_repeatedly_then_completes(migrated_db, tmp_path, bucket):
    db = migrated_db
    fx = migfix.Fixture(db, str(tmp_path / "legacy"), 200, 40)
    env = {**os.environ, **s3_env(db, bucket, fx)}
    for k in (10, 45, 110):
        p = subprocess.Popen([migfix.cli(), "--no-env-file", "migrate", "s3", "--jobs", "3",
                              "--batch-size", "20"], env=env, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        try:
            wait_for(lambda: on_s3(db) >= k or p.poll() is not None, f"{k} rows on s3")
        finally:
            p.send_signal(signal.SIGKILL)
            p.wait()
        assert p.returncode == -9, "the run ended before it could be killed"
        s3_check(db, fx, bucket, require_all_good=False, pending_ok=6)
        wait_for(lambda: no_migrator(db), "the killed run's sessions to end", 60)
    r = run_cli("migrate", "s3", "--report-json", str(tmp_path / "r.json"), env=env)
    rep = json.loads((tmp_path / "r.json").read_text())
    assert rep["successful"] + rep["skipped"] == len(fx.good())
    assert rep["skipped"] >= 110 and rep["failed"] == len(fx.bad())
    s3_check(db, fx, bucket)


def test_second_cli_shares_the_migration_with_a_running_one(migrated_db, tmp_path, bucket):
    """Two runs at once (0.4.0): the second one is not refused; it takes the
    rows the first has not claimed, while the first is stuck on one."""
    db = migrated_db
    fx = migfix.Fixture(db, str(tmp_path / "legacy"), 40, 0)
    env = s3_env(db, bucket, fx)
    gate = tmp_path / "gate"
    p = subprocess.Popen([migfix.driver(), "--source", f"local:{fx.legacy}", "--target", "s3",
                          "--legacy-root", fx.legacy, "--jobs", "2", "--fault",
                          f"target.put:3:exec=touch {gate}.in; while [ ! -e {gate} ]; do sleep 0.05; done"],
                         env={**os.environ, **env}, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: os.path.exists(f"{gate}.in") or p.poll() is not None, "the first run")
        claimed = db.q("SELECT count(*), min(worker) FROM document.docstore_migration_claim")[0]
        # At most 2 x jobs rows queued, jobs in flight, and the rows that
        # failed (kept until the run ends, so that it does not retry them).
        assert 1 <= claimed[0] <= 3 * 2 + len(fx.bad()), claimed
        assert re.match(r"^[^:]+:\d+$", claimed[1]), claimed  # host:pid
        r = run_cli("migrate", "s3", "--worker-name", "second", "--report-json", "-",
                    "--progress", "none", env=env)
        rep = json.loads(r.stdout.decode().split("==\n")[-1])
        assert r.returncode != 0 and rep["failed"] > 0, r.stderr  # the bad rows
        assert rep["worker"] == "second"
        assert rep["total"] == len(fx.rows)
        # The second run did rows too (the first one's other job goes on).
        assert rep["successful"] > 0
        assert rep["successful"] + rep["failed"] + rep["skipped"] == len(fx.rows)
    finally:
        gate.touch()
        out, _ = p.communicate(timeout=300)
    assert p.returncode in (0, 1)
    first = json.loads(out)
    assert first["successful"] + rep["successful"] == len(fx.good())
    assert first["failed"] + rep["failed"] >= len(fx.bad())
    s3_check(db, fx, bucket)
    assert db.q("SELECT count(*) FROM document.docstore_migration_claim") == [(0,)]


def test_cli_reads_dotenv_and_env_file(migrated_db, tmp_path, bucket):
    """Defect 3: `docstore migrate` takes DATABASE_URL, LOCAL_STORAGE_PATH and
    DOCSTORE_MIGRATE_* from ./.env or --env-file like every command, with
    none of them in the process environment."""
    db = migrated_db
    fx = migfix.Fixture(db, str(tmp_path / "legacy"), 30, 10)
    env = {k: v for k, v in os.environ.items()
           if k not in ("DATABASE_URL", "LOCAL_STORAGE_PATH", "S3_BUCKET") and not k.startswith("PG")}
    work = tmp_path / "work"
    work.mkdir()
    dotenv = work / ".env"
    dotenv.write_text(f"# the application's file\nDATABASE_URL='{db.url}'\n"
                      f"LOCAL_STORAGE_PATH={fx.legacy}\nS3_BUCKET={bucket.bucket}\n"
                      f"DOCSTORE_MIGRATE_WORKER_NAME=from-dotenv\nSOMETHING_ELSE=1\n")
    dotenv.chmod(0o600)
    # Relative filepath values resolve against LOCAL_STORAGE_PATH of the file.
    cmd = [migfix.cli(), "migrate", "s3", "--table", "attachment", "--report-json", "-",
           "--progress", "none"]
    r = subprocess.run(cmd, env=env, cwd=str(work), capture_output=True, timeout=600)
    assert r.returncode != 0, r.stderr  # the bad rows only
    rep = json.loads(r.stdout.decode().split("==\n")[-1])
    assert rep["worker"] == "from-dotenv"
    assert (rep["successful"], rep["failed"]) == (len(fx.good("attachment")), len(fx.bad("attachment")))
    # `docstore config` shows the same settings (the URL hidden: it may hold
    # a password).
    r = subprocess.run([migfix.cli(), "config"], env=env, cwd=str(work), capture_output=True)
    assert r.returncode == 0, r.stderr
    assert "DOCSTORE_MIGRATE_WORKER_NAME=from-dotenv" in r.stdout.decode()
    assert db.url not in r.stdout.decode()
    # --env-file from another folder; the file's values; the process
    # environment still wins over the file.
    moved = tmp_path / "migrate.env"
    dotenv.rename(moved)
    r = subprocess.run([migfix.cli(), "--env-file", str(moved), "migrate", "s3", "--table",
                        "attachment_staging", "--report-json", "-", "--progress", "none"],
                       env={**env, "DOCSTORE_MIGRATE_WORKER_NAME": "from-env"}, cwd=str(tmp_path),
                       capture_output=True, timeout=600)
    assert r.returncode != 0, r.stderr
    rep = json.loads(r.stdout.decode().split("==\n")[-1])
    assert rep["worker"] == "from-env"
    assert (rep["successful"], rep["failed"]) == (len(fx.good("attachment_staging")),
                                                  len(fx.bad("attachment_staging")))
    s3_check(db, fx, bucket)
    # Without the file, nothing names the database: refused, not guessed.
    r = subprocess.run(cmd, env={**env, "PGHOST": "127.0.0.1", "PGPORT": "1"}, cwd=str(work),
                       capture_output=True, timeout=600)
    assert r.returncode != 0 and r.stdout == b""


def test_s3_server_stopped_midrun_then_second_run_completes(migrated_db, tmp_path, private_s3,
                                                             private_bucket):
    db = migrated_db
    s3 = private_bucket
    fx = migfix.Fixture(db, str(tmp_path / "legacy"), 80, 20)
    env = {**private_s3.vars, **s3_env(db, s3, fx)}
    try:
        rc, rep, err = run_driver("--source", f"local:{fx.legacy}", "--target", "s3",
                                  "--legacy-root", fx.legacy, "--jobs", "2", "--max-failures", "6",
                                  "--fault", f"target.put:25:exec={private_s3.stop_cmd()}", env=env)
    finally:
        private_s3.start()
    assert rc == 2, err
    assert rep["stop_code"] in ("DOCSTORE_ECONNECT", "DOCSTORE_ETIMEOUT")
    bad = {str(x.id) for x in fx.bad()}
    down = [e for e in rep["errors"] if e["id"] is not None and e["id"] not in bad]
    assert len(down) >= 6
    assert all(e["code"] in ("DOCSTORE_ECONNECT", "DOCSTORE_ETIMEOUT") for e in down), down
    assert rep["errors"][-1]["message"].startswith("Run stopped after 6 documents in a row failed")
    assert rep["total"] == rep["successful"] + rep["failed"] + rep["skipped"] + rep["not_attempted"]
    # Nothing is marked migrated that was not: every switched row's object
    # is there (at most the in-flight uploads are not switched yet).
    s3_check(db, fx, s3, require_all_good=False, pending_ok=2)
    assert on_s3(db) == rep["successful"]
    rc, rep, err = run_driver("--source", f"local:{fx.legacy}", "--target", "s3",
                              "--legacy-root", fx.legacy, "--jobs", "2", env=env)
    assert rc == 1, err
    assert rep["failed"] == len(fx.bad())
    s3_check(db, fx, s3)


def test_cli_reports_the_s3_outage(migrated_db, tmp_path, private_s3, private_bucket):
    db = migrated_db
    s3 = private_bucket
    fx = migfix.Fixture(db, str(tmp_path / "legacy"), 150, 0)
    env = {**os.environ, **private_s3.vars, **s3_env(db, s3, fx)}
    p = subprocess.Popen([migfix.cli(), "--no-env-file", "migrate", "s3", "--jobs", "1",
                          "--max-failures", "3", "--progress", "none"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: on_s3(db) >= 20 or p.poll() is not None, "20 rows on s3")
        private_s3.stop()
        out, err = p.communicate(timeout=600)
    finally:
        if p.poll() is None:
            p.kill()
        private_s3.start()
    assert p.returncode == 7, err  # storage unreachable
    out = out.decode()
    assert "Run stopped after 3 documents in a row failed on a store or the database" in out
    assert err.decode().rstrip().endswith(("(DOCSTORE_ECONNECT)", "(DOCSTORE_ETIMEOUT)"))
    s3_check(db, fx, s3, require_all_good=False, pending_ok=1)
    r = run_cli("migrate", "s3", env={**private_s3.vars, **s3_env(db, s3, fx)})
    assert r.returncode != 0  # bad rows
    s3_check(db, fx, s3)


def test_ctrl_c_stops_cleanly_with_a_report(migrated_db, tmp_path, bucket):
    db = migrated_db
    fx = migfix.Fixture(db, str(tmp_path / "legacy"), 200, 0)
    env = {**os.environ, **s3_env(db, bucket, fx)}
    p = subprocess.Popen([migfix.cli(), "--no-env-file", "migrate", "s3", "--jobs", "2"], env=env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        wait_for(lambda: on_s3(db) >= 10 or p.poll() is not None, "10 rows on s3")
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=120)
    finally:
        if p.poll() is None:
            p.kill()
    assert p.returncode == 1, err  # DOCSTORE_ECANCELED
    out = out.decode()
    assert "📋 MIGRATION REPORT" in out and "- Migration canceled: " in out and "files not attempted\n" in out
    assert err.decode().rstrip().endswith("(DOCSTORE_ECANCELED)")
    # The documents in flight were finished: nothing is half done.
    s3_check(db, fx, bucket, require_all_good=False)
    r = run_cli("migrate", "s3", env=s3_env(db, bucket, fx))
    assert r.returncode != 0  # the bad rows
    s3_check(db, fx, bucket)
