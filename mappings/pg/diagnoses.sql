-- diagnoses.sql: one row per diagnosis = one Condition (mappings/pg/condition.map).
SELECT
  dg.diagnosis_id,
  dg.visit_id,
  v.patient_id                                   AS patient_mrn,
  dg.icd10,
  dg.diagnosis_text,
  dg.kind,
  dg.clinical_status,
  dg.recorded_at,                                -- timestamp without time zone, Asia/Tashkent
  dg.updated_at
FROM his.diagnoses dg
JOIN his.visits v ON v.visit_id = dg.visit_id
WHERE dg.updated_at > :since
ORDER BY dg.diagnosis_id
