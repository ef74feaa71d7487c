// libdocstore for Node.js, through koffi (no compiler needed).
// SPDX-License-Identifier: Apache-2.0
//
// The library is found through DOCSTORE_LIBRARY (a path), then a
// libdocstore.so* in this folder, then the system linker path
// ("libdocstore.so.0"); when none loads, the error lists what was tried.
//
// Every fallible call returns 0 or a negative code; a negative code becomes
// a DocstoreError (err.errno: the code, err.code: "DOCSTORE_ENOTFOUND",
// err.message: the library's detail).  Buffers the library returns are
// copied into JS and released with docstore_free (which wipes them).
// Handles are freed by close(), or by the garbage collector.
'use strict';

const fs = require('fs');
const path = require('path');
const koffi = require('koffi');
const { Readable, Writable } = require('stream');

const ABI_MAJOR = 0;

// ------------------------------------------------------------ loading
function loadLibrary() {
  const tried = [];
  const attempt = (file, label) => {
    try {
      return koffi.load(file);
    } catch (e) {
      tried.push(`${label}: ${e.message}`);
      return null;
    }
  };
  const fail = () => {
    throw new Error('cannot load libdocstore; tried:\n' +
      tried.map((t) => '  - ' + t).join('\n') +
      '\nSet DOCSTORE_LIBRARY to the path of libdocstore.so.');
  };
  const explicit = process.env.DOCSTORE_LIBRARY;
  if (explicit) {
    // An explicit choice that fails is an error, not a reason to load
    // another copy.
    return attempt(explicit, `DOCSTORE_LIBRARY=${explicit}`) || fail();
  }
  tried.push('DOCSTORE_LIBRARY: not set');
  const local = fs.readdirSync(__dirname)
    .filter((f) => /^libdocstore\.so(\.\d+)*$/.test(f)).sort();
  if (local.length === 0) tried.push(`${__dirname}: no libdocstore there`);
  for (const f of local) {
    const lib = attempt(path.join(__dirname, f), `package folder: ${f}`);
    if (lib) return lib;
  }
  const soname = `libdocstore.so.${ABI_MAJOR}`;
  return attempt(soname, `system linker path: ${soname}`) || fail();
}

const lib = loadLibrary();

// ------------------------------------------------------------ the C API
// Versioned structs (version first; fields of version 1).
const LocalOptions = koffi.struct('docstore_local_options', {
  version: 'unsigned int', root: 'const char *', fsync: 'int',
});
const ServiceOptions = koffi.struct('docstore_service_options', {
  version: 'unsigned int', legacy_root: 'const char *',
  validate_envelopes: 'int',
  legacy_allow_outside_root: 'int', // version 2 (unused: the binding sets 1)
  // version 3: how new documents are sealed
  envelope_version: 'unsigned int', compression_level: 'int',
  segment_size: 'unsigned int',
});
const DocId = koffi.struct('docstore_doc_id', {
  file_id: 'const char *', user_id: 'const char *',
});
const ObjectInfo = koffi.struct('docstore_object_info', {
  version: 'unsigned int', key: 'const char *', size: 'uint64_t',
  mtime: 'int64_t', etag: 'const char *',
});
const OpStats = koffi.struct('docstore_op_stats', {
  version: 'unsigned int', successes: 'uint64_t', failures: 'uint64_t',
  bytes: 'uint64_t', total_latency_us: 'uint64_t',
  avg_latency_us: 'uint64_t', retries: 'uint64_t',
});
// Streaming options (0.3.0).  The progress callback is not used from Node
// (see createReadStream below): a pointer-sized member, always null.
const WriteOptions = koffi.struct('docstore_write_options', {
  version: 'unsigned int', progress: 'void *', progress_payload: 'void *',
  no_clobber: 'int', content_type: 'const char *', size_hint: 'uint64_t',
  envelope_version: 'int', compression_level: 'int', recipients: 'void *',
  recipients_count: 'size_t',
});
const ReadOptions = koffi.struct('docstore_read_options', {
  version: 'unsigned int', progress: 'void *', progress_payload: 'void *',
  offset: 'uint64_t', length: 'uint64_t',
});
const ListCb = koffi.proto(
  'int docstore_list_cb(void *payload, const void *info)');

