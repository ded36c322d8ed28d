/**
 * Moves the bulk byte work off the packet loop: large bodies are hashed and written by a worker
 * thread (hash-writer-worker.ts), and so is the hash of each capture file. On a capture that
 * is mostly large bodies, sha256 and the writes are about a third of the work; with them on the
 * second core, the packet loop keeps one core to itself.
 *
 * Buffers given to `write` are transferred, not copied: the caller must not touch them again.
 */
import { Worker } from 'node:worker_threads';
import type { DigestSet, ExtraHash } from './digests.js';
import type { SniffedType } from './file-types.js';
import { ahead, type AheadWorker } from '../worker-ahead.js';

export type ToWorker =
  | { t: 'options'; directIo?: boolean }
  | { t: 'write'; id: number; path?: string; extra?: ExtraHash[]; buf: ArrayBuffer; len: number }
  | { t: 'end'; id: number }
  | { t: 'hash-file'; id: number; path: string }
  | { t: 'sniff'; id: number; head: ArrayBuffer }
  | { t: 'place'; id: number; dir: string | null; path: string; buf: ArrayBuffer | null; len: number; from: string | null; cost: number; back: boolean };

export type FromWorker =
  | { t: 'ack'; bytes: number; buf: ArrayBuffer }
  | { t: 'end'; id: number; digests: DigestSet; error: string | null; code: string | null; path: string; direct: boolean }
  | { t: 'hashed'; id: number; sha256: string | null }
  | { t: 'placed'; id: number; cost: number; error: string | null; code: string | null; path: string; buf: ArrayBuffer | null }
  | { t: 'sniffed'; id: number; type: SniffedType | null }
  | { t: 'failure'; message: string; code?: string; path?: string };

export interface HashWriterOptions {
  /** Write large bodies with O_DIRECT where the filesystem takes it (hash-writer-worker.ts). Default true. */
  directIo?: boolean;
}

/** A body whose bytes go to the worker, to a file at `path`. */
export interface Spill {
  /** Hands over the first `len` bytes of `buf`, which must own its whole ArrayBuffer. */
  write(buf: Buffer, len: number): void;
  /** Resolves with the digests of every byte written, once the file is closed. */
  end(): Promise<DigestSet>;
}

/** Bytes handed over and not yet written: past this, the packet loop waits. */
const MAX_IN_FLIGHT = 16 * 1024 * 1024;
/** The size of the buffers a body fills before it spills; they are kept for reuse. */
const WRITE_BUFFER = 256 * 1024;
const MAX_SPARE = MAX_IN_FLIGHT / WRITE_BUFFER;
/** Messages gathered before they go to the worker without waiting for the packet loop to yield. */
const FLUSH_AT = 64;
/** Below this, bytes are copied into a message rather than transferred: a transfer has a fixed cost. */
const TRANSFER_MIN = 64 * 1024;
/** What a file waiting to be placed counts for beyond its bytes: thousands of tiny files are work too. */
const PLACE_COST = 4096;

export class HashWriter {
  constructor(private readonly options: HashWriterOptions = {}) {}

  /** A worker started ahead (prestart), taken by the first HashWriter that needs one. */
  private static early: AheadWorker | null = null;

  /**
   * Starts a worker before any HashWriter exists: it takes ~85 ms to load, and started while
   * the extraction's own modules load, it is ready by the first body instead of after it.
   */
  static prestart(): void {
    if (HashWriter.early) return;
    const early = ahead(spawn());
    early.worker.unref();
    HashWriter.early = early;
  }

  private worker: Worker | null = null;
  private nextId = 1;
  private readonly waiting = new Map<number, { resolve: (v: never) => void; reject: (e: Error) => void }>();
  private inFlight = 0;
  /** Buffers back from the worker, for the next bodies. */
  private readonly spare: ArrayBuffer[] = [];
  private drained: Array<() => void> = [];
  private outbox: ToWorker[] = [];
  private outTransfer: ArrayBuffer[] = [];
  private flushing = false;
  /** Bodies written with O_DIRECT, of those ended. */
  directFiles = 0;
  /** The first write that failed (a full disk): the run stops with it. */
  failure: Error | null = null;


