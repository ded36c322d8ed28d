import type { Progress } from './extract.js';

const BAR = 24;

/**
 * The progress line on a terminal's stderr: a bar of the input read, MB/s, time left, and the
 * transactions and files so far. Redrawn in place; erased before anything else is printed.
 */
export class ProgressBar {
  private shown = false;

  constructor(private readonly out: NodeJS.WriteStream = process.stderr) {}

  update(p: Progress): void {
    const width = Math.max(40, Math.min(120, this.out.columns || 80));
    const mbps = p.seconds > 0 ? p.inputBytes / 1e6 / p.seconds : 0;
    const counts = `${p.transactions.toLocaleString('en-US')} transactions, ${p.files.toLocaleString('en-US')} files`;
    let line: string;
    if (p.inputTotal) {
      const frac = Math.min(1, p.inputBytes / p.inputTotal);
      const left = mbps > 0 ? (p.inputTotal - p.inputBytes) / 1e6 / mbps : NaN;
      const full = Math.round(frac * BAR);
      line = `[${'#'.repeat(full)}${'-'.repeat(BAR - full)}] ${(frac * 100).toFixed(0).padStart(3)}%  ${size(p.inputBytes)} of ${size(p.inputTotal)}  ` +
        `${mbps.toFixed(0).padStart(4)} MB/s  ETA ${clock(left)}  ${counts}`;
    } else {
      line = `${size(p.inputBytes)} read, ${mbps.toFixed(0)} MB/s, ${clock(p.seconds)}  ${counts}`;
    }
    this.out.write(`\r${line.slice(0, width - 1)}\x1b[K`);
    this.shown = true;
  }

  /** Erases the line, so that a warning or the summary starts at the left margin. */
  clear(): void {
    if (this.shown) this.out.write('\r\x1b[K');
    this.shown = false;
  }
}

function size(n: number): string {
  if (n < 1e9) return `${(n / 1e6).toFixed(1)} MB`;
  return `${(n / 1e9).toFixed(2)} GB`;
}

function clock(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--:--';
  const m = Math.floor(s / 60);
  const h = Math.floor(m / 60);
  const ss = String(Math.floor(s % 60)).padStart(2, '0');
  return h > 0 ? `${h}:${String(m % 60).padStart(2, '0')}:${ss}` : `${m}:${ss}`;
}
