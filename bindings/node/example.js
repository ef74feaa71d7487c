// Store, list and read back a document through libdocstore from Node.js.
//
//   DOCSTORE_LIBRARY=build/libdocstore.so node bindings/node/example.js [DIR]
//
// DIR (default: a new temporary folder) is the local storage root.  A key
// pair is generated for the run.
// SPDX-License-Identifier: Apache-2.0
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const docstore = require('./index.js');

const root = process.argv[2] ||
  fs.mkdtempSync(path.join(os.tmpdir(), 'docstore-node-'));

console.log(`libdocstore ${docstore.version()}, storage in ${root}`);
const { publicKey, privateKey } = docstore.generateKeyPair(2048);
const keys = path.join(root, 'keys');
fs.mkdirSync(keys, { recursive: true, mode: 0o700 });
fs.writeFileSync(path.join(keys, 'public.pem'), publicKey);
fs.writeFileSync(path.join(keys, 'private.pem'), privateKey, { mode: 0o600 });

// The seed's configuration, as the backend would pass it.
const service = docstore.Service.fromConfig({
  STORAGE_TYPE: 'local',
  LOCAL_STORAGE_PATH: path.join(root, 'encrypted_files'),
  RSA_PUBLIC_KEY_PATH: path.join(keys, 'public.pem'),
  RSA_PRIVATE_KEY_PATH: path.join(keys, 'private.pem'),
});

const document = Buffer.from('%PDF-1.7 passport of user 123\n');
const storagePath = service.storeDocument(1, 'passport.pdf', document, 123);
console.log(`stored ${document.length} bytes encrypted at ${storagePath}`);

for (const item of service.list()) {
  console.log(`listed ${item.key} (${item.size} bytes)`);
}

const back = service.readDocument(storagePath, 1, 123);
console.log(`read back ${back.length} bytes: ${back.equals(document) ? 'identical' : 'DIFFERENT'}`);

try {
  service.readDocument(storagePath, 2, 123);
} catch (e) {
  console.log(`reading it as document 2 is refused: ${e.code}: ${e.message}`);
}
service.close();
if (!back.equals(document)) process.exit(1);
