#!/usr/bin/env node
// Seeded generator of a large, realistic HTTP/1.x capture and its ground truth, for the bench.
//
//   node scripts/bench/generate.js --size 1G --seed 1 --out bench.pcap [--profile mixed|short]
//
// Writes bench.pcap (classic pcap, Ethernet, microseconds) and bench.truth.json. The same
// seed and size always give the same bytes.
//
// `mixed` (default): many keep-alive connections, several open at once and interleaved packet
// by packet; MSS-sized segments with delayed ACKs; bodies from empty to tens of MB; Content-
// Length, chunked, gzip and close-delimited responses; POST uploads; pipelined requests; and a
// little reordering and retransmission (exact duplicate segments, a few packets late).
// `short`: N connections of one small transaction each (`--connections`, default 10,000).
import { createCipheriv, createHash } from 'node:crypto';
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { gzipSync } from 'node:zlib';

const MSS = 1460;
const ETH = 14;
const IP = 20;
const TCP = 20;
const HDR = ETH + IP + TCP;

/** mulberry32: small, fast, seeded; good enough to pick sizes and shapes. */
function prng(seed) {
  let a = seed >>> 0;
  const next = () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  next.int = (lo, hi) => lo + Math.floor(next() * (hi - lo + 1));
  next.logInt = (lo, hi) => Math.round(Math.exp(Math.log(lo) + next() * (Math.log(hi) - Math.log(lo))));
  next.pick = (arr) => arr[Math.floor(next() * arr.length)];
  return next;
}

/** Deterministic incompressible bytes: AES-CTR keystream keyed by the seed (GB/s, not JS speed). */
function binaryBody(rand, n) {
  const key = Buffer.alloc(32);
  const iv = Buffer.alloc(16);
  for (let i = 0; i < 8; i++) key.writeUInt32LE((rand() * 2 ** 32) >>> 0, i * 4);
  for (let i = 0; i < 4; i++) iv.writeUInt32LE((rand() * 2 ** 32) >>> 0, i * 4);
  return createCipheriv('aes-256-ctr', key, iv).update(Buffer.alloc(n));
}

const WORDS = ('the of and to in is that for it as was with be by on not he this are or his from at which but ' +
  'have an they you were her she there been one all we their has would when if so no will more can out up ' +
  'evidence packet capture stream server client request response header body session forensic analyst ' +
  'network transaction offset segment window checksum window script style div class span href').split(' ');
let textPool = null;
/** Compressible text: random slices of a seeded pool of words. */
function textBody(rand, n) {
  if (!textPool) {
    const r = prng(12345);
    const parts = [];
    let len = 0;
    while (len < 1 << 20) {
      const w = r.pick(WORDS) + (r() < 0.08 ? '.\n' : ' ');
      parts.push(w);
      len += w.length;
    }
    textPool = Buffer.from(parts.join(''), 'latin1');
  }
  const out = Buffer.allocUnsafe(n);
  let at = 0;
  while (at < n) {
    const len = Math.min(n - at, rand.int(200, 4000));
    const from = rand.int(0, textPool.length - len);
    textPool.copy(out, at, from, from + len);
    at += len;
  }
  return out;
}

const sha256 = (b) => createHash('sha256').update(b).digest('hex');

/** Chunked transfer coding with chunk sizes drawn from the seed; an empty body is just the last chunk. */
function chunk(rand, body) {
  const parts = [];
  for (let at = 0; at < body.length;) {
    const n = Math.min(body.length - at, rand.logInt(1, 65536));
    parts.push(Buffer.from(n.toString(16) + '\r\n', 'latin1'), body.subarray(at, at + n), Buffer.from('\r\n'));
    at += n;
  }
  parts.push(Buffer.from('0\r\n\r\n'));
  return Buffer.concat(parts);
}

const TYPES = [
  ['image/jpeg', 'jpg', 'bin'], ['image/png', 'png', 'bin'], ['application/octet-stream', 'bin', 'bin'],
  ['video/mp4', 'mp4', 'bin'], ['application/zip', 'zip', 'bin'],
  ['text/html', 'html', 'text'], ['application/javascript', 'js', 'text'], ['text/css', 'css', 'text'],
  ['application/json', 'json', 'text'], ['text/plain', 'txt', 'text'],
];

/** Body size: mostly small objects, some medium, a few large downloads. */
function bodySize(rand) {
  const r = rand();
  if (r < 0.06) return 0;
  if (r < 0.72) return rand.logInt(100, 64 * 1024);
  if (r < 0.95) return rand.logInt(64 * 1024, 2 * 1024 * 1024);
  return rand.logInt(2 * 1024 * 1024, 40 * 1024 * 1024);
}

