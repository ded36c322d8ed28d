#!/usr/bin/env node
// npm run bench [-- options] [capture.pcap]
//
// Generates (once, then cached) a seeded ~1 GiB capture of realistic HTTP traffic with its
// ground truth, runs extract-http on it with the default outputs, checks every recovered body
// against the truth, and prints MB/s, packets/s, transactions/s and peak RSS. When tcpflow and
// tshark are installed it runs them on the same capture, alternating with ours, and prints our
// speed as a ratio to each. Then it does the same for 10,000 short connections of one small
// transaction each. Timings are printed, never asserted.
//
//   --size 1G         size of the generated capture (e.g. 200M, 4G)
//   --seed 1          generator seed
//   --runs 3          runs of extract-http and tcpflow, alternating
//   --tshark-runs 1   runs of tshark (about 2 minutes per GiB); 0 skips it
//   --no-compare      run only extract-http
//   --no-short        skip the 10,000 short connections
//   --harness         use a real capture made by the test harness (scenario "full") instead
//   --cpu-prof        write a V8 CPU profile of the first run to the bench folder
//   --cache DIR       where generated captures are kept (default: $TMPDIR/extract-http-bench)
//   capture.pcap      bench this capture instead (its truth is read from capture.truth.json if present)
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, statfsSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { generate, parseSize } from './bench/generate.js';
import { verify } from './bench/verify.js';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const flag = (name) => { const i = args.indexOf(`--${name}`); if (i < 0) return false; args.splice(i, 1); return true; };
const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i < 0 ? dflt : args.splice(i, 2)[1]; };
const size = parseSize(opt('size', '1G'));
const seed = Number(opt('seed', '1'));
const runs = Number(opt('runs', '3'));
const tsharkRuns = Number(opt('tshark-runs', '1'));
const cacheDir = resolve(opt('cache', join(tmpdir(), 'extract-http-bench')));
const compare = !flag('no-compare');
const short = !flag('no-short');
const harness = flag('harness');
const cpuProf = flag('cpu-prof');
const work = mkdtempSync(join(tmpdir(), 'xh-bench-'));
mkdirSync(cacheDir, { recursive: true });

const timeBin = existsSync('/usr/bin/time') ? '/usr/bin/time' : null;
const have = (cmd) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const MB = 1e6;

/** Runs a command; returns wall seconds and peak RSS (MiB, when /usr/bin/time is there). */
function timed(cmd, argv, env) {
  const marker = join(work, 'time.txt');
  const full = timeBin ? [timeBin, ['-f', '%e %M', '-o', marker, cmd, ...argv]] : [cmd, argv];
  const t0 = process.hrtime.bigint();
  const r = spawnSync(full[0], full[1], { encoding: 'utf8', maxBuffer: 64 << 20, env: { ...process.env, ...env } });
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  if (r.status !== 0) throw new Error(`${cmd} failed (${r.status}): ${r.stderr.trim().split('\n').slice(-3).join(' | ')}`);
  const rss = timeBin ? Number(readFileSync(marker, 'utf8').trim().split(/\s+/).pop()) / 1024 : null;
  return { seconds, rss, stdout: r.stdout };
}

function ours(capture, out, prof) {
  // Node refuses --cpu-prof in NODE_OPTIONS; it profiles every thread when given on the command line.
  const argv = [...(prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : []), join(root, 'bin', 'extract-http.js'), capture, '-o', out];
  const r = timed(process.execPath, argv, {});
  const num = (label) => Number((new RegExp(`^${label}\\s+(\\d+)`, 'm').exec(r.stdout) ?? [])[1]);
  return { ...r, packets: num('packets'), transactions: num('transactions'), files: num('files') };
}

/**
 * Outputs of finished runs stay on disk until the bench ends. On ext4 without a journal (this
 * project's reference machine) the inode allocator steps over every inode freed in the last 60
 * to 300 seconds, one by one: 10,000 files created right after 10,000 were deleted took ~7 s of
 * kernel time instead of ~0.4 s (perf: recently_deleted, find_inode_bit). Deleting each run's
 * output before the next run would make every run after the first pay for the one before it.
 * Only when the disk runs short are the oldest outputs removed early.
 */
