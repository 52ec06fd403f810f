-- conditions.sql: OMOP condition_occurrence -> one Condition record each (condition.map).
-- clinical_status: OMOP has no status; an end date means the condition
-- ended -> 'resolved' (and abatement is sent, con-3), otherwise 'active'.
SELECT
  co.condition_occurrence_id,
  co.person_id,
  co.visit_occurrence_id,
  CASE WHEN c.vocabulary_id = 'SNOMED' THEN c.concept_code END AS snomed,
  c.concept_name,
  co.condition_source_value,
  CASE WHEN co.condition_start_datetime IS NOT NULL AND co.condition_start_datetime::time <> TIME '00:00'
       THEN to_char(co.condition_start_datetime, 'YYYY-MM-DD"T"HH24:MI:SS')
       ELSE to_char(co.condition_start_date, 'YYYY-MM-DD') END AS onset,
  CASE WHEN co.condition_end_datetime IS NOT NULL AND co.condition_end_datetime::time <> TIME '00:00'
       THEN to_char(co.condition_end_datetime, 'YYYY-MM-DD"T"HH24:MI:SS')
       ELSE to_char(co.condition_end_date, 'YYYY-MM-DD') END AS abatement,
  CASE WHEN co.condition_end_date IS NULL THEN 'active' ELSE 'resolved' END AS clinical_status
FROM cdm.condition_occurrence co
LEFT JOIN cdm.concept c ON c.concept_id = co.condition_concept_id
WHERE co.condition_start_date > :since
ORDER BY co.condition_occurrence_id
