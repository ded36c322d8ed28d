/**
 * Walks variable-length records across the chunks of a byte stream. A record that straddles
 * two chunks is made contiguous by joining only the unread tail with the next chunk.
 */
export class ChunkCursor {
  buf: Buffer = Buffer.alloc(0);
  pos = 0;
  /** Stream offset of buf[0]. */
  base = 0;
  ended = false;

  push(chunk: Buffer): void {
    const rest = this.buf.length - this.pos;
    this.base += this.pos;
    this.buf = rest > 0 ? Buffer.concat([this.buf.subarray(this.pos), chunk]) : chunk;
    this.pos = 0;
  }

  available(): number {
    return this.buf.length - this.pos;
  }

  offset(): number {
    return this.base + this.pos;
  }
}
