// Abusive HTTP through the whole command (issue 8): decompression bombs, heads of 20,000 lines,
// bodies of a million chunks, 100,000 pipelined requests, heads cut off by the end of the stream,
// garbage between messages. Every run gets a 64 MB heap (--max-heap 64), so memory that grows
// with the abuse would crash it, and a time limit (the run is killed past it); each case checks
// what is recorded about the abuse and that the transactions around it come out whole, their
// bodies compared byte for byte (sha256) with the files on disk.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import zlib from 'node:zlib';
import { conversation, pcapFile } from '../craft.js';
import { cli, openLog, sha256, sha256File, tmp } from '../helpers.js';

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;
/** The file store's smallest decoded-size cap (a body of a few KiB may still decode to this much). */
const MIN_CAP = 64 * MiB;

const ok = (body, extra = '') => `HTTP/1.1 200 OK\r\nContent-Length: ${Buffer.byteLength(body)}\r\n${extra}\r\n${body}`;
const get = (path, extra = '') => `GET ${path} HTTP/1.1\r\nHost: h\r\n${extra}\r\n`;
const BEFORE = 'body before the abuse';
const AFTER = 'body after the abuse!';

/**
 * Runs the real CLI with a 64 MB heap on a capture of these frames, killed after `limit` ms.
 * Returns the open log (closed after the test), its http rows in transaction order, the
 * anomalies, the output folder and the run's wall time.
 */
function extract(t, frames, limit) {
  const dir = tmp('xh-abuse-');
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'abuse.pcap');
  writeFileSync(file, pcapFile(frames));
  const out = join(dir, 'out');
  const start = performance.now();
  const r = cli([file, '-o', out, '--max-heap', '64'], { timeout: limit });
  const seconds = (performance.now() - start) / 1000;
  t.diagnostic(`CLI run: ${seconds.toFixed(2)} s`);
  assert.equal(r.signal, null, `killed by ${r.signal} after ${seconds.toFixed(1)} s (limit ${limit / 1000} s); stderr: ${r.stderr}`);
  assert.equal(r.status, 0, r.stderr);
  assert.doesNotMatch(r.stderr, /^\s+at |internal error|out of memory/m, 'no stack trace, no internal error');
  const db = openLog(out);
  t.after(() => db.close());
  const rows = db.prepare('SELECT * FROM http ORDER BY transaction_id').all();
  const anomalies = db.prepare('SELECT kind, detail, transaction_id FROM anomalies ORDER BY id').all();
  return { db, rows, anomalies, out, seconds };
}

/** The row's response body is exactly `body`: in the log and in the file on disk. */
function assertResponse(out, row, uri, body) {
  assert.equal(row.uri, uri);
  assert.equal(row.status_code, 200, `${uri} status`);
  assert.equal(row.response_complete, 1, `${uri} complete`);
  const want = sha256(Buffer.from(body));
  assert.equal(row.response_body_len, Buffer.byteLength(body), `${uri} body length`);
  assert.ok(row.response_file, `${uri} has a file`);
  assert.equal(row.response_sha256, want, `${uri} sha256 in the log`);
  assert.equal(sha256File(join(out, row.response_file)), want, `${uri} sha256 of the file on disk`);
}

/** Total size of the files under a folder: what a run left on disk. */
function diskUsage(dir) {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n += statSync(join(e.parentPath ?? e.path, e.name)).size;
  return n;
}

// Decompression bombs, built in a few MB of memory from one coded unit of zeros repeated.

const UNIT = 16 * MiB;

/**
 * zlib.crc32 of `n` zero bytes continued from `crc`, without reading them: one zero byte is an
 * affine map of the CRC register over GF(2), raised to the n-th power by squaring (as zlib's
 * crc32_combine does).
 */
