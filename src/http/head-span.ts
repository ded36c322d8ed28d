/**
 * Where each head lies in one direction's stream, and its bytes. llhttp says where a head ends
 * (it pauses there) but not where a message begins; that is known after a seek and after a body
 * of known length, and otherwise found as the blank line that ended what came before. The bytes
 * of a head that spans buffers are kept, bounded, until it ends.
 */
export class HeadSpan {
  /** Stream offset where the next message starts, or -1 when only `floor` is known. */
  private nextStart = -1;
  /** No head starts before this stream offset: the end of the last head. */
  private floor = 0;
  private tail: Buffer | null = null;
  private tailAt = 0;

  constructor(private readonly maxHead: number) {}

  /** A message starts at this stream offset (a seek found it). */
  startsAt(offset: number): void {
    this.nextStart = offset;
    this.floor = offset;
    this.tail = null;
  }

  /** A head ended at `end`, followed by a body of `bodyLength` bytes, or of unknown extent (null). */
  headEnded(end: number, bodyLength: number | null): void {
    this.floor = end;
    this.nextStart = bodyLength === null ? -1 : end + bodyLength;
    this.tail = null;
  }

  /** Bytes went missing: nothing kept is contiguous with what comes next. */
  lost(): void {
    this.tail = null;
    this.nextStart = -1;
  }

  /** A buffer ended inside a head: keep what of it (and before it) the head may need. */
  keep(buf: Buffer, bufOffset: number): void {
    const end = bufOffset + buf.length;
    const from = Math.max(this.lowest(end), end - this.maxHead);
    if (this.tail && from < bufOffset && this.tailAt + this.tail.length === bufOffset) {
      this.tail = Buffer.concat([this.tail.subarray(Math.max(0, from - this.tailAt)), buf]);
      this.tailAt = Math.max(from, this.tailAt);
    } else {
      const at = Math.max(from, bufOffset);
      this.tail = Buffer.from(buf.subarray(at - bufOffset));
      this.tailAt = at;
    }
  }

  /** The head that ends `consumed` bytes into `buf` (at stream offset `bufOffset`): its bytes, or null when too long or not all seen. */
  take(buf: Buffer, bufOffset: number, consumed: number): Buffer | null {
    const end = bufOffset + consumed;
    const tail = this.tail && this.tailAt + this.tail.length === bufOffset ? this.tail : null;
    const from = Math.max(this.lowest(end), tail ? this.tailAt : bufOffset);
    if (end - from > this.maxHead) return null;
    const bytes = from >= bufOffset ? buf.subarray(from - bufOffset, consumed) : Buffer.concat([tail!.subarray(from - this.tailAt), buf.subarray(0, consumed)]);
    return bytes.subarray(this.nextStart >= 0 && this.nextStart >= from ? skipLineEnds(bytes, 0) : headStart(bytes));
  }

  private lowest(end: number): number {
    return this.nextStart >= 0 && this.nextStart <= end ? this.nextStart : this.floor;
  }
}

/** Where a head that ends at the end of `bytes` begins: after the last blank line before its own. */
export function headStart(bytes: Buffer): number {
  let i = bytes.length - 2;
  if (bytes[i] === 13) i--;
  // bytes[i] ends the head's last line; a blank line before it ended whatever came before.
  for (let j = i - 1; j >= 0; j--) {
    if (bytes[j] !== 10) continue;
    if (bytes[j + 1] === 10) return skipLineEnds(bytes, j + 2);
    if (bytes[j + 1] === 13 && bytes[j + 2] === 10) return skipLineEnds(bytes, j + 3);
  }
  return skipLineEnds(bytes, 0);
}

/** Empty lines before a start line are tolerated by every parser, llhttp's strict mode included. */
function skipLineEnds(bytes: Buffer, at: number): number {
  while (at < bytes.length && (bytes[at] === 13 || bytes[at] === 10)) at++;
  return at;
}
