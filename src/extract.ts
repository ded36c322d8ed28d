/**
 * Wires the stages: capture reader -> packet decoder -> TCP reassembler -> HTTP sessions ->
 * evidence (SQLite log + recovered files). The one module that knows them all.
 */
import { accessSync, constants, existsSync, mkdirSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { MergedSource } from './capture/merge.js';
import { dirname, join, resolve } from 'node:path';
import { openCapture, type PcapReader } from './capture/open.js';
import { CaptureError, type Packet, type PacketSource } from './capture/types.js';
import { PacketDecoder } from './decode/decoder.js';
import { TcpSegment } from './decode/segment.js';
import { DEFAULT_FILE_STORE_OPTIONS, FileStore, type ExtraHash } from './evidence/file-store.js';
import { HashWriter } from './evidence/hash-writer.js';
import { openLogReadOnly, SqliteLog } from './evidence/log.js';
import { EvidenceRecorder } from './evidence/recorder.js';
import { writeReviewPage } from './review/page.js';
import { HttpSessionFactory } from './http/session.js';
import { DEFAULT_TCP_OPTIONS, TcpReassembler } from './tcp/reassembler.js';
import type { OverlapPolicy } from './tcp/half-stream.js';

export interface ExtractOptions {
  inputs: string[];
  outDir: string;
  /** Replace the outputs of an earlier run in outDir. */
  force?: boolean;
  /** Called with each problem in a capture file that did not stop the run. */
  onWarning?: (message: string) => void;
  /** Called every PROGRESS_MS or so while reading, and once at the end of the input. */
  onProgress?: (p: Progress) => void;
  /** Write the review page, out/index.html (default true). */
  reviewPage?: boolean;
  /** Drop TCP segments whose checksum is wrong (off by default: offload makes good traffic look bad). */
  verifyChecksums?: boolean;
  /** Keep content-coded bodies as sent instead of decoded (both are measured and hashed). */
  keepEncoded?: boolean;
  /** Hashes recovered files carry besides sha256 (which they always do). */
  hashes?: ExtraHash[];
  /** `tree` (default) mirrors host and URL path under files/; `flat` puts every file in files/. */
  layout?: 'tree' | 'flat';
  /** Store identical bodies once; every row still names the file. */
  dedup?: boolean;
  /** Which copy of overlapping TCP bytes is kept while not yet delivered (default 'first'). */
  overlapPolicy?: OverlapPolicy;
  /** Which reader takes classic pcap: our loop (default) or the pcap-parser package. */
  pcapReader?: PcapReader;
  /** Write large bodies with O_DIRECT where the filesystem allows it (default true). */
  directIo?: boolean;
  /** Aborting stops reading; what was read is finished and written as after a full run. */
  signal?: AbortSignal;
}

/** How far a run has got: bytes of the input files read (before gunzip) out of their total. */
export interface Progress {
  inputBytes: number;
  /** Sum of the inputs' sizes; null when one is a pipe. */
  inputTotal: number | null;
  packets: number;
  transactions: number;
  files: number;
  seconds: number;
}

export interface Summary {
  captures: number;
  packets: number;
  captureBytes: number;
  tcpSegments: number;
  connections: number;
  httpConnections: number;
  transactions: number;
  files: number;
  fileBytes: number;
  anomalies: number;
  drops: Record<string, number>;
  warnings: string[];
  /** The run was stopped before the end of its input. */
  interrupted: boolean;
  seconds: number;
  database: string;
}

/** A problem with how the tool was asked to run: reported as one line. */
export class UsageError extends Error {}

/** The output folder cannot be used, or writing to it failed (a full disk): reported as one line. */
export class OutputError extends Error {
  constructor(message: string, readonly code?: string) {
    super(message);
  }
}

/** Errors of the filesystem or of SQLite that mean the output cannot take more. */
function outputFault(e: unknown): { code: string; message: string; path?: string } | null {
  const err = e as NodeJS.ErrnoException;
  if (typeof err?.code !== 'string') return null;
  if (/^E[A-Z0-9]+$/.test(err.code)) return { code: err.code, message: err.message, path: err.path };
  if (/^SQLITE_(FULL|IOERR|READONLY|CANTOPEN|CORRUPT)/.test(err.code)) return { code: err.code, message: err.message };
  return null;
}

function faultText(f: { code: string; message: string; path?: string }): string {
  if (f.code === 'ENOSPC' || f.code === 'SQLITE_FULL' || f.code === 'EDQUOT') return `disk full (${f.code})${f.path ? ` while writing ${f.path}` : ''}`;
  if (f.code === 'EROFS' || f.code === 'SQLITE_READONLY') return `read-only file system (${f.code})${f.path ? `: ${f.path}` : ''}`;
  if (f.code === 'EACCES' || f.code === 'EPERM') return `permission denied (${f.code})${f.path ? `: ${f.path}` : ''}`;
  return f.message;
}

class Interrupted extends Error {}

/** Files and folders a run writes into the output folder. */
const OUTPUTS = ['http.sqlite', 'http.sqlite-wal', 'http.sqlite-shm', 'http.sqlite-journal', 'files', '.tmp', 'index.html', 'review', '.review.tmp', '.index.html.tmp'];
/** What may sit in an output folder before a first run. */
const PLACEHOLDERS = new Set(['.gitkeep', 'README.md']);
const MAX_INTERNAL_ERRORS = 20;
const PROGRESS_MS = 200;
/** Disk space held back for the log's last commit after the disk fills up. */
const LOG_RESERVE = 4 * 1024 * 1024;

export async function extract(opts: ExtractOptions): Promise<Summary> {
  const started = process.hrtime.bigint();
  if (opts.inputs.length === 0) throw new UsageError('no capture file given');
  // Every input is opened and recognised before anything is written.
  const skipped: string[] = [];
  const sources = await openInputs(opts.inputs, opts.signal, skipped, opts.pcapReader ?? 'fast');
  const outDir = resolve(opts.outDir);
  let log: SqliteLog;
  let files: FileStore;
  const hasher = new HashWriter({ directIo: opts.directIo ?? true });
  try {
    prepareOutDir(outDir, opts.force ?? false);
    log = new SqliteLog(join(outDir, 'http.sqlite'));
    files = new FileStore(outDir, {
      ...DEFAULT_FILE_STORE_OPTIONS,
      keepEncoded: opts.keepEncoded ?? false,
      hashes: opts.hashes ?? [],
      layout: opts.layout ?? 'tree',
      dedup: opts.dedup ?? false,
    }, hasher);
  } catch (e) {
    await hasher.close();
    const f = outputFault(e);
    if (f) throw new OutputError(`cannot use output folder ${outDir}: ${faultText(f)}`, f.code);
    throw e;
  }
  const releaseReserve = reserveSpace(join(outDir, '.tmp', 'log-reserve'));
  // Each capture file is hashed beside the run, by the worker, from the start.
  const captureHashes = sources.map((s) => (s.name === '<stdin>' ? null : hasher.hashFile(s.name)));
  const recorder = new EvidenceRecorder(log, files);
  try {
    return await run();
  } catch (e) {
    // Whatever stopped the run, what was extracted before it stays: the log is committed.
    const fault = outputFault(files.failure ?? e);
    releaseReserve();
    await files.close().catch(() => {});
    if (!fault) {
      try { log.abort(); } catch { /* the error below is the one to report */ }
      throw e;
    }
    const reason = faultText(fault);
    try {
      recorder.abandon(`not stored: ${reason}`);
      log.anomaly({ scope: 'capture', capture_id: null, connection_id: null, transaction_id: null, kind: 'output-failed', detail: `${reason}; the run stopped there`, ts: null });
    } catch {
      // The log may be what failed: what it committed before stays.
    }
    try { log.abort(); } catch { /* committed batches stay */ }
    throw new OutputError(`${outDir}: ${reason}; the run stopped there. ${logged(outDir)}`, fault.code);
  }

  async function run(): Promise<Summary> {
    const factory = new HttpSessionFactory(recorder);
    const tcp = new TcpReassembler(factory, { ...DEFAULT_TCP_OPTIONS, overlapPolicy: opts.overlapPolicy ?? 'first' });
    const decoder = new PacketDecoder({ verifyChecksums: opts.verifyChecksums ?? false });
    const seg = new TcpSegment();
    const warnings: string[] = [];
    let packets = 0;
    let captureBytes = 0;
    let tcpSegments = 0;
    let internalErrors = 0;
    /** Capture-level anomalies written to the log (damage, interruption). */
    let captureAnomalies = 0;
    const warn = (captureId: number, offset: number, message: string, name: string, kind = 'capture-damaged'): void => {
      const line = `${name}: ${message}${offset >= 0 ? ` (at byte ${offset})` : ''}`;
      warnings.push(line);
      opts.onWarning?.(line);
      captureAnomalies++;
      log.anomaly({ scope: 'capture', capture_id: captureId, connection_id: null, transaction_id: null, kind, detail: line, ts: null });
    };

    const onPacket = (p: Packet): void => {
      try {
        if (!decoder.decode(p, seg)) return;
        tcpSegments++;
        tcp.segment(seg);
      } catch (e) {
        // A bug must not cost the rest of the capture: record it against the frame and go on.
        internalError(e, `frame ${p.frame}`, p.ts);
        decoder.drop('internal error');
      }
    };
    function internalError(e: unknown, where: string, ts: number | null): void {
      if (++internalErrors <= MAX_INTERNAL_ERRORS) {
        log.anomaly({ scope: 'packet', capture_id: null, connection_id: null, transaction_id: null, kind: 'internal-error', detail: `${where}: ${(e as Error).stack ?? e}`, ts });
      }
    }
    const inputTotal = sources.every((src) => src.position?.size != null) ? sources.reduce((a, src) => a + src.position!.size!, 0) : null;
    let lastProgress = 0;
    const progress = (): void => {
      const packetsRead = sources.reduce((a, src) => a + src.stats.packets, 0);
      opts.onProgress!({
        inputBytes: sources.reduce((a, src) => a + (src.position?.read() ?? 0), 0), inputTotal, packets: packetsRead,
        transactions: recorder.transactions, files: files.files, seconds: Number(process.hrtime.bigint() - started) / 1e9,
      });
    };
    const between = (): Promise<void> | undefined => {
      tcp.releaseInput();
      if (opts.onProgress) {
        const now = Date.now();
        if (now - lastProgress >= PROGRESS_MS) {
          lastProgress = now;
          progress();
        }
      }
      if (opts.signal?.aborted) return Promise.reject(new Interrupted());
      if (files.failure) return Promise.reject(files.failure);
      return files.congested ? files.waitBacklog() : undefined;
    };
    let interrupted = false;

    for (const line of skipped) {
      warnings.push(line);
      opts.onWarning?.(line);
    }
    const ended = (src: PacketSource, e: unknown): void => {
      const captureId = sources.indexOf(src) + 1;
      if (e instanceof Interrupted || (e && opts.signal?.aborted)) {
        interrupted = true;
        captureAnomalies++;
        log.anomaly({ scope: 'capture', capture_id: captureId, connection_id: null, transaction_id: null, kind: 'interrupted', detail: `${src.name}: run interrupted; the rest of the input was not read`, ts: null });
      } else if (e instanceof CaptureError) {
        // Damage mid-file: what was read before it stays extracted.
        warn(captureId, e.offset, e.detail, src.name);
      } else if (e) {
        throw e;
      }
      const stats = src.stats;
      for (const w of stats.warnings) warn(captureId, w.offset, w.message, src.name);
      if (stats.firstSnapCut) {
        warn(captureId, stats.firstSnapCut.offset, `${stats.snapCut} packet(s) cut short by the capture's snapshot length, the first is frame ${stats.firstSnapCut.frame}; ` +
          'the bytes they lack are counted as missing in their streams', src.name, 'snaplen-truncated');
      }
      packets += stats.packets;
      captureBytes += stats.bytes;
      captureRows.push({
        id: captureId, path: src.name, format: src.format, sha256: src.digest?.sha256 ?? null, link_types: [...stats.linkTypes].join(','),
        packets: stats.packets, bytes: stats.bytes, first_ts: stats.firstTs, last_ts: stats.lastTs,
      });
    };
    const captureRows: CaptureRow[] = [];
    if (sources.length === 1) {
      let error: unknown = null;
      try {
        await sources[0].read(onPacket, between);
      } catch (e) {
        error = e;
      }
      ended(sources[0], error);
    } else {
      await new MergedSource(sources).read(onPacket, between, ended);
    }
    if (opts.onProgress) progress();
    decoder.finish();
    try {
      tcp.finish();
    } catch (e) {
      internalError(e, 'end of input', null);
    }
    await files.drain();
    files.stitch();
    await files.drain();
    for (const [reason, n] of decoder.drops) log.drop({ capture_id: null, reason, packets: n });
    for (const row of captureRows) {
      // An interrupted run does not wait to hash the rest of a large file.
      const hash = captureHashes[row.id - 1];
      if (hash && !interrupted) row.sha256 = await hash;
      log.capture(row);
    }
    log.close();
    await files.close();
    if (opts.reviewPage ?? true) {
      try {
        writeReviewPage(outDir);
      } catch (e) {
        // The log and the files are complete: a page that cannot be made is a warning, not a failed run.
        const line = `review page not written: ${(e as Error).message}`;
        warnings.push(line);
        opts.onWarning?.(line);
      }
    }
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    return {
      captures: sources.length,
      packets,
      captureBytes,
      tcpSegments,
      connections: tcp.connections,
      httpConnections: recorder.httpConnections,
      transactions: recorder.transactions,
      files: files.files,
      fileBytes: files.bytes,
      anomalies: recorder.anomalies + captureAnomalies,
      drops: Object.fromEntries(decoder.drops),
      warnings,
      interrupted,
      seconds,
      database: join(outDir, 'http.sqlite'),
    };
  }
}

interface CaptureRow {
  id: number;
  sha256: string | null;
  [column: string]: string | number | null;
}

/** Opens each input; a folder stands for the capture files in it, in name order. */
async function openInputs(inputs: string[], signal: AbortSignal | undefined, skipped: string[], reader: PcapReader): Promise<PacketSource[]> {
  const sources: PacketSource[] = [];
  for (const input of inputs) {
    if (input !== '-' && existsSync(input) && statSync(input).isDirectory()) {
      const names = readdirSync(input).sort().map((n) => join(input, n)).filter((f) => statSync(f).isFile());
      let found = 0;
      for (const f of names) {
        try {
          sources.push(await openCapture(f, signal, reader));
          found++;
        } catch (e) {
          // In a folder, other files are expected: say which were passed over, and go on.
          if (!(e instanceof CaptureError)) throw e;
          skipped.push(`skipped: ${e.message}`);
        }
      }
      if (found === 0) throw new UsageError(`no capture files in folder ${input}`);
    } else {
      sources.push(await openCapture(input, signal, reader));
    }
  }
  return sources;
}

/**
 * Takes a few MiB of the output's disk for the log's last commit: when the disk fills up,
 * freeing them lets the log commit what was extracted. Nothing is taken if it does not fit.
 */
function reserveSpace(path: string): () => void {
  try {
    writeFileSync(path, Buffer.alloc(LOG_RESERVE));
  } catch {
    rmSync(path, { force: true });
  }
  return () => rmSync(path, { force: true });
}

/** What the log holds after a failed run, read back from it. */
function logged(outDir: string): string {
  try {
    const db = openLogReadOnly(outDir);
    try {
      const n = (sql: string): number => (db.prepare(sql).get() as { n: number }).n;
      return `The log holds ${n('SELECT count(*) AS n FROM transactions')} transaction(s) and ${n('SELECT count(*) AS n FROM files')} file(s).`;
    } finally {
      db.close();
    }
  } catch (e) {
    return `The log could not be read back (${(e as Error).message}).`;
  }
}

function prepareOutDir(outDir: string, force: boolean): void {
  if (existsSync(outDir)) {
    if (!statSync(outDir).isDirectory()) throw new UsageError(`output folder ${outDir} exists and is not a folder`);
    const present = readdirSync(outDir).filter((n) => !PLACEHOLDERS.has(n));
    if (present.length > 0) {
      const ours = present.every((n) => OUTPUTS.includes(n));
      if (!force) {
        throw new UsageError(`output folder ${outDir} is not empty${ours ? ' (it holds an earlier run)' : ''}; use --force to replace it, or -o to choose another`);
      }
      if (!ours) throw new UsageError(`output folder ${outDir} holds files this tool did not write; refusing to replace them even with --force`);
      for (const n of present) rmSync(join(outDir, n), { recursive: true, force: true });
    }
  }
  try {
    mkdirSync(outDir, { recursive: true });
  } catch (e) {
    // mkdir -p reports a read-only or forbidden parent as a missing one: ask the parent why.
    let parent = dirname(outDir);
    while (!existsSync(parent) && dirname(parent) !== parent) parent = dirname(parent);
    accessSync(parent, constants.W_OK);
    throw e;
  }
  // A folder that exists but cannot be written (read-only mount, no permission) is named now,
  // not as a failure to open the log.
  accessSync(outDir, constants.W_OK);
}
