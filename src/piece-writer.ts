import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';

/**
 * Writes a text file in pieces through a buffer of about `flushAt` characters, under a
 * temporary name renamed into place on `close()`, so a failure leaves no half-written file
 * where the finished one belongs. Used by the exports and the review page, whose files are
 * written record by record, so none of them holds more than a buffer in memory.
 */
export class PieceWriter {
  private readonly tmp: string;
  private fd: number;
  private parts: string[] = [];
  private pending = 0;
  /** Bytes written so far. */
  bytes = 0;

  /** `tmp` is the temporary name; by default FILE.partial-PID beside the file. */
  constructor(private readonly file: string, opts: { tmp?: string; flushAt?: number } = {}) {
    this.tmp = opts.tmp ?? `${file}.partial-${process.pid}`;
    this.flushAt = opts.flushAt ?? 1 << 20;
    this.fd = openSync(this.tmp, 'w');
  }

  private readonly flushAt: number;

  write(text: string): void {
    this.parts.push(text);
    this.pending += text.length;
    if (this.pending >= this.flushAt) this.flush();
  }

  private flush(): void {
    if (this.parts.length === 0) return;
    // One conversion per flush: the review page writes thousands of short pieces.
    const b = Buffer.from(this.parts.length === 1 ? this.parts[0] : this.parts.join(''), 'utf8');
    this.parts = [];
    this.pending = 0;
    for (let off = 0; off < b.length; ) off += writeSync(this.fd, b, off, b.length - off);
    this.bytes += b.length;
  }

  /** Writes what is buffered and puts the file in place; returns the bytes it holds. */
  close(): number {
    this.flush();
    closeSync(this.fd);
    this.fd = -1;
    renameSync(this.tmp, this.file);
    return this.bytes;
  }

  /** Gives up: closes and removes the temporary file. */
  abort(): void {
    if (this.fd >= 0) {
      try { closeSync(this.fd); } catch { /* already failing */ }
      this.fd = -1;
    }
    rmSync(this.tmp, { force: true });
  }
}
