-- roucai reference platform, schema 3: registered traceability scales and, per business day, the sellers
-- (operator, stall) with accepted sale records: the scale usage rate (PLAT-KPI-01) joins the two.
CREATE TABLE scales (
  scale_id      TEXT PRIMARY KEY,
  node_id       TEXT NOT NULL REFERENCES nodes(node_id),
  operator_id   TEXT NOT NULL,
  stall         TEXT NOT NULL DEFAULT '',
  kind          TEXT,
  registered_ms BIGINT NOT NULL
);
CREATE INDEX scales_node ON scales(node_id);

CREATE TABLE seller_days (
  node_id      TEXT NOT NULL,
  operator_id  TEXT NOT NULL,
  stall        TEXT NOT NULL,
  data_date    TEXT NOT NULL,
  records      INTEGER NOT NULL,
  PRIMARY KEY (node_id, operator_id, stall, data_date)
);
CREATE INDEX seller_days_date ON seller_days(data_date);
