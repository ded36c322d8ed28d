import { createRequire } from 'node:module';
import yargs from 'yargs';
import type { Progress, Summary } from './extract.js';
import { ProgressBar } from './progress.js';
import { DEFAULT_HAR_MAX_BODY_BYTES, writeHar } from './export/har.js';
import { writeNdjson } from './export/ndjson.js';
import { dirname, resolve } from 'node:path';
import { existsSync, statSync } from 'node:fs';
import { format, formatShow, list, openRunLog, query, QueryError, show, type Format } from './query.js';
import type { StartMessage, WorkerMessage, WorkerRequest } from './extract-worker.js';
import { DEFAULT_MAX_HEAP_MB, startExtraction, type ExtractionWorker } from './early-start.js';

const require = createRequire(import.meta.url);
const pkg = require('../package.json') as { version: string };

const STDIN = '\u0000stdin';
/** The smallest heap limit taken: below it, V8 and the run's fixed buffers alone do not fit. */
const MIN_HEAP_MB = 16;

/**
 * Runs the command line; returns the exit code. Never lets a stack trace reach the user.
 * `early` is the extraction worker early-start.ts started for these arguments, if any.
 */
export async function main(argv: string[], early: ExtractionWorker | null = null): Promise<number> {
  try {
    return await command(argv, early);
  } finally {
    // Not taken (a usage error, --help, other limits than guessed): it must not run on.
    if (early && !early.taken) void early.worker.terminate();
  }
}

