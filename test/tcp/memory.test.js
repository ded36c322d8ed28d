// Memory stays bounded on hostile captures: peak RSS of the real command, read from the kernel.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { synFlood, farFuture } from '../harness/adversarial.js';
import { BIN, openLog, tmp } from '../helpers.js';

const LIMIT_MB = 300;

/** Runs the CLI and follows its peak RSS (VmHWM) until it exits. */
function runMeasured(args) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '', stderr = '', peakKb = 0;
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    const poll = setInterval(() => {
      try {
        const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${child.pid}/status`, 'utf8'));
        if (m) peakKb = Math.max(peakKb, Number(m[1]));
      } catch { /* exited */ }
    }, 25);
    child.on('close', (status) => { clearInterval(poll); resolve({ status, stdout, stderr, peakMb: peakKb / 1024 }); });
  });
}

test(`a million SYNs to distinct 4-tuples: peak RSS under ${LIMIT_MB} MB, evictions recorded`, { timeout: 240_000 }, async (t) => {
  const dir = tmp('xh-mem-');
  const file = join(dir, 'synflood.pcap');
  synFlood(file, 1_000_000);
  const out = join(dir, 'out');
  const r = await runMeasured([file, '-o', out]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /connections\s+1000000 /);
  t.diagnostic(`peak RSS ${r.peakMb.toFixed(0)} MB`);
  assert.ok(r.peakMb > 20 && r.peakMb < LIMIT_MB, `peak RSS ${r.peakMb.toFixed(0)} MB`);
  const db = openLog(out);
  const rows = db.prepare('SELECT end_reason, count(*) AS n FROM connections GROUP BY end_reason').all();
  db.close();
  const evicted = rows.find((x) => x.end_reason === 'evicted')?.n ?? 0;
  assert.ok(evicted > 900_000, `evictions recorded: ${JSON.stringify(rows)}`);
  rmSync(dir, { recursive: true, force: true });
});

test(`segments far in the future on many connections: peak RSS under ${LIMIT_MB} MB, nothing glued`, { timeout: 240_000 }, async (t) => {
  const dir = tmp('xh-mem-');
  const file = join(dir, 'future.pcap');
  farFuture(file, 1000, 120); // 168 MB of payload that can only wait behind holes
  const out = join(dir, 'out');
  const r = await runMeasured([file, '-o', out]);
  assert.equal(r.status, 0, r.stderr);
  t.diagnostic(`peak RSS ${r.peakMb.toFixed(0)} MB`);
  assert.ok(r.peakMb < LIMIT_MB, `peak RSS ${r.peakMb.toFixed(0)} MB`);
  const db = openLog(out);
  const rows = db.prepare('SELECT count(*) AS n, sum(response_complete) AS complete FROM http').get();
  db.close();
  assert.equal(rows.n, 1000, 'every request is a row');
  assert.equal(rows.complete, 0, 'no response made of bytes from nowhere');
  rmSync(dir, { recursive: true, force: true });
});
