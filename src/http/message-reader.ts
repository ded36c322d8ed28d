import { BODY_NONE, BODY_NORMAL, BODY_UPGRADE, HttpParser, leniencyNeeded, StrictChunkedCheck, type MessageHead, type MessageKind, type ParseError, type ParserCallbacks, type StrictFinding } from './llhttp.js';
import { HeadSpan } from './head-span.js';
import { rawHeadAnomalies } from './head-fields.js';
import { HttpMessage } from './message.js';
import { findRequestStart, findResponseStart } from './start-line.js';

/** What the connection-level session decides and records for one direction's messages. */
export interface ReaderOwner {
  messageBegin(kind: MessageKind, msg: HttpMessage): void;
  /** Returns BODY_NORMAL, BODY_NONE or BODY_UPGRADE. */
  headersComplete(kind: MessageKind, msg: HttpMessage): number;
  body(kind: MessageKind, msg: HttpMessage, chunk: Buffer, hole: boolean): void;
  /** `how` says why it ended: complete, or cut by a gap, a parse error or the end of the stream. */
  messageEnd(kind: MessageKind, msg: HttpMessage, how: EndHow): void;
  /** llhttp stopped at a protocol switch (CONNECT or Upgrade); `rest` is what followed. */
  switched(kind: MessageKind, rest: Buffer, ts: number): void;
  anomaly(kind: string, detail: string, ts: number): void;
  /** An anomaly of one message: it belongs to that message's transaction. */
  messageAnomaly(msg: HttpMessage, kind: string, detail: string, ts: number): void;
  /** Bytes of this direction went missing where they may have held whole messages. */
  lost(kind: MessageKind): void;
  /** Would bytes at the very start of the response stream answer a request already seen? */
  awaitsFirstResponse(): boolean;
}

export type EndHow = 'complete' | 'gap' | 'error' | 'eof' | 'switch';

type Mode = 'seek' | 'parse' | 'held' | 'switched' | 'off' | 'simple';
type BodyMode = 'none' | 'length' | 'chunked' | 'eof';

/** A direction that shows no message start in this many bytes is not HTTP. */
const GIVE_UP_AFTER = 64 * 1024;
/** Longest start-line prefix worth carrying from one chunk to the next while seeking. */
const CARRY = 24;
/** Bytes kept of a direction waiting to learn whether its protocol switch was accepted. */
const MAX_HELD = 1024 * 1024;
const ZEROS = Buffer.alloc(64 * 1024);
const EMPTY = Buffer.alloc(0);
/** Most of an unfinished head kept for salvage. */
const MAX_HEAD_KEPT = 16 * 1024;
/** Longest head read again by strict llhttp to learn which leniencies it needed. */
const MAX_HEAD_CHECKED = 64 * 1024;

/**
 * What llhttp is shown in place of body bytes it only has to count (see `canOwe`). Inside a
 * Content-Length body llhttp reads no byte: it subtracts the length from what is left. Each call
 * into it costs about a microsecond, plus a copy and a callback for the body, so per 1460-byte
 * segment it was a quarter of the packet loop; batching the real bytes cost a copy of them all.
 */
const COUNTED = Buffer.alloc(256 * 1024);

/**
 * Reads one direction of a connection as a sequence of HTTP messages with llhttp. Gaps in a
 * body of known extent are zero-filled and recorded; anything else resynchronises at the next
 * message start, so the rest of the connection is never abandoned.
 */
