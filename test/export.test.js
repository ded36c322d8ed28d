// The HAR and NDJSON exporters (issue 9), on real runs of the CLI over the samples and over a
// crafted capture with the odd cases: a request without a response, a response without a
// request, 100-continue, Basic auth, cookies, a gzip-coded binary body, a binary upload, an
// absolute-form target, no Host, and a target that is not a valid URI as sent.
// The HAR is checked against the HAR 1.2 JSON schemas of the `har-schema` package with Ajv.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import zlib from 'node:zlib';
import Ajv from 'ajv';
import addFormats from 'ajv-formats';
import { writeHar } from '../dist/export/har.js';
import { writeNdjson } from '../dist/export/ndjson.js';
import { conversation, pcapFile } from './craft.js';
import { ROOT, SAMPLES, cli, openLog, sha256, sha256File, tmp } from './helpers.js';

const require = createRequire(import.meta.url);
const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'));

/**
 * The HAR 1.2 validator: har-schema's draft-06 schemas (one per HAR object, tied by $id/$ref)
 * in Ajv 8 with the draft-06 meta-schema and ajv-formats (date-time, uri, ipv4, ipv6). The
 * schemas use three keywords that are not JSON Schema: `optional` and `unique` (on page ids),
 * notes that no schema keyword can check, accepted as notes; and `min` on time and timings,
 * meant as `minimum` and enforced as that. Strict mode stays on for everything else.
 */
function harValidator() {
  const ajv = new Ajv({ allErrors: true, strictTypes: false });
  ajv.addMetaSchema(require('ajv/dist/refs/json-schema-draft-06.json'));
  addFormats(ajv);
  ajv.addKeyword({ keyword: 'optional', schemaType: 'boolean' });
  ajv.addKeyword({ keyword: 'unique', schemaType: 'boolean' });
  ajv.addKeyword({ keyword: 'min', type: 'number', schemaType: 'number', errors: false, validate: (min, data) => data >= min });
  const schemas = require('har-schema');
  for (const s of Object.values(schemas)) ajv.addSchema(s);
  const validate = ajv.getSchema('har.json#');
  assert.ok(validate, 'the har.json schema is loaded');
  return validate;
}
const validateHar = harValidator();

function assertValidHar(har, label) {
  const ok = validateHar(har);
  assert.ok(ok, `${label}: ${JSON.stringify(validateHar.errors?.slice(0, 5), null, 1)}`);
}

// ---------------------------------------------------------------------------------------------
// The runs

const CRAFT_FORM = 'name=J%C3%BCrgen+X&msg=a%26b';
const CRAFT_UPLOAD = Buffer.from(Array.from({ length: 700 }, (_, i) => (i * 37 + 11) & 0xff));
const CRAFT_BINARY = Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 131 + (i >> 3)) & 0xff));
const CRAFT_TEXT = 'caf\u00e9 \u2603 plain text\n'.repeat(20);

