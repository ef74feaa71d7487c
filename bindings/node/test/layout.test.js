// The koffi mirrors of the public structs have the C layout: the same
// members in the same order, at the same offsets, of the same sizes, and
// the same struct size and alignment, as the compiler sees them
// (tests/abi/layout_dump.c, built by CTest and named by
// DOCSTORE_LAYOUT_DUMP; run by hand, compiled here with $CC or cc).
// SPDX-License-Identifier: Apache-2.0
'use strict';

const assert = require('node:assert');
const { test } = require('node:test');
const { execFileSync } = require('node:child_process');
const fs = require('fs');
const os = require('os');
const path = require('path');
const koffi = require('koffi');
const docstore = require('../index.js');

const SOURCE_DIR = path.join(__dirname, '..', '..', '..');

function layoutDump() {
  let program = process.env.DOCSTORE_LAYOUT_DUMP;
  if (!program) {
    program = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'docstore-nl-')),
      'layout_dump');
    execFileSync(process.env.CC || 'cc', ['-std=c11', '-I',
      path.join(SOURCE_DIR, 'include'),
      path.join(SOURCE_DIR, 'tests', 'abi', 'layout_dump.c'), '-o', program]);
  }
  return JSON.parse(execFileSync(program, { encoding: 'utf8' }));
}

const layout = layoutDump();

// What differs between a koffi struct type and the C layout `c`.
function differences(type, c) {
  const t = koffi.type(type);
  const members = Object.values(t.members);
  const diffs = [];
  const names = members.map((m) => m.name);
  const cNames = c.fields.map((f) => f.name);
  if (names.join() !== cNames.join()) {
    diffs.push(`members ${names}, C has ${cNames}`);
  }
  members.forEach((m, i) => {
    const f = c.fields[i];
    if (f && (m.offset !== f.offset || m.type.size !== f.size)) {
      diffs.push(`${m.name} at ${m.offset} (${m.type.size} bytes), ` +
        `C: at ${f.offset} (${f.size} bytes)`);
    }
  });
  if (t.size !== c.size) diffs.push(`size ${t.size}, C: ${c.size}`);
  if (t.alignment !== c.align) diffs.push(`alignment ${t.alignment}, C: ${c.align}`);
  return diffs;
}

test('every mirror has the C layout', () => {
  const { mirrors } = docstore._internal;
  assert.ok(mirrors.length >= 5);
  const problems = {};
  for (const m of mirrors) {
    const name = koffi.type(m).name;
    assert.ok(layout[name], `${name} is not a public struct`);
    const d = differences(m, layout[name]);
    if (d.length) problems[name] = d;
  }
  assert.deepStrictEqual(problems, {});
});

test('a drifted mirror is caught', () => {
  const reordered = koffi.struct('test_reordered', {
    version: 'unsigned int', fsync: 'int', root: 'const char *',
  });
  assert.ok(differences(reordered, layout.docstore_local_options)
    .some((d) => d.startsWith('members ')));
  const narrow = koffi.struct('test_narrow', {
    version: 'unsigned int', key: 'const char *', size: 'uint32_t',
    mtime: 'int64_t', etag: 'const char *',
  });
  assert.ok(differences(narrow, layout.docstore_object_info)
    .includes('size at 16 (4 bytes), C: at 16 (8 bytes)'));
});