export class MessageReader implements ParserCallbacks {
  /** Made on the first message start: most connections in a capture never need one. */
  private llhttp: HttpParser | null = null;
  private mode: Mode = 'seek';
  private msg: HttpMessage | null = null;
  private bodyMode: BodyMode = 'none';
  private ts = 0;
  /** Stream offset of the first byte of the buffer being parsed. */
  private bufOffset = 0;
  private offset = 0;
  private filling = false;
  private everParsed = false;
  private scanned = 0;
  private held: Buffer[] = [];
  /** Tail of the last chunk seen while seeking: a message start may straddle two segments. */
  private carry: Buffer | null = null;
  private skipRun = 0;
  /** Bytes of the current message while its head is unfinished, to salvage if it never is. */
  private headSeen: Buffer | null = null;
  /** The message being parsed switches protocols once complete (CONNECT, Upgrade, 101). */
  private switching = false;
  /** Where in headSeen llhttp refused the head, or -1. */
  private headEnd = -1;
  private skipFrom = 0;
  private heldBytes = 0;
  /** Body bytes given to the owner and not yet counted by llhttp (see canOwe). */
  private owed = 0;
  /** What the owner decided for the body of the head just parsed. */
  private decision = BODY_NORMAL;
  private readonly span = new HeadSpan(MAX_HEAD_CHECKED);
  /** Strict llhttp over chunked bodies, kept for the next one. */
  private chunkCheck: StrictChunkedCheck | null = null;
  /** The message whose chunked body the strict check is reading; null when it reads none. */
  private chunkMsg: HttpMessage | null = null;
  /** The message whose head llhttp parsed last, and whether that head has been checked. */
  private lastHead: HttpMessage | null = null;
  private headChecked = false;
  /** llhttp paused at the very end of a buffer and must run once more, on no bytes, to go on. */
  private again = false;
  /** The status token of the response being parsed was no number: what it was. */
  private badStatus: string | null = null;
  /** What the segment being read acknowledged of the other direction. */
  private peerAck = -1;
  /** Stream offset up to which the chunked body has been fed to the strict check. */
  private chunkCheckTo = 0;
  /** A message in this direction announced the end of the connection. */
  private closeAnnounced = false;
  /** Bytes after a protocol switch, or of a direction that is not HTTP. */
  otherBytes = 0;
  messages = 0;

  constructor(readonly kind: MessageKind, private readonly owner: ReaderOwner) {
  }

  get isHttp(): boolean {
    return this.everParsed;
  }

  get isOff(): boolean {
    return this.mode === 'off';
  }

  data(buf: Buffer, ts: number, peerAck = -1): void {
    // Counting owed bytes runs no callback: the new segment's time may be set first.
    this.ts = ts;
    this.peerAck = peerAck;
    if (this.canOwe(buf.length)) {
      this.owed += buf.length;
      this.offset += buf.length;
      this.body(buf);
      return;
    }
    this.countOwed();
    this.feed(buf);
  }

  /**
   * Bytes that lie inside a Content-Length body and do not reach its end: nothing but the body
   * can happen while llhttp reads them. They go to the owner at once, and llhttp counts them
   * later, together, before anything else happens on the connection.
   */
  private canOwe(len: number): boolean {
    const msg = this.msg;
    return this.mode === 'parse' && msg !== null && this.bodyMode === 'length' && !this.again && !this.chunkMsg &&
      msg.contentLength !== null && msg.contentLength - msg.bodyLen > len && !this.parser.parsingHeaders;
  }

  /** Has llhttp count the body bytes put off so far. Before anything else happens on the connection. */
  countOwed(): void {
    let left = this.owed;
    if (left === 0) return;
    this.owed = 0;
    while (left > 0) {
      const n = Math.min(left, COUNTED.length);
      if (!this.parser.executeBodyOnly(COUNTED.subarray(0, n))) throw new Error(`llhttp did not count ${n} bytes as body`);
      left -= n;
    }
  }

