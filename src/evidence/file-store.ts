import { createHash, type Hash } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { decoderFor, planCodings } from '../http/content-coding.js';
import { extensionFor, NameReserver, withExtension } from './names.js';

/** Where a body came from and what its headers claim. */
export interface BodyMeta {
  transactionId: number;
  direction: 'request' | 'response';
  /** Folder and file name parts, already safe. */
  dirs: string[];
  baseName: string;
  contentType: string | undefined;
  contentEncoding: string | undefined;
}

/** A recovered body as it stands on disk. */
export interface StoredFile {
  id: number;
  transactionId: number;
  direction: 'request' | 'response';
  /** Relative to the output folder, with "/" separators. */
  path: string;
  size: number;
  sha256: string;
  /** The body as it was on the wire, de-chunked but still content-coded. */
  wireSize: number;
  wireSha256: string;
  /** The decoded body's size and sha256, when a content coding was undone (even if the file keeps the wire bytes). */
  decodedSize: number | null;
  decodedSha256: string | null;
  contentType: string | null;
  contentEncoding: string | null;
  decodeError: string | null;
  complete: boolean;
  missingBytes: number;
  holes: Array<[number, number]>;
}

export interface FileStoreOptions {
  /** Decoded output stops here, as a guard against decompression bombs. */
  maxDecodedBytes: number;
  maxDecodeRatio: number;
  /** Keep content-coded bodies as sent; they are still decoded to measure and hash them. */
  keepEncoded: boolean;
}

export const DEFAULT_FILE_STORE_OPTIONS: FileStoreOptions = {
  maxDecodedBytes: 4 * 1024 * 1024 * 1024,
  maxDecodeRatio: 1000,
  keepEncoded: false,
};

const WRITE_BUFFER = 256 * 1024;
const FILES_DIR = 'files';
const DECODE_CONCURRENCY = 2;

/**
 * Writes recovered bodies under `<out>/files/`. Bytes go to a temporary file in `<out>/.tmp/`
 * as they arrive, hashed on the way; the file gets its final name only when complete, so a
 * name in the log always points at a whole file.
 */
export class FileStore {
  private readonly names: NameReserver;
  private readonly tmpDir: string;
  private tmpSeq = 0;
  private nextId = 1;
  private queue: Array<() => Promise<void>> = [];
  private running = 0;
  private idle: Array<() => void> = [];
  files = 0;
  bytes = 0;

  constructor(private readonly outDir: string, private readonly opts: FileStoreOptions = DEFAULT_FILE_STORE_OPTIONS) {
    this.tmpDir = join(outDir, '.tmp');
    this.names = new NameReserver(outDir);
    mkdirSync(this.tmpDir, { recursive: true });
  }

  open(meta: BodyMeta, done: (f: StoredFile) => void): BodyWriter {
    return new BodyWriter(this, meta, join(this.tmpDir, `${++this.tmpSeq}.wire`), done);
  }

  /** Decode jobs waiting or running: the packet loop waits when this grows. */
  get backlog(): number {
    return this.queue.length + this.running;
  }

  /** Resolves when the backlog is at most `n`. */
  async waitBacklog(n: number): Promise<void> {
    while (this.backlog > n) await new Promise<void>((r) => this.idle.push(r));
  }

  async drain(): Promise<void> {
    await this.waitBacklog(0);
  }

  close(): void {
    rmSync(this.tmpDir, { recursive: true, force: true });
  }

  /** @internal */
  place(meta: BodyMeta, contentType: string | undefined, suffix = ''): string {
    const name = directionName(withExtension(meta.baseName, contentType), contentType, meta.direction) + suffix;
    const rel = this.names.reserve([FILES_DIR, ...meta.dirs], name);
    mkdirSync(join(this.outDir, rel, '..'), { recursive: true });
    return rel;
  }