const kept = [];
function keep(dir) {
  kept.push(dir);
}
function roomFor(bytes) {
  const free = () => { const s = statfsSync(work); return s.bavail * s.bsize; };
  while (kept.length > 0 && free() < 2 * bytes + 2e9) rmSync(kept.shift(), { recursive: true, force: true });
}
let runNo = 0;

/**
 * Waits until the disks are idle: a run's gigabyte of files is still being written back, and
 * blocks freed early (roomFor) discarded, for seconds after it ends, and whichever tool ran
 * next paid for it. Every timed run, ours or another tool's, starts after this.
 */
function settle() {
  spawnSync('sync');
  const activity = () => {
    if (!existsSync('/proc/diskstats')) return null;
    let busy = 0;
    let done = 0;
    for (const line of readFileSync('/proc/diskstats', 'utf8').split('\n')) {
      const f = line.trim().split(/\s+/);
      if (f.length < 14 || /^(loop|ram|zram)/.test(f[2])) continue;
      // writes completed, I/Os in flight, discards and flushes completed (when the kernel has them)
      done += Number(f[7]) + Number(f[14] ?? 0) + Number(f[18] ?? 0);
      busy += Number(f[11]);
    }
    return `${done}/${busy}`;
  };
  const nap = (ms) => Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
  let last = activity();
  let quiet = 0;
  for (let waited = 0; last !== null && quiet < 3 && waited < 30000; waited += 250) {
    nap(250);
    const now = activity();
    quiet = now === last && now.endsWith('/0') ? quiet + 1 : 0;
    last = now;
  }
}

const median = (xs) => { const s = [...xs].sort((a, b) => a - b); return s[Math.floor(s.length / 2)]; };
const fmt = (r, bytes) =>
  `${r.seconds.toFixed(2)} s  ${(bytes / MB / r.seconds).toFixed(1)} MB/s` + (r.rss != null ? `  peak RSS ${r.rss.toFixed(0)} MiB` : '');

/** A generated capture from the cache, or a fresh one. */
function cached(profile, target) {
  const name = profile === 'short' ? `short-s${seed}-10000` : `mixed-s${seed}-${target}`;
  const pcap = join(cacheDir, `${name}.pcap`);
  const truthFile = join(cacheDir, `${name}.truth.json`);
  if (!existsSync(pcap) || !existsSync(truthFile)) {
    process.stdout.write(`generating ${pcap} ... `);
    const g = generate({ out: pcap, size: target, seed, profile });
    writeFileSync(truthFile, JSON.stringify(g));
    console.log(`${(g.bytes / MB).toFixed(0)} MB, ${g.packets} packets, ${g.connections} connections, ${g.transactions} transactions`);
  }
  return { pcap, truth: JSON.parse(readFileSync(truthFile, 'utf8')) };
}