// ------------------------------------------------------------ argument checks
// koffi cuts a string at its first NUL ('1\0x' reaches C as "1") and
// converts numbers as C casts do (2 ** 32 + 5 becomes 5, -1 becomes
// 4294967295, 1.5 becomes 1, NaN becomes 0), and takes a Buffer for a C
// string without its terminator.  So every value handed to C passes
// cValue() first: each argument of each declared function (declare()), and
// each member of a struct passed by pointer.  A refusal is a DocstoreError
// with the code DOCSTORE_EINVAL; the message names the argument or member
// and never repeats a string (it may be a secret).
const INT_RANGES = {
  Int8: [-(2n ** 7n), 2n ** 7n - 1n], UInt8: [0n, 2n ** 8n - 1n],
  Int16: [-(2n ** 15n), 2n ** 15n - 1n], UInt16: [0n, 2n ** 16n - 1n],
  Int32: [-(2n ** 31n), 2n ** 31n - 1n], UInt32: [0n, 2n ** 32n - 1n],
  Int64: [-(2n ** 63n), 2n ** 63n - 1n], UInt64: [0n, 2n ** 64n - 1n],
};
const LONE_SURROGATE =
  /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

function invalid(where, what) {
  return new DocstoreError(-1, `${where}: ${what}`);
}

function kind(value) {
  if (value === null) return 'null';
  if (Buffer.isBuffer(value)) return 'Buffer';
  return typeof value;
}

// `value` checked for a C parameter or struct member of koffi type `type`.
function cValue(type, value, where) {
  const range = INT_RANGES[type.primitive];
  if (type.primitive === 'String') {
    if (value === null || value === undefined) return value;
    if (typeof value !== 'string') {
      throw invalid(where, `expected a string, not ${kind(value)}`);
    }
    if (value.includes('\0')) {
      throw invalid(where, 'a string with a NUL character (C would end it there)');
    }
    if (LONE_SURROGATE.test(value)) {
      throw invalid(where, 'a string that is not valid Unicode (a lone surrogate)');
    }
  } else if (range) {
    let n;
    if (typeof value === 'bigint') {
      n = value;
    } else if (typeof value === 'number' && Number.isSafeInteger(value)) {
      n = BigInt(value);
    } else if (typeof value === 'number' && Number.isInteger(value)) {
      throw invalid(where, `${value} is not exact as a number: pass a BigInt`);
    } else {
      throw invalid(where, `expected an integer, not ${
        typeof value === 'number' ? String(value) : kind(value)}`);
    }
    if (n < range[0] || n > range[1]) {
      throw invalid(where, `${n} is out of range (${range[0]} to ${range[1]})`);
    }
  } else if (type.primitive === 'Pointer' && type.ref &&
             type.ref.primitive === 'Record' && value !== null &&
             typeof value === 'object' && !Buffer.isBuffer(value)) {
    for (const m of Object.values(type.ref.members)) {
      if (m.name in value) {
        cValue(m.type, value[m.name], `${type.ref.name}.${m.name}`);
      }
    }
  }
  return value;
}

// A C function whose inputs pass cValue() before koffi converts them (also
// for fn.async(...args, callback)).
function declare(proto) {
  const fn = lib.func(proto);
  const { name, arguments: params } = fn.info;
  const check = (args) => {
    params.forEach((p, i) => {
      if (p.direction !== 'Output' && i < args.length) {
        cValue(p.type, args[i], `${name} argument ${i + 1}`);
      }
    });
    return args;
  };
  const call = (...args) => fn(...check(args));
  call.async = (...args) => {
    const done = args.pop();
    return fn.async(...check(args), done);
  };
  call.check = check; // refuse bad arguments now, call later
  call.info = fn.info;
  return call;
}

