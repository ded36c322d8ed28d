import type { HttpMessage, Transaction, BodySink } from '../http/message.js';
import type { ConnectionSummary, HttpSink } from '../http/session.js';
import type { ConnectionView } from '../tcp/stream.js';
import type { FileStore, StoredFile } from './file-store.js';
import type { SqliteLog } from './log.js';
import { givenName, hostSegment, pathSegments, tagName, urlFileName } from './names.js';
import { multipartOf, parseContentRange } from './multipart.js';
import { basicAuth, dispositionFilename } from '../http/head-fields.js';

interface TxnFiles {
  outstanding: number;
  request: StoredFile | null;
  response: StoredFile | null;
  finalized: Transaction | null;
}

/**
 * The evidence sink of the HTTP stage: bodies go to the file store, rows to the log. A
 * transaction's row is written once its bodies are on disk, so it can name them.
 */
export class EvidenceRecorder implements HttpSink {
  private readonly txns = new Map<number, TxnFiles>();
  transactions = 0;
  connections = 0;
  httpConnections = 0;
  anomalies = 0;

  constructor(private readonly log: SqliteLog, private readonly files: FileStore) {
    files.derived = (f) => this.log.file(fileRow(f));
    files.note = (transactionId, kind, detail) => {
      const txn = this.txns.get(transactionId)?.finalized;
      this.anomaly({ connectionId: txn?.connectionId ?? 0, transactionId }, kind, detail, txn?.ts ?? 0);
    };
  }


  openBody(conn: ConnectionView, txn: Transaction, msg: HttpMessage): BodySink {
    const entry = this.entry(txn.id);
    entry.outstanding++;
    const host = hostSegment(txn.request?.header('host'), conn.ip[1], conn.port[1]);
    const url = txn.request?.head?.url;
    const segs = url !== undefined ? pathSegments(url) : ['_unknown', `transaction-${txn.id}`];
    // A name the sender gave the body wins over the URL's; only its last part, made safe.
    const given = dispositionFilename(msg.header('content-disposition'));
    let baseName = givenName(given) ?? segs[segs.length - 1];
    const contentType = msg.header('content-type');
    const mp = multipartOf(contentType);
    const multipart = mp && (mp.kind === 'form-data' || (mp.kind === 'byteranges' && msg.kind === 'response')) ? mp : undefined;
    let range;
    if (msg.kind === 'response' && msg.head?.statusCode === 206) {
      // One resource: the same URL with the same validator, whichever connection carried it.
      const piece = parseContentRange(msg.header('content-range'));
      const validator = msg.header('etag') ?? msg.header('last-modified') ?? `length ${piece?.total ?? '?'}`;
      if (piece || mp?.kind === 'byteranges') range = { key: `${host}\n${url ?? ''}\n${validator}`, name: baseName, piece };
      // The resource's own name is left for the stitched whole.
      if (piece) baseName = tagName(baseName, `bytes-${piece.start}-${piece.end}`);
      else if (mp?.kind === 'byteranges') baseName = tagName(baseName, 'byteranges');
    }
    return this.files.open({
      transactionId: txn.id,
      direction: msg.kind,
      sizeHint: msg.contentLength ?? undefined,
      dirs: [host, ...segs.slice(0, -1)],
      baseName,
      multipart,
      range,
      contentType,
      contentEncoding: msg.header('content-encoding'),
      originalName: given ?? (url !== undefined ? urlFileName(url) : null),
    }, (f) => {
      entry[msg.kind] = f;
      entry.outstanding--;
      this.log.file(fileRow(f));
      if (entry.outstanding === 0 && entry.finalized) this.write(entry.finalized, entry);
    });
  }

  transaction(txn: Transaction): void {
    const entry = this.entry(txn.id);
    entry.finalized = txn;
    if (entry.outstanding === 0) this.write(txn, entry);
  }