function crc32OfZeros(n, crc = 0) {
  const zero = Buffer.alloc(1);
  const apply = (m, x) => {
    let y = m.b;
    for (let i = 0; x; i++, x >>>= 1) if (x & 1) y ^= m.cols[i];
    return y >>> 0;
  };
  // (g after f): x -> g(f(x)).
  const compose = (g, f) => ({ cols: f.cols.map((c) => (apply(g, c) ^ g.b) >>> 0), b: apply(g, f.b) });
  const b = zlib.crc32(zero, 0);
  let step = { cols: Array.from({ length: 32 }, (_, i) => (zlib.crc32(zero, (1 << i) >>> 0) ^ b) >>> 0), b };
  let power = { cols: Array.from({ length: 32 }, (_, i) => (1 << i) >>> 0), b: 0 };
  for (; n > 0; n = Math.floor(n / 2)) {
    if (n % 2) power = compose(step, power);
    step = compose(step, step);
  }
  return apply(power, crc >>> 0);
}

/**
 * One gzip member holding `size` zero bytes (a multiple of UNIT). Each unit is deflated after a
 * full flush, so it never refers back and its bytes are the same every time: the stream is the
 * gzip header, that unit `size / UNIT` times, an empty final block and the true CRC and length.
 */
function gzipZeros(size) {
  const unit = zlib.deflateRawSync(Buffer.alloc(UNIT), { level: 9, finishFlush: zlib.constants.Z_FULL_FLUSH });
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc32OfZeros(size), 0);
  trailer.writeUInt32LE(size % 2 ** 32, 4);
  return Buffer.concat([Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 255]), ...Array(size / UNIT).fill(unit), Buffer.from([3, 0]), trailer]);
}

/**
 * A brotli stream of `size` zero bytes: flushed after each unit, brotli codes every unit after
 * the first in the same few bytes (checked), so the rest are copies of those.
 */
async function brotliZeros(size) {
  const C = zlib.constants;
  const enc = zlib.createBrotliCompress({ params: { [C.BROTLI_PARAM_QUALITY]: 5, [C.BROTLI_PARAM_LGWIN]: 24 } });
  const got = [];
  enc.on('data', (c) => got.push(c));
  const pieces = [];
  for (let i = 0; i < 3; i++) {
    enc.write(Buffer.alloc(UNIT));
    await new Promise((r) => enc.flush(C.BROTLI_OPERATION_FLUSH, r));
    pieces.push(Buffer.concat(got.splice(0)));
  }
  await new Promise((r) => { enc.on('end', r); enc.end(); });
  assert.ok(pieces[2].equals(pieces[1]), 'brotli codes each unit of zeros after the first alike');
  return Buffer.concat([pieces[0], ...Array(size / UNIT - 1).fill(pieces[1]), ...got]);
}

/** Decodes a stream only to count its bytes, and that they are all zeros: no buffer grows. */
async function countZeros(decoder, coded) {
  let n = 0;
  let nonZero = 0;
  let zeros = Buffer.alloc(0);
  decoder.on('data', (c) => {
    n += c.length;
    if (zeros.length < c.length) zeros = Buffer.alloc(c.length);
    if (Buffer.compare(c, zeros.subarray(0, c.length)) !== 0) nonZero++;
  });
  await new Promise((resolve, reject) => { decoder.on('end', resolve); decoder.on('error', reject); decoder.end(coded); });
  assert.equal(nonZero, 0, 'decodes to zeros only');
  return n;
}

/**
 * A bomb as the response between two plain transactions on one connection: it is stopped at the
 * cap, the wire body is the file (with the coding's suffix, the cut in decode_error), nothing
 * decoded is left on disk, and the transactions before and after are whole.
 */
