/**
 * Finding where an HTTP message starts in bytes of unknown state: at the start of a
 * connection seen mid-stream, and to resynchronise after a gap or a parse error.
 */

const METHOD_CHAR = new Uint8Array(256);
for (let c = 0x41; c <= 0x5a; c++) METHOD_CHAR[c] = 1; // A-Z
for (const ch of '-_') METHOD_CHAR[ch.charCodeAt(0)] = 1;

/** Does a request line start at `at`: a method token of capitals, then a space and a target? */
export function requestStartsAt(b: Buffer, at: number): boolean {
  let i = at;
  while (i < b.length && i - at < 24 && METHOD_CHAR[b[i]]) i++;
  if (i - at < 3 || i >= b.length - 1 || b[i] !== 0x20) return false;
  // llhttp in lenient mode takes several spaces after the method; so do we.
  while (i < b.length - 1 && b[i + 1] === 0x20 && i - at < 32) i++;
  const t = b[i + 1];
  return t > 0x20 && t < 0x7f;
}

/** Does a status line start at `at`: "HTTP/" digit "." digit? */
export function responseStartsAt(b: Buffer, at: number): boolean {
  if (b.length - at < 8) return false;
  return b[at] === 0x48 && b[at + 1] === 0x54 && b[at + 2] === 0x54 && b[at + 3] === 0x50 && b[at + 4] === 0x2f &&
    isDigit(b[at + 5]) && b[at + 6] === 0x2e && isDigit(b[at + 7]);
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

const METHODS = ['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'CONNECT', 'TRACE', 'PROPFIND', 'PROPPATCH', 'MKCOL', 'COPY', 'MOVE', 'LOCK', 'UNLOCK', 'SEARCH', 'REPORT', 'M-SEARCH', 'NOTIFY', 'SUBSCRIBE', 'UNSUBSCRIBE', 'PURGE'];

/**
 * Index of the first request line start at or after `from`, or -1. A request line usually
 * starts a line, but after a damaged message it may follow stray bytes directly ("xGET /a
 * HTTP/1.1"): then the known method the token ends with is where it starts.
 */
export function findRequestStart(b: Buffer, from: number): number {
  if (from === 0 && requestStartsAt(b, 0)) return 0;
  let i = from;
  for (;;) {
    const v = b.indexOf(' HTTP/1.', i, 'latin1');
    if (v < 0) return -1;
    const lineStart = Math.max(from, b.lastIndexOf(0x0a, v) + 1);
    if (requestStartsAt(b, lineStart)) return lineStart;
    // The method token just before the target: walk back over the target, then the token.
    let sp = b.lastIndexOf(0x20, v - 1);
    while (sp > lineStart && b[sp - 1] === 0x20) sp--;
    let m = sp;
    while (m > lineStart && METHOD_CHAR[b[m - 1]]) m--;
    if (sp - m >= 3) {
      const token = b.toString('latin1', m, sp);
      const known = METHODS.find((k) => token.endsWith(k));
      const at = known ? sp - known.length : m;
      if (requestStartsAt(b, at)) return at;
    }
    i = v + 1;
  }
}

/** Index of the first status line start at or after `from`, or -1. */
export function findResponseStart(b: Buffer, from: number): number {
  let i = from;
  for (;;) {
    const v = b.indexOf('HTTP/', i, 'latin1');
    if (v < 0) return -1;
    if (responseStartsAt(b, v)) return v;
    i = v + 1;
  }
}
