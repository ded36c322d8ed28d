/**
 * The review page's static parts: index.html, its script and its style sheet.
 *
 * The script only ever puts data into the DOM as text (textContent, input values, attributes
 * set with setAttribute on elements it made); links to files are built from the log's
 * relative paths with every segment percent-encoded. The page's Content-Security-Policy
 * allows scripts, styles and images from the output folder only, and no network at all.
 *
 * APP_JS and STYLE_CSS are String.raw templates: they contain no backtick and no "${".
 */

function escapeHtml(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const CSP =
  "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; " +
  "base-uri 'none'; form-action 'none'";

/** index.html: a skeleton; the data arrives with the script files named in `rowScripts`. */
export function indexHtml(transactions: number, rowScripts: string[]): string {
  const scripts = rowScripts.map((s) => `<script src="${escapeHtml(s)}"></script>`).join('\n');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="${CSP}">
<meta name="referrer" content="no-referrer">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>extract-http review: ${transactions} transactions</title>
<link rel="stylesheet" href="review/style.css">
<script src="review/app.js"></script>
</head>
<body>
<header id="top">
<h1>extract-http review</h1>
<div id="summary">Loading ${transactions} transactions…</div>
</header>
<noscript><p class="warn">This page needs JavaScript. Everything it shows is in http.sqlite.</p></noscript>
<form id="filters" role="search" autocomplete="off">
<label>Search <input id="f-q" type="search" placeholder="URI, host, address, sha256, type, file…" size="34"></label>
<label>Host <input id="f-host" type="search" list="l-hosts" placeholder="contains" size="16"></label>
<label>Status <select id="f-status"><option value="">any</option></select></label>
<label>Type <input id="f-type" type="search" list="l-types" placeholder="starts with, e.g. image/" size="16"></label>
<label>Show <select id="f-problems">
<option value="">all transactions</option>
<option value="any">only problems</option>
<option value="mismatch">type mismatches</option>
<option value="partial">partial bodies</option>
<option value="anomalies">with anomalies</option>
<option value="noresponse">no response</option>
</select></label>
<label>Per page <select id="f-size"><option>50</option><option selected>100</option><option>250</option><option>500</option></select></label>
<button id="f-reset" type="button">Reset</button>
<datalist id="l-hosts"></datalist><datalist id="l-types"></datalist>
</form>
<div id="bar">
<span id="counts"><b id="matching">0</b> of <span id="total">0</span> transactions</span>
<span id="timing"></span>
<nav id="pager" aria-label="pages">
<button id="p-first" type="button" title="first page">«</button>
<button id="p-prev" type="button" title="previous page">‹</button>
<span>page <input id="p-page" type="number" min="1" value="1"> of <span id="p-pages">1</span></span>
<button id="p-next" type="button" title="next page">›</button>
<button id="p-last" type="button" title="last page">»</button>
</nav>
</div>
<main id="table-wrap">
<table id="tx"><thead><tr></tr></thead><tbody></tbody></table>
</main>
<aside id="details" hidden aria-label="transaction details"></aside>
<script src="review/meta.js"></script>
${scripts}
</body>
</html>
`;
}

export const STYLE_CSS = String.raw`
:root { --mismatch: #b35c00; --mismatch-bg: #fff1dc; --partial: #b3261e; --partial-bg: #fde7e5;
  --anom: #6a1b9a; --anom-bg: #f3e5f8; --line: #d9dde3; --muted: #5f6b7a; --accent: #1a5fb4; }
* { box-sizing: border-box; }
html, body { margin: 0; }
body { font: 13px/1.35 system-ui, -apple-system, "Segoe UI", Roboto, "DejaVu Sans", sans-serif; color: #1d232b; background: #fff; }
header#top { display: flex; align-items: baseline; gap: 16px; padding: 8px 12px 4px; flex-wrap: wrap; }
h1 { font-size: 16px; margin: 0; }
#summary { color: var(--muted); }
#summary button { font: inherit; border: 0; background: none; padding: 0 2px; cursor: pointer; text-decoration: underline dotted; }
#summary .k-mismatch { color: var(--mismatch); } #summary .k-partial { color: var(--partial); } #summary .k-anom { color: var(--anom); }
#summary details { display: inline-block; margin-left: 8px; }
#summary details table { margin-top: 4px; border-collapse: collapse; }
#summary details td { padding: 1px 8px 1px 0; }
form#filters { display: flex; flex-wrap: wrap; gap: 6px 14px; padding: 6px 12px; background: #f4f6f8; border-top: 1px solid var(--line); border-bottom: 1px solid var(--line); align-items: center; }
form#filters label { color: var(--muted); }
form#filters input, form#filters select, button { font: inherit; }
#bar { display: flex; gap: 16px; align-items: center; padding: 5px 12px; }
#timing { color: var(--muted); font-size: 11px; }
#pager { margin-left: auto; display: flex; gap: 4px; align-items: center; }
#p-page { width: 5em; }
#table-wrap { padding: 0 12px 24px; }
table#tx { border-collapse: collapse; width: 100%; table-layout: fixed; }
#tx th, #tx td { border-bottom: 1px solid var(--line); padding: 2px 5px; line-height: 1.2; text-align: left; vertical-align: middle; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
#tx th { position: sticky; top: 0; background: #e9edf1; z-index: 1; font-weight: 600; }
#tx th button { font: inherit; font-weight: 600; border: 0; background: none; padding: 0; cursor: pointer; color: inherit; }
#tx th button.sorted::after { content: " ▲"; font-size: 9px; }
#tx th button.sorted.desc::after { content: " ▼"; }
#tx tbody tr { cursor: pointer; }
#tx tbody tr:hover { background: #eef4fb; }
#tx tbody tr.current { outline: 2px solid var(--accent); outline-offset: -2px; }
#tx tr.mismatch { background: var(--mismatch-bg); box-shadow: inset 4px 0 var(--mismatch); }
#tx tr.partial { background: var(--partial-bg); box-shadow: inset 4px 0 var(--partial); }
#tx tr.anom { box-shadow: inset 4px 0 var(--anom); }
#tx tr.anom.mismatch, #tx tr.anom.partial { box-shadow: inset 4px 0 var(--anom), inset 8px 0 var(--partial); }
.c-thumb { width: 40px; } .c-time { width: 96px; } .c-ep { width: 150px; } .c-method { width: 64px; }
.c-host { width: 110px; } .c-uri { width: auto; } .c-status { width: 50px; } .c-types { width: 150px; }
.c-size { width: 66px; } .c-sha { width: 86px; } .c-state { width: 78px; } .c-anom { width: 50px; } .c-file { width: 130px; }
#tx th.c-size, td.c-size { text-align: right; font-variant-numeric: tabular-nums; }
#tx th.c-anom, td.c-anom { text-align: center; }
#tx td > div { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
#tx td .l2 { color: var(--muted); }
#tx th button.sort { display: block; }
td.c-time, td.c-sha, td.c-ep, td.c-uri { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 11.5px; }
#tx td.c-thumb { padding: 1px 2px; height: 32px; }
img.thumb { max-width: 36px; max-height: 30px; display: block; background: repeating-conic-gradient(#eee 0 25%, #fff 0 50%) 0 0 / 8px 8px; }
img.broken { display: none; }
.badge { display: inline-block; padding: 0 5px; border-radius: 8px; font-size: 11px; font-weight: 600; color: #fff; }
.badge.mismatch { background: var(--mismatch); } .badge.partial { background: var(--partial); }
.badge.anom { background: var(--anom); } .badge.noresp { background: #7a828c; } .badge.ok { background: none; color: #2e7d32; font-weight: 500; }
#tx td .sniff-mismatch, td.sniff-mismatch { color: var(--mismatch); font-weight: 700; }
.s2 { color: #2e7d32; } .s3 { color: #1a5fb4; } .s4 { color: #b35c00; } .s5 { color: #b3261e; font-weight: 600; } .snone { color: var(--muted); }
a { color: var(--accent); }
a.active-type::after { content: " ⤓"; }
.muted { color: var(--muted); }
.empty { padding: 24px; color: var(--muted); text-align: center; }
aside#details { position: fixed; top: 0; right: 0; bottom: 0; width: min(760px, 62vw); background: #fff; border-left: 2px solid var(--line); box-shadow: -6px 0 18px rgba(0,0,0,.12); overflow: auto; padding: 10px 16px 32px; z-index: 5; }
aside#details h2 { font-size: 15px; margin: 4px 0 8px; display: flex; gap: 8px; align-items: center; flex-wrap: wrap; }
aside#details h3 { font-size: 13px; margin: 14px 0 4px; border-bottom: 1px solid var(--line); padding-bottom: 2px; }
aside#details .tools { margin-left: auto; display: flex; gap: 4px; }
aside#details table { border-collapse: collapse; width: 100%; table-layout: fixed; }
aside#details td, aside#details th { text-align: left; vertical-align: top; padding: 2px 6px 2px 0; border-bottom: 1px solid #eef0f3; word-break: break-all; white-space: pre-wrap; }
aside#details table.kv th { width: 150px; font-weight: 500; color: var(--muted); word-break: normal; }
aside#details table.hdr td.n { width: 190px; font-weight: 600; }
aside#details table.hdr td.p { width: 28px; color: var(--muted); }
aside#details .mono, aside#details table.hdr td { font-family: ui-monospace, "DejaVu Sans Mono", monospace; font-size: 12px; }
aside#details .file { border: 1px solid var(--line); border-radius: 4px; padding: 6px 8px; margin: 6px 0; display: flex; gap: 10px; }
aside#details .file.mismatch { border-color: var(--mismatch); background: var(--mismatch-bg); }
aside#details .file.partial { border-color: var(--partial); background: var(--partial-bg); }
aside#details .file img { max-width: 160px; max-height: 120px; align-self: flex-start; }
aside#details .file table { flex: 1; }
aside#details .anomaly { border-left: 4px solid var(--anom); background: var(--anom-bg); padding: 3px 8px; margin: 4px 0; }
aside#details .anomaly b { font-family: ui-monospace, "DejaVu Sans Mono", monospace; }
.warn { color: var(--partial); }
`;

export const APP_JS = String.raw`/* extract-http review page. Data comes from review/*.js files as plain JSON; every piece of it is
   put into the DOM as text only (textContent, .value, setAttribute on elements made here). */
(function () {
  'use strict';

  var XH = window.XH = { dict: [''], rows: [], meta: null, details: {}, pending: {} };
  XH.d = function (a) { for (var i = 0; i < a.length; i++) XH.dict.push(a[i]); };
  XH.r = function (a) { for (var i = 0; i < a.length; i++) XH.rows.push(a[i]); };
  XH.m = function (m) { XH.meta = m; };
  XH.x = function (chunk, data) {
    XH.details[chunk] = data;
    var cbs = XH.pending[chunk] || [];
    delete XH.pending[chunk];
    cbs.forEach(function (f) { f(data); });
  };

  // Row layout (src/review/page.ts writes it).
  var ID = 0, TS = 1, CIP = 2, CPORT = 3, SIP = 4, SPORT = 5, METHOD = 6, HOST = 7, URI = 8, STATUS = 9,
    DECL = 10, SNIFF = 11, SIZE = 12, SHA = 13, FLAGS = 14, ANOM = 15, PDIR = 16, PBASE = 17, NFILES = 18, THUMB = 19;
  var F_MISMATCH = 1, F_PARTIAL = 2, F_NORESP = 4, F_NOREQ = 8, F_URICUT = 16, F_UNSAFE = 32;
  var SAFE_VIEW = /\.(png|jpe?g|gif|webp|bmp|ico|avif|txt|json|csv|pdf)$/i;
  var HEADER_DIRS = ['request', 'response', 'request trailer', 'response trailer'];

  function $(id) { return document.getElementById(id); }
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function D(i) { return XH.dict[i] || ''; }
  function pathOf(r) { return r[PDIR] ? D(r[PDIR]) + '/' + r[PBASE] : r[PBASE]; }

  /** A relative link inside the output folder, each segment percent-encoded; null if unsafe. */
  function fileHref(p) {
    if (typeof p !== 'string' || p === '' || p.charAt(0) === '/' || p.indexOf('\\') >= 0 || /^[A-Za-z]:/.test(p)) return null;
    var segs = p.split('/');
    for (var i = 0; i < segs.length; i++) {
      if (segs[i] === '' || segs[i] === '.' || segs[i] === '..') return null;
      segs[i] = encodeURIComponent(segs[i]);
    }
    return segs.join('/');
  }
  /** A link to a recovered file: viewable types open in a tab, anything active downloads instead. */
  function fileLink(p, text) {
    var href = fileHref(p);
    if (href === null) { var s = el('span', 'muted', text); s.title = 'unsafe path, not linked: ' + p; return s; }
    var a = el('a', null, text);
    a.setAttribute('href', href);
    a.rel = 'noopener noreferrer';
    if (SAFE_VIEW.test(p)) a.target = '_blank';
    else { a.setAttribute('download', ''); a.className = 'active-type'; a.title = 'saved, not opened: ' + p; }
    return a;
  }
  function thumbImg(p, cls) {
    var href = fileHref(p);
    if (href === null) return null;
    var img = el('img', cls);
    img.loading = 'lazy';
    img.decoding = 'async';
    img.alt = '';
    img.addEventListener('error', function () { img.classList.add('broken'); });
    img.setAttribute('src', href);
    return img;
  }

  function pad(n, w) { n = String(n); while (n.length < w) n = '0' + n; return n; }
  function fmtTime(us, full) {
    if (us === null || us === undefined) return '';
    var iso = new Date(Math.floor(us / 1000)).toISOString();
    var frac = full ? pad(((us % 1e6) + 1e6) % 1e6, 6) : iso.slice(20, 23);
    return iso.slice(0, 10) + ' ' + iso.slice(11, 19) + '.' + frac;
  }
  function fmtSize(n) {
    if (n === null || n === undefined) return '';
    if (n < 1024) return n + ' B';
    if (n < 1048576) return (n / 1024).toFixed(1) + ' KiB';
    if (n < 1073741824) return (n / 1048576).toFixed(1) + ' MiB';
    return (n / 1073741824).toFixed(2) + ' GiB';
  }
  function fmtInt(n) { return Number(n).toLocaleString('en-US'); }
  function endpoint(ip, port) {
    if (!ip) return '';
    return (ip.indexOf(':') >= 0 ? '[' + ip + ']' : ip) + (port !== null && port !== undefined ? ':' + port : '');
  }
  function clip(s, n) { s = String(s); return s.length > n ? s.slice(0, n) + '…' : s; }

  // ---- state, kept in the URL fragment so a view can be reloaded or bookmarked ----
  var DEFAULTS = { q: '', host: '', status: '', type: '', problems: '', sort: 'time', desc: '', page: '1', size: '100', tx: '' };
  var state = Object.assign({}, DEFAULTS);
  function readHash() {
    var p = new URLSearchParams(location.hash.replace(/^#/, ''));
    var s = Object.assign({}, DEFAULTS);
    Object.keys(DEFAULTS).forEach(function (k) { var v = p.get(k); if (v !== null) s[k] = v; });
    return s;
  }
  function hashOf(s) {
    var p = new URLSearchParams();
    Object.keys(DEFAULTS).forEach(function (k) { if (s[k] !== DEFAULTS[k]) p.set(k, s[k]); });
    var h = p.toString();
    return h ? '#' + h : '#';
  }
  function go(patch, push) {
    Object.assign(state, patch);
    var h = hashOf(state);
    if (location.hash !== h && !(h === '#' && location.hash === '')) {
      if (push) { location.hash = h; return; }   // hashchange renders
      try { history.replaceState(null, '', h); } catch (e) { /* some file:// setups refuse; the view still works */ }
    }
    render();
  }

  // ---- columns ----
  var rank = {};           // dictionary index -> rank in sorted order, built once
  function dictRank() {
    if (rank.r) return rank.r;
    var idx = XH.dict.map(function (_, i) { return i; });
    idx.sort(function (a, b) { var x = XH.dict[a], y = XH.dict[b]; return x < y ? -1 : x > y ? 1 : 0; });
    var r = new Int32Array(XH.dict.length);
    for (var i = 0; i < idx.length; i++) r[idx[i]] = i;
    rank.r = r;
    return r;
  }
  // Comparators take the direction (1 or -1) themselves, so that empty values stay last either way.
  function cmpNum(k) {
    return function (a, b, sign) {
      var x = a[k], y = b[k];
      if (x === y) return 0;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return x < y ? -sign : sign;
    };
  }
  function cmpDict(k, k2) {
    return function (a, b, sign) {
      if (a[k] !== b[k]) {
        if (a[k] === 0) return 1;
        if (b[k] === 0) return -1;
        var r = dictRank();
        return sign * (r[a[k]] - r[b[k]]);
      }
      return k2 === undefined ? 0 : sign * ((a[k2] || 0) - (b[k2] || 0));
    };
  }
  function cmpStr(f) {
    return function (a, b, sign) {
      var x = f(a), y = f(b);
      if (x === y) return 0;
      if (x === '') return 1;
      if (y === '') return -1;
      return x < y ? -sign : sign;
    };
  }
  // Sort keys, and the columns shown: a column shows one or two of them (two lines in a cell).
  var SORTS = {
    time: { label: 'Time (UTC)', cmp: cmpNum(TS) },
    client: { label: 'Client', cmp: cmpDict(CIP, CPORT) },
    server: { label: 'Server', cmp: cmpDict(SIP, SPORT) },
    method: { label: 'Method', cmp: cmpDict(METHOD) },
    host: { label: 'Host', cmp: cmpDict(HOST) },
    uri: { label: 'URI', cmp: cmpStr(function (r) { return r[URI] || ''; }) },
    status: { label: 'Status', cmp: cmpNum(STATUS) },
    declared: { label: 'Declared type', cmp: cmpDict(DECL) },
    sniffed: { label: 'Sniffed type', cmp: cmpDict(SNIFF) },
    size: { label: 'Size', cmp: cmpNum(SIZE) },
    sha256: { label: 'sha256', cmp: cmpStr(function (r) { return r[SHA] || ''; }) },
    state: { label: 'Body', cmp: cmpNum(FLAGS) },
    anomalies: { label: 'Anom.', cmp: cmpNum(ANOM) },
    file: { label: 'File', cmp: cmpStr(function (r) { return r[PBASE] ? pathOf(r) : ''; }) },
    id: { label: '#', cmp: cmpNum(ID) },
  };
  var COLS = [
    { cls: 'c-thumb', keys: [] },
    { cls: 'c-time', keys: ['time'] },
    { cls: 'c-ep', keys: ['client', 'server'] },
    { cls: 'c-method', keys: ['method'] },
    { cls: 'c-host', keys: ['host'] },
    { cls: 'c-uri', keys: ['uri'] },
    { cls: 'c-status', keys: ['status'] },
    { cls: 'c-types', keys: ['declared', 'sniffed'] },
    { cls: 'c-size', keys: ['size'] },
    { cls: 'c-sha', keys: ['sha256'] },
    { cls: 'c-state', keys: ['state'] },
    { cls: 'c-anom', keys: ['anomalies'] },
    { cls: 'c-file', keys: ['file'] },
  ];

  // ---- filtering and sorting ----
  var hay = null;          // lower-cased searchable text per row, built on the first free-text search
  function haystack(i) {
    if (hay === null) hay = new Array(XH.rows.length);
    var h = hay[i];
    if (h === undefined) {
      var r = XH.rows[i];
      h = hay[i] = ['#' + r[ID], D(r[METHOD]), D(r[HOST]), r[URI] || '', r[STATUS] === null ? '' : r[STATUS],
        endpoint(D(r[CIP]), r[CPORT]), endpoint(D(r[SIP]), r[SPORT]), D(r[DECL]), D(r[SNIFF]), r[SHA] || '',
        pathOf(r)].join('\n').toLowerCase();
    }
    return h;
  }
  function dictMask(test) {
    var m = new Uint8Array(XH.dict.length);
    for (var i = 0; i < XH.dict.length; i++) m[i] = test(XH.dict[i].toLowerCase()) ? 1 : 0;
    return m;
  }
  function predicate(s) {
    var tests = [];
    var terms = s.q.toLowerCase().split(/\s+/).filter(Boolean);
    if (terms.length) tests.push(function (r, i) {
      var h = haystack(i);
      for (var t = 0; t < terms.length; t++) if (h.indexOf(terms[t]) < 0) return false;
      return true;
    });
    var host = s.host.trim().toLowerCase();
    if (host) {
      var hm = dictMask(function (v) { return v.indexOf(host) >= 0; });
      tests.push(function (r) { return hm[r[HOST]] === 1; });
    }
    var st = s.status;
    if (/^[1-5]xx$/.test(st)) {
      var cls = Number(st.charAt(0));
      tests.push(function (r) { return r[STATUS] !== null && Math.floor(r[STATUS] / 100) === cls; });
    } else if (st === 'none') {
      tests.push(function (r) { return r[STATUS] === null; });
    } else if (/^\d+$/.test(st)) {
      var code = Number(st);
      tests.push(function (r) { return r[STATUS] === code; });
    }
    var type = s.type.trim().toLowerCase();
    if (type) {
      var tm = dictMask(function (v) { return v !== '' && v.lastIndexOf(type, 0) === 0; });
      tests.push(function (r) { return tm[r[DECL]] === 1 || tm[r[SNIFF]] === 1; });
    }
    var pr = s.problems;
    if (pr === 'any') tests.push(function (r) { return (r[FLAGS] & (F_MISMATCH | F_PARTIAL)) !== 0 || r[ANOM] > 0; });
    else if (pr === 'mismatch') tests.push(function (r) { return (r[FLAGS] & F_MISMATCH) !== 0; });
    else if (pr === 'partial') tests.push(function (r) { return (r[FLAGS] & F_PARTIAL) !== 0; });
    else if (pr === 'anomalies') tests.push(function (r) { return r[ANOM] > 0; });
    else if (pr === 'noresponse') tests.push(function (r) { return (r[FLAGS] & F_NORESP) !== 0; });
    if (!tests.length) return null;
    return function (r, i) {
      for (var t = 0; t < tests.length; t++) if (!tests[t](r, i)) return false;
      return true;
    };
  }

  var order = null, orderKey = '', view = null, viewKey = '', lastMs = 0, byId = null;
  function ensureView() {
    var rows = XH.rows;
    var key = Object.prototype.hasOwnProperty.call(SORTS, state.sort) ? state.sort : 'time';
    var col = SORTS[key];
    var ok = key + '/' + (state.desc ? 'd' : 'a');
    var t0 = performance.now();
    if (ok !== orderKey) {
      var idx = new Array(rows.length);
      for (var i = 0; i < rows.length; i++) idx[i] = i;
      var cmp = col.cmp, sign = state.desc ? -1 : 1;
      idx.sort(function (a, b) { return cmp(rows[a], rows[b], sign) || rows[a][ID] - rows[b][ID]; });
      order = idx;
      orderKey = ok;
      viewKey = '';
    }
    var vk = [state.q, state.host, state.status, state.type, state.problems].join('\u0000');
    if (vk !== viewKey) {
      var pred = predicate(state);
      if (pred === null) view = order;
      else {
        view = [];
        for (var j = 0; j < order.length; j++) if (pred(rows[order[j]], order[j])) view.push(order[j]);
      }
      viewKey = vk;
      lastMs = performance.now() - t0;
    }
  }

  // ---- rendering ----
  function statusClass(s) { return s === null ? 'snone' : 's' + Math.floor(s / 100); }
  function badges(r, into) {
    var f = r[FLAGS];
    if (f & F_MISMATCH) into.appendChild(el('span', 'badge mismatch', 'mismatch'));
    if (f & F_PARTIAL) into.appendChild(el('span', 'badge partial', 'partial'));
    if (f & F_NORESP) into.appendChild(el('span', 'badge noresp', 'no response'));
    if (f & F_NOREQ) into.appendChild(el('span', 'badge noresp', 'no request'));
    if (!(f & (F_MISMATCH | F_PARTIAL | F_NORESP | F_NOREQ)) && r[NFILES] > 0) into.appendChild(el('span', 'badge ok', 'complete'));
  }
  function cell(tr, cls, text, title) {
    var td = el('td', cls, text);
    if (title !== undefined && title !== null && title !== '') td.title = clip(title, 4000);
    tr.appendChild(td);
    return td;
  }
  function line(td, cls, text, title) {
    var d = el('div', cls, text);
    if (title !== undefined && title !== null && title !== '') d.title = clip(title, 4000);
    td.appendChild(d);
    return d;
  }
  function rowEl(i) {
    var r = XH.rows[i];
    var tr = el('tr');
    var f = r[FLAGS];
    if (f & F_MISMATCH) tr.classList.add('mismatch');
    if (f & F_PARTIAL) tr.classList.add('partial');
    if (r[ANOM] > 0) tr.classList.add('anom');
    if (String(r[ID]) === state.tx) tr.classList.add('current');
    tr.dataset.id = String(r[ID]);

    var th = cell(tr, 'c-thumb');
    if (r[THUMB]) {
      var tp = r[THUMB] === 1 ? pathOf(r) : r[THUMB];
      var img = thumbImg(tp, 'thumb');
      if (img) { img.title = tp; th.appendChild(img); }
    }
    var t = fmtTime(r[TS]), tfull = fmtTime(r[TS], true);
    var tc = cell(tr, 'c-time');
    line(tc, 'l1', t.slice(0, 10), tfull);
    line(tc, 'l2', t.slice(11), tfull);
    var ep = cell(tr, 'c-ep');
    var c = endpoint(D(r[CIP]), r[CPORT]), sv = endpoint(D(r[SIP]), r[SPORT]);
    line(ep, 'l1', c, 'client ' + c);
    line(ep, 'l2', sv ? '→ ' + sv : '', 'server ' + sv);
    cell(tr, 'c-method', D(r[METHOD]), D(r[METHOD]));
    cell(tr, 'c-host', D(r[HOST]), D(r[HOST]));
    var uri = r[URI] === null ? '' : r[URI];
    cell(tr, 'c-uri', uri + (f & F_URICUT ? '…' : ''), uri);
    cell(tr, 'c-status ' + statusClass(r[STATUS]), r[STATUS] === null ? '' : r[STATUS]);
    var ty = cell(tr, 'c-types');
    line(ty, 'l1 declared', D(r[DECL]).split(';')[0], D(r[DECL]) ? 'declared: ' + D(r[DECL]) : '');
    line(ty, 'l2 sniffed' + (f & F_MISMATCH ? ' sniff-mismatch' : ''), D(r[SNIFF]), D(r[SNIFF]) ? 'sniffed: ' + D(r[SNIFF]) : '');
    cell(tr, 'c-size', fmtSize(r[SIZE]), r[SIZE] === null ? '' : fmtInt(r[SIZE]) + ' bytes');
    cell(tr, 'c-sha', r[SHA] ? r[SHA].slice(0, 10) + '…' : '', r[SHA]);
    badges(r, cell(tr, 'c-state'));
    var an = cell(tr, 'c-anom');
    if (r[ANOM] > 0) an.appendChild(el('span', 'badge anom', r[ANOM]));
    var fc = cell(tr, 'c-file');
    if (r[PBASE]) {
      var p = pathOf(r);
      fc.appendChild(fileLink(p, r[PBASE]));
      fc.title = p;
      if (r[NFILES] > 1) fc.appendChild(el('span', 'muted', ' +' + (r[NFILES] - 1)));
    }
    return tr;
  }

  function renderHead() {
    var tr = document.querySelector('#tx thead tr');
    tr.textContent = '';
    COLS.forEach(function (c) {
      var th = el('th', c.cls);
      c.keys.forEach(function (k) {
        var b = el('button', 'sort', SORTS[k].label);
        b.type = 'button';
        b.dataset.k = k;
        b.title = 'sort by ' + SORTS[k].label;
        th.appendChild(b);
      });
      tr.appendChild(th);
    });
  }

  var pageCount = 1;
  function render() {
    ensureView();
    var size = Math.max(10, Math.min(1000, Number(state.size) || 100));
    pageCount = Math.max(1, Math.ceil(view.length / size));
    var page = Math.min(pageCount, Math.max(1, Math.floor(Number(state.page)) || 1));
    var start = (page - 1) * size;
    var body = document.querySelector('#tx tbody');
    var frag = document.createDocumentFragment();
    for (var i = start; i < Math.min(view.length, start + size); i++) frag.appendChild(rowEl(view[i]));
    if (view.length === 0) {
      var tr = el('tr'), td = el('td', 'empty', 'No transaction matches these filters.');
      td.colSpan = COLS.length;
      tr.appendChild(td);
      frag.appendChild(tr);
    }
    body.textContent = '';
    body.appendChild(frag);

    $('matching').textContent = fmtInt(view.length);
    $('matching').dataset.n = String(view.length);
    $('total').textContent = fmtInt(XH.rows.length);
    $('timing').textContent = lastMs ? 'filtered in ' + lastMs.toFixed(0) + ' ms' : '';
    $('p-page').value = String(page);
    $('p-page').max = String(pageCount);
    $('p-pages').textContent = fmtInt(pageCount);
    $('p-first').disabled = $('p-prev').disabled = page <= 1;
    $('p-next').disabled = $('p-last').disabled = page >= pageCount;
    document.querySelectorAll('#tx th button.sort').forEach(function (b) {
      b.classList.toggle('sorted', b.dataset.k === state.sort);
      b.classList.toggle('desc', b.dataset.k === state.sort && !!state.desc);
    });
    syncInputs();
    renderDetails();
  }

  function syncInputs() {
    var map = { 'f-q': 'q', 'f-host': 'host', 'f-status': 'status', 'f-type': 'type', 'f-problems': 'problems', 'f-size': 'size' };
    Object.keys(map).forEach(function (id) {
      var e = $(id);
      if (document.activeElement !== e && e.value !== state[map[id]]) {
        if (e.tagName === 'SELECT' && !Array.prototype.some.call(e.options, function (o) { return o.value === state[map[id]]; })) {
          var o = el('option', null, state[map[id]]);
          o.value = state[map[id]];
          e.appendChild(o);
        }
        e.value = state[map[id]];
      }
    });
  }

  // ---- details ----
  function loadChunk(c, cb) {
    if (XH.details[c]) { cb(XH.details[c]); return; }
    if (XH.pending[c]) { XH.pending[c].push(cb); return; }
    XH.pending[c] = [cb];
    var s = document.createElement('script');
    s.src = 'review/details/' + pad(c, 5) + '.js';
    s.onerror = function () {
      var cbs = XH.pending[c] || [];
      delete XH.pending[c];
      cbs.forEach(function (f) { f(null); });
    };
    document.head.appendChild(s);
  }
  function kvTable(pairs) {
    var t = el('table', 'kv');
    pairs.forEach(function (p) {
      if (p[1] === null || p[1] === undefined || p[1] === '') return;
      var tr = el('tr');
      tr.appendChild(el('th', null, p[0]));
      var td = el('td', p[2] || null);
      if (p[1] instanceof Node) td.appendChild(p[1]); else td.textContent = String(p[1]);
      tr.appendChild(td);
      t.appendChild(tr);
    });
    return t;
  }
  function ms(a, b) { return a !== null && a !== undefined && b !== null && b !== undefined ? ((b - a) / 1000).toFixed(1) + ' ms' : null; }
  function sideText(s) {
    if (!s) return null;
    var parts = [];
    if (s[0]) parts.push(s[0]);
    if (s[1] !== null) parts.push('Content-Length ' + s[1]);
    if (s[2]) parts.push('Transfer-Encoding ' + s[2]);
    if (s[3]) parts.push('Content-Encoding ' + s[3]);
    parts.push('body ' + (s[4] || 0) + ' bytes (wire ' + (s[5] || 0) + ')');
    parts.push(s[6] ? 'complete' : 'incomplete');
    if (s[7]) parts.push(s[7] + ' bytes missing');
    return parts.join(' · ');
  }
  function renderDetails() {
    var panel = $('details');
    if (!state.tx) { if (!panel.hidden) { panel.hidden = true; panel.textContent = ''; panel.dataset.id = ''; } return; }
    if (panel.dataset.id === state.tx && !panel.hidden) return;
    panel.hidden = false;
    panel.dataset.id = state.tx;
    panel.dataset.loaded = '';
    var i = byId.get(Number(state.tx));
    panel.textContent = '';
    if (i === undefined) { panel.appendChild(el('p', 'warn', 'No transaction #' + state.tx + ' in this log.')); panel.appendChild(closeButton()); return; }
    var r = XH.rows[i];
    panel.appendChild(el('p', 'muted', 'Loading…'));
    var want = state.tx;
    loadChunk(Math.floor(i / XH.meta.detailsPerFile), function (data) {
      if (state.tx !== want) return;
      fillDetails(panel, r, data ? data[String(r[ID])] : null);
    });
  }
  function closeButton() {
    var b = el('button', null, '✕ close');
    b.type = 'button';
    b.id = 'd-close';
    b.addEventListener('click', function () { go({ tx: '' }, false); });
    return b;
  }
  function step(delta) {
    var i = byId.get(Number(state.tx));
    var pos = view.indexOf(i);
    if (pos < 0) return;
    var next = view[pos + delta];
    if (next === undefined) return;
    var size = Math.max(10, Math.min(1000, Number(state.size) || 100));
    go({ tx: String(XH.rows[next][ID]), page: String(Math.floor((pos + delta) / size) + 1) }, false);
  }
  function fillDetails(panel, r, d) {
    panel.textContent = '';
    var h2 = el('h2', null, 'Transaction #' + r[ID]);
    badges(r, h2);
    if (r[ANOM] > 0) h2.appendChild(el('span', 'badge anom', r[ANOM] + (r[ANOM] === 1 ? ' anomaly' : ' anomalies')));
    var tools = el('span', 'tools');
    var prev = el('button', null, '‹ prev'); prev.type = 'button'; prev.addEventListener('click', function () { step(-1); });
    var next = el('button', null, 'next ›'); next.type = 'button'; next.addEventListener('click', function () { step(1); });
    tools.appendChild(prev); tools.appendChild(next); tools.appendChild(closeButton());
    h2.appendChild(tools);
    panel.appendChild(h2);
    if (!d) { panel.appendChild(el('p', 'warn', 'The details file for this transaction could not be loaded (review/details/).')); return; }
    var times = d.times || [];
    var uri = d.uri !== undefined ? d.uri : r[URI];
    panel.appendChild(kvTable([
      ['Time (UTC)', fmtTime(r[TS], true)],
      ['Client → server', endpoint(D(r[CIP]), r[CPORT]) + ' → ' + endpoint(D(r[SIP]), r[SPORT])],
      ['Request', [D(r[METHOD]), uri === null ? '' : uri, d.version || ''].join(' ').trim(), 'mono'],
      ['URI length', d.uriLength ? d.uriLength + ' characters (shown cut; the log has it whole)' : null],
      ['Host', D(r[HOST])],
      ['Response', [d.responseVersion || '', r[STATUS] === null ? '' : r[STATUS], d.reason || ''].join(' ').trim()],
      ['Interim responses', d.interim],
      ['Request body', sideText(d.request)],
      ['Response body', sideText(d.response)],
      ['Timing', [times[1] !== null && times[2] !== null ? 'request ' + ms(times[1], times[2]) : '',
        times[1] !== null && times[3] !== null ? 'to first response byte ' + ms(times[1], times[3]) : '',
        times[3] !== null && times[4] !== null ? 'response ' + ms(times[3], times[4]) : ''].filter(Boolean).join(' · ')],
      ['Connection', d.connection !== undefined ? '#' + d.connection + ', transaction ' + d.depth + ' on it' : null],
      ['Connection facts', Object.keys(d.conn || {}).map(function (k) { return k + '=' + d.conn[k]; }).join('  ')],
      ['User-Agent', d.userAgent],
      ['Referer', d.referer],
      ['Location', d.location],
      ['Server', d.server],
      ['Content-Disposition name', d.dispositionName],
      ['Basic auth user', d.authUser],
      ['Basic auth password', d.authPassword],
    ]));

    var groups = [[], [], [], [], []];
    (d.headers || []).forEach(function (h) { groups[typeof h[0] === 'number' ? h[0] : 4].push(h); });
    groups.forEach(function (g, gi) {
      if (!g.length) return;
      var title = gi < 4 ? HEADER_DIRS[gi] : 'other';
      panel.appendChild(el('h3', null, title.charAt(0).toUpperCase() + title.slice(1) + ' headers (' + g.length + ')'));
      var t = el('table', 'hdr hdr-' + (gi < 4 ? HEADER_DIRS[gi].replace(' ', '-') : 'other'));
      var tb = el('tbody');
      g.forEach(function (h) {
        var tr = el('tr');
        tr.appendChild(el('td', 'p', h[1]));
        tr.appendChild(el('td', 'n', h[2]));
        tr.appendChild(el('td', 'v', h[3] + (h[4] !== undefined ? ' … (' + h[4] + ' characters in the log)' : '')));
        tb.appendChild(tr);
      });
      t.appendChild(tb);
      panel.appendChild(t);
    });
    if (d.headersLeftOut) panel.appendChild(el('p', 'muted', d.headersLeftOut + ' more header lines are in the log (headers table).'));
    if (!(d.headers || []).length) panel.appendChild(el('p', 'muted', 'No header lines were recorded.'));

    var files = d.files || [];
    panel.appendChild(el('h3', null, 'Files (' + files.length + ')'));
    files.forEach(function (f) {
      if (f.complete === undefined) f.complete = 1;
      if (f.origin === undefined) f.origin = 'body';
      var box = el('div', 'file' + (f.type_mismatch ? ' mismatch' : '') + (f.complete === 0 ? ' partial' : ''));
      if (f.sniffed_type && /^image\/(png|apng|jpeg|gif|webp|bmp|avif|x-icon|vnd\.microsoft\.icon|svg\+xml)$/.test(f.sniffed_type) && f.size > 0) {
        var img = thumbImg(f.path, 'preview');
        if (img) box.appendChild(img);
      }
      var bodyState = f.complete ? 'complete' : 'partial: ' + (f.missing_bytes || 0) + ' bytes missing';
      var typeText = (f.declared_type || '(none)') + ' declared, ' + (f.sniffed_type || 'unknown') + ' sniffed' + (f.type_mismatch ? ' — MISMATCH' : '');
      box.appendChild(kvTable([
        ['File', fileLink(f.path, f.path), 'mono'],
        ['Side', f.direction + (f.origin && f.origin !== 'body' ? ', ' + f.origin + (f.part_index ? ' ' + f.part_index : '') : '')],
        ['Size', f.size !== undefined ? fmtInt(f.size) + ' bytes' : null],
        ['sha256', f.sha256, 'mono'],
        ['md5', f.md5, 'mono'],
        ['sha1', f.sha1, 'mono'],
        ['Type', typeText, f.type_mismatch ? 'warn' : null],
        ['Body', bodyState, f.complete ? null : 'warn'],
        ['Missing ranges', f.missing_ranges, 'mono'],
        ['Ranges present', f.complete ? null : f.ranges_present, 'mono'],
        ['Name on the network', f.original_name, 'mono'],
        ['Content-Encoding', f.content_encoding ? f.content_encoding + (f.coding_removed ? ' (removed: ' + f.coding_removed + ')' : ' (kept)') : null],
        ['Decode error', f.decode_error, 'warn'],
        ['As sent', f.wire_size !== undefined || f.wire_sha256 !== undefined ? fmtInt(f.wire_size !== undefined ? f.wire_size : f.size) + ' bytes, sha256 ' + (f.wire_sha256 || f.sha256) : null, 'mono'],
        ['Decoded', f.decoded_size !== undefined || f.decoded_sha256 !== undefined ? fmtInt(f.decoded_size !== undefined ? f.decoded_size : f.size) + ' bytes, sha256 ' + (f.decoded_sha256 || f.sha256) : null, 'mono'],
        ['Same bytes as file', f.dedup_of !== undefined ? '#' + f.dedup_of : null],
      ]));
      panel.appendChild(box);
    });
    if (d.filesLeftOut) panel.appendChild(el('p', 'muted', d.filesLeftOut + ' more files are in the log (files table).'));

    var an = d.anomalies || [];
    panel.appendChild(el('h3', null, 'Anomalies (' + an.length + ')'));
    an.forEach(function (a) {
      var box = el('div', 'anomaly');
      box.appendChild(el('b', null, a[0]));
      if (a[1]) box.appendChild(document.createTextNode(': ' + a[1]));
      panel.appendChild(box);
    });
    if (d.anomaliesLeftOut) panel.appendChild(el('p', 'muted', d.anomaliesLeftOut + ' more anomalies are in the log.'));
    panel.dataset.loaded = '1';
  }

  // ---- summary ----
  function renderSummary() {
    var m = XH.meta, s = $('summary');
    s.textContent = '';
    s.appendChild(document.createTextNode(fmtInt(m.transactions) + ' transactions · ' + fmtInt(m.files) + ' files · '));
    function quick(n, label, cls, value) {
      var b = el('button', cls, fmtInt(n) + ' ' + label);
      b.type = 'button';
      b.addEventListener('click', function () { go({ problems: value, page: '1' }, false); });
      s.appendChild(b);
    }
    quick(m.problems.mismatch, 'type mismatches', 'k-mismatch', 'mismatch');
    s.appendChild(document.createTextNode(', '));
    quick(m.problems.partial, 'partial', 'k-partial', 'partial');
    s.appendChild(document.createTextNode(', '));
    quick(m.problems.anomalies, 'with anomalies', 'k-anom', 'anomalies');
    s.appendChild(document.createTextNode(', '));
    quick(m.problems.noResponse, 'without response', '', 'noresponse');
    if (m.captures.length) {
      var names = m.captures.map(function (c) { return String(c[0]).split('/').pop(); });
      s.appendChild(document.createTextNode(' · from ' + clip(names.join(', '), 200)));
    }
    var det = el('details');
    det.appendChild(el('summary', null, 'anomaly kinds (' + m.anomalyKinds.length + ')'));
    var t = el('table');
    m.anomalyKinds.forEach(function (a) {
      var tr = el('tr');
      tr.appendChild(el('td', null, a[0]));
      tr.appendChild(el('td', 'mono', a[1]));
      tr.appendChild(el('td', null, fmtInt(a[2])));
      t.appendChild(tr);
    });
    if (!m.anomalyKinds.length) det.appendChild(el('p', 'muted', 'none'));
    det.appendChild(t);
    s.appendChild(det);

    var hl = $('l-hosts');
    m.hosts.forEach(function (h) { var o = el('option'); o.value = String(h[0]); o.label = h[1] + ' transactions'; hl.appendChild(o); });
    var tl = $('l-types');
    m.types.forEach(function (h) { var o = el('option'); o.value = String(h[0]); o.label = h[1] + ' transactions'; tl.appendChild(o); });
    var ss = $('f-status');
    var classes = {};
    m.statuses.forEach(function (x) { if (typeof x[0] === 'number') { var c = Math.floor(x[0] / 100); classes[c] = (classes[c] || 0) + x[1]; } });
    [1, 2, 3, 4, 5].forEach(function (c) {
      if (!classes[c]) return;
      var o = el('option', null, c + 'xx (' + fmtInt(classes[c]) + ')');
      o.value = c + 'xx';
      ss.appendChild(o);
    });
    var none = m.statuses.filter(function (x) { return x[0] === 'none'; })[0];
    if (none) { var on = el('option', null, 'no status (' + fmtInt(none[1]) + ')'); on.value = 'none'; ss.appendChild(on); }
    m.statuses.filter(function (x) { return typeof x[0] === 'number'; }).sort(function (a, b) { return a[0] - b[0]; }).forEach(function (x) {
      var o = el('option', null, x[0] + ' (' + fmtInt(x[1]) + ')');
      o.value = String(x[0]);
      ss.appendChild(o);
    });
  }

  // ---- wiring ----
  function init() {
    if (!XH.meta) { $('summary').textContent = 'The page data (review/meta.js) is missing.'; return; }
    byId = new Map();
    for (var i = 0; i < XH.rows.length; i++) byId.set(XH.rows[i][ID], i);
    renderHead();
    renderSummary();
    state = readHash();
    var timer = 0;
    function bindText(id, key) {
      $(id).addEventListener('input', function () {
        var v = $(id).value;
        clearTimeout(timer);
        timer = setTimeout(function () { var p = { page: '1' }; p[key] = v; go(p, false); }, 120);
      });
    }
    bindText('f-q', 'q'); bindText('f-host', 'host'); bindText('f-type', 'type');
    [['f-status', 'status'], ['f-problems', 'problems'], ['f-size', 'size']].forEach(function (b) {
      $(b[0]).addEventListener('change', function () { var p = { page: '1' }; p[b[1]] = $(b[0]).value; go(p, false); });
    });
    $('filters').addEventListener('submit', function (e) { e.preventDefault(); });
    $('f-reset').addEventListener('click', function () {
      ['f-q', 'f-host', 'f-type'].forEach(function (id) { $(id).value = ''; });
      go(Object.assign({}, DEFAULTS, { sort: state.sort, desc: state.desc, size: state.size }), false);
    });
    $('p-first').addEventListener('click', function () { go({ page: '1' }, false); });
    $('p-prev').addEventListener('click', function () { go({ page: String(Math.max(1, Number(state.page) - 1)) }, false); });
    $('p-next').addEventListener('click', function () { go({ page: String(Math.min(pageCount, Number(state.page) + 1)) }, false); });
    $('p-last').addEventListener('click', function () { go({ page: String(pageCount) }, false); });
    $('p-page').addEventListener('change', function () { go({ page: $('p-page').value }, false); });
    document.querySelector('#tx thead').addEventListener('click', function (e) {
      var b = e.target.closest('button.sort');
      if (!b || !Object.prototype.hasOwnProperty.call(SORTS, b.dataset.k)) return;
      var k = b.dataset.k;
      go({ sort: k, desc: state.sort === k && !state.desc ? '1' : '', page: '1' }, false);
    });
    document.querySelector('#tx tbody').addEventListener('click', function (e) {
      if (e.target.closest('a')) return;
      var tr = e.target.closest('tr');
      if (!tr || !tr.dataset.id) return;
      document.querySelectorAll('#tx tbody tr.current').forEach(function (x) { x.classList.remove('current'); });
      tr.classList.add('current');
      go({ tx: tr.dataset.id }, true);
    });
    document.addEventListener('keydown', function (e) {
      if (e.target && /^(INPUT|SELECT|TEXTAREA)$/.test(e.target.tagName)) return;
      if (e.key === 'Escape' && state.tx) go({ tx: '' }, false);
      else if (state.tx && (e.key === 'j' || e.key === 'ArrowDown')) { e.preventDefault(); step(1); }
      else if (state.tx && (e.key === 'k' || e.key === 'ArrowUp')) { e.preventDefault(); step(-1); }
    });
    window.addEventListener('hashchange', function () { state = readHash(); render(); });
    render();
    document.body.dataset.ready = '1';
  }
  document.addEventListener('DOMContentLoaded', init);
})();
`;
