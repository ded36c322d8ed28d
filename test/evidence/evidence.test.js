// Evidence on real traffic (the `evidence` harness scenario, captured by tcpdump in network
// namespaces): multipart uploads split into their files, 206 pieces over several connections
// stitched into the resource, real types sniffed and mismatches flagged, hostile names kept
// inside the output folder, optional hashes, flat layout, dedup and repeatable names.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, realpathSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join, sep } from 'node:path';
import { makeCapture } from '../harness/capture.js';
import { conversation, pcapFile } from '../craft.js';
import { cli, openLog, sha256File, tmp } from '../helpers.js';

let work;
let cap;
const out = {};
const runs = {};

before(async () => {
  work = tmp('xh-evidence-');
  cap = await makeCapture({ scenario: 'evidence', dir: work });
  for (const [name, extra] of [['tree', []], ['again', []], ['flat', ['--layout', 'flat', '--hashes', 'md5,sha1']]]) {
    out[name] = join(work, `out-${name}`);
    runs[name] = cli([cap.pcap, '-o', out[name], ...extra]);
  }
});
after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function withLog(name, fn) {
  assert.equal(runs[name].status, 0, runs[name].stderr);
  const db = openLog(out[name]);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

const FILES = `SELECT f.*, t.uri, t.status_code FROM files f JOIN transactions t ON t.id = f.transaction_id`;
const byTag = (tag) => cap.truth.find((t) => t.tag === tag);

/** Every file row names a file inside the output folder that has the row's sha256. */
function assertFilesSound(name, db) {
  const root = realpathSync(out[name]) + sep;
  for (const f of db.prepare('SELECT path, sha256, size FROM files').all()) {
    const abs = realpathSync(join(out[name], f.path));
    assert.ok(abs.startsWith(root), `${f.path} is inside the output folder`);
    assert.equal(statSync(abs).size, f.size, `${f.path} size`);
    assert.equal(sha256File(abs), f.sha256, `${f.path} sha256`);
  }
}

test('every file row points inside the output folder, at a file with its size and sha256', () => {
  for (const name of Object.keys(out)) withLog(name, (db) => assertFilesSound(name, db));
});

test('multipart uploads: each part with a file name is its own file, with that name and its exact bytes', () => {
  const uploads = cap.truth.filter((t) => t.evidence === 'multipart-upload');
  assert.ok(uploads.length >= 2);
  withLog('tree', (db) => {
    for (const u of uploads) {
      const parts = db.prepare(`${FILES} WHERE t.uri = ? AND f.origin = 'part' ORDER BY f.part_index`).all(u.uri);
      assert.equal(parts.length, u.parts.length, `${u.uri}: ${JSON.stringify(parts.map((p) => p.original_name))}`);
      for (const [i, p] of u.parts.entries()) {
        assert.equal(parts[i].original_name, p.filename, `${u.uri} part ${i + 1} name`);
        assert.equal(parts[i].sha256, p.sha256, `${u.uri} ${p.filename} bytes`);
        assert.equal(parts[i].size, p.size);
        assert.equal(parts[i].direction, 'request');
        assert.equal(parts[i].complete, 1);
      }
      // The whole upload is kept as sent too.
      const whole = db.prepare(`${FILES} WHERE t.uri = ? AND f.origin = 'body' AND f.direction = 'request'`).get(u.uri);
      assert.ok(whole && whole.size > u.parts.reduce((a, p) => a + p.size, 0));
    }
    const report = db.prepare(`SELECT path, sniffed_type FROM files WHERE original_name = 'report.pdf'`).get();
    assert.match(report.path, /report[^/]*\.pdf$/);
    assert.equal(report.sniffed_type, 'application/pdf');
  });
});

test('206 pieces over several connections are stitched into the whole resource, marked complete', () => {
  const big = cap.resources.find((r) => r.complete);
  const pieces = cap.truth.filter((t) => t.range?.resource === big.resource);
  withLog('tree', (db) => {
    const conns = db.prepare(`SELECT DISTINCT t.connection_id FROM transactions t WHERE t.uri = ? AND t.status_code = 206`).all(big.resource);
    assert.ok(conns.length >= 2, 'the pieces came over two or more connections');
    const s = db.prepare(`SELECT * FROM files WHERE origin = 'stitched' AND original_name = ?`).all(big.resource.split('/').pop());
    assert.equal(s.length, 1);
    assert.equal(s[0].sha256, big.sha256);
    assert.equal(s[0].size, big.size);
    assert.equal(s[0].complete, 1);
    assert.equal(s[0].missing_bytes, 0);
    assert.deepEqual(JSON.parse(s[0].ranges_present), [[0, big.size]]);
    // Each piece is kept too, and the multipart/byteranges answer is split into its parts.
    for (const p of pieces) {
      for (const r of p.range.ranges) {
        const row = db.prepare(`SELECT sha256 FROM files WHERE sha256 = ?`).get(r.sha256);
        assert.ok(row, `piece ${r.start}-${r.end} of ${p.tag} is a file`);
      }
    }
    assert.ok(db.prepare(`SELECT count(*) AS n FROM files WHERE origin = 'part' AND declared_type = 'application/octet-stream'`).get().n >= 2);
  });
});

test('a resource fetched only in part is stitched as far as it goes: incomplete, with exact missing ranges', () => {
  const partial = cap.resources.find((r) => !r.complete);
  const fetched = partial.fetched.map(([s, e]) => [s, e + 1 - s]);
  const missing = [];
  let at = 0;
  for (const [s, len] of fetched) {
    if (s > at) missing.push([at, s - at]);
    at = s + len;
  }
  if (at < partial.size) missing.push([at, partial.size - at]);
  withLog('tree', (db) => {
    const s = db.prepare(`SELECT * FROM files WHERE origin = 'stitched' AND original_name = ?`).get(partial.resource.split('/').pop());
    assert.equal(s.complete, 0);
    assert.equal(s.size, partial.size);
    assert.deepEqual(JSON.parse(s.ranges_present), fetched);
    assert.deepEqual(JSON.parse(s.missing_ranges), missing);
    assert.equal(s.missing_bytes, missing.reduce((a, [, l]) => a + l, 0));
    // Present bytes are the resource's; missing ones are zeros.
    const bytes = readFileSync(join(out.tree, s.path));
    const hash = (b) => createHash('sha256').update(b).digest('hex');
    for (const p of cap.truth.filter((t) => t.range?.resource === partial.resource)) {
      assert.equal(hash(bytes.subarray(p.range.start, p.range.end + 1)), p.range.ranges[0].sha256);
    }
  });
});

test('the real type is sniffed, extensions follow it, and lies about the type are flagged', () => {
  const cases = cap.truth.filter((t) => t.evidence === 'type-mismatch');
  assert.equal(cases.length, 3);
  withLog('tree', (db) => {
    for (const t of cases) {
      const f = db.prepare(`${FILES} WHERE t.uri = ? AND f.direction = 'response'`).get(t.uri);
      assert.equal(f.sniffed_type, t.real_type, t.uri);
      assert.equal(f.declared_type, t.declared_type);
      assert.equal(f.sha256, t.response_sha256);
      // An octet-stream claims nothing, so a PNG under it is no lie; an exe as JPEG and a zip as text are.
      assert.equal(f.type_mismatch, t.declared_type === 'application/octet-stream' ? 0 : 1, `${t.uri} mismatch flag`);
    }
    const exe = db.prepare(`${FILES} WHERE f.sniffed_type = 'application/x-msdownload' AND f.origin = 'body'`).get();
    assert.match(exe.path, /\.exe$/);
    assert.ok(db.prepare(`SELECT count(*) AS n FROM files WHERE type_mismatch = 1 AND sniffed_type IS NULL`).get().n === 0);
  });
});

test('hostile URLs and Content-Disposition names land inside the output folder under readable names', () => {
  const hostile = cap.truth.filter((t) => t.evidence === 'hostile-name' || t.evidence === 'hostile-disposition');
  assert.ok(hostile.length >= 8);
  withLog('tree', (db) => {
    for (const t of hostile) {
      const f = db.prepare(`${FILES} WHERE t.uri = ? AND f.direction = 'response'`).get(t.uri);
      assert.ok(f, `${t.uri} has its file`);
      assert.equal(f.sha256, t.response_sha256);
      assert.ok(f.path.startsWith('files/'), f.path);
      assert.ok(!f.path.split('/').some((s) => s === '..' || s === '' || s.includes('\\')), f.path);
      assert.ok(f.path.split('/').every((s) => Buffer.byteLength(s) <= 120), `${f.path}: no segment is too long`);
      assert.ok(!/(^|\/)(con|prn|aux|nul)(\.|$)/i.test(f.path), `${f.path}: no reserved device name`);
      if (t.content_disposition) {
        assert.equal(f.original_name, t.content_disposition.filename, 'the name as sent is kept in the log');
        const base = t.content_disposition.filename.split(/[/\\]/).pop();
        assert.ok(f.path.endsWith(`/${base}`) || f.path.includes(`/${base.replace(/\.[^.]*$/, '')}`), `${f.path} is named after ${base}`);
      }
    }
    // Nothing was written anywhere but the output folder's own entries.
    const allowed = new Set(['files', 'http.sqlite', 'http.sqlite-wal', 'http.sqlite-shm', 'index.html', 'review']);
    assert.deepEqual(readdirSync(out.tree).filter((n) => !allowed.has(n)), []);
  });
});

test('hostile names through the whole command, NUL and backslashes included, stay inside the output folder', () => {
  const dir = tmp();
  const names = [
    ['/nul%00byte.txt', null], ['/..%5c..%5cwin.ini', null], [`/${'B'.repeat(300)}.txt`, null], ['/d/x', '..\\..\\evil.bat'],
    ['/d/y', 'a\u0000b.txt'], ['/d/z', '/etc/passwd'], ['/d/w', 'C:\\Windows\\system32\\drivers\\etc\\hosts'], ['/AUX', null],
  ];
  const ex = names.flatMap(([uri, disp], i) => {
    const body = `body ${i} `.repeat(10);
    const cd = disp === null ? '' : `Content-Disposition: attachment; filename="${disp}"\r\n`;
    return [[0, `GET ${uri} HTTP/1.1\r\nHost: ../../h\r\n\r\n`], [1, `HTTP/1.1 200 OK\r\n${cd}Content-Length: ${body.length}\r\n\r\n${body}`]];
  });
  writeFileSync(join(dir, 'hostile.pcap'), pcapFile(conversation(ex)));
  const o = join(dir, 'out');
  const r = cli([join(dir, 'hostile.pcap'), '-o', o]);
  assert.equal(r.status, 0, r.stderr);
  const db = openLog(o);
  const rows = db.prepare('SELECT path, original_name FROM files ORDER BY id').all();
  db.close();
  assert.equal(rows.length, names.length);
  const root = realpathSync(o) + sep;
  for (const [i, f] of rows.entries()) {
    assert.ok(realpathSync(join(o, f.path)).startsWith(root), f.path);
    assert.ok(!/[\0\\]/.test(f.path) && !f.path.split('/').includes('..'), f.path);
    assert.ok(f.path.split('/').every((seg) => Buffer.byteLength(seg) <= 120), f.path);
    if (names[i][1] !== null) assert.equal(f.original_name, names[i][1].replace(/\\\\/g, '\\'));
  }
  assert.deepEqual(readdirSync(dir).sort(), ['hostile.pcap', 'out']);
});

test('names are the same on every run over the same capture', () => {
  const paths = (name) => withLog(name, (db) => db.prepare('SELECT id, path, sha256 FROM files ORDER BY id').all());
  assert.deepEqual(paths('again'), paths('tree'));
});

test('--layout flat puts every file in files/; --hashes md5,sha1 fills both for every file', () => {
  withLog('flat', (db) => {
    const rows = db.prepare('SELECT path, md5, sha1 FROM files').all();
    assert.ok(rows.length > 20);
    for (const f of rows) {
      assert.match(f.path, /^files\/[^/]+$/);
      const bytes = readFileSync(join(out.flat, f.path));
      assert.equal(f.md5, createHash('md5').update(bytes).digest('hex'), f.path);
      assert.equal(f.sha1, createHash('sha1').update(bytes).digest('hex'), f.path);
    }
  });
  withLog('tree', (db) => {
    assert.equal(db.prepare('SELECT count(*) AS n FROM files WHERE md5 IS NOT NULL OR sha1 IS NOT NULL').get().n, 0, 'sha256 only by default');
  });
});

test('--dedup stores identical bodies once; every transaction still points to the file', () => {
  const dir = tmp();
  const body = 'same bytes, served twice '.repeat(40);
  const ok = `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\n\r\n${body}`;
  writeFileSync(join(dir, 'dup.pcap'), pcapFile(conversation([[0, 'GET /a.txt HTTP/1.1\r\nHost: h\r\n\r\n'], [1, ok], [0, 'GET /b.txt HTTP/1.1\r\nHost: h\r\n\r\n'], [1, ok]])));
  for (const dedup of [false, true]) {
    const o = join(dir, `out-${dedup}`);
    const r = cli([join(dir, 'dup.pcap'), '-o', o, ...(dedup ? ['--dedup'] : [])]);
    assert.equal(r.status, 0, r.stderr);
    const db = openLog(o);
    const rows = db.prepare('SELECT uri, response_file, response_sha256 FROM http ORDER BY trans_depth').all();
    const dups = db.prepare('SELECT dedup_of FROM files ORDER BY id').all();
    db.close();
    assert.equal(rows.length, 2);
    assert.equal(rows[0].response_sha256, rows[1].response_sha256);
    const stored = readdirSync(join(o, 'files', 'h'));
    if (dedup) {
      assert.equal(rows[0].response_file, rows[1].response_file);
      assert.deepEqual(stored, ['a.txt']);
      assert.deepEqual(dups.map((d) => d.dedup_of), [null, 1]);
    } else {
      assert.notEqual(rows[0].response_file, rows[1].response_file);
      assert.equal(stored.length, 2);
    }
  }
});

test('the capture is identified by its sha256 in the log', () => {
  withLog('tree', (db) => {
    const c = db.prepare('SELECT path, sha256 FROM captures').get();
    assert.equal(c.sha256, sha256File(cap.pcap));
  });
});
