#!/usr/bin/env node
// How many of the http facts in the corpus's expected.json does extract-http reproduce?
// Each fact is an eve.json filter from a suricata-verify test with a `count`; we map its http
// fields onto the `http` view, count matching rows and compare. Fields with no counterpart in
// an HTTP log (alert.*, flow.*, pcap_cnt, tx_id, ...) are left out of the match and listed.
// Usage: node scripts/corpus-facts.js [corpus folder] [--json report.json] [--verbose]
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..');
const args = process.argv.slice(2);
const verbose = args.includes('--verbose');
const jsonAt = args.indexOf('--json');
const jsonOut = jsonAt >= 0 ? args[jsonAt + 1] : null;
const dir = resolve(args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--json') ?? join(root, '..', 'shared', 'corpus', 'suricata-verify'));
const expected = JSON.parse(readFileSync(join(dir, 'expected.json'), 'utf8'));

/** eve field -> how to read it from an http view row (plus its connection's tunnel). */
const FIELDS = {
  'http.url': (r) => r.uri,
  'http.http_method': (r) => r.method,
  'http.status': (r) => r.status_code,
  'http.protocol': (r) => (r.version ? `HTTP/${r.version}` : null),
  'http.hostname': (r) => hostname(r.host),
  'http.http_user_agent': (r) => r.user_agent,
  'http.http_content_type': (r) => r.response_content_type?.split(';')[0].trim() ?? null,
  'http.http_refer': (r) => r.referer,
  'http.redirect': (r) => r.location,
  // Suricata's length counts the body as transferred: de-chunked, still content-coded.
  'http.length': (r) => r.response_wire_len,
  'http.status_string': (r) => r.reason,
  dest_port: (r) => r.server_port,
  src_port: (r) => r.client_port,
  dest_ip: (r) => expand(r.server_ip),
  src_ip: (r) => expand(r.client_ip),
  'vlan[0]': (r) => Number(/vlan:(\d+)/.exec(r.tunnel ?? '')?.[1] ?? NaN),
};
const IGNORED = /^(event_type|count|requires|_exact_objects|has-key|not-has-key|_from_shell_check)/;

/** The Host header as Suricata logs it: no port, IPv6 literals keep their brackets. */
function hostname(h) {
  if (!h) return null;
  const v6 = /^(\[[^\]]*\])(:\d+)?$/.exec(h);
  return (v6 ? v6[1] : h.replace(/:\d+$/, '')).toLowerCase();
}

/** IPv6 written out in full, as eve.json does; IPv4 as it is. */
function expand(ip) {
  if (!ip || !ip.includes(':')) return ip;
  const [head, tail = ''] = ip.split('::');
  const a = head ? head.split(':') : [];
  const b = ip.includes('::') ? (tail ? tail.split(':') : []) : [];
  const groups = ip.includes('::') ? [...a, ...Array(8 - a.length - b.length).fill('0'), ...b] : a;
  return groups.map((g) => g.padStart(4, '0')).join(':');
}

let facts = 0, reproduced = 0;
const unmapped = new Map();
const report = [];
for (const cap of expected.captures) {
  if (!cap.http?.length) continue;
  const out = mkdtempSync(join(tmpdir(), 'xh-facts-'));
  spawnSync(process.execPath, [join(root, 'bin', 'extract-http.js'), join(dir, cap.capture), '-o', join(out, 'o')], { timeout: 60_000 });
  let rows = [];
  try {
    const db = new Database(join(out, 'o', 'http.sqlite'), { readonly: true });
    rows = db.prepare(`SELECT h.*, c.tunnel, t.location, t.response_wire_len FROM http h
      LEFT JOIN connections c ON c.id = h.connection_id LEFT JOIN transactions t ON t.id = h.transaction_id`).all();
    db.close();
  } catch { /* no log: every fact with count > 0 is missed */ }
  rmSync(out, { recursive: true, force: true });
  for (const fact of cap.http) {
    facts++;
    const checks = [];
    for (const [k, v] of Object.entries(fact)) {
      if (IGNORED.test(k)) continue;
      if (FIELDS[k]) checks.push([k, v]);
      else unmapped.set(k, (unmapped.get(k) ?? 0) + 1);
    }
    const matches = rows.filter((r) => checks.every(([k, v]) => FIELDS[k](r) === v));
    const ok = matches.length === fact.count;
    if (ok) reproduced++;
    let why = '';
    if (!ok) {
      // The row that agrees on most fields, and where it differs.
      let best = null, bestScore = -1;
      for (const r of rows) {
        const score = checks.filter(([k, v]) => FIELDS[k](r) === v).length;
        if (score > bestScore) { best = r; bestScore = score; }
      }
      why = !rows.length ? 'no transactions' : checks.filter(([k, v]) => FIELDS[k](best) !== v).map(([k, v]) => `${k}: want ${JSON.stringify(v)}, closest ${JSON.stringify(FIELDS[k](best))}`).join('; ') || `${matches.length} matching rows`;
    }
    report.push({ capture: cap.capture, fact, count: fact.count, matched: matches.length, ok, why });
    if (verbose || !ok) console.log(`${ok ? 'ok  ' : 'MISS'} ${cap.capture}: count ${fact.count}, we have ${matches.length}${why ? ` | ${why}` : ''}`);
  }
}
console.log(`\n${reproduced} of ${facts} http facts reproduced (${(100 * reproduced / facts).toFixed(1)}%)`);
console.log(`fields without a counterpart, left out of the match: ${[...unmapped].map(([k, n]) => `${k} (${n})`).join(', ')}`);
if (jsonOut) writeFileSync(jsonOut, JSON.stringify({ facts, reproduced, report }, null, 1));
