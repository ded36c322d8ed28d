// TCP reassembly on built segment sequences: order, retransmissions, gaps, wraparound, roles.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TcpReassembler, DEFAULT_TCP_OPTIONS } from '../../dist/tcp/reassembler.js';
import { TcpSegment, SYN, ACK, FIN, RST } from '../../dist/decode/segment.js';

const A = Buffer.from([10, 0, 0, 1]);
const B = Buffer.from([10, 0, 0, 2]);

/** Records what each direction receives: bytes, with gaps written as {gap: n}. */
function recorder() {
  const conns = [];
  const factory = {
    create(view) {
      const c = { view, parts: [[], []], fins: [], end: null };
      conns.push(c);
      return {
        data: (d, b) => c.parts[d].push(Buffer.from(b)),
        gap: (d, n) => c.parts[d].push({ gap: n }),
        fin: (d) => c.fins.push(d),
        end: (reason) => { c.end = reason; },
      };
    },
  };
  return { factory, conns };
}

function bytesOf(parts) {
  return Buffer.concat(parts.filter(Buffer.isBuffer));
}

function seg({ fromA = true, seq, ack = 0, flags = ACK, data = '', ts = 1 }) {
  const s = new TcpSegment();
  s.ts = ts;
  s.setAddresses(Buffer.concat(fromA ? [A, B] : [B, A]), 0, 4);
  s.srcPort = fromA ? 40000 : 80;
  s.dstPort = fromA ? 80 : 40000;
  s.seq = seq >>> 0;
  s.ack = ack >>> 0;
  s.flags = flags;
  s.payload = Buffer.isBuffer(data) ? data : Buffer.from(data);
  return s;
}

function handshake(tcp, isnA = 1000, isnB = 5000) {
  tcp.segment(seg({ seq: isnA, flags: SYN }));
  tcp.segment(seg({ fromA: false, seq: isnB, ack: isnA + 1, flags: SYN | ACK }));
  tcp.segment(seg({ seq: isnA + 1, ack: isnB + 1 }));
}

test('in-order, out-of-order and retransmitted segments reassemble to the exact bytes', () => {
  const { factory, conns } = recorder();
  const tcp = new TcpReassembler(factory);
  handshake(tcp);
  tcp.segment(seg({ seq: 1001, data: 'GET / HTTP/1.1\r\n' }));
  tcp.segment(seg({ seq: 1001 + 16 + 6, data: 'x.test\r\n\r\n' })); // ahead of a hole
  tcp.segment(seg({ seq: 1001, data: 'GET / HTTP/1.1\r\n' })); // retransmission
  tcp.segment(seg({ seq: 1001 + 16, data: 'Host: ' })); // fills the hole
  tcp.segment(seg({ seq: 1001 + 10, data: 'TP/1.1\r\nHost' })); // overlap, all old
  tcp.finish();
  const c = conns[0];
  assert.equal(bytesOf(c.parts[0]).toString(), 'GET / HTTP/1.1\r\nHost: x.test\r\n\r\n');
  assert.ok(c.parts[0].every(Buffer.isBuffer), 'no gap');
  assert.equal(c.view.rolesFrom, 'syn');
  assert.equal(c.view.stats(0).retransmitted, 2);
  assert.equal(c.view.stats(0).outOfOrder, 1);
  assert.equal(c.end, 'end-of-input');
});

test('a lost segment is reported as a gap of exactly its length, the bytes after it follow', () => {
  const { factory, conns } = recorder();
  const tcp = new TcpReassembler(factory);
  handshake(tcp);
  tcp.segment(seg({ fromA: false, seq: 5001, data: 'aaaa' }));
  tcp.segment(seg({ fromA: false, seq: 5001 + 4 + 100, data: 'bbbb' }));
  tcp.segment(seg({ fromA: false, seq: 5001 + 108, data: 'cc', flags: ACK | FIN }));
  tcp.segment(seg({ seq: 1001, flags: ACK | FIN, ack: 5001 + 111 })); // acknowledges the server's FIN
  tcp.finish();
  const c = conns[0];
  assert.deepEqual(c.parts[1].map((p) => (Buffer.isBuffer(p) ? p.toString() : p)), ['aaaa', { gap: 100 }, 'bbbb', 'cc']);
  assert.equal(c.view.stats(1).missing, 100);
  assert.equal(c.end, 'fin');
});

