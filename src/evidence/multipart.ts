import { closeSync, openSync, readSync } from 'node:fs';
import { dispositionFilename } from '../http/head-fields.js';

/**
 * Splits a recovered multipart body (multipart/form-data uploads, multipart/byteranges
 * responses) into its parts, streaming from the file on disk: memory stays bounded whatever
 * the size of the parts.
 */

export interface PartHead {
  /** 1 for the first part. */
  index: number;
  headers: Array<[string, string]>;
  contentType: string | undefined;
  /** The form field name, and the file name the sender gave (raw, as hostile as it came). */
  name: string | null;
  filename: string | null;
  /** A byteranges part's Content-Range. */
  range: ContentRange | null;
}

export interface ContentRange {
  start: number;
  /** Inclusive, as in the header. */
  end: number;
  total: number | null;
}

export interface PartSink {
  write(chunk: Buffer): void;
  end(complete: boolean): void;
}

export interface SplitResult {
  parts: number;
  /** What was wrong with the body, if anything: a cut part, no closing delimiter. */
  problem: string | null;
}

const READ = 1024 * 1024;
const MAX_PART_HEAD = 64 * 1024;

/** The boundary parameter of a multipart Content-Type, or null when it is not multipart. */
export function multipartOf(contentType: string | undefined): { kind: string; boundary: string } | null {
  const m = /^\s*multipart\/([a-z0-9.+-]+)\s*;(.*)$/i.exec(contentType ?? '');
  if (!m) return null;
  const b = /(?:^|;)\s*boundary\s*=\s*(?:"([^"]{1,200})"|([^\s;]{1,200}))/i.exec(m[2]);
  return b ? { kind: m[1].toLowerCase(), boundary: b[1] ?? b[2] } : null;
}

/** Reads "bytes 0-99/1000" (total may be "*"). */
export function parseContentRange(value: string | undefined): ContentRange | null {
  const m = /^\s*bytes\s+(\d+)\s*-\s*(\d+)\s*\/\s*(\d+|\*)\s*$/i.exec(value ?? '');
  if (!m) return null;
  const r = { start: Number(m[1]), end: Number(m[2]), total: m[3] === '*' ? null : Number(m[3]) };
  return r.end >= r.start && (r.total === null || r.end < r.total) ? r : null;
}

export function splitMultipart(path: string, boundary: string, onPart: (head: PartHead) => PartSink | null): SplitResult {
  const delim = Buffer.from(`\r\n--${boundary}`);
  const fd = openSync(path, 'r');
  // The body's first delimiter has no CRLF before it: read as if it had.
  let buf = Buffer.from('\r\n');
  let eof = false;
  let state: 'preamble' | 'delimiter' | 'head' | 'body' = 'preamble';
  let closed = false;
  let sink: PartSink | null = null;
  let inPart = false;
  let parts = 0;
  let problem: string | null = null;
  const chunk = Buffer.allocUnsafe(READ);
  try {
    for (;;) {
      if (!eof && buf.length < delim.length + MAX_PART_HEAD) {
        const n = readSync(fd, chunk);
        if (n === 0) eof = true;
        else buf = buf.length ? Buffer.concat([buf, chunk.subarray(0, n)]) : Buffer.from(chunk.subarray(0, n));
      }
      if (state === 'preamble') {
        const at = buf.indexOf(delim);
        if (at < 0) {
          if (eof) { problem = 'no multipart boundary found in the body'; break; }
          buf = buf.subarray(Math.max(0, buf.length - delim.length + 1));
          continue;
        }
        buf = buf.subarray(at + delim.length);
        state = 'delimiter';
      } else if (state === 'delimiter') {
        if (buf.length < 2 && !eof) continue;
        if (buf.subarray(0, 2).toString('latin1') === '--') { closed = true; break; }
        const eol = buf.indexOf('\r\n');
        if (eol < 0) {
          if (eof || buf.length > 1024) { problem = 'a multipart delimiter line never ends'; break; }
          continue;
        }
        buf = buf.subarray(eol + 2);
        state = 'head';
      } else if (state === 'head') {
        const end = buf.subarray(0, 2).toString('latin1') === '\r\n' ? 0 : buf.indexOf('\r\n\r\n');
        if (end < 0) {
          if (eof || buf.length > MAX_PART_HEAD) { problem = `part ${parts + 1} has no end of headers`; break; }
          continue;
        }
        const head = parseHead(buf.subarray(0, end).toString('latin1'), ++parts);
        buf = buf.subarray(end === 0 ? 2 : end + 4);
        sink = onPart(head);
        inPart = true;
        state = 'body';
      } else {
        const at = buf.indexOf(delim);
        if (at >= 0) {
          if (at > 0) sink?.write(buf.subarray(0, at));
          sink?.end(true);
          inPart = false;
          buf = buf.subarray(at + delim.length);
          state = 'delimiter';
          continue;
        }
        if (eof) {
          if (buf.length) sink?.write(buf);
          sink?.end(false);
          inPart = false;
          problem = `the body ends inside part ${parts}`;
          break;
        }
        // Keep what could be the start of a delimiter that straddles two reads.
        const keep = delim.length - 1;
        if (buf.length > keep) {
          sink?.write(buf.subarray(0, buf.length - keep));
          buf = Buffer.from(buf.subarray(buf.length - keep));
        }
      }
    }
  } finally {
    if (inPart) sink?.end(false);
    closeSync(fd);
  }
  if (!closed && problem === null) problem = 'no closing multipart delimiter';
  return { parts, problem };
}

function parseHead(text: string, index: number): PartHead {
  const headers: Array<[string, string]> = [];
  for (const line of text.split('\r\n')) {
    const c = line.indexOf(':');
    if (c > 0) headers.push([line.slice(0, c).trim(), line.slice(c + 1).trim()]);
  }
  const get = (n: string): string | undefined => headers.find(([k]) => k.toLowerCase() === n)?.[1];
  const disposition = get('content-disposition');
  const name = /(?:^|;)\s*name\s*=\s*(?:"([^"]*)"|([^\s;]+))/i.exec(disposition ?? '');
  return {
    index, headers, contentType: get('content-type'),
    name: name ? name[1] ?? name[2] : null,
    filename: dispositionFilename(disposition),
    range: parseContentRange(get('content-range')),
  };
}
