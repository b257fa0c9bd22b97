-- roucai reference platform, schema 4: per quarter and node type, how many enterprises the city must cover
-- (entered by hand, as the sibling platform does): the denominator of the enterprise coverage rate (PLAT-KPI-03).
CREATE TABLE enterprise_counts (
  quarter     TEXT NOT NULL,
  node_type   TEXT NOT NULL,
  enterprises INTEGER NOT NULL,
  updated_ms  BIGINT NOT NULL,
  PRIMARY KEY (quarter, node_type)
);