test('bytes acknowledged by the peer but never captured become a gap at the end', () => {
  const { factory, conns } = recorder();
  const tcp = new TcpReassembler(factory);
  handshake(tcp);
  tcp.segment(seg({ fromA: false, seq: 5001, data: 'head' }));
  tcp.segment(seg({ seq: 1001, ack: 5001 + 4 + 1448 })); // the client acked a segment we did not see
  tcp.finish();
  assert.deepEqual(conns[0].parts[1].map((p) => (Buffer.isBuffer(p) ? p.toString() : p)), ['head', { gap: 1448 }]);
});

test('sequence numbers wrap around 2^32 without losing a byte', () => {
  const { factory, conns } = recorder();
  const tcp = new TcpReassembler(factory);
  const isn = 0xfffffff0;
  handshake(tcp, isn);
  const data = Buffer.alloc(64, 7);
  for (let i = 0; i < 64; i += 8) tcp.segment(seg({ seq: (isn + 1 + i) >>> 0, data: data.subarray(i, i + 8) }));
  tcp.finish();
  assert.ok(bytesOf(conns[0].parts[0]).equals(data));
  assert.ok(conns[0].parts[0].every(Buffer.isBuffer));
});

test('RST ends the connection once it goes quiet; a new SYN on the same ports starts a new one', () => {
  const { factory, conns } = recorder();
  const tcp = new TcpReassembler(factory);
  handshake(tcp);
  tcp.segment(seg({ seq: 1001, data: 'one' }));
  tcp.segment(seg({ fromA: false, seq: 5001, flags: RST }));
  tcp.segment(seg({ seq: 1004, data: '+more' })); // a forged RST does not hide what follows
  assert.equal(conns[0].end, null);
  handshake(tcp, 90000, 70000);
  tcp.segment(seg({ seq: 90001, data: 'two' }));
  tcp.finish();
  assert.equal(conns.length, 2);
  assert.equal(conns[0].end, 'port-reuse');
  assert.equal(bytesOf(conns[0].parts[0]).toString(), 'one+more');
  assert.equal(bytesOf(conns[1].parts[0]).toString(), 'two');
  const quiet = recorder();
  const t2 = new TcpReassembler(quiet.factory);
  handshake(t2);
  t2.segment(seg({ fromA: false, seq: 5001, flags: RST, ts: 2 }));
  const other = seg({ seq: 1, flags: SYN, ts: 100 });
  other.srcPort = 40001; // unrelated traffic moves the capture clock on
  t2.segment(other);
  assert.equal(quiet.conns[0].end, 'rst');
});

test('server FIN/RST before its SYN-ACK do not close a stream the handshake has not opened', () => {
  const { factory, conns } = recorder();
  const tcp = new TcpReassembler(factory);
  tcp.segment(seg({ seq: 1000, flags: SYN }));
  tcp.segment(seg({ fromA: false, seq: 1, ack: 1001, flags: RST | ACK }));
  tcp.segment(seg({ fromA: false, seq: 1, ack: 1001, flags: FIN | ACK }));
  tcp.segment(seg({ fromA: false, seq: 5000, ack: 1001, flags: SYN | ACK }));
  tcp.segment(seg({ seq: 1001, data: 'GET / HTTP/1.1\r\n\r\n' }));
  tcp.segment(seg({ fromA: false, seq: 5001, data: 'HTTP/1.1 200 OK\r\n\r\n' }));
  tcp.finish();
  assert.equal(bytesOf(conns[0].parts[1]).toString(), 'HTTP/1.1 200 OK\r\n\r\n');
  assert.deepEqual(conns[0].fins, []);
});

