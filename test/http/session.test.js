// HTTP sessions on crafted byte streams: pairing, HEAD, interim responses, gaps, resync.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { HttpSession, IdSource } from '../../dist/http/session.js';

function harness() {
  const txns = [];
  const anomalies = [];
  const bodies = new Map();
  let summary = null;
  const view = {
    id: 1, ipVersion: 4, ip: ['10.0.0.1', '10.0.0.2'], port: [40000, 80], rolesFrom: 'syn', tunnel: '',
    firstTs: 0, lastTs: 0, synSeen: true, synAckSeen: true, stats: () => ({ packets: 0, bytes: 0, delivered: 0, missing: 0, gaps: 0, retransmitted: 0, outOfOrder: 0, outOfWindow: 0, overlapping: 0, conflicting: 0 }),
    conflicts: () => [], preHandshake: 0, simultaneousOpen: false,
  };
  const sink = {
    openBody(_conn, txn, msg) {
      const key = `${txn.id}:${msg.kind}`;
      const rec = { chunks: [], holes: 0, complete: null };
      bodies.set(key, rec);
      return {
        write: (c, hole) => { rec.chunks.push(Buffer.from(c)); if (hole) rec.holes += c.length; },
        finish: (complete) => { rec.complete = complete; },
      };
    },
    transaction: (t) => txns.push(t),
    connectionEnded: (_c, s) => { summary = s; },
    anomaly: (_s, kind, detail) => anomalies.push({ kind, detail }),
  };
  const s = new HttpSession(view, sink, new IdSource());
  const body = (txn, kind) => {
    const b = bodies.get(`${txn.id}:${kind}`);
    return b ? { data: Buffer.concat(b.chunks).toString('latin1'), holes: b.holes, complete: b.complete } : null;
  };
  return { s, txns, anomalies, body, view, summary: () => summary };
}

const req = (path, extra = '') => `GET ${path} HTTP/1.1\r\nHost: h\r\n${extra}\r\n`;
const res = (body, extra = '') => `HTTP/1.1 200 OK\r\nContent-Length: ${body.length}\r\n${extra}\r\n${body}`;

test('pipelined requests pair FIFO with their responses, bodies split anywhere', () => {
  const h = harness();
  h.s.data(0, Buffer.from(req('/a') + req('/b') + req('/c')), 1);
  const wire = Buffer.from(res('alpha') + 'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\nbeta\r\n0\r\n\r\n' + res('gamma'));
  for (let i = 0; i < wire.length; i += 3) h.s.data(1, wire.subarray(i, i + 3), 2);
  h.s.end('fin', 3);
  assert.deepEqual(h.txns.map((t) => [t.request.head.url, t.depth, h.body(t, 'response').data]), [['/a', 1, 'alpha'], ['/b', 2, 'beta'], ['/c', 3, 'gamma']]);
  assert.ok(h.txns.every((t) => t.response.complete));
  assert.equal(h.summary().protocol, 'http');
});

