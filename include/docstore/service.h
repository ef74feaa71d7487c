/*
 * libdocstore - encrypted document storage.
 * SPDX-License-Identifier: Apache-2.0
 */
/**
 * @file docstore/service.h
 * @brief The ObjectStorageService facade: a provider, a keyring, the
 * documents/ path layout, metrics and logging, plus the process-wide
 * default service.
 */
#ifndef DOCSTORE_SERVICE_H
#define DOCSTORE_SERVICE_H

#include "common.h"
#include "config.h"
#include "crypto.h"
#include "provider.h"

#ifdef __cplusplus
extern "C" {
#endif

/**
 * @defgroup service Service: the ObjectStorageService facade
 * @brief Store, retrieve (with legacy-file fallback), delete, presign and
 * list documents; the path layout; counters; the default service.
 *
 * Thread safety: every docstore_service_* call may be made on one service
 * from several threads at once (except docstore_service_free()).
 *
 * Errors: a failing call on a service records its detail on the handle
 * (docstore_service_errmsg(): the last failure of any thread) and in the
 * calling thread's docstore_last_errmsg() (this thread's own).  A NULL
 * service gives #DOCSTORE_EINVAL, reported in docstore_last_errmsg() only.
 * "The provider's code" is as described in @ref provider.
 * @{
 */

/**
 * A service.  Opaque; create with docstore_service_new() or
 * docstore_service_from_config().
 * @since 0.1.0
 */
typedef struct docstore_service docstore_service;

/**
 * Current version of #docstore_service_options.
 * @since 0.1.0
 */
#define DOCSTORE_SERVICE_OPTIONS_VERSION 3

/**
 * Options of a service.
 * @since 0.1.0
 */
typedef struct docstore_service_options {
  unsigned int version; /**< #DOCSTORE_SERVICE_OPTIONS_VERSION */
  /** Folder that legacy paths (an attachment's old `filepath`) are read
   *  from by docstore_service_retrieve_fallback(): relative paths below
   *  it, absolute ones only when they lie inside it; a ".." segment or a
   *  symbolic link below it is refused (#DOCSTORE_EACCESS).  NULL or "":
   *  `encrypted_files/` (the default of LOCAL_STORAGE_PATH).  Copied. */
  const char *legacy_root;
  /** 1 (default): refuse to store bytes that are not a well-formed
   *  envelope (this format or legacy), or an envelope bound to another
   *  document. */
  int validate_envelopes;
  /** (version 2) 1: legacy paths are not confined: absolute paths are
   *  read wherever they lead and links are followed, for databases that
   *  hold absolute paths outside legacy_root.  0 (default): confined.
   *  @since 0.2.0 */
  int legacy_allow_outside_root;
  /** (version 3) Envelope format of new documents: 2 (streamed; the
   *  default), 1 (v1 JSON, readable by libdocstore 0.2 and older), 0: the
   *  default.  Setting DOCSTORE_ENVELOPE_VERSION.  @since 0.3.0 */
  unsigned int envelope_version;
  /** (version 3) zstd level of new v2 documents, 1 to 19; 0 (default):
   *  no compression.  Setting DOCSTORE_COMPRESSION.  @since 0.3.0 */
  int compression_level;
  /** (version 3) Plaintext bytes per segment of new v2 documents: a power
   *  of two from 4096 to 16777216; 0: 65536.  Setting
   *  DOCSTORE_SEGMENT_SIZE.  @since 0.3.0 */
  unsigned int segment_size;
} docstore_service_options;

/**
 * Static initialiser of #docstore_service_options (defaults).
 * @since 0.1.0
 */
#define DOCSTORE_SERVICE_OPTIONS_INIT                                          \
  { DOCSTORE_SERVICE_OPTIONS_VERSION, NULL, 1, 0, 0, 0, 0 }

/**
 * Initialise service options to #DOCSTORE_SERVICE_OPTIONS_INIT (for callers
 * that cannot use the macro).  Thread-safe.
 * @param opts    the struct to fill.
 * @param version #DOCSTORE_SERVICE_OPTIONS_VERSION.
 * @return 0, #DOCSTORE_EINVAL (opts NULL or another version).
 * @since 0.1.0
 */
DOCSTORE_EXTERN int
docstore_service_options_init(docstore_service_options *opts,
                              unsigned int version);

/**
 * Create a service.  It takes ownership of `provider` and `keyring`, also
 * when this call fails (they are then freed).  Thread-safe.
 * @param out        receives the service (NULL on failure); free it with
 *                   docstore_service_free().
 * @param provider   the storage (required).
 * @param keyring    the keys, or NULL: then docstore_service_store_document()
 *                   and docstore_service_read_document() give
 *                   #DOCSTORE_EKEY; the other calls work.
 * @param opts       NULL for defaults (borrowed).
 * @param errbuf     optional buffer for a message on failure.
 * @param errbuf_len size of errbuf.
 * @return 0, #DOCSTORE_EINVAL (out or provider NULL, unknown options
 *         version, an envelope option out of its range),
 *         #DOCSTORE_ENOMEM.
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_service_new(docstore_service **out,
                                         docstore_provider *provider,
                                         docstore_keyring *keyring,
                                         const docstore_service_options *opts,
                                         char *errbuf, size_t errbuf_len);

/**
 * The factory: build a service from a configuration.  The configuration is
 * validated first (docstore_config_validate()); STORAGE_TYPE chooses the
 * provider (LOCAL_STORAGE_PATH or the S3_* settings); RSA_PUBLIC_KEY_PATH
 * then RSA_PRIVATE_KEY_PATH (with RSA_PRIVATE_KEY_PASSPHRASE) load keys
 * when set, the public key becoming the sealing key (no key path: no
 * keyring); DOCSTORE_RECIPIENT_KEYS adds public keys that every new v2
 * document is also sealed to; DOCSTORE_LEGACY_ROOT becomes the legacy_root
 * option, DOCSTORE_ENVELOPE_VERSION, DOCSTORE_COMPRESSION and
 * DOCSTORE_SEGMENT_SIZE the envelope options.  Side
 * effect: DOCSTORE_LOG_LEVEL, when set, changes the process-wide log
 * threshold.  Logs "S3 storage initialized: bucket=..., endpoint=..." or
 * "Local storage initialized: path=...".  Thread-safe.
 * @param out        receives the service (NULL on failure).
 * @param cfg        the configuration; only read, the caller still frees it.
 * @param errbuf     optional buffer for a message on failure (it names the
 *                   variable at fault).
 * @param errbuf_len size of errbuf.
 * @return 0, #DOCSTORE_EINVAL (out or cfg NULL), #DOCSTORE_ECONFIG
 *         (incomplete configuration, unusable local root, bad S3 settings),
 *         #DOCSTORE_ENOTFOUND / #DOCSTORE_EIO (a key file is missing or
 *         unreadable), #DOCSTORE_EKEY (a key file is not a usable key, or
 *         the passphrase is missing or wrong), #DOCSTORE_ECRYPTO,
 *         #DOCSTORE_ENOMEM.
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_service_from_config(docstore_service **out,
                                                 const docstore_config *cfg,
                                                 char *errbuf,
                                                 size_t errbuf_len);

/**
 * Free a service, its provider and keyring.  No other call may be running
 * on it.
 * @param svc the service, or NULL (no-op).
 * @since 0.1.0
 */
DOCSTORE_EXTERN void docstore_service_free(docstore_service *svc);

/**
 * Detail of the last failure on this service, from any thread.
 * Thread-safe.
 * @param svc the service; NULL gives "invalid service handle (NULL)".
 * @return "" when none; never NULL.  The string is a copy for the calling
 *         thread, valid until this thread calls any *_errmsg() function
 *         of the library again.
 * @since 0.1.0
 */
DOCSTORE_EXTERN const char *
docstore_service_errmsg(const docstore_service *svc);

/**
 * Name of the service's provider.  Thread-safe.
 * @param svc the service; NULL gives "(none)".
 * @return "local", "s3" or a custom provider's name; owned by the service,
 *         never NULL.
 * @since 0.1.0
 */
DOCSTORE_EXTERN const char *
docstore_service_storage_type(const docstore_service *svc);

/**
 * The service's keyring.  Thread-safe.
 * @param svc the service (NULL gives NULL).
 * @return the keyring (borrowed: owned by the service; do not free or
 *         modify it), or NULL when the service has none.
 * @since 0.1.0
 */
DOCSTORE_EXTERN docstore_keyring *
docstore_service_keyring(docstore_service *svc);

/**
 * The service's provider, for raw object operations (they are counted in
 * the service's statistics).  Thread-safe.
 * @param svc the service (NULL gives NULL).
 * @return the provider (borrowed: owned by the service; do not free it).
 * @since 0.1.0
 */
DOCSTORE_EXTERN docstore_provider *
docstore_service_provider(docstore_service *svc);

/* ---------------------------------------------------------- path layout */

/**
 * The storage path of a document:
 * @code{.unparsed}
 *   documents/user_<user_id>/YYYY/MM/DD/<file_id>_<filename>_<ext>.json
 *   documents/system/YYYY/MM/DD/<file_id>_<filename>_<ext>.json  (no user)
 * @endcode
 * with the date of `when` in UTC.  The filename is sanitised (see
 * docs/ARCHITECTURE.md, "Storage paths"): it can never add a folder or
 * escape the layout; an empty one becomes "file".  The ext part is its
 * lowercased extension, or "bin".  Thread-safe.
 * @param out      receives the path, library-owned (docstore_free()); NULL
 *                 on failure.
 * @param file_id  1-64 characters of [A-Za-z0-9_-].
 * @param filename the original file name, any text (not NULL).
 * @param user_id  1-64 characters of [A-Za-z0-9_-], or NULL for a system
 *                 document.
 * @param when     Unix seconds; the year must be within 0000-9999.
 * @return 0, #DOCSTORE_EINVAL (out, file_id or filename NULL, invalid id,
 *         date out of range), #DOCSTORE_ENOMEM.  Detail:
 *         docstore_last_errmsg().
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_storage_path(char **out, const char *file_id,
                                          const char *filename,
                                          const char *user_id, int64_t when);

/* ------------------------------------------------------- the facade */

/**
 * Store an envelope (v1 JSON as produced by docstore_envelope_seal() or
 * the legacy backend, or a binary v2 envelope as a writer stores it,
 * @since 0.3.0) under the document's storage path, dated now (UTC).
 * With validate_envelopes (the default), the bytes must be a well-formed
 * envelope (for v2: its header), and one bound to a document must be
 * bound to this file_id/user_id.
 * @param svc          the service.
 * @param out_path     receives the storage path (docstore_free()); NULL on
 *                     failure.
 * @param file_id      as in docstore_storage_path().
 * @param filename     as in docstore_storage_path().
 * @param envelope     the envelope bytes (borrowed).
 * @param envelope_len their length (not 0).
 * @param user_id      as in docstore_storage_path(); NULL for a system
 *                     document.
 * @return 0, #DOCSTORE_EINVAL (a NULL argument, empty envelope, invalid
 *         id), #DOCSTORE_EFORMAT (not an envelope, or one this library
 *         cannot read), #DOCSTORE_EINTEGRITY (an envelope bound to another
 *         file_id/user_id), #DOCSTORE_ENOMEM, or the provider's code.
 * @since 0.1.0
 */
DOCSTORE_EXTERN int
docstore_service_store_encrypted(docstore_service *svc, char **out_path,
                                 const char *file_id, const char *filename,
                                 const char *envelope, size_t envelope_len,
                                 const char *user_id);

/**
 * Read an envelope back by storage path.
 * @param svc     the service.
 * @param out     receives the bytes, library-owned (docstore_free()),
 *                NUL-terminated too; NULL on failure.
 * @param out_len receives their length.
 * @param path    the storage path (an object key).
 * @return 0, #DOCSTORE_EINVAL (a NULL argument, invalid path),
 *         #DOCSTORE_ENOTFOUND, or the provider's code.
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_service_retrieve_encrypted(docstore_service *svc,
                                                        char **out,
                                                        size_t *out_len,
                                                        const char *path);

/**
 * As docstore_service_retrieve_encrypted(), but when the object store
 * fails (for any reason but #DOCSTORE_EINVAL), read `legacy_path` from the
 * local filesystem instead: below the legacy_root option, where a "..",
 * an absolute path elsewhere or a symbolic link is refused with
 * #DOCSTORE_EACCESS unless legacy_allow_outside_root is set.  Logs
 * "Failed to retrieve from object storage, falling back to local" as a
 * warning.  Fallback reads are counted as #DOCSTORE_OP_FALLBACK.
 * @param svc         the service.
 * @param out         receives the bytes (docstore_free()), NUL-terminated
 *                    too; NULL on failure.
 * @param out_len     receives their length.
 * @param path        the storage path, or NULL for a document never
 *                    migrated (then only legacy_path is read).
 * @param legacy_path the old local file, or NULL/"" for no fallback.
 * @return 0; #DOCSTORE_EINVAL (out or out_len NULL, neither path given,
 *         invalid path); when the fallback fails too (or there is none),
 *         the object store's code, with both reasons in the message;
 *         without a path, the legacy read's code (#DOCSTORE_ENOTFOUND,
 *         #DOCSTORE_EACCESS, #DOCSTORE_EIO, #DOCSTORE_EINVAL for a file
 *         that is not a regular file, #DOCSTORE_ENOMEM).
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_service_retrieve_fallback(docstore_service *svc,
                                                       char **out,
                                                       size_t *out_len,
                                                       const char *path,
                                                       const char *legacy_path);

/**
 * Delete a document; a missing one is not an error.
 * @param svc  the service.
 * @param path the storage path.
 * @return 0, #DOCSTORE_EINVAL (invalid path), or the provider's code.
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_service_delete(docstore_service *svc,
                                            const char *path);

/**
 * Whether a document exists, and its size.  A missing document is a
 * success (*exists == 0), although the provider counts it as a failed
 * head and leaves it in docstore_provider_errmsg() and
 * docstore_last_errmsg().
 * @param svc    the service.
 * @param exists receives 1 if the document exists, else 0 (required).
 * @param size   optional: receives its size in bytes (0 when missing).
 * @param path   the storage path.
 * @return 0, #DOCSTORE_EINVAL (exists NULL, invalid path), or the
 *         provider's code.
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_service_exists(docstore_service *svc, int *exists,
                                            uint64_t *size, const char *path);

/**
 * A presigned download (GET) URL: docstore_provider_presign() with
 * #DOCSTORE_PRESIGN_GET on the service's provider, counted and reported on
 * the service.  The URL is a bearer credential: it is never logged.
 * @param svc             the service.
 * @param out_url         receives the URL (docstore_free()); NULL on
 *                        failure.
 * @param path            the storage path (not checked for existence).
 * @param expires_seconds validity, 1 to #DOCSTORE_PRESIGN_MAX_SECONDS
 *                        (7 days, S3's limit), as in
 *                        docstore_provider_presign().
 * @return 0, #DOCSTORE_EINVAL (out_url NULL, expiry 0 or over 7 days,
 *         invalid path), #DOCSTORE_EUNSUPPORTED (the provider has no URLs,
 *         e.g. local), or the provider's code.
 * @since 0.2.0 (replaces docstore_service_download_url(), which took hours)
 */
DOCSTORE_EXTERN int docstore_service_presign(docstore_service *svc,
                                             char **out_url, const char *path,
                                             uint64_t expires_seconds);

/**
 * Encrypt a plaintext document with the keyring's default key (and, for
 * v2, the recipients of DOCSTORE_RECIPIENT_KEYS), binding its
 * identity (file_id, user_id), and store it under its storage path, dated
 * now (UTC): a writer (docstore_writer_begin()) with the service's
 * settings, fed the whole buffer.  Since 0.3.0 the envelope is v2 unless
 * the service is set to v1 (DOCSTORE_ENVELOPE_VERSION).  Encryption is
 * counted as #DOCSTORE_OP_ENCRYPT.
 * @param svc      the service.
 * @param out_path receives the storage path (docstore_free()); NULL on
 *                 failure.
 * @param file_id  as in docstore_storage_path().
 * @param filename as in docstore_storage_path().
 * @param data     the document (borrowed); may be NULL when len is 0.
 * @param len      its length (v1: at most 1 GiB).
 * @param user_id  as in docstore_storage_path(); NULL for a system
 *                 document.
 * @return 0, #DOCSTORE_EINVAL (a NULL argument, invalid id),
 *         #DOCSTORE_EKEY (no keyring, or no public key), #DOCSTORE_ETOOBIG
 *         (v1 over 1 GiB), #DOCSTORE_ECRYPTO, #DOCSTORE_ENOMEM, or the
 *         provider's code.
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_service_store_document(
    docstore_service *svc, char **out_path, const char *file_id,
    const char *filename, const uint8_t *data, size_t len, const char *user_id);

/**
 * Retrieve and decrypt a document (any format, see
 * docstore_envelope_open()): a reader (docstore_reader_open()) read to its
 * verified end into one buffer.  Decryption is counted as
 * #DOCSTORE_OP_DECRYPT.
 * @param svc     the service.
 * @param out     receives the plaintext, library-owned (docstore_free()
 *                wipes it); NULL on failure.
 * @param out_len receives its length.
 * @param path    the storage path.
 * @param expect  optional: when not NULL, an envelope bound to another
 *                document (or to none) is refused with
 *                #DOCSTORE_EINTEGRITY.
 * @return 0, #DOCSTORE_EINVAL (a NULL argument, invalid path or expect),
 *         #DOCSTORE_EKEY (no keyring, or no private key for the
 *         envelope), the provider's code (e.g. #DOCSTORE_ENOTFOUND), or
 *         docstore_envelope_open()'s (#DOCSTORE_EFORMAT,
 *         #DOCSTORE_EUNSUPPORTED, #DOCSTORE_EINTEGRITY, #DOCSTORE_ETOOBIG,
 *         #DOCSTORE_ECRYPTO, #DOCSTORE_ENOMEM); #DOCSTORE_ETOOBIG also for
 *         a document over 1.5 GiB (stream it with a reader).
 * @since 0.1.0
 */
DOCSTORE_EXTERN int
docstore_service_read_document(docstore_service *svc, uint8_t **out,
                               size_t *out_len, const char *path,
                               const docstore_doc_id *expect);

/* ------------------------------------------------------------ streaming */

/**
 * @name Streaming documents
 * A writer (docstore_writer_begin(), docstore_writer_write(),
 * docstore_writer_commit()) encrypts a document of any size as it is
 * written and streams it to the provider; a reader (docstore_reader_open(),
 * docstore_reader_read()) streams one back and decrypts it.  Both work in
 * bounded memory whatever the document's size (a v2 envelope; a v1 or
 * legacy envelope is read whole, as docstore_service_read_document()
 * does), into and out of buffers the caller owns, with no mandatory
 * callback, so that any language binding can drive them.
 *
 * Thread safety: a writer or reader is used by one thread at a time;
 * only docstore_writer_cancel() and docstore_reader_cancel() may be called
 * from any thread at any time while another thread uses the handle (and
 * docstore_writer_stats() / docstore_reader_stats() read counters that
 * another thread may be advancing: they are atomic but may lag).  Many
 * writers and readers may run on one service at once.  The service must
 * outlive its writers and readers.
 *
 * Errors: a failing call records its detail on the handle
 * (docstore_writer_errmsg(), docstore_reader_errmsg()), on the service
 * (docstore_service_errmsg()) and in the calling thread's
 * docstore_last_errmsg().  After a failure the handle is dead: every later
 * call returns the same code; a writer's object is discarded (nothing
 * appears at the storage path), and the plaintext a reader released
 * before the failure must be discarded by the caller.
 *
 * What a reader releases, and when: plaintext leaves the library only
 * after the segment that carries it has been authenticated, and
 * docstore_reader_read() reports the end of the document (0 with *got ==
 * 0) only after the final segment has been authenticated and nothing
 * follows it.  A truncated, reordered, extended or tampered envelope
 * therefore fails (#DOCSTORE_EINTEGRITY) at the first bad segment, after
 * the caller may already have received the bytes of earlier, good
 * segments: the caller must not use the output as the document before
 * the end was reported.  The `docstore` CLI and the bindings write to a
 * temporary file and rename it into place only on success; do the same.
 * @{
 */

/**
 * Progress callback of a writer or reader.  Called on the thread that
 * drives the handle: once before the first byte (done 0), then at most
 * about every MiB of plaintext, and once at the end (then done == total
 * when the total is known and right): before the writer's object is
 * committed, after the reader's last byte verified.  It must not call the
 * handle's other functions (docstore_writer_stats(), *_cancel() excepted).
 * @param payload the progress_payload of the options.
 * @param done    plaintext bytes consumed (writer) or released (reader)
 *                so far.
 * @param total   the expected total (the writer's size_hint, the reader's
 *                range length or document size), or UINT64_MAX when
 *                unknown; the same value in every call.
 * @return 0 to go on; any other value cancels: the call in progress fails
 *         with #DOCSTORE_ECANCELED (a writer aborts its object).
 * @since 0.3.0
 */
typedef int (*docstore_progress_cb)(void *payload, uint64_t done,
                                    uint64_t total);

/**
 * Current version of #docstore_write_options.
 * @since 0.3.0
 */
#define DOCSTORE_WRITE_OPTIONS_VERSION 1

/**
 * Per-call options of docstore_writer_begin().
 * @since 0.3.0
 */
typedef struct docstore_write_options {
  unsigned int version; /**< #DOCSTORE_WRITE_OPTIONS_VERSION */
  /** Optional progress callback; done = plaintext bytes consumed. */
  docstore_progress_cb progress;
  void *progress_payload; /**< passed to progress */
  /** 1: fail with #DOCSTORE_EEXISTS at commit when the storage path
   *  already holds an object (the existing object is kept).  0: replace. */
  int no_clobber;
  /** Content type given to the provider; NULL: application/octet-stream.
   *  Borrowed for docstore_writer_begin() only. */
  const char *content_type;
  /** Expected plaintext size, 0 = unknown: the progress total, and a hint
   *  to the provider for part sizing.  Not enforced. */
  uint64_t size_hint;
  /** Envelope format of the document: 1 (v1 JSON, buffered whole in
   *  memory and limited to 1 GiB), 2 (v2, streamed), or 0: the service's
   *  setting (DOCSTORE_ENVELOPE_VERSION, default 2). */
  int envelope_version;
  /** zstd compression before encryption (v2 only): -1 the service's
   *  setting (DOCSTORE_COMPRESSION), 0 off, 1..19 the level. */
  int compression_level;
  /** Key ids of the recipients (public keys of the service's keyring;
   *  borrowed for docstore_writer_begin() only), or NULL: the service's
   *  (its default key, plus DOCSTORE_RECIPIENT_KEYS for v2).  v1 takes
   *  exactly one. */
  const char *const *recipients;
  size_t recipients_count; /**< number of recipients */
} docstore_write_options;

/**
 * Static initialiser of #docstore_write_options (defaults).
 * @since 0.3.0
 */
#define DOCSTORE_WRITE_OPTIONS_INIT                                            \
  { DOCSTORE_WRITE_OPTIONS_VERSION, NULL, NULL, 0, NULL, 0, 0, -1, NULL, 0 }

/**
 * Initialise write options to #DOCSTORE_WRITE_OPTIONS_INIT (for callers
 * that cannot use the macro).  Thread-safe.
 * @param opts    the struct to fill.
 * @param version #DOCSTORE_WRITE_OPTIONS_VERSION.
 * @return 0, #DOCSTORE_EINVAL (opts NULL or an unknown version).
 * @since 0.3.0
 */
DOCSTORE_EXTERN int docstore_write_options_init(docstore_write_options *opts,
                                                unsigned int version);

/**
 * A document being written.  Opaque; see docstore_writer_begin().
 * @since 0.3.0
 */
typedef struct docstore_writer docstore_writer;

/**
 * Begin storing a document: its storage path is computed now (as
 * docstore_storage_path(), dated now in UTC), the envelope's header is
 * prepared (identity file_id/user_id bound) and the provider's
 * transaction opened.  Nothing is visible at the path before
 * docstore_writer_commit() succeeds.  Memory: a fixed buffer (256 KiB)
 * plus one segment, whatever the document's size (v1: the whole
 * document).  Encryption is counted as #DOCSTORE_OP_ENCRYPT at commit.
 * @param out      receives the writer (NULL on failure); release it with
 *                 docstore_writer_free().
 * @param svc      the service (must outlive the writer).
 * @param file_id  as in docstore_storage_path().
 * @param filename as in docstore_storage_path() (copied).
 * @param user_id  as in docstore_storage_path(); NULL for a system
 *                 document.
 * @param opts     NULL for defaults (borrowed for this call only).
 * @return 0, #DOCSTORE_EINVAL (out or svc NULL, invalid id, bad options
 *         or unknown version, a repeated recipient, more than 64, several
 *         with envelope version 1), #DOCSTORE_EKEY (no keyring, no public
 *         key, unknown recipient), #DOCSTORE_EUNSUPPORTED (compression
 *         with envelope version 1), #DOCSTORE_ECRYPTO, #DOCSTORE_ENOMEM,
 *         or the provider's code.  Detail on the service and in
 *         docstore_last_errmsg().
 * @since 0.3.0
 */
DOCSTORE_EXTERN int
docstore_writer_begin(docstore_writer **out, docstore_service *svc,
                      const char *file_id, const char *filename,
                      const char *user_id, const docstore_write_options *opts);

/**
 * Append plaintext.  The data is encrypted and passed to the provider as
 * the internal buffer fills; the call returns when all of it has been
 * consumed.
 * @param w    the writer.
 * @param data the bytes (borrowed); may be NULL when len is 0.
 * @param len  their count.
 * @return 0, #DOCSTORE_EINVAL (w NULL, data NULL with len > 0, already
 *         committed or aborted), #DOCSTORE_ECANCELED (cancelled, by
 *         docstore_writer_cancel() or the progress callback: the object is
 *         aborted), #DOCSTORE_ETOOBIG (v1 over 1 GiB), #DOCSTORE_ECRYPTO,
 *         #DOCSTORE_ENOMEM, or the provider's code.  On failure the writer
 *         is dead and its object aborted.
 * @since 0.3.0
 */
DOCSTORE_EXTERN int docstore_writer_write(docstore_writer *w,
                                          const uint8_t *data, size_t len);

/**
 * Finish the document: the last segment is sealed, the provider commits
 * (the object appears at the storage path atomically, or not at all) and
 * the final progress report is made.  Whatever the result, the writer
 * can only be freed afterwards.
 * @param w        the writer.
 * @param out_path optional: receives the storage path (docstore_free()),
 *                 NULL on failure.
 * @return 0, #DOCSTORE_EINVAL (w NULL, already committed or aborted),
 *         #DOCSTORE_EEXISTS (no_clobber and the path exists),
 *         #DOCSTORE_ECANCELED, #DOCSTORE_ECRYPTO, #DOCSTORE_ENOMEM, or the
 *         provider's code.
 * @since 0.3.0
 */
DOCSTORE_EXTERN int docstore_writer_commit(docstore_writer *w, char **out_path);

/**
 * Abandon the document: the provider's transaction is discarded (no
 * object, no temporary file left).  Aborting twice, or after a failure,
 * is a no-op.
 * @param w the writer.
 * @return 0, #DOCSTORE_EINVAL (w NULL, or already committed).
 * @since 0.3.0
 */
DOCSTORE_EXTERN int docstore_writer_abort(docstore_writer *w);

/**
 * Ask a writer to stop: the next (or current, at its next step)
 * docstore_writer_write() or docstore_writer_commit() fails with
 * #DOCSTORE_ECANCELED and aborts the object.  Thread-safe: may be called
 * from any thread while another uses the writer (not after
 * docstore_writer_free()).  No effect after a successful commit.
 * @param w the writer, or NULL (no-op).
 * @since 0.3.0
 */
DOCSTORE_EXTERN void docstore_writer_cancel(docstore_writer *w);

/**
 * Progress counters, for callers that cannot take a callback.  May be
 * called from any thread while the writer is in use (the values may lag).
 * @param w               the writer (NULL: zeros).
 * @param plaintext_bytes optional: receives the plaintext bytes consumed.
 * @param stored_bytes    optional: receives the envelope bytes handed to
 *                        the provider.
 * @since 0.3.0
 */
DOCSTORE_EXTERN void docstore_writer_stats(const docstore_writer *w,
                                           uint64_t *plaintext_bytes,
                                           uint64_t *stored_bytes);

/**
 * Detail of the writer's failure.
 * @param w the writer; NULL gives "invalid writer handle (NULL)".
 * @return "" when none; never NULL; owned by the writer, valid until it
 *         is freed.
 * @since 0.3.0
 */
DOCSTORE_EXTERN const char *docstore_writer_errmsg(const docstore_writer *w);

/**
 * Free a writer; one neither committed nor aborted is aborted first.
 * @param w the writer, or NULL (no-op).
 * @since 0.3.0
 */
DOCSTORE_EXTERN void docstore_writer_free(docstore_writer *w);

/**
 * Current version of #docstore_read_options.
 * @since 0.3.0
 */
#define DOCSTORE_READ_OPTIONS_VERSION 1

/**
 * Per-call options of docstore_reader_open().
 * @since 0.3.0
 */
typedef struct docstore_read_options {
  unsigned int version; /**< #DOCSTORE_READ_OPTIONS_VERSION */
  /** Optional progress callback; done = plaintext bytes released. */
  docstore_progress_cb progress;
  void *progress_payload; /**< passed to progress */
  /** First plaintext byte to read.  Not 0: v2 uncompressed documents
   *  only (others give #DOCSTORE_EUNSUPPORTED); only the segments that
   *  cover the range are fetched and authenticated.  An offset at or past
   *  the end reads nothing. */
  uint64_t offset;
  /** Bytes to read from offset; 0 = to the end.  A range past the end
   *  is cut at the end. */
  uint64_t length;
} docstore_read_options;

/**
 * Static initialiser of #docstore_read_options (defaults: whole document).
 * @since 0.3.0
 */
#define DOCSTORE_READ_OPTIONS_INIT                                             \
  { DOCSTORE_READ_OPTIONS_VERSION, NULL, NULL, 0, 0 }

/**
 * Initialise read options to #DOCSTORE_READ_OPTIONS_INIT (for callers that
 * cannot use the macro).  Thread-safe.
 * @param opts    the struct to fill.
 * @param version #DOCSTORE_READ_OPTIONS_VERSION.
 * @return 0, #DOCSTORE_EINVAL (opts NULL or an unknown version).
 * @since 0.3.0
 */
DOCSTORE_EXTERN int docstore_read_options_init(docstore_read_options *opts,
                                               unsigned int version);

/**
 * A document being read.  Opaque; see docstore_reader_open().
 * @since 0.3.0
 */
typedef struct docstore_reader docstore_reader;

/**
 * Open a stored document for reading: the object is opened at the
 * provider and the envelope's header read and authenticated (recipient
 * key, key commitment, header tag) and its identity checked against
 * `expect`, all before any plaintext is released.  Memory: a fixed buffer
 * plus one segment for v2 (a compressed one adds the decompressor's
 * window, at most 128 MiB); a v1 or legacy envelope is read and
 * decrypted whole (limited to 1 GiB).  Decryption is counted as
 * #DOCSTORE_OP_DECRYPT when the reader reaches the end or decryption fails.
 * @param out    receives the reader (NULL on failure); release it with
 *               docstore_reader_close().
 * @param svc    the service (must outlive the reader).
 * @param path   the storage path.
 * @param expect optional: when not NULL, an envelope bound to another
 *               document (or to none) is refused with
 *               #DOCSTORE_EINTEGRITY before any byte is released.
 * @param opts   NULL for defaults (borrowed for this call only).
 * @return 0, #DOCSTORE_EINVAL (a NULL argument, invalid path or expect,
 *         unknown options version), #DOCSTORE_EKEY (no keyring, or no
 *         private key for the envelope), #DOCSTORE_EUNSUPPORTED (offset
 *         not 0 on a v1, legacy or compressed document),
 *         #DOCSTORE_EFORMAT, #DOCSTORE_EINTEGRITY, #DOCSTORE_ETOOBIG,
 *         #DOCSTORE_ECRYPTO, #DOCSTORE_ENOMEM, or the provider's code (e.g.
 *         #DOCSTORE_ENOTFOUND).  Detail on the service and in
 *         docstore_last_errmsg().
 * @since 0.3.0
 */
DOCSTORE_EXTERN int docstore_reader_open(docstore_reader **out,
                                         docstore_service *svc,
                                         const char *path,
                                         const docstore_doc_id *expect,
                                         const docstore_read_options *opts);

/**
 * Read authenticated plaintext into a caller buffer.  Returns as soon as
 * some plaintext is available (*got may be less than cap); blocks on the
 * provider otherwise.  Plaintext is released only after its segment
 * verified; 0 with *got == 0 is the end of the document (or range),
 * reported only after the final segment verified and nothing follows it.
 * @param r   the reader.
 * @param buf where to write (caller-owned).
 * @param cap its size (not 0).
 * @param got receives the number of bytes written (0 on failure).
 * @return 0, #DOCSTORE_EINVAL (a NULL argument, cap 0),
 *         #DOCSTORE_ECANCELED (docstore_reader_cancel() or the progress
 *         callback), #DOCSTORE_EINTEGRITY (tampered, truncated or extended
 *         envelope), #DOCSTORE_EFORMAT, #DOCSTORE_ECRYPTO,
 *         #DOCSTORE_ENOMEM, or the provider's code.  On failure the reader
 *         is dead and what it released must be discarded.
 * @since 0.3.0
 */
DOCSTORE_EXTERN int docstore_reader_read(docstore_reader *r, uint8_t *buf,
                                         size_t cap, size_t *got);

/**
 * The plaintext size of the document (the whole document, not the range).
 * @param r    the reader.
 * @param size receives the size.
 * @return 0 when it is known (v2 uncompressed, v1, legacy),
 *         #DOCSTORE_EUNSUPPORTED when it is not (compressed v2: known only
 *         at the end), #DOCSTORE_EINVAL (a NULL argument).
 * @since 0.3.0
 */
DOCSTORE_EXTERN int docstore_reader_size(docstore_reader *r, uint64_t *size);

/**
 * Ask a reader to stop: its next docstore_reader_read() fails with
 * #DOCSTORE_ECANCELED.  Thread-safe: may be called from any thread while
 * another uses the reader (not after docstore_reader_close()).
 * @param r the reader, or NULL (no-op).
 * @since 0.3.0
 */
DOCSTORE_EXTERN void docstore_reader_cancel(docstore_reader *r);

/**
 * Progress counters, for callers that cannot take a callback.  May be
 * called from any thread while the reader is in use (the values may lag).
 * @param r               the reader (NULL: zeros).
 * @param plaintext_bytes optional: receives the plaintext bytes released.
 * @param stored_bytes    optional: receives the envelope bytes read from
 *                        the provider.
 * @since 0.3.0
 */
DOCSTORE_EXTERN void docstore_reader_stats(const docstore_reader *r,
                                           uint64_t *plaintext_bytes,
                                           uint64_t *stored_bytes);

/**
 * Detail of the reader's failure.
 * @param r the reader; NULL gives "invalid reader handle (NULL)".
 * @return "" when none; never NULL; owned by the reader, valid until it
 *         is closed.
 * @since 0.3.0
 */
DOCSTORE_EXTERN const char *docstore_reader_errmsg(const docstore_reader *r);

/**
 * Close a reader and release its provider stream and buffers (plaintext
 * held in them is wiped).
 * @param r the reader, or NULL (no-op).
 * @since 0.3.0
 */
DOCSTORE_EXTERN void docstore_reader_close(docstore_reader *r);

/** @} */

/**
 * List the stored objects under a prefix; the callback runs on the calling
 * thread.
 * @param svc     the service.
 * @param prefix  key prefix; NULL means "documents/".
 * @param cb      called once per object (required).
 * @param payload passed to cb.
 * @return as docstore_provider_list(): 0; cb's negative value or
 *         #DOCSTORE_ECANCELED when cb stopped the listing;
 *         #DOCSTORE_EINVAL; #DOCSTORE_EUNSUPPORTED; or the provider's code.
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_service_list(docstore_service *svc,
                                          const char *prefix,
                                          docstore_list_cb cb, void *payload);

/**
 * Connectivity check of the provider.
 * @param svc    the service.
 * @param report optional: receives a human report (docstore_free()), also
 *               on failure; may be NULL.
 * @return as docstore_provider_check().
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_service_check(docstore_service *svc,
                                           char **report);

/* ------------------------------------------------------------- metrics */

/* docstore_op, docstore_op_name() and docstore_op_stats are in common.h
 * (the provider layer counts operations too). */

/**
 * Counters of one op since the service was created or last reset.
 * Thread-safe.
 * @param svc the service (only read).
 * @param out receives the counters; out->version must be set.
 * @param op  a #docstore_op.
 * @return 0, #DOCSTORE_EINVAL (svc or out NULL, out->version 0, unknown
 *         op).  Detail: docstore_last_errmsg().
 * @since 0.1.0; 0.2.0 takes out before op (was (svc, op, out)) and a const
 *        service
 */
DOCSTORE_EXTERN int docstore_service_stats(const docstore_service *svc,
                                           docstore_op_stats *out, int op);

/**
 * All counters as one line of JSON: {"put": {"successes": N, "failures":
 * N, "bytes": N, "total_latency_us": N, "avg_latency_us": N, "retries":
 * N}, "get": {...}, ...}, one member per op (exact integers).  Thread-safe.
 * @param svc the service (only read).
 * @param out receives the JSON text, library-owned (docstore_free());
 *            NULL on failure.
 * @return 0, #DOCSTORE_EINVAL (svc or out NULL), #DOCSTORE_ENOMEM.  Detail:
 *         docstore_last_errmsg().
 * @since 0.1.0; 0.2.0 takes a const service
 */
DOCSTORE_EXTERN int docstore_service_stats_json(const docstore_service *svc,
                                                char **out);

/**
 * Reset all counters to zero (the provider's included).  Thread-safe;
 * calls in flight may still be counted afterwards.
 * @param svc the service, or NULL (no-op).
 * @since 0.1.0
 */
DOCSTORE_EXTERN void docstore_service_stats_reset(docstore_service *svc);

/* ------------------------------------------------ process-wide default */

/**
 * The seed's init_storage_service(config): build the process-wide default
 * service with docstore_service_from_config().  Safe to call from several
 * threads: exactly one service is built, later calls keep the first.
 * @param cfg        the configuration (only read), or NULL: a new one is
 *                   loaded from the environment (docstore_config_load_env()).
 * @param errbuf     optional buffer for a message on failure.
 * @param errbuf_len size of errbuf.
 * @return 0, #DOCSTORE_EEXISTS (already initialised; the first service is
 *         kept), or the codes of docstore_service_from_config() and
 *         docstore_config_load_env().
 * @since 0.1.0
 */
DOCSTORE_EXTERN int docstore_default_init(const docstore_config *cfg,
                                          char *errbuf, size_t errbuf_len);

/**
 * The seed's get_storage_service().  Thread-safe, lock-free.
 * @return the default service (borrowed: do not free it; use
 *         docstore_default_shutdown()), or NULL if docstore_default_init()
 *         has not succeeded.
 * @since 0.1.0
 */
DOCSTORE_EXTERN docstore_service *docstore_default_get(void);

/**
 * Free the default service; docstore_default_init() may then build a new
 * one.  No other thread may still use the old one.  Without a default
 * service this does nothing.
 * @since 0.1.0
 */
DOCSTORE_EXTERN void docstore_default_shutdown(void);

/** @} */

#ifdef __cplusplus
}
#endif
#endif /* DOCSTORE_SERVICE_H */
