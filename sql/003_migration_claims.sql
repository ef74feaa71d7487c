-- libdocstore: claims.  Several `docstore migrate` runs (on one or
-- several hosts) share a migration: each claims the rows it works on
-- for a lease it renews.  A claim holds while it has not expired and
-- the run's session (holder_pid) still holds the migration lock: the
-- rows of a run that died come back when its session ends, at the
-- latest when the lease runs out.  Idempotent.
CREATE TABLE IF NOT EXISTS document.docstore_migration_claim (
    source_table VARCHAR(63) NOT NULL,
    row_id TEXT NOT NULL,
    worker VARCHAR(200) NOT NULL,
    run_id VARCHAR(64) NOT NULL,
    holder_pid INTEGER NOT NULL,
    claimed_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    expires_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (source_table, row_id)
);
CREATE INDEX IF NOT EXISTS docstore_migration_claim_run ON document.docstore_migration_claim (run_id);
