// Deterministic content for the harness server: every body is a pure function
// of the URL path (seeded PRNG), so reruns are byte-identical.

import zlib from 'node:zlib';
import crypto from 'node:crypto';

export const MAX_BODY = 16 * 1024 * 1024;

/** FNV-1a 32-bit hash of a string, used as PRNG seed. */
export function seedOf(str) {
  let h = 0x811c9dc5;
  for (let i = 0; i < str.length; i++) {
    h ^= str.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h || 1;
}

/** mulberry32 PRNG: returns a function giving uint32 values. */
export function prng(seed) {
  let a = seed >>> 0;
  return function next() {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

export function sha256(buf) {
  return crypto.createHash('sha256').update(buf).digest('hex');
}

export function randomBytes(seedStr, n) {
  const next = prng(seedOf(seedStr));
  const words = Math.ceil(n / 4);
  const u32 = new Uint32Array(words);
  for (let i = 0; i < words; i++) u32[i] = next();
  return Buffer.from(u32.buffer, 0, n);
}

const WORDS = (
  'lorem ipsum dolor sit amet consectetur adipiscing elit sed do eiusmod tempor incididunt ut labore ' +
  'et dolore magna aliqua packet capture stream segment window header body request response server ' +
  'client socket tcp http chunk gzip deflate host agent content length transfer encoding status'
).split(' ');

/** ASCII text of exactly n bytes: words, lines of at most ~72 chars. */
export function text(seedStr, n) {
  const next = prng(seedOf(seedStr));
  const parts = [];
  let len = 0;
  let line = 0;
  while (len < n) {
    const w = WORDS[next() % WORDS.length];
    let piece;
    if (line + w.length + 1 > 72) {
      piece = '\n' + w;
      line = w.length;
    } else {
      piece = (line ? ' ' : '') + w;
      line += piece.length;
    }
    parts.push(piece);
    len += piece.length;
  }
  let s = parts.join('');
  if (s.length > n) s = s.slice(0, n);
  if (n > 0) s = s.slice(0, n - 1) + '\n';
  return Buffer.from(s, 'latin1');
}

/** HTML document of exactly n bytes (n >= ~80 gives valid structure). */
export function html(seedStr, n, title = 'extract-http harness page') {
  const head = `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>${title}</title></head>\n<body>\n<p>`;
  const tail = '</p>\n</body></html>\n';
  const room = n - head.length - tail.length;
  if (room <= 0) return Buffer.from((head + tail).slice(0, n), 'latin1');
  const body = text(seedStr, room).toString('latin1').replace(/\n/g, '</p>\n<p>').slice(0, room);
  const padded = body + ' '.repeat(room - body.length);
  return Buffer.from(head + padded + tail, 'latin1');
}

/** The fixed-size /<tag>/page.html */
export function page(seedStr, tag) {
  const links =
    `<ul>\n<li><a href="/${tag}/text/100.txt">text</a></li>\n` +
    `<li><img src="/${tag}/img/logo.png" alt="logo"></li>\n</ul>\n`;
  const head = `<!DOCTYPE html>\n<html><head><meta charset="utf-8"><title>Page ${tag}</title></head>\n<body>\n<h1>Harness page ${tag}</h1>\n${links}<p>`;
  const tail = '</p>\n</body></html>\n';
  return Buffer.from(head + text(seedStr, 2500).toString('latin1').replace(/\n/g, '</p>\n<p>') + tail, 'latin1');
}

/** CSV of exactly n bytes. */
export function csv(seedStr, n) {
  const next = prng(seedOf(seedStr));
  let s = 'id,name,value,ratio\n';
  let i = 0;
  while (s.length < n) {
    s += `${i},${WORDS[next() % WORDS.length]},${next() % 100000},${(next() % 1000) / 1000}\n`;
    i++;
  }
  s = s.slice(0, n);
  if (n > 0) s = s.slice(0, n - 1) + '\n';
  return Buffer.from(s, 'latin1');
}

/** JSON document of exactly n bytes when n >= 40, else a minimal document. */
export function json(seedStr, n) {
  const next = prng(seedOf(seedStr));
  const items = [];
  const pre = '{"seed":"' + seedStr.replace(/["\\]/g, '') + '","items":[';
  let len = pre.length;
  const closing = '],"pad":""}';
  while (true) {
    const item = JSON.stringify({ id: items.length, word: WORDS[next() % WORDS.length], v: next() % 100000 });
    const add = (items.length ? 1 : 0) + item.length;
    if (len + add + closing.length > n) break;
    items.push(item);
    len += add;
  }
  let s = pre + items.join(',') + closing;
  if (s.length < n) s = s.slice(0, -2) + 'x'.repeat(n - s.length) + '"}';
  return Buffer.from(s, 'latin1');
}

let CRC_TABLE = null;
function crc32(buf) {
  if (!CRC_TABLE) {
    CRC_TABLE = new Uint32Array(256);
    for (let n = 0; n < 256; n++) {
      let c = n;
      for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
      CRC_TABLE[n] = c >>> 0;
    }
  }
  let c = 0xffffffff;
  for (let i = 0; i < buf.length; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type, data) {
  const len = Buffer.alloc(4);
  len.writeUInt32BE(data.length);
  const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const crc = Buffer.alloc(4);
  crc.writeUInt32BE(crc32(td));
  return Buffer.concat([len, td, crc]);
}

/** A valid small RGB PNG (48x32 gradient + noise), deterministic per seed. */
export function png(seedStr, width = 48, height = 32) {
  const next = prng(seedOf(seedStr));
  const raw = Buffer.alloc((width * 3 + 1) * height);
  let o = 0;
  for (let y = 0; y < height; y++) {
    raw[o++] = 0; // filter: none
    for (let x = 0; x < width; x++) {
      const r = next() & 0x1f;
      raw[o++] = ((x * 255) / (width - 1)) & 0xff;
      raw[o++] = ((y * 255) / (height - 1)) & 0xff;
      raw[o++] = (128 + r) & 0xff;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 2; // colour type RGB
  ihdr[10] = 0;
  ihdr[11] = 0;
  ihdr[12] = 0;
  return Buffer.concat([
    Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]),
    pngChunk('IHDR', ihdr),
    pngChunk('IDAT', zlib.deflateSync(raw, { level: 9 })),
    pngChunk('IEND', Buffer.alloc(0)),
  ]);
}

/** Deterministic upload body used by clients (POST/PUT payloads). */
export function uploadBody(name, n) {
  return randomBytes(`upload:${name}`, n);
}

/** Deterministic split of a buffer into pieces of varied size (>=1). */
export function splitVaried(seedStr, buf, maxPiece = 9000) {
  const next = prng(seedOf('split:' + seedStr));
  const sizes = [1, 7, 100, 1448, 4096, 3, 1500, maxPiece];
  const out = [];
  let off = 0;
  let i = 0;
  while (off < buf.length) {
    let sz = sizes[i % sizes.length];
    if (i >= sizes.length) sz = 1 + (next() % maxPiece);
    out.push(buf.subarray(off, Math.min(buf.length, off + sz)));
    off += sz;
    i++;
  }
  return out;
}

// ---------------------------------------------------------------------------
// File types for the `evidence` scenario: small but well-formed PDF, PE (Windows .exe) and ZIP
// files, deterministic per seed (no zlib: the bytes do not depend on the zlib version).

/** A well-formed PDF 1.4 of about n bytes: catalog, one empty page, one binary stream object. */
export function pdf(seedStr, n = 150000) {
  const objs = [
    '<< /Type /Catalog /Pages 2 0 R >>',
    '<< /Type /Pages /Kids [3 0 R] /Count 1 >>',
    '<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << >> >>',
  ];
  const head = Buffer.from('%PDF-1.4\n%\xe2\xe3\xcf\xd3\n', 'latin1');
  const pieces = [head];
  const offsets = [];
  let off = head.length;
  const push = (b) => {
    pieces.push(b);
    off += b.length;
  };
  objs.forEach((o, i) => {
    offsets.push(off);
    push(Buffer.from(`${i + 1} 0 obj\n${o}\nendobj\n`, 'latin1'));
  });
  // Object 4: an unreferenced binary stream filling the file up to about n bytes.
  const streamLen = Math.max(16, n - off - 400);
  offsets.push(off);
  push(Buffer.from(`4 0 obj\n<< /Length ${streamLen} >>\nstream\n`, 'latin1'));
  push(randomBytes(`pdf:${seedStr}`, streamLen));
  push(Buffer.from('\nendstream\nendobj\n', 'latin1'));
  const xref = off;
  let x = `xref\n0 ${offsets.length + 1}\n0000000000 65535 f \n`;
  for (const o of offsets) x += `${String(o).padStart(10, '0')} 00000 n \n`;
  x += `trailer\n<< /Size ${offsets.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  push(Buffer.from(x, 'latin1'));
  return Buffer.concat(pieces);
}

/**
 * A minimal well-formed PE32 executable (Windows console program, Intel 386): DOS header and
 * stub, PE header, optional header, one .text section whose code is `xor eax, eax; ret`
 * followed by seeded filler. textSize is rounded up to the file alignment (0x200).
 */
export function pe(seedStr, textSize = 0x1000) {
  const FILE_ALIGN = 0x200;
  const SECT_ALIGN = 0x1000;
  const raw = Math.ceil(textSize / FILE_ALIGN) * FILE_ALIGN;
  const hdr = Buffer.alloc(0x200);
  // DOS header
  hdr.write('MZ', 0, 'latin1');
  hdr.writeUInt16LE(0x90, 0x02); // bytes on last page
  hdr.writeUInt16LE(3, 0x04); // pages
  hdr.writeUInt16LE(4, 0x08); // header paragraphs
  hdr.writeUInt16LE(0xffff, 0x0c); // max alloc
  hdr.writeUInt16LE(0xb8, 0x10); // sp
  hdr.writeUInt16LE(0x40, 0x18); // relocation table offset
  hdr.writeUInt32LE(0x80, 0x3c); // e_lfanew
  // DOS stub: print the message and exit
  Buffer.from([0x0e, 0x1f, 0xba, 0x0e, 0x00, 0xb4, 0x09, 0xcd, 0x21, 0xb8, 0x01, 0x4c, 0xcd, 0x21]).copy(hdr, 0x40);
  hdr.write('This program cannot be run in DOS mode.\r\r\n$', 0x4e, 'latin1');
  // PE signature + COFF header
  let o = 0x80;
  hdr.write('PE\0\0', o, 'latin1');
  o += 4;
  hdr.writeUInt16LE(0x014c, o); // i386
  hdr.writeUInt16LE(1, o + 2); // sections
  hdr.writeUInt32LE(0x66000000, o + 4); // time stamp (fixed)
  hdr.writeUInt16LE(0xe0, o + 16); // size of optional header
  hdr.writeUInt16LE(0x0102, o + 18); // EXECUTABLE_IMAGE | 32BIT_MACHINE
  o += 20;
  // Optional header (PE32)
  const opt = o;
  hdr.writeUInt16LE(0x010b, opt); // PE32
  hdr[opt + 2] = 14; // linker version
  hdr.writeUInt32LE(raw, opt + 4); // size of code
  hdr.writeUInt32LE(0x1000, opt + 16); // entry point
  hdr.writeUInt32LE(0x1000, opt + 20); // base of code
  hdr.writeUInt32LE(0x1000 + Math.ceil(raw / SECT_ALIGN) * SECT_ALIGN, opt + 24); // base of data
  hdr.writeUInt32LE(0x400000, opt + 28); // image base
  hdr.writeUInt32LE(SECT_ALIGN, opt + 32);
  hdr.writeUInt32LE(FILE_ALIGN, opt + 36);
  hdr.writeUInt16LE(6, opt + 40); // OS version 6.0
  hdr.writeUInt16LE(6, opt + 48); // subsystem version 6.0
  hdr.writeUInt32LE(0x1000 + Math.ceil(raw / SECT_ALIGN) * SECT_ALIGN, opt + 56); // size of image
  hdr.writeUInt32LE(0x200, opt + 60); // size of headers
  hdr.writeUInt16LE(3, opt + 68); // console subsystem
  hdr.writeUInt16LE(0x8100, opt + 70); // NX_COMPAT | TERMINAL_SERVER_AWARE
  hdr.writeUInt32LE(0x100000, opt + 72); // stack reserve
  hdr.writeUInt32LE(0x1000, opt + 76); // stack commit
  hdr.writeUInt32LE(0x100000, opt + 80); // heap reserve
  hdr.writeUInt32LE(0x1000, opt + 84); // heap commit
  hdr.writeUInt32LE(16, opt + 92); // number of data directories (all empty)
  o = opt + 0xe0;
  // Section table: .text
  hdr.write('.text', o, 'latin1');
  hdr.writeUInt32LE(textSize, o + 8); // virtual size
  hdr.writeUInt32LE(0x1000, o + 12); // virtual address
  hdr.writeUInt32LE(raw, o + 16); // size of raw data
  hdr.writeUInt32LE(0x200, o + 20); // pointer to raw data
  hdr.writeUInt32LE(0x60000020, o + 36); // CODE | EXECUTE | READ
  const text = Buffer.concat([Buffer.from([0x31, 0xc0, 0xc3]), randomBytes(`pe:${seedStr}`, raw - 3)]);
  return Buffer.concat([hdr, text]);
}

/** A valid ZIP archive of stored (uncompressed) entries: [[name, Buffer], ...]. */
export function zip(entries) {
  const DOS_TIME = (12 << 11) | (0 << 5); // 12:00:00
  const DOS_DATE = ((2024 - 1980) << 9) | (9 << 5) | 2; // 2024-09-02
  const locals = [];
  const centrals = [];
  let off = 0;
  for (const [name, data] of entries) {
    const nm = Buffer.from(name, 'utf8');
    const crc = crc32(data);
    const lh = Buffer.alloc(30);
    lh.writeUInt32LE(0x04034b50, 0);
    lh.writeUInt16LE(20, 4); // version needed
    lh.writeUInt16LE(0, 6); // flags
    lh.writeUInt16LE(0, 8); // stored
    lh.writeUInt16LE(DOS_TIME, 10);
    lh.writeUInt16LE(DOS_DATE, 12);
    lh.writeUInt32LE(crc, 14);
    lh.writeUInt32LE(data.length, 18);
    lh.writeUInt32LE(data.length, 22);
    lh.writeUInt16LE(nm.length, 26);
    const ch = Buffer.alloc(46);
    ch.writeUInt32LE(0x02014b50, 0);
    ch.writeUInt16LE(20, 4); // version made by
    ch.writeUInt16LE(20, 6); // version needed
    ch.writeUInt16LE(0, 10); // stored
    ch.writeUInt16LE(DOS_TIME, 12);
    ch.writeUInt16LE(DOS_DATE, 14);
    ch.writeUInt32LE(crc, 16);
    ch.writeUInt32LE(data.length, 20);
    ch.writeUInt32LE(data.length, 24);
    ch.writeUInt16LE(nm.length, 28);
    ch.writeUInt32LE(off, 42); // local header offset
    locals.push(lh, nm, data);
    centrals.push(ch, nm);
    off += lh.length + nm.length + data.length;
  }
  const cd = Buffer.concat(centrals);
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(entries.length, 8);
  eocd.writeUInt16LE(entries.length, 10);
  eocd.writeUInt32LE(cd.length, 12);
  eocd.writeUInt32LE(off, 16);
  return Buffer.concat([...locals, cd, eocd]);
}
