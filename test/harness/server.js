#!/usr/bin/env node
// Harness HTTP server: deterministic content chosen by URL, ground truth
// appended as one JSON line per completed exchange (written + fsync'd when the
// response finishes, so everything completed is on disk before SIGTERM).
//
//   node test/harness/server.js --port 80 --port 8080 --truth FILE [--host ::]
//
// Prints "READY {json}" on stdout once every port listens (--port 0 picks a
// free port; the READY line gives the real ones).
//
// Routes (<tag> is a per-request unique id such as t07):
//   /<tag>/text/<n>.txt        text/plain, n bytes, Content-Length
//   /<tag>/bin/<n>.bin         application/octet-stream, n pseudo-random bytes
//   /<tag>/img/<name>.png      small valid PNG
//   /<tag>/page.html           text/html
//   /<tag>/chunked/<n>.json    application/json, n bytes, Transfer-Encoding: chunked
//   /<tag>/gzip/<n>.html       gzip + Content-Length (identity n bytes)
//   /<tag>/gzip-chunked/<n>.csv gzip + chunked
//   /<tag>/deflate/<n>.txt     deflate (zlib-wrapped) + Content-Length
//   /<tag>/empty               200, Content-Length: 0
//   /<tag>/status/<code>       204/304 without body, others small html
//   /<tag>/redirect            302 + Location + small html
//   /<tag>/close/<n>.txt       close-delimited body (no CL, no chunked)
//   POST/PUT anything          201 {"received":N,"sha256":"..."}
// Routes used by the http5 scenario only:
//   /<tag>/br/<n>.html         Content-Encoding: br + Content-Length
//   /<tag>/gzip2/<n>.txt       Content-Encoding: gzip, gzip (gzip applied twice) + Content-Length
//   /<tag>/deflate-raw/<n>.txt Content-Encoding: deflate, raw deflate (no zlib wrapper) + Content-Length
//                              (truth: wire_codec "deflate-raw"; gzip2: wire_codec "gzip2")
//   /<tag>/gzip-trailers/<n>.json gzip + chunked + response trailers (Trailer: header,
//                              res.addTrailers); the truth holds them in response_trailers
//   /<tag>/refuse/<code>       POST/PUT with Expect: 100-continue: <code> (413/417) answered
//                              before the body, Connection: close, body never read
//   GET /<tag>/ws + Upgrade: websocket   101 + Sec-WebSocket-Accept, then WebSocket frames: each
//                              client data frame is echoed, a ping gets a pong, a close gets a
//                              close; the truth counts the frame bytes each way (ws_bytes_c2s/s2c)
//   --proxy-port P             also a CONNECT proxy on P: "200 Connection Established", then the
//                              tunnel is relayed into this same HTTP server over a unix socket
//                              (never on the captured link); requests arriving through it are
//                              recorded with inside_tunnel: true, the CONNECT itself with the
//                              tunnel bytes each way (tunnel_bytes_c2s/s2c)
// Routes used by the evidence scenario only (content in evidence.js):
//   POST multipart/form-data   201 {"received":N,"parts":[...],"fields":[...]} (what was parsed,
//                              not the body's hash: curl's boundary is random); the truth holds
//                              parts [{name, filename, content_type, size, sha256}] (those with
//                              a filename) and fields [{name, value, size, sha256}]
//   /range/big.bin, /range/partial.bin (no tag in the path: a request with an X-Harness-Tag
//                              header whose value is not its first path segment takes its tag
//                              from that header) deterministic resources with Accept-Ranges,
//                              ETag, Last-Modified; Range a-b, a-, -n gives 206 + Content-Range,
//                              several ranges 206 multipart/byteranges, none fitting 416, If-Range
//                              honoured; truth of a 206: range {resource, etag, start, end, total,
//                              multipart, ranges: [{start, end, size, sha256}]}
//   /<tag>/mismatch/photo.jpg  a PE executable as image/jpeg; blob.bin: a PNG as
//                              application/octet-stream; notes.txt: a ZIP as text/plain
//                              (truth: declared_type, real_type)
//   any other path with an X-Harness-Tag header not its first segment (hostile names such as
//                              /../../escape.txt, sent with curl --path-as-is): small distinct
//                              text/plain, chosen by the raw request target
//   /<tag>/attach/<kind>       Content-Disposition with a hostile filename, kind dotdot
//                              ("../../evil.sh"), absolute ("/etc/shadow"), rfc5987
//                              (filename*=UTF-8''..%2F..%2Fx.bin); truth: content_disposition
//                              {header, filename (decoded)}
// Evidence records also have `evidence`: multipart-upload, range, type-mismatch, hostile-name
// or hostile-disposition.

