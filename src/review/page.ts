/**
 * out/index.html: a static review page over the SQLite log.
 *
 * Self-contained and network-free: it works when opened from file://, so every piece of data
 * is a plain script file loaded with <script src> (fetch() of local files does not work
 * there). What it writes, all inside the output folder:
 *
 *   index.html                  the page (no data in it; a strict Content-Security-Policy)
 *   review/app.js, style.css    the page's code and style
 *   review/meta.js              counts, captures, anomaly kinds, hosts/types/statuses for the filters
 *   review/rows-NNNN.js         the table: ROWS_PER_FILE transactions each, loaded with the page
 *   review/details/NNNNN.js     headers, files and anomalies of DETAILS_PER_FILE transactions
 *                               each, loaded only when one of them is opened
 *
 * Generation streams: one pass over the transactions in id order, merge-joined with headers,
 * files and anomalies (each read in transaction order), so memory does not grow with the log.
 * Everything from the network is hostile: data files are JSON with every non-ASCII character
 * and `<`, `>`, `&` escaped, and the page only ever puts it into the DOM as text.
 */
import { lstatSync, mkdirSync, renameSync, rmSync, unlinkSync } from 'node:fs';
import { join } from 'node:path';
import { APP_JS, STYLE_CSS, indexHtml } from './assets.js';
import { openLogReadOnly } from '../evidence/log.js';
import { PieceWriter } from '../piece-writer.js';
import type Database from 'better-sqlite3';

/** Transactions per table data file (all of them are loaded with the page). */
export const ROWS_PER_FILE = 10_000;
/** Transactions per details file (loaded on demand). */
export const DETAILS_PER_FILE = 500;

// Caps on what one transaction puts into the page; the log always has everything.
const URI_IN_ROW = 2_048;
const SHORT_TEXT = 512;
const LONG_TEXT = 65_536;
const HEADER_NAME = 1_024;
const HEADER_VALUE = 8_192;
const HEADERS_PER_TX = 1_000;
const FILES_PER_TX = 500;
const ANOMALIES_PER_TX = 500;
const FILTER_LIST = 300;

// Row flags; the page reads the same bits (assets.ts).
const F_MISMATCH = 1;
const F_PARTIAL = 2;
const F_NO_RESPONSE = 4;
const F_NO_REQUEST = 8;
const F_URI_CUT = 16;
const F_UNSAFE_PATH = 32;

/** Sniffed types a browser draws in an <img> (an SVG in an <img> runs no script). */
const THUMB_TYPES = new Set([
  'image/png', 'image/apng', 'image/jpeg', 'image/gif', 'image/webp', 'image/bmp', 'image/avif',
  'image/x-icon', 'image/vnd.microsoft.icon', 'image/svg+xml',
]);

type Value = string | number | null;
type Row = Record<string, Value>;
type HeaderRow = [number, string, number, string, string];

