// Streaming documents: service.createWriteStream / createReadStream over
// docstore_writer / docstore_reader (node --test).
// SPDX-License-Identifier: Apache-2.0
'use strict';

const assert = require('node:assert');
const { test } = require('node:test');
const { pipeline } = require('node:stream/promises');
const { Readable, Writable } = require('node:stream');
const crypto = require('node:crypto');
const fs = require('fs');
const os = require('os');
const path = require('path');
const docstore = require('../index.js');

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'docstore-ns-'));
const pair = docstore.generateKeyPair(2048);

function service(dir) {
  const kr = new docstore.Keyring();
  kr.addPrivatePem(pair.privateKey);
  return docstore.Service.local(path.join(dir, 'store'), kr, { fsync: false });
}

function filesUnder(root) {
  if (!fs.existsSync(root)) return [];
  return fs.readdirSync(root, { recursive: true })
    .filter((f) => fs.statSync(path.join(root, f)).isFile()).sort();
}

const sha256 = (b) => crypto.createHash('sha256').update(b).digest('hex');

async function store(svc, data, opts = {}) {
  const ws = svc.createWriteStream(1, 'scan.pdf', 7, opts);
  await pipeline(Readable.from([data]), ws);
  return ws.committed;
}

async function readAll(rs) {
  const parts = [];
  for await (const part of rs) parts.push(part);
  return Buffer.concat(parts);
}

// [header length, segment size] of a v2 envelope (docs/FORMAT.md).
function layout(blob) {
  assert.deepStrictEqual(blob.subarray(0, 8),
    Buffer.from([0x89, 0x44, 0x53, 0x45, 0x0d, 0x0a, 0x1a, 0x0a]));
  return [blob.readUInt32BE(12), 2 ** blob[16]];
}

test('a file through createWriteStream and back through createReadStream', async () => {
  const dir = tmp();
  const svc = service(dir);
  const src = path.join(dir, 'src.bin');
  const data = crypto.randomBytes(5 * 1024 * 1024 + 3);
  fs.writeFileSync(src, data);
  const ws = svc.createWriteStream(1, 'scan.pdf', 7, { sizeHint: data.length });
  let event = null;
  ws.on('committed', (p) => { event = p; });
  await pipeline(fs.createReadStream(src), ws);
  const p = await ws.committed;
  assert.match(p, /^documents\/user_7\/\d{4}\/\d\d\/\d\d\/1_scan\.pdf_pdf\.json$/);
  assert.strictEqual(event, p);
  assert.strictEqual(ws.path, p);

  const out = path.join(dir, 'out.bin');
  const rs = svc.createReadStream(p, { fileId: 1, userId: 7 });
  let ticks = 0;
  const timer = setInterval(() => { ticks++; }, 0);
  let sizeAtReady = null;
  rs.once('ready', () => { sizeAtReady = rs.size; });
  await pipeline(rs, fs.createWriteStream(out));
  clearInterval(timer);
  assert.strictEqual(sizeAtReady, data.length);
  assert.strictEqual(sha256(fs.readFileSync(out)), sha256(data));
  assert.ok(ticks > 0, 'the event loop ran during the reads');
  // The whole-buffer call reads what the stream wrote.
  assert.deepStrictEqual(svc.readDocument(p, 1, 7), data);

  // Empty and one-byte documents.
  for (const doc of [Buffer.alloc(0), Buffer.from([42])]) {
    const q = await store(svc, doc);
    assert.deepStrictEqual(await readAll(svc.createReadStream(q)), doc);
  }
});

test('ranges', async () => {
  const dir = tmp();
  const svc = service(dir);
  const data = crypto.randomBytes(300000);
  const p = await store(svc, data);
  const seg = layout(fs.readFileSync(path.join(dir, 'store', p)))[1];
  for (const [offset, length] of [[0, 1], [seg - 1, 2], [seg, seg],
    [1000, undefined], [data.length - 10, 100], [5, 0]]) {
    const end = length === undefined ? data.length : offset + length;
    const got = await readAll(svc.createReadStream(p, { offset, length }));
    assert.deepStrictEqual(got, data.subarray(offset, end), `${offset}+${length}`);
  }
});

test('a tampered object errors on the stream, without its bad segment', async () => {
  const dir = tmp();
  const svc = service(dir);
  const data = crypto.randomBytes(5 * 65536 + 100);
  const p = await store(svc, data);
  const file = path.join(dir, 'store', p);
  const blob = fs.readFileSync(file);
  const [header, seg] = layout(blob);
  const bad = 2;
  blob[header + bad * (seg + 16) + 7] ^= 1;
  fs.writeFileSync(file, blob);

  const parts = [];
  const rs = svc.createReadStream(p, { fileId: 1, userId: 7 });
  await assert.rejects(pipeline(rs, new Writable({
    write(chunk, enc, cb) { parts.push(chunk); cb(); },
  })), (e) => e instanceof docstore.DocstoreError &&
    e.code === 'DOCSTORE_EINTEGRITY' && e.errno === -8);
  const got = Buffer.concat(parts);
  assert.ok(got.length <= bad * seg, `${got.length} bytes released`);
  assert.deepStrictEqual(got, data.subarray(0, got.length));

  // Another document's identity, a missing object.
  const q = await store(svc, Buffer.from('mine'));
  await assert.rejects(readAll(svc.createReadStream(q, { fileId: 2 })),
    { code: 'DOCSTORE_EINTEGRITY' });
  await assert.rejects(readAll(svc.createReadStream('documents/none.json')),
    { code: 'DOCSTORE_ENOTFOUND' });
});

