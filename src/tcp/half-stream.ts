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

/** Which copy of overlapping bytes is kept. */
export type OverlapPolicy = 'first' | 'last';

/**
 * Limits and policy shared by every stream: bytes held behind holes (across all connections,
 * and per stream), delivered bytes kept until acknowledged so that retransmissions can be
 * compared with them, and which copy of overlapping bytes wins.
 */
export interface PendingBudget {
  used: number;
  max: number;
  perStream: number;
  /** Bytes of retention windows allocated, and the limit. */
  retained: number;
  maxRetained: number;
  /** Retention windows of RETAIN_BLOCK bytes no stream uses now, for the next one. */
  spareWindows: Buffer[];
  /** Streams whose window ends in views of packet buffers, copied out by `releaseViews`. */
  viewHolders: HalfStream[];
  policy: OverlapPolicy;
}

/** A place where two copies of the same stream bytes disagreed. */
export interface OverlapConflict {
  offset: number;
  length: number;
  /** Bytes that differ within it. */
  differing: number;
  kept: 'first' | 'last';
}

/** Delivered bytes kept per stream while unacknowledged, to compare retransmissions with. */
const MAX_RETAINED_PER_STREAM = 1 << 20;
/**
 * A retention window's first size. Most streams have a few segments unacknowledged at a time;
 * windows are pooled, so that copying each delivered segment allocates nothing.
 */