test('without a handshake, the first payload decides who is the client', () => {
  const { factory, conns } = recorder();
  factory.senderRole = (p) => (p.toString().startsWith('HTTP/') ? 'server' : undefined);
  const tcp = new TcpReassembler(factory);
  // The server's port is the higher one here, so ports alone would guess wrong.
  const s = seg({ fromA: true, seq: 77, data: 'HTTP/1.1 200 OK\r\n\r\n' });
  s.srcPort = 8080; s.dstPort = 1024;
  tcp.segment(s);
  tcp.finish();
  assert.equal(conns[0].view.port[1], 8080);
  assert.equal(conns[0].view.rolesFrom, 'content');
  assert.equal(bytesOf(conns[0].parts[1]).toString(), 'HTTP/1.1 200 OK\r\n\r\n');
});

test('property: random cuts, reordering and duplicates lose nothing', () => {
  let seed = 12345;
  const rand = (n) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  for (let round = 0; round < 200; round++) {
    const len = 1 + rand(5000);
    const data = Buffer.alloc(len);
    for (let i = 0; i < len; i++) data[i] = rand(256);
    const pieces = [];
    for (let o = 0; o < len;) { const n = 1 + rand(1500); pieces.push([o, Math.min(n, len - o)]); o += n; }
    // duplicates and overlapping re-cuts
    for (let k = rand(5); k > 0; k--) { const o = rand(len); pieces.push([o, 1 + rand(Math.min(2000, len - o))]); }
    for (let i = pieces.length - 1; i > 0; i--) { const j = rand(i + 1); [pieces[i], pieces[j]] = [pieces[j], pieces[i]]; }
    const { factory, conns } = recorder();
    const tcp = new TcpReassembler(factory);
    const isn = rand(0x7fffffff) * 2;
    handshake(tcp, isn);
    for (const [o, n] of pieces) tcp.segment(seg({ seq: isn + 1 + o, data: data.subarray(o, o + n) }));
    tcp.finish();
    const parts = conns[0].parts[0];
    assert.ok(parts.every(Buffer.isBuffer), `round ${round}: no gap`);
    assert.ok(bytesOf(parts).equals(data), `round ${round}: identical bytes`);
  }
});

test('a response captured before its request is delivered after it, by acknowledgement', () => {
  const { factory, conns } = recorder();
  const order = [];
  const inner = factory.create;
  factory.create = (view) => {
    const h = inner(view);
    return { ...h, data: (d, b, ts) => { order.push([d, Buffer.from(b).toString()]); h.data(d, b, ts); } };
  };
  const tcp = new TcpReassembler(factory);
  handshake(tcp);
  const request = 'GET / HTTP/1.1\r\n\r\n';
  // The server's answer acknowledges the request's bytes, yet shows up first in the capture.
  tcp.segment(seg({ fromA: false, seq: 5001, ack: 1001 + request.length, data: 'HTTP/1.1 200 OK\r\n\r\n' }));
  tcp.segment(seg({ seq: 1001, ack: 5001, data: request }));
  tcp.finish();
  assert.deepEqual(order, [[0, request], [1, 'HTTP/1.1 200 OK\r\n\r\n']]);
});

test('bytes that acknowledge a request never captured are released at the end, after its gap', () => {
  const { factory, conns } = recorder();
  const tcp = new TcpReassembler(factory);
  handshake(tcp);
  tcp.segment(seg({ fromA: false, seq: 5001, ack: 1001 + 40, data: 'HTTP/1.1 200 OK\r\n\r\n' }));
  tcp.finish();
  assert.deepEqual(conns[0].parts[0], [{ gap: 40 }]);
  assert.equal(bytesOf(conns[0].parts[1]).toString(), 'HTTP/1.1 200 OK\r\n\r\n');
});

