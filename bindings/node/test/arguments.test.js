// What the binding hands to C: koffi alone cuts a string at its first NUL
// and casts numbers as C does.  Every string and integer, as an argument
// or as a member of a struct passed by pointer, is checked first and
// refused with a DocstoreError of code DOCSTORE_EINVAL.
// SPDX-License-Identifier: Apache-2.0
'use strict';

const assert = require('node:assert');
const { test } = require('node:test');
const fs = require('fs');
const os = require('os');
const path = require('path');
const docstore = require('../index.js');

const { C, cValue } = docstore._internal;
const tmp = () => fs.mkdtempSync(path.join(os.tmpdir(), 'docstore-na-'));
const pair = docstore.generateKeyPair(2048);
const INTS = ['Int8', 'UInt8', 'Int16', 'UInt16', 'Int32', 'UInt32', 'Int64',
  'UInt64'];

function refused(fn, pattern) {
  assert.throws(fn, (e) => {
    assert.ok(e instanceof docstore.DocstoreError, e);
    assert.strictEqual(e.errno, -1);
    assert.strictEqual(e.code, 'DOCSTORE_EINVAL');
    if (pattern) assert.match(e.message, pattern);
    return true;
  });
}

function keyring() {
  const kr = new docstore.Keyring();
  kr.addPrivatePem(pair.privateKey);
  return kr;
}

// Arguments that pass every check (they never reach C in these tests).
function harmless(fn) {
  return fn.info.arguments.map((a) => (INTS.includes(a.type.primitive) ? 0
    : null));
}

test('every string argument of every declared function is checked', () => {
  let count = 0;
  for (const fn of Object.values(C)) {
    fn.info.arguments.forEach((a, i) => {
      if (a.type.primitive !== 'String') return;
      const where = `^${fn.info.name} argument ${i + 1}: `;
      for (const [bad, why] of [['documents/a\0/..', 'a NUL character'],
        ['\udc80', 'lone surrogate'], [Buffer.from('abc'), 'not Buffer'],
        [4096, 'not number']]) {
        const args = harmless(fn);
        args[i] = bad;
        refused(() => fn(...args), new RegExp(where + '.*' + why));
      }
      count++;
    });
  }
  assert.ok(count > 15, `only ${count} string arguments`);
});

test('every integer argument of every declared function is checked', () => {
  let count = 0;
  for (const fn of Object.values(C)) {
    fn.info.arguments.forEach((a, i) => {
      if (!INTS.includes(a.type.primitive)) return;
      const bits = BigInt(a.type.size * 8);
      const unsigned = a.type.primitive.startsWith('U');
      const high = unsigned ? 2n ** bits - 1n : 2n ** (bits - 1n) - 1n;
      const low = unsigned ? 0n : -(2n ** (bits - 1n));
      for (const bad of [high + 1n, low - 1n, 1.5, NaN, Infinity, '5', true,
        null, 2 ** 64]) {
        const args = harmless(fn);
        args[i] = bad;
        refused(() => fn(...args), new RegExp(`^${fn.info.name} argument ${i + 1}: `));
      }
      count++;
    });
  }
  assert.ok(count > 5, `only ${count} integer arguments`);
});

test('cValue: ranges, BigInt, unsafe numbers, struct members', () => {
  const t = (primitive, size) => ({ primitive, size });
  assert.strictEqual(cValue(t('UInt32'), 4294967295, 'x'), 4294967295);
  assert.strictEqual(cValue(t('UInt32'), 5n, 'x'), 5n);
  assert.strictEqual(cValue(t('Int64'), -(2n ** 63n), 'x'), -(2n ** 63n));
  assert.strictEqual(cValue(t('UInt64'), 2n ** 64n - 1n, 'x'), 2n ** 64n - 1n);
  refused(() => cValue(t('UInt32'), -1, 'x'), /^x: -1 is out of range \(0 to 4294967295\)/);
  refused(() => cValue(t('UInt32'), 2 ** 32 + 5, 'x'), /out of range/);
  refused(() => cValue(t('UInt64'), 2n ** 64n, 'x'), /out of range/);
  refused(() => cValue(t('UInt64'), 2 ** 60, 'x'), /pass a BigInt/);
  refused(() => cValue(t('Int32'), NaN, 'x'), /expected an integer, not NaN/);
  // The message never repeats the string (it may be a secret).
  refused(() => cValue(t('String'), 'hunter\0two', 'pw'),
    /^pw: a string with a NUL character \(C would end it there\)$/);
  assert.strictEqual(cValue(t('String'), 'é', 'x'), 'é');
  assert.strictEqual(cValue(t('String'), undefined, 'x'), undefined);
});

