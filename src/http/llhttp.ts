/**
 * The one module that touches llhttp. It drives the llhttp that Node bundles through
 * `HTTPParser` of `node:_http_common`, so that a WASM build of llhttp could replace it here
 * without the rest of the code noticing.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface NodeHttpParser {
  initialize(type: number, resource: object, maxHeaderSize?: number, lenient?: number): void;
  execute(data: Buffer): number | NodeParseError;
  finish(): undefined | NodeParseError;
  close(): void;
  free(): void;
  [k: number]: unknown;
}
interface NodeHttpParserClass {
  new (): NodeHttpParser;
  REQUEST: number;
  RESPONSE: number;
  kOnMessageBegin: number;
  kOnHeaders: number;
  kOnHeadersComplete: number;
  kOnBody: number;
  kOnMessageComplete: number;
  kOnExecute: number;
  kLenientAll?: number;
  [k: string]: unknown;
}
const common = require('_http_common') as { HTTPParser: NodeHttpParserClass; methods: string[] };
const { HTTPParser } = common;

export const LLHTTP_VERSION: string = process.versions.llhttp ?? 'unknown';

export type MessageKind = 'request' | 'response';

export interface MessageHead {
  versionMajor: number;
  versionMinor: number;
  /** Header names and values in wire order: [name0, value0, name1, value1, ...]. */
  rawHeaders: string[];
  method?: string;
  url?: string;
  statusCode?: number;
  statusMessage?: string;
  upgrade: boolean;
  keepAlive: boolean;
}

/** What `headersComplete` returns: tell llhttp there is no body, or that the protocol switches. */
export const BODY_NORMAL = 0;
export const BODY_NONE = 1;
export const BODY_UPGRADE = 2;

export interface ParserCallbacks {
  messageBegin(): void;
  headersComplete(head: MessageHead): number;
  body(chunk: Buffer): void;
  messageComplete(trailers: string[]): void;
}

export interface ParseError {
  code: string;
  reason: string;
  /** Bytes of the buffer consumed before the error. */
  consumed: number;
}

type NodeParseError = Error & { code?: string; reason?: string; bytesParsed?: number };

/** Sets up a Node parser for one kind of message, with these leniency flags. */
function initialize(p: NodeHttpParser, kind: MessageKind, lenient: number): void {
  p.initialize(kind === 'request' ? HTTPParser.REQUEST : HTTPParser.RESPONSE, {}, MAX_HEADER_SIZE, lenient);
}

function parseError(r: NodeParseError): ParseError {
  return { code: r.code ?? 'HPE_UNKNOWN', reason: r.reason ?? r.message, consumed: r.bytesParsed ?? 0 };
}

/** What a head callback returns to pause llhttp right after the head: HPE_PAUSED. */
const PAUSE = 21;

/** Largest header block accepted. Forensics wants what real servers tolerate, and more. */
const MAX_HEADER_SIZE = 1024 * 1024;

/** Closed parsers kept for the next connections, as Node's own HTTP server does. */
const MAX_FREE = 256;
const free: Record<MessageKind, HttpParser[]> = { request: [], response: [] };

/** An llhttp parser for one direction of one connection, lenient like real peers. */
export class HttpParser {
  private readonly p: NodeHttpParser;
  private pendingHeaders: string[] = [];
  private pendingUrl = '';
  private inHeaders = false;
  private closed = false;

  /**
   * A parser for a new direction: a closed one made ready again when there is one. A parser
   * and its five callbacks cost ~5 µs and ~1.5 KB of garbage to make, which on captures of
   * many short connections is a tenth of their HTTP work.
   */
  static open(kind: MessageKind, cb: ParserCallbacks): HttpParser {
    const p = free[kind].pop();
    if (!p) return new HttpParser(kind, cb);
    p.cb = cb;
    p.closed = false;
    p.init();
    return p;
  }

