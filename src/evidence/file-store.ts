import { createHash } from 'node:crypto';
import { closeSync, createReadStream, createWriteStream, ftruncateSync, mkdirSync, openSync, readSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Readable, Transform, Writable, type TransformCallback } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { decoderFor, planCodings } from '../http/content-coding.js';
import { extensionFor, NameReserver, withExtension } from './names.js';
import { SNIFF_BYTES, typeMismatch, type SniffedType } from './file-types.js';
import { splitMultipart, type ContentRange, type PartHead, type PartSink } from './multipart.js';
import { RangeStitcher, type StitchedResource } from './ranges.js';
import { givenName, tagName } from './names.js';
import { HashWriter, type Spill } from './hash-writer.js';
import { Digests, type DigestSet, type ExtraHash } from './digests.js';

export type { ExtraHash } from './digests.js';

/** Where a body came from and what its headers claim. */
export interface BodyMeta {
  transactionId: number;
  direction: 'request' | 'response';
  /** Folder and file name parts, already safe. */
  dirs: string[];
  baseName: string;
  contentType: string | undefined;
  contentEncoding: string | undefined;
  /** The name the body had on the network: Content-Disposition filename, multipart filename, or URL. */
  originalName: string | null;
  /** The body's length on the wire when its head said (Content-Length): sizes its first buffer. */
  sizeHint?: number;
  /** 0 for a whole body; n for the n-th part split out of a multipart body. */
  partIndex?: number;
  /** A multipart body, split into its parts once stored. */
  multipart?: { kind: string; boundary: string };
  /**
   * A piece of a resource sent in ranges (206): `name` is the resource's base name, `piece` null
   * for multipart/byteranges, whose parts say.
   */
  range?: { key: string; name: string; piece: ContentRange | null };
}

/** What a stored file is: a message body, a part split out of one, or ranges stitched together. */
export type FileOrigin = 'body' | 'part' | 'stitched';

/** A recovered body as it stands on disk. */
export interface StoredFile {
  id: number;
  transactionId: number;
  direction: 'request' | 'response';
  partIndex: number;
  origin: FileOrigin;
  /** Relative to the output folder, with "/" separators. */
  path: string;
  size: number;
  sha256: string;
  md5: string | null;
  sha1: string | null;
  /** The body as it was on the wire, de-chunked but still content-coded. */
  wireSize: number;
  wireSha256: string;
  /** The decoded body's size and sha256, when a content coding was undone (even if the file keeps the wire bytes). */
  decodedSize: number | null;
  decodedSha256: string | null;
  contentType: string | null;
  contentEncoding: string | null;
  /** The content codings undone in the file's bytes ("gzip", "gzip, br"); null when it holds the wire bytes. */
  codingRemoved: string | null;
  /** The type the content's first bytes show, and whether the declared type contradicts it. */
  sniffedType: string | null;
  typeMismatch: boolean;
  decodeError: string | null;
  complete: boolean;
  missingBytes: number;
  holes: Array<[number, number]>;
  originalName: string | null;
  /** With --dedup: the file whose identical bytes this row points to. */
  dedupOf: number | null;
}

export interface FileStoreOptions {
  /** Decoded output stops here, as a guard against decompression bombs. */
  maxDecodedBytes: number;
  maxDecodeRatio: number;
  /** Keep content-coded bodies as sent; they are still decoded to measure and hash them. */
  keepEncoded: boolean;
  hashes: ExtraHash[];
  /** `tree` mirrors host and URL path under files/; `flat` puts every file in files/ itself. */
  layout: 'tree' | 'flat';
  /** Identical bodies are stored once; every row still names the file. */
  dedup: boolean;
}

export const DEFAULT_FILE_STORE_OPTIONS: FileStoreOptions = {
  maxDecodedBytes: 4 * 1024 * 1024 * 1024,
  maxDecodeRatio: 1000,
  keepEncoded: false,
  hashes: [],
  layout: 'tree',
  dedup: false,
};

const WRITE_BUFFER = 256 * 1024;
const FIRST_WRITE_BUFFER = 16 * 1024;
const FILES_DIR = 'files';
const DECODE_CONCURRENCY = 2;
/** Bodies waiting to be decoded before the packet loop waits. */
const MAX_DECODES = 64;
/**
 * Bodies waiting for their type or their name, or being put in place, before the packet loop
 * waits: enough that the worker always has work while the loop reads on.
 */
