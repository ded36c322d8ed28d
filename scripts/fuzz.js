#!/usr/bin/env node
// A mutation fuzzer for extract-http, seeded from the committed samples.
//
//   node scripts/fuzz.js [--seconds 600] [--seed 1] [--keep DIR] [--jobs 1] [--case N]
//
// Two kinds of cases:
//   capture  the bytes of a capture are mutated: bit flips, byte overwrites, inserted, deleted
//            and duplicated ranges, truncation, pcap record lengths and pcapng block lengths and
//            trailers, zero-length records, header fields, spliced captures, gzip wrapping (cut
//            short or not).
//   http     the TCP payload streams of the samples' conversations (or of sample-like
//            templates) are mutated as HTTP: ranges, Content-Length, chunk sizes,
//            Transfer-Encoding, Content-Encoding, header floods, garbage between messages, cuts,
//            corrupt gzip/deflate/br bodies, hostile names; then wrapped back into a capture with
//            conversation() and pcapFile() of test/craft.js, sometimes with holes.
//
// Each case runs the real CLI (bin/extract-http.js, --max-heap 96) in a child process, in a
// fresh sandbox folder of its own with the output folder inside it; the CLI runs from a private
// copy of bin/ and dist/ taken at the start, so a rebuild of dist/ during the run cannot mix two
// builds (dist/ must be current: `npx tsc -p .` first). judge() says whether the
// run broke one of the promises: no hang, exit 0 or 1, no signal, no stack trace, no chatter
// besides warnings, no out-of-memory, nothing written outside the output folder, no symlinks,
// and (on exit 0) a log that passes PRAGMA integrity_check and whose files rows name files that
// exist in the output folder with the recorded size and sha256.
//
// Deterministic: case N of seed S is always the same input (a seeded mulberry32, never
// Math.random), so `--seed S --case N` reproduces a failure. Failing inputs are saved under
// --keep DIR with a report.json that says why.
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  cpSync, existsSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, isAbsolute, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';
import Database from 'better-sqlite3';
import { conversation, ng, pcapFile, readFrames } from '../test/craft.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = join(ROOT, 'bin', 'extract-http.js');
export const SAMPLES = join(ROOT, 'samples');
const SAMPLE_FILES = ['web.pcap', 'web.pcapng', 'evidence.pcapng'];

export const CASE_TIMEOUT_MS = 30_000;
export const MAX_HEAP_MB = 96;
/** Lines on stderr that are not warnings: an error is one line; more than this is chatter. */
export const MAX_OTHER_STDERR_LINES = 3;
const INPUT_NAME = 'input.cap';
const OUT_NAME = 'out';
const TMP_NAME = 'tmp';

// ---------------------------------------------------------------------------------------------
// Seeded randomness

