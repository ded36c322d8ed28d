// Real-traffic capture: server + clients in network namespaces, tcpdump on the
// client's veth, ground truth from the server.
//
//   const cap = await makeCapture({ scenario: 'full', dir: '/tmp/hf' });
//   // cap = { pcap, pcapng, truth (array sorted by request arrival), truthFile,
//   //         truthDoc, mode, packets, dropped, server, client, durationMs, expected }
//
// Scenarios: `full`, `sample`, `evidence` (below), and `http5` (content codings br /
// gzip,gzip / raw deflate, gzip with response trailers, WebSocket, a CONNECT proxy tunnel,
// Expect: 100-continue refused before the body, HEAD, 304, HTTP/1.0 close-delimited).
// In `http5` the server also runs a
// CONNECT proxy (port 3128, or a free one on loopback: cap.server.proxy_port); the request
// curl sends through the tunnel is in the truth with `inside_tunnel: true` and the CONNECT as
// its own record (tag `<tag>-connect`, uri host:port, tunnel_bytes_c2s/s2c). The WebSocket
// record has ws_bytes_c2s/s2c (frame bytes after the handshake, each way); the trailers
// response has response_trailers [[name, value], ...]; refused uploads have body_refused.
//
// Scenario `evidence` (for file evidence: multipart parts, ranged downloads, declared vs real
// type, hostile names; content in evidence.js), all with curl, one connection per step:
//   1. POST /t01/upload/form, multipart/form-data (-F): report.pdf (a ~150 KB PDF), pixel.png
//      and a plain field `note`;
//   2. POST /t02/upload/hostile: part filenames "../../etc/passwd" and "C:\Windows\evil.exe"
//      (sent as is, backslashes unescaped) and a plain field;
//   3-5. GET /range/big.bin (300000 bytes) with Range 0-99999, 100000-199999, 200000-, each
//      on its own connection: together the whole resource;
//   6. on one connection: Range 0-99,1000-1999 (206 multipart/byteranges), then -50000;
//   7. GET /range/partial.bin (120000 bytes): 0-29999 and 70000-99999 only (incomplete);
//   8. /tNN/mismatch/photo.jpg (a PE .exe as image/jpeg), blob.bin (a PNG as
//      application/octet-stream), notes.txt (a ZIP as text/plain);
//   9. --path-as-is GETs of /../../escape.txt, /..%2f..%2fescape2.txt, /CON,
//      /a%5Cb%5C..%5C..%5Cc.txt and a 300-character file name;
//   10. /tNN/attach/{dotdot,absolute,rfc5987}: Content-Disposition filename "../../evil.sh",
//      "/etc/shadow", filename*=UTF-8''..%2F..%2Fx.bin.
// The range and hostile-path requests cannot carry their tag in the URL: curl sends it in an
// X-Harness-Tag request header (so several records share the uri /range/big.bin). Every
// evidence record has `evidence` (multipart-upload, range, type-mismatch, hostile-name,
// hostile-disposition) and:
//   uploads: parts [{name, filename, content_type, size, sha256}] = the parts with a filename,
//     filename as between the quotes, size/sha256 of the part's content as sent; fields [{name,
//     value, size, sha256}] = the others. request_sha256 differs between runs (curl's random
//     boundary); the parts do not.
//   206: range {resource (URL path), etag, start, end, total, multipart, ranges: [{start, end,
//     size, sha256}]}; end inclusive; multipart: start/end span the pieces listed in ranges;
//     response_sha256 is of the body as sent (the piece, or the whole multipart/byteranges).
//   mismatches: declared_type (the Content-Type sent), real_type (application/x-msdownload,
//     image/png, application/zip).
//   attachments: content_disposition {header (as sent), filename (decoded)}.
// The truth document (and the returned object) also has resources [{resource, etag,
// last_modified, content_type, size, sha256, fetched: [[start, end], ...] (merged, inclusive),
// complete}], one per resource some 206 delivered. makeCapture checks that the parts the server
// parsed are exactly the files curl sent.

import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import crypto from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { spawnSync } from 'node:child_process';
import { withLink, run, childGroup } from './netns.js';
import { uploadBody } from './content.js';
import * as E from './evidence.js';
import { pcapToPcapng, countPcapPackets } from './pcapng.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
const SERVER_JS = path.join(HERE, 'server.js');
const RAWCLIENT_JS = path.join(HERE, 'rawclient.js');
const NODE = process.execPath;

function sleep(ms) {
  return new Promise((r) => setTimeout(r, ms));
}

