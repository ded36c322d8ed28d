// HTTP features on real traffic (the `http5` harness scenario, captured by tcpdump in network
// namespaces): content codings br / gzip,gzip / raw deflate, gzip with response trailers,
// WebSocket, a CONNECT proxy tunnel, Expect: 100-continue refused before the body, HEAD, 304,
// HTTP/1.0 close-delimited. The CLI reads the pcap and the pcapng; every row, body file and
// connection summary is compared with the server's ground truth.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { makeCapture, scenarioPlan } from '../harness/capture.js';
import { cli, openLog, sha256File, tmp } from '../helpers.js';

const FORMATS = ['pcap', 'pcapng'];
const PLAN = scenarioPlan('http5');
const ITEMS = PLAN.steps.flatMap((s) => s.items);
const itemOf = (r) => ITEMS.find((it) => it.path === r.path);
/** Requests curl sent through the CONNECT tunnel: the tool must not parse them. */
const TUNNELLED = PLAN.reqs.filter((r) => itemOf(r).proxy);
/** What the tool must log: every request outside the tunnel, plus one CONNECT per tunnel. */
const LOGGED = [
  ...PLAN.reqs.filter((r) => !itemOf(r).proxy).map((r) => ({ tag: r.tag, method: r.method, what: r.path })),
  ...TUNNELLED.map((r) => ({ tag: `${r.tag}-connect`, method: 'CONNECT', what: `proxy for ${r.path}` })),
];
const WS = PLAN.reqs.find((r) => r.path.endsWith('/ws'));
const TRAILERS = PLAN.reqs.find((r) => r.path.includes('/gzip-trailers/'));

// What extract-http gets wrong on this traffic today (see the report in each message).
// Checks that fail because of a known tool bug, as { name: 'what the tool does' }; none now.
const TODO = {};

let work;
let cap;
const out = {};
const runs = {};

