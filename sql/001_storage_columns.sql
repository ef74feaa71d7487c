-- libdocstore: the storage columns of the object storage integration
-- (integration guide, "Database Schema Changes"), made idempotent:
-- safe to run twice, and on tables that already have the columns.
-- Applied by `docstore migrate schema`.
ALTER TABLE document.attachment ADD COLUMN IF NOT EXISTS storage_path VARCHAR(500);
ALTER TABLE document.attachment ADD COLUMN IF NOT EXISTS storage_type VARCHAR(50) DEFAULT 'local';
ALTER TABLE document.attachment_staging ADD COLUMN IF NOT EXISTS storage_path VARCHAR(500);
ALTER TABLE document.attachment_staging ADD COLUMN IF NOT EXISTS storage_type VARCHAR(50) DEFAULT 'local';