const MAX_BACKLOG = 256;
/** Bytes of small bodies held in memory while in line, before the packet loop waits. */
const MAX_HELD = 4 * 1024 * 1024;

/**
 * A body's bytes, whole, waiting for its name: in memory (`data`) when small, so the file is
 * written once under its final name; else in a temporary file (`tmp`), renamed into place.
 */
interface Finished {
  meta: BodyMeta;
  origin?: FileOrigin;
  tmp: string | null;
  data: Buffer | null;
  size: number;
  /** Hashes of the file's bytes; extra hashes left out are computed from the file. */
  sha256: string;
  md5?: string | null;
  sha1?: string | null;
  /** What the file's start shows of its type; null when the file holds bytes still coded. */
  sniffHead: Buffer | null;
  /** Appended to the name of a file that still holds coded bytes (".gz"). */
  suffix: string;
  wireSize: number;
  wireSha256: string;
  decodedSize: number | null;
  decodedSha256: string | null;
  codingRemoved: string | null;
  decodeError: string | null;
  complete: boolean;
  missingBytes: number;
  holes: Array<[number, number]>;
}

/** A body in line for its name; names are given in the order bodies ended, so every run gives the same. */
interface Slot {
  file: Finished | null;
  sniffed: SniffedType | null;
  done: (f: StoredFile) => void;
}

/**
 * Writes recovered bodies under `<out>/files/`. A body is kept in memory up to WRITE_BUFFER;
 * past that its bytes go, as they arrive, to the HashWriter's worker, which hashes them and
 * writes them to a temporary file in `<out>/.tmp/`. A file gets its final name, from its real
 * type, only when complete, so a name in the log always points at a whole file. The worker
 * also finds that type, makes the folder and writes (or renames) the file; its row is written
 * once the file is there.
 */
export class FileStore {
  private readonly names: NameReserver;
  private readonly tmpDir: string;
  private tmpSeq = 0;
  private nextId = 1;
  private queue: Array<() => Promise<void>> = [];
  private running = 0;
  private idle: Array<() => void> = [];
  private readonly slots: Slot[] = [];
  /** With --dedup: the first file stored for each sha256. */
  private readonly stored = new Map<string, { id: number; path: string }>();
  private failed: Error | null = null;
  private readonly ranges: RangeStitcher;
  /** A failure writing a file (a full disk): the run stops with it. */
  get failure(): Error | null {
    return this.failed ?? this.hasher.failure;
  }
  /** Where new slots go while a body is being split: right after it, so names stay in order. */
  private insertAt: number | null = null;
  /** Receives files made from other files (multipart parts, stitched ranges). */
  derived: (f: StoredFile) => void = () => {};
  /** Receives what was odd about a derived file (a cut multipart body). */
  note: (transactionId: number, kind: string, detail: string) => void = () => {};
  files = 0;
  bytes = 0;
  /** Files handed to the worker to be put in place, not yet there. */
  private placing = 0;
  /** Bytes of bodies in memory, in line for their name. */
  private held = 0;
  /** Folders made or asked of the worker, so a file's folder is made once, not once per file. */
  private dirsMade = new Set<string>();

  constructor(private readonly outDir: string, private readonly opts: FileStoreOptions = DEFAULT_FILE_STORE_OPTIONS, private readonly hasher = new HashWriter()) {
    this.tmpDir = join(outDir, '.tmp');
    this.names = new NameReserver(outDir);
    mkdirSync(this.tmpDir, { recursive: true });
    this.ranges = new RangeStitcher(() => this.newTmp('ranges'));
  }

  open(meta: BodyMeta, done: (f: StoredFile) => void, origin: FileOrigin = 'body'): BodyWriter {
    return new BodyWriter(this, meta, join(this.tmpDir, `${++this.tmpSeq}.wire`), done, origin);
  }

  /** Bodies decoding, waiting for their name, or being put in place: the packet loop waits when this grows. */
  get backlog(): number {
    return this.queue.length + this.running + this.slots.length + this.placing;
  }

  /** Resolves when the backlog is down to half its bounds; rejects when writing a file failed. */
  async waitBacklog(): Promise<void> {
    await this.until(() => this.failure !== null || (this.queue.length <= MAX_DECODES / 2 && this.backlog <= MAX_BACKLOG / 2 && this.held <= MAX_HELD / 2));
    await this.hasher.wait();
    if (this.failure) throw this.failure;
  }

