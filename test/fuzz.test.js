// The fuzz harness (scripts/fuzz.js): a short seeded run finds nothing, both kinds of case run,
// cases are reproducible, and the oracle does fail runs that break a promise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, mkdirSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync, openSync, writeSync, closeSync, statSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { checkLog, fuzz, judge, makeCase, runCase } from '../scripts/fuzz.js';
import { SAMPLES, tmp } from './helpers.js';

test('a short seeded fuzz run: no failures, capture-level and HTTP-level cases both ran', async () => {
  const keep = tmp('xh-fuzz-keep-');
  const s = await fuzz({ seconds: 30, seed: 1, keep });
  const detail = s.failures.map((f) => `case ${f.index} (${f.kind}; ${f.mutators.join(', ')}): ${f.reasons.join('; ')} -> ${f.saved}`).join('\n');
  assert.equal(s.failures.length, 0, `failures (inputs kept under ${keep}):\n${detail}`);
  rmSync(keep, { recursive: true, force: true });
  assert.ok(s.byKind.capture > 0, `capture-level cases ran: ${JSON.stringify(s.byKind)}`);
  assert.ok(s.byKind.http > 0, `HTTP-level cases ran: ${JSON.stringify(s.byKind)}`);
  assert.ok(s.cases >= 10, `dozens of cases, not a handful: ${s.cases}`);
});

test('cases are deterministic: the same seed and index give the same input', async () => {
  for (const i of [0, 1, 2, 3, 17, 99]) {
    const a = await makeCase(5, i);
    const b = await makeCase(5, i);
    assert.equal(a.kind, b.kind);
    assert.deepEqual(a.mutators, b.mutators);
    assert.ok(a.input.equals(b.input), `case ${i}`);
  }
  const kinds = new Set();
  for (let i = 0; i < 40; i++) kinds.add((await makeCase(5, i)).kind);
  assert.deepEqual([...kinds].sort(), ['capture', 'http']);
});

test('the oracle fails synthetic results that break a promise', () => {
  const ok = { status: 0, signal: null, timedOut: false, stderr: 'extract-http: warning: x.pcap: truncated record at byte 100\n' };
  assert.deepEqual(judge(ok), []);
  assert.deepEqual(judge({ ...ok, status: 1, stderr: 'extract-http: not a pcap or pcapng file: x\n' }), []);
  const fails = (r, re) => {
    const reasons = judge(r);
    assert.ok(reasons.some((x) => re.test(x)), `${JSON.stringify(r)} should fail with ${re}, got ${JSON.stringify(reasons)}`);
  };
  fails({ ...ok, timedOut: true, status: null, signal: 'SIGKILL' }, /hang/);
  fails({ ...ok, status: null, signal: 'SIGSEGV' }, /signal SIGSEGV/);
  fails({ ...ok, status: 3, stderr: 'extract-http: internal error: boom (run with EXTRACT_HTTP_DEBUG=1 for details)\n' }, /exit code 3/);
  fails({ ...ok, status: 2 }, /exit code 2/);
  fails({ ...ok, status: 1, stderr: 'TypeError: x is undefined\n    at f (file:///a.js:1:2)\n' }, /stack trace/);
  fails({ ...ok, status: 3, stderr: 'extract-http: out of memory: the heap limit of 96 MB was reached\n' }, /out of memory/);
  fails({ ...ok, stderr: 'one\ntwo\nthree\nfour\nfive\n' }, /not warnings/);
});

