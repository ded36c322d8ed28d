// Building capture files and frames for tests, from real frames of the sample capture.
import { openCapture } from '../dist/capture/open.js';

/** Every frame of a capture, copied: [{ ts, data, linkType }]. */
export async function readFrames(file) {
  const src = await openCapture(file);
  const frames = [];
  await src.read((p) => frames.push({ ts: p.ts, data: Buffer.from(p.data), linkType: p.linkType, origLen: p.origLen }), () => undefined);
  return frames;
}

function u16(v, le) { const b = Buffer.alloc(2); le ? b.writeUInt16LE(v) : b.writeUInt16BE(v); return b; }
function u32(v, le) { const b = Buffer.alloc(4); le ? b.writeUInt32LE(v >>> 0) : b.writeUInt32BE(v >>> 0); return b; }
function pad4(b) { return Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]); }

/** Classic pcap with the given byte order and resolution. */
export function pcapFile(frames, { le = true, nano = false, linkType = 1 } = {}) {
  const magic = nano ? 0xa1b23c4d : 0xa1b2c3d4;
  const parts = [u32(magic, le), u16(2, le), u16(4, le), u32(0, le), u32(0, le), u32(262144, le), u32(linkType, le)];
  for (const f of frames) {
    const sec = Math.floor(f.ts);
    const frac = Math.round((f.ts - sec) * (nano ? 1e9 : 1e6));
    parts.push(u32(sec, le), u32(frac, le), u32(f.data.length, le), u32(f.origLen ?? f.data.length, le), f.data);
  }
  return Buffer.concat(parts);
}

/** pcapng blocks, each in a byte order of its own section. */
export const ng = {
  block(type, body, le) {
    const len = 12 + pad4(body).length;
    return Buffer.concat([u32(type, le), u32(len, le), pad4(body), u32(len, le)]);
  },
  shb(le) {
    return ng.block(0x0a0d0d0a, Buffer.concat([u32(0x1a2b3c4d, le), u16(1, le), u16(0, le), Buffer.alloc(8, 0xff)]), le);
  },
  option(code, value, le) {
    return Buffer.concat([u16(code, le), u16(value.length, le), pad4(value)]);
  },
  idb(linkType, le, { tsresol, tsoffset } = {}) {
    const opts = [];
    if (tsresol !== undefined) opts.push(ng.option(9, Buffer.from([tsresol]), le));
    if (tsoffset !== undefined) { const b = Buffer.alloc(8); le ? b.writeBigInt64LE(BigInt(tsoffset)) : b.writeBigInt64BE(BigInt(tsoffset)); opts.push(ng.option(14, b, le)); }
    if (opts.length) opts.push(u32(0, le));
    return ng.block(1, Buffer.concat([u16(linkType, le), u16(0, le), u32(0, le), ...opts]), le);
  },
  /** Enhanced packet block; `units` is the interface's timestamp units per second. */
  epb(iface, ts, data, le, units = 1e6, tsoffset = 0) {
    const t = BigInt(Math.round((ts - tsoffset) * units));
    return ng.block(6, Buffer.concat([u32(iface, le), u32(Number(t >> 32n), le), u32(Number(t & 0xffffffffn), le), u32(data.length, le), u32(data.length, le), data]), le);
  },
  obsoletePb(iface, ts, data, le) {
    const t = BigInt(Math.round(ts * 1e6));
    return ng.block(2, Buffer.concat([u16(iface, le), u16(0, le), u32(Number(t >> 32n), le), u32(Number(t & 0xffffffffn), le), u32(data.length, le), u32(data.length, le), data]), le);
  },
  spb(data, le) {
    return ng.block(3, Buffer.concat([u32(data.length, le), data]), le);
  },
};

/** One's-complement checksum of an IPv4 header. */
export function ipv4Checksum(h) {
  let sum = 0;
  for (let i = 0; i < h.length; i += 2) sum += (h[i] << 8) | h[i + 1];
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** An IPv4 header around a payload. */
export function ipv4(proto, payload, { src = [10, 9, 0, 1], dst = [10, 9, 0, 2], id = 1, frag = 0 } = {}) {
  const h = Buffer.alloc(20);
  h[0] = 0x45; h.writeUInt16BE(20 + payload.length, 2); h.writeUInt16BE(id, 4); h.writeUInt16BE(frag, 6);
  h[8] = 64; h[9] = proto; Buffer.from(src).copy(h, 12); Buffer.from(dst).copy(h, 16);
  h.writeUInt16BE(ipv4Checksum(h), 10);
  return Buffer.concat([h, payload]);
}

export function ethernet(type, payload) {
  const h = Buffer.alloc(14);
  Buffer.from([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]).copy(h);
  h.writeUInt16BE(type, 12);
  return Buffer.concat([h, payload]);
}

/** The IP packet inside an Ethernet frame (no VLAN tags in the samples). */
export function ipOf(frame) {
  return frame.subarray(14);
}

/**
 * A TCP conversation as Ethernet/IPv4 frames: handshake, then each [dir, bytes] in turn (dir 0:
 * client to server), cut into segments of at most `mss`, then FINs. `skip` names segments (by
 * running index of data segments) to leave out, to make holes.
 */
export function conversation(exchanges, { mss = 1400, ts = 1700000000, skip = new Set(), clientPort = 40000, serverPort = 80 } = {}) {
  const cli = [10, 1, 0, 1], srv = [10, 1, 0, 2];
  let cseq = 1000, sseq = 5000, t = ts, n = 0;
  const frames = [];
  const tcpSeg = (fromClient, seq, ack, flags, payload = Buffer.alloc(0)) => {
    const h = Buffer.alloc(20);
    h.writeUInt16BE(fromClient ? clientPort : serverPort, 0); h.writeUInt16BE(fromClient ? serverPort : clientPort, 2);
    h.writeUInt32BE(seq >>> 0, 4); h.writeUInt32BE(ack >>> 0, 8); h[12] = 0x50; h[13] = flags; h.writeUInt16BE(65535, 14);
    frames.push({ ts: (t += 0.001), data: ethernet(0x0800, ipv4(6, Buffer.concat([h, payload]), { src: fromClient ? cli : srv, dst: fromClient ? srv : cli })) });
  };
  tcpSeg(true, cseq++, 0, 0x02);
  tcpSeg(false, sseq++, cseq, 0x12);
  tcpSeg(true, cseq, sseq, 0x10);
  for (const [dir, bytes] of exchanges) {
    const b = Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes, 'latin1');
    for (let o = 0; o < b.length; o += mss) {
      const piece = b.subarray(o, o + mss);
      if (!skip.has(n++)) tcpSeg(dir === 0, dir === 0 ? cseq : sseq, dir === 0 ? sseq : cseq, 0x18, piece);
      if (dir === 0) cseq += piece.length; else sseq += piece.length;
    }
  }
  tcpSeg(true, cseq++, sseq, 0x11);
  tcpSeg(false, sseq++, cseq, 0x11);
  tcpSeg(true, cseq, sseq, 0x10);
  return frames;
}
