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

test('files put in place by the worker land whole, in new folders, and renamed files move', async () => {
  const hw = new HashWriter();
  const dir = tmp();
  const waits = [];
  const bodies = [];
  for (let i = 0; i < 500; i++) {
    // Small bodies (copied), a large one that owns its buffer (transferred) and pool slices.
    const data = i === 7 ? Buffer.from(randomBytes(300 * 1024)) : Buffer.from(`body ${i} `.repeat(i % 13));
    bodies.push(Buffer.from(data));
    waits.push(hw.place(i % 50 === 0 ? join(dir, `d${i}`, 'sub') : null, join(dir, `d${i - (i % 50)}`, 'sub', `f${i}`), data, null));
  }
  const from = join(dir, 'spilled');
  writeFileSync(from, 'spilled bytes');
  waits.push(hw.place(null, join(dir, 'd0', 'sub', 'renamed'), null, from));
  await Promise.all(waits);
  assert.equal(bodies[7].length, 300 * 1024);
  for (let i = 0; i < 500; i++) assert.ok(readFileSync(join(dir, `d${i - (i % 50)}`, 'sub', `f${i}`)).equals(bodies[i]), `file ${i}`);
  assert.equal(readFileSync(join(dir, 'd0', 'sub', 'renamed'), 'utf8'), 'spilled bytes');
  assert.equal(hw.failure, null);
  await assert.rejects(hw.place(null, join(dir, 'nowhere', 'x'), Buffer.from('x'), null), /ENOENT/);
  assert.equal(hw.failure?.code, 'ENOENT', 'a file that cannot be placed stops the run');
  await hw.close();
});

test('the worker finds a body\'s type from its first bytes', async () => {
  const hw = new HashWriter();
  const png = Buffer.from('89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c4890000000d4944415478da63f8ffff3f0005fe02fea7d6a4f00000000049454e44ae426082', 'hex');
  assert.deepEqual(await hw.sniff(png), { mime: 'image/png', ext: 'png' });
  assert.deepEqual(await hw.sniff(Buffer.from('<!DOCTYPE html><html><body>hi</body></html>')), { mime: 'text/html', ext: 'html' });
  assert.equal(await hw.sniff(Buffer.from([0, 1, 2, 3, 0xff, 0xfe, 7, 8])), null);
  await hw.close();
});

test('direct and plain writes give the same files, whatever the sizes and however many bodies are open', async () => {
  const W = 256 * 1024;
  // Lengths of each body's writes: whole buffers then a tail, a lone short write, block edges, and
  // a short write followed by more (direct I/O cannot take it; the rest must go the plain way).
  const shapes = [[1], [4095], [4096], [4097], [W], [W, 1], [W, W, W, 17], [W, W - 4096], [1000, W, 5], [W, 3, W], [W, 0, W]];
  const dir = tmp();
  const results = {};
  for (const directIo of [true, false]) {
    const hw = new HashWriter({ directIo });
    const ends = [];
    const datas = [];
    // 4 copies of every shape, their writes interleaved: more bodies in flight than the worker has slots.
    const bodies = [];
    for (let copy = 0; copy < 4; copy++) for (const [i, shape] of shapes.entries()) bodies.push({ name: `${directIo}-${i}-${copy}`, shape });
    const spills = bodies.map((b) => hw.spill(join(dir, b.name), ['md5']));
    const longest = Math.max(...shapes.map((s) => s.length));
    for (const b of bodies) b.data = [];
    for (let step = 0; step < longest; step++) {
      bodies.forEach((b, k) => {
        const len = b.shape[step];
        if (len === undefined) return;
        const bytes = randomBytes(len);
        b.data.push(bytes);
        const buf = HashWriter.buffer(Math.max(len, 1));
        bytes.copy(buf);
        spills[k].write(buf, len);
      });
    }
    for (const [k, b] of bodies.entries()) {
      ends.push(spills[k].end());
      datas.push(Buffer.concat(b.data));
    }
    const digests = await Promise.all(ends);
    for (const [k, b] of bodies.entries()) {
      const onDisk = readFileSync(join(dir, b.name));
      assert.equal(onDisk.length, datas[k].length, `${b.name} size`);
      assert.ok(onDisk.equals(datas[k]), `${b.name} bytes`);
      assert.equal(digests[k].sha256, createHash('sha256').update(datas[k]).digest('hex'));
      assert.equal(digests[k].md5, createHash('md5').update(datas[k]).digest('hex'));
    }
    results[directIo] = hw.directFiles;
    assert.equal(hw.failure, null);
    await hw.close();
  }
  assert.equal(results.false, 0, 'no direct writes when they are turned off');
  // /tmp on the machines this runs on takes O_DIRECT (ext4, or tmpfs since Linux 6.6).
  assert.equal(results.true, shapes.length * 4, 'every body went direct where the filesystem allows it');
});
