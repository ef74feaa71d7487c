/*
 * layout_dump: the C layout of every public struct of include/docstore/,
 * as JSON on stdout, for the binding tests that check their struct mirrors
 * (Python ctypes Structures, Node koffi structs) against it:
 *
 *   {"docstore_local_options": {"size": 24, "align": 8, "fields": [
 *      {"name": "version", "offset": 0, "size": 4}, ...]}, ...}
 *
 * Fields are listed in declaration order.  The Python tests also check that
 * this list names every field of every public struct in the headers, so a
 * field added to a header without a line here fails too.  The one public
 * struct no binding mirrors, docstore_s3_options, is left out (the bindings
 * build S3 providers from settings: docstore_provider_from_config()).
 *
 * SPDX-License-Identifier: Apache-2.0
 */
#include <stddef.h>
#include <stdio.h>

#include "docstore/docstore.h"
#include "docstore/sys/provider.h"

#define MEMBER_SIZE(type, field) sizeof(((type *)0)->field)

static int first_struct = 1;
static int first_field = 1;

static void begin(const char *name, size_t size, size_t align) {
  printf("%s\n  \"%s\": {\"size\": %zu, \"align\": %zu, \"fields\": [",
         first_struct ? "{" : ",", name, size, align);
  first_struct = 0;
  first_field = 1;
}

static void field(const char *name, size_t offset, size_t size) {
  printf("%s\n    {\"name\": \"%s\", \"offset\": %zu, \"size\": %zu}",
         first_field ? "" : ",", name, offset, size);
  first_field = 0;
}

static void end(void) { printf("]}"); }

#define BEGIN(type) begin(#type, sizeof(type), _Alignof(type))
#define FIELD(type, f) field(#f, offsetof(type, f), MEMBER_SIZE(type, f))

static void dump_crypto(void) {
  BEGIN(docstore_doc_id);
  FIELD(docstore_doc_id, file_id);
  FIELD(docstore_doc_id, user_id);
  end();

  BEGIN(docstore_envelope_info);
  FIELD(docstore_envelope_info, version);
  FIELD(docstore_envelope_info, format);
  FIELD(docstore_envelope_info, key_id);
  FIELD(docstore_envelope_info, file_id);
  FIELD(docstore_envelope_info, user_id);
  FIELD(docstore_envelope_info, plaintext_size);
  FIELD(docstore_envelope_info, segment_size);
  FIELD(docstore_envelope_info, compressed);
  FIELD(docstore_envelope_info, recipients_count);
  end();

  BEGIN(docstore_seal_options);
  FIELD(docstore_seal_options, version);
  FIELD(docstore_seal_options, format);
  FIELD(docstore_seal_options, doc);
  FIELD(docstore_seal_options, recipients);
  FIELD(docstore_seal_options, recipients_count);
  FIELD(docstore_seal_options, segment_size);
  FIELD(docstore_seal_options, compression_level);
  end();
}

static void dump_config(void) {
  BEGIN(docstore_setting_info);
  FIELD(docstore_setting_info, version);
  FIELD(docstore_setting_info, name);
  FIELD(docstore_setting_info, provider);
  FIELD(docstore_setting_info, type);
  FIELD(docstore_setting_info, flags);
  FIELD(docstore_setting_info, default_value);
  FIELD(docstore_setting_info, min);
  FIELD(docstore_setting_info, max);
  FIELD(docstore_setting_info, choices);
  FIELD(docstore_setting_info, field);
  FIELD(docstore_setting_info, description);
  end();
}

static void dump_provider(void) {
  BEGIN(docstore_local_options);
  FIELD(docstore_local_options, version);
  FIELD(docstore_local_options, root);
  FIELD(docstore_local_options, fsync);
  end();

  BEGIN(docstore_temp_info);
  FIELD(docstore_temp_info, version);
  FIELD(docstore_temp_info, path);
  FIELD(docstore_temp_info, size);
  FIELD(docstore_temp_info, mtime);
  FIELD(docstore_temp_info, state);
  end();

  BEGIN(docstore_upload_info);
  FIELD(docstore_upload_info, version);
  FIELD(docstore_upload_info, key);
  FIELD(docstore_upload_info, upload_id);
  FIELD(docstore_upload_info, initiated);
  FIELD(docstore_upload_info, state);
  end();

  BEGIN(docstore_object_info);
  FIELD(docstore_object_info, version);
  FIELD(docstore_object_info, key);
  FIELD(docstore_object_info, size);
  FIELD(docstore_object_info, mtime);
  FIELD(docstore_object_info, etag);
  end();

  BEGIN(docstore_put_options);
  FIELD(docstore_put_options, version);
  FIELD(docstore_put_options, flags);
  FIELD(docstore_put_options, content_type);
  FIELD(docstore_put_options, size_hint);
  end();

  BEGIN(docstore_provider_ops);
  FIELD(docstore_provider_ops, version);
  FIELD(docstore_provider_ops, name);
  FIELD(docstore_provider_ops, put);
  FIELD(docstore_provider_ops, get);
  FIELD(docstore_provider_ops, head);
  FIELD(docstore_provider_ops, del);
  FIELD(docstore_provider_ops, list);
  FIELD(docstore_provider_ops, presign);
  FIELD(docstore_provider_ops, check);
  FIELD(docstore_provider_ops, get_range);
  FIELD(docstore_provider_ops, free);
  FIELD(docstore_provider_ops, put_begin);
  FIELD(docstore_provider_ops, put_write);
  FIELD(docstore_provider_ops, put_commit);
  FIELD(docstore_provider_ops, put_abort);
  FIELD(docstore_provider_ops, get_open);
  FIELD(docstore_provider_ops, get_read);
  FIELD(docstore_provider_ops, get_close);
  end();
}

