/**
 * The other core's share of the evidence work: hashes and writes the bytes of large bodies,
 * finds the type of each body from its first bytes, puts finished files in place (folders made,
 * small files written, large ones renamed), and hashes whole capture files. Messages come from
 * HashWriter (hash-writer.ts), in order.
 */
import { createHash } from 'node:crypto';
import { closeSync, mkdirSync, openSync, readSync, renameSync, rmSync, writeFileSync, writeSync } from 'node:fs';
import { parentPort } from 'node:worker_threads';
import { Digests } from './digests.js';
import type { ToWorker, FromWorker } from './hash-writer.js';
import { sniffType } from './file-types.js';

const port = parentPort!;

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
  fd: number;
  path: string;
  digests: Digests;
  error: string | null;
  code: string | null;
}
const files = new Map<number, Open>();

port.on('message', (batch: ToWorker[]) => {
  for (const m of batch) handle(m);
});

function handle(m: ToWorker): void {
  switch (m.t) {
    case 'write': {
      let f = files.get(m.id);
      if (!f) {
        f = { fd: -1, path: m.path!, digests: new Digests(m.extra ?? []), error: null, code: null };
        files.set(m.id, f);
        try {
          f.fd = openSync(m.path!, 'w');
        } catch (e) {
          fail(f, e);
        }
      }
      const buf = Buffer.from(m.buf, 0, m.len);
      f.digests.update(buf);
      if (f.error === null) {
        try {
          for (let off = 0; off < buf.length;) off += writeSync(f.fd, buf, off, buf.length - off);
        } catch (e) {
          fail(f, e);
        }
      }
      // The buffer goes back, to carry the next bytes.
      post({ t: 'ack', bytes: m.len, buf: m.buf }, m.buf);
      break;
    }
    case 'end': {
      const f = files.get(m.id);
      files.delete(m.id);
      if (!f) {
        post({ t: 'end', id: m.id, digests: { sha256: '' }, error: 'nothing was written', code: null, path: '' });
        break;
      }
      if (f.fd >= 0) closeSync(f.fd);
      post({ t: 'end', id: m.id, digests: f.digests.digest(), error: f.error, code: f.code, path: f.path });
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
