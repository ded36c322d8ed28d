import type { Packet } from '../capture/types.js';
import { ETHERTYPE, LINKTYPE } from './linktypes.js';
import { FragmentReassembler } from './ip-fragments.js';
import { TcpSegment } from './segment.js';

/** Why a packet yielded no TCP segment. "skip:" reasons are normal traffic, the rest are damage. */
export type DropReason = string;

const IPPROTO_TCP = 6;
const IPPROTO_IPIP = 4;
const IPPROTO_IPV6 = 41;
const IPPROTO_GRE = 47;
const IPPROTO_UDP = 17;
const PORT_VXLAN = 4789;
const PORT_GENEVE = 6081;
const PORT_GTPU = 2152;
const PORT_TEREDO = 3544;
const MAX_NESTING = 8;
const NFULA_PAYLOAD = 9;

/**
 * Decodes link layer, IP and TCP headers into a reused TcpSegment, counting every packet it
 * cannot turn into a segment by reason.
 */
export interface DecoderOptions {
  /**
   * Check TCP checksums and drop segments that fail. Off by default: checksum offload makes
   * valid traffic captured on the sending host look bad.
   */
  verifyChecksums: boolean;
}

export class PacketDecoder {
  readonly drops = new Map<DropReason, number>();
  readonly fragments = new FragmentReassembler();
  private depth = 0;
  private lastExpire = 0;

  constructor(private readonly opts: DecoderOptions = { verifyChecksums: false }) {}

  decode(p: Packet, seg: TcpSegment): boolean {
    if (p.ts - this.lastExpire >= 1) {
      this.fragments.expire(p.ts);
      this.lastExpire = p.ts;
    }
    seg.ts = p.ts;
    seg.frame = p.frame;
    seg.tunnel = '';
    seg.missingTail = 0;
    this.depth = 0;
    const d = p.data;
    switch (p.linkType) {
      case LINKTYPE.ETHERNET:
        return this.ethernet(d, 0, seg);
      case LINKTYPE.LINUX_SLL:
        if (d.length < 16) return this.drop('truncated: linux cooked header');
        return this.ethertype(d.readUInt16BE(14), d, 16, seg);
      case LINKTYPE.LINUX_SLL2:
        if (d.length < 20) return this.drop('truncated: linux cooked v2 header');
        return this.ethertype(d.readUInt16BE(0), d, 20, seg);
      case LINKTYPE.NULL:
      case LINKTYPE.LOOP:
        // The address family is in host (NULL) or network (LOOP) byte order and its value
        // differs by OS; the IP version nibble says the same thing unambiguously.
        if (d.length < 4) return this.drop('truncated: loopback header');
        return this.ip(d, 4, d.length, seg);
      case LINKTYPE.RAW:
      case LINKTYPE.RAW_OPENBSD_12:
      case LINKTYPE.RAW_14:
      case LINKTYPE.IPV4:
      case LINKTYPE.IPV6:
        return this.ip(d, 0, d.length, seg);
      case LINKTYPE.NFLOG:
        return this.nflog(d, seg);
      case LINKTYPE.C_HDLC:
        if (d.length < 4) return this.drop('truncated: cisco hdlc header');
        return this.ethertype(d.readUInt16BE(2), d, 4, seg);
      default:
        return this.drop(`unsupported link type ${p.linkType}`);
    }
  }

  /** End of input: incomplete fragment sets are counted as such. */
  finish(): void {
    this.fragments.finish();
    for (const [why, n] of this.fragments.dropped) this.drops.set(why, (this.drops.get(why) ?? 0) + n);
    this.fragments.dropped.clear();
  }

  drop(reason: DropReason): false {
    this.drops.set(reason, (this.drops.get(reason) ?? 0) + 1);
    return false;
  }

  /** Linux NFLOG: a header, then TLVs in the capturing host's byte order; the packet is NFULA_PAYLOAD. */
  private nflog(d: Buffer, seg: TcpSegment): boolean {
    if (d.length < 4) return this.drop('truncated: nflog header');
    let o = 4;
    while (d.length - o >= 4) {
      let len = d.readUInt16LE(o);
      let type = d.readUInt16LE(o + 2);
      if (len < 4 || o + len > d.length) {
        len = d.readUInt16BE(o);
        type = d.readUInt16BE(o + 2);
      }
      if (len < 4 || o + len > d.length) return this.drop('truncated: nflog tlv');
      if ((type & 0x7fff) === NFULA_PAYLOAD) return this.ip(d, o + 4, o + len, seg);
      o += (len + 3) & ~3;
    }
    return this.drop('skip: nflog without payload');
  }

