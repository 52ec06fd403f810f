-- person.sql: OMOP CDM 5.4 person -> one Patient record each (patient.map).
-- OMOP has no change timestamps: persons are extracted on every run (the
-- watermark is only checked to be present; the -infinity of a first run is
-- not NULL).  birth_date keeps the precision OMOP has: YYYY, YYYY-MM or
-- YYYY-MM-DD from year/month/day_of_birth, else birth_datetime.  Built as
-- text so that an impossible day is rejected per record by the `date`
-- transform instead of failing the whole query.
SELECT
  p.person_id,
  CASE
    WHEN p.year_of_birth IS NOT NULL AND p.month_of_birth IS NOT NULL AND p.day_of_birth IS NOT NULL
      THEN lpad(p.year_of_birth::text, 4, '0') || '-' || lpad(p.month_of_birth::text, 2, '0')
           || '-' || lpad(p.day_of_birth::text, 2, '0')
    WHEN p.year_of_birth IS NOT NULL AND p.month_of_birth IS NOT NULL
      THEN lpad(p.year_of_birth::text, 4, '0') || '-' || lpad(p.month_of_birth::text, 2, '0')
    WHEN p.year_of_birth IS NOT NULL
      THEN lpad(p.year_of_birth::text, 4, '0')
    ELSE to_char(p.birth_datetime, 'YYYY-MM-DD')
  END                                            AS birth_date,
  p.gender_concept_id,
  p.gender_source_value,
  p.person_source_value
FROM cdm.person p
WHERE :since IS NOT NULL
ORDER BY p.person_id
