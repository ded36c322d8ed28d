/**
 * HAR 1.2 export of a finished run (http://www.softwareishard.com/blog/har-12-spec/): one entry
 * per transaction, in time order, with the recovered bodies embedded up to a size limit. Made
 * to import into browser developer tools (Chrome, Firefox) and HAR viewers.
 *
 * Written entry by entry: a run of any size exports in the memory of one entry.
 */
import { readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { resolve, sep } from 'node:path';
import {
  type FileRow,
  type HeaderRow,
  Lookups,
  type TxnRow,
  interimCodes,
  transactionsInTimeOrder,
} from './common.js';
import { openLogReadOnly } from '../evidence/log.js';
import { PieceWriter } from '../piece-writer.js';

export interface HarOptions {
  /** Bodies larger than this many bytes are left out (and the cut noted). Default 1 MiB. */
  maxBodyBytes?: number;
}

export interface HarResult {
  /** Entries written: one per transaction. */
  entries: number;
  /** Request and response bodies left out for being over `maxBodyBytes`. */
  bodiesCut: number;
}

export const DEFAULT_HAR_MAX_BODY_BYTES = 1 << 20;

const pkg = createRequire(import.meta.url)('../../package.json') as { version: string };

/** Writes the HAR of the run whose output folder is `outDir` to `file`. */
export function writeHar(outDir: string, file: string, opts: HarOptions = {}): HarResult {
  const limit = opts.maxBodyBytes ?? DEFAULT_HAR_MAX_BODY_BYTES;
  if (!Number.isFinite(limit) || limit < 0) throw new RangeError(`maxBodyBytes must be a number >= 0, not ${limit}`);
  const db = openLogReadOnly(outDir);
  let out: PieceWriter | undefined;
  try {
    const lookups = new Lookups(db);
    const ctx: EntryContext = { outDir: resolve(outDir), limit, lookups, bodiesCut: 0 };
    out = new PieceWriter(file);
    const head = {
      version: '1.2',
      creator: { name: 'extract-http', version: pkg.version },
      pages: [],
      comment: 'Recovered from a packet capture by extract-http: one entry per HTTP transaction. ' +
        'Bodies are the recovered files (content codings undone); "_extract_http" on each entry names them.',
    };
    const headJson = JSON.stringify({ log: head });
    // Everything of `log` but its closing brace, then the entries array.
    out.write(`${headJson.slice(0, -2)},"entries":[`);
    let entries = 0;
    for (const t of transactionsInTimeOrder(db)) {
      out.write(`${entries ? ',' : ''}\n${JSON.stringify(harEntry(t, ctx))}`);
      entries++;
    }
    out.write('\n]}}\n');
    out.close();
    out = undefined;
    return { entries, bodiesCut: ctx.bodiesCut };
  } finally {
    out?.abort();
    db.close();
  }
}

interface EntryContext {
  outDir: string;
  limit: number;
  lookups: Lookups;
  bodiesCut: number;
}

// ---------------------------------------------------------------------------------------------
// One entry

interface NameValue { name: string; value: string; comment?: string }
interface Cookie { name: string; value: string; path?: string; domain?: string; expires?: string; httpOnly?: boolean; secure?: boolean }

function harEntry(t: TxnRow, ctx: EntryContext): Record<string, unknown> {
  const hasRequest = t.method != null || t.request_ts != null;
  const hasResponse = t.status_code != null || t.response_ts != null || t.response_version != null;
  const headers = ctx.lookups.headers(t.id);
  const reqHeaders = headerList(headers, 'request');
  const resHeaders = headerList(headers, 'response');
  const reqFile = ctx.lookups.file(t.request_file_id);
  const resFile = ctx.lookups.file(t.response_file_id);
  const notes: string[] = [];
  if (!hasRequest) notes.push('request not captured');
  if (!hasResponse) notes.push('no response captured');
  const interim = interimCodes(t.interim_statuses);
  if (interim.length) notes.push(`interim responses: ${interim.join(', ')}`);

  const { timings, time } = harTimings(t);
  const request: Record<string, unknown> = {
    method: t.method ?? '',
    url: harUrl(t),
    httpVersion: hasRequest && t.version ? `HTTP/${t.version}` : '',
    cookies: requestCookies(headers),
    headers: reqHeaders,
    queryString: queryString(t.uri),
  };
  if (reqFile || t.request_body_len > 0) {
    const body = embedBody(reqFile, t.request_body_len, ctx);
    const postData: Record<string, unknown> = { mimeType: t.request_content_type ?? reqFile?.sniffed_type ?? 'application/octet-stream' };
    // Chrome reads a missing text as "undefined": an empty one with the comment is clearer.
    postData.text = body.text ?? '';
    if (body.encoding) postData.encoding = body.encoding; // not in HAR 1.2; as in content
    if (body.comment) postData.comment = body.comment;
    request.postData = postData;
  }
  request.headersSize = -1;
  request.bodySize = hasRequest ? t.request_wire_len : -1;
  if (!hasRequest) request.comment = 'request not captured';

  const content: Record<string, unknown> = {
    size: resFile ? resFile.size : t.response_body_len,
    mimeType: t.response_content_type ?? resFile?.sniffed_type ?? 'x-unknown',
  };
  // Bytes saved by a content coding the file no longer has.
  if (resFile?.coding_removed && resFile.size > t.response_wire_len) content.compression = resFile.size - t.response_wire_len;
  if (resFile || t.response_body_len > 0) {
    const body = embedBody(resFile, t.response_body_len, ctx);
    if (body.text != null) content.text = body.text;
    if (body.encoding) content.encoding = body.encoding;
    if (body.comment) content.comment = body.comment;
  }
  const response: Record<string, unknown> = {
    status: t.status_code ?? 0,
    statusText: t.reason ?? '',
    httpVersion: t.response_version ? `HTTP/${t.response_version}` : '',
    cookies: responseCookies(headers),
    headers: resHeaders,
    content,
    redirectURL: t.location ?? '',
    headersSize: -1,
    bodySize: hasResponse ? t.response_wire_len : -1,
  };
  if (!hasResponse) response.comment = 'no response captured';

  const entry: Record<string, unknown> = {
    startedDateTime: isoTime(t.request_ts ?? t.response_ts ?? t.ts),
    time,
    request,
    response,
    cache: {},
    timings,
  };
  if (t.server_ip && isIP(t.server_ip)) entry.serverIPAddress = t.server_ip;
  entry.connection = String(t.connection_id);
  if (notes.length) entry.comment = notes.join('; ');
  const own: Record<string, unknown> = {
    transaction_id: t.id,
    connection_id: t.connection_id,
    trans_depth: t.trans_depth,
  };
  if (t.client_ip != null) own.client = endpoint(t.client_ip, t.client_port);
  if (t.server_ip != null) own.server = endpoint(t.server_ip, t.server_port);
  if (t.uri != null) own.target = t.uri;
  if (reqFile) { own.request_file = reqFile.path; own.request_sha256 = reqFile.sha256; }
  if (resFile) { own.response_file = resFile.path; own.response_sha256 = resFile.sha256; }
  if (hasRequest) own.request_complete = t.request_complete === 1;
  if (hasResponse) own.response_complete = t.response_complete === 1;
  const others = ctx.lookups.files(t.id).filter((f) => f.id !== reqFile?.id && f.id !== resFile?.id);
  if (others.length) own.other_files = others.map((f) => ({ path: f.path, direction: f.direction, origin: f.origin, sha256: f.sha256 }));
  if (interim.length) own.interim_statuses = interim;
  if (t.anomalies > 0) own.anomalies = ctx.lookups.anomalyKinds(t.id);
  entry._extract_http = own;
  return entry;
}

function endpoint(ip: string, port: number | null): string {
  const host = ip.includes(':') ? `[${ip}]` : ip;
  return port == null ? host : `${host}:${port}`;
}

function headerList(rows: HeaderRow[], side: 'request' | 'response'): NameValue[] {
  const out: NameValue[] = [];
  for (const h of rows) {
    if (h.direction === side) out.push({ name: h.name, value: h.value });
    else if (h.direction === `${side}-trailer`) out.push({ name: h.name, value: h.value, comment: 'trailer' });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Time

/** ISO 8601 in UTC with milliseconds; the microseconds are in the timings. */
function isoTime(sec: number | null): string {
  const d = new Date(sec != null && Number.isFinite(sec) ? Math.round(sec * 1000) : 0);
  const y = d.getUTCFullYear();
  if (Number.isNaN(y) || y < 0 || y > 9999) return new Date(0).toISOString();
  return d.toISOString();
}

/** Milliseconds between two epoch-second times, to the microsecond; -1 if either is unknown. */
function span(from: number | null, to: number | null): number {
  if (from == null || to == null || !Number.isFinite(from) || !Number.isFinite(to)) return -1;
  return Math.max(0, Math.round((to - from) * 1e6) / 1e3);
}

/**
 * send: first to last packet of the request; wait: end of the request to the first packet of
 * the response (0 when the server answered before the request was done); receive: first to
 * last packet of the response. -1 where a time is unknown. `time` is the sum of the known
 * ones, as the spec requires (blocked, dns, connect and ssl are -1: not seen per request).
 */
function harTimings(t: TxnRow): { timings: Record<string, number>; time: number } {
  const send = span(t.request_ts, t.request_end_ts);
  const wait = span(t.request_end_ts, t.response_ts);
  const receive = span(t.response_ts, t.response_end_ts);
  const time = Math.round([send, wait, receive].filter((v) => v >= 0).reduce((a, b) => a + b, 0) * 1e3) / 1e3;
  return { timings: { blocked: -1, dns: -1, connect: -1, send, wait, receive, ssl: -1 }, time };
}

// ---------------------------------------------------------------------------------------------
// URL

const UNRESERVED_SUB = "A-Za-z0-9\\-._~!$&'()*+,;=";
const PATH_OK = new RegExp(`[${UNRESERVED_SUB}:@/?]`);
const REG_NAME_OK = new RegExp(`[${UNRESERVED_SUB}]`);
const USERINFO_OK = new RegExp(`[${UNRESERVED_SUB}:]`);
const HEX2 = /^[0-9A-Fa-f]{2}$/;

/**
 * Percent-encodes what may not stand in that part of a URI (RFC 3986), byte by byte as it was
 * sent, and leaves
 * everything else as sent, existing %XX escapes included: the smallest change that makes a
 * valid URI. Dot segments and case are kept.
 */
function encodePart(s: string, ok: RegExp): string {
  let out = '';
  for (let i = 0; i < s.length; ) {
    const cp = s.codePointAt(i)!;
    const ch = String.fromCodePoint(cp);
    i += ch.length;
    if (cp < 0x80 && ok.test(ch)) out += ch;
    else if (ch === '%' && HEX2.test(s.slice(i, i + 2))) out += ch;
    else {
      // The log holds heads as latin1 (one character per byte sent): such a character is
      // its byte. Anything above (not from a head) goes as UTF-8; a lone surrogate as U+FFFD.
      const bytes = cp <= 0xff ? [cp] : Buffer.from(cp >= 0xd800 && cp <= 0xdfff ? '\ufffd' : ch, 'utf8');
      for (const b of bytes) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
    }
  }
  return out;
}

/** Path, query and fragment: the first '#' stays the fragment's mark. */
function encodePathQuery(s: string): string {
  const hash = s.indexOf('#');
  if (hash < 0) return encodePart(s, PATH_OK);
  return `${encodePart(s.slice(0, hash), PATH_OK)}#${encodePart(s.slice(hash + 1), PATH_OK)}`;
}

/** An authority ([userinfo@]host[:port]) made valid, keeping a valid one unchanged. */
function encodeAuthority(a: string): string {
  let userinfo = '';
  const at = a.lastIndexOf('@');
  if (at >= 0) {
    userinfo = `${encodePart(a.slice(0, at), USERINFO_OK)}@`;
    a = a.slice(at + 1);
  }
  const m = /^(\[[0-9A-Fa-f:.]+\]|[^:[\]]*)(?::(\d*))?$/.exec(a);
  if (m) {
    const host = m[1]!;
    const okHost = host.startsWith('[') ? (isIP(host.slice(1, -1)) === 6 ? host : encodePart(host, REG_NAME_OK)) : encodePart(host, REG_NAME_OK);
    return `${userinfo}${okHost}${m[2] !== undefined ? `:${m[2]}` : ''}`;
  }
  return userinfo + encodePart(a, REG_NAME_OK);
}

/**
 * An absolute URL for the request: the request target itself when absolute; else http:// +
 * Host (the server's address when there is no Host) + the target. OPTIONS * is the bare
 * authority (RFC 9112 §3.2.4); CONNECT's authority-form becomes http://authority. The target
 * as sent is `_extract_http.target`.
 */
function harUrl(t: TxnRow): string {
  const uri = t.uri ?? '';
  const abs = /^([A-Za-z][A-Za-z0-9+.-]*):\/\/([^/?#]*)(.*)$/s.exec(uri);
  if (abs) return `${abs[1]!.toLowerCase()}://${encodeAuthority(abs[2]!)}${encodePathQuery(abs[3]!)}`;
  let authority = t.host?.trim() ? encodeAuthority(t.host.trim()) : '';
  if (!authority) {
    authority = t.server_ip ? endpoint(t.server_ip, t.server_port === 80 ? null : t.server_port) : 'unknown-host';
  }
  if (uri.startsWith('/')) return `http://${authority}${encodePathQuery(uri)}`;
  if (uri === '*') return `http://${authority}`;
  if (uri === '') return `http://${authority}/`;
  if ((t.method ?? '').toUpperCase() === 'CONNECT') return `http://${encodeAuthority(uri)}`;
  return `http://${authority}/${encodePathQuery(uri)}`;
}

function decodeFormPart(s: string): string {
  const plus = s.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(plus);
  } catch {
    return plus;
  }
}

/** The query string's name=value pairs, decoded as a form would be (the raw text is in the URL). */
function queryString(uri: string | null): NameValue[] {
  if (!uri) return [];
  const q = uri.indexOf('?');
  if (q < 0) return [];
  const hash = uri.indexOf('#', q);
  const query = uri.slice(q + 1, hash < 0 ? undefined : hash);
  const out: NameValue[] = [];
  for (const piece of query.split('&')) {
    if (!piece) continue;
    const eq = piece.indexOf('=');
    out.push(eq < 0 ? { name: decodeFormPart(piece), value: '' } : { name: decodeFormPart(piece.slice(0, eq)), value: decodeFormPart(piece.slice(eq + 1)) });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Cookies

function requestCookies(headers: HeaderRow[]): Cookie[] {
  const out: Cookie[] = [];
  for (const h of headers) {
    if (h.direction !== 'request' || h.name.toLowerCase() !== 'cookie') continue;
    for (const raw of h.value.split(';')) {
      const piece = raw.trim();
      if (!piece) continue;
      const eq = piece.indexOf('=');
      out.push(eq < 0 ? { name: piece, value: '' } : { name: piece.slice(0, eq).trim(), value: piece.slice(eq + 1).trim() });
    }
  }
  return out;
}

function responseCookies(headers: HeaderRow[]): Cookie[] {
  const out: Cookie[] = [];
  for (const h of headers) {
    if (h.direction !== 'response' || h.name.toLowerCase() !== 'set-cookie') continue;
    const [first = '', ...attrs] = h.value.split(';');
    const eq = first.indexOf('=');
    const c: Cookie = eq < 0 ? { name: first.trim(), value: '' } : { name: first.slice(0, eq).trim(), value: first.slice(eq + 1).trim() };
    for (const a of attrs) {
      const aeq = a.indexOf('=');
      const key = (aeq < 0 ? a : a.slice(0, aeq)).trim().toLowerCase();
      const val = aeq < 0 ? '' : a.slice(aeq + 1).trim();
      if (key === 'path') c.path = val;
      else if (key === 'domain') c.domain = val;
      else if (key === 'expires') {
        const ms = Date.parse(val);
        if (Number.isFinite(ms)) {
          const iso = new Date(ms).toISOString();
          if (/^\d{4}-/.test(iso)) c.expires = iso;
        }
      } else if (key === 'httponly') c.httpOnly = true;
      else if (key === 'secure') c.secure = true;
    }
    out.push(c);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Bodies

const utf8 = new TextDecoder('utf-8', { fatal: true, ignoreBOM: true });
// C0 controls other than tab, line feed, form feed and carriage return, and DEL.
const BINARY_CONTROL = /[\u0000-\u0008\u000b\u000e-\u001f\u007f]/;

interface EmbeddedBody { text?: string; encoding?: 'base64'; comment?: string }

/** The file's exact bytes as UTF-8 text when they are that, else as base64. */
function bodyText(buf: Buffer): EmbeddedBody {
  let text: string | undefined;
  try {
    text = utf8.decode(buf);
  } catch {
    text = undefined;
  }
  if (text !== undefined && !BINARY_CONTROL.test(text)) return { text };
  return { text: buf.toString('base64'), encoding: 'base64' };
}

function embedBody(f: FileRow | undefined, bodyLen: number, ctx: EntryContext): EmbeddedBody {
  if (!f) return { comment: `body of ${bodyLen} bytes not recovered to a file` };
  const notes: string[] = [];
  if (f.missing_bytes > 0) notes.push(`${f.missing_bytes} bytes were not captured and are zero-filled`);
  if (f.content_encoding && !f.coding_removed) notes.push(`still ${f.content_encoding}-coded${f.decode_error ? ` (${f.decode_error})` : ''}`);
  if (f.size > ctx.limit) {
    ctx.bodiesCut++;
    notes.unshift(`body not embedded: ${f.size} bytes is over the ${ctx.limit}-byte limit; file: ${f.path}`);
    return { comment: notes.join('; ') };
  }
  const abs = resolve(ctx.outDir, f.path);
  if (!abs.startsWith(ctx.outDir + sep)) return { comment: [`body not embedded: file path outside the output folder: ${f.path}`, ...notes].join('; ') };
  let buf: Buffer;
  try {
    // The file may have changed since the run: never embed more than the limit.
    if (statSync(abs).size > ctx.limit) {
      ctx.bodiesCut++;
      return { comment: [`body not embedded: file ${f.path} is now over the ${ctx.limit}-byte limit`, ...notes].join('; ') };
    }
    buf = readFileSync(abs);
  } catch (e) {
    return { comment: [`body not embedded: cannot read ${f.path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`, ...notes].join('; ') };
  }
  const body = bodyText(buf);
  if (notes.length) body.comment = notes.join('; ');
  return body;
}