function craftedCapture(file) {
  const gz = zlib.gzipSync(CRAFT_BINARY);
  const a = conversation([
    [0, `POST /form?x=1&y=a%20b&flag HTTP/1.1\r\nHost: shop.example\r\nCookie: a=1; b=two\r\nAuthorization: Basic ${Buffer.from('alice:s3cret').toString('base64')}\r\n` +
      `Content-Type: application/x-www-form-urlencoded\r\nContent-Length: ${CRAFT_FORM.length}\r\nExpect: 100-continue\r\nX-Forwarded-For: 192.0.2.9\r\n\r\n`],
    [1, 'HTTP/1.1 100 Continue\r\n\r\n'],
    [0, CRAFT_FORM],
    [1, 'HTTP/1.1 302 Found\r\nLocation: /next\r\nSet-Cookie: sid=abc123; Path=/; Domain=shop.example; Expires=Wed, 21 Oct 2026 07:28:00 GMT; HttpOnly; Secure\r\n' +
      'Set-Cookie: theme=dark\r\nContent-Length: 0\r\n\r\n'],
    [0, `POST /upload HTTP/1.1\r\nHost: shop.example\r\nContent-Type: application/octet-stream\r\nContent-Length: ${CRAFT_UPLOAD.length}\r\n\r\n`],
    [0, CRAFT_UPLOAD],
    [1, Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Encoding: gzip\r\nContent-Length: ${gz.length}\r\n\r\n`), gz])],
    [0, 'GET /caf\u00c3\u00a9/x|y{z}?q="1"&r=^ HTTP/1.1\r\nHost: shop.example\r\n\r\n'],
    [1, Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(CRAFT_TEXT)}\r\n\r\n${CRAFT_TEXT}`)],
    [0, 'GET /never-answered HTTP/1.1\r\nHost: shop.example\r\n\r\n'],
  ], { ts: 1700000000, clientPort: 40000 });
  // The request's only segment is lost: a response with no request.
  const b = conversation([
    [0, 'GET /lost HTTP/1.1\r\nHost: shop.example\r\n\r\n'],
    [1, 'HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n\r\nhello'],
  ], { ts: 1700000010, clientPort: 40001, skip: new Set([0]) });
  const c = conversation([
    [0, 'GET http://proxy.example:8080/abs?z=9 HTTP/1.1\r\nHost: proxy.example:8080\r\n\r\n'],
    [1, 'HTTP/1.1 204 No Content\r\n\r\n'],
  ], { ts: 1700000020, clientPort: 40002 });
  const d = conversation([
    [0, 'GET /no-host HTTP/1.0\r\n\r\n'],
    [1, 'HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nok'],
  ], { ts: 1700000030, clientPort: 40003, serverPort: 8081 });
  writeFileSync(file, pcapFile([...a, ...b, ...c, ...d]));
}

const dir = tmp('xh-export-');
const runs = {};

before(() => {
  const inputs = {
    'web.pcap': join(SAMPLES, 'web.pcap'),
    'web.pcapng': join(SAMPLES, 'web.pcapng'),
    'evidence.pcapng': join(SAMPLES, 'evidence.pcapng'),
    crafted: join(dir, 'crafted.pcap'),
  };
  craftedCapture(inputs.crafted);
  for (const [name, input] of Object.entries(inputs)) {
    const out = join(dir, `out-${name}`);
    const r = cli([input, '-o', out]);
    assert.equal(r.status, 0, `${name}: ${r.stderr}`);
    const db = openLog(out);
    const txns = db.prepare('SELECT * FROM transactions ORDER BY id').all();
    const files = db.prepare('SELECT * FROM files ORDER BY id').all();
    const conns = new Map(db.prepare('SELECT * FROM connections').all().map((c) => [c.id, c]));
    const anomalies = db.prepare('SELECT transaction_id, kind FROM anomalies WHERE transaction_id IS NOT NULL ORDER BY id').all();
    db.close();
    const harFile = join(dir, `${name}.har`);
    const harResult = writeHar(out, harFile);
    const har = JSON.parse(readFileSync(harFile, 'utf8'));
    runs[name] = { out, txns, files, conns, anomalies, har, harResult, fileById: new Map(files.map((f) => [f.id, f])) };
  }
});

after(() => rmSync(dir, { recursive: true, force: true }));

const SAMPLE_NAMES = ['web.pcap', 'web.pcapng', 'evidence.pcapng', 'crafted'];

/** The body an entry carries, as bytes, or undefined. */
function embedded(obj) {
  if (!obj || obj.text === undefined) return undefined;
  return obj.encoding === 'base64' ? Buffer.from(obj.text, 'base64') : Buffer.from(obj.text, 'utf8');
}

// ---------------------------------------------------------------------------------------------
// HAR

test('the HAR of every sample validates against the HAR 1.2 schema', () => {
  for (const name of SAMPLE_NAMES) {
    const { har, txns, harResult } = runs[name];
    assertValidHar(har, name);
    assert.equal(har.log.version, '1.2');
    assert.deepEqual(har.log.creator, { name: 'extract-http', version: pkg.version });
    assert.equal(har.log.entries.length, txns.length, `${name}: one entry per transaction`);
    assert.equal(harResult.entries, txns.length);
    assert.deepEqual(har.log.entries.map((e) => e._extract_http.transaction_id).sort((x, y) => x - y), txns.map((t) => t.id));
  }
});

