// Capture damage: a capture cut at any offset, zero-length records, pcapng block lengths that
// lie, snaplen-truncated packets and a gzip file cut short. Each gives a message naming the
// file and the byte offset, and every transaction complete before the damage is kept.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { extract } from '../../dist/extract.js';
import { CaptureError } from '../../dist/capture/types.js';
import { ng, pcapFile, readFrames } from '../craft.js';
import { cli, SAMPLES, tmp } from '../helpers.js';

const frames = await readFrames(join(SAMPLES, 'web.pcap'));

/** Runs the library on `bytes`; returns the summary (or the CaptureError) and the transactions. */
async function run(bytes, name = 'cut.pcap') {
  const dir = tmp();
  const file = join(dir, name);
  writeFileSync(file, bytes);
  let summary;
  try {
    summary = await extract({ inputs: [file], outDir: join(dir, 'out') });
  } catch (e) {
    assert.ok(e instanceof CaptureError, `only a CaptureError may end a damaged read: ${e.stack}`);
    assert.ok(e.message.includes(file), e.message);
    return { file, error: e, txns: [] };
  }
  const db = new Database(join(dir, 'out', 'http.sqlite'), { readonly: true });
  const txns = db.prepare(`SELECT t.uri, t.request_ts, t.response_end_ts, t.response_complete, f.sha256
    FROM transactions t LEFT JOIN files f ON f.id = t.response_file_id`).all();
  db.close();
  return { file, summary, txns };
}

const key = (t) => `${t.request_ts} ${t.uri}`;

/** Every transaction of `full` that ended before `cutTs` is in `cut`, complete, with the same body. */
function keptBefore(full, cut, cutTs, where) {
  const have = new Map(cut.txns.map((t) => [key(t), t]));
  let n = 0;
  for (const t of full.txns) {
    if (!t.response_complete || t.response_end_ts === null || t.response_end_ts >= cutTs) continue;
    const c = have.get(key(t));
    assert.ok(c, `${where}: ${t.uri} ended before the damage but is missing`);
    assert.equal(c.response_complete, 1, `${where}: ${t.uri} complete`);
    assert.equal(c.sha256, t.sha256, `${where}: ${t.uri} body`);
    n++;
  }
  return n;
}

test('a pcap cut at any offset: a warning with file and offset, and every transaction that ended before it', async () => {
  const bytes = pcapFile(frames);
  const full = await run(bytes);
  assert.equal(full.summary.warnings.length, 0);
  // Record boundaries, to know which packets a cut leaves whole.
  const starts = [];
  for (let at = 24, i = 0; i < frames.length; i++) { starts.push(at); at += 16 + frames[i].data.length; }
  const offsets = [0, 3, 23, 24, 25, 39, 40, 41];
  for (let at = 100; at < bytes.length; at += 1777) offsets.push(at);
  offsets.push(starts[starts.length - 1] + 7, bytes.length - 1);
  let checked = 0;
  for (const off of offsets) {
    const cut = await run(bytes.subarray(0, off));
    if (off < 24) {
      // Too short for the file header: refused, or read as an empty capture with a warning.
      assert.match(cut.error?.message ?? cut.summary.warnings.join('\n'), new RegExp(`${cut.file}.*(truncated pcap file header \\(at byte 0\\)|the file is empty|only \\d byte)`), `cut at ${off}`);
      continue;
    }
    const firstLost = starts.findIndex((s, i) => s + 16 + frames[i].data.length > off);
    if (firstLost >= 0 && starts[firstLost] < off) {
      assert.equal(cut.summary.warnings.length, 1, `cut at ${off}: ${cut.summary.warnings}`);
      assert.ok(cut.summary.warnings[0].startsWith(`${cut.file}: truncated record`), cut.summary.warnings[0]);
      assert.ok(cut.summary.warnings[0].endsWith(`(at byte ${starts[firstLost]})`), cut.summary.warnings[0]);
    }
    checked += keptBefore(full, cut, firstLost < 0 ? Infinity : frames[firstLost].ts, `cut at ${off}`);
  }
  assert.ok(checked > 50, `transactions checked across cuts: ${checked}`);
});

