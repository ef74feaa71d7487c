/*
 * libdocstore - service layer internals.
 * SPDX-License-Identifier: Apache-2.0
 */
#ifndef DOCSTORE_SERVICE_INTERNAL_H
#define DOCSTORE_SERVICE_INTERNAL_H

#include "docstore/service.h"
#include "internal.h"

#include "metrics.h"
#include "util/id.h"

/* Envelope defaults of new documents (docs/CONFIG.md says why v2). */
#define DOCSTORE__ENVELOPE_VERSION_DEFAULT 2
#define DOCSTORE__SEGMENT_SIZE_DEFAULT 65536u
/* Recipients of a v2 envelope (docs/FORMAT.md). */
#define DOCSTORE__RECIPIENTS_MAX 64

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

/* docstore_storage_path() with the reason of a refusal in err. */
int docstore__storage_path(char **out, const char *file_id,
                           const char *filename, const char *user_id,
                           int64_t when, docstore__err *err);

#endif
