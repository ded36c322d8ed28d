/**
 * Runs one extraction in a worker thread, so that the command line can give it a heap limit:
 * reaching the limit then ends the run with a clear message instead of a V8 crash, and the
 * limit keeps the heap from growing far past what is live (a capture of a million short
 * connections stays within it). The worker is started before the command line has parsed its
 * arguments (early-start.ts), so the run comes in a message.
 */
import { parentPort } from 'node:worker_threads';
import type { ExtractOptions, Progress, Summary } from './extract.js';
import { HashWriter } from './evidence/hash-writer.js';

// The hash worker loads while this thread loads the extraction's modules (~85 ms each).
HashWriter.prestart();
const { CaptureError } = await import('./capture/types.js');
const { extract, OutputError, UsageError } = await import('./extract.js');

export type WorkerRequest = Omit<ExtractOptions, 'signal' | 'onWarning' | 'onProgress'> & { progress?: boolean };

/** The run, sent once the arguments are parsed. */
export interface StartMessage {
  type: 'start';
  request: WorkerRequest;
}

export type WorkerMessage =
  | { type: 'warning'; text: string }
  | { type: 'progress'; progress: Progress }
  | { type: 'done'; summary: Summary }
  | { type: 'fail'; kind: 'capture' | 'usage' | 'output' | 'internal'; message: string; code?: string; path?: string; stack?: string };

const port = parentPort!;
const stop = new AbortController();
const request = new Promise<WorkerRequest>((resolve) => {
  port.on('message', (m: StartMessage | { type: 'abort' }) => {
    if (m.type === 'start') resolve(m.request);
    else if (m.type === 'abort') stop.abort();
  });
});
const post = (m: WorkerMessage): void => port.postMessage(m);

try {
  const run = await request;
  const summary = await extract({
    ...run,
    signal: stop.signal,
    onWarning: (text) => post({ type: 'warning', text }),
    onProgress: run.progress ? (progress) => post({ type: 'progress', progress }) : undefined,
  });
  post({ type: 'done', summary });
} catch (e) {
  const err = e as NodeJS.ErrnoException;
  const kind = e instanceof CaptureError ? 'capture' : e instanceof UsageError ? 'usage' : e instanceof OutputError ? 'output' : 'internal';
  post({ type: 'fail', kind, message: err?.message ?? String(e), code: err?.code, path: err?.path, stack: err?.stack });
}
// Leave now: a standard input that was cut off can keep a worker's event loop alive. In a
// worker, process.exit ends only the worker, after the messages above are delivered.
process.exit(0);