  /** Whether the packet loop should wait: many bodies in line, or many bytes not yet written. */
  get congested(): boolean {
    return this.queue.length > MAX_DECODES || this.backlog > MAX_BACKLOG || this.held > MAX_HELD || this.hasher.busy;
  }

  /** Resolves when every body is in place; rejects when writing a file failed. */
  async drain(): Promise<void> {
    await this.until(() => this.backlog === 0 || this.failure !== null);
    await this.hasher.wait();
    if (this.failure) throw this.failure;
  }

  async close(): Promise<void> {
    // Files in the worker's hands are finished, written or removed, before it stops: a worker
    // ended mid-write (after a failure elsewhere) left a file cut short in files/.
    await this.until(() => this.placing === 0);
    await this.hasher.close();
    rmSync(this.tmpDir, { recursive: true, force: true });
  }

  /** Resolves once `done()` holds, looked at again each time a body moves on. */
  private async until(done: () => boolean): Promise<void> {
    while (!done()) await new Promise<void>((r) => this.idle.push(r));
  }

  /** @internal A buffer to fill for a Spill. */
  spillBuffer(size: number): Buffer {
    return this.hasher.take(size);
  }

  /** @internal A body too large to keep in memory: its bytes go to the worker. */
  spill(tmp: string, extra: ExtraHash[]): Spill {
    return this.hasher.spill(tmp, extra);
  }

  /** @internal Holds a body's place in line for its name. */
  slot(done: (f: StoredFile) => void): Slot {
    const s: Slot = { file: null, sniffed: null, done };
    if (this.insertAt === null) this.slots.push(s);
    else this.slots.splice(this.insertAt++, 0, s);
    return s;
  }

