-- omop-load.sql: load the subset of the OMOP CDM 5.4 Synthea27Nj sample that
-- dhp-import maps (person, visit_occurrence, measurement, condition_occurrence
-- and the vocabulary subset `concept`) into schema `cdm`.
--
-- Written for dhp-import (adapted from the project's
-- /work/shared/ext-samples/db/eunomia-synthea27nj/load_postgres.sql; column
-- types were inferred from the data).  Data: samples/omop/Synthea27Nj_5.4.zip,
-- see samples/omop/NOTICE.md (Apache-2.0, OHDSI EunomiaDatasets).
--
-- Usage (needs `unzip` on the client machine, runs as any user that can
-- create a schema):
--   psql -v ON_ERROR_STOP=1 -v zip=samples/omop/Synthea27Nj_5.4.zip -d DB -f sql/omop-load.sql
-- Without -v zip=... the path samples/omop/Synthea27Nj_5.4.zip (relative to
-- the current directory) is used.
--
-- psql does not interpolate variables inside \copy, so the path is handed to
-- the `unzip` child process through the environment variable DHP_OMOP_ZIP.
-- The zip also holds __MACOSX/._*.csv resource forks; `unzip -p` with an
-- exact member name never reads them.

\set ON_ERROR_STOP on
\if :{?zip}
\else
\set zip samples/omop/Synthea27Nj_5.4.zip
\endif
\setenv DHP_OMOP_ZIP :zip

DROP SCHEMA IF EXISTS cdm CASCADE;
CREATE SCHEMA cdm;

CREATE TABLE cdm.concept (
  concept_id        bigint,
  concept_name      text,
  domain_id         text,
  vocabulary_id     text,
  concept_class_id  text,
  standard_concept  text,
  concept_code      text,
  valid_start_date  date,
  valid_end_date    date,
  invalid_reason    text
);
\copy cdm.concept FROM PROGRAM 'unzip -p "$DHP_OMOP_ZIP" CONCEPT.csv' WITH (FORMAT csv, HEADER true)

CREATE TABLE cdm.person (
  person_id                    bigint,
  gender_concept_id            bigint,
  year_of_birth                bigint,
  month_of_birth               bigint,
  day_of_birth                 bigint,
  birth_datetime               timestamp,
  race_concept_id              bigint,
  ethnicity_concept_id         bigint,
  location_id                  text,
  provider_id                  text,
  care_site_id                 text,
  person_source_value          text,
  gender_source_value          text,
  gender_source_concept_id     bigint,
  race_source_value            text,
  race_source_concept_id       bigint,
  ethnicity_source_value       text,
  ethnicity_source_concept_id  bigint
);
\copy cdm.person FROM PROGRAM 'unzip -p "$DHP_OMOP_ZIP" PERSON.csv' WITH (FORMAT csv, HEADER true)

CREATE TABLE cdm.visit_occurrence (
  visit_occurrence_id            bigint,
  person_id                      bigint,
  visit_concept_id               bigint,
  visit_start_date               date,
  visit_start_datetime           timestamp,
  visit_end_date                 date,
  visit_end_datetime             timestamp,
  visit_type_concept_id          bigint,
  provider_id                    bigint,
  care_site_id                   text,
  visit_source_value             text,
  visit_source_concept_id        bigint,
  admitted_from_concept_id       bigint,
  admitted_from_source_value     text,
  discharged_to_concept_id       bigint,
  discharged_to_source_value     text,
  preceding_visit_occurrence_id  bigint
);
\copy cdm.visit_occurrence FROM PROGRAM 'unzip -p "$DHP_OMOP_ZIP" VISIT_OCCURRENCE.csv' WITH (FORMAT csv, HEADER true)

CREATE TABLE cdm.measurement (
  measurement_id                 bigint,
  person_id                      bigint,
  measurement_concept_id         bigint,
  measurement_date               date,
  measurement_datetime           timestamp,
  measurement_time               date,     -- sic: the CSV holds a date here
  measurement_type_concept_id    bigint,
  operator_concept_id            bigint,
  value_as_number                numeric,
  value_as_concept_id            bigint,
  unit_concept_id                bigint,
  range_low                      text,
  range_high                     text,
  provider_id                    bigint,
  visit_occurrence_id            bigint,
  visit_detail_id                bigint,
  measurement_source_value       text,
  measurement_source_concept_id  bigint,
  unit_source_value              text,
  unit_source_concept_id         text,
  value_source_value             text,
  measurement_event_id           text,
  meas_event_field_concept_id    text
);
\copy cdm.measurement FROM PROGRAM 'unzip -p "$DHP_OMOP_ZIP" MEASUREMENT.csv' WITH (FORMAT csv, HEADER true)

CREATE TABLE cdm.condition_occurrence (
  condition_occurrence_id        bigint,
  person_id                      bigint,
  condition_concept_id           bigint,
  condition_start_date           date,
  condition_start_datetime       timestamp,
  condition_end_date             date,
  condition_end_datetime         timestamp,
  condition_type_concept_id      bigint,
  condition_status_concept_id    bigint,
  stop_reason                    text,
  provider_id                    bigint,
  visit_occurrence_id            bigint,
  visit_detail_id                bigint,
  condition_source_value         text,     -- SNOMED code as text (bigint in load_postgres.sql)
  condition_source_concept_id    bigint,
  condition_status_source_value  text
);
\copy cdm.condition_occurrence FROM PROGRAM 'unzip -p "$DHP_OMOP_ZIP" CONDITION_OCCURRENCE.csv' WITH (FORMAT csv, HEADER true)

-- Keys and join indexes (after the load: faster, and proves the ids unique).
ALTER TABLE cdm.concept              ADD PRIMARY KEY (concept_id);
ALTER TABLE cdm.person               ADD PRIMARY KEY (person_id);
ALTER TABLE cdm.visit_occurrence     ADD PRIMARY KEY (visit_occurrence_id);
ALTER TABLE cdm.measurement          ADD PRIMARY KEY (measurement_id);
ALTER TABLE cdm.condition_occurrence ADD PRIMARY KEY (condition_occurrence_id);
CREATE INDEX ON cdm.visit_occurrence (visit_start_date);
CREATE INDEX ON cdm.measurement (measurement_date);
CREATE INDEX ON cdm.condition_occurrence (condition_start_date);
ANALYZE cdm.concept, cdm.person, cdm.visit_occurrence, cdm.measurement, cdm.condition_occurrence;

-- Expected row counts:
--   cdm.concept               2294
--   cdm.person                  28
--   cdm.visit_occurrence      1791
--   cdm.measurement          10040
--   cdm.condition_occurrence   470
SELECT 'concept' AS table_name, count(*) AS n FROM cdm.concept
UNION ALL SELECT 'person', count(*) FROM cdm.person
UNION ALL SELECT 'visit_occurrence', count(*) FROM cdm.visit_occurrence
UNION ALL SELECT 'measurement', count(*) FROM cdm.measurement
UNION ALL SELECT 'condition_occurrence', count(*) FROM cdm.condition_occurrence;
