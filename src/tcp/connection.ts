import { DirectionGate } from './direction-gate.js';
import { HalfStream, type HalfStats } from './half-stream.js';
import type { ConnectionView, Dir, EndReason, RolesFrom, StreamHandler } from './stream.js';

/** One TCP connection: two half streams and what the capture showed of its life. */
export class Connection implements ConnectionView {
  ip: [string, string];
  port: [number, number];
  /** Raw endpoint keys, [client, server], to tell the direction of a segment. */
  endpoint: [string, string];
  rolesFrom: RolesFrom;
  handler!: StreamHandler;
  half: [HalfStream, HalfStream];
  readonly gate: DirectionGate;
  firstTs: number;
  lastTs: number;
  synSeen = false;
  synAckSeen = false;
  /** ISN of the client SYN, to tell a new connection on the same 4-tuple. */
  clientIsn = -1;
  rst = false;
  simultaneousOpen = false;
  /** Server segments without data seen before the SYN-ACK, and ignored. */
  preHandshake = 0;
  ended: EndReason | null = null;
  rolesChecked = false;
  endTs = 0;
  private delivered = false;

  constructor(
    readonly id: number,
    readonly key: string,
    readonly ipVersion: 4 | 6,
    client: { ip: string; port: number; endpoint: string },
    server: { ip: string; port: number; endpoint: string },
    rolesFrom: RolesFrom,
    readonly tunnel: string,
    ts: number,
    maxPending: number,
  ) {
    this.ip = [client.ip, server.ip];
    this.port = [client.port, server.port];
    this.endpoint = [client.endpoint, server.endpoint];
    this.rolesFrom = rolesFrom;
    this.firstTs = ts;
    this.lastTs = ts;
    this.gate = new DirectionGate(() => {
      this.delivered = true;
      return this.handler;
    });
    this.half = [new HalfStream(0, this.gate, maxPending), new HalfStream(1, this.gate, maxPending)];
  }

  /** Turns a guess from ports around once the first payload says who is who. */
  swapRoles(): boolean {
    if (this.delivered || this.gate.active) return false;
    this.ip.reverse();
    this.port.reverse();
    this.endpoint.reverse();
    this.half.reverse();
    this.half[0].setDir(0);
    this.half[1].setDir(1);
    this.rolesFrom = 'content';
    return true;
  }

  stats(dir: Dir): HalfStats {
    return this.half[dir].stats;
  }

  carriedData(): boolean {
    return this.half[0].stats.bytes + this.half[1].stats.bytes > 0;
  }

  dirOf(srcEndpoint: string): Dir {
    return srcEndpoint === this.endpoint[0] ? 0 : 1;
  }

  end(reason: EndReason, ts: number): void {
    if (this.ended) return;
    this.half[0].flush(ts);
    this.half[1].flush(ts);
    this.gate.flush();
    // Both FINs were seen, but a hole kept one from being delivered until now.
    if (reason === 'end-of-input' || reason === 'timeout') {
      if (this.half[0].finAt >= 0 && this.half[1].finAt >= 0) reason = 'fin';
      else if (this.rst) reason = 'rst';
    }
    this.ended = reason;
    this.endTs = ts;
    this.handler.end(reason, ts);
  }
}