const RETAIN_BLOCK = 64 * 1024;
const MAX_SPARE_WINDOWS = 64;
/** Conflicts kept in detail per stream; all are counted. */
const MAX_CONFLICTS = 16;

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
  /** Bytes that arrived more than once. */
  readonly overlapping: number;
  /** Of those, bytes whose copies disagreed. */
  readonly conflicting: number;
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
  overlapping = 0;
  conflicting = 0;
  /** The first few disagreements, in detail; null while there are none. */
  conflicts: OverlapConflict[] | null = null;
  started = false;
  /** Sequence number of stream offset 0. */
  private base = 0;
  /** Offset of the next byte to deliver. */
  next = 0;
  /** Segments waiting behind a hole: sorted, never overlapping; null while there are none. */
  private pending: Pending[] | null = null;
  /**
   * Delivered bytes the peer has not acknowledged yet, from stream offset retainOff: first
   * retainLen bytes copied at retainBuf[retainHead...] (no buffer while there are none), then
   * viewLen bytes still in the packet buffers they came in (views). Views cost nothing when the
   * ack comes within the same chunk of input, as nearly all do; copying every delivered byte
   * was ~5% of the packet loop. Views left when the reader moves on are copied (releaseViews):
   * they would keep its chunks alive.
   */
  private retainBuf: Buffer | null = null;
  private retainHead = 0;
  private retainOff = 0;
  private retainLen = 0;
  private views: Buffer[] | null = null;
  private viewLen = 0;
  /** In budget.viewHolders until the next release. */
  private listed = false;
  /** The peer's acknowledgements are in the capture (a one-sided capture has none). */
  private acksSeen = false;
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
    this.acksSeen = true;
    if (offset > this.acked) this.acked = offset;
    // Acknowledged bytes will not be retransmitted: nothing left to compare them with.
    if (this.retainLen > 0 && offset > this.retainOff) {
      const n = Math.min(this.retainLen, offset - this.retainOff);
      this.retainHead += n;
      this.retainOff += n;
      this.retainLen -= n;
      if (this.retainLen === 0) this.dropCopies();
    }
    const views = this.views;
    if (views && this.retainLen === 0 && offset > this.retainOff) {
      let n = Math.min(this.viewLen, offset - this.retainOff);
      this.retainOff += n;
      this.viewLen -= n;
      let k = 0;
      while (n > 0 && n >= views[k].length) n -= views[k++].length;
      if (n > 0) views[k] = views[k].subarray(n);
      if (k > 0) views.splice(0, k);
    }
  }

  private insert(off: number, data: Buffer | null, ts: number, peerAck: number, holeLen = 0): void {
    let len = data ? data.length : holeLen;
    if (off + len <= this.next) {
      if (data) {
        this.retransmitted++;
        this.compareDelivered(off, data);
      }
      return;
    }
    if (off < this.next) {
      // Delivered bytes are final whatever the policy: the later copy is only compared.
      if (data) {
        this.compareDelivered(off, data.subarray(0, this.next - off));
        data = data.subarray(this.next - off);
      }
      len -= this.next - off;
      off = this.next;
    }
    if (off - this.next > MAX_AHEAD) {
      this.outOfWindow++;
      return;
    }
    const pending = this.pending;
    if (off === this.next && (!pending || pending[0].off >= off + len)) {
      this.deliver(data, len, ts, peerAck);
      this.drain();
      return;
    }
    if (off > this.next) this.outOfOrder++;
    this.place({ off, len, data, ts, peerAck });
    this.drain();
    if (this.pendingBytes > this.budget.perStream || this.budget.used > this.budget.max) this.forceGap(ts);
  }

  /**
   * Puts a segment among the pending ones, which never overlap: where they meet, the policy
   * says which copy stays (real bytes always beat a hole the snaplen left), and disagreeing
   * copies are recorded.
   */
  private place(item: Pending): void {
    const pending = (this.pending ??= []);
    const end = item.off + item.len;
    // First pending segment that ends after the new one starts.
    let lo = 0, hi = pending.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (pending[mid].off + pending[mid].len <= item.off) lo = mid + 1; else hi = mid;
    }
    const kept: Pending[] = [];
    let cursor = item.off; // the new segment's bytes before this are settled
    let i = lo;
    for (; i < pending.length && pending[i].off < end; i++) {
      const e = pending[i];
      const eEnd = e.off + e.len;
      const from = Math.max(e.off, item.off);
      const to = Math.min(eEnd, end);
      if (item.data && e.data) this.compare(from, item.data.subarray(from - item.off, to - item.off), e.data.subarray(from - e.off, to - e.off));
      const newWins = item.data && !e.data ? true : !item.data && e.data ? false : this.budget.policy === 'last';
      if (newWins) {
        // The old segment keeps only what lies outside the new one.
        if (e.off < item.off) kept.push(slice(e, e.off, item.off));
        if (eEnd > end) kept.push(slice(e, end, eEnd));
      } else {
        kept.push(e);
        if (cursor < e.off) kept.push(this.own(slice(item, cursor, e.off)));
        cursor = Math.max(cursor, eEnd);
      }
    }
    if (cursor < end) kept.push(this.own(slice(item, cursor, end)));
    kept.sort((a, b) => a.off - b.off);
    const removed = pending.splice(lo, i - lo, ...kept);
    for (const r of removed) if (r.data) this.unhold(r.data.length);
    for (const k of kept) if (k.data) this.hold(k.data.length);
  }

  /** Copies a piece of a segment out of the packet buffer, which is only ours during the call. */
  private own(p: Pending): Pending {
    return p.data ? { ...p, data: Buffer.from(p.data) } : p;
  }

  private hold(n: number): void {
    this.pendingBytes += n;
    this.budget.used += n;
  }

  private unhold(n: number): void {
    this.pendingBytes -= n;
    this.budget.used -= n;
  }

  /** A copy of bytes already delivered: compared with what was kept of them, if anything. */
  private compareDelivered(off: number, data: Buffer): void {
    this.overlapping += data.length;
    const r = this.retainBuf;
    if (r) {
      const from = Math.max(off, this.retainOff);
      const to = Math.min(off + data.length, this.retainOff + this.retainLen);
      if (from < to) {
        const at = this.retainHead - this.retainOff;
        this.compare(from, data.subarray(from - off, to - off), r.subarray(at + from, at + to), 'first', false);
      }
    }
    if (!this.views) return;
    let vOff = this.retainOff + this.retainLen;
    for (const v of this.views) {
      const from = Math.max(off, vOff);
      const to = Math.min(off + data.length, vOff + v.length);
      if (from < to) this.compare(from, data.subarray(from - off, to - off), v.subarray(from - vOff, to - vOff), 'first', false);
      vOff += v.length;
      if (vOff >= off + data.length) break;
    }
  }

  /** Two copies of the bytes at `offset`: counted, and recorded when they disagree. */
  private compare(offset: number, a: Buffer, b: Buffer, kept: 'first' | 'last' = this.budget.policy, count = true): void {
    if (count) this.overlapping += a.length;
    if (a.equals(b)) return;
    let differing = 0;
    for (let k = 0; k < a.length; k++) if (a[k] !== b[k]) differing++;
    this.conflicting += differing;
    const list = (this.conflicts ??= []);
    if (list.length < MAX_CONFLICTS) list.push({ offset, length: a.length, differing, kept });
  }

  private deliver(data: Buffer | null, len: number, ts: number, peerAck: number): void {
    if (data) {
      this.delivered += len;
      this.retain(this.next, data);
      this.next += len;
      this.out.data(this.dir, data, ts, peerAck);
    } else {
      this.gapTo(this.next + len, ts);
    }
  }

  /** Keeps delivered bytes (as views, see retainBuf) while the peer, whose acks we see, has not acknowledged them. */
  private retain(off: number, data: Buffer): void {
    if (!this.acksSeen || off + data.length <= this.acked) return;
    if (off < this.acked) {
      data = data.subarray(this.acked - off);
      off = this.acked;
    }
    // The window is one run of the stream: a gap before these bytes starts a new one.
    if (this.held > 0 && off !== this.retainOff + this.held) this.dropRetained();
    if (this.held + data.length > MAX_RETAINED_PER_STREAM) {
      this.dropRetained();
      return;
    }
    if (this.held === 0) this.retainOff = off;
    this.views ??= [];
    if (!this.listed) {
      this.listed = true;
      this.budget.viewHolders.push(this);
    }
    this.views.push(data);
    this.viewLen += data.length;
  }

  /** Bytes in the window: copies, then views. */
  private get held(): number {
    return this.retainLen + this.viewLen;
  }

  /** Copies the views of the window out of the packet buffers, which the reader is letting go. */
  releaseViews(): void {
    this.listed = false;
    const views = this.views;
    if (!views) return;
    const need = this.held;
    this.views = null;
    this.viewLen = 0;
    if ((!this.retainBuf || this.retainHead + need > this.retainBuf.length) && !this.retainRoom(need)) {
      this.dropRetained();
      return;
    }
    for (const v of views) {
      v.copy(this.retainBuf!, this.retainHead + this.retainLen);
      this.retainLen += v.length;
    }
  }

  /** Room for `need` bytes in the window: moved to its buffer's start, or a bigger buffer. */
  private retainRoom(need: number): boolean {
    const old = this.retainBuf;
    if (old && need <= old.length) {
      old.copyWithin(0, this.retainHead, this.retainHead + this.retainLen);
      this.retainHead = 0;
      return true;
    }
    if (need > MAX_RETAINED_PER_STREAM) return false;
    let size = old ? old.length * 2 : RETAIN_BLOCK;
    while (size < need) size *= 2;
    size = Math.min(size, MAX_RETAINED_PER_STREAM);
    const b = this.budget;
    if (b.retained - (old?.length ?? 0) + size > b.maxRetained) return false;
    const buf = size === RETAIN_BLOCK ? b.spareWindows.pop() ?? Buffer.allocUnsafeSlow(size) : Buffer.allocUnsafeSlow(size);
    b.retained += size;
    if (old) {
      old.copy(buf, 0, this.retainHead, this.retainHead + this.retainLen);
      this.giveBack(old);
    }
    this.retainBuf = buf;
    this.retainHead = 0;
    return true;
  }

  private dropRetained(): void {
    this.dropCopies();
    this.views = null;
    this.viewLen = 0;
  }

  private dropCopies(): void {
    if (this.retainBuf) this.giveBack(this.retainBuf);
    this.retainBuf = null;
    this.retainHead = 0;
    this.retainLen = 0;
  }

  private giveBack(buf: Buffer): void {
    this.budget.retained -= buf.length;
    if (buf.length === RETAIN_BLOCK && this.budget.spareWindows.length < MAX_SPARE_WINDOWS) this.budget.spareWindows.push(buf);
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
      if (p.data) this.unhold(p.data.length);
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

  /** Holes before buffered bytes will not be filled any more: they become gaps, the bytes follow. */
  declareGaps(ts: number): void {
    while (this.pending && this.pending.length > 0) {
      this.gapTo(this.pending[0].off, ts);
      this.drain();
    }
    this.maybeFin(ts);
  }

  get hasPending(): boolean {
    return !!this.pending?.length;
  }

  /** Bytes wait behind a hole, and the peer acknowledged this direction's FIN: nothing will fill it. */
  get holeIsFinal(): boolean {
    return this.finAt >= 0 && this.acked > this.finAt && !!this.pending?.length;
  }

  /** The connection is ending: whatever is still missing becomes a gap, buffered bytes follow. */
  flush(ts: number): void {
    // The connection is over: nothing more will be compared with what was kept.
    this.dropRetained();
    this.declareGaps(ts);
    let end = this.finAt >= 0 ? this.finAt : this.acked - this.next <= MAX_ACK_AHEAD ? this.acked : this.next;
    // An ack one past the last byte is most likely a FIN we never saw, not a lost byte.
    if (this.finAt < 0 && this.acked === this.next + 1) end = this.next;
    if (end > this.next) this.gapTo(end, ts);
    this.maybeFin(ts);
  }
}

/** The part [from, to) of a pending segment (offsets in the stream). */
function slice(p: Pending, from: number, to: number): Pending {
  return { off: from, len: to - from, data: p.data ? p.data.subarray(from - p.off, to - p.off) : null, ts: p.ts, peerAck: p.peerAck };
}
