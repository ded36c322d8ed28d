/**
 * Questions to a finished run's log, from the command line: `query` runs any SQL, `ls` lists
 * transactions by host, status and type, `show` prints one transaction with its headers,
 * files and anomalies. The log is opened read-only: nothing here can change the evidence.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type Database from 'better-sqlite3';
import { openLogFile } from './evidence/log.js';

export type Format = 'table' | 'csv' | 'json';
type Row = Record<string, unknown>;

/** A problem with the question (no log there, bad SQL): one line, exit code 1. */
export class QueryError extends Error {}

export function openRunLog(out: string): Database.Database {
  const path = existsSync(out) && statSync(out).isDirectory() ? join(out, 'http.sqlite') : out;
  if (!existsSync(path)) throw new QueryError(`no log at ${path}: give the output folder of a run (or its http.sqlite)`);
  try {
    return openLogFile(path);
  } catch (e) {
    throw new QueryError(`cannot open ${path}: ${(e as Error).message}`);
  }
}

/** Runs one read-only statement; its rows, with the column names in order. */
export function query(db: Database.Database, sql: string, params: unknown[] = []): { columns: string[]; rows: Row[] } {
  let stmt;
  try {
    stmt = db.prepare(sql);
  } catch (e) {
    throw new QueryError(`SQL: ${(e as Error).message}`);
  }
  if (!stmt.reader) throw new QueryError('SQL: only statements that return rows (SELECT, PRAGMA, WITH ...) can be run on the log');
  try {
    const rows = stmt.all(...params) as Row[];
    return { columns: stmt.columns().map((c) => c.name), rows };
  } catch (e) {
    throw new QueryError(`SQL: ${(e as Error).message}`);
  }
}

export interface ListFilter {
  host?: string;
  status?: string;
  type?: string;
  method?: string;
  uri?: string;
  limit?: number;
}

/** `ls`: one line per transaction, filtered; the SQL it runs is the one a user could write. */
export function list(db: Database.Database, f: ListFilter): { columns: string[]; rows: Row[] } {
  const where: string[] = [];
  const params: unknown[] = [];
  if (f.host) {
    // The host, its subdomains, and the host with any port.
    where.push("(lower(t.host) = lower(?) OR lower(t.host) LIKE '%.' || lower(?) OR lower(t.host) LIKE lower(?) || ':%')");
    params.push(f.host, f.host, f.host);
  }
  if (f.status) {
    const cls = /^([1-5])xx$/i.exec(f.status);
    if (cls) {
      where.push('t.status_code BETWEEN ? AND ?');
      params.push(Number(cls[1]) * 100, Number(cls[1]) * 100 + 99);
    } else if (/^\d{3}$/.test(f.status)) {
      where.push('t.status_code = ?');
      params.push(Number(f.status));
    } else {
      throw new QueryError(`--status ${f.status}: give a code (200) or a class (4xx)`);
    }
  }
  if (f.type) {
    // A prefix of the declared or the sniffed type of either body: "image/" finds every image.
    where.push('(lower(t.response_content_type) LIKE lower(?) || \'%\' OR lower(sf.sniffed_type) LIKE lower(?) || \'%\' OR lower(t.request_content_type) LIKE lower(?) || \'%\' OR lower(rf.sniffed_type) LIKE lower(?) || \'%\')');
    params.push(f.type, f.type, f.type, f.type);
  }
  if (f.method) {
    where.push('upper(t.method) = upper(?)');
    params.push(f.method);
  }
  if (f.uri) {
    where.push("instr(t.uri, ?) > 0");
    params.push(f.uri);
  }
  const sql = `SELECT t.id, strftime('%Y-%m-%dT%H:%M:%fZ', t.ts, 'unixepoch') AS time,
      c.client_ip || ':' || c.client_port AS client, c.server_ip || ':' || c.server_port AS server,
      t.method, t.host, t.uri, t.status_code AS status,
      coalesce(sf.sniffed_type, t.response_content_type) AS type, t.response_body_len AS size,
      CASE WHEN t.response_complete = 1 THEN '' ELSE 'partial' END AS complete, t.anomalies,
      coalesce(sf.path, rf.path) AS file
    FROM transactions t
    LEFT JOIN connections c ON c.id = t.connection_id
    LEFT JOIN files rf ON rf.id = t.request_file_id
    LEFT JOIN files sf ON sf.id = t.response_file_id
    ${where.length ? `WHERE ${where.join(' AND ')}` : ''}
    ORDER BY t.ts, t.id
    ${f.limit ? `LIMIT ${Math.max(0, Math.floor(f.limit))}` : ''}`;
  return query(db, sql, params);
}

