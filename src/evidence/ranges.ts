import { closeSync, openSync, readSync, writeSync } from 'node:fs';

/**
 * Stitches 206 Partial Content pieces of one resource (the same URL with the same validator,
 * across connections) into one file. Pieces are written at their offsets in a sparse file as
 * they are recovered; what is covered is tracked as merged intervals.
 */

/** What identifies one resource, and what its pieces need to be placed. */
export interface RangePiece {
  /** host, URL and validator (ETag, else Last-Modified, else the total length). */
  key: string;
  start: number;
  total: number | null;
  transactionId: number;
}

export interface StitchedResource {
  key: string;
  tmp: string;
  total: number | null;
  /** [start, end) intervals present, merged and sorted. */
  covered: Array<[number, number]>;
  /** The transaction of the first piece seen: the stitched file's row points to it. */
  transactionId: number;
  pieces: number;
  /** Opaque data the caller keeps for naming the file. */
  tag: unknown;
}

const COPY = 1024 * 1024;

export class RangeStitcher {
  private readonly resources = new Map<string, StitchedResource & { fd: number }>();

  constructor(private readonly newTmp: () => string) {}

  get size(): number {
    return this.resources.size;
  }

  /** Copies `length` bytes at `srcOffset` of the file `src` to the piece's place in its resource. */
  add(piece: RangePiece, tag: unknown, src: string, srcOffset: number, length: number): void {
    if (length <= 0) return;
    let r = this.resources.get(piece.key);
    if (!r) {
      const tmp = this.newTmp();
      r = { key: piece.key, tmp, fd: openSync(tmp, 'w+'), total: piece.total, covered: [], transactionId: piece.transactionId, pieces: 0, tag };
      this.resources.set(piece.key, r);
    }
    r.pieces++;
    if (r.total === null && piece.total !== null) r.total = piece.total;
    const fd = openSync(src, 'r');
    try {
      const buf = Buffer.allocUnsafe(Math.min(COPY, length));
      for (let done = 0; done < length;) {
        const n = readSync(fd, buf, 0, Math.min(buf.length, length - done), srcOffset + done);
        if (n === 0) break;
        for (let w = 0; w < n;) w += writeSync(r.fd, buf, w, n - w, piece.start + done + w);
        done += n;
        cover(r.covered, piece.start + done - n, piece.start + done);
      }
    } finally {
      closeSync(fd);
    }
  }

  /** Every resource, its file closed, in the order first seen. */
  finish(): StitchedResource[] {
    const out: StitchedResource[] = [];
    for (const r of this.resources.values()) {
      closeSync(r.fd);
      const { fd: _fd, ...rest } = r;
      out.push(rest);
    }
    this.resources.clear();
    return out;
  }
}

/** Adds [s, e) to a sorted list of disjoint intervals, merging what touches. */
export function cover(list: Array<[number, number]>, s: number, e: number): void {
  let i = 0;
  while (i < list.length && list[i][1] < s) i++;
  let j = i;
  while (j < list.length && list[j][0] <= e) {
    s = Math.min(s, list[j][0]);
    e = Math.max(e, list[j][1]);
    j++;
  }
  list.splice(i, j - i, [s, e]);
}