test('a SYN captured after its connection\'s first data is that connection\'s, not a new one', () => {
  const { factory, conns } = recorder();
  const tcp = new TcpReassembler(factory);
  tcp.segment(seg({ seq: 1001, ack: 5001, data: 'GET / HTTP/1.1\r\n\r\n' }));
  tcp.segment(seg({ seq: 1000, flags: SYN }));
  tcp.segment(seg({ fromA: false, seq: 5000, ack: 1001, flags: SYN | ACK }));
  tcp.segment(seg({ fromA: false, seq: 5001, ack: 1019, data: 'HTTP/1.1 200 OK\r\n\r\n' }));
  // A SYN far from the stream is a new connection on the same ports.
  tcp.segment(seg({ seq: 900000, flags: SYN, ts: 5 }));
  tcp.finish();
  assert.equal(conns.length, 2);
  assert.equal(bytesOf(conns[0].parts[0]).toString(), 'GET / HTTP/1.1\r\n\r\n');
  assert.equal(bytesOf(conns[0].parts[1]).toString(), 'HTTP/1.1 200 OK\r\n\r\n');
  assert.equal(conns[0].end, 'port-reuse');
});

test('simultaneous open: two crossing SYNs make one connection', () => {
  const { factory, conns } = recorder();
  const tcp = new TcpReassembler(factory);
  tcp.segment(seg({ seq: 1000, flags: SYN }));
  tcp.segment(seg({ fromA: false, seq: 5000, flags: SYN }));
  tcp.segment(seg({ seq: 1000, ack: 5001, flags: SYN | ACK }));
  tcp.segment(seg({ fromA: false, seq: 5000, ack: 1001, flags: SYN | ACK }));
  tcp.segment(seg({ seq: 1001, ack: 5001, data: 'GET / HTTP/1.1\r\n\r\n' }));
  tcp.segment(seg({ fromA: false, seq: 5001, ack: 1019, data: 'HTTP/1.1 200 OK\r\n\r\n' }));
  tcp.finish();
  assert.equal(conns.length, 1);
  assert.equal(bytesOf(conns[0].parts[0]).toString(), 'GET / HTTP/1.1\r\n\r\n');
  assert.equal(bytesOf(conns[0].parts[1]).toString(), 'HTTP/1.1 200 OK\r\n\r\n');
  assert.equal(conns[0].view.synAckSeen, true);
});

test('property: with segments dropped, every gap is reported at its exact offset and length', () => {
  let seed = 777;
  const rand = (n) => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed % n; };
  for (let round = 0; round < 200; round++) {
    const len = 200 + rand(20000);
    const data = Buffer.alloc(len);
    for (let i = 0; i < len; i++) data[i] = 1 + rand(255);
    const pieces = [];
    for (let o = 0; o < len;) { const n = 1 + rand(1460); pieces.push([o, Math.min(n, len - o)]); o += n; }
    const kept = pieces.filter(() => rand(5) !== 0);
    const sent = [...kept];
    for (let k = rand(4); k > 0 && kept.length; k--) sent.push(kept[rand(kept.length)]); // duplicates
    for (let i = sent.length - 1; i > 0; i--) { const j = rand(i + 1); [sent[i], sent[j]] = [sent[j], sent[i]]; }
    const { factory, conns } = recorder();
    const tcp = new TcpReassembler(factory);
    const isn = rand(0x7fffffff) * 2;
    handshake(tcp, isn);
    for (const [o, n] of sent) tcp.segment(seg({ seq: isn + 1 + o, data: data.subarray(o, o + n) }));
    tcp.segment(seg({ seq: isn + 1 + len, flags: ACK | FIN })); // the FIN says where the stream ends
    tcp.finish();
    // Expected: the stream with every dropped piece as a gap, neighbours merged.
    const want = [];
    const covered = new Uint8Array(len);
    for (const [o, n] of kept) covered.fill(1, o, o + n);
    for (let i = 0; i < len;) {
      let j = i;
      while (j < len && covered[j] === covered[i]) j++;
      want.push(covered[i] ? data.subarray(i, j).toString('latin1') : { gap: j - i });
      i = j;
    }
    const got = [];
    for (const p of conns[0].parts[0]) {
      const last = got[got.length - 1];
      if (Buffer.isBuffer(p)) {
        if (typeof last === 'string') got[got.length - 1] = last + p.toString('latin1'); else got.push(p.toString('latin1'));
      } else if (last && typeof last === 'object') last.gap += p.gap; else got.push({ gap: p.gap });
    }
    assert.deepEqual(got, want, `round ${round}`);
    assert.equal(conns[0].view.stats(0).missing, covered.reduce((a, c) => a + (c ? 0 : 1), 0));
  }
});

