// Every capture format a user may hold: byte orders, resolutions, pcapng sections, interfaces
// and block kinds, several files merged in time order.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openCapture } from '../../dist/capture/open.js';
import { readFrames, pcapFile, ng } from '../craft.js';
import { loadTruth } from '../harness/truth.js';
import { cli, openLog, tmp, SAMPLES } from '../helpers.js';

const SAMPLE = join(SAMPLES, 'web.pcap');
const truth = loadTruth(join(SAMPLES, 'web.truth.json')).transactions;
const frames = await readFrames(SAMPLE);

async function packetsOf(file) {
  const src = await openCapture(file);
  const out = [];
  await src.read((p) => out.push({ ts: p.ts, data: Buffer.from(p.data), linkType: p.linkType }), () => undefined);
  return { src, out };
}

/** The sample's transactions, recovered from `file`, must be exactly the truth's. */
function extractsLikeTheSample(inputs, out) {
  const r = cli([...[inputs].flat(), '-o', out]);
  assert.equal(r.status, 0, r.stderr);
  const db = openLog(out);
  const rows = db.prepare('SELECT uri, status_code, response_sha256, request_sha256 FROM http ORDER BY uri').all();
  db.close();
  const want = truth.map((t) => ({ uri: t.uri, status_code: t.status_code, response_sha256: t.response_sha256, request_sha256: t.request_sha256 }))
    .sort((a, b) => (a.uri < b.uri ? -1 : 1));
  assert.deepEqual(rows, want);
  return r;
}

test('classic pcap in both byte orders, micro- and nanosecond', async () => {
  const dir = tmp();
  for (const [le, nano, format] of [[true, false, 'pcap'], [false, false, 'pcap'], [true, true, 'pcap-nsec'], [false, true, 'pcap-nsec']]) {
    const file = join(dir, `${le ? 'le' : 'be'}-${nano ? 'ns' : 'us'}.pcap`);
    writeFileSync(file, pcapFile(frames, { le, nano }));
    const { src, out } = await packetsOf(file);
    assert.equal(src.format, format);
    assert.equal(out.length, frames.length);
    out.forEach((p, i) => {
      assert.ok(p.data.equals(frames[i].data));
      assert.ok(Math.abs(p.ts - frames[i].ts) < 1e-6, `${file} frame ${i + 1}`);
    });
    extractsLikeTheSample(file, join(dir, `out-${le}-${nano}`));
  }
});

test('pcapng: sections in both byte orders, interfaces of different link types and resolutions, skipped blocks', async () => {
  const dir = tmp();
  const half = frames.length >> 1;
  const blocks = [ng.shb(true), ng.idb(1, true, { tsresol: 9 }), ng.idb(101, true, { tsresol: 0x80 | 20, tsoffset: 1_000_000_000 })];
  blocks.push(ng.block(4, Buffer.from([2, 0, 4, 0, 10, 9, 0, 1, 0, 0, 0, 0]), true)); // NRB
  frames.slice(0, half).forEach((f, i) => {
    // Every third frame goes as raw IP on the second interface (2^20 units/s, 1e9 s offset).
    if (i % 3 === 2) blocks.push(ng.epb(1, f.ts, f.data.subarray(14), true, 2 ** 20, 1_000_000_000));
    else blocks.push(ng.epb(0, f.ts, f.data, true, 1e9));
  });
  blocks.push(ng.block(5, Buffer.alloc(16), true)); // ISB
  blocks.push(ng.block(0x00000bad, Buffer.from('custom block, copyable'), true));
  blocks.push(ng.block(0x40000bad, Buffer.from('custom block, not copyable'), true));
  blocks.push(ng.block(0x12345678, Buffer.from('unknown block type'), true));
  blocks.push(ng.shb(false), ng.idb(1, false, { tsresol: 6 }));
  for (const f of frames.slice(half)) blocks.push(ng.epb(0, f.ts, f.data, false));
  const file = join(dir, 'sections.pcapng');
  writeFileSync(file, Buffer.concat(blocks));
  const { src, out } = await packetsOf(file);
  assert.equal(out.length, frames.length);
  assert.deepEqual([...src.stats.linkTypes].sort((a, b) => a - b), [1, 101]);
  assert.deepEqual(src.stats.warnings, []);
  out.forEach((p, i) => {
    const raw = i < half && i % 3 === 2;
    assert.ok(p.data.equals(raw ? frames[i].data.subarray(14) : frames[i].data), `frame ${i + 1}`);
    assert.ok(Math.abs(p.ts - frames[i].ts) < 2e-6, `frame ${i + 1}: ${p.ts} vs ${frames[i].ts}`);
  });
  extractsLikeTheSample(file, join(dir, 'out'));
});

test('pcapng: simple and obsolete packet blocks are read', async () => {
  const dir = tmp();
  const f = frames.slice(0, 3);
  const file = join(dir, 'old.pcapng');
  writeFileSync(file, Buffer.concat([ng.shb(true), ng.idb(1, true), ng.spb(f[0].data, true), ng.obsoletePb(0, f[1].ts, f[1].data, true), ng.epb(0, f[2].ts, f[2].data, true)]));
  const { out } = await packetsOf(file);
  assert.equal(out.length, 3);
  out.forEach((p, i) => assert.ok(p.data.equals(f[i].data)));
  assert.ok(Math.abs(out[1].ts - f[1].ts) < 1e-6);
});

test('rotated files, given in any order or as a folder, merge in time order into the same transactions', async (t) => {
  const dir = tmp();
  const rot = join(dir, 'rotated');
  mkdirSync(rot);
  const r = spawnSync('editcap', ['-c', '50', SAMPLE, join(rot, 'part.pcap')]);
  if (r.error) return t.skip('editcap is not installed');
  const parts = readdirSync(rot).sort().map((n) => join(rot, n));
  assert.ok(parts.length >= 4);
  const reversed = extractsLikeTheSample([...parts].reverse(), join(dir, 'out-reversed'));
  assert.match(reversed.stdout, new RegExp(`captures\\s+${parts.length}\\b`));
  assert.match(reversed.stdout, new RegExp(`packets\\s+${frames.length} `));
  writeFileSync(join(rot, 'README.txt'), 'sensor notes, not a capture');
  const folder = extractsLikeTheSample(rot, join(dir, 'out-folder'));
  assert.match(folder.stderr, /warning: skipped: not a pcap or pcapng file: .*README\.txt/);
  const db = openLog(join(dir, 'out-folder'));
  assert.equal(db.prepare('SELECT count(*) AS n FROM captures').get().n, parts.length);
  db.close();
});
