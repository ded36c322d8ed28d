// Real traffic, impaired by a seeded rewrite of its capture: segments dropped inside two large
// bodies (one at the very end of a body, before the next response on the same connection),
// others duplicated, the order shuffled. Bodies whose bytes all reached the capture come back
// byte-identical; the two with holes are kept, marked incomplete, with the exact missing count,
// the holes zero-filled at the exact offsets.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeCapture } from '../harness/capture.js';
import { randomBytes, prng } from '../harness/content.js';
import { readPcap, writePcap, shuffleWindows, tcpOf } from '../harness/rewrite.js';
import { cli, openLog, sha256, sha256File, tmp } from '../helpers.js';

let work;
let cap;
before(async () => {
  work = tmp('xh-impaired-');
  cap = await makeCapture({ scenario: 'full', dir: work });
});
after(() => rmSync(work, { recursive: true, force: true }));

/** Records carrying this response's body, with each one's offset in the body. */
function bodySegments(records, body) {
  const head = `Content-Length: ${body.length}\r\n`;
  let flow = null;
  let start = 0;
  const out = [];
  for (const [i, r] of records.entries()) {
    const t = tcpOf(r.data);
    if (!t || t.payload.length === 0) continue;
    if (!flow) {
      const text = t.payload.toString('latin1');
      const at = text.indexOf(head);
      if (at < 0 || !text.startsWith('HTTP/1.1 200')) continue;
      flow = `${t.sport}>${t.dport}`;
      start = (t.seq + text.indexOf('\r\n\r\n', at) + 4) >>> 0;
      continue;
    }
    if (`${t.sport}>${t.dport}` !== flow) continue;
    const off = (t.seq - start) | 0;
    if (off < 0 || off + t.payload.length > body.length) continue;
    assert.ok(t.payload.equals(body.subarray(off, off + t.payload.length)), 'segment matches the body');
    out.push({ i, off, len: t.payload.length });
  }
  return out;
}

test('dropped, duplicated and reordered segments: exact holes, every other body intact', () => {
  const pcap = readPcap(cap.pcap);
  const byTag = new Map(cap.truth.map((t) => [t.tag, t]));
  const drop = new Set();
  const holes = new Map();
  const rand = prng(42);
  for (const tag of ['t06', 't27']) {
    const t = byTag.get(tag);
    const body = randomBytes(t.uri, t.response_body_len);
    const segs = bodySegments(pcap.records, body);
    assert.ok(segs.length > 1000, `${tag}: ${segs.length} body segments found`);
    const chosen = segs.filter(() => rand() % 400 === 0);
    // t27 is followed by t28 on its connection: its last segment's loss runs into the next response.
    if (tag === 't27') chosen.push(segs.reduce((a, b) => (b.off > a.off ? b : a)));
    const ranges = [];
    for (const s of chosen) {
      // Every copy of those bytes goes, retransmissions included.
      for (const x of segs) if (x.off === s.off) drop.add(x.i);
      ranges.push([s.off, s.len]);
    }
    ranges.sort((a, b) => a[0] - b[0]);
    const holed = Buffer.from(body);
    for (const [o, n] of ranges) holed.fill(0, o, o + n);
    holes.set(tag, { ranges, missing: ranges.reduce((a, [, n]) => a + n, 0), sha: sha256(holed) });
  }
  const records = [];
  for (const [i, r] of pcap.records.entries()) {
    if (drop.has(i)) continue;
    records.push(r);
    if (rand() % 50 === 0) records.push(r); // a duplicate, as a tap sees a retransmission
  }
  const file = join(work, 'impaired.pcap');
  writePcap(file, { ...pcap, records: shuffleWindows(records, 6, 7) });
  const out = join(work, 'out');
  const r = cli([file, '-o', out]);
  assert.equal(r.status, 0, r.stderr);
  const db = openLog(out);
  const rows = db.prepare('SELECT h.*, f.missing_ranges, f.complete AS file_complete FROM http h LEFT JOIN files f ON f.path = h.response_file').all();
  db.close();
  assert.equal(rows.length, cap.truth.length);
  for (const t of cap.truth) {
    const row = rows.find((x) => x.uri === t.uri);
    assert.ok(row, t.uri);
    const h = holes.get(t.tag);
    if (!h) {
      assert.equal(row.response_sha256, t.response_sha256, `${t.tag} intact`);
      assert.equal(row.response_complete, 1, `${t.tag} complete`);
      if (row.response_file) assert.equal(sha256File(join(out, row.response_file)), t.response_sha256);
      continue;
    }
    assert.equal(row.response_complete, 0, `${t.tag} marked incomplete`);
    assert.equal(row.file_complete, 0);
    assert.equal(row.response_missing_bytes, h.missing, `${t.tag} missing bytes`);
    assert.equal(row.response_body_len, t.response_body_len, `${t.tag} keeps its full length`);
    assert.deepEqual(JSON.parse(row.missing_ranges), mergeRanges(h.ranges), `${t.tag} hole ranges`);
    assert.equal(sha256File(join(out, row.response_file)), h.sha, `${t.tag} zero-filled exactly at the holes`);
  }
});

function mergeRanges(ranges) {
  const out = [];
  for (const [o, n] of ranges) {
    const last = out[out.length - 1];
    if (last && last[0] + last[1] === o) last[1] += n;
    else out.push([o, n]);
  }
  return out;
}