  connectionEnded(conn: ConnectionView, s: ConnectionSummary): void {
    this.connections++;
    this.conflicts(conn, s.endTs);
    this.tcpOddities(conn, s.endTs);
    if (s.protocol !== 'not-http' && s.protocol !== 'empty') this.httpConnections++;
    const c = conn.stats(0);
    const v = conn.stats(1);
    this.log.connection({
      id: conn.id, client_ip: conn.ip[0], client_port: conn.port[0], server_ip: conn.ip[1], server_port: conn.port[1],
      ip_version: conn.ipVersion, tunnel: conn.tunnel || null, first_ts: conn.firstTs, last_ts: conn.lastTs,
      handshake: conn.synSeen && conn.synAckSeen ? 1 : 0, roles_from: conn.rolesFrom, end_reason: s.endReason,
      protocol: s.protocol, transactions: s.transactions,
      packets_c2s: c.packets, packets_s2c: v.packets, bytes_c2s: c.bytes, bytes_s2c: v.bytes,
      missing_c2s: c.missing, missing_s2c: v.missing, gaps_c2s: c.gaps, gaps_s2c: v.gaps,
      retrans_c2s: c.retransmitted, retrans_s2c: v.retransmitted, ooo_c2s: c.outOfOrder, ooo_s2c: v.outOfOrder,
      overlap_c2s: c.overlapping, overlap_s2c: v.overlapping, conflict_c2s: c.conflicting, conflict_s2c: v.conflicting,
      other_bytes_c2s: s.otherBytes[0], other_bytes_s2c: s.otherBytes[1],
    });
  }

  /** What the TCP stage saw that a well-behaved connection never shows. */
  private tcpOddities(conn: ConnectionView, ts: number): void {
    const note = (kind: string, detail: string): void => this.anomaly({ connectionId: conn.id }, kind, detail, ts);
    if (conn.preHandshake) note('segments-before-handshake', `${conn.preHandshake} server segment(s) without data before the SYN-ACK were ignored`);
    if (conn.simultaneousOpen) note('simultaneous-open', 'both sides sent a SYN');
    for (const dir of [0, 1] as const) {
      const n = conn.stats(dir).outOfWindow;
      if (n) note('out-of-window-segments', `${n} ${dir === 0 ? 'client-to-server' : 'server-to-client'} segment(s) more than 1 GiB ahead of the stream were dropped`);
    }
  }

  /** Overlapping copies that disagreed: evidence of evasion, or of a broken path. */
  private conflicts(conn: ConnectionView, ts: number): void {
    for (const dir of [0, 1] as const) {
      for (const c of conn.conflicts(dir)) {
        this.anomaly({ connectionId: conn.id }, 'tcp-overlap-conflict',
          `${dir === 0 ? 'client-to-server' : 'server-to-client'} stream offset ${c.offset}, ${c.length} byte(s) overlapping, ${c.differing} differing; the ${c.kept} copy was kept`, ts);
      }
    }
  }

  anomaly(scope: { connectionId: number; transactionId?: number }, kind: string, detail: string, ts: number): void {
    this.anomalies++;
    this.log.anomaly({
      scope: scope.transactionId ? 'transaction' : 'connection', capture_id: null,
      connection_id: scope.connectionId, transaction_id: scope.transactionId ?? null, kind, detail, ts,
    });
  }

  /**
   * The run stops (the disk is full): transactions that were only waiting for a body to be
   * stored are written without it, each with an anomaly saying why. Their other rows stay true.
   */
  abandon(reason: string): number {
    let n = 0;
    for (const entry of [...this.txns.values()]) {
      const txn = entry.finalized;
      if (!txn) continue;
      txn.anomalies.push({ kind: 'body-not-stored', detail: reason, ts: txn.ts });
      this.write(txn, entry);
      n++;
    }
    return n;
  }

  private entry(id: number): TxnFiles {
    let e = this.txns.get(id);
    if (!e) {
      e = { outstanding: 0, request: null, response: null, finalized: null };
      this.txns.set(id, e);
    }
    return e;
  }

