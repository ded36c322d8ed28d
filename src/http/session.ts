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
 * The HTTP view of one TCP connection: a reader per direction and FIFO pairing of requests
 * with responses, interim 1xx responses set aside.
 */
export class HttpSession implements StreamHandler, ReaderOwner {
  private readonly readers: [MessageReader, MessageReader];
  private readonly pending: Transaction[] = [];
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
    this.readers[dir ^ 1].flushBatch();
    this.readers[dir].data(bytes, ts, peerAck);
    this.flush();
  }

  gap(dir: Dir, length: number, ts: number): void {
    this.readers[dir ^ 1].flushBatch();
    this.readers[dir].gap(length, ts);
    this.flush();
  }

  fin(dir: Dir, ts: number): void {
    this.readers[dir ^ 1].flushBatch();
    this.readers[dir].end(ts);
    this.flush();
  }

  end(reason: EndReason, ts: number): void {
    this.readers[0].flushBatch();
    this.readers[1].flushBatch();
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
      const txn = this.pending[0];
      if (txn) txn.interim.push({ status, ts: msg.ts });
      else this.anomalyFor(null, 'interim-without-request', `${status} response with no request outstanding`, msg.ts);
      this.current[1] = null;
      return BODY_NONE;
    }
    let txn = (this.responseLost ? this.answeredAfterLoss(msg) : undefined) ?? this.pending.shift();
    this.responseLost = false;
    if (!txn) {
      txn = this.newTransaction();
      this.anomalyFor(txn, 'response-without-request', `status ${status} with no request seen`, msg.ts);
    }
    txn.response = msg;
    this.current[1] = txn;
    this.noteHead(txn, msg);
    if (this.isSwitch(txn)) return BODY_UPGRADE;
    if (txn.request?.head?.method === 'HEAD') return BODY_NONE;
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
      txn = this.pending.shift() ?? this.newTransaction();
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
    let i = -1;
    for (let k = 0; k < this.pending.length; k++) {
      const q = this.pending[k].request;
      if (q && q.streamOffset < msg.peerAck) i = k;
    }
    if (i <= 0) return undefined;
    for (const txn of this.pending.splice(0, i)) {
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
    if (!txn && msg.kind === 'response') txn = this.pending[0] ?? null;
    this.anomalyFor(txn, kind, detail, ts);
  }

  awaitsFirstResponse(): boolean {
    return this.conn.synSeen && this.conn.synAckSeen && this.pending.length > 0;
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
    const idx = this.pending.indexOf(txn);
    if (idx >= 0) this.pending.splice(idx, 1);
  }

  private finalize(txn: Transaction): void {
    if (txn.finalized) return;
    txn.finalized = true;
    this.open.delete(txn);
    const idx = this.pending.indexOf(txn);
    if (idx >= 0) this.pending.splice(idx, 1);
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
