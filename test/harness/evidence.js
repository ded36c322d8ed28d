// Content and helpers of the `evidence` scenario, shared by the harness server (what it serves
// and records) and capture.js (what curl sends, the scenario's self-checks and the resources
// list of the truth document). Everything is a pure function of fixed seeds, so the bytes and
// their sha256 are the same on every run.

import * as C from './content.js';

// ---------------------------------------------------------------------------
// Multipart uploads: the files curl sends with -F (name -> bytes).

const UPLOAD_FILES = {
  'report.pdf': () => C.pdf('evidence:report.pdf', 150000),
  'pixel.png': () => C.png('evidence:pixel.png'),
  'passwd.txt': () =>
    Buffer.from(
      'root:x:0:0:root:/root:/bin/bash\n' +
        'daemon:x:1:1:daemon:/usr/sbin:/usr/sbin/nologin\n' +
        'harness:x:1000:1000:extract-http harness,,,:/home/harness:/bin/sh\n',
      'latin1',
    ),
  'evil.exe': () => C.pe('evidence:evil.exe', 0x600),
};
const fileCache = new Map();

/** Bytes of one of the upload files (report.pdf, pixel.png, passwd.txt, evil.exe). */
export function uploadFile(name) {
  if (!UPLOAD_FILES[name]) throw new Error(`unknown evidence upload file ${name}`);
  if (!fileCache.has(name)) fileCache.set(name, UPLOAD_FILES[name]());
  return fileCache.get(name);
}

/** One parameter of a header such as Content-Disposition, raw (quotes removed, no unescaping). */
function headerParam(value, name) {
  const re = new RegExp(`(?:^|;)\\s*${name}\\s*=\\s*(?:"([^"]*)"|([^;\\s]*))`, 'i');
  const m = re.exec(value);
  if (!m) return null;
  return m[1] !== undefined ? m[1] : m[2];
}

/**
 * Parse a multipart/form-data body. Returns null when contentType is not multipart/form-data,
 * else { parts, fields }: parts = the parts with a filename, [{ name, filename, content_type,
 * size, sha256 }] (filename exactly as it stands between the quotes of the part's
 * Content-Disposition: curl sends it without escaping), fields = the parts without one,
 * [{ name, value, size, sha256 }].
 */
export function parseMultipart(body, contentType) {
  if (!contentType || !/^multipart\/form-data\b/i.test(contentType)) return null;
  const boundary = headerParam(contentType, 'boundary');
  if (!boundary) return null;
  const delim = Buffer.from(`--${boundary}`, 'latin1');
  const parts = [];
  const fields = [];
  let pos = body.indexOf(delim);
  while (pos >= 0) {
    let start = pos + delim.length;
    if (body[start] === 0x2d && body[start + 1] === 0x2d) break; // closing delimiter
    start += 2; // CRLF after the delimiter
    const next = body.indexOf(Buffer.from(`\r\n--${boundary}`, 'latin1'), start);
    if (next < 0) break;
    const part = body.subarray(start, next);
    const headEnd = part.indexOf('\r\n\r\n');
    const head = part.subarray(0, headEnd < 0 ? part.length : headEnd).toString('latin1');
    const content = headEnd < 0 ? Buffer.alloc(0) : part.subarray(headEnd + 4);
    const hdrs = {};
    for (const line of head.split('\r\n')) {
      const i = line.indexOf(':');
      if (i > 0) hdrs[line.slice(0, i).trim().toLowerCase()] = line.slice(i + 1).trim();
    }
    const cd = hdrs['content-disposition'] || '';
    const name = headerParam(cd, 'name');
    const filename = headerParam(cd, 'filename');
    const rec = { name, size: content.length, sha256: C.sha256(content) };
    if (filename !== null) parts.push({ name, filename, content_type: hdrs['content-type'] ?? null, ...rec });
    else fields.push({ name, value: content.toString('utf8'), ...rec });
    pos = next + 2;
  }
  return { parts, fields };
}

// ---------------------------------------------------------------------------
// Ranged downloads: resources served at fixed URL paths (the same URL for every piece; the
// request's tag comes in an X-Harness-Tag request header).

const LAST_MODIFIED = 'Mon, 02 Sep 2024 10:00:00 GMT';
const RESOURCES = {
  '/range/big.bin': { size: 300000, content_type: 'application/octet-stream' },
  '/range/partial.bin': { size: 120000, content_type: 'application/octet-stream' },
};
const resCache = new Map();

export const RANGE_PATHS = Object.keys(RESOURCES);

/** { resource, body, size, sha256, etag, last_modified, content_type } of a range path, or null. */
export function rangeResource(p) {
  const def = RESOURCES[p];
  if (!def) return null;
  if (!resCache.has(p)) {
    const body = C.randomBytes(`evidence:${p}`, def.size);
    const sha256 = C.sha256(body);
    resCache.set(p, {
      resource: p,
      body,
      size: body.length,
      sha256,
      etag: `"${sha256.slice(0, 16)}"`,
      last_modified: LAST_MODIFIED,
      content_type: def.content_type,
    });
  }
  return resCache.get(p);
}

