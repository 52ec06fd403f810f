-- gen-visits.sql: a benchmark copy of his.visits with :rows synthetic visits.
-- Run by bench/pg/run.sh after sql/his-schema.sql and sql/his-seed.sql:
--   psql -v tbl=his.bench_visits_1000000 -v rows=1000000 -f bench/pg/gen-visits.sql
--
-- Same columns and types as his.visits (what mappings/pg/visits.sql selects),
-- no foreign keys.  Rows are spread (modulo) over the seed's patients,
-- departments and doctors, so that the query's joins find their partners.
-- The content follows the seed's clean visits (sql/his-seed.sql, 1..580) with
-- a sprinkling of the legacy spellings the mapping handles without a reject:
--   * visit_type: 20 % inpatient, 20 % emergency, 60 % outpatient;
--   * purpose: the 8 local codes of codes/encounter-type.csv (incl. 'ДИСП');
--   * status: mostly CLOSED; CANCELLED, OPEN, PLANNED, NULL (-> unknown),
--     ' closed ' and Cyrillic 'закрыт' / 'ОТКРЫТ' (-> trim | upper | code);
--   * admitted_at: ~550 visits a day from 2020-01-01 (1M rows = ~5 years),
--     discharged_at only for CLOSED visits (NULL -> no actualPeriod.end);
--   * updated_at: one hour after discharge (or admission), Tashkent time.
-- Every row maps: a run of encounter.map over this table has no rejects.
-- Deterministic: the first N rows of a bigger table equal the N-row table.

\set ON_ERROR_STOP 1
SET client_min_messages = warning;

DROP TABLE IF EXISTS :tbl;
CREATE TABLE :tbl (
  visit_id       integer PRIMARY KEY,
  patient_id     integer NOT NULL,
  department_id  integer,
  doctor_id      integer,
  visit_type     text NOT NULL,
  purpose        text,
  admitted_at    timestamp NOT NULL,
  discharged_at  timestamp,
  status         text,
  created_at     timestamptz NOT NULL,
  updated_at     timestamptz NOT NULL
);

INSERT INTO :tbl (visit_id, patient_id, department_id, doctor_id, visit_type, purpose,
                  admitted_at, discharged_at, status, created_at, updated_at)
SELECT i, pid, dept, doc, vt, purpose, adm, dis, st,
       adm AT TIME ZONE 'Asia/Tashkent',
       (coalesce(dis, adm) + INTERVAL '1 hour') AT TIME ZONE 'Asia/Tashkent'
FROM (SELECT array_agg(patient_id ORDER BY patient_id) AS pids, count(*)::int AS npat
        FROM his.patients) p
CROSS JOIN (SELECT array_agg(doctor_id ORDER BY doctor_id) AS dids, count(*)::int AS ndoc
              FROM his.doctors) d
CROSS JOIN generate_series(1, :rows) AS i
CROSS JOIN LATERAL (
  SELECT p.pids[1 + (i::bigint * 7919) % p.npat] AS pid,
         d.dids[1 + (i::bigint * 13) % d.ndoc] AS doc,
         CASE WHEN i % 10 IN (0, 1) THEN 'inpatient' WHEN i % 10 IN (8, 9) THEN 'emergency' ELSE 'outpatient' END AS vt,
         CASE WHEN i % 1009 = 0 THEN NULL
              WHEN i % 401 = 0  THEN 'PLANNED'
              WHEN i % 307 = 0  THEN 'закрыт'
              WHEN i % 211 = 0  THEN ' closed '
              WHEN i % 97 = 0   THEN 'CANCELLED'
              WHEN i % 53 = 0   THEN 'OPEN'
              WHEN i % 499 = 0  THEN 'ОТКРЫТ'
              ELSE 'CLOSED' END AS st
) a
CROSS JOIN LATERAL (
  SELECT
    CASE a.vt
      WHEN 'inpatient' THEN (ARRAY[2, 3, 4, 5])[1 + (i / 10) % 4]
      WHEN 'emergency' THEN 1
      ELSE CASE WHEN a.pid % 2 = 0 AND i % 4 = 0 THEN 7 ELSE 6 END
    END AS dept,
    CASE a.vt
      WHEN 'inpatient' THEN CASE WHEN i % 50 = 0 THEN 'palliativ' WHEN i % 3 = 0 THEN 'diagnostika' ELSE 'lechenie' END
      WHEN 'emergency' THEN 'lechenie'
      ELSE (ARRAY['profilaktika','diagnostika','konsultatsiya','lechenie','skrining','konsultatsiya','diagnostika','ДИСП'])[1 + (i / 3) % 8]
    END AS purpose,
    TIMESTAMP '2020-01-01 00:00' + (i / 550) * INTERVAL '1 day'
      + CASE a.vt
          WHEN 'outpatient' THEN INTERVAL '08:00' + ((i * 37) % 540) * INTERVAL '1 minute'
          WHEN 'inpatient'  THEN INTERVAL '09:00' + ((i * 13) % 360) * INTERVAL '1 minute'
          ELSE ((i * 97) % 1440) * INTERVAL '1 minute'
        END AS adm
) b
CROSS JOIN LATERAL (
  SELECT CASE WHEN a.st IS NULL OR btrim(upper(a.st)) NOT IN ('CLOSED', 'ЗАКРЫТ') THEN NULL
              WHEN a.vt = 'inpatient'  THEN b.adm + ((i % 9) + 3) * INTERVAL '1 day' + INTERVAL '2 hours'
              WHEN a.vt = 'outpatient' THEN b.adm + (20 + i % 40) * INTERVAL '1 minute'
              ELSE b.adm + (2 + i % 5) * INTERVAL '1 hour' + INTERVAL '10 minutes'
         END AS dis
) c
ORDER BY i;

CREATE INDEX ON :tbl (updated_at);
VACUUM (ANALYZE) :tbl;