const C = {};
for (const proto of [
  'const char *docstore_version(void)',
  'int docstore_version_number(void)',
  'const char *docstore_error_name(int code)',
  'const char *docstore_strerror(int code)',
  'const char *docstore_last_errmsg(void)',
  'int docstore_last_errcode(void)',
  'void docstore_free(void *ptr)',
  // keys
  'int docstore_keygen(_Out_ void **pub, _Out_ void **priv, unsigned int bits, const char *passphrase)',
  'int docstore_keyring_new(_Out_ void **out, uint8_t *errbuf, size_t len)',
  'void docstore_keyring_free(void *kr)',
  'int docstore_keyring_add_public_pem(void *kr, _Out_ void **key_id, const uint8_t *pem, size_t len)',
  'int docstore_keyring_add_private_pem(void *kr, _Out_ void **key_id, const uint8_t *pem, size_t len, const char *pass)',
  'int docstore_keyring_set_default(void *kr, const char *key_id)',
  'const char *docstore_keyring_errmsg(void *kr)',
  'int docstore_envelope_seal(_Out_ void **out, _Out_ size_t *len, void *kr, const uint8_t *data, size_t n, const docstore_doc_id *doc)',
  'int docstore_envelope_open(_Out_ void **out, _Out_ size_t *len, void *kr, const uint8_t *env, size_t n, const docstore_doc_id *expect)',
  'int docstore_envelope_rewrap(_Out_ void **out, _Out_ size_t *len, void *kr, const uint8_t *env, size_t n, const char *key_id)',
  // config
  'int docstore_config_new(_Out_ void **out)',
  'void docstore_config_free(void *cfg)',
  'int docstore_config_set(void *cfg, const char *name, const char *value)',
  'int docstore_config_dump(void *cfg, _Out_ void **out)',
  'const char *docstore_config_errmsg(void *cfg)',
  // providers
  'int docstore_local_options_init(_Inout_ docstore_local_options *opts, unsigned int version)',
  'int docstore_local_provider_new(_Out_ void **out, const docstore_local_options *opts, uint8_t *errbuf, size_t len)',
  'void docstore_provider_free(void *p)',
  // service
  'int docstore_service_options_init(_Inout_ docstore_service_options *opts, unsigned int version)',
  'int docstore_service_new(_Out_ void **out, void *provider, void *keyring, const docstore_service_options *opts, uint8_t *errbuf, size_t len)',
  'int docstore_service_from_config(_Out_ void **out, void *cfg, uint8_t *errbuf, size_t len)',
  'void docstore_service_free(void *svc)',
  'const char *docstore_service_errmsg(void *svc)',
  'const char *docstore_service_storage_type(void *svc)',
  'int docstore_service_store_encrypted(void *svc, _Out_ void **path, const char *file_id, const char *filename, const uint8_t *env, size_t n, const char *user_id)',
  'int docstore_service_retrieve_encrypted(void *svc, _Out_ void **out, _Out_ size_t *len, const char *path)',
  'int docstore_service_delete(void *svc, const char *path)',
  'int docstore_service_exists(void *svc, _Out_ int *exists, _Out_ uint64_t *size, const char *path)',
  'int docstore_service_presign(void *svc, _Out_ void **url, const char *path, uint64_t expires_seconds)',
  'int docstore_service_store_document(void *svc, _Out_ void **path, const char *file_id, const char *filename, const uint8_t *data, size_t n, const char *user_id)',
  'int docstore_service_read_document(void *svc, _Out_ void **out, _Out_ size_t *len, const char *path, const docstore_doc_id *expect)',
  'int docstore_service_list(void *svc, const char *prefix, docstore_list_cb *cb, void *payload)',
  // streaming (0.3.0)
  'int docstore_write_options_init(_Inout_ docstore_write_options *opts, unsigned int version)',
  'int docstore_writer_begin(_Out_ void **out, void *svc, const char *file_id, const char *filename, const char *user_id, const docstore_write_options *opts)',
  'int docstore_writer_write(void *w, const uint8_t *data, size_t len)',
  'int docstore_writer_commit(void *w, _Out_ void **path)',
  'int docstore_writer_abort(void *w)',
  'void docstore_writer_cancel(void *w)',
  'void docstore_writer_stats(void *w, _Out_ uint64_t *plaintext, _Out_ uint64_t *stored)',
  'const char *docstore_writer_errmsg(void *w)',
  'void docstore_writer_free(void *w)',
  'int docstore_read_options_init(_Inout_ docstore_read_options *opts, unsigned int version)',
  'int docstore_reader_open(_Out_ void **out, void *svc, const char *path, const docstore_doc_id *expect, const docstore_read_options *opts)',
  'int docstore_reader_read(void *r, uint8_t *buf, size_t cap, _Out_ size_t *got)',
  'int docstore_reader_size(void *r, _Out_ uint64_t *size)',
  'void docstore_reader_cancel(void *r)',
  'void docstore_reader_stats(void *r, _Out_ uint64_t *plaintext, _Out_ uint64_t *stored)',
  'const char *docstore_reader_errmsg(void *r)',
  'void docstore_reader_close(void *r)',
  'const char *docstore_op_name(int op)',
  'int docstore_service_stats(void *svc, _Inout_ docstore_op_stats *out, int op)',
]) {
  const fn = declare(proto);
  C[fn.info.name] = fn;
}

