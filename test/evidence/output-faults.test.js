// Filesystem faults: an output folder that is a file or read-only, and a disk that fills up
// mid-run (a real, small tmpfs). Each is one clear line; the log stays consistent and every
// file it names is whole.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, rmdirSync, statSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import Database from 'better-sqlite3';
import { randomBytes } from 'node:crypto';
import { conversation, pcapFile } from '../craft.js';
import { cli, SAMPLES, sha256File, tmp } from '../helpers.js';

const SAMPLE = join(SAMPLES, 'evidence.pcapng');

/** A tmpfs of `size` mounted for the test, or null where mounting is not allowed. */
function mount(t, size, ro = false) {
  const dir = tmp('xh-mnt-');
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `${ro ? 'ro,' : ''}size=${size}`, 'tmpfs', dir], { stdio: 'pipe' });
  } catch {
    t.skip('mounting a tmpfs needs root');
    return null;
  }
  // Lazily, and never throwing: one mount that cannot go must not keep the others mounted.
  t.after(() => {
    spawnSync('umount', ['-l', dir]);
    try { rmdirSync(dir); } catch { /* left for the system's tmp cleaning */ }
  });
  return dir;
}

function oneLine(r) {
  assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
  const lines = r.stderr.trim().split('\n').filter((l) => !l.startsWith('extract-http: warning:'));
  assert.equal(lines.length, 1, r.stderr);
  return lines[0];
}

test('an output folder that is a file, or on a read-only mount, is one line and exit code 1', (t) => {
  const file = join(tmp(), 'out');
  writeFileSync(file, 'not a folder');
  let r = cli([SAMPLE, '-o', file]);
  assert.equal(r.status, 1);
  assert.match(oneLine(r), /exists and is not a folder/);
  const ro = mount(t, '1m', true);
  if (!ro) return;
  r = cli([SAMPLE, '-o', join(ro, 'out')]);
  assert.equal(r.status, 1);
  assert.match(oneLine(r), /cannot use output folder .*read-only file system \(EROFS\)/);
  r = cli([SAMPLE, '-o', ro]);
  assert.equal(r.status, 1);
  assert.match(oneLine(r), /read-only file system/);
});

test('a disk that fills up mid-run: one line, a consistent log, and no file in it that is not whole', (t) => {
  const full = tmp();
  assert.equal(cli([SAMPLE, '-o', full]).status, 0);
  const db0 = new Database(join(full, 'http.sqlite'), { readonly: true });
  const allTxns = db0.prepare('SELECT count(*) AS n FROM transactions').get().n;
  db0.close();
  let sawPartial = false;
  // Too small for the reserve, then sizes that run out of space part-way through the bodies.
  for (const size of ['300k', '4400k', '4700k', '5m']) {
    const mnt = mount(t, size);
    if (!mnt) return;
    const out = join(mnt, 'out');
    const r = cli([SAMPLE, '-o', out]);
    assert.equal(r.status, 1, `${size}: ${r.stderr}`);
    const line = oneLine(r);
    assert.match(line, /disk full \(ENOSPC\).*the run stopped there\. The log holds (\d+) transaction/, size);
    const claimed = Number(/holds (\d+) transaction/.exec(line)[1]);
    const db = new Database(join(out, 'http.sqlite'), { readonly: true });
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok', size);
    assert.equal(db.prepare('SELECT count(*) AS n FROM transactions').get().n, claimed, 'the line says what the log holds');
    const rows = db.prepare('SELECT path, size, sha256 FROM files').all();
    for (const f of rows) {
      const p = join(out, f.path);
      assert.ok(existsSync(p), `${size}: ${f.path} is in the log but not on disk`);
      assert.equal(statSync(p).size, f.size, `${size}: ${f.path} size`);
      assert.equal(sha256File(p), f.sha256, `${size}: ${f.path} sha256`);
    }
    // Nothing half-written lies in files/ either, logged or not (a log that could not commit
    // names none): each file is the same as in the run that had room, names being deterministic.
    const walk = (d) => readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
    const onDisk = existsSync(join(out, 'files')) ? walk(join(out, 'files')).map((p) => relative(out, p)) : [];
    for (const p of rows.map((f) => f.path)) assert.ok(onDisk.includes(p));
    for (const p of onDisk) assert.equal(sha256File(join(out, p)), sha256File(join(full, p)), `${size}: ${p} is whole`);
    assert.ok(!existsSync(join(out, '.tmp')), 'temporary files are gone');
    if (claimed > 0) {
      sawPartial = true;
      assert.ok(claimed <= allTxns);
      assert.equal(db.prepare("SELECT count(*) AS n FROM anomalies WHERE kind = 'output-failed'").get().n, 1);
      // A transaction whose body could not be stored is kept, with the reason.
      const stored = db.prepare('SELECT count(*) AS n FROM transactions WHERE response_file_id IS NOT NULL OR request_file_id IS NOT NULL').get().n;
      const notStored = db.prepare("SELECT count(DISTINCT transaction_id) AS n FROM anomalies WHERE kind = 'body-not-stored'").get().n;
      assert.ok(stored + notStored >= 1);
    }
    db.close();
  }
  assert.ok(sawPartial, 'some size let the log keep part of the run');
});

test('a disk that fills up while a large body goes to the worker is a disk-full line too, not an internal error', (t) => {
  const mnt = mount(t, '5m');
  if (!mnt) return;
  // Bodies over 256 KiB go to the worker in pieces: its write fails, not a placement.
  const big = randomBytes(3 << 20);
  const file = join(tmp(), 'big.pcap');
  writeFileSync(file, pcapFile(conversation([
    [0, 'GET /small HTTP/1.1\r\nHost: h\r\n\r\n'], [1, 'HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok'],
    [0, 'GET /big HTTP/1.1\r\nHost: h\r\n\r\n'], [1, Buffer.concat([Buffer.from(`HTTP/1.1 200 OK\r\nContent-Length: ${big.length}\r\n\r\n`), big])],
  ])));
  const out = join(mnt, 'out');
  const r = cli([file, '-o', out]);
  assert.equal(r.status, 1, r.stderr);
  assert.match(oneLine(r), /disk full \(ENOSPC\) while writing .*\.wire; the run stopped there\. The log holds \d+ transaction/);
  const db = new Database(join(out, 'http.sqlite'), { readonly: true });
  assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  assert.equal(db.prepare("SELECT count(*) AS n FROM anomalies WHERE kind = 'output-failed'").get().n, 1);
  for (const f of db.prepare('SELECT path, sha256 FROM files').all()) assert.equal(sha256File(join(out, f.path)), f.sha256, f.path);
  db.close();
});
