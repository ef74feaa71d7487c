// Tests of the Node.js binding (node --test).  The S3 test runs when the
// S3_* variables are set; with DOCSTORE_REQUIRE_S3=1 it fails without them.
// SPDX-License-Identifier: Apache-2.0
'use strict';

const assert = require('node:assert');
const { test } = require('node:test');
const { execFileSync } = require('node:child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const docstore = require('../index.js');

const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'docstore-nt-'));
const pair = docstore.generateKeyPair(2048);

function keyring() {
  const kr = new docstore.Keyring();
  kr.addPrivatePem(pair.privateKey);
  return kr;
}

test('store, list and read back on local storage', () => {
  const dir = tmp();
  const svc = docstore.Service.local(dir, keyring());
  assert.strictEqual(svc.storageType, 'local');
  const doc = Buffer.from([0, 1, 2, 255, 254]);
  const p = svc.storeDocument(7, 'licence.png', doc, 42);
  assert.match(p, /^documents\/user_42\/\d{4}\/\d\d\/\d\d\/7_licence\.png_png\.json$/);
  assert.ok(fs.existsSync(path.join(dir, p)));
  assert.deepStrictEqual(svc.readDocument(p, 7, 42), doc);
  assert.deepStrictEqual(svc.list().map((i) => i.key), [p]);
  assert.ok(svc.exists(p));
  assert.strictEqual(svc.stats().put.successes, 1);
  svc.deleteDocument(p);
  assert.ok(!svc.exists(p));
  assert.deepStrictEqual(svc.list(), []);
  const empty = svc.storeDocument('e', 'empty.txt', Buffer.alloc(0));
  assert.strictEqual(svc.readDocument(empty).length, 0);
  svc.close();
  assert.throws(() => svc.list(), { code: 'DOCSTORE_EINVAL' });
});

test('envelopes: seal, identity, rewrap, tampering, seed dict', () => {
  const kr = keyring();
  const other = docstore.generateKeyPair(2048);
  const newId = kr.addPublicPem(other.publicKey);
  const env = kr.seal('secret', 1, 2);
  assert.strictEqual(kr.open(env, 1, 2).toString(), 'secret');
  assert.throws(() => kr.open(env, 1, 3),
    (e) => e instanceof docstore.DocstoreError && e.errno === -8 &&
      e.code === 'DOCSTORE_EINTEGRITY' && /another document/.test(e.message));
  const rewrapped = kr.rewrap(env, newId);
  assert.strictEqual(JSON.parse(rewrapped).kid, newId);
  const kr2 = new docstore.Keyring();
  kr2.addPrivatePem(other.privateKey);
  assert.strictEqual(kr2.open(JSON.parse(rewrapped), 1, 2).toString(), 'secret');
  const bad = JSON.parse(env);
  bad.tag = Buffer.alloc(16).toString('base64');
  assert.throws(() => kr.open(bad), { code: 'DOCSTORE_EINTEGRITY' });
  assert.throws(() => kr.addPublicPem('nope'), { code: 'DOCSTORE_EKEY' });
  assert.throws(() => docstore.generateKeyPair(1024), { errno: -14 });

  const svc = docstore.Service.local(tmp(), kr);
  const p = svc.storeEncryptedDocument(1, 'a.pdf', JSON.parse(env), 2);
  assert.deepStrictEqual(svc.retrieveEncryptedDocument(p), JSON.parse(env));
  assert.throws(() => svc.storeEncryptedDocument(1, 'a.pdf', { x: 1 }, 2),
    { code: 'DOCSTORE_EFORMAT' });
  assert.throws(() => svc.retrieveEncryptedDocument('documents/none.json'),
    { code: 'DOCSTORE_ENOTFOUND' });
  assert.throws(() => svc.getDownloadUrl(p), { code: 'DOCSTORE_EUNSUPPORTED' });
  assert.throws(() => svc.storeDocument('bad id', 'a', 'x'),
    { code: 'DOCSTORE_EINVAL' });
});

test('configuration: errors name the variable, secrets are masked', () => {
  assert.throws(() => docstore.Service.fromConfig({ STORAGE_TYPE: 'ftp' }),
    (e) => e.code === 'DOCSTORE_ECONFIG' && /STORAGE_TYPE/.test(e.message));
  assert.throws(() => docstore.Service.fromConfig({ STORAGE_TYPE: 's3' }),
    (e) => e.code === 'DOCSTORE_ECONFIG' && /S3_/.test(e.message));
  const dump = docstore.configDump({ S3_SECRET_KEY: 'hunter2' });
  assert.ok(!dump.includes('hunter2'));
  assert.strictEqual(docstore.errorName(-3), 'DOCSTORE_ENOTFOUND');
});

test('promise calls (koffi worker threads), 50 at once', async () => {
  const svc = docstore.Service.local(tmp(), keyring(), { fsync: false });
  const paths = await Promise.all(Array.from({ length: 50 }, (_, i) =>
    svc.storeDocumentAsync(i, 'scan.pdf', `doc ${i}`, 9)));
  const docs = await Promise.all(paths.map((p, i) =>
    svc.readDocumentAsync(p, i, 9)));
  assert.strictEqual(new Set(paths).size, 50);
  docs.forEach((d, i) => assert.strictEqual(d.toString(), `doc ${i}`));
  await assert.rejects(svc.readDocumentAsync('documents/none.json'),
    { code: 'DOCSTORE_ENOTFOUND' });
  assert.strictEqual(svc.stats().put.successes, 50);
});

test('the example stores, lists and reads back', () => {
  const out = execFileSync(process.execPath,
    [path.join(__dirname, '..', 'example.js'), tmp()], { encoding: 'utf8' });
  assert.match(out, /stored \d+ bytes encrypted at documents\/user_123\//);
  assert.match(out, /listed documents\/user_123\/.*1_passport\.pdf_pdf\.json/);
  assert.match(out, /read back \d+ bytes: identical/);
  assert.match(out, /refused: DOCSTORE_EINTEGRITY/);
});

test('S3 through the same library', (t) => {
  const names = ['S3_ENDPOINT_URL', 'S3_BUCKET', 'S3_ACCESS_KEY', 'S3_SECRET_KEY'];
  if (!names.every((n) => process.env[n])) {
    if (process.env.DOCSTORE_REQUIRE_S3 === '1') {
      assert.fail('S3 not configured but DOCSTORE_REQUIRE_S3=1');
    }
    t.skip('S3 test server not configured');
    return;
  }
  const dir = tmp();
  fs.writeFileSync(path.join(dir, 'pub.pem'), pair.publicKey);
  fs.writeFileSync(path.join(dir, 'priv.pem'), pair.privateKey);
  const settings = { STORAGE_TYPE: 's3', RSA_PUBLIC_KEY_PATH: path.join(dir, 'pub.pem'),
    RSA_PRIVATE_KEY_PATH: path.join(dir, 'priv.pem') };
  for (const n of [...names, 'S3_REGION']) settings[n] = process.env[n];
  const svc = docstore.Service.fromConfig(settings);
  assert.strictEqual(svc.storageType, 's3');
  const id = `node${process.pid}`;
  const p = svc.storeDocument(id, 'scan.pdf', 'on s3', 5);
  assert.strictEqual(svc.readDocument(p, id, 5).toString(), 'on s3');
  assert.ok(svc.list(p).some((i) => i.key === p));
  assert.match(svc.getDownloadUrl(p, 1), /X-Amz-Signature=/);
  svc.deleteDocument(p);
  assert.ok(!svc.exists(p));
});