function bombCase(t, { coding, suffix, wire, expectedCap, limit }) {
  const head = `HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Encoding: ${coding}\r\nContent-Length: ${wire.length}\r\n\r\n`;
  const { db, rows, out, anomalies } = extract(t, conversation([
    [0, get('/before')], [1, ok(BEFORE)],
    [0, get('/bomb')], [1, Buffer.concat([Buffer.from(head), wire])],
    [0, get('/after')], [1, ok(AFTER)],
  ]), limit);
  assert.deepEqual(rows.map((r) => r.uri), ['/before', '/bomb', '/after']);
  assertResponse(out, rows[0], '/before', BEFORE);
  assertResponse(out, rows[2], '/after', AFTER);
  const bomb = rows[1];
  assert.equal(bomb.status_code, 200);
  assert.equal(bomb.response_complete, 1, 'every wire byte was captured');
  const f = db.prepare('SELECT * FROM files WHERE path = ?').get(bomb.response_file);
  assert.ok(f.path.endsWith(suffix), `${f.path} keeps the coded bytes under a ${suffix} name`);
  assert.equal(f.size, wire.length, 'the file is the wire body');
  assert.equal(f.wire_size, wire.length);
  assert.equal(f.sha256, sha256(wire));
  assert.equal(f.wire_sha256, sha256(wire));
  assert.equal(sha256File(join(out, f.path)), sha256(wire), 'the file on disk is the wire body');
  assert.equal(f.coding_removed, null, 'no coding was taken off the file');
  assert.equal(f.content_encoding, coding);
  assert.equal(f.decode_error, `decoded size cap of ${expectedCap} bytes reached; raw body kept`);
  assert.equal(bomb.response_body_len, wire.length);
  // The cut bomb leaves nothing decoded behind: the output is the log and the three files.
  assert.equal(existsSync(join(out, '.tmp')), false, 'the temporary folder is gone');
  assert.ok(diskUsage(out) < wire.length + 2 * MiB, `output folder holds ${diskUsage(out)} bytes`);
  // Framing was clean: the one anomaly is the cut, against the bomb's transaction.
  assert.deepEqual(anomalies.map((a) => [a.kind, a.transaction_id]), [['decompression-capped', bomb.transaction_id]]);
  assert.match(anomalies[0].detail, new RegExp(`^response body \\(${coding}\\): decoding stopped at the cap of ${expectedCap} bytes, from ${wire.length} bytes on the wire; the raw body is kept$`));
}

test('crc32OfZeros agrees with zlib.crc32 over real zeros', () => {
  for (const n of [0, 1, 7, 4096, 100_003]) assert.equal(crc32OfZeros(n, 0x1234abcd), zlib.crc32(Buffer.alloc(n), 0x1234abcd), `n=${n}`);
  // And the gzip bomb builder makes gzip that decodes, CRC and all, to its zeros.
  assert.equal(zlib.gunzipSync(gzipZeros(2 * UNIT)).length, 2 * UNIT);
});

test('a gzip bomb (2 GiB of zeros in 2 MB) stops at the ratio cap: wire body kept, cut recorded, neighbours whole', (t) => {
  // One layer of deflate expands at most ~1032:1, just above the default ratio cap of 1000, so
  // the cap (wire x 1000) is ~97% of the bomb: the store decodes (and throws away) ~2 GB here.
  const size = 2 * GiB;
  const wire = gzipZeros(size);
  assert.ok(wire.length < 2.1e6 && size / wire.length > 1000, `${wire.length} bytes`);
  bombCase(t, { coding: 'gzip', suffix: '.gz', wire, expectedCap: wire.length * 1000, limit: 90_000 });
});

test('a double-gzip bomb (Content-Encoding: gzip, gzip; 8 GiB of zeros in 13 KB) stops at the 64 MiB cap', (t) => {
  const inner = gzipZeros(8 * GiB);
  const wire = zlib.gzipSync(inner, { level: 9 });
  assert.ok(wire.length < 32 * 1024, `${wire.length} bytes`);
  // Undoing the outer gzip gives the inner gzip stream back, whole.
  assert.ok(zlib.gunzipSync(wire).equals(inner));
  bombCase(t, { coding: 'gzip, gzip', suffix: '.gz', wire, expectedCap: MIN_CAP, limit: 30_000 });
});

