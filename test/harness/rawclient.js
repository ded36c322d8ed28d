#!/usr/bin/env node
// Raw-socket HTTP client for what curl won't send.
//
//   node rawclient.js --host IP --port P [--host-header H] --case pipeline --get /t1/a --head /t2/b --get /t3/c
//   node rawclient.js --host IP --port P --case chunked-post --path /t4/upload --size 30000
//   node rawclient.js --host IP --port P --case http10 --path /t5/text/500.txt
//   node rawclient.js --host IP --port P --case websocket --path /t6/ws
//
// Prints one JSON line per response read: {status, reason, version, headers, body_len, sha256}.
// Responses are read to completion (Content-Length / chunked / close), then the
// client closes its side cleanly (FIN) and waits for the server's FIN.

import net from 'node:net';
import crypto from 'node:crypto';
import { pathToFileURL } from 'node:url';
import { uploadBody, text, randomBytes, prng, seedOf } from './content.js';
import { acceptKey, makeFrame, parseFrame, OP } from './websocket.js';

class Reader {
  constructor(sock) {
    this.buf = Buffer.alloc(0);
    this.ended = false;
    this.error = null;
    this.waiter = null;
    sock.on('data', (d) => {
      this.buf = this.buf.length ? Buffer.concat([this.buf, d]) : d;
      this.wake();
    });
    sock.on('end', () => {
      this.ended = true;
      this.wake();
    });
    sock.on('close', () => {
      this.ended = true;
      this.wake();
    });
    sock.on('error', (e) => {
      this.error = e;
      this.wake();
    });
  }
  wake() {
    const w = this.waiter;
    this.waiter = null;
    if (w) w();
  }
  async more() {
    if (this.error) throw this.error;
    if (this.ended) throw new Error('connection closed early');
    await new Promise((r) => (this.waiter = r));
    if (this.error) throw this.error;
  }
  async line() {
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i >= 0) {
        const l = this.buf.subarray(0, i).toString('latin1');
        this.buf = this.buf.subarray(i + 2);
        return l;
      }
      await this.more();
    }
  }
  async take(n) {
    while (this.buf.length < n) await this.more();
    const out = this.buf.subarray(0, n);
    this.buf = this.buf.subarray(n);
    return out;
  }
  async untilClose() {
    while (!this.ended) {
      if (this.error) throw this.error;
      await new Promise((r) => (this.waiter = r));
    }
    const out = this.buf;
    this.buf = Buffer.alloc(0);
    return out;
  }
}

async function readHead(r) {
  const statusLine = await r.line();
  const m = /^HTTP\/(\d\.\d) (\d{3}) ?(.*)$/.exec(statusLine);
  if (!m) throw new Error(`bad status line: ${JSON.stringify(statusLine)}`);
  const headers = [];
  for (;;) {
    const l = await r.line();
    if (l === '') break;
    const i = l.indexOf(':');
    headers.push([l.slice(0, i), l.slice(i + 1).trim()]);
  }
  return { version: m[1], status: Number(m[2]), reason: m[3], headers };
}

function hget(headers, name) {
  const p = headers.find(([k]) => k.toLowerCase() === name);
  return p ? p[1] : null;
}

/** Read one full response (skipping 1xx interim responses). */
export async function readResponse(r, method) {
  let head;
  for (;;) {
    head = await readHead(r);
    if (head.status >= 100 && head.status < 200 && head.status !== 101) continue;
    break;
  }
  let body = Buffer.alloc(0);
  const te = (hget(head.headers, 'transfer-encoding') || '').toLowerCase();
  const cl = hget(head.headers, 'content-length');
  let framing;
  if (method === 'HEAD' || head.status === 204 || head.status === 304) framing = 'none';
  else if (te.includes('chunked')) {
    framing = 'chunked';
    const parts = [];
    for (;;) {
      const sz = parseInt((await r.line()).split(';')[0].trim(), 16);
      if (!(sz >= 0)) throw new Error('bad chunk size');
      if (sz === 0) {
        while ((await r.line()) !== '') {
          /* trailers */
        }
        break;
      }
      parts.push(await r.take(sz));
      await r.take(2);
    }
    body = Buffer.concat(parts);
  } else if (cl !== null) {
    framing = 'length';
    body = Buffer.from(await r.take(Number(cl)));
  } else {
    framing = 'close';
    body = await r.untilClose();
  }
  return {
    version: head.version,
    status: head.status,
    reason: head.reason,
    headers: head.headers,
    framing,
    body_len: body.length,
    sha256: body.length ? crypto.createHash('sha256').update(body).digest('hex') : null,
  };
}