/**
 * One transaction's bytes on both sides and its truth. Responses are Content-Length, chunked,
 * gzip (over either) or, for the last of a connection, close-delimited.
 */
function transaction(rand, conn, k, last, short) {
  const t = { connection: conn.name, index: k };
  const post = !short && rand() < 0.06;
  const [ctype, ext, kind] = rand.pick(TYPES);
  t.uri = `/c${conn.id}/t${k}.${ext}`;
  t.method = post ? 'POST' : 'GET';
  let reqBody = Buffer.alloc(0);
  let reqHead = `${t.method} ${t.uri} HTTP/1.1\r\nHost: bench${conn.id % 50}.example\r\nUser-Agent: extract-http-bench/1\r\nAccept: */*\r\n`;
  if (post) {
    reqBody = binaryBody(rand, rand.logInt(10, 512 * 1024));
    reqHead += `Content-Type: application/octet-stream\r\nContent-Length: ${reqBody.length}\r\n`;
  }
  if (last && conn.closeBy === 'header') reqHead += 'Connection: close\r\n';
  t.request_body_len = reqBody.length;
  t.request_body_sha256 = reqBody.length ? sha256(reqBody) : null;
  const request = Buffer.concat([Buffer.from(reqHead + '\r\n', 'latin1'), reqBody]);

  const status = rand() < 0.04 ? 404 : 200;
  let size = short ? rand.logInt(100, 4096) : bodySize(rand);
  const gzip = !short && kind === 'text' && size > 0 && size <= 4 * 1024 * 1024 && rand() < 0.5;
  const body = kind === 'text' ? textBody(rand, size) : binaryBody(rand, size);
  const wire = gzip ? gzipSync(body, { level: 1 }) : body;
  const chunked = !short && rand() < 0.25;
  const closeDelimited = last && conn.closeBy === 'server-eof' && !chunked;
  let head = `HTTP/1.1 ${status} ${status === 200 ? 'OK' : 'Not Found'}\r\nServer: bench\r\nContent-Type: ${ctype}\r\n`;
  if (gzip) head += 'Content-Encoding: gzip\r\n';
  if (chunked) head += 'Transfer-Encoding: chunked\r\n';
  else if (!closeDelimited) head += `Content-Length: ${wire.length}\r\n`;
  if (closeDelimited || (last && conn.closeBy === 'header')) head += 'Connection: close\r\n';
  const response = Buffer.concat([Buffer.from(head + '\r\n', 'latin1'), chunked ? chunk(rand, wire) : wire]);
  t.status = status;
  t.content_encoding = gzip ? 'gzip' : null;
  t.chunked = chunked;
  t.close_delimited = closeDelimited;
  t.response_wire_len = wire.length;
  t.response_body_len = body.length;
  t.response_body_sha256 = body.length ? sha256(body) : null;
  t.response_wire_sha256 = wire.length ? sha256(wire) : null;
  return { t, request, response };
}

/**
 * One connection as a packet generator: handshake, requests and responses (pipelined in groups
 * on some connections), delayed ACKs, and a FIN from each side.
 */
function* connectionPackets(rand, conn, next) {
  let cseq = conn.cisn + 1;
  let sseq = conn.sisn + 1;
  yield { c2s: true, flags: 0x02, seq: conn.cisn, ack: 0, payload: null };
  yield { c2s: false, flags: 0x12, seq: conn.sisn, ack: cseq, payload: null };
  yield { c2s: true, flags: 0x10, seq: cseq, ack: sseq, payload: null };
  function* send(c2s, bytes) {
    let unacked = 0;
    for (let at = 0; at < bytes.length; at += MSS) {
      const payload = bytes.subarray(at, Math.min(bytes.length, at + MSS));
      if (c2s) {
        yield { c2s, flags: 0x18, seq: cseq, ack: sseq, payload };
        cseq = (cseq + payload.length) >>> 0;
      } else {
        yield { c2s, flags: 0x18, seq: sseq, ack: cseq, payload };
        sseq = (sseq + payload.length) >>> 0;
      }
      // The receiver ACKs every second segment, and the last one.
      if (++unacked === 2 || at + MSS >= bytes.length) {
        unacked = 0;
        yield c2s ? { c2s: false, flags: 0x10, seq: sseq, ack: cseq, payload: null } : { c2s: true, flags: 0x10, seq: cseq, ack: sseq, payload: null };
      }
    }
  }
  const depth = conn.pipeline ? rand.int(2, 4) : 1;
  // Transactions are made as they are sent, so memory holds one group's bodies at a time.
  for (let more = true; more;) {
    const group = [];
    while (group.length < depth && (more = conn.left > 0)) group.push(next());
    for (const x of group) yield* send(true, x.request);
    for (const x of group) yield* send(false, x.response);
  }
  if (conn.closeBy === 'server-eof' || conn.closeBy === 'header') {
    yield { c2s: false, flags: 0x11, seq: sseq, ack: cseq, payload: null };
    sseq = (sseq + 1) >>> 0;
    yield { c2s: true, flags: 0x11, seq: cseq, ack: sseq, payload: null };
    cseq = (cseq + 1) >>> 0;
  } else {
    yield { c2s: true, flags: 0x11, seq: cseq, ack: sseq, payload: null };
    cseq = (cseq + 1) >>> 0;
    yield { c2s: false, flags: 0x11, seq: sseq, ack: cseq, payload: null };
    sseq = (sseq + 1) >>> 0;
  }
  yield { c2s: true, flags: 0x10, seq: cseq, ack: sseq, payload: null };
}