  /** @internal */
  commit(f: Omit<StoredFile, 'id'>, tmp: string, done: (f: StoredFile) => void): void {
    renameSync(tmp, join(this.outDir, f.path));
    this.names.settle(f.path);
    const stored = { ...f, id: this.nextId++ };
    this.files++;
    this.bytes += f.size;
    done(stored);
  }

  /** @internal A reserved name that will stay unused. */
  release(path: string): void {
    this.names.settle(path);
  }

  /** @internal */
  schedule(job: () => Promise<void>): void {
    this.queue.push(job);
    this.pump();
  }

  /** @internal */
  newTmp(ext: string): string {
    return join(this.tmpDir, `${++this.tmpSeq}.${ext}`);
  }

  /** @internal */
  get limits(): FileStoreOptions {
    return this.opts;
  }

  private pump(): void {
    while (this.running < DECODE_CONCURRENCY && this.queue.length > 0) {
      const job = this.queue.shift()!;
      this.running++;
      job().finally(() => {
        this.running--;
        this.pump();
        const waiters = this.idle;
        this.idle = [];
        for (const w of waiters) w();
      });
    }
  }
}

/** Receives one body. Holes arrive as zeros and are recorded as such. */
export class BodyWriter {
  private fd: number;
  private buf = Buffer.allocUnsafe(WRITE_BUFFER);
  private used = 0;
  private readonly hash: Hash = createHash('sha256');
  private size = 0;
  private missing = 0;
  private holes: Array<[number, number]> = [];
  private head = Buffer.alloc(0);
  private finished = false;

  constructor(private readonly store: FileStore, private readonly meta: BodyMeta, private readonly tmp: string, private readonly done: (f: StoredFile) => void) {
    this.fd = openSync(tmp, 'w');
  }

  write(chunk: Buffer, hole: boolean): void {
    if (this.finished) return;
    if (hole) {
      const last = this.holes[this.holes.length - 1];
      if (last && last[0] + last[1] === this.size) last[1] += chunk.length;
      else this.holes.push([this.size, chunk.length]);
      this.missing += chunk.length;
    }
    if (this.head.length < 2) this.head = Buffer.concat([this.head, chunk.subarray(0, 2 - this.head.length)]);
    this.size += chunk.length;
    this.hash.update(chunk);
    if (chunk.length >= WRITE_BUFFER) {
      this.flush();
      writeAll(this.fd, chunk);
      return;
    }
    if (this.used + chunk.length > WRITE_BUFFER) this.flush();
    chunk.copy(this.buf, this.used);
    this.used += chunk.length;
  }

  finish(complete: boolean): void {
    if (this.finished) return;
    this.finished = true;
    this.flush();
    closeSync(this.fd);
    const meta = this.meta;
    const wireSha256 = this.hash.digest('hex');
    const plan = planCodings(meta.contentEncoding);
    const base = {
      transactionId: meta.transactionId,
      direction: meta.direction,
      wireSize: this.size,
      wireSha256,
      contentType: meta.contentType ?? null,
      contentEncoding: meta.contentEncoding ?? null,
      missingBytes: this.missing,
      holes: this.holes,
      decodedSize: null,
      decodedSha256: null,
    };
    if (plan.decode.length === 0 || this.missing > 0) {
      // Nothing to undo, or holes that no decompressor could cross: keep the bytes as sent.
      const why = plan.unknown ? `unknown content coding "${plan.unknown}"` : plan.decode.length ? 'not decoded: the body has missing bytes' : null;
      const coded = plan.unknown !== null || plan.decode.length > 0;
      const path = this.store.place(meta, coded ? undefined : meta.contentType, coded ? codedSuffix(plan.unknown ?? plan.decode[0]) : '');
      this.store.commit({ ...base, path, size: this.size, sha256: wireSha256, decodeError: why, complete: complete && this.missing === 0 }, this.tmp, this.done);
      return;
    }
    const keep = this.store.limits.keepEncoded;
    const path = this.store.place(meta, meta.contentType, keep ? codedSuffix(plan.decode[0]) : '');
    this.store.schedule(() => this.decode(plan.decode, path, base, complete, keep));
  }

