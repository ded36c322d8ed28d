import { statSync } from 'node:fs';
import { createGunzip } from 'node:zlib';
import { Readable } from 'node:stream';
import { openInput, peek } from './input.js';
import { PcapSource } from './pcap-source.js';
import { PcapngSource } from './pcapng-source.js';
import { CaptureError, InputDigest, type PacketSource } from './types.js';

/**
 * Which reader takes classic microsecond pcap. `fast` is our plain loop over the records
 * (several times pcap-parser's speed: on a 1 GiB capture pcap-parser alone takes ~2.9 s, which
 * is most of the time budget); `pcap-parser` is the package, kept as the reference the loop is
 * tested against and as a fallback.
 */
export type PcapReader = 'fast' | 'pcap-parser';

/** Opens a capture and picks its reader by magic number, never by file name. */
export async function openCapture(path: string, signal?: AbortSignal, pcapReader: PcapReader = 'fast'): Promise<PacketSource> {
  // A file is hashed by reading it again, off the packet loop (the caller does it); a stream
  // can be read only once, so standard input is hashed as it is read.
  const digest = path === '-' ? new InputDigest() : null;
  const input = await openInput(path);
  const source = await openSource(path, input, digest, signal, pcapReader);
  if (digest) source.digest = digest;
  const file = input as Readable & { bytesRead?: number };
  const size = path === '-' ? null : statSync(path).size;
  source.position = { size, read: () => file.bytesRead ?? 0 };
  return source;
}

async function openSource(path: string, input: Readable, digest: InputDigest | null, signal: AbortSignal | undefined, pcapReader: PcapReader): Promise<PacketSource> {
  const name = path === '-' ? '<stdin>' : path;
  // Reading may wait on a slow pipe: an abort must not wait for its next chunk.
  signal?.addEventListener('abort', () => input.destroy(new Error('interrupted')), { once: true });
  let peeked = await peek(digest ? digest.wrap(input) : input, 4);
  if (peeked.head.length >= 2 && peeked.head[0] === 0x1f && peeked.head[1] === 0x8b) {
    const gunzip = createGunzip();
    const raw = Readable.from(peeked.stream, { objectMode: false });
    raw.on('error', (e) => gunzip.destroy(e));
    const inner = raw.pipe(gunzip);
    peeked = await peek(wrapGzipErrors(inner, name), 4);
  }
  const h = peeked.head;
  if (h.length === 0) throw CaptureError.notACapture(name, 'the file is empty');
  if (h.length < 4) throw CaptureError.notACapture(name, `only ${h.length} byte(s), at byte 0`);
  const le = h.readUInt32LE(0);
  if (le === 0xa1b2c3d4 || le === 0xd4c3b2a1) {
    if (pcapReader !== 'pcap-parser') return new PcapSource(name, peeked.stream, 'microsecond');
    // Loaded only when asked for: ~11 ms of every run's start-up otherwise.
    const { PcapParserSource } = await import('./pcap-parser-source.js');
    return new PcapParserSource(name, peeked.stream);
  }
  if (le === 0xa1b23c4d || le === 0x4d3cb2a1) return new PcapSource(name, peeked.stream, 'nanosecond');
  if (le === 0xa1b2cd34 || le === 0x34cdb2a1) return new PcapSource(name, peeked.stream, 'modified');
  if (le === 0x0a0d0d0a) return new PcapngSource(name, peeked.stream);
  throw CaptureError.notACapture(name, `at byte 0: magic ${[...h.subarray(0, 4)].map((x) => x.toString(16).padStart(2, '0')).join(' ')} is neither pcap's nor pcapng's`);
}

async function* wrapGzipErrors(stream: AsyncIterable<Buffer>, name: string): AsyncGenerator<Buffer> {
  let n = 0;
  try {
    for await (const c of stream) { n += c.length; yield c; }
  } catch (e) {
    // The offset is in the decompressed capture: where the packets stop.
    throw new CaptureError(name, -1, `gzip stream is damaged (${(e as Error).message}); the capture inside it ends at byte ${n}`);
  }
}
