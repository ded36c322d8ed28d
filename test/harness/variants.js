// Capture variants: the same small HTTP scenario captured by real tools in many formats, link
// types and encapsulations, each with its ground truth.
//
//   const caps = await makeVariantCaptures({ dir: '/tmp/xv' });          // every variant
//   const one = await makeVariantCapture({ variant: 'vxlan', dir });      // just one (and what it needs)
//   // caps.vxlan = { variant, kind, run, file, format, linkType, linkTypes, tsresol, packets,
//   //                truth, truthFile, sameAs, notes, skipped, error }
//
// A *run* is one traffic session between two network namespaces over one topology (plain veth,
// VLAN, GRE, VXLAN, SRv6, ...) with one or more tcpdump processes recording it at the same time;
// each tcpdump output is a *capture variant* (e.g. `eth`, `any`, `sll2` and `nano` are four
// simultaneous recordings of the `plain` run). *Derived* variants are made from capture variants
// with editcap/mergecap, without new traffic.
//
// Capture variants (tcpdump in the client namespace, on the client veth unless said otherwise):
//   plain run: eth (Ethernet), any (-i any -y LINUX_SLL), sll2 (-i any -y LINUX_SLL2),
//              nano (--time-stamp-precision=nano), all four recording the same traffic;
//   nflog (-i nflog:5, nft/iptables rules); vlan, qinq (8021q); gre, gretap, erspan, erspan3,
//   ipip, sit (6in4), ip6tnl (4in6 + 6in6); vxlan, vxlan6 (IPv6 underlay, nanosecond pcap);
//   srv6 (seg6 encap 4in6 + 6in6 with a segment routing header);
//   frag (IPv4 fragments: VXLAN with MTU 1500 over the 1500 veth, DF unset),
//   frag6 (IPv6 fragments: VXLAN over IPv6 with user-space endpoints, python3 + TAP),
//   frag-gre (IPv4 fragments: GRE nopmtudisc with MTU 1500).
// On a kernel without the vlan, gre, gretap, erspan, ipip, sit or ip6tnl link types ("Unknown
// device type"), vlan, qinq, gre, gretap, erspan, erspan3, ipip, sit, ip6tnl and frag-gre use
// userspace endpoints instead (tunnel-endpoint.py: python3 + TAP/TUN devices, AF_PACKET or raw IP
// sockets on the veth; the variant's notes say so); XH_USERSPACE_TUNNELS=1 forces them.
// Derived: pcapng, pcapng-pcap, nsecpcap, nano-pcapng, nano-usec, modpcap, rawip, rawip-sll,
//   vlan-pcapng, vxlan-pcapng (editcap); merge-dup, merge-mixed (mergecap).
// Inner (tunnelled) HTTP runs between 10.78.n.1 -> 10.78.n.2 and fd78:n::1 -> fd78:n::2.
//
// A variant the machine cannot make (kernel without the tunnel type, no nft/iptables, no
// namespaces, no editcap) comes back with `skipped: reason` instead of throwing; a variant whose
// making failed for another reason comes back with `error: message`. Every run deletes its
// namespaces (and with them every interface it made) on every path, and is killed after
// `timeoutMs`.
//
// Tags (the first URI segment) are prefixed with the run name, so the URIs and bodies of two
// runs never collide and captures of different runs can be merged with a union truth.
//
// CLI: node test/harness/variants.js DIR [VARIANT...]   (XH_PROTOCOLS=1: tshark protocol stacks)

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { withLink, run, childGroup } from './netns.js';
import { curlArgs, waitForLine, waitExit, PROBE_JS } from './capture.js';
import { countPcapPackets } from './pcapng.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SERVER_JS = path.join(HERE, 'server.js');
const NODE = process.execPath;