for (const policy of ['first', 'last']) {
  test(`overlapping segments that disagree: the ${policy} copy is kept and the conflict recorded`, () => {
    const { factory, conns } = recorder();
    const tcp = new TcpReassembler(factory, { ...DEFAULT_TCP_OPTIONS, overlapPolicy: policy });
    handshake(tcp);
    tcp.segment(seg({ seq: 1001 + 10, data: 'AAAAAAAAAA' })); // ahead of a hole
    tcp.segment(seg({ seq: 1001 + 15, data: 'BBBBBBBBBB' })); // overlaps its second half, other bytes
    tcp.segment(seg({ seq: 1001, data: '0123456789' })); // fills the hole
    tcp.finish();
    const got = bytesOf(conns[0].parts[0]).toString();
    assert.equal(got, policy === 'first' ? '0123456789AAAAAAAAAABBBBB' : '0123456789AAAAABBBBBBBBBB');
    assert.deepEqual(conns[0].view.conflicts(0), [{ offset: 15, length: 5, differing: 5, kept: policy }]);
    assert.equal(conns[0].view.stats(0).conflicting, 5);
    assert.equal(conns[0].view.stats(0).overlapping, 5);
  });
}

test('a retransmission of delivered, unacknowledged bytes with other content is recorded; the first copy stays', () => {
  const { factory, conns } = recorder();
  const tcp = new TcpReassembler(factory, { ...DEFAULT_TCP_OPTIONS, overlapPolicy: 'last' });
  handshake(tcp);
  tcp.segment(seg({ seq: 1001, data: 'GET /safe HTTP/1.1\r\n' }));
  tcp.segment(seg({ seq: 1001, data: 'GET /evil HTTP/1.1\r\n' })); // same bytes' place, other bytes
  tcp.segment(seg({ fromA: false, seq: 5001, ack: 1001 + 20 })); // now acknowledged...
  tcp.segment(seg({ seq: 1001, data: 'GET /oops HTTP/1.1\r\n' })); // ...so no longer compared
  tcp.finish();
  assert.equal(bytesOf(conns[0].parts[0]).toString(), 'GET /safe HTTP/1.1\r\n');
  assert.deepEqual(conns[0].view.conflicts(0), [{ offset: 0, length: 20, differing: 4, kept: 'first' }]);
  assert.equal(conns[0].view.stats(0).conflicting, 4);
});

test('a real segment fills a hole the snaplen left, whatever the policy', () => {
  const { factory, conns } = recorder();
  const tcp = new TcpReassembler(factory);
  handshake(tcp);
  const cut = seg({ seq: 1001 + 4, data: 'ab' });
  cut.missingTail = 6; // 8 bytes on the wire, 2 captured
  tcp.segment(cut);
  tcp.segment(seg({ seq: 1001 + 4, data: 'abcdefgh' })); // the retransmission, captured whole
  tcp.segment(seg({ seq: 1001, data: 'xyz!' }));
  tcp.finish();
  assert.equal(bytesOf(conns[0].parts[0]).toString(), 'xyz!abcdefgh');
  assert.ok(conns[0].parts[0].every(Buffer.isBuffer), 'no gap');
});