  /** @internal The body's bytes are final: find its type, then name the files that are next in line. */
  fill(slot: Slot, file: Finished): void {
    const extra = this.opts.hashes.filter((h) => file[h] === undefined);
    const hashes = extra.length === 0 ? null : file.data ? hashBuffer(file.data, extra) : hashFile(file.tmp!, extra);
    this.held += file.data?.length ?? 0;
    Promise.all([file.sniffHead ? this.hasher.sniff(file.sniffHead) : null, hashes])
      .then(([sniffed, hashes]) => {
        slot.sniffed = sniffed;
        // Set on the file itself: a spread copy would cost it its hidden class (see BodyWriter.result).
        if (hashes) Object.assign(file, hashes);
        slot.file = file;
        this.placeReady();
      })
      .catch((e: unknown) => this.fail(e));
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

  private placeReady(): void {
    try {
      while (this.slots.length > 0 && this.slots[0].file) {
        const s = this.slots.shift()!;
        this.place(s.file!, s.sniffed, s.done);
      }
    } catch (e) {
      this.fail(e);
    }
    this.wake();
  }

  private place(f: Finished, sniffed: SniffedType | null, done: (f: StoredFile) => void): void {
    this.held -= f.data?.length ?? 0;
    const meta = f.meta;
    const declared = meta.contentType ?? null;
    let path: string;
    let dedupOf: number | null = null;
    const prev = this.opts.dedup ? this.stored.get(f.sha256) : undefined;
    if (prev) {
      if (f.tmp) rmSync(f.tmp, { force: true });
      path = prev.path;
      dedupOf = prev.id;
    } else {
      // The extension is the real type's where the bytes show one, else the declared type's.
      const nameType = f.sniffHead === null ? undefined : sniffed && sniffed.mime !== 'text/plain' ? sniffed.mime : meta.contentType;
      const name = directionName(withExtension(meta.baseName, f.suffix && !nameType ? undefined : nameType), nameType, meta.direction) + f.suffix;
      path = this.names.reserve(this.opts.layout === 'flat' ? [FILES_DIR] : [FILES_DIR, ...meta.dirs], name);
      this.bytes += f.size;
    }
    const id = this.nextId++;
    if (this.opts.dedup && !prev) this.stored.set(f.sha256, { id, path });
    const piece = meta.range?.piece && f.codingRemoved === null && !f.suffix ? meta.range.piece : null;
    const multipart = meta.multipart && !f.suffix;
    const stored: StoredFile = {
      id, transactionId: meta.transactionId, direction: meta.direction, partIndex: meta.partIndex ?? 0, origin: f.origin ?? 'body', path, size: f.size,
      sha256: f.sha256, md5: f.md5 ?? null, sha1: f.sha1 ?? null, wireSize: f.wireSize, wireSha256: f.wireSha256,
      decodedSize: f.decodedSize, decodedSha256: f.decodedSha256, contentType: declared, contentEncoding: meta.contentEncoding ?? null,
      codingRemoved: f.codingRemoved, sniffedType: sniffed?.mime ?? null, typeMismatch: typeMismatch(declared, sniffed),
      decodeError: f.decodeError, complete: f.complete, missingBytes: f.missingBytes, holes: f.holes,
      originalName: meta.originalName, dedupOf,
    };
    if (prev) {
      this.files++;
      done(stored);
    } else if (piece || multipart) {
      // Read back at once (pieces of a range, parts of a multipart body): written here.
      const full = join(this.outDir, path);
      mkdirSync(dirname(full), { recursive: true });
      try {
        if (f.data) writeFileSync(full, f.data);
        else renameSync(f.tmp!, full);
      } catch (e) {
        // A file cut short by a full disk must not lie in the output as if it were whole.
        if (f.data) rmSync(full, { force: true });
        throw e;
      }
      this.names.settle(path);
      this.files++;
      if (piece) this.addPiece(meta, piece, path, 0, f.size, f.holes);
      if (multipart) this.split(meta, path);
      done(stored);
    } else {
      // The worker makes the folder and writes or renames the file: the packet loop never
      // waits on the disk for a file's metadata. Its row is written once it is there.
      const full = join(this.outDir, path);
      const dir = dirname(full);
      const mk = this.dirsMade.has(dir) ? null : dir;
      if (mk) {
        if (this.dirsMade.size >= 100_000) this.dirsMade = new Set();
        this.dirsMade.add(dir);
      }
      this.placing++;
      this.hasher.place(mk, full, f.data, f.data ? null : f.tmp).then(() => {
        this.placing--;
        this.names.settle(path);
        this.files++;
        done(stored);
        this.wake();
      }, (e: unknown) => {
        this.placing--;
        this.fail(e);
      });
    }
  }

  /** A 206 piece is stored: its captured bytes go to their place in the resource. */
  private addPiece(meta: BodyMeta, piece: ContentRange, path: string, from: number, size: number, holes: Array<[number, number]>): void {
    const key = meta.range!.key;
    const rangePiece = { key, start: piece.start, total: piece.total, transactionId: meta.transactionId };
    const tag = { ...meta, baseName: meta.range!.name, partIndex: 0, range: undefined, multipart: undefined };
    let at = 0;
    for (const [off, len] of [...holes, [size, 0] as [number, number]]) {
      if (off > at) this.ranges.add(rangePiece, tag, join(this.outDir, path), from + at, Math.min(off, piece.end - piece.start + 1) - at);
      at = off + len;
    }
  }

  /** Splits a stored multipart body: uploaded files (form-data parts with a name) and byteranges parts become files of their own. */
  private split(meta: BodyMeta, path: string): void {
    const { kind, boundary } = meta.multipart!;
    this.insertAt = 0;
    try {
      const r = splitMultipart(join(this.outDir, path), boundary, (head) => this.partSink(meta, kind, head));
      if (r.problem) this.note(meta.transactionId, 'multipart-damaged', `${meta.direction} body (multipart/${kind}): ${r.problem}; ${r.parts} part(s) read`);
    } finally {
      this.insertAt = null;
    }
  }

  private partSink(meta: BodyMeta, kind: string, head: PartHead): PartSink | null {
    if (kind === 'byteranges' ? !head.range : head.filename === null) return null;
    const partMeta: BodyMeta = {
      transactionId: meta.transactionId, direction: meta.direction, dirs: meta.dirs,
      baseName: givenName(head.filename) ?? tagName(meta.range?.name ?? meta.baseName, `bytes-${head.range!.start}-${head.range!.end}`),
      contentType: head.contentType, contentEncoding: undefined, originalName: head.filename ?? meta.originalName,
      partIndex: head.index, range: head.range && meta.range ? { ...meta.range, piece: head.range } : undefined,
    };
    const w = this.open(partMeta, this.derived, 'part');
    return { write: (c) => w.write(c, false), end: (complete) => w.finish(complete) };
  }

  /** The end of input: every resource seen in ranges becomes one file, whole or with its gaps recorded. */
  stitch(): void {
    for (const r of this.ranges.finish()) this.fill(this.slot(this.derived), stitched(r));
  }

  /** @internal */
  fail(e: unknown): void {
    this.failed ??= e instanceof Error ? e : new Error(String(e));
    this.wake();
  }

  private wake(): void {
    const waiters = this.idle;
    this.idle = [];
    for (const w of waiters) w();
  }

  private pump(): void {
    while (this.running < DECODE_CONCURRENCY && this.queue.length > 0) {
      const job = this.queue.shift()!;
      this.running++;
      job().catch((e: unknown) => this.fail(e)).finally(() => {
        this.running--;
        this.pump();
        this.wake();
      });
    }
  }
}

function hashBuffer(data: Buffer, which: ExtraHash[]): Partial<Record<ExtraHash, string>> {
  return Object.fromEntries(which.map((h) => [h, createHash(h).update(data).digest('hex')]));
}

async function hashFile(path: string, which: ExtraHash[]): Promise<Partial<Record<ExtraHash, string>>> {
  const hashes = which.map((h) => [h, createHash(h)] as const);
  for await (const chunk of createReadStream(path)) for (const [, h] of hashes) h.update(chunk as Buffer);
  return Object.fromEntries(hashes.map(([name, h]) => [name, h.digest('hex')]));
}

/** Keeps the first bytes of a stream, for sniffing its type. */
class HeadKeeper {
  private parts: Buffer[] = [];
  private len = 0;