test('a brotli bomb (4 GiB of zeros in a few KB) stops at the 64 MiB cap', async (t) => {
  const wire = await brotliZeros(4 * GiB);
  assert.ok(wire.length < 16 * 1024, `${wire.length} bytes`);
  // The construction is sound: the same bytes with fewer repeats decode, whole, to their zeros
  // (all 4 GiB would take ~10 s to decode here; the 64 MiB the CLI decodes are four units).
  assert.equal(await countZeros(zlib.createBrotliDecompress(), await brotliZeros(8 * UNIT)), 8 * UNIT);
  bombCase(t, { coding: 'br', suffix: '.br', wire, expectedCap: MIN_CAP, limit: 30_000 });
});

test('20,000 header lines in a request and in a response: every line logged in order, neighbours whole', (t) => {
  const N = 20_000;
  const lines = (tag) => Array.from({ length: N }, (_, i) => `X-${tag}-${i}: v${i}\r\n`).join('');
  const { db, rows, out, anomalies } = extract(t, conversation([
    [0, get('/before')], [1, ok(BEFORE)],
    [0, get('/many-request-headers', lines('Q'))], [1, ok('small')],
    [0, get('/many-response-headers')], [1, ok('also small', lines('R'))],
    [0, get('/after')], [1, ok(AFTER)],
  ]), 60_000);
  assert.deepEqual(rows.map((r) => r.uri), ['/before', '/many-request-headers', '/many-response-headers', '/after']);
  assertResponse(out, rows[0], '/before', BEFORE);
  assertResponse(out, rows[1], '/many-request-headers', 'small');
  assertResponse(out, rows[2], '/many-response-headers', 'also small');
  assertResponse(out, rows[3], '/after', AFTER);
  const headers = (id, dir) => db.prepare('SELECT name, value FROM headers WHERE transaction_id = ? AND direction = ? ORDER BY position').all(id, dir);
  const q = headers(rows[1].transaction_id, 'request');
  assert.equal(q.length, N + 1);
  assert.deepEqual(q[0], { name: 'Host', value: 'h' });
  assert.ok(q.slice(1).every((h, i) => h.name === `X-Q-${i}` && h.value === `v${i}`), 'request header lines in wire order');
  const r = headers(rows[2].transaction_id, 'response');
  assert.equal(r.length, N + 1);
  assert.deepEqual(r[0], { name: 'Content-Length', value: '10' });
  assert.ok(r.slice(1).every((h, i) => h.name === `X-R-${i}` && h.value === `v${i}`), 'response header lines in wire order');
  assert.equal(headers(rows[3].transaction_id, 'request').length, 1);
  assert.deepEqual(anomalies, []);
});

test('chunked bodies of a million 1-byte chunks, request and response: recovered byte for byte, neighbours whole', (t) => {
  const N = 1_000_000;
  const body = Buffer.alloc(N);
  for (let i = 0; i < N; i++) body[i] = (i * 7 + 3) & 0xff;
  const framing = Buffer.alloc(N * 6 + 5);
  for (let i = 0; i < N; i++) {
    framing.write('1\r\n', i * 6, 'latin1');
    framing[i * 6 + 3] = body[i];
    framing.write('\r\n', i * 6 + 4, 'latin1');
  }
  framing.write('0\r\n\r\n', N * 6, 'latin1');
  const chunked = (head) => Buffer.concat([Buffer.from(`${head}\r\nContent-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\n\r\n`), framing]);
  const { db, rows, out, anomalies } = extract(t, conversation([
    [0, get('/before')], [1, ok(BEFORE)],
    [0, chunked('POST /upload HTTP/1.1\r\nHost: h')], [1, ok('stored')],
    [0, get('/chunks')], [1, chunked('HTTP/1.1 200 OK')],
    [0, get('/after')], [1, ok(AFTER)],
  ]), 60_000);
  assert.deepEqual(rows.map((r) => r.uri), ['/before', '/upload', '/chunks', '/after']);
  assertResponse(out, rows[0], '/before', BEFORE);
  assertResponse(out, rows[1], '/upload', 'stored');
  assertResponse(out, rows[2], '/chunks', body);
  assertResponse(out, rows[3], '/after', AFTER);
  const upload = rows[1];
  assert.equal(upload.request_body_len, N);
  assert.equal(upload.request_sha256, sha256(body));
  assert.equal(sha256File(join(out, upload.request_file)), sha256(body));
  assert.equal(db.prepare('SELECT request_complete FROM transactions WHERE id = ?').get(upload.transaction_id).request_complete, 1);
  assert.deepEqual(anomalies, []);
});