test('the validator rejects what is not HAR', () => {
  const good = runs['web.pcap'].har;
  const broken = [
    ['no url', (h) => { delete h.log.entries[0].request.url; }],
    ['no response', (h) => { delete h.log.entries[0].response; }],
    ['status as text', (h) => { h.log.entries[0].response.status = '200'; }],
    ['no creator', (h) => { delete h.log.creator; }],
    ['headers not a list', (h) => { h.log.entries[0].request.headers = { Host: 'x' }; }],
    ['a header without value', (h) => { delete h.log.entries[0].request.headers[0].value; }],
    ['a date that is none', (h) => { h.log.entries[0].startedDateTime = 'yesterday'; }],
    ['a relative url', (h) => { h.log.entries[0].request.url = '/t01/page.html'; }],
    ['a timing below -1', (h) => { h.log.entries[0].timings.send = -5; }],
    ['no content mimeType', (h) => { delete h.log.entries[0].response.content.mimeType; }],
  ];
  for (const [label, mutate] of broken) {
    const h = structuredClone(good);
    mutate(h);
    assert.equal(validateHar(h), false, `${label} is rejected`);
  }
  assert.equal(validateHar(structuredClone(good)), true);
});

test('entries are in time order, with absolute URLs, timings that add up and the connection', () => {
  for (const name of SAMPLE_NAMES) {
    const { har, txns, conns } = runs[name];
    const byId = new Map(txns.map((t) => [t.id, t]));
    let last = -Infinity;
    for (const e of har.log.entries) {
      const t = byId.get(e._extract_http.transaction_id);
      const started = Date.parse(e.startedDateTime);
      assert.ok(started >= last, `${name}: time order`);
      last = started;
      assert.equal(started, Math.round((t.request_ts ?? t.response_ts ?? t.ts) * 1000));
      const known = ['blocked', 'dns', 'connect', 'send', 'wait', 'receive'].map((k) => e.timings[k]).filter((v) => v !== undefined && v !== -1);
      assert.ok(Math.abs(e.time - known.reduce((a, b) => a + b, 0)) < 1e-6, `${name}: time is the sum of the timings`);
      if (t.request_ts != null && t.response_end_ts != null && t.response_ts >= t.request_end_ts) {
        assert.ok(Math.abs(e.time - (t.response_end_ts - t.request_ts) * 1000) < 0.01, `${name}: time spans the transaction`);
      }
      assert.match(e.request.url, /^http:\/\/[^/]/);
      assert.equal(e.connection, String(t.connection_id));
      assert.equal(e.serverIPAddress, conns.get(t.connection_id).server_ip);
      assert.equal(e.request.method, t.method ?? '');
      assert.equal(e.response.status, t.status_code ?? 0);
      if (t.version && t.method != null) assert.equal(e.request.httpVersion, `HTTP/${t.version}`);
      if (t.location) assert.equal(e.response.redirectURL, t.location);
      assert.deepEqual(e.cache, {});
    }
  }
  const web = runs['web.pcap'].har.log.entries.find((e) => e._extract_http.target === '/t01/page.html');
  assert.equal(web.request.url, 'http://10.77.1.2/t01/page.html');
});

test('headers are all there in wire order', () => {
  const { out, har } = runs['evidence.pcapng'];
  const db = openLog(out);
  try {
    const q = db.prepare(`SELECT name, value FROM headers WHERE transaction_id = ? AND direction = ? ORDER BY position`);
    for (const e of har.log.entries) {
      const id = e._extract_http.transaction_id;
      const strip = (hs) => hs.filter((h) => h.comment !== 'trailer').map(({ name, value }) => ({ name, value }));
      assert.deepEqual(strip(e.request.headers), q.all(id, 'request'));
      assert.deepEqual(strip(e.response.headers), q.all(id, 'response'));
      assert.deepEqual(e.request.headers.filter((h) => h.comment === 'trailer').map(({ name, value }) => ({ name, value })), q.all(id, 'request-trailer'));
    }
  } finally {
    db.close();
  }
});

