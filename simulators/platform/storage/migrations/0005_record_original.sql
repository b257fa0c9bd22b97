-- roucai reference platform, schema 5: a record is stored in its canonical form (body); the form the node sent is
-- kept here when it differs (aliases, yyyy-MM-dd dates, 合格/企业 words, 13.8000), NULL when identical (issue 12).
ALTER TABLE records ADD COLUMN original TEXT;