async function command(argv: string[], early: ExtractionWorker | null): Promise<number> {
  if (argv[0] === 'query' || argv[0] === 'ls' || argv[0] === 'show') return ask(argv);
  let usageFailed = false;
  // yargs drops a bare "-"; carry standard input through it under another name.
  const parser = yargs(argv.map((a) => (a === '-' ? STDIN : a)))
    .scriptName('extract-http')
    .usage('$0 <capture..> [-o out/]\n\nRecovers every HTTP/1.x request and response in packet captures (pcap, pcapng, gzip-compressed) into an SQLite log and recovered files.')
    .command('$0 <capture..>', false)
    .positional('capture', { type: 'string', array: true, describe: 'capture files (pcap, pcapng, gzip-compressed), folders of them, or - for standard input; several are merged in timestamp order' })
    .option('output', { alias: 'o', type: 'string', default: 'out', describe: 'output folder: http.sqlite and files/' })
    .option('force', { type: 'boolean', default: false, describe: 'replace the outputs of an earlier run in the output folder' })
    .option('max-heap', { type: 'number', default: DEFAULT_MAX_HEAP_MB, describe: 'heap limit in MB; a run that needs more stops with a clear message' })
    .option('keep-encoded', { type: 'boolean', default: false, describe: 'keep content-coded bodies (gzip, br, ...) as sent instead of decoded; both forms are measured and hashed in the log' })
    .option('hashes', { type: 'string', default: 'sha256', describe: 'hashes of every recovered file, comma-separated: sha256 (always), md5, sha1' })
    .option('layout', { choices: ['tree', 'flat'] as const, default: 'tree' as const, describe: 'files/ mirrors host and URL path (tree), or holds every file directly (flat)' })
    .option('dedup', { type: 'boolean', default: false, describe: 'store identical bodies once; every transaction still points to the file' })
    .option('overlap', { choices: ['first', 'last'] as const, default: 'first' as const, describe: 'which copy of overlapping TCP bytes to keep (bytes already delivered are never replaced); disagreeing copies are always recorded' })
    .option('pcap-reader', { choices: ['fast', 'pcap-parser'] as const, default: 'fast' as const, describe: 'reader of classic pcap: our record loop, or the pcap-parser package (slower; the reference)' })
    .option('review-page', { type: 'boolean', default: true, describe: 'write out/index.html, a page to review the transactions and files in a browser (--no-review-page skips it)' })
    .option('har', { type: 'string', describe: 'also write the transactions as HAR 1.2 to this file (opens in browser developer tools)' })
    .option('har-max-body', { type: 'number', default: DEFAULT_HAR_MAX_BODY_BYTES, describe: 'bodies larger than this many bytes are not embedded in the HAR (the cut is noted in it); 0 embeds none' })
    .option('ndjson', { type: 'string', describe: 'also write one JSON object per transaction to this file, with field names close to Zeek\'s http.log' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'print nothing but errors (warnings are still recorded in the log)' })
    .option('json', { type: 'boolean', default: false, describe: 'print the final summary as one JSON object' })
    .option('direct-io', { type: 'boolean', default: true, describe: 'write large bodies with O_DIRECT where the filesystem allows it, sparing the page cache (--no-direct-io writes through it)' })
    .option('verify-checksums', { type: 'boolean', default: false, describe: 'drop TCP segments with a bad checksum (off by default: checksum offload makes valid traffic captured on the sender look bad)' })
    .example('$0 capture.pcapng -o out/', 'extract into out/')
    .example('$0 capture.pcap --json -q', 'the summary as JSON, nothing else')
    .example('$0 /var/spool/sensor/ -o case42/', 'rotated files of a folder, merged in timestamp order')
    .example('tcpdump -i eth0 -w - | $0 - -o live/', 'read standard input')
    .example('$0 ls out/ --host example.com --status 200 --type image/', 'list transactions (also: $0 show out/ 12, $0 query out/ "SQL")')
    .example("sqlite3 out/http.sqlite 'select method, host, uri, status_code, response_file from http'", 'list the transactions')
    .version(pkg.version)
    .help()
    .strict()
    .wrap(Math.min(100, process.stdout.columns || 100))
    .fail((msg, err) => {
      usageFailed = true;
      const text = /not enough non-option arguments/i.test(msg ?? '') ? 'no capture file given' : err?.message ?? msg;
      process.stderr.write(`extract-http: ${text}\nTry: extract-http --help\n`);
    })
    .exitProcess(false);

  let args;
  try {
    args = await parser.parseAsync();
  } catch {
    return 2;
  }
  if (usageFailed) return 2;
  if (args.help || args.version) return 0;
  const inputs = ((args.capture as string[] | undefined) ?? []).map((a) => (a === STDIN ? '-' : a));
  const request: WorkerRequest = {
    inputs,
    outDir: args.output,
    force: args.force,
    verifyChecksums: args.verifyChecksums,
    overlapPolicy: args.overlap,
    keepEncoded: args.keepEncoded,
    hashes: [],
    layout: args.layout,
    dedup: args.dedup,
    pcapReader: args.pcapReader,
    reviewPage: args.reviewPage,
    directIo: args.directIo,
  };
  if (typeof args.maxHeap !== 'number' || !Number.isFinite(args.maxHeap) || args.maxHeap < MIN_HEAP_MB) {
    // NaN would run with no limit at all, and a tiny one fails as if the capture needed more.
    process.stderr.write(`extract-http: --max-heap takes a number of MB, at least ${MIN_HEAP_MB}\nTry: extract-http --help\n`);
    return 2;
  }
  for (const h of args.hashes.split(',').map((s) => s.trim().toLowerCase()).filter(Boolean)) {
    if (h === 'md5' || h === 'sha1') request.hashes!.push(h);
    else if (h !== 'sha256') {
      process.stderr.write(`extract-http: unknown hash "${h}" (choose from sha256, md5, sha1)\nTry: extract-http --help\n`);
      return 2;
    }
  }
  for (const [opt, file] of [['--har', args.har], ['--ndjson', args.ndjson]] as const) {
    const folder = file === undefined ? null : dirname(resolve(file));
    if (folder !== null && !(existsSync(folder) && statSync(folder).isDirectory())) {
      process.stderr.write(`extract-http: ${opt} ${file}: no folder ${folder} to write it in\n`);
      return 2;
    }
  }
  // The bar is for a person at a terminal: never in a pipe, a log file or --quiet.
  const bar = process.stderr.isTTY && !args.quiet ? new ProgressBar() : null;
  request.progress = bar !== null;
  const say = (text: string): void => {
    if (args.quiet) return;
    bar?.clear();
    process.stderr.write(`extract-http: ${text}\n`);
  };
  const outcome = await runInWorker(request, args.maxHeap, early, { say, progress: (p) => bar?.update(p) });
  bar?.clear();
  if (outcome.type === 'done') {
    const exports = exportRun(outcome.summary, args);
    if (exports === null) return 1;
    if (args.json) process.stdout.write(`${JSON.stringify({ ...outcome.summary, ...exports })}\n`);
    else if (!args.quiet) process.stdout.write(formatSummary(outcome.summary) + formatExports(exports));
    return outcome.summary.interrupted ? 130 : 0;
  }
  process.stderr.write(`extract-http: ${describe(outcome)}\n`);
  if (process.env.EXTRACT_HTTP_DEBUG && outcome.stack) process.stderr.write(`${outcome.stack}\n`);
  return outcome.kind === 'capture' || outcome.kind === 'usage' || outcome.kind === 'output' ? 1 : 3;
}

type Outcome = Extract<WorkerMessage, { type: 'done' | 'fail' }>;

