// Real captures in every format, link type and encapsulation the machine can make: tcpdump -i any
// (Linux cooked v1 and v2), nanosecond pcap, VLAN / QinQ / GRE / VXLAN / SRv6 / ... interfaces
// between network namespaces (userspace endpoints where the kernel lacks the link type), IP
// fragments, editcap and mergecap conversions. For each capture:
// the summary's packet count is capinfos's, the http view holds exactly the ground truth's
// transactions with byte-identical files, and other encodings of the same traffic give the same
// transactions. Variants this machine cannot make (missing kernel support, no nft, ...) are
// skipped with the reason.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeVariantCaptures, VARIANTS } from '../harness/variants.js';
import { cli, openLog, sha256File, tmp } from '../helpers.js';

// Checks that fail today because the tool does not read the variant yet, as
// { variant: { packets | transactions | same: 'why' } }. Remove an entry when its reader or
// decoder lands (node --test reports a todo that passes as such). None at the moment.
const TODO = {};

let work;
let caps;
before(async () => {
  work = tmp('xh-variants-');
  // XH_VARIANTS=vxlan,frag limits the run to some variants (and what they need), to debug.
  caps = await makeVariantCaptures({ dir: work, variants: process.env.XH_VARIANTS?.split(',') });
}, { timeout: 240_000 });
after(() => {
  if (work && !process.env.XH_KEEP) rmSync(work, { recursive: true, force: true });
  else if (work) console.error(`variant captures kept in ${work}`);
});

/** The variant's capture, or null after t.skip() when this machine could not make it. */
function made(t, name) {
  const c = caps[name];
  if (!c) return t.skip(`${name} was not made (XH_VARIANTS)`), null;
  if (c.skipped) return t.skip(c.skipped), null;
  if (c.error) assert.fail(`could not make the ${name} capture: ${c.error}`);
  return c;
}

const runs = new Map();
/** Runs the CLI on a variant's capture once; {out, stdout}. */
function extract(name) {
  if (!runs.has(name)) {
    const out = join(work, `out-${name}`);
    const r = cli([caps[name].file, '-o', out]);
    runs.set(name, { out, status: r.status, stdout: r.stdout, stderr: r.stderr });
  }
  const r = runs.get(name);
  assert.equal(r.status, 0, `extract-http ${name}: ${r.stderr}`);
  return r;
}

function capinfosPackets(file) {
  const r = spawnSync('capinfos', ['-c', '-M', file], { encoding: 'utf8' });
  if (r.error || r.status !== 0) return null;
  return Number(/Number of packets:\s+(\d+)/.exec(r.stdout)?.[1]);
}

const byUri = (a, b) => (a.uri < b.uri ? -1 : a.uri > b.uri ? 1 : 0);

function fromTruth(t) {
  return {
    uri: t.uri, method: t.method, status_code: t.status_code,
    request_body_len: t.request_body_len, request_sha256: t.request_sha256,
    response_body_len: t.response_body_len, response_sha256: t.response_sha256,
    client_ip: t.client_ip, client_port: t.client_port, server_ip: t.server_ip, server_port: t.server_port,
    request_file_sha256: t.request_sha256, response_file_sha256: t.response_sha256,
  };
}

function fromRow(out, r) {
  return {
    uri: r.uri, method: r.method, status_code: r.status_code,
    request_body_len: r.request_body_len, request_sha256: r.request_sha256,
    response_body_len: r.response_body_len, response_sha256: r.response_sha256,
    client_ip: r.client_ip, client_port: r.client_port, server_ip: r.server_ip, server_port: r.server_port,
    request_file_sha256: r.request_file ? sha256File(join(out, r.request_file)) : null,
    response_file_sha256: r.response_file ? sha256File(join(out, r.response_file)) : null,
  };
}

function rowsOf(out) {
  const db = openLog(out);
  try {
    return db.prepare('SELECT * FROM http').all();
  } finally {
    db.close();
  }
}

/** What must not change between encodings of the same traffic. */
function keys(out) {
  return rowsOf(out).map((r) => `${r.uri} ${r.response_sha256} ${r.request_sha256}`).sort();
}

/** The summary's undecodable lines, to say why in a failure message. */
function why(stdout) {
  const lines = stdout.split('\n').filter((l) => /^packets|undecodable|^transactions/.test(l));
  return lines.join(' | ');
}

for (const v of VARIANTS) {
  const todo = TODO[v.name] || {};
  describe(`${v.name} (${v.wire})`, () => {
    it('the summary counts as many packets as capinfos', { todo: todo.packets }, (t) => {
      const c = made(t, v.name);
      if (!c) return;
      const expected = capinfosPackets(c.file);
      if (expected === null) return t.skip('capinfos is not installed');
      const { stdout } = extract(v.name);
      const m = /^packets\s+(\d+)/m.exec(stdout);
      assert.ok(m, `no packets line in:\n${stdout}`);
      assert.equal(Number(m[1]), expected, `packets line vs capinfos -c -M ${c.file}\n${stdout}`);
    });

    it('the http view holds exactly the ground truth, with byte-identical files', { todo: todo.transactions }, (t) => {
      const c = made(t, v.name);
      if (!c) return;
      const { out, stdout } = extract(v.name);
      const got = rowsOf(out).map((r) => fromRow(out, r)).sort(byUri);
      const want = c.truth.map(fromTruth).sort(byUri);
      assert.deepEqual(got, want, `${v.name}: ${why(stdout)}`);
    });

    if (v.sameAs.length) {
      const what = v.union ? `the union of ${v.sameAs.join(', ')}` : v.sameAs.join(', ');
      it(`the same transactions and bodies as ${what}`, { todo: todo.same }, (t) => {
        const c = made(t, v.name);
        if (!c) return;
        const sources = c.sameAs; // the ones actually merged, for merge-mixed
        for (const s of sources) if (!made(t, s)) return;
        const want = sources.flatMap((s) => keys(extract(s).out)).sort();
        const { out, stdout } = extract(v.name);
        assert.deepEqual(keys(out), want, `${v.name} vs ${sources.join(' + ')}: ${why(stdout)}`);
      });
    }
  });
}
