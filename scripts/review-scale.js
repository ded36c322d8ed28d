#!/usr/bin/env node
// The review page at scale: extracts the samples, grows the log to N transactions (copies of
// the real ones, test/review-synth.js), times writeReviewPage, then opens the page in headless
// Chromium and times loading, filtering, sorting, paging and opening a transaction.
//
//   npm run build && node scripts/review-scale.js [N=100000] [--keep]
//
// Needs Debian's chromium (/usr/bin/chromium) and playwright-core (a devDependency).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { writeReviewPage } from '../dist/review/page.js';
import { growLog } from '../test/review-synth.js';

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const n = Number(process.argv.slice(2).find((a) => /^\d+$/.test(a)) ?? 100_000);
const keep = process.argv.includes('--keep');

function du(path) {
  const st = statSync(path);
  if (!st.isDirectory()) return st.size;
  return readdirSync(path).reduce((sum, f) => sum + du(join(path, f)), 0);
}
const mb = (b) => (b < 1048576 ? (b / 1024).toFixed(1) + ' KiB' : (b / 1048576).toFixed(1) + ' MiB');

const work = mkdtempSync(join(tmpdir(), 'xh-review-scale-'));
const out = join(work, 'out');
const r = spawnSync(process.execPath, [join(ROOT, 'bin', 'extract-http.js'), join(ROOT, 'samples', 'web.pcapng'),
  join(ROOT, 'samples', 'evidence.pcapng'), '-o', out], { encoding: 'utf8' });
if (r.status !== 0) throw new Error('extract-http failed: ' + r.stderr);
let t = performance.now();
const total = growLog(out, n);
console.log(`log grown to ${total} transactions in ${((performance.now() - t) / 1000).toFixed(1)} s (${mb(statSync(join(out, 'http.sqlite')).size)})`);

t = performance.now();
const res = writeReviewPage(out);
const genMs = performance.now() - t;
const rowFiles = readdirSync(join(out, 'review')).filter((f) => f.startsWith('rows-'));
const rowBytes = rowFiles.reduce((s, f) => s + statSync(join(out, 'review', f)).size, 0);
console.log(`writeReviewPage: ${res.transactions} transactions in ${(genMs / 1000).toFixed(2)} s, ${mb(res.bytes)} written`);
console.log(`  loaded with the page: index.html ${statSync(join(out, 'index.html')).size} B, app.js+style.css+meta.js ` +
  `${mb(du(join(out, 'review', 'app.js')) + du(join(out, 'review', 'style.css')) + du(join(out, 'review', 'meta.js')))}, ` +
  `${rowFiles.length} rows files ${mb(rowBytes)}`);
console.log(`  loaded on demand: review/details ${mb(du(join(out, 'review', 'details')))} in ${readdirSync(join(out, 'review', 'details')).length} files`);

const { chromium } = await import('playwright-core');
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
try {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const errors = [];
  page.on('pageerror', (e) => errors.push(e.message));
  t = performance.now();
  await page.goto(pathToFileURL(join(out, 'index.html')).href);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 120_000 });
  console.log(`browser: page ready in ${((performance.now() - t) / 1000).toFixed(2)} s; ` +
    `JS heap ${mb(await page.evaluate(() => performance.memory ? performance.memory.usedJSHeapSize : 0))}`);

  // Each step: change a control, wait until the table shows the new count; the wall time
  // includes the debounce of text inputs (120 ms) and the render; "filtered in" is the page's own.
  async function step(label, act) {
    const before = await page.getAttribute('#matching', 'data-n');
    const t0 = performance.now();
    await act();
    await page.waitForFunction((b) => document.querySelector('#matching').dataset.n !== b || window.__xhStepDone, before, { timeout: 60_000 }).catch(() => {});
    await page.waitForTimeout(0);
    const ms = performance.now() - t0;
    const shown = await page.$$eval('#tx tbody tr[data-id]', (rows) => rows.length);
    const own = await page.textContent('#timing');
    console.log(`  ${label.padEnd(34)} ${String(Math.round(ms)).padStart(5)} ms wall  ${own.padEnd(22)} matching ${await page.getAttribute('#matching', 'data-n')}, ${shown} rows shown`);
  }
  await step('host contains "h7."', () => page.fill('#f-host', 'h7.'));
  await step('+ status 2xx', () => page.selectOption('#f-status', '2xx'));
  await step('+ type image/', () => page.fill('#f-type', 'image/'));
  await step('reset', () => page.click('#f-reset'));
  await step('search "mismatch"', () => page.fill('#f-q', 'mismatch'));
  await step('search "logo.png"', () => page.fill('#f-q', 'logo.png'));
  await step('search cleared', () => page.fill('#f-q', ''));
  await step('only problems', () => page.selectOption('#f-problems', 'any'));
  await step('all transactions', () => page.selectOption('#f-problems', ''));

  for (const [label, k] of [['sort by size', 'size'], ['sort by URI', 'uri'], ['sort by time', 'time']]) {
    const t0 = performance.now();
    await page.click(`#tx th button[data-k="${k}"]`);
    await page.waitForFunction((key) => document.querySelector(`#tx th button[data-k="${key}"]`).classList.contains('sorted'), k);
    console.log(`  ${label.padEnd(34)} ${String(Math.round(performance.now() - t0)).padStart(5)} ms wall`);
  }
  let t0 = performance.now();
  await page.click('#p-last');
  await page.waitForFunction(() => document.querySelector('#p-last').disabled);
  console.log(`  ${'last page'.padEnd(34)} ${String(Math.round(performance.now() - t0)).padStart(5)} ms wall`);
  t0 = performance.now();
  await page.click('#tx tbody tr[data-id]');
  await page.waitForSelector('#details[data-loaded="1"]');
  console.log(`  ${'open a transaction (details file)'.padEnd(34)} ${String(Math.round(performance.now() - t0)).padStart(5)} ms wall`);
  if (errors.length) console.log('page errors:', errors);
} finally {
  await browser.close();
  if (keep) console.log('kept', out);
  else rmSync(work, { recursive: true, force: true });
}