import http from 'node:http';
import fs from 'node:fs';
import zlib from 'node:zlib';
import crypto from 'node:crypto';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import * as C from './content.js';
import * as E from './evidence.js';
import { acceptKey, makeFrame, parseFrame, OP } from './websocket.js';

function parseArgs(argv) {
  const o = { ports: [], host: '::', truth: null, proxyPort: null };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--port') {
      o.ports.push(Number(v));
      i++;
    } else if (a === '--host') {
      o.host = v;
      i++;
    } else if (a === '--truth') {
      o.truth = v;
      i++;
    } else if (a === '--proxy-port') {
      o.proxyPort = Number(v);
      i++;
    } else {
      throw new Error(`unknown argument ${a}`);
    }
  }
  if (!o.ports.length) o.ports.push(80);
  if (!o.truth) throw new Error('--truth FILE is required');
  return o;
}

const opts = parseArgs(process.argv.slice(2));
const truthFd = fs.openSync(opts.truth, 'a');
let reqSeq = 0;
let connSeq = 0;

function writeTruth(rec) {
  fs.writeSync(truthFd, JSON.stringify(rec) + '\n');
  try {
    fs.fsyncSync(truthFd);
  } catch {
    /* e.g. pipes */
  }
}

function normAddr(a) {
  if (!a) return a;
  return a.startsWith('::ffff:') && a.includes('.') ? a.slice(7) : a;
}

function rawHeaderPairs(raw) {
  const out = [];
  for (let i = 0; i < raw.length; i += 2) out.push([raw[i], raw[i + 1]]);
  return out;
}

/** Parse the header block Node actually wrote (res._header). */
function parseSentHeader(h) {
  if (typeof h !== 'string') return { statusLine: null, headers: [] };
  const lines = h.split('\r\n').filter((l) => l.length);
  const statusLine = lines.shift() || null;
  const headers = lines.map((l) => {
    const i = l.indexOf(':');
    return [l.slice(0, i), l.slice(i + 1).trim()];
  });
  return { statusLine, headers };
}

function hget(pairs, name) {
  const n = name.toLowerCase();
  const p = pairs.find(([k]) => k.toLowerCase() === n);
  return p ? p[1] : null;
}

const CT = {
  txt: 'text/plain; charset=utf-8',
  html: 'text/html; charset=utf-8',
  json: 'application/json',
  csv: 'text/csv; charset=utf-8',
  bin: 'application/octet-stream',
  png: 'image/png',
};

function sizeFrom(file) {
  const m = /^(\d+)\./.exec(file || '');
  if (!m) return null;
  const n = Number(m[1]);
  return n <= C.MAX_BODY ? n : null;
}

