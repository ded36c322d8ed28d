// Shared helpers for the test suite: run the real CLI, open the real SQLite log.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = join(ROOT, 'bin', 'extract-http.js');
export const SAMPLES = join(ROOT, 'samples');
export const CORPUS = resolve(ROOT, '..', 'shared', 'corpus', 'suricata-verify');

export function tmp(prefix = 'xh-test-') {
  return mkdtempSync(join(tmpdir(), prefix));
}

/** Runs the command line as a user would; never throws. */
export function cli(args, opts = {}) {
  const r = spawnSync(process.execPath, [BIN, ...args], { encoding: 'utf8', timeout: 120_000, ...opts });
  return { status: r.status, signal: r.signal, stdout: r.stdout ?? '', stderr: r.stderr ?? '' };
}

export function openLog(outDir) {
  return new Database(join(outDir, 'http.sqlite'), { readonly: true });
}

export function sha256(buf) {
  return createHash('sha256').update(buf).digest('hex');
}

export function sha256File(path) {
  return sha256(readFileSync(path));
}
