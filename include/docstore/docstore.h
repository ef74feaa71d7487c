/*
 * libdocstore - encrypted document storage.
 * SPDX-License-Identifier: Apache-2.0
 */
/**
 * @file docstore/docstore.h
 * @brief The whole public API: include this one header.
 *
 * It includes common.h, config.h, crypto.h, migrate.h, provider.h (with
 * sys/provider.h) and service.h.  Link with -ldocstore
 * (`pkg-config --cflags --libs docstore`).
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
