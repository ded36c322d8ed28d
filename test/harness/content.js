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