function connect(host, port, timeoutMs) {
  return new Promise((resolve, reject) => {
    const sock = net.connect({ host, port });
    sock.setNoDelay(true);
    const t = setTimeout(() => {
      sock.destroy();
      reject(new Error(`connect timeout ${host}:${port}`));
    }, timeoutMs);
    sock.once('connect', () => {
      clearTimeout(t);
      resolve(sock);
    });
    sock.once('error', (e) => {
      clearTimeout(t);
      reject(e);
    });
  });
}

async function finish(sock, r) {
  // Half-close our side and wait for the server to close (clean FIN exchange).
  sock.end();
  if (!sock.destroyed) {
    let t;
    await Promise.race([
      new Promise((res) => sock.once('close', res)),
      new Promise((res) => (t = setTimeout(res, 3000))),
    ]);
    clearTimeout(t);
  }
  sock.destroy();
}

function hostHeader(o) {
  if (o.hostHeader) return o.hostHeader;
  const h = o.host.includes(':') ? `[${o.host}]` : o.host;
  return o.port === 80 ? h : `${h}:${o.port}`;
}

const UA = 'extract-http-harness-rawclient/1.0';

/** (a) several requests in ONE socket write on one connection. */
export async function pipeline(o) {
  const sock = await connect(o.host, o.port, 5000);
  const r = new Reader(sock);
  const hh = hostHeader(o);
  const reqs = o.requests.map(
    ({ method, path }) => `${method} ${path} HTTP/1.1\r\nHost: ${hh}\r\nUser-Agent: ${UA}\r\nAccept: */*\r\n\r\n`,
  );
  sock.write(reqs.join(''));
  const out = [];
  for (const { method } of o.requests) out.push(await readResponse(r, method));
  await finish(sock, r);
  return out;
}

/** (b) POST with a hand-written chunked body with chunk extensions and a trailer. */
export async function chunkedPost(o) {
  const sock = await connect(o.host, o.port, 5000);
  const r = new Reader(sock);
  const body = uploadBody(o.path, o.size);
  const sizes = [1, 1000, 4096, 17, 8000];
  const exts = [';name=value', ';flag', ';q="quoted value"', '', ';a=1;b=2'];
  const pieces = [];
  let off = 0;
  let i = 0;
  while (off < body.length) {
    const n = Math.min(sizes[i % sizes.length], body.length - off);
    pieces.push(Buffer.concat([
      Buffer.from(`${n.toString(16)}${exts[i % exts.length]}\r\n`),
      body.subarray(off, off + n),
      Buffer.from('\r\n'),
    ]));
    off += n;
    i++;
  }
  const sha = crypto.createHash('sha256').update(body).digest('hex');
  const head =
    `POST ${o.path} HTTP/1.1\r\nHost: ${hostHeader(o)}\r\nUser-Agent: ${UA}\r\n` +
    'Content-Type: application/octet-stream\r\nTransfer-Encoding: chunked\r\nTrailer: X-Body-Sha256\r\n\r\n';
  sock.write(head);
  // Write the chunks in a few separate writes so they straddle segments.
  for (let k = 0; k < pieces.length; k += 3) {
    sock.write(Buffer.concat(pieces.slice(k, k + 3)));
    await new Promise((res) => setTimeout(res, 2));
  }
  sock.write(`0\r\nX-Body-Sha256: ${sha}\r\n\r\n`);
  const res = await readResponse(r, 'POST');
  await finish(sock, r);
  return [{ ...res, sent_len: body.length, sent_sha256: sha }];
}

/** (c) HTTP/1.0 request without a Host header; server closes the connection. */
export async function http10(o) {
  const sock = await connect(o.host, o.port, 5000);
  const r = new Reader(sock);
  sock.write(`GET ${o.path} HTTP/1.0\r\nUser-Agent: ${UA}\r\nAccept: */*\r\n\r\n`);
  const res = await readResponse(r, 'GET');
  await finish(sock, r);
  return [res];
}

