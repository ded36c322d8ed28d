// Network-namespace link for the real-traffic harness.
//
// withLink(fn, opts) creates two namespaces joined by a veth pair (MTU 1500,
// IPv4 + IPv6, offloads off so tcpdump sees real MSS-sized segments with real
// checksums), calls fn(info), and always deletes the namespaces afterwards.
// When namespaces cannot be made (not root, no `ip`, ...) it falls back to
// loopback and says so in info.mode.
//
// Only Node 20 built-ins are used.

import { spawn as cpSpawn, execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';

const PREFIX = 'xh-';
let counter = 0;

/** Namespaces currently owned by this process (for signal/exit cleanup). */
const liveNamespaces = new Set();
/** Child processes to kill on signal (registered by users via trackChild). */
const liveChildren = new Set();
let handlersInstalled = false;

function log(opts, ...a) {
  if (opts && opts.verbose) console.error('[netns]', ...a);
}

function deleteNsSync(ns) {
  try {
    execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore', timeout: 5000 });
  } catch {
    /* already gone */
  }
  liveNamespaces.delete(ns);
}

function killChildrenSync() {
  for (const c of liveChildren) {
    try {
      if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    } catch {
      /* ignore */
    }
  }
  liveChildren.clear();
}

function onSignal(sig) {
  killChildrenSync();
  for (const ns of [...liveNamespaces]) deleteNsSync(ns);
  process.exit(sig === 'SIGINT' ? 130 : 143);
}

function onExit() {
  killChildrenSync();
  for (const ns of [...liveNamespaces]) deleteNsSync(ns);
}

function installHandlers() {
  if (handlersInstalled) return;
  handlersInstalled = true;
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('exit', onExit);
}

function uninstallHandlersIfIdle() {
  if (!handlersInstalled || liveNamespaces.size || liveChildren.size) return;
  handlersInstalled = false;
  process.off('SIGINT', onSignal);
  process.off('SIGTERM', onSignal);
  process.off('exit', onExit);
}

/** Register a child process so that it is SIGKILLed on SIGINT/SIGTERM/exit. */
export function trackChild(child) {
  installHandlers();
  liveChildren.add(child);
  child.once('exit', () => {
    liveChildren.delete(child);
  });
  return child;
}

/**
 * The children of one run: killAll() SIGKILLs each one still alive. withDeadline(ms, what, fn)
 * runs fn() and, if it takes longer than ms, kills every child: that makes every wait in fn()
 * finish, so withLink() inside it still tears the namespaces down before the run fails with a
 * timeout naming `what`. The children are killed when fn() ends, whatever happened.
 */
export function childGroup() {
  const children = [];
  const killAll = () => {
    for (const c of children) {
      try {
        if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
      } catch {
        /* already gone */
      }
    }
  };
  return {
    children,
    add: (c) => children.push(c),
    killAll,
    async withDeadline(ms, what, fn) {
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        killAll();
      }, ms);
      try {
        const result = await fn();
        if (timedOut) throw new Error('late');
        return result;
      } catch (e) {
        if (timedOut) throw new Error(`${what} timed out after ${ms} ms (${e.message})`);
        throw e;
      } finally {
        clearTimeout(timer);
        killAll();
      }
    },
  };
}

/**
 * Run a command to completion. Resolves {code, signal, stdout, stderr};
 * never rejects on non-zero exit (check code), rejects on spawn error/timeout.
 */