/** Decide what to send for a GET/HEAD path. */
function route(path, tag) {
  const parts = path.split('/');
  // ['', tag, kind, file]
  const kind = parts[2] || '';
  const file = parts[3];
  const n = sizeFrom(file);
  const seed = path;
  const small404 = () => ({
    status: 404,
    ct: CT.html,
    body: Buffer.from(`<!DOCTYPE html>\n<html><body><h1>404 Not Found</h1><p>${path}</p></body></html>\n`),
    transfer: 'length',
  });
  switch (kind) {
    case 'text':
      if (n === null) return small404();
      return { status: 200, ct: CT.txt, body: C.text(seed, n), transfer: 'length' };
    case 'bin':
      if (n === null) return small404();
      return { status: 200, ct: CT.bin, body: C.randomBytes(seed, n), transfer: 'length' };
    case 'img':
      return { status: 200, ct: CT.png, body: C.png(seed), transfer: 'length' };
    case 'page.html':
      return { status: 200, ct: CT.html, body: C.page(seed, tag), transfer: 'length' };
    case 'chunked':
      if (n === null) return small404();
      return { status: 200, ct: CT.json, body: C.json(seed, n), transfer: 'chunked' };
    case 'gzip':
      if (n === null) return small404();
      return { status: 200, ct: CT.html, body: C.html(seed, n), transfer: 'length', encoding: 'gzip' };
    case 'gzip-chunked':
      if (n === null) return small404();
      return { status: 200, ct: CT.csv, body: C.csv(seed, n), transfer: 'chunked', encoding: 'gzip' };
    case 'deflate':
      if (n === null) return small404();
      return { status: 200, ct: CT.txt, body: C.text(seed, n), transfer: 'length', encoding: 'deflate' };
    case 'br':
      if (n === null) return small404();
      return { status: 200, ct: CT.html, body: C.html(seed, n), transfer: 'length', encoding: 'br' };
    case 'gzip2':
      if (n === null) return small404();
      return { status: 200, ct: CT.txt, body: C.text(seed, n), transfer: 'length', encoding: 'gzip, gzip', codec: 'gzip2' };
    case 'deflate-raw':
      if (n === null) return small404();
      return { status: 200, ct: CT.txt, body: C.text(seed, n), transfer: 'length', encoding: 'deflate', codec: 'deflate-raw' };
    case 'gzip-trailers': {
      if (n === null) return small404();
      const body = C.json(seed, n);
      return {
        status: 200,
        ct: CT.json,
        body,
        transfer: 'chunked',
        encoding: 'gzip',
        trailers: [['X-Body-Sha256', C.sha256(body)], ['X-Harness-Trailer', `${tag} done`]],
      };
    }
    case 'refuse': {
      const code = Number(file);
      if (code !== 413 && code !== 417) return small404();
      return {
        status: code,
        ct: CT.html,
        body: Buffer.from(`<html><body><h1>${code} ${http.STATUS_CODES[code]}</h1><p>${path}</p></body></html>\n`),
        transfer: 'length',
        close: true,
      };
    }
    case 'mismatch':
      return E.mismatchSpec(file) ?? small404();
    case 'attach':
      return E.dispositionSpec(file, path) ?? small404();
    case 'empty':
      return { status: 200, ct: CT.txt, body: Buffer.alloc(0), transfer: 'length' };
    case 'status': {
      const code = Number(file);
      if (!(code >= 200 && code <= 599)) return small404();
      if (code === 204) return { status: 204, ct: null, body: Buffer.alloc(0), transfer: 'none' };
      if (code === 304) {
        return { status: 304, ct: null, body: Buffer.alloc(0), transfer: 'none', extra: { ETag: `"${tag}-etag"` } };
      }
      const reason = http.STATUS_CODES[code] || 'Status';
      return {
        status: code,
        ct: CT.html,
        body: Buffer.from(`<!DOCTYPE html>\n<html><body><h1>${code} ${reason}</h1><p>${path}</p></body></html>\n`),
        transfer: 'length',
      };
    }
    case 'redirect': {
      const loc = `/${tag}/page.html`;
      return {
        status: 302,
        ct: CT.html,
        body: Buffer.from(`<html><body>Found: <a href="${loc}">${loc}</a></body></html>\n`),
        transfer: 'length',
        extra: { Location: loc },
      };
    }
    case 'close':
      if (n === null) return small404();
      return { status: 200, ct: CT.txt, body: C.text(seed, n), transfer: 'close' };
    default:
      return small404();
  }
}