export function mulberry32(a) {
  return function next() {
    a |= 0;
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of one case: a mix of the run's seed and the case's index. */
function caseSeed(seed, index) {
  let h = Math.imul((seed >>> 0) ^ 0x9e3779b9, 0x85ebca6b);
  h ^= Math.imul(index + 1, 0xc2b2ae35);
  h ^= h >>> 16;
  h = Math.imul(h, 0x27d4eb2f);
  return (h ^ (h >>> 15)) >>> 0;
}

export class Rng {
  constructor(seed) { this.next = mulberry32(seed); }
  /** An integer in [0, n). */
  int(n) { return n <= 0 ? 0 : Math.floor(this.next() * n); }
  /** An integer in [a, b]. */
  range(a, b) { return a + this.int(b - a + 1); }
  chance(p) { return this.next() < p; }
  pick(arr) { return arr[this.int(arr.length)]; }
  /** Picks from [[weight, value], ...]. */
  weighted(list) {
    const total = list.reduce((a, [w]) => a + w, 0);
    let r = this.next() * total;
    for (const [w, v] of list) { if ((r -= w) < 0) return v; }
    return list[list.length - 1][1];
  }
  bytes(n) {
    const b = Buffer.alloc(n);
    for (let i = 0; i < n; i++) b[i] = this.int(256);
    return b;
  }
  /** A length biased to small values, at most `max`. */
  smallLen(max) { return Math.max(1, Math.min(max, Math.floor(2 ** (this.next() * Math.log2(Math.max(2, max)))))); }
}

// ---------------------------------------------------------------------------------------------
// The seed corpus: sample frames, sample files, the samples' TCP conversations, templates

/** The TCP segment of an Ethernet (optionally VLAN-tagged) IPv4/IPv6 frame, or null. */
export function tcpOf(frame) {
  if (frame.length < 14) return null;
  let o = 12;
  let type = frame.readUInt16BE(o);
  while ((type === 0x8100 || type === 0x88a8) && frame.length >= o + 6) { o += 4; type = frame.readUInt16BE(o); }
  o += 2;
  let src, dst, end;
  if (type === 0x0800) {
    if (frame.length < o + 20 || frame[o + 9] !== 6) return null;
    src = [...frame.subarray(o + 12, o + 16)].join('.');
    dst = [...frame.subarray(o + 16, o + 20)].join('.');
    end = Math.min(frame.length, o + frame.readUInt16BE(o + 2));
    o += (frame[o] & 0x0f) * 4;
  } else if (type === 0x86dd) {
    if (frame.length < o + 40 || frame[o + 6] !== 6) return null;
    src = frame.subarray(o + 8, o + 24).toString('hex');
    dst = frame.subarray(o + 24, o + 40).toString('hex');
    end = Math.min(frame.length, o + 40 + frame.readUInt16BE(o + 4));
    o += 40;
  } else return null;
  if (frame.length < o + 20) return null;
  return {
    src, dst, sport: frame.readUInt16BE(o), dport: frame.readUInt16BE(o + 2), seq: frame.readUInt32BE(o + 4),
    flags: frame[o + 13], payload: frame.subarray(o + (frame[o + 12] >> 4) * 4, end),
  };
}

/**
 * The conversations of a list of frames as [dir, bytes] exchanges (dir 0: client to server), in
 * the order the bytes were first sent; retransmitted bytes are taken once.
 */
export function conversationsOf(frames) {
  const conns = new Map();
  for (const f of frames) {
    const t = tcpOf(f.data);
    if (!t) continue;
    const a = `${t.src}|${t.sport}`, b = `${t.dst}|${t.dport}`;
    const key = a < b ? `${a}>${b}` : `${b}>${a}`;
    let c = conns.get(key);
    if (!c) { c = { client: null, first: a, next: new Map(), exchanges: [] }; conns.set(key, c); }
    if ((t.flags & 0x12) === 0x02) c.client ??= a;
    if ((t.flags & 0x12) === 0x12) c.client ??= b;
    if (t.flags & 0x02) { c.next.set(a, (t.seq + 1) >>> 0); continue; }
    if (t.payload.length === 0) continue;
    let payload = t.payload;
    const next = c.next.get(a);
    if (next !== undefined) {
      const rel = (t.seq - next) | 0;
      if (rel < 0) payload = payload.subarray(Math.min(payload.length, -rel));
    }
    if (payload.length === 0) continue;
    c.next.set(a, (t.seq + t.payload.length) >>> 0);
    const last = c.exchanges[c.exchanges.length - 1];
    if (last && last.from === a) last.parts.push(Buffer.from(payload));
    else c.exchanges.push({ from: a, parts: [Buffer.from(payload)] });
  }
  const out = [];
  for (const c of conns.values()) {
    if (!c.exchanges.length) continue;
    const client = c.client ?? (/\|(80|8080|443)$/.test(c.first) ? null : c.first) ?? c.exchanges[0].from;
    out.push(c.exchanges.map((e) => [e.from === client ? 0 : 1, Buffer.concat(e.parts)]));
  }
  return out;
}

let corpusPromise = null;

/** The seed corpus, loaded once. */
export function loadCorpus() {
  corpusPromise ??= (async () => {
    const samples = [];
    for (const name of SAMPLE_FILES) {
      const file = join(SAMPLES, name);
      const frames = await readFrames(file);
      samples.push({ name, bytes: readFileSync(file), frames, conversations: conversationsOf(frames) });
    }
    // web.pcap and web.pcapng hold the same traffic: each conversation once.
    const seen = new Set();
    const conversations = samples.flatMap((s) => s.conversations).filter((c) => {
      const h = createHash('sha256');
      for (const [d, b] of c) h.update(String(d)).update(b);
      const key = h.digest('hex');
      if (seen.has(key)) return false;
      seen.add(key);
      return c.reduce((a, [, b]) => a + b.length, 0) <= 256 * 1024;
    });
    return { samples, conversations };
  })();
  return corpusPromise;
}

// ---------------------------------------------------------------------------------------------
// Captures: building small ones from sample frames, walking their structure

/** A capture of a window of a sample's frames, as classic pcap or pcapng in either byte order. */
function captureFromFrames(rng, frames) {
  const le = rng.chance(0.7);
  if (rng.chance(0.5)) return { format: 'pcap', bytes: pcapFile(frames, { le, nano: rng.chance(0.3) }) };
  const blocks = [ng.shb(le)];
  const nano = rng.chance(0.3);
  blocks.push(nano ? ng.idb(1, le, { tsresol: 9 }) : ng.idb(1, le));
  if (rng.chance(0.2)) blocks.push(ng.idb(rng.pick([1, 101, 113, 276]), le));
  for (const f of frames) {
    const r = rng.next();
    if (r < 0.85) blocks.push(ng.epb(0, f.ts, f.data, le, nano ? 1e9 : 1e6));
    else if (r < 0.93) blocks.push(ng.spb(f.data, le));
    else blocks.push(ng.obsoletePb(0, f.ts, f.data, le));
  }
  return { format: 'pcapng', bytes: Buffer.concat(blocks) };
}

function seedCapture(rng, corpus) {
  const sample = rng.pick(corpus.samples);
  if (rng.chance(0.12) && sample.bytes.length <= 100_000) {
    return { origin: sample.name, format: sample.name.endsWith('.pcapng') ? 'pcapng' : 'pcap', bytes: Buffer.from(sample.bytes) };
  }
  const n = sample.frames.length;
  const count = rng.range(1, Math.min(n, rng.chance(0.2) ? 150 : 40));
  const start = rng.int(n - count + 1);
  const c = captureFromFrames(rng, sample.frames.slice(start, start + count));
  return { origin: `${sample.name}[${start}+${count}]`, ...c };
}

/** The records of a classic pcap: [{ off, incl }] (off: the record header), and its byte order. */
export function pcapRecords(buf) {
  if (buf.length < 24) return null;
  const m = buf.readUInt32LE(0);
  let le;
  if (m === 0xa1b2c3d4 || m === 0xa1b23c4d) le = true;
  else if (buf.readUInt32BE(0) === 0xa1b2c3d4 || buf.readUInt32BE(0) === 0xa1b23c4d) le = false;
  else return null;
  const records = [];
  for (let o = 24; o + 16 <= buf.length && records.length < 100_000;) {
    const incl = le ? buf.readUInt32LE(o + 8) : buf.readUInt32BE(o + 8);
    records.push({ off: o, incl });
    if (incl > buf.length) break;
    o += 16 + incl;
  }
  return { le, records };
}

/** The blocks of a pcapng: [{ off, type, len, le }], each section in its own byte order. */
export function pcapngBlocks(buf) {
  const blocks = [];
  let le = true;
  for (let o = 0; o + 12 <= buf.length && blocks.length < 100_000;) {
    if (buf.readUInt32LE(o) === 0x0a0d0d0a && o + 12 <= buf.length) {
      const bom = buf.readUInt32LE(o + 8);
      if (bom === 0x1a2b3c4d) le = true;
      else if (bom === 0x4d3c2b1a) le = false;
    }
    const type = le ? buf.readUInt32LE(o) : buf.readUInt32BE(o);
    const len = le ? buf.readUInt32LE(o + 4) : buf.readUInt32BE(o + 4);
    blocks.push({ off: o, type, len, le });
    if (len < 12 || len % 4 !== 0 || o + len > buf.length) break;
    o += len;
  }
  return blocks.length && blocks[0].type === 0x0a0d0d0a ? blocks : null;
}

function w32(buf, off, v, le) {
  if (off < 0 || off + 4 > buf.length) return;
  if (le) buf.writeUInt32LE(v >>> 0, off); else buf.writeUInt32BE(v >>> 0, off);
}
function w16(buf, off, v, le) {
  if (off < 0 || off + 2 > buf.length) return;
  if (le) buf.writeUInt16LE(v & 0xffff, off); else buf.writeUInt16BE(v & 0xffff, off);
}

/** Lengths that break length fields in interesting ways, around a true value `v`. */
function evilLength(rng, v, bound = 262144) {
  return rng.pick([
    0, 1, 2, 3, 4, 7, 8, 11, 12, 13, 15, 16, v - 1, v + 1, v - 4, v + 4, v + 3, v * 2, v + 65536, bound, bound + 1,
    0x7fffffff, 0x80000000, 0xfffffff0, 0xfffffffc, 0xffffffff, 65535, 65536, rng.int(1 << 20), rng.int(2 ** 32),
  ]) >>> 0;
}

// ---------------------------------------------------------------------------------------------
// Capture-level mutators: (rng, buf, corpus) -> buf

function randomOffset(rng, buf) {
  // Headers and early records matter most: bias a third of the picks to the first 256 bytes.
  return rng.chance(0.33) ? rng.int(Math.min(buf.length, 256)) : rng.int(buf.length);
}

const INTERESTING_BYTES = [0x00, 0xff, 0x7f, 0x80, 0x01, 0xfe, 0x0a, 0x0d, 0x20];

export const CAPTURE_MUTATORS = {
  bitflip(rng, buf) {
    const b = Buffer.from(buf);
    if (!b.length) return b;
    for (let i = rng.range(1, 8); i > 0; i--) { const o = randomOffset(rng, b); b[o] ^= 1 << rng.int(8); }
    return b;
  },
  overwrite(rng, buf) {
    const b = Buffer.from(buf);
    if (!b.length) return b;
    for (let i = rng.range(1, 8); i > 0; i--) b[randomOffset(rng, b)] = rng.chance(0.5) ? rng.pick(INTERESTING_BYTES) : rng.int(256);
    return b;
  },
  insertRange(rng, buf) {
    const at = rng.int(buf.length + 1);
    const ins = rng.chance(0.5) ? rng.bytes(rng.smallLen(512)) : Buffer.alloc(rng.smallLen(512), rng.pick(INTERESTING_BYTES));
    return Buffer.concat([buf.subarray(0, at), ins, buf.subarray(at)]);
  },
  deleteRange(rng, buf) {
    if (buf.length < 2) return buf;
    const len = rng.smallLen(Math.min(2048, buf.length - 1));
    const at = rng.int(buf.length - len + 1);
    return Buffer.concat([buf.subarray(0, at), buf.subarray(at + len)]);
  },
  duplicateRange(rng, buf) {
    if (!buf.length) return buf;
    const len = rng.smallLen(Math.min(4096, buf.length));
    const from = rng.int(buf.length - len + 1);
    const at = rng.chance(0.5) ? from + len : rng.int(buf.length + 1);
    return Buffer.concat([buf.subarray(0, at), buf.subarray(from, from + len), buf.subarray(at)]);
  },
  truncate(rng, buf) {
    if (buf.length < 2) return buf.subarray(0, 0);
    const r = rng.next();
    let at;
    if (r < 0.3) at = buf.length - rng.range(1, Math.min(64, buf.length));
    else if (r < 0.45) at = rng.int(Math.min(40, buf.length));
    else {
      // At a record or block boundary, give or take a few bytes.
      const recs = pcapRecords(buf)?.records.map((x) => x.off) ?? pcapngBlocks(buf)?.map((x) => x.off) ?? [];
      at = recs.length && rng.chance(0.6) ? rng.pick(recs) + rng.range(-4, 20) : rng.int(buf.length);
    }
    return buf.subarray(0, Math.max(0, Math.min(buf.length - 1, at)));
  },
  recordLength(rng, buf) {
    const b = Buffer.from(buf);
    const p = pcapRecords(b);
    if (p && p.records.length) {
      const r = rng.pick(p.records);
      const which = rng.weighted([[3, 8], [1, 12], [1, 0], [1, 4]]); // incl_len, orig_len, ts_sec, ts_usec
      const v = which === 4 ? rng.pick([999999, 1000000, 0xffffffff, 1e9, rng.int(2 ** 32)]) : evilLength(rng, r.incl);
      w32(b, r.off + which, v, p.le);
      return b;
    }
    const blocks = pcapngBlocks(b);
    if (blocks) {
      const blk = rng.pick(blocks);
      const r = rng.next();
      if (r < 0.4) w32(b, blk.off + 4, evilLength(rng, blk.len), blk.le);
      else if (r < 0.7) w32(b, blk.off + blk.len - 4, evilLength(rng, blk.len), blk.le); // trailer
      else if (blk.type === 6) w32(b, blk.off + 20, evilLength(rng, blk.len - 32), blk.le); // EPB captured length
      else if (blk.type === 3) w32(b, blk.off + 8, evilLength(rng, blk.len - 16), blk.le); // SPB original length
      else if (blk.type === 1) w32(b, blk.off + 12, evilLength(rng, 65535), blk.le); // IDB snaplen
      else w32(b, blk.off + 4, evilLength(rng, blk.len), blk.le);
      return b;
    }
    return CAPTURE_MUTATORS.overwrite(rng, buf);
  },
  zeroLengthRecord(rng, buf) {
    const p = pcapRecords(buf);
    if (p) {
      const offs = p.records.map((r) => r.off).filter((o) => o <= buf.length);
      const at = offs.length ? rng.pick(offs) : Math.min(24, buf.length);
      const h = Buffer.alloc(16);
      w32(h, 0, 1700000000, p.le); w32(h, 4, rng.int(1e6), p.le); w32(h, 8, 0, p.le);
      w32(h, 12, rng.pick([0, 0, 60, 1514, 0xffffffff]), p.le);
      const n = rng.range(1, rng.chance(0.1) ? 2000 : 3);
      return Buffer.concat([buf.subarray(0, at), ...Array(n).fill(h), buf.subarray(at)]);
    }
    const blocks = pcapngBlocks(buf);
    if (blocks) {
      const blk = rng.pick(blocks.filter((x) => x.off + x.len <= buf.length).concat(blocks[0]));
      const at = Math.min(buf.length, blk.off + (blk.type === 0x0a0d0d0a ? blk.len : 0));
      const le = blk.le;
      const r = rng.next();
      let ins;
      if (r < 0.4) ins = ng.epb(0, 1700000000, Buffer.alloc(0), le);
      else if (r < 0.6) ins = ng.spb(Buffer.alloc(0), le);
      else if (r < 0.8) ins = ng.block(rng.pick([0, 5, 7, 0x80000001, 0x0bad, rng.int(2 ** 32)]), Buffer.alloc(0), le);
      else { ins = Buffer.alloc(12); w32(ins, 0, 6, le); w32(ins, 4, rng.pick([0, 12, 8]), le); w32(ins, 8, 12, le); }
      const n = rng.range(1, rng.chance(0.1) ? 2000 : 3);
      return Buffer.concat([buf.subarray(0, at), ...Array(n).fill(ins), buf.subarray(at)]);
    }
    return CAPTURE_MUTATORS.insertRange(rng, buf);
  },
  headerFields(rng, buf) {
    const b = Buffer.from(buf);
    const p = pcapRecords(b);
    if (p) {
      const r = rng.next();
      if (r < 0.25) w32(b, 0, rng.pick([0xa1b2c3d4, 0xa1b23c4d, 0xd4c3b2a1, 0x4d3cb2a1, 0x0a0d0d0a, 0xa1b2cd34, 0]), rng.chance(0.5));
      else if (r < 0.45) { w16(b, 4, rng.pick([0, 1, 2, 3, 0xffff]), p.le); w16(b, 6, rng.pick([0, 2, 4, 0xffff]), p.le); }
      else if (r < 0.7) w32(b, 16, rng.pick([0, 1, 14, 54, 96, 65535, 0xffffffff]), p.le);
      else w32(b, 20, rng.pick([0, 1, 101, 113, 228, 229, 276, 0xffff, 0x10000001, rng.int(300)]), p.le);
      return b;
    }
    const blocks = pcapngBlocks(b);
    if (blocks) {
      const shbs = blocks.filter((x) => x.type === 0x0a0d0d0a);
      const idbs = blocks.filter((x) => x.type === 1);
      const r = rng.next();
      if (r < 0.2 && shbs.length) { const s = rng.pick(shbs); w32(b, s.off + 8, rng.pick([0, 0x1a2b3c4e, 0x4d3c2b1a, 0xffffffff]), true); }
      else if (r < 0.4 && shbs.length) { const s = rng.pick(shbs); w16(b, s.off + 12, rng.pick([0, 2, 0xffff]), s.le); }
      else if (r < 0.55 && shbs.length) { const s = rng.pick(shbs); w32(b, s.off + 16, rng.int(2 ** 32), s.le); w32(b, s.off + 20, rng.int(2 ** 32), s.le); }
      else if (r < 0.8 && idbs.length) { const i = rng.pick(idbs); w16(b, i.off + 8, rng.pick([0, 101, 113, 276, 0xffff, rng.int(300)]), i.le); }
      else if (idbs.length) {
        // A tsresol or tsoffset option with absurd values, or an option whose length lies.
        const i = rng.pick(idbs);
        const opt = rng.pick([
          ng.option(9, Buffer.from([rng.pick([0, 9, 0x7f, 0x80, 0xff, 0x9f])]), i.le),
          ng.option(14, rng.bytes(8), i.le),
          Buffer.concat([Buffer.from(i.le ? [9, 0] : [0, 9]), Buffer.from(i.le ? [0xff, 0xff] : [0xff, 0xff])]),
        ]);
        const body = Buffer.concat([b.subarray(i.off + 8, i.off + 16), opt, Buffer.alloc(4)]);
        const idb = ng.block(1, body, i.le);
        return Buffer.concat([b.subarray(0, i.off), idb, b.subarray(i.off + i.len)]);
      }
      return b;
    }
    return CAPTURE_MUTATORS.bitflip(rng, buf);
  },
  splice(rng, buf, corpus) {
    // Another capture glued on: a second pcapng section is legal, a pcap header mid-file is not.
    const other = seedCapture(rng, corpus).bytes;
    if (rng.chance(0.5)) return Buffer.concat([buf, other]);
    const at = rng.int(buf.length + 1);
    return Buffer.concat([buf.subarray(0, at), other.subarray(rng.int(Math.min(64, other.length)))]);
  },
};

const CAPTURE_WEIGHTS = [
  [3, 'bitflip'], [3, 'overwrite'], [2, 'insertRange'], [2, 'deleteRange'], [2, 'duplicateRange'],
  [3, 'truncate'], [4, 'recordLength'], [2, 'zeroLengthRecord'], [2, 'headerFields'], [1, 'splice'],
];

/** Gzip around the capture, sometimes cut short, corrupted, stacked or followed by garbage. */
function gzipWrap(rng, buf) {
  let g = zlib.gzipSync(buf, { level: rng.pick([1, 6, 9]) });
  const r = rng.next();
  let how = 'gzip';
  if (r < 0.4) { g = g.subarray(0, rng.int(g.length)); how = 'gzip-cut'; }
  else if (r < 0.55) { g = Buffer.from(g); for (let i = rng.range(1, 4); i > 0; i--) g[10 + rng.int(Math.max(1, g.length - 10))] ^= 1 << rng.int(8); how = 'gzip-corrupt'; }
  else if (r < 0.65) { g = Buffer.concat([g, rng.bytes(rng.smallLen(64))]); how = 'gzip-trailing-garbage'; }
  else if (r < 0.72) { const cut = rng.int(buf.length + 1); g = Buffer.concat([zlib.gzipSync(buf.subarray(0, cut)), zlib.gzipSync(buf.subarray(cut))]); how = 'gzip-members'; }
  else if (r < 0.77) { g = zlib.gzipSync(g); how = 'gzip-twice'; }
  else if (r < 0.82) { g = Buffer.from(g); g.writeUInt32LE(rng.int(2 ** 32), g.length - 8); how = 'gzip-bad-crc'; }
  return { bytes: g, how };
}

function captureCase(rng, corpus) {
  const seed = seedCapture(rng, corpus);
  let bytes = seed.bytes;
  const mutators = [];
  for (let n = rng.weighted([[5, 1], [3, 2], [2, 3]]); n > 0; n--) {
    const name = rng.weighted(CAPTURE_WEIGHTS);
    bytes = CAPTURE_MUTATORS[name](rng, bytes, corpus);
    mutators.push(name);
  }
  if (rng.chance(0.2)) { const g = gzipWrap(rng, bytes); bytes = g.bytes; mutators.push(g.how); }
  return { kind: 'capture', origin: `${seed.origin} as ${seed.format}`, mutators, input: bytes };
}

// ---------------------------------------------------------------------------------------------
// HTTP streams: templates like the samples' traffic

const L = (s) => Buffer.from(s, 'latin1');

function bodyBytes(rng, max = 3000) {
  const n = rng.chance(0.1) ? 0 : rng.smallLen(max);
  const r = rng.next();
  if (r < 0.4) return L('<html><body>' + 'hello fuzz '.repeat(Math.ceil(n / 11)).slice(0, n) + '</body></html>');
  if (r < 0.55) return Buffer.concat([Buffer.from('89504e470d0a1a0a0000000d49484452', 'hex'), rng.bytes(n)]);
  if (r < 0.65) return Buffer.concat([L('%PDF-1.4\n'), rng.bytes(n)]);
  if (r < 0.72) return Buffer.concat([L('MZ'), Buffer.alloc(58), rng.bytes(n)]);
  if (r < 0.8) return Buffer.concat([Buffer.from('504b0304', 'hex'), rng.bytes(n)]);
  return rng.bytes(n);
}

function encodeBody(coding, body) {
  switch (coding) {
    case 'gzip': case 'x-gzip': return zlib.gzipSync(body);
    case 'deflate': return zlib.deflateSync(body);
    case 'raw-deflate': return zlib.deflateRawSync(body);
    case 'br': return zlib.brotliCompressSync(body, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 4 } });
    default: return body;
  }
}