test('a hole is declared once the peer acknowledged the FIN behind it, not before', () => {
  const { factory, conns } = recorder();
  const tcp = new TcpReassembler(factory);
  handshake(tcp);
  tcp.segment(seg({ fromA: false, seq: 5001, data: 'aaaa' }));
  tcp.segment(seg({ fromA: false, seq: 5001 + 8, data: 'cccc', flags: ACK | FIN }));
  assert.deepEqual(conns[0].parts[1].map(String), ['aaaa'], 'the FIN alone: a retransmission may still come');
  tcp.segment(seg({ fromA: false, seq: 5001 + 4, data: 'bbbb' })); // and it does
  assert.equal(bytesOf(conns[0].parts[1]).toString(), 'aaaabbbbcccc');
  const second = recorder();
  const t2 = new TcpReassembler(second.factory);
  handshake(t2);
  t2.segment(seg({ fromA: false, seq: 5001, data: 'aaaa' }));
  t2.segment(seg({ fromA: false, seq: 5001 + 8, data: 'cccc', flags: ACK | FIN }));
  t2.segment(seg({ seq: 1001, ack: 5001 + 13, ts: 1 })); // the client acknowledged the FIN: the hole is final...
  assert.equal(second.conns[0].parts[1].length, 1, '...once the capture clock has moved on');
  t2.segment(seg({ seq: 1001, ack: 5001 + 13, ts: 4 }));
  assert.deepEqual(second.conns[0].parts[1].map((p) => (Buffer.isBuffer(p) ? p.toString() : p)), ['aaaa', { gap: 4 }, 'cccc']);
  assert.deepEqual(second.conns[0].fins, [1]);
});

test('after an RST, holes are declared once the capture clock moves on', () => {
  const { factory, conns } = recorder();
  const tcp = new TcpReassembler(factory);
  handshake(tcp);
  tcp.segment(seg({ seq: 1001, data: 'xx' }));
  tcp.segment(seg({ seq: 1001 + 5, data: 'yy' }));
  tcp.segment(seg({ fromA: false, seq: 5001, flags: RST, ts: 1 }));
  const other = seg({ seq: 1, flags: SYN, ts: 12 });
  other.srcPort = 40001; // other traffic moves the clock past the grace and the sweep
  tcp.segment(other);
  assert.deepEqual(conns[0].parts[0].map((p) => (Buffer.isBuffer(p) ? p.toString() : p)), ['xx', { gap: 3 }, 'yy']);
});

test('too much waiting behind a hole forces the gap (per-stream limit)', () => {
  const { factory, conns } = recorder();
  const tcp = new TcpReassembler(factory, { ...DEFAULT_TCP_OPTIONS, maxPendingPerDir: 1000 });
  handshake(tcp);
  tcp.segment(seg({ seq: 1001, data: 'a' }));
  for (let i = 0; i < 4; i++) tcp.segment(seg({ seq: 1001 + 101 + i * 300, data: Buffer.alloc(300, 98) }));
  assert.deepEqual(conns[0].parts[0].slice(0, 2).map((p) => (Buffer.isBuffer(p) ? p.toString() : p)), ['a', { gap: 100 }]);
  assert.ok(conns[0].view.stats(0).missing === 100);
});

test('a connection idle past the timeout on the capture clock ends, its holes declared', () => {
  const { factory, conns } = recorder();
  const tcp = new TcpReassembler(factory, { ...DEFAULT_TCP_OPTIONS, idleTimeout: 60 });
  handshake(tcp);
  tcp.segment(seg({ seq: 1001, data: 'a', ts: 1 }));
  tcp.segment(seg({ seq: 1001 + 11, data: 'b', ts: 2 }));
  const other = seg({ seq: 1, flags: SYN, ts: 200 });
  other.srcPort = 40001;
  tcp.segment(other);
  assert.equal(conns[0].end, 'timeout');
  assert.deepEqual(conns[0].parts[0].map((p) => (Buffer.isBuffer(p) ? p.toString() : p)), ['a', { gap: 10 }, 'b']);
});

