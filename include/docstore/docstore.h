/*
 * libdocstore - encrypted document storage.
 * SPDX-License-Identifier: Apache-2.0
 */
/**
 * @file docstore/docstore.h
 * @brief The whole public API: include this one header.
 *
 * It includes common.h, config.h, crypto.h, migrate.h, provider.h,
 * service.h and sys/provider.h (the interface for a provider of your own;
 * include the stable headers one by one to leave it out).  Link with -ldocstore
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
#include "sys/provider.h"

#endif /* DOCSTORE_DOCSTORE_H */