  private feed(buf: Buffer): void {
    const ts = this.ts;
    while (buf.length > 0 || this.again) {
      switch (this.mode) {
        case 'off':
        case 'switched':
          this.otherBytes += buf.length;
          this.offset += buf.length;
          return;
        case 'held':
          this.hold(buf);
          return;
        case 'simple':
          this.msg!.bodyLen += buf.length;
          this.offset += buf.length;
          this.owner.body(this.kind, this.msg!, buf, false);
          return;
        case 'seek': {
          if (this.startsSimpleResponse(buf)) continue;
          if (this.carry) {
            this.offset -= this.carry.length;
            buf = Buffer.concat([this.carry, buf]);
            this.carry = null;
          }
          const at = this.kind === 'request' ? findRequestStart(buf, 0) : findResponseStart(buf, 0);
          if (at < 0) {
            const keep = Math.min(buf.length, CARRY);
            if (buf.length > keep) this.skip(buf.length - keep);
            this.carry = Buffer.from(buf.subarray(buf.length - keep));
            this.offset += keep;
            return;
          }
          if (at > 0) this.skip(at);
          this.reportSkipped();
          if (!this.everParsed && this.scanned > 0) {
            this.owner.anomaly('midstream', `first ${this.kind} starts after ${this.scanned} byte(s) that belong to an earlier message`, ts);
          }
          buf = buf.subarray(at);
          this.mode = 'parse';
          this.span.startsAt(this.offset);
          break;
        }
        case 'parse': {
          this.again = false;
          this.bufOffset = this.offset;
          const before = this.msg;
          if (this.chunkMsg) this.checkChunks(buf, this.chunkMsg);
          const r = this.parser.execute(buf);
          this.keepHead(before, buf, typeof r === 'number' ? -1 : r.consumed);
          if (typeof r === 'number') {
            this.offset += r;
            // llhttp pauses after a head that switches protocols; when that head ends exactly at
            // the end of the buffer it says nothing, so the head itself is what tells.
            if (r >= buf.length && !this.switching) {
              if (this.parser.parsingHeaders) this.span.keep(buf, this.bufOffset);
              return;
            }
            if (this.lastHead && !this.headChecked) {
              this.checkHead(buf, r, this.lastHead);
              this.span.headEnded(this.bufOffset + r, 0);
            }
            this.switching = false;
            this.mode = 'held';
            this.owner.switched(this.kind, buf.subarray(r), ts);
            return;
          }
          if (r.code === 'HPE_PAUSED') {
            buf = this.headEnded(buf, r.consumed);
            break;
          }
          buf = this.parseError(r, buf);
          break;
        }
      }
    }
  }

  gap(len: number, ts: number): void {
    this.countOwed();
    this.ts = ts;
    let msg = this.msg;
    if (this.mode === 'parse' && msg && !this.parser.parsingHeaders && this.bodyMode === 'length' &&
        msg.contentLength !== null && len > msg.contentLength - msg.bodyLen) {
      // The hole swallows the end of this body and more: fill the body, then the rest is between messages.
      const rest = msg.contentLength - msg.bodyLen;
      if (rest > 0) this.gap(rest, ts);
      len -= rest;
      msg = this.msg;
    }
    if (this.mode === 'parse' && msg && !this.parser.parsingHeaders &&
        ((this.bodyMode === 'length' && msg.contentLength !== null && len <= msg.contentLength - msg.bodyLen) || this.bodyMode === 'eof')) {
      // The body's extent does not depend on the missing bytes: keep its place with zeros.
      msg.holes.push([msg.bodyLen, len]);
      msg.missing += len;
      this.filling = true;
      for (let left = len; left > 0;) {
        const n = Math.min(left, ZEROS.length);
        this.parser.execute(ZEROS.subarray(0, n));
        left -= n;
      }
      this.filling = false;
      this.offset += len;
      return;
    }
    this.offset += len;
    this.span.lost();
    this.owner.lost(this.kind);
    this.chunkMsg = null;
    if (this.mode === 'held') { this.mode = 'switched'; return; }
    if (this.mode !== 'parse') return;
    if (msg) {
      msg.missing += len;
      msg.holes.push([msg.bodyLen, len]);
      this.owner.anomaly('gap-in-message', `${len} byte(s) missing in the ${this.parser.parsingHeaders ? 'headers' : `${this.bodyMode} body`} of a ${this.kind} at stream offset ${this.offset - len}; resynchronising`, ts);
      this.abort('gap');
    } else {
      this.owner.anomaly('gap-between-messages', `${len} byte(s) missing between ${this.kind}s at stream offset ${this.offset - len}; messages in them are lost`, ts);
    }
    this.parser.reset();
    this.mode = 'seek';
  }