  private ethernet(d: Buffer, o: number, seg: TcpSegment): boolean {
    if (d.length < o + 14) return this.drop('truncated: ethernet header');
    const type = d.readUInt16BE(o + 12);
    if (type <= 1500) {
      // 802.3 length field: only LLC/SNAP can carry IP.
      if (d.length >= o + 22 && d[o + 14] === 0xaa && d[o + 15] === 0xaa && d[o + 16] === 0x03) {
        return this.ethertype(d.readUInt16BE(o + 20), d, o + 22, seg);
      }
      return this.drop('skip: 802.3 non-snap frame');
    }
    return this.ethertype(type, d, o + 14, seg);
  }

  private ethertype(type: number, d: Buffer, o: number, seg: TcpSegment): boolean {
    for (;;) {
      switch (type) {
        case ETHERTYPE.IPV4:
        case ETHERTYPE.IPV6:
          return this.ip(d, o, d.length, seg);
        case ETHERTYPE.VLAN:
        case ETHERTYPE.QINQ:
        case ETHERTYPE.QINQ_OLD:
          if (d.length < o + 4) return this.drop('truncated: vlan tag');
          wrap(seg, `vlan:${d.readUInt16BE(o) & 0x0fff}`);
          type = d.readUInt16BE(o + 2);
          o += 4;
          continue;
        case ETHERTYPE.MPLS:
        case ETHERTYPE.MPLS_MC: {
          // Walk the label stack to bottom-of-stack, then guess IPv4/IPv6 by the version nibble.
          for (;;) {
            if (d.length < o + 4) return this.drop('truncated: mpls label');
            const bos = d[o + 2] & 1;
            o += 4;
            if (bos) break;
          }
          wrap(seg, 'mpls');
          return this.ip(d, o, d.length, seg);
        }
        case ETHERTYPE.PPPOE_SESSION: {
          if (d.length < o + 8) return this.drop('truncated: pppoe header');
          wrap(seg, 'pppoe');
          // PPP may compress its protocol field to one byte (RFC 1661 PFC): an odd first byte says so.
          const short = (d[o + 6] & 1) === 1;
          const proto = short ? d[o + 6] : d.readUInt16BE(o + 6);
          if (proto === 0x21 || proto === 0x57) return this.ip(d, o + (short ? 7 : 8), d.length, seg);
          return this.drop('skip: pppoe non-ip');
        }
        case ETHERTYPE.TEB:
          return this.ethernet(d, o, seg);
        default:
          return this.drop(`skip: ethertype 0x${type.toString(16).padStart(4, '0')}`);
      }
    }
  }

  private ip(d: Buffer, o: number, end: number, seg: TcpSegment): boolean {
    if (++this.depth > MAX_NESTING) return this.drop('too many nested tunnels');
    if (end <= o) return this.drop('truncated: ip header');
    const v = d[o] >> 4;
    if (v === 4) return this.ipv4(d, o, end, seg);
    if (v === 6) return this.ipv6(d, o, end, seg);
    return this.drop('bad ip version');
  }

  private ipv4(d: Buffer, o: number, end: number, seg: TcpSegment): boolean {
    if (end - o < 20) return this.drop('truncated: ipv4 header');
    const ihl = (d[o] & 0x0f) * 4;
    // A zero total length is what TSO leaves in frames captured on the sending host.
    const total = d.readUInt16BE(o + 2) || end - o;
    if (ihl < 20 || total < ihl) return this.drop('bad ipv4 header length');
    if (end - o < ihl) return this.drop('truncated: ipv4 header');
    const fragField = d.readUInt16BE(o + 6);
    // Ethernet pads short frames: the IP total length says where the datagram really ends.
    const wireEnd = o + total;
    const ipEnd = Math.min(end, wireEnd);
    const proto = d[o + 9];
    seg.ipVersion = 4;
    seg.setAddresses(d, o + 12, o + 16);
    if ((fragField & 0x3fff) !== 0) {
      if (ipEnd < wireEnd) return this.drop('ip fragment cut by the snaplen');
      const key = `4${seg.src.toString('latin1')}${seg.dst.toString('latin1')}${d.readUInt16BE(o + 4)}:${proto}`;
      const whole = this.fragments.add(key, (fragField & 0x1fff) * 8, (fragField & 0x2000) !== 0, d.subarray(o + ihl, ipEnd), proto, seg.ts);
      if (!whole) return this.drop('skip: ip fragment held for reassembly');
      return this.transport(whole.proto, whole.payload, 0, whole.payload.length, 0, seg);
    }
    return this.transport(proto, d, o + ihl, ipEnd, wireEnd - ipEnd, seg);
  }