  private async decode(codings: ReturnType<typeof planCodings>['decode'], path: string, base: Omit<StoredFile, 'id' | 'path' | 'size' | 'sha256' | 'decodeError' | 'complete'>, complete: boolean, keepEncoded: boolean): Promise<void> {
    const out = this.store.newTmp('dec');
    const limits = this.store.limits;
    const cap = Math.min(limits.maxDecodedBytes, Math.max(64 * 1024 * 1024, base.wireSize * limits.maxDecodeRatio));
    const meter = new Meter(cap);
    let error: string | null = null;
    try {
      // Each stage's first bytes decide raw vs zlib-wrapped deflate; only the outer one is known here.
      const stages = codings.map((c, i) => decoderFor(c, i === 0 ? this.head : Buffer.alloc(0)));
      const sink = keepEncoded ? new Writable({ write: (_c, _e, cb) => cb() }) : createWriteStream(out);
      await pipeline([createReadStream(this.tmp), ...stages, meter, sink]);
    } catch (e) {
      error = (e as Error).message;
    }
    if (error === null && meter.size === 0 && base.wireSize > 0) error = 'decoded to nothing';
    if (error !== null && (meter.capped || meter.size === 0)) {
      // A bomb, or nothing decodable: the raw body is the evidence.
      rmSync(out, { force: true });
      const rawPath = this.store.place(this.meta, undefined, codedSuffix(codings[0]));
      this.store.commit({ ...base, path: rawPath, size: base.wireSize, sha256: base.wireSha256, decodeError: meter.capped ? `decoded size cap of ${cap} bytes reached; raw body kept` : error, complete }, this.tmp, this.done);
      this.store.release(path);
      return;
    }
    const decoded = { decodedSize: meter.size, decodedSha256: meter.digest() };
    if (keepEncoded) {
      // The file is the wire body; the decoded form is measured and hashed only.
      this.store.commit({ ...base, ...decoded, path, size: base.wireSize, sha256: base.wireSha256, decodeError: error, complete: complete && error === null }, this.tmp, this.done);
      return;
    }
    rmSync(this.tmp, { force: true });
    this.store.commit({ ...base, ...decoded, path, size: meter.size, sha256: decoded.decodedSha256, decodeError: error, complete: complete && error === null }, out, this.done);
  }

  private flush(): void {
    if (this.used === 0) return;
    writeAll(this.fd, this.buf.subarray(0, this.used));
    this.used = 0;
  }
}

/** Marks a file that still holds content-coded bytes, so nobody opens gzip as HTML. */
function codedSuffix(coding: string): string {
  const known: Record<string, string> = { gzip: '.gz', deflate: '.deflate', br: '.br', zstd: '.zst' };
  return known[coding] ?? `.${coding.replace(/[^a-z0-9-]/gi, '_').slice(0, 20)}`;
}

/** Request bodies sit beside the response of the same URL, told apart by ".request" before the type's extension. */
function directionName(name: string, contentType: string | undefined, direction: 'request' | 'response'): string {
  if (direction === 'response') return name;
  const ext = extensionFor(contentType);
  if (ext && name.toLowerCase().endsWith(`.${ext}`)) return `${name.slice(0, -ext.length - 1)}.request.${name.slice(-ext.length)}`;
  return `${name}.request`;
}

function writeAll(fd: number, b: Buffer): void {
  let off = 0;
  while (off < b.length) off += writeSync(fd, b, off, b.length - off);
}

/** Counts and hashes decoded bytes, and stops the pipeline at the size cap. */
class Meter extends Transform {
  size = 0;
  capped = false;
  private readonly hash = createHash('sha256');
  constructor(private readonly cap: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.size + chunk.length > this.cap) {
      this.capped = true;
      cb(new Error('decoded size cap reached'));
      return;
    }
    this.size += chunk.length;
    this.hash.update(chunk);
    cb(null, chunk);
  }
  digest(): string {
    return this.hash.digest('hex');
  }
}