test('embedded bodies are exactly the recovered files, request and response', () => {
  for (const name of SAMPLE_NAMES) {
    const { har, txns, fileById, out, harResult } = runs[name];
    const byId = new Map(txns.map((t) => [t.id, t]));
    let bodies = 0;
    for (const e of har.log.entries) {
      const t = byId.get(e._extract_http.transaction_id);
      for (const [fileId, carrier] of [[t.request_file_id, e.request.postData], [t.response_file_id, e.response.content]]) {
        if (fileId == null) continue;
        const f = fileById.get(fileId);
        const bytes = embedded(carrier);
        assert.ok(bytes, `${name} ${t.uri}: the body of ${f.size} bytes is embedded`);
        assert.equal(bytes.length, f.size);
        assert.equal(sha256(bytes), f.sha256, `${name} ${t.uri}: the embedded body is the file's bytes`);
        assert.equal(sha256File(join(out, f.path)), f.sha256);
        bodies++;
      }
      assert.equal(e._extract_http.response_file, t.response_file_id == null ? undefined : fileById.get(t.response_file_id).path);
      assert.equal(e._extract_http.request_file, t.request_file_id == null ? undefined : fileById.get(t.request_file_id).path);
    }
    assert.ok(bodies > 0);
    assert.equal(harResult.bodiesCut, 0, `${name}: no sample body is over 1 MiB`);
  }
});

test('with a small maxBodyBytes, bodies over it are left out and the cut recorded', () => {
  for (const limit of [1000, 0]) {
    for (const name of ['evidence.pcapng', 'crafted']) {
      const { out, txns, fileById } = runs[name];
      const file = join(dir, `${name}-${limit}.har`);
      const r = writeHar(out, file, { maxBodyBytes: limit });
      const har = JSON.parse(readFileSync(file, 'utf8'));
      assertValidHar(har, `${name} limit ${limit}`);
      const byId = new Map(txns.map((t) => [t.id, t]));
      let over = 0, cut = 0, kept = 0;
      for (const e of har.log.entries) {
        const t = byId.get(e._extract_http.transaction_id);
        for (const [fileId, carrier] of [[t.request_file_id, e.request.postData], [t.response_file_id, e.response.content]]) {
          const bytes = embedded(carrier);
          if (bytes) assert.ok(bytes.length <= limit, `${name}: nothing over ${limit} bytes is embedded`);
          if (fileId == null) continue;
          const f = fileById.get(fileId);
          if (f.size > limit) {
            over++;
            assert.ok(!bytes || bytes.length === 0, `${t.uri}: not embedded`);
            assert.ok(carrier.comment.includes(`${f.size} bytes`) && carrier.comment.includes(`${limit}-byte limit`) && carrier.comment.includes(f.path),
              `${t.uri}: the cut names the size, the limit and the file: ${carrier.comment}`);
            cut++;
          } else {
            assert.equal(sha256(bytes), f.sha256);
            kept++;
          }
        }
      }
      assert.equal(r.bodiesCut, over);
      assert.equal(cut, over);
      assert.ok(over > 0, `${name}: some bodies are over ${limit}`);
      if (limit === 1000) assert.ok(kept > 0, `${name}: some are not`);
    }
  }
});

test('a request without a response and a response without a request are still valid entries', () => {
  const { har, txns } = runs.crafted;
  const byTarget = (uri) => har.log.entries.find((e) => e._extract_http.target === uri);
  const unanswered = byTarget('/never-answered');
  assert.ok(unanswered);
  assert.equal(unanswered.response.status, 0);
  assert.equal(unanswered.response.statusText, '');
  assert.equal(unanswered.response.httpVersion, '');
  assert.equal(unanswered.response.bodySize, -1);
  assert.equal(unanswered.timings.wait, -1);
  assert.equal(unanswered.timings.receive, -1);
  assert.equal(unanswered.time, unanswered.timings.send);
  assert.match(unanswered.comment, /no response/);

  const orphan = har.log.entries.find((e) => e._extract_http.target === undefined);
  const t = txns.find((x) => x.id === orphan?._extract_http.transaction_id);
  assert.ok(orphan && t && t.method == null, 'the crafted capture has a response without its request');
  assert.equal(orphan.request.method, '');
  assert.equal(orphan.request.bodySize, -1);
  assert.equal(orphan.request.httpVersion, '');
  assert.equal(orphan.request.url, 'http://10.1.0.2/');
  assert.equal(orphan.response.status, 200);
  assert.equal(embedded(orphan.response.content).toString(), 'hello');
  assert.equal(orphan.timings.send, -1);
  assert.match(orphan.comment, /request not captured/);
});

