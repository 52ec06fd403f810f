-- vitals.sql: one row per measurement session = one record producing up to
-- seven vital-sign Observations (mappings/pg/vitals.map).
-- bp_measured is non-NULL when either blood-pressure value exists: the
-- mapping conditions cannot express "systolic OR diastolic" (DIRTY 8002).
SELECT
  vs.vital_id,
  vs.visit_id,
  v.patient_id                                   AS patient_mrn,
  vs.measured_at,                                -- timestamp without time zone, Asia/Tashkent
  vs.temperature_c,
  vs.pulse,
  vs.resp_rate,
  vs.systolic,
  vs.diastolic,
  CASE WHEN vs.systolic IS NOT NULL OR vs.diastolic IS NOT NULL THEN 'y' END AS bp_measured,
  vs.spo2,
  vs.weight_kg,
  vs.height_cm,
  vs.updated_at
FROM his.vital_signs vs
JOIN his.visits v ON v.visit_id = vs.visit_id
WHERE vs.updated_at > :since
ORDER BY vs.vital_id
