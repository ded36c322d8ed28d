// Seeded rewriting of a real classic pcap, to impair captured traffic without a netem.
import { readFileSync, writeFileSync } from 'node:fs';
import { prng } from './content.js';

/** Records of a little-endian microsecond pcap: [{ header: Buffer(16), data: Buffer }]. */
export function readPcap(file) {
  const buf = readFileSync(file);
  if (buf.readUInt32LE(0) !== 0xa1b2c3d4) throw new Error(`${file}: not a little-endian microsecond pcap`);
  const records = [];
  for (let o = 24; o + 16 <= buf.length;) {
    const caplen = buf.readUInt32LE(o + 8);
    records.push({ header: buf.subarray(o, o + 16), data: buf.subarray(o + 16, o + 16 + caplen) });
    o += 16 + caplen;
  }
  return { globalHeader: buf.subarray(0, 24), records };
}

export function writePcap(file, { globalHeader, records }) {
  writeFileSync(file, Buffer.concat([globalHeader, ...records.flatMap((r) => [r.header, r.data])]));
}

/** The TCP segment of an Ethernet/IPv4-or-IPv6 frame, or null when it is something else. */
export function tcpOf(frame) {
  const type = frame.readUInt16BE(12);
  let o = 14;
  let end;
  if (type === 0x0800) { if (frame[o + 9] !== 6) return null; end = o + frame.readUInt16BE(o + 2); o += (frame[o] & 0x0f) * 4; }
  else if (type === 0x86dd) { if (frame[o + 6] !== 6) return null; end = o + 40 + frame.readUInt16BE(o + 4); o += 40; }
  else return null;
  return {
    sport: frame.readUInt16BE(o), dport: frame.readUInt16BE(o + 2), seq: frame.readUInt32BE(o + 4),
    flags: frame[o + 13], payload: frame.subarray(o + (frame[o + 12] >> 4) * 4, end),
  };
}

/** TCP flags of an Ethernet/IPv4-or-IPv6 frame, or 0 when it is something else. */
export function tcpFlags(frame) {
  return tcpOf(frame)?.flags ?? 0;
}

/**
 * Shuffles packets within runs of at most `window` packets (seeded), never across a SYN: the
 * reordering and direction interleaving a busy tap records, which never moves a connection's
 * data before its handshake.
 */
export function shuffleWindows(records, window, seed) {
  const rand = prng(seed);
  const out = records.slice();
  const shuffle = (from, to) => {
    for (let i = to - 1; i > from; i--) {
      const j = from + (rand() % (i - from + 1));
      [out[i], out[j]] = [out[j], out[i]];
    }
  };
  let start = 0;
  for (let i = 0; i <= out.length; i++) {
    const barrier = i === out.length || (tcpFlags(out[i].data) & 0x02) !== 0;
    if (barrier || i - start === window) {
      shuffle(start, i);
      start = barrier ? i + 1 : i;
    }
  }
  return out;
}