if (Math.floor(C.docstore_version_number() / 10000) !== ABI_MAJOR) {
  throw new Error(`libdocstore ${C.docstore_version()} is not ABI ${ABI_MAJOR}.x`);
}

// ------------------------------------------------------------ errors
class DocstoreError extends Error {
  constructor(errno, message) {
    super(message || C.docstore_strerror(errno));
    this.name = 'DocstoreError';
    this.errno = errno;                        // -3
    this.code = C.docstore_error_name(errno);  // 'DOCSTORE_ENOTFOUND'
  }
}

const ERRBUF_LEN = 512;
// First bytes of a binary (version 2) envelope (docs/FORMAT.md).
const ENVELOPE_V2_MAGIC = Buffer.from([0x89, 0x44, 0x53, 0x45, 0x0d, 0x0a,
  0x1a, 0x0a]);

// The message of failure `rc` that just happened on this thread: the
// constructor's errbuf, the thread's own last error when it is this one,
// else the handle's last error.
function check(rc, handleErrmsg, handle, errbuf) {
  if (rc >= 0) return rc;
  let msg = '';
  if (errbuf) msg = errbuf.toString('utf8', 0, Math.max(0, errbuf.indexOf(0)));
  if (!msg && C.docstore_last_errcode() === rc) msg = C.docstore_last_errmsg();
  if (!msg && handleErrmsg && handle) msg = handleErrmsg(handle);
  throw new DocstoreError(rc, msg);
}

// Copy a library-owned buffer into JS, then free (and wipe) it.
function takeBuffer(ptr, len) {
  if (!ptr) return Buffer.alloc(0);
  try {
    return Buffer.from(new Uint8Array(koffi.view(ptr, Number(len))));
  } finally {
    C.docstore_free(ptr);
  }
}

function takeString(ptr, len) {
  if (!ptr) return null;
  try {
    return len === undefined ? koffi.decode.string(ptr)
      : koffi.decode.string(ptr, Number(len));
  } finally {
    C.docstore_free(ptr);
  }
}

function str(v) {
  return v === null || v === undefined ? null : String(v);
}

// Bytes for a (pointer, length) pair: a Buffer, a typed array or a
// string (UTF-8).
function bytes(data) {
  if (Buffer.isBuffer(data)) return data;
  if (typeof data === 'string') {
    if (LONE_SURROGATE.test(data)) {
      throw invalid('data', 'a string that is not valid Unicode (a lone surrogate)');
    }
    return Buffer.from(data, 'utf8');
  }
  if (ArrayBuffer.isView(data)) {
    return Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  }
  if (data instanceof ArrayBuffer) return Buffer.from(data);
  throw invalid('data', `expected a Buffer or a string, not ${kind(data)}`);
}

function envelopeText(envelope) {
  return typeof envelope === 'string' || Buffer.isBuffer(envelope)
    ? bytes(envelope) : Buffer.from(JSON.stringify(envelope), 'utf8');
}

function docId(fileId, userId) {
  return fileId === null || fileId === undefined ? null
    : { file_id: str(fileId), user_id: str(userId) };
}

// Handles are freed on close(), else when garbage collected.
const finalizer = new FinalizationRegistry(({ free, ptr }) => free(ptr));

class Handle {
  constructor(ptr, free) {
    this.ptr = ptr;
    this.free = free;
    finalizer.register(this, { free, ptr }, this);
  }

  get() {
    if (!this.ptr) throw new DocstoreError(-1, 'handle is closed');
    return this.ptr;
  }

  // The library took the handle over (docstore_service_new).
  release() {
    finalizer.unregister(this);
    const p = this.ptr;
    this.ptr = null;
    return p;
  }

  close() {
    if (this.ptr) this.free(this.release());
  }
}

// ------------------------------------------------------------ keys
function generateKeyPair(bits = 0, passphrase = null) {
  const pub = [null];
  const priv = [null];
  check(C.docstore_keygen(pub, priv, bits, passphrase));
  return { publicKey: takeString(pub[0]), privateKey: takeString(priv[0]) };
}

class Keyring {
  constructor() {
    const out = [null];
    const err = Buffer.alloc(ERRBUF_LEN);
    check(C.docstore_keyring_new(out, err, ERRBUF_LEN), null, null, err);
    this.h = new Handle(out[0], C.docstore_keyring_free);
  }

  check(rc) {
    return check(rc, C.docstore_keyring_errmsg, this.h.ptr);
  }