  private ipv6(d: Buffer, o: number, end: number, seg: TcpSegment): boolean {
    if (end - o < 40) return this.drop('truncated: ipv6 header');
    const payloadLen = d.readUInt16BE(o + 4);
    const next = d[o + 6];
    const wireEnd = o + 40 + payloadLen;
    const ipEnd = Math.min(end, wireEnd);
    seg.ipVersion = 6;
    seg.setAddresses(d, o + 8, o + 24);
    return this.ipv6Chain(next, d, o + 40, ipEnd, wireEnd - ipEnd, seg);
  }

  /** Walks IPv6 extension headers to the upper layer, reassembling fragments on the way. */
  private ipv6Chain(next: number, d: Buffer, p: number, ipEnd: number, cut: number, seg: TcpSegment): boolean {
    for (;;) {
      switch (next) {
        case 0: case 43: case 60: case 135: case 139: case 140: {
          if (ipEnd - p < 8) return this.drop('truncated: ipv6 extension header');
          const len = (d[p + 1] + 1) * 8;
          next = d[p];
          p += len;
          continue;
        }
        case 51: { // AH counts its length in 4-byte units.
          if (ipEnd - p < 8) return this.drop('truncated: ipv6 extension header');
          const len = (d[p + 1] + 2) * 4;
          next = d[p];
          p += len;
          continue;
        }
        case 44: {
          if (ipEnd - p < 8) return this.drop('truncated: ipv6 fragment header');
          if (cut > 0) return this.drop('ip fragment cut by the snaplen');
          const field = d.readUInt16BE(p + 2);
          const key = `6${seg.src.toString('latin1')}${seg.dst.toString('latin1')}${d.readUInt32BE(p + 4)}`;
          const whole = this.fragments.add(key, field & 0xfff8, (field & 1) !== 0, d.subarray(p + 8, ipEnd), d[p], seg.ts);
          if (!whole) return this.drop('skip: ip fragment held for reassembly');
          return this.ipv6Chain(whole.proto, whole.payload, 0, whole.payload.length, 0, seg);
        }
        default:
          if (p > ipEnd) return this.drop('truncated: ipv6 extension header');
          return this.transport(next, d, p, ipEnd, cut, seg);
      }
    }
  }

  private transport(proto: number, d: Buffer, o: number, end: number, cut: number, seg: TcpSegment): boolean {
    switch (proto) {
      case IPPROTO_TCP:
        return this.tcp(d, o, end, cut, seg);
      case IPPROTO_IPIP:
      case IPPROTO_IPV6:
        wrap(seg, proto === IPPROTO_IPIP ? `4in${seg.ipVersion}` : `6in${seg.ipVersion}`);
        return this.ip(d, o, end, seg);
      case IPPROTO_GRE:
        return this.gre(d, o, end, seg);
      case IPPROTO_UDP:
        return this.udp(d, o, end, seg);
      default:
        return this.drop(proto === 1 || proto === 58 ? 'skip: icmp' : `skip: ip protocol ${proto}`);
    }
  }

  /** UDP matters only as a tunnel, recognised by its well-known port. */
  private udp(d: Buffer, o: number, end: number, seg: TcpSegment): boolean {
    if (end - o < 8) return this.drop('truncated: udp header');
    const sp = d.readUInt16BE(o);
    const dp = d.readUInt16BE(o + 2);
    const p = o + 8;
    const is = (port: number): boolean => sp === port || dp === port;
    if (is(PORT_VXLAN)) {
      if (end - p < 8 || (d[p] & 0x08) === 0) return this.drop('skip: udp');
      wrap(seg, `vxlan:${d.readUIntBE(p + 4, 3)}`);
      return this.ethernet(d.subarray(0, end), p + 8, seg);
    }
    if (is(PORT_GENEVE)) {
      if (end - p < 8) return this.drop('truncated: geneve header');
      const hl = 8 + (d[p] & 0x3f) * 4;
      const type = d.readUInt16BE(p + 2);
      wrap(seg, `geneve:${d.readUIntBE(p + 4, 3)}`);
      if (type === ETHERTYPE.TEB) return this.ethernet(d.subarray(0, end), p + hl, seg);
      if (type === ETHERTYPE.IPV4 || type === ETHERTYPE.IPV6) return this.ip(d, p + hl, end, seg);
      return this.drop(`skip: geneve protocol 0x${type.toString(16)}`);
    }
    if (is(PORT_GTPU)) return this.gtpu(d, p, end, seg);
    if (is(PORT_TEREDO) && end - p >= 40) {
      // Teredo may prefix authentication (0x0001) and origin indication (0x0000) headers.
      let q = p;
      if (d.readUInt16BE(q) === 0x0001 && end - q >= 13) q += 13 + d[q + 2] + d[q + 3];
      if (end - q >= 8 && d.readUInt16BE(q) === 0x0000) q += 8;
      if (end - q >= 40 && d[q] >> 4 === 6) {
        wrap(seg, 'teredo');
        return this.ip(d, q, end, seg);
      }
    }
    return this.drop('skip: udp');
  }

