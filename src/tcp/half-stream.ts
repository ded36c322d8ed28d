import type { HalfOutput } from './direction-gate.js';
import type { Dir } from './stream.js';

interface Pending {
  off: number;
  len: number;
  /** null for a hole of `len` bytes that the capture cut off. */
  data: Buffer | null;
  ts: number;
  peerAck: number;
}

/** Bytes held behind holes across every connection, the most allowed, and the most per stream. */
export interface PendingBudget {
  used: number;
  max: number;
  perStream: number;
}

/** Further ahead than any TCP window (2^30 with scaling): not this stream's bytes. */
const MAX_AHEAD = 1 << 30;

/** Acks further ahead than this are not taken as evidence of unseen bytes. */
const MAX_ACK_AHEAD = 256 * 1024 * 1024;

/** Counters kept for one direction of a connection. */
export interface HalfStats {
  readonly packets: number;
  /** Payload bytes seen on the wire, retransmissions included. */
  readonly bytes: number;
  /** Bytes delivered in order. */
  readonly delivered: number;
  readonly missing: number;
  readonly gaps: number;
  readonly retransmitted: number;
  readonly outOfOrder: number;
  /** Segments too far ahead of the stream to be part of it, dropped. */
  readonly outOfWindow: number;
}

/**
 * Reassembles one direction. Sequence numbers are turned into 64-bit stream offsets relative
 * to the first byte, so wraparound at 2^32 is just arithmetic. Kept small: a capture may hold
 * a hundred thousand of these at once.
 */
export class HalfStream implements HalfStats {
  packets = 0;
  bytes = 0;
  delivered = 0;
  missing = 0;
  gaps = 0;
  retransmitted = 0;
  outOfOrder = 0;
  outOfWindow = 0;
  started = false;
  /** Sequence number of stream offset 0. */
  private base = 0;
  /** Offset of the next byte to deliver. */
  next = 0;
  /** Segments waiting behind a hole, by offset; null while there are none. */
  private pending: Pending[] | null = null;
  private pendingBytes = 0;
  /** Offset of the FIN, once seen. */
  finAt = -1;
  finDelivered = false;
  /** Highest offset the peer acknowledged. */
  acked = 0;

  constructor(private dir: Dir, private readonly out: HalfOutput, private readonly budget: PendingBudget) {}

  get stats(): HalfStats {
    return this;
  }

  setDir(dir: Dir): void {
    this.dir = dir;
  }

  /** Offset of a sequence number, taken as the nearest to where the stream is now. */
  offsetOf(seq: number): number {
    return this.next + ((seq - ((this.base + this.next) >>> 0)) | 0);
  }

  start(seq: number): void {
    this.base = seq >>> 0;
    this.started = true;
  }

  /** `peerAck` is the peer stream offset this segment acknowledged (-1: none). */
  segment(seq: number, payload: Buffer, fin: boolean, ts: number, missingTail: number, peerAck: number): void {
    const off = this.offsetOf(seq);
    if (payload.length > 0) this.insert(off, payload, ts, peerAck);
    if (missingTail > 0) {
      // Bytes the snaplen cut off: they were sent, so the stream has a hole there.
      this.insert(off + payload.length, null, ts, peerAck, missingTail);
    }
    if (fin && this.finAt < 0) this.finAt = off + payload.length + missingTail;
    this.maybeFin(ts);
  }

  ack(offset: number): void {
    if (offset > this.acked) this.acked = offset;
  }

  private insert(off: number, data: Buffer | null, ts: number, peerAck: number, holeLen = 0): void {
    const len = data ? data.length : holeLen;
    const end = off + len;
    if (end <= this.next) {
      if (data) this.retransmitted++;
      return;
    }
    if (off < this.next) {
      if (data) data = data.subarray(this.next - off);
      off = this.next;
    }
    if (off === this.next) {
      this.deliver(data, end - off, ts, peerAck);
      this.drain();
      return;
    }
    if (off - this.next > MAX_AHEAD) {
      this.outOfWindow++;
      return;
    }
    this.outOfOrder++;
    // Copied: the packet buffer is only ours for the duration of the callback.
    const item: Pending = { off, len: end - off, data: data ? Buffer.from(data) : null, ts, peerAck };
    const pending = (this.pending ??= []);
    let i = pending.length;
    while (i > 0 && pending[i - 1].off > off) i--;
    pending.splice(i, 0, item);
    const n = data ? data.length : 0;
    this.pendingBytes += n;
    this.budget.used += n;
    if (this.pendingBytes > this.budget.perStream || this.budget.used > this.budget.max) this.forceGap(ts);
  }

  private deliver(data: Buffer | null, len: number, ts: number, peerAck: number): void {
    if (data) {
      this.delivered += len;
      this.next += len;
      this.out.data(this.dir, data, ts, peerAck);
    } else {
      this.gapTo(this.next + len, ts);
    }
  }

  private gapTo(off: number, ts: number): void {
    const len = off - this.next;
    if (len <= 0) return;
    this.missing += len;
    this.gaps++;
    this.next = off;
    this.out.gap(this.dir, len, ts);
  }

  private drain(): void {
    const pending = this.pending;
    if (!pending) return;
    while (pending.length > 0 && pending[0].off <= this.next) {
      const p = pending.shift()!;
      if (p.data) {
        this.pendingBytes -= p.data.length;
        this.budget.used -= p.data.length;
      }
      const end = p.off + p.len;
      if (end <= this.next) { if (p.data) this.retransmitted++; continue; }
      const skip = this.next - p.off;
      this.deliver(p.data ? p.data.subarray(skip) : null, p.len - skip, p.ts, p.peerAck);
    }
    if (pending.length === 0 && this.pending === pending) this.pending = null;
  }

  /** Too much is buffered behind a hole: give up waiting for it. */
  private forceGap(ts: number): void {
    // Over the shared budget, this stream gives up all it holds; over its own, half of it.
    const keep = this.budget.used > this.budget.max ? 0 : this.budget.perStream / 2;
    while (this.pending && this.pending.length > 0 && this.pendingBytes > keep) {
      this.gapTo(this.pending[0].off, ts);
      this.drain();
    }
  }

  private maybeFin(ts: number): void {
    if (!this.finDelivered && this.finAt >= 0 && this.next >= this.finAt && !this.pending?.length) {
      this.finDelivered = true;
      this.out.fin(this.dir, ts);
    }
  }

  /** The connection is ending: whatever is still missing becomes a gap, buffered bytes follow. */
  flush(ts: number): void {
    while (this.pending && this.pending.length > 0) {
      this.gapTo(this.pending[0].off, ts);
      this.drain();
    }
    let end = this.finAt >= 0 ? this.finAt : this.acked - this.next <= MAX_ACK_AHEAD ? this.acked : this.next;
    // An ack one past the last byte is most likely a FIN we never saw, not a lost byte.
    if (this.finAt < 0 && this.acked === this.next + 1) end = this.next;
    if (end > this.next) this.gapTo(end, ts);
    this.maybeFin(ts);
  }
}