function tick() {
  return new Promise((r) => setImmediate(r));
}

async function writePieces(res, pieces) {
  for (const p of pieces) {
    if (res.destroyed) return;
    const ok = res.write(p);
    if (!ok) await new Promise((r) => res.once('drain', r));
    else await tick();
  }
}

async function handle(req, res, interim, refuse = null) {
  const tReq = Date.now();
  const seq = ++reqSeq;
  const sock = req.socket;
  // Connection ids are given at the first request, so bare TCP probes
  // (connect + close, no request) don't consume ids: conn_id 1 = first
  // connection that carried a request.
  if (sock._xhId === undefined) sock._xhId = ++connSeq;
  const connId = sock._xhId;
  const connReq = ++sock._xhCount;
  const url = new URL(req.url, 'http://harness.invalid');
  const path = url.pathname;
  // The tag is the first path segment, unless an X-Harness-Tag request header names another
  // (evidence scenario: range resources and hostile paths, whose URL cannot carry it).
  const pathTag = path.split('/')[1] || '';
  const hdrTag = req.headers['x-harness-tag'];
  const untagged = typeof hdrTag === 'string' && hdrTag !== '' && hdrTag !== pathTag;
  const tag = untagged ? hdrTag : pathTag;
  const multipart = /^multipart\/form-data\b/i.test(req.headers['content-type'] || '');

  // Consume (and hash) the request body, unless it is refused before it is sent.
  const h = crypto.createHash('sha256');
  let reqLen = 0;
  const kept = [];
  if (!refuse) {
    for await (const chunk of req) {
      h.update(chunk);
      reqLen += chunk.length;
      if (multipart) kept.push(chunk);
    }
  }
  const reqSha = reqLen ? h.digest('hex') : null;
  const form = multipart ? E.parseMultipart(Buffer.concat(kept), req.headers['content-type']) : null;

  let spec;
  if (refuse) {
    spec = refuse;
  } else if (req.method === 'POST' || req.method === 'PUT') {
    // A multipart/form-data body: what was parsed out of it instead of the body's hash, which
    // changes with curl's random boundary (so the answer is the same on every run).
    const answer = form
      ? {
        received: reqLen,
        parts: form.parts,
        fields: form.fields.map((f) => ({ name: f.name, size: f.size, sha256: f.sha256 })),
      }
      : { received: reqLen, sha256: reqSha };
    spec = {
      status: 201,
      ct: 'application/json',
      body: Buffer.from(JSON.stringify(answer) + '\n'),
      transfer: 'length',
    };
  } else if (untagged) {
    const resource = E.rangeResource(path);
    spec = resource ? E.rangeSpec(resource, req.headers) : E.hostileSpec(req.url);
  } else {
    spec = route(path, tag);
  }

  const noBody = req.method === 'HEAD' || spec.status === 204 || spec.status === 304;
  let wire = spec.body;
  if (spec.codec === 'gzip2') wire = zlib.gzipSync(zlib.gzipSync(spec.body, { level: 6 }), { level: 6 });
  else if (spec.codec === 'deflate-raw') wire = zlib.deflateRawSync(spec.body, { level: 6 });
  else if (spec.encoding === 'br') wire = zlib.brotliCompressSync(spec.body);
  else if (spec.encoding === 'gzip') wire = zlib.gzipSync(spec.body, { level: 6 });
  else if (spec.encoding === 'deflate') wire = zlib.deflateSync(spec.body, { level: 6 });

  res.statusCode = spec.status;
  if (spec.ct) res.setHeader('Content-Type', spec.ct);
  if (spec.encoding) {
    res.setHeader('Content-Encoding', spec.encoding);
    res.setHeader('Vary', 'Accept-Encoding');
  }
  for (const [k, v] of Object.entries(spec.extra || {})) res.setHeader(k, v);
  res.setHeader('X-Harness-Tag', tag);
  if (spec.close) res.shouldKeepAlive = false; // Connection: close, then the server closes
  const trailers = spec.trailers && !noBody && spec.transfer === 'chunked' ? spec.trailers : null;
  if (trailers) res.setHeader('Trailer', trailers.map(([k]) => k).join(', '));

  const done = new Promise((resolve) => {
    res.once('finish', resolve);
    res.once('close', resolve);
  });

  let transfer = spec.transfer;
  if (noBody) {
    if (spec.status !== 204 && spec.status !== 304 && spec.transfer === 'length') {
      res.setHeader('Content-Length', wire.length); // HEAD announces the GET length
    }
    res.end();
  } else if (spec.transfer === 'length') {
    res.setHeader('Content-Length', wire.length);
    res.end(wire);
  } else if (spec.transfer === 'chunked') {
    res.setHeader('Transfer-Encoding', 'chunked');
    await writePieces(res, C.splitVaried(path, wire));
    if (trailers) res.addTrailers(trailers);
    res.end();
  } else if (spec.transfer === 'close') {
    // Close-delimited: no Content-Length, no chunked, connection closes after.
    res.useChunkedEncodingByDefault = false;
    res.shouldKeepAlive = false;
    await writePieces(res, C.splitVaried(path, wire, 4000));
    res.end();
  }
  await done;

  const sent = parseSentHeader(res._header);
  const sentTE = (hget(sent.headers, 'Transfer-Encoding') || '').toLowerCase();
  if (noBody) transfer = 'none';
  else if (sentTE.includes('chunked')) transfer = 'chunked';
  else if (hget(sent.headers, 'Content-Length') !== null) transfer = 'length';
  else transfer = 'close';

  const reqTE = (req.headers['transfer-encoding'] || '').toLowerCase();
  const identityLen = noBody ? 0 : spec.body.length;
  const rec = {
    ...requestFields(req, seq, tag),
    request_transfer: reqTE.includes('chunked') ? 'chunked' : req.headers['content-length'] !== undefined ? 'length' : 'none',
    request_body_len: reqLen,
    request_sha256: reqSha,
    request_trailers: Object.keys(req.trailers || {}).length ? req.trailers : null,
    interim_status: interim,
    status_code: res.statusCode,
    reason: res.statusMessage || http.STATUS_CODES[res.statusCode] || '',
    response_status_line: sent.statusLine,
    response_headers: sent.headers,
    response_content_type: spec.ct && !(spec.status === 204 || spec.status === 304) ? spec.ct : null,
    content_encoding: spec.encoding ?? null,
    transfer,
    response_body_len: identityLen,
    response_sha256: identityLen ? C.sha256(spec.body) : null,
    response_wire_len: noBody ? 0 : wire.length,
    response_wire_sha256: noBody || !wire.length ? null : C.sha256(wire),
    ...(spec.codec ? { wire_codec: spec.codec } : {}),
    ...(trailers ? { response_trailers: trailers } : {}),
    ...(refuse ? { body_refused: true } : {}),
    ...(sock._xhTunnel ? { inside_tunnel: true } : {}),
    ...(form ? { evidence: 'multipart-upload', parts: form.parts, fields: form.fields } : {}),
    ...(spec.evidence ? { evidence: spec.evidence } : {}),
    ...(spec.range && res.statusCode === 206 ? { range: spec.range } : {}),
    ...(spec.real_type ? { declared_type: spec.ct, real_type: spec.real_type } : {}),
    ...(spec.disposition ? { content_disposition: spec.disposition } : {}),
    complete: res.writableFinished,
    conn_id: connId,
    conn_req: connReq,
    ip_version: sock._xhFamily,
    client_ip: sock._xhRemote,
    client_port: sock._xhRemotePort,
    server_ip: sock._xhLocal,
    server_port: sock._xhLocalPort,
    t_request_ms: tReq,
    t_response_ms: Date.now(),
  };
  writeTruth(rec);
}

