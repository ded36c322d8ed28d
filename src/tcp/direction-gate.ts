import type { Dir, StreamHandler } from './stream.js';

/** What a half stream hands on: in-order bytes with the peer offset their segment acknowledged. */
export interface HalfOutput {
  data(dir: Dir, bytes: Buffer, ts: number, peerAck: number): void;
  gap(dir: Dir, length: number, ts: number): void;
  fin(dir: Dir, ts: number): void;
}

type Held =
  | { kind: 'data'; bytes: Buffer; ts: number; peerAck: number }
  | { kind: 'gap'; length: number; ts: number }
  | { kind: 'fin'; ts: number };

/** Bytes held per direction before giving up on the peer's bytes ever turning up. */
const MAX_HELD = 1024 * 1024;

/** The gate's view of its connection: where delivered bytes go. */
export interface GateOwner {
  deliverTo(): StreamHandler;
}

/**
 * Orders the two directions by acknowledgements, so that the HTTP stage sees a request before
 * the response that answers it, however the capture interleaved them. Bytes of one direction
 * that acknowledge peer bytes not yet delivered wait for them; everything is released, in
 * order, once the peer catches up, when too much is held, or at the end. Queues exist only
 * while something is held.
 */
export class DirectionGate implements HalfOutput {
  private held0: Held[] | null = null;
  private held1: Held[] | null = null;
  private heldBytes0 = 0;
  private heldBytes1 = 0;
  /** Stream offset reached so far in each direction. */
  private reached0 = 0;
  private reached1 = 0;
  /** Anything has come through, held or not. */
  active = false;

  constructor(private readonly owner: GateOwner) {}

  data(dir: Dir, bytes: Buffer, ts: number, peerAck: number): void {
    this.active = true;
    const q = this.queue(dir);
    if (!q && peerAck <= this.reached(dir ^ 1)) {
      this.pass(dir, { kind: 'data', bytes, ts, peerAck });
      return;
    }
    // Copied: the packet buffer is only ours for the duration of the call.
    this.hold(dir, { kind: 'data', bytes: Buffer.from(bytes), ts, peerAck });
    if (this.heldBytes(dir) > MAX_HELD) this.release(dir, true);
  }

  gap(dir: Dir, length: number, ts: number): void {
    this.queueOrPass(dir, { kind: 'gap', length, ts });
  }

  fin(dir: Dir, ts: number): void {
    this.queueOrPass(dir, { kind: 'fin', ts });
  }

  /** The connection ends: whatever is held goes out, the direction that can go first first. */
  flush(): void {
    this.release(0, false);
    this.release(1, false);
    this.release(0, true);
    this.release(1, true);
  }

  private queue(dir: Dir): Held[] | null {
    return dir === 0 ? this.held0 : this.held1;
  }

  private reached(dir: number): number {
    return dir === 0 ? this.reached0 : this.reached1;
  }

  private heldBytes(dir: Dir): number {
    return dir === 0 ? this.heldBytes0 : this.heldBytes1;
  }

  private hold(dir: Dir, item: Held): void {
    const n = item.kind === 'data' ? item.bytes.length : 0;
    if (dir === 0) { (this.held0 ??= []).push(item); this.heldBytes0 += n; } else { (this.held1 ??= []).push(item); this.heldBytes1 += n; }
  }

  private advance(dir: Dir, n: number): void {
    if (dir === 0) this.reached0 += n; else this.reached1 += n;
  }

  private queueOrPass(dir: Dir, item: Held): void {
    if (this.queue(dir)) this.hold(dir, item);
    else this.pass(dir, item);
  }

  private pass(dir: Dir, item: Held): void {
    const h = this.owner.deliverTo();
    switch (item.kind) {
      case 'data':
        this.advance(dir, item.bytes.length);
        h.data(dir, item.bytes, item.ts, item.peerAck);
        break;
      case 'gap':
        this.advance(dir, item.length);
        h.gap(dir, item.length, item.ts);
        break;
      case 'fin':
        this.advance(dir, 1); // the FIN takes a sequence number, and the peer acknowledges it
        h.fin(dir, item.ts);
        break;
    }
    // What this direction delivered may be what the other was waiting for.
    const other = (dir ^ 1) as Dir;
    if (this.queue(other)) this.release(other, false);
  }

  private release(dir: Dir, force: boolean): void {
    const q = this.queue(dir);
    if (!q) return;
    while (q.length > 0) {
      const item = q[0];
      if (!force && item.kind === 'data' && item.peerAck > this.reached(dir ^ 1)) return;
      q.shift();
      if (item.kind === 'data') {
        if (dir === 0) this.heldBytes0 -= item.bytes.length; else this.heldBytes1 -= item.bytes.length;
      }
      if (q.length === 0) {
        if (dir === 0) this.held0 = null; else this.held1 = null;
      }
      this.pass(dir, item);
    }
  }
}
