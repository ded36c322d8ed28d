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

  digest(): DigestSet {
    const out: DigestSet = { sha256: this.sha256.digest('hex') };
    for (const [name, h] of this.extra) out[name] = h.digest('hex');
    return out;
  }
}