function onRequest(req, res, interim = [], refuse = null) {
  handle(req, res, interim, refuse).catch((e) => {
    console.error('[server] handler error', e);
    try {
      if (!res.headersSent) {
        res.statusCode = 500;
        res.end('internal error\n');
      } else res.destroy();
    } catch {
      /* ignore */
    }
  });
}

// Records whose exchange is still running (WebSocket, CONNECT tunnel); written at shutdown
// with complete: false if they never finished.
const unfinished = new Set();

function connInfo(sock) {
  return {
    ip_version: sock._xhFamily,
    client_ip: sock._xhRemote,
    client_port: sock._xhRemotePort,
    server_ip: sock._xhLocal,
    server_port: sock._xhLocalPort,
  };
}

/** The request's part of a truth record, as every route records it. */
function requestFields(req, seq, tag) {
  return {
    seq,
    tag,
    method: req.method,
    uri: req.url,
    http_version: req.httpVersion,
    host: req.headers.host ?? null,
    user_agent: req.headers['user-agent'] ?? null,
    request_headers: req.headers,
    request_raw_headers: rawHeaderPairs(req.rawHeaders),
    request_content_type: req.headers['content-type'] ?? null,
  };
}

/** Head block (status line + headers + blank line) written by hand on a switched socket. */
function rawHead(statusLine, headers) {
  return `${statusLine}\r\n${headers.map(([k, v]) => `${k}: ${v}\r\n`).join('')}\r\n`;
}

