/**
 * IPv4 and IPv6 fragment reassembly: any arrival order, overlaps resolved first-come (the bytes
 * seen first are kept), bounded in datagrams and bytes, and timed out on the capture's clock.
 */

interface Piece {
  off: number;
  data: Buffer;
}

interface Datagram {
  pieces: Piece[];
  /** Total payload length, known once the last fragment (MF=0) is seen. */
  total: number;
  bytes: number;
  firstTs: number;
  /** Upper-layer protocol, from the fragment at offset 0 for IPv6. */
  proto: number;
}

export interface FragmentOptions {
  maxDatagrams: number;
  maxBytes: number;
  /** Seconds of capture time an incomplete datagram is kept (Linux: ipfrag_time = 30). */
  timeout: number;
}

export const DEFAULT_FRAGMENT_OPTIONS: FragmentOptions = {
  maxDatagrams: 16384,
  maxBytes: 64 * 1024 * 1024,
  timeout: 30,
};

/** The largest payload an IP datagram can carry: a fragment claiming more is bogus. */
const MAX_DATAGRAM = 65535;

export interface ReassembledDatagram {
  proto: number;
  payload: Buffer;
}

export class FragmentReassembler {
  private readonly pending = new Map<string, Datagram>();
  private bytes = 0;
  /** Datagrams dropped incomplete, by why. */
  readonly dropped = new Map<string, number>();
  reassembled = 0;

  constructor(private readonly opts: FragmentOptions = DEFAULT_FRAGMENT_OPTIONS) {}

  /**
   * Adds one fragment's payload. Returns the whole datagram's payload once every byte has
   * arrived, else null. `key` names the datagram (addresses, id, and for IPv4 the protocol).
   */
  add(key: string, off: number, more: boolean, data: Buffer, proto: number, ts: number): ReassembledDatagram | null {
    if (off + data.length > MAX_DATAGRAM || (more && data.length % 8 !== 0)) {
      this.drop('bogus fragment');
      return null;
    }
    let d = this.pending.get(key);
    if (!d) {
      if (this.pending.size >= this.opts.maxDatagrams) this.evictOldest('too many datagrams in reassembly');
      d = { pieces: [], total: -1, bytes: 0, firstTs: ts, proto: -1 };
      this.pending.set(key, d);
    }
    if (!more) d.total = off + data.length;
    if (off === 0 || d.proto < 0) d.proto = off === 0 ? proto : d.proto < 0 ? proto : d.proto;
    if (data.length > 0) {
      // Copied: the packet buffer is only ours for the duration of the callback.
      d.pieces.push({ off, data: Buffer.from(data) });
      d.bytes += data.length;
      this.bytes += data.length;
    }
    while (this.bytes > this.opts.maxBytes && this.pending.size > 0) this.evictOldest('fragment buffer full');
    if (!this.pending.has(key) || d.total < 0) return null;
    const payload = assemble(d);
    if (!payload) return null;
    this.pending.delete(key);
    this.bytes -= d.bytes;
    this.reassembled++;
    return { proto: d.proto, payload };
  }

  /** Ends incomplete datagrams older than the timeout. */
  expire(now: number): void {
    for (const [key, d] of this.pending) {
      if (now - d.firstTs <= this.opts.timeout) continue;
      this.remove(key, d, 'ip fragments never completed (timeout)');
    }
  }

  /** End of input: whatever is still incomplete will stay so. */
  finish(): void {
    for (const [key, d] of this.pending) this.remove(key, d, 'ip fragments never completed');
  }

  private evictOldest(why: string): void {
    const first = this.pending.entries().next();
    if (!first.done) this.remove(first.value[0], first.value[1], why);
  }

  private remove(key: string, d: Datagram, why: string): void {
    this.pending.delete(key);
    this.bytes -= d.bytes;
    this.drop(why);
  }

  private drop(why: string): void {
    this.dropped.set(why, (this.dropped.get(why) ?? 0) + 1);
  }
}

/** The datagram's payload if its pieces cover 0..total without a hole; first-seen bytes win. */
function assemble(d: Datagram): Buffer | null {
  const order = d.pieces.map((p, i) => ({ p, i })).sort((a, b) => a.p.off - b.p.off || a.i - b.i);
  let covered = 0;
  for (const { p } of order) {
    if (p.off > covered) return null;
    covered = Math.max(covered, p.off + p.data.length);
  }
  if (covered < d.total) return null;
  const out = Buffer.alloc(d.total);
  const filled = new Uint8Array(d.total);
  // Arrival order decides overlaps: a byte written once is never overwritten.
  for (const p of d.pieces) {
    const end = Math.min(p.off + p.data.length, d.total);
    for (let i = p.off; i < end; i++) {
      if (filled[i]) continue;
      filled[i] = 1;
      out[i] = p.data[i - p.off];
    }
  }
  return out;
}
