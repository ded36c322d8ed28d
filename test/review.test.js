// The review page (out/index.html): written from a real run's log, checked as data, then
// opened from file:// in headless Chromium (Debian's chromium, driven by playwright-core):
// rows, filters, thumbnails, the details view, hostile text, and a screenshot for the README.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { cpSync, existsSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import vm from 'node:vm';
import Database from 'better-sqlite3';
import { writeReviewPage, fileHref, ROWS_PER_FILE, DETAILS_PER_FILE } from '../dist/review/page.js';
import { growLog } from './review-synth.js';
import { cli, openLog, tmp, ROOT, SAMPLES } from './helpers.js';

const CHROMIUM = '/usr/bin/chromium';
const HOSTILE_URI = '/x/<script>window.__pwned=1</script>"><img src=x onerror="window.__pwned=2">';
const HOSTILE_HOST = '"><img src=x onerror=window.__pwned=3>';
const HOSTILE_METHOD = '<svg onload=window.__pwned=4>';
const HOSTILE_NAME = '<b>X-Evil</b>';
const HOSTILE_VALUE = '"><img src=x onerror="window.__pwned=5"><script>window.__pwned=6</script>';
const HOSTILE_DETAIL = '</script><script>window.__pwned=7</script>';
const HOSTILE_PATH = 'files/"><img src=x onerror=window.__pwned=8>/a b#?.txt';

let work;
let out; // a real run on the samples
let hostile; // a copy whose log carries hostile text
before(() => {
  work = tmp('xh-review-');
  out = join(work, 'out');
  const r = cli([join(SAMPLES, 'web.pcapng'), join(SAMPLES, 'evidence.pcapng'), '-o', out]);
  assert.equal(r.status, 0, r.stderr);

  hostile = join(work, 'hostile');
  cpSync(out, hostile, { recursive: true });
  const db = new Database(join(hostile, 'http.sqlite'));
  db.prepare('UPDATE transactions SET uri = ?, host = ?, method = ?, anomalies = 1 WHERE id = 5').run(HOSTILE_URI, HOSTILE_HOST, HOSTILE_METHOD);
  db.prepare("INSERT INTO headers (transaction_id, direction, position, name, value) VALUES (5, 'response', 99, ?, ?)").run(HOSTILE_NAME, HOSTILE_VALUE);
  db.prepare("INSERT INTO anomalies (scope, transaction_id, kind, detail) VALUES ('transaction', 5, 'bare-lf', ?)").run(HOSTILE_DETAIL);
  db.prepare('UPDATE files SET path = ?, original_name = ? WHERE id = (SELECT response_file_id FROM transactions WHERE id = 5)').run(HOSTILE_PATH, HOSTILE_VALUE);
  db.prepare("UPDATE files SET path = '../../../../etc/passwd' WHERE id = (SELECT response_file_id FROM transactions WHERE id = 4)").run();
  db.close();
});
after(() => rmSync(work, { recursive: true, force: true }));

/** Runs the page's data files in a sandbox, as the page would, and returns what they hold. */
function loadData(dir) {
  const dict = [''];
  const rows = [];
  const details = {};
  let meta = null;
  const XH = {
    d: (a) => dict.push(...a),
    r: (a) => rows.push(...a),
    m: (m) => (meta = JSON.parse(JSON.stringify(m))),
    x: (c, d) => (details[c] = d),
  };
  const html = readFileSync(join(dir, 'index.html'), 'utf8');
  const srcs = [...html.matchAll(/<script src="([^"]+)"><\/script>/g)].map((m) => m[1]);
  for (const src of srcs.filter((s) => s !== 'review/app.js')) vm.runInNewContext(readFileSync(join(dir, src), 'utf8'), { XH });
  for (const f of readdirSync(join(dir, 'review', 'details'))) {
    vm.runInNewContext(readFileSync(join(dir, 'review', 'details', f), 'utf8'), { XH });
  }
  return { html, srcs, dict, rows, details, meta };
}

function du(path) {
  const st = statSync(path);
  return st.isDirectory() ? readdirSync(path).reduce((s, f) => s + du(join(path, f)), 0) : st.size;
}

/** The transaction ids a count on the log selects. */
function ids(dir, sql, ...args) {
  const db = openLog(dir);
  try {
    return db.prepare(sql).all(...args).map((r) => r.id);
  } finally {
    db.close();
  }
}

