// Names from the network are hostile: every one must land inside files/ under a readable name.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, writeFileSync, readdirSync, statSync } from 'node:fs';
import { join, resolve, sep } from 'node:path';
import { hostSegment, pathSegments, withExtension, NameReserver, safeSegment } from '../../dist/evidence/names.js';
import { tmp } from '../helpers.js';

const HOSTILE = [
  '/../../../etc/passwd',
  '/..%2f..%2f..%2fetc%2fpasswd',
  '/%2e%2e/%2e%2e/secret',
  '/a/..\\..\\..\\windows\\win.ini',
  'http://evil/../../x',
  '/abs//etc/shadow',
  '/nul%00byte.txt',
  `/${'A'.repeat(300)}.html`,
  '/CON', '/aux.txt', '/./.', '/..', '/', '',
  '/%c0%ae%c0%ae/x', '/\u202Egnp.exe',
];

test('hostile URL paths become safe segments that never climb out', () => {
  for (const uri of HOSTILE) {
    const segs = pathSegments(uri);
    assert.ok(segs.length >= 1 && segs.length <= 8, uri);
    for (const s of segs) {
      assert.ok(s.length > 0, `${uri}: empty segment`);
      assert.ok(s !== '.' && s !== '..', `${uri}: dot segment`);
      assert.doesNotMatch(s, /[/\\\0]/, `${uri}: separator or NUL in ${JSON.stringify(s)}`);
      assert.ok(Buffer.byteLength(s) <= 110, `${uri}: segment too long`);
      assert.doesNotMatch(s, /^(con|prn|aux|nul|com\d|lpt\d)(\.|$)/i, `${uri}: reserved name ${s}`);
    }
  }
  assert.deepEqual(pathSegments('/images/logo.png?v=1'), ['images', 'logo.png']);
  assert.deepEqual(pathSegments('/docs/'), ['docs', 'index']);
  assert.deepEqual(pathSegments('/..%2f..%2fetc%2fpasswd'), ['etc', 'passwd']);
});

test('Host headers become one safe folder name', () => {
  assert.equal(hostSegment('Example.COM:8080', '1.2.3.4', 8080), 'example.com_8080');
  assert.equal(hostSegment('[::1]:80', '::1', 80), '__1_80');
  assert.equal(hostSegment(undefined, '10.0.0.2', 80), '10.0.0.2');
  assert.equal(hostSegment(undefined, '10.0.0.2', 8000), '10.0.0.2_8000');
  for (const h of ['../..', '..', '/etc', 'a/b\\c', '\0']) {
    const s = hostSegment(h, '1.1.1.1', 80);
    assert.ok(s !== '..' && s !== '.' && !/[/\\\0]/.test(s), `${h} -> ${s}`);
  }
});

test('extensions follow the content type, without doubling one that fits', () => {
  assert.equal(withExtension('logo.png', 'image/png'), 'logo.png');
  assert.equal(withExtension('photo.jpeg', 'image/jpeg'), 'photo.jpeg');
  assert.equal(withExtension('download.php', 'application/pdf'), 'download.php.pdf');
  assert.equal(withExtension('index', 'text/html; charset=utf-8'), 'index.html');
  assert.equal(withExtension('data', undefined), 'data');
});

test('reserved names are unique, and a name is never both a file and a folder', () => {
  const r = new NameReserver(tmp());
  assert.equal(r.reserve(['files', 'h'], 'a.html'), 'files/h/a.html');
  assert.equal(r.reserve(['files', 'h'], 'a.html'), 'files/h/a~2.html');
  assert.equal(r.reserve(['files', 'h', 'a.html'], 'b.png'), 'files/h/a.html~2/b.png');
  assert.equal(r.reserve(['files', 'h'], 'x'), 'files/h/x');
  assert.equal(r.reserve(['files', 'h', 'x'], 'y'), 'files/h/x~2/y');
});