  addPublicPem(pem) {
    const kid = [null];
    const b = bytes(pem);
    this.check(C.docstore_keyring_add_public_pem(this.h.get(), kid, b, b.length));
    return takeString(kid[0]);
  }

  addPrivatePem(pem, passphrase = null) {
    const kid = [null];
    const b = bytes(pem);
    this.check(C.docstore_keyring_add_private_pem(this.h.get(), kid, b,
      b.length, passphrase));
    return takeString(kid[0]);
  }

  setDefault(keyId) {
    this.check(C.docstore_keyring_set_default(this.h.get(), keyId));
  }

  seal(data, fileId = null, userId = null) {
    const out = [null];
    const len = [0];
    const b = bytes(data);
    check(C.docstore_envelope_seal(out, len, this.h.get(), b, b.length,
      docId(fileId, userId)));
    return takeString(out[0], len[0]);
  }

  open(envelope, fileId = null, userId = null) {
    const out = [null];
    const len = [0];
    const b = envelopeText(envelope);
    check(C.docstore_envelope_open(out, len, this.h.get(), b, b.length,
      docId(fileId, userId)));
    return takeBuffer(out[0], len[0]);
  }

  rewrap(envelope, newKeyId = null) {
    const out = [null];
    const len = [0];
    const b = envelopeText(envelope);
    check(C.docstore_envelope_rewrap(out, len, this.h.get(), b, b.length,
      newKeyId));
    return takeString(out[0], len[0]);
  }

  close() {
    this.h.close();
  }
}

// ------------------------------------------------------------ config
// A docstore_config from {NAME: value} (null/undefined values left unset).
function makeConfig(settings) {
  const out = [null];
  check(C.docstore_config_new(out));
  const cfg = new Handle(out[0], C.docstore_config_free);
  for (const [name, value] of Object.entries(settings || {})) {
    if (value === null || value === undefined) continue;
    check(C.docstore_config_set(cfg.get(), name, String(value)),
      C.docstore_config_errmsg, cfg.ptr);
  }
  return cfg;
}

function configDump(settings) {
  const cfg = makeConfig(settings);
  try {
    const out = [null];
    check(C.docstore_config_dump(cfg.get(), out), C.docstore_config_errmsg,
      cfg.ptr);
    return takeString(out[0]);
  } finally {
    cfg.close();
  }
}

// ------------------------------------------------------------ service
class Service {
  constructor(ptr) {
    this.h = new Handle(ptr, C.docstore_service_free);
  }

  // From the seed's settings ({STORAGE_TYPE, LOCAL_STORAGE_PATH, S3_*,
  // RSA_*_KEY_PATH}).
  static fromConfig(settings) {
    const cfg = makeConfig(settings);
    try {
      const out = [null];
      const err = Buffer.alloc(ERRBUF_LEN);
      check(C.docstore_service_from_config(out, cfg.get(), err, ERRBUF_LEN),
        null, null, err);
      return new Service(out[0]);
    } finally {
      cfg.close();
    }
  }

  // A local-filesystem service; takes the keyring over.  envelopeVersion
  // (1 or 2), compressionLevel (1..19 zstd) and segmentSize choose how new
  // documents are sealed, as DOCSTORE_ENVELOPE_VERSION, DOCSTORE_COMPRESSION
  // and DOCSTORE_SEGMENT_SIZE do (0: the defaults).
  static local(root, keyring = null, { fsync = true, legacyRoot = null,
    envelopeVersion = 0, compressionLevel = 0, segmentSize = 0 } = {}) {
    const opts = {};
    check(C.docstore_local_options_init(opts, 1));
    opts.root = String(root);
    opts.fsync = fsync ? 1 : 0;
    const out = [null];
    const err = Buffer.alloc(ERRBUF_LEN);
    check(C.docstore_local_provider_new(out, opts, err, ERRBUF_LEN), null,
      null, err);
    const sopts = {};
    check(C.docstore_service_options_init(sopts, 3));
    sopts.legacy_root = legacyRoot;
    sopts.envelope_version = envelopeVersion;
    sopts.compression_level = compressionLevel;
    sopts.segment_size = segmentSize;
    // The service owns provider and keyring from here, even on failure.
    const kr = keyring ? keyring.h.release() : null;
    const svc = [null];
    err.fill(0);
    check(C.docstore_service_new(svc, out[0], kr, sopts, err, ERRBUF_LEN),
      null, null, err);
    return new Service(svc[0]);
  }

  check(rc) {
    return check(rc, C.docstore_service_errmsg, this.h.ptr);
  }

