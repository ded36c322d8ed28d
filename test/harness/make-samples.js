#!/usr/bin/env node
// node test/harness/make-samples.js [outdir=samples]
// Runs the `sample` scenario and writes OUTDIR/web.pcap, web.pcapng, web.truth.json, then the
// `evidence` scenario (uploads, ranges, type lies, hostile names) as OUTDIR/evidence.pcapng and
// evidence.truth.json.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { makeCapture } from './capture.js';

const outdir = path.resolve(process.argv[2] || 'samples');
const work = fs.mkdtempSync(path.join(os.tmpdir(), 'xh-samples-'));
try {
  const cap = await makeCapture({ scenario: 'sample', dir: work, verbose: !!process.env.XH_VERBOSE });
  fs.mkdirSync(outdir, { recursive: true });
  const out = {
    pcap: path.join(outdir, 'web.pcap'),
    pcapng: path.join(outdir, 'web.pcapng'),
    truth: path.join(outdir, 'web.truth.json'),
  };
  fs.copyFileSync(cap.pcap, out.pcap);
  fs.copyFileSync(cap.pcapng, out.pcapng);
  fs.copyFileSync(cap.truthFile, out.truth);
  const ev = await makeCapture({ scenario: 'evidence', dir: path.join(work, 'evidence'), verbose: !!process.env.XH_VERBOSE });
  fs.copyFileSync(ev.pcapng, path.join(outdir, 'evidence.pcapng'));
  fs.copyFileSync(ev.truthFile, path.join(outdir, 'evidence.truth.json'));
  const size = (f) => fs.statSync(f).size;
  console.log(
    `mode=${cap.mode} transactions=${cap.truth.length} packets=${cap.packets} ` +
      `took=${cap.durationMs}ms\n${out.pcap} (${size(out.pcap)} B)\n${out.pcapng} (${size(out.pcapng)} B)\n${out.truth}`,
  );
} catch (e) {
  console.error('make-samples failed:', e.message);
  process.exitCode = 1;
} finally {
  fs.rmSync(work, { recursive: true, force: true });
}
