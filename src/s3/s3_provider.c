/*
 * libdocstore - S3 provider.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Not implemented yet: STORAGE_TYPE=s3 answers DOCSTORE_EUNSUPPORTED with a
 * clear message instead of pretending to work.
 */
#include <string.h>

#include "docstore/provider.h"
#include "internal.h"

int docstore_s3_options_init(docstore_s3_options *opts, unsigned int version) {
  if (!opts || version != DOCSTORE_S3_OPTIONS_VERSION)
    return DOCSTORE_EINVAL;
  docstore_s3_options init = DOCSTORE_S3_OPTIONS_INIT;
  *opts = init;
  return 0;
}

int docstore_s3_provider_new(docstore_provider **out,
                             const docstore_s3_options *opts, char *errbuf,
                             size_t errbuf_len) {
  docstore__err err;
  docstore__err_clear(&err);
  if (out)
    *out = NULL;
  docstore__err_set(&err, DOCSTORE_EUNSUPPORTED,
                    "the S3 provider is not available in this build yet; "
                    "use STORAGE_TYPE=local");
  docstore__err_to_buf(&err, errbuf, errbuf_len);
  return err.code;
}