  get storageType() {
    return C.docstore_service_storage_type(this.h.get());
  }

  storeDocument(fileId, filename, data, userId = null) {
    const out = [null];
    const b = bytes(data);
    this.check(C.docstore_service_store_document(this.h.get(), out,
      str(fileId), filename, b, b.length, str(userId)));
    return takeString(out[0]);
  }

  readDocument(storagePath, fileId = null, userId = null) {
    const out = [null];
    const len = [0];
    this.check(C.docstore_service_read_document(this.h.get(), out, len,
      storagePath, docId(fileId, userId)));
    return takeBuffer(out[0], len[0]);
  }

  storeEncryptedDocument(fileId, filename, encryptedData, userId = null) {
    const out = [null];
    const b = envelopeText(encryptedData);
    this.check(C.docstore_service_store_encrypted(this.h.get(), out,
      str(fileId), filename, b, b.length, str(userId)));
    return takeString(out[0]);
  }

  // The envelope at storagePath: the parsed object of a JSON envelope (v1,
  // legacy), the Buffer of a binary v2 one (storeEncryptedDocument takes
  // either back).
  retrieveEncryptedDocument(storagePath) {
    const out = [null];
    const len = [0];
    this.check(C.docstore_service_retrieve_encrypted(this.h.get(), out, len,
      storagePath));
    const data = takeBuffer(out[0], len[0]);
    if (data.subarray(0, 8).equals(ENVELOPE_V2_MAGIC)) return data;
    return JSON.parse(data.toString('utf8'));
  }

  deleteDocument(storagePath) {
    this.check(C.docstore_service_delete(this.h.get(), storagePath));
  }

  exists(storagePath) {
    const exists = [0];
    const size = [0];
    this.check(C.docstore_service_exists(this.h.get(), exists, size,
      storagePath));
    return exists[0] !== 0;
  }

  // Presigned URL valid for expirationHours (0 means 24, at most 168).
  getDownloadUrl(storagePath, expirationHours = 24) {
    const hours = BigInt(cValue(koffi.types.uint32, expirationHours,
      'getDownloadUrl expirationHours'));
    const out = [null];
    this.check(C.docstore_service_presign(this.h.get(), out,
      storagePath, (hours || 24n) * 3600n));
    return takeString(out[0]);
  }

  // [{key, size, mtime}] of the objects under prefix (null: "documents/").
  list(prefix = null) {
    const items = [];
    let error = null;
    const rc = C.docstore_service_list(this.h.get(), prefix, (payload, p) => {
      try {
        const info = koffi.decode(p, ObjectInfo);
        items.push({ key: info.key, size: Number(info.size),
          mtime: Number(info.mtime) });
        return 0;
      } catch (e) {
        error = e;
        return 1;
      }
    }, null);
    if (error) throw error;
    this.check(rc);
    return items;
  }

  stats() {
    const result = {};
    for (let op = 0; ; op++) {
      const name = C.docstore_op_name(op);
      if (name === null) return result;
      const s = { version: 1 };
      this.check(C.docstore_service_stats(this.h.get(), s, op));
      delete s.version;
      result[name] = s;
    }
  }

  // Promise versions: the C call runs on a koffi worker thread, so the
  // event loop goes on.  The error code is exact; the message is the
  // handle's last one (see docs/BINDINGS.md about concurrent failures).
  storeDocumentAsync(fileId, filename, data, userId = null) {
    const out = [null];
    const b = bytes(data);
    return this.async(C.docstore_service_store_document, [this.h.get(), out,
      str(fileId), filename, b, b.length, str(userId)], () => takeString(out[0]));
  }

  readDocumentAsync(storagePath, fileId = null, userId = null) {
    const out = [null];
    const len = [0];
    return this.async(C.docstore_service_read_document, [this.h.get(), out,
      len, storagePath, docId(fileId, userId)],
    () => takeBuffer(out[0], len[0]));
  }

  async(fn, args, result) {
    return new Promise((resolve, reject) => {
      fn.async(...args, (err, rc) => {
        if (err) return reject(err);
        if (rc < 0) {
          return reject(new DocstoreError(rc,
            C.docstore_service_errmsg(this.h.ptr)));
        }
        try {
          resolve(result());
        } catch (e) {
          reject(e);
        }
      });
    });
  }

  // A Readable of the decrypted document at storagePath (see
  // DocumentReadStream).
  createReadStream(storagePath, opts = {}) {
    return new DocumentReadStream(this, storagePath, opts);
  }