test('a HEAD response has no body whatever its Content-Length says; the next response is intact', () => {
  const h = harness();
  h.s.data(0, Buffer.from('HEAD /x HTTP/1.1\r\nHost: h\r\n\r\n' + req('/y')), 1);
  h.s.data(1, Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n' + res('next')), 2);
  h.s.end('fin', 3);
  assert.equal(h.txns.length, 2);
  assert.equal(h.body(h.txns[0], 'response'), null);
  assert.equal(h.body(h.txns[1], 'response').data, 'next');
});

test('100 Continue is recorded as interim, never as the final response', () => {
  const h = harness();
  h.s.data(0, Buffer.from('POST /up HTTP/1.1\r\nHost: h\r\nContent-Length: 3\r\nExpect: 100-continue\r\n\r\n'), 1);
  h.s.data(1, Buffer.from('HTTP/1.1 100 Continue\r\n\r\n'), 2);
  h.s.data(0, Buffer.from('abc'), 3);
  h.s.data(1, Buffer.from(res('done')), 4);
  h.s.end('fin', 5);
  assert.equal(h.txns.length, 1);
  assert.deepEqual(h.txns[0].interim.map((i) => i.status), [100]);
  assert.equal(h.txns[0].response.head.statusCode, 200);
  assert.equal(h.body(h.txns[0], 'request').data, 'abc');
});

test('a gap inside a Content-Length body is zero-filled and counted; the next message is intact', () => {
  const h = harness();
  h.s.data(0, Buffer.from(req('/1') + req('/2')), 1);
  h.s.data(1, Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nab'), 2);
  h.s.gap(1, 5, 3);
  h.s.data(1, Buffer.from('xyz' + res('ok')), 4);
  h.s.end('fin', 5);
  const b = h.body(h.txns[0], 'response');
  assert.equal(b.data, 'ab\0\0\0\0\0xyz');
  assert.equal(b.holes, 5);
  assert.equal(b.complete, false);
  assert.equal(h.txns[0].response.missing, 5);
  assert.deepEqual(h.txns[0].response.holes, [[2, 5]]);
  assert.equal(h.body(h.txns[1], 'response').data, 'ok');
  assert.equal(h.txns[1].response.complete, true);
});

test('a gap in headers resynchronises at the next message and pairing continues', () => {
  const h = harness();
  h.s.data(0, Buffer.from(req('/1') + req('/2')), 1);
  h.s.data(1, Buffer.from('HTTP/1.1 200 OK\r\nContent-Le'), 2);
  h.s.gap(1, 30, 3);
  h.s.data(1, Buffer.from('tail of lost stuff\r\n' + res('second')), 4);
  h.s.end('fin', 5);
  assert.equal(h.txns.length, 2);
  assert.equal(h.txns[0].response.complete, false);
  assert.equal(h.body(h.txns[1], 'response').data, 'second');
  assert.ok(h.anomalies.some((a) => a.kind === 'gap-in-message'));
});

test('garbage between messages is a parse error, recorded, and the next message is recovered', () => {
  const h = harness();
  h.s.data(0, Buffer.from(req('/1') + '\x00\x01garbage\r\n' + req('/2')), 1);
  h.s.data(1, Buffer.from(res('one') + res('two')), 2);
  h.s.end('fin', 3);
  assert.deepEqual(h.txns.map((t) => t.request?.head.url), ['/1', '/2']);
  assert.ok(h.anomalies.some((a) => a.kind === 'parse-error'));
});

test('a response cut by the end of the capture keeps its bytes and counts what is missing', () => {
  const h = harness();
  h.s.data(0, Buffer.from(req('/big')), 1);
  h.s.data(1, Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789'), 2);
  h.s.end('end-of-input', 3);
  const t = h.txns[0];
  assert.equal(t.response.complete, false);
  assert.equal(t.response.missing, 90);
  assert.equal(h.body(t, 'response').data, '0123456789');
});

test('close-delimited bodies end with the connection; a request without response is still a row', () => {
  const h = harness();
  h.s.data(0, Buffer.from('GET /old HTTP/1.0\r\n\r\n'), 1);
  h.s.data(1, Buffer.from('HTTP/1.0 200 OK\r\n\r\nuntil close'), 2);
  h.s.fin(1, 3);
  h.s.end('fin', 3);
  assert.equal(h.body(h.txns[0], 'response').data, 'until close');
  assert.equal(h.txns[0].response.complete, true);
  const g = harness();
  g.s.data(0, Buffer.from(req('/lost')), 1);
  g.s.end('end-of-input', 2);
  assert.equal(g.txns.length, 1);
  assert.equal(g.txns[0].response, null);
});

test('a WebSocket upgrade ends HTTP parsing; frames after it are counted, not parsed', () => {
  const h = harness();
  h.s.data(0, Buffer.from('GET /ws HTTP/1.1\r\nHost: h\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x85abcdGET / HTTP/1.1\r\n'), 1);
  h.s.data(1, Buffer.from('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n\x81\x02hi'), 2);
  h.s.data(1, Buffer.from('HTTP/1.1 200 OK\r\n\r\n'), 3);
  h.s.end('fin', 4);
  assert.equal(h.txns.length, 1);
  assert.equal(h.summary().protocol, 'websocket');
  assert.ok(h.summary().otherBytes[0] > 0 && h.summary().otherBytes[1] > 0);
});

test('a connection that is not HTTP is recognised and skipped', () => {
  const h = harness();
  h.s.data(0, Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00]), 1);
  h.s.data(1, Buffer.from([0x16, 0x03, 0x03, 0x00, 0x5a, 0x02]), 2);
  h.s.end('fin', 3);
  assert.equal(h.txns.length, 0);
  assert.equal(h.summary().protocol, 'not-http');
});

test('a hole that runs past the end of a body fills the body, and the rest is lost between messages', () => {
  const h = harness();
  h.s.data(0, Buffer.from(req('/1')), 1);
  h.s.data(1, Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc'), 2);
  h.s.gap(1, 50, 3);
  h.s.data(1, Buffer.from('junk' + res('later')), 4);
  h.s.end('fin', 5);
  assert.equal(h.txns[0].response.missing, 7);
  assert.deepEqual(h.txns[0].response.holes, [[3, 7]]);
  assert.equal(h.body(h.txns[0], 'response').data, 'abc' + '\0'.repeat(7));
  assert.ok(h.anomalies.some((a) => a.kind === 'gap-between-messages' && /43 byte/.test(a.detail)));
  assert.equal(h.anomalies.filter((a) => a.kind === 'skipped-bytes').length, 1);
});

test('a request cut off inside its request line still logs what was seen', () => {
  const h = harness();
  h.s.data(0, Buffer.from('GE'), 1);
  h.s.data(0, Buffer.from('T /lost'), 2);
  h.s.end('end-of-input', 3);
  assert.equal(h.txns.length, 1);
  const q = h.txns[0].request;
  assert.equal(q.head.method, 'GET');
  assert.equal(q.head.url, '/lost');
  assert.equal(q.version, null, 'the version was never seen');
  assert.equal(q.complete, false);
  assert.ok(h.anomalies.some((a) => a.kind === 'incomplete-head'));
});

test('a head llhttp refuses is salvaged: start line and well-formed header lines', () => {
  const h = harness();
  h.s.data(0, Buffer.from('GET /\r\nFakeHeader\r\nHost: localhost\r\nUser-Agent: myscript\r\n\r\n'), 1);
  h.s.data(1, Buffer.from('HTTP/1.0 200 OK\r\nContent-Type: text/html\r\nContent-Le'), 2);
  h.s.end('end-of-input', 3);
  assert.equal(h.txns.length, 1);
  const [t] = h.txns;
  assert.equal(t.request.head.url, '/');
  assert.equal(t.request.version, '0.9');
  assert.equal(t.request.header('user-agent'), 'myscript');
  assert.equal(t.response.head.statusCode, 200, 'the cut response still answers the request');
  assert.equal(t.response.header('content-type'), 'text/html');
  assert.ok(h.anomalies.some((a) => a.kind === 'malformed-head'));
  assert.ok(h.anomalies.some((a) => a.kind === 'parse-error' && /HPE_INVALID_HEADER_TOKEN/.test(a.detail)));
});

test('a CONNECT whose head ends exactly at a segment boundary still switches to a tunnel', () => {
  const h = harness();
  h.s.data(0, Buffer.from('CONNECT example:443 HTTP/1.1\r\nHost: example:443\r\n\r\n'), 1);
  h.s.data(1, Buffer.from('HTTP/1.1 200 Connection Established\r\n\r\n'), 2);
  h.s.data(0, Buffer.from('GET /inner HTTP/1.1\r\nHost: x\r\n\r\n'), 3);
  h.s.data(1, Buffer.from('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi'), 4);
  h.s.end('fin', 5);
  assert.deepEqual(h.txns.map((t) => t.request?.head?.method), ['CONNECT']);
  assert.equal(h.summary().protocol, 'tunnel');
  assert.deepEqual(h.summary().otherBytes, [32, 40]);
});

test('a response without a status line at the start of the stream is an HTTP/0.9 response, body to the close', () => {
  const h = harness();
  h.s.data(0, Buffer.from(req('/old')), 1);
  h.s.data(1, Buffer.from('X5O!P%@AP'), 2);
  h.s.data(1, Buffer.from('[4\\PZX54'), 3);
  h.s.fin(1, 4);
  h.s.end('fin', 4);
  assert.equal(h.txns.length, 1);
  assert.equal(h.txns[0].response.version, '0.9');
  assert.equal(h.body(h.txns[0], 'response').data, 'X5O!P%@AP[4\\PZX54');
  assert.equal(h.txns[0].response.complete, true);
  assert.ok(h.anomalies.some((a) => a.kind === 'http09-response'));
  // Without a handshake (picked up mid-stream) the same bytes are the tail of something unseen.
  const g = harness();
  g.view.synSeen = false;
  g.s.data(0, Buffer.from(req('/x')), 1);
  g.s.data(1, Buffer.from('tail of an earlier body'), 2);
  g.s.end('end-of-input', 3);
  assert.equal(g.txns[0].response, null);
});
