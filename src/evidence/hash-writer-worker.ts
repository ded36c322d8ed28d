/**
 * The other core's share of the evidence work: hashes and writes the bytes of large bodies,
 * finds the type of each body from its first bytes, puts finished files in place (folders made,
 * small files written, large ones renamed), and hashes whole capture files. Messages come from
 * HashWriter (hash-writer.ts), in order.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, ftruncateSync, mkdirSync, openSync, readSync, renameSync, rmSync, write, writeFileSync, writeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { Digests } from './digests.js';
import type { ToWorker, FromWorker } from './hash-writer.js';
import { preloadSniffer, sniffType } from './file-types.js';

const port = parentPort!;
// The worker is started ahead of its first body (HashWriter.prestart): file-type loads meanwhile.
preloadSniffer();

// Replies go back in batches too, once the batch that asked for them is done.
let replies: FromWorker[] = [];
let replyTransfer: ArrayBuffer[] = [];
let replying = false;
function post(m: FromWorker, transfer?: ArrayBuffer): void {
  replies.push(m);
  if (transfer) replyTransfer.push(transfer);
  if (!replying) {
    replying = true;
    setImmediate(sendReplies);
  }
}
function sendReplies(): void {
  replying = false;
  const batch = replies;
  const transfer = replyTransfer;
  replies = [];
  replyTransfer = [];
  port.postMessage(batch, transfer);
}

interface Open {
  /** The body's id, which its end is answered with. */
  id: number;
  fd: number;
  path: string;
  digests: Digests;
  error: string | null;
  code: string | null;
  /** Where the next bytes go: every write names its position, so direct writes may overlap in time. */
  pos: number;
  /** `fd` was opened with O_DIRECT (see below); the file is cut to its size at the end. */
  direct: boolean;
  /** Bytes from here on go the plain way (a write direct I/O cannot take came). */
  plainOnly: boolean;
  /** A plain descriptor of the same file, for what a direct write could not take. */
  plainFd: number;
  /** Direct writes not yet done. */
  pending: number;
  /** The end came while direct writes were pending: it is answered when they are done. */
  ending: boolean;
}
const files = new Map<number, Open>();

/**
 * Large bodies are written with O_DIRECT where the filesystem takes it. On this project's
 * reference machine (a VM, ext4 on virtio) buffered writes cost the writing thread ~3.5 s per GB,
 * nearly all of it the kernel filling fresh page-cache pages; direct writes of the same bytes
 * take ~0.8 s of the device's time and almost none of ours, and they leave the page cache to
 * the capture being read. Direct I/O wants block-aligned memory, positions and lengths: bytes
 * are copied into slots of one aligned slab (Node cannot allocate aligned memory, so the slab's
 * alignment is found by trying), the last write of a file is rounded up to whole blocks and the
 * file cut back to its size. Writes go to libuv's threads, so hashing goes on meanwhile. A
 * filesystem that refuses O_DIRECT, or any direct write that fails, falls back to plain writes.
 */
const DIRECT_SLOT = 256 * 1024;
const DIRECT_SLOTS = 8;
/** Direct I/O lengths and positions are whole blocks; 4 KiB covers every common block size. */
const DIRECT_BLOCK = 4096;
/** Set by the first message, the writer's options: the worker may be started before they are known. */
let directOk = true;
let freeSlots: Buffer[] | null = null;

/** The aligned slots, found with a first direct descriptor; null if no offset works. */
function slots(fd: number): Buffer[] | null {
  if (freeSlots) return freeSlots;
  const slab = Buffer.allocUnsafeSlow(DIRECT_SLOTS * DIRECT_SLOT + DIRECT_BLOCK);
  slab.fill(0, 0, 2 * DIRECT_BLOCK);
  // Node's large buffers are 16-byte aligned; a multi-page probe finds the offset the device wants.
  for (let off = 0; off < DIRECT_BLOCK; off += 16) {
    try {
      writeSync(fd, slab, off, 2 * DIRECT_BLOCK, 0);
    } catch {
      continue;
    }
    freeSlots = [];
    for (let i = 0; i < DIRECT_SLOTS; i++) freeSlots.push(slab.subarray(off + i * DIRECT_SLOT, off + (i + 1) * DIRECT_SLOT));
    return freeSlots;
  }
  return null;
}

/** Opens a body's file, direct when that works; the probe's bytes are overwritten or cut away. */
function openBody(f: Open): void {
  if (directOk) {
    let fd = -1;
    try {
      fd = openSync(f.path, constants.O_WRONLY | constants.O_CREAT | constants.O_TRUNC | constants.O_DIRECT);
    } catch {
      // EINVAL: this filesystem has no direct I/O. Anything else, the plain open reports.
    }
    if (fd >= 0 && slots(fd)) {
      f.fd = fd;
      f.direct = true;
      return;
    }
    if (fd >= 0) closeSync(fd);
    directOk = false;
  }
  f.fd = openSync(f.path, 'w');
}

/** Messages that wait for a free slot, or for a file's direct writes to finish; in order. */
const backlog: ToWorker[] = [];

port.on('message', (batch: ToWorker[]) => {
  for (const m of batch) {
    if (backlog.length > 0 || !handle(m)) backlog.push(m);
  }
});

function drain(): void {
  let n = 0;
  while (n < backlog.length && handle(backlog[n])) n++;
  if (n > 0) backlog.splice(0, n);
}

