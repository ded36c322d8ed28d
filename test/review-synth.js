// Grows a real log into a big one for the review page's scale checks: the transactions of a
// real run (with their headers and files) are copied over and over inside SQLite, so every
// copy still points at real files under files/. Copies get their own ids, URIs, hosts and
// times; every 97th copy of a transaction gets a synthetic anomaly.
import Database from 'better-sqlite3';
import { join } from 'node:path';

function columns(db, table) {
  return db.prepare(`PRAGMA table_info(${table})`).all().map((c) => c.name);
}

/**
 * Adds copies of the log's transactions until it holds at least `target` of them.
 * Returns the number of transactions it then holds.
 */
export function growLog(outDir, target) {
  const db = new Database(join(outDir, 'http.sqlite'));
  try {
    const base = db.prepare('SELECT count(*) AS n, max(id) AS maxId FROM transactions').get();
    const maxFile = db.prepare('SELECT coalesce(max(id), 0) AS m FROM files').get().m;
    const copies = Math.ceil((target - base.n) / base.n);
    if (copies <= 0) return base.n;
    const tStep = base.maxId;
    const fStep = maxFile;

    const tCols = columns(db, 'transactions');
    const tSel = tCols.map((c) => {
      switch (c) {
        case 'id': return `t.id + s.k * ${tStep}`;
        case 'uri': return `'/copy/' || s.k || t.uri`;
        case 'host': return `CASE WHEN t.host IS NULL THEN NULL ELSE 'h' || (s.k % 40) || '.' || t.host END`;
        case 'ts': return `t.ts + s.k * 0.01`;
        case 'request_file_id': return `t.request_file_id + s.k * ${fStep}`;
        case 'response_file_id': return `t.response_file_id + s.k * ${fStep}`;
        case 'anomalies': return `t.anomalies + CASE WHEN (t.id + s.k) % 97 = 0 THEN 1 ELSE 0 END`;
        default: return `t.${c}`;
      }
    });
    const fCols = columns(db, 'files').filter((c) => c !== 'dedup_of');
    const fSel = fCols.map((c) => {
      switch (c) {
        case 'id': return `f.id + s.k * ${fStep}`;
        case 'transaction_id': return `f.transaction_id + s.k * ${tStep}`;
        default: return `f.${c}`;
      }
    });
    const seq = `WITH RECURSIVE s(k) AS (SELECT 1 UNION ALL SELECT k + 1 FROM s WHERE k < ${copies})`;
    db.transaction(() => {
      db.exec(`CREATE TEMP TABLE orig_t AS SELECT * FROM transactions;
               CREATE TEMP TABLE orig_h AS SELECT * FROM headers;
               CREATE TEMP TABLE orig_f AS SELECT * FROM files;`);
      db.exec(`${seq} INSERT INTO transactions (${tCols.join(', ')})
               SELECT ${tSel.join(', ')} FROM s, orig_t t`);
      db.exec(`${seq} INSERT INTO headers (transaction_id, direction, position, name, value)
               SELECT h.transaction_id + s.k * ${tStep}, h.direction, h.position, h.name, h.value FROM s, orig_h h`);
      db.exec(`${seq} INSERT INTO files (${fCols.join(', ')}) SELECT ${fSel.join(', ')} FROM s, orig_f f`);
      db.exec(`${seq} INSERT INTO anomalies (scope, connection_id, transaction_id, kind, detail, ts)
               SELECT 'transaction', t.connection_id, t.id + s.k * ${tStep}, 'synthetic-anomaly',
                      'copy ' || s.k || ' of transaction ' || t.id, t.ts
                 FROM s, orig_t t WHERE (t.id + s.k) % 97 = 0`);
    })();
    return db.prepare('SELECT count(*) AS n FROM transactions').get().n;
  } finally {
    db.close();
  }
}
