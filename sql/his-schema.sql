-- his-schema.sql: a small, realistic hospital information system (HIS) schema
-- used as the PostgreSQL source for dhp-import tests, demos and benchmarks.
--
-- Modelled on what Uzbek hospital systems actually look like: one hospital,
-- a local MRN, optional national ids, codes that are partly Latin and partly
-- Cyrillic, legacy free-text columns, local wall-clock timestamps without a
-- time zone (Asia/Tashkent, UTC+5, no DST) next to timestamptz audit columns.
-- The tables deliberately have few CHECK constraints: the dirt in
-- his-seed.sql must be storable.  See sql/README.md.
--
-- Load:  psql -v ON_ERROR_STOP=1 -d DB -f sql/his-schema.sql -f sql/his-seed.sql
--
-- Incremental extraction: every table that feeds a record stream has
-- `updated_at timestamptz NOT NULL`, indexed, maintained by a trigger on
-- UPDATE (an UPDATE that sets updated_at explicitly keeps its value, so
-- seeds and tests can stay deterministic).  The extraction queries in
-- mappings/pg/*.sql select `... WHERE updated_at > :since`.

DROP SCHEMA IF EXISTS his CASCADE;
CREATE SCHEMA his;
COMMENT ON SCHEMA his IS 'Synthetic hospital information system (dhp-import test source)';

CREATE FUNCTION his.touch_updated_at() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.updated_at IS NOT DISTINCT FROM OLD.updated_at THEN
    NEW.updated_at := now();
  END IF;
  RETURN NEW;
END
$$;

-- ---------------------------------------------------------------------------
-- Reference data
-- ---------------------------------------------------------------------------

CREATE TABLE his.departments (
  department_id  integer PRIMARY KEY,
  code           text NOT NULL UNIQUE,          -- local short code, e.g. 'KARD'
  name           text NOT NULL,                 -- Uzbek (Latin)
  name_ru        text,
  kind           text NOT NULL CHECK (kind IN ('inpatient', 'outpatient', 'emergency', 'diagnostic'))
);

CREATE TABLE his.doctors (
  doctor_id      integer PRIMARY KEY,
  department_id  integer NOT NULL REFERENCES his.departments,
  pinfl          char(14),
  last_name      text NOT NULL,
  first_name     text NOT NULL,
  middle_name    text,
  specialty      text,
  active         boolean NOT NULL DEFAULT true
);

-- Local laboratory catalogue.  Codes are the lab's own (Latin and Cyrillic);
-- the LOINC mapping lives outside the HIS, in mappings/pg/codes/lab-codes.csv.
CREATE TABLE his.lab_tests (
  lab_code       text PRIMARY KEY,
  name_ru        text NOT NULL,
  name_uz        text,
  default_unit   text,
  result_kind    text NOT NULL CHECK (result_kind IN ('numeric', 'text'))
);

-- ---------------------------------------------------------------------------
-- Patients
-- ---------------------------------------------------------------------------

CREATE TABLE his.patients (
  patient_id       serial PRIMARY KEY,            -- the hospital's medical record number (MRN)
  pinfl            char(14),                      -- national personal id (JSHSHIR/ПИНФЛ), often missing; char(14) pads short values with blanks
  passport_series  text,                          -- 'AA', 'AD' (ID card) ...
  passport_number  text,                          -- 7 digits
  last_name        text NOT NULL,
  first_name       text,
  middle_name      text,                          -- patronymic ('Akmal oʻgʻli', 'Рустамовна')
  birth_date       date,
  sex_code         text,                          -- as typed: 'M','F','Э','А','М','Ж','U', NULL, ...
  phone            text,                          -- free format
  created_at       timestamptz NOT NULL DEFAULT now(),
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX patients_updated_at_idx ON his.patients (updated_at);
CREATE INDEX patients_pinfl_idx ON his.patients (pinfl);
COMMENT ON COLUMN his.patients.patient_id IS 'MRN, exported with system https://his.example-hospital.uz/fhir/sid/mrn';

CREATE TABLE his.addresses (
  address_id     serial PRIMARY KEY,
  patient_id     integer NOT NULL REFERENCES his.patients ON DELETE CASCADE,
  is_current     boolean NOT NULL DEFAULT true,
  region_code    text,       -- UZ Core state-vs code (4 digits, e.g. 1726 = Toshkent shahar)
  district_code  text,       -- UZ Core regions-vs code (7 digits, e.g. 1726294 = Chilonzor tumani)
  mahalla_code   text,       -- UZ Core mahalla-vs code, rarely filled
  street         text,       -- free text, Uzbek or Russian
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX addresses_patient_idx ON his.addresses (patient_id);
CREATE INDEX addresses_updated_at_idx ON his.addresses (updated_at);

-- ---------------------------------------------------------------------------
-- Visits (encounters)
-- ---------------------------------------------------------------------------

CREATE TABLE his.visits (
  visit_id       serial PRIMARY KEY,
  patient_id     integer NOT NULL REFERENCES his.patients,
  department_id  integer REFERENCES his.departments,
  doctor_id      integer REFERENCES his.doctors,
  visit_type     text NOT NULL CHECK (visit_type IN ('inpatient', 'outpatient', 'emergency')),
  purpose        text,       -- local purpose code, mapped to encounter-type-cs (mserv-0001-0000N)
  admitted_at    timestamp NOT NULL,   -- local Tashkent wall-clock time, no zone
  discharged_at  timestamp,            -- local Tashkent time; NULL while the visit is open
  status         text,                 -- 'OPEN','CLOSED','CANCELLED','PLANNED','ERROR' (+ legacy values)
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX visits_patient_idx ON his.visits (patient_id);
CREATE INDEX visits_updated_at_idx ON his.visits (updated_at);

-- One row per measurement session; any measurement may be missing.
CREATE TABLE his.vital_signs (
  vital_id       serial PRIMARY KEY,
  visit_id       integer NOT NULL REFERENCES his.visits,
  measured_at    timestamp,            -- local Tashkent time; NULL when the nurse did not record it
  temperature_c  numeric(4,1),
  pulse          integer,              -- beats/min
  resp_rate      integer,              -- breaths/min
  systolic       integer,              -- mm Hg
  diastolic      integer,              -- mm Hg
  spo2           numeric(5,2),         -- percent (sometimes typed as a fraction)
  weight_kg      numeric(5,1),
  height_cm      numeric(4,1),
  recorded_by    integer REFERENCES his.doctors,
  updated_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX vital_signs_visit_idx ON his.vital_signs (visit_id);
CREATE INDEX vital_signs_updated_at_idx ON his.vital_signs (updated_at);

-- Legacy laboratory interface: no foreign key to the catalogue (codes are
-- typed), the collection time is free text, statuses are HL7 v2 OBX-11 letters.
CREATE TABLE his.lab_results (
  result_id       serial PRIMARY KEY,
  visit_id        integer NOT NULL REFERENCES his.visits,
  lab_code        text NOT NULL,       -- his.lab_tests.lab_code, as typed
  value_num       numeric,
  value_text      text,
  unit            text,                -- as printed by the lab: 'г/л', 'ммоль/л', '10^9/л', 'g/dL', ...
  ref_low         numeric,
  ref_high        numeric,
  collected_text  text,                -- specimen collection time as typed: '12.03.2024 14:30', '2024-03-12', 'вчера' ...
  resulted_at     timestamptz,
  status          text NOT NULL,       -- F final, P preliminary, C corrected, X cancelled, W wrong patient, (R unverified)
  updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX lab_results_visit_idx ON his.lab_results (visit_id);
CREATE INDEX lab_results_updated_at_idx ON his.lab_results (updated_at);

CREATE TABLE his.diagnoses (
  diagnosis_id     serial PRIMARY KEY,
  visit_id         integer NOT NULL REFERENCES his.visits,
  icd10            text,               -- as typed: 'I10', 'J18.9', sometimes 'J189' or with a Cyrillic letter
  diagnosis_text   text,               -- Russian or Uzbek
  kind             text NOT NULL CHECK (kind IN ('main', 'secondary', 'complication')),
  recorded_at      timestamp NOT NULL, -- local Tashkent time
  clinical_status  text,               -- Russian words: 'активный','хронический','ремиссия','выздоровление','рецидив'; often NULL
  doctor_id        integer REFERENCES his.doctors,
  updated_at       timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX diagnoses_visit_idx ON his.diagnoses (visit_id);
CREATE INDEX diagnoses_updated_at_idx ON his.diagnoses (updated_at);

-- updated_at maintenance
CREATE TRIGGER patients_touch    BEFORE UPDATE ON his.patients    FOR EACH ROW EXECUTE FUNCTION his.touch_updated_at();
CREATE TRIGGER addresses_touch   BEFORE UPDATE ON his.addresses   FOR EACH ROW EXECUTE FUNCTION his.touch_updated_at();
CREATE TRIGGER visits_touch      BEFORE UPDATE ON his.visits      FOR EACH ROW EXECUTE FUNCTION his.touch_updated_at();
CREATE TRIGGER vital_signs_touch BEFORE UPDATE ON his.vital_signs FOR EACH ROW EXECUTE FUNCTION his.touch_updated_at();
CREATE TRIGGER lab_results_touch BEFORE UPDATE ON his.lab_results FOR EACH ROW EXECUTE FUNCTION his.touch_updated_at();
CREATE TRIGGER diagnoses_touch   BEFORE UPDATE ON his.diagnoses   FOR EACH ROW EXECUTE FUNCTION his.touch_updated_at();