/** Thrown by a topology or a derivation when this machine cannot make the variant. */
export class VariantSkip extends Error {
  constructor(message) {
    super(message);
    this.name = 'VariantSkip';
  }
}

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function haveCmd(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

// ---------------------------------------------------------------------------
// Topologies. setup(T) builds interfaces inside the two namespaces of a withLink() pair and
// returns {families, server4?, server6?, notes?}: the address families HTTP runs over (first =
// the main one) and, unless the defaults apply, the server addresses. T.c / T.s describe the
// client / server side: {ns, dev (veth), ip4, ip6 (veth addresses), in4, in6 (inner addresses
// 10.78.n.1|2 and fd78:n::1|2, for tunnels), mac}.

const UNSUPPORTED = /Unknown device type|not supported|Operation not supported|Protocol not supported|Address family not supported|Unknown (encap|lwtunnel)|encap type .* not|Invalid argument.*encap/i;

async function ip(T, side, args, feature) {
  const r = await T.link.exec(side.ns, 'ip', args);
  if (r.code !== 0) {
    const msg = `ip ${args.join(' ')}: ${r.stderr.trim()}`;
    if (feature && UNSUPPORTED.test(r.stderr)) throw new VariantSkip(`${feature} is not available in this kernel (${msg})`);
    throw new Error(msg);
  }
  return r;
}

/** Best effort: real MSS-sized segments on virtual devices too (errors are "fixed" features). */
async function offloadsOff(T, side, dev) {
  if (!haveCmd('ethtool')) return;
  await T.link.exec(side.ns, 'ethtool', ['-K', dev, 'tso', 'off', 'gso', 'off', 'gro', 'off', 'tx', 'off', 'rx', 'off']);
}

async function addAddrs(T, side, dev, families) {
  if (families.includes(4)) await ip(T, side, ['addr', 'add', `${side.in4}/24`, 'dev', dev]);
  if (families.includes(6)) await ip(T, side, ['-6', 'addr', 'add', `${side.in6}/64`, 'dev', dev, 'nodad']);
}

/**
 * Lock the MTU of the inner connected routes: the tunnel drivers lower the inner path MTU when
 * the outer packet is too big (and TCP then shrinks its segments), which would leave the
 * fragmenting variants with only a couple of fragments.
 */
async function lockInnerMtu(T, side, dev, families, mtu) {
  const n = T.n;
  const hex = n.toString(16);
  if (families.includes(4)) {
    await ip(T, side, ['route', 'replace', `10.78.${n}.0/24`, 'dev', dev, 'proto', 'kernel', 'scope', 'link', 'src', side.in4,
      'mtu', 'lock', String(mtu)]);
  }
  if (families.includes(6)) {
    await ip(T, side, ['-6', 'route', 'replace', `fd78:${hex}::/64`, 'dev', dev, 'proto', 'kernel', 'metric', '256',
      'mtu', 'lock', String(mtu)]);
  }
}

function pairs(T) {
  return [
    [T.c, T.s],
    [T.s, T.c],
  ];
}

/** Both sides: `ip link add NAME type TYPE local A remote B ...`, inner addresses, up. */
function tunnel({ type, name, underlay = 4, args = [], inner = [4], mtu, ethernet = false, feature }) {
  return async (T) => {
    if (underlay === 6 && !T.c.ip6) throw new VariantSkip('IPv6 is not available in the namespaces');
    for (const [me, peer] of pairs(T)) {
      const [local, remote] = underlay === 6 ? [me.ip6, peer.ip6] : [me.ip4, peer.ip4];
      await ip(T, me, [...(underlay === 6 ? ['-6'] : []), 'link', 'add', name, 'type', type,
        'local', local, 'remote', remote, ...args], feature || `${type} tunnel`);
      if (mtu) await ip(T, me, ['link', 'set', name, 'mtu', String(mtu)]);
      if (ethernet) await ip(T, me, ['link', 'set', name, 'address', me.mac]);
      await offloadsOff(T, me, name);
      await addAddrs(T, me, name, inner);
      await ip(T, me, ['link', 'set', name, 'up']);
      if (mtu) await lockInnerMtu(T, me, name, inner, mtu);
    }
    return { families: inner };
  };
}

/**
 * VXLAN id 42 on UDP 4789. With mtu (frag variants) the device gets no lower `dev`, which would
 * cap its MTU at the veth's minus the encapsulation, and DF is left unset on the outer header.
 */
function vxlan({ underlay = 4, mtu, inner = [4, 6] } = {}) {
  return async (T) => {
    if (underlay === 6 && !T.c.ip6) throw new VariantSkip('IPv6 is not available in the namespaces');
    for (const [me, peer] of pairs(T)) {
      const [local, remote] = underlay === 6 ? [me.ip6, peer.ip6] : [me.ip4, peer.ip4];
      await ip(T, me, ['link', 'add', 'vx0', 'type', 'vxlan', 'id', '42', 'local', local, 'remote', remote,
        'dstport', '4789', ...(mtu ? ['df', 'unset'] : ['dev', me.dev])], 'vxlan');
      if (mtu) await ip(T, me, ['link', 'set', 'vx0', 'mtu', String(mtu)]);
      await ip(T, me, ['link', 'set', 'vx0', 'address', me.mac]);
      await offloadsOff(T, me, 'vx0');
      await addAddrs(T, me, 'vx0', inner);
      await ip(T, me, ['link', 'set', 'vx0', 'up']);
      if (mtu) await lockInnerMtu(T, me, 'vx0', inner, mtu);
    }
    return { families: inner };
  };
}

/** 802.1Q sub-interfaces (or, with qinq, 802.1ad id 20 + 802.1Q id 30 stacked on it). */
function vlan({ qinq = false } = {}) {
  return async (T) => {
    for (const [me] of pairs(T)) {
      let dev;
      if (!qinq) {
        dev = `${me.dev}.10`;
        await ip(T, me, ['link', 'add', 'link', me.dev, 'name', dev, 'type', 'vlan', 'id', '10'], '802.1Q VLAN (8021q)');
      } else {
        const outer = `${me.dev}.20`;
        dev = `${me.dev}.20.30`;
        await ip(T, me, ['link', 'add', 'link', me.dev, 'name', outer, 'type', 'vlan', 'protocol', '802.1ad', 'id', '20'],
          '802.1ad VLAN (8021q)');
        await offloadsOff(T, me, outer);
        await ip(T, me, ['link', 'set', outer, 'up']);
        await ip(T, me, ['link', 'add', 'link', outer, 'name', dev, 'type', 'vlan', 'id', '30'], '802.1Q VLAN (8021q)');
        // veth accepts one tag beyond its MTU: the second tag must come out of the payload.
        await ip(T, me, ['link', 'set', dev, 'mtu', '1496']);
      }
      await offloadsOff(T, me, dev);
      await addAddrs(T, me, dev, [4, 6]);
      await ip(T, me, ['link', 'set', dev, 'up']);
    }
    return { families: [4, 6] };
  };
}

/**
 * SRv6 (lwtunnel seg6 "mode encap" + seg6local End.DX4 / End.DT6): IPv4 and IPv6 packets to the
 * peer's inner address are wrapped in an outer IPv6 header + segment routing header whose only
 * segment is a SID of the peer (fd79:n:K::4 for IPv4, ::6 for IPv6, routed via the peer's veth
 * address); the peer's seg6local route for that SID (End.DX4 / End.DT6) decapsulates and
 * delivers locally.
 * (seg6local rather than the plain "last segment" decapsulation: the latter re-injects the
 * packet on the veth, so a capture there would record every incoming packet twice.)
 */
function srv6() {
  return async (T) => {
    if (!T.c.ip6) throw new VariantSkip('IPv6 is not available in the namespaces');
    const sid = (side, f) => `fd79:${T.n.toString(16)}:${side === T.c ? 1 : 2}::${f}`;
    for (const [me, peer] of pairs(T)) {
      await ip(T, me, ['addr', 'add', `${me.in4}/32`, 'dev', 'lo']);
      await ip(T, me, ['-6', 'addr', 'add', `${me.in6}/128`, 'dev', 'lo', 'nodad']);
      await ip(T, me, ['-6', 'route', 'add', `fd79:${T.n.toString(16)}:${peer === T.c ? 1 : 2}::/64`, 'via', peer.ip6, 'dev', me.dev]);
      await ip(T, me, ['-6', 'route', 'add', `${sid(me, 4)}/128`, 'encap', 'seg6local', 'action', 'End.DX4', 'nh4', me.in4,
        'dev', me.dev], 'SRv6 lwtunnel (seg6local End.DX4)');
      // End.DX6 refuses local next hops; End.DT6 on the local table delivers locally.
      await ip(T, me, ['-6', 'route', 'add', `${sid(me, 6)}/128`, 'encap', 'seg6local', 'action', 'End.DT6', 'table', 'local',
        'dev', me.dev], 'SRv6 lwtunnel (seg6local End.DT6)');
      await ip(T, me, ['route', 'add', `${peer.in4}/32`, 'encap', 'seg6', 'mode', 'encap', 'segs', sid(peer, 4),
        'dev', me.dev, 'src', me.in4], 'SRv6 lwtunnel (seg6)');
      await ip(T, me, ['-6', 'route', 'add', `${peer.in6}/128`, 'encap', 'seg6', 'mode', 'encap', 'segs', sid(peer, 6),
        'dev', me.dev, 'src', me.in6], 'SRv6 lwtunnel (seg6)');
    }
    return { families: [4, 6] };
  };
}

// A VXLAN endpoint in user space: a TAP device <-> UDP/IPv6 port 4789 with an 8-byte VXLAN
// header. The UDP socket is set to IPV6_PMTUDISC_DONT, so the kernel's IPv6 stack fragments
// every datagram that does not fit the veth (the kernel's own VXLAN refuses to fragment IPv6).
const PY_VXLAN6 = `
import fcntl, os, select, socket, struct, sys
dev, local, peer, vni = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
tap = os.open('/dev/net/tun', os.O_RDWR)
fcntl.ioctl(tap, 0x400454ca, struct.pack('16sH', dev.encode(), 0x0002 | 0x1000))  # TUNSETIFF, IFF_TAP|IFF_NO_PI
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, 23, 0)  # IPV6_MTU_DISCOVER = IPV6_PMTUDISC_DONT
s.bind((local, 4789))
hdr = struct.pack('!II', 0x08000000, vni << 8)
print('READY', flush=True)
while True:
    r = select.select([tap, s], [], [])[0]
    try:
        if tap in r:
            s.sendto(hdr + os.read(tap, 65536), (peer, 4789))
        if s in r:
            d = s.recv(65536)
            if len(d) > 8 and d[0] & 0x08:
                os.write(tap, d[8:])
    except OSError:
        pass  # e.g. EIO: a frame for a TAP that is not up yet
`;

/**
 * IPv6 fragments of TCP segments: VXLAN over IPv6 with user-space endpoints (python3 + TAP, see
 * PY_VXLAN6). Full-sized inner frames (1514 B) make 1570-byte IPv6 datagrams, which the sender's
 * kernel fragments; the receiver's kernel reassembles them before the UDP socket sees them.
 */
function userVxlan6() {
  return async (T) => {
    if (!T.c.ip6) throw new VariantSkip('IPv6 is not available in the namespaces');
    if (!haveCmd('python3')) throw new VariantSkip('python3 (user-space VXLAN endpoint) is not installed');
    if (!fs.existsSync('/dev/net/tun')) throw new VariantSkip('/dev/net/tun is missing');
    for (const [me, peer] of pairs(T)) {
      await ip(T, me, ['tuntap', 'add', 'dev', 'xt0', 'mode', 'tap'], 'TUN/TAP');
      await ip(T, me, ['link', 'set', 'xt0', 'address', me.mac, 'mtu', '1500']);
      const py = T.spawn(me.ns, 'python3', ['-u', '-c', PY_VXLAN6, 'xt0', me.ip6, peer.ip6, '42']);
      await waitForLine(py, 'stdout', /READY/, 10000, 'user-space VXLAN endpoint');
      await offloadsOff(T, me, 'xt0');
      await addAddrs(T, me, 'xt0', [4, 6]);
      await ip(T, me, ['link', 'set', 'xt0', 'up']);
    }
    return { families: [4, 6], notes: ['VXLAN endpoints in user space (python3 on a TAP device); IPv6 fragmentation by the kernel'] };
  };
}

// ---------------------------------------------------------------------------
// User-space endpoints (tunnel-endpoint.py, python3 standard library) for kernels without the
// vlan / gre / gretap / erspan / ipip / sit / ip6tnl link types: a TAP (Ethernet) or TUN (IP)
// device in each namespace holds the inner addresses, and a python3 process per namespace moves
// its packets to and from the veth: tagged frames on an AF_PACKET socket (vlan, qinq), or
// tunnel packets on raw IP sockets whose outer IP header the kernel writes (GRE family, ipip,
// sit, ip6tnl). The capture on the client veth then holds real tagged / encapsulated packets of
// real TCP traffic, each once (the TAP / TUN devices are not captured).

const ENDPOINT_PY = path.join(HERE, 'tunnel-endpoint.py');

function userspaceReady(what) {
  if (!haveCmd('python3')) throw new VariantSkip(`python3 (user-space ${what} endpoint) is not installed`);
  if (!fs.existsSync('/dev/net/tun')) throw new VariantSkip(`/dev/net/tun is missing (user-space ${what} endpoint)`);
}

/** A TUN / TAP device `dev` in me's namespace, attached to a new endpoint process, then up. */
async function endpointDevice(T, me, { dev, tap, mtu, args, what, inner }) {
  await ip(T, me, ['tuntap', 'add', 'dev', dev, 'mode', tap ? 'tap' : 'tun'], 'TUN/TAP');
  await ip(T, me, ['link', 'set', dev, ...(tap ? ['address', me.mac] : []), 'mtu', String(mtu)]);
  const py = T.spawn(me.ns, 'python3', ['-u', ENDPOINT_PY, ...args]);
  let err = '';
  py.stderr.on('data', (d) => (err += d.toString()));
  py.on('exit', (code, sig) => {
    if (err.trim()) T.log(`${what} endpoint in ${me.ns} exited (${code ?? sig}): ${err.trim()}`);
  });
  await waitForLine(py, 'stdout', /READY/, 10000, `user-space ${what} endpoint`);
  await offloadsOff(T, me, dev);
  await addAddrs(T, me, dev, inner);
  await ip(T, me, ['link', 'set', dev, 'up']);
  return py;
}

/** 802.1Q id 10 (or 802.1ad id 20 + 802.1Q id 30) added / removed by a user-space endpoint. */
function userVlan({ qinq = false } = {}) {
  return async (T) => {
    userspaceReady('VLAN');
    const tags = qinq ? ['88a8:20', '8100:30'] : ['8100:10'];
    for (const [me] of pairs(T)) {
      // A packet socket sends frames of MTU + 4 bytes only when the outer tag is 802.1Q: both
      // QinQ tags come out of the payload.
      await endpointDevice(T, me, { dev: 'xv0', tap: true, mtu: qinq ? 1492 : 1500, args: ['vlan', 'xv0', me.dev, ...tags],
        what: qinq ? 'QinQ' : '802.1Q', inner: [4, 6] });
    }
    return {
      families: [4, 6],
      notes: [`${qinq ? '802.1ad + 802.1Q tags' : '802.1Q tags'} added and removed by a userspace endpoint ` +
        `(python3 between a TAP device with the inner addresses, MTU ${qinq ? 1492 : 1500}, and an AF_PACKET socket on the veth)`],
    };
  };
}

/**
 * A tunnel with user-space endpoints over the veth addresses (see tunnel-endpoint.py for the
 * modes). mtu: the inner device's (the kernel device's default for the mode, so outer packets
 * fit the 1500-byte veth without DF trouble).
 */
function userTunnel({ mode, underlay = 4, inner, mtu, nopmtudisc = false }) {
  return async (T) => {
    userspaceReady(mode);
    if (underlay === 6 && !T.c.ip6) throw new VariantSkip('IPv6 is not available in the namespaces');
    const tap = ['gretap', 'erspan', 'erspan3'].includes(mode);
    for (const [me, peer] of pairs(T)) {
      const [local, remote] = underlay === 6 ? [me.ip6, peer.ip6] : [me.ip4, peer.ip4];
      await endpointDevice(T, me, { dev: 'xu0', tap, mtu, args: [mode, 'xu0', local, remote, ...(nopmtudisc ? ['nopmtudisc'] : [])],
        what: mode, inner });
    }
    return {
      families: inner,
      notes: [`${mode} ${nopmtudisc ? '(outer DF unset) ' : ''}by a userspace endpoint (python3 between a ${tap ? 'TAP' : 'TUN'} ` +
        `device with the inner addresses, MTU ${mtu}, and a raw IPv${underlay} socket; outer header by the kernel)`],
    };
  };
}

/**
 * The kernel's interfaces when it has the link type; on "Unknown device type" (or with
 * XH_USERSPACE_TUNNELS=1) whatever was made is deleted and the user-space version is used.
 */
function kernelOr(kernel, user, devs) {
  return async (T) => {
    let why = 'XH_USERSPACE_TUNNELS=1';
    if (process.env.XH_USERSPACE_TUNNELS !== '1') {
      try {
        return await kernel(T);
      } catch (e) {
        if (!(e instanceof VariantSkip) || !/Unknown device type/.test(e.message)) throw e;
        why = e.message;
      }
      for (const [me] of pairs(T)) {
        for (const d of devs) await T.link.exec(me.ns, 'ip', ['link', 'del', d]);
      }
    }
    try {
      return await user(T);
    } catch (e) {
      if (e instanceof VariantSkip) throw new VariantSkip(`${why}; user-space fallback: ${e.message}`);
      throw e;
    }
  };
}

function plain() {
  return async (T) => ({ families: T.s.ip6 ? [4, 6] : [4], server4: T.s.ip4, server6: T.s.ip6 });
}

/** NFLOG group 5 gets every TCP packet the client namespace sends or receives. */
function nflog() {
  return async (T) => {
    const me = T.c;
    if (haveCmd('nft')) {
      const rules = [
        'add table inet xh',
        'add chain inet xh out { type filter hook output priority 0 ; }',
        'add chain inet xh in { type filter hook input priority 0 ; }',
        'add rule inet xh out meta l4proto tcp log group 5',
        'add rule inet xh in meta l4proto tcp log group 5',
      ];
      for (const r of rules) {
        const x = await T.link.exec(me.ns, 'nft', r.split(' '));
        if (x.code !== 0) throw new VariantSkip(`nft cannot log to NFLOG here (nft ${r}: ${x.stderr.trim()})`);
      }
    } else if (haveCmd('iptables')) {
      for (const [cmd, chain] of [['iptables', 'OUTPUT'], ['iptables', 'INPUT'], ['ip6tables', 'OUTPUT'], ['ip6tables', 'INPUT']]) {
        const x = await T.link.exec(me.ns, cmd, ['-A', chain, '-p', 'tcp', '-j', 'NFLOG', '--nflog-group', '5']);
        if (x.code !== 0) throw new VariantSkip(`${cmd} cannot log to NFLOG here: ${x.stderr.trim()}`);
      }
    } else {
      throw new VariantSkip('neither nft nor iptables is installed');
    }
    return { families: T.s.ip6 ? [4, 6] : [4], server4: T.s.ip4, server6: T.s.ip6 };
  };
}

// Capture filters. Tunnelled traffic is not `tcp` on the outside; neighbour discovery is noise.
const F_TCP = 'tcp';
const F_OUTER = 'not arp and not (icmp6 and (ip6[40] >= 133 and ip6[40] <= 137))';

/**
 * Runs: topology + simultaneous captures. A capture: {name, dev ('' = the client veth),
 * args (extra tcpdump options), filter, linkType (expected), wire (what is on it)}.
 */
const RUNS = {
  plain: {
    setup: plain(),
    captures: [
      { name: 'eth', dev: '', filter: F_TCP, linkType: 1, wire: 'Ethernet / IPv4|IPv6 / TCP, microsecond pcap' },
      { name: 'any', dev: 'any', args: ['-y', 'LINUX_SLL'], filter: F_TCP, linkType: 113, wire: 'Linux cooked v1 (tcpdump -i any) / IP / TCP' },
      { name: 'sll2', dev: 'any', args: ['-y', 'LINUX_SLL2'], filter: F_TCP, linkType: 276, wire: 'Linux cooked v2 (-i any -y LINUX_SLL2) / IP / TCP' },
      { name: 'nano', dev: '', args: ['--time-stamp-precision=nano'], filter: F_TCP, linkType: 1, wire: 'Ethernet / IP / TCP, nanosecond pcap (magic a1b23c4d)' },
    ],
  },
  nflog: {
    setup: nflog(),
    captures: [{ name: 'nflog', dev: 'nflog:5', filter: '', linkType: 239, wire: 'NFLOG (tcpdump -i nflog:5) / IP / TCP' }],
  },
  vlan: {
    setup: kernelOr(vlan(), userVlan(), ['xh0.10', 'xh1.10']),
    captures: [{ name: 'vlan', filter: F_OUTER, linkType: 1, wire: 'Ethernet / 802.1Q id 10 / IP / TCP' }],
  },
  qinq: {
    setup: kernelOr(vlan({ qinq: true }), userVlan({ qinq: true }), ['xh0.20.30', 'xh0.20', 'xh1.20.30', 'xh1.20']),
    captures: [{ name: 'qinq', filter: F_OUTER, linkType: 1, wire: 'Ethernet / 802.1ad id 20 / 802.1Q id 30 / IP / TCP' }],
  },
  gre: {
    setup: kernelOr(tunnel({ type: 'gre', name: 'gre1', args: ['ttl', '64'], inner: [4, 6] }),
      userTunnel({ mode: 'gre', inner: [4, 6], mtu: 1476 }), ['gre1']),
    captures: [{ name: 'gre', filter: F_OUTER, linkType: 1, wire: 'Ethernet / IPv4 / GRE / IPv4|IPv6 / TCP' }],
  },
  gretap: {
    setup: kernelOr(tunnel({ type: 'gretap', name: 'gt1', args: ['ttl', '64'], inner: [4, 6], ethernet: true }),
      userTunnel({ mode: 'gretap', inner: [4, 6], mtu: 1462 }), ['gt1']),
    captures: [{ name: 'gretap', filter: F_OUTER, linkType: 1, wire: 'Ethernet / IPv4 / GRE (TEB) / Ethernet / IP / TCP' }],
  },
  erspan: {
    setup: kernelOr(tunnel({ type: 'erspan', name: 'ers1', args: ['seq', 'key', '10', 'erspan_ver', '1', 'erspan', '123'], inner: [4], ethernet: true }),
      userTunnel({ mode: 'erspan', inner: [4], mtu: 1450 }), ['ers1']),
    captures: [{ name: 'erspan', filter: F_OUTER, linkType: 1, wire: 'Ethernet / IPv4 / GRE / ERSPAN type II / Ethernet / IPv4 / TCP' }],
  },
  erspan3: {
    setup: kernelOr(tunnel({ type: 'erspan', name: 'ers1', args: ['seq', 'key', '10', 'erspan_ver', '2', 'erspan_dir', 'egress', 'erspan_hwid', '7'], inner: [4], ethernet: true }),
      userTunnel({ mode: 'erspan3', inner: [4], mtu: 1446 }), ['ers1']),
    captures: [{ name: 'erspan3', filter: F_OUTER, linkType: 1, wire: 'Ethernet / IPv4 / GRE / ERSPAN type III / Ethernet / IPv4 / TCP' }],
  },
  ipip: {
    setup: kernelOr(tunnel({ type: 'ipip', name: 'ipip1', args: ['ttl', '64'], inner: [4] }),
      userTunnel({ mode: 'ipip', inner: [4], mtu: 1480 }), ['ipip1']),
    captures: [{ name: 'ipip', filter: F_OUTER, linkType: 1, wire: 'Ethernet / IPv4 / IPv4 / TCP' }],
  },
  sit: {
    setup: kernelOr(tunnel({ type: 'sit', name: 'sit1', args: ['ttl', '64'], inner: [6] }),
      userTunnel({ mode: 'sit', inner: [6], mtu: 1480 }), ['sit1']),
    captures: [{ name: 'sit', filter: F_OUTER, linkType: 1, wire: 'Ethernet / IPv4 / IPv6 (6in4) / TCP' }],
  },
  ip6tnl: {
    setup: kernelOr(tunnel({ type: 'ip6tnl', name: 't6', underlay: 6, args: ['mode', 'any'], inner: [4, 6] }),
      userTunnel({ mode: 'ip6tnl', underlay: 6, inner: [4, 6], mtu: 1452 }), ['t6']),
    captures: [{ name: 'ip6tnl', filter: F_OUTER, linkType: 1, wire: 'Ethernet / IPv6 (+dst opts encap limit) / IPv4 (4in6) | IPv6 (6in6) / TCP' }],
  },
  vxlan: {
    setup: vxlan(),
    captures: [{ name: 'vxlan', filter: F_OUTER, linkType: 1, wire: 'Ethernet / IPv4 / UDP 4789 / VXLAN 42 / Ethernet / IPv4|IPv6 / TCP' }],
  },
  vxlan6: {
    setup: vxlan({ underlay: 6 }),
    captures: [{ name: 'vxlan6', args: ['--time-stamp-precision=nano'], filter: F_OUTER, linkType: 1,
      wire: 'Ethernet / IPv6 / UDP 4789 / VXLAN 42 / Ethernet / IPv4|IPv6 / TCP, nanosecond pcap' }],
  },
  srv6: {
    setup: srv6(),
    captures: [{ name: 'srv6', filter: F_OUTER, linkType: 1, wire: 'Ethernet / IPv6 / routing header type 4 (SRH) / IPv4 (4in6) | IPv6 (6in6) / TCP' }],
  },
  frag: {
    // VXLAN MTU 1500 on a 1500 underlay with DF unset: every full-sized segment becomes a
    // 1550-byte outer datagram that the sender's IPv4 layer fragments.
    setup: vxlan({ mtu: 1500 }),
    captures: [{ name: 'frag', filter: F_OUTER, linkType: 1, wire: 'Ethernet / IPv4 fragments (MF / offset) / UDP / VXLAN / Ethernet / IP / TCP' }],
    verify: { ipv4Fragments: true },
  },
  frag6: {
    setup: userVxlan6(),
    captures: [{ name: 'frag6', filter: F_OUTER, linkType: 1,
      wire: 'Ethernet / IPv6 fragments / UDP 4789 / VXLAN 42 / Ethernet / IPv4|IPv6 / TCP (user-space VXLAN endpoints)' }],
    verify: { ipv6Fragments: true },
  },
  'frag-gre': {
    // GRE without path MTU discovery (outer DF off), its own MTU raised to the underlay's.
    setup: kernelOr(tunnel({ type: 'gre', name: 'gre1', args: ['nopmtudisc', 'ttl', 'inherit'], mtu: 1500, inner: [4] }),
      userTunnel({ mode: 'gre', inner: [4], mtu: 1500, nopmtudisc: true }), ['gre1']),
    captures: [{ name: 'frag-gre', filter: F_OUTER, linkType: 1, wire: 'Ethernet / IPv4 fragments / GRE / IPv4 / TCP' }],
    verify: { ipv4Fragments: true },
  },
};

// ---------------------------------------------------------------------------
// Derived variants: editcap / mergecap over capture variants (no new traffic).

const DERIVED = {
  pcapng: { from: ['eth'], tool: 'editcap', args: (s, d) => ['-F', 'pcapng', s[0], d], ext: 'pcapng',
    wire: 'editcap -F pcapng of eth: one Ethernet interface, if_tsresol 6' },
  'pcapng-pcap': { from: ['pcapng'], tool: 'editcap', args: (s, d) => ['-F', 'pcap', s[0], d], ext: 'pcap',
    wire: 'editcap -F pcap of pcapng (round trip)' },
  nsecpcap: { from: ['eth'], tool: 'editcap', args: (s, d) => ['-F', 'nsecpcap', s[0], d], ext: 'pcap',
    wire: 'editcap -F nsecpcap of eth (magic a1b23c4d)' },
  'nano-pcapng': { from: ['nano'], tool: 'editcap', args: (s, d) => ['-F', 'pcapng', s[0], d], ext: 'pcapng',
    wire: 'editcap -F pcapng of nano (if_tsresol 9)' },
  'nano-usec': { from: ['nano'], tool: 'editcap', args: (s, d) => ['-F', 'pcap', s[0], d], ext: 'pcap',
    wire: 'editcap -F pcap of nano (timestamps cut to microseconds)' },
  modpcap: { from: ['eth'], tool: 'editcap', args: (s, d) => ['-F', 'modpcap', s[0], d], ext: 'pcap',
    wire: 'editcap -F modpcap of eth (Kuznetzov "modified" pcap: magic a1b2cd34, 24-byte record headers)' },
  rawip: { from: ['eth'], tool: 'editcap', args: (s, d) => ['-F', 'pcap', '-C', '14', '-L', '-T', 'rawip', s[0], d], ext: 'pcap',
    wire: 'editcap -F pcap -C 14 -L -T rawip of eth: Ethernet header chopped, raw IP' },
  'rawip-sll': { from: ['any'], tool: 'editcap', args: (s, d) => ['-F', 'pcap', '-C', '16', '-L', '-T', 'rawip', s[0], d], ext: 'pcap',
    wire: 'editcap -F pcap -C 16 -L -T rawip of any: cooked header chopped, raw IP' },
  'vlan-pcapng': { from: ['vlan'], tool: 'editcap', args: (s, d) => ['-F', 'pcapng', s[0], d], ext: 'pcapng',
    wire: 'editcap -F pcapng of vlan' },
  'vxlan-pcapng': { from: ['vxlan'], tool: 'editcap', args: (s, d) => ['-F', 'pcapng', s[0], d], ext: 'pcapng',
    wire: 'editcap -F pcapng of vxlan' },
  'merge-dup': { from: ['eth', 'any'], tool: 'mergecap', args: (s, d) => ['-F', 'pcapng', '-w', d, ...s], ext: 'pcapng',
    truthFrom: 'eth', sameAs: ['eth'],
    wire: 'mergecap of eth (Ethernet) + any (Linux cooked), recorded at the same time: every packet twice, two interfaces of different link types; the truth is the Ethernet capture\'s' },
  'merge-mixed': { from: ['sll2', 'vxlan', 'vxlan6', 'srv6', 'gre'], minFrom: 2, tool: 'mergecap', args: (s, d) => ['-F', 'pcapng', '-w', d, ...s],
    ext: 'pcapng', union: true,
    wire: 'mergecap of captures of different runs (different traffic, link types and timestamp resolutions) into one pcapng; the truth is the union' },
};

/** Variants recorded simultaneously with `eth` (same traffic) compare their rows with it. */
const SIMULTANEOUS_WITH = { any: 'eth', sll2: 'eth', nano: 'eth' };

/**
 * Every variant: capture variants in run order, then derived ones. {name, kind, run | from,
 * linkType (expected, captures), wire, sameAs: variants whose extracted transactions must be the
 * same (another encoding of the same traffic; with union, the union of theirs)}.
 */
export const VARIANTS = [
  ...Object.entries(RUNS).flatMap(([runName, R]) =>
    R.captures.map((c) => ({
      name: c.name, kind: 'capture', run: runName, linkType: c.linkType, wire: c.wire,
      sameAs: SIMULTANEOUS_WITH[c.name] ? [SIMULTANEOUS_WITH[c.name]] : [], union: false,
    }))),
  ...Object.entries(DERIVED).map(([name, D]) => ({
    name, kind: 'derived', from: D.from, wire: D.wire, sameAs: D.sameAs || D.from, union: Boolean(D.union),
  })),
];
export const VARIANT_NAMES = VARIANTS.map((v) => v.name);

// ---------------------------------------------------------------------------
// The scenario: 8 transactions over the main family, +2 over the second family when the
// topology has one. Covers keep-alive with several GETs, a ~200 KB body (many MSS-sized
// segments), gzip, chunked, gzip+chunked, a form POST and a 30 KB upload.

export function variantSteps(prefix, families) {
  let i = 0;
  const t = () => `${prefix}-t${String(++i).padStart(2, '0')}`;
  const AE = ['-H', 'Accept-Encoding: gzip, deflate'];
  const [main, second] = families;
  const steps = [
    {
      kind: 'curl', family: main, port: 'main', label: `keep-alive GETs incl. 200 KB (IPv${main})`,
      items: [
        { method: 'GET', path: `/${t()}/page.html` },
        { method: 'GET', path: `/${t()}/text/2000.txt` },
        { method: 'GET', path: `/${t()}/bin/200000.bin` },
        { method: 'GET', path: `/${t()}/status/404` },
      ],
    },
    {
      kind: 'curl', family: main, port: 'main', label: `gzip, chunked, POSTs (IPv${main})`,
      items: [
        { method: 'GET', path: `/${t()}/gzip/20000.html`, args: AE },
        { method: 'GET', path: `/${t()}/chunked/6000.json` },
        { method: 'POST', path: `/${t()}/form`, args: ['-d', 'name=alice&msg=hello+world'] },
        {
          method: 'POST', path: `/${t()}/upload/small.bin`, upload: { size: 30000 },
          args: ['-H', 'Content-Type: application/octet-stream', '--data-binary', '@UPLOAD'],
        },
      ],
    },
  ];
  if (second) {
    steps.push({
      kind: 'curl', family: second, port: 'main', label: `IPv${second} connection`,
      items: [
        { method: 'GET', path: `/${t()}/text/1000.txt` },
        { method: 'GET', path: `/${t()}/gzip-chunked/8000.csv`, args: AE },
      ],
    });
  }
  return steps;
}

// ---------------------------------------------------------------------------
// Capture-file facts.

/** {format, linkTypes, tsresol: [per interface, 10^-n s]} of a pcap or pcapng file. */
export function captureInfo(file) {
  const fd = fs.openSync(file, 'r');
  try {
    const head = Buffer.alloc(24);
    fs.readSync(fd, head, 0, 24, 0);
    const le = head.readUInt32LE(0);
    const be = head.readUInt32BE(0);
    const classic = { 0xa1b2c3d4: 6, 0xa1b23c4d: 9, 0xa1b2cd34: 6 };
    if (classic[le] || classic[be]) {
      const little = Boolean(classic[le]);
      const magic = little ? le : be;
      const lt = (little ? head.readUInt32LE(20) : head.readUInt32BE(20)) & 0x0fffffff;
      return { format: magic === 0xa1b2cd34 ? 'modpcap' : 'pcap', magic: magic.toString(16), linkTypes: [lt], tsresol: [classic[magic]] };
    }
    if (le !== 0x0a0d0d0a) throw new Error(`${file}: neither pcap nor pcapng`);
    // pcapng: walk the blocks, collect Interface Description Blocks.
    const buf = fs.readFileSync(file);
    const linkTypes = [];
    const tsresol = [];
    let little = true;
    for (let o = 0; o + 12 <= buf.length;) {
      let type = little ? buf.readUInt32LE(o) : buf.readUInt32BE(o);
      if (type === 0x0a0d0d0a) {
        little = buf.readUInt32LE(o + 8) === 0x1a2b3c4d;
        type = 0x0a0d0d0a;
      }
      const len = little ? buf.readUInt32LE(o + 4) : buf.readUInt32BE(o + 4);
      if (len < 12) break;
      if (type === 1) {
        linkTypes.push(little ? buf.readUInt16LE(o + 8) : buf.readUInt16BE(o + 8));
        let res = 6;
        for (let p = o + 16; p + 4 <= o + len - 4;) {
          const code = little ? buf.readUInt16LE(p) : buf.readUInt16BE(p);
          const olen = little ? buf.readUInt16LE(p + 2) : buf.readUInt16BE(p + 2);
          if (code === 0) break;
          if (code === 9 && olen >= 1) {
            const v = buf[p + 4];
            res = v & 0x80 ? -(v & 0x7f) : v; // negative: power of two (rare)
          }
          p += 4 + olen + ((4 - (olen % 4)) % 4);
        }
        tsresol.push(res);
      }
      o += len;
    }
    return { format: 'pcapng', linkTypes, tsresol };
  } finally {
    fs.closeSync(fd);
  }
}

/** Packet count as capinfos reports it (null when capinfos is missing). */
export function capinfosCount(file) {
  if (!haveCmd('capinfos')) return null;
  const r = spawnSync('capinfos', ['-c', '-M', file], { encoding: 'utf8', timeout: 30000 });
  const m = /Number of packets:\s+(\d+)/.exec(r.stdout || '');
  if (!m) throw new Error(`capinfos ${file}: ${r.stderr || r.stdout}`);
  return Number(m[1]);
}

async function tsharkCount(file, filter) {
  const r = await run('tshark', ['-n', '-r', file, '-Y', filter, '-T', 'fields', '-e', 'frame.number'], { timeout: 30000 });
  if (r.code !== 0) throw new Error(`tshark -r ${file} -Y '${filter}': ${r.stderr.trim()}`);
  return r.stdout.split('\n').filter((l) => l.trim()).length;
}

/** `tshark -T fields -e frame.protocols | sort | uniq -c`, as [[count, protocols]] (most first). */
export async function protocolStacks(file) {
  const r = await run('tshark', ['-n', '-r', file, '-T', 'fields', '-e', 'frame.protocols'], { timeout: 30000 });
  if (r.code !== 0) throw new Error(`tshark -r ${file}: ${r.stderr.trim()}`);
  const m = new Map();
  for (const l of r.stdout.split('\n')) if (l.trim()) m.set(l.trim(), (m.get(l.trim()) ?? 0) + 1);
  return [...m.entries()].map(([p, n]) => [n, p]).sort((a, b) => b[0] - a[0]);
}

// ---------------------------------------------------------------------------
// One run.

async function captureRun(runName, { dir, timeoutMs = 30000, verbose = false }) {
  const R = RUNS[runName];
  if (!haveCmd('tcpdump')) throw new VariantSkip('tcpdump is not installed');
  if (!haveCmd('curl')) throw new VariantSkip('curl is not installed');
  fs.mkdirSync(dir, { recursive: true });
  const files = Object.fromEntries(R.captures.map((c) => [c.name, path.join(dir, `${c.name}.pcap`)]));
  const truthFile = path.join(dir, `${runName}.truth.json`);
  const serverTruth = path.join(dir, `.${runName}.server-truth.${process.pid}.jsonl`);
  for (const f of [...Object.values(files), truthFile, serverTruth]) fs.rmSync(f, { force: true });
  const t0 = Date.now();
  const log = (...a) => {
    if (verbose) console.error(`[variant ${runName} +${Date.now() - t0}ms]`, ...a);
  };

  const group = childGroup();
  const { children, add: onSpawn } = group;
  const uploadDir = fs.mkdtempSync(path.join(os.tmpdir(), 'xh-vupload-'));

  const body = async (link) => {
    const n = link.subnet;
    const hex = n.toString(16);
    const side = (k, dev, ip4, ip6) => ({
      ns: k === 1 ? link.clientNs : link.serverNs,
      dev, ip4, ip6,
      in4: `10.78.${n}.${k}`,
      in6: `fd78:${hex}::${k}`,
      mac: `02:78:00:00:${hex.padStart(2, '0').slice(-2)}:0${k}`,
    });
    const T = {
      link,
      n,
      log,
      // helper processes of a topology: killed with everything else when the run ends
      spawn: (ns, cmd, args) => {
        const child = link.spawn(ns, cmd, args);
        children.push(child);
        return child;
      },
      c: side(1, link.clientDev, link.clientIp, link.clientIp6),
      s: side(2, link.serverDev, link.serverIp, link.serverIp6),
    };
    const topo = await R.setup(T);
    const families = topo.families.filter((f) => f === 4 || T.s.ip6);
    if (!families.length) throw new VariantSkip('IPv6 is not available in the namespaces');
    const server4 = topo.server4 ?? T.s.in4;
    const server6 = topo.server6 ?? T.s.in6;
    const steps = variantSteps(runName, families);
    log('topology up', { families, server4, server6 });

    // 1. server on [::]:80 in the server namespace
    const server = link.spawn(link.serverNs, NODE, [SERVER_JS, '--truth', serverTruth, '--host', '::', '--port', '80']);
    children.push(server);
    let serverErr = '';
    server.stderr.on('data', (d) => (serverErr += d.toString()));
    const m = await waitForLine(server, 'stdout', /READY (\{.*\})\n/, 10000, 'server');
    const ports = JSON.parse(m[1]).ports;

    // 2. every server address answers before capturing (also settles ARP/ND over tunnels)
    const targets = families.map((f) => [f === 6 ? server6 : server4, ports[0]]);
    const pr = await link.exec(link.clientNs, NODE, ['-e', PROBE_JS, JSON.stringify(targets)], { timeout: 15000, onSpawn });
    if (pr.code !== 0) throw new Error(`server not reachable over ${runName}: ${pr.stderr.trim()}`);
    log('probe ok', targets);

    // 3. all captures of the run, in the client namespace
    const tds = [];
    for (const c of R.captures) {
      const args = ['-i', c.dev || link.clientDev, '-U', '-s', '0', '-n', '--immediate-mode', '-B', '65536', '-Z', 'root',
        ...(c.args || []), '-w', files[c.name]];
      if (c.filter) args.push(c.filter);
      const td = link.spawn(link.clientNs, 'tcpdump', args);
      children.push(td);
      const rec = { c, td, err: '' };
      td.stderr.on('data', (d) => (rec.err += d.toString()));
      tds.push(rec);
    }
    await Promise.all(tds.map((x) => waitForLine(x.td, 'stderr', /listening on/, 10000, `tcpdump ${x.c.name}`)));
    log('tcpdump listening');

    // 4. clients, one connection after the other
    const fake = { serverIp: server4, serverIp6: server6 };
    const clientLog = [];
    for (const s of steps) {
      const r = await link.exec(link.clientNs, 'curl', curlArgs(fake, ports, s, uploadDir), { timeout: 35000, onSpawn });
      clientLog.push({ label: s.label, code: r.code, out: r.stdout.trim() });
      if (r.code !== 0) throw new Error(`curl failed (${r.code}) for "${s.label}" over ${runName}: ${r.stderr.trim()}`);
    }
    log('clients done');

    // 5. last FIN/ACKs, stop captures and server. The kernel hands NFLOG packets over in
    // batches flushed once a second, so an nflog capture needs longer to see the last ones.
    await sleep(tds.some((x) => String(x.c.dev).startsWith('nflog')) ? 1500 : 300);
    for (const x of tds) x.td.kill('SIGINT');
    await Promise.all(tds.map((x) => waitExit(x.td, 5000)));
    const stats = {};
    for (const x of tds) {
      stats[x.c.name] = {
        captured: Number((/(\d+) packets? captured/.exec(x.err) || [])[1] ?? NaN),
        dropped: Number((/(\d+) packets? dropped by kernel/.exec(x.err) || [])[1] ?? NaN),
      };
    }
    server.kill('SIGTERM');
    await waitExit(server, 5000);
    if (serverErr.trim()) log('server stderr:', serverErr.trim());
    return { families, server4, server6, ports, stats, clientLog, steps, dev: link.clientDev, notes: topo.notes || [] };
  };

  let result;
  try {
    result = await group.withDeadline(timeoutMs, `variant run "${runName}"`, async () => {
      try {
        return await withLink(body, { noFallback: true, verbose });
      } catch (e) {
        if (!(e instanceof VariantSkip) && !children.length && /not root|`ip` not found|netns add/.test(e.message)) {
          throw new VariantSkip(`network namespaces unavailable: ${e.message}`);
        }
        throw e;
      }
    });
  } catch (e) {
    fs.rmSync(serverTruth, { force: true });
    throw e;
  } finally {
    fs.rmSync(uploadDir, { recursive: true, force: true });
  }

  const truth = fs.existsSync(serverTruth)
    ? fs.readFileSync(serverTruth, 'utf8').split('\n').filter((l) => l.trim()).map((l) => JSON.parse(l)).sort((a, b) => a.seq - b.seq)
    : [];
  fs.rmSync(serverTruth, { force: true });
  const expected = result.steps.flatMap((s) => s.items);
  const missing = expected.filter((it) => !truth.some((x) => x.uri === it.path && x.method === it.method));
  if (missing.length || truth.length !== expected.length) {
    throw new Error(`server recorded ${truth.length}/${expected.length} transactions; missing ${missing.map((x) => x.path).join(', ')}`);
  }

  const out = {};
  for (const c of R.captures) {
    const file = files[c.name];
    if (!fs.existsSync(file)) throw new Error(`tcpdump wrote no ${file}`);
    const st = result.stats[c.name];
    if (st.dropped > 0) throw new Error(`tcpdump ${c.name} dropped ${st.dropped} packets`);
    const notes = [...result.notes];
    const info = captureInfo(file);
    if (info.linkTypes[0] !== c.linkType) notes.push(`link type ${info.linkTypes[0]}, expected ${c.linkType}`);
    out[c.name] = { file, info, st, notes };
  }
  if (R.verify && !haveCmd('tshark')) {
    for (const c of R.captures) out[c.name].notes.push('fragments not verified: tshark is not installed');
  } else if (R.verify) {
    for (const c of R.captures) {
      const f = files[c.name];
      if (R.verify.ipv4Fragments) {
        const k = await tsharkCount(f, 'ip.flags.mf == 1 || ip.frag_offset > 0');
        if (!k) throw new Error(`${f}: no IPv4 fragments on the wire (tshark: ip.flags.mf == 1 matched nothing)`);
        out[c.name].notes.push(`${k} IPv4 fragments (tshark ip.flags.mf==1 || ip.frag_offset>0)`);
      }
      if (R.verify.ipv6Fragments) {
        const k = await tsharkCount(f, 'ipv6.fraghdr');
        if (!k) throw new Error(`${f}: no IPv6 fragments on the wire (tshark: ipv6.fraghdr matched nothing)`);
        out[c.name].notes.push(`${k} IPv6 fragments (tshark ipv6.fraghdr)`);
      }
    }
  }

  const truthDoc = {
    scenario: `variant:${runName}`,
    mode: 'netns',
    dev: result.dev,
    server: { ip: result.server4, ip6: result.server6, ports: result.ports },
    families: result.families,
    captures: Object.fromEntries(R.captures.map((c) => [c.name, {
      file: path.basename(files[c.name]), link_types: out[c.name].info.linkTypes,
      tcpdump_captured: out[c.name].st.captured, tcpdump_dropped: out[c.name].st.dropped,
    }])),
    connections: result.clientLog.map((c) => ({ label: c.label })),
    transactions: truth,
  };
  fs.writeFileSync(truthFile, JSON.stringify(truthDoc, null, 1) + '\n');
  log(`done: ${truth.length} transactions`);

  return Object.fromEntries(R.captures.map((c) => {
    const o = out[c.name];
    return [c.name, {
      variant: c.name,
      kind: 'capture',
      run: runName,
      file: o.file,
      format: o.info.format,
      linkType: o.info.linkTypes[0],
      linkTypes: o.info.linkTypes,
      tsresol: o.info.tsresol,
      packets: capinfosCount(o.file) ?? countPcapPackets(o.file),
      truth,
      truthFile,
      sameAs: SIMULTANEOUS_WITH[c.name] ? [SIMULTANEOUS_WITH[c.name]] : [],
      wire: c.wire,
      notes: o.notes,
      skipped: null,
      error: null,
    }];
  }));
}

// ---------------------------------------------------------------------------
// Derivations.

async function derive(name, results, dir) {
  const D = DERIVED[name];
  if (!haveCmd(D.tool)) throw new VariantSkip(`${D.tool} is not installed`);
  let from = D.from.filter((f) => results[f] && !results[f].skipped && !results[f].error);
  if (D.minFrom) {
    // Sources of different runs only (so the union truth has no duplicate transactions).
    const seen = new Set();
    from = from.filter((f) => {
      const k = results[f].run;
      if (seen.has(k)) return false;
      seen.add(k);
      return true;
    });
    if (from.length < D.minFrom) throw new VariantSkip(`fewer than ${D.minFrom} of ${D.from.join(', ')} could be made`);
  } else if (from.length !== D.from.length) {
    const bad = D.from.filter((f) => !from.includes(f));
    throw new VariantSkip(`source ${bad.map((f) => `${f} (${results[f]?.skipped || results[f]?.error || 'not made'})`).join(', ')}`);
  }
  const src = from.map((f) => results[f]);
  const file = path.join(dir, `${name}.${D.ext}`);
  fs.rmSync(file, { force: true });
  const r = await run(D.tool, D.args(src.map((s) => s.file), file), { timeout: 30000 });
  if (r.code !== 0) {
    if (/unknown|not supported|can't be saved|cannot be written/i.test(r.stderr)) {
      throw new VariantSkip(`${D.tool} cannot write it here: ${r.stderr.trim()}`);
    }
    throw new Error(`${D.tool} ${D.args(src.map((s) => s.file), file).join(' ')}: ${r.stderr.trim()}`);
  }
  let truth;
  let truthFile;
  if (D.union) {
    truth = src.flatMap((s) => s.truth);
    truthFile = path.join(dir, `${name}.truth.json`);
    fs.writeFileSync(truthFile, JSON.stringify({
      scenario: `variant:${name}`,
      sources: src.map((s) => ({ variant: s.variant, run: s.run, truth: path.basename(s.truthFile) })),
      transactions: truth,
    }, null, 1) + '\n');
  } else {
    const t = results[D.truthFrom || from[0]];
    truth = t.truth;
    truthFile = t.truthFile;
  }
  const info = captureInfo(file);
  return {
    variant: name,
    kind: 'derived',
    run: null,
    from,
    file,
    format: info.format,
    linkType: info.linkTypes.length === 1 ? info.linkTypes[0] : info.linkTypes,
    linkTypes: info.linkTypes,
    tsresol: info.tsresol,
    packets: capinfosCount(file) ?? (info.format === 'pcap' ? countPcapPackets(file) : null),
    truth,
    truthFile,
    sameAs: D.sameAs || from,
    sameAsUnion: Boolean(D.union),
    wire: D.wire,
    notes: [`${D.tool} ${D.args(src.map((s) => path.basename(s.file)), path.basename(file)).join(' ')}`],
    skipped: null,
    error: null,
  };
}

/** Capture variants (and their runs) that the requested variants need, transitively. */
function needed(names) {
  const want = new Set();
  const visit = (n) => {
    if (want.has(n)) return;
    if (!VARIANT_NAMES.includes(n)) throw new Error(`unknown variant ${n} (have: ${VARIANT_NAMES.join(', ')})`);
    want.add(n);
    if (DERIVED[n]) for (const f of DERIVED[n].from) visit(f);
    if (SIMULTANEOUS_WITH[n]) visit(SIMULTANEOUS_WITH[n]);
  };
  names.forEach(visit);
  return want;
}

/**
 * Make the variants (default: all) into dir. Returns {name: result} for every requested variant
 * and whatever it needed; results carry `skipped` (this machine cannot) or `error` (failed).
 * opts: {variants, dir, verbose, timeoutMs (per run), concurrency (runs at once)}
 */
export async function makeVariantCaptures({ variants = VARIANT_NAMES, dir, verbose = false, timeoutMs = 30000, concurrency = 2 } = {}) {
  if (!dir) throw new Error('dir is required');
  fs.mkdirSync(dir, { recursive: true });
  const want = needed(variants);
  const runs = [...new Set(VARIANTS.filter((v) => want.has(v.name) && v.kind === 'capture').map((v) => v.run))];
  const results = {};
  const queue = runs.slice();
  const worker = async () => {
    while (queue.length) {
      const runName = queue.shift();
      const t0 = Date.now();
      try {
        let got;
        try {
          got = await captureRun(runName, { dir, timeoutMs, verbose });
        } catch (e) {
          if (e instanceof VariantSkip) throw e;
          // One more try for a busy machine (tcpdump drops, slow start); a real problem fails twice.
          console.error(`[variants] ${runName}: ${e.message}; trying once more`);
          got = await captureRun(runName, { dir, timeoutMs, verbose });
          for (const r of Object.values(got)) r.notes.push(`made at the second attempt (first: ${e.message})`);
        }
        Object.assign(results, got);
        for (const c of RUNS[runName].captures) results[c.name].ms = Date.now() - t0;
      } catch (e) {
        for (const c of RUNS[runName].captures) {
          results[c.name] = {
            variant: c.name, kind: 'capture', run: runName, wire: c.wire,
            skipped: e instanceof VariantSkip ? e.message : null,
            error: e instanceof VariantSkip ? null : e.message,
          };
        }
        if (verbose) console.error(`[variant ${runName}] ${e instanceof VariantSkip ? 'skipped' : 'FAILED'}: ${e.message}`);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  // Derived ones, in declaration order (a derived variant may derive from an earlier one).
  for (const name of Object.keys(DERIVED)) {
    if (!want.has(name)) continue;
    try {
      results[name] = await derive(name, results, dir);
    } catch (e) {
      results[name] = {
        variant: name, kind: 'derived', from: DERIVED[name].from, wire: DERIVED[name].wire,
        skipped: e instanceof VariantSkip ? e.message : null,
        error: e instanceof VariantSkip ? null : e.message,
      };
    }
  }
  const ordered = {};
  for (const n of VARIANT_NAMES) if (results[n]) ordered[n] = results[n];
  return ordered;
}

/** One variant (plus whatever it is derived from). Returns its result, see makeVariantCaptures. */
export async function makeVariantCapture({ variant, dir, ...opts }) {
  const all = await makeVariantCaptures({ variants: [variant], dir, ...opts });
  return all[variant];
}

// CLI: node test/harness/variants.js DIR [VARIANT...]
//   XH_VERBOSE=1: progress; XH_PROTOCOLS=1: tshark's protocol stacks of each capture
if (import.meta.url === `file://${process.argv[1]}`) {
  const [dir = '/tmp/xh-variants', ...names] = process.argv.slice(2);
  const t0 = Date.now();
  makeVariantCaptures({ dir, variants: names.length ? names : undefined, verbose: !!process.env.XH_VERBOSE })
    .then(async (res) => {
      for (const r of Object.values(res)) {
        if (r.skipped || r.error) {
          console.log(`${r.variant.padEnd(13)} ${r.skipped ? 'SKIPPED' : 'ERROR'}: ${r.skipped || r.error}`);
          continue;
        }
        console.log(`${r.variant.padEnd(13)} ${path.basename(r.file).padEnd(20)} ${r.format.padEnd(7)} linktype ${String(r.linkTypes).padEnd(7)} ` +
          `tsresol ${String(r.tsresol).padEnd(5)} packets ${String(r.packets).padEnd(5)} transactions ${r.truth.length}` +
          `${r.notes.length ? `  [${r.notes.join('; ')}]` : ''}`);
        if (process.env.XH_PROTOCOLS) {
          for (const [k, p] of (await protocolStacks(r.file)).slice(0, 6)) console.log(`${String(k).padStart(19)} ${p}`);
        }
      }
      console.log(`took ${Date.now() - t0} ms`);
    })
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
}
