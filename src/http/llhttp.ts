/**
 * The one module that touches llhttp. It drives the llhttp that Node bundles through
 * `HTTPParser` of `node:_http_common`, so that a WASM build of llhttp could replace it here
 * without the rest of the code noticing.
 */
import { createRequire } from 'node:module';

const require = createRequire(import.meta.url);

interface NodeHttpParser {
  initialize(type: number, resource: object, maxHeaderSize?: number, lenient?: number): void;
  execute(data: Buffer): number | (Error & { code?: string; reason?: string; bytesParsed?: number });
  finish(): undefined | (Error & { code?: string; reason?: string; bytesParsed?: number });
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

/** Largest header block accepted. Forensics wants what real servers tolerate, and more. */
const MAX_HEADER_SIZE = 1024 * 1024;

/** An llhttp parser for one direction of one connection, lenient like real peers. */
export class HttpParser {
  private readonly p: NodeHttpParser;
  private pendingHeaders: string[] = [];
  private pendingUrl = '';
  private inHeaders = false;

  constructor(private readonly kind: MessageKind, private readonly cb: ParserCallbacks) {
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

  private init(): void {
    const type = this.kind === 'request' ? HTTPParser.REQUEST : HTTPParser.RESPONSE;
    this.p.initialize(type, {}, MAX_HEADER_SIZE, HTTPParser.kLenientAll ?? 0);
    this.inHeaders = false;
    this.pendingHeaders = [];
    this.pendingUrl = '';
  }

  /** Parses bytes; returns how many were consumed (fewer than given after an upgrade) or the error. */
  execute(data: Buffer): number | ParseError {
    const r = this.p.execute(data);
    if (typeof r === 'number') return r;
    return { code: r.code ?? 'HPE_UNKNOWN', reason: r.reason ?? r.message, consumed: r.bytesParsed ?? 0 };
  }

  /** The direction closed: completes a body delimited by the close, or reports what was cut. */
  finish(): ParseError | null {
    const r = this.p.finish();
    if (!r) return null;
    return { code: r.code ?? 'HPE_UNKNOWN', reason: r.reason ?? r.message, consumed: 0 };
  }

  /** Forget all state: the next byte is expected to start a message. */
  reset(): void {
    this.init();
  }

  get parsingHeaders(): boolean {
    return this.inHeaders;
  }

  close(): void {
    this.p.close();
  }
}