function sha256Hex(buf) {
  return crypto.createHash('sha256').update(buf).digest('hex');
}

function haveCmd(cmd) {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

// ---------------------------------------------------------------------------
// Scenario definitions. Each step is one client connection (or one curl
// invocation that keeps one connection alive). `reqs` lists what the server
// must see, in order: {tag, method, path}.

/** Helpers building steps. t() allocates tags t01, t02, ... */
function scenarioBuilder() {
  let n = 0;
  const t = () => `t${String(++n).padStart(2, '0')}`;
  return { t };
}

/**
 * curl step. items: [{method, path, args?: [...], head?: bool, tag?, pathAsIs?, files?}]
 * All items go into ONE curl invocation separated by --next, so curl keeps
 * one connection alive for all of them (unless the server closes it).
 * An item's tag is the first segment of its path, unless it has `tag` (sent in an
 * X-Harness-Tag request header: for paths that cannot carry it). pathAsIs: curl --path-as-is
 * (no squashing of /../ and /./). files: names of evidence.js upload files; each "{file:NAME}"
 * in args becomes the path of that file, written for the item.
 */
function curlStep({ family = 4, port = 'main', items, label }) {
  return { kind: 'curl', family, port, items, label };
}

function rawStep({ family = 4, port = 'main', rcase, items, size, label }) {
  return { kind: 'raw', family, port, rcase, items, size, label };
}

/** The tag of a scenario item (see curlStep). */
function itemTag(it) {
  return it.tag ?? it.path.split('/')[1];
}

const SCENARIOS = {
  full() {
    const { t } = scenarioBuilder();
    const AE = ['-H', 'Accept-Encoding: gzip, deflate'];
    const steps = [];
    // C1: keep-alive GETs of every plain kind, 0 B .. 5 MiB
    steps.push(curlStep({
      label: 'keep-alive GETs (html, png, text, bin up to 5 MiB, empty)',
      items: [
        { method: 'GET', path: `/${t()}/page.html` },
        { method: 'GET', path: `/${t()}/img/logo.png` },
        { method: 'GET', path: `/${t()}/text/1.txt` },
        { method: 'GET', path: `/${t()}/text/20000.txt` },
        { method: 'GET', path: `/${t()}/bin/65536.bin` },
        { method: 'GET', path: `/${t()}/bin/5242880.bin` },
        { method: 'GET', path: `/${t()}/empty` },
      ],
    }));
    // C2: content-coded and chunked responses
    steps.push(curlStep({
      label: 'coded + chunked responses',
      items: [
        { method: 'GET', path: `/${t()}/gzip/30000.html`, args: AE },
        { method: 'GET', path: `/${t()}/gzip-chunked/50000.csv`, args: AE },
        { method: 'GET', path: `/${t()}/deflate/8000.txt`, args: AE },
        { method: 'GET', path: `/${t()}/chunked/40000.json` },
        { method: 'GET', path: `/${t()}/chunked/200000.json` },
      ],
    }));
    // C3: status codes without/with small bodies
    steps.push(curlStep({
      label: 'status 204/304/404/302',
      items: [
        { method: 'GET', path: `/${t()}/status/204` },
        { method: 'GET', path: `/${t()}/status/304`, args: ['-H', 'If-None-Match: "abc"'] },
        { method: 'GET', path: `/${t()}/status/404` },
        { method: 'GET', path: `/${t()}/redirect` },
      ],
    }));
    // C4: HEAD then GET on the same connection
    steps.push(curlStep({
      label: 'HEAD x2 then GET on one connection',
      items: [
        { method: 'HEAD', path: `/${t()}/page.html`, head: true },
        { method: 'HEAD', path: `/${t()}/bin/100000.bin`, head: true },
        { method: 'GET', path: `/${t()}/text/3000.txt` },
      ],
    }));
    // C5: close-delimited body
    steps.push(curlStep({
      label: 'close-delimited body',
      items: [{ method: 'GET', path: `/${t()}/close/30000.txt` }],
    }));
    // C6: big POST (1.2 MB: curl sends Expect: 100-continue) + small form post
    steps.push(curlStep({
      label: 'POST 1.2 MB (Expect: 100-continue) + form POST',
      items: [
        {
          method: 'POST',
          path: `/${t()}/upload/big.bin`,
          upload: { size: 1200000 },
          args: ['-H', 'Content-Type: application/octet-stream', '--data-binary', '@UPLOAD'],
        },
        { method: 'POST', path: `/${t()}/form`, args: ['-d', 'name=alice&msg=hello+world&n=42'] },
      ],
    }));
    // C7: chunked upload + PUT
    steps.push(curlStep({
      label: 'chunked POST upload + PUT',
      items: [
        {
          method: 'POST',
          path: `/${t()}/upload/chunked.bin`,
          upload: { size: 200000 },
          args: ['-H', 'Transfer-Encoding: chunked', '-H', 'Content-Type: application/octet-stream',
            '--data-binary', '@UPLOAD'],
        },
        { method: 'PUT', path: `/${t()}/put/file.bin`, upload: { size: 300000 }, args: ['-T', 'UPLOAD'] },
      ],
    }));
    // C8: IPv6
    steps.push(curlStep({
      label: 'IPv6 connection',
      family: 6,
      items: [
        { method: 'GET', path: `/${t()}/text/5000.txt` },
        { method: 'GET', path: `/${t()}/gzip/12000.html`, args: AE },
      ],
    }));
    // C9: port 8080, the second >5 MiB body
    steps.push(curlStep({
      label: 'port 8080',
      port: 'alt',
      items: [
        { method: 'GET', path: `/${t()}/bin/5300000.bin` },
        { method: 'GET', path: `/${t()}/chunked/1000.json` },
      ],
    }));
    // Raw client cases
    steps.push(rawStep({
      label: 'pipelining: 5 requests in one write',
      rcase: 'pipeline',
      items: [
        { method: 'GET', path: `/${t()}/text/100.txt` },
        { method: 'GET', path: `/${t()}/chunked/3000.json` },
        { method: 'HEAD', path: `/${t()}/page.html` },
        { method: 'GET', path: `/${t()}/gzip/2000.html` },
        { method: 'GET', path: `/${t()}/img/icon.png` },
      ],
    }));
    steps.push(rawStep({
      label: 'hand-written chunked POST with chunk extensions + trailer',
      rcase: 'chunked-post',
      size: 30000,
      items: [{ method: 'POST', path: `/${t()}/upload/raw-chunked.bin` }],
    }));
    steps.push(rawStep({
      label: 'HTTP/1.0 without Host',
      rcase: 'http10',
      items: [{ method: 'GET', path: `/${t()}/text/500.txt` }],
    }));
    return steps;
  },

  http5() {
    const { t } = scenarioBuilder();
    const AE = ['-H', 'Accept-Encoding: br, gzip, deflate'];
    const refused = (code) => ({
      method: 'POST',
      path: `/${t()}/refuse/${code}`,
      upload: { size: 50000 },
      // --expect100-timeout: wait for the server's answer instead of sending the body after 1 s.
      args: ['-H', 'Content-Type: application/octet-stream', '-H', 'Expect: 100-continue',
        '--expect100-timeout', '10', '--data-binary', '@UPLOAD'],
    });
    return [
      curlStep({
        label: 'codings br, gzip+gzip, raw deflate, gzip chunked with trailers; HEAD; 304',
        items: [
          { method: 'GET', path: `/${t()}/br/30000.html`, args: AE },
          { method: 'GET', path: `/${t()}/gzip2/20000.txt`, args: AE },
          { method: 'GET', path: `/${t()}/deflate-raw/9000.txt`, args: AE },
          { method: 'GET', path: `/${t()}/gzip-trailers/40000.json`, args: [...AE, '-H', 'TE: trailers'] },
          { method: 'HEAD', path: `/${t()}/page.html`, head: true },
          { method: 'GET', path: `/${t()}/status/304`, args: ['-H', 'If-None-Match: "abc"'] },
          { method: 'GET', path: `/${t()}/text/1200.txt` },
        ],
      }),
      curlStep({
        label: 'Expect: 100-continue refused before the body (417, 413)',
        items: [refused(417), refused(413)],
      }),
      rawStep({
        label: 'WebSocket: 101, frames each way, close',
        rcase: 'websocket',
        items: [{ method: 'GET', path: `/${t()}/ws` }],
      }),
      curlStep({
        label: 'GET through a CONNECT proxy tunnel (curl -p -x)',
        items: [{ method: 'GET', path: `/${t()}/text/2500.txt`, proxy: true }],
      }),
      rawStep({
        label: 'HTTP/1.0 request, close-delimited response',
        rcase: 'http10',
        items: [{ method: 'GET', path: `/${t()}/close/6000.txt` }],
      }),
    ];
  },

  evidence() {
    const { t } = scenarioBuilder();
    const NOEXPECT = ['-H', 'Expect:']; // the same body bytes whatever curl's Expect threshold
    const ranged = (resource, range) => ({ method: 'GET', path: resource, tag: t(), args: ['-r', range] });
    return [
      curlStep({
        label: 'multipart upload: report.pdf + pixel.png + a plain field',
        items: [
          {
            method: 'POST',
            path: `/${t()}/upload/form`,
            files: ['report.pdf', 'pixel.png'],
            args: [...NOEXPECT, '-F', 'report=@{file:report.pdf};type=application/pdf',
              '-F', 'pixel=@{file:pixel.png};type=image/png', '-F', 'note=quarterly figures, draft 3'],
          },
        ],
      }),
      curlStep({
        label: 'multipart upload with hostile part filenames (../../etc/passwd, C:\\Windows\\evil.exe)',
        items: [
          {
            method: 'POST',
            path: `/${t()}/upload/hostile`,
            files: ['passwd.txt', 'evil.exe'],
            args: [...NOEXPECT, '-F', 'file=@{file:passwd.txt};filename=../../etc/passwd;type=text/plain',
              '-F', 'tool=@{file:evil.exe};filename=C:\\Windows\\evil.exe;type=application/octet-stream',
              '-F', 'comment=see attachments'],
          },
        ],
      }),
      // /range/big.bin (300000 bytes) in three pieces over three connections: stitched, whole.
      curlStep({ label: 'range big.bin 0-99999', items: [ranged('/range/big.bin', '0-99999')] }),
      curlStep({ label: 'range big.bin 100000-199999', items: [ranged('/range/big.bin', '100000-199999')] }),
      curlStep({ label: 'range big.bin 200000-', items: [ranged('/range/big.bin', '200000-')] }),
      curlStep({
        label: 'range big.bin multi-range (multipart/byteranges) + suffix -50000',
        items: [ranged('/range/big.bin', '0-99,1000-1999'), ranged('/range/big.bin', '-50000')],
      }),
      // /range/partial.bin (120000 bytes): two non-adjacent pieces only, stitched incomplete.
      curlStep({
        label: 'range partial.bin 0-29999 + 70000-99999 (incomplete)',
        items: [ranged('/range/partial.bin', '0-29999'), ranged('/range/partial.bin', '70000-99999')],
      }),
      curlStep({
        label: 'declared type != real type (exe as image/jpeg, png as octet-stream, zip as text/plain)',
        items: [
          { method: 'GET', path: `/${t()}/mismatch/photo.jpg` },
          { method: 'GET', path: `/${t()}/mismatch/blob.bin` },
          { method: 'GET', path: `/${t()}/mismatch/notes.txt` },
        ],
      }),
      curlStep({
        label: 'hostile URL paths (--path-as-is)',
        items: E.HOSTILE_PATHS.map((p) => ({ method: 'GET', path: p, tag: t(), pathAsIs: true })),
      }),
      curlStep({
        label: 'hostile Content-Disposition filenames',
        items: E.DISPOSITION_KINDS.map((k) => ({ method: 'GET', path: `/${t()}/attach/${k}` })),
      }),
    ];
  },

  sample() {
    const { t } = scenarioBuilder();
    const AE = ['-H', 'Accept-Encoding: gzip, deflate'];
    return [
      curlStep({
        label: 'keep-alive GETs',
        items: [
          { method: 'GET', path: `/${t()}/page.html` },
          { method: 'GET', path: `/${t()}/img/logo.png` },
          { method: 'GET', path: `/${t()}/text/2000.txt` },
          { method: 'GET', path: `/${t()}/status/404` },
          { method: 'GET', path: `/${t()}/redirect` },
        ],
      }),
      curlStep({
        label: 'coded + chunked',
        items: [
          { method: 'GET', path: `/${t()}/gzip/20000.html`, args: AE },
          { method: 'GET', path: `/${t()}/chunked/6000.json` },
          { method: 'GET', path: `/${t()}/gzip-chunked/10000.csv`, args: AE },
          { method: 'GET', path: `/${t()}/deflate/3000.txt`, args: AE },
        ],
      }),
      curlStep({
        label: 'HEAD + POSTs',
        items: [
          { method: 'HEAD', path: `/${t()}/page.html`, head: true },
          { method: 'POST', path: `/${t()}/form`, args: ['-d', 'name=alice&msg=hello+world'] },
          {
            method: 'POST',
            path: `/${t()}/upload/small.bin`,
            upload: { size: 20000 },
            args: ['-H', 'Content-Type: application/octet-stream', '--data-binary', '@UPLOAD'],
          },
        ],
      }),
      curlStep({
        label: 'close-delimited body',
        items: [{ method: 'GET', path: `/${t()}/close/5000.txt` }],
      }),
      curlStep({
        label: 'IPv6 on port 8080',
        family: 6,
        port: 'alt',
        items: [
          { method: 'GET', path: `/${t()}/text/1000.txt` },
          { method: 'GET', path: `/${t()}/status/304` },
        ],
      }),
      rawStep({
        label: 'pipelining: 3 GETs in one write',
        rcase: 'pipeline',
        items: [
          { method: 'GET', path: `/${t()}/text/100.txt` },
          { method: 'GET', path: `/${t()}/chunked/800.json` },
          { method: 'GET', path: `/${t()}/bin/4096.bin` },
        ],
      }),
      rawStep({
        label: 'hand-written chunked POST',
        rcase: 'chunked-post',
        size: 5000,
        items: [{ method: 'POST', path: `/${t()}/upload/raw-chunked.bin` }],
      }),
      rawStep({
        label: 'HTTP/1.0 without Host',
        rcase: 'http10',
        items: [{ method: 'GET', path: `/${t()}/text/300.txt` }],
      }),
    ];
  },
};

export const SCENARIO_NAMES = Object.keys(SCENARIOS);

/** The expected request list of a scenario: [{tag, method, path, step, label}]. */
export function scenarioPlan(scenario) {
  const mk = SCENARIOS[scenario];
  if (!mk) throw new Error(`unknown scenario ${scenario} (have: ${SCENARIO_NAMES.join(', ')})`);
  const steps = mk();
  const reqs = [];
  steps.forEach((s, i) => {
    for (const it of s.items) {
      reqs.push({ tag: itemTag(it), method: it.method, path: it.path, step: i + 1, label: s.label });
    }
  });
  return { steps, reqs };
}

// ---------------------------------------------------------------------------

function urlFor(link, ports, step, p) {
  const port = step.port === 'alt' ? ports[1] : ports[0];
  const host = step.family === 6 ? `[${link.serverIp6}]` : link.serverIp;
  return `http://${host}${port === 80 ? '' : `:${port}`}${p}`;
}

/**
 * curl's arguments for one curl step. An item with `proxy: true` goes through the CONNECT
 * proxy at opts.proxyPort on the server (curl -p -x, plain HTTP inside the tunnel) and tells
 * the proxy its tag in an X-Harness-Tag proxy header.
 */
function curlArgs(link, ports, step, uploadDir, opts = {}) {
  const args = [];
  step.items.forEach((it, i) => {
    if (i > 0) args.push('--next');
    if (it.proxy) {
      if (!opts.proxyPort) throw new Error(`${it.path}: proxy item without a proxy port`);
      const ph = step.family === 6 ? `[${link.serverIp6}]` : link.serverIp;
      args.push('-q', '--http1.1', '-sS', '-p', '-x', `http://${ph}:${opts.proxyPort}`);
      args.push('--proxy-header', `X-Harness-Tag: ${it.path.split('/')[1]}`);
      args.push('--max-time', '30', '--connect-timeout', '5');
    } else {
      args.push('-q', '--http1.1', '-sS', '--noproxy', '*', '--max-time', '30', '--connect-timeout', '5');
    }
    args.push('-A', 'extract-http-harness (curl)');
    if (step.family === 6) args.push('-6');
    else args.push('-4');
    const wPath = it.path.replace(/%/g, '%%'); // -w: a literal %
    args.push('-o', '/dev/null', '-w', `${wPath} %{http_code} %{num_connects} %{size_download} %{size_upload}\\n`);
    if (it.head) args.push('-I');
    if (it.tag) args.push('-H', `X-Harness-Tag: ${it.tag}`);
    if (it.pathAsIs) args.push('--path-as-is');
    let extra = it.args || [];
    if (it.upload) {
      const f = path.join(uploadDir, `${it.path.split('/')[1]}.upload`);
      fs.writeFileSync(f, uploadBody(it.path, it.upload.size));
      extra = extra.map((a) => (a === '@UPLOAD' ? `@${f}` : a === 'UPLOAD' ? f : a));
    }
    if (it.files) {
      // Each file under its own name (curl sends the base name as the part's filename).
      const d = path.join(uploadDir, itemTag(it));
      fs.mkdirSync(d, { recursive: true });
      for (const name of it.files) fs.writeFileSync(path.join(d, name), E.uploadFile(name));
      extra = extra.map((a) => a.replace(/\{file:([^}]+)\}/g, (_, name) => path.join(d, name)));
    }
    args.push(...extra);
    if (it.method === 'PUT' && !extra.includes('-T')) args.push('-X', 'PUT');
    args.push(urlFor(link, ports, step, it.path));
  });
  return args;
}

