#!/usr/bin/env python3
"""User-space VLAN and tunnel endpoints for the variant captures (test/harness/variants.js), for
kernels without the vlan / gre / gretap / erspan / ipip / sit / ip6tnl link types.

  tunnel-endpoint.py vlan TAP DEV TPID:VID [TPID:VID]
      Frames read from the TAP device leave on DEV (a veth) with the tags added, outermost
      first (e.g. 88a8:20 8100:30 for QinQ); frames arriving on DEV with exactly those tags
      are written to the TAP without them. Untagged frames and other tags are dropped.

  tunnel-endpoint.py MODE DEV LOCAL REMOTE [nopmtudisc]
      MODE   device  outer                       encapsulation
      gre     TUN    IPv4 proto 47               GRE (0x0800 / 0x86dd)
      gretap  TAP    IPv4 proto 47               GRE 0x6558 (transparent Ethernet bridging)
      erspan  TAP    IPv4 proto 47               GRE+seq 0x88be, ERSPAN type II (8 bytes)
      erspan3 TAP    IPv4 proto 47               GRE+seq 0x22eb, ERSPAN type III (12 bytes)
      ipip    TUN    IPv4 proto 4                IPv4 in IPv4
      sit     TUN    IPv4 proto 41               IPv6 in IPv4
      ip6tnl  TUN    IPv6 proto 4 / 41 + dstopt  IPv4|IPv6 in IPv6, destination options header
                                                 with a tunnel encapsulation limit (like the
                                                 kernel's ip6tnl)
      The outer header is the kernel's (raw sockets bound to LOCAL, sent to REMOTE); with
      nopmtudisc the outer IPv4 header has DF unset and the kernel fragments what does not fit.

Settings for the kernel-compatible fields: ERSPAN session id 10, index 123 (type II), hardware
id 7, direction egress (type III). Prints READY once set up, then forwards until killed.
Standard library only.
"""
import fcntl
import os
import select
import socket
import struct
import sys
import time

TUNSETIFF = 0x400454CA
IFF_TUN, IFF_TAP, IFF_NO_PI = 0x0001, 0x0002, 0x1000
ETH_P_ALL = 0x0003
SOL_PACKET, PACKET_AUXDATA, PACKET_OUTGOING = 263, 8, 4
TP_STATUS_VLAN_VALID, TP_STATUS_VLAN_TPID_VALID = 0x10, 0x40
VLAN_TPIDS = (0x8100, 0x88A8, 0x9100)
IP_MTU_DISCOVER, IP_PMTUDISC_DONT = 10, 0
IPV6_DSTOPTS = 59
# Destination options: tunnel encapsulation limit 4 (type 4, length 1) + PadN of 1 byte.
ENCAP_LIMIT = bytes([0, 0, 0x04, 1, 4, 0x01, 1, 0])


def open_tun(name, tap):
    fd = os.open('/dev/net/tun', os.O_RDWR)
    fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH', name.encode(), (IFF_TAP if tap else IFF_TUN) | IFF_NO_PI))
    return fd


def write(fd, data):
    try:
        os.write(fd, data)
    except OSError:
        pass  # e.g. EIO: the device is not up yet


def vlan(tap_name, dev, tag_args):
    tags = [(int(t, 16), int(v)) for t, v in (a.split(':') for a in tag_args)]
    push = b''.join(struct.pack('!HH', t, v) for t, v in tags)
    tap = open_tun(tap_name, True)
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    s.bind((dev, ETH_P_ALL))
    print('READY', flush=True)
    while True:
        r = select.select([tap, s], [], [])[0]
        if tap in r:
            f = os.read(tap, 65536)
            if len(f) >= 14:
                try:
                    s.send(f[:12] + push + f[12:])
                except OSError as e:
                    print('send: %s (%d bytes)' % (e, len(f)), file=sys.stderr, flush=True)
        if s in r:
            f, anc, _, addr = s.recvmsg(65536, socket.CMSG_SPACE(20))
            if addr[2] == PACKET_OUTGOING or len(f) < 14:
                continue
            # The receiving device's stack moved the outer tag out of the frame, into metadata.
            for level, kind, data in anc:
                if level == SOL_PACKET and kind == PACKET_AUXDATA and len(data) >= 20:
                    status, _, _, _, _, tci, tpid = struct.unpack('IIIHHHH', data[:20])
                    if status & TP_STATUS_VLAN_VALID:
                        if not status & TP_STATUS_VLAN_TPID_VALID:
                            tpid = 0x8100
                        f = f[:12] + struct.pack('!HH', tpid, tci) + f[12:]
            o = 12
            for t, v in tags:
                if len(f) < o + 6:
                    break
                tt, tci = struct.unpack('!HH', f[o:o + 4])
                if tt != t or tci & 0xFFF != v:
                    break
                o += 4
            else:
                if struct.unpack('!H', f[o:o + 2])[0] not in VLAN_TPIDS:
                    write(tap, f[:12] + f[o:])


