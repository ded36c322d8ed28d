import { constants, createBrotliDecompress, createGunzip, createInflate, createInflateRaw } from 'node:zlib';
import type { Transform } from 'node:stream';
import * as zlib from 'node:zlib';

/** Content codings we can undo, as named in Content-Encoding. */
export type Coding = 'gzip' | 'deflate' | 'br' | 'zstd';

export interface CodingPlan {
  /** Codings in the order they must be undone (the reverse of the header's order). */
  decode: Coding[];
  /** A coding we do not know; the body is then kept as sent. */
  unknown: string | null;
}

const zstdFactory = (zlib as unknown as { createZstdDecompress?: () => Transform }).createZstdDecompress;

/** Reads a Content-Encoding header value. */
export function planCodings(header: string | undefined): CodingPlan {
  const plan: CodingPlan = { decode: [], unknown: null };
  if (!header) return plan;
  const names = header.split(',').map((s) => s.trim().toLowerCase()).filter((s) => s && s !== 'identity');
  for (const n of names) {
    if (n === 'gzip' || n === 'x-gzip') plan.decode.unshift('gzip');
    else if (n === 'deflate') plan.decode.unshift('deflate');
    else if (n === 'br') plan.decode.unshift('br');
    else if (n === 'zstd' && zstdFactory) plan.decode.unshift('zstd');
    else { plan.unknown = n; plan.decode = []; return plan; }
  }
  return plan;
}

/**
 * A streaming decoder for one coding. `deflate` is zlib-wrapped per the RFC, but many servers
 * send raw deflate; the first two bytes tell which.
 */
const DECODE_CHUNK = 64 * 1024;

export function decoderFor(coding: Coding, firstBytes: Buffer): Transform {
  // Truncated bodies are common in captures: flush what decodes instead of failing silently.
  // 64 KiB of output per callback rather than 16: on a GiB of gzip bodies the per-chunk stream
  // work on the packet thread was ~0.4 s.
  const opts = { finishFlush: constants.Z_SYNC_FLUSH, chunkSize: DECODE_CHUNK };
  switch (coding) {
    case 'gzip':
      return createGunzip(opts);
    case 'deflate':
      return looksZlibWrapped(firstBytes) ? createInflate(opts) : createInflateRaw(opts);
    case 'br':
      return createBrotliDecompress({ finishFlush: constants.BROTLI_OPERATION_FLUSH, chunkSize: DECODE_CHUNK });
    case 'zstd':
      return zstdFactory!();
  }
}

function looksZlibWrapped(b: Buffer): boolean {
  if (b.length < 2) return true;
  return (b[0] & 0x0f) === 8 && (b[0] >> 4) <= 7 && ((b[0] << 8) | b[1]) % 31 === 0;
}