function chunked(rng, body, { ext = false, trailers = false } = {}) {
  const parts = [];
  for (let o = 0; o < body.length;) {
    const n = Math.min(body.length - o, rng.smallLen(1500));
    parts.push(L(n.toString(16) + (ext && rng.chance(0.3) ? ';name=val' : '') + '\r\n'), body.subarray(o, o + n), L('\r\n'));
    o += n;
  }
  parts.push(L('0\r\n' + (trailers ? 'X-Trailer: yes\r\n' : '') + '\r\n'));
  return Buffer.concat(parts);
}

function message(start, headers, body = Buffer.alloc(0)) {
  return Buffer.concat([L(start + '\r\n' + headers.map(([k, v]) => `${k}: ${v}\r\n`).join('') + '\r\n'), body]);
}

const PATHS = ['/index.html', '/img/logo.png', '/download.php?id=7', '/files/report.pdf', '/a/b/c/', '/', '/api/v1/items.json', '/dl/setup.exe'];

/** One request/response pair as [requestBytes, responseBytes, closes]. */
function templatePair(rng, host) {
  const path = rng.pick(PATHS);
  const t = rng.int(11);
  const body = bodyBytes(rng);
  const ct = rng.pick(['text/html', 'image/png', 'application/pdf', 'application/octet-stream', 'application/json']);
  const get = message(`GET ${path} HTTP/1.1`, [['Host', host], ['User-Agent', 'fuzz/1.0'], ['Accept', '*/*']]);
  switch (t) {
    case 0: // Content-Length
      return [get, message('HTTP/1.1 200 OK', [['Content-Type', ct], ['Content-Length', body.length]], body)];
    case 1: // chunked
      return [get, message('HTTP/1.1 200 OK', [['Content-Type', ct], ['Transfer-Encoding', 'chunked']], chunked(rng, body, { ext: true, trailers: rng.chance(0.3) }))];
    case 2: { // content-coded
      const coding = rng.pick(['gzip', 'x-gzip', 'deflate', 'raw-deflate', 'br']);
      const wire = encodeBody(coding, body);
      const ce = coding === 'raw-deflate' ? 'deflate' : coding;
      if (rng.chance(0.5)) return [get, message('HTTP/1.1 200 OK', [['Content-Type', ct], ['Content-Encoding', ce], ['Content-Length', wire.length]], wire)];
      return [get, message('HTTP/1.1 200 OK', [['Content-Type', ct], ['Content-Encoding', ce], ['Transfer-Encoding', 'chunked']], chunked(rng, wire))];
    }
    case 3: { // upload, multipart
      const b = '----fuzzboundary' + rng.int(1e6);
      const mp = Buffer.concat([L(`--${b}\r\nContent-Disposition: form-data; name="f"; filename="${rng.pick(['up.bin', 'photo.jpg', 'a b.txt', 'x.tar.gz'])}"\r\nContent-Type: application/octet-stream\r\n\r\n`), body, L(`\r\n--${b}\r\nContent-Disposition: form-data; name="note"\r\n\r\nhi\r\n--${b}--\r\n`)]);
      const req = rng.chance(0.7)
        ? message(`POST /upload HTTP/1.1`, [['Host', host], ['Content-Type', `multipart/form-data; boundary=${b}`], ['Content-Length', mp.length]], mp)
        : message(`POST /upload HTTP/1.1`, [['Host', host], ['Content-Type', `multipart/form-data; boundary=${b}`], ['Transfer-Encoding', 'chunked']], chunked(rng, mp));
      return [req, message('HTTP/1.1 201 Created', [['Content-Length', 2]], L('ok'))];
    }
    case 4: { // ranges
      const total = body.length + 100;
      const a = rng.int(body.length), e = Math.min(body.length - 1, a + rng.int(500));
      const piece = body.subarray(a, e + 1);
      const req = message(`GET ${path} HTTP/1.1`, [['Host', host], ['Range', `bytes=${a}-${e}`]]);
      if (rng.chance(0.7)) return [req, message('HTTP/1.1 206 Partial Content', [['Content-Type', ct], ['ETag', '"e1"'], ['Content-Range', `bytes ${a}-${e}/${total}`], ['Content-Length', piece.length]], piece)];
      const b = 'BYTERANGES';
      const mp = Buffer.concat([L(`--${b}\r\nContent-Type: ${ct}\r\nContent-Range: bytes ${a}-${e}/${total}\r\n\r\n`), piece, L(`\r\n--${b}\r\nContent-Type: ${ct}\r\nContent-Range: bytes 0-1/${total}\r\n\r\n`), body.subarray(0, 2), L(`\r\n--${b}--\r\n`)]);
      return [req, message('HTTP/1.1 206 Partial Content', [['Content-Type', `multipart/byteranges; boundary=${b}`], ['Content-Length', mp.length]], mp)];
    }
    case 5: // HEAD
      return [message(`HEAD ${path} HTTP/1.1`, [['Host', host]]), message('HTTP/1.1 200 OK', [['Content-Type', ct], ['Content-Length', body.length]])];
    case 6: // 304 / 204
      return [get, message(rng.pick(['HTTP/1.1 304 Not Modified', 'HTTP/1.1 204 No Content']), [['ETag', '"x"']])];
    case 7: { // 100-continue
      const req = message(`PUT /put/${rng.int(100)} HTTP/1.1`, [['Host', host], ['Expect', '100-continue'], ['Content-Length', body.length]], body);
      return [req, Buffer.concat([L('HTTP/1.1 100 Continue\r\n\r\n'), message('HTTP/1.1 200 OK', [['Content-Length', 0]])])];
    }
    case 8: // HTTP/1.0, ends by close
      return [message(`GET ${path} HTTP/1.0`, [['Host', host]]), message('HTTP/1.0 200 OK', [['Content-Type', ct]], body), true];
    case 9: // Content-Disposition
      return [get, message('HTTP/1.1 200 OK', [['Content-Type', ct], ['Content-Disposition', `attachment; filename="${rng.pick(['report.pdf', 'setup.exe', 'a.txt', 'ünïcode.bin'])}"`], ['Content-Length', body.length]], body)];
    default: { // a decompression bomb, modest
      const big = Buffer.alloc(rng.pick([1, 4, 16]) << 20);
      const wire = zlib.gzipSync(big, { level: 1 });
      return [get, message('HTTP/1.1 200 OK', [['Content-Type', 'text/plain'], ['Content-Encoding', 'gzip'], ['Content-Length', wire.length]], wire)];
    }
  }
}

