import { ChunkCursor } from './chunks.js';
import { CaptureError, countPacket, newStats, type Packet, type PacketSource, type ReadStats } from './types.js';

const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;
/** Larger than any real link's frames; a bigger caplen means the record header is garbage. */
export const MAX_CAPLEN = 256 * 1024 * 1024;

/**
 * Classic pcap read by a plain loop over the records, in every variant: microsecond (the
 * default reader; pcap-parser reads it too and is the reference it is tested against),
 * nanosecond and the modified format of Alexey Kuznetzov's patches, which pcap-parser cannot
 * read. Handles both byte orders.
 */
export class PcapSource implements PacketSource {
  readonly format: 'pcap' | 'pcap-nsec' | 'pcap-modified';
  readonly stats = newStats();
  constructor(readonly name: string, private readonly input: AsyncIterable<Buffer>, kind: 'nanosecond' | 'microsecond' | 'modified') {
    this.format = kind === 'nanosecond' ? 'pcap-nsec' : kind === 'modified' ? 'pcap-modified' : 'pcap';
  }

  async read(onPacket: (p: Packet) => void, between: () => Promise<void> | undefined): Promise<ReadStats> {
    const stats = this.stats;
    const cur = new ChunkCursor();
    const pkt: Packet = { linkType: 1, ts: 0, data: Buffer.alloc(0), origLen: 0, frame: 0, offset: 0 };
    let le = true;
    let divisor = this.format === 'pcap-nsec' ? 1e9 : 1e6;
    // Kuznetzov's modified pcap adds ifindex, protocol, packet type and padding to each record.
    const recHeader = this.format === 'pcap-modified' ? 24 : RECORD_HEADER;
    let header = false;
    for await (const chunk of this.input) {
      cur.push(chunk);
      do {
        const b = cur.buf;
        if (!header) {
          if (cur.available() < GLOBAL_HEADER) {
            cur.want = GLOBAL_HEADER;
            continue;
          }
          const m = b.readUInt32LE(0);
          le = m === 0xa1b2c3d4 || m === 0xa1b23c4d || m === 0xa1b2cd34;
          divisor = (le ? m : b.readUInt32BE(0)) === 0xa1b23c4d ? 1e9 : 1e6;
          pkt.linkType = (le ? b.readUInt32LE(20) : b.readUInt32BE(20)) & 0x0fffffff;
          stats.linkTypes.add(pkt.linkType);
          cur.pos = GLOBAL_HEADER;
          header = true;
        }
        for (;;) {
          const p = cur.pos;
          if (b.length - p < recHeader) {
            cur.want = recHeader;
            break;
          }
          const caplen = le ? b.readUInt32LE(p + 8) : b.readUInt32BE(p + 8);
          if (caplen > MAX_CAPLEN) {
            // Nothing after a garbage header can be trusted; keep what was read before it.
            stats.warnings.push({ offset: cur.base + p, message: `corrupt record header (captured length ${caplen}); rest of file ignored` });
            return stats;
          }
          if (b.length - p - recHeader < caplen) {
            cur.want = recHeader + caplen;
            break;
          }
          const sec = le ? b.readUInt32LE(p) : b.readUInt32BE(p);
          const frac = le ? b.readUInt32LE(p + 4) : b.readUInt32BE(p + 4);
          pkt.ts = sec + frac / divisor;
          pkt.origLen = le ? b.readUInt32LE(p + 12) : b.readUInt32BE(p + 12);
          pkt.data = b.subarray(p + recHeader, p + recHeader + caplen);
          pkt.frame++;
          pkt.offset = cur.base + p;
          cur.pos = p + recHeader + caplen;
          countPacket(stats, pkt);
          onPacket(pkt);
        }
      } while (cur.more());
      const wait = between();
      if (wait) await wait;
    }
    if (!header) throw new CaptureError(this.name, 0, 'truncated pcap file header');
    if (cur.available() > 0) {
      stats.warnings.push({
        offset: cur.offset(),
        message: `truncated record: ${cur.available()} byte(s) left at the end of the file, ignored`,
      });
    }
    return stats;
  }
}
