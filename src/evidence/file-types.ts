import mime from 'mime-types';

/**
 * A body's real type, from its first bytes. Binary formats come from `file-type` (maintained,
 * 150+ signatures, zip- and OLE-based documents told apart); it knows no text formats, so the
 * few that matter to a reviewer (HTML, XML, SVG, JSON, plain text) are told here.
 */

/** Bytes of a body's start that sniffing reads: what file-type needs for every format it knows. */
export const SNIFF_BYTES = 4100;

export interface SniffedType {
  mime: string;
  ext: string;
}

/** file-type, loaded once, on first use or preloadSniffer: only the worker sniffs, and loading it costs ~60 to 100 ms. */
let fileType: Promise<typeof import('file-type')> | null = null;
const loadFileType = (): Promise<typeof import('file-type')> => (fileType ??= import('file-type'));

/** Starts loading file-type now, so the first body does not wait for it. */
export function preloadSniffer(): void {
  // A failure to load is met again, and caught, by the first sniff.
  loadFileType().catch(() => {});
}

export async function sniffType(head: Buffer): Promise<SniffedType | null> {
  if (head.length === 0) return null;
  try {
    const t = await loadFileType().then((m) => m.fileTypeFromBuffer(head));
    if (t) return { mime: t.mime, ext: t.ext };
  } catch {
    // A damaged body can trip a parser inside file-type: then it is simply of no known type.
  }
  return sniffText(head);
}

function sniffText(head: Buffer): SniffedType | null {
  let text = head.toString('utf8', head[0] === 0xef && head[1] === 0xbb && head[2] === 0xbf ? 3 : 0);
  // The last character may be cut in two by the sniffing window.
  if (text.endsWith('\ufffd')) text = text.slice(0, -1);
  if (/[\u0000-\u0008\u000e-\u001a\ufffd]/.test(text)) return null;
  const start = text.trimStart().slice(0, 512).toLowerCase();
  if (/^(<!--[\s\S]*?-->\s*)*<(!doctype html|html|head|body|script|iframe|title|meta|div|p|a|table)[\s>]/.test(start)) return { mime: 'text/html', ext: 'html' };
  if (/^<\?xml[\s\S]*<svg[\s>]/.test(start) || start.startsWith('<svg')) return { mime: 'image/svg+xml', ext: 'svg' };
  if (start.startsWith('<?xml')) return { mime: 'application/xml', ext: 'xml' };
  if (/^[{[]\s*("|\{|\[|\]|\}|-?\d|true|false|null)/.test(start)) return { mime: 'application/json', ext: 'json' };
  return { mime: 'text/plain', ext: 'txt' };
}

/** Declared types that claim nothing about the content. */
const GENERIC = new Set(['application/octet-stream', 'binary/octet-stream', 'application/binary', 'application/unknown',
  'application/x-download', 'application/force-download', 'application/download', 'unknown/unknown']);
/** Declared types no printable text can be. */
const BINARY = new Set(['application/pdf', 'application/zip', 'application/gzip', 'application/x-msdownload', 'application/x-executable',
  'application/java-archive', 'application/x-rar-compressed', 'application/vnd.rar', 'application/x-7z-compressed', 'application/msword',
  'application/x-bzip2', 'application/x-xz', 'application/wasm', 'application/x-shockwave-flash', 'application/vnd.ms-excel']);
/** Names for the same type, to their usual one. */
const ALIASES: Record<string, string> = {
  'image/jpg': 'image/jpeg', 'image/pjpeg': 'image/jpeg', 'image/x-png': 'image/png', 'image/x-icon': 'image/vnd.microsoft.icon',
  'application/x-zip-compressed': 'application/zip', 'application/x-zip': 'application/zip', 'application/x-gzip': 'application/gzip',
  'application/x-pdf': 'application/pdf', 'application/x-javascript': 'text/javascript', 'application/javascript': 'text/javascript',
  'application/x-msdos-program': 'application/x-msdownload', 'application/x-dosexec': 'application/x-msdownload',
  'application/vnd.microsoft.portable-executable': 'application/x-msdownload', 'audio/mp3': 'audio/mpeg', 'text/xml': 'application/xml',
};

/** The media type of a Content-Type value, lower case, without parameters. */
export function baseType(contentType: string | null | undefined): string | null {
  const t = contentType?.split(';', 1)[0].trim().toLowerCase();
  return t ? t : null;
}

function canonical(t: string): string {
  return ALIASES[t] ?? t;
}

function isTextual(t: string): boolean {
  return t.startsWith('text/') || /[/+](json|xml|javascript|ecmascript|x-www-form-urlencoded)$/.test(t) || t === 'image/svg+xml';
}

/**
 * Whether the declared type lies about the content: an executable as image/jpeg, HTML as an
 * image. Generic declarations (octet-stream) and one text type for another are not lies.
 */
export function typeMismatch(declared: string | null | undefined, sniffed: SniffedType | null): boolean {
  const d = baseType(declared);
  if (!d || !sniffed || GENERIC.has(d)) return false;
  const s = canonical(sniffed.mime);
  if (canonical(d) === s) return false;
  if (isTextual(d) && isTextual(s)) return false;
  // "Text" says only that the bytes are printable: scripts and documents of any text type are.
  if (s === 'text/plain') return /^(image|audio|video|font)\//.test(d) && d !== 'image/svg+xml' || BINARY.has(canonical(d));
  // Zip-based formats (docx, jar, apk, epub...) are zips to anyone who only looks at the magic.
  if (s === 'application/zip' && mime.extension(d) && /zip|openxml|opendocument|java-archive|android|epub/.test(d)) return false;
  return true;
}