test('cookies, query string, form post, redirect, interim status, codings and odd targets', () => {
  const { har } = runs.crafted;
  const byTarget = (uri) => har.log.entries.find((e) => e._extract_http.target === uri);
  const form = byTarget('/form?x=1&y=a%20b&flag');
  assert.equal(form.request.url, 'http://shop.example/form?x=1&y=a%20b&flag');
  assert.deepEqual(form.request.queryString, [{ name: 'x', value: '1' }, { name: 'y', value: 'a b' }, { name: 'flag', value: '' }]);
  assert.deepEqual(form.request.cookies, [{ name: 'a', value: '1' }, { name: 'b', value: 'two' }]);
  assert.deepEqual(form.request.postData, { mimeType: 'application/x-www-form-urlencoded', text: CRAFT_FORM });
  assert.equal(form.request.bodySize, CRAFT_FORM.length);
  assert.equal(form.response.status, 302);
  assert.equal(form.response.redirectURL, '/next');
  assert.deepEqual(form.response.cookies, [
    { name: 'sid', value: 'abc123', path: '/', domain: 'shop.example', expires: '2026-10-21T07:28:00.000Z', httpOnly: true, secure: true },
    { name: 'theme', value: 'dark' },
  ]);
  assert.deepEqual(form._extract_http.interim_statuses, [100]);

  const upload = byTarget('/upload');
  assert.equal(upload.request.postData.encoding, 'base64');
  assert.ok(Buffer.from(upload.request.postData.text, 'base64').equals(CRAFT_UPLOAD));
  const content = upload.response.content;
  assert.equal(content.encoding, 'base64');
  assert.ok(Buffer.from(content.text, 'base64').equals(CRAFT_BINARY), 'the body as decoded from gzip');
  assert.equal(content.size, CRAFT_BINARY.length);
  assert.equal(upload.response.bodySize, zlib.gzipSync(CRAFT_BINARY).length);
  assert.equal(content.compression, content.size - upload.response.bodySize);

  const odd = har.log.entries.find((e) => e._extract_http.target?.startsWith('/caf'));
  assert.ok(odd, 'the odd target is in the log');
  // The bytes sent, percent-encoded where a URI may not hold them; the rest as sent.
  assert.equal(odd.request.url, 'http://shop.example/caf%C3%A9/x%7Cy%7Bz%7D?q=%221%22&r=%5E');
  assert.equal(odd.response.content.text, CRAFT_TEXT, 'UTF-8 text is embedded as text');
  assert.equal(odd.response.content.encoding, undefined);
  assert.equal(odd.response.content.mimeType, 'text/plain; charset=utf-8');

  assert.equal(byTarget('http://proxy.example:8080/abs?z=9').request.url, 'http://proxy.example:8080/abs?z=9');
  assert.equal(byTarget('/no-host').request.url, 'http://10.1.0.2:8081/no-host');
  assert.equal(byTarget('/no-host').request.httpVersion, 'HTTP/1.0');
});

test('the HAR is written entry by entry under a temporary name, and a failed export leaves nothing', () => {
  const { out, txns } = runs['evidence.pcapng'];
  const file = join(dir, 'lines.har');
  writeHar(out, file);
  const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
  assert.equal(lines.length, txns.length + 2, 'head, one line per entry, tail');
  assert.throws(() => writeHar(out, join(dir, 'no-such-dir', 'x.har')), /ENOENT/);
  assert.throws(() => writeHar(join(dir, 'no-such-run'), join(dir, 'y.har')));
  assert.equal(existsSync(join(dir, 'y.har')), false);
  assert.throws(() => writeHar(out, file, { maxBodyBytes: -1 }), RangeError);
});

// ---------------------------------------------------------------------------------------------
// NDJSON

function readNdjson(name) {
  const { out } = runs[name];
  const file = join(dir, `${name}.ndjson`);
  const r = writeNdjson(out, file);
  const text = readFileSync(file, 'utf8');
  assert.ok(text.endsWith('\n'));
  const lines = text.slice(0, -1).split('\n');
  return { r, records: lines.map((l) => JSON.parse(l)) };
}

