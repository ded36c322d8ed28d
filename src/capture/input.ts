import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { CaptureError } from './types.js';

/** The first bytes of an input plus a stream that still yields them. */
export interface PeekedInput {
  head: Buffer;
  stream: AsyncIterable<Buffer>;
}

const CHUNK = 1 << 20;

/** Opens a capture path (or `-` for standard input) as a byte stream. */
export async function openInput(path: string): Promise<Readable> {
  if (path === '-') return process.stdin;
  let st;
  try {
    st = await stat(path);
  } catch (e) {
    throw new CaptureError(path, -1, errnoText(e));
  }
  if (st.isDirectory()) throw new CaptureError(path, -1, 'is a directory, not a capture file');
  return createReadStream(path, { highWaterMark: CHUNK });
}

/** Reads until at least `n` bytes (or the end) are seen, without losing them for the reader. */
export async function peek(stream: AsyncIterable<Buffer>, n: number): Promise<PeekedInput> {
  const it = stream[Symbol.asyncIterator]();
  const seen: Buffer[] = [];
  let have = 0;
  let done = false;
  while (have < n) {
    const r = await it.next();
    if (r.done) { done = true; break; }
    seen.push(r.value);
    have += r.value.length;
  }
  const head = Buffer.concat(seen);
  async function* rest(): AsyncGenerator<Buffer> {
    if (head.length) yield head;
    if (done) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield r.value;
    }
  }
  return { head, stream: rest() };
}

export function errnoText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  switch (err?.code) {
    case 'ENOENT': return 'no such file';
    case 'EACCES': return 'permission denied';
    case 'EISDIR': return 'is a directory, not a capture file';
    default: return err?.message ?? String(e);
  }
}
