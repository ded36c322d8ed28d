/**
 * What both exporters share: per-transaction lookups over a finished run's log that stay fast
 * on a log without its indexes (an interrupted run). Files are written piece by piece
 * (../piece-writer.ts), so that no export holds more than one record in memory.
 */
import type Database from 'better-sqlite3';

export type Db = Database.Database;

/** One transaction with its connection and the two body files, as the exporters read it. */
export interface TxnRow {
  id: number;
  connection_id: number;
  trans_depth: number;
  ts: number | null;
  request_ts: number | null;
  request_end_ts: number | null;
  response_ts: number | null;
  response_end_ts: number | null;
  method: string | null;
  uri: string | null;
  version: string | null;
  host: string | null;
  user_agent: string | null;
  referer: string | null;
  request_content_type: string | null;
  request_body_len: number;
  request_wire_len: number;
  request_complete: number;
  request_missing_bytes: number;
  request_file_id: number | null;
  status_code: number | null;
  reason: string | null;
  response_version: string | null;
  response_content_type: string | null;
  location: string | null;
  server: string | null;
  response_body_len: number;
  response_wire_len: number;
  response_complete: number;
  response_missing_bytes: number;
  response_file_id: number | null;
  interim_statuses: string | null;
  content_disposition_filename: string | null;
  auth_user: string | null;
  auth_password: string | null;
  anomalies: number;
  client_ip: string | null;
  client_port: number | null;
  server_ip: string | null;
  server_port: number | null;
}

export interface FileRow {
  id: number;
  transaction_id: number;
  direction: string;
  part_index: number;
  origin: string;
  path: string;
  size: number;
  sha256: string;
  declared_type: string | null;
  sniffed_type: string | null;
  coding_removed: string | null;
  content_encoding: string | null;
  decode_error: string | null;
  complete: number;
  missing_bytes: number;
  original_name: string | null;
}

export interface HeaderRow {
  direction: string;
  position: number;
  name: string;
  value: string;
}

/**
 * Every transaction in time order (first packet of the request, else of the response; ties
 * by id), streamed from SQLite. The caller may run the lookups below while iterating.
 */
export function transactionsInTimeOrder(db: Db): IterableIterator<TxnRow> {
  return db
    .prepare(
      `SELECT t.*, c.client_ip, c.client_port, c.server_ip, c.server_port
         FROM transactions t LEFT JOIN connections c ON c.id = t.connection_id
        ORDER BY t.ts IS NULL, t.ts, t.id`,
    )
    .iterate() as IterableIterator<TxnRow>;
}

function hasIndexOn(db: Db, table: string, column: string): boolean {
  const list = db.prepare(`SELECT name FROM pragma_index_list(?)`).all(table) as Array<{ name: string }>;
  for (const { name } of list) {
    const first = db.prepare(`SELECT name FROM pragma_index_info(?) WHERE seqno = 0`).get(name) as { name: string } | undefined;
    if (first?.name === column) return true;
  }
  return false;
}

/**
 * Lookups by transaction id. A finished run has indexes on headers and files by transaction;
 * where one is missing (an interrupted run) and for anomalies (not indexed by transaction),
 * an indexed copy is made in the connection's temporary schema, so the log file is never
 * written to and the export stays linear.
 */
export class Lookups {
  private readonly headersStmt: Database.Statement;
  private readonly filesStmt: Database.Statement;
  private readonly fileStmt: Database.Statement;
  private readonly anomaliesStmt: Database.Statement;

  constructor(db: Db) {
    let headers = 'main.headers';
    if (!hasIndexOn(db, 'headers', 'transaction_id')) {
      db.exec(`CREATE TEMP TABLE xh_headers AS SELECT transaction_id, direction, position, name, value FROM main.headers;
               CREATE INDEX temp.xh_headers_t ON xh_headers(transaction_id)`);
      headers = 'temp.xh_headers';
    }
    let files = 'main.files';
    if (!hasIndexOn(db, 'files', 'transaction_id')) {
      db.exec(`CREATE TEMP TABLE xh_files AS SELECT * FROM main.files;
               CREATE INDEX temp.xh_files_t ON xh_files(transaction_id)`);
      files = 'temp.xh_files';
    }
    db.exec(`CREATE TEMP TABLE xh_anomalies AS SELECT id, transaction_id, kind FROM main.anomalies WHERE transaction_id IS NOT NULL;
             CREATE INDEX temp.xh_anomalies_t ON xh_anomalies(transaction_id, id)`);
    this.headersStmt = db.prepare(
      `SELECT direction, position, name, value FROM ${headers} WHERE transaction_id = ?
        ORDER BY CASE direction WHEN 'request' THEN 0 WHEN 'request-trailer' THEN 1 WHEN 'response' THEN 2 ELSE 3 END, position`,
    );
    this.filesStmt = db.prepare(`SELECT * FROM ${files} WHERE transaction_id = ? ORDER BY id`);
    this.fileStmt = db.prepare(`SELECT * FROM main.files WHERE id = ?`);
    this.anomaliesStmt = db.prepare(`SELECT kind FROM temp.xh_anomalies WHERE transaction_id = ? ORDER BY id`);
  }

  /** Request headers, request trailers, response headers, response trailers; each in wire order. */
  headers(txnId: number): HeaderRow[] {
    return this.headersStmt.all(txnId) as HeaderRow[];
  }

  /** Every file of the transaction (bodies, multipart parts, stitched resources), by id. */
  files(txnId: number): FileRow[] {
    return this.filesStmt.all(txnId) as FileRow[];
  }

  file(id: number | null): FileRow | undefined {
    return id == null ? undefined : (this.fileStmt.get(id) as FileRow | undefined);
  }

  anomalyKinds(txnId: number): string[] {
    return (this.anomaliesStmt.all(txnId) as Array<{ kind: string }>).map((r) => r.kind);
  }
}

/** Interim status codes as numbers, from the log's comma-separated text. */
export function interimCodes(text: string | null): number[] {
  if (!text) return [];
  return text.split(',').map((s) => Number(s.trim())).filter((n) => Number.isInteger(n));
}
