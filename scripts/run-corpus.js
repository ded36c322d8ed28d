#!/usr/bin/env node
// Runs extract-http over every capture of a folder (default ../shared/corpus/suricata-verify)
// and reports, per capture, the exit code, transactions, files and any stderr line.
// Usage: node scripts/run-corpus.js [folder] [--json report.json]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const jsonAt = args.indexOf('--json');
const jsonOut = jsonAt >= 0 ? args.splice(jsonAt, 2)[1] : null;
const dir = resolve(args[0] ?? join(root, '..', 'shared', 'corpus', 'suricata-verify'));
const bin = join(root, 'bin', 'extract-http.js');
const captures = readdirSync(dir).filter((n) => /\.(pcap|pcapng|cap|gz)$/.test(n)).sort();
const results = [];
let withTxn = 0, failures = 0, totalTxn = 0;
for (const name of captures) {
  const out = mkdtempSync(join(tmpdir(), 'xh-corpus-'));
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [bin, join(dir, name), '-o', out, '--force'], { encoding: 'utf8', timeout: 60_000 });
  const ms = Date.now() - t0;
  let txns = 0, files = 0;
  const m = /transactions\s+(\d+)/.exec(r.stdout ?? '');
  if (m) txns = Number(m[1]);
  const f = /files\s+(\d+)/.exec(r.stdout ?? '');
  if (f) files = Number(f[1]);
  const stderr = (r.stderr ?? '').trim();
  const ok = r.status === 0 || (r.status === 1 && stderr.split('\n').length === 1);
  if (!ok || r.signal) failures++;
  if (txns > 0) withTxn++;
  totalTxn += txns;
  results.push({ capture: name, exit: r.status, signal: r.signal, ms, transactions: txns, files, stderr });
  console.log(`${ok && !r.signal ? 'ok  ' : 'FAIL'} ${name.padEnd(52)} exit=${r.status ?? r.signal} txn=${txns} files=${files} ${ms}ms${stderr ? ' | ' + stderr.split('\n')[0].slice(0, 120) : ''}`);
  rmSync(out, { recursive: true, force: true });
}
console.log(`\n${captures.length} captures: ${failures} failed (crash, hang or multi-line error), ${withTxn} produced transactions, ${totalTxn} transactions in all`);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify(results, null, 1));
process.exitCode = failures ? 1 : 0;