  /**
   * HTTP/0.9 answers with the body alone, up to the close; servers still do, and evasion
   * tricks use it. Only bytes at the very start of a response stream that follows a seen
   * handshake and a request, and that are no status line, are taken as such a response.
   */
  private startsSimpleResponse(buf: Buffer): boolean {
    if (this.kind !== 'response' || this.offset !== 0 || this.everParsed || this.carry) return false;
    const probe = buf.subarray(0, 5).toString('latin1');
    if ('HTTP/'.startsWith(probe) || !this.owner.awaitsFirstResponse()) return false;
    const msg = new HttpMessage('response', this.ts);
    this.msg = msg;
    this.everParsed = true;
    this.mode = 'simple';
    this.owner.messageBegin('response', msg);
    msg.head = { versionMajor: 0, versionMinor: 9, rawHeaders: [], upgrade: false, keepAlive: false };
    this.owner.headersComplete('response', msg);
    this.owner.anomaly('http09-response', 'the response has no status line: an HTTP/0.9 response, its body runs to the close', this.ts);
    return true;
  }

  /** No more bytes will come in this direction. */
  end(ts: number): void {
    this.countOwed();
    this.ts = ts;
    if (this.mode === 'simple' && this.msg) {
      // The close is what ends an HTTP/0.9 response: it is complete.
      const msg = this.msg;
      this.msg = null;
      msg.complete = msg.missing === 0;
      msg.endTs = ts;
      this.messages++;
      this.owner.messageEnd(this.kind, msg, 'complete');
    }
    if (this.mode === 'parse' && this.msg) {
      const err = this.parser.finish();
      if (err && this.msg) {
        const msg = this.msg;
        if (this.bodyMode === 'length' && msg.contentLength !== null && msg.contentLength > msg.bodyLen) {
          const left = msg.contentLength - msg.bodyLen;
          msg.missing += left;
          msg.holes.push([msg.bodyLen, left]);
        }
        this.abort('eof');
      }
    }
    if (this.msg) this.abort('eof');
    if (this.carry) {
      this.skip(this.carry.length);
      this.carry = null;
    }
    this.reportSkipped();
    if (this.mode !== 'off') this.mode = 'switched';
  }

  /** The protocol switch was refused: parse the held bytes as HTTP again. */
  resume(): void {
    if (this.mode !== 'held') return;
    const held = this.held;
    this.held = [];
    this.heldBytes = 0;
    this.mode = 'parse';
    for (const b of held) this.data(b, this.ts);
  }

  /** The protocol switched: held and later bytes are counted, not parsed. */
  stop(): void {
    this.countOwed();
    this.otherBytes += this.heldBytes;
    this.held = [];
    this.heldBytes = 0;
    if (this.msg) this.abort('switch');
    this.mode = 'switched';
  }

  close(): void {
    this.countOwed();
    this.llhttp?.close();
    this.llhttp = null;
    this.chunkCheck?.close();
    this.chunkCheck = null;
  }

  private get parser(): HttpParser {
    return (this.llhttp ??= HttpParser.open(this.kind, this));
  }

  // llhttp callbacks

  messageBegin(): void {
    const msg = new HttpMessage(this.kind, this.ts);
    msg.streamOffset = this.bufOffset;
    this.msg = msg;
    this.bodyMode = 'none';
    this.everParsed = true;
    this.owner.messageBegin(this.kind, msg);
  }

