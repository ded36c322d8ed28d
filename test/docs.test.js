// Every example query in the docs runs on the samples and returns the rows it promises: each
// ```sql block starts with "-- rows: N".
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { cli, openLog, ROOT, SAMPLES, tmp } from './helpers.js';

const DOCS = ['README.md', 'docs/schema.md'];
let work;
let db;

before(() => {
  work = tmp('xh-docs-');
  const r = cli([join(SAMPLES, 'web.pcapng'), join(SAMPLES, 'evidence.pcapng'), '-o', join(work, 'out')]);
  assert.equal(r.status, 0, r.stderr);
  db = openLog(join(work, 'out'));
});
after(() => {
  db?.close();
  if (work) rmSync(work, { recursive: true, force: true });
});

for (const doc of DOCS) {
  const blocks = [...readFileSync(join(ROOT, doc), 'utf8').matchAll(/```sql\n([\s\S]*?)```/g)].map((m) => m[1]);
  test(`${doc} has example queries, each saying how many rows it returns`, () => {
    assert.ok(blocks.length >= 3, `${blocks.length} sql blocks`);
    for (const b of blocks) assert.match(b, /^-- rows: \d+\n/, b);
  });
  for (const sql of blocks) {
    const want = Number(/^-- rows: (\d+)/.exec(sql)?.[1]);
    const first = sql.split('\n').find((l) => l && !l.startsWith('--'));
    test(`${doc}: ${first.trim().slice(0, 70)} returns ${want} rows`, () => {
      assert.equal(db.prepare(sql).all().length, want, sql);
    });
  }
}

test('the log carries its schema version and the documented indexes', () => {
  assert.equal(db.pragma('user_version', { simple: true }), 2);
  const indexes = db.prepare("SELECT name FROM sqlite_master WHERE type = 'index'").all().map((r) => r.name);
  for (const want of ['transactions_host', 'transactions_uri', 'transactions_status', 'transactions_ts', 'files_sha256', 'files_sniffed_type', 'files_declared_type']) {
    assert.ok(indexes.includes(want), `${want} in ${indexes}`);
  }
});
