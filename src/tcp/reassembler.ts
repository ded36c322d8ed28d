import { ACK, FIN, RST, SYN, type TcpSegment } from '../decode/segment.js';
import { Connection } from './connection.js';
import type { OverlapPolicy, PendingBudget } from './half-stream.js';
import type { RolesFrom, StreamFactory } from './stream.js';

export interface TcpOptions {
  /** Bytes buffered behind a hole, per direction, before the hole is declared a gap. */
  maxPendingPerDir: number;
  /** The same, across all connections. */
  maxPendingTotal: number;
  /** Connections tracked at once; past it the idle, else the oldest, are evicted. */
  maxConnections: number;
  /** Delivered but unacknowledged bytes kept, across all connections, to compare retransmissions with. */
  maxRetainedTotal: number;
  /** Which copy of overlapping bytes not yet delivered is kept. Delivered bytes are final. */
  overlapPolicy: OverlapPolicy;
  /** Seconds of capture time without a packet after which a connection is ended. */
  idleTimeout: number;
}

export const DEFAULT_TCP_OPTIONS: TcpOptions = {
  maxPendingPerDir: 16 * 1024 * 1024,
  maxPendingTotal: 64 * 1024 * 1024,
  maxConnections: 50_000,
  maxRetainedTotal: 32 * 1024 * 1024,
  overlapPolicy: 'first',
  idleTimeout: 600,
};

/** Ended connections linger this long (capture time) so their stray packets are recognised. */
const LINGER = 120;
const SWEEP_EVERY = 10;
/** A connection quiet this long (capture seconds) is evicted even if it saw traffic lately. */
const EVICT_IDLE = 5;
const EVICT_LOOK = 64;
/** How far before the tracked stream a SYN may land and still be that stream's. */
const LATE_SYN_WINDOW = 1 << 20;
/** Capture seconds a final hole waits for segments the capture recorded late. */
const SETTLE_GRACE = 2;
/** Quiet time after an RST before the connection is taken as over. */
const RST_LINGER = 10;

/** Connection table: finds each segment's connection and hands it to that direction's stream. */
export class TcpReassembler {
  private readonly table = new Map<string, Connection>();
  private nextId = 1;
  private lastSweep = 0;
  private now = 0;
  connections = 0;
  /** Packets that belonged to a connection already over (late ACKs, stray retransmissions). */
  stray = 0;
  /** Connections ended early to stay within maxConnections. */
  evicted = 0;
  private readonly budget: PendingBudget;
  /** Connections in creation order, for eviction. */
  private order: Connection[] = [];
  private orderHead = 0;
  /** The last IPv4 packet's endpoints and keys (a = its source). */
  private readonly lastKeys = { a: -1, b: -1, pa: -1, pb: -1, aKey: '', bKey: '', key: '' };

  constructor(private readonly factory: StreamFactory, private readonly opts: TcpOptions = DEFAULT_TCP_OPTIONS) {
    this.budget = {
      used: 0, max: opts.maxPendingTotal, perStream: opts.maxPendingPerDir,
      retained: 0, maxRetained: opts.maxRetainedTotal, spareWindows: [], viewHolders: [], policy: opts.overlapPolicy,
    };
  }

  /**
   * The packet buffers given so far are about to be let go by the reader: delivered bytes kept
   * to compare retransmissions with are copied out of them, so that they do not keep a whole
   * chunk of input alive. Call between chunks; correctness does not depend on it, memory does.
   */
  releaseInput(): void {
    const holders = this.budget.viewHolders;
    for (let i = 0; i < holders.length; i++) holders[i].releaseViews();
    holders.length = 0;
  }