  headersComplete(head: MessageHead): number {
    const msg = this.msg!;
    msg.head = head;
    msg.peerAck = this.peerAck;
    const badStatus = this.badStatus;
    if (badStatus !== null) head.statusCode = undefined;
    this.badStatus = null;
    this.lastHead = msg;
    this.headChecked = false;
    this.headSeen = null;
    const cl = msg.header('content-length');
    if (cl !== undefined && /^\s*\d+\s*$/.test(cl)) msg.contentLength = Number(cl);
    const te = msg.header('transfer-encoding');
    let decision = this.owner.headersComplete(this.kind, msg);
    if (badStatus !== null) {
      this.owner.messageAnomaly(msg, 'invalid-status', `status ${JSON.stringify(badStatus)} is not a number; the response was read with no status code`, this.ts);
    }
    if (head.upgrade || decision === BODY_UPGRADE) this.switching = true;
    // A request body is never delimited by the close. With a Transfer-Encoding that does not end
    // in chunked, lenient llhttp would read the rest of the connection as this body and swallow
    // every request after it; without a usable Content-Length, take it as having none.
    if (this.kind === 'request' && te && !/(^|,)\s*chunked\s*$/i.test(te) && !msg.contentLength) decision = BODY_NONE;
    if (decision !== BODY_NORMAL) this.bodyMode = 'none';
    else if (te && /(^|,)\s*chunked\s*$/i.test(te)) this.bodyMode = 'chunked';
    else if (msg.contentLength !== null) this.bodyMode = msg.contentLength > 0 ? 'length' : 'none';
    else if (this.kind === 'request') this.bodyMode = 'none';
    else {
      const s = head.statusCode ?? 0;
      this.bodyMode = (s >= 100 && s < 200) || s === 204 || s === 304 ? 'none' : 'eof';
    }
    this.decision = decision;
    return HttpParser.pauseAfter(decision, head.upgrade);
  }

  body(chunk: Buffer): void {
    const msg = this.msg!;
    msg.bodyLen += chunk.length;
    this.owner.body(this.kind, msg, chunk, this.filling);
  }

  messageComplete(trailers: string[]): void {
    const msg = this.msg!;
    if (msg === this.chunkMsg) this.chunkMsg = null;
    msg.trailers = trailers;
    msg.complete = msg.missing === 0;
    msg.endTs = this.ts;
    this.msg = null;
    this.messages++;
    this.owner.messageEnd(this.kind, msg, 'complete');
  }

  private abort(how: EndHow): void {
    const msg = this.msg!;
    this.msg = null;
    this.chunkMsg = null;
    if (!msg.head && this.headSeen) this.salvage(msg, how);
    this.headSeen = null;
    msg.complete = false;
    msg.endTs = this.ts;
    this.messages++;
    this.owner.messageEnd(this.kind, msg, how);
  }

  /** Keeps (a bounded copy of) what an unfinished head has shown, from the buffer it began in. */
  private keepHead(before: HttpMessage | null, buf: Buffer, errorAt: number): void {
    const msg = this.msg;
    if (!msg || msg.head) {
      this.headSeen = null;
      return;
    }
    const seen = msg === before && this.headSeen ? this.headSeen : EMPTY;
    this.headEnd = errorAt >= 0 ? Math.min(seen.length + errorAt, MAX_HEAD_KEPT) : -1;
    if (seen.length >= MAX_HEAD_KEPT) return;
    this.headSeen = Buffer.concat([seen, buf.subarray(0, MAX_HEAD_KEPT - seen.length)]);
  }

