-- roucai reference platform, schema 2: remember why a batch was stopped, so that holders whose
-- records arrive after the failed test get the same reason and commodity in their instruction.
CREATE TABLE stop_roots (
  root_code     TEXT PRIMARY KEY,
  source_node   TEXT NOT NULL,
  source_record BIGINT NOT NULL,
  goods_code    TEXT,
  reason        TEXT NOT NULL,
  created_ms    BIGINT NOT NULL
);
