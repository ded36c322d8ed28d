/**
 * A decoded TCP segment. The decoder fills one instance per packet (no per-packet
 * allocation); every Buffer in it is a view into the packet's bytes.
 */
export class TcpSegment {
  ts = 0;
  frame = 0;
  ipVersion: 4 | 6 = 4;
  /** The bytes holding the addresses, and where each starts: views are made only when asked for. */
  addrBytes: Buffer = EMPTY;
  srcAt = 0;
  dstAt = 0;
  /** IPv4 addresses as numbers, to compare without a view or a string; -1 for IPv6. */
  src4 = -1;
  dst4 = -1;
  srcPort = 0;
  dstPort = 0;
  seq = 0;
  ack = 0;
  flags = 0;
  window = 0;
  payload: Buffer = EMPTY;
  /** Payload bytes that were on the wire but cut off by the snaplen. */
  missingTail = 0;
  /** Outermost encapsulation seen, e.g. "vlan:10" or "gre"; empty when none. */
  tunnel = '';

  /** Raw address bytes (4 or 16), a view into the packet. */
  get src(): Buffer {
    return this.addrBytes.subarray(this.srcAt, this.srcAt + (this.ipVersion === 4 ? 4 : 16));
  }

  get dst(): Buffer {
    return this.addrBytes.subarray(this.dstAt, this.dstAt + (this.ipVersion === 4 ? 4 : 16));
  }

  setAddresses(d: Buffer, srcAt: number, dstAt: number): void {
    this.addrBytes = d;
    this.srcAt = srcAt;
    this.dstAt = dstAt;
    if (this.ipVersion === 4) {
      this.src4 = d.readUInt32BE(srcAt);
      this.dst4 = d.readUInt32BE(dstAt);
    } else {
      this.src4 = this.dst4 = -1;
    }
  }
}

const EMPTY = Buffer.alloc(0);

export const FIN = 0x01;
export const SYN = 0x02;
export const RST = 0x04;
export const PSH = 0x08;
export const ACK = 0x10;

export function formatIp(b: Buffer): string {
  if (b.length === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i));
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    return `::ffff:${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  }
  // RFC 5952: compress the longest run of two or more zero groups.
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = groups.map((g) => g.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
