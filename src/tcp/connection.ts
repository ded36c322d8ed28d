import { DirectionGate, type GateOwner } from './direction-gate.js';
import { formatIp } from '../decode/segment.js';
import { HalfStream, type HalfStats, type OverlapConflict, type PendingBudget } from './half-stream.js';
import type { ConnectionView, Dir, EndReason, RolesFrom, StreamHandler } from './stream.js';

const ENDED: StreamHandler = { data() {}, gap() {}, fin() {}, end() {} };

/** One TCP connection: two half streams and what the capture showed of its life. */
export class Connection implements ConnectionView, GateOwner {
  /**
   * Raw endpoint keys, [client, server]: address bytes as latin1 plus the port as one UTF-16
   * unit. They tell a segment's direction; addresses and ports are read from them on demand.
   */
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
  /** Capture time its holes became final (FIN acknowledged, or RST); -1 while none is. */
  settleAt = -1;
  /** Saw a packet since the eviction clock last passed it. */
  touched = false;
  endTs = 0;
  private delivered = false;

  constructor(
    readonly id: number,
    readonly key: string,
    readonly ipVersion: 4 | 6,
    client: string,
    server: string,
    rolesFrom: RolesFrom,
    readonly tunnel: string,
    ts: number,
    budget: PendingBudget,
  ) {
    this.endpoint = [client, server];
    this.rolesFrom = rolesFrom;
    this.firstTs = ts;
    this.lastTs = ts;
    this.gate = new DirectionGate(this);
    this.half = [new HalfStream(0, this.gate, budget), new HalfStream(1, this.gate, budget)];
  }

  /** Turns a guess from ports around once the first payload says who is who. */
  swapRoles(): boolean {
    if (this.delivered || this.gate.active) return false;
    this.endpoint.reverse();
    this.half.reverse();
    this.half[0].setDir(0);
    this.half[1].setDir(1);
    this.rolesFrom = 'content';
    return true;
  }

  get ip(): [string, string] {
    return [addressOf(this.endpoint[0]), addressOf(this.endpoint[1])];
  }

  get port(): [number, number] {
    return [portOf(this.endpoint[0]), portOf(this.endpoint[1])];
  }

  deliverTo(): StreamHandler {
    this.delivered = true;
    return this.handler;
  }

  stats(dir: Dir): HalfStats {
    return this.half[dir];
  }

  conflicts(dir: Dir): readonly OverlapConflict[] {
    return this.half[dir].conflicts ?? [];
  }

  carriedData(): boolean {
    return this.half[0].bytes + this.half[1].bytes > 0;
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
    // An ended connection lingers in the table only to recognise its stray packets: it must
    // not keep its HTTP state alive (thousands of short connections end within that time).
    this.handler = ENDED;
  }
}

/** The address of an endpoint key, printed. */
function addressOf(endpoint: string): string {
  return formatIp(Buffer.from(endpoint.slice(0, -1), 'latin1'));
}

function portOf(endpoint: string): number {
  return endpoint.charCodeAt(endpoint.length - 1);
}