export function run(cmd, args = [], { timeout = 15000, input, env, onSpawn } = {}) {
  return new Promise((resolve, reject) => {
    let child;
    try {
      child = cpSpawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], env: env || process.env });
    } catch (e) {
      reject(e);
      return;
    }
    trackChild(child);
    if (onSpawn) onSpawn(child);
    const out = [];
    const err = [];
    let timedOut = false;
    const t = setTimeout(() => {
      timedOut = true;
      try {
        child.kill('SIGKILL');
      } catch {
        /* ignore */
      }
    }, timeout);
    child.stdout.on('data', (d) => out.push(d));
    child.stderr.on('data', (d) => err.push(d));
    child.on('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(t);
      const res = {
        code,
        signal,
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      };
      if (timedOut) {
        const e = new Error(`timeout after ${timeout} ms: ${cmd} ${args.join(' ')}`);
        e.result = res;
        reject(e);
      } else resolve(res);
    });
    if (input !== undefined) child.stdin.end(input);
    else child.stdin.end();
  });
}

async function must(cmd, args, opts) {
  const r = await run(cmd, args, opts);
  if (r.code !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} failed (${r.code}): ${r.stderr.trim()}`);
  }
  return r;
}

function pidAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return e.code === 'EPERM';
  }
}

/** Delete namespaces left behind by dead harness processes (xh-c-<pid>-<n>). */
export function cleanupStale() {
  let list = '';
  try {
    list = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8', timeout: 5000 });
  } catch {
    return [];
  }
  const removed = [];
  for (const line of list.split('\n')) {
    const name = line.trim().split(/\s+/)[0];
    const m = /^xh-[cs]-(\d+)-\d+$/.exec(name || '');
    if (!m) continue;
    const pid = Number(m[1]);
    if (pid !== process.pid && !pidAlive(pid)) {
      deleteNsSync(name);
      removed.push(name);
    }
  }
  return removed;
}

function haveCmd(cmd) {
  const r = spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
  return r.status === 0;
}

// Legacy ETHTOOL ioctls, used only when the ethtool binary is missing.
const PY_OFFLOAD = `
import fcntl, socket, struct, array, sys
dev = sys.argv[1].encode()
SIOCETHTOOL = 0x8946
cmds = {'tx':0x17, 'rx':0x15, 'sg':0x19, 'tso':0x1f, 'gso':0x24, 'gro':0x2c}
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
bad = []
for name in ['tso','gso','gro','sg','tx','rx']:
    buf = array.array('B', struct.pack('II', cmds[name], 0))
    addr, _ = buf.buffer_info()
    ifr = struct.pack('16sP', dev, addr)
    try:
        fcntl.ioctl(s.fileno(), SIOCETHTOOL, ifr)
    except OSError as e:
        bad.append('%s:%s' % (name, e))
print(' '.join(bad))
`;

async function offloadsOff(ns, dev, opts) {
  const feats = ['tso', 'off', 'gso', 'off', 'gro', 'off', 'tx', 'off', 'rx', 'off'];
  if (haveCmd('ethtool')) {
    const r = await run('ip', ['netns', 'exec', ns, 'ethtool', '-K', dev, ...feats]);
    // ethtool exits non-zero when some feature is "fixed"; verify what matters.
    const k = await run('ip', ['netns', 'exec', ns, 'ethtool', '-k', dev]);
    const on = [];
    for (const f of [
      'tcp-segmentation-offload',
      'generic-segmentation-offload',
      'generic-receive-offload',
      'tx-checksumming',
    ]) {
      const m = new RegExp(`^${f}: (on|off)`, 'm').exec(k.stdout);
      if (m && m[1] === 'on') on.push(f);
    }
    if (on.length) throw new Error(`could not disable offloads on ${dev}: ${on.join(', ')} (${r.stderr.trim()})`);
    return 'ethtool';
  }
  // Fallback without ethtool: python3 + legacy SIOCETHTOOL ioctls.
  if (haveCmd('python3')) {
    const r = await run('ip', ['netns', 'exec', ns, 'python3', '-c', PY_OFFLOAD, dev]);
    if (r.code === 0) {
      if (r.stdout.trim()) log(opts, `offload ioctl warnings on ${dev}: ${r.stdout.trim()}`);
      return 'ioctl';
    }
  }
  // Last resort: cap GSO at one segment so no super-packets reach tcpdump.
  await run('ip', ['-n', ns, 'link', 'set', 'dev', dev, 'gso_max_segs', '1']);
  console.error(
    `[netns] WARNING: ethtool missing; offloads only partly disabled on ${dev} ` +
      '(install ethtool: apt-get install -y ethtool)',
  );
  return 'partial';
}

async function waitLinkReady(ns, dev, ip6, deadline) {
  for (;;) {
    const l = await run('ip', ['-n', ns, 'link', 'show', 'dev', dev]);
    const a = await run('ip', ['-n', ns, '-6', 'addr', 'show', 'dev', dev]);
    const up = /LOWER_UP/.test(l.stdout) && /state UP/.test(l.stdout);
    const line6 = ip6 ? a.stdout.split('\n').find((l) => l.includes(`inet6 ${ip6}/`)) : '';
    const ok6 = !ip6 || (line6 !== undefined && !/tentative|dadfailed/.test(line6));
    if (up && ok6) return;
    if (Date.now() > deadline) throw new Error(`link ${dev} in ${ns} not ready: ${l.stdout} ${a.stdout}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

async function setupNetns(opts) {
  if (typeof process.getuid === 'function' && process.getuid() !== 0) {
    throw new Error('not root');
  }
  if (!haveCmd('ip')) throw new Error('iproute2 `ip` not found');
  cleanupStale();
  installHandlers();

  const n = (counter++ % 250) + 1; // subnet index; the pair is isolated anyway
  const id = `${process.pid}-${n}`;
  const clientNs = `${PREFIX}c-${id}`;
  const serverNs = `${PREFIX}s-${id}`;
  const clientDev = 'xh0';
  const serverDev = 'xh1';
  const mtu = String(opts.mtu || 1500);
  const clientIp = `10.77.${n}.1`;
  const serverIp = `10.77.${n}.2`;
  const clientIp6 = `fd77:${n.toString(16)}::1`;
  const serverIp6 = `fd77:${n.toString(16)}::2`;

  await must('ip', ['netns', 'add', clientNs]);
  liveNamespaces.add(clientNs);
  await must('ip', ['netns', 'add', serverNs]);
  liveNamespaces.add(serverNs);

  await must('ip', [
    'link', 'add', clientDev, 'netns', clientNs, 'mtu', mtu, 'type', 'veth',
    'peer', 'name', serverDev, 'netns', serverNs, 'mtu', mtu,
  ]);

  let ipv6 = true;
  for (const [ns, dev, ip4, ip6] of [
    [clientNs, clientDev, clientIp, clientIp6],
    [serverNs, serverDev, serverIp, serverIp6],
  ]) {
    await must('ip', ['-n', ns, 'link', 'set', 'lo', 'up']);
    // Make sure IPv6 is enabled in the namespace (some hosts default it off).
    await run('ip', [
      'netns', 'exec', ns, 'sh', '-c',
      `for f in all default ${dev}; do echo 0 > /proc/sys/net/ipv6/conf/$f/disable_ipv6; ` +
        `echo 0 > /proc/sys/net/ipv6/conf/$f/accept_dad; done 2>/dev/null; true`,
    ]);
    await must('ip', ['-n', ns, 'addr', 'add', `${ip4}/24`, 'dev', dev]);
    const r6 = await run('ip', ['-n', ns, 'addr', 'add', `${ip6}/64`, 'dev', dev, 'nodad']);
    if (r6.code !== 0) {
      ipv6 = false;
      log(opts, `IPv6 unavailable in ${ns}: ${r6.stderr.trim()}`);
    }
  }
  const offload = [];
  for (const [ns, dev] of [
    [clientNs, clientDev],
    [serverNs, serverDev],
  ]) {
    offload.push(await offloadsOff(ns, dev, opts));
  }
  for (const [ns, dev] of [
    [clientNs, clientDev],
    [serverNs, serverDev],
  ]) {
    await must('ip', ['-n', ns, 'link', 'set', dev, 'up']);
  }
  const deadline = Date.now() + 10000;
  await waitLinkReady(clientNs, clientDev, ipv6 && clientIp6, deadline);
  await waitLinkReady(serverNs, serverDev, ipv6 && serverIp6, deadline);

  return {
    mode: 'netns',
    subnet: n,
    clientNs,
    serverNs,
    clientIp,
    serverIp,
    clientIp6: ipv6 ? clientIp6 : null,
    serverIp6: ipv6 ? serverIp6 : null,
    ipv6,
    dev: clientDev,
    clientDev,
    serverDev,
    mtu: Number(mtu),
    offload: offload.join(','),
    namespaces: [clientNs, serverNs],
  };
}

function loopbackInfo(reason) {
  let ipv6 = true;
  try {
    const s = fs.readFileSync('/proc/net/if_inet6', 'utf8');
    ipv6 = /^0{31}1 /m.test(s);
  } catch {
    ipv6 = false;
  }
  return {
    mode: 'loopback',
    reason,
    clientNs: null,
    serverNs: null,
    clientIp: '127.0.0.1',
    serverIp: '127.0.0.1',
    clientIp6: ipv6 ? '::1' : null,
    serverIp6: ipv6 ? '::1' : null,
    ipv6,
    dev: 'lo',
    clientDev: 'lo',
    serverDev: 'lo',
    mtu: null,
    offload: 'none',
    namespaces: [],
  };
}

/** [cmd, args] wrapped so that it runs inside ns (or unchanged when ns is null). */
export function wrap(ns, cmd, args = []) {
  return ns ? ['ip', ['netns', 'exec', ns, cmd, ...args]] : [cmd, args];
}

/**
 * Create a link, call fn(info), and always tear it down.
 * info: {mode, clientNs, serverNs, clientIp, serverIp, clientIp6, serverIp6,
 *        ipv6, dev, clientDev, serverDev, exec(ns, cmd, args, opts) -> Promise<{code,stdout,stderr}>,
 *        spawn(ns, cmd, args, spawnOpts) -> ChildProcess (tracked), wrap(ns, cmd, args)}
 * opts: {loopback: true to force loopback, mtu, verbose,
 *        noFallback: true to throw (after cleaning up) instead of falling back to loopback}
 * info.subnet (netns mode): n of the 10.77.n.0/24 / fd77:n::/64 addresses, free for other
 * per-link subnets (e.g. tunnel inner addresses 10.78.n.0/24).
 */
export async function withLink(fn, opts = {}) {
  let info;
  if (opts.loopback || process.env.XH_HARNESS_LOOPBACK === '1') {
    info = loopbackInfo('forced');
  } else {
    try {
      info = await setupNetns(opts);
    } catch (e) {
      // Remove whatever part was created, then fall back.
      for (const ns of [...liveNamespaces]) {
        if (ns.startsWith(`${PREFIX}c-${process.pid}-`) || ns.startsWith(`${PREFIX}s-${process.pid}-`)) {
          deleteNsSync(ns);
        }
      }
      if (opts.noFallback) {
        uninstallHandlersIfIdle();
        throw e;
      }
      info = loopbackInfo(`netns unavailable: ${e.message}`);
      console.error(`[netns] falling back to loopback (${e.message})`);
    }
  }
  info.exec = (ns, cmd, args = [], runOpts) => {
    const [c, a] = wrap(ns, cmd, args);
    return run(c, a, runOpts);
  };
  info.spawn = (ns, cmd, args = [], spawnOpts = {}) => {
    const [c, a] = wrap(ns, cmd, args);
    const child = cpSpawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'], ...spawnOpts });
    return trackChild(child);
  };
  info.wrap = wrap;
  try {
    return await fn(info);
  } finally {
    for (const ns of info.namespaces) deleteNsSync(ns);
    uninstallHandlersIfIdle();
  }
}
