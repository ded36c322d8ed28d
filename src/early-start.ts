/**
 * Starts the extraction worker before the command line has loaded. Loading yargs and the
 * exporters takes the main thread ~130 ms, and the worker's own modules take it ~85 ms: with
 * the worker started first, the two loads run side by side on the two cores, and a run on a
 * small capture ends ~25% sooner.
 *
 * The worker's heap limit and standard input are fixed when it starts, so they are guessed
 * here from the raw arguments. cli.ts takes this worker only when the guess matches what
 * yargs parsed; otherwise it stops it and starts another.
 */
import { setFlagsFromString } from 'node:v8';
import { Worker } from 'node:worker_threads';
import { ahead, type AheadWorker } from './worker-ahead.js';

export const DEFAULT_MAX_HEAP_MB = 192;

/**
 * The packet loop keeps ~9 MB live and promotes a little garbage all the time; V8 then sizes
 * the old generation to just above the live set and runs ~80 full collections per GiB of
 * capture (~0.6 s). Letting the old generation grow 5x its live size before the next one cuts
 * that to ~10 for ~10 MB more memory. Read by V8 at each collection, so setting it here works.
 */
const HEAP_GROWING_PERCENT = 400;

/** Commands of their own that run no extraction. */
const SUBCOMMANDS = new Set(['query', 'ls', 'show']);

export interface ExtractionWorker extends AheadWorker {
  maxHeapMb: number;
  stdin: boolean;
  /** Given its run by cli.ts. */
  taken: boolean;
}

/** A worker that loads the extraction and waits for its run (a `start` message). */
export function startExtraction(maxHeapMb: number, stdin: boolean): ExtractionWorker {
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`);
  const worker = new Worker(new URL('./extract-worker.js', import.meta.url), {
    resourceLimits: { maxOldGenerationSizeMb: maxHeapMb },
    stdin,
  });
  // Added to the watched object itself: its `exited` is set later, by the worker's exit.
  return Object.assign(ahead(worker), { maxHeapMb, stdin, taken: false });
}

/**
 * The worker for the run the arguments seem to ask for, or null (a query command, --help,
 * --version, no arguments). It does not keep the process alive until it is used.
 */
export function startEarly(argv: string[]): ExtractionWorker | null {
  if (argv.length === 0 || SUBCOMMANDS.has(argv[0])) return null;
  let maxHeapMb = DEFAULT_MAX_HEAP_MB;
  let stdin = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--help' || a === '-h' || a === '--version') return null;
    if (a === '-') stdin = true;
    const m = /^--max-?[hH]eap(?:=(.*))?$/.exec(a);
    if (m) {
      const n = Number(m[1] ?? argv[i + 1]);
      if (Number.isFinite(n) && n > 0) maxHeapMb = n;
    }
  }
  const w = startExtraction(maxHeapMb, stdin);
  w.worker.unref();
  return w;
}
