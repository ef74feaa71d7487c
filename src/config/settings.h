/*
 * libdocstore - the settings schema: one table per provider.
 * SPDX-License-Identifier: Apache-2.0
 *
 * Not installed.  This is the generic, table-driven part of configuration
 * and sits in the config layer: types, ranges, parsing, normalisation,
 * messages, effective values (fallbacks and defaults), filling an options
 * struct by offsetof, and checking a typed options struct a C caller
 * filled by hand.  It knows no setting by name.
 *
 * The tables themselves belong to their providers (src/s3/s3_settings.c,
 * src/provider/local_settings.c) and to the service
 * (src/service/settings_catalog.c), which also gathers them into the
 * catalogue that a docstore_config handle is created with: the layer that
 * knows every provider is the one above them.  How to add a setting:
 * docs/ARCHITECTURE.md, "Configuration".
 */
#ifndef DOCSTORE_CONFIG_SETTINGS_H
#define DOCSTORE_CONFIG_SETTINGS_H

#include <stddef.h>
#include <stdint.h>

#include "docstore/config.h"
#include "internal.h"

/* Where a setting's effective value lands in an options struct. */
typedef enum docstore__land {
  DOCSTORE__LAND_NONE = 0, /* nowhere (read by name, e.g. RSA_* paths) */
  DOCSTORE__LAND_STR,      /* const char * (borrowed from the config) */
  DOCSTORE__LAND_UINT,     /* unsigned int */
  DOCSTORE__LAND_U64,      /* uint64_t */
  DOCSTORE__LAND_CHOICE,   /* int: index in the choices */
  DOCSTORE__LAND_BOOL,     /* int: 1 true, 0 false */
  DOCSTORE__LAND_NOT_BOOL, /* int: 0 true, 1 false (verify -> skip verify) */
  DOCSTORE__LAND_LEVEL     /* int: N of a "name:N" choice, else 0 */
} docstore__land;

/* Internal flags (the public ones are DOCSTORE_SETTING_*). */
#define DOCSTORE__S_GROUP 0x100u      /* credential group member */
#define DOCSTORE__S_GROUP_LEAD 0x200u /* setting it selects the group */
/* Lands as 0 when unset (not as its default), so that the provider's own
 * rule for 0 applies (S3_RETRY_MAX_MS: at least the base). */
#define DOCSTORE__S_UNSET_ZERO 0x400u
/* UINT or SIZE: the value must be a power of two. */
#define DOCSTORE__S_POW2 0x800u

/* One setting.  `info` is what docstore_config_setting_at() shows. */
typedef struct docstore__setting {
  docstore_setting_info info;
  unsigned int iflags;     /* DOCSTORE__S_* */
  docstore__land land;     /* how it lands in the options struct */
  const char *aliases;     /* "warning=warn": accepted, stored as */
  const char *fallback[2]; /* names whose effective value stands in */
  size_t offset;           /* offsetof(options, info.field) */
} docstore__setting;

/* Shorthand for table rows (internal flags and aliases are set by name
 * where used). */
#define DOCSTORE__SETTING(name_, provider_, type_, flags_, def_, min_, max_,   \
                          choices_, field_, desc_)                             \
  {                                                                            \
    DOCSTORE_SETTING_INFO_VERSION, name_, provider_, type_, flags_, def_,      \
        min_, max_, choices_, field_, desc_                                    \
  }

struct docstore_config;

/* A provider's (or the service's) table, with the coherence check that
 * runs when STORAGE_TYPE selects it (NULL: none). */
typedef struct docstore__settings_table {
  const char *provider; /* STORAGE_TYPE value, or "" for every provider */
  const docstore__setting *items;
  size_t n;
  int (*validate)(const struct docstore_config *cfg, docstore__err *err);
} docstore__settings_table;

/* Every setting a configuration knows, in dump order. */
typedef struct docstore__catalog {
  const docstore__settings_table *const *tables;
  size_t ntables;
} docstore__catalog;

/* Number of settings in the catalogue, the index-th one (NULL past the
 * end), the one called name (NULL if unknown; *index may be NULL). */
size_t docstore__catalog_count(const docstore__catalog *cat);
const docstore__setting *docstore__catalog_at(const docstore__catalog *cat,
                                              size_t index);
const docstore__setting *docstore__catalog_find(const docstore__catalog *cat,
                                                const char *name,
                                                size_t *index);

/*
 * Check `value` for setting s; on success *out receives its normalised
 * copy (docstore__alloc) or NULL when the value means "unset".  `label`
 * names the setting in messages ("S3_BUCKET", or "bucket (setting
 * S3_BUCKET)").  Secret values are never echoed.
 */
int docstore__setting_check(const docstore__setting *s, const char *label,
                            const char *value, char **out, docstore__err *err);

/* A value for a message: at most 64 characters, non-printables as '?'. */
void docstore__settings_echo(char *dst, size_t cap, const char *v);

/* Parse a normalised value of a SIZE or UINT setting (0 on success). */
int docstore__setting_parse_u64(const char *v, uint64_t *out);

/* Index of v in s's choices ("a|b|c", case-insensitive, aliases
 * applied), or -1. */
int docstore__setting_choice(const docstore__setting *s, const char *v);

/* CHOICE with a "name:N" choice (N in [min, max], e.g. "none|zstd:N"):
 * the N of v, or 0 when v is another choice or not valid. */
int docstore__setting_level(const docstore__setting *s, const char *v);

/*
 * Check a typed options struct against a table: every field a setting
 * lands in (within the first opts_size bytes) gets the same rules as the
 * setting (0 and NULL/"" mean "the default").  Messages name the field and
 * the setting: "bucket (setting S3_BUCKET) must be ...".
 */
int docstore__settings_check_opts(const docstore__setting *items, size_t n,
                                  const void *opts, size_t opts_size,
                                  docstore__err *err);

/*
 * Fill the fields of an options struct from a configuration's effective
 * values (defaults and fallbacks applied).  Strings are borrowed from cfg.
 */
int docstore__settings_fill(const docstore__setting *items, size_t n,
                            const struct docstore_config *cfg, void *opts,
                            size_t opts_size);

/* Effective value of a setting: the value set, else its fallbacks (in
 * order; for a credential-group member: the fallback only, and only when
 * no group lead is set), else its default; NULL when none applies.
 * *source (may be NULL) receives NULL when the value was set directly,
 * "default", or the name of the setting it fell back to. */
const char *docstore__config_effective(const struct docstore_config *cfg,
                                       const char *name, const char **source);

/* Value as set (normalised), NULL when unset or unknown. */
const char *docstore__config_raw(const struct docstore_config *cfg,
                                 const char *name);

/* A configuration over a catalogue (the service layer's
 * docstore_config_new() passes the library's). */
int docstore__config_new(struct docstore_config **out,
                         const docstore__catalog *cat);

#endif /* DOCSTORE_CONFIG_SETTINGS_H */