  private gtpu(d: Buffer, p: number, end: number, seg: TcpSegment): boolean {
    if (end - p < 8) return this.drop('truncated: gtp-u header');
    const flags = d[p];
    if (flags >> 5 !== 1 || d[p + 1] !== 0xff) return this.drop('skip: gtp-u non-data');
    let q = p + 8;
    if (flags & 0x07) {
      if (end - q < 4) return this.drop('truncated: gtp-u header');
      let next = d[q + 3];
      q += 4;
      while (next !== 0) {
        if (end - q < 4 || d[q] === 0) return this.drop('truncated: gtp-u extension header');
        const len = d[q] * 4;
        next = d[q + len - 1];
        q += len;
      }
    }
    wrap(seg, 'gtp-u');
    return this.ip(d, q, end, seg);
  }

  private gre(d: Buffer, o: number, end: number, seg: TcpSegment): boolean {
    if (end - o < 4) return this.drop('truncated: gre header');
    const flags = d.readUInt16BE(o);
    if ((flags & 0x7) !== 0) return this.drop('skip: gre version');
    let hl = 4;
    if (flags & 0x8000) hl += 4;
    if (flags & 0x2000) hl += 4;
    if (flags & 0x1000) hl += 4;
    wrap(seg, 'gre');
    const type = d.readUInt16BE(o + 2);
    if (type === ETHERTYPE.IPV4 || type === ETHERTYPE.IPV6) return this.ip(d, o + hl, end, seg);
    if (type === ETHERTYPE.TEB) return this.ethernet(d.subarray(0, end), o + hl, seg);
    if (type === ETHERTYPE.ERSPAN_2) {
      // ERSPAN type I has no sequence number and no header of its own; type II has both.
      const ersLen = flags & 0x1000 ? 8 : 0;
      rewrap(seg, 'gre', `erspan:${ersLen ? 2 : 1}`);
      return this.ethernet(d.subarray(0, end), o + hl + ersLen, seg);
    }
    if (type === ETHERTYPE.ERSPAN_3) {
      const h = o + hl;
      if (end - h < 12) return this.drop('truncated: erspan header');
      rewrap(seg, 'gre', 'erspan:3');
      // The O bit announces an 8-byte platform-specific subheader.
      return this.ethernet(d.subarray(0, end), h + 12 + (d[h + 11] & 1 ? 8 : 0), seg);
    }
    return this.drop(`skip: gre protocol 0x${type.toString(16)}`);
  }

  private tcp(d: Buffer, o: number, end: number, cut: number, seg: TcpSegment): boolean {
    if (end - o < 20) return this.drop(cut > 0 ? 'truncated: tcp header (snaplen)' : 'truncated: tcp header');
    const doff = (d[o + 12] >> 4) * 4;
    if (doff < 20) return this.drop('bad tcp header length');
    if (end - o < doff) return this.drop('truncated: tcp header');
    if (this.opts.verifyChecksums && cut === 0 && tcpChecksum(seg.src, seg.dst, d, o, end) !== 0) {
      return this.drop('bad tcp checksum');
    }
    seg.srcPort = d.readUInt16BE(o);
    seg.dstPort = d.readUInt16BE(o + 2);
    seg.seq = d.readUInt32BE(o + 4);
    seg.ack = d.readUInt32BE(o + 8);
    seg.flags = d[o + 13];
    seg.window = d.readUInt16BE(o + 14);
    seg.payload = d.subarray(o + doff, end);
    seg.missingTail = cut;
    return true;
  }
}

/** One's-complement sum over the pseudo-header and the segment: 0 when the checksum is right. */
export function tcpChecksum(src: Buffer, dst: Buffer, d: Buffer, o: number, end: number): number {
  let sum = 0;
  const add = (b: Buffer, from: number, to: number): void => {
    let i = from;
    for (; i + 1 < to; i += 2) sum += (b[i] << 8) | b[i + 1];
    if (i < to) sum += b[i] << 8;
  };
  add(src, 0, src.length);
  add(dst, 0, dst.length);
  const len = end - o;
  sum += 6 + (len & 0xffff) + (src.length === 16 ? len >>> 16 : 0);
  add(d, o, end);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return (~sum) & 0xffff;
}

/** Records one more layer of encapsulation, outermost first: "vlan:10/gre/vxlan:42". */
function wrap(seg: TcpSegment, layer: string): void {
  seg.tunnel = seg.tunnel ? `${seg.tunnel}/${layer}` : layer;
}

function rewrap(seg: TcpSegment, last: string, layer: string): void {
  if (seg.tunnel === last) seg.tunnel = layer;
  else if (seg.tunnel.endsWith(`/${last}`)) seg.tunnel = seg.tunnel.slice(0, -last.length) + layer;
}