  private write(txn: Transaction, files: TxnFiles): void {
    this.txns.delete(txn.id);
    this.transactions++;
    const q = txn.request;
    const r = txn.response;
    const auth = basicAuth(q?.header('authorization'));
    this.log.transaction({
      id: txn.id, connection_id: txn.connectionId, trans_depth: txn.depth, ts: txn.ts,
      request_ts: q?.ts ?? null, request_end_ts: q?.endTs ?? null, response_ts: r?.ts ?? null, response_end_ts: r?.endTs ?? null,
      method: q?.head?.method ?? null, uri: q?.head?.url ?? null, version: q?.version ?? r?.version ?? null,
      host: q?.header('host') ?? null, user_agent: q?.header('user-agent') ?? null, referer: q?.header('referer') ?? null,
      request_content_type: q?.header('content-type') ?? null, request_content_length: q?.contentLength ?? null,
      request_transfer_encoding: q?.header('transfer-encoding') ?? null, request_content_encoding: q?.header('content-encoding') ?? null,
      request_body_len: files.request?.decodedSize ?? files.request?.size ?? q?.bodyLen ?? 0, request_wire_len: q?.bodyLen ?? 0,
      request_complete: q?.complete ? 1 : 0, request_missing_bytes: q?.missing ?? 0, request_file_id: files.request?.id ?? null,
      status_code: r?.head?.statusCode ?? null, reason: r?.head?.statusMessage ?? null, response_version: r?.version ?? null,
      response_content_type: r?.header('content-type') ?? null, response_content_length: r?.contentLength ?? null,
      response_transfer_encoding: r?.header('transfer-encoding') ?? null, response_content_encoding: r?.header('content-encoding') ?? null,
      location: r?.header('location') ?? null, server: r?.header('server') ?? null,
      response_body_len: files.response?.decodedSize ?? files.response?.size ?? r?.bodyLen ?? 0, response_wire_len: r?.bodyLen ?? 0,
      response_complete: r?.complete && (files.response?.complete ?? true) ? 1 : 0, response_missing_bytes: r?.missing ?? 0,
      response_file_id: files.response?.id ?? null,
      interim_statuses: txn.interim.length ? txn.interim.map((i) => i.status).join(',') : null,
      content_disposition_filename: dispositionFilename(r?.header('content-disposition') ?? q?.header('content-disposition')),
      auth_user: auth?.user ?? null,
      auth_password: auth?.password ?? null,
      anomalies: txn.anomalies.length,
    });
    if (q?.head) this.log.headers(txn.id, 'request', q.head.rawHeaders);
    if (q?.trailers.length) this.log.headers(txn.id, 'request-trailer', q.trailers);
    if (r?.head) this.log.headers(txn.id, 'response', r.head.rawHeaders);
    if (r?.trailers.length) this.log.headers(txn.id, 'response-trailer', r.trailers);
    for (const a of txn.anomalies) this.anomaly({ connectionId: txn.connectionId, transactionId: txn.id }, a.kind, a.detail, a.ts);
  }
}

function fileRow(f: StoredFile): Record<string, string | number | null> {
  return {
    id: f.id, transaction_id: f.transactionId, direction: f.direction, part_index: f.partIndex, origin: f.origin, path: f.path, size: f.size,
    md5: f.md5, sha1: f.sha1, sha256: f.sha256,
    wire_size: f.wireSize, wire_sha256: f.wireSha256, decoded_size: f.decodedSize, decoded_sha256: f.decodedSha256,
    declared_type: f.contentType, sniffed_type: f.sniffedType, type_mismatch: f.typeMismatch ? 1 : 0,
    content_encoding: f.contentEncoding, coding_removed: f.codingRemoved,
    decode_error: f.decodeError, complete: f.complete ? 1 : 0, missing_bytes: f.missingBytes,
    missing_ranges: f.holes.length ? JSON.stringify(f.holes) : null, ranges_present: JSON.stringify(present(f.size, f.holes)),
    original_name: f.originalName, dedup_of: f.dedupOf,
  };
}

/** The [offset, length] ranges of a body that were captured: all of it but its holes. */
function present(size: number, holes: Array<[number, number]>): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  let at = 0;
  for (const [off, len] of holes) {
    if (off > at) out.push([at, off - at]);
    at = off + len;
  }
  if (size > at) out.push([at, size - at]);
  return out;
}