// The row's file is the response body, else the request body (as the page defines it).
const MAIN_FILE = 'LEFT JOIN files f ON f.id = coalesce(t.response_file_id, t.request_file_id)';
const PROBLEM = `(t.anomalies > 0 OR t.request_missing_bytes > 0 OR t.response_missing_bytes > 0
  OR EXISTS (SELECT 1 FROM files x WHERE x.transaction_id = t.id AND (x.type_mismatch = 1 OR x.complete = 0)))`;
const THUMB_TYPES = "('image/png', 'image/jpeg', 'image/gif', 'image/webp', 'image/bmp', 'image/svg+xml', 'image/x-icon', 'image/avif')";

test('writeReviewPage names every transaction of a real run, with its file', () => {
  const res = writeReviewPage(out);
  const db = openLog(out);
  const txs = db.prepare(`SELECT t.id, t.uri, t.host, t.status_code, f.path, f.sha256 FROM transactions t ${MAIN_FILE} ORDER BY t.id`).all();
  db.close();
  assert.equal(res.transactions, txs.length);
  assert.equal(res.transactions, 40);

  const { html, srcs, dict, rows, details, meta } = loadData(out);
  assert.deepEqual(srcs, ['review/app.js', 'review/meta.js', 'review/rows-0000.js']);
  assert.match(html, /<title>extract-http review: 40 transactions<\/title>/);
  assert.equal(meta.transactions, 40);
  assert.deepEqual(meta.problems, { mismatch: 2, partial: 1, anomalies: 0, noResponse: 0, any: 3 });
  assert.equal(rows.length, txs.length);
  const byId = new Map(rows.map((r) => [r[0], r]));
  for (const t of txs) {
    const r = byId.get(t.id);
    assert.ok(r, `row for transaction ${t.id}`);
    assert.equal(r[8], t.uri, `uri of ${t.id}`);
    assert.equal(dict[r[7]], t.host ?? '', `host of ${t.id}`);
    assert.equal(r[9], t.status_code, `status of ${t.id}`);
    const path = r[16] ? dict[r[16]] + '/' + r[17] : r[17];
    assert.equal(path, t.path ?? '', `file of ${t.id}`);
    assert.equal(r[13], t.sha256 ?? '', `sha256 of ${t.id}`);
    if (t.path) assert.ok(existsSync(join(out, t.path)), t.path);
    assert.ok(details[Math.floor(rows.indexOf(r) / DETAILS_PER_FILE)][String(t.id)], `details of ${t.id}`);
  }
  // Every byte written is counted, and only index.html and review/ were written.
  assert.equal(res.bytes, du(join(out, 'index.html')) + du(join(out, 'review')));
  assert.deepEqual(readdirSync(out).filter((f) => !f.startsWith('http.sqlite')).sort(), ['files', 'index.html', 'review']);
});