/** A templated conversation: some transactions, sometimes pipelined. */
function templateConversation(rng) {
  const host = rng.pick(['example.com', '10.1.0.2', 'www.test.example:8080', 'xn--bcher-kva.example']);
  const exchanges = [];
  const n = rng.range(1, 4);
  const pipelined = rng.chance(0.25);
  const pairs = [];
  for (let i = 0; i < n; i++) {
    const [req, res, closes] = templatePair(rng, host);
    pairs.push([req, res]);
    if (closes) break;
  }
  if (pipelined) {
    exchanges.push([0, Buffer.concat(pairs.map((p) => p[0]))]);
    exchanges.push([1, Buffer.concat(pairs.map((p) => p[1]))]);
  } else for (const [req, res] of pairs) exchanges.push([0, req], [1, res]);
  return exchanges;
}

// ---------------------------------------------------------------------------------------------
// HTTP-level mutators: (rng, exchanges) -> exchanges, each [dir, Buffer]

/** Message heads in a stream: [{ start, end }] with end just past the blank line (or the stream's end). */
function headsOf(buf) {
  const s = buf.toString('latin1');
  const re = /(?:^|\n)((?:[A-Z]{3,10} [^\r\n ]+ HTTP\/\d\.\d|HTTP\/\d\.\d \d{3}[^\r\n]*)\r?\n)/g;
  const out = [];
  let m;
  while ((m = re.exec(s)) && out.length < 200) {
    const start = m.index + (m[0].startsWith('\n') ? 1 : 0);
    const e = s.indexOf('\r\n\r\n', start);
    out.push({ start, end: e < 0 ? s.length : e + 4 });
    re.lastIndex = Math.max(re.lastIndex, start + 1);
  }
  return out;
}

/** Picks an exchange that has a message head: { i, buf, head } or null. */
function pickHead(rng, ex, filter = () => true) {
  const cands = [];
  ex.forEach(([, buf], i) => { for (const h of headsOf(buf)) if (filter(buf.toString('latin1', h.start, h.end), i)) cands.push({ i, buf, head: h }); });
  return cands.length ? rng.pick(cands) : null;
}

/** Rewrites the head lines of one message with fn(lines) (lines[0] is the start line). */
function editHead(ex, c, fn) {
  const text = c.buf.toString('latin1', c.head.start, c.head.end);
  const body = text.endsWith('\r\n\r\n') ? text.slice(0, -4) : text;
  const lines = fn(body.split('\r\n'));
  const out = ex.slice();
  out[c.i] = [ex[c.i][0], Buffer.concat([c.buf.subarray(0, c.head.start), L(lines.join('\r\n') + '\r\n\r\n'), c.buf.subarray(c.head.end)])];
  return out;
}

/** Sets (replace or add) a header in a list of head lines; `dup` keeps the old one too. */
function setHeader(lines, name, value, { dup = false } = {}) {
  const re = new RegExp(`^${name}\\s*:`, 'i');
  const idx = lines.findIndex((l, k) => k > 0 && re.test(l));
  const line = `${name}: ${value}`;
  if (idx < 0 || dup) return [...lines, line];
  const out = lines.slice(); out[idx] = line; return out;
}

