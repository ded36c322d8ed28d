// The review commands on a real run of the samples: query, ls and show; and the run's own
// output modes: --json, --quiet, and the progress bar on a terminal only.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { BIN, cli, openLog, SAMPLES, tmp } from './helpers.js';

const out = join(tmp(), 'out');
const first = cli([join(SAMPLES, 'evidence.pcapng'), '-o', out, '--json']);

test('--json prints the summary as one JSON object, and nothing else on stdout', () => {
  assert.equal(first.status, 0, first.stderr);
  const lines = first.stdout.trim().split('\n');
  assert.equal(lines.length, 1);
  const s = JSON.parse(lines[0]);
  const db = openLog(out);
  assert.equal(s.transactions, db.prepare('SELECT count(*) AS n FROM transactions').get().n);
  assert.equal(s.files, db.prepare('SELECT count(*) AS n FROM files').get().n);
  assert.equal(s.database, join(out, 'http.sqlite'));
  db.close();
});

test('--quiet prints nothing but errors', () => {
  const dir = tmp();
  const r = cli([join(SAMPLES, 'web.pcap'), '-o', join(dir, 'out'), '--quiet']);
  assert.equal(r.status, 0);
  assert.equal(r.stdout, '');
  assert.equal(r.stderr, '');
  const bad = cli([join(SAMPLES, 'web.truth.json'), '-o', join(dir, 'out2'), '-q']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^extract-http: not a pcap or pcapng file/);
});