/**
 * Parse a Range header against a total size: null when there is none or it is not a bytes
 * range (the whole resource is served), 'unsatisfiable' when no range fits, else
 * [{start, end}] (end inclusive, clipped to total - 1), in the order given, never merged.
 */
export function parseRange(header, total) {
  if (!header) return null;
  const m = /^\s*bytes\s*=\s*(.+)$/i.exec(header);
  if (!m) return null;
  const out = [];
  for (const spec of m[1].split(',')) {
    const r = /^\s*(\d*)\s*-\s*(\d*)\s*$/.exec(spec);
    if (!r || (r[1] === '' && r[2] === '')) return null; // malformed: ignore the header
    let start;
    let end;
    if (r[1] === '') {
      const n = Number(r[2]);
      if (n === 0) continue;
      start = Math.max(0, total - n);
      end = total - 1;
    } else {
      start = Number(r[1]);
      end = r[2] === '' ? total - 1 : Math.min(Number(r[2]), total - 1);
      if (r[2] !== '' && Number(r[2]) < start) return null;
      if (start >= total) continue;
    }
    out.push({ start, end });
  }
  return out.length ? out : 'unsatisfiable';
}

const BYTERANGES_BOUNDARY = 'XH_BYTERANGES_3d6f0a19';

/**
 * The server's answer for GET/HEAD of a range resource: a route spec (see server.js) with,
 * for a 206, spec.range = the truth record's `range` field:
 *   { resource, etag, start, end, total, multipart, ranges: [{ start, end, size, sha256 }] }
 * For a single range start/end are that range's; for multipart/byteranges they span the
 * lowest and the highest byte sent and `ranges` lists the pieces.
 */
export function rangeSpec(res, headers) {
  const common = { 'Accept-Ranges': 'bytes', ETag: res.etag, 'Last-Modified': res.last_modified };
  const ifRange = headers['if-range'];
  let ranges = parseRange(headers.range, res.size);
  if (ifRange && ifRange !== res.etag && ifRange !== res.last_modified) ranges = null;
  if (ranges === null) {
    return { status: 200, ct: res.content_type, body: res.body, transfer: 'length', extra: common, evidence: 'range' };
  }
  if (ranges === 'unsatisfiable') {
    return {
      status: 416,
      ct: null,
      body: Buffer.alloc(0),
      transfer: 'length',
      extra: { ...common, 'Content-Range': `bytes */${res.size}` },
      evidence: 'range',
    };
  }
  const pieces = ranges.map(({ start, end }) => {
    const b = res.body.subarray(start, end + 1);
    return { start, end, size: b.length, sha256: C.sha256(b), b };
  });
  const range = {
    resource: res.resource,
    etag: res.etag,
    start: Math.min(...ranges.map((r) => r.start)),
    end: Math.max(...ranges.map((r) => r.end)),
    total: res.size,
    multipart: ranges.length > 1,
    ranges: pieces.map(({ b, ...p }) => p),
  };
  if (ranges.length === 1) {
    const [p] = pieces;
    return {
      status: 206,
      ct: res.content_type,
      body: Buffer.from(p.b),
      transfer: 'length',
      extra: { ...common, 'Content-Range': `bytes ${p.start}-${p.end}/${res.size}` },
      range,
      evidence: 'range',
    };
  }
  const chunks = [];
  for (const p of pieces) {
    chunks.push(
      Buffer.from(
        `\r\n--${BYTERANGES_BOUNDARY}\r\nContent-Type: ${res.content_type}\r\n` +
          `Content-Range: bytes ${p.start}-${p.end}/${res.size}\r\n\r\n`,
        'latin1',
      ),
      p.b,
    );
  }
  chunks.push(Buffer.from(`\r\n--${BYTERANGES_BOUNDARY}--\r\n`, 'latin1'));
  return {
    status: 206,
    ct: `multipart/byteranges; boundary=${BYTERANGES_BOUNDARY}`,
    body: Buffer.concat(chunks),
    transfer: 'length',
    extra: common,
    range,
    evidence: 'range',
  };
}

/** Merge [start, end] (inclusive) intervals: sorted, overlapping or adjacent ones joined. */
function mergeIntervals(list) {
  const s = [...list].sort((a, b) => a[0] - b[0]);
  const out = [];
  for (const [a, b] of s) {
    const last = out[out.length - 1];
    if (last && a <= last[1] + 1) last[1] = Math.max(last[1], b);
    else out.push([a, b]);
  }
  return out;
}

/**
 * The truth document's `resources` list: every range resource some 206 record of `truth`
 * fetched, [{ resource, etag, last_modified, content_type, size, sha256, fetched, complete }];
 * fetched = the byte intervals [start, end] (inclusive) the 206 responses together delivered,
 * merged; complete = whether they cover the whole resource.
 */