test('the oracle looks at the disk: strays outside the output folder, symlinks, files that do not match the log', async () => {
  const root = tmp('xh-fuzz-oracle-');
  try {
    const r = await runCase(readFileSync(join(SAMPLES, 'web.pcap')), { root });
    r.root = root;
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(judge(r), [], 'a clean run of the sample passes');

    // A file written beside the output folder, and one in the temporary folder.
    writeFileSync(join(r.sandbox, 'escaped.txt'), 'x');
    writeFileSync(join(r.sandbox, 'tmp', 'leftover'), 'x');
    let reasons = judge(r);
    assert.ok(reasons.some((x) => /outside the output folder: escaped\.txt/.test(x)), JSON.stringify(reasons));
    assert.ok(reasons.some((x) => /outside the output folder: tmp.leftover/.test(x)), JSON.stringify(reasons));
    rmSync(join(r.sandbox, 'escaped.txt'));
    rmSync(join(r.sandbox, 'tmp', 'leftover'));
    assert.deepEqual(judge(r), []);

    // Something beside the sandbox, further up.
    mkdirSync(join(root, 'escape'));
    assert.ok(judge(r).some((x) => /beside the sandbox: escape/.test(x)));
    rmSync(join(root, 'escape'), { recursive: true });

    // A symlink inside the output folder.
    symlinkSync('/etc/passwd', join(r.outDir, 'files', 'link'));
    assert.ok(judge(r).some((x) => /symlink in the output folder/.test(x)));
    rmSync(join(r.outDir, 'files', 'link'));

    // A recovered file changed after the fact: its size and hash no longer match the log.
    const db = new Database(join(r.outDir, 'http.sqlite'), { readonly: true });
    const row = db.prepare('SELECT id, path FROM files ORDER BY id LIMIT 1').get();
    db.close();
    appendFileSync(join(r.outDir, row.path), 'tampered');
    reasons = checkLog(r.outDir);
    assert.ok(reasons.some((x) => /size \d+ in the log/.test(x)), JSON.stringify(reasons));
    assert.ok(reasons.some((x) => /sha256 does not match/.test(x)), JSON.stringify(reasons));

    // A row whose path leads out of the output folder, and one whose file is gone.
    const rw = new Database(join(r.outDir, 'http.sqlite'));
    rw.prepare("UPDATE files SET path = '../input.cap' WHERE id = ?").run(row.id);
    const second = rw.prepare('SELECT id, path FROM files WHERE id != ? ORDER BY id LIMIT 1').get(row.id);
    rw.close();
    rmSync(join(r.outDir, second.path));
    reasons = judge(r);
    assert.ok(reasons.some((x) => /points outside the output folder/.test(x)), JSON.stringify(reasons));
    assert.ok(reasons.some((x) => /no such file/.test(x)), JSON.stringify(reasons));

    // A damaged database: zeroed pages in the middle.
    const dbFile = join(r.outDir, 'http.sqlite');
    const size = statSync(dbFile).size;
    const fd = openSync(dbFile, 'r+');
    writeSync(fd, Buffer.alloc(4096, 0x5a), 0, 4096, Math.floor(size / 4096 / 2) * 4096);
    closeSync(fd);
    reasons = checkLog(r.outDir);
    assert.ok(reasons.some((x) => /integrity_check|cannot read the log/.test(x)), JSON.stringify(reasons));

    // No log at all after exit 0.
    rmSync(dbFile);
    assert.ok(judge(r).some((x) => /no http\.sqlite/.test(x)));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});

test('the loop reports and keeps a failing case: a timeout too short for any run is a hang', async () => {
  const keep = tmp('xh-fuzz-keep-');
  try {
    const s = await fuzz({ seed: 1, only: 3, keep, timeoutMs: 1 });
    assert.equal(s.cases, 1);
    assert.equal(s.failures.length, 1);
    assert.match(s.failures[0].reasons.join('; '), /hang/);
    assert.equal(s.failures[0].reproduced, true, 'the retry hangs too');
    const report = JSON.parse(readFileSync(join(s.failures[0].saved, 'report.json'), 'utf8'));
    assert.equal(report.case, 3);
    assert.equal(report.reproduce, 'node scripts/fuzz.js --seed 1 --case 3');
    const input = readdirSync(s.failures[0].saved).find((n) => n.startsWith('input.cap'));
    assert.ok((await makeCase(1, 3)).input.equals(readFileSync(join(s.failures[0].saved, input))), 'the saved input is the case');
  } finally {
    rmSync(keep, { recursive: true, force: true });
  }
});
