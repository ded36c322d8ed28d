import { join } from 'node:path';
import Database from 'better-sqlite3';
import { INDEXES, SCHEMA, SCHEMA_VERSION } from './schema.js';

type Row = Record<string, string | number | null>;

interface Prepared {
  cols: string[];
  stmt: Database.Statement;
}

const BATCH = 2000;
/** Header rows per multi-row insert (SQLite allows 32,766 parameters a statement). */
const HEADERS_PER_INSERT = 32;
const COMMIT_MS = 1000;

/**
 * Writes the SQLite log through prepared statements inside large transactions, committed
 * every few thousand rows and at the end.
 */
export class SqliteLog {
  private readonly db: Database.Database;
  private readonly stmts: Record<string, Prepared>;
  private readonly args: unknown[] = [];
  /** Multi-row header inserts by row count, prepared when first needed. */
  private readonly headerInserts: Database.Statement[] = [];
  private inBatch = 0;
  private batchStart = 0;

  constructor(readonly path: string) {
    this.db = new Database(path);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.exec(SCHEMA);
    this.db.pragma(`user_version = ${SCHEMA_VERSION}`);
    const insert = (table: string, cols: string[]): Prepared => ({
      cols,
      // Positional parameters bind several times faster than named ones in better-sqlite3.
      stmt: this.db.prepare(`INSERT INTO ${table} (${cols.join(', ')}) VALUES (${cols.map(() => '?').join(', ')})`),
    });
    this.stmts = {
      capture: insert('captures', ['id', 'path', 'format', 'sha256', 'link_types', 'packets', 'bytes', 'first_ts', 'last_ts']),
      connection: insert('connections', CONNECTION_COLUMNS),
      transaction: insert('transactions', TRANSACTION_COLUMNS),
      file: insert('files', FILE_COLUMNS),
      anomaly: insert('anomalies', ['scope', 'capture_id', 'connection_id', 'transaction_id', 'kind', 'detail', 'ts']),
      drop: insert('packet_drops', ['capture_id', 'reason', 'packets']),
    };
  }

  capture(row: Row): void { this.run('capture', row); }
  connection(row: Row): void { this.run('connection', row); }
  transaction(row: Row): void { this.run('transaction', row); }
  file(row: Row): void { this.run('file', row); }
  anomaly(row: Row): void { this.run('anomaly', row); }
  drop(row: Row): void { this.run('drop', row); }

  /**
   * A message's headers, up to HEADERS_PER_INSERT rows per statement: headers are most of the
   * log's rows, and one multi-row insert costs ~1.1 µs a row against ~1.8 µs for one per row.
   */
  headers(transactionId: number, direction: string, raw: string[]): void {
    const total = raw.length >> 1;
    for (let first = 0; first < total; first += HEADERS_PER_INSERT) {
      const n = Math.min(HEADERS_PER_INSERT, total - first);
      const args = this.args;
      args.length = n * 5;
      for (let k = 0, i = first * 2; k < n; k++, i += 2) {
        const a = k * 5;
        args[a] = transactionId;
        args[a + 1] = direction;
        args[a + 2] = i >> 1;
        args[a + 3] = raw[i];
        args[a + 4] = raw[i + 1];
      }
      this.begin();
      (this.headerInserts[n] ??= this.db.prepare(`INSERT INTO headers (transaction_id, direction, position, name, value) VALUES ${Array(n).fill('(?, ?, ?, ?, ?)').join(', ')}`)).run(args);
      this.inserted(n);
    }
  }

  /** Makes everything written so far durable. */
  commit(): void {
    if (this.inBatch > 0) {
      this.db.exec('COMMIT');
      this.inBatch = 0;
    }
  }

  close(): void {
    this.commit();
    this.db.exec(INDEXES);
    this.db.pragma('wal_checkpoint(TRUNCATE)');
    // One file for the evidence: readers (even read-only ones) then need no -wal or -shm beside it.
    this.db.pragma('journal_mode = DELETE');
    this.db.close();
  }

