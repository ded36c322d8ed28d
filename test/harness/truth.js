// Helpers for tests that compare extract-http's output with the harness truth.

import fs from 'node:fs';
import crypto from 'node:crypto';

/**
 * Load a <scenario>.truth.json written by makeCapture / make-samples.
 * Returns {scenario, mode, server:{ip, ip6, ports}, client, capture, connections, transactions:[...]}
 * with transactions sorted by request arrival (seq).
 */
export function loadTruth(file) {
  const doc = JSON.parse(fs.readFileSync(file, 'utf8'));
  if (!Array.isArray(doc.transactions)) throw new Error(`${file}: no transactions array`);
  doc.transactions.sort((a, b) => a.seq - b.seq);
  return doc;
}

/** sha256 hex of a file's content (synchronous; `await` on it works too). */
export function sha256File(path) {
  return crypto.createHash('sha256').update(fs.readFileSync(path)).digest('hex');
}

/** sha256 hex of a buffer/string, or null when empty (same convention as the truth). */
export function sha256OrNull(buf) {
  if (buf == null || buf.length === 0) return null;
  return crypto.createHash('sha256').update(buf).digest('hex');
}

/** Map tag (e.g. "t07") -> transaction. Tags are unique per scenario. */
export function byTag(truth) {
  const tx = Array.isArray(truth) ? truth : truth.transactions;
  return new Map(tx.map((t) => [t.tag, t]));
}

/** Map uri -> transaction (URIs are unique thanks to the tag). */
export function byUri(truth) {
  const tx = Array.isArray(truth) ? truth : truth.transactions;
  return new Map(tx.map((t) => [t.uri, t]));
}

/** Value of a response header sent by the server (case-insensitive), or null. */
export function responseHeader(tx, name) {
  const n = name.toLowerCase();
  const p = (tx.response_headers || []).find(([k]) => k.toLowerCase() === n);
  return p ? p[1] : null;
}
