// The worker that hashes and writes large bodies: exact bytes and digests, and a failure that
// reaches the run instead of vanishing in the thread.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { HashWriter } from '../../dist/evidence/hash-writer.js';
import { tmp } from '../helpers.js';

test('bytes handed over in pieces are written in order and hashed with every hash asked for', async () => {
  const hw = new HashWriter();
  const dir = tmp();
  const path = join(dir, 'body');
  const data = randomBytes(3 * 256 * 1024 + 1234);
  const spill = hw.spill(path, ['md5', 'sha1']);
  for (let at = 0; at < data.length; at += 256 * 1024) {
    const piece = data.subarray(at, at + 256 * 1024);
    const buf = HashWriter.buffer(256 * 1024);
    piece.copy(buf);
    spill.write(buf, piece.length);
    assert.equal(buf.buffer.byteLength, 0, 'the buffer was transferred, not copied');
  }
  const d = await spill.end();
  assert.ok(readFileSync(path).equals(data));
  for (const h of ['sha256', 'md5', 'sha1']) assert.equal(d[h], createHash(h).update(data).digest('hex'));
  const file = join(dir, 'capture');
  writeFileSync(file, data.subarray(0, 5000));
  assert.equal(await hw.hashFile(file), createHash('sha256').update(data.subarray(0, 5000)).digest('hex'));
  assert.equal(await hw.hashFile(join(dir, 'missing')), null);
  await hw.close();
});

test('a write that fails is the run\'s failure, and the body\'s end says so', async () => {
  const hw = new HashWriter();
  const spill = hw.spill(join(tmp(), 'no', 'such', 'folder', 'body'), []);
  const buf = HashWriter.buffer(16);
  spill.write(buf, 16);
  await assert.rejects(spill.end(), /ENOENT/);
  assert.match(hw.failure?.message ?? '', /ENOENT/);
  assert.equal(hw.failure.code, 'ENOENT');
  await hw.close();
});
