import * as crypto from 'node:crypto';
import { createHash, type Hash } from 'node:crypto';

/** Hashes a recovered file can carry besides sha256, which it always does. */
export type ExtraHash = 'md5' | 'sha1';

/** The hex digests of one run of bytes: sha256 always, the extra ones when asked for. */
export interface DigestSet {
  sha256: string;
  md5?: string;
  sha1?: string;
}

/** sha256 always, and the extra hashes asked for, over the same bytes. */
export class Digests {
  private readonly sha256 = createHash('sha256');
  private readonly extra: Array<[ExtraHash, Hash]>;

  constructor(extra: readonly ExtraHash[]) {
    this.extra = extra.map((h) => [h, createHash(h)]);
  }

  update(b: Buffer): void {
    this.sha256.update(b);
    for (const [, h] of this.extra) h.update(b);
  }

  /** The digests of bytes held whole: one call per hash, no hash objects (most bodies are small). */
  static of(b: Buffer, extra: readonly ExtraHash[]): DigestSet {
    if (extra.length > 0 || oneShot === undefined) {
      const d = new Digests(extra);
      d.update(b);
      return d.digest();
    }
    return { sha256: oneShot('sha256', b, 'hex') };
  }

  digest(): DigestSet {
    const out: DigestSet = { sha256: this.sha256.digest('hex') };
    for (const [name, h] of this.extra) out[name] = h.digest('hex');
    return out;
  }
}

/** crypto.hash (Node 20.12 and later): ~1.4 µs for a 2 KB body against ~2.4 µs through createHash. */
const oneShot = (crypto as { hash?: (algorithm: string, data: Buffer, encoding: 'hex') => string }).hash;