/**
 * (d) WebSocket: GET + Upgrade: websocket, 101, then masked client frames (text, binary with a
 * 16-bit and a 64-bit length, ping), each echoed by the server (the ping as a pong), then a close
 * each way. Prints {status, ..., ws_bytes_c2s, ws_bytes_s2c}: frame bytes after the heads.
 */
export async function websocket(o) {
  const sock = await connect(o.host, o.port, 5000);
  const r = new Reader(sock);
  const next = prng(seedOf(`ws:${o.path}`));
  const key = randomBytes(`ws-key:${o.path}`, 16).toString('base64');
  sock.write(
    `GET ${o.path} HTTP/1.1\r\nHost: ${hostHeader(o)}\r\nUser-Agent: ${UA}\r\n` +
      `Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\n` +
      'Sec-WebSocket-Version: 13\r\n\r\n',
  );
  const head = await readHead(r);
  if (head.status !== 101) throw new Error(`websocket: status ${head.status}`);
  if (hget(head.headers, 'sec-websocket-accept') !== acceptKey(key)) throw new Error('websocket: bad accept');
  let c2s = 0;
  let s2c = 0;
  const send = (op, payload) => {
    const mask = Buffer.alloc(4);
    mask.writeUInt32BE(next());
    const f = makeFrame(op, payload, mask);
    c2s += f.length;
    sock.write(f);
  };
  const recv = async () => {
    for (;;) {
      const f = parseFrame(r.buf);
      if (f) {
        r.buf = r.buf.subarray(f.size);
        s2c += f.size;
        if (f.masked) throw new Error('websocket: masked server frame');
        return f;
      }
      await r.more();
    }
  };
  const msgs = [
    [OP.text, text(`ws-text:${o.path}`, 100)],
    [OP.binary, randomBytes(`ws-bin:${o.path}`, 300)],
    [OP.binary, randomBytes(`ws-big:${o.path}`, 70000)],
    [OP.ping, Buffer.from('harness-ping')],
  ];
  const frames = [];
  for (const [op, payload] of msgs) {
    send(op, payload);
    const f = await recv();
    const want = op === OP.ping ? OP.pong : op;
    if (f.opcode !== want || !f.payload.equals(payload)) throw new Error(`websocket: bad echo of opcode ${op}`);
    frames.push({ opcode: op, len: payload.length });
  }
  const code = Buffer.alloc(2);
  code.writeUInt16BE(1000);
  send(OP.close, code);
  const f = await recv();
  if (f.opcode !== OP.close) throw new Error(`websocket: expected close, got opcode ${f.opcode}`);
  await finish(sock, r);
  return [{
    version: head.version,
    status: head.status,
    reason: head.reason,
    headers: head.headers,
    frames,
    ws_bytes_c2s: c2s,
    ws_bytes_s2c: s2c,
  }];
}

function parseArgs(argv) {
  const o = { requests: [], port: 80 };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[++i];
    if (a === '--host') o.host = v;
    else if (a === '--port') o.port = Number(v);
    else if (a === '--host-header') o.hostHeader = v;
    else if (a === '--case') o.case = v;
    else if (a === '--get') o.requests.push({ method: 'GET', path: v });
    else if (a === '--head') o.requests.push({ method: 'HEAD', path: v });
    else if (a === '--path') o.path = v;
    else if (a === '--size') o.size = Number(v);
    else throw new Error(`unknown argument ${a}`);
  }
  return o;
}

async function main() {
  const o = parseArgs(process.argv.slice(2));
  const guard = setTimeout(() => {
    console.error('rawclient: timeout');
    process.exit(3);
  }, 20000);
  let out;
  if (o.case === 'pipeline') out = await pipeline(o);
  else if (o.case === 'chunked-post') out = await chunkedPost(o);
  else if (o.case === 'http10') out = await http10(o);
  else if (o.case === 'websocket') out = await websocket(o);
  else throw new Error(`unknown --case ${o.case}`);
  for (const x of out) process.stdout.write(JSON.stringify(x) + '\n');
  clearTimeout(guard);
}

if (import.meta.url === pathToFileURL(process.argv[1] || '').href) {
  main().catch((e) => {
    console.error('rawclient:', e.message);
    process.exit(1);
  });
}
