/**
 * The SQLite log. Tables are ours to evolve; the `http` view is the fixed, flat contract that
 * other programs read. `PRAGMA user_version` says which schema a file holds.
 */
export const SCHEMA_VERSION = 2;

export const SCHEMA = `
CREATE TABLE captures (
  id          INTEGER PRIMARY KEY,
  path        TEXT NOT NULL,
  format      TEXT,
  sha256      TEXT,
  link_types  TEXT,
  packets     INTEGER,
  bytes       INTEGER,
  first_ts    REAL,
  last_ts     REAL
);

CREATE TABLE connections (
  id             INTEGER PRIMARY KEY,
  client_ip      TEXT NOT NULL,
  client_port    INTEGER NOT NULL,
  server_ip      TEXT NOT NULL,
  server_port    INTEGER NOT NULL,
  ip_version     INTEGER NOT NULL,
  tunnel         TEXT,
  first_ts       REAL,
  last_ts        REAL,
  handshake      INTEGER NOT NULL,
  roles_from     TEXT NOT NULL,
  end_reason     TEXT,
  protocol       TEXT,
  transactions   INTEGER NOT NULL DEFAULT 0,
  packets_c2s    INTEGER, packets_s2c    INTEGER,
  bytes_c2s      INTEGER, bytes_s2c      INTEGER,
  missing_c2s    INTEGER, missing_s2c    INTEGER,
  gaps_c2s       INTEGER, gaps_s2c       INTEGER,
  retrans_c2s    INTEGER, retrans_s2c    INTEGER,
  ooo_c2s        INTEGER, ooo_s2c        INTEGER,
  overlap_c2s    INTEGER, overlap_s2c    INTEGER,
  conflict_c2s   INTEGER, conflict_s2c   INTEGER,
  other_bytes_c2s INTEGER, other_bytes_s2c INTEGER
);

CREATE TABLE transactions (
  id                         INTEGER PRIMARY KEY,
  connection_id              INTEGER NOT NULL,
  trans_depth                INTEGER NOT NULL,
  ts                         REAL,
  request_ts                 REAL,
  request_end_ts             REAL,
  response_ts                REAL,
  response_end_ts            REAL,
  method                     TEXT,
  uri                        TEXT,
  version                    TEXT,
  host                       TEXT,
  user_agent                 TEXT,
  referer                    TEXT,
  request_content_type       TEXT,
  request_content_length     INTEGER,
  request_transfer_encoding  TEXT,
  request_content_encoding   TEXT,
  request_body_len           INTEGER NOT NULL DEFAULT 0,
  request_wire_len           INTEGER NOT NULL DEFAULT 0,
  request_complete           INTEGER NOT NULL DEFAULT 0,
  request_missing_bytes      INTEGER NOT NULL DEFAULT 0,
  request_file_id            INTEGER,
  status_code                INTEGER,
  reason                     TEXT,
  response_version           TEXT,
  response_content_type      TEXT,
  response_content_length    INTEGER,
  response_transfer_encoding TEXT,
  response_content_encoding  TEXT,
  location                   TEXT,
  server                     TEXT,
  response_body_len          INTEGER NOT NULL DEFAULT 0,
  response_wire_len          INTEGER NOT NULL DEFAULT 0,
  response_complete          INTEGER NOT NULL DEFAULT 0,
  response_missing_bytes     INTEGER NOT NULL DEFAULT 0,
  response_file_id           INTEGER,
  interim_statuses           TEXT,
  content_disposition_filename TEXT,
  auth_user                  TEXT,
  auth_password              TEXT,
  anomalies                  INTEGER NOT NULL DEFAULT 0
);

CREATE TABLE headers (
  transaction_id INTEGER NOT NULL,
  direction      TEXT NOT NULL,
  position       INTEGER NOT NULL,
  name           TEXT NOT NULL,
  value          TEXT NOT NULL
);

CREATE TABLE files (
  id               INTEGER PRIMARY KEY,
  transaction_id   INTEGER NOT NULL,
  direction        TEXT NOT NULL,
  part_index       INTEGER NOT NULL DEFAULT 0,
  origin           TEXT NOT NULL DEFAULT 'body',
  path             TEXT NOT NULL,
  size             INTEGER NOT NULL,
  md5              TEXT,
  sha1             TEXT,
  sha256           TEXT NOT NULL,
  wire_size        INTEGER NOT NULL,
  wire_sha256      TEXT NOT NULL,
  decoded_size     INTEGER,
  decoded_sha256   TEXT,
  declared_type    TEXT,
  sniffed_type     TEXT,
  type_mismatch    INTEGER NOT NULL DEFAULT 0,
  content_encoding TEXT,
  coding_removed   TEXT,
  decode_error     TEXT,
  complete         INTEGER NOT NULL,
  missing_bytes    INTEGER NOT NULL,
  missing_ranges   TEXT,
  ranges_present   TEXT,
  original_name    TEXT,
  dedup_of         INTEGER
);

CREATE TABLE anomalies (
  id             INTEGER PRIMARY KEY,
  scope          TEXT NOT NULL,
  capture_id     INTEGER,
  connection_id  INTEGER,
  transaction_id INTEGER,
  kind           TEXT NOT NULL,
  detail         TEXT,
  ts             REAL
);

CREATE TABLE packet_drops (
  capture_id INTEGER,
  reason     TEXT NOT NULL,
  packets    INTEGER NOT NULL
);

CREATE VIEW http AS
SELECT
  t.ts                       AS ts,
  c.client_ip                AS client_ip,
  c.client_port              AS client_port,
  c.server_ip                AS server_ip,
  c.server_port              AS server_port,
  t.method                   AS method,
  t.host                     AS host,
  t.uri                      AS uri,
  t.version                  AS version,
  t.user_agent               AS user_agent,
  t.referer                  AS referer,
  t.status_code              AS status_code,
  t.reason                   AS reason,
  t.request_content_type     AS request_content_type,
  t.response_content_type    AS response_content_type,
  t.request_body_len         AS request_body_len,
  t.response_body_len        AS response_body_len,
  rf.path                    AS request_file,
  sf.path                    AS response_file,
  rf.sha256                  AS request_sha256,
  sf.sha256                  AS response_sha256,
  t.response_complete        AS response_complete,
  t.response_missing_bytes   AS response_missing_bytes,
  t.id                       AS transaction_id,
  t.connection_id            AS connection_id,
  t.trans_depth              AS trans_depth
FROM transactions t
LEFT JOIN connections c ON c.id = t.connection_id
LEFT JOIN files rf ON rf.id = t.request_file_id
LEFT JOIN files sf ON sf.id = t.response_file_id;
`;

/** Made after the bulk insert, when building them costs least. */
export const INDEXES = `
CREATE INDEX IF NOT EXISTS transactions_host ON transactions(host);
CREATE INDEX IF NOT EXISTS transactions_uri ON transactions(uri);
CREATE INDEX IF NOT EXISTS transactions_status ON transactions(status_code);
CREATE INDEX IF NOT EXISTS transactions_ts ON transactions(ts);
CREATE INDEX IF NOT EXISTS transactions_connection ON transactions(connection_id);
CREATE INDEX IF NOT EXISTS headers_transaction ON headers(transaction_id);
CREATE INDEX IF NOT EXISTS files_sha256 ON files(sha256);
CREATE INDEX IF NOT EXISTS files_declared_type ON files(declared_type);
CREATE INDEX IF NOT EXISTS files_sniffed_type ON files(sniffed_type);
CREATE INDEX IF NOT EXISTS files_transaction ON files(transaction_id);
CREATE INDEX IF NOT EXISTS anomalies_kind ON anomalies(kind);
`;
