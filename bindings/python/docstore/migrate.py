# libdocstore Python binding: the migration engine (include/docstore/migrate.h).
# SPDX-License-Identifier: Apache-2.0
"""Move the documents PostgreSQL rows point at between storages, verified
and resumable (docs/MIGRATION.md), with a progress callback:

    report = migrate(source=local, target=s3, database_url=url,
                     progress=lambda p: print(p.done, "/", p.total))
    print(report.text)

The progress callback runs in the thread that runs the migration (a worker
thread for migrate_async), never twice at once.  It may return True, or
raise, to stop the run after the documents in flight.
"""

import ctypes
import json
from dataclasses import dataclass, fields
from typing import List, Optional

from . import _ffi
from .errors import UnsupportedError
from .providers import run_blocking

_TABLES = {"attachment": 1, "staging": 2, "all": 3}

# keyword -> struct field, for the plain string options
_STRINGS = ("source_type", "target_type", "legacy_root", "database_url",
            "schema", "table_attachment", "table_staging", "col_id",
            "col_filename", "col_filepath", "col_user_id", "col_created",
            "col_storage_path", "col_storage_type", "verify_type",
            "worker_name")
_NUMBERS = ("batch_size", "jobs", "max_consecutive_failures", "max_errors",
            "progress_interval_ms", "lease_seconds")
_FLAGS = ("dry_run", "delete_source", "allow_outside_root")
# write_proof: how a written object is proven before its row switches.
_PROOFS = {"store": 0, "readback": 1}


@dataclass(frozen=True)
class MigrationProgress:
    phase: str                  # "running", or "done" on the last call
    total: int
    done: int
    successful: int
    failed: int
    skipped: int
    bytes: int
    elapsed_seconds: float
    files_per_second: float
    eta_seconds: float          # -1 when unknown
    last_error: Optional[str]


@dataclass(frozen=True)
class MigrationCounts:
    mode: str                   # "migrate" or "verify"
    dry_run: bool
    total: int
    successful: int
    failed: int
    skipped: int
    recovered: int
    not_attempted: int
    source_deleted: int
    bytes: int
    elapsed_seconds: float
    stop_code: int


@dataclass(frozen=True)
class MigrationFailure:
    code: int
    table: Optional[str]
    row_id: Optional[str]
    message: str


@dataclass(frozen=True)
class MigrationReport:
    counts: MigrationCounts
    errors: List[MigrationFailure]
    text: str                   # the seed's MIGRATION REPORT block
    json: dict


def _need():
    if not _ffi.has_migrate():
        raise UnsupportedError("this libdocstore has no migration engine")
    return _ffi.lib()


def _options(source, target, keyring, tables, env, progress_cb, kwargs):
    lib = _need()
    o = _ffi.MigrateOptions()
    _ffi.check(lib.docstore_migrate_options_init(
        ctypes.byref(o), _ffi.MIGRATE_OPTIONS_VERSION))
    o.source = source._p() if source is not None else None
    o.target = target._p() if target is not None else None
    o.keyring = keyring._p() if keyring is not None else None
    o.tables = _TABLES[tables] if isinstance(tables, str) else tables
    for name, value in kwargs.items():
        if name in _STRINGS:
            setattr(o, name, _ffi.enc(None if value is None else str(value)))
        elif name in _NUMBERS:
            setattr(o, name, value)
        elif name in _FLAGS:
            setattr(o, name, 1 if value else 0)
        elif name == "write_proof":
            if value not in _PROOFS:
                raise ValueError("write_proof must be 'store' or 'readback'")
            o.write_proof = _PROOFS[value]
        else:
            raise TypeError("unknown migration option %r" % name)
    if progress_cb is not None:
        o.progress = progress_cb
    if env:
        _ffi.check(lib.docstore_migrate_options_load_env(ctypes.byref(o)))
    return o