/** Fields shared by the records of hand-answered requests (WebSocket, CONNECT). */
function switchedRecord(req, sock, seq, tag, tReq, status, reason, statusLine, headers) {
  return {
    ...requestFields(req, seq, tag),
    request_transfer: 'none',
    request_body_len: 0,
    request_sha256: null,
    request_trailers: null,
    interim_status: [],
    status_code: status,
    reason,
    response_status_line: statusLine,
    response_headers: headers,
    response_content_type: null,
    content_encoding: null,
    transfer: 'none',
    response_body_len: 0,
    response_sha256: null,
    response_wire_len: 0,
    response_wire_sha256: null,
    complete: false,
    conn_id: sock._xhId,
    conn_req: sock._xhCount,
    ...connInfo(sock),
    t_request_ms: tReq,
    t_response_ms: Date.now(),
  };
}

/**
 * GET /<tag>/ws with Upgrade: websocket: 101, then echo frames until the client's close.
 * Truth: ws_bytes_c2s / ws_bytes_s2c = every byte after the two heads, each way.
 */
function onUpgrade(req, sock, head) {
  const tReq = Date.now();
  const seq = ++reqSeq;
  if (sock._xhId === undefined) sock._xhId = ++connSeq;
  sock._xhCount = (sock._xhCount || 0) + 1;
  const p = new URL(req.url, 'http://harness.invalid').pathname;
  const tag = p.split('/')[1] || '';
  const key = req.headers['sec-websocket-key'];
  sock.on('error', (e) => console.error('[server] websocket socket error', e.message));
  if ((req.headers.upgrade || '').toLowerCase() !== 'websocket' || !key || p.split('/')[2] !== 'ws') {
    sock.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
    return;
  }
  const statusLine = 'HTTP/1.1 101 Switching Protocols';
  const headers = [
    ['Upgrade', 'websocket'],
    ['Connection', 'Upgrade'],
    ['Sec-WebSocket-Accept', acceptKey(key)],
    ['X-Harness-Tag', tag],
  ];
  sock.write(rawHead(statusLine, headers));
  const rec = switchedRecord(req, sock, seq, tag, tReq, 101, 'Switching Protocols', statusLine, headers);
  Object.assign(rec, { ws_bytes_c2s: 0, ws_bytes_s2c: 0, ws_frames_c2s: 0, ws_frames_s2c: 0 });
  unfinished.add(rec);
  let buf = Buffer.alloc(0);
  let closed = false;
  const send = (op, payload) => {
    const f = makeFrame(op, payload);
    rec.ws_bytes_s2c += f.length;
    rec.ws_frames_s2c++;
    sock.write(f);
  };
  const onData = (d) => {
    if (closed) return;
    rec.ws_bytes_c2s += d.length;
    buf = buf.length ? Buffer.concat([buf, d]) : d;
    for (;;) {
      const f = parseFrame(buf);
      if (!f) break;
      buf = buf.subarray(f.size);
      rec.ws_frames_c2s++;
      if (f.opcode === OP.text || f.opcode === OP.binary) send(f.opcode, f.payload);
      else if (f.opcode === OP.ping) send(OP.pong, f.payload);
      else if (f.opcode === OP.close) {
        closed = true;
        send(OP.close, f.payload.subarray(0, 2));
        sock.end(() => {
          rec.complete = true;
          rec.t_response_ms = Date.now();
          unfinished.delete(rec);
          writeTruth(rec);
        });
        return;
      }
    }
  };
  if (head && head.length) onData(head);
  sock.on('data', onData);
}