interface Exports {
  har?: { file: string; entries: number; bodiesCut: number; maxBodyBytes: number };
  ndjson?: { file: string; records: number };
}

/** --har and --ndjson, from the finished log; null (after one line on stderr) when one failed. */
function exportRun(s: Summary, args: { har?: string; harMaxBody: number; ndjson?: string }): Exports | null {
  const out = dirname(s.database);
  const done: Exports = {};
  try {
    if (args.har) done.har = { file: resolve(args.har), ...writeHar(out, args.har, { maxBodyBytes: args.harMaxBody }), maxBodyBytes: args.harMaxBody };
    if (args.ndjson) done.ndjson = { file: resolve(args.ndjson), ...writeNdjson(out, args.ndjson) };
  } catch (e) {
    process.stderr.write(`extract-http: export failed: ${(e as Error).message} (the log and files in ${out} are complete)\n`);
    return null;
  }
  return done;
}

function formatExports(e: Exports): string {
  const lines: string[] = [];
  if (e.har) lines.push(`har           ${e.har.file} (${e.har.entries} entries${e.har.bodiesCut ? `, ${e.har.bodiesCut} bodies over ${e.har.maxBodyBytes} bytes not embedded` : ''})`);
  if (e.ndjson) lines.push(`ndjson        ${e.ndjson.file} (${e.ndjson.records} records)`);
  return lines.length ? `${lines.join('\n')}\n` : '';
}

/**
 * Runs the extraction in a worker thread with a heap limit, relaying warnings as they come.
 * The first SIGINT/SIGTERM asks it to finish what was read; a second one quits at once.
 */