function replaceBytes(buf, start, end, ins) {
  return Buffer.concat([buf.subarray(0, start), ins, buf.subarray(end)]);
}

function randomExchange(rng, ex) {
  const i = rng.int(ex.length);
  return { i, dir: ex[i][0], buf: ex[i][1] };
}

function withExchange(ex, i, buf) { const out = ex.slice(); out[i] = [ex[i][0], buf]; return out; }

const HTTP_GARBAGE = [
  '\r\n', '\r\n\r\n', '\n', ' ', '\0', 'HTTP/1.1 200 OK\r\n', 'GET / HTTP/1.1\r\n', 'HTTP/1.1', 'garbage\r\n\r\n',
  '0\r\n\r\n', 'Content-Length: 5\r\n', '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03', 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n',
];

const HOSTILE = [
  '../../../../../../../../tmp/escape', '..%2f..%2f..%2fescape', '%2e%2e/%2e%2e/%2e%2e/escape', '/..\\..\\..\\escape',
  'C:\\Windows\\escape', '/dev/null', 'con', 'aux.txt', 'x'.repeat(400), `${'a/'.repeat(300)}deep`, '.', '..', '.tmp/1.wire',
  '../http.sqlite', 'http.sqlite', '\0nul', 'x\x01\x1f\x7f', '%00', '////', '/%2e%2e%2f%2e%2e%2fescape', '/a/../../../escape',
  'files', '~', '~2', 'name~2.ext', 'é'.repeat(100),
];

const CL_VALUES = [
  '0', '-1', '1', '+5', ' 5', '5 ', '0x10', '1e3', '99999999999999999999', '18446744073709551616', '4294967296',
  '9007199254740993', 'abc', '', '5, 5', '5, 6', '00000000000000000000000000000010',
];

const TE_VALUES = [
  'chunked', 'Chunked', 'CHUNKED', ' chunked', 'chunked ', 'gzip, chunked', 'chunked, gzip', 'chunked, chunked',
  'identity', 'identity, chunked', 'chunked;q=1', 'xchunked', 'chun\tked', '', 'compress', 'deflate',
];

const CE_VALUES = [
  'gzip', 'x-gzip', 'deflate', 'br', 'zstd', 'compress', 'identity', 'gzip, gzip', 'gzip, br', 'br, gzip', 'deflate, gzip',
  'GZIP', ' gzip ', 'gzip;q=1', 'unknown', '', ',', 'gzip,'.repeat(50),
];