  // A Writable storing a document (see DocumentWriteStream).
  createWriteStream(fileId, filename, userId = null, opts = {}) {
    return new DocumentWriteStream(this, fileId, filename, userId, opts);
  }

  close() {
    this.h.close();
  }
}

// ------------------------------------------------------------ streams
// Each C call of a stream (open, read, write, commit) runs on a koffi
// worker thread (fn.async), so the event loop goes on while a segment is
// fetched, verified and decrypted.  Node's stream machinery never overlaps
// two _read or two _write calls of one stream, so one call at a time uses a
// handle; cancel() (any thread, by design of the C API) is the only call
// made while another runs.  Data goes straight between the Buffers and the
// library (koffi passes a Buffer's memory, no copy).  The C progress
// callback is not used: koffi would run it on the main thread while the
// worker waits; stats() polls the same counters instead.

// fn.async(...args) as a promise of its return code.
function callAsync(fn, args) {
  return new Promise((resolve, reject) => {
    try {
      fn.async(...args, (err, rc) => (err ? reject(err) : resolve(rc)));
    } catch (e) {
      reject(e);
    }
  });
}

const STREAM_READ_MIN = 64 * 1024;
const STREAM_READ_MAX = 1024 * 1024;

// _construct of a stream: args[0] receives the handle (freed by `free`).
function openStream(stream, fn, free, callback) {
  const svc = stream.args[1];
  callAsync(fn, stream.args).then((rc) => {
    if (rc < 0) throw new DocstoreError(rc, C.docstore_service_errmsg(svc));
    stream.h = new Handle(stream.args[0][0], free);
    if (stream.cancelled) stream.cancel(); // cancel() came before the handle
    callback();
  }).catch(callback);
}

// _destroy of a stream: its handle is freed once the call in progress (if
// any: cancelled first) has returned.
function closeStream(stream, err, callback) {
  if (!stream.h || !stream.h.ptr) {
    callback(err);
    return;
  }
  const close = () => {
    stream.h.close();
    callback(err);
  };
  if (stream.pending) {
    stream.cancel();
    stream.pending.then(close, close);
  } else {
    close();
  }
}

function streamStats(fn, ptr) {
  const plain = [0];
  const stored = [0];
  fn(ptr, plain, stored);
  return { plaintextBytes: Number(plain[0]), storedBytes: Number(stored[0]) };
}

// The decrypted document, as a Readable.  opts: fileId/userId (the
// identity the envelope must be bound to: DOCSTORE_EINTEGRITY otherwise),
// offset/length (a plaintext range; v2 uncompressed documents only),
// highWaterMark.  Bytes come out only once their segment verified; 'end'
// only after the final segment verified; a tampered object ends the stream
// with an 'error' (a DocstoreError).  `size` (the whole document's
// plaintext size, null when unknown) is set at 'ready'.
class DocumentReadStream extends Readable {
  constructor(service, storagePath, opts = {}) {
    // Arguments are refused here, before the stream exists (a refusal
    // throws instead of becoming an 'error' event).
    const ro = {};
    check(C.docstore_read_options_init(ro, 1));
    ro.offset = opts.offset || 0;
    ro.length = opts.length || 0;
    const args = C.docstore_reader_open.check([[null], service.h.get(),
      storagePath, docId(opts.fileId, opts.userId), ro]);
    super({ highWaterMark: opts.highWaterMark || 256 * 1024 });
    this.args = args;
    this.service = service;
    this.size = null;
    this.h = null;
    this.pending = null;
    this.empty = opts.length === 0; // C's 0 means "to the end"
  }

  _construct(callback) {
    openStream(this, C.docstore_reader_open, C.docstore_reader_close,
      (err) => {
        if (!err) {
          const size = [0];
          if (C.docstore_reader_size(this.h.ptr, size) === 0) {
            this.size = Number(size[0]);
          }
        }
        callback(err);
        if (!err) this.emit('ready');
      });
  }

  _read(size) {
    if (this.empty) {
      this.push(null);
      return;
    }
    const cap = Math.min(Math.max(size, STREAM_READ_MIN), STREAM_READ_MAX);
    const buf = Buffer.allocUnsafe(cap);
    const got = [0];
    const ptr = this.h.get();
    this.pending = callAsync(C.docstore_reader_read, [ptr, buf, cap, got])
      .then((rc) => {
        this.pending = null;
        if (rc < 0) {
          this.destroy(new DocstoreError(rc, C.docstore_reader_errmsg(ptr)));
          return;
        }
        const n = Number(got[0]);
        this.push(n === 0 ? null : buf.subarray(0, n));
      }, (e) => {
        this.pending = null;
        this.destroy(e);
      });
  }

