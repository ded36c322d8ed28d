// Crafted HTTP byte streams through the whole command: each desync signal and gap case is
// recorded, and the transactions around it are recovered.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { conversation, pcapFile } from '../craft.js';
import { cli, openLog, tmp } from '../helpers.js';
import { basicAuth, dispositionFilename } from '../../dist/http/head-fields.js';

/** Runs the CLI on a crafted conversation; returns rows (http view + transactions) and anomalies. */
function extract(exchanges, opts) {
  const dir = tmp();
  const file = join(dir, 'crafted.pcap');
  writeFileSync(file, pcapFile(conversation(exchanges, opts)));
  const r = cli([file, '-o', join(dir, 'out')]);
  assert.equal(r.status, 0, r.stderr);
  const db = openLog(join(dir, 'out'));
  const rows = db.prepare('SELECT h.*, t.content_disposition_filename, t.auth_user, t.auth_password, t.anomalies AS n_anomalies FROM http h JOIN transactions t ON t.id = h.transaction_id ORDER BY h.trans_depth').all();
  const anomalies = db.prepare('SELECT kind, detail, transaction_id FROM anomalies').all();
  db.close();
  return { rows, anomalies, out: join(dir, 'out') };
}

const ok = (body, extra = '') => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n${extra}\r\n${body}`;
const get = (path, extra = '') => `GET ${path} HTTP/1.1\r\nHost: h\r\n${extra}\r\n`;

const DESYNC = [
  ['content-length-and-transfer-encoding', 'POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n'],
  ['conflicting-content-length', 'POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nx'],
  ['duplicate-content-length', 'POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx'],
  ['transfer-encoding-not-chunked', 'POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked, gzip\r\nContent-Length: 0\r\n\r\n'],
  ['duplicate-host', 'GET /a HTTP/1.1\r\nHost: h\r\nHost: evil\r\n\r\n'],
];

for (const [kind, request] of DESYNC) {
  test(`desync signal ${kind} is recorded, the transactions around it recovered`, () => {
    const { rows, anomalies } = extract([[0, get('/before')], [1, ok('one')], [0, request], [1, ok('two')], [0, get('/after')], [1, ok('three')]]);
    assert.ok(anomalies.some((a) => a.kind === kind), `${kind} in ${JSON.stringify(anomalies.map((a) => a.kind))}`);
    assert.equal(rows[0].uri, '/before');
    assert.equal(rows[0].status_code, 200);
    assert.equal(rows[0].response_body_len, 3);
    const last = rows[rows.length - 1];
    assert.equal(last.uri, '/after');
    assert.equal(last.response_body_len, 5);
    assert.equal(last.response_complete, 1);
    const flagged = rows.find((r) => r.uri === '/a');
    assert.ok(flagged, 'the flagged request is a row');
    assert.ok(flagged.n_anomalies >= 1);
  });
}

// Each leniency lenient llhttp used is an anomaly of the transaction that needed it: [kinds, request, response].
const chunked = (framing) => `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${framing}`;
const LENIENT = [
  [['obs-fold', 'lenient-headers'], 'GET /a HTTP/1.1\r\nHost: h\r\nX-Long: a\r\n b\r\n\r\n', ok('hello')],
  [['bare-lf', 'lenient-optional-cr-before-lf'], 'GET /a HTTP/1.1\nHost: h\n\n', ok('hello')],
  [['bare-lf', 'lenient-optional-cr-before-lf'], get('/a'), 'HTTP/1.1 200 OK\nContent-Length: 5\n\nhello'],
  [['lenient-optional-lf-after-cr'], get('/a'), 'HTTP/1.1 200 OK\rContent-Length: 5\r\n\r\nhello'],
  [['lenient-headers'], 'GET /a HTTP/1.1\r\nHost: h\r\nX-Odd: a\x01b\r\n\r\n', ok('hello')],
  [['lenient-version'], 'GET /a HTTP/1.7\r\nHost: h\r\n\r\n', ok('hello')],
  [['lenient-chunked-length'], 'POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n', ok('hello')],
  [['lenient-transfer-encoding'], 'POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: gzip\r\n\r\n', ok('hello')],
  [['lenient-spaces-after-chunk-size'], get('/a'), chunked('5 \r\nhello\r\n0\r\n\r\n')],
  [['lenient-optional-crlf-after-chunk'], get('/a'), chunked('5\r\nhello0\r\n\r\n')],
  [['lenient-optional-cr-before-lf'], get('/a'), chunked('2\r\nhe\r\n3\nllo\r\n0\r\n\r\n')],
  [['lenient-optional-cr-before-lf'], get('/a'), chunked('5\r\nhello\r\n0\r\nX-Trailer: t\n\r\n')],
];

for (const [kinds, request, response] of LENIENT) {
  test(`leniency ${kinds.join(' + ')} in ${JSON.stringify(request === get('/a') ? response : request).slice(0, 60)} is an anomaly of its transaction`, () => {
    const { rows, anomalies } = extract([[0, get('/before')], [1, ok('one')], [0, request], [1, response], [0, get('/after')], [1, ok('three')]]);
    const flagged = rows.find((r) => r.uri === '/a');
    assert.ok(flagged, 'the lenient transaction is a row');
    assert.equal(flagged.status_code, 200);
    assert.equal(flagged.response_body_len, 5);
    const mine = anomalies.filter((a) => a.transaction_id === flagged.transaction_id).map((a) => a.kind);
    for (const kind of kinds) assert.ok(mine.includes(kind), `${kind} in ${JSON.stringify(anomalies)}`);
    assert.equal(rows[0].uri, '/before');
    assert.equal(rows[rows.length - 1].uri, '/after');
    assert.equal(rows[rows.length - 1].response_body_len, 5);
    // Clean messages around it need no leniency.
    assert.deepEqual(anomalies.filter((a) => a.transaction_id !== flagged.transaction_id && a.kind.startsWith('lenient-')), []);
  });
}

test('a status that is no number (2XX) is read anyway: body recovered, no status code, the token in an anomaly', () => {
  const { rows, anomalies } = extract([[0, get('/a')], [1, 'HTTP/1.0 2XX OK\r\nContent-Length: 4\r\n\r\ntoto'], [0, get('/after')], [1, ok('three')]]);
  assert.deepEqual(rows.map((r) => [r.uri, r.status_code, r.response_body_len]), [['/a', null, 4], ['/after', 200, 5]]);
  const bad = anomalies.find((a) => a.kind === 'invalid-status');
  assert.ok(bad && bad.detail.includes('"2XX"'), JSON.stringify(anomalies));
  assert.equal(bad.transaction_id, rows[0].transaction_id);
});

test('a message after one that announced Connection: close is recorded as data after close', () => {
  const { rows, anomalies } = extract([[0, get('/a')], [1, ok('one', 'Connection: close\r\n')], [0, get('/b')], [1, ok('two')]]);
  assert.deepEqual(rows.map((r) => [r.uri, r.status_code]), [['/a', 200], ['/b', 200]]);
  const late = anomalies.filter((a) => a.kind === 'lenient-data-after-close');
  assert.ok(late.length >= 1, JSON.stringify(anomalies));
  assert.ok(late.every((a) => a.transaction_id === rows[1].transaction_id));
});

test('clean traffic needs no leniency: no lenient-* anomaly', () => {
  const { rows, anomalies } = extract([[0, get('/a')], [1, chunked('5\r\nhello\r\n0\r\nX-T: 1\r\n\r\n')], [0, 'POST /b HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi'], [1, ok('fine')]]);
  assert.equal(rows.length, 2);
  assert.deepEqual(anomalies, []);
});

test('a response lost whole in a gap: the next response pairs with the request it acknowledges, not FIFO', () => {
  // Data segments: 0 GET /1, 1 its response, 2 GET /2, 3 its response (lost), 4 GET /3, 5 its response.
  const { rows, anomalies } = extract([[0, get('/1')], [1, ok('one')], [0, get('/2')], [1, ok('two!')], [0, get('/3')], [1, ok('three')]], { skip: new Set([3]) });
  assert.deepEqual(rows.map((r) => [r.uri, r.status_code, r.response_body_len]), [['/1', 200, 3], ['/2', null, 0], ['/3', 200, 5]]);
  const lost = anomalies.find((a) => a.kind === 'response-lost');
  assert.ok(lost, JSON.stringify(anomalies));
  assert.equal(lost.transaction_id, rows[1].transaction_id);
  assert.ok(anomalies.some((a) => a.kind === 'gap-between-messages'));
});

test('a lost segment in a Content-Length body: zero-filled, counted, placed; next transaction intact', () => {
  const body = 'A'.repeat(1000) + 'B'.repeat(1000) + 'C'.repeat(1000);
  // Data segments are numbered in order: 0 the request, 1..3 the response head+body at mss 1000.
  const { rows, out } = extract([[0, get('/big')], [1, `HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n${body}`], [0, get('/next')], [1, ok('fine')]], { mss: 1000, skip: new Set([2]) });
  assert.equal(rows[0].response_complete, 0);
  assert.equal(rows[0].response_missing_bytes, 1000);
  assert.equal(rows[0].response_body_len, 3000);
  const db = openLog(out);
  const f = db.prepare('SELECT missing_ranges FROM files WHERE path = ?').get(rows[0].response_file);
  db.close();
  const headLen = 'HTTP/1.1 200 OK\r\nContent-Length: 3000\r\n\r\n'.length;
  assert.deepEqual(JSON.parse(f.missing_ranges), [[1000 - headLen, 1000]]);
  assert.equal(rows[1].uri, '/next');
  assert.equal(rows[1].response_complete, 1);
});

test('a lost segment in a chunked body: the message is incomplete, the next response is found again', () => {
  const chunks = ['x'.repeat(900), 'y'.repeat(900), 'z'.repeat(900)].map((c) => `${c.length.toString(16)}\r\n${c}\r\n`).join('') + '0\r\n\r\n';
  const { rows, anomalies } = extract([[0, get('/chunked') + get('/next')], [1, `HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n${chunks}` + ok('fine')]], { mss: 1000, skip: new Set([2]) });
  assert.equal(rows.length, 2);
  assert.equal(rows[0].response_complete, 0);
  assert.ok(anomalies.some((a) => a.kind === 'gap-in-message'));
  assert.equal(rows[1].uri, '/next');
  assert.equal(rows[1].status_code, 200);
  assert.equal(rows[1].response_body_len, 4);
});

test('Content-Disposition filename and Basic-auth user and password get their own columns', () => {
  const auth = Buffer.from('alice:s3cr:et').toString('base64');
  const { rows } = extract([[0, get('/dl', `Authorization: Basic ${auth}\r\n`)], [1, ok('PK..', 'Content-Disposition: attachment; filename="report 2024.zip"\r\n')]]);
  assert.equal(rows[0].content_disposition_filename, 'report 2024.zip');
  assert.equal(rows[0].auth_user, 'alice');
  assert.equal(rows[0].auth_password, 's3cr:et');
  assert.equal(dispositionFilename("attachment; filename*=UTF-8''na%C3%AFve.txt; filename=\"naive.txt\""), 'naïve.txt');
  assert.equal(dispositionFilename('inline'), null);
  assert.deepEqual(basicAuth('Basic dXNlcg=='), { user: 'user', password: null });
  assert.equal(basicAuth('Bearer abc'), null);
});

test('a close-delimited response whose body is empty, ended by the FIN right after its head, is complete', () => {
  const { rows, anomalies } = extract([[0, get('/a')], [1, ok('one')], [0, get('/empty')], [1, 'HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nConnection: close\r\n\r\n']]);
  assert.deepEqual(rows.map((r) => [r.uri, r.status_code, r.response_body_len, r.response_complete]), [['/a', 200, 3, 1], ['/empty', 200, 0, 1]]);
  assert.deepEqual(anomalies, []);
});
