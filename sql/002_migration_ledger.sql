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
