import type { HalfStats, OverlapConflict } from './half-stream.js';

/** Index of a direction: 0 carries client-to-server bytes, 1 server-to-client. */
export type Dir = 0 | 1;
export const C2S: Dir = 0;
export const S2C: Dir = 1;

export type EndReason = 'fin' | 'rst' | 'timeout' | 'end-of-input' | 'evicted' | 'port-reuse';
export type RolesFrom = 'syn' | 'syn-ack' | 'ports' | 'content';

/** What a stream handler may read and decide about its connection. */
export interface ConnectionView {
  readonly id: number;
  readonly ipVersion: 4 | 6;
  /** [client, server] once roles are known; a best guess before. */
  readonly ip: readonly [string, string];
  readonly port: readonly [number, number];
  readonly rolesFrom: RolesFrom;
  readonly tunnel: string;
  readonly firstTs: number;
  readonly lastTs: number;
  /** The client's SYN and the server's SYN-ACK were captured. */
  readonly synSeen: boolean;
  readonly synAckSeen: boolean;
  stats(dir: Dir): HalfStats;
  /** Server segments without data seen before its SYN-ACK, and ignored. */
  readonly preHandshake: number;
  readonly simultaneousOpen: boolean;
  /** The first places where two copies of this direction's bytes disagreed. */
  conflicts(dir: Dir): readonly OverlapConflict[];
}

/**
 * Receives a connection's bytes in order (gopacket's reassembly Stream, in spirit). Bytes that
 * never reached the capture arrive as an explicit gap; nothing missing is ever glued over.
 */
export interface StreamHandler {
  /**
   * In-order bytes; `bytes` is only valid during the call. `peerAck` is the offset in the other
   * direction's stream that the segment carrying them acknowledged, -1 when it had no ACK.
   */
  data(dir: Dir, bytes: Buffer, ts: number, peerAck: number): void;
  gap(dir: Dir, length: number, ts: number): void;
  /** The direction is half-closed: every byte before its FIN was delivered (or gapped). */
  fin(dir: Dir, ts: number): void;
  /** The connection is over; no call follows. */
  end(reason: EndReason, ts: number): void;
}

export interface StreamFactory {
  create(conn: ConnectionView): StreamHandler;
  /**
   * Who sent this first payload of a connection whose handshake was not seen, judged from its
   * content; undefined when the content does not say.
   */
  senderRole?(payload: Buffer): 'client' | 'server' | undefined;
}