  private constructor(private readonly kind: MessageKind, private cb: ParserCallbacks) {
    this.p = new HTTPParser();
    this.init();
    const p = this.p;
    p[HTTPParser.kOnMessageBegin] = () => {
      this.inHeaders = true;
      this.pendingHeaders = [];
      this.pendingUrl = '';
      this.cb.messageBegin();
    };
    // Called for header blocks that llhttp flushes early (many headers) and for trailers.
    p[HTTPParser.kOnHeaders] = (headers: string[], url: string) => {
      for (const h of headers) this.pendingHeaders.push(h);
      if (url) this.pendingUrl += url;
    };
    p[HTTPParser.kOnHeadersComplete] = (
      versionMajor: number, versionMinor: number, headers: string[] | undefined, method: number | undefined,
      url: string | undefined, statusCode: number | undefined, statusMessage: string | undefined,
      upgrade: boolean, keepAlive: boolean,
    ) => {
      const raw = headers ? this.pendingHeaders.concat(headers) : this.pendingHeaders;
      this.pendingHeaders = [];
      this.inHeaders = false;
      const head: MessageHead = {
        versionMajor, versionMinor, rawHeaders: raw, upgrade, keepAlive,
        url: this.kind === 'request' ? this.pendingUrl + (url ?? '') : undefined,
        method: this.kind === 'request' && method !== undefined ? common.methods[method] : undefined,
        statusCode: this.kind === 'response' ? statusCode : undefined,
        statusMessage: this.kind === 'response' ? statusMessage : undefined,
      };
      this.pendingUrl = '';
      return this.cb.headersComplete(head);
    };
    // Node 20 passes one Buffer; older releases passed (buffer, start, length).
    p[HTTPParser.kOnBody] = (b: Buffer, start?: number, len?: number) => {
      this.cb.body(start === undefined ? b : b.subarray(start, start + (len ?? 0)));
    };
    p[HTTPParser.kOnMessageComplete] = () => {
      const trailers = this.pendingHeaders;
      this.pendingHeaders = [];
      this.cb.messageComplete(trailers);
    };
    p[HTTPParser.kOnExecute] = () => {};
  }

  /**
   * Every head that does not switch protocols pauses llhttp right after it: that is the only
   * way llhttp tells where a head ends, and the head's bytes are what the strict check reads.
   * `execute` then returns a ParseError with code HPE_PAUSED; `resume` or `reset` goes on.
   */
  static pauseAfter(decision: number, upgrade: boolean): number {
    // A head llhttp itself takes as a switch is not paused: llhttp would stop there unfinished.
    return decision === BODY_UPGRADE || upgrade ? decision : PAUSE;
  }

  resume(): void {
    (this.p as unknown as { resume(): void }).resume();
  }

  private init(): void {
    initialize(this.p, this.kind, HTTPParser.kLenientAll ?? 0);
    this.inHeaders = false;
    this.pendingHeaders = [];
    this.pendingUrl = '';
  }

  /** Parses bytes; returns how many were consumed (fewer than given after an upgrade) or the error. */
  execute(data: Buffer): number | ParseError {
    const r = this.p.execute(data);
    return typeof r === 'number' ? r : parseError(r);
  }

  /**
   * Parses bytes the caller knows lie inside a Content-Length body and do not end it, without
   * the body callback: Node's binding copies every body piece into a new Buffer before calling
   * it, and skips the copy when no callback is set. The caller takes the body bytes itself;
   * llhttp reads none of them there (it subtracts their length from what is left), so `data`
   * may stand in for them. Returns false if llhttp did not take them all as body (the caller's
   * premise was wrong).
   */
  executeBodyOnly(data: Buffer): boolean {
    const p = this.p;
    const onBody = p[HTTPParser.kOnBody];
    p[HTTPParser.kOnBody] = undefined;
    try {
      return this.p.execute(data) === data.length && !this.inHeaders;
    } finally {
      p[HTTPParser.kOnBody] = onBody;
    }
  }

  /** The direction closed: completes a body delimited by the close, or reports what was cut. */
  finish(): ParseError | null {
    const r = this.p.finish();
    if (!r) return null;
    return { ...parseError(r), consumed: 0 };
  }

  /** Forget all state: the next byte is expected to start a message. */
  reset(): void {
    this.init();
  }

  get parsingHeaders(): boolean {
    return this.inHeaders;
  }