  segment(seg: TcpSegment): void {
    const ts = seg.ts;
    if (ts > this.now) this.now = ts;
    let srcKey: string, dstKey: string, key: string;
    const k = this.lastKeys;
    if (seg.src4 >= 0 && seg.src4 === k.a && seg.dst4 === k.b && seg.srcPort === k.pa && seg.dstPort === k.pb) {
      // The same connection as the last packet, same way: most packets come in such runs.
      srcKey = k.aKey; dstKey = k.bKey; key = k.key;
    } else if (seg.src4 >= 0 && seg.src4 === k.b && seg.dst4 === k.a && seg.srcPort === k.pb && seg.dstPort === k.pa) {
      srcKey = k.bKey; dstKey = k.aKey; key = k.key;
    } else {
      // Endpoint keys: raw address bytes plus the port as one UTF-16 unit; short and copy-free to compare.
      srcKey = endpointKey(seg.src4, seg, 0);
      dstKey = endpointKey(seg.dst4, seg, 1);
      key = srcKey < dstKey ? srcKey + '|' + dstKey : dstKey + '|' + srcKey;
      k.a = seg.src4; k.b = seg.dst4; k.pa = seg.srcPort; k.pb = seg.dstPort; k.aKey = srcKey; k.bKey = dstKey; k.key = key;
    }
    const flags = seg.flags;
    const syn = (flags & SYN) !== 0;
    const clientSyn = syn && (flags & ACK) === 0;
    let conn = this.table.get(key);
    if (conn && clientSyn && !conn.ended && conn.synSeen && !conn.carriedData() && conn.dirOf(srcKey) === 1 && !conn.half[1].started) {
      // Simultaneous open: the peer's own SYN crossed ours. Same connection, both sides opened it.
      conn.simultaneousOpen = true;
      conn.synAckSeen = true;
    } else if (conn && clientSyn && (conn.ended || conn.clientIsn !== seg.seq && (conn.clientIsn >= 0 || (conn.carriedData() && !this.lateSyn(conn, srcKey, seg.seq))))) {
      // A fresh SYN on a known 4-tuple: the old connection is over and a new one begins.
      if (!conn.ended) conn.end('port-reuse', ts);
      conn = undefined;
    }
    if (conn?.ended) {
      this.stray++;
      return;
    }
    if (!conn) {
      conn = this.open(seg, key, srcKey, dstKey, clientSyn ? 'syn' : syn ? 'syn-ack' : 'ports');
    } else {
      conn.touched = true;
    }
    if (!conn.rolesChecked && seg.payload.length > 0) this.checkRoles(conn, srcKey, seg.payload);
    const dir = conn.dirOf(srcKey);
    const half = conn.half[dir];
    half.packets++;
    half.bytes += seg.payload.length;
    conn.lastTs = ts;
    if (dir === 1 && !half.started && !syn && conn.synSeen && !conn.synAckSeen && seg.payload.length === 0) {
      // The server's RST/FIN/ACK before its SYN-ACK is noise (or an evasion attempt): it must not
      // start or close a stream that the handshake has yet to open. Data would, handshake or not.
      conn.preHandshake++;
      return;
    }
    if (flags & RST) {
      // Not the end yet: a forged or ignored RST is often followed by more data. The connection
      // ends once it goes quiet, at a new SYN, or at the end of input. Its holes, though, will
      // not be retransmitted into any more.
      conn.rst = true;
      this.settle(conn, ts);
      return;
    }
    let seq = seg.seq;
    if (syn) {
      if (clientSyn && dir === 0) { conn.synSeen = true; conn.clientIsn = seg.seq; } else conn.synAckSeen = true;
      if (!half.started) half.start(seq + 1);
      seq = (seq + 1) >>> 0; // The SYN takes one sequence number; TFO data follows it.
    } else if (!half.started) {
      half.start(seq);
    }
    const peer = conn.half[dir ^ 1];
    let peerAck = -1;
    if (flags & ACK && peer.started) {
      peerAck = peer.offsetOf(seg.ack);
      peer.ack(peerAck);
    }
    if (seg.payload.length > 0 || flags & FIN || seg.missingTail > 0) {
      half.segment(seq, seg.payload, (flags & FIN) !== 0, ts, seg.missingTail, peerAck);
    }
    this.settle(conn, ts);
    if (conn.half[0].finDelivered && conn.half[1].finDelivered) conn.end('fin', ts);
    if (ts - this.lastSweep >= SWEEP_EVERY) this.sweep(ts);
  }

  /**
   * Holes that nothing will fill any more (the peer acknowledged the FIN behind them, or an RST
   * came) become gaps, once the capture clock has moved on by a grace period: a capture may
   * hold the last segments after the FIN's acknowledgement.
   */
  private settle(conn: Connection, now: number): void {
    const [a, b] = conn.half;
    const final = a.holeIsFinal || b.holeIsFinal || (conn.rst && (a.hasPending || b.hasPending));
    if (!final) { conn.settleAt = -1; return; }
    if (conn.settleAt < 0) conn.settleAt = now;
    if (now - conn.settleAt < SETTLE_GRACE) return;
    conn.settleAt = -1;
    a.declareGaps(now);
    b.declareGaps(now);
  }

  /** End of input: every connection still open ends now. */
  finish(): void {
    for (const conn of this.table.values()) conn.end('end-of-input', conn.lastTs);
    this.table.clear();
  }