export function resourcesOf(truth) {
  const seen = new Map();
  for (const t of truth) {
    if (!t.range || t.status_code !== 206) continue;
    const r = rangeResource(t.range.resource);
    if (!r) continue;
    if (!seen.has(r.resource)) seen.set(r.resource, []);
    for (const p of t.range.ranges) seen.get(r.resource).push([p.start, p.end]);
  }
  return [...seen].map(([p, iv]) => {
    const r = rangeResource(p);
    const fetched = mergeIntervals(iv);
    return {
      resource: r.resource,
      etag: r.etag,
      last_modified: r.last_modified,
      content_type: r.content_type,
      size: r.size,
      sha256: r.sha256,
      fetched,
      complete: fetched.length === 1 && fetched[0][0] === 0 && fetched[0][1] === r.size - 1,
    };
  });
}

// ---------------------------------------------------------------------------
// Declared type vs real type: /<tag>/mismatch/<file>.

const MISMATCH = {
  // a Windows executable declared as a JPEG
  'photo.jpg': {
    ct: 'image/jpeg',
    real_type: 'application/x-msdownload',
    body: () => C.pe('evidence:photo.jpg', 0x1000),
  },
  // a PNG declared as opaque bytes
  'blob.bin': { ct: 'application/octet-stream', real_type: 'image/png', body: () => C.png('evidence:blob.bin') },
  // a ZIP declared as text
  'notes.txt': {
    ct: 'text/plain',
    real_type: 'application/zip',
    body: () =>
      C.zip([
        ['readme.txt', C.text('evidence:zip:readme', 900)],
        ['data/blob.bin', C.randomBytes('evidence:zip:blob', 2000)],
      ]),
  },
};

/** Route spec of /<tag>/mismatch/<file>, or null. spec.real_type is what the bytes are. */
export function mismatchSpec(file) {
  const m = MISMATCH[file];
  if (!m) return null;
  return {
    status: 200,
    ct: m.ct,
    body: m.body(),
    transfer: 'length',
    real_type: m.real_type,
    evidence: 'type-mismatch',
  };
}

// ---------------------------------------------------------------------------
// Hostile names. URL paths sent as-is (curl --path-as-is), the tag in an X-Harness-Tag
// request header; and Content-Disposition filenames at /<tag>/attach/<kind>.

const LONG_NAME = (() => {
  const base = 'long-name-';
  let s = base;
  for (let i = 0; s.length < 296; i++) s += 'abcdefghijklmnopqrstuvwxyz0123456789'[i % 36];
  return `${s}.txt`; // 300 characters
})();

export const HOSTILE_PATHS = [
  '/../../escape.txt',
  '/..%2f..%2fescape2.txt',
  '/CON',
  '/a%5Cb%5C..%5C..%5Cc.txt',
  `/${LONG_NAME}`,
];

/** Route spec of an untagged hostile path (the raw request target): small distinct text. */
export function hostileSpec(rawUrl) {
  const head = `extract-http harness: body of the hostile path ${rawUrl}\n`;
  const filler = C.text(`evidence:hostile:${rawUrl}`, 200 + (C.seedOf(rawUrl) % 300));
  const body = Buffer.concat([Buffer.from(head, 'latin1'), filler]);
  return { status: 200, ct: 'text/plain; charset=utf-8', body, transfer: 'length', evidence: 'hostile-name' };
}

const DISPOSITIONS = {
  dotdot: { header: 'attachment; filename="../../evil.sh"', filename: '../../evil.sh' },
  absolute: { header: 'attachment; filename="/etc/shadow"', filename: '/etc/shadow' },
  rfc5987: { header: "attachment; filename*=UTF-8''..%2F..%2Fx.bin", filename: '../../x.bin' },
};
export const DISPOSITION_KINDS = Object.keys(DISPOSITIONS);

/**
 * Route spec of /<tag>/attach/<kind>: a small distinct body with a hostile
 * Content-Disposition filename. spec.disposition = the truth's content_disposition field:
 * { header (as sent), filename (the decoded filename it names) }.
 */
export function dispositionSpec(kind, p) {
  const d = DISPOSITIONS[kind];
  if (!d) return null;
  const script = `#!/bin/sh\n# extract-http harness ${p}\necho "this file must not land outside the output folder"\n`;
  const filler = () => C.randomBytes(`evidence:attach:${p}`, 300 + DISPOSITION_KINDS.indexOf(kind) * 111);
  const body = kind === 'dotdot'
    ? Buffer.from(script, 'latin1')
    : Buffer.concat([Buffer.from(`extract-http harness ${p}\n`, 'latin1'), filler()]);
  return {
    status: 200,
    ct: kind === 'dotdot' ? 'application/x-sh' : 'application/octet-stream',
    body,
    transfer: 'length',
    extra: { 'Content-Disposition': d.header },
    disposition: { header: d.header, filename: d.filename },
    evidence: 'hostile-disposition',
  };
}
