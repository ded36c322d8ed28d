// Hostile captures written directly (no traffic can make them): floods and far-future segments.
import { openSync, writeSync, closeSync } from 'node:fs';
import { prng } from './content.js';

const GLOBAL = Buffer.alloc(24);
GLOBAL.writeUInt32LE(0xa1b2c3d4, 0); GLOBAL.writeUInt16LE(2, 4); GLOBAL.writeUInt16LE(4, 6);
GLOBAL.writeUInt32LE(262144, 16); GLOBAL.writeUInt32LE(1, 20);

/** Writes pcap records through a buffer, so that millions of packets are cheap. */
class PcapWriter {
  constructor(file) { this.fd = openSync(file, 'w'); this.buf = Buffer.alloc(1 << 22); this.used = 0; this.put(GLOBAL); }
  put(b) {
    if (this.used + b.length > this.buf.length) this.flush();
    if (b.length > this.buf.length) { writeSync(this.fd, b); return; }
    b.copy(this.buf, this.used); this.used += b.length;
  }
  flush() { writeSync(this.fd, this.buf, 0, this.used); this.used = 0; }
  close() { this.flush(); closeSync(this.fd); }
  /** One Ethernet/IPv4/TCP frame. */
  tcp(ts, src, dst, sport, dport, seq, ack, flags, payload = Buffer.alloc(0)) {
    const len = 14 + 20 + 20 + payload.length;
    const h = Buffer.alloc(16 + 54);
    h.writeUInt32LE(Math.floor(ts), 0); h.writeUInt32LE(Math.round((ts % 1) * 1e6), 4);
    h.writeUInt32LE(len, 8); h.writeUInt32LE(len, 12);
    const e = 16; h.writeUInt16BE(0x0800, e + 12);
    const ip = e + 14; h[ip] = 0x45; h.writeUInt16BE(40 + payload.length, ip + 2); h[ip + 8] = 64; h[ip + 9] = 6;
    h.writeUInt32BE(src >>> 0, ip + 12); h.writeUInt32BE(dst >>> 0, ip + 16);
    const t = ip + 20; h.writeUInt16BE(sport, t); h.writeUInt16BE(dport, t + 2);
    h.writeUInt32BE(seq >>> 0, t + 4); h.writeUInt32BE(ack >>> 0, t + 8); h[t + 12] = 0x50; h[t + 13] = flags; h.writeUInt16BE(65535, t + 14);
    this.put(h);
    if (payload.length) this.put(payload);
  }
}

const SYN = 0x02, ACK = 0x10, PSH = 0x08;

/** `n` SYNs, each to a 4-tuple of its own: a scan, or a SYN flood. */
export function synFlood(file, n) {
  const w = new PcapWriter(file);
  for (let i = 0; i < n; i++) {
    w.tcp(1700000000 + i / 100000, 0x0a000000 + (i >>> 12), 0x0a800001, 1024 + (i & 0xfff), 80, i * 7919, 0, SYN);
  }
  w.close();
}

/**
 * `conns` connections that each open, send a request line, then `segs` segments of 1400 bytes at
 * random offsets up to 2^30 bytes ahead of a hole that never fills: everything must wait, so
 * only the limits bound memory.
 */
export function farFuture(file, conns, segs, seed = 1) {
  const rand = prng(seed);
  const w = new PcapWriter(file);
  const payload = Buffer.alloc(1400, 0x41);
  for (let c = 0; c < conns; c++) {
    const cli = 0x0b000000 + c, srv = 0x0b800001, sport = 20000 + (c % 40000), isn = rand(), sisn = rand();
    const ts = 1700000000 + c / 1000;
    w.tcp(ts, cli, srv, sport, 80, isn, 0, SYN);
    w.tcp(ts, srv, cli, 80, sport, sisn, isn + 1, SYN | ACK);
    w.tcp(ts, cli, srv, sport, 80, isn + 1, sisn + 1, ACK | PSH, Buffer.from('GET / HTTP/1.1\r\nHost: x\r\n\r\n'));
    for (let k = 0; k < segs; k++) {
      const ahead = 1 + (rand() % (1 << 30));
      w.tcp(ts, srv, cli, 80, sport, sisn + 1 + ahead, isn + 27, ACK, payload);
    }
  }
  w.close();
}
