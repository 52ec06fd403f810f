-- measurements.sql: OMOP measurement -> one Observation record each (observation.map).
-- The code comes from the concept join: LOINC concept_code when the concept's
-- vocabulary is LOINC (SNOMED likewise).  Rows that carry no result at all
-- (neither value_as_number nor value_source_value: in this sample 885
-- SNOMED "screening"/"test" procedure rows) are not Observations and are
-- skipped.  The unit is only passed on with a number.
SELECT
  m.measurement_id,
  m.person_id,
  m.visit_occurrence_id,
  CASE WHEN c.vocabulary_id = 'LOINC'  THEN c.concept_code END AS loinc,
  CASE WHEN c.vocabulary_id = 'SNOMED' THEN c.concept_code END AS snomed,
  c.concept_name,
  m.measurement_source_value,
  CASE WHEN m.measurement_datetime IS NOT NULL AND m.measurement_datetime::time <> TIME '00:00'
       THEN to_char(m.measurement_datetime, 'YYYY-MM-DD"T"HH24:MI:SS')
       ELSE to_char(m.measurement_date, 'YYYY-MM-DD') END AS effective,
  m.value_as_number,
  CASE WHEN m.value_as_number IS NULL THEN NULLIF(btrim(m.value_source_value), '') END AS value_text,
  CASE WHEN m.value_as_number IS NOT NULL THEN NULLIF(btrim(m.unit_source_value), '') END AS unit,
  NULLIF(btrim(m.range_low), '')                 AS range_low,
  NULLIF(btrim(m.range_high), '')                AS range_high
FROM cdm.measurement m
LEFT JOIN cdm.concept c ON c.concept_id = m.measurement_concept_id
WHERE m.measurement_date > :since
  AND (m.value_as_number IS NOT NULL OR NULLIF(btrim(m.value_source_value), '') IS NOT NULL)
ORDER BY m.measurement_id