before(async () => {
  work = tmp('xh-real-');
  cap = await makeCapture({ scenario: 'http5', dir: work });
  for (const f of FORMATS) {
    out[f] = join(work, `out-${f}`);
    runs[f] = cli([cap[f], '-o', out[f]]);
  }
});
after(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function truthOf(tag, method) {
  const t = cap.truth.filter((x) => x.tag === tag && x.method === method);
  assert.equal(t.length, 1, `exactly one truth record for ${method} ${tag}`);
  return t[0];
}

/** Runs fn(db) on the log of one format; the CLI must have succeeded. */
function withLog(format, fn) {
  assert.equal(runs[format].status, 0, runs[format].stderr);
  const db = openLog(out[format]);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

function rowsFor(db, uri) {
  return db.prepare('SELECT * FROM http WHERE uri = ?').all(uri);
}

function connectionOf(db, uri) {
  const rows = rowsFor(db, uri);
  assert.equal(rows.length, 1, `one row for ${uri}`);
  const c = db.prepare('SELECT * FROM connections WHERE id = ?').get(rows[0].connection_id);
  assert.ok(c, `connection of ${uri}`);
  return c;
}

test('the http5 capture holds what the scenario promises (harness self-check)', () => {
  const t = cap.truth;
  const enc = (e) => t.filter((x) => x.content_encoding === e && x.response_wire_sha256);
  assert.equal(enc('br').length, 1, 'one br response');
  assert.equal(enc('gzip, gzip').length, 1, 'one gzip, gzip response');
  assert.equal(enc('deflate').length, 1, 'one deflate response');
  assert.equal(enc('deflate')[0].wire_codec, 'deflate-raw', 'sent as raw deflate (no zlib wrapper)');
  assert.equal(enc('gzip, gzip')[0].wire_codec, 'gzip2', 'gzip applied twice');
  const tr = t.filter((x) => x.response_trailers);
  assert.equal(tr.length, 1, 'one response with trailers');
  assert.equal(tr[0].transfer, 'chunked');
  assert.equal(tr[0].content_encoding, 'gzip');
  for (const x of [...enc('br'), ...enc('gzip, gzip'), ...enc('deflate'), ...tr]) {
    assert.notEqual(x.response_wire_sha256, x.response_sha256, `${x.uri}: the wire form differs from the identity body`);
  }
  const ws = t.filter((x) => x.status_code === 101);
  assert.equal(ws.length, 1);
  assert.ok(ws[0].complete && ws[0].ws_bytes_c2s > 70000 && ws[0].ws_bytes_s2c > 70000, 'frames went both ways');
  const connects = t.filter((x) => x.method === 'CONNECT');
  assert.equal(connects.length, TUNNELLED.length);
  for (const c of connects) {
    assert.equal(c.status_code, 200);
    assert.ok(c.complete && c.tunnel_bytes_c2s > 0 && c.tunnel_bytes_s2c > 0, 'bytes went through the tunnel');
  }
  for (const r of TUNNELLED) assert.equal(truthOf(r.tag, r.method).inside_tunnel, true, r.path);
  for (const code of [413, 417]) {
    const x = t.filter((y) => y.status_code === code);
    assert.equal(x.length, 1, `one ${code} (curl did not retry)`);
    assert.equal(x[0].body_refused, true);
    assert.equal(x[0].request_body_len, 0, 'the body was never sent');
    assert.deepEqual(x[0].interim_status, [], 'no 100 Continue');
  }
  assert.ok(t.some((x) => x.method === 'HEAD'), 'HEAD');
  assert.ok(t.some((x) => x.status_code === 304), '304');
  assert.ok(t.some((x) => x.http_version === '1.0' && x.transfer === 'close'), 'HTTP/1.0 close-delimited');
  // Every request the plan sent, once (tags are unique).
  for (const r of PLAN.reqs) truthOf(r.tag, r.method);
});

for (const format of FORMATS) {
  test(`${format}: the CLI reads the capture`, () => {
    assert.equal(runs[format].status, 0, runs[format].stderr);
    assert.match(runs[format].stdout, /transactions\s+\d+/);
  });

  // One row per logged transaction, with its status, type, body and wire form.
  for (const l of LOGGED) {
    test(`${format}: ${l.method} ${l.what} is one row matching the truth, body and wire form`, () => {
      const t = truthOf(l.tag, l.method);
      assert.ok(!t.inside_tunnel);
      withLog(format, (db) => {
        const rows = rowsFor(db, t.uri);
        assert.equal(rows.length, 1, `one row for ${t.uri}`);
        const r = rows[0];
        const where = `${t.method} ${t.uri}`;
        assert.equal(r.method, t.method, where);
        assert.equal(r.status_code, t.status_code, where);
        assert.equal(r.reason, t.reason, where);
        assert.equal(r.response_content_type, t.response_content_type, where);
        assert.equal(r.response_sha256, t.response_sha256, where);
        assert.equal(r.response_body_len, t.response_body_len, where);
        const tx = db.prepare('SELECT * FROM transactions WHERE id = ?').get(r.transaction_id);
        assert.equal(tx.response_wire_len, t.response_wire_len, `${where}: wire length`);
        if (t.response_sha256 === null) {
          assert.equal(r.response_file, null, `${where}: no file for an empty body`);
          assert.equal(tx.response_file_id, null, where);
        } else {
          assert.equal(sha256File(join(out[format], r.response_file)), t.response_sha256, `${where}: file on disk`);
          const f = db.prepare('SELECT * FROM files WHERE id = ?').get(tx.response_file_id);
          assert.ok(f, `${where}: files row`);
          assert.equal(f.path, r.response_file, where);
          assert.equal(f.size, t.response_body_len, where);
          assert.equal(f.wire_size, t.response_wire_len, `${where}: files.wire_size`);
          assert.equal(f.wire_sha256, t.response_wire_sha256, `${where}: files.wire_sha256`);
          assert.equal(f.decode_error, null, where);
        }
        if (t.content_encoding) {
          assert.equal(tx.response_content_encoding, t.content_encoding, `${where}: Content-Encoding`);
          assert.notEqual(t.response_wire_len, t.response_body_len, `${where}: coded (harness)`);
        }
      });
    });
  }

  test(`${format}: response trailers are in headers as response-trailer`, () => {
    const t = truthOf(TRAILERS.tag, TRAILERS.method);
    assert.ok(t.response_trailers.length >= 2);
    withLog(format, (db) => {
      const rows = rowsFor(db, t.uri);
      assert.equal(rows.length, 1);
      const got = db
        .prepare("SELECT name, value FROM headers WHERE transaction_id = ? AND direction = 'response-trailer' ORDER BY position")
        .all(rows[0].transaction_id)
        .map((h) => [h.name, h.value]);
      assert.deepEqual(got, t.response_trailers);
      // The trailers are not mixed into the response headers.
      const inHead = db
        .prepare("SELECT count(*) AS n FROM headers WHERE transaction_id = ? AND direction = 'response' AND name IN (?, ?)")
        .get(rows[0].transaction_id, t.response_trailers[0][0], t.response_trailers[1][0]).n;
      assert.equal(inHead, 0);
    });
  });

  test(`${format}: WebSocket connection is protocol websocket with the frame bytes each way`, () => {
    const t = truthOf(WS.tag, WS.method);
    withLog(format, (db) => {
      const c = connectionOf(db, t.uri);
      assert.equal(c.protocol, 'websocket');
      assert.equal(c.other_bytes_c2s, t.ws_bytes_c2s, 'client-to-server frame bytes');
      assert.equal(c.other_bytes_s2c, t.ws_bytes_s2c, 'server-to-client frame bytes');
    });
  });

  test(`${format}: WebSocket connection carries exactly one transaction`, { todo: TODO.wsOneRow }, () => {
    const t = truthOf(WS.tag, WS.method);
    withLog(format, (db) => {
      const c = connectionOf(db, t.uri);
      const n = db.prepare('SELECT count(*) AS n FROM transactions WHERE connection_id = ?').get(c.id).n;
      assert.equal(n, 1, 'transactions on the WebSocket connection');
      assert.equal(db.prepare('SELECT count(*) AS n FROM http WHERE connection_id = ?').get(c.id).n, 1, 'rows in http');
      assert.equal(c.transactions, 1, 'connections.transactions');
    });
  });

  for (const r of TUNNELLED) {
    const connectTag = `${r.tag}-connect`;

    test(`${format}: CONNECT connection for ${r.path} is protocol tunnel`, { todo: TODO.tunnelProtocol }, () => {
      const t = truthOf(connectTag, 'CONNECT');
      withLog(format, (db) => {
        const c = connectionOf(db, t.uri);
        assert.equal(c.server_port, t.server_port);
        assert.equal(c.protocol, 'tunnel');
      });
    });

    test(`${format}: the GET inside the tunnel (${r.path}) is not a row`, { todo: TODO.tunnelInner }, () => {
      const inner = truthOf(r.tag, r.method);
      assert.equal(inner.inside_tunnel, true);
      withLog(format, (db) => {
        assert.deepEqual(rowsFor(db, inner.uri).map((x) => `${x.method} ${x.uri} ${x.status_code}`), []);
        const c = connectionOf(db, truthOf(connectTag, 'CONNECT').uri);
        assert.equal(db.prepare('SELECT count(*) AS n FROM transactions WHERE connection_id = ?').get(c.id).n, 1,
          'only the CONNECT on its connection');
      });
    });

    test(`${format}: tunnel bytes after CONNECT ${r.path} are counted each way`, { todo: TODO.tunnelBytes }, () => {
      const t = truthOf(connectTag, 'CONNECT');
      withLog(format, (db) => {
        const c = connectionOf(db, t.uri);
        assert.equal(c.other_bytes_c2s, t.tunnel_bytes_c2s, 'client-to-server tunnel bytes');
        assert.equal(c.other_bytes_s2c, t.tunnel_bytes_s2c, 'server-to-client tunnel bytes');
      });
    });
  }
}