  get openConnections(): number {
    return this.table.size;
  }

  private open(seg: TcpSegment, key: string, srcKey: string, dstKey: string, rolesFrom: RolesFrom): Connection {
    let srcIsClient: boolean;
    if (rolesFrom === 'syn') srcIsClient = true;
    else if (rolesFrom === 'syn-ack') srcIsClient = false;
    else srcIsClient = seg.srcPort > seg.dstPort; // The lower port is the better guess for the server.
    if (this.table.size >= this.opts.maxConnections) this.evict(seg.ts);
    const conn = new Connection(
      this.nextId++, key, seg.ipVersion,
      srcIsClient ? srcKey : dstKey, srcIsClient ? dstKey : srcKey,
      rolesFrom, seg.tunnel, seg.ts, this.budget,
    );
    conn.handler = this.factory.create(conn);
    this.table.set(key, conn);
    this.order.push(conn);
    this.connections++;
    return conn;
  }

  /** A SYN that lands just before the stream already tracked is that stream's own, captured late. */
  private lateSyn(conn: Connection, srcKey: string, seq: number): boolean {
    const half = conn.half[conn.dirOf(srcKey)];
    if (!half.started) return false;
    const off = half.offsetOf((seq + 1) >>> 0);
    return off <= half.next && half.next - off <= LATE_SYN_WINDOW;
  }

  private checkRoles(conn: Connection, srcKey: string, payload: Buffer): void {
    conn.rolesChecked = true;
    if (conn.rolesFrom !== 'ports') return;
    const role = this.factory.senderRole?.(payload);
    if (!role) return;
    const srcIsClient = conn.dirOf(srcKey) === 0;
    if ((role === 'client') !== srcIsClient) conn.swapRoles();
    else conn.rolesFrom = 'content';
  }

  /**
   * Makes room for one connection. Candidates come in creation order: ended connections go
   * first, then the first idle one, else the oldest. Looking is bounded, so a flood costs O(1)
   * per connection. (Iterating the Map itself would crawl over every slot deleted before.)
   */
  private evict(now: number): void {
    let looked = 0;
    while (this.orderHead < this.order.length) {
      const conn = this.order[this.orderHead];
      this.order[this.orderHead++] = undefined as unknown as Connection;
      if (this.table.get(conn.key) !== conn) continue; // already gone
      if (conn.ended) { this.table.delete(conn.key); break; }
      // Second chance (the clock algorithm): a connection that saw traffic since the last
      // look goes to the back of the line once; one that did not is evicted.
      if (!conn.touched || now - conn.lastTs > EVICT_IDLE || ++looked >= EVICT_LOOK) {
        this.table.delete(conn.key);
        this.evicted++;
        conn.end('evicted', conn.lastTs);
        break;
      }
      conn.touched = false;
      this.order.push(conn);
    }
    if (this.orderHead > 1024 && this.orderHead * 2 > this.order.length) {
      this.order = this.order.slice(this.orderHead);
      this.orderHead = 0;
    }
  }

  private sweep(now: number): void {
    this.lastSweep = now;
    // Drop the eviction queue's hold on connections already gone.
    this.order = this.order.slice(this.orderHead).filter((c) => c !== undefined && this.table.get(c.key) === c);
    this.orderHead = 0;
    for (const [key, conn] of this.table) {
      if (conn.ended) {
        if (now - conn.endTs > LINGER) this.table.delete(key);
      } else if (now - conn.lastTs > (conn.rst ? RST_LINGER : this.opts.idleTimeout)) {
        conn.end('timeout', conn.lastTs);
      } else if (conn.settleAt >= 0) {
        this.settle(conn, now);
        if (conn.half[0].finDelivered && conn.half[1].finDelivered) conn.end('fin', now);
      }
    }
  }
}

/**
 * The key of one end of a segment: its address bytes as latin1 plus the port as one UTF-16
 * unit. An IPv4 address is made from its number, with no view of the packet: with many
 * connections interleaved, most packets miss the last-connection cache and come here.
 */
function endpointKey(v4: number, seg: TcpSegment, which: 0 | 1): string {
  const port = which === 0 ? seg.srcPort : seg.dstPort;
  if (v4 >= 0) return String.fromCharCode(v4 >>> 24, (v4 >>> 16) & 255, (v4 >>> 8) & 255, v4 & 255, port);
  return (which === 0 ? seg.src : seg.dst).toString('latin1') + String.fromCharCode(port);
}