// 100,000 pipelined requests; every response names its request in its reason phrase ("R<i>"),
// every 10,000th carries a small body, and every 1,000th request is a HEAD, whose response
// declares a body it does not send: reading one as if it had a body would shift every pairing.
const PIPELINED = 100_000;
const tiny = (i) => (i % 10_000 === 0 ? `b${i}` : '');
const isHead = (i) => i % 1_000 === 500;
const pipedRequest = (i) => (isHead(i) ? `HEAD /p/${i} HTTP/1.1\r\nHost: h\r\n\r\n` : get(`/p/${i}`));
const pipedResponse = (i) => `HTTP/1.1 200 R${i}\r\nContent-Length: ${isHead(i) ? 5 : tiny(i).length}\r\n\r\n${tiny(i)}`;
const method = (i) => (isHead(i) ? 'HEAD' : 'GET');
const range = (from, to, f) => Array.from({ length: to - from }, (_, k) => f(from + k)).join('');

test('100,000 pipelined requests on one connection, answered as they come: each paired with its own response', (t) => {
  // The client keeps two bursts of 1,000 requests ahead of the server's responses: up to 3,000
  // requests wait for theirs at a time.
  const BURST = 1_000;
  const exchanges = [[0, get('/before')], [1, ok(BEFORE)], [0, range(0, BURST, pipedRequest)]];
  for (let b = 0; b < PIPELINED; b += BURST) {
    if (b + BURST < PIPELINED) exchanges.push([0, range(b + BURST, b + 2 * BURST, pipedRequest)]);
    exchanges.push([1, range(b, b + BURST, pipedResponse)]);
  }
  exchanges.push([0, get('/after')], [1, ok(AFTER)]);
  const { db, rows, out, anomalies } = extract(t, conversation(exchanges), 60_000);
  assert.equal(rows.length, PIPELINED + 2);
  assertResponse(out, rows[0], '/before', BEFORE);
  assertResponse(out, rows[PIPELINED + 1], '/after', AFTER);
  const middle = rows.slice(1, PIPELINED + 1);
  assert.ok(middle.every((r, i) => r.method === method(i) && r.uri === `/p/${i}` && r.status_code === 200 && r.reason === `R${i}` && r.response_complete === 1), 'each request paired with its own response');
  assert.ok(middle.every((r, i) => r.response_body_len === tiny(i).length), 'HEAD responses have no body');
  assert.ok(rows.every((r, i) => r.trans_depth === i + 1 && r.connection_id === rows[0].connection_id), 'one connection, depth 1..N+2');
  for (let i = 0; i < PIPELINED; i += 10_000) assertResponse(out, middle[i], `/p/${i}`, tiny(i));
  assert.ok(middle.every((r, i) => (i % 10_000 === 0) === (r.response_file !== null)), 'files for the bodies only');
  assert.equal(db.prepare('SELECT transactions FROM connections').get().transactions, PIPELINED + 2);
  assert.deepEqual(anomalies, []);
});

