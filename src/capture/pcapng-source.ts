import { ChunkCursor } from './chunks.js';
import { MAX_CAPLEN } from './pcap-source.js';
import { CaptureError, countPacket, newStats, type Packet, type PacketSource, type ReadStats } from './types.js';

const SHB = 0x0a0d0d0a;
const IDB = 0x00000001;
const OBSOLETE_PB = 0x00000002;
const SPB = 0x00000003;
const EPB = 0x00000006;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
const OPT_END = 0;
const OPT_IF_TSRESOL = 9;
const OPT_IF_TSOFFSET = 14;

interface Interface {
  linkType: number;
  snapLen: number;
  /** Timestamp units per second. */
  unitsPerSec: number;
  tsOffset: number;
}

/** pcapng: sections in either byte order, several interfaces, EPB/SPB/PB; other blocks skipped. */
export class PcapngSource implements PacketSource {
  readonly format = 'pcapng' as const;
  readonly stats = newStats();
  constructor(readonly name: string, private readonly input: AsyncIterable<Buffer>) {}

  async read(onPacket: (p: Packet) => void, between: () => Promise<void> | undefined): Promise<ReadStats> {
    const stats = this.stats;
    const cur = new ChunkCursor();
    const pkt: Packet = { linkType: 1, ts: 0, data: Buffer.alloc(0), origLen: 0, frame: 0, offset: 0 };
    let le = true;
    let ifaces: Interface[] = [];
    let sawShb = false;
    const u32 = (b: Buffer, o: number): number => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
    const u16 = (b: Buffer, o: number): number => (le ? b.readUInt16LE(o) : b.readUInt16BE(o));
    const warn = (offset: number, message: string): ReadStats => {
      stats.warnings.push({ offset, message });
      return stats;
    };

    for await (const chunk of this.input) {
      cur.push(chunk);
      do {
        const b = cur.buf;
        for (;;) {
          const p = cur.pos;
          if (b.length - p < 12) {
            cur.want = 12;
            break;
          }
          let type = u32(b, p);
          if (type === SHB) {
            // The byte-order magic decides how this section, including its own length, is read.
            const bom = b.readUInt32LE(p + 8);
            if (bom === BYTE_ORDER_MAGIC) le = true;
            else if (bom === 0x4d3c2b1a) le = false;
            else if (!sawShb) throw CaptureError.notACapture(this.name, `bad section header byte-order magic at byte ${cur.base + p + 8}`);
            else return warn(cur.base + p, 'corrupt section header block (bad byte-order magic); rest of file ignored');
            type = SHB;
          } else if (!sawShb) {
            throw CaptureError.notACapture(this.name, `at byte ${cur.base + p}: block type 0x${type.toString(16)} before any section header`);
          }
          const len = u32(b, p + 4);
          if (len < 12 || len % 4 !== 0 || len > MAX_CAPLEN + 64) {
            return warn(cur.base + p, `corrupt block (type 0x${type.toString(16)}, length ${len}); rest of file ignored`);
          }
          if (b.length - p < len) {
            cur.want = len;
            break;
          }
          if (u32(b, p + len - 4) !== len) {
            return warn(cur.base + p, `corrupt block (type 0x${type.toString(16)}): trailing length does not match ${len}; rest of file ignored`);
          }
          cur.pos = p + len;
          const off = cur.base + p;
          switch (type) {
            case SHB:
              sawShb = true;
              ifaces = [];
              break;
            case IDB:
              ifaces.push(readInterface(b, p, len, u16, u32, le));
              stats.linkTypes.add(ifaces[ifaces.length - 1].linkType);
              break;
            case EPB:
            case OBSOLETE_PB: {
              const epb = type === EPB;
              const ifId = epb ? u32(b, p + 8) : u16(b, p + 8);
              const iface = ifaces[ifId];
              if (!iface) { stats.warnings.push({ offset: off, message: `packet block names unknown interface ${ifId}; skipped` }); break; }
              const caplen = u32(b, p + 20);
              if (28 + caplen > len - 4) return warn(off, `corrupt packet block: captured length ${caplen} exceeds block length ${len}; rest of file ignored`);
              const ts = u32(b, p + 12) * 4294967296 + u32(b, p + 16);
              emit(iface, ts, b.subarray(p + 28, p + 28 + caplen), u32(b, p + 24), off);
              break;
            }
            case SPB: {
              const iface = ifaces[0];
              if (!iface) { stats.warnings.push({ offset: off, message: 'simple packet block before any interface; skipped' }); break; }
              const origLen = u32(b, p + 8);
              let caplen = Math.min(origLen, len - 16);
              if (iface.snapLen > 0) caplen = Math.min(caplen, iface.snapLen);
              // SPBs carry no timestamp; 0 keeps them visibly undated rather than invented.
              emit(iface, -1, b.subarray(p + 12, p + 12 + caplen), origLen, off);
              break;
            }
            default:
              break; // NRB, ISB, DSB, custom and unknown blocks carry no packets.
          }
        }
      } while (cur.more());
      const wait = between();
      if (wait) await wait;
    }
    if (!sawShb) throw new CaptureError(this.name, 0, 'truncated pcapng section header');
    if (cur.available() > 0) {
      stats.warnings.push({ offset: cur.offset(), message: `truncated block: ${cur.available()} byte(s) left at the end of the file, ignored` });
    }
    return stats;

    function emit(iface: Interface, rawTs: number, data: Buffer, origLen: number, off: number): void {
      pkt.linkType = iface.linkType;
      pkt.ts = rawTs < 0 ? 0 : rawTs / iface.unitsPerSec + iface.tsOffset;
      pkt.data = data;
      pkt.origLen = origLen;
      pkt.frame++;
      pkt.offset = off;
      countPacket(stats, pkt);
      onPacket(pkt);
    }
  }
}

function readInterface(
  b: Buffer, p: number, len: number,
  u16: (b: Buffer, o: number) => number, u32: (b: Buffer, o: number) => number, le: boolean,
): Interface {
  const iface: Interface = { linkType: u16(b, p + 8), snapLen: u32(b, p + 12), unitsPerSec: 1e6, tsOffset: 0 };
  let o = p + 16;
  const end = p + len - 4;
  while (o + 4 <= end) {
    const code = u16(b, o);
    const olen = u16(b, o + 2);
    if (code === OPT_END || o + 4 + olen > end) break;
    if (code === OPT_IF_TSRESOL && olen >= 1) {
      const v = b[o + 4];
      iface.unitsPerSec = v & 0x80 ? 2 ** (v & 0x7f) : 10 ** v;
    } else if (code === OPT_IF_TSOFFSET && olen >= 8) {
      iface.tsOffset = Number(le ? b.readBigInt64LE(o + 4) : b.readBigInt64BE(o + 4));
    }
    o += 4 + ((olen + 3) & ~3);
  }
  return iface;
}
