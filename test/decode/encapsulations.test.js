// Link layers, tunnels and fragments: the sample's real frames re-wrapped in each encapsulation
// must extract to exactly the sample's transactions, and undecodable packets are counted by reason.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PacketDecoder } from '../../dist/decode/decoder.js';
import { TcpSegment } from '../../dist/decode/segment.js';
import { readFrames, pcapFile, ipv4, ipv4Checksum, ethernet, ipOf } from '../craft.js';
import { loadTruth } from '../harness/truth.js';
import { cli, openLog, tmp, SAMPLES } from '../helpers.js';

const truth = loadTruth(join(SAMPLES, 'web.truth.json')).transactions;
const frames = await readFrames(join(SAMPLES, 'web.pcap'));
const ipVersionOf = (f) => ipOf(f.data)[0] >> 4;

const cat = (...b) => Buffer.concat(b.map((x) => (Buffer.isBuffer(x) ? x : Buffer.from(x))));
const be16 = (v) => { const b = Buffer.alloc(2); b.writeUInt16BE(v); return b; };
const le16 = (v) => { const b = Buffer.alloc(2); b.writeUInt16LE(v); return b; };
const be32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32BE(v >>> 0); return b; };
const le32 = (v) => { const b = Buffer.alloc(4); b.writeUInt32LE(v >>> 0); return b; };
const MAC = Buffer.from([2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]);
const etype = (f) => (ipVersionOf(f) === 4 ? 0x0800 : 0x86dd);
const gre = (flags, proto, inner, extra = []) => cat(be16(flags), be16(proto), ...extra, inner);
const outer4 = (proto, payload, id) => ethernet(0x0800, ipv4(proto, payload, { id }));
const udp = (dport, payload) => cat(be16(40000), be16(dport), be16(8 + payload.length), be16(0), payload);

/** Splits the IP packet of an Ethernet frame into IPv4 fragments, sent out of order with an overlap. */
function fragment4(f, id) {
  const ip = ipOf(f.data);
  const payload = ip.subarray(20, ip.readUInt16BE(2));
  if (payload.length <= 32) return [f.data];
  const cut1 = 16, cut2 = Math.max(24, (payload.length >> 1) & ~7);
  const piece = (off, end, more) => {
    const h = Buffer.from(ip.subarray(0, 20));
    h.writeUInt16BE(20 + end - off, 2);
    h.writeUInt16BE(id, 4);
    h.writeUInt16BE((more ? 0x2000 : 0) | (off / 8), 6);
    h.writeUInt16BE(0, 10);
    return cat(f.data.subarray(0, 14), h, payload.subarray(off, end));
  };
  // last first, then an overlapping middle, then the head
  return [piece(cut2, payload.length, false), piece(cut1 - 8, cut2, true), piece(0, cut1, true)];
}

/** Splits an IPv6 packet with a Fragment header, out of order. */
function fragment6(f, id) {
  const ip = ipOf(f.data);
  const payload = ip.subarray(40);
  if (payload.length <= 32) return [f.data];
  const cut = (payload.length >> 1) & ~7;
  const piece = (off, end, more) => {
    const h = Buffer.from(ip.subarray(0, 40));
    h[6] = 44;
    h.writeUInt16BE(8 + end - off, 4);
    const fh = cat([ip[6], 0], be16(off | (more ? 1 : 0)), be32(id));
    return cat(f.data.subarray(0, 14), h, fh, payload.subarray(off, end));
  };
  return [piece(cut, payload.length, false), piece(0, cut, true)];
}