/** JSON that is safe inside any script file: pure ASCII, no `<`, `>`, `&`, no U+2028/2029. */
function js(value: unknown): string {
  return JSON.stringify(value).replace(/[<>&\u007f-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0'));
}

function cap(s: Value | undefined, max: number): string | null {
  if (s === null || s === undefined) return null;
  const t = String(s);
  return t.length > max ? t.slice(0, max) : t;
}

function us(ts: Value | undefined): number | null {
  return typeof ts === 'number' && Number.isFinite(ts) ? Math.round(ts * 1e6) : null;
}

/** A path relative to the output folder that a link may point at: no absolute path, no `..`. */
export function isSafeRelativePath(p: string): boolean {
  if (p === '' || p.startsWith('/') || p.includes('\\') || p.includes('\0') || /^[A-Za-z]:/.test(p)) return false;
  return p.split('/').every((s) => s !== '' && s !== '.' && s !== '..');
}

/** A relative URL for a path inside the output folder, each segment percent-encoded. */
export function fileHref(p: string): string | null {
  return isSafeRelativePath(p) ? p.split('/').map(encodeURIComponent).join('/') : null;
}

/**
 * Rows as objects, built here from better-sqlite3's raw arrays by a function made for the
 * statement's columns: every row then has one shape from the start. better-sqlite3's own row
 * objects, or objects filled key by key, cost two to five times as much on the wide
 * transactions rows.
 */
function* objects(stmt: Database.Statement): IterableIterator<Row> {
  // Column names come from our own schema and query, never from the capture.
  const make = new Function('r', `return {${stmt.columns().map((c, i) => `${JSON.stringify(c.name)}: r[${i}]`).join(', ')}};`) as (r: Value[]) => Row;
  for (const r of stmt.raw(true).iterate() as IterableIterator<Value[]>) yield make(r);
}

/** Peekable cursor over rows ordered by transaction id, for the merge-join. */
class ByTransaction<T> {
  private readonly it: IterableIterator<T>;
  private head: T | undefined;

  constructor(it: IterableIterator<unknown>, private readonly key: (row: T) => number) {
    this.it = it as IterableIterator<T>;
    this.advance();
  }

  private advance(): void {
    const n = this.it.next();
    this.head = n.done ? undefined : n.value;
  }

  /** The rows of transaction `id`; rows of smaller ids (orphans) are skipped. */
  take(id: number): T[] {
    const out: T[] = [];
    while (this.head !== undefined && this.key(this.head) < id) this.advance();
    while (this.head !== undefined && this.key(this.head) === id) {
      out.push(this.head);
      this.advance();
    }
    return out;
  }

  close(): void {
    this.it.return?.();
  }
}

/** Strings that repeat (addresses, hosts, methods, types, folders) go into one table, rows hold indexes. */
class Dict {
  private readonly index = new Map<string, number>([['', 0]]);
  private fresh: string[] = [];
  readonly counts: number[] = [0];

  id(s: Value | undefined, count = false): number {
    if (s === null || s === undefined || s === '') return 0;
    const key = String(s);
    let i = this.index.get(key);
    if (i === undefined) {
      i = this.index.size;
      this.index.set(key, i);
      this.fresh.push(key);
      this.counts.push(0);
    }
    if (count) this.counts[i]++;
    return i;
  }

  /** Entries added since the last call, in index order. */
  drain(): string[] {
    const f = this.fresh;
    this.fresh = [];
    return f;
  }

  entries(): IterableIterator<[string, number]> {
    return this.index.entries();
  }
}

function pad(n: number, width: number): string {
  return String(n).padStart(width, '0');
}

const HEADER_DIRS = new Map<string, number>([['request', 0], ['response', 1], ['request-trailer', 2], ['response-trailer', 3]]);

function topCounts(counts: Map<string | number, number>, n: number): Array<[string | number, number]> {
  return [...counts.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)).slice(0, n);
}

/**
 * Reads OUT/http.sqlite (read-only) and writes OUT/index.html plus its data under OUT/review/.
 * An earlier page in the folder is replaced. Returns how many transactions the page holds and
 * how many bytes were written in all.
 */
export function writeReviewPage(outDir: string): { transactions: number; bytes: number } {
  const db = openLogReadOnly(outDir);
  const tmpDir = join(outDir, '.review.tmp');
  const finalDir = join(outDir, 'review');
  rmSync(tmpDir, { recursive: true, force: true });
  mkdirSync(join(tmpDir, 'details'), { recursive: true });

  let bytes = 0;
  const writeFile = (name: string, text: string): void => {
    const s = new PieceWriter(join(tmpDir, name));
    s.write(text);
    bytes += s.close();
  };

  let transactions = 0;
  const rowFiles: string[] = [];
  try {
    // Plain ASCII, so the files read the same whatever encoding a browser assumes for them.
    writeFile('app.js', APP_JS.replace(/[\u0080-\uffff]/g, (c) => '\\u' + c.charCodeAt(0).toString(16).padStart(4, '0')));
    writeFile('style.css', STYLE_CSS.replace(/[\u0080-\uffff]/g, (c) => '\\' + c.charCodeAt(0).toString(16) + ' '));

    const hasTable = (name: string): boolean =>
      db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;

    const txs = objects(db.prepare(`
      SELECT t.*, c.client_ip, c.client_port, c.server_ip, c.server_port, c.ip_version, c.tunnel,
             c.handshake, c.roles_from, c.end_reason, c.protocol,
             c.missing_c2s, c.missing_s2c, c.gaps_c2s, c.gaps_s2c, c.retrans_c2s, c.retrans_s2c,
             c.overlap_c2s, c.overlap_s2c, c.conflict_c2s, c.conflict_s2c
        FROM transactions t LEFT JOIN connections c ON c.id = t.connection_id
       ORDER BY t.id`));
    // Headers are the bulk of the log: read as arrays [transaction_id, direction, position, name, value].
    const headers = new ByTransaction<HeaderRow>(
      db.prepare('SELECT transaction_id, direction, position, name, value FROM headers ORDER BY transaction_id').raw(true).iterate(),
      (h) => h[0],
    );
    const byTx = (r: Row): number => r.transaction_id as number;
    const files = new ByTransaction<Row>(objects(db.prepare('SELECT * FROM files ORDER BY transaction_id, id')), byTx);
    const anomalies = new ByTransaction<Row>(
      db.prepare(`SELECT transaction_id, kind, detail, ts FROM anomalies
                   WHERE transaction_id IS NOT NULL ORDER BY transaction_id, id`).iterate(),
      byTx,
    );

    const dict = new Dict();
    const hostCounts = new Map<string, number>();
    const typeCounts = new Map<string, number>();
    const statusCounts = new Map<number | string, number>();
    const problems = { mismatch: 0, partial: 0, anomalies: 0, noResponse: 0, any: 0 };
    let fileCount = 0;

    let rowSink: PieceWriter | null = null;
    let rowsInFile = 0;
    let detailSink: PieceWriter | null = null;
    let detailsInFile = 0;

    const closeRows = (): void => {
      if (!rowSink) return;
      rowSink.write(']);\nXH.d(' + js(dict.drain()) + ');\n');
      bytes += rowSink.close();
      rowSink = null;
    };
    const closeDetails = (): void => {
      if (!detailSink) return;
      detailSink.write('});\n');
      bytes += detailSink.close();
      detailSink = null;
    };

    try {
      for (const raw of txs) {
        const t = raw as Row;
        const id = t.id as number;
        const i = transactions++;

        if (rowSink === null) {
          const name = 'rows-' + pad(rowFiles.length, 4) + '.js';
          rowFiles.push(name);
          rowSink = new PieceWriter(join(tmpDir, name));
          rowSink.write('XH.r([');
          rowsInFile = 0;
        }
        if (detailSink === null) {
          detailSink = new PieceWriter(join(tmpDir, 'details', pad(Math.floor(i / DETAILS_PER_FILE), 5) + '.js'));
          detailSink.write('XH.x(' + Math.floor(i / DETAILS_PER_FILE) + ',{');
          detailsInFile = 0;
        }

        const hs = headers.take(id);
        const fs = files.take(id);
        const as = anomalies.take(id);
        fileCount += fs.length;

        // The file the row stands for: the response body, else the request body, else the first file.
        const main =
          fs.find((f) => f.id === t.response_file_id) ?? fs.find((f) => f.id === t.request_file_id) ?? fs[0];
        const thumbFile =
          (main && THUMB_TYPES.has(String(main.sniffed_type)) && (main.size as number) > 0 ? main : undefined) ??
          fs.find((f) => THUMB_TYPES.has(String(f.sniffed_type)) && (f.size as number) > 0);

        let flags = 0;
        if (fs.some((f) => f.type_mismatch === 1)) flags |= F_MISMATCH;
        if (
          fs.some((f) => f.complete === 0 || (f.missing_bytes as number) > 0) ||
          (t.request_missing_bytes as number) > 0 ||
          (t.response_missing_bytes as number) > 0 ||
          (t.response_ts !== null && t.response_complete === 0) ||
          (t.request_ts !== null && t.request_complete === 0)
        )
          flags |= F_PARTIAL;
        if (t.response_ts === null && t.status_code === null) flags |= F_NO_RESPONSE;
        if (t.request_ts === null && t.method === null) flags |= F_NO_REQUEST;
        const uri = t.uri === null ? null : String(t.uri);
        if (uri !== null && uri.length > URI_IN_ROW) flags |= F_URI_CUT;

        let pdir = 0;
        let pbase = '';
        if (main) {
          const p = String(main.path);
          if (!isSafeRelativePath(p)) flags |= F_UNSAFE_PATH;
          const slash = p.lastIndexOf('/');
          pdir = slash > 0 ? dict.id(p.slice(0, slash)) : 0;
          pbase = slash > 0 ? p.slice(slash + 1) : p;
        }
        let thumb: number | string = 0;
        if (thumbFile) {
          const tp = String(thumbFile.path);
          if (isSafeRelativePath(tp)) thumb = thumbFile === main ? 1 : tp;
        }

        const anomalyCount = (t.anomalies as number) || as.length;
        if (flags & F_MISMATCH) problems.mismatch++;
        if (flags & F_PARTIAL) problems.partial++;
        if (anomalyCount > 0) problems.anomalies++;
        if (flags & F_NO_RESPONSE) problems.noResponse++;
        if (flags & (F_MISMATCH | F_PARTIAL) || anomalyCount > 0) problems.any++;

        const host = cap(t.host, SHORT_TEXT);
        const declared = main ? cap(main.declared_type, SHORT_TEXT) : cap(t.response_content_type ?? t.request_content_type, SHORT_TEXT);
        const sniffed = main ? cap(main.sniffed_type, SHORT_TEXT) : null;
        const hostId = dict.id(host, true);
        const declId = dict.id(declared, true);
        const sniffId = dict.id(sniffed, true);
        if (host !== null) hostCounts.set(host, (hostCounts.get(host) ?? 0) + 1);
        for (const ty of new Set([declared, sniffed])) if (ty) typeCounts.set(ty, (typeCounts.get(ty) ?? 0) + 1);
        const st = t.status_code === null ? 'none' : (t.status_code as number);
        statusCounts.set(st, (statusCounts.get(st) ?? 0) + 1);

        const row = [
          id,
          us(t.ts),
          dict.id(cap(t.client_ip, SHORT_TEXT)),
          t.client_port ?? null,
          dict.id(cap(t.server_ip, SHORT_TEXT)),
          t.server_port ?? null,
          dict.id(cap(t.method, SHORT_TEXT)),
          hostId,
          uri === null ? null : cap(uri, URI_IN_ROW),
          t.status_code ?? null,
          declId,
          sniffId,
          main ? main.size : null,
          main ? main.sha256 : '',
          flags,
          anomalyCount,
          pdir,
          pbase,
          fs.length,
          thumb,
        ];
        rowSink.write((rowsInFile++ ? ',' : '') + js(row));

        detailSink.write((detailsInFile++ ? ',\n' : '') + js(String(id)) + ':' + js(details(t, uri, hs, fs, as)));

        if (rowsInFile >= ROWS_PER_FILE) closeRows();
        if (detailsInFile >= DETAILS_PER_FILE) closeDetails();
      }
      closeRows();
      closeDetails();
    } finally {
      headers.close();
      files.close();
      anomalies.close();
      if (rowSink) (rowSink as PieceWriter).abort();
      if (detailSink) (detailSink as PieceWriter).abort();
    }

    const captures = hasTable('captures')
      ? (db.prepare('SELECT path, format, sha256, packets, first_ts, last_ts FROM captures ORDER BY id').all() as Row[]).map(
          (c) => [cap(c.path, LONG_TEXT), c.format, c.sha256, c.packets, us(c.first_ts), us(c.last_ts)],
        )
      : [];
    const anomalyKinds = hasTable('anomalies')
      ? (db.prepare('SELECT scope, kind, count(*) AS n FROM anomalies GROUP BY scope, kind ORDER BY n DESC LIMIT 1000').all() as Row[]).map(
          (a) => [cap(a.scope, SHORT_TEXT), cap(a.kind, SHORT_TEXT), a.n],
        )
      : [];
    const meta = {
      version: 1,
      transactions,
      files: fileCount,
      rowFiles: rowFiles.length,
      rowsPerFile: ROWS_PER_FILE,
      detailsPerFile: DETAILS_PER_FILE,
      problems,
      captures,
      anomalyKinds,
      hosts: topCounts(hostCounts, FILTER_LIST),
      types: topCounts(typeCounts, FILTER_LIST),
      statuses: topCounts(statusCounts, 1000),
    };
    writeFile('meta.js', 'XH.m(' + js(meta) + ');\n');
  } catch (err) {
    rmSync(tmpDir, { recursive: true, force: true });
    throw err;
  } finally {
    db.close();
  }

  // Swap the new page in: the old review/ folder (ours) goes, then index.html is replaced.
  try {
    const st = lstatSync(finalDir);
    if (st.isDirectory()) rmSync(finalDir, { recursive: true, force: true });
    else unlinkSync(finalDir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  renameSync(tmpDir, finalDir);
  const html = indexHtml(transactions, rowFiles.map((f) => 'review/' + f));
  const s = new PieceWriter(join(outDir, 'index.html'), { tmp: join(outDir, '.index.html.tmp') });
  s.write(html);
  bytes += s.close();
  return { transactions, bytes };
}

/** One transaction's details: everything the table has no room for. Nulls are left out. */
function details(t: Row, uri: string | null, hs: HeaderRow[], fs: Row[], as: Row[]): Record<string, unknown> {
  const d: Record<string, unknown> = {};
  const put = (k: string, v: unknown): void => {
    if (v !== null && v !== undefined && v !== '') d[k] = v;
  };
  if (uri !== null && uri.length > URI_IN_ROW) {
    put('uri', cap(uri, LONG_TEXT));
    put('uriLength', uri.length);
  }
  put('times', [us(t.ts), us(t.request_ts), us(t.request_end_ts), us(t.response_ts), us(t.response_end_ts)]);
  put('version', cap(t.version, SHORT_TEXT));
  put('responseVersion', cap(t.response_version, SHORT_TEXT));
  put('reason', cap(t.reason, LONG_TEXT));
  put('connection', t.connection_id);
  put('depth', t.trans_depth);
  put('userAgent', cap(t.user_agent, LONG_TEXT));
  put('referer', cap(t.referer, LONG_TEXT));
  put('location', cap(t.location, LONG_TEXT));
  put('server', cap(t.server, LONG_TEXT));
  put('interim', cap(t.interim_statuses, SHORT_TEXT));
  put('dispositionName', cap(t.content_disposition_filename, LONG_TEXT));
  put('authUser', cap(t.auth_user, LONG_TEXT));
  put('authPassword', cap(t.auth_password, LONG_TEXT));
  const side = (p: 'request' | 'response'): unknown[] => [
    cap(t[p + '_content_type'], SHORT_TEXT),
    t[p + '_content_length'] ?? null,
    cap(t[p + '_transfer_encoding'], SHORT_TEXT),
    cap(t[p + '_content_encoding'], SHORT_TEXT),
    t[p + '_body_len'] ?? null,
    t[p + '_wire_len'] ?? null,
    t[p + '_complete'] ?? null,
    t[p + '_missing_bytes'] ?? null,
  ];
  d.request = side('request');
  d.response = side('response');
  const conn: Record<string, Value> = {};
  for (const k of [
    'ip_version', 'tunnel', 'handshake', 'roles_from', 'end_reason', 'protocol', 'missing_c2s', 'missing_s2c',
    'gaps_c2s', 'gaps_s2c', 'retrans_c2s', 'retrans_s2c', 'overlap_c2s', 'overlap_s2c', 'conflict_c2s', 'conflict_s2c',
  ]) {
    const v = t[k];
    // Zero counters say nothing; a missing handshake does.
    if (v === null || v === undefined || v === '' || (v === 0 && k !== 'handshake')) continue;
    conn[k] = typeof v === 'string' ? cap(v, SHORT_TEXT) : v;
  }
  d.conn = conn;

  const sorted = hs.slice().sort((a, b) => (HEADER_DIRS.get(a[1]) ?? 9) - (HEADER_DIRS.get(b[1]) ?? 9) || a[2] - b[2]);
  d.headers = sorted.slice(0, HEADERS_PER_TX).map(([, direction, position, name, value]) => {
    name = String(name);
    value = String(value);
    const out: unknown[] = [HEADER_DIRS.get(direction) ?? cap(direction, SHORT_TEXT), position, cap(name, HEADER_NAME), cap(value, HEADER_VALUE)];
    if (value.length > HEADER_VALUE || name.length > HEADER_NAME) out.push(value.length);
    return out;
  });
  if (sorted.length > HEADERS_PER_TX) d.headersLeftOut = sorted.length - HEADERS_PER_TX;

  d.files = fs.slice(0, FILES_PER_TX).map((f) => {
    const o: Record<string, Value> = {};
    for (const k of [
      'id', 'direction', 'origin', 'part_index', 'path', 'size', 'sha256', 'md5', 'sha1', 'wire_size', 'wire_sha256',
      'decoded_size', 'decoded_sha256', 'declared_type', 'sniffed_type', 'type_mismatch', 'content_encoding',
      'coding_removed', 'decode_error', 'complete', 'missing_bytes', 'missing_ranges', 'ranges_present',
      'original_name', 'dedup_of',
    ]) {
      const v = f[k];
      if (v === null || v === undefined || v === '') continue;
      // Leave out what is the usual case; the page knows the defaults.
      if ((k === 'origin' && v === 'body') || (k === 'part_index' && v === 0) || (k === 'type_mismatch' && v === 0)) continue;
      if ((k === 'complete' && v === 1) || (k === 'missing_bytes' && v === 0) || (k === 'ranges_present' && f.complete === 1)) continue;
      if ((k === 'wire_size' && v === f.size && f.wire_sha256 === f.sha256) || (k === 'wire_sha256' && v === f.sha256)) continue;
      if ((k === 'decoded_size' && v === f.size) || (k === 'decoded_sha256' && v === f.sha256)) continue;
      o[k] = typeof v === 'string' ? cap(v, k === 'path' ? LONG_TEXT : HEADER_VALUE) : v;
    }
    return o;
  });
  if (fs.length > FILES_PER_TX) d.filesLeftOut = fs.length - FILES_PER_TX;

  d.anomalies = as.slice(0, ANOMALIES_PER_TX).map((a) => [cap(a.kind, SHORT_TEXT), cap(a.detail, HEADER_VALUE), us(a.ts)]);
  if (as.length > ANOMALIES_PER_TX) d.anomaliesLeftOut = as.length - ANOMALIES_PER_TX;
  return d;
}
