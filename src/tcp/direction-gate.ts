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

/**
 * Orders the two directions by acknowledgements, so that the HTTP stage sees a request before
 * the response that answers it, however the capture interleaved them. Bytes of one direction
 * that acknowledge peer bytes not yet delivered wait for them; everything is released, in
 * order, once the peer catches up, when too much is held, or at the end.
 */
export class DirectionGate implements HalfOutput {
  private readonly held: [Held[], Held[]] = [[], []];
  private readonly heldBytes: [number, number] = [0, 0];
  /** Bytes delivered so far in each direction (stream offset reached). */
  private readonly reached: [number, number] = [0, 0];
  /** Times data was held back to wait for the other direction. */
  reordered = 0;
  /** Anything has come through, held or not. */
  active = false;

  constructor(private readonly handler: () => StreamHandler) {}

  data(dir: Dir, bytes: Buffer, ts: number, peerAck: number): void {
    this.active = true;
    const q = this.held[dir];
    if (q.length === 0 && peerAck <= this.reached[dir ^ 1]) {
      this.pass(dir, { kind: 'data', bytes, ts, peerAck });
      return;
    }
    if (q.length === 0) this.reordered++;
    // Copied: the packet buffer is only ours for the duration of the call.
    q.push({ kind: 'data', bytes: Buffer.from(bytes), ts, peerAck });
    this.heldBytes[dir] += bytes.length;
    if (this.heldBytes[dir] > MAX_HELD) this.release(dir, true);
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

  private queueOrPass(dir: Dir, item: Held): void {
    if (this.held[dir].length === 0) this.pass(dir, item);
    else this.held[dir].push(item);
  }

  private pass(dir: Dir, item: Held): void {
    const h = this.handler();
    switch (item.kind) {
      case 'data':
        this.reached[dir] += item.bytes.length;
        h.data(dir, item.bytes, item.ts);
        break;
      case 'gap':
        this.reached[dir] += item.length;
        h.gap(dir, item.length, item.ts);
        break;
      case 'fin':
        this.reached[dir] += 1; // the FIN takes a sequence number, and the peer acknowledges it
        h.fin(dir, item.ts);
        break;
    }
    // What this direction delivered may be what the other was waiting for.
    const other = (dir ^ 1) as Dir;
    if (this.held[other].length > 0) this.release(other, false);
  }

  private release(dir: Dir, force: boolean): void {
    const q = this.held[dir];
    while (q.length > 0) {
      const item = q[0];
      if (!force && item.kind === 'data' && item.peerAck > this.reached[dir ^ 1]) return;
      q.shift();
      if (item.kind === 'data') this.heldBytes[dir] -= item.bytes.length;
      this.pass(dir, item);
    }
  }
}