/**
 * CONNECT proxy: answers "200 Connection Established" and relays the tunnel into this same
 * HTTP server through a unix socket (relayPath), so the inner connection never touches the
 * captured link. Truth: the CONNECT, with tunnel_bytes_c2s / tunnel_bytes_s2c = bytes after
 * the two heads, each way, written once the client's connection closes.
 */
/** Notes a new connection's endpoints on its socket, for the truth records of its requests. */
function tagSocket(sock) {
  sock._xhCount = 0;
  sock._xhRemote = normAddr(sock.remoteAddress);
  sock._xhRemotePort = sock.remotePort;
  sock._xhLocal = normAddr(sock.localAddress);
  sock._xhLocalPort = sock.localPort;
  sock._xhFamily = sock._xhRemote && sock._xhRemote.includes(':') ? 6 : 4;
}

function makeProxy(relayPath) {
  const s = http.createServer({ requireHostHeader: false }, (req, res) => {
    res.statusCode = 405;
    res.setHeader('Connection', 'close');
    res.end('CONNECT only\n');
  });
  s.on('connection', tagSocket);
  s.on('connect', (req, sock, head) => {
    const tReq = Date.now();
    const seq = ++reqSeq;
    if (sock._xhId === undefined) sock._xhId = ++connSeq;
    sock._xhCount++;
    const headLen = sock.bytesRead - head.length; // the CONNECT head itself
    const hdrTag = req.headers['x-harness-tag'];
    const tag = hdrTag ? `${hdrTag}-connect` : `connect-${seq}`;
    const statusLine = 'HTTP/1.1 200 Connection Established';
    const headers = [['Proxy-Agent', 'extract-http-harness']];
    const answer = rawHead(statusLine, headers);
    const rec = switchedRecord(req, sock, seq, tag, tReq, 200, 'Connection Established', statusLine, headers);
    Object.assign(rec, { connect_target: req.url, tunnel_bytes_c2s: 0, tunnel_bytes_s2c: 0 });
    unfinished.add(rec);
    const up = net.connect(relayPath);
    const finish = () => {
      if (!unfinished.has(rec)) return;
      rec.tunnel_bytes_c2s = sock.bytesRead - headLen;
      rec.tunnel_bytes_s2c = sock.bytesWritten - Buffer.byteLength(answer);
      rec.complete = true;
      rec.t_response_ms = Date.now();
      unfinished.delete(rec);
      writeTruth(rec);
    };
    rec.snapshot = () => {
      rec.tunnel_bytes_c2s = sock.bytesRead - headLen;
      rec.tunnel_bytes_s2c = Math.max(0, sock.bytesWritten - Buffer.byteLength(answer));
    };
    sock.on('error', (e) => console.error('[server] proxy client socket error', e.message));
    up.on('error', (e) => {
      console.error('[server] proxy relay error', e.message);
      sock.destroy();
    });
    up.once('connect', () => {
      sock.write(answer);
      if (head.length) up.write(head);
      sock.pipe(up);
      up.pipe(sock);
    });
    sock.once('close', () => {
      up.destroy();
      finish();
    });
  });
  servers.push(s);
  return s;
}

