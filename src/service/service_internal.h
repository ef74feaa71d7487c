/*
 * libdocstore - service layer internals.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DOCSTORE_SERVICE_INTERNAL_H
#define DOCSTORE_SERVICE_INTERNAL_H

#include "docstore/service.h"
#include "internal.h"

#include "crypto/crypto_internal.h"
#include "metrics.h"
#include "util/id.h"

/* Envelope defaults of new documents (docs/CONFIG.md says why v2). */
#define DOCSTORE__ENVELOPE_VERSION_DEFAULT 2
#define DOCSTORE__SEGMENT_SIZE_DEFAULT (1u << DOCSTORE__V2_SEG_EXP_DEFAULT)

struct docstore_service {
  docstore_provider *provider;
  docstore_keyring *keyring;
  char *legacy_root;  /* NULL: DOCSTORE__LEGACY_ROOT_DEFAULT */
  int legacy_outside; /* 1: legacy paths may lead outside legacy_root */
  int validate_envelopes;
  int envelope_version;      /* of new documents: 1 or 2 */
  int compression_level;     /* of new v2 documents: 0 off, 1..19 */
  unsigned int segment_size; /* of new v2 documents */
  char **recipients; /* key ids of the extra recipients of new v2 documents */
  size_t nrecipients;
  docstore__metrics metrics; /* encrypt, decrypt, fallback */
  docstore__handle_err err;
};

/* Size of a service options struct of this version. */
size_t docstore__service_options_size(unsigned int version);

/* Add an extra recipient (a key id of the service's keyring) of every new
 * v2 document; a repeated one is kept once. */
int docstore__service_add_recipient(docstore_service *svc, const char *kid,
                                    docstore__err *err);

/* End of a public call on svc: a failure (rc < 0) is stored on the
 * handle (err's message, else the code's).  Returns rc. */
int docstore__service_finish(docstore_service *svc, int rc,
                             const docstore__err *err);

/* Count one operation of the service itself (encrypt, decrypt). */
void docstore__service_count(docstore_service *svc, int op, int rc,
                             uint64_t bytes, uint64_t latency_us);

/* The document calls encrypt or decrypt: they need keys.  `var` names the
 * setting that would have loaded them.  0 or DOCSTORE_EKEY. */
int docstore__service_need_keyring(const docstore_service *svc,
                                   const char *what, const char *var,
                                   docstore__err *err);

/* Log "File uploaded to <provider>: <location><path>" (upload 1) or
 * "File downloaded from <provider>: <path>". */
void docstore__service_log_transfer(const docstore_service *svc, int upload,
                                    const char *path);

/* docstore_storage_path() with the reason of a refusal in err. */
int docstore__storage_path(char **out, const char *file_id,
                           const char *filename, const char *user_id,
                           int64_t when, docstore__err *err);

/* The staging table's rows (the migration's attachment_staging) share
 * ids, names, owners and days with the attachment table's, so their
 * objects go one folder lower, in a "staging/" segment after the date:
 *   documents/<owner>/YYYY/MM/DD/staging/<file_id>_<name>_<ext>.json
 * `subfolder` is that segment ("staging"; NULL or "": none, the layout of
 * docstore__storage_path()); it must be one plain segment ([a-z0-9_-]). */
int docstore__storage_path_in(char **out, const char *file_id,
                              const char *filename, const char *user_id,
                              int64_t when, const char *subfolder,
                              docstore__err *err);

#endif
