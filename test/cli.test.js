// The command line as users meet it: help, version, one-line errors, output folder rules.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gzipSync } from 'node:zlib';
import { mkdirSync, readFileSync, writeFileSync, existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { spawn } from 'node:child_process';
import { cli, openLog, sha256File, tmp, BIN, SAMPLES, ROOT } from './helpers.js';

const sample = join(SAMPLES, 'web.pcapng');

test('--help shows usage with examples, --version the package version', () => {
  const h = cli(['--help']);
  assert.equal(h.status, 0);
  assert.match(h.stdout, /extract-http <capture\.\.>/);
  assert.match(h.stdout, /Examples:/);
  assert.match(h.stdout, /--output/);
  const v = cli(['--version']);
  assert.equal(v.status, 0);
  assert.equal(v.stdout.trim(), JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
});

test('a file that is no capture gets one line naming it, and a nonzero exit', () => {
  const dir = tmp();
  const text = join(dir, 'notes.txt');
  writeFileSync(text, 'this is not a capture\n');
  const r = cli([text, '-o', join(dir, 'out')]);
  assert.notEqual(r.status, 0);
  assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
  assert.equal(r.stderr.trim(), `extract-http: not a pcap or pcapng file: ${text} (at byte 0: magic 74 68 69 73 is neither pcap's nor pcapng's)`);
  assert.ok(!existsSync(join(dir, 'out')), 'nothing written for a bad input');
});

test('empty, missing and directory inputs fail in one line without a stack trace', () => {
  const dir = tmp();
  writeFileSync(join(dir, 'empty.pcap'), '');
  for (const [input, pattern] of [
    [join(dir, 'empty.pcap'), /not a pcap or pcapng file: .*empty\.pcap \(the file is empty\)/],
    [join(dir, 'missing.pcap'), /missing\.pcap: no such file/],
    [dir, /no capture files in folder/],
  ]) {
    const r = cli([input, '-o', join(dir, 'out')]);
    assert.notEqual(r.status, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, r.stderr);
    assert.match(r.stderr, pattern);
    assert.doesNotMatch(r.stderr, /\bat .*\(.*:\d+:\d+\)/);
  }
});

test('no capture argument is a usage error', () => {
  const r = cli([]);
  assert.notEqual(r.status, 0);
  assert.match(r.stderr, /extract-http: .*capture/);
});

test('the worker started before the arguments are parsed is used only when its limits are the ones asked for', async () => {
  const { main } = await import('../dist/cli.js');
  const { startEarly, startExtraction } = await import('../dist/early-start.js');
  const dir = tmp();
  const summaryOf = (out) => {
    const db = openLog(out);
    try {
      return db.prepare('SELECT t.method, t.uri, t.status_code, f.path, f.sha256 FROM transactions t LEFT JOIN files f ON f.transaction_id = t.id ORDER BY t.id, f.id').all();
    } finally {
      db.close();
    }
  };
  const reference = join(dir, 'reference');
  assert.equal(cli([sample, '-o', reference, '-q']).status, 0);
  const expected = summaryOf(reference);
  assert.ok(expected.length > 10);

  // Guessed right: the early worker runs the extraction.
  const argv = [sample, '-o', join(dir, 'guessed'), '-q', '--max-heap=160'];
  const early = startEarly(argv);
  assert.equal(early.maxHeapMb, 160);
  assert.equal(await main(argv, early), 0);
  assert.equal(early.taken, true);
  assert.deepEqual(summaryOf(join(dir, 'guessed')), expected);

  // Started with another heap limit than the arguments give: stopped, and another one runs.
  const wrong = startExtraction(100, false);
  wrong.worker.unref();
  assert.equal(await main([sample, '-o', join(dir, 'other'), '-q'], wrong), 0);
  assert.equal(wrong.taken, false);
  await new Promise((r) => (wrong.exited ? r() : wrong.worker.once('exit', r)));
  assert.deepEqual(summaryOf(join(dir, 'other')), expected);

  // A usage error stops the worker started for nothing.
  const unused = startEarly([sample, '--no-such-option']);
  assert.notEqual(unused, null);
  const stderr = process.stderr.write;
  process.stderr.write = () => true;
  try {
    assert.equal(await main([sample, '--no-such-option'], unused), 2);
  } finally {
    process.stderr.write = stderr;
  }
  await new Promise((r) => (unused.exited ? r() : unused.worker.once('exit', r)));
  assert.equal(unused.taken, false);
  assert.equal(startEarly(['--help']), null);
  assert.equal(startEarly(['ls', reference]), null);
});

test('a heap limit that is no number, or too small to run in, is a usage error, not a run without limit or a false out-of-memory', () => {
  const dir = tmp();
  for (const v of ['abc', '0', '-5', '8']) {
    const r = cli([sample, '-o', join(dir, `out-${v}`), '--max-heap', v]);
    assert.equal(r.status, 2, v);
    assert.match(r.stderr, /^extract-http: --max-heap takes a number of MB, at least 16\n/, v);
    assert.ok(!existsSync(join(dir, `out-${v}`)), `${v}: nothing written`);
  }
});

test('an output folder holding an earlier run is refused unless --force', () => {
  const out = join(tmp(), 'out');
  assert.equal(cli([sample, '-o', out]).status, 0);
  const again = cli([sample, '-o', out]);
  assert.notEqual(again.status, 0);
  assert.match(again.stderr, /not empty .*--force/);
  const forced = cli([sample, '-o', out, '--force']);
  assert.equal(forced.status, 0, forced.stderr);
  const db = openLog(out);
  assert.equal(db.prepare('SELECT count(*) AS n FROM http').get().n, 20);
  db.close();
});

test('--force never deletes files the tool did not write', () => {
  const out = join(tmp(), 'out');
  mkdirSync(out);
  writeFileSync(join(out, 'case-notes.txt'), 'precious');
  const r = cli([sample, '-o', out, '--force']);
  assert.notEqual(r.status, 0);
  assert.equal(readFileSync(join(out, 'case-notes.txt'), 'utf8'), 'precious');
});

test('a placeholder-only output folder (out/.gitkeep) is used as is', () => {
  const out = join(tmp(), 'out');
  mkdirSync(out);
  writeFileSync(join(out, '.gitkeep'), '');
  const r = cli([sample, '-o', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(readdirSync(out).sort(), ['.gitkeep', 'files', 'http.sqlite', 'index.html', 'review']);
});

test('a capture cut mid-record warns with file and offset and keeps what came before', () => {
  const dir = tmp();
  const whole = readFileSync(join(SAMPLES, 'web.pcap'));
  for (const [name, bytes] of [['cut.pcap', whole], ['cut.pcapng', readFileSync(sample)]]) {
    const cut = join(dir, name);
    writeFileSync(cut, bytes.subarray(0, Math.floor(bytes.length * 0.8) + 3));
    const out = join(dir, `out-${name}`);
    const r = cli([cut, '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, new RegExp(`warning: .*${name}: truncated .* \\(at byte \\d+\\)`));
    const db = openLog(out);
    const n = db.prepare('SELECT count(*) AS n FROM http WHERE response_complete = 1').get().n;
    const a = db.prepare("SELECT count(*) AS n FROM anomalies WHERE kind = 'capture-damaged'").get().n;
    db.close();
    assert.ok(n >= 10, `complete transactions before the cut are kept (${n})`);
    assert.equal(a, 1);
  }
});

test('standard input and gzip-compressed captures are read by magic, not by name', () => {
  const dir = tmp();
  const gz = join(dir, 'capture.bin');
  writeFileSync(gz, gzipSync(readFileSync(sample)));
  const r = cli([gz, '-o', join(dir, 'out-gz')]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /transactions\s+20\b/);
  const s = cli(['-', '-o', join(dir, 'out-stdin')], { input: readFileSync(join(SAMPLES, 'web.pcap')) });
  assert.equal(s.status, 0, s.stderr);
  assert.match(s.stdout, /transactions\s+20\b/);
});

test('an absurd captured length stops the read there with a warning; packets before it are kept', () => {
  const dir = tmp();
  const bytes = Buffer.from(readFileSync(join(SAMPLES, 'web.pcap')));
  let o = 24;
  for (let i = 0; i < 60; i++) o += 16 + bytes.readUInt32LE(o + 8);
  bytes.writeUInt32LE(0xfffffff0, o + 8);
  const bad = join(dir, 'caplen.pcap');
  writeFileSync(bad, bytes);
  const r = cli([bad, '-o', join(dir, 'out')], { timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.signal, null);
  assert.match(r.stderr, new RegExp(`caplen\\.pcap: corrupt record header \\(captured length 4294967280\\).*\\(at byte ${o}\\)`));
  assert.match(r.stdout, /packets\s+60 /);
  assert.match(r.stdout, /anomalies\s+1\b/);
});

for (const signal of ['SIGINT', 'SIGTERM']) test(`${signal} while reading finishes what was read: summary, consistent log, every file whole`, async () => {
  const out = join(tmp(), 'out');
  const child = spawn(process.execPath, [BIN, '-', '-o', out], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const bytes = readFileSync(join(SAMPLES, 'web.pcap'));
  // Half the capture, then the pipe stays open as a slow sensor's would.
  child.stdin.write(bytes.subarray(0, bytes.length >> 1));
  await new Promise((r) => setTimeout(r, 1500));
  child.kill(signal);
  const status = await new Promise((r) => child.on('close', r));
  assert.equal(status, 130, stderr);
  assert.match(stderr, new RegExp(`${signal}: finishing what was read`));
  assert.match(stdout, /interrupted/);
  const db = openLog(out);
  assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
  const n = db.prepare('SELECT count(*) AS n FROM http').get().n;
  assert.ok(n >= 5, `transactions read before the interrupt are kept (${n})`);
  for (const f of db.prepare('SELECT path, sha256 FROM files').all()) assert.equal(sha256File(join(out, f.path)), f.sha256, f.path);
  assert.equal(db.prepare("SELECT count(*) AS n FROM anomalies WHERE kind = 'interrupted'").get().n, 1);
  db.close();
});
