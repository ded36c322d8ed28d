import type { ConnectionView, Dir, EndReason, StreamFactory, StreamHandler } from '../tcp/stream.js';
import { BODY_NONE, BODY_NORMAL, BODY_UPGRADE, type MessageKind } from './llhttp.js';
import { HttpMessage, Transaction, type BodySink } from './message.js';
import { MessageReader, type EndHow, type ReaderOwner } from './message-reader.js';
import { requestStartsAt, responseStartsAt } from './start-line.js';
import { headAnomalies } from './head-fields.js';

/** What a connection turned out to carry. */
export type ConnectionProtocol = 'http' | 'websocket' | 'tunnel' | 'upgraded' | 'not-http' | 'empty';

export interface ConnectionSummary {
  protocol: ConnectionProtocol;
  endReason: EndReason;
  endTs: number;
  transactions: number;
  /** Bytes after a protocol switch or of a connection that is not HTTP, [c2s, s2c]. */
  otherBytes: [number, number];
}

/** Where the HTTP stage sends what it recovers: the evidence stage implements it. */
export interface HttpSink {
  openBody(conn: ConnectionView, txn: Transaction, msg: HttpMessage): BodySink;
  transaction(txn: Transaction): void;
  connectionEnded(conn: ConnectionView, summary: ConnectionSummary): void;
  anomaly(scope: { connectionId: number; transactionId?: number }, kind: string, detail: string, ts: number): void;
}

/** Allocates transaction ids across connections, so ids follow the order requests were seen. */
export class IdSource {
  private next = 1;
  take(): number {
    return this.next++;
  }
}

/**
 * A first-in first-out line whose shift, and removal of what is not in it, cost O(1). The
 * session took the oldest request with Array.shift and looked for every finished transaction
 * with Array.indexOf, both O(length): quadratic in the depth of a pipeline (100,000 requests
 * sent before the first response took 7 s in pairing alone).
 */
class Fifo<T> {
  private items: Array<T | undefined> = [];
  private head = 0;
  private readonly members = new Set<T>();

  get length(): number {
    return this.members.size;
  }

  get first(): T | undefined {
    this.skipRemoved();
    return this.items[this.head];
  }

  push(x: T): void {
    this.items.push(x);
    this.members.add(x);
  }

  shift(): T | undefined {
    this.skipRemoved();
    if (this.head >= this.items.length) return undefined;
    const x = this.items[this.head] as T;
    this.items[this.head++] = undefined;
    this.members.delete(x);
    this.compact();
    return x;
  }

  /** Takes `x` out of the line wherever it is; nothing to do (O(1)) when it is not in it. */
  remove(x: T): void {
    if (!this.members.delete(x)) return;
    this.items[this.items.indexOf(x, this.head)] = undefined;
    this.skipRemoved();
    this.compact();
  }

  toArray(): T[] {
    return this.items.slice(this.head).filter((x): x is T => x !== undefined);
  }

  private skipRemoved(): void {
    while (this.head < this.items.length && this.items[this.head] === undefined) this.head++;
  }

  /** Drops the slots already taken once they are most of the array: amortised O(1). */
  private compact(): void {
    if (this.head === this.items.length) {
      this.items = [];
      this.head = 0;
    } else if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
  }
}

/**
 * Most requests of one connection kept waiting for their response. Each costs about 600 bytes
 * of heap until its response comes (its transaction and its request's head), so a client that
 * pipelines without end, or a server that never answers, grew the heap without bound: 100,000
 * requests sent before the first response did not fit in 64 MB. Past this many, the oldest is
 * written at once without its response (anomaly `pipeline-overflow`); the response that answers
 * it, when it comes, is a row of its own (`response-to-written-request`), the two tied by their
 * ordinal on the connection. Pairing stays exact for the rest; no real client pipelines so deep.
 */
const MAX_PENDING = 4096;

/**
 * The HTTP view of one TCP connection: a reader per direction and FIFO pairing of requests
 * with responses, interim 1xx responses set aside.
 */