export const HTTP_MUTATORS = {
  duplicateRange(rng, ex) {
    const { i, buf } = randomExchange(rng, ex);
    if (!buf.length) return ex;
    const len = rng.smallLen(Math.min(8192, buf.length));
    const from = rng.int(buf.length - len + 1);
    const at = rng.chance(0.5) ? from + len : rng.int(buf.length + 1);
    return withExchange(ex, i, Buffer.concat([buf.subarray(0, at), buf.subarray(from, from + len), buf.subarray(at)]));
  },
  deleteRange(rng, ex) {
    const { i, buf } = randomExchange(rng, ex);
    if (buf.length < 2) return ex;
    const len = rng.smallLen(Math.min(4096, buf.length - 1));
    const at = rng.int(buf.length - len + 1);
    return withExchange(ex, i, replaceBytes(buf, at, at + len, Buffer.alloc(0)));
  },
  insertRange(rng, ex) {
    const { i, buf } = randomExchange(rng, ex);
    const at = rng.int(buf.length + 1);
    const ins = rng.chance(0.5) ? rng.bytes(rng.smallLen(256)) : L(rng.pick(HTTP_GARBAGE).repeat(rng.smallLen(8)));
    return withExchange(ex, i, replaceBytes(buf, at, at, ins));
  },
  bitflip(rng, ex) {
    const { i, buf } = randomExchange(rng, ex);
    if (!buf.length) return ex;
    const b = Buffer.from(buf);
    for (let k = rng.range(1, 6); k > 0; k--) b[rng.int(b.length)] ^= 1 << rng.int(8);
    return withExchange(ex, i, b);
  },
  contentLength(rng, ex) {
    const c = pickHead(rng, ex);
    if (!c) return HTTP_MUTATORS.insertRange(rng, ex);
    const m = /\r\ncontent-length\s*:\s*(\d+)/i.exec(c.buf.toString('latin1', c.head.start, c.head.end));
    const n = m ? Number(m[1]) : 100;
    const v = rng.chance(0.5) ? String(Math.max(0, n + rng.pick([-1, 1, -10, 10, -n, 1000, 1e6, 1e9]))) : rng.pick(CL_VALUES);
    return editHead(ex, c, (lines) => setHeader(lines, rng.pick(['Content-Length', 'content-length', 'Content-Length ']), v, { dup: rng.chance(0.25) }));
  },
  chunkSize(rng, ex) {
    const cands = [];
    ex.forEach(([, buf], i) => {
      const s = buf.toString('latin1');
      const re = /\r\n([0-9a-fA-F]{1,8})(;[^\r\n]*)?\r\n/g;
      let m;
      while ((m = re.exec(s)) && cands.length < 500) { cands.push({ i, start: m.index + 2, end: m.index + 2 + m[1].length, n: parseInt(m[1], 16) }); re.lastIndex = m.index + 2; }
    });
    if (!cands.length) return HTTP_MUTATORS.transferEncoding(rng, ex);
    const c = rng.pick(cands);
    const v = rng.pick([
      '0', 'ffffffff', 'ffffffffffffffff', '10000000000000000', '7fffffff', (c.n + 1).toString(16), Math.max(0, c.n - 1).toString(16),
      (c.n * 2 + 7).toString(16), '-1', ' 5', '5 ', '0x10', '', 'g', '0'.repeat(200) + '1', `${c.n.toString(16)};${'x'.repeat(5000)}`,
      `${c.n.toString(16)}\r\n\r\n`,
    ]);
    return withExchange(ex, c.i, replaceBytes(ex[c.i][1], c.start, c.end, L(v)));
  },
  transferEncoding(rng, ex) {
    const c = pickHead(rng, ex);
    if (!c) return HTTP_MUTATORS.insertRange(rng, ex);
    const v = rng.pick(TE_VALUES);
    return editHead(ex, c, (lines) => {
      const r = rng.next();
      if (r < 0.2) return lines.filter((l, k) => k === 0 || !/^transfer-encoding\s*:/i.test(l)); // chunked body, no TE
      if (r < 0.3) return setHeader(setHeader(lines, 'Transfer-Encoding', 'chunked'), 'Content-Length', String(rng.int(5000)), { dup: true });
      return setHeader(lines, 'Transfer-Encoding', v, { dup: rng.chance(0.3) });
    });
  },
  contentEncoding(rng, ex) {
    const c = pickHead(rng, ex);
    if (!c) return HTTP_MUTATORS.insertRange(rng, ex);
    return editHead(ex, c, (lines) => setHeader(lines, 'Content-Encoding', rng.pick(CE_VALUES), { dup: rng.chance(0.2) }));
  },
  recodeBody(rng, ex) {
    // A response with a Content-Length body, re-encoded and then (usually) corrupted.
    const c = pickHead(rng, ex, (h) => /^HTTP\//.test(h) && /\r\ncontent-length\s*:\s*\d+/i.test(h));
    const coding = rng.pick(['gzip', 'x-gzip', 'deflate', 'raw-deflate', 'br']);
    let body, base;
    if (c) {
      const n = Number(/\r\ncontent-length\s*:\s*(\d+)/i.exec(c.buf.toString('latin1', c.head.start, c.head.end))[1]);
      body = c.buf.subarray(c.head.end, c.head.end + n);
      base = c;
    } else body = bodyBytes(rng);
    let wire = encodeBody(coding, body);
    const r = rng.next();
    if (r < 0.35) { wire = Buffer.from(wire); for (let k = rng.range(1, 6); k > 0 && wire.length; k--) wire[rng.int(wire.length)] ^= 1 << rng.int(8); }
    else if (r < 0.55) wire = wire.subarray(0, rng.int(wire.length));
    else if (r < 0.65) wire = Buffer.concat([wire, rng.bytes(rng.smallLen(64))]);
    else if (r < 0.72) wire = Buffer.concat([wire, encodeBody(coding, bodyBytes(rng))]);
    else if (r < 0.8) wire = encodeBody(coding, wire); // encoded twice, declared once
    const ce = coding === 'raw-deflate' ? 'deflate' : coding;
    const useChunked = rng.chance(0.3);
    const heads = [['Content-Type', 'application/octet-stream'], ['Content-Encoding', rng.chance(0.85) ? ce : rng.pick(CE_VALUES)]];
    heads.push(useChunked ? ['Transfer-Encoding', 'chunked'] : ['Content-Length', wire.length]);
    const msg = message('HTTP/1.1 200 OK', heads, useChunked ? chunked(rng, wire) : wire);
    if (!base) return [...ex, [0, message('GET /coded HTTP/1.1', [['Host', 'example.com'], ['Accept-Encoding', 'gzip, deflate, br']])], [1, msg]];
    const n = Number(/\r\ncontent-length\s*:\s*(\d+)/i.exec(base.buf.toString('latin1', base.head.start, base.head.end))[1]);
    return withExchange(ex, base.i, replaceBytes(base.buf, base.head.start, Math.min(base.buf.length, base.head.end + n), msg));
  },
  inflateHeaders(rng, ex) {
    const c = pickHead(rng, ex);
    if (!c) return HTTP_MUTATORS.insertRange(rng, ex);
    const r = rng.next();
    return editHead(ex, c, (lines) => {
      if (r < 0.5) {
        const n = rng.pick([64, 100, 256, 1000, 3000, 10000]);
        const name = rng.pick(['X-Fuzz', 'Set-Cookie', 'Content-Type', 'Host', 'Content-Disposition', 'Range']);
        const extra = Array.from({ length: n }, (_, k) => `${rng.chance(0.5) ? `${name}-${k}` : name}: v${k}`);
        return [lines[0], ...lines.slice(1), ...extra];
      }
      if (r < 0.8) return [...lines, `X-Long: ${'a'.repeat(rng.pick([8192, 65536, 200_000]))}`];
      if (r < 0.9) return [lines[0] + ' ' + 'x'.repeat(rng.pick([8192, 65536])), ...lines.slice(1)];
      return [...lines, ...Array.from({ length: 200 }, () => ' continued obs-fold')];
    });
  },
  garbageBetween(rng, ex) {
    const cands = [];
    ex.forEach(([, buf], i) => { for (const h of headsOf(buf)) cands.push({ i, at: h.start }); cands.push({ i, at: buf.length }); });
    const c = rng.pick(cands);
    const g = rng.chance(0.5) ? L(rng.pick(HTTP_GARBAGE).repeat(rng.smallLen(16))) : rng.bytes(rng.smallLen(1024));
    return withExchange(ex, c.i, replaceBytes(ex[c.i][1], c.at, c.at, g));
  },
  cutMidMessage(rng, ex) {
    const { i, buf } = randomExchange(rng, ex);
    const cut = withExchange(ex, i, buf.subarray(0, rng.int(buf.length + 1)));
    return rng.chance(0.6) ? cut.slice(0, i + 1) : cut;
  },
  hostileNames(rng, ex) {
    const c = pickHead(rng, ex);
    if (!c) return HTTP_MUTATORS.insertRange(rng, ex);
    const name = rng.pick(HOSTILE);
    return editHead(ex, c, (lines) => {
      const r = rng.next();
      if (r < 0.35 && /^[A-Z]+ /.test(lines[0])) {
        const [m, , v] = lines[0].split(' ');
        const uri = rng.pick([`/${name}`, name, `http://evil/${name}`, `http://${name}/x`, `/${encodeURIComponent(name)}`]);
        return [`${m} ${uri} ${v ?? 'HTTP/1.1'}`, ...lines.slice(1)];
      }
      if (r < 0.6) return setHeader(lines, 'Host', rng.pick([name, `${name}:80`, '..', '.', '', 'a/b', '[::1]', '127.0.0.1:0']));
      if (r < 0.85) return setHeader(lines, 'Content-Disposition', rng.pick([`attachment; filename="${name}"`, `attachment; filename*=UTF-8''${encodeURIComponent(name)}`, `inline; filename=${name}`, `attachment; filename="a.txt"; filename="${name}"`]));
      return setHeader(lines, 'Content-Type', rng.pick(['application/x-msdownload', 'text/html; charset=../../x', 'multipart/form-data; boundary=', 'multipart/byteranges', `image/${name}`]));
    });
  },
  startLine(rng, ex) {
    const c = pickHead(rng, ex);
    if (!c) return HTTP_MUTATORS.insertRange(rng, ex);
    return editHead(ex, c, (lines) => {
      const req = /^[A-Z]+ /.test(lines[0]) && !lines[0].startsWith('HTTP/');
      if (req) {
        const parts = lines[0].split(' ');
        const r = rng.next();
        if (r < 0.4) parts[0] = rng.pick(['HEAD', 'CONNECT', 'OPTIONS', 'PRI', 'TRACE', 'PROPFIND', 'get', 'G\0T']);
        else if (r < 0.8) parts[2] = rng.pick(['HTTP/1.0', 'HTTP/1.1', 'HTTP/2.0', 'HTTP/0.9', 'HTTP/9.9', 'HTTP/1.1x', '']);
        else return [parts.slice(0, 2).join(' '), ...lines.slice(1)]; // HTTP/0.9 request line
        return [parts.join(' '), ...lines.slice(1)];
      }
      const status = rng.pick(['100 Continue', '101 Switching Protocols', '102 Processing', '103 Early Hints', '204 No Content',
        '206 Partial Content', '304 Not Modified', '999 Weird', '000 Zero', '20 Short', '2000 Long', '200', '404 Not Found']);
      const ver = rng.pick(['HTTP/1.1', 'HTTP/1.0', 'HTTP/1.1', 'HTTP/2', 'HTTP/1.9']);
      return [`${ver} ${status}`, ...lines.slice(1)];
    });
  },
  rangeHeaders(rng, ex) {
    const c = pickHead(rng, ex);
    if (!c) return HTTP_MUTATORS.insertRange(rng, ex);
    const v = rng.pick([
      'bytes 0-99999999999/5', 'bytes 5-2/10', 'bytes */10', 'bytes 0-9/*', 'bytes 0-9/x', 'bytes -5-9/10', 'bytes 0-18446744073709551615/18446744073709551616',
      'items 0-1/2', 'bytes 9007199254740990-9007199254740999/9007199254741000', 'bytes 0-0/1', 'bytes 1-0/0', '',
    ]);
    return editHead(ex, c, (lines) => {
      let out = setHeader(lines, 'Content-Range', v);
      if (rng.chance(0.5)) out = [out[0].replace(/^HTTP\/(\d\.\d) \d{3}.*/, 'HTTP/$1 206 Partial Content'), ...out.slice(1)];
      if (rng.chance(0.3)) out = setHeader(out, 'Content-Type', 'multipart/byteranges; boundary=' + rng.pick(['', 'B', '"', 'x'.repeat(100)]));
      if (rng.chance(0.5)) out = setHeader(out, 'ETag', rng.pick(['"e1"', '', 'W/"x"', '"\0"']));
      return out;
    });
  },
  exchanges(rng, ex) {
    const out = ex.slice();
    const r = rng.next();
    const i = rng.int(out.length);
    if (r < 0.3) out.splice(i, 0, out[i]);
    else if (r < 0.5 && out.length > 1) out.splice(i, 1);
    else if (r < 0.7 && out.length > 1) { const j = rng.int(out.length); [out[i], out[j]] = [out[j], out[i]]; }
    else if (r < 0.85) out[i] = [1 - out[i][0], out[i][1]];
    else out.push([rng.int(2), rng.bytes(rng.smallLen(2048))]);
    return out;
  },
};

const HTTP_WEIGHTS = [
  [2, 'duplicateRange'], [2, 'deleteRange'], [2, 'insertRange'], [1, 'bitflip'], [3, 'contentLength'], [3, 'chunkSize'],
  [3, 'transferEncoding'], [2, 'contentEncoding'], [3, 'recodeBody'], [2, 'inflateHeaders'], [2, 'garbageBetween'],
  [2, 'cutMidMessage'], [3, 'hostileNames'], [2, 'startLine'], [1, 'rangeHeaders'], [1, 'exchanges'],
];

/** TCP-level impairments of a conversation's frames: duplicates, reorderings, losses. */
function impairFrames(rng, frames) {
  const out = frames.slice();
  for (let k = rng.range(1, 4); k > 0 && out.length > 1; k--) {
    const i = rng.range(1, out.length - 1);
    const r = rng.next();
    if (r < 0.35) out.splice(i, 0, out[i]);
    else if (r < 0.7) [out[i - 1], out[i]] = [out[i], out[i - 1]];
    else if (r < 0.85) out.splice(i, 1);
    else {
      // A retransmission whose bytes differ: a conflicting overlap.
      const f = { ...out[i], data: Buffer.from(out[i].data) };
      if (f.data.length > 54) f.data[54 + rng.int(f.data.length - 54)] ^= 0xff;
      out.splice(i + 1, 0, f);
    }
  }
  return out;
}

function httpCase(rng, corpus) {
  const fromSample = rng.chance(0.55) && corpus.conversations.length;
  let ex = fromSample ? rng.pick(corpus.conversations).map(([d, b]) => [d, b]) : templateConversation(rng);
  const origin = fromSample ? 'sample conversation' : 'template';
  const mutators = [];
  for (let n = rng.weighted([[4, 1], [4, 2], [2, 3]]); n > 0; n--) {
    const name = rng.weighted(HTTP_WEIGHTS);
    ex = HTTP_MUTATORS[name](rng, ex).filter(([, b]) => b.length > 0);
    mutators.push(name);
  }
  if (!ex.length) ex = [[0, L('GET / HTTP/1.1\r\n\r\n')]];
  const mss = rng.weighted([[5, 1400], [2, 536], [2, rng.range(16, 1400)], [1, rng.range(1, 15)]]);
  const segments = ex.reduce((a, [, b]) => a + Math.ceil(b.length / mss), 0);
  if (segments > 6000) return httpCase(rng, corpus); // keep cases small
  const skip = new Set();
  if (rng.chance(0.25)) { for (let k = rng.range(1, 3); k > 0; k--) skip.add(rng.int(segments)); mutators.push('skip'); }
  let frames = conversation(ex, { mss, skip, clientPort: rng.range(1024, 65535), serverPort: rng.pick([80, 80, 8080, 8000, rng.range(1, 65535)]) });
  if (rng.chance(0.2)) {
    // A second, unmutated conversation on another port, interleaved: a sound neighbour.
    const other = conversation(templateConversation(rng), { clientPort: 33333, ts: 1700000000.0005 });
    frames = frames.concat(other).sort((a, b) => a.ts - b.ts);
    mutators.push('neighbour');
  }
  if (rng.chance(0.15)) { frames = impairFrames(rng, frames); mutators.push('impairFrames'); }
  const input = rng.chance(0.8) ? pcapFile(frames, { le: rng.chance(0.7), nano: rng.chance(0.2) }) : captureFromFrames(rng, frames).bytes;
  return { kind: 'http', origin, mutators, input };
}

/** Case `index` of a run with `seed`: { kind, origin, mutators, input }. Deterministic. */
export async function makeCase(seed, index) {
  const corpus = await loadCorpus();
  const rng = new Rng(caseSeed(seed, index));
  return rng.chance(0.5) ? captureCase(rng, corpus) : httpCase(rng, corpus);
}

// ---------------------------------------------------------------------------------------------
// Running a case and judging it

function newestMtime(dir) {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const full = join(dir, name);
    const st = statSync(full);
    newest = Math.max(newest, st.mtimeMs, st.isDirectory() ? newestMtime(full) : 0);
  }
  return newest;
}

