-- roucai reference platform, schema 6: problem discovery (问题发现, issue 14) and the regulators who handle problems.
-- A problem's identity is (kind, subject, data_date): re-running detection never adds a second row.
-- district = the GB/T 2260 county code (first 6 digits) of the node; records / codes / detail are JSON text.
CREATE TABLE problems (
  id          @PK@,
  kind        TEXT NOT NULL,
  subject     TEXT NOT NULL,
  data_date   TEXT NOT NULL,
  node_id     TEXT NOT NULL,
  district    TEXT NOT NULL,
  records     TEXT NOT NULL,
  codes       TEXT NOT NULL,
  detail      TEXT NOT NULL,
  state       TEXT NOT NULL DEFAULT 'open',
  detected_ms BIGINT NOT NULL,
  acked_ms    BIGINT,
  acked_by    TEXT,
  closed_ms   BIGINT,
  closed_by   TEXT,
  note        TEXT,
  UNIQUE (kind, subject, data_date)
);
CREATE INDEX problems_district ON problems(district, data_date);
CREATE INDEX problems_state ON problems(state, kind);
CREATE INDEX records_date_type ON records(data_date, rtype);

-- Regulators (商务主管部门, city or district): who may run detection and acknowledge or close problems.
-- regulator_id is a 6-digit GB/T 2260 code, the regulator's jurisdiction; keys derive from the platform secret.
CREATE TABLE regulators (
  regulator_id    TEXT PRIMARY KEY,
  name            TEXT NOT NULL,
  key_version     INTEGER NOT NULL DEFAULT 0,
  key_fingerprint TEXT,
  registered_ms   BIGINT NOT NULL
);