function bench(label, capture, truth, { compareOthers, nRuns }) {
  const bytes = statSync(capture).size;
  console.log(`\n== ${label}: ${capture}`);
  console.log(`   ${(bytes / MB).toFixed(1)} MB` + (truth ? `, ${truth.packets} packets, ${truth.connections} connections, ${truth.transactions} transactions` +
    (truth.retransmitted != null ? ` (${truth.retransmitted} segments retransmitted, ${truth.reordered} reordered)` : '') : ''));
  const results = { ours: [], tcpflow: [], tshark: [] };
  const others = compareOthers ? ['tcpflow', 'tshark'].filter(have) : [];
  if (compareOthers && others.length < 2) console.log('   (tcpflow or tshark not installed: apt-get install -y tcpflow tshark to compare)');
  for (let i = 1; i <= nRuns; i++) {
    roomFor(bytes);
    const out = join(work, `out-${++runNo}`);
    const prof = cpuProf && i === 1 ? join(cacheDir, 'profiles') : null;
    settle();
    const r = ours(capture, out, prof);
    if (i === 1 && truth) {
      const v = verify(out, truth.truth);
      console.log(`   truth: ${v.ok}/${v.checked} transactions with every body exact` + (v.problems.length ? `; ${v.problems.length} problems:` : ''));
      for (const p of v.problems.slice(0, 10)) console.log(`     ${p}`);
    }
    keep(out);
    results.ours.push(r);
    console.log(`   extract-http run ${i}: ${fmt(r, bytes)}  ${Math.round(r.packets / r.seconds)} packets/s  ` +
      `${Math.round(r.transactions / r.seconds)} transactions/s  (${r.transactions} transactions, ${r.files} files)`);
    if (prof) console.log(`   cpu profile: ${prof}`);
    if (others.includes('tcpflow')) {
      const dir = join(work, `tcpflow-${runNo}`);
      roomFor(bytes);
      mkdirSync(dir);
      settle();
      const t = timed('tcpflow', ['-r', capture, '-o', dir, '-e', 'http']);
      const n = readdirSync(dir).length;
      keep(dir);
      results.tcpflow.push(t);
      console.log(`   tcpflow -e http run ${i}: ${fmt(t, bytes)}  (${n} files)`);
    }
    if (others.includes('tshark') && i <= tsharkRuns) {
      const dir = join(work, `tshark-${runNo}`);
      roomFor(bytes);
      settle();
      const t = timed('tshark', ['-q', '-r', capture, '--export-objects', `http,${dir}`]);
      const n = existsSync(dir) ? readdirSync(dir).length : 0;
      keep(dir);
      results.tshark.push(t);
      console.log(`   tshark --export-objects http run ${i}: ${fmt(t, bytes)}  (${n} objects)`);
    }
  }
  const o = median(results.ours.map((r) => r.seconds));
  const summary = { bytes, seconds: o, mbps: bytes / MB / o, rss: Math.max(...results.ours.map((r) => r.rss ?? 0)), tps: median(results.ours.map((r) => r.transactions / r.seconds)) };
  console.log(`   median: ${summary.mbps.toFixed(1)} MB/s, ${Math.round(summary.tps)} transactions/s, peak RSS ${summary.rss.toFixed(0)} MiB`);
  for (const other of ['tcpflow', 'tshark']) {
    if (!results[other].length) continue;
    const t = median(results[other].map((r) => r.seconds));
    summary[other] = t / o;
    console.log(`   vs ${other}: ${(t / o).toFixed(2)}x its speed (${(bytes / MB / t).toFixed(1)} MB/s, peak RSS ${Math.max(...results[other].map((r) => r.rss ?? 0)).toFixed(0)} MiB)`);
  }
  return summary;
}

try {
  const lines = [];
  if (args[0]) {
    const capture = resolve(args[0]);
    const tf = capture.replace(/\.pcap$/, '') + '.truth.json';
    bench('given capture', capture, existsSync(tf) ? JSON.parse(readFileSync(tf, 'utf8')) : null, { compareOthers: compare, nRuns: runs });
  } else if (harness) {
    const { makeCapture } = await import(pathToFileURL(join(root, 'test', 'harness', 'capture.js')).href);
    const cap = await makeCapture({ scenario: 'full', dir: work });
    bench(`harness scenario "full" (${cap.mode})`, cap.pcap, null, { compareOthers: compare, nRuns: runs });
  } else {
    const mixed = cached('mixed', size);
    const m = bench('mixed HTTP traffic', mixed.pcap, mixed.truth, { compareOthers: compare, nRuns: runs });
    lines.push(`throughput ${m.mbps.toFixed(1)} MB/s` + (m.tcpflow ? `, ${m.tcpflow.toFixed(2)}x tcpflow (target >= 1.5x)` : '') +
      (m.tshark ? `, ${m.tshark.toFixed(1)}x tshark` : ''));
    lines.push(`peak RSS ${m.rss.toFixed(0)} MiB on ${(m.bytes / MB).toFixed(0)} MB (target <= 250 MB)`);
    if (short) {
      const s = cached('short', 0);
      const r = bench('10,000 short connections', s.pcap, s.truth, { compareOthers: false, nRuns: runs });
      lines.push(`short connections ${Math.round(r.tps)} transactions/s (target >= 20,000)`);
    }
    console.log('\n== summary');
    for (const l of lines) console.log(`   ${l}`);
  }
} catch (e) {
  console.error(`bench: ${e.message}`);
  process.exitCode = 1;
} finally {
  rmSync(work, { recursive: true, force: true });
}
