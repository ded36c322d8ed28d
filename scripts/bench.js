#!/usr/bin/env node
// npm run bench [-- capture.pcap] [--runs N]
// Runs extract-http on a capture (by default a fresh real capture from the harness) and prints
// throughput and peak memory. Timings are printed, never asserted.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve, dirname } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const runsAt = args.indexOf('--runs');
const runs = runsAt >= 0 ? Number(args.splice(runsAt, 2)[1]) : 3;
const work = mkdtempSync(join(tmpdir(), 'xh-bench-'));
let capture = args[0] ? resolve(args[0]) : null;
if (!capture) {
  const { makeCapture } = await import(pathToFileURL(join(root, 'test', 'harness', 'capture.js')).href);
  const cap = await makeCapture({ scenario: 'full', dir: work });
  capture = cap.pcap;
  console.log(`capture: harness scenario "full" (${cap.mode}), ${cap.truth.length} transactions`);
}
const size = statSync(capture).size;
console.log(`capture: ${capture} (${(size / 1e6).toFixed(1)} MB)`);
const child = `
  const { extract } = await import(${JSON.stringify(pathToFileURL(join(root, 'dist', 'extract.js')).href)});
  const s = await extract({ inputs: [process.argv[1]], outDir: process.argv[2] });
  process.stdout.write(JSON.stringify({ ...s, maxRssKiB: process.resourceUsage().maxRSS }));
`;
for (let i = 1; i <= runs; i++) {
  const out = join(work, `out-${i}`);
  const r = spawnSync(process.execPath, ['--input-type=module', '-e', child, capture, out], { encoding: 'utf8' });
  if (r.status !== 0) { console.error(r.stderr); process.exit(1); }
  const s = JSON.parse(r.stdout);
  console.log(
    `run ${i}: ${s.seconds.toFixed(3)} s  ${(size / 1e6 / s.seconds).toFixed(1)} MB/s  ` +
    `${Math.round(s.packets / s.seconds)} packets/s  ${Math.round(s.transactions / s.seconds)} transactions/s  ` +
    `peak RSS ${(s.maxRssKiB / 1024).toFixed(0)} MiB  (${s.transactions} transactions, ${s.files} files)`,
  );
  rmSync(out, { recursive: true, force: true });
}
rmSync(work, { recursive: true, force: true });
