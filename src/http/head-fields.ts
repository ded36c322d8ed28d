import type { HttpMessage } from './message.js';

/**
 * What a head says beyond its plain headers: the desync signals request smugglers and broken
 * servers leave (each an anomaly), and the fields analysts search by that need decoding.
 */

export interface HeadAnomaly {
  kind: string;
  detail: string;
}

const KNOWN_TRANSFER_CODINGS = new Set(['chunked', 'gzip', 'x-gzip', 'deflate', 'compress', 'x-compress', 'identity']);

export function headAnomalies(msg: HttpMessage): HeadAnomaly[] {
  const out: HeadAnomaly[] = [];
  const who = msg.kind;
  const cls = msg.headerAll('content-length');
  const te = msg.headerAll('transfer-encoding');
  if (cls.length > 0 && te.length > 0) {
    out.push({ kind: 'content-length-and-transfer-encoding', detail: `${who} has Content-Length ${cls.join(', ')} and Transfer-Encoding ${te.join(', ')}` });
  }
  if (cls.length > 1) {
    const same = cls.every((v) => v.trim() === cls[0].trim());
    out.push({ kind: same ? 'duplicate-content-length' : 'conflicting-content-length', detail: `${who} has ${cls.length} Content-Length headers: ${cls.join(', ')}` });
  }
  for (const v of cls) {
    if (!/^\s*\d+\s*$/.test(v)) out.push({ kind: 'invalid-content-length', detail: `${who} Content-Length ${JSON.stringify(v)}` });
  }
  if (te.length > 0) {
    const codings = te.join(',').split(',').map((c) => c.trim().toLowerCase().split(';')[0].trim()).filter(Boolean);
    if (codings[codings.length - 1] !== 'chunked') {
      out.push({ kind: 'transfer-encoding-not-chunked', detail: `${who} Transfer-Encoding ${te.join(', ')} does not end in chunked` });
    }
    const odd = codings.filter((c) => !KNOWN_TRANSFER_CODINGS.has(c));
    if (odd.length) out.push({ kind: 'unknown-transfer-coding', detail: `${who} Transfer-Encoding ${te.join(', ')}` });
  }
  if (who === 'request' && msg.headerAll('host').length > 1) {
    out.push({ kind: 'duplicate-host', detail: `request has Host ${msg.headerAll('host').join(', ')}` });
  }
  return out;
}

/** The file name a Content-Disposition header gives, RFC 6266 / 5987 forms included. */
export function dispositionFilename(value: string | undefined): string | null {
  if (!value) return null;
  const ext = /filename\*\s*=\s*([^']*)'[^']*'([^;]+)/i.exec(value);
  if (ext) {
    try {
      return decodeURIComponent(ext[2].trim());
    } catch {
      return ext[2].trim();
    }
  }
  const quoted = /filename\s*=\s*"((?:[^"\\]|\\.)*)"/i.exec(value);
  // Only \" and \\ are escapes in practice: browsers send the backslashes of Windows paths as they are.
  if (quoted) return quoted[1].replace(/\\(["\\])/g, '$1');
  const bare = /filename\s*=\s*([^;]+)/i.exec(value);
  return bare ? bare[1].trim() : null;
}

/** User and password of an Authorization: Basic header. */
export function basicAuth(value: string | undefined): { user: string; password: string | null } | null {
  const m = value ? /^\s*basic\s+([A-Za-z0-9+/=_-]+)\s*$/i.exec(value) : null;
  if (!m) return null;
  const text = Buffer.from(m[1], 'base64').toString('utf8');
  const colon = text.indexOf(':');
  return colon < 0 ? { user: text, password: null } : { user: text.slice(0, colon), password: text.slice(colon + 1) };
}

/** Signals only a head's bytes show, not its parsed fields: folded header lines, bare LF line ends. */
export function rawHeadAnomalies(kind: string, head: Buffer): HeadAnomaly[] {
  const out: HeadAnomaly[] = [];
  const text = head.toString('latin1');
  const lines = text.split('\n');
  const folded = lines.slice(1).filter((l) => l[0] === ' ' || l[0] === '\t').length;
  if (folded) out.push({ kind: 'obs-fold', detail: `${kind} head has ${folded} folded header line(s) (obs-fold), which parsers join differently` });
  const bare = lines.length - 1 - lines.slice(0, -1).filter((l) => l.endsWith('\r')).length;
  if (bare) out.push({ kind: 'bare-lf', detail: `${kind} head has ${bare} line(s) ended by a bare LF` });
  return out;
}