  /** A buffer a Spill can take: its own ArrayBuffer, not a slice of Node's pool. */
  static buffer(size: number): Buffer {
    return Buffer.allocUnsafeSlow(size);
  }

  /**
   * A buffer of `size` bytes for a Spill, reusing one the worker handed back: the bytes of large
   * bodies then cross to the worker and back in a fixed set of buffers, allocating nothing, and
   * memory does not wait on either thread's garbage collector.
   */
  take(size: number): Buffer {
    const spare = this.spare;
    for (let i = spare.length - 1; i >= 0; i--) {
      if (spare[i].byteLength === size) return Buffer.from(spare.splice(i, 1)[0]);
    }
    return HashWriter.buffer(size);
  }

  /** A body written to `path`, hashed with sha256 and the `extra` hashes. */
  spill(path: string, extra: ExtraHash[]): Spill {
    const id = this.nextId++;
    let first = true;
    return {
      write: (buf, len) => {
        if (len === 0) return;
        if (buf.byteOffset !== 0) throw new Error('HashWriter: buffer must own its ArrayBuffer');
        this.inFlight += len;
        const ab = buf.buffer as ArrayBuffer;
        const m: ToWorker = first ? { t: 'write', id, path, extra, buf: ab, len } : { t: 'write', id, buf: ab, len };
        first = false;
        this.post(m, [ab]);
      },
      // A body spills only once it has bytes to hand over: an end without a write is refused.
      end: () => this.ask<DigestSet>(id, { t: 'end', id }),
    };
  }

  /**
   * Puts a finished file in place: `data` written to `path`, or the file at `from` renamed to
   * it, after making the folder `dir` when given. Resolves once it is on disk. `data` is handed
   * over when it owns its whole ArrayBuffer; the caller must not touch it again.
   */
  place(dir: string | null, path: string, data: Buffer | null, from: string | null): Promise<void> {
    const id = this.nextId++;
    let buf: ArrayBuffer | null = null;
    const len = data ? data.length : 0;
    const transfer: ArrayBuffer[] = [];
    if (data) {
      if (len >= TRANSFER_MIN && data.byteOffset === 0 && data.buffer.byteLength === len && !(data.buffer instanceof SharedArrayBuffer)) {
        buf = data.buffer;
        transfer.push(buf);
      } else {
        buf = copyOut(data);
      }
    }
    const cost = len + PLACE_COST;
    this.inFlight += cost;
    return this.ask<void>(id, { t: 'place', id, dir, path, buf, len, from, cost, back: transfer.length > 0 }, transfer);
  }

  /** The type a body's first bytes show (file-types.ts), found by the worker: about 40 µs a file. */
  sniff(head: Buffer): Promise<SniffedType | null> {
    const id = this.nextId++;
    // Copied, not transferred: for a few KiB, a transfer costs more than the copy.
    return this.ask<SniffedType | null>(id, { t: 'sniff', id, head: copyOut(head) });
  }

  /** sha256 of a whole file, read by the worker; null if it cannot be read. */
  hashFile(path: string): Promise<string | null> {
    const id = this.nextId++;
    return this.ask<string | null>(id, { t: 'hash-file', id, path });
  }

  /** Resolves once at most `max` bytes wait for the worker. */
  async wait(max = MAX_IN_FLIGHT / 2): Promise<void> {
    while (this.inFlight > max && !this.failure) await new Promise<void>((r) => this.drained.push(r));
  }

  get busy(): boolean {
    return this.inFlight > MAX_IN_FLIGHT;
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    if (w) await w.terminate();
  }