function runInWorker(request: WorkerRequest, maxHeapMb: number, early: ExtractionWorker | null, ui: { say(text: string): void; progress(p: Progress): void }): Promise<Outcome> {
  const stdin = request.inputs.includes('-');
  const usable = early !== null && !early.exited && early.maxHeapMb === maxHeapMb && early.stdin === stdin;
  if (usable) early.taken = true;
  const worker = usable ? early.worker : startExtraction(maxHeapMb, stdin).worker;
  worker.ref();
  const start: StartMessage = { type: 'start', request };
  worker.postMessage(start);
  if (stdin && worker.stdin) process.stdin.pipe(worker.stdin);
  let stopping = false;
  const onSignal = (sig: NodeJS.Signals): void => {
    if (stopping) process.exit(130);
    stopping = true;
    ui.say(`${sig}: finishing what was read (again to quit at once)`);
    // The worker closes its input itself, so a pipe that never ends cannot keep it waiting.
    worker.postMessage({ type: 'abort' });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  return new Promise<Outcome>((resolve) => {
    let outcome: Outcome | null = null;
    worker.on('message', (m: WorkerMessage) => {
      if (m.type === 'warning') ui.say(`warning: ${m.text}`);
      else if (m.type === 'progress') ui.progress(m.progress);
      else outcome = m;
    });
    worker.on('error', (e: NodeJS.ErrnoException) => {
      outcome ??= e.code === 'ERR_WORKER_OUT_OF_MEMORY'
        ? { type: 'fail', kind: 'internal', code: e.code, message: `out of memory: the heap limit of ${maxHeapMb} MB was reached; raise it with --max-heap. The log holds what was committed before.` }
        : { type: 'fail', kind: 'internal', message: e.message, stack: e.stack };
    });
    worker.on('exit', () => {
      process.off('SIGINT', onSignal);
      process.off('SIGTERM', onSignal);
      if (stdin) {
        // Our end of the pipe may stay open (a sensor still writing): let go of it.
        process.stdin.unpipe();
        process.stdin.destroy();
      }
      resolve(outcome ?? { type: 'fail', kind: 'internal', message: 'the extraction stopped without a result' });
    });
  });
}

function describe(o: Extract<Outcome, { type: 'fail' }>): string {
  if (o.kind !== 'internal' || o.code === 'ERR_WORKER_OUT_OF_MEMORY') return o.message;
  if (o.code === 'ENOSPC') return `disk full while writing ${o.path ?? 'output'}`;
  if (o.code === 'EACCES' || o.code === 'EPERM') return `permission denied: ${o.path ?? o.message}`;
  return `internal error: ${o.message} (run with EXTRACT_HTTP_DEBUG=1 for details)`;
}

export function formatSummary(s: Summary): string {
  const mb = s.captureBytes / 1e6;
  const rate = s.seconds > 0 ? mb / s.seconds : 0;
  const dropped = Object.entries(s.drops).filter(([r]) => !r.startsWith('skip:'));
  const skipped = Object.entries(s.drops).filter(([r]) => r.startsWith('skip:')).reduce((a, [, n]) => a + n, 0);
  const lines = [
    `captures      ${s.captures}`,
    `packets       ${s.packets} (${s.tcpSegments} TCP${skipped ? `, ${skipped} other protocols` : ''}${dropped.length ? `, ${dropped.reduce((a, [, n]) => a + n, 0)} undecodable` : ''})`,
    `connections   ${s.connections} (${s.httpConnections} HTTP)`,
    `transactions  ${s.transactions}`,
    `files         ${s.files} (${formatBytes(s.fileBytes)})`,
    `anomalies     ${s.anomalies}`,
    `bytes read    ${formatBytes(s.captureBytes)}`,
    `time          ${s.seconds.toFixed(2)} s (${rate.toFixed(1)} MB/s)${s.interrupted ? ', interrupted: the rest of the input was not read' : ''}`,
    `log           ${s.database}`,
  ];
  for (const [reason, n] of dropped) lines.push(`  undecodable: ${reason}: ${n}`);
  return lines.join('\n') + '\n';
}

function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  if (n < 1024 * 1024) return `${(n / 1024).toFixed(1)} KiB`;
  if (n < 1024 * 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  return `${(n / 1024 / 1024 / 1024).toFixed(2)} GiB`;
}

/** `query`, `ls` and `show`: questions to the log of a finished run. */
async function ask(argv: string[]): Promise<number> {
  let failed = false;
  const fmt = (a: { csv?: boolean; json?: boolean }): Format => (a.json ? 'json' : a.csv ? 'csv' : 'table');
  const outArg = { type: 'string', demandOption: true, describe: 'output folder of a run (or its http.sqlite)' } as const;
  const formats = { csv: { type: 'boolean', default: false, describe: 'print CSV' }, json: { type: 'boolean', default: false, describe: 'print a JSON array' } } as const;
  let code = 0;
  /** Opens the run's log, prints what `answer` makes of it, closes it; a bad question is one line. */
  const run = (out: string, answer: (db: ReturnType<typeof openRunLog>) => string): void => {
    try {
      const db = openRunLog(out);
      try {
        process.stdout.write(answer(db));
      } finally {
        db.close();
      }
    } catch (e) {
      if (!(e instanceof QueryError)) throw e;
      process.stderr.write(`extract-http: ${e.message}\n`);
      code = 1;
    }
  };
  const parser = yargs(argv)
    .scriptName('extract-http')
    .command('query <out> <sql>', 'run a read-only SQL statement on the log of a run', (y) => y
      .positional('out', outArg)
      .positional('sql', { type: 'string', demandOption: true, describe: 'the statement, e.g. "select host, count(*) from http group by host"' })
      .options(formats), (a) => run(a.out, (db) => {
      const r = query(db, a.sql);
      return format(r.columns, r.rows, fmt(a));
    }))
    .command('ls <out>', 'list transactions, oldest first', (y) => y
      .positional('out', outArg)
      .option('host', { type: 'string', describe: 'this host, its subdomains, any port' })
      .option('status', { type: 'string', describe: 'a status code (404) or class (4xx)' })
      .option('type', { type: 'string', describe: 'a prefix of the declared or sniffed type (image/, application/pdf)' })
      .option('method', { type: 'string', describe: 'request method' })
      .option('uri', { type: 'string', describe: 'text the request target contains' })
      .option('limit', { type: 'number', describe: 'at most this many rows' })
      .options(formats), (a) => run(a.out, (db) => {
      const r = list(db, { host: a.host, status: a.status, type: a.type, method: a.method, uri: a.uri, limit: a.limit });
      return format(r.columns, r.rows, fmt(a));
    }))
    .command('show <out> <id>', 'one transaction: its headers, files and anomalies', (y) => y
      .positional('out', outArg)
      .positional('id', { type: 'number', demandOption: true, describe: 'transaction id (transactions.id, http.transaction_id)' })
      .option('json', formats.json), (a) => run(a.out, (db) => {
      const r = show(db, a.id);
      if (!r) throw new QueryError(`no transaction ${a.id} in ${a.out}`);
      return a.json ? `${JSON.stringify(r)}\n` : formatShow(r);
    }))
    .strict()
    .help()
    .wrap(Math.min(100, process.stdout.columns || 100))
    .fail((msg, err) => {
      failed = true;
      process.stderr.write(`extract-http: ${err?.message ?? msg}\nTry: extract-http ${argv[0]} --help\n`);
    })
    .exitProcess(false);
  try {
    await parser.parseAsync();
  } catch {
    return 2;
  }
  return failed ? 2 : code;
}
