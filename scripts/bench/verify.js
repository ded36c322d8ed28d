// Checks an extract-http run against the generator's truth: every transaction present, every
// body's sha256 (decoded, and as sent) and size equal to what was sent, every body complete.
import { createRequire } from 'node:module';
import { join } from 'node:path';

const require = createRequire(import.meta.url);

export function verify(outDir, truth) {
  const Database = require('better-sqlite3');
  const db = new Database(join(outDir, 'http.sqlite'), { readonly: true });
  const rows = db.prepare(`
    SELECT t.uri, t.method, t.status_code, t.response_complete, t.request_complete,
           r.sha256 AS resp_sha256, r.size AS resp_size, r.wire_sha256 AS resp_wire_sha256, r.complete AS resp_file_complete,
           q.sha256 AS req_sha256, q.size AS req_size
    FROM transactions t
    LEFT JOIN files r ON r.id = t.response_file_id
    LEFT JOIN files q ON q.id = t.request_file_id`).all();
  const logged = db.prepare('SELECT count(*) AS n FROM transactions').get().n;
  db.close();
  const byUri = new Map(rows.map((r) => [r.uri, r]));
  const problems = [];
  let ok = 0;
  for (const t of truth) {
    const r = byUri.get(t.uri);
    const why = [];
    if (!r) why.push('missing');
    else {
      if (r.method !== t.method) why.push(`method ${r.method}`);
      if (r.status_code !== t.status) why.push(`status ${r.status_code}`);
      if (!r.response_complete) why.push('response incomplete');
      if ((r.resp_sha256 ?? null) !== t.response_body_sha256) why.push(`response sha256 ${r.resp_sha256}`);
      if (t.response_body_sha256 && r.resp_size !== t.response_body_len) why.push(`response size ${r.resp_size}`);
      if (t.response_body_sha256 && r.resp_wire_sha256 !== t.response_wire_sha256) why.push('response wire sha256');
      if (t.response_body_sha256 && !r.resp_file_complete) why.push('response file incomplete');
      if ((r.req_sha256 ?? null) !== t.request_body_sha256) why.push(`request sha256 ${r.req_sha256}`);
    }
    if (why.length) problems.push(`${t.uri}: ${why.join(', ')}`);
    else ok++;
  }
  if (logged !== truth.length) problems.push(`${logged} transactions logged, ${truth.length} sent`);
  return { checked: truth.length, ok, problems };
}