/** `show`: one transaction whole. Null when there is no such id. */
export function show(db: Database.Database, id: number): Row | null {
  const txn = db.prepare(`SELECT t.*, c.client_ip, c.client_port, c.server_ip, c.server_port
    FROM transactions t LEFT JOIN connections c ON c.id = t.connection_id WHERE t.id = ?`).get(id) as Row | undefined;
  if (!txn) return null;
  const headers = (direction: string): Array<[string, string]> =>
    (db.prepare('SELECT name, value FROM headers WHERE transaction_id = ? AND direction = ? ORDER BY position').all(id, direction) as Array<{ name: string; value: string }>)
      .map((h) => [h.name, h.value]);
  return {
    transaction: txn,
    request_headers: headers('request'),
    request_trailers: headers('request-trailer'),
    response_headers: headers('response'),
    response_trailers: headers('response-trailer'),
    files: db.prepare('SELECT * FROM files WHERE transaction_id = ? ORDER BY direction, part_index, id').all(id),
    anomalies: db.prepare('SELECT kind, detail, ts FROM anomalies WHERE transaction_id = ? ORDER BY id').all(id),
  };
}

/** `show` for a person: the exchange as it went over the wire, then what was recovered. */
export function formatShow(r: Row): string {
  const t = r.transaction as Row;
  const lines: string[] = [];
  const when = typeof t.ts === 'number' ? new Date(t.ts * 1000).toISOString() : '?';
  lines.push(`transaction ${t.id}  connection ${t.connection_id} (#${t.trans_depth} on it)  ${when}`);
  lines.push(`${t.client_ip}:${t.client_port} -> ${t.server_ip}:${t.server_port}`);
  lines.push('');
  if (t.method !== null) lines.push(`> ${t.method} ${t.uri}${t.version ? ` HTTP/${t.version}` : ''}`);
  for (const [n, v] of r.request_headers as Array<[string, string]>) lines.push(`> ${n}: ${v}`);
  for (const [n, v] of r.request_trailers as Array<[string, string]>) lines.push(`> (trailer) ${n}: ${v}`);
  lines.push(`> [body ${t.request_body_len} bytes${t.request_complete ? '' : ', incomplete'}${t.request_missing_bytes ? `, ${t.request_missing_bytes} missing` : ''}]`);
  lines.push('');
  if (t.status_code !== null) lines.push(`< ${t.response_version ? `HTTP/${t.response_version} ` : ''}${t.status_code} ${t.reason ?? ''}`.trimEnd());
  else lines.push('< (no response)');
  for (const [n, v] of r.response_headers as Array<[string, string]>) lines.push(`< ${n}: ${v}`);
  for (const [n, v] of r.response_trailers as Array<[string, string]>) lines.push(`< (trailer) ${n}: ${v}`);
  lines.push(`< [body ${t.response_body_len} bytes${t.response_complete ? '' : ', incomplete'}${t.response_missing_bytes ? `, ${t.response_missing_bytes} missing` : ''}]`);
  const files = r.files as Row[];
  if (files.length) {
    lines.push('', 'files:');
    for (const f of files) {
      const type = f.sniffed_type ?? f.declared_type ?? '?';
      const flags = [f.complete ? '' : `incomplete, ${f.missing_bytes} bytes missing`, f.type_mismatch ? `declared ${f.declared_type}` : '', f.decode_error ? `${f.decode_error}` : '']
        .filter(Boolean).join('; ');
      lines.push(`  ${f.direction} ${f.origin}${f.part_index ? ` part ${f.part_index}` : ''}: ${f.path}`);
      lines.push(`    ${f.size} bytes, ${type}, sha256 ${f.sha256}${flags ? `  (${flags})` : ''}`);
    }
  }
  const anomalies = r.anomalies as Row[];
  if (anomalies.length) {
    lines.push('', 'anomalies:');
    for (const a of anomalies) lines.push(`  ${a.kind}: ${a.detail}`);
  }
  return lines.join('\n') + '\n';
}

/** Rows as an aligned table, CSV (RFC 4180) or a JSON array. */
export function format(columns: string[], rows: Row[], how: Format): string {
  if (how === 'json') return `${JSON.stringify(rows.map((r) => Object.fromEntries(columns.map((c) => [c, jsonValue(r[c])]))))}\n`;
  if (how === 'csv') {
    const cell = (v: unknown): string => {
      const s = text(v);
      return /[",\r\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s;
    };
    return [columns.map(cell).join(','), ...rows.map((r) => columns.map((c) => cell(r[c])).join(','))].join('\r\n') + '\r\n';
  }
  const cells = rows.map((r) => columns.map((c) => clip(text(r[c]).replace(/[\r\n\t]/g, ' '))));
  const widths = columns.map((c, i) => Math.max(c.length, ...cells.map((row) => row[i].length)));
  const line = (vals: string[]): string => vals.map((v, i) => v.padEnd(widths[i])).join('  ').trimEnd();
  const out = [line(columns), line(widths.map((w) => '-'.repeat(w))), ...cells.map(line)];
  out.push(`(${rows.length} row${rows.length === 1 ? '' : 's'})`);
  return out.join('\n') + '\n';
}

const MAX_CELL = 60;

function clip(s: string): string {
  return s.length > MAX_CELL ? `${s.slice(0, MAX_CELL - 1)}…` : s;
}

function text(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (Buffer.isBuffer(v)) return v.toString('hex');
  return String(v);
}

function jsonValue(v: unknown): unknown {
  if (Buffer.isBuffer(v)) return v.toString('hex');
  if (typeof v === 'bigint') return Number(v);
  return v ?? null;
}