const servers = [];
function makeServer() {
  const s = http.createServer({ requireHostHeader: false, keepAliveTimeout: 15000 }, (req, res) => onRequest(req, res));
  s.on('checkContinue', (req, res) => {
    // /<tag>/refuse/<code>: the final status instead of 100 Continue, before the body.
    const p = new URL(req.url, 'http://harness.invalid').pathname;
    if (p.split('/')[2] === 'refuse') {
      const spec = route(p, p.split('/')[1] || '');
      if (spec.close) {
        onRequest(req, res, [], spec);
        return;
      }
    }
    res.writeContinue();
    onRequest(req, res, [100]);
  });
  s.on('upgrade', (req, sock, head) => onUpgrade(req, sock, head));
  s.on('connection', tagSocket);
  s.on('clientError', (err, sock) => {
    console.error('[server] clientError', err.code, err.message);
    if (sock.writable) sock.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  });
  servers.push(s);
  return s;
}

function listen(s, port, host) {
  return new Promise((resolve, reject) => {
    const onErr = (e) => reject(e);
    s.once('error', onErr);
    const o = { port, host };
    if (host === '::') o.ipv6Only = false;
    s.listen(o, () => {
      s.off('error', onErr);
      resolve(s.address().port);
    });
  });
}

function shutdown(code = 0) {
  for (const rec of unfinished) {
    if (rec.snapshot) rec.snapshot();
    delete rec.snapshot;
    writeTruth(rec);
  }
  unfinished.clear();
  for (const s of servers) {
    try {
      s.closeAllConnections();
      s.close();
    } catch {
      /* ignore */
    }
  }
  try {
    fs.fsyncSync(truthFd);
  } catch {
    /* ignore */
  }
  try {
    fs.closeSync(truthFd);
  } catch {
    /* ignore */
  }
  process.exit(code);
}

let relayPath = null;
process.on('exit', () => {
  if (relayPath) fs.rmSync(relayPath, { force: true });
});
process.on('SIGTERM', () => shutdown(0));
process.on('SIGINT', () => shutdown(0));

const ports = [];
let host = opts.host;
for (const p of opts.ports) {
  const s = makeServer();
  try {
    ports.push(await listen(s, p, host));
  } catch (e) {
    if (host === '::' && ['EAFNOSUPPORT', 'EADDRNOTAVAIL', 'EINVAL'].includes(e.code)) {
      host = '0.0.0.0';
      ports.push(await listen(s, p, host));
    } else {
      console.error(`[server] cannot listen on ${host}:${p}: ${e.message}`);
      process.exit(2);
    }
  }
}
const ready = { ports, host, pid: process.pid };
if (opts.proxyPort !== null) {
  // The relay: a second HTTP server on a unix socket, behind the CONNECT proxy.
  // Beside the truth file (removed with the capture folder even after a SIGKILL), unless
  // that path is too long for a unix socket.
  relayPath = path.join(path.dirname(path.resolve(opts.truth)), `.xh-relay-${process.pid}.sock`);
  if (Buffer.byteLength(relayPath) > 100) relayPath = path.join(os.tmpdir(), `xh-relay-${process.pid}.sock`);
  fs.rmSync(relayPath, { force: true });
  const relay = makeServer();
  relay.on('connection', (sock) => {
    sock._xhTunnel = true;
    sock._xhFamily = null;
  });
  await new Promise((resolve, reject) => {
    relay.once('error', reject);
    relay.listen(relayPath, resolve);
  });
  const proxy = makeProxy(relayPath);
  ready.proxy = await listen(proxy, opts.proxyPort, host);
}
process.stdout.write(`READY ${JSON.stringify(ready)}\n`);