/** Does what `m` asks; false if it must wait (nothing was done). */
function handle(m: ToWorker): boolean {
  switch (m.t) {
    case 'options':
      directOk = m.directIo !== false;
      return true;
    case 'write': {
      let f = files.get(m.id);
      if (!f) {
        f = { id: m.id, fd: -1, path: m.path!, digests: new Digests(m.extra ?? []), error: null, code: null, pos: 0, direct: false, plainFd: -1, pending: 0, plainOnly: false, ending: false };
        files.set(m.id, f);
        try {
          openBody(f);
        } catch (e) {
          fail(f, e);
        }
      }
      if (f.error === null && f.direct && !f.plainOnly) {
        // A write after a rounded-up one would overlap its padding: it waits, then goes plain.
        if (f.pos % DIRECT_BLOCK !== 0 || m.len > DIRECT_SLOT) {
          if (f.pending > 0) return false;
          f.plainOnly = true;
        } else if (freeSlots!.length === 0) {
          return false;
        }
      }
      const buf = Buffer.from(m.buf, 0, m.len);
      f.digests.update(buf);
      if (f.error === null) {
        if (f.direct && !f.plainOnly) writeDirect(f, buf);
        else {
          try {
            writePlain(f, buf, 0, f.pos);
          } catch (e) {
            fail(f, e);
          }
        }
      }
      f.pos += m.len;
      // The buffer goes back, to carry the next bytes.
      post({ t: 'ack', bytes: m.len, buf: m.buf }, m.buf);
      break;
    }
    case 'end': {
      const f = files.get(m.id);
      files.delete(m.id);
      if (!f) {
        post({ t: 'end', id: m.id, digests: { sha256: '' }, error: 'nothing was written', code: null, path: '', direct: false });
        break;
      }
      f.ending = true;
      if (f.pending === 0) endFile(f);
      break;
    }
    case 'hash-file':
      void hashFile(m.id, m.path);
      break;
    case 'sniff':
      void sniffType(Buffer.from(m.head)).then((type) => post({ t: 'sniffed', id: m.id, type }));
      break;
    case 'place': {
      let error: string | null = null;
      let code: string | null = null;
      try {
        if (m.dir) mkdirSync(m.dir, { recursive: true });
        if (m.buf) writeFileSync(m.path, new Uint8Array(m.buf, 0, m.len));
        else renameSync(m.from!, m.path);
      } catch (e) {
        const err = e as NodeJS.ErrnoException;
        error = `${m.path}: ${err.message}`;
        // A file cut short by a full disk must not lie in the output as if it were whole.
        if (m.buf) rmSync(m.path, { force: true });
        post({ t: 'failure', message: error, code: err.code, path: m.path });
        code = err.code ?? null;
      }
      // A large buffer goes back: here it would wait for this thread's rare garbage collections.
      post({ t: 'placed', id: m.id, cost: m.cost, error, code, path: m.path, buf: m.back ? m.buf : null }, m.back ? m.buf! : undefined);
      break;
    }
  }
  return true;
}

/** Copies `buf` into a slot and writes it with O_DIRECT on libuv's threads. */
function writeDirect(f: Open, buf: Buffer): void {
  const slot = freeSlots!.pop()!;
  buf.copy(slot, 0);
  // `buf` goes back to the packet thread before the write is done.
  const len = buf.length;
  let n = len;
  const pos = f.pos;
  if (n % DIRECT_BLOCK !== 0) {
    const whole = n + DIRECT_BLOCK - (n % DIRECT_BLOCK);
    // Cut away at the end; zeros, so that no stale memory reaches the disk even for a moment.
    slot.fill(0, n, whole);
    n = whole;
  }
  f.pending++;
  write(f.fd, slot, 0, n, pos, (err, written) => {
    if (f.error === null && (err || written < len)) {
      // Whatever direct I/O did not take goes the plain way; if that fails too, the file fails.
      try {
        const done = err ? 0 : written;
        writePlain(f, slot.subarray(0, len), done, pos + done);
      } catch (e) {
        fail(f, e);
      }
    }
    freeSlots!.push(slot);
    f.pending--;
    if (f.ending && f.pending === 0) endFile(f);
    drain();
  });
}

/** Writes `buf` from `from` at `pos` through a plain descriptor of the file. */
function writePlain(f: Open, buf: Buffer, from: number, pos: number): void {
  if (f.direct && f.plainFd < 0) f.plainFd = openSync(f.path, 'r+');
  const fd = f.direct ? f.plainFd : f.fd;
  for (let off = from; off < buf.length;) off += writeSync(fd, buf, off, buf.length - off, pos + off - from);
}

function endFile(f: Open): void {
  try {
    // A direct file may end in padding (and its first probe bytes): cut to the bytes written.
    if (f.error === null && f.direct) ftruncateSync(f.fd, f.pos);
  } catch (e) {
    fail(f, e);
  }
  if (f.plainFd >= 0) closeSync(f.plainFd);
  if (f.fd >= 0) closeSync(f.fd);
  post({ t: 'end', id: f.id, digests: f.digests.digest(), error: f.error, code: f.code, path: f.path, direct: f.direct });
}

function fail(f: Open, e: unknown): void {
  const err = e as NodeJS.ErrnoException;
  f.error = err.message;
  f.code = err.code ?? null;
  post({ t: 'failure', message: err.message, code: err.code, path: f.path });
}

/** Hashes a file in steps, letting body writes through between them. */
async function hashFile(id: number, path: string): Promise<void> {
  let fd = -1;
  let sha256: string | null = null;
  try {
    fd = openSync(path, 'r');
    const hash = createHash('sha256');
    const buf = Buffer.allocUnsafe(4 << 20);
    for (let n = readSync(fd, buf); n > 0; n = readSync(fd, buf)) {
      hash.update(buf.subarray(0, n));
      await new Promise((r) => setImmediate(r));
    }
    sha256 = hash.digest('hex');
  } catch {
    sha256 = null;
  } finally {
    if (fd >= 0) closeSync(fd);
  }
  post({ t: 'hashed', id, sha256 });
}