  // Stop the read in progress, or the next (DOCSTORE_ECANCELED).
  cancel() {
    this.cancelled = true;
    if (this.h && this.h.ptr) C.docstore_reader_cancel(this.h.ptr);
  }

  // {plaintextBytes, storedBytes} so far.
  stats() {
    return streamStats(C.docstore_reader_stats, this.h.get());
  }

  _destroy(err, callback) {
    closeStream(this, err, callback);
  }
}

// A Writable storing a document, encrypted as it is written.  opts:
// noClobber (DOCSTORE_EEXISTS when the path exists), contentType, sizeHint,
// envelopeVersion (0: the service's), compressionLevel (null: the
// service's; 0 off; 1..19), highWaterMark.  At 'finish' the document is
// committed: a 'committed' event with the storage path comes first, and
// `committed` (a promise) resolves to it; `path` holds it.  destroy(err),
// an error, or cancel() abort: nothing is left and `committed` rejects.
class DocumentWriteStream extends Writable {
  constructor(service, fileId, filename, userId = null, opts = {}) {
    // Arguments are refused here, before the stream exists.
    const wo = {};
    check(C.docstore_write_options_init(wo, 1));
    wo.no_clobber = opts.noClobber ? 1 : 0;
    wo.content_type = opts.contentType ?? null;
    wo.size_hint = opts.sizeHint || 0;
    wo.envelope_version = opts.envelopeVersion || 0;
    wo.compression_level = opts.compressionLevel ?? -1;
    const args = C.docstore_writer_begin.check([[null], service.h.get(),
      str(fileId), filename, str(userId), wo]);
    super({ highWaterMark: opts.highWaterMark || 1024 * 1024 });
    this.args = args;
    this.service = service;
    this.path = null;
    this.h = null;
    this.pending = null;
    this.committed = new Promise((resolve, reject) => {
      this.resolveCommit = resolve;
      this.rejectCommit = reject;
    });
    this.committed.catch(() => {}); // the error is also an 'error' event
  }

  _construct(callback) {
    openStream(this, C.docstore_writer_begin, C.docstore_writer_free,
      callback);
  }

  // One C call, tracked so that _destroy waits for it.
  call(fn, args) {
    const ptr = this.h.get();
    this.pending = callAsync(fn, [ptr, ...args]).then((rc) => {
      this.pending = null;
      if (rc < 0) throw new DocstoreError(rc, C.docstore_writer_errmsg(ptr));
      return rc;
    }, (e) => {
      this.pending = null;
      throw e;
    });
    return this.pending;
  }

  _write(chunk, encoding, callback) {
    this.call(C.docstore_writer_write, [chunk, chunk.length])
      .then(() => callback(), callback);
  }

  _final(callback) {
    const out = [null];
    this.call(C.docstore_writer_commit, [out]).then(() => {
      this.path = takeString(out[0]);
      this.h.close();
      this.emit('committed', this.path);
      this.resolveCommit(this.path);
      callback();
    }, callback);
  }

  // Make the write or commit in progress (or the next one) fail with
  // DOCSTORE_ECANCELED; the document is aborted.
  cancel() {
    this.cancelled = true;
    if (this.h && this.h.ptr) C.docstore_writer_cancel(this.h.ptr);
  }

  // {plaintextBytes, storedBytes} so far.
  stats() {
    return streamStats(C.docstore_writer_stats, this.h.get());
  }

  _destroy(err, callback) {
    if (this.path === null) {
      this.rejectCommit(err || new DocstoreError(-18,
        'the stream was destroyed before its document was committed'));
    }
    // Not committed: docstore_writer_free() aborts (removes the temporary
    // object).
    closeStream(this, err, callback);
  }
}

module.exports = {
  version: () => C.docstore_version(),
  DocstoreError,
  generateKeyPair,
  Keyring,
  Service,
  DocumentReadStream,
  DocumentWriteStream,
  configDump,
  errorName: (code) => C.docstore_error_name(code),
  // For the binding's own tests: the declared functions, the argument
  // check, and the struct mirrors (checked against the C layout).
  _internal: { C, cValue, mirrors: [LocalOptions, ServiceOptions, DocId,
    ObjectInfo, OpStats, WriteOptions, ReadOptions] },
};