test('destroy(err) and cancel() abort: no object is left', async () => {
  const dir = tmp();
  const svc = service(dir);
  const root = path.join(dir, 'store');
  const before = filesUnder(root);

  const ws = svc.createWriteStream(1, 'scan.pdf', 7);
  const errors = [];
  ws.on('error', (e) => errors.push(e));
  ws.write(crypto.randomBytes(3 * 1024 * 1024));
  await new Promise((resolve) => ws.write(Buffer.alloc(10), resolve));
  const failure = new Error('upload interrupted');
  ws.destroy(failure);
  await assert.rejects(ws.committed, /upload interrupted/);
  await new Promise((resolve) => ws.on('close', resolve));
  assert.deepStrictEqual(errors, [failure]);
  assert.deepStrictEqual(filesUnder(root), before);
  assert.strictEqual(ws.path, null);

  // cancel() while data flows: the pipeline fails with ECANCELED.
  const ws2 = svc.createWriteStream(1, 'scan.pdf', 7);
  let sent = 0;
  const endless = new Readable({
    read() {
      sent += 65536;
      if (sent === 20 * 65536) ws2.cancel();
      this.push(Buffer.alloc(65536));
    },
  });
  await assert.rejects(pipeline(endless, ws2),
    (e) => e.code === 'DOCSTORE_ECANCELED');
  await assert.rejects(ws2.committed);
  assert.deepStrictEqual(filesUnder(root), before);

  // noClobber: the existing document stays.
  const p = await store(svc, Buffer.from('first'));
  await assert.rejects(store(svc, Buffer.from('second'), { noClobber: true }),
    { code: 'DOCSTORE_EEXISTS' });
  assert.strictEqual(svc.readDocument(p).toString(), 'first');

  // cancel() before the writer is even open.
  const listed = filesUnder(root);
  const early = svc.createWriteStream(2, 'early.pdf', 7);
  early.cancel();
  await assert.rejects(pipeline(Readable.from([Buffer.alloc(10)]), early),
    { code: 'DOCSTORE_ECANCELED' });
  assert.deepStrictEqual(filesUnder(root), listed);

  // A read stream destroyed half-way, and one cancelled.
  const big = await store(svc, crypto.randomBytes(4 * 1024 * 1024));
  const rs = svc.createReadStream(big);
  await new Promise((resolve) => rs.once('data', resolve));
  rs.destroy();
  await new Promise((resolve) => rs.on('close', resolve));
  const rs2 = svc.createReadStream(big);
  rs2.once('data', () => rs2.cancel());
  await assert.rejects(readAll(rs2), { code: 'DOCSTORE_ECANCELED' });
});

test('stats and arguments refused before anything starts', async () => {
  const dir = tmp();
  const svc = service(dir);
  const data = crypto.randomBytes(200000);
  const ws = svc.createWriteStream(3, 'a.bin', 7);
  await new Promise((resolve) => ws.write(data, resolve));
  assert.strictEqual(ws.stats().plaintextBytes, data.length);
  ws.end();
  const p = await ws.committed;
  const rs = svc.createReadStream(p);
  assert.deepStrictEqual(await readAll(rs), data);

  const refused = (fn, re) => assert.throws(fn, (e) =>
    e.code === 'DOCSTORE_EINVAL' && re.test(e.message));
  refused(() => svc.createReadStream(`${p}\0x`), /^docstore_reader_open argument 3: /);
  refused(() => svc.createReadStream(p, { fileId: '1\0' }), /^docstore_doc_id\.file_id: /);
  refused(() => svc.createReadStream(p, { offset: -1 }), /^docstore_read_options\.offset: /);
  refused(() => svc.createReadStream(p, { length: 2 ** 60 }), /pass a BigInt/);
  refused(() => svc.createWriteStream('1\0', 'a', 7), /^docstore_writer_begin argument 3: /);
  refused(() => svc.createWriteStream(1, 'a', 7, { contentType: 'x\0y' }),
    /^docstore_write_options\.content_type: /);
  refused(() => svc.createWriteStream(1, 'a', 7, { sizeHint: -5 }),
    /^docstore_write_options\.size_hint: /);
  refused(() => svc.createWriteStream(1, 'a', 7, { compressionLevel: 2 ** 40 }),
    /^docstore_write_options\.compression_level: /);
});

test('envelope options of the service; binary envelopes round-trip', async () => {
  const dir = tmp();
  const kr = new docstore.Keyring();
  kr.addPrivatePem(pair.privateKey);
  const v1 = docstore.Service.local(path.join(dir, 'v1'), kr,
    { envelopeVersion: 1 });
  const p1 = v1.storeDocument(1, 'a.txt', 'old readers', 7);
  assert.strictEqual(v1.retrieveEncryptedDocument(p1).version, 1);
  assert.strictEqual((await readAll(v1.createReadStream(p1))).toString(),
    'old readers');

  const svc = service(dir);
  const data = crypto.randomBytes(100000);
  const p = await store(svc, data);
  const raw = svc.retrieveEncryptedDocument(p);
  assert.ok(Buffer.isBuffer(raw));
  assert.strictEqual(layout(raw)[1], 65536);
  svc.deleteDocument(p);
  const again = svc.storeEncryptedDocument(1, 'scan.pdf', raw, 7);
  assert.deepStrictEqual(svc.readDocument(again, 1, 7), data);
});