/** Writes pcap records through one large buffer. */
class PcapWriter {
  constructor(path) {
    this.fd = openSync(path, 'w');
    this.buf = Buffer.allocUnsafe(8 << 20);
    this.at = 0;
    this.bytes = 0;
    this.packets = 0;
    const h = Buffer.alloc(24);
    h.writeUInt32LE(0xa1b2c3d4, 0);
    h.writeUInt16LE(2, 4);
    h.writeUInt16LE(4, 6);
    h.writeUInt32LE(262144, 16);
    h.writeUInt32LE(1, 20);
    this.write(h);
  }
  write(b) {
    if (this.at + b.length > this.buf.length) this.flush();
    if (b.length > this.buf.length) { writeSync(this.fd, b); this.bytes += b.length; return; }
    b.copy(this.buf, this.at);
    this.at += b.length;
    this.bytes += b.length;
  }
  flush() {
    if (this.at) writeSync(this.fd, this.buf, 0, this.at);
    this.at = 0;
  }
  packet(ts, conn, p) {
    const len = HDR + (p.payload ? p.payload.length : 0);
    if (this.at + 16 + len > this.buf.length) this.flush();
    const b = this.buf;
    let o = this.at;
    const sec = Math.floor(ts);
    b.writeUInt32LE(sec, o);
    b.writeUInt32LE(Math.round((ts - sec) * 1e6) % 1000000, o + 4);
    b.writeUInt32LE(len, o + 8);
    b.writeUInt32LE(len, o + 12);
    o += 16;
    const [smac, dmac] = p.c2s ? [conn.cmac, conn.smac] : [conn.smac, conn.cmac];
    dmac.copy(b, o); smac.copy(b, o + 6);
    b.writeUInt16BE(0x0800, o + 12);
    o += ETH;
    b.writeUInt8(0x45, o); b.writeUInt8(0, o + 1);
    b.writeUInt16BE(len - ETH, o + 2);
    b.writeUInt16BE((conn.ipid = (conn.ipid + 1) & 0xffff), o + 4);
    b.writeUInt16BE(0x4000, o + 6);
    b.writeUInt8(64, o + 8); b.writeUInt8(6, o + 9);
    b.writeUInt16BE(0, o + 10);
    b.writeUInt32BE(p.c2s ? conn.cip : conn.sip, o + 12);
    b.writeUInt32BE(p.c2s ? conn.sip : conn.cip, o + 16);
    let sum = 0;
    for (let i = 0; i < 20; i += 2) sum += b.readUInt16BE(o + i);
    while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
    b.writeUInt16BE(~sum & 0xffff, o + 10);
    o += IP;
    b.writeUInt16BE(p.c2s ? conn.cport : 80, o);
    b.writeUInt16BE(p.c2s ? 80 : conn.cport, o + 2);
    b.writeUInt32BE(p.seq >>> 0, o + 4);
    b.writeUInt32BE(p.flags & 0x10 ? p.ack >>> 0 : 0, o + 8);
    b.writeUInt8(0x50, o + 12);
    b.writeUInt8(p.flags, o + 13);
    b.writeUInt16BE(65535, o + 14);
    // Checksum left zero, as checksum offload records it.
    b.writeUInt32BE(0, o + 16);
    o += TCP;
    if (p.payload) { p.payload.copy(b, o); o += p.payload.length; }
    this.at = o;
    this.bytes += 16 + len;
    this.packets++;
  }
  close() {
    this.flush();
    closeSync(this.fd);
  }
}

export function parseSize(s) {
  const m = /^(\d+(?:\.\d+)?)([kmg]?)i?b?$/i.exec(String(s));
  if (!m) throw new Error(`bad size ${s}`);
  return Math.round(Number(m[1]) * { '': 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3 }[m[2].toLowerCase()]);
}