function rawArgs(link, ports, step) {
  const port = step.port === 'alt' ? ports[1] : ports[0];
  const host = step.family === 6 ? link.serverIp6 : link.serverIp;
  const args = [RAWCLIENT_JS, '--host', host, '--port', String(port), '--case', step.rcase];
  if (step.rcase === 'pipeline') {
    for (const it of step.items) args.push(it.method === 'HEAD' ? '--head' : '--get', it.path);
  } else {
    args.push('--path', step.items[0].path);
    if (step.size) args.push('--size', String(step.size));
  }
  return args;
}

/** Wait for a line matching re on a child's stream. */
function waitForLine(child, stream, re, timeoutMs, what) {
  return new Promise((resolve, reject) => {
    let acc = '';
    const t = setTimeout(() => {
      cleanup();
      reject(new Error(`timeout waiting for ${what}; got: ${acc.slice(-500)}`));
    }, timeoutMs);
    const onData = (d) => {
      acc += d.toString();
      const m = re.exec(acc);
      if (m) {
        cleanup();
        resolve(m);
      }
    };
    const onExit = (code, sig) => {
      cleanup();
      reject(new Error(`${what}: process exited (${code ?? sig}) before ready: ${acc.slice(-500)}`));
    };
    function cleanup() {
      clearTimeout(t);
      child[stream].off('data', onData);
      child.off('exit', onExit);
    }
    child[stream].on('data', onData);
    child.once('exit', onExit);
  });
}

