-- visits.sql: one row per visit = one Encounter record (mappings/pg/encounter.map).
-- The patient's MRN (and PINFL, for reference) is joined in so that the
-- Encounter can point to its Patient by identifier (conditional reference);
-- the Patient itself comes from the patients stream.
SELECT
  v.visit_id,
  v.patient_id                                   AS patient_mrn,
  NULLIF(btrim(p.pinfl), '00000000000000')       AS patient_pinfl,
  v.visit_type,
  v.purpose,
  v.status,
  v.admitted_at,                                 -- timestamp without time zone, Asia/Tashkent
  v.discharged_at,
  d.code                                         AS department_code,
  v.updated_at
FROM his.visits v
JOIN his.patients p ON p.patient_id = v.patient_id
LEFT JOIN his.departments d ON d.department_id = v.department_id
WHERE v.updated_at > :since
ORDER BY v.visit_id