/**
 * Writes the capture and returns its truth. `size` is a target: generation stops opening new
 * connections once the capture passes it, and finishes the open ones.
 */
export function generate({ out, size = 1024 ** 3, seed = 1, profile = 'mixed', connections = 10000, concurrency = 16 }) {
  const rand = prng(seed);
  const short = profile === 'short';
  const w = new PcapWriter(out);
  const truth = [];
  let ts = 1_700_000_000;
  let made = 0;
  const active = [];
  let retrans = 0;
  let reordered = 0;
  const open = () => {
    const id = ++made;
    const conn = {
      id,
      name: '',
      cip: (10 << 24) | (1 << 16) | (id >> 8 & 0xff) << 8 | (id & 0xff),
      sip: (10 << 24) | (2 << 16) | (id % 7),
      cport: 1024 + (Math.floor(id / 65536) * 7 + id) % 60000,
      cisn: (rand() * 2 ** 32) >>> 0,
      sisn: (rand() * 2 ** 32) >>> 0,
      cmac: Buffer.from([2, 0, 0, 0, id >> 8 & 0xff, id & 0xff]),
      smac: Buffer.from([2, 0, 0, 1, 0, id % 7]),
      ipid: 0,
      pipeline: !short && rand() < 0.2,
      closeBy: short ? 'client' : rand.pick(['client', 'client', 'client', 'header', 'server-eof']),
    };
    conn.name = `${ipText(conn.cip)}:${conn.cport}-${ipText(conn.sip)}:80`;
    conn.left = short ? 1 : rand.logInt(1, 12);
    let k = 0;
    const next = () => {
      // Past the target size, a connection ends with the transaction it is on.
      if (!short && w.bytes >= size) conn.left = 1;
      const x = transaction(rand, conn, k++, --conn.left === 0, short);
      truth.push(x.t);
      return x;
    };
    active.push({ conn, it: connectionPackets(rand, conn, next), held: null, repeat: [] });
  };
  const more = () => (short ? made < connections : w.bytes < size);
  while (active.length < concurrency && more()) open();
  while (active.length) {
    const i = Math.floor(rand() * active.length);
    const a = active[i];
    // A burst of packets from one connection, as a sender's window would give.
    const burst = rand.int(1, 12);
    let done = false;
    for (let k = 0; k < burst && !done; k++) {
      const r = a.it.next();
      if (r.done) { done = true; break; }
      let p = r.value;
      ts += 0.00001;
      // Retransmission: this segment again a few packets later.
      if (p.payload && rand() < 0.003) { a.repeat.push({ p, after: rand.int(1, 6) }); retrans++; }
      // Reordering: hold this segment back and send it after the next one.
      if (p.payload && !a.held && rand() < 0.003) { a.held = p; reordered++; continue; }
      w.packet(ts, a.conn, p);
      if (a.held) { ts += 0.00001; w.packet(ts, a.conn, a.held); a.held = null; }
      for (let j = a.repeat.length - 1; j >= 0; j--) {
        if (--a.repeat[j].after <= 0) { ts += 0.00001; w.packet(ts, a.conn, a.repeat[j].p); a.repeat.splice(j, 1); }
      }
    }
    if (done) {
      if (a.held) w.packet(ts, a.conn, a.held);
      for (const r of a.repeat) w.packet(ts, a.conn, r.p);
      active.splice(i, 1);
      if (more()) open();
    }
    while (active.length < concurrency && more()) open();
  }
  w.close();
  return {
    profile, seed, bytes: w.bytes, packets: w.packets, connections: made, transactions: truth.length,
    retransmitted: retrans, reordered, truth,
  };
}

function ipText(n) {
  return [n >>> 24, n >> 16 & 0xff, n >> 8 & 0xff, n & 0xff].join('.');
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const args = process.argv.slice(2);
  const opt = (name, dflt) => { const i = args.indexOf(`--${name}`); return i >= 0 ? args[i + 1] : dflt; };
  const out = opt('out', 'bench.pcap');
  const started = Date.now();
  const r = generate({
    out, size: parseSize(opt('size', '1G')), seed: Number(opt('seed', '1')), profile: opt('profile', 'mixed'),
    connections: Number(opt('connections', '10000')),
  });
  writeFileSync(out.replace(/\.pcap$/, '') + '.truth.json', JSON.stringify(r));
  console.log(`${out}: ${(r.bytes / 1e6).toFixed(1)} MB, ${r.packets} packets, ${r.connections} connections, ` +
    `${r.transactions} transactions (${r.retransmitted} retransmitted, ${r.reordered} reordered segments) in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