def _report(ptr):
    lib = _ffi.lib()
    try:
        c = _ffi.MigrateCounts()
        c.version = _ffi.MIGRATE_COUNTS_VERSION
        _ffi.check(lib.docstore_migrate_report_counts(ptr, ctypes.byref(c)))
        values = {f.name: getattr(c, f.name)
                  for f in fields(MigrationCounts)}
        values["mode"] = "verify" if c.mode == 1 else "migrate"
        values["dry_run"] = bool(c.dry_run)
        errors = []
        for i in range(lib.docstore_migrate_report_error_count(ptr)):
            e = _ffi.MigrateError()
            e.version = _ffi.MIGRATE_ERROR_VERSION
            _ffi.check(lib.docstore_migrate_report_error_at(
                ptr, ctypes.byref(e), i))
            errors.append(MigrationFailure(e.code, _ffi.dec(e.table),
                                           _ffi.dec(e.row_id),
                                           _ffi.dec(e.message)))
        text, js = ctypes.c_void_p(), ctypes.c_void_p()
        _ffi.check(lib.docstore_migrate_report_text(ptr, ctypes.byref(text)))
        text = _ffi.take_str(text)
        _ffi.check(lib.docstore_migrate_report_json(ptr, ctypes.byref(js)))
        return MigrationReport(MigrationCounts(**values), errors, text,
                               json.loads(_ffi.take_str(js)))
    finally:
        lib.docstore_migrate_report_free(ptr)


class _Progress:
    def __init__(self, fn):
        self.fn = fn
        self.error = None
        self.cb = _ffi.MIGRATE_PROGRESS_CB(self._call) if fn else None

    def _call(self, payload, p):
        try:
            p = p.contents
            stop = self.fn(MigrationProgress(
                "done" if p.phase == 1 else "running", p.total, p.done,
                p.successful, p.failed, p.skipped, p.bytes,
                p.elapsed_seconds, p.files_per_second, p.eta_seconds,
                _ffi.dec(p.last_error)))
            return 1 if stop is True else 0
        except BaseException as e:  # noqa: B902 - re-raised after the run
            self.error = e
            return 1


def _run(fn_name, source, target, keyring, tables, env, progress, kwargs):
    lib = _need()
    prog = _Progress(progress)
    o = _options(source, target, keyring, tables, env, prog.cb, kwargs)
    out = ctypes.c_void_p()
    buf = _ffi.errbuf()
    rc = getattr(lib, fn_name)(ctypes.byref(out), ctypes.byref(o), buf,
                               _ffi.ERRBUF_LEN)
    msg = _ffi.error_message(rc, buf=buf) if rc < 0 else None
    report = _report(out.value) if out.value else None
    if prog.error is not None:
        prog.error.migration_report = report
        raise prog.error
    if rc < 0:
        from .errors import error_from_code
        exc = error_from_code(rc, msg)
        exc.report = report
        raise exc
    return report


def migrate(source=None, target=None, *, keyring=None, tables="all",
            env=True, progress=None, **options):
    """Migrate the rows on source_type (default "local") to `target`
    (writing target_type, default "s3").  Options: the fields of
    docstore_migrate_options (source_type, target_type, legacy_root,
    database_url, schema, table_*, col_*, batch_size, jobs, dry_run,
    delete_source, max_consecutive_failures, max_errors,
    progress_interval_ms).  env=True fills unset ones from DATABASE_URL,
    LOCAL_STORAGE_PATH and DOCSTORE_MIGRATE_*.  Returns a MigrationReport;
    raises (with `.report`) when the run stopped early."""
    return _run("docstore_migrate_run", source, target, keyring, tables,
                env, progress, options)


def verify(source=None, target=None, *, keyring=None, tables="all",
           env=True, progress=None, **options):
    """Verify the objects rows point at (verify_type: which storage type;
    default both).  Returns a MigrationReport whose `failed` rows are
    missing, altered or unreadable."""
    return _run("docstore_migrate_verify", source, target, keyring, tables,
                env, progress, options)


async def migrate_async(*args, executor=None, **kwargs):
    """migrate() in a worker thread."""
    return await run_blocking(executor, migrate, *args, **kwargs)


async def verify_async(*args, executor=None, **kwargs):
    return await run_blocking(executor, verify, *args, **kwargs)


def schema_sql(*, tables="all", env=True, **options):
    """The SQL apply_schema() runs (storage_path/storage_type columns and
    the migration ledger)."""
    lib = _need()
    o = _options(None, None, None, tables, env, None, options)
    out = ctypes.c_void_p()
    _ffi.check(lib.docstore_migrate_schema_sql(ctypes.byref(out),
                                               ctypes.byref(o)))
    return _ffi.take_str(out)


def apply_schema(*, tables="all", env=True, **options):
    """Apply the schema change (idempotent)."""
    lib = _need()
    o = _options(None, None, None, tables, env, None, options)
    buf = _ffi.errbuf()
    _ffi.check(lib.docstore_migrate_schema_apply(ctypes.byref(o), buf,
                                                 _ffi.ERRBUF_LEN), buf=buf)