  /** The direction is done: the parser goes back to the pool, its callbacks cut off from their owner. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.cb = DETACHED;
    this.pendingHeaders = [];
    if (free[this.kind].length < MAX_FREE) free[this.kind].push(this);
    else this.p.close();
  }
}

/** Where a pooled parser's callbacks go until it is opened again: nowhere. */
const DETACHED: ParserCallbacks = {
  messageBegin: () => {},
  headersComplete: () => BODY_NORMAL,
  body: () => {},
  messageComplete: () => {},
};

/** llhttp's leniency flags by name ("headers", "optional-cr-before-lf", ...), as Node exposes them. */
const LENIENCIES: Array<[string, number]> = Object.keys(HTTPParser)
  .filter((k) => /^kLenient/.test(k) && k !== 'kLenientAll' && k !== 'kLenientNone' && typeof HTTPParser[k] === 'number')
  .map((k) => [k.slice('kLenient'.length).replace(/[A-Z]+(?![a-z])|[A-Z]/g, (m, at: number) => (at ? '-' : '') + m.toLowerCase()), HTTPParser[k] as number]);
const ALL_LENIENT = LENIENCIES.reduce((a, [, bit]) => a | bit, 0);

/** What strict llhttp refused in bytes that lenient llhttp accepted, and which leniencies that took. */
export interface StrictFinding {
  /** The smallest set of llhttp leniencies with which the bytes parse. */
  leniencies: string[];
  code: string;
  reason: string;
  /** Offset of the refusal in the bytes checked. */
  at: number;
}

/** Parsers kept for strict checks; they have no callbacks, so a check never enters JS. */
const checkers: Partial<Record<MessageKind, NodeHttpParser>> = {};

function firstRefusal(kind: MessageKind, bytes: Buffer, flags: number): ParseError | null {
  const p = (checkers[kind] ??= new HTTPParser());
  initialize(p, kind, flags);
  const r = p.execute(bytes);
  return typeof r === 'number' ? null : parseError(r);
}

/**
 * Which of llhttp's leniencies these bytes (a message head, or a head and the start of a body)
 * need: null when strict llhttp takes them as they are, or when even lenient llhttp refuses
 * them (then they are not what the caller thinks they are, and nothing can be said).
 * Costs one parse in C++ when the bytes are clean, about a dozen when they are not.
 */
export function leniencyNeeded(kind: MessageKind, bytes: Buffer): StrictFinding | null {
  const strict = firstRefusal(kind, bytes, 0);
  if (!strict || firstRefusal(kind, bytes, ALL_LENIENT)) return null;
  // Drop every flag the bytes do without: what stays is a minimal set that they need.
  let flags = ALL_LENIENT;
  for (const [, bit] of LENIENCIES) if (!firstRefusal(kind, bytes, flags & ~bit)) flags &= ~bit;
  return {
    leniencies: LENIENCIES.filter(([, bit]) => flags & bit).map(([name]) => name),
    code: strict.code, reason: strict.reason, at: strict.consumed,
  };
}

const CHUNKED_HEAD: Record<MessageKind, Buffer> = {
  request: Buffer.from('POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n'),
  response: Buffer.from('HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n'),
};
/** Most of a chunked body kept to work out, after a refusal, which leniency it needed. */
const BODY_KEPT = 64 * 1024;

/**
 * Runs strict llhttp over a chunked body while lenient llhttp parses it: chunk framing is where
 * the rest of llhttp's leniencies are used. Fed ahead of the lenient parser, so that what it
 * finds is known while the message is still open. Bytes after the body's end are ignored.
 */
export class StrictChunkedCheck {
  private readonly p = new HTTPParser();
  private done = false;
  private kept: Buffer[] = [];
  private keptLen = 0;
  private fed = 0;

  constructor(private readonly kind: MessageKind) {
    this.p[HTTPParser.kOnMessageComplete] = () => { this.done = true; };
    this.restart();
  }

  /** A new chunked body starts with the next byte fed. */
  restart(): void {
    initialize(this.p, this.kind, 0);
    this.p.execute(CHUNKED_HEAD[this.kind]);
    this.done = false;
    this.kept = [];
    this.keptLen = 0;
    this.fed = 0;
  }

  /** Whether the body is over or was refused: nothing more to check. */
  get finished(): boolean {
    return this.done;
  }

  /** Feeds body bytes; returns what strict llhttp refused, once, or null. */
  feed(buf: Buffer): StrictFinding | null {
    if (this.done) return null;
    if (this.keptLen < BODY_KEPT) {
      const keep = buf.subarray(0, BODY_KEPT - this.keptLen);
      this.kept.push(Buffer.from(keep));
      this.keptLen += keep.length;
    }
    const r = this.p.execute(buf);
    const start = this.fed;
    this.fed += buf.length;
    if (typeof r === 'number' || this.done) return null;
    this.done = true;
    const refused = parseError(r);
    const at = start + refused.consumed;
    const finding: StrictFinding = { leniencies: [], code: refused.code, reason: refused.reason, at };
    if (at < this.keptLen) {
      // Re-run the body up to just past the refusal, from the synthetic head, to name the leniency.
      const upTo = Buffer.concat([CHUNKED_HEAD[this.kind], ...this.kept]).subarray(0, CHUNKED_HEAD[this.kind].length + Math.min(this.keptLen, at + 8));
      const need = leniencyNeeded(this.kind, upTo);
      if (need) finding.leniencies = need.leniencies;
    }
    this.kept = [];
    return finding;
  }

  close(): void {
    this.p.close();
  }
}