test('a pcapng cut at any offset, or with a block length that lies, keeps everything before the damage', async () => {
  const le = true;
  const blocks = [ng.shb(le), ng.idb(1, le), ...frames.map((f) => ng.epb(0, f.ts, f.data, le))];
  const starts = [];
  for (let at = 0, i = 0; i < blocks.length; i++) { starts.push(at); at += blocks[i].length; }
  const full = await run(Buffer.concat(blocks), 'full.pcapng');
  const total = starts[starts.length - 1] + blocks[blocks.length - 1].length;
  let checked = 0;
  for (let off = 11; off < total; off += 2333) {
    const cut = await run(Buffer.concat(blocks).subarray(0, off), 'cut.pcapng');
    if (off < starts[1]) {
      assert.match(cut.error?.message ?? cut.summary.warnings.join('\n'), /cut\.pcapng: truncated pcapng section header \(at byte 0\)/, `cut at ${off}`);
      continue;
    }
    assert.ok(!cut.error, `cut at ${off}: ${cut.error?.message}`);
    const b = starts.findIndex((s, i) => s + blocks[i].length > off);
    if (starts[b] < off) assert.match(cut.summary.warnings.join('\n'), new RegExp(`cut\\.pcapng: truncated block.*\\(at byte ${starts[b]}\\)`), `cut at ${off}`);
    checked += keptBefore(full, cut, b - 2 < frames.length ? frames[b - 2].ts : Infinity, `pcapng cut at ${off}`);
  }
  assert.ok(checked > 50);
  // Lying lengths in the 40th block: not a multiple of 4, far longer than the file, shorter than a block.
  const k = 40;
  for (const [what, len] of [['not a multiple of 4', blocks[k].length + 1], ['longer than the file', 0x7ffffff0], ['too short', 8]]) {
    const lied = blocks.map((x) => Buffer.from(x));
    lied[k].writeUInt32LE(len, 4);
    const r = await run(Buffer.concat(lied), 'lie.pcapng');
    assert.equal(r.summary.warnings.length, 1, what);
    assert.ok(r.summary.warnings[0].startsWith(`${r.file}: corrupt block (type 0x6, length ${len})`), `${what}: ${r.summary.warnings[0]}`);
    assert.ok(r.summary.warnings[0].endsWith(`(at byte ${starts[k]})`), r.summary.warnings[0]);
    checked = keptBefore(full, r, frames[k - 2].ts, what);
    assert.ok(checked > 0, what);
  }
  // The last block's length runs past the end of the file.
  const last = blocks.map((x) => Buffer.from(x));
  last[last.length - 1].writeUInt32LE(last[last.length - 1].length + 400, 4);
  const r = await run(Buffer.concat(last), 'long.pcapng');
  assert.match(r.summary.warnings[0], /long\.pcapng: truncated block.*\(at byte \d+\)$/);
  assert.equal(keptBefore(full, r, frames[frames.length - 1].ts, 'last block too long'), full.txns.filter((t) => t.response_complete && t.response_end_ts < frames[frames.length - 1].ts).length);
});

test('zero-length records are packets with nothing in them; everything else is read as without them', async () => {
  const full = await run(pcapFile(frames));
  const withEmpty = frames.flatMap((f) => [{ ts: f.ts, data: Buffer.alloc(0), origLen: 0 }, f]);
  const r = await run(pcapFile(withEmpty));
  assert.equal(r.summary.packets, frames.length * 2);
  assert.deepEqual(r.txns.map((t) => [key(t), t.sha256]), full.txns.map((t) => [key(t), t.sha256]));
});

test('packets cut by the snapshot length: one warning with the first frame and its offset, and the lost bytes counted as gaps', async () => {
  const cutAt = 200;
  const snapped = frames.map((f) => ({ ts: f.ts, data: f.data.subarray(0, cutAt), origLen: f.data.length }));
  const r = await run(pcapFile(snapped));
  const first = frames.findIndex((f) => f.data.length > cutAt);
  const n = frames.filter((f) => f.data.length > cutAt).length;
  let at = 24;
  for (let i = 0; i < first; i++) at += 16 + Math.min(frames[i].data.length, cutAt);
  assert.deepEqual(r.summary.warnings, [`${r.file}: ${n} packet(s) cut short by the capture's snapshot length, the first is frame ${first + 1}; ` +
    `the bytes they lack are counted as missing in their streams (at byte ${at})`]);
  const db = new Database(join(r.file, '..', 'out', 'http.sqlite'), { readonly: true });
  assert.equal(db.prepare("SELECT count(*) AS n FROM anomalies WHERE kind = 'snaplen-truncated'").get().n, 1);
  assert.ok(db.prepare('SELECT sum(missing_s2c) AS n FROM connections').get().n > 0, 'the missing bytes are counted');
  db.close();
});

test('a gzip capture cut short: one warning naming where the capture inside ends, and what came before', async () => {
  const bytes = pcapFile(frames);
  const full = await run(bytes);
  const gz = gzipSync(bytes);
  const dir = tmp();
  const file = join(dir, 'cut.pcap.gz');
  writeFileSync(file, gz.subarray(0, Math.floor(gz.length * 0.6)));
  const r = cli([file, '-o', join(dir, 'out')]);
  assert.equal(r.status, 0, r.stderr);
  const lines = r.stderr.trim().split('\n');
  assert.equal(lines.length, 1, r.stderr);
  assert.match(lines[0], new RegExp(`^extract-http: warning: ${file.replace(/[.]/g, '\\.')}: gzip stream is damaged \\(unexpected end of file\\); the capture inside it ends at byte (\\d+)$`));
  const end = Number(/ends at byte (\d+)/.exec(lines[0])[1]);
  let at = 24, i = 0;
  while (i < frames.length && at + 16 + frames[i].data.length <= end) at += 16 + frames[i++].data.length;
  const db = new Database(join(dir, 'out', 'http.sqlite'), { readonly: true });
  const txns = db.prepare(`SELECT t.uri, t.request_ts, t.response_end_ts, t.response_complete, f.sha256 FROM transactions t LEFT JOIN files f ON f.id = t.response_file_id`).all();
  db.close();
  assert.ok(keptBefore(full, { txns }, frames[i].ts, 'gzip cut') > 0);
});
