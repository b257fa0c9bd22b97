-- roucai reference platform, schema 1.
-- Portable SQL for SQLite and PostgreSQL; @PK@ is the one dialect token (see migrate.py).
-- Times are integer milliseconds since the Unix epoch (UTC); dates are yyyyMMdd text.

-- Node registry.  node_type is the city fixture's type name; keys are never stored:
-- a node's key is derived from the platform secret and key_version (registry.py).
CREATE TABLE nodes (
  node_id         TEXT PRIMARY KEY,
  name            TEXT NOT NULL,
  node_type       TEXT NOT NULL,
  region_code     TEXT NOT NULL,
  status          TEXT NOT NULL DEFAULT 'active',
  key_version     INTEGER NOT NULL DEFAULT 0,
  key_fingerprint TEXT,
  registered_ms   BIGINT NOT NULL,
  last_seen_ms    BIGINT,
  last_upload_ms  BIGINT
);

CREATE TABLE operators (
  operator_id   TEXT PRIMARY KEY,
  node_id       TEXT NOT NULL REFERENCES nodes(node_id),
  name          TEXT NOT NULL,
  business_type TEXT,
  reg_id        TEXT,
  registered_ms BIGINT NOT NULL
);
CREATE INDEX operators_node ON operators(node_id);

-- Every accepted record, stored once: identity = (node_id, rtype, rkey).
-- own_code: the 20-digit trace code this record issues (NULL if none);
-- upstream: the upstream trace code it received the goods under (NULL if none);
-- batch_local: the record's batch_id field as sent (joins records of one node).
CREATE TABLE records (
  id          @PK@,
  node_id     TEXT NOT NULL,
  rtype       TEXT NOT NULL,
  rkey        TEXT NOT NULL,
  data_date   TEXT NOT NULL,
  own_code    TEXT,
  upstream    TEXT,
  batch_local TEXT,
  goods_code  TEXT,
  weight_g    BIGINT,
  body_sha    TEXT NOT NULL,
  body        TEXT NOT NULL,
  received_ms BIGINT NOT NULL,
  request_id  TEXT NOT NULL,
  UNIQUE (node_id, rtype, rkey)
);
CREATE INDEX records_own_code ON records(own_code);
CREATE INDEX records_upstream ON records(upstream);
CREATE INDEX records_batch_local ON records(batch_local, node_id);
CREATE INDEX records_node_date ON records(node_id, data_date);

-- Certificate numbers a record carries (slaughterhouse chain: meat out -> quarantine -> intake).
CREATE TABLE record_links (
  record_id BIGINT NOT NULL,
  node_id   TEXT NOT NULL,
  kind      TEXT NOT NULL,
  value     TEXT NOT NULL
);
CREATE INDEX record_links_value ON record_links(value, kind, node_id);
CREATE INDEX record_links_record ON record_links(record_id);

-- Envelopes accepted (durable replay guard; rows older than the clock window are pruned).
CREATE TABLE requests (
  node_id      TEXT NOT NULL,
  request_time TEXT NOT NULL,
  verify_code  TEXT NOT NULL,
  received_ms  BIGINT NOT NULL,
  accepted     INTEGER NOT NULL,
  duplicate    INTEGER NOT NULL,
  rejected     INTEGER NOT NULL,
  PRIMARY KEY (node_id, request_time, verify_code)
);
CREATE INDEX requests_received ON requests(received_ms);

-- Aggregates per node, business day, record type and commodity, kept in the ingest transaction.
CREATE TABLE daily_stats (
  node_id    TEXT NOT NULL,
  data_date  TEXT NOT NULL,
  rtype      TEXT NOT NULL,
  goods_code TEXT NOT NULL,
  records    BIGINT NOT NULL,
  weight_g   BIGINT NOT NULL,
  timely     BIGINT NOT NULL,
  updated_ms BIGINT NOT NULL,
  PRIMARY KEY (node_id, data_date, rtype, goods_code)
);
CREATE INDEX daily_stats_updated ON daily_stats(updated_ms);

-- Stop-trade: the codes under a stop (root = the failed batch) and one instruction per holder.
CREATE TABLE stop_codes (
  code       TEXT PRIMARY KEY,
  root_code  TEXT NOT NULL,
  created_ms BIGINT NOT NULL
);
CREATE TABLE stop_instructions (
  id             @PK@,
  node_id        TEXT NOT NULL,
  batch_code     TEXT NOT NULL,
  root_code      TEXT NOT NULL,
  goods_code     TEXT,
  source_node    TEXT NOT NULL,
  source_record  BIGINT NOT NULL,
  reason         TEXT NOT NULL,
  created_ms     BIGINT NOT NULL,
  acked_ms       BIGINT,
  UNIQUE (node_id, batch_code)
);
CREATE INDEX stop_instructions_node ON stop_instructions(node_id, acked_ms);

-- Upward feed.  City side: what has been pushed.  Central side: what cities sent.
CREATE TABLE feed_cursor (
  name       TEXT PRIMARY KEY,
  cursor_ms  BIGINT NOT NULL,
  pushed_ms  BIGINT NOT NULL,
  last_error TEXT
);
CREATE TABLE feed_stats (
  city_id     TEXT NOT NULL,
  node_id     TEXT NOT NULL,
  data_date   TEXT NOT NULL,
  rtype       TEXT NOT NULL,
  goods_code  TEXT NOT NULL,
  node_type   TEXT NOT NULL,
  records     BIGINT NOT NULL,
  weight_g    BIGINT NOT NULL,
  received_ms BIGINT NOT NULL,
  PRIMARY KEY (city_id, node_id, data_date, rtype, goods_code)
);