def tunnel(mode, dev, local, remote, options):
    tap = mode in ('gretap', 'erspan', 'erspan3')
    fd = open_tun(dev, tap)
    six = mode == 'ip6tnl'
    protos = {'gre': [47], 'gretap': [47], 'erspan': [47], 'erspan3': [47], 'ipip': [4], 'sit': [41],
              'ip6tnl': [4, 41]}[mode]
    socks = {}
    for p in protos:
        s = socket.socket(socket.AF_INET6 if six else socket.AF_INET, socket.SOCK_RAW, p)
        s.bind((local, 0))
        if 'nopmtudisc' in options:
            s.setsockopt(socket.IPPROTO_IP, IP_MTU_DISCOVER, IP_PMTUDISC_DONT)
        if six:
            s.setsockopt(socket.IPPROTO_IPV6, IPV6_DSTOPTS, ENCAP_LIMIT)
        socks[s] = p
    family = socket.AF_INET6 if six else socket.AF_INET
    peer = socket.inet_pton(family, remote)
    seq = 0
    print('READY', flush=True)
    while True:
        r = select.select([fd, *socks], [], [])[0]
        if fd in r:
            pkt = os.read(fd, 65536)
            out = None
            sock = next(iter(socks))
            if not pkt:
                pass
            elif mode == 'gre':
                out = struct.pack('!HH', 0, 0x86DD if pkt[0] >> 4 == 6 else 0x0800) + pkt
            elif mode == 'gretap':
                out = struct.pack('!HH', 0, 0x6558) + pkt
            elif mode == 'erspan':
                # ver 1, vlan 0, cos 0, en 0 (untagged), t 0, session 10 | index 123
                out = struct.pack('!HHI', 0x1000, 0x88BE, seq) + struct.pack('!II', (1 << 28) | 10, 123) + pkt
                seq = (seq + 1) & 0xFFFFFFFF
            elif mode == 'erspan3':
                # ver 2, vlan 0, cos 0, bso 0, t 0, session 10 | timestamp (100 us units) |
                # sgt 0, p 0, ft 0 (Ethernet), hw id 7, d 1 (egress), gra 0 (100 us, as the kernel), o 0
                ts = int(time.time() * 10000) & 0xFFFFFFFF
                word3 = (7 << 4) | (1 << 3)
                out = struct.pack('!HHI', 0x1000, 0x22EB, seq) + struct.pack('!III', (2 << 28) | 10, ts, word3) + pkt
                seq = (seq + 1) & 0xFFFFFFFF
            elif mode == 'ipip' and pkt[0] >> 4 == 4:
                out = pkt
            elif mode == 'sit' and pkt[0] >> 4 == 6:
                out = pkt
            elif mode == 'ip6tnl' and pkt[0] >> 4 in (4, 6):
                out = pkt
                want = 4 if pkt[0] >> 4 == 4 else 41
                sock = next(s for s, p in socks.items() if p == want)
            if out is not None:
                try:
                    sock.sendto(out, (remote, 0))
                except OSError as e:
                    print('send: %s (%d bytes)' % (e, len(out)), file=sys.stderr, flush=True)
        for s in socks:
            if s not in r:
                continue
            d, addr = s.recvfrom(65536)
            if socket.inet_pton(family, addr[0].split('%')[0]) != peer:
                continue
            if not six:
                d = d[(d[0] & 0x0F) * 4:]  # IPv4 raw sockets get the IP header, IPv6 ones do not
            if socks[s] != 47:
                if d and d[0] >> 4 == (6 if socks[s] == 41 else 4):
                    write(fd, d)
                continue
            if len(d) < 4:
                continue
            flags, proto = struct.unpack('!HH', d[:4])
            if flags & 0x0007:
                continue  # GRE version 0 only
            o = 4 + 4 * ((flags >> 15 & 1) + (flags >> 13 & 1) + (flags >> 12 & 1))  # C, K, S
            if mode == 'gre' and proto in (0x0800, 0x86DD):
                write(fd, d[o:])
            elif mode == 'gretap' and proto == 0x6558:
                write(fd, d[o:])
            elif mode == 'erspan' and proto == 0x88BE:
                write(fd, d[o + 8:])
            elif mode == 'erspan3' and proto == 0x22EB and len(d) >= o + 12:
                write(fd, d[o + 12 + (8 if d[o + 11] & 1 else 0):])


def main(argv):
    if len(argv) >= 4 and argv[1] == 'vlan':
        vlan(argv[2], argv[3], argv[4:])
    elif len(argv) >= 5:
        tunnel(argv[1], argv[2], argv[3], argv[4], argv[5:])
    else:
        sys.exit(__doc__)


if __name__ == '__main__':
    try:
        main(sys.argv)
    except KeyboardInterrupt:
        pass