const ENCAPSULATIONS = {
  'ethernet 802.1Q': [1, (f) => [cat(MAC, be16(0x8100), be16(10), be16(etype(f)), ipOf(f.data))]],
  'ethernet 802.1ad + 802.1Q (QinQ)': [1, (f) => [cat(MAC, be16(0x88a8), be16(20), be16(0x8100), be16(30), be16(etype(f)), ipOf(f.data))]],
  // 802.3 frames cannot carry more than 1500 bytes: larger ones stay Ethernet II, as on a real LAN.
  'ethernet 802.3 LLC/SNAP': [1, (f) => { const p = cat([0xaa, 0xaa, 0x03, 0, 0, 0], be16(etype(f)), ipOf(f.data)); return [p.length <= 1500 ? cat(MAC, be16(p.length), p) : f.data]; }],
  'ethernet MPLS (two labels)': [1, (f) => [cat(MAC, be16(0x8847), [0, 0x10, 0x00, 64], [0, 0x20, 0x01, 64], ipOf(f.data))]],
  'ethernet PPPoE session': [1, (f) => { const ip = ipOf(f.data); return [cat(MAC, be16(0x8864), [0x11, 0], be16(0x1234), be16(ip.length + 2), be16(etype(f) === 0x0800 ? 0x21 : 0x57), ip)]; }],
  'linux cooked SLL': [113, (f) => [cat(be16(0), be16(1), be16(6), MAC.subarray(0, 6), [0, 0], be16(etype(f)), ipOf(f.data))]],
  'linux cooked SLL2': [276, (f) => [cat(be16(etype(f)), be16(0), be32(2), be16(1), [0, 6], MAC.subarray(0, 6), [0, 0], ipOf(f.data))]],
  'BSD NULL (little-endian AF)': [0, (f) => [cat(le32(ipVersionOf(f) === 4 ? 2 : 30), ipOf(f.data))]],
  'BSD LOOP (big-endian AF)': [108, (f) => [cat(be32(ipVersionOf(f) === 4 ? 2 : 24), ipOf(f.data))]],
  'raw IP (101)': [101, (f) => [ipOf(f.data)]],
  'raw IP (12)': [12, (f) => [ipOf(f.data)]],
  'raw IP (14)': [14, (f) => [ipOf(f.data)]],
  'raw IPv4/IPv6 (228/229 by version)': [101, (f) => [ipOf(f.data)]],
  'cisco HDLC': [104, (f) => [cat([0x0f, 0], be16(etype(f)), ipOf(f.data))]],
  'NFLOG': [239, (f) => { const ip = ipOf(f.data); const pfx = Buffer.from('log\0'); return [cat([ipVersionOf(f) === 4 ? 2 : 10, 0], be16(5), le16(4 + pfx.length), le16(10), pfx, le16(4 + ip.length), le16(9), ip, Buffer.alloc((4 - (ip.length % 4)) % 4))]; }],
  'IPv4 with options (IHL 7)': [1, (f) => {
    if (ipVersionOf(f) !== 4) return [f.data];
    const ip = ipOf(f.data);
    const h = Buffer.from(ip.subarray(0, 20));
    h[0] = 0x47;
    h.writeUInt16BE(ip.readUInt16BE(2) + 8, 2);
    h.writeUInt16BE(0, 10);
    const opts = Buffer.from([0x94, 4, 0, 0, 1, 1, 1, 0]); // router alert, NOPs, end of list
    const hdr = cat(h, opts);
    hdr.writeUInt16BE(ipv4Checksum(hdr), 10);
    return [cat(f.data.subarray(0, 14), hdr, ip.subarray(20))];
  }],
  'ethernet padding after a short frame': [1, (f) => [cat(f.data, Buffer.alloc(ipOf(f.data).length < 46 ? 46 - ipOf(f.data).length : 4, 0xee))]],
  'GRE (IP)': [1, (f, i) => [outer4(47, gre(0, etype(f), ipOf(f.data)), i)]],
  'GRE with key and sequence (transparent ethernet)': [1, (f, i) => [outer4(47, gre(0x3000, 0x6558, f.data, [be32(7), be32(i)]), i)]],
  'ERSPAN type I': [1, (f, i) => [outer4(47, gre(0, 0x88be, f.data), i)]],
  'ERSPAN type II': [1, (f, i) => [outer4(47, gre(0x1000, 0x88be, cat(be32(0x10000001), be32(0), f.data), [be32(i)]), i)]],
  'ERSPAN type III with subheader': [1, (f, i) => [outer4(47, gre(0x1000, 0x22eb, cat(Buffer.alloc(11), [1], Buffer.alloc(8), f.data), [be32(i)]), i)]],
  'IP-in-IP (4in4 / 6in4)': [1, (f, i) => [outer4(ipVersionOf(f) === 4 ? 4 : 41, ipOf(f.data), i)]],
  'IP in IPv6 (4in6 / 6in6)': [1, (f) => { const ip = ipOf(f.data); const h = Buffer.alloc(40); h[0] = 0x60; h.writeUInt16BE(ip.length, 4); h[6] = ipVersionOf(f) === 4 ? 4 : 41; h[7] = 64; h[23] = 1; h[39] = 2; return [ethernet(0x86dd, cat(h, ip))]; }],
  'VXLAN': [1, (f, i) => [outer4(17, udp(4789, cat([0x08, 0, 0, 0], [0, 0, 42, 0], f.data)), i)]],
  'Geneve': [1, (f, i) => [outer4(17, udp(6081, cat([0, 0], be16(0x6558), [0, 0, 7, 0], f.data)), i)]],
  'GTP-U': [1, (f, i) => { const ip = ipOf(f.data); return [outer4(17, udp(2152, cat([0x30, 0xff], be16(ip.length), be32(1), ip)), i)]; }],
  'Teredo (IPv6 only)': [1, (f, i) => (ipVersionOf(f) === 6 ? [outer4(17, udp(3544, ipOf(f.data)), i)] : [f.data])],
  'IPv4 and IPv6 fragments, out of order and overlapping': [1, (f, i) => (ipVersionOf(f) === 4 ? fragment4(f, i + 1) : fragment6(f, i + 1))],
};

