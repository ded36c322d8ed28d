// Capture readers: pcap-parser, our pcap loop and our pcapng reader must agree on real files.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { openCapture } from '../../dist/capture/open.js';
import { PcapSource } from '../../dist/capture/pcap-source.js';
import { SAMPLES, tmp } from '../helpers.js';

async function collect(source) {
  const packets = [];
  const stats = await source.read((p) => {
    packets.push({ linkType: p.linkType, ts: p.ts, data: Buffer.from(p.data), origLen: p.origLen, frame: p.frame });
  }, () => undefined);
  return { packets, stats };
}

function samePackets(a, b) {
  assert.equal(a.length, b.length, 'packet count');
  for (let i = 0; i < a.length; i++) {
    assert.equal(a[i].linkType, b[i].linkType);
    assert.ok(Math.abs(a[i].ts - b[i].ts) < 1e-6, `frame ${i + 1} timestamp ${a[i].ts} vs ${b[i].ts}`);
    assert.ok(a[i].data.equals(b[i].data), `frame ${i + 1} bytes`);
    assert.equal(a[i].origLen, b[i].origLen);
    assert.equal(a[i].frame, i + 1);
  }
}

function tsharkCount(file) {
  const r = spawnSync('capinfos', ['-c', '-M', file], { encoding: 'utf8' });
  if (r.status !== 0) return null;
  return Number(/Number of packets:\s+(\d+)/.exec(r.stdout)?.[1]);
}

test('pcap (pcap-parser) and pcapng (ours) of the same capture yield identical packets', async () => {
  const pcap = await openCapture(join(SAMPLES, 'web.pcap'), undefined, 'pcap-parser');
  const ng = await openCapture(join(SAMPLES, 'web.pcapng'));
  assert.equal(pcap.format, 'pcap');
  assert.equal(ng.format, 'pcapng');
  const a = await collect(pcap);
  const b = await collect(ng);
  samePackets(a.packets, b.packets);
  const expected = tsharkCount(join(SAMPLES, 'web.pcapng'));
  if (expected !== null) assert.equal(b.stats.packets, expected, 'packet count as capinfos reports it');
  assert.deepEqual(a.stats.warnings, []);
  assert.deepEqual(b.stats.warnings, []);
});

test('our plain pcap loop agrees with pcap-parser, and reads nanosecond pcap', async (t) => {
  const file = join(SAMPLES, 'web.pcap');
  const ref = await collect(await openCapture(file, undefined, 'pcap-parser'));
  assert.equal((await openCapture(file)).constructor, PcapSource, 'the loop is the default reader of classic pcap');
  async function* chunks(buf, size) { for (let i = 0; i < buf.length; i += size) yield buf.subarray(i, i + size); }
  // Odd chunk sizes put record boundaries everywhere.
  for (const size of [1, 7, 4096, 1 << 20]) {
    const ours = await collect(new PcapSource(file, chunks(readFileSync(file), size), 'microsecond'));
    samePackets(ref.packets, ours.packets);
  }
  const dir = tmp();
  const nsec = join(dir, 'nsec.pcap');
  const r = spawnSync('editcap', ['-F', 'nsecpcap', file, nsec]);
  if (r.error) return t.skip('editcap is not installed');
  const src = await openCapture(nsec);
  assert.equal(src.format, 'pcap-nsec');
  samePackets(ref.packets, (await collect(src)).packets);
});

test('a pcapng block whose trailing length lies ends the read with a warning; earlier packets are kept', async () => {
  const bytes = Buffer.from(readFileSync(join(SAMPLES, 'web.pcapng')));
  const ref = await collect(await openCapture(join(SAMPLES, 'web.pcapng')));
  // Walk the blocks to the 50th EPB and corrupt its trailing length.
  let off = 0, epbs = 0, target = -1;
  while (off < bytes.length) {
    const type = bytes.readUInt32LE(off);
    const len = bytes.readUInt32LE(off + 4);
    if (type === 6 && ++epbs === 50) { target = off; bytes.writeUInt32LE(len + 4, off + len - 4); break; }
    off += len;
  }
  assert.ok(target > 0);
  const dir = tmp();
  const bad = join(dir, 'bad.pcapng');
  writeFileSync(bad, bytes);
  const got = await collect(await openCapture(bad));
  assert.equal(got.packets.length, 49);
  samePackets(ref.packets.slice(0, 49), got.packets);
  assert.equal(got.stats.warnings.length, 1);
  assert.equal(got.stats.warnings[0].offset, target);
  assert.match(got.stats.warnings[0].message, /trailing length/);
});

test('on a cut or corrupt pcap, the loop and pcap-parser keep the same packets and say the same', async () => {
  const whole = readFileSync(join(SAMPLES, 'web.pcap'));
  const dir = tmp();
  const cut = join(dir, 'cut.pcap');
  writeFileSync(cut, whole.subarray(0, whole.length - 700));
  const garbage = Buffer.from(whole);
  // The 40th record's captured length becomes absurd.
  let off = 24;
  for (let i = 1; i < 40; i++) off += 16 + garbage.readUInt32LE(off + 8);
  garbage.writeUInt32LE(0x7fffffff, off + 8);
  const corrupt = join(dir, 'corrupt.pcap');
  writeFileSync(corrupt, garbage);
  for (const file of [cut, corrupt]) {
    const ref = await collect(await openCapture(file, undefined, 'pcap-parser'));
    const ours = await collect(await openCapture(file));
    samePackets(ref.packets, ours.packets);
    assert.ok(ours.packets.length > 0);
    assert.deepEqual(ours.stats.warnings, ref.stats.warnings);
    assert.equal(ours.stats.warnings.length, 1);
  }
});

test('records that straddle input chunks of every size are read whole, at their offsets', async () => {
  const { PcapngSource } = await import('../../dist/capture/pcapng-source.js');
  let seed = 7;
  const rand = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
  for (const [file, make] of [
    ['web.pcap', (input) => new PcapSource('x', input, 'microsecond')],
    ['web.pcapng', (input) => new PcapngSource('x', input)],
  ]) {
    const bytes = readFileSync(join(SAMPLES, file));
    const whole = await collect(make((async function* () { yield bytes; })()));
    for (const max of [1, 13, 700, 5000, 70000]) {
      // Chunks of random sizes up to `max`: headers and records cut at every kind of place.
      const chunked = async function* () {
        for (let at = 0; at < bytes.length;) {
          const n = 1 + Math.floor(rand() * max);
          yield bytes.subarray(at, at + n);
          at += n;
        }
      };
      const offsets = [];
      const got = await collect(make(chunked()));
      samePackets(got.packets, whole.packets);
      const src = make(chunked());
      await src.read((p) => offsets.push(p.offset), () => undefined);
      const ref = [];
      await make((async function* () { yield bytes; })()).read((p) => ref.push(p.offset), () => undefined);
      assert.deepEqual(offsets, ref, `${file}, chunks up to ${max}: record offsets`);
      assert.equal(got.stats.warnings.length, 0, `${file}, chunks up to ${max}`);
    }
  }
});
