-- patients.sql: one row per patient = one Patient record (mappings/pg/patient.map).
-- Watermark: a patient is re-extracted when the patient row or its current
-- address changed (GREATEST ignores the NULL of patients without address).
-- Clean-up that the mapping language cannot express is done here:
--   * PINFL placeholder '00000000000000' and birth date 1900-01-01 mean
--     "not known" in this HIS -> NULL (DIRTY 917);
--   * char(14) blank padding is trimmed (DIRTY 918);
--   * passport = series + number, blanks removed, upper case, only when a
--     number exists (DIRTY 922, 923);
--   * full_name = "Family Given Patronymic" without empty parts (DIRTY 916);
--   * the current address is the newest one flagged current (DIRTY 924).
SELECT
  p.patient_id                                                   AS mrn,
  NULLIF(btrim(p.pinfl), '00000000000000')                       AS pinfl,
  CASE WHEN NULLIF(btrim(p.passport_number), '') IS NOT NULL
       THEN upper(regexp_replace(coalesce(p.passport_series, '') || p.passport_number, '\s', '', 'g'))
  END                                                            AS passport,
  NULLIF(btrim(p.last_name), '')                                 AS last_name,
  NULLIF(btrim(p.first_name), '')                                AS first_name,
  NULLIF(btrim(p.middle_name), '')                               AS middle_name,
  NULLIF(concat_ws(' ', NULLIF(btrim(p.last_name), ''), NULLIF(btrim(p.first_name), ''),
                        NULLIF(btrim(p.middle_name), '')), '')   AS full_name,
  NULLIF(p.birth_date, DATE '1900-01-01')                        AS birth_date,
  p.sex_code,
  p.phone,
  a.address_id,
  a.region_code,
  a.district_code,
  a.street,
  GREATEST(p.updated_at, a.updated_at)                           AS updated_at
FROM his.patients p
LEFT JOIN LATERAL (
  SELECT ad.address_id, ad.region_code, ad.district_code, ad.street, ad.updated_at
  FROM his.addresses ad
  WHERE ad.patient_id = p.patient_id AND ad.is_current
  ORDER BY ad.address_id DESC
  LIMIT 1
) a ON true
WHERE GREATEST(p.updated_at, a.updated_at) > :since
ORDER BY p.patient_id