  add(chunk: Buffer): void {
    if (this.len >= SNIFF_BYTES) return;
    const piece = Buffer.from(chunk.subarray(0, SNIFF_BYTES - this.len));
    this.parts.push(piece);
    this.len += piece.length;
  }

  get bytes(): Buffer {
    return this.parts.length === 1 ? this.parts[0] : Buffer.concat(this.parts);
  }
}

/** Receives one body. Holes arrive as zeros and are recorded as such. */
export class BodyWriter {
  /** Grows from 16 KiB as the body does: most bodies are small, and many are open at once. */
  private buf: Buffer | null = null;
  private used = 0;
  /** Set once the body outgrew memory: its bytes go to the worker from then on. */
  private spilled: Spill | null = null;
  private readonly plan: ReturnType<typeof planCodings>;
  /** Extra hashes of the wire bytes, only when they are likely to be the file. */
  private readonly wireHashes: ExtraHash[];
  private size = 0;
  private missing = 0;
  private holes: Array<[number, number]> = [];
  /**
   * The body's first bytes, for sniffing its type and telling raw deflate: they stay in `buf`
   * (a view, no copy) until the buffer goes to the worker, and are copied then.
   */
  private head: Buffer | null = null;
  private finished = false;

  constructor(private readonly store: FileStore, private readonly meta: BodyMeta, private readonly tmp: string, private readonly done: (f: StoredFile) => void, private readonly origin: FileOrigin) {
    this.plan = planCodings(meta.contentEncoding);
    this.wireHashes = this.plan.decode.length === 0 || store.limits.keepEncoded ? store.limits.hashes : [];
  }

  write(chunk: Buffer, hole: boolean): void {
    if (this.finished) return;
    if (hole) {
      const last = this.holes[this.holes.length - 1];
      if (last && last[0] + last[1] === this.size) last[1] += chunk.length;
      else this.holes.push([this.size, chunk.length]);
      this.missing += chunk.length;
    }
    this.size += chunk.length;
    for (let at = 0; at < chunk.length;) {
      if (!this.buf || this.used === this.buf.length) this.makeRoom(chunk.length - at);
      const n = Math.min(chunk.length - at, this.buf!.length - this.used);
      chunk.copy(this.buf!, this.used, at, at + n);
      this.used += n;
      at += n;
    }
  }

  /** A bigger buffer while the body fits in memory; past that, the full buffer goes to the worker. */
  private makeRoom(want: number): void {
    if (!this.buf) {
      // A body of known small size gets a buffer of just its size, from Node's pool when tiny:
      // thousands of 16 KiB buffers for 2 KiB bodies cost more in GC than the rest of their work.
      const hint = this.meta.sizeHint;
      this.buf = hint !== undefined && hint >= want && hint < WRITE_BUFFER ? Buffer.allocUnsafe(hint) : this.alloc(Math.min(WRITE_BUFFER, Math.max(FIRST_WRITE_BUFFER, want)));
      return;
    }
    if (this.buf.length < WRITE_BUFFER) {
      const bigger = this.alloc(Math.min(WRITE_BUFFER, Math.max(this.buf.length * 2, this.used + want)));
      this.buf.copy(bigger, 0, 0, this.used);
      this.buf = bigger;
      return;
    }
    if (!this.spilled) {
      this.head = Buffer.from(this.buf.subarray(0, SNIFF_BYTES));
      this.spilled = this.store.spill(this.tmp, this.wireHashes);
    }
    this.spilled.write(this.buf, this.used);
    this.buf = this.store.spillBuffer(WRITE_BUFFER);
    this.used = 0;
  }

