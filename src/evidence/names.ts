import { statSync } from 'node:fs';
import mime from 'mime-types';

/**
 * File names from hostile input (Host headers, URL paths). Every piece is reduced to a safe
 * path segment, so no name can climb out of the output folder, whatever the URL says.
 */

const MAX_SEGMENT_BYTES = 100;
const MAX_DEPTH = 8;
const WINDOWS_RESERVED = /^(con|prn|aux|nul|com[0-9]|lpt[0-9])(\..*)?$/i;

/** One safe path segment: no separators, no control characters, never "." or "..". */
export function safeSegment(raw: string): string {
  let s = raw
    .replace(/[\u0000-\u001f\u007f]/g, '_')
    .replace(/[/\\:*?"<>|]/g, '_')
    .replace(/^[\s.]+|[\s.]+$/g, (m) => '_'.repeat(Math.min(m.length, 1)));
  if (s === '' || s === '_') s = '_';
  if (WINDOWS_RESERVED.test(s)) s = `_${s}`;
  return truncateBytes(s, MAX_SEGMENT_BYTES);
}

/** Cuts a segment to `max` UTF-8 bytes, keeping a short extension and never splitting a character. */
export function truncateBytes(s: string, max: number): string {
  if (Buffer.byteLength(s) <= max) return s;
  const dot = s.lastIndexOf('.');
  const ext = dot > 0 && s.length - dot <= 10 ? s.slice(dot) : '';
  // Cut once at the byte budget, then back to a character boundary: a name of megabytes from
  // the network must cost one pass, not one per character dropped.
  const budget = Math.max(0, max - Buffer.byteLength(ext) - 1);
  const bytes = Buffer.from(s.slice(0, s.length - ext.length));
  let end = Math.min(budget, bytes.length);
  while (end > 0 && end < bytes.length && (bytes[end] & 0xc0) === 0x80) end--;
  return `${bytes.toString('utf8', 0, end)}~${ext}`;
}

function decode(seg: string): string {
  try {
    return decodeURIComponent(seg);
  } catch {
    return seg;
  }
}

/** The path part of a request target, as safe segments; "index" stands for a directory URL. */
export function pathSegments(uri: string): string[] {
  let path = uri;
  const abs = /^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i.exec(path);
  if (abs) path = path.slice(abs[0].length);
  path = path.split(/[?#]/, 1)[0];
  // Split on both separators before and after decoding: "%2f" and "\" must not make directories appear from nowhere.
  const segs = path.split('/').flatMap((s) => decode(s).split(/[/\\]/)).filter((s) => s !== '' && s !== '.' && s !== '..');
  const endsInDir = path === '' || path.endsWith('/');
  if (endsInDir || segs.length === 0) segs.push('index');
  const safe = segs.map(safeSegment);
  if (safe.length > MAX_DEPTH) return [...safe.slice(0, MAX_DEPTH - 1), safe.slice(MAX_DEPTH - 1).join('_')].map((s) => truncateBytes(s, MAX_SEGMENT_BYTES));
  return safe;
}

/** The last part of a URL's path as the client sent it (percent-decoded), or null for a directory URL. */
export function urlFileName(uri: string): string | null {
  const path = uri.replace(/^[a-z][a-z0-9+.-]*:\/\/[^/?#]*/i, '').split(/[?#]/, 1)[0];
  const last = path.slice(path.lastIndexOf('/') + 1);
  return last ? decode(last) : null;
}

/** A folder name for the server: the Host header without its port's colon, else the address. */
export function hostSegment(host: string | undefined, serverIp: string, serverPort: number): string {
  let h = (host ?? '').trim().toLowerCase();
  if (!h) h = serverPort === 80 ? serverIp : `${serverIp}_${serverPort}`;
  else h = h.replace(/^\[([^\]]*)\](?::(\d+))?$/, (_m, a: string, p?: string) => (p ? `${a}_${p}` : a)).replace(/:(\d+)$/, '_$1');
  return safeSegment(h.replace(/:/g, '_'));
}

/** The extension a content type calls for, or null when it names none we know. */
export function extensionFor(contentType: string | undefined): string | null {
  if (!contentType) return null;
  const ext = mime.extension(contentType);
  return ext || null;
}

/** Appends the content type's extension unless the name already carries one of that type. */
export function withExtension(name: string, contentType: string | undefined): string {
  const ext = extensionFor(contentType);
  if (!ext) return name;
  const type = mime.contentType(contentType ?? '') ? String(contentType).split(';')[0].trim().toLowerCase() : '';
  const own = mime.lookup(name);
  if (own && own === type) return name;
  const exts = type ? mime.extensions[type] ?? [] : [];
  const dot = name.lastIndexOf('.');
  if (dot > 0 && exts.includes(name.slice(dot + 1).toLowerCase())) return name;
  return truncateBytes(`${name}.${ext}`, MAX_SEGMENT_BYTES + ext.length + 1);
}

/** A file name a sender gave (Content-Disposition, a multipart part): its last component, made safe; null when it has none. */
export function givenName(raw: string | null | undefined): string | null {
  const last = raw?.split(/[/\\]/).filter((s) => s !== '' && s !== '.' && s !== '..').pop();
  return last ? safeSegment(last) : null;
}

/** "big.bin" with ".bytes-0-99" becomes "big.bytes-0-99.bin": a tag that keeps the name's extension last. */
export function tagName(name: string, tag: string): string {
  const dot = name.lastIndexOf('.');
  return dot > 0 && name.length - dot <= 10 ? `${name.slice(0, dot)}.${tag}${name.slice(dot)}` : `${name}.${tag}`;
}

/** Names whose kind is remembered before asking the disk again. */
const KNOWN_CACHE = 50_000;
/** Names held for folders this run made; past this, those folders are asked of the disk again. */
const FRESH_CACHE = 100_000;

type Kind = 'file' | 'dir';

/**
 * Hands out unique relative paths under `root`. A path is never given twice, and a name is
 * never both a file and a folder ("/a" and "/a/b" both exist on the web). The disk is the
 * record of what is taken; memory holds names not yet on disk (`reserve` to `settle`), the
 * full contents of folders this run made (they were empty, so nothing else can be in them:
 * no stat per file), and a bounded cache, so a capture with millions of files does not grow
 * the heap.
 */
export class NameReserver {
  /** Files reserved and not yet on disk. */
  private readonly inFlight = new Set<string>();
  /** Folders on the way of a file not yet on disk, with how many such files. */
  private readonly pinned = new Map<string, number>();
  private known = new Map<string, Kind>();
  /** Folders this run made, with every name it put in them. */
  private fresh = new Map<string, Map<string, Kind>>();
  private freshNames = 0;

  constructor(private readonly root: string) {}

  reserve(dirs: string[], file: string): string {
    let parent = '';
    for (const d of dirs) {
      let name = d;
      let k: Kind | null;
      for (let n = 2; (k = this.kind(parent, name)) === 'file'; n++) name = `${d}~${n}`;
      const path = parent ? `${parent}/${name}` : name;
      if (k === null) {
        this.add(parent, name, 'dir');
        this.fresh.set(path, new Map());
      }
      this.remember(path, 'dir');
      this.pinned.set(path, (this.pinned.get(path) ?? 0) + 1);
      parent = path;
    }
    let name = file;
    const dot = file.lastIndexOf('.');
    const stem = dot > 0 ? file.slice(0, dot) : file;
    const ext = dot > 0 ? file.slice(dot) : '';
    for (let n = 2; this.kind(parent, name) !== null; n++) name = `${stem}~${n}${ext}`;
    const path = parent ? `${parent}/${name}` : name;
    this.add(parent, name, 'file');
    this.inFlight.add(path);
    this.remember(path, 'file');
    return path;
  }

  /** The file is on disk now (or will never be): the disk answers for it from here on. */
  settle(path: string): void {
    if (!this.inFlight.delete(path)) return;
    for (let at = path.lastIndexOf('/'); at > 0; at = path.lastIndexOf('/', at - 1)) {
      const dir = path.slice(0, at);
      const n = (this.pinned.get(dir) ?? 1) - 1;
      if (n > 0) this.pinned.set(dir, n);
      else this.pinned.delete(dir);
    }
  }

  private kind(parent: string, name: string): Kind | null {
    const path = parent ? `${parent}/${name}` : name;
    if (this.inFlight.has(path)) return 'file';
    if (this.pinned.has(path)) return 'dir';
    const f = this.fresh.get(parent);
    if (f) return f.get(name) ?? null;
    const k = this.known.get(path);
    if (k) return k;
    const st = statSync(`${this.root}/${path}`, { throwIfNoEntry: false });
    return st ? (st.isDirectory() ? 'dir' : 'file') : null;
  }

  /** A name this run puts in `parent`, if that is a folder it made. */
  private add(parent: string, name: string, kind: Kind): void {
    const f = this.fresh.get(parent);
    if (!f) return;
    if (++this.freshNames > FRESH_CACHE) {
      this.fresh = new Map();
      this.freshNames = 0;
      return;
    }
    f.set(name, kind);
  }

  private remember(path: string, kind: Kind): void {
    if (this.known.size >= KNOWN_CACHE) this.known = new Map();
    this.known.set(path, kind);
  }
}
