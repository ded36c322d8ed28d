/**
 * Wires the stages: capture reader -> packet decoder -> TCP reassembler -> HTTP sessions ->
 * evidence (SQLite log + recovered files). The one module that knows them all.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, statSync } from 'node:fs';
import { MergedSource } from './capture/merge.js';
import { join, resolve } from 'node:path';
import { openCapture, type PcapReader } from './capture/open.js';
import { CaptureError, type Packet, type PacketSource } from './capture/types.js';
import { PacketDecoder } from './decode/decoder.js';
import { TcpSegment } from './decode/segment.js';
import { DEFAULT_FILE_STORE_OPTIONS, FileStore, type ExtraHash } from './evidence/file-store.js';
import { HashWriter } from './evidence/hash-writer.js';
import { SqliteLog } from './evidence/log.js';
import { EvidenceRecorder } from './evidence/recorder.js';
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
  /** Aborting stops reading; what was read is finished and written as after a full run. */
  signal?: AbortSignal;
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

class Interrupted extends Error {}

/** Files and folders a run writes into the output folder. */
const OUTPUTS = ['http.sqlite', 'http.sqlite-wal', 'http.sqlite-shm', 'http.sqlite-journal', 'files', '.tmp'];
/** What may sit in an output folder before a first run. */
const PLACEHOLDERS = new Set(['.gitkeep', 'README.md']);
const MAX_INTERNAL_ERRORS = 20;

export async function extract(opts: ExtractOptions): Promise<Summary> {
  const started = process.hrtime.bigint();
  if (opts.inputs.length === 0) throw new UsageError('no capture file given');
  // Every input is opened and recognised before anything is written.
  const skipped: string[] = [];
  const sources = await openInputs(opts.inputs, opts.signal, skipped, opts.pcapReader ?? 'fast');
  const outDir = resolve(opts.outDir);
  prepareOutDir(outDir, opts.force ?? false);

  const log = new SqliteLog(join(outDir, 'http.sqlite'));
  const hasher = new HashWriter();
  // Each capture file is hashed beside the run, by the worker, from the start.
  const captureHashes = sources.map((s) => (s.name === '<stdin>' ? null : hasher.hashFile(s.name)));
  const files = new FileStore(outDir, {
    ...DEFAULT_FILE_STORE_OPTIONS,
    keepEncoded: opts.keepEncoded ?? false,
    hashes: opts.hashes ?? [],
    layout: opts.layout ?? 'tree',
    dedup: opts.dedup ?? false,
  }, hasher);
  try {
    return await run();
  } catch (e) {
    await files.close().catch(() => {});
    throw e;
  }

  async function run(): Promise<Summary> {
    const recorder = new EvidenceRecorder(log, files);
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
    const warn = (captureId: number, offset: number, message: string, name: string): void => {
      const line = `${name}: ${message} (at byte ${offset})`;
      warnings.push(line);
      opts.onWarning?.(line);
      captureAnomalies++;
      log.anomaly({ scope: 'capture', capture_id: captureId, connection_id: null, transaction_id: null, kind: 'capture-damaged', detail: line, ts: null });
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
    const between = (): Promise<void> | undefined => {
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
        warn(captureId, e.offset, e.message, src.name);
      } else if (e) {
        throw e;
      }
      const stats = src.stats;
      for (const w of stats.warnings) warn(captureId, w.offset, w.message, src.name);
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
  mkdirSync(outDir, { recursive: true });
}