/**
 * A private copy of the program (bin/, dist/, package.json; node_modules linked) in `dir`, so
 * that a dist/ rebuilt while the fuzzer runs (a watch build, someone's `tsc`) cannot hand a case
 * half of one build and half of the next. Waits for dist/ to be still for 2 s first. Returns
 * the copy's bin/extract-http.js.
 */
export async function snapshotProgram(dir) {
  const dist = join(ROOT, 'dist');
  for (let attempt = 0; ; attempt++) {
    const before = newestMtime(dist);
    if (Date.now() - before < 2000 && attempt < 30) { await new Promise((r) => setTimeout(r, 1000)); continue; }
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    cpSync(dist, join(dir, 'dist'), { recursive: true });
    cpSync(join(ROOT, 'bin'), join(dir, 'bin'), { recursive: true });
    cpSync(join(ROOT, 'package.json'), join(dir, 'package.json'));
    symlinkSync(join(ROOT, 'node_modules'), join(dir, 'node_modules'), 'dir');
    if (newestMtime(dist) === before || attempt >= 30) return join(dir, 'bin', 'extract-http.js');
  }
}

/** Runs the CLI (`bin`) on `input` in a fresh sandbox under `root`: the result that judge() reads. */
export function runCase(input, { root = tmpdir(), bin = BIN, timeoutMs = CASE_TIMEOUT_MS, maxHeapMb = MAX_HEAP_MB, extraArgs = [] } = {}) {
  const sandbox = mkdtempSync(join(root, 'case-'));
  writeFileSync(join(sandbox, INPUT_NAME), input);
  mkdirSync(join(sandbox, TMP_NAME));
  const args = [bin, INPUT_NAME, '-o', OUT_NAME, '--max-heap', String(maxHeapMb), ...extraArgs];
  return new Promise((done) => {
    const started = Date.now();
    // cwd is the sandbox and TMPDIR is inside it: a stray relative or temporary write lands
    // where the walk sees it.
    const child = spawn(process.execPath, args, {
      cwd: sandbox, env: { ...process.env, TMPDIR: join(sandbox, TMP_NAME) }, stdio: ['ignore', 'pipe', 'pipe'],
    });
    const out = { stdout: [], stderr: [], stdoutLen: 0, stderrLen: 0 };
    const keep = (which) => (d) => {
      if (out[`${which}Len`] < 1 << 20) out[which].push(d);
      out[`${which}Len`] += d.length;
    };
    child.stdout.on('data', keep('stdout'));
    child.stderr.on('data', keep('stderr'));
    let timedOut = false;
    const timer = setTimeout(() => { timedOut = true; child.kill('SIGKILL'); }, timeoutMs);
    child.on('close', (status, signal) => {
      clearTimeout(timer);
      done({
        sandbox, outDir: join(sandbox, OUT_NAME), inputName: INPUT_NAME, args: args.slice(1),
        status, signal: timedOut ? null : signal, timedOut, ms: Date.now() - started,
        stdout: Buffer.concat(out.stdout).toString('utf8'), stderr: Buffer.concat(out.stderr).toString('utf8'),
      });
    });
    child.on('error', (e) => {
      clearTimeout(timer);
      done({ sandbox, outDir: join(sandbox, OUT_NAME), inputName: INPUT_NAME, args: args.slice(1), status: null, signal: null, timedOut: false, spawnError: e.message, stdout: '', stderr: '' });
    });
  });
}

/** Every entry under `dir` (relative paths), with lstat, not following symlinks. */
function walk(dir, base = dir, acc = []) {
  let names;
  try { names = readdirSync(dir); } catch { return acc; }
  for (const name of names) {
    const full = join(dir, name);
    let st;
    try { st = lstatSync(full); } catch { continue; }
    acc.push({ rel: relative(base, full), full, st });
    if (st.isDirectory()) walk(full, base, acc);
  }
  return acc;
}

function sha256File(path) {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}

/**
 * The oracle: the reasons a run failed, [] when it kept every promise. `r` is what runCase()
 * returned (or a synthetic one of the same shape: status, signal, timedOut, stderr, and, to look
 * at the disk, sandbox, outDir and inputName).
 */
export function judge(r) {
  const reasons = [];
  if (r.spawnError) reasons.push(`could not run the CLI: ${r.spawnError}`);
  if (r.timedOut) reasons.push(`hang: killed after the ${CASE_TIMEOUT_MS / 1000} s timeout`);
  else if (r.signal) reasons.push(`crashed by signal ${r.signal}`);
  else if (r.status !== 0 && r.status !== 1 && !r.spawnError) reasons.push(`exit code ${r.status}`);
  const stderr = r.stderr ?? '';
  if (/\n\s+at /.test(stderr)) reasons.push('stack trace on stderr');
  if (/out of memory|heap limit|JavaScript heap|ERR_WORKER_OUT_OF_MEMORY|allocation failed/i.test(stderr)) reasons.push('out of memory');
  const other = stderr.split('\n').filter((l) => l.trim() && !l.startsWith('extract-http: warning:'));
  if (other.length > MAX_OTHER_STDERR_LINES) reasons.push(`${other.length} stderr lines that are not warnings`);

  if (r.sandbox) {
    const outDir = r.outDir ?? join(r.sandbox, OUT_NAME);
    const outRel = relative(r.sandbox, outDir);
    const expected = new Set([r.inputName ?? INPUT_NAME, TMP_NAME, outRel]);
    for (const e of walk(r.sandbox)) {
      const inOut = e.rel === outRel || e.rel.startsWith(outRel + sep);
      if (!inOut && !expected.has(e.rel)) reasons.push(`created outside the output folder: ${e.rel}${e.st.isSymbolicLink() ? ' (symlink)' : ''}`);
      else if (inOut && e.st.isSymbolicLink()) reasons.push(`symlink in the output folder: ${e.rel}`);
      if (reasons.length > 20) break;
    }
    // The sandbox's parent holds only sandboxes: anything else there escaped further up.
    if (r.root) {
      for (const name of readdirSync(r.root)) {
        if (!name.startsWith('case-')) reasons.push(`created beside the sandbox: ${name}`);
      }
    }
    if (r.status === 0 && !r.timedOut && !r.signal) reasons.push(...checkLog(outDir));
  }
  return reasons;
}

