-- labs.sql: one row per laboratory result = one Observation (mappings/pg/lab.map).
-- value_absent carries the Observation.dataAbsentReason code when the result
-- has neither a number nor a text (DIRTY 70011, 70012): the mapping
-- conditions cannot express "value_num AND value_text are both NULL".
-- unit is only passed on with a numeric value (it is only used for Quantities).
SELECT
  r.result_id,
  r.visit_id,
  v.patient_id                                   AS patient_mrn,
  r.lab_code,
  t.name_ru                                      AS lab_name,
  r.value_num,
  NULLIF(btrim(r.value_text), '')                AS value_text,
  CASE WHEN r.value_num IS NOT NULL OR r.ref_low IS NOT NULL OR r.ref_high IS NOT NULL
       THEN NULLIF(btrim(r.unit), '') END        AS unit,
  r.ref_low,
  r.ref_high,
  r.collected_text,
  r.resulted_at,
  r.status,
  CASE WHEN r.value_num IS NULL AND NULLIF(btrim(r.value_text), '') IS NULL
       THEN CASE WHEN upper(btrim(r.status)) = 'X' THEN 'not-performed' ELSE 'unknown' END
  END                                            AS value_absent,
  r.updated_at
FROM his.lab_results r
JOIN his.visits v ON v.visit_id = r.visit_id
LEFT JOIN his.lab_tests t ON t.lab_code = upper(btrim(r.lab_code))
WHERE r.updated_at > :since
ORDER BY r.result_id
