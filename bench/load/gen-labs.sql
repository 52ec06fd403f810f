-- gen-labs.sql: a benchmark copy of his.lab_results with :rows synthetic results.
-- Run by bench/load/run.sh after sql/his-schema.sql and sql/his-seed.sql:
--   psql -v tbl=his.bench_lab_results -v rows=100000 -f bench/load/gen-labs.sql
--
-- Same columns and types as his.lab_results (what mappings/pg/labs.sql selects),
-- no foreign keys.  Row i is a copy of the seed's clean result number
-- 1 + (i - 1) % T (T = the 1616 generated results of sql/his-seed.sql, all on the
-- clean visits 1..580) with its own result_id = i: same visit (so the same
-- patient), lab code, value or text, unit, reference range, collection time
-- and status.  So the rows keep the seed's shape: panels of 1 to 4 results per
-- visit, 23 lab codes through codes/lab-codes.csv, numeric values with UCUM
-- units through codes/units.csv, text results, the four collection-time
-- spellings.  Every row maps: lab.map over this table has no rejects, and every
-- Observation refers to a Patient (by MRN) and an Encounter (by visit number)
-- that the seed load put on the server.
-- Deterministic: the first N rows of a bigger table equal the N-row table.

\set ON_ERROR_STOP 1
SET client_min_messages = warning;

DROP TABLE IF EXISTS :tbl;
CREATE TABLE :tbl (
  result_id       integer PRIMARY KEY,
  visit_id        integer NOT NULL,
  lab_code        text NOT NULL,
  value_num       numeric,
  value_text      text,
  unit            text,
  ref_low         numeric,
  ref_high        numeric,
  collected_text  text,
  resulted_at     timestamptz,
  status          text NOT NULL,
  updated_at      timestamptz NOT NULL
);

WITH t AS (
  SELECT row_number() OVER (ORDER BY result_id) AS n, r.*
  FROM his.lab_results r
  WHERE r.result_id < 70000 AND r.visit_id <= 580
), nt AS (SELECT count(*) AS c FROM t)
INSERT INTO :tbl (result_id, visit_id, lab_code, value_num, value_text, unit, ref_low, ref_high,
                  collected_text, resulted_at, status, updated_at)
SELECT i, t.visit_id, t.lab_code, t.value_num, t.value_text, t.unit, t.ref_low, t.ref_high,
       t.collected_text, t.resulted_at, t.status, t.updated_at
FROM nt
CROSS JOIN generate_series(1, :rows) AS i
JOIN t ON t.n = 1 + (i - 1) % nt.c
ORDER BY i;

ANALYZE :tbl;