  private ask<T>(id: number, m: ToWorker, transfer?: ArrayBuffer[]): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.waiting.set(id, { resolve: resolve as (v: never) => void, reject });
      this.post(m, transfer);
    });
  }

  /** Bytes the worker is done with: the packet loop may go on once half the budget is free. */
  private relieve(n: number): void {
    this.inFlight -= n;
    if (this.inFlight <= MAX_IN_FLIGHT / 2) this.wake();
  }

  /**
   * Messages go out in batches, once the packet loop yields: a postMessage costs about 20 µs,
   * which for 10,000 small files would be more than the work it hands over.
   */
  private post(m: ToWorker, transfer?: ArrayBuffer[]): void {
    this.start();
    this.outbox.push(m);
    if (transfer) for (const t of transfer) this.outTransfer.push(t);
    // A long run of packets between yields must not keep the worker waiting.
    if (this.outbox.length >= FLUSH_AT || this.outTransfer.length > 0) this.flush();
    else if (!this.flushing) {
      this.flushing = true;
      queueMicrotask(this.flush);
    }
  }

  private readonly flush = (): void => {
    this.flushing = false;
    const w = this.worker;
    if (!w || this.outbox.length === 0) return;
    const batch = this.outbox;
    const transfer = this.outTransfer;
    this.outbox = [];
    this.outTransfer = [];
    // Only work in progress keeps the process alive for the worker.
    if (this.waiting.size > 0 || this.inFlight > 0) w.ref();
    w.postMessage(batch, transfer);
  };

  private start(): Worker {
    if (this.worker) return this.worker;
    const early = HashWriter.early;
    HashWriter.early = null;
    const w = early && !early.exited ? early.worker : spawn();
    // First in the first batch: the worker may have been started before the options were known.
    this.outbox.push({ t: 'options', directIo: this.options.directIo });
    w.on('message', (batch: FromWorker[]) => {
      for (const m of batch) this.receive(m);
      if (this.waiting.size === 0 && this.inFlight === 0) w.unref();
    });
    w.on('error', (e) => {
      this.failure ??= e;
      for (const [, p] of this.waiting) p.reject(e);
      this.waiting.clear();
      this.wake();
    });
    this.worker = w;
    return w;
  }

  private receive(m: FromWorker): void {
    switch (m.t) {
      case 'ack':
        if (this.spare.length < MAX_SPARE) this.spare.push(m.buf);
        this.relieve(m.bytes);
        break;
      case 'end':
        if (m.direct) this.directFiles++;
        // With its code and path: a full disk is an output fault to the run, not an internal error.
        this.settle(m.id, m.error ? fsError(m.error, m.code, m.path) : null, m.digests);
        break;
      case 'hashed':
        this.settle(m.id, null, m.sha256);
        break;
      case 'sniffed':
        this.settle(m.id, null, m.type);
        break;
      case 'placed':
        if (m.buf?.byteLength === WRITE_BUFFER && this.spare.length < MAX_SPARE) this.spare.push(m.buf);
        this.relieve(m.cost);
        this.settle(m.id, m.error ? fsError(m.error, m.code, m.path) : null, undefined);
        break;
      case 'failure': {
        this.failure ??= fsError(m.message, m.code ?? null, m.path);
        this.wake();
        break;
      }
    }
  }

  private settle(id: number, error: Error | null, value: unknown): void {
    const p = this.waiting.get(id);
    if (!p) return;
    this.waiting.delete(id);
    if (error) p.reject(error);
    else p.resolve(value as never);
  }

  private wake(): void {
    const d = this.drained;
    this.drained = [];
    for (const r of d) r();
  }
}

function spawn(): Worker {
  return new Worker(new URL('./hash-writer-worker.js', import.meta.url));
}

/** A copy of the bytes of `b` in an ArrayBuffer of their own, to go in a message. */
function copyOut(b: Buffer): ArrayBuffer {
  return b.buffer.slice(b.byteOffset, b.byteOffset + b.length) as ArrayBuffer;
}

/** An error from the worker's filesystem call, with its code and path as Node gives them. */
function fsError(message: string, code: string | null, path?: string): NodeJS.ErrnoException {
  const e = new Error(message) as NodeJS.ErrnoException;
  if (code) e.code = code;
  if (path) e.path = path;
  return e;
}