  private alloc(size: number): Buffer {
    return size === WRITE_BUFFER ? this.store.spillBuffer(size) : HashWriter.buffer(size);
  }

  finish(complete: boolean): void {
    if (this.finished) return;
    this.finished = true;
    const slot = this.store.slot(this.done);
    if (!this.spilled) {
      const data = this.buf ? this.buf.subarray(0, this.used) : Buffer.alloc(0);
      this.buf = null;
      this.head = data.subarray(0, SNIFF_BYTES);
      this.ended(slot, Digests.of(data, this.wireHashes), data, complete);
      return;
    }
    if (this.buf) this.spilled.write(this.buf, this.used);
    // The writer may stay referenced until its row is written; its buffer need not.
    this.buf = null;
    this.spilled.end().then((wire) => this.ended(slot, wire, null, complete), (e: unknown) => this.store.fail(e));
  }

  /** The wire bytes are whole (in `data`, or in the temporary file) and hashed. */
  private ended(slot: Slot, wire: DigestSet, data: Buffer | null, complete: boolean): void {
    const plan = this.plan;
    const tmp = data ? null : this.tmp;
    if (plan.decode.length === 0 || this.missing > 0) {
      // Nothing to undo, or holes that no decompressor could cross: keep the bytes as sent.
      const why = plan.unknown ? `unknown content coding "${plan.unknown}"` : plan.decode.length ? 'not decoded: the body has missing bytes' : null;
      const coded = plan.unknown !== null || plan.decode.length > 0;
      this.store.fill(slot, this.result(wire, {
        tmp, data, size: this.size, hashes: coded ? { sha256: wire.sha256 } : wire, sniffHead: coded ? null : this.head!,
        suffix: coded ? codedSuffix(plan.unknown ?? plan.decode[0]) : '', decoded: null, codingRemoved: null,
        decodeError: why, complete: complete && this.missing === 0,
      }));
      return;
    }
    this.store.schedule(() => this.decode(slot, wire, complete, data));
  }

  /**
   * A Finished, every field set in one order. Built with object spread (`{ ...base, ... }`),
   * each one got a hidden class of its own: ~4.8 KB of garbage a body, the most of any site.
   */
  private result(wire: DigestSet, f: {
    tmp: string | null; data: Buffer | null; size: number; hashes: DigestSet; sniffHead: Buffer | null; suffix: string;
    decoded: { size: number; sha256: string } | null; codingRemoved: string | null; decodeError: string | null; complete: boolean;
  }): Finished {
    return {
      meta: this.meta, origin: this.origin, tmp: f.tmp, data: f.data, size: f.size,
      sha256: f.hashes.sha256, md5: f.hashes.md5, sha1: f.hashes.sha1, sniffHead: f.sniffHead, suffix: f.suffix,
      wireSize: this.size, wireSha256: wire.sha256, decodedSize: f.decoded?.size ?? null, decodedSha256: f.decoded?.sha256 ?? null,
      codingRemoved: f.codingRemoved, decodeError: f.decodeError, complete: f.complete, missingBytes: this.missing, holes: this.holes,
    };
  }