test('data on the SYN (TCP Fast Open) is delivered, and the SYN takes its one sequence number', () => {
  const { factory, conns } = recorder();
  const tcp = new TcpReassembler(factory);
  tcp.segment(seg({ seq: 1000, flags: SYN, data: 'GET / HTTP/1.1\r\n' }));
  tcp.segment(seg({ fromA: false, seq: 5000, ack: 1017, flags: SYN | ACK }));
  tcp.segment(seg({ seq: 1017, ack: 5001, data: 'Host: x\r\n\r\n' }));
  tcp.finish();
  assert.equal(bytesOf(conns[0].parts[0]).toString(), 'GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  assert.ok(conns[0].parts[0].every(Buffer.isBuffer));
});

test('keep-alive probes and zero-window probes add nothing to the stream', () => {
  const { factory, conns } = recorder();
  const tcp = new TcpReassembler(factory);
  handshake(tcp);
  tcp.segment(seg({ seq: 1001, data: 'hello' }));
  tcp.segment(seg({ seq: 1001 + 4, data: 'o' })); // keep-alive: the last byte again
  tcp.segment(seg({ seq: 1001 + 4, data: Buffer.alloc(0) })); // keep-alive without data
  tcp.segment(seg({ seq: 1001 + 5, data: ' ' })); // zero-window probe: one new byte...
  tcp.segment(seg({ seq: 1001 + 5, data: ' world' })); // ...then the segment it belonged to
  tcp.segment(seg({ seq: 1001 + 5, data: ' ' })); // the probe again, late
  tcp.finish();
  assert.equal(bytesOf(conns[0].parts[0]).toString(), 'hello world');
  assert.ok(conns[0].parts[0].every(Buffer.isBuffer));
  assert.equal(conns[0].view.stats(0).conflicting, 0);
});

test('FIN half-closes one direction; the other keeps flowing', () => {
  const { factory, conns } = recorder();
  const tcp = new TcpReassembler(factory);
  handshake(tcp);
  tcp.segment(seg({ seq: 1001, data: 'GET / HTTP/1.0\r\n\r\n', flags: ACK | FIN }));
  assert.deepEqual(conns[0].fins, [0]);
  tcp.segment(seg({ fromA: false, seq: 5001, data: 'HTTP/1.0 200 OK\r\n\r\nbody' }));
  assert.equal(bytesOf(conns[0].parts[1]).toString(), 'HTTP/1.0 200 OK\r\n\r\nbody');
  assert.equal(conns[0].end, null);
  tcp.segment(seg({ fromA: false, seq: 5001 + 23, flags: ACK | FIN }));
  assert.equal(conns[0].end, 'fin');
});

test('delivered bytes kept for comparison are copied when the reader lets go of its buffers, and trimmed by acks', () => {
  const { factory, conns } = recorder();
  const tcp = new TcpReassembler(factory);
  handshake(tcp);
  const p1 = Buffer.from('GET /aaaa HTTP/1.1\r\n');
  const p2 = Buffer.from('Host: example.test\r\n');
  tcp.segment(seg({ seq: 1001, data: p1 }));
  tcp.releaseInput();
  p1.fill(0x21); // the reader's memory is reused: what was kept of p1 must be a copy
  tcp.segment(seg({ seq: 1021, data: p2 })); // kept as a view until the next release
  tcp.segment(seg({ fromA: false, seq: 5001, ack: 1001 + 5 }));
  // Across the copied part and the viewed part, with changes in each.
  tcp.segment(seg({ seq: 1001 + 5, data: 'bbbb HTTP/1.1\r\nHost: EXAMPLE.test\r\n' }));
  tcp.segment(seg({ fromA: false, seq: 5001, ack: 1001 + 25 })); // into the viewed part
  tcp.segment(seg({ seq: 1021, data: 'HOst: example.tesT\r\n' })); // 'O' acknowledged already, 'T' not
  tcp.releaseInput();
  p2.fill(0x21);
  tcp.segment(seg({ seq: 1001 + 27, data: 'xample.test\r\n' })); // same bytes as the copy of the view
  tcp.finish();
  assert.equal(bytesOf(conns[0].parts[0]).toString(), 'GET /aaaa HTTP/1.1\r\nHost: example.test\r\n');
  assert.deepEqual(conns[0].view.conflicts(0), [
    { offset: 5, length: 15, differing: 4, kept: 'first' },
    { offset: 20, length: 20, differing: 7, kept: 'first' },
    { offset: 25, length: 15, differing: 1, kept: 'first' },
  ]);
  assert.equal(conns[0].view.stats(0).conflicting, 12);
});