test('NDJSON: one parsable line per transaction, matching the log', () => {
  for (const name of SAMPLE_NAMES) {
    const { txns, files, conns, anomalies } = runs[name];
    const { r, records } = readNdjson(name);
    assert.equal(records.length, txns.length, `${name}: one line per transaction`);
    assert.equal(r.records, txns.length);
    const byId = new Map(txns.map((t) => [t.id, t]));
    let lastTs = -Infinity;
    for (const rec of records) {
      for (const [k, v] of Object.entries(rec)) {
        assert.notEqual(v, null, `${name}: ${k} is never null`);
        if (Array.isArray(v)) assert.ok(v.length > 0, `${name}: ${k} is never an empty list`);
      }
      const t = byId.get(rec.transaction_id);
      assert.ok(t, `${name}: transaction ${rec.transaction_id}`);
      assert.ok(rec.ts >= lastTs, 'time order');
      lastTs = rec.ts;
      const c = conns.get(t.connection_id);
      assert.equal(rec.ts, t.ts);
      assert.equal(rec.uid, String(t.connection_id));
      assert.equal(rec['id.orig_h'], c.client_ip);
      assert.equal(rec['id.orig_p'], c.client_port);
      assert.equal(rec['id.resp_h'], c.server_ip);
      assert.equal(rec['id.resp_p'], c.server_port);
      assert.equal(rec.trans_depth, t.trans_depth);
      assert.equal(rec.method, t.method ?? undefined);
      assert.equal(rec.host, t.host ?? undefined);
      assert.equal(rec.uri, t.uri ?? undefined);
      assert.equal(rec.referrer, t.referer ?? undefined);
      assert.equal(rec.version, t.version ?? undefined);
      assert.equal(rec.user_agent, t.user_agent ?? undefined);
      assert.equal(rec.status_code, t.status_code ?? undefined);
      assert.equal(rec.status_msg, t.reason ?? undefined);
      assert.equal(rec.request_body_len, t.request_body_len);
      assert.equal(rec.response_body_len, t.response_body_len);
      for (const [prefix, dir] of [['orig', 'request'], ['resp', 'response']]) {
        const mine = files.filter((f) => f.transaction_id === t.id && f.direction === dir);
        assert.deepEqual(rec[`${prefix}_fuids`], mine.length ? mine.map((f) => String(f.id)) : undefined, `${name} ${t.uri}: ${prefix}_fuids`);
        const names = mine.map((f) => f.original_name).filter((n) => n != null);
        assert.deepEqual(rec[`${prefix}_filenames`], names.length ? names : undefined);
      }
      const rf = files.find((f) => f.id === t.response_file_id);
      assert.equal(rec.response_file, rf?.path);
      assert.equal(rec.response_sha256, rf?.sha256);
      assert.equal(rec.request_file, files.find((f) => f.id === t.request_file_id)?.path);
      if (t.status_code != null) assert.equal(rec.response_complete, t.response_complete === 1);
      const kinds = anomalies.filter((a) => a.transaction_id === t.id).map((a) => a.kind);
      assert.deepEqual(rec.anomalies, kinds.length ? kinds : undefined);
    }
    assert.deepEqual(new Set(records.map((x) => x.uid)), new Set(txns.map((t) => String(t.connection_id))));
  }
});

test('NDJSON: Zeek fields from the crafted capture: info_code, credentials, proxied, no response', () => {
  const { records } = readNdjson('crafted');
  const form = records.find((r) => r.uri === '/form?x=1&y=a%20b&flag');
  assert.equal(form.info_code, 100);
  assert.deepEqual(form.interim_statuses, [100]);
  assert.equal(form.username, 'alice');
  assert.equal(form.password, 's3cret');
  assert.deepEqual(form.proxied, ['X-FORWARDED-FOR -> 192.0.2.9']);
  assert.equal(form.status_code, 302);
  assert.equal(form.location, '/next');
  assert.ok(form.orig_fuids?.length === 1);
  const unanswered = records.find((r) => r.uri === '/never-answered');
  assert.equal(unanswered.status_code, undefined);
  assert.equal(unanswered.response_complete, undefined);
  const upload = records.find((r) => r.uri === '/upload');
  assert.equal(upload.request_body_len, CRAFT_UPLOAD.length);
  assert.equal(upload.response_body_len, CRAFT_BINARY.length);
  assert.equal(upload.response_sha256, sha256(CRAFT_BINARY));
});
