import { createHash } from 'node:crypto';
/** One captured frame. Readers reuse a single instance: copy what must outlive the callback. */
export interface Packet {
  /** DLT/LINKTYPE value of the interface the frame was captured on. */
  linkType: number;
  /** Capture timestamp, epoch seconds. */
  ts: number;
  /** The captured bytes: a view into the reader's buffer, valid only during the callback. */
  data: Buffer;
  /** Length of the frame on the wire (may exceed data.length when the snaplen cut it). */
  origLen: number;
  /** 1-based frame number within its capture file, as Wireshark counts. */
  frame: number;
  /** Byte offset of the record in the (decompressed) capture stream. */
  offset: number;
}

export type CaptureFormat = 'pcap' | 'pcap-nsec' | 'pcap-modified' | 'pcapng';

/** A problem with the capture file itself; everything read before it is kept. */
export interface CaptureWarning {
  offset: number;
  message: string;
}

export interface ReadStats {
  packets: number;
  bytes: number;
  firstTs: number | null;
  lastTs: number | null;
  linkTypes: Set<number>;
  warnings: CaptureWarning[];
  /** Packets cut short by the capture's snapshot length, and where the first one is. */
  snapCut: number;
  firstSnapCut: { frame: number; offset: number } | null;
}

/**
 * A source of packets (pcapgo's reader interface, in spirit). `read` calls `onPacket`
 * synchronously for each frame and awaits `between()` between chunks of input, which is
 * where downstream stages apply backpressure. A packet's bytes are never overwritten: stages
 * may keep views of them, and should copy what they still keep at `between()`, when the
 * reader lets go of the chunk they lie in.
 */
export interface PacketSource {
  readonly name: string;
  readonly format: CaptureFormat;
  /** Counts so far; after a failed or interrupted read, what was read before it. */
  readonly stats: ReadStats;
  /** sha256 of standard input's bytes as read (before gunzip), set by openCapture. */
  digest?: InputDigest;
  /** How far into its file the source has read (before gunzip), for progress; size null for a pipe. */
  position?: { size: number | null; read(): number };
  read(onPacket: (p: Packet) => void, between: () => Promise<void> | undefined): Promise<ReadStats>;
}

/** A capture that cannot be read at all: reported as one line, naming file and offset. */
export class CaptureError extends Error {
  constructor(readonly file: string, readonly offset: number, readonly detail: string, whole?: string) {
    super(whole ?? `${file}: ${detail}${offset >= 0 ? ` (at byte ${offset})` : ''}`);
    this.name = 'CaptureError';
  }

  static notACapture(file: string, why: string): CaptureError {
    return new CaptureError(file, 0, why, `not a pcap or pcapng file: ${file} (${why})`);
  }
}

/** Hashes an input's bytes as they are read: a capture is evidence too, identified by its hash. */
export class InputDigest {
  private readonly hash = createHash('sha256');
  /** The whole input's sha256; null until its last byte was read. */
  sha256: string | null = null;

  async *wrap(stream: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    for await (const chunk of stream) {
      this.hash.update(chunk);
      yield chunk;
    }
    this.sha256 = this.hash.digest('hex');
  }
}

export function newStats(): ReadStats {
  return { packets: 0, bytes: 0, firstTs: null, lastTs: null, linkTypes: new Set(), warnings: [], snapCut: 0, firstSnapCut: null };
}

export function countPacket(stats: ReadStats, p: Packet): void {
  stats.packets++;
  stats.bytes += p.data.length;
  if (stats.firstTs === null || p.ts < stats.firstTs) stats.firstTs = p.ts;
  if (stats.lastTs === null || p.ts > stats.lastTs) stats.lastTs = p.ts;
  if (p.origLen > p.data.length && stats.snapCut++ === 0) stats.firstSnapCut = { frame: p.frame, offset: p.offset };
}
