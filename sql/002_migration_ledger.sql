-- libdocstore: the migration ledger.  One row per document the
-- migration switched: where its object went and the SHA-256 it had,
-- so that `docstore migrate --verify` can tell an object that was
-- changed behind the tool's back.  Idempotent.
CREATE TABLE IF NOT EXISTS document.docstore_migration_ledger (
    source_table VARCHAR(63) NOT NULL,
    row_id TEXT NOT NULL,
    storage_type VARCHAR(50) NOT NULL,
    storage_path VARCHAR(500) NOT NULL,
    sha256 CHAR(64) NOT NULL,
    size BIGINT NOT NULL,
    migrated_at TIMESTAMPTZ NOT NULL DEFAULT now(),
    PRIMARY KEY (source_table, row_id)
);
-- No two rows may ever share an object (0.4.0).  On a ledger where
-- 0.3 recorded two rows for one object this fails: list them with
-- SELECT storage_type, storage_path, count(*) FROM document.docstore_migration_ledger
--   GROUP BY 1, 2 HAVING count(*) > 1;
CREATE UNIQUE INDEX IF NOT EXISTS docstore_migration_ledger_object
    ON document.docstore_migration_ledger (storage_type, storage_path);
