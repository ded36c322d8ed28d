import type { MessageHead, MessageKind } from './llhttp.js';

/** Receives one message body as it arrives; holes are zero-filled bytes that were never captured. */
export interface BodySink {
  write(chunk: Buffer, hole: boolean): void;
  finish(complete: boolean): void;
}

export interface Anomaly {
  kind: string;
  detail: string;
  ts: number;
}

/** One HTTP message as seen on the wire. */
export class HttpMessage {
  head: MessageHead | null = null;
  /** The head was salvaged from a message cut off or refused before it was complete. */
  headPartial = false;
  trailers: string[] = [];
  endTs = 0;
  complete = false;
  /** De-chunked body bytes, holes included. */
  bodyLen = 0;
  missing = 0;
  /** [offset, length] of every zero-filled hole in the body. */
  holes: Array<[number, number]> = [];
  contentLength: number | null = null;
  body: BodySink | null = null;
  /** Offset of the message's first byte in its direction's stream. */
  streamOffset = 0;
  /** Offset in the other direction's stream acknowledged by the segment that completed the head, -1 unknown. */
  peerAck = -1;

  constructor(readonly kind: MessageKind, readonly ts: number) {}

  header(name: string): string | undefined {
    const raw = this.head?.rawHeaders;
    if (!raw) return undefined;
    const lower = name.toLowerCase();
    for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === lower) return raw[i + 1];
    return undefined;
  }

  headerAll(name: string): string[] {
    const raw = this.head?.rawHeaders ?? [];
    const lower = name.toLowerCase();
    const out: string[] = [];
    for (let i = 0; i < raw.length; i += 2) if (raw[i].toLowerCase() === lower) out.push(raw[i + 1]);
    return out;
  }

  get version(): string | null {
    return this.head && this.head.versionMajor >= 0 ? `${this.head.versionMajor}.${this.head.versionMinor}` : null;
  }
}

/** A request with its response; either side may be missing. */
export class Transaction {
  request: HttpMessage | null = null;
  response: HttpMessage | null = null;
  /** 1xx responses that came before the final one. */
  interim: Array<{ status: number; ts: number }> = [];
  requestDone = false;
  responseDone = false;
  finalized = false;
  anomalies: Anomaly[] = [];

  constructor(readonly id: number, readonly connectionId: number, readonly depth: number) {}

  get ts(): number {
    return this.request?.ts ?? this.response?.ts ?? 0;
  }
}