/** How the connection's tunnel column must read, outermost layer first. */
const TUNNELS = {
  'ethernet 802.1Q': 'vlan:10',
  'ethernet 802.1ad + 802.1Q (QinQ)': 'vlan:20/vlan:30',
  'ethernet MPLS (two labels)': 'mpls',
  'ethernet PPPoE session': 'pppoe',
  'GRE (IP)': 'gre',
  'GRE with key and sequence (transparent ethernet)': 'gre',
  'ERSPAN type I': 'erspan:1',
  'ERSPAN type II': 'erspan:2',
  'ERSPAN type III with subheader': 'erspan:3',
  'IP-in-IP (4in4 / 6in4)': '4in4',
  'IP in IPv6 (4in6 / 6in6)': '4in6',
  'VXLAN': 'vxlan:42',
  'Geneve': 'geneve:7',
  'GTP-U': 'gtp-u',
  'Teredo (IPv6 only)': 'teredo',
};

for (const [name, [linkType, wrap]] of Object.entries(ENCAPSULATIONS)) {
  test(`${name}: the sample extracts the same`, () => {
    const dir = tmp();
    const out = [];
    frames.forEach((f, i) => { for (const data of wrap(f, i)) out.push({ ts: f.ts, data }); });
    const file = join(dir, 'wrapped.pcap');
    writeFileSync(file, pcapFile(out, { linkType }));
    const r = cli([file, '-o', join(dir, 'out')]);
    assert.equal(r.status, 0, r.stderr);
    assert.doesNotMatch(r.stdout, /undecodable/, r.stdout);
    const db = openLog(join(dir, 'out'));
    const rows = db.prepare('SELECT uri, status_code, response_sha256, request_sha256 FROM http ORDER BY uri').all();
    const tunnels = db.prepare('SELECT DISTINCT tunnel FROM connections').all().map((x) => x.tunnel);
    db.close();
    const want = truth.map((t) => ({ uri: t.uri, status_code: t.status_code, response_sha256: t.response_sha256, request_sha256: t.request_sha256 }))
      .sort((a, b) => (a.uri < b.uri ? -1 : 1));
    assert.deepEqual(rows, want);
    if (TUNNELS[name]) assert.ok(tunnels.includes(TUNNELS[name]), `tunnel recorded as ${TUNNELS[name]}: ${tunnels}`);
  });
}

test('packets that cannot be decoded are counted by reason, and the run goes on', () => {
  const d = new PacketDecoder();
  const seg = new TcpSegment();
  const good = frames.find((f) => ipVersionOf(f) === 4 && f.data.length > 100);
  const cases = [
    [{ linkType: 147, data: good.data }, 'unsupported link type 147'],
    [{ linkType: 1, data: good.data.subarray(0, 10) }, 'truncated: ethernet header'],
    [{ linkType: 1, data: cat(good.data.subarray(0, 14), [0x75], good.data.subarray(15)) }, 'bad ip version'],
    [{ linkType: 1, data: good.data.subarray(0, 14 + 30) }, 'truncated: tcp header (snaplen)'],
    [{ linkType: 1, data: ethernet(0x0806, Buffer.alloc(28)) }, 'skip: ethertype 0x0806'],
  ];
  for (const [p, reason] of cases) {
    assert.equal(d.decode({ ts: 1, frame: 1, origLen: p.data.length, ...p }, seg), false);
    assert.equal(d.drops.get(reason), 1, `${reason}: ${[...d.drops.keys()]}`);
  }
});

test('TCP checksums are only checked when asked, and a bad one drops the segment', () => {
  const good = frames.find((f) => ipVersionOf(f) === 4 && f.data.length > 100);
  const bad = Buffer.from(good.data);
  bad[bad.length - 1] ^= 0xff;
  const seg = new TcpSegment();
  const lax = new PacketDecoder();
  assert.equal(lax.decode({ linkType: 1, ts: 1, frame: 1, data: bad }, seg), true);
  const strict = new PacketDecoder({ verifyChecksums: true });
  assert.equal(strict.decode({ linkType: 1, ts: 1, frame: 1, data: good.data }, seg), true);
  const v6 = frames.find((f) => ipVersionOf(f) === 6 && f.data.length > 100);
  assert.equal(strict.decode({ linkType: 1, ts: 1, frame: 1, data: v6.data }, seg), true);
  assert.equal(strict.decode({ linkType: 1, ts: 1, frame: 1, data: bad }, seg), false);
  assert.equal(strict.drops.get('bad tcp checksum'), 1);
});

test('fragments that never complete are dropped at the timeout and counted', () => {
  const d = new PacketDecoder();
  const seg = new TcpSegment();
  const f = frames.find((x) => ipVersionOf(x) === 4 && x.data.length > 200);
  const [last, middle] = fragment4(f, 99);
  assert.equal(d.decode({ linkType: 1, ts: 100, frame: 1, data: last }, seg), false);
  assert.equal(d.decode({ linkType: 1, ts: 101, frame: 2, data: middle }, seg), false);
  d.decode({ linkType: 1, ts: 200, frame: 3, data: f.data }, seg); // time passes
  d.finish();
  assert.equal(d.drops.get('ip fragments never completed (timeout)'), 1);
  assert.equal(d.drops.get('skip: ip fragment held for reassembly'), 2);
});
