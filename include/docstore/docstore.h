/*
 * libdocstore - encrypted document storage.
 * SPDX-License-Identifier: Apache-2.0
 *
 * docstore.h: the whole public API.  Include this one header.
 */
#ifndef DOCSTORE_DOCSTORE_H
#define DOCSTORE_DOCSTORE_H

#include "common.h"
#include "config.h"
#include "crypto.h"
#include "migrate.h"
#include "provider.h"
#include "service.h"

#endif /* DOCSTORE_DOCSTORE_H */
