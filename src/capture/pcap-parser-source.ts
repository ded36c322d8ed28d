import { Readable } from 'node:stream';
import { createRequire } from 'node:module';
import { MAX_CAPLEN } from './pcap-source.js';
import { CaptureError, countPacket, newStats, type Packet, type PacketSource, type ReadStats } from './types.js';

const require = createRequire(import.meta.url);
// pcap-parser ships no types; this is the part of its surface we use.
interface PcapParser {
  on(ev: 'globalHeader', f: (h: { linkLayerType: number; majorVersion: number; minorVersion: number }) => void): void;
  on(ev: 'packet', f: (p: { header: PcapRecordHeader; data: Buffer }) => void): void;
  on(ev: 'packetHeader', f: (h: PcapRecordHeader) => void): void;
  on(ev: 'error', f: (e: Error) => void): void;
  on(ev: 'end', f: () => void): void;
  buffer: Buffer | null;
}
interface PcapRecordHeader {
  timestampSeconds: number;
  timestampMicroseconds: number;
  capturedLength: number;
  originalLength: number;
}
const pcapParser = require('pcap-parser') as { parse(input: Readable): PcapParser };

const GLOBAL_HEADER = 24;
const RECORD_HEADER = 16;

/** Classic microsecond pcap, either byte order, read by the pcap-parser package. */
export class PcapParserSource implements PacketSource {
  readonly format = 'pcap' as const;
  readonly stats = newStats();
  constructor(readonly name: string, private readonly input: AsyncIterable<Buffer>) {}

  read(onPacket: (p: Packet) => void, between: () => Promise<void> | undefined): Promise<ReadStats> {
    const stats = this.stats;
    const stream = Readable.from(this.input, { objectMode: false });
    const parser = pcapParser.parse(stream);
    const pkt: Packet = { linkType: 1, ts: 0, data: Buffer.alloc(0), origLen: 0, frame: 0, offset: 0 };
    let offset = GLOBAL_HEADER;
    let failure: Error | null = null;
    let headerRead = false;
    return new Promise((resolve, reject) => {
      parser.on('globalHeader', (h) => {
        pkt.linkType = h.linkLayerType;
        stats.linkTypes.add(h.linkLayerType);
      });
      // pcap-parser would wait for (and keep copying) a body of any claimed size: stop at a garbage header.
      parser.on('packetHeader', (h) => {
        headerRead = true;
        if (failure || h.capturedLength <= MAX_CAPLEN) return;
        stats.warnings.push({ offset, message: `corrupt record header (captured length ${h.capturedLength}); rest of file ignored` });
        failure = new Error('corrupt record header');
        stream.destroy();
        resolve(stats);
      });
      parser.on('packet', ({ header, data }) => {
        headerRead = false;
        if (failure) return;
        pkt.ts = header.timestampSeconds + header.timestampMicroseconds / 1e6;
        pkt.data = data;
        pkt.origLen = header.originalLength;
        pkt.frame++;
        pkt.offset = offset;
        offset += RECORD_HEADER + header.capturedLength;
        countPacket(stats, pkt);
        try {
          onPacket(pkt);
        } catch (e) {
          failure = e as Error;
          stream.destroy();
          reject(e);
        }
      });
      // Registered after the parser's own 'data' listener, so it runs once a chunk is parsed.
      stream.on('data', () => {
        const wait = between();
        if (wait) {
          stream.pause();
          wait.then(() => stream.resume(), (e) => { failure = e as Error; stream.destroy(); reject(e); });
        }
      });
      parser.on('error', (e) => {
        if (!failure) { failure = e; reject(new CaptureError(this.name, offset, e.message)); }
      });
      parser.on('end', () => {
        if (failure) return;
        // pcap-parser has consumed the header of a record whose body is cut: count it as left too.
        const left = (parser.buffer?.length ?? 0) + (headerRead ? RECORD_HEADER : 0);
        if (left > 0) {
          stats.warnings.push({
            offset,
            message: `truncated record: ${left} byte(s) left at the end of the file, ignored`,
          });
        }
        resolve(stats);
      });
    });
  }
}