function waitExit(child, timeoutMs) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(child.exitCode ?? child.signalCode);
  return new Promise((resolve) => {
    const t = setTimeout(() => {
      try {
        child.kill('SIGKILL');
      } catch {
        /* ignore */
      }
    }, timeoutMs);
    child.once('exit', (code, sig) => {
      clearTimeout(t);
      resolve(code ?? sig);
    });
  });
}

const PROBE_JS = `
const net = require('net');
const targets = JSON.parse(process.argv[1]);
const deadline = Date.now() + 10000;
function one(t) {
  return new Promise((res) => {
    const s = net.connect({ host: t[0], port: t[1] });
    s.setTimeout(1000);
    s.once('connect', () => { s.end(); res(true); });
    s.once('error', () => { s.destroy(); res(false); });
    s.once('timeout', () => { s.destroy(); res(false); });
  });
}
(async () => {
  for (const t of targets) {
    while (!(await one(t))) {
      if (Date.now() > deadline) { console.error('unreachable ' + t.join(' ')); process.exit(1); }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
})();
`;

/**
 * Run a scenario and capture it.
 * @param {{scenario: string, dir: string, timeoutMs?: number, loopback?: boolean, verbose?: boolean}} o
 */
export async function makeCapture({ scenario, dir, timeoutMs = 60000, loopback = false, verbose = false } = {}) {
  const plan = scenarioPlan(scenario);
  fs.mkdirSync(dir, { recursive: true });
  const pcap = path.join(dir, `${scenario}.pcap`);
  const pcapng = path.join(dir, `${scenario}.pcapng`);
  const truthFile = path.join(dir, `${scenario}.truth.json`);
  const serverTruth = path.join(dir, `.${scenario}.server-truth.${process.pid}.jsonl`);
  for (const f of [pcap, pcapng, truthFile, serverTruth]) fs.rmSync(f, { force: true });
  const t0 = Date.now();
  const log = (...a) => {
    if (verbose) console.error(`[capture +${Date.now() - t0}ms]`, ...a);
  };
  if (!haveCmd('tcpdump')) throw new Error('tcpdump not found (apt-get install -y tcpdump)');

  const group = childGroup();
  const { children, add: onSpawn } = group;
  const uploadDir = fs.mkdtempSync(path.join(os.tmpdir(), 'xh-upload-'));

  const body = async (link) => {
    log(`link mode=${link.mode} dev=${link.dev} ${link.clientIp} -> ${link.serverIp} / ${link.serverIp6}`);
    const needs6 = plan.steps.some((s) => s.family === 6);
    const steps = plan.steps.filter((s) => s.family !== 6 || link.serverIp6);
    if (needs6 && !link.serverIp6) console.error('[capture] WARNING: IPv6 unavailable, IPv6 steps skipped');

    // 1. server
    const wantPorts = link.mode === 'netns' ? [80, 8080] : [0, 0];
    const srvArgs = [SERVER_JS, '--truth', serverTruth, '--host', link.serverIp6 || link.mode !== 'netns' ? '::' : '0.0.0.0'];
    for (const p of wantPorts) srvArgs.push('--port', String(p));
    const wantProxy = steps.some((s) => s.kind === 'curl' && s.items.some((it) => it.proxy));
    if (wantProxy) srvArgs.push('--proxy-port', link.mode === 'netns' ? '3128' : '0');
    const server = link.spawn(link.serverNs, NODE, srvArgs);
    children.push(server);
    let serverErr = '';
    server.stderr.on('data', (d) => (serverErr += d.toString()));
    const m = await waitForLine(server, 'stdout', /READY (\{.*\})\n/, 10000, 'server');
    const ready = JSON.parse(m[1]);
    const ports = ready.ports;
    const proxyPort = wantProxy ? ready.proxy : null;
    log('server ready', ready);

    // 2. make sure every address/port is reachable before capturing
    const targets = [];
    for (const s of steps) {
      const host = s.family === 6 ? link.serverIp6 : link.serverIp;
      const port = s.port === 'alt' ? ports[1] : ports[0];
      if (!targets.some((x) => x[0] === host && x[1] === port)) targets.push([host, port]);
      if (s.kind === 'curl' && s.items.some((it) => it.proxy) && !targets.some((x) => x[0] === host && x[1] === proxyPort)) {
        targets.push([host, proxyPort]);
      }
    }
    const pr = await link.exec(link.clientNs, NODE, ['-e', PROBE_JS, JSON.stringify(targets)], { timeout: 15000, onSpawn });
    if (pr.code !== 0) throw new Error(`server not reachable: ${pr.stderr}`);
    log('probe ok', targets);

    // 3. tcpdump in the client namespace
    const filter = link.mode === 'netns' ? 'tcp' : `tcp and (${[...ports, ...(proxyPort ? [proxyPort] : [])].map((p) => `port ${p}`).join(' or ')})`;
    const td = link.spawn(link.clientNs, 'tcpdump', [
      '-i', link.dev, '-U', '-s', '0', '-n', '--immediate-mode', '-B', '65536', '-Z', 'root', '-w', pcap, filter,
    ]);
    children.push(td);
    let tdErr = '';
    td.stderr.on('data', (d) => (tdErr += d.toString()));
    await waitForLine(td, 'stderr', /listening on/, 10000, 'tcpdump');
    log('tcpdump listening');

    // 4. clients, one connection at a time, in plan order
    const clientLog = [];
    for (const s of steps) {
      let r;
      if (s.kind === 'curl') {
        const args = curlArgs(link, ports, s, uploadDir, { proxyPort });
        r = await link.exec(link.clientNs, 'curl', args, { timeout: 35000, onSpawn });
        const conns = r.stdout
          .trim()
          .split('\n')
          .reduce((a, l) => a + Number(l.split(' ')[2] || 0), 0);
        clientLog.push({ label: s.label, code: r.code, connections: conns, out: r.stdout.trim() });
        if (r.code !== 0) throw new Error(`curl failed (${r.code}) for "${s.label}": ${r.stderr}`);
      } else {
        r = await link.exec(link.clientNs, NODE, rawArgs(link, ports, s), { timeout: 25000, onSpawn });
        clientLog.push({ label: s.label, code: r.code, connections: 1, out: r.stdout.trim() });
        if (r.code !== 0) throw new Error(`rawclient failed (${r.code}) for "${s.label}": ${r.stderr}`);
      }
      log(`step done: ${s.label}`);
    }

    // 5. let the last FIN/ACKs through, stop tcpdump, stop the server
    await sleep(300);
    td.kill('SIGINT');
    await waitExit(td, 5000);
    const st = {
      captured: Number((/(\d+) packets? captured/.exec(tdErr) || [])[1] ?? NaN),
      received: Number((/(\d+) packets? received by filter/.exec(tdErr) || [])[1] ?? NaN),
      dropped: Number((/(\d+) packets? dropped by kernel/.exec(tdErr) || [])[1] ?? NaN),
    };
    log('tcpdump stopped', st);
    server.kill('SIGTERM');
    await waitExit(server, 5000);
    if (serverErr.trim()) log('server stderr:', serverErr.trim());
    return { link, ports, proxyPort, st, clientLog, steps };
  };

  let result;
  try {
    result = await group.withDeadline(timeoutMs, `capture "${scenario}"`, () => withLink(body, { loopback, verbose }));
  } catch (e) {
    fs.rmSync(serverTruth, { force: true });
    throw e;
  } finally {
    fs.rmSync(uploadDir, { recursive: true, force: true });
  }

  const { link, ports, proxyPort, st, clientLog, steps } = result;

  // Ground truth
  if (!fs.existsSync(serverTruth)) throw new Error('server wrote no truth');
  const truth = fs
    .readFileSync(serverTruth, 'utf8')
    .split('\n')
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l))
    .sort((a, b) => a.seq - b.seq);
  fs.rmSync(serverTruth, { force: true });

  const expected = plan.reqs.filter((r) => steps.some((s) => s.items.some((it) => it.path === r.path)));
  const missing = expected.filter((r) => !truth.some((x) => x.tag === r.tag && x.method === r.method));
  if (missing.length) {
    throw new Error(`server did not record: ${missing.map((r) => `${r.method} ${r.path}`).join(', ')}`);
  }
  // Requests sent through the proxy: their CONNECT must be recorded (and finished) too.
  for (const r of expected) {
    const it = steps.flatMap((s) => s.items).find((x) => x.path === r.path && itemTag(x) === r.tag);
    if (!it.proxy) continue;
    const c = truth.find((x) => x.method === 'CONNECT' && x.tag === `${r.tag}-connect`);
    if (!c || !c.complete) throw new Error(`server did not record a finished CONNECT for ${r.path}`);
    const inner = truth.find((x) => x.tag === r.tag && x.method === r.method);
    if (!inner.inside_tunnel) throw new Error(`${r.path} did not arrive through the tunnel`);
  }

  // Multipart uploads (evidence): the server parsed, as the parts with a filename, exactly the
  // files curl sent.
  for (const it of steps.flatMap((s) => s.items)) {
    if (!it.files) continue;
    const rec = truth.find((x) => x.tag === itemTag(it) && x.method === it.method);
    const got = (rec.parts || []).map((p) => p.sha256).sort();
    const want = it.files.map((f) => sha256Hex(E.uploadFile(f))).sort();
    if (JSON.stringify(got) !== JSON.stringify(want)) {
      throw new Error(
        `${it.path}: the server parsed parts ${JSON.stringify(rec.parts)}, not the files ${it.files.join(', ')}`,
      );
    }
  }
  // Range resources (evidence): what the 206 responses delivered of each.
  const resources = E.resourcesOf(truth);

  // pcap checks + pcapng
  if (!fs.existsSync(pcap)) throw new Error(`tcpdump wrote no ${pcap}: ${st}`);
  const packets = countPcapPackets(pcap);
  if (st.dropped > 0) console.error(`[capture] WARNING: tcpdump dropped ${st.dropped} packets`);
  if (haveCmd('editcap')) {
    const r = await run('editcap', ['-F', 'pcapng', pcap, pcapng], { timeout: 30000 });
    if (r.code !== 0) throw new Error(`editcap failed: ${r.stderr}`);
  } else {
    pcapToPcapng(pcap, pcapng);
  }

  const truthDoc = {
    scenario,
    mode: link.mode,
    mode_reason: link.reason || null,
    dev: link.dev,
    server: { ip: link.serverIp, ip6: link.serverIp6, ports, ...(proxyPort ? { proxy_port: proxyPort } : {}) },
    client: { ip: link.clientIp, ip6: link.clientIp6 },
    capture: { packets, tcpdump_captured: st.captured, tcpdump_dropped: st.dropped },
    connections: clientLog.map((c) => ({ label: c.label, connections: c.connections })),
    ...(resources.length ? { resources } : {}),
    transactions: truth,
  };
  fs.writeFileSync(truthFile, JSON.stringify(truthDoc, null, 1) + '\n');

  return {
    pcap,
    pcapng,
    truth,
    truthDoc,
    truthFile,
    mode: link.mode,
    packets,
    dropped: st.dropped,
    server: truthDoc.server,
    client: truthDoc.client,
    expected,
    ...(resources.length ? { resources } : {}),
    durationMs: Date.now() - t0,
  };
}

// Building blocks shared with variants.js (same behaviour as above).
export { curlArgs, waitForLine, waitExit, PROBE_JS };

// CLI: node test/harness/capture.js SCENARIO DIR
if (import.meta.url === `file://${process.argv[1]}`) {
  const [scenario = 'full', dir = '/tmp/xh-capture'] = process.argv.slice(2);
  makeCapture({ scenario, dir, verbose: true })
    .then((c) => {
      console.log(JSON.stringify({ ...c, truth: `${c.truth.length} transactions`, truthDoc: undefined, expected: undefined }, null, 1));
    })
    .catch((e) => {
      console.error(e);
      process.exit(1);
    });
}
