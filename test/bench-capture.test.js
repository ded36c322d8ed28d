// The bench's generated captures, at small sizes: every body recovered exactly (the same check
// `npm run bench` makes), through the CLI with its heap limit, and bounded memory for many
// short connections. Throughput is never asserted here.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { generate } from '../scripts/bench/generate.js';
import { verify } from '../scripts/bench/verify.js';
import { cli, openLog, tmp } from './helpers.js';

test('generated mixed traffic: every transaction and every body (identity, chunked, gzip, close-delimited, uploads) recovered exactly', () => {
  const dir = tmp();
  const pcap = join(dir, 'mixed.pcap');
  const g = generate({ out: pcap, size: 24 * 1024 * 1024, seed: 7 });
  assert.ok(g.transactions > 50 && g.retransmitted > 0 && g.reordered > 0, 'the capture has retransmissions and reordering');
  for (const kind of ['chunked', 'close_delimited']) assert.ok(g.truth.some((t) => t[kind]), `some response is ${kind}`);
  assert.ok(g.truth.some((t) => t.content_encoding === 'gzip') && g.truth.some((t) => t.method === 'POST'));
  // The generator is seeded: the same seed gives the same bytes.
  const again = join(dir, 'again.pcap');
  generate({ out: again, size: 24 * 1024 * 1024, seed: 7 });
  const digest = (f) => createHash('sha256').update(readFileSync(f)).digest('hex');
  assert.equal(digest(again), digest(pcap));

  const out = join(dir, 'out');
  const r = cli([pcap, '-o', out]);
  assert.equal(r.status, 0, r.stderr);
  const v = verify(out, g.truth);
  assert.deepEqual(v.problems, []);
  assert.equal(v.ok, g.transactions);
  const db = openLog(out);
  assert.equal(db.prepare('SELECT sha256 FROM captures').get().sha256, digest(pcap), 'the capture hash, computed by the worker');
  assert.equal(db.prepare("SELECT count(*) AS n FROM anomalies WHERE kind NOT LIKE 'lenient%'").get().n, 0);
  // Large bodies went through the worker, small ones were written from memory: both are whole on disk.
  const big = db.prepare('SELECT path, size, sha256 FROM files WHERE size > 1000000 LIMIT 1').get();
  const small = db.prepare('SELECT path, size, sha256 FROM files WHERE size BETWEEN 1 AND 100000 LIMIT 1').get();
  for (const f of [big, small]) {
    assert.ok(f, 'a file of that size exists');
    assert.equal(statSync(join(out, f.path)).size, f.size);
    assert.equal(digest(join(out, f.path)), f.sha256);
  }
  db.close();
});

test('thousands of short connections run within a small heap: ended connections keep no HTTP state', () => {
  const dir = tmp();
  const pcap = join(dir, 'short.pcap');
  const g = generate({ out: pcap, profile: 'short', connections: 6000, seed: 3 });
  const out = join(dir, 'out');
  // 40 MB of heap for 6,000 connections, 6,000 bodies and 12,000 messages.
  const r = cli([pcap, '-o', out, '--max-heap', '40']);
  assert.equal(r.status, 0, r.stderr);
  const v = verify(out, g.truth);
  assert.deepEqual(v.problems, []);
  assert.equal(v.ok, 6000);
});