export class HttpSession implements StreamHandler, ReaderOwner {
  private readonly readers: [MessageReader, MessageReader];
  private readonly pending = new Fifo<Transaction>();
  /** Requests written without waiting for their response (see MAX_PENDING), and how many of those were answered since. */
  private written = 0;
  private writtenAnswered = 0;
  /** Ordinals (1 = first written) of those written requests that were HEAD: their responses have no body. */
  private readonly writtenHeads = new Fifo<number>();
  private readonly open = new Set<Transaction>();
  private depth = 0;
  private current: [Transaction | null, Transaction | null] = [null, null];
  private protocol: ConnectionProtocol = 'empty';
  /** The client asked to switch protocols and its bytes are held until the server answers. */
  private switchPending = false;
  private transactions = 0;
  private lastAnswered: Transaction | null = null;
  /** Bytes of the server's stream went missing since the last response head: some may have been responses. */
  private responseLost = false;
  /**
   * Transactions finished during the current call, handed to the sink when it returns: a check
   * that runs after llhttp (a protocol switch's head) may still add to them.
   */
  private readonly ready: Transaction[] = [];

  constructor(private readonly conn: ConnectionView, private readonly sink: HttpSink, private readonly ids: IdSource) {
    this.readers = [new MessageReader('request', this), new MessageReader('response', this)];
  }

  // TCP stream side

  data(dir: Dir, bytes: Buffer, ts: number, peerAck: number): void {
    // Body bytes one direction put off go to llhttp before anything of the other is read.
    this.readers[dir ^ 1].countOwed();
    this.readers[dir].data(bytes, ts, peerAck);
    this.flush();
  }

  gap(dir: Dir, length: number, ts: number): void {
    this.readers[dir ^ 1].countOwed();
    this.readers[dir].gap(length, ts);
    this.flush();
  }

  fin(dir: Dir, ts: number): void {
    this.readers[dir ^ 1].countOwed();
    this.readers[dir].end(ts);
    this.flush();
  }

  end(reason: EndReason, ts: number): void {
    this.readers[0].countOwed();
    this.readers[1].countOwed();
    this.readers[0].end(ts);
    this.readers[1].end(ts);
    for (const txn of [...this.open]) this.finalize(txn);
    this.flush();
    this.readers[0].close();
    this.readers[1].close();
    if (this.protocol === 'empty') {
      const [c, s] = this.readers;
      if (c.isOff || s.isOff || c.otherBytes + s.otherBytes > 0) this.protocol = 'not-http';
    }
    this.sink.connectionEnded(this.conn, {
      protocol: this.protocol,
      endReason: reason,
      endTs: ts,
      transactions: this.transactions,
      otherBytes: [this.readers[0].otherBytes, this.readers[1].otherBytes],
    });
  }

  // Reader side

  messageBegin(kind: MessageKind, msg: HttpMessage): void {
    if (this.protocol === 'empty') this.protocol = 'http';
    if (kind === 'request') {
      const txn = this.newTransaction();
      txn.request = msg;
      this.pending.push(txn);
      this.current[0] = txn;
      if (this.pending.length > MAX_PENDING) this.writeUnanswered();
    }
  }

  headersComplete(kind: MessageKind, msg: HttpMessage): number {
    if (kind === 'request') {
      if (this.current[0]) this.noteHead(this.current[0], msg);
      return BODY_NORMAL;
    }
    const status = msg.head?.statusCode ?? 0;
    if (status >= 100 && status < 200 && status !== 101) {
      // Interim: belongs to the oldest unanswered request and is never its final response.
      if (this.awaitingWritten) {
        this.anomalyFor(null, 'interim-without-request', `${status} response to a request written without waiting for its response`, msg.ts);
        this.current[1] = null;
        return BODY_NONE;
      }
      const txn = this.pending.first;
      if (txn) txn.interim.push({ status, ts: msg.ts });
      else this.anomalyFor(null, 'interim-without-request', `${status} response with no request outstanding`, msg.ts);
      this.current[1] = null;
      return BODY_NONE;
    }
    // The oldest unanswered request may be one already written (see MAX_PENDING).
    const written = this.awaitingWritten ? this.answerWritten(msg) : null;
    let txn = written?.txn ?? (this.responseLost ? this.answeredAfterLoss(msg) : undefined) ?? this.pending.shift();
    this.responseLost = false;
    if (!txn) {
      txn = this.newTransaction();
      this.anomalyFor(txn, 'response-without-request', `status ${status} with no request seen`, msg.ts);
    }
    txn.response = msg;
    this.current[1] = txn;
    this.noteHead(txn, msg);
    if (this.isSwitch(txn)) return BODY_UPGRADE;
    if (written ? written.head : txn.request?.head?.method === 'HEAD') return BODY_NONE;
    return BODY_NORMAL;
  }

  body(kind: MessageKind, msg: HttpMessage, chunk: Buffer, hole: boolean): void {
    const txn = this.current[kind === 'request' ? 0 : 1];
    if (!txn) return;
    if (!msg.body) msg.body = this.sink.openBody(this.conn, txn, msg);
    msg.body.write(chunk, hole);
  }