  /**
   * Closes after a failure: commits what it can and builds the indexes if the disk lets it.
   * A commit that fails (the disk is full) is rolled back whole, so the log stays consistent
   * with every batch committed before it.
   */
  abort(): void {
    try {
      this.commit();
      this.db.exec(INDEXES);
    } catch {
      if (this.db.inTransaction) this.db.exec('ROLLBACK');
    }
    try {
      this.db.pragma('wal_checkpoint(TRUNCATE)');
      this.db.pragma('journal_mode = DELETE');
    } catch {
      // The WAL stays beside the log; SQLite reads it on the next open.
    }
    this.db.close();
  }

  private run(name: string, row: Row): void {
    this.begin();
    const { cols, stmt } = this.stmts[name];
    const args = this.args;
    args.length = cols.length;
    for (let i = 0; i < cols.length; i++) args[i] = row[cols[i]] ?? null;
    stmt.run(args);
    this.inserted(1);
  }

  private begin(): void {
    if (this.inBatch === 0) {
      this.db.exec('BEGIN');
      this.batchStart = Date.now();
    }
  }

  private inserted(rows: number): void {
    // Committed every few thousand rows, and at least every second: a run that stops on a
    // failure (a full disk, a kill) keeps all but its last moment.
    const before = this.inBatch;
    this.inBatch += rows;
    if (this.inBatch >= BATCH || ((this.inBatch >> 6) !== (before >> 6) && Date.now() - this.batchStart > COMMIT_MS)) this.commit();
  }
}

export const CONNECTION_COLUMNS = [
  'id', 'client_ip', 'client_port', 'server_ip', 'server_port', 'ip_version', 'tunnel', 'first_ts', 'last_ts',
  'handshake', 'roles_from', 'end_reason', 'protocol', 'transactions',
  'packets_c2s', 'packets_s2c', 'bytes_c2s', 'bytes_s2c', 'missing_c2s', 'missing_s2c', 'gaps_c2s', 'gaps_s2c',
  'retrans_c2s', 'retrans_s2c', 'ooo_c2s', 'ooo_s2c', 'overlap_c2s', 'overlap_s2c', 'conflict_c2s', 'conflict_s2c',
  'other_bytes_c2s', 'other_bytes_s2c',
];

export const TRANSACTION_COLUMNS = [
  'id', 'connection_id', 'trans_depth', 'ts', 'request_ts', 'request_end_ts', 'response_ts', 'response_end_ts',
  'method', 'uri', 'version', 'host', 'user_agent', 'referer', 'request_content_type', 'request_content_length',
  'request_transfer_encoding', 'request_content_encoding', 'request_body_len', 'request_wire_len', 'request_complete',
  'request_missing_bytes', 'request_file_id', 'status_code', 'reason', 'response_version', 'response_content_type',
  'response_content_length', 'response_transfer_encoding', 'response_content_encoding', 'location', 'server',
  'response_body_len', 'response_wire_len', 'response_complete', 'response_missing_bytes', 'response_file_id',
  'interim_statuses', 'content_disposition_filename', 'auth_user', 'auth_password', 'anomalies',
];

export const FILE_COLUMNS = [
  'id', 'transaction_id', 'direction', 'part_index', 'origin', 'path', 'size', 'md5', 'sha1', 'sha256', 'wire_size', 'wire_sha256', 'decoded_size',
  'decoded_sha256', 'declared_type', 'sniffed_type', 'type_mismatch', 'content_encoding', 'coding_removed', 'decode_error', 'complete',
  'missing_bytes', 'missing_ranges', 'ranges_present', 'original_name', 'dedup_of',
];

/** The log of a finished run (`<out>/http.sqlite`), opened read-only: readers cannot change the evidence. */
export function openLogReadOnly(outDir: string): Database.Database {
  return openLogFile(join(outDir, 'http.sqlite'));
}

/** A log file given by its own path, opened read-only. */
export function openLogFile(path: string): Database.Database {
  return new Database(path, { readonly: true, fileMustExist: true });
}