test('files made from every hostile name stay inside the output folder', () => {
  const out = tmp();
  const r = new NameReserver(out);
  for (const uri of HOSTILE) {
    const segs = pathSegments(uri);
    const rel = r.reserve(['files', hostSegment('../../evil', '1.1.1.1', 80), ...segs.slice(0, -1)], safeSegment(segs[segs.length - 1]));
    const abs = resolve(out, rel);
    assert.ok(abs.startsWith(resolve(out) + sep), `${uri} -> ${rel}`);
    mkdirSync(join(abs, '..'), { recursive: true });
    writeFileSync(abs, uri);
  }
  const walk = (d) => readdirSync(d).flatMap((n) => (statSync(join(d, n)).isDirectory() ? walk(join(d, n)) : [join(d, n)]));
  assert.equal(walk(out).length, HOSTILE.length, 'one file per name, none overwritten');
});

test('names stay unique once written files leave memory: the disk answers for them', () => {
  const out = tmp();
  const r = new NameReserver(out);
  const a = r.reserve(['files', 'h'], 'x.txt');
  mkdirSync(join(out, 'files', 'h'), { recursive: true });
  writeFileSync(join(out, a), 'one');
  r.settle(a);
  const fresh = new NameReserver(out); // nothing in memory at all
  assert.equal(fresh.reserve(['files', 'h'], 'x.txt'), 'files/h/x~2.txt');
  assert.equal(fresh.reserve(['files', 'h', 'x.txt'], 'y'), 'files/h/x.txt~2/y');
});

test('a folder not yet on disk is never taken by a file, and a file not yet on disk by a folder', () => {
  const out = tmp();
  const r = new NameReserver(out);
  // Nothing is written: both names are only reserved, as while the worker has them in hand.
  assert.equal(r.reserve(['files', 'h', 'a'], 'x'), 'files/h/a/x');
  assert.equal(r.reserve(['files', 'h'], 'a'), 'files/h/a~2');
  assert.equal(r.reserve(['files', 'h', 'a~2'], 'y'), 'files/h/a~2~2/y');
  // Once settled and on disk, the disk answers for a reserver that never saw them.
  mkdirSync(join(out, 'files', 'h', 'a'), { recursive: true });
  writeFileSync(join(out, 'files', 'h', 'a~2'), '');
  const later = new NameReserver(out);
  assert.equal(later.reserve(['files', 'h'], 'a'), 'files/h/a~3');
  assert.equal(later.reserve(['files', 'h', 'a~2'], 'z'), 'files/h/a~2~2/z');
});

test('folders this run made are known whole: names in them are unique without asking the disk', () => {
  const out = tmp();
  const r = new NameReserver(out);
  const seen = new Set();
  for (let i = 0; i < 3000; i++) {
    const p = r.reserve(['files', `h${i % 7}`, `c${i % 100}`], i % 3 ? 't0.html' : 'index');
    assert.ok(!seen.has(p), p);
    seen.add(p);
    r.settle(p);
  }
  // A file someone else put in a folder this run made is not seen: the folder was empty when made.
  assert.equal(r.reserve(['files', 'h0', 'c0'], 't0.html'), `files/h0/c0/t0~${[...seen].filter((p) => p.startsWith('files/h0/c0/t0')).length + 1}.html`);
});

test('names of megabytes from the network are cut in one pass, at a character boundary', { timeout: 30_000 }, () => {
  const segs = pathSegments(`/${'u'.repeat(4 << 20)}/${'é'.repeat(1 << 20)}.png`);
  assert.equal(segs.length, 2);
  for (const s of segs) assert.ok(Buffer.byteLength(s) <= 100, s.length);
  assert.ok(segs[1].endsWith('~.png') && !segs[1].includes('\ufffd'), segs[1].slice(-10));
  assert.equal(hostSegment('h'.repeat(1 << 20), '1.1.1.1', 80).length, 100);
});
