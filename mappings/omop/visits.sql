-- visits.sql: OMOP visit_occurrence -> one Encounter record each (encounter.map).
-- Incremental: visits that started after the watermark (OMOP extracts are
-- append-only snapshots; there is no updated_at).  Times of 00:00:00 are
-- OMOP's "time unknown": only the date is passed on then.
SELECT
  v.visit_occurrence_id,
  v.person_id,
  v.visit_concept_id,
  c.concept_name                                 AS visit_concept_name,
  CASE WHEN v.visit_start_datetime IS NOT NULL AND v.visit_start_datetime::time <> TIME '00:00'
       THEN to_char(v.visit_start_datetime, 'YYYY-MM-DD"T"HH24:MI:SS')
       ELSE to_char(v.visit_start_date, 'YYYY-MM-DD') END AS period_start,
  CASE WHEN v.visit_end_datetime IS NOT NULL AND v.visit_end_datetime::time <> TIME '00:00'
       THEN to_char(v.visit_end_datetime, 'YYYY-MM-DD"T"HH24:MI:SS')
       ELSE to_char(v.visit_end_date, 'YYYY-MM-DD') END AS period_end,
  -- CDM 5.4 requires visit_end_date: a visit in the CDM is finished.
  CASE WHEN v.visit_end_date IS NOT NULL THEN 'completed' ELSE 'unknown' END AS encounter_status
FROM cdm.visit_occurrence v
LEFT JOIN cdm.concept c ON c.concept_id = v.visit_concept_id
WHERE v.visit_start_date > :since
ORDER BY v.visit_occurrence_id