test('strings with NUL are refused, not cut, through the public API', async () => {
  const dir = tmp();
  const kr = keyring();
  const env = kr.seal('x', 1, 7);
  const svc = docstore.Service.local(dir, kr);
  // Was stored as file_id "1".
  refused(() => svc.storeDocument('1\0', 'a.pdf', 'x', 7), /argument 3: a string with a NUL/);
  refused(() => svc.storeDocument(1, 'a.pdf\0.exe', 'x', 7));
  refused(() => svc.storeDocument(1, 'a.pdf', 'x', '7\0'));
  refused(() => svc.storeEncryptedDocument('1\0', 'a.pdf', env, 7));
  const p = svc.storeDocument(1, 'a.pdf', Buffer.from([0, 1, 0]), 7);
  assert.deepStrictEqual(svc.readDocument(p, 1, 7), Buffer.from([0, 1, 0]));
  for (const call of [(x) => svc.readDocument(x), (x) => svc.deleteDocument(x),
    (x) => svc.exists(x), (x) => svc.retrieveEncryptedDocument(x),
    (x) => svc.getDownloadUrl(x)]) {
    refused(() => call(`${p}\0/../x`));
    refused(() => call(Buffer.from(p)), /expected a string, not Buffer/);
  }
  assert.ok(svc.exists(p)); // nothing was deleted
  // The identity goes through the docstore_doc_id struct.
  refused(() => svc.readDocument(p, '1\0', 7), /^docstore_doc_id\.file_id: /);
  refused(() => svc.readDocument(p, 1, '7\0'), /^docstore_doc_id\.user_id: /);
  refused(() => svc.list('documents/\0'));
  await assert.rejects(svc.storeDocumentAsync('1\0', 'a.pdf', 'x', 7),
    { code: 'DOCSTORE_EINVAL' });
  await assert.rejects(svc.readDocumentAsync(`${p}\0x`), { code: 'DOCSTORE_EINVAL' });
  assert.strictEqual(svc.stats().put.successes, 1);

  refused(() => kr.seal('x', '1\0'));
  refused(() => kr.open(env, 1, '7\0'));
  refused(() => kr.rewrap(env, 'sha256:\0'));
  refused(() => kr.setDefault('sha256:\0'));
  refused(() => kr.addPrivatePem(pair.privateKey, 'pass\0phrase'));
  refused(() => docstore.generateKeyPair(2048, 'pass\0phrase'));
  refused(() => docstore.configDump({ S3_BUCKET: 'bucket\0other' }));
  refused(() => docstore.Service.fromConfig({ 'STORAGE_TYPE\0': 'local' }));
  refused(() => docstore.Service.local(path.join(dir, 'd\0x')), /^docstore_local_options\.root: /);
  refused(() => docstore.Service.local(dir, null, { legacyRoot: 'l\0x' }),
    /^docstore_service_options\.legacy_root: /);
  refused(() => svc.storeDocument(1, 'a.pdf', 5), /expected a Buffer or a string/);
  refused(() => svc.storeDocument(1, 'a.pdf', '\ud800'), /lone surrogate/);
});

test('integers are refused, not wrapped, through the public API', () => {
  const svc = docstore.Service.fromConfig({ STORAGE_TYPE: 's3',
    S3_BUCKET: 'bucket', S3_ACCESS_KEY: 'AKIAEXAMPLE', S3_SECRET_KEY: 'secret',
    S3_ENDPOINT_URL: 'http://127.0.0.1:9' });
  const p = 'documents/system/2024/01/01/1_a.pdf_pdf.json';
  // Presigning makes no request.  5 hours: what 2 ** 32 + 5 used to become.
  assert.match(svc.getDownloadUrl(p, 5), /X-Amz-Expires=18000&/);
  assert.match(svc.getDownloadUrl(p, 5n), /X-Amz-Expires=18000&/);
  // Hours become docstore_service_presign's seconds; 0 still means 24.
  assert.match(svc.getDownloadUrl(p, 0), /X-Amz-Expires=86400&/);
  assert.match(svc.getDownloadUrl(p, 168), /X-Amz-Expires=604800&/);
  assert.throws(() => svc.getDownloadUrl(p, 169), { code: 'DOCSTORE_EINVAL' });
  refused(() => svc.getDownloadUrl(p, 2 ** 32 + 5), /getDownloadUrl expirationHours: 4294967301 is out of range/);
  refused(() => svc.getDownloadUrl(p, 2n ** 64n + 5n), /out of range/);
  refused(() => svc.getDownloadUrl(p, -1), /out of range/);
  refused(() => svc.getDownloadUrl(p, 1.5), /expected an integer, not 1.5/);
  refused(() => svc.getDownloadUrl(p, NaN), /not NaN/);
  refused(() => svc.getDownloadUrl(p, '5'), /not string/);
  // 2 ** 32 + 2048 bits was 2048; -1 was 4294967295.
  refused(() => docstore.generateKeyPair(2 ** 32 + 2048));
  refused(() => docstore.generateKeyPair(-1));
  refused(() => docstore.generateKeyPair(2048.5));
  svc.close();
});
