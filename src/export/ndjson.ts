/**
 * NDJSON export of a finished run: one JSON object per line per transaction, in time order,
 * with the field names of Zeek's http.log (as Zeek's JSON writer spells them, e.g. "id.orig_h"),
 * then fields of our own. As in Zeek's JSON logs, a field with no value is left out: no nulls,
 * and no empty lists.
 *
 * Where the meaning differs from Zeek's:
 * - uid is our connection id as a string (Zeek's are random strings like "CHhAvVGS1DHFjwGM9");
 * - *_fuids are our file ids (files.id) as strings: every file of that side, in id order: the
 *   body, and the multipart parts or stitched resource taken from it;
 * - *_filenames are the files' original_name (Content-Disposition or multipart filename, else
 *   the URL's last segment), only for files that have one, so not aligned with *_fuids;
 * - *_mime_types are the sniffed types (the declared one when nothing could be sniffed);
 * - info_code is the last interim (1xx) status; info_msg is never written: the log keeps the
 *   codes of interim responses, not their reason phrases (all codes: interim_statuses);
 * - password is written as the log has it (Zeek hides it by default);
 * - tags is not written.
 */
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

export interface NdjsonResult {
  /** Lines written: one per transaction. */
  records: number;
}

/** Writes one line per transaction of the run whose output folder is `outDir` to `file`. */
export function writeNdjson(outDir: string, file: string): NdjsonResult {
  const db = openLogReadOnly(outDir);
  let out: PieceWriter | undefined;
  try {
    const lookups = new Lookups(db);
    out = new PieceWriter(file);
    let records = 0;
    for (const t of transactionsInTimeOrder(db)) {
      out.write(`${JSON.stringify(ndjsonRecord(t, lookups))}\n`);
      records++;
    }
    out.close();
    out = undefined;
    return { records };
  } finally {
    out?.abort();
    db.close();
  }
}

// Zeek's default http::proxy_headers.
const PROXY_HEADERS = new Set(['FORWARDED', 'X-FORWARDED-FOR', 'X-FORWARDED-FROM', 'CLIENT-IP', 'VIA', 'XROXY-CONNECTION', 'PROXY-CONNECTION']);

function ndjsonRecord(t: TxnRow, lookups: Lookups): Record<string, unknown> {
  const headers = lookups.headers(t.id);
  const files = lookups.files(t.id);
  const interim = interimCodes(t.interim_statuses);
  const rf = t.request_file_id == null ? undefined : files.find((f) => f.id === t.request_file_id) ?? lookups.file(t.request_file_id);
  const sf = t.response_file_id == null ? undefined : files.find((f) => f.id === t.response_file_id) ?? lookups.file(t.response_file_id);
  const hasRequest = t.method != null || t.request_ts != null;
  const hasResponse = t.status_code != null || t.response_ts != null || t.response_version != null;

  const r: Record<string, unknown> = {};
  const set = (name: string, value: unknown): void => {
    if (value === null || value === undefined) return;
    if (Array.isArray(value) && value.length === 0) return;
    r[name] = value;
  };
  // Zeek's http.log, in its order.
  set('ts', t.ts ?? t.request_ts ?? t.response_ts);
  set('uid', String(t.connection_id));
  set('id.orig_h', t.client_ip);
  set('id.orig_p', t.client_port);
  set('id.resp_h', t.server_ip);
  set('id.resp_p', t.server_port);
  set('trans_depth', t.trans_depth);
  set('method', t.method);
  set('host', t.host);
  set('uri', t.uri);
  set('referrer', t.referer);
  set('version', t.version);
  set('user_agent', t.user_agent);
  set('origin', firstHeader(headers, 'request', 'origin'));
  set('request_body_len', t.request_body_len);
  set('response_body_len', t.response_body_len);
  set('status_code', t.status_code);
  set('status_msg', t.reason);
  if (interim.length) set('info_code', interim[interim.length - 1]);
  set('username', t.auth_user);
  set('password', t.auth_password);
  set('proxied', headers
    .filter((h) => h.direction === 'request' && PROXY_HEADERS.has(h.name.toUpperCase()))
    .map((h) => `${h.name.toUpperCase()} -> ${h.value}`));
  const side = (dir: string): FileRow[] => files.filter((f) => f.direction === dir);
  for (const [prefix, dir] of [['orig', 'request'], ['resp', 'response']] as const) {
    const fs = side(dir);
    set(`${prefix}_fuids`, fs.map((f) => String(f.id)));
    set(`${prefix}_filenames`, fs.map((f) => f.original_name).filter((n): n is string => n != null));
    set(`${prefix}_mime_types`, fs.map((f) => f.sniffed_type ?? f.declared_type).filter((m): m is string => m != null));
  }
  // Ours.
  set('transaction_id', t.id);
  set('request_ts', t.request_ts);
  set('request_end_ts', t.request_end_ts);
  set('response_ts', t.response_ts);
  set('response_end_ts', t.response_end_ts);
  set('response_version', t.response_version);
  set('request_content_type', t.request_content_type);
  set('response_content_type', t.response_content_type);
  if (hasRequest) {
    set('request_complete', t.request_complete === 1);
    set('request_missing_bytes', t.request_missing_bytes);
  }
  set('request_file', rf?.path);
  set('request_sha256', rf?.sha256);
  if (hasResponse) {
    set('response_complete', t.response_complete === 1);
    set('response_missing_bytes', t.response_missing_bytes);
  }
  set('response_file', sf?.path);
  set('response_sha256', sf?.sha256);
  set('location', t.location);
  set('server', t.server);
  set('content_disposition_filename', t.content_disposition_filename);
  set('interim_statuses', interim);
  if (t.anomalies > 0) set('anomalies', lookups.anomalyKinds(t.id));
  return r;
}

function firstHeader(headers: HeaderRow[], direction: string, lowerName: string): string | undefined {
  return headers.find((h) => h.direction === direction && h.name.toLowerCase() === lowerName)?.value;
}
