import type { Worker } from 'node:worker_threads';

/** A worker started ahead of its work, so that its modules load while other things do. */
export interface AheadWorker {
  worker: Worker;
  /** It stopped (or failed to load) before it was given its work: start another. */
  exited: boolean;
}

/**
 * Watches a worker started ahead of its work (early-start.ts, HashWriter.prestart). Until its
 * user listens, a worker that fails to load must not throw in this thread: it is simply not
 * used, and `exited` says so.
 */
export function ahead(worker: Worker): AheadWorker {
  const a: AheadWorker = { worker, exited: false };
  worker.once('error', () => {});
  worker.once('exit', () => { a.exited = true; });
  return a;
}