/** The log of a successful run: integrity, and every files row matches a file in the output folder. */
export function checkLog(outDir) {
  const reasons = [];
  const dbPath = join(outDir, 'http.sqlite');
  if (!existsSync(dbPath)) return ['exit 0 but no http.sqlite'];
  let db;
  try {
    db = new Database(dbPath, { readonly: true, fileMustExist: true });
    const ic = db.prepare('PRAGMA integrity_check').all().map((row) => Object.values(row)[0]);
    if (ic.length !== 1 || ic[0] !== 'ok') reasons.push(`integrity_check: ${ic.slice(0, 3).join('; ')}`);
    const rows = db.prepare('SELECT id, path, size, sha256 FROM files').all();
    const hashes = new Map();
    for (const row of rows) {
      const where = `files row ${row.id} (${JSON.stringify(row.path)})`;
      if (typeof row.path !== 'string' || !row.path || isAbsolute(row.path)) { reasons.push(`${where}: not a relative path`); continue; }
      const full = resolve(outDir, row.path);
      if (!full.startsWith(outDir + sep)) { reasons.push(`${where}: points outside the output folder`); continue; }
      let st;
      try { st = lstatSync(full); } catch { reasons.push(`${where}: no such file`); continue; }
      if (!st.isFile()) { reasons.push(`${where}: not a regular file`); continue; }
      if (st.size !== row.size) reasons.push(`${where}: size ${row.size} in the log, ${st.size} on disk`);
      if (!hashes.has(full)) hashes.set(full, sha256File(full));
      if (hashes.get(full) !== row.sha256) reasons.push(`${where}: sha256 does not match the file`);
      if (reasons.length > 20) break;
    }
  } catch (e) {
    reasons.push(`cannot read the log: ${e.message}`);
  } finally {
    db?.close();
  }
  return reasons;
}

// ---------------------------------------------------------------------------------------------
// The loop

function saveFailure(keep, c, index, seed, r, reasons, again) {
  const dir = join(keep, `seed${seed}-case${index}-${c.kind}`);
  mkdirSync(dir, { recursive: true });
  const name = c.input.length >= 2 && c.input[0] === 0x1f && c.input[1] === 0x8b ? 'input.cap.gz' : 'input.cap';
  writeFileSync(join(dir, name), c.input);
  const report = {
    seed, case: index, kind: c.kind, origin: c.origin, mutators: c.mutators, reasons,
    reproduced: again ? again.length > 0 : null, reasonsOnRetry: again,
    status: r.status, signal: r.signal, timedOut: r.timedOut, ms: r.ms,
    stderr: r.stderr.slice(0, 20_000), stdout: r.stdout.slice(0, 5_000),
    reproduce: `node scripts/fuzz.js --seed ${seed} --case ${index}`,
    run: `node bin/extract-http.js ${join(dir, name)} -o OUT --max-heap ${MAX_HEAP_MB}`,
  };
  writeFileSync(join(dir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  return dir;
}

/**
 * Runs cases until `seconds` have passed (or only case `only`). Returns
 * { cases, byKind, byMutator, failures: [{ index, kind, reasons, saved }], seconds, keep }.
 */
export async function fuzz({ seconds = 600, seed = 1, keep, jobs = 1, only, onCase, timeoutMs = CASE_TIMEOUT_MS } = {}) {
  await loadCorpus();
  // The default folder for failing inputs is made on the first failure only.
  const keepDir = () => (keep ??= mkdtempSync(join(tmpdir(), 'xh-fuzz-failures-')));
  const root = mkdtempSync(join(tmpdir(), 'xh-fuzz-'));
  const started = Date.now();
  let deadline = started + seconds * 1000;
  const stats = { cases: 0, byKind: {}, byMutator: {}, failures: [], exits: {}, seed, keep: keep ?? null };
  let next = only ?? 0;
  const last = only ?? Infinity;
  const worker = async () => {
    while (next <= last && (only !== undefined || Date.now() < deadline)) {
      const index = next++;
      const c = await makeCase(seed, index);
      const caseRoot = mkdtempSync(join(root, 'run-'));
      const r = await runCase(c.input, { root: caseRoot, bin, timeoutMs });
      r.root = caseRoot;
      const reasons = judge(r);
      stats.cases++;
      stats.byKind[c.kind] = (stats.byKind[c.kind] ?? 0) + 1;
      for (const m of new Set(c.mutators)) stats.byMutator[`${c.kind}:${m}`] = (stats.byMutator[`${c.kind}:${m}`] ?? 0) + 1;
      if (!stats.slowest || r.ms > stats.slowest.ms) stats.slowest = { index, kind: c.kind, ms: r.ms };
      const ex = r.timedOut ? 'timeout' : r.signal ?? String(r.status);
      stats.exits[ex] = (stats.exits[ex] ?? 0) + 1;
      let saved = null;
      let again = null;
      if (reasons.length) {
        // Once more, to tell a steady failure from a flaky one (a loaded machine, a dist/ being
        // rebuilt under us). Either way it counts: the report says which.
        const retryRoot = mkdtempSync(join(root, 'run-'));
        const r2 = await runCase(c.input, { root: retryRoot, bin, timeoutMs });
        r2.root = retryRoot;
        again = judge(r2);
        rmSync(retryRoot, { recursive: true, force: true });
        saved = saveFailure(keepDir(), c, index, seed, r, reasons, again);
        stats.keep = keep;
        stats.failures.push({ index, kind: c.kind, origin: c.origin, mutators: c.mutators, reasons, saved, reproduced: again.length > 0 });
      }
      onCase?.({ index, kind: c.kind, origin: c.origin, mutators: c.mutators, bytes: c.input.length, result: r, reasons, saved, reproduced: again ? again.length > 0 : null });
      rmSync(caseRoot, { recursive: true, force: true });
    }
  };
  let bin;
  try {
    bin = await snapshotProgram(join(root, 'program'));
    deadline = Date.now() + seconds * 1000; // a wait for dist/ to settle does not eat the budget
    await Promise.all(Array.from({ length: Math.max(1, jobs) }, worker));
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  stats.seconds = (Date.now() - started) / 1000;
  return stats;
}

export function formatStats(s) {
  const lines = [
    `cases     ${s.cases} (${Object.entries(s.byKind).map(([k, n]) => `${k} ${n}`).join(', ')})`,
    `exits     ${Object.entries(s.exits).map(([k, n]) => `${k}: ${n}`).join(', ')}`,
    `failures  ${s.failures.length}${s.failures.length ? ` (saved under ${s.keep})` : ''}`,
    `wall time ${s.seconds.toFixed(1)} s${s.slowest ? ` (slowest case: ${s.slowest.index}, ${s.slowest.kind}, ${(s.slowest.ms / 1000).toFixed(2)} s)` : ''}`,
    `seed      ${s.seed}`,
    'mutators  ' + Object.entries(s.byMutator).sort().map(([k, n]) => `${k} ${n}`).join(', '),
  ];
  for (const f of s.failures) lines.push(`  FAIL case ${f.index} (${f.kind}; ${f.mutators.join(', ')}): ${f.reasons.join('; ')}${f.reproduced ? '' : ' (did not fail again on a retry: flaky)'} -> ${f.saved}`);
  return lines.join('\n') + '\n';
}

function parseArgs(argv) {
  const o = { seconds: 600, seed: 1, keep: undefined, jobs: 1, only: undefined };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const val = () => { if (i + 1 >= argv.length) throw new Error(`${a} needs a value`); return argv[++i]; };
    if (a === '--seconds') o.seconds = Number(val());
    else if (a === '--seed') o.seed = Number(val()) >>> 0;
    else if (a === '--keep') o.keep = resolve(val());
    else if (a === '--jobs') o.jobs = Number(val());
    else if (a === '--case') o.only = Number(val());
    else if (a === '--help' || a === '-h') { o.help = true; }
    else throw new Error(`unknown argument: ${a}`);
  }
  if (!(o.seconds >= 0) || !Number.isInteger(o.jobs) || o.jobs < 1 || (o.only !== undefined && !Number.isInteger(o.only))) throw new Error('bad argument value');
  return o;
}

async function cli() {
  let o;
  try { o = parseArgs(process.argv.slice(2)); } catch (e) {
    process.stderr.write(`fuzz: ${e.message}\nusage: node scripts/fuzz.js [--seconds 600] [--seed 1] [--keep DIR] [--jobs 1] [--case N]\n`);
    return 2;
  }
  if (o.help) { process.stdout.write('usage: node scripts/fuzz.js [--seconds 600] [--seed 1] [--keep DIR] [--jobs 1] [--case N]\n'); return 0; }
  if (o.keep) mkdirSync(o.keep, { recursive: true });
  let shown = 0;
  const s = await fuzz({
    ...o,
    onCase: (c) => {
      if (c.reasons.length) process.stdout.write(`\nFAIL case ${c.index} (${c.kind}; ${c.mutators.join(', ')}): ${c.reasons.join('; ')}${c.reproduced ? '' : ' (did not fail again on a retry: flaky)'}\n  saved: ${c.saved}\n`);
      else if (o.only !== undefined) process.stdout.write(`case ${c.index} (${c.kind}; ${c.origin}; ${c.mutators.join(', ')}; ${c.bytes} bytes): ok, exit ${c.result.status}\n${c.result.stderr}`);
      else if (++shown % 50 === 0) process.stdout.write(`${shown} cases\n`);
    },
  });
  process.stdout.write(formatStats(s));
  return s.failures.length ? 1 : 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  cli().then((code) => { process.exitCode = code; }, (e) => { process.stderr.write(`fuzz: ${e.stack}\n`); process.exitCode = 2; });
}