  messageEnd(kind: MessageKind, msg: HttpMessage, how: EndHow): void {
    msg.body?.finish(msg.complete);
    const i = kind === 'request' ? 0 : 1;
    let txn = this.current[i];
    this.current[i] = null;
    if (!msg.head && how === 'error') {
      // Bytes that never formed a start line: no message was there.
      if (txn) this.discard(txn);
      return;
    }
    if (!txn && kind === 'response' && (!msg.head || msg.headPartial)) {
      // A response whose headers were lost still answered the oldest request.
      txn = (this.awaitingWritten ? this.answerWritten(msg).txn : this.pending.shift()) ?? this.newTransaction();
      txn.response = msg;
    }
    if (txn && msg.headPartial) this.noteHead(txn, msg);
    if (!txn) return; // an interim response
    if (kind === 'request') txn.requestDone = true;
    else {
      txn.responseDone = true;
      if (!txn.requestDone && txn.request) return; // the client is still sending; wait for it
    }
    if (txn.responseDone && (txn.requestDone || !txn.request)) this.finalize(txn);
  }

  switched(kind: MessageKind, rest: Buffer, ts: number): void {
    if (kind === 'request') {
      // The client asked to switch (CONNECT or Upgrade); hold its bytes until the server answers.
      this.switchPending = true;
      if (rest.length) this.readers[0].data(rest, ts);
      return;
    }
    // The server agreed: both directions now carry another protocol.
    const txn = this.lastAnswered;
    const status = txn?.response?.head?.statusCode;
    const upgrade = txn?.response?.header('upgrade')?.toLowerCase();
    this.protocol = status === 101 ? (upgrade === 'websocket' ? 'websocket' : 'upgraded') : 'tunnel';
    this.readers[0].stop();
    this.readers[1].stop();
    if (rest.length) this.readers[1].data(rest, ts);
  }

  anomaly(kind: string, detail: string, ts: number): void {
    this.sink.anomaly({ connectionId: this.conn.id }, kind, detail, ts);
  }

  lost(kind: MessageKind): void {
    if (kind === 'response') this.responseLost = true;
  }

  /**
   * After bytes of the server's stream were lost, FIFO would pair this response with the oldest
   * open request, though that request's response may be what was lost. The server sent this
   * response having received the client's stream up to the offset its segment acknowledged: it
   * answers the last open request that began before that offset (exact when the client waits
   * for each response; with pipelining, a best guess). The open requests before that one lost
   * their responses in the gap: they stay rows without one.
   */
  private answeredAfterLoss(msg: HttpMessage): Transaction | undefined {
    if (msg.peerAck < 0) return undefined;
    const pending = this.pending.toArray();
    let i = -1;
    for (let k = 0; k < pending.length; k++) {
      const q = pending[k].request;
      if (q && q.streamOffset < msg.peerAck) i = k;
    }
    if (i <= 0) return undefined;
    for (const txn of pending.slice(0, i)) {
      this.pending.shift();
      this.anomalyFor(txn, 'response-lost', `no response: the server's stream lost bytes before a response that acknowledges a later request`, msg.ts);
      txn.responseDone = true;
      if (txn.requestDone) this.finalize(txn);
    }
    return this.pending.shift();
  }

  messageAnomaly(msg: HttpMessage, kind: string, detail: string, ts: number): void {
    const has = (t: Transaction | null): t is Transaction => t !== null && (t.request === msg || t.response === msg);
    const current = this.current[msg.kind === 'request' ? 0 : 1];
    // Open transactions include every pending one; finished ones wait in `ready` until the call returns.
    let txn = has(current) ? current : [...this.open].find(has) ?? this.ready.find(has) ?? null;
    // An interim response's oddities are its request's.
    if (!txn && msg.kind === 'response') txn = this.pending.first ?? null;
    this.anomalyFor(txn, kind, detail, ts);
  }

  awaitsFirstResponse(): boolean {
    return this.conn.synSeen && this.conn.synAckSeen && this.pending.length > 0;
  }