  private async decode(slot: Slot, wire: DigestSet, complete: boolean, data: Buffer | null): Promise<void> {
    const codings = this.plan.decode;
    const keepEncoded = this.store.limits.keepEncoded;
    const out = this.store.newTmp('dec');
    const limits = this.store.limits;
    const wireSize = this.size;
    const cap = Math.min(limits.maxDecodedBytes, Math.max(64 * 1024 * 1024, wireSize * limits.maxDecodeRatio));
    const meter = new Meter(cap, keepEncoded ? [] : limits.hashes);
    const tmp = data ? null : this.tmp;
    let error: string | null = null;
    try {
      // Each stage's first bytes decide raw vs zlib-wrapped deflate; only the outer one is known here.
      const stages = codings.map((c, i) => decoderFor(c, i === 0 ? this.head! : Buffer.alloc(0)));
      const sink = keepEncoded ? new Writable({ write: (_c, _e, cb) => cb() }) : createWriteStream(out);
      const source = data ? Readable.from([data], { objectMode: false }) : createReadStream(this.tmp);
      await pipeline([source, ...stages, meter, sink]);
    } catch (e) {
      error = (e as Error).message;
    }
    if (error === null && meter.size === 0 && wireSize > 0) error = 'decoded to nothing';
    if (error !== null && (meter.capped || meter.size === 0)) {
      // A bomb, or nothing decodable: the raw body is the evidence.
      rmSync(out, { force: true });
      if (meter.capped) {
        this.store.note(this.meta.transactionId, 'decompression-capped',
          `${this.meta.direction} body (${codings.join(', ')}): decoding stopped at the cap of ${cap} bytes, from ${wireSize} bytes on the wire; the raw body is kept`);
      }
      this.store.fill(slot, this.result(wire, {
        tmp, data, size: wireSize, hashes: { sha256: wire.sha256 }, sniffHead: null, suffix: codedSuffix(codings[0]), decoded: null,
        codingRemoved: null, decodeError: meter.capped ? `decoded size cap of ${cap} bytes reached; raw body kept` : error, complete,
      }));
      return;
    }
    const digests = meter.digest();
    const decoded = { size: meter.size, sha256: digests.sha256 };
    if (keepEncoded) {
      // The file is the wire body; the decoded form is measured, hashed and sniffed only.
      this.store.fill(slot, this.result(wire, {
        tmp, data, size: wireSize, hashes: wire, sniffHead: meter.head.bytes, suffix: codedSuffix(codings[0]), decoded,
        codingRemoved: null, decodeError: error, complete: complete && error === null,
      }));
      return;
    }
    if (tmp) rmSync(tmp, { force: true });
    this.store.fill(slot, this.result(wire, {
      tmp: out, data: null, size: meter.size, hashes: digests, sniffHead: meter.head.bytes, suffix: '', decoded,
      codingRemoved: [...codings].reverse().join(', '), decodeError: error, complete: complete && error === null,
    }));
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

/** Counts, hashes and keeps the start of decoded bytes, and stops the pipeline at the size cap. */
class Meter extends Transform {
  size = 0;
  capped = false;
  readonly head = new HeadKeeper();
  private readonly hash: Digests;
  constructor(private readonly cap: number, extra: ExtraHash[]) {
    super();
    this.hash = new Digests(extra);
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    if (this.size + chunk.length > this.cap) {
      this.capped = true;
      cb(new Error('decoded size cap reached'));
      return;
    }
    this.size += chunk.length;
    this.hash.update(chunk);
    this.head.add(chunk);
    cb(null, chunk);
  }
  digest(): DigestSet {
    return this.hash.digest();
  }
}

/** A resource's stitched ranges as a file: hashed here, its gaps recorded as holes. */
function stitched(r: StitchedResource): Finished {
  const end = r.covered.length ? r.covered[r.covered.length - 1][1] : 0;
  const size = Math.max(r.total ?? 0, end);
  const holes: Array<[number, number]> = [];
  let at = 0;
  for (const [s, e] of r.covered) {
    if (s > at) holes.push([at, s - at]);
    at = e;
  }
  if (size > at) holes.push([at, size - at]);
  const hash = createHash('sha256');
  const head = new HeadKeeper();
  const fd = openSync(r.tmp, 'r+');
  try {
    // A sparse file shorter than the resource: its end is a gap, zeros like the others.
    ftruncateSync(fd, size);
    const buf = Buffer.allocUnsafe(WRITE_BUFFER);
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) {
      hash.update(buf.subarray(0, n));
      head.add(buf.subarray(0, n));
    }
  } finally {
    closeSync(fd);
  }
  const meta = r.tag as BodyMeta;
  const missing = holes.reduce((a, [, l]) => a + l, 0);
  const sha256 = hash.digest('hex');
  return {
    meta: { ...meta, transactionId: r.transactionId }, origin: 'stitched', tmp: r.tmp, data: null, size, sha256, sniffHead: head.bytes, suffix: '',
    wireSize: size, wireSha256: sha256, decodedSize: null, decodedSha256: null, codingRemoved: null,
    decodeError: r.total === null ? 'the resource\'s total length was never sent' : null,
    complete: r.total !== null && missing === 0, missingBytes: missing, holes,
  };
}