  /**
   * A message that ended (cut, or refused by llhttp) before its head was complete: read its
   * start line and whole header lines from the bytes seen, so that what was there is logged.
   */
  private salvage(msg: HttpMessage, how: EndHow): void {
    const text = this.headSeen!.toString('latin1');
    // The message is the last one to start before where llhttp stopped, with no blank line
    // (the end of a head) between: an earlier start belongs to a message already complete.
    const end = how === 'error' && this.headEnd >= 0 ? this.headEnd : text.length;
    const starts = this.kind === 'request' ? /(?:^|\n)([A-Z][A-Z0-9_-]{2,23} +[^ \r\n][^\r\n]*)/g : /(?:^|\n)(HTTP\/\d\.\d [^\r\n]*)/g;
    let at = -1;
    for (let m = starts.exec(text); m && m.index < end; m = starts.exec(text)) at = m.index + m[0].length - m[1].length;
    if (at < 0 || /\n\r?\n/.test(text.slice(at, end))) return;
    const lines = text.slice(at).split('\n');
    const complete = lines.slice(0, -1).map((l) => l.replace(/\r$/, ''));
    const first = (complete[0] ?? lines[0]).replace(/\r$/, '');
    const raw: string[] = [];
    for (const line of complete.slice(1)) {
      if (line === '') break;
      const h = /^([^\s:]+):[ \t]*(.*?)[ \t]*$/.exec(line);
      if (h) raw.push(h[1], h[2]);
    }
    if (this.kind === 'request') {
      const m = /^([A-Z][A-Z0-9_-]*) +(\S+)(?: +HTTP\/(\d)\.(\d))?/.exec(first);
      if (!m) return;
      // A whole line without a version is an HTTP/0.9 simple request; a cut line says nothing.
      const whole = complete.length > 0;
      const [major, minor] = m[3] ? [Number(m[3]), Number(m[4])] : whole ? [0, 9] : [-1, -1];
      msg.head = { method: m[1], url: m[2], versionMajor: major, versionMinor: minor, rawHeaders: raw, upgrade: false, keepAlive: false };
    } else {
      const m = /^HTTP\/(\d)\.(\d) +(\d{3})(?: +(.*))?/.exec(first);
      if (!m) return;
      msg.head = { versionMajor: Number(m[1]), versionMinor: Number(m[2]), statusCode: Number(m[3]), statusMessage: m[4] ?? '', rawHeaders: raw, upgrade: false, keepAlive: false };
    }
    msg.headPartial = true;
    this.owner.anomaly(how === 'error' ? 'malformed-head' : 'incomplete-head',
      `${this.kind} head ${how === 'error' ? 'refused by llhttp' : 'cut off'}; salvaged its start line${raw.length ? ` and ${raw.length / 2} header line(s)` : ''}: ${first.slice(0, 200)}`, this.ts);
  }

  /**
   * llhttp paused right after a head: check it, then let llhttp go on with the body, or end the
   * message here when the owner said it has none (llhttp would read the body the head declares).
   */
  private headEnded(buf: Buffer, consumed: number): Buffer {
    const msg = this.msg!;
    this.checkHead(buf, consumed, msg);
    const end = this.bufOffset + consumed;
    this.offset = end;
    if (this.decision === BODY_NONE) {
      this.span.headEnded(end, 0);
      this.parser.reset();
      this.messageComplete([]);
    } else {
      this.span.headEnded(end, this.bodyMode === 'none' ? 0 : this.bodyMode === 'length' ? msg.contentLength : null);
      this.parser.resume();
      if (this.bodyMode === 'chunked') {
        if (this.chunkCheck) this.chunkCheck.restart();
        else this.chunkCheck = new StrictChunkedCheck(this.kind);
        this.chunkCheckTo = end;
        this.chunkMsg = msg;
      }
      // llhttp ends a message that has no body, or switches protocols, only when it runs again;
      // and only then does it enter a close-delimited body, which a FIN right after the head
      // must find it in (else the empty body would be taken as cut).
      this.again = consumed === buf.length && (this.bodyMode === 'none' || this.bodyMode === 'eof' || this.switching);
    }
    return buf.subarray(consumed);
  }

  /**
   * Reads a head's bytes again with strict llhttp: every leniency it needed, and the desync
   * signals only the bytes show (obs-fold, bare LF), become anomalies of its message.
   */
  private checkHead(buf: Buffer, consumed: number, msg: HttpMessage): void {
    this.headChecked = true;
    if (this.closeAnnounced) {
      this.owner.messageAnomaly(msg, 'lenient-data-after-close',
        `${this.kind} follows one that announced the connection's close; llhttp reads it only with its data-after-close leniency`, this.ts);
    }
    if (msg.head && !msg.head.keepAlive) this.closeAnnounced = true;
    const bytes = this.span.take(buf, this.bufOffset, consumed);
    if (!bytes) return;
    // Now where the message began is known to the byte, not just to the buffer.
    msg.streamOffset = this.bufOffset + consumed - bytes.length;
    const finding = leniencyNeeded(this.kind, bytes);
    if (!finding) return;
    this.noteLeniency(msg, finding, 'head');
    for (const a of rawHeadAnomalies(this.kind, bytes)) this.owner.messageAnomaly(msg, a.kind, a.detail, this.ts);
  }