  /**
   * More than MAX_PENDING requests await a response: the oldest is written now, without it. Only
   * whether it was HEAD is kept, as its response's framing depends on it. (A CONNECT or Upgrade
   * request is never left behind so: no request is read after one until it is answered.)
   */
  private writeUnanswered(): void {
    const txn = this.pending.shift()!;
    const k = ++this.written;
    if (txn.request?.head?.method === 'HEAD') this.writtenHeads.push(k);
    this.anomalyFor(txn, 'pipeline-overflow', `written request #${k}: logged without waiting for its response, as more than ${MAX_PENDING} requests await one on this connection; its response, if it comes, is a row of its own`, txn.request?.ts ?? 0);
    this.finalize(txn);
  }

  /** Whether the oldest request still unanswered is one already written (see MAX_PENDING). */
  private get awaitingWritten(): boolean {
    return this.writtenAnswered < this.written;
  }

  /** A response to the oldest request written without it: a transaction of its own, tied to it by its ordinal. */
  private answerWritten(msg: HttpMessage): { txn: Transaction; head: boolean } {
    const k = ++this.writtenAnswered;
    const head = this.writtenHeads.first === k;
    if (head) this.writtenHeads.shift();
    const txn = this.newTransaction();
    this.anomalyFor(txn, 'response-to-written-request', `answers written request #${k}, logged without waiting for this response as more than ${MAX_PENDING} requests awaited one on this connection`, msg.ts);
    return { txn, head };
  }

  private newTransaction(): Transaction {
    const txn = new Transaction(this.ids.take(), this.conn.id, ++this.depth);
    this.open.add(txn);
    return txn;
  }

  /** Desync signals in a head become anomalies of its transaction. */
  private noteHead(txn: Transaction, msg: HttpMessage): void {
    for (const a of headAnomalies(msg)) txn.anomalies.push({ kind: a.kind, detail: a.detail, ts: msg.ts });
  }

  private discard(txn: Transaction): void {
    if (txn.depth === this.depth) this.depth--;
    this.open.delete(txn);
    this.pending.remove(txn);
  }

  private finalize(txn: Transaction): void {
    if (txn.finalized) return;
    txn.finalized = true;
    this.open.delete(txn);
    this.pending.remove(txn);
    if (txn.response) {
      this.lastAnswered = txn;
      // A refused switch: the client's held bytes are HTTP after all.
      if (this.switchPending && !this.isSwitch(txn)) {
        this.switchPending = false;
        this.readers[0].resume();
      }
    }
    this.transactions++;
    this.ready.push(txn);
  }

  private flush(): void {
    for (const txn of this.ready) this.sink.transaction(txn);
    this.ready.length = 0;
  }

  private isSwitch(txn: Transaction): boolean {
    const status = txn.response?.head?.statusCode ?? 0;
    return status === 101 || (txn.request?.head?.method === 'CONNECT' && status >= 200 && status < 300);
  }

  private anomalyFor(txn: Transaction | null, kind: string, detail: string, ts: number): void {
    if (txn) txn.anomalies.push({ kind, detail, ts });
    else this.sink.anomaly({ connectionId: this.conn.id }, kind, detail, ts);
  }
}

/**
 * Stands in for an HttpSession until the connection carries a byte: scans and handshakes that
 * never send data cost one small object, not two readers and their queues.
 */
class LazyHttpSession implements StreamHandler {
  private session: HttpSession | null = null;

  constructor(private readonly conn: ConnectionView, private readonly sink: HttpSink, private readonly ids: IdSource) {}

  data(dir: Dir, bytes: Buffer, ts: number, peerAck: number): void {
    this.real().data(dir, bytes, ts, peerAck);
  }

  gap(dir: Dir, length: number, ts: number): void {
    this.real().gap(dir, length, ts);
  }

  fin(dir: Dir, ts: number): void {
    this.session?.fin(dir, ts);
  }

  end(reason: EndReason, ts: number): void {
    if (this.session) {
      this.session.end(reason, ts);
      return;
    }
    this.sink.connectionEnded(this.conn, { protocol: 'empty', endReason: reason, endTs: ts, transactions: 0, otherBytes: [0, 0] });
  }

  private real(): HttpSession {
    return (this.session ??= new HttpSession(this.conn, this.sink, this.ids));
  }
}

/** Makes an HttpSession for every TCP connection. */
export class HttpSessionFactory implements StreamFactory {
  readonly ids = new IdSource();
  constructor(private readonly sink: HttpSink) {}

  create(conn: ConnectionView): StreamHandler {
    return new LazyHttpSession(conn, this.sink, this.ids);
  }

  senderRole(payload: Buffer): 'client' | 'server' | undefined {
    if (responseStartsAt(payload, 0)) return 'server';
    if (requestStartsAt(payload, 0)) return 'client';
    return undefined;
  }
}