static void dump_service(void) {
  BEGIN(docstore_service_options);
  FIELD(docstore_service_options, version);
  FIELD(docstore_service_options, legacy_root);
  FIELD(docstore_service_options, validate_envelopes);
  FIELD(docstore_service_options, legacy_allow_outside_root);
  FIELD(docstore_service_options, envelope_version);
  FIELD(docstore_service_options, compression_level);
  FIELD(docstore_service_options, segment_size);
  end();

  BEGIN(docstore_write_options);
  FIELD(docstore_write_options, version);
  FIELD(docstore_write_options, progress);
  FIELD(docstore_write_options, progress_payload);
  FIELD(docstore_write_options, no_clobber);
  FIELD(docstore_write_options, content_type);
  FIELD(docstore_write_options, size_hint);
  FIELD(docstore_write_options, envelope_version);
  FIELD(docstore_write_options, compression_level);
  FIELD(docstore_write_options, recipients);
  FIELD(docstore_write_options, recipients_count);
  end();

  BEGIN(docstore_read_options);
  FIELD(docstore_read_options, version);
  FIELD(docstore_read_options, progress);
  FIELD(docstore_read_options, progress_payload);
  FIELD(docstore_read_options, offset);
  FIELD(docstore_read_options, length);
  end();

  BEGIN(docstore_op_stats);
  FIELD(docstore_op_stats, version);
  FIELD(docstore_op_stats, successes);
  FIELD(docstore_op_stats, failures);
  FIELD(docstore_op_stats, bytes);
  FIELD(docstore_op_stats, total_latency_us);
  FIELD(docstore_op_stats, avg_latency_us);
  FIELD(docstore_op_stats, retries);
  end();
}

static void dump_migrate(void) {
  BEGIN(docstore_migrate_progress);
  FIELD(docstore_migrate_progress, version);
  FIELD(docstore_migrate_progress, phase);
  FIELD(docstore_migrate_progress, total);
  FIELD(docstore_migrate_progress, done);
  FIELD(docstore_migrate_progress, successful);
  FIELD(docstore_migrate_progress, failed);
  FIELD(docstore_migrate_progress, skipped);
  FIELD(docstore_migrate_progress, bytes);
  FIELD(docstore_migrate_progress, elapsed_seconds);
  FIELD(docstore_migrate_progress, files_per_second);
  FIELD(docstore_migrate_progress, eta_seconds);
  FIELD(docstore_migrate_progress, last_error);
  end();

  BEGIN(docstore_migrate_options);
  FIELD(docstore_migrate_options, version);
  FIELD(docstore_migrate_options, source);
  FIELD(docstore_migrate_options, source_type);
  FIELD(docstore_migrate_options, target);
  FIELD(docstore_migrate_options, target_type);
  FIELD(docstore_migrate_options, legacy_root);
  FIELD(docstore_migrate_options, keyring);
  FIELD(docstore_migrate_options, database_url);
  FIELD(docstore_migrate_options, schema);
  FIELD(docstore_migrate_options, table_attachment);
  FIELD(docstore_migrate_options, table_staging);
  FIELD(docstore_migrate_options, tables);
  FIELD(docstore_migrate_options, col_id);
  FIELD(docstore_migrate_options, col_filename);
  FIELD(docstore_migrate_options, col_filepath);
  FIELD(docstore_migrate_options, col_user_id);
  FIELD(docstore_migrate_options, col_created);
  FIELD(docstore_migrate_options, col_storage_path);
  FIELD(docstore_migrate_options, col_storage_type);
  FIELD(docstore_migrate_options, batch_size);
  FIELD(docstore_migrate_options, jobs);
  FIELD(docstore_migrate_options, dry_run);
  FIELD(docstore_migrate_options, delete_source);
  FIELD(docstore_migrate_options, verify_type);
  FIELD(docstore_migrate_options, max_consecutive_failures);
  FIELD(docstore_migrate_options, max_errors);
  FIELD(docstore_migrate_options, progress);
  FIELD(docstore_migrate_options, progress_payload);
  FIELD(docstore_migrate_options, progress_interval_ms);
  FIELD(docstore_migrate_options, lease_seconds);
  FIELD(docstore_migrate_options, worker_name);
  FIELD(docstore_migrate_options, write_proof);
  FIELD(docstore_migrate_options, allow_outside_root);
  end();

  BEGIN(docstore_migrate_counts);
  FIELD(docstore_migrate_counts, version);
  FIELD(docstore_migrate_counts, mode);
  FIELD(docstore_migrate_counts, dry_run);
  FIELD(docstore_migrate_counts, total);
  FIELD(docstore_migrate_counts, successful);
  FIELD(docstore_migrate_counts, failed);
  FIELD(docstore_migrate_counts, skipped);
  FIELD(docstore_migrate_counts, recovered);
  FIELD(docstore_migrate_counts, not_attempted);
  FIELD(docstore_migrate_counts, source_deleted);
  FIELD(docstore_migrate_counts, bytes);
  FIELD(docstore_migrate_counts, elapsed_seconds);
  FIELD(docstore_migrate_counts, stop_code);
  end();

  BEGIN(docstore_migrate_error);
  FIELD(docstore_migrate_error, version);
  FIELD(docstore_migrate_error, code);
  FIELD(docstore_migrate_error, table);
  FIELD(docstore_migrate_error, row_id);
  FIELD(docstore_migrate_error, message);
  end();
}

int main(void) {
  dump_crypto();
  dump_config();
  dump_provider();
  dump_service();
  dump_migrate();
  printf("\n}\n");
  return fflush(stdout) == 0 && !ferror(stdout) ? 0 : 1;
}