test('100,000 requests sent before the first response: at most 4,096 wait, the rest are logged early and matched by ordinal', (t) => {
  // 4,096 is the HTTP stage's MAX_PENDING: past it, the oldest waiting request is logged with no
  // response (pipeline-overflow, "written request #k"), and its response, when it comes, is a row
  // of its own (response-to-written-request, "#k"). Without the bound the waiting requests took
  // ~600 bytes of heap each, and this run ran out of its 64 MB.
  const MAX_PENDING = 4096;
  const early = PIPELINED - MAX_PENDING;
  const { db, rows, out } = extract(t, conversation([
    [0, get('/before')], [1, ok(BEFORE)],
    [0, range(0, PIPELINED, pipedRequest)], [1, range(0, PIPELINED, pipedResponse)],
    [0, get('/after')], [1, ok(AFTER)],
  ]), 60_000);
  assert.equal(rows.length, 2 + PIPELINED + early);
  assertResponse(out, rows[0], '/before', BEFORE);
  assertResponse(out, rows[rows.length - 1], '/after', AFTER);
  const kinds = (id) => db.prepare('SELECT kind, detail FROM anomalies WHERE transaction_id = ?').all(id);
  // Transaction ids follow the order requests (or lone responses) were seen.
  const requests = rows.slice(1, 1 + PIPELINED);
  const answers = rows.slice(1 + PIPELINED, 1 + PIPELINED + early);
  assert.ok(requests.every((r, i) => r.uri === `/p/${i}` && r.method === method(i)), 'every request logged, in order');
  assert.ok(requests.slice(0, early).every((r) => r.status_code === null), 'the oldest logged without a response');
  assert.ok(requests.slice(early).every((r, k) => r.status_code === 200 && r.reason === `R${early + k}`), 'the last 4,096 paired with their own responses');
  assert.ok(answers.every((r, k) => r.uri === null && r.status_code === 200 && r.reason === `R${k}` && r.response_body_len === tiny(k).length), 'the others answered in rows of their own, in order (HEAD ones with no body)');
  const overflow = db.prepare("SELECT transaction_id AS id, detail FROM anomalies WHERE kind = 'pipeline-overflow' ORDER BY id").all();
  const answered = db.prepare("SELECT transaction_id AS id, detail FROM anomalies WHERE kind = 'response-to-written-request' ORDER BY id").all();
  assert.equal(overflow.length, early);
  assert.equal(answered.length, early);
  // The k-th request logged early and the response that answers it name the same ordinal.
  assert.ok(overflow.every((a, k) => a.id === requests[k].transaction_id && a.detail.startsWith(`written request #${k + 1}:`)), overflow[0].detail);
  assert.ok(answered.every((a, k) => a.id === answers[k].transaction_id && a.detail.startsWith(`answers written request #${k + 1},`)), answered[0].detail);
  for (let i = 0; i < early; i += 10_000) assert.equal(answers[i].response_sha256, sha256(tiny(i)));
  assert.deepEqual(kinds(rows[0].transaction_id), []);
  assert.equal(db.prepare("SELECT count(*) AS n FROM anomalies WHERE kind NOT IN ('pipeline-overflow', 'response-to-written-request')").get().n, 0);
});

