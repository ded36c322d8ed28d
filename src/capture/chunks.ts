/**
 * Walks variable-length records across the chunks of a byte stream. A record that straddles
 * two chunks is made contiguous by copying it alone: the reader says how many bytes the record
 * at `pos` needs (`want`), and only those are joined; the rest of the chunk is read in place.
 * (Joining the unread tail with the whole next chunk copied every byte of the capture once.)
 *
 *   cur.push(chunk);
 *   do { ...read records from cur.buf at cur.pos; on a short one set cur.want and stop... }
 *   while (cur.more());
 */
export class ChunkCursor {
  buf: Buffer = Buffer.alloc(0);
  pos = 0;
  /** Stream offset of buf[0]. */
  base = 0;
  /** Bytes the record at `pos` needs in all, when the reader knows; 0 when it does not. */
  want = 0;
  /** Input not yet in `buf`. */
  private next: Buffer | null = null;

  push(chunk: Buffer): void {
    this.next = chunk;
    this.advance();
  }

  /** Moves on to input not yet read; false when the reader must wait for the next chunk. */
  more(): boolean {
    if (this.next === null) return false;
    this.advance();
    return true;
  }

  available(): number {
    return this.buf.length - this.pos;
  }

  offset(): number {
    return this.base + this.pos;
  }

  private advance(): void {
    const next = this.next!;
    const rest = this.buf.length - this.pos;
    this.base += this.pos;
    if (rest === 0) {
      this.buf = next;
      this.next = null;
    } else {
      // Just the straddling record, when its size is known; else all that there is.
      const take = this.want > rest ? Math.min(this.want - rest, next.length) : next.length;
      this.buf = Buffer.concat([this.buf.subarray(this.pos), next.subarray(0, take)]);
      this.next = take < next.length ? next.subarray(take) : null;
    }
    this.pos = 0;
    this.want = 0;
  }
}
