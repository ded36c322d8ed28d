// End to end on real traffic: servers and clients in network namespaces, captured by
// tcpdump into pcap and pcapng, extracted by the CLI, compared with the servers' ground truth.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeCapture } from './harness/capture.js';
import { loadTruth } from './harness/truth.js';
import { readPcap, shuffleWindows, writePcap } from './harness/rewrite.js';
import { cli, openLog, sha256File, tmp, SAMPLES } from './helpers.js';

let work;
let cap;
before(async () => {
  work = tmp('xh-e2e-');
  cap = await makeCapture({ scenario: 'full', dir: work });
});
after(() => rmSync(work, { recursive: true, force: true }));

/** Checks every transaction of the truth against the http view and the files on disk. */
function checkAgainstTruth(out, truth) {
  const db = openLog(out);
  const rows = db.prepare('SELECT * FROM http').all();
  db.close();
  assert.equal(rows.length, truth.length, 'one row per transaction, no more, no less');
  const byUri = new Map(rows.map((r) => [r.uri, r]));
  assert.equal(byUri.size, rows.length, 'URIs are unique in the scenario');
  for (const t of truth) {
    const r = byUri.get(t.uri);
    assert.ok(r, `row for ${t.uri}`);
    const where = `${t.tag} ${t.method} ${t.uri}`;
    assert.equal(r.method, t.method, where);
    assert.equal(r.host, t.host, where);
    assert.equal(r.version, t.http_version, where);
    assert.equal(r.user_agent, t.user_agent, where);
    assert.equal(r.status_code, t.status_code, where);
    assert.equal(r.reason, t.reason, where);
    assert.equal(r.request_content_type, t.request_content_type, where);
    assert.equal(r.response_content_type, t.response_content_type, where);
    assert.equal(r.request_body_len, t.request_body_len, where);
    assert.equal(r.response_body_len, t.response_body_len, where);
    assert.equal(r.request_sha256, t.request_sha256, where);
    assert.equal(r.response_sha256, t.response_sha256, where);
    assert.equal(r.response_complete, 1, where);
    assert.equal(r.response_missing_bytes, 0, where);
    assert.equal(r.client_ip, t.client_ip, where);
    assert.equal(r.client_port, t.client_port, where);
    assert.equal(r.server_ip, t.server_ip, where);
    assert.equal(r.server_port, t.server_port, where);
    assert.ok(Math.abs(r.ts * 1000 - t.t_request_ms) < 1000, `${where}: ts ${r.ts} near the request time`);
    for (const [file, sha] of [[r.request_file, t.request_sha256], [r.response_file, t.response_sha256]]) {
      if (sha === null) {
        assert.equal(file, null, `${where}: no file for an empty body`);
      } else {
        assert.ok(file.startsWith('files/'), `${where}: file under files/`);
        assert.equal(sha256File(join(out, file)), sha, `${where}: ${file} is byte-identical to what was sent`);
      }
    }
  }
  return rows;
}

test('the full scenario covers what the acceptance asks for', () => {
  const t = cap.truth;
  assert.ok(t.length >= 20);
  assert.ok(t.some((x) => x.method === 'GET') && t.some((x) => x.method === 'POST'));
  assert.ok(t.some((x) => x.transfer === 'chunked') && t.some((x) => x.transfer === 'length'));
  assert.ok(t.some((x) => x.content_encoding === 'gzip'));
  assert.ok(t.some((x) => x.response_body_len === 0 && x.status_code === 200));
  assert.ok(t.some((x) => x.response_body_len >= 5 * 1024 * 1024));
  const perConn = new Map();
  for (const x of t) perConn.set(x.conn_id, (perConn.get(x.conn_id) ?? 0) + 1);
  assert.ok([...perConn.values()].some((n) => n >= 5), 'several transactions on one keep-alive connection');
});

for (const format of ['pcap', 'pcapng']) {
  test(`every transaction and body of a real ${format} capture matches the ground truth`, () => {
    const out = join(work, `out-${format}`);
    const r = cli([cap[format], '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`transactions\\s+${cap.truth.length}\\b`));
    assert.match(r.stdout, /MB\/s/);
    checkAgainstTruth(out, cap.truth);
  });
}

test('pcap and pcapng of the same traffic give the same log and files', () => {
  const q = 'SELECT method, uri, status_code, request_file, response_file, request_sha256, response_sha256, ts FROM http ORDER BY uri';
  const a = openLog(join(work, 'out-pcap'));
  const b = openLog(join(work, 'out-pcapng'));
  assert.deepEqual(a.prepare(q).all(), b.prepare(q).all());
  a.close();
  b.close();
});

test('the committed samples extract exactly as their ground truth says', () => {
  const truth = loadTruth(join(SAMPLES, 'web.truth.json')).transactions;
  for (const f of ['web.pcap', 'web.pcapng']) {
    const out = join(work, `sample-${f}`);
    const r = cli([join(SAMPLES, f), '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    checkAgainstTruth(out, truth);
    assert.ok(!existsSync(join(out, '.tmp')), 'no temporary files left behind');
  }
});

test('reordered packets and directions (seeded shuffle of the real capture) extract the same', () => {
  const pcap = readPcap(cap.pcap);
  for (const [window, seed] of [[4, 1], [12, 2]]) {
    const file = join(work, `shuffled-${window}.pcap`);
    writePcap(file, { ...pcap, records: shuffleWindows(pcap.records, window, seed) });
    const out = join(work, `out-shuffled-${window}`);
    const r = cli([file, '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    checkAgainstTruth(out, cap.truth);
  }
});

test('--keep-encoded keeps coded bodies as sent, and still measures and hashes them decoded', () => {
  const out = join(work, 'out-keep');
  const r = cli([cap.pcap, '-o', out, '--keep-encoded']);
  assert.equal(r.status, 0, r.stderr);
  const db = openLog(out);
  const rows = db.prepare(`SELECT h.uri, h.response_file, h.response_sha256, h.response_body_len, f.wire_sha256, f.decoded_sha256, f.decoded_size
    FROM http h LEFT JOIN files f ON f.path = h.response_file`).all();
  db.close();
  const coded = cap.truth.filter((t) => t.content_encoding && t.response_body_len > 0);
  assert.ok(coded.length >= 3);
  for (const t of coded) {
    const row = rows.find((x) => x.uri === t.uri);
    assert.equal(row.response_sha256, t.response_wire_sha256, `${t.uri}: the file is the wire body`);
    assert.equal(sha256File(join(out, row.response_file)), t.response_wire_sha256);
    assert.match(row.response_file, /\.(gz|deflate|br)$/, 'named as still coded');
    assert.equal(row.decoded_sha256, t.response_sha256, `${t.uri}: decoded form hashed`);
    assert.equal(row.decoded_size, t.response_body_len);
    assert.equal(row.response_body_len, t.response_body_len, 'the entity length stays the decoded one');
  }
  const plain = cap.truth.find((t) => !t.content_encoding && t.response_body_len > 1000);
  assert.equal(rows.find((x) => x.uri === plain.uri).response_sha256, plain.response_sha256);
});