test('heads cut off by the end of the stream (request and response): salvaged and flagged, neighbours whole', (t) => {
  // Connection 1: a request head of 20,000 lines that never ends. Connection 2: a response head
  // that never ends. Connection 3: a plain transaction after both.
  const endless = `GET /cut-request HTTP/1.1\r\nHost: h\r\n${Array.from({ length: 20_000 }, (_, i) => `X-L-${i}: v${i}\r\n`).join('')}X-Unfinished: ab`;
  const frames = [
    ...conversation([[0, get('/before')], [1, ok(BEFORE)], [0, endless]], { clientPort: 40001, ts: 1700000000 }),
    ...conversation([[0, get('/cut-response')], [1, 'HTTP/1.1 200 OK\r\nContent-Length: 5\r\nServer: s\r\nX-Unfin']], { clientPort: 40002, ts: 1700000100 }),
    ...conversation([[0, get('/after')], [1, ok(AFTER)]], { clientPort: 40003, ts: 1700000200 }),
  ];
  const { db, rows, out, anomalies } = extract(t, frames, 30_000);
  assert.deepEqual(rows.map((r) => [r.uri, r.client_port, r.status_code, r.response_complete]), [
    ['/before', 40001, 200, 1], ['/cut-request', 40001, null, 0], ['/cut-response', 40002, 200, 0], ['/after', 40003, 200, 1],
  ]);
  assertResponse(out, rows[0], '/before', BEFORE);
  assertResponse(out, rows[3], '/after', AFTER);
  const cut = anomalies.filter((a) => a.kind === 'incomplete-head');
  assert.equal(cut.length, 2, JSON.stringify(anomalies));
  assert.match(cut[0].detail, /^request head cut off; salvaged its start line and \d+ header line\(s\): GET \/cut-request HTTP\/1\.1/);
  assert.match(cut[1].detail, /^response head cut off; salvaged its start line and 2 header line\(s\): HTTP\/1\.1 200 OK/);
  const salvaged = db.prepare('SELECT name, value FROM headers WHERE transaction_id = ? AND direction = ? ORDER BY position');
  assert.deepEqual(salvaged.all(rows[2].transaction_id, 'response'), [{ name: 'Content-Length', value: '5' }, { name: 'Server', value: 's' }]);
  const q = salvaged.all(rows[1].transaction_id, 'request');
  // As much of the endless head as the reader keeps (its first 16 KiB): the count the anomaly gives.
  assert.equal(q.length, Number(/and (\d+) header line/.exec(cut[0].detail)[1]));
  assert.ok(q.length > 500 && q[0].name === 'Host', `${q.length} header lines of the endless head logged`);
  assert.ok(q.slice(1).every((h, i) => h.name === `X-L-${i}`), 'in wire order');
  assert.deepEqual([...new Set(anomalies.map((a) => a.kind))], ['incomplete-head']);
});

test('garbage between messages (1 MiB each way): skipped and counted, the messages either side whole', (t) => {
  // Deterministic noise with no CR, LF or "HTTP/" in it, so no message can seem to start inside.
  let s = 12345;
  const noise = Buffer.alloc(MiB);
  for (let i = 0; i < noise.length; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    noise[i] = s >>> 16 & 0xff;
    if (noise[i] === 10 || noise[i] === 13 || noise[i] === 0x48) noise[i] = 0;
  }
  const { rows, out, anomalies } = extract(t, conversation([
    [0, get('/before')], [1, ok(BEFORE)],
    [0, noise], [1, noise],
    [0, get('/after')], [1, ok(AFTER)],
  ]), 30_000);
  assert.deepEqual(rows.map((r) => r.uri), ['/before', '/after']);
  assertResponse(out, rows[0], '/before', BEFORE);
  assertResponse(out, rows[1], '/after', AFTER);
  for (const dir of ['request', 'response']) {
    // llhttp refuses the first noise byte (a parse error there), the rest is skipped in one run.
    const errors = anomalies.filter((a) => a.kind === 'parse-error' && a.detail.includes(`${dir} stream offset`));
    const skipped = anomalies.filter((a) => a.kind === 'skipped-bytes' && a.detail.includes(`${dir} stream offset`));
    assert.equal(errors.length, 1, JSON.stringify(anomalies));
    assert.equal(skipped.length, 1, JSON.stringify(anomalies));
    const n = Number(/^(\d+) byte/.exec(skipped[0].detail)[1]);
    assert.equal(n, noise.length - 1, skipped[0].detail);
  }
  assert.equal(anomalies.length, 4, JSON.stringify(anomalies));
});