  /** Feeds the chunked body being read to strict llhttp, ahead of the lenient parser. */
  private checkChunks(buf: Buffer, msg: HttpMessage): void {
    const skip = this.chunkCheckTo - this.bufOffset;
    if (skip >= buf.length) return;
    const finding = this.chunkCheck!.feed(skip > 0 ? buf.subarray(skip) : buf);
    this.chunkCheckTo = this.bufOffset + buf.length;
    if (finding) this.noteLeniency(msg, finding, 'chunked body');
    if (this.chunkCheck!.finished) this.chunkMsg = null;
  }

  private noteLeniency(msg: HttpMessage, f: StrictFinding, where: string): void {
    const why = `strict llhttp stops at ${where} byte ${f.at} with ${f.code}: ${f.reason}`;
    if (f.leniencies.length === 0) this.owner.messageAnomaly(msg, 'lenient-parse', `${this.kind} ${where} needs a leniency of llhttp; ${why}`, this.ts);
    for (const l of f.leniencies) this.owner.messageAnomaly(msg, `lenient-${l}`, `${this.kind} ${where} needs llhttp's ${l} leniency; ${why}`, this.ts);
  }

  /**
   * A status that is no number ("HTTP/1.0 2XX OK"): llhttp refuses the whole response, though
   * servers send them and clients take them. The status is read as 000 and the response, body
   * and all, parsed as any other; it is logged with no status code and the token in an anomaly.
   * Only a start line wholly in this buffer with a 3-character token, so offsets stay exact.
   */
  private readStatusAnyway(buf: Buffer, at: number): Buffer | null {
    const line = buf.lastIndexOf('HTTP/', at, 'latin1');
    const m = line >= 0 && at - line < 16 ? /^HTTP\/\d\.\d +(\S{3})(?=[ \r\n])/.exec(buf.toString('latin1', line, Math.min(buf.length, line + 24))) : null;
    if (!m || /^\d{3}$/.test(m[1])) return null;
    const token = line + m[0].length - 3;
    this.badStatus = m[1];
    this.msg = null;
    this.headSeen = null;
    this.parser.reset();
    this.offset = this.bufOffset + line;
    return Buffer.concat([buf.subarray(line, token), Buffer.from('000'), buf.subarray(token + 3)]);
  }

  private parseError(r: ParseError, buf: Buffer): Buffer {
    if (r.code === 'HPE_INVALID_STATUS' && this.kind === 'response' && this.badStatus === null) {
      const again = this.readStatusAnyway(buf, r.consumed);
      if (again) return again;
    }
    this.badStatus = null;
    const at = this.bufOffset + r.consumed;
    this.owner.anomaly('parse-error', `${r.code} at ${this.kind} stream offset ${at}: ${r.reason}`, this.ts);
    if (this.msg) this.abort('error');
    this.parser.reset();
    this.mode = 'seek';
    // Step past the byte llhttp refused so that the search makes progress.
    const skipTo = Math.min(buf.length, r.consumed + 1);
    this.offset = at + (skipTo - r.consumed);
    return buf.subarray(skipTo);
  }

  private skip(n: number): void {
    this.offset += n;
    this.scanned += n;
    if (!this.everParsed) {
      if (this.scanned > GIVE_UP_AFTER) this.mode = 'off';
      this.otherBytes += n;
    } else {
      // One anomaly per run of skipped bytes, however many segments it spans.
      if (this.skipRun === 0) this.skipFrom = this.offset - n;
      this.skipRun += n;
    }
  }

  private reportSkipped(): void {
    if (this.skipRun === 0) return;
    this.owner.anomaly('skipped-bytes', `${this.skipRun} byte(s) at ${this.kind} stream offset ${this.skipFrom} are not part of any message`, this.ts);
    this.skipRun = 0;
  }

  private hold(buf: Buffer): void {
    if (this.heldBytes + buf.length > MAX_HELD) {
      this.stop();
      this.otherBytes += buf.length;
      return;
    }
    this.held.push(Buffer.from(buf));
    this.heldBytes += buf.length;
  }
}
