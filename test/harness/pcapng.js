// Minimal pcap helpers (Node built-ins only): count packets in a classic pcap
// file and convert it to pcapng (used when editcap is not installed).

import fs from 'node:fs';

function readHeader(buf) {
  if (buf.length < 24) throw new Error('pcap too short');
  const magicLE = buf.readUInt32LE(0);
  let le;
  let nano;
  if (magicLE === 0xa1b2c3d4) [le, nano] = [true, false];
  else if (magicLE === 0xa1b23c4d) [le, nano] = [true, true];
  else if (buf.readUInt32BE(0) === 0xa1b2c3d4) [le, nano] = [false, false];
  else if (buf.readUInt32BE(0) === 0xa1b23c4d) [le, nano] = [false, true];
  else throw new Error('not a classic pcap file');
  const u32 = (o) => (le ? buf.readUInt32LE(o) : buf.readUInt32BE(o));
  return { le, nano, u32, snaplen: u32(16), linktype: u32(20) & 0x0fffffff };
}

function* records(buf, h) {
  let off = 24;
  while (off + 16 <= buf.length) {
    const sec = h.u32(off);
    const frac = h.u32(off + 4);
    const incl = h.u32(off + 8);
    const orig = h.u32(off + 12);
    if (off + 16 + incl > buf.length) break; // truncated last record
    yield { sec, frac, incl, orig, data: buf.subarray(off + 16, off + 16 + incl) };
    off += 16 + incl;
  }
}

export function countPcapPackets(file) {
  const buf = fs.readFileSync(file);
  const h = readHeader(buf);
  let n = 0;
  for (const _ of records(buf, h)) n++;
  return n;
}

function pad4(n) {
  return (4 - (n % 4)) % 4;
}

function block(type, body) {
  const len = 12 + body.length;
  const b = Buffer.alloc(len);
  b.writeUInt32LE(type, 0);
  b.writeUInt32LE(len, 4);
  body.copy(b, 8);
  b.writeUInt32LE(len, len - 4);
  return b;
}

/** Convert classic pcap -> pcapng (little-endian, one interface). */
export function pcapToPcapng(src, dst) {
  const buf = fs.readFileSync(src);
  const h = readHeader(buf);
  const out = [];
  // Section Header Block
  const shb = Buffer.alloc(16);
  shb.writeUInt32LE(0x1a2b3c4d, 0);
  shb.writeUInt16LE(1, 4);
  shb.writeUInt16LE(0, 6);
  shb.writeBigInt64LE(-1n, 8);
  out.push(block(0x0a0d0d0a, shb));
  // Interface Description Block (+ if_tsresol when nanosecond)
  const idbOpts = h.nano
    ? Buffer.from([9, 0, 1, 0, 9, 0, 0, 0, 0, 0, 0, 0]) // if_tsresol=9, opt_endofopt
    : Buffer.alloc(0);
  const idb = Buffer.alloc(8 + idbOpts.length);
  idb.writeUInt16LE(h.linktype, 0);
  idb.writeUInt16LE(0, 2);
  idb.writeUInt32LE(h.snaplen, 4);
  idbOpts.copy(idb, 8);
  out.push(block(0x00000001, idb));
  const mult = h.nano ? 1000000000n : 1000000n;
  for (const r of records(buf, h)) {
    const ts = BigInt(r.sec) * mult + BigInt(r.frac);
    const body = Buffer.alloc(20 + r.incl + pad4(r.incl));
    body.writeUInt32LE(0, 0);
    body.writeUInt32LE(Number(ts >> 32n), 4);
    body.writeUInt32LE(Number(ts & 0xffffffffn), 8);
    body.writeUInt32LE(r.incl, 12);
    body.writeUInt32LE(r.orig, 16);
    r.data.copy(body, 20);
    out.push(block(0x00000006, body));
  }
  fs.writeFileSync(dst, Buffer.concat(out));
}