test('the page is self-contained and its data cannot break out of a script', () => {
  writeReviewPage(hostile);
  const html = readFileSync(join(hostile, 'index.html'), 'utf8');
  assert.match(html, /Content-Security-Policy" content="default-src 'none'; script-src 'self'/);
  assert.doesNotMatch(html, /<script>|<script [^>]*>[^<]/, 'no inline script');
  assert.doesNotMatch(html, /https?:\/\//, 'no network address');
  for (const f of [...readdirSync(join(hostile, 'review')).filter((f) => f.endsWith('.js')).map((f) => join(hostile, 'review', f)),
    ...readdirSync(join(hostile, 'review', 'details')).map((f) => join(hostile, 'review', 'details', f))]) {
    const text = readFileSync(f, 'latin1');
    assert.doesNotMatch(text, /[^\x09\x0a\x0d\x20-\x7e]/, `${f} is plain ASCII`);
    if (!f.endsWith('app.js')) assert.doesNotMatch(text, /[<>&]/, `${f} has no < > &`);
  }
  const { rows, dict, details } = loadData(hostile);
  const r = rows.find((x) => x[0] === 5);
  assert.equal(r[8], HOSTILE_URI);
  assert.equal(dict[r[7]], HOSTILE_HOST);
  assert.equal(details[0]['5'].headers.at(-1)[2], HOSTILE_NAME);
  assert.equal(details[0]['5'].headers.at(-1)[3], HOSTILE_VALUE);
  assert.equal(details[0]['5'].anomalies[0][1], HOSTILE_DETAIL);
  assert.ok(rows.find((x) => x[0] === 4)[14] & 32, 'a path that leaves the folder is flagged unsafe');
});

test('file links are relative, inside the output folder, one encoded segment at a time', () => {
  assert.equal(fileHref('files/10.77.1.2/t01/page.html'), 'files/10.77.1.2/t01/page.html');
  assert.equal(fileHref('files/a b/#?%/x.png'), 'files/a%20b/%23%3F%25/x.png');
  assert.equal(fileHref('files/javascript:alert(1)'), 'files/javascript%3Aalert(1)');
  for (const bad of ['../x', 'files/../../x', '/etc/passwd', 'C:/x', 'files//x', 'files/./x', 'files\\..\\x', '']) {
    assert.equal(fileHref(bad), null, bad);
  }
});

test('writing the page again replaces it, leaving nothing behind', () => {
  const dir = join(work, 'again');
  cpSync(out, dir, { recursive: true });
  const first = writeReviewPage(dir);
  const second = writeReviewPage(dir);
  assert.deepEqual(second, first);
  assert.ok(!existsSync(join(dir, '.review.tmp')) && !existsSync(join(dir, '.index.html.tmp')));
});

test('scale: 20,000 transactions stream into several row and details files', (t) => {
  const dir = join(work, 'big');
  cpSync(out, dir, { recursive: true });
  const n = growLog(dir, 20_000);
  const t0 = performance.now();
  const res = writeReviewPage(dir);
  const ms = performance.now() - t0;
  assert.equal(res.transactions, n);
  const rowFiles = readdirSync(join(dir, 'review')).filter((f) => f.startsWith('rows-'));
  assert.equal(rowFiles.length, Math.ceil(n / ROWS_PER_FILE));
  assert.equal(readdirSync(join(dir, 'review', 'details')).length, Math.ceil(n / DETAILS_PER_FILE));
  const { rows } = loadData(dir);
  assert.equal(new Set(rows.map((r) => r[0])).size, n);
  t.diagnostic(`20k transactions: ${ms.toFixed(0)} ms, ${(res.bytes / 1048576).toFixed(1)} MiB`);
});

async function browserUnavailable() {
  if (!existsSync(CHROMIUM)) return `no ${CHROMIUM}: install Debian's chromium (apt-get install -y chromium; .ci/run does)`;
  try {
    await import('playwright-core');
  } catch {
    return 'playwright-core is not installed (npm install)';
  }
  return null;
}

/** Opens a page from file:// and waits until its data is in. */
async function open(browser, dir) {
  const page = await browser.newPage({ viewport: { width: 1280, height: 800 } });
  const problems = [];
  page.on('pageerror', (e) => problems.push('page error: ' + e.message));
  page.on('dialog', (d) => { problems.push('dialog: ' + d.message()); d.dismiss(); });
  page.on('request', (r) => { if (!r.url().startsWith('file://')) problems.push('network: ' + r.url()); });
  page.on('console', (m) => { if (m.type() === 'error') problems.push('console: ' + m.text()); });
  await page.goto(pathToFileURL(join(dir, 'index.html')).href);
  await page.waitForSelector('body[data-ready="1"]', { timeout: 30_000 });
  return { page, problems };
}

async function matching(page, n, what) {
  await page
    .waitForFunction((want) => document.querySelector('#matching').dataset.n === String(want), n, { timeout: 5_000 })
    .catch(() => {});
  assert.equal(Number(await page.getAttribute('#matching', 'data-n')), n, what);
  const shown = await page.$$eval('#tx tbody tr[data-id]', (trs) => trs.map((tr) => Number(tr.dataset.id)));
  assert.equal(shown.length, Math.min(n, 100), what + ': rows shown');
  return shown;
}

test('in headless Chromium: rows, filters, thumbnails, details, hostile text, screenshot', { timeout: 90_000 }, async (t) => {
  const why = await browserUnavailable();
  if (why) {
    t.skip(why);
    return;
  }
  const { chromium } = await import('playwright-core');
  const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox'] });
  try {
    writeReviewPage(out);
    const { page, problems } = await open(browser, out);
    const all = ids(out, 'SELECT id FROM transactions ORDER BY id');

    await t.test('every transaction is a row', async () => {
      const shown = await matching(page, all.length, 'all');
      assert.deepEqual(shown.slice().sort((a, b) => a - b), all);
    });

    await t.test('filters give the log\'s counts', async () => {
      const check = async (what, sql, ...args) => {
        const want = ids(out, sql, ...args);
        const shown = await matching(page, want.length, what);
        assert.deepEqual(shown.slice().sort((a, b) => a - b), want, what);
      };
      await page.fill('#f-host', 'fd77');
      await check('host contains fd77', "SELECT id FROM transactions WHERE instr(lower(host), 'fd77') > 0 ORDER BY id");
      await page.fill('#f-host', '');
      await page.selectOption('#f-status', '2xx');
      await check('status 2xx', 'SELECT id FROM transactions WHERE status_code BETWEEN 200 AND 299 ORDER BY id');
      await page.selectOption('#f-status', '206');
      await check('status 206', 'SELECT id FROM transactions WHERE status_code = 206 ORDER BY id');
      await page.fill('#f-host', '10.77.1.2');
      await check('host and status', "SELECT id FROM transactions WHERE status_code = 206 AND instr(host, '10.77.1.2') > 0 ORDER BY id");
      await page.fill('#f-host', '');
      await page.selectOption('#f-status', '');
      await page.fill('#f-type', 'image/');
      await check('type image/', `SELECT t.id FROM transactions t ${MAIN_FILE}
        WHERE coalesce(f.declared_type, CASE WHEN f.id IS NULL THEN coalesce(t.response_content_type, t.request_content_type) END) LIKE 'image/%'
           OR f.sniffed_type LIKE 'image/%' ORDER BY t.id`);
      await page.fill('#f-type', '');
      await page.selectOption('#f-problems', 'any');
      await check('only problems', `SELECT t.id FROM transactions t WHERE ${PROBLEM} ORDER BY t.id`);
      await page.selectOption('#f-problems', 'mismatch');
      await check('type mismatches', 'SELECT DISTINCT transaction_id AS id FROM files WHERE type_mismatch = 1 ORDER BY id');
      await page.selectOption('#f-problems', 'partial');
      await check('partial', 'SELECT DISTINCT transaction_id AS id FROM files WHERE complete = 0 ORDER BY id');
      await page.selectOption('#f-problems', '');
      const logo = ids(out, "SELECT response_file_id AS id FROM transactions WHERE uri = '/t02/img/logo.png'")[0];
      const db = openLog(out);
      const sha = db.prepare('SELECT sha256 FROM files WHERE id = ?').pluck().get(logo);
      db.close();
      await page.fill('#f-q', sha.toUpperCase());
      await check('free text: a sha256', `SELECT t.id FROM transactions t ${MAIN_FILE} WHERE f.sha256 = ? ORDER BY t.id`, sha);
      await page.fill('#f-q', 'mismatch GET');
      await check('free text: two words', "SELECT id FROM transactions WHERE uri LIKE '%mismatch%' AND method = 'GET' ORDER BY id");
      await page.click('#f-reset');
      await matching(page, all.length, 'reset');
    });

    await t.test('sorting by a column', async () => {
      await page.click('#tx th button[data-k="size"]');
      await page.click('#tx th button[data-k="size"]');
      await page.waitForSelector('#tx th button[data-k="size"].sorted.desc');
      const first = await page.getAttribute('#tx tbody tr:first-child', 'data-id');
      const want = ids(out, `SELECT t.id FROM transactions t ${MAIN_FILE} ORDER BY f.size DESC, t.id LIMIT 1`)[0];
      assert.equal(Number(first), want);
      await page.click('#tx th button[data-k="time"]');
      await page.waitForSelector('#tx th button[data-k="time"].sorted:not(.desc)');
    });

    await t.test('mismatches, partial bodies and anomalies are highlighted', async () => {
      for (const id of ids(out, 'SELECT DISTINCT transaction_id AS id FROM files WHERE type_mismatch = 1')) {
        assert.match(await page.getAttribute(`tr[data-id="${id}"]`, 'class'), /\bmismatch\b/);
        assert.equal(await page.textContent(`tr[data-id="${id}"] .badge.mismatch`), 'mismatch');
        assert.equal(await page.$$eval(`tr[data-id="${id}"] .sniff-mismatch`, (e) => e.length), 1);
      }
      for (const id of ids(out, 'SELECT DISTINCT transaction_id AS id FROM files WHERE complete = 0')) {
        assert.match(await page.getAttribute(`tr[data-id="${id}"]`, 'class'), /\bpartial\b/);
      }
      const colors = await page.$$eval('tr.mismatch, tr.partial', (trs) => trs.map((tr) => getComputedStyle(tr).backgroundColor));
      assert.ok(colors.every((c) => c !== 'rgba(0, 0, 0, 0)'), 'highlighted rows have a background');
    });

    await t.test('thumbnails load for image rows, and file links point inside the folder', async () => {
      const want = ids(out, `SELECT DISTINCT transaction_id AS id FROM files WHERE sniffed_type IN ${THUMB_TYPES} AND size > 0 ORDER BY id`);
      assert.ok(want.length >= 2, 'the samples have images');
      const thumbs = page.locator('#tx img.thumb');
      assert.equal(await thumbs.count(), want.length);
      const withThumb = await page.$$eval('#tx tbody tr:has(img.thumb)', (trs) => trs.map((tr) => Number(tr.dataset.id)));
      assert.deepEqual(withThumb.sort((a, b) => a - b), want);
      for (let i = 0; i < want.length; i++) {
        const img = thumbs.nth(i);
        await img.scrollIntoViewIfNeeded();
        await page.waitForFunction((el) => el.complete && el.naturalWidth > 0, await img.elementHandle(), { timeout: 5_000 });
      }
      const hrefs = await page.$$eval('#tx td.c-file a', (as) => as.map((a) => a.getAttribute('href')));
      assert.equal(hrefs.length, ids(out, `SELECT t.id FROM transactions t ${MAIN_FILE} WHERE f.id IS NOT NULL`).length);
      for (const h of hrefs) {
        assert.match(h, /^files\/[^/]/);
        assert.ok(existsSync(join(out, decodeURIComponent(h))), h);
      }
      await page.evaluate(() => window.scrollTo(0, 0));
    });

    await t.test('the details view shows a transaction\'s headers, files and hashes', async () => {
      const [id] = ids(out, "SELECT id FROM transactions WHERE uri = '/t02/upload/hostile'");
      await page.click(`tr[data-id="${id}"] td.c-uri`);
      await page.waitForSelector(`#details[data-id="${id}"][data-loaded="1"]`);
      const db = openLog(out);
      const hs = db.prepare(`SELECT direction, position, name, value FROM headers WHERE transaction_id = ?
        ORDER BY CASE direction WHEN 'request' THEN 0 WHEN 'response' THEN 1 ELSE 2 END, position`).all(id);
      const fs = db.prepare('SELECT path, sha256 FROM files WHERE transaction_id = ?').all(id);
      db.close();
      const shown = await page.$$eval('#details table.hdr tbody tr', (trs) => trs.map((tr) => [...tr.cells].map((c) => c.textContent)));
      assert.deepEqual(shown, hs.map((h) => [String(h.position), h.name, h.value]));
      assert.equal(await page.textContent('#details h3:has(+ table.hdr-request)'), `Request headers (${hs.filter((h) => h.direction === 'request').length})`);
      const text = await page.textContent('#details');
      for (const f of fs) {
        assert.ok(text.includes(f.sha256), f.sha256);
        assert.ok(text.includes(f.path), f.path);
      }
      assert.equal(await page.$$eval('#details .file', (e) => e.length), fs.length);
      assert.ok(page.url().includes('tx=' + id), 'the open transaction is in the URL');
      await page.keyboard.press('Escape');
      await page.waitForSelector('#details', { state: 'hidden' });
    });

    await t.test('a screenshot for the README', async () => {
      // Newest first: the evidence capture's mismatches, partial body and images are on screen.
      await page.click('#tx th button[data-k="time"]');
      await page.waitForSelector('#tx th button[data-k="time"].sorted.desc');
      await page.mouse.move(0, 0);
      await page.evaluate(() => window.scrollTo(0, 0));
      await page.waitForFunction(() => [...document.querySelectorAll('#tx img.thumb')]
        .filter((i) => i.getBoundingClientRect().top < innerHeight).every((i) => i.complete && i.naturalWidth > 0));
      // Kept with the test's output; UPDATE_SCREENSHOT=1 refreshes the README's copy, so that
      // a test run never changes a committed file.
      const png = process.env.UPDATE_SCREENSHOT ? join(ROOT, 'docs', 'review.png') : join(tmp(), 'review.png');
      await page.screenshot({ path: png });
      t.diagnostic(`screenshot: ${png}`);
      assert.ok(statSync(png).size > 10_000 && statSync(png).size < 400_000, 'a real picture, reasonably small');
    });
    assert.deepEqual(problems, []);

    await t.test('hostile text from the network is inert and shown as text', async () => {
      writeReviewPage(hostile);
      const { page: hp, problems: hprob } = await open(browser, hostile);
      await hp.fill('#f-q', 'onerror');
      const shown = await matching(hp, 1, 'the one hostile row');
      assert.deepEqual(shown, [5]);
      assert.equal(await hp.textContent('tr[data-id="5"] td.c-uri'), HOSTILE_URI);
      assert.equal(await hp.textContent('tr[data-id="5"] td.c-host'), HOSTILE_HOST);
      assert.equal(await hp.textContent('tr[data-id="5"] td.c-method'), HOSTILE_METHOD);
      assert.match(await hp.getAttribute('tr[data-id="5"]', 'class'), /\banom\b/);
      const href = HOSTILE_PATH.split('/').map(encodeURIComponent).join('/');
      assert.equal(await hp.getAttribute('tr[data-id="5"] td.c-file a', 'href'), href);
      await hp.fill('#f-q', '');
      await matching(hp, 40, 'all again');
      assert.equal(await hp.$$eval('tr[data-id="4"] td.c-file a', (a) => a.length), 0, 'no link for a path that leaves the folder');
      await hp.click('tr[data-id="5"] td.c-status');
      await hp.waitForSelector('#details[data-id="5"][data-loaded="1"]');
      const last = await hp.$$eval('#details table.hdr-response tbody tr:last-child td', (tds) => tds.map((td) => td.textContent));
      assert.deepEqual(last, ['99', HOSTILE_NAME, HOSTILE_VALUE]);
      assert.ok((await hp.textContent('#details .anomaly')).includes(HOSTILE_DETAIL));
      assert.ok((await hp.textContent('#details')).includes(HOSTILE_VALUE), 'the file\'s hostile original name, as text');
      const injected = await hp.evaluate(() => ({
        pwned: window.__pwned,
        handlers: document.querySelectorAll('[onerror], [onload], svg').length,
        inline: [...document.scripts].filter((s) => !s.getAttribute('src')).length,
        srcs: [...document.scripts].map((s) => s.getAttribute('src')).filter((s) => !/^review\//.test(s)),
        foreignImgs: [...document.images].map((i) => i.getAttribute('src')).filter((s) => !/^files\//.test(s)),
        links: [...document.querySelectorAll('a[href]')].map((a) => a.getAttribute('href')).filter((h) => !/^(files\/|#)/.test(h)),
      }));
      assert.deepEqual(injected, { pwned: undefined, handlers: 0, inline: 0, srcs: [], foreignImgs: [], links: [] });
      assert.deepEqual(hprob, []);
      await hp.close();
    });

    await t.test('20,000 transactions: loads, filters and pages', async () => {
      const dir = join(work, 'big');
      if (!existsSync(join(dir, 'review'))) {
        cpSync(out, dir, { recursive: true });
        growLog(dir, 20_000);
        writeReviewPage(dir);
      }
      const t0 = performance.now();
      const { page: bp, problems: bprob } = await open(browser, dir);
      const loadMs = performance.now() - t0;
      const n = ids(dir, 'SELECT count(*) AS id FROM transactions')[0];
      await matching(bp, n, 'all');
      const t1 = performance.now();
      await bp.fill('#f-host', 'h7.');
      await matching(bp, ids(dir, "SELECT id FROM transactions WHERE instr(lower(host), 'h7.') > 0").length, 'host h7.');
      const filterMs = performance.now() - t1;
      await bp.click('#p-next');
      await bp.waitForFunction(() => document.querySelector('#p-page').value === '2');
      t.diagnostic(`20k: page ready in ${loadMs.toFixed(0)} ms, host filter in ${filterMs.toFixed(0)} ms`);
      assert.ok(loadMs < 20_000 && filterMs < 5_000, 'responsive');
      assert.deepEqual(bprob, []);
      await bp.close();
    });
  } finally {
    await browser.close();
  }
});