test('a progress bar on a terminal, none in a pipe', (t) => {
  assert.doesNotMatch(first.stderr, /ETA|\r/, 'no bar when stderr is not a terminal');
  if (spawnSync('script', ['--version']).status !== 0) return t.skip('script(1) is needed to give the run a terminal');
  const dir = tmp();
  // script(1) gives the command a pseudo-terminal, as a person's shell would.
  const cmd = `stty cols 200; ${process.execPath} ${BIN} ${join(SAMPLES, 'evidence.pcapng')} -o ${join(dir, 'out')}`;
  const r = spawnSync('script', ['-qec', cmd, '/dev/null'], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stdout);
  assert.match(r.stdout, /\[#+-*\] +\d+%  .* of .*MB\/s  ETA [\d:-]+  \d+ transactions, \d+ files/, 'the bar was drawn');
  assert.match(r.stdout, /\r\x1b\[K(\r\n)?captures +1/, 'the bar is erased before the summary');
});

test('query runs read-only SQL and prints a table, CSV or JSON', () => {
  const r = cli(['query', out, 'SELECT method, count(*) AS n FROM http GROUP BY method ORDER BY method']);
  assert.equal(r.status, 0, r.stderr);
  const db = openLog(out);
  const want = db.prepare('SELECT method, count(*) AS n FROM http GROUP BY method ORDER BY method').all();
  db.close();
  const lines = r.stdout.trim().split('\n');
  assert.match(lines[0], /^method +n$/);
  assert.equal(lines.at(-1), `(${want.length} row${want.length === 1 ? '' : 's'})`);
  for (const w of want) assert.ok(lines.some((l) => new RegExp(`^${w.method} +${w.n}$`).test(l)), JSON.stringify(w));
  const json = JSON.parse(cli(['query', out, 'SELECT method, count(*) AS n FROM http GROUP BY method ORDER BY method', '--json']).stdout);
  assert.deepEqual(json, want);
  const csv = cli(['query', out, 'SELECT uri, status_code FROM http ORDER BY transaction_id LIMIT 2', '--csv']).stdout;
  assert.match(csv, /^uri,status_code\r\n[^\r\n]+,\d+\r\n[^\r\n]+,\d+\r\n$/);
  const write = cli(['query', out, 'DELETE FROM files']);
  assert.equal(write.status, 1);
  assert.match(write.stderr, /only statements that return rows/);
  const bad = cli(['query', out, 'SELEC 1']);
  assert.equal(bad.status, 1);
  assert.match(bad.stderr, /^extract-http: SQL: .*syntax error\n$/);
  assert.equal(cli(['query', join(tmp(), 'nothing'), 'SELECT 1']).status, 1);
});

test('ls filters by host, status class and type prefix, the way the log says', () => {
  const db = openLog(out);
  const images = db.prepare(`SELECT t.id FROM transactions t LEFT JOIN files f ON f.id = t.response_file_id
    WHERE t.response_content_type LIKE 'image/%' OR f.sniffed_type LIKE 'image/%' OR t.request_content_type LIKE 'image/%'
    OR t.request_file_id IN (SELECT id FROM files WHERE sniffed_type LIKE 'image/%') ORDER BY t.ts, t.id`).all().map((r) => r.id);
  const ok = db.prepare('SELECT id FROM transactions WHERE status_code BETWEEN 200 AND 299 ORDER BY ts, id').all().map((r) => r.id);
  const host = db.prepare('SELECT host FROM transactions WHERE host IS NOT NULL LIMIT 1').get().host;
  const all = db.prepare('SELECT count(*) AS n FROM transactions').get().n;
  db.close();
  const ids = (args) => JSON.parse(cli(['ls', out, ...args, '--json']).stdout).map((r) => r.id);
  assert.ok(images.length > 0);
  assert.deepEqual(ids(['--type', 'image/']), images);
  assert.deepEqual(ids(['--status', '2xx']), ok);
  assert.equal(ids(['--host', host]).length, all);
  assert.deepEqual(ids(['--host', 'no.such.host']), []);
  assert.equal(ids(['--limit', '3']).length, 3);
  const table = cli(['ls', out, '--type', 'image/']);
  assert.match(table.stdout.split('\n')[0], /^id +time +client +server +method +host +uri +status +type +size +complete +anomalies +file$/);
  assert.equal(cli(['ls', out, '--status', 'teapot']).status, 1);
});

test('show prints one transaction: request and response heads in wire order, files, anomalies', () => {
  const db = openLog(out);
  const t = db.prepare('SELECT * FROM transactions WHERE response_file_id IS NOT NULL ORDER BY id LIMIT 1').get();
  const hdrs = db.prepare("SELECT name, value FROM headers WHERE transaction_id = ? AND direction = 'response' ORDER BY position").all(t.id);
  const file = db.prepare('SELECT * FROM files WHERE id = ?').get(t.response_file_id);
  db.close();
  const r = cli(['show', out, String(t.id)]);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, new RegExp(`^transaction ${t.id} `));
  assert.ok(r.stdout.includes(`> ${t.method} ${t.uri} HTTP/${t.version}\n`));
  const shown = r.stdout.split('\n').filter((l) => l.startsWith('< ') && l.includes(': ')).map((l) => l.slice(2));
  assert.deepEqual(shown, hdrs.map((h) => `${h.name}: ${h.value}`));
  assert.ok(r.stdout.includes(file.path) && r.stdout.includes(file.sha256));
  const json = JSON.parse(cli(['show', out, String(t.id), '--json']).stdout);
  assert.equal(json.transaction.id, t.id);
  assert.deepEqual(json.response_headers, hdrs.map((h) => [h.name, h.value]));
  const none = cli(['show', out, '99999']);
  assert.equal(none.status, 1);
  assert.match(none.stderr, /no transaction 99999/);
});

test('--har and --ndjson write their files after the run, and say so in the summary', () => {
  const dir = tmp();
  const r = cli([join(SAMPLES, 'evidence.pcapng'), '-o', join(dir, 'out'), '--har', join(dir, 'x.har'), '--har-max-body', '50000', '--ndjson', join(dir, 'x.ndjson')]);
  assert.equal(r.status, 0, r.stderr);
  const db = openLog(join(dir, 'out'));
  const n = db.prepare('SELECT count(*) AS n FROM transactions').get().n;
  const big = db.prepare('SELECT count(*) AS n FROM files f JOIN transactions t ON f.id IN (t.request_file_id, t.response_file_id) WHERE f.size > 50000').get().n;
  db.close();
  assert.match(r.stdout, new RegExp(`^har +${join(dir, 'x.har').replace(/[.]/g, '\\.')} \\(${n} entries, ${big} bodies over 50000 bytes not embedded\\)$`, 'm'));
  assert.match(r.stdout, new RegExp(`^ndjson +.*x\\.ndjson \\(${n} records\\)$`, 'm'));
  assert.equal(JSON.parse(readFileSync(join(dir, 'x.har'), 'utf8')).log.entries.length, n);
  assert.equal(readFileSync(join(dir, 'x.ndjson'), 'utf8').trim().split('\n').length, n);
  const bad = cli([join(SAMPLES, 'web.pcap'), '-o', join(dir, 'out2'), '--har', join(dir, 'no', 'such', 'x.har')]);
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /--har .*no folder/);
  assert.ok(!existsSync(join(dir, 'out2')), 'refused before anything was written');
});
