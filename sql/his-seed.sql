-- his-seed.sql: deterministic seed data for sql/his-schema.sql.
--
-- Everything here is synthetic.  Names are realistic Uzbek (Latin and
-- Cyrillic script) and Russian names combined by modular arithmetic; PINFLs,
-- passports, phone numbers and addresses are invented.  No random(), no
-- now(): loading twice gives byte-identical tables, so tests may assert on
-- keys and counts.
--
-- Layout of the keys:
--   generated ("clean-ish") rows      dirty rows (one documented case each)
--   patients     1 ..   285           901 .. 924
--   visits       1 ..   580           5001 .. 5013
--   addresses    1 ..   272           901 .. 926 (addresses of dirty patients)
--   vital_signs  1 ..   805           8001 .. 8006
--   lab_results  1 ..  1616           70001 .. 70026
--   diagnoses    1 ..   483           6001 .. 6011
-- Every dirty row carries a comment "DIRTY <key>: ..." below; sql/README.md
-- lists them with the behaviour expected from dhp-import.  A few systematic
-- (rule-based) variations in the generated rows are documented in the README
-- too (apostrophe variants in Uzbek Latin names, date formats of
-- lab_results.collected_text, NULL diagnoses.clinical_status).
--
-- updated_at values are fixed: generated rows between 2024-01-02 and
-- 2024-11-19 (following the visit timeline), dirty rows from 2024-11-25 on,
-- so `--since 2024-11-25` extracts exactly the dirty rows (see README).

BEGIN;

SET LOCAL TimeZone = 'Asia/Tashkent';

-- ---------------------------------------------------------------------------
-- Reference data
-- ---------------------------------------------------------------------------

INSERT INTO his.departments (department_id, code, name, name_ru, kind) VALUES
  (1, 'QABUL', 'Qabul boʻlimi',                        'Приёмное отделение',                   'emergency'),
  (2, 'TERAP', 'Terapiya boʻlimi',                     'Терапевтическое отделение',            'inpatient'),
  (3, 'KARD',  'Kardiologiya boʻlimi',                 'Кардиологическое отделение',           'inpatient'),
  (4, 'XIRUR', 'Umumiy xirurgiya boʻlimi',             'Отделение общей хирургии',             'inpatient'),
  (5, 'NEVR',  'Nevrologiya boʻlimi',                  'Неврологическое отделение',            'inpatient'),
  (6, 'POLI',  'Oilaviy poliklinika (kattalar)',       'Семейная поликлиника (взрослая)',      'outpatient'),
  (7, 'GINEK', 'Ayollar maslahatxonasi',               'Женская консультация',                 'outpatient'),
  (8, 'LAB',   'Klinik-diagnostika laboratoriyasi',    'Клинико-диагностическая лаборатория',  'diagnostic');

-- 24 doctors, three per department: department_id = 1 + (doctor_id - 1) % 8.
INSERT INTO his.doctors (doctor_id, department_id, pinfl, last_name, first_name, middle_name, specialty) VALUES
  ( 1, 1, '30905781260011', 'Abdurahmonov', 'Jahongir',   'Sobir oʻgʻli',     'shoshilinch tibbiy yordam shifokori'),
  ( 2, 2, '41203801260022', 'Usmonova',     'Dilbar',     'Karim qizi',       'terapevt'),
  ( 3, 3, '31507751260033', 'Ходжаев',      'Рустам',     'Бахтиёрович',      'kardiolog'),
  ( 4, 4, '30211691260044', 'Mirzayev',     'Anvar',      'Toʻlqin oʻgʻli',   'xirurg'),
  ( 5, 5, '42708821260055', 'Николаева',    'Ирина',      'Викторовна',       'nevrolog'),
  ( 6, 6, '41910851260066', 'Rasulova',     'Feruza',     'Alisher qizi',     'umumiy amaliyot shifokori'),
  ( 7, 7, '40104791260077', 'Qodirova',     'Nigora',     'Hamid qizi',       'akusher-ginekolog'),
  ( 8, 8, '42212831260088', 'Ким',          'Елена',      'Сергеевна',        'laborant-shifokor'),
  ( 9, 1, '30606871260099', 'Yoʻldoshev',   'Bekzod',     'Rahim oʻgʻli',     'shoshilinch tibbiy yordam shifokori'),
  (10, 2, '31712741260100', 'Саидов',       'Фаррух',     'Шавкатович',       'terapevt'),
  (11, 3, '41102781260111', 'Tursunova',    'Malika',     'Erkin qizi',       'kardiolog'),
  (12, 4, '30409701260122', 'Петров',       'Андрей',     'Николаевич',       'xirurg'),
  (13, 5, '32001841260133', 'Haydarov',     'Sherzod',    'Ulugʻbek oʻgʻli',  'nevrolog'),
  (14, 6, '40807891260144', 'Ахмедова',     'Гулнора',    'Тимуровна',        'umumiy amaliyot shifokori'),
  (15, 7, '42503771260155', 'Nazarova',     'Shahnoza',   'Botir qizi',       'akusher-ginekolog'),
  (16, 8, '30110861260166', 'Ergashev',     'Temur',      'Oybek oʻgʻli',     'laborant-shifokor'),
  (17, 1, '31304881260177', 'Пак',          'Дмитрий',    'Игоревич',         'shoshilinch tibbiy yordam shifokori'),
  (18, 2, '41606761260188', 'Islomova',     'Zarina',     'Jamshid qizi',     'terapevt'),
  (19, 3, '30812721260199', 'Rahimov',      'Otabek',     'Ravshan oʻgʻli',   'kardiolog'),
  (20, 4, '32202801260200', 'Sobirov',      'Dilshod',    'Akmal oʻgʻli',     'xirurg'),
  (21, 5, '40511871260211', 'Смирнова',     'Ольга',      'Петровна',         'nevrolog'),
  (22, 6, '31009831260222', 'Xolmatov',     'Jasur',      'Nodir oʻgʻli',     'umumiy amaliyot shifokori'),
  (23, 7, '42805901260233', 'Mahmudova',    'Lola',       'Shuhrat qizi',     'akusher-ginekolog'),
  (24, 8, '31401791260244', 'Qosimov',      'Eldor',      'Farhod oʻgʻli',    'laborant-shifokor');

-- Local laboratory catalogue.  VIT-D and КАЛ-ЯЙЦА exist here but are left
-- out of mappings/pg/codes/lab-codes.csv on purpose (see DIRTY 70013-70015).
INSERT INTO his.lab_tests (lab_code, name_ru, name_uz, default_unit, result_kind) VALUES
  ('HGB',      'Гемоглобин',                          'Gemoglobin',                       'г/л',       'numeric'),
  ('WBC',      'Лейкоциты',                           'Leykotsitlar',                     '10^9/л',    'numeric'),
  ('PLT',      'Тромбоциты',                          'Trombotsitlar',                    '10^9/л',    'numeric'),
  ('СОЭ',      'СОЭ (по Панченкову)',                 'EChT',                             'мм/ч',      'numeric'),
  ('GLU',      'Глюкоза крови',                       'Qondagi glyukoza',                 'ммоль/л',   'numeric'),
  ('HBA1C',    'Гликированный гемоглобин',            'Glikirlangan gemoglobin',          '%',         'numeric'),
  ('CREA',     'Креатинин',                           'Kreatinin',                        'мкмоль/л',  'numeric'),
  ('ALT',      'АЛТ',                                 'ALT',                              'Ед/л',      'numeric'),
  ('AST',      'АСТ',                                 'AST',                              'Ед/л',      'numeric'),
  ('CHOL',     'Холестерин общий',                    'Umumiy xolesterin',                'ммоль/л',   'numeric'),
  ('TSH',      'ТТГ',                                 'TTG',                              'мМЕ/л',     'numeric'),
  ('CRP',      'С-реактивный белок',                  'S-reaktiv oqsil',                  'мг/л',      'numeric'),
  ('K',        'Калий',                               'Kaliy',                            'ммоль/л',   'numeric'),
  ('NA',       'Натрий',                              'Natriy',                           'ммоль/л',   'numeric'),
  ('U-SG',     'Удельный вес мочи',                   'Siydik solishtirma ogʻirligi',     NULL,        'numeric'),
  ('U-PH',     'pH мочи',                             'Siydik pH',                        NULL,        'numeric'),
  ('U-COLOR',  'Цвет мочи',                           'Siydik rangi',                     NULL,        'text'),
  ('U-PRO',    'Белок в моче',                        'Siydikda oqsil',                   NULL,        'text'),
  ('ABO',      'Группа крови (АВ0)',                  'Qon guruhi (AB0)',                 NULL,        'text'),
  ('RH',       'Резус-фактор',                        'Rezus-omil',                       NULL,        'text'),
  ('HBSAG',    'HBsAg',                               'HBsAg',                            NULL,        'text'),
  ('VIT-D',    '25-OH витамин D',                     '25-OH D vitamini',                 'нг/мл',     'numeric'),
  ('КАЛ-ЯЙЦА', 'Кал на яйца гельминтов',              'Najasda gijja tuxumlari',          NULL,        'text');

-- ---------------------------------------------------------------------------
-- Patients 1..285 (generated)
--   script by i % 10: 0-5 Uzbek Latin, 6-7 Uzbek Cyrillic, 8-9 Russian
--   sex: odd i male, even i female; sex_code as each registration desk types
--        it: Latin 'M'/'F', Uzbek Cyrillic 'Э'/'А' (erkak/ayol), Russian
--        Cyrillic 'М'/'Ж'
--   PINFL: 3 (male) / 4 (female) + DDMMYY of birth + 7 invented digits
--   passport for i % 5 in (0,1,2); phone formats vary with i % 6 (i % 6 = 3: none)
--   Apostrophes in Uzbek Latin names: canonical U+02BB ʻ / U+02BC ʼ, except
--   i % 7 = 3: ASCII ', i % 7 = 5: U+2018/U+2019 ‘’, i % 11 = 4: backtick `
-- ---------------------------------------------------------------------------

INSERT INTO his.patients (patient_id, pinfl, passport_series, passport_number, last_name, first_name,
                          middle_name, birth_date, sex_code, phone, created_at, updated_at)
WITH n AS (
  SELECT
    ARRAY['Abdulla','Akmal','Alisher','Aziz','Bahodir','Botir','Dilshod','Doniyor','Eldor','Farrux',
          'Gʻayrat','Jasur','Javlon','Komil','Nodir','Oʻtkir','Rustam','Sardor','Sherzod','Ulugʻbek'] AS lat_m,
    ARRAY['Dilnoza','Gulnora','Gulchehra','Madina','Malika','Mohira','Nilufar','Nodira','Oʻgiloy','Shahnoza',
          'Sevara','Zarina','Feruza','Kamola','Lola','Munisa','Raʼno','Yulduz','Zulfiya','Dildora'] AS lat_f,
    ARRAY['Karimov','Rahimov','Yusupov','Tursunov','Qodirov','Gʻulomov','Ergashev','Xolmatov','Saidov','Abdullayev',
          'Oʻrinov','Toshmatov','Nazarov','Mirzayev','Ismoilov','Hasanov','Sobirov','Qosimov','Joʻrayev','Norqulov'] AS lat_s,
    ARRAY['Абдулла','Акмал','Алишер','Азиз','Баҳодир','Ботир','Дилшод','Дониёр','Элдор','Фаррух',
          'Ғайрат','Жасур','Жавлон','Комил','Нодир','Ўткир','Рустам','Сардор','Шерзод','Улуғбек'] AS cyr_m,
    ARRAY['Дилноза','Гулнора','Гулчеҳра','Мадина','Малика','Моҳира','Нилуфар','Нодира','Ўғилой','Шаҳноза',
          'Севара','Зарина','Феруза','Камола','Лола','Муниса','Раъно','Юлдуз','Зулфия','Дилдора'] AS cyr_f,
    ARRAY['Каримов','Раҳимов','Юсупов','Турсунов','Қодиров','Ғуломов','Эргашев','Холматов','Саидов','Абдуллаев',
          'Ўринов','Тошматов','Назаров','Мирзаев','Исмоилов','Ҳасанов','Собиров','Қосимов','Жўраев','Норқулов'] AS cyr_s,
    ARRAY['Александр','Сергей','Дмитрий','Андрей','Алексей','Владимир','Игорь','Виктор','Евгений','Николай',
          'Олег','Павел','Михаил','Юрий','Константин','Артём','Максим','Роман','Денис','Тимур'] AS ru_m,
    ARRAY['Елена','Ольга','Наталья','Татьяна','Ирина','Светлана','Марина','Людмила','Анна','Юлия',
          'Екатерина','Галина','Оксана','Валентина','Вера','Надежда','Лариса','Алла','Диляра','Эльвира'] AS ru_f,
    ARRAY['Иванов','Петров','Смирнов','Кузнецов','Попов','Васильев','Соколов','Михайлов','Новиков','Фёдоров',
          'Морозов','Волков','Алексеев','Лебедев','Семёнов','Егоров','Павлов','Козлов','Степанов','Николаев'] AS ru_s,
    ARRAY['Александрович','Сергеевич','Дмитриевич','Андреевич','Алексеевич','Владимирович','Игоревич','Викторович','Евгеньевич','Николаевич',
          'Олегович','Павлович','Михайлович','Юрьевич','Константинович','Петрович','Борисович','Романович','Геннадьевич','Анатольевич'] AS ru_pm,
    ARRAY['Александровна','Сергеевна','Дмитриевна','Андреевна','Алексеевна','Владимировна','Игоревна','Викторовна','Евгеньевна','Николаевна',
          'Олеговна','Павловна','Михайловна','Юрьевна','Константиновна','Петровна','Борисовна','Романовна','Геннадьевна','Анатольевна'] AS ru_pf,
    ARRAY['90','91','93','94','95','97','98','99','33','88'] AS ops
), g AS (
  SELECT i,
         i % 2 = 1                                        AS male,
         CASE WHEN i % 10 < 6 THEN 'lat' WHEN i % 10 < 8 THEN 'cyr' ELSE 'ru' END AS script,
         DATE '1940-01-01' + (i * 7919) % 21900           AS bd,
         1 + (i * 7 + i / 20) % 20                        AS fi,     -- first name index
         1 + (i * 13 + i / 7) % 20                        AS si,     -- surname index
         1 + (i * 3 + 5 + i / 11) % 20                    AS pi,     -- father's name index
         lpad(((i * 7919 + 1234567) % 10000000)::text, 7, '0') AS num7
  FROM generate_series(1, 285) AS i
), named AS (
  SELECT g.*,
    CASE g.script
      WHEN 'lat' THEN n.lat_s[g.si] || CASE WHEN g.male THEN '' ELSE 'a' END
      WHEN 'cyr' THEN n.cyr_s[g.si] || CASE WHEN g.male THEN '' ELSE 'а' END
      ELSE            n.ru_s[g.si]  || CASE WHEN g.male THEN '' ELSE 'а' END
    END AS last_name,
    CASE g.script
      WHEN 'lat' THEN CASE WHEN g.male THEN n.lat_m[g.fi] ELSE n.lat_f[g.fi] END
      WHEN 'cyr' THEN CASE WHEN g.male THEN n.cyr_m[g.fi] ELSE n.cyr_f[g.fi] END
      ELSE            CASE WHEN g.male THEN n.ru_m[g.fi]  ELSE n.ru_f[g.fi]  END
    END AS first_name,
    CASE g.script
      WHEN 'lat' THEN n.lat_m[g.pi] || CASE WHEN g.male THEN ' oʻgʻli' ELSE ' qizi' END
      WHEN 'cyr' THEN n.cyr_m[g.pi] || CASE WHEN g.male THEN ' ўғли' ELSE ' қизи' END
      ELSE            CASE WHEN g.male THEN n.ru_pm[g.pi] ELSE n.ru_pf[g.pi] END
    END AS middle_name,
    CASE g.script
      WHEN 'lat' THEN CASE WHEN g.male THEN 'M' ELSE 'F' END
      WHEN 'cyr' THEN CASE WHEN g.male THEN 'Э' ELSE 'А' END   -- Cyrillic Э / А
      ELSE            CASE WHEN g.male THEN 'М' ELSE 'Ж' END   -- Cyrillic М / Ж
    END AS sex_code,
    n.ops[1 + g.i % 10] AS op
  FROM g CROSS JOIN n
), spelled AS (
  -- apostrophe variants (Uzbek Latin only)
  SELECT named.*,
    CASE WHEN script <> 'lat' THEN NULL
         WHEN i % 7 = 3  THEN 'ascii'
         WHEN i % 7 = 5  THEN 'curly'
         WHEN i % 11 = 4 THEN 'backtick'
    END AS apo
  FROM named
)
SELECT i,
  (CASE WHEN male THEN '3' ELSE '4' END) || to_char(bd, 'DDMMYY')
      || lpad(((i * 37) % 900 + 100)::text, 3, '0') || lpad(i::text, 3, '0') || ((i * 7) % 10)::text,
  CASE WHEN i % 5 IN (0, 1, 2) THEN (ARRAY['AA','AB','AC','AD','KA','FA'])[1 + i % 6] END,
  CASE WHEN i % 5 IN (0, 1, 2) THEN lpad(((i * 7331 + 104729) % 10000000)::text, 7, '0') END,
  CASE apo WHEN 'ascii' THEN translate(last_name, 'ʻʼ', '''''') WHEN 'curly' THEN translate(last_name, 'ʻʼ', '‘’')
           WHEN 'backtick' THEN translate(last_name, 'ʻʼ', '``') ELSE last_name END,
  CASE apo WHEN 'ascii' THEN translate(first_name, 'ʻʼ', '''''') WHEN 'curly' THEN translate(first_name, 'ʻʼ', '‘’')
           WHEN 'backtick' THEN translate(first_name, 'ʻʼ', '``') ELSE first_name END,
  CASE apo WHEN 'ascii' THEN translate(middle_name, 'ʻʼ', '''''') WHEN 'curly' THEN translate(middle_name, 'ʻʼ', '‘’')
           WHEN 'backtick' THEN translate(middle_name, 'ʻʼ', '``') ELSE middle_name END,
  bd,
  sex_code,
  CASE i % 6
    WHEN 0 THEN '+998 ' || op || ' ' || substr(num7, 1, 3) || '-' || substr(num7, 4, 2) || '-' || substr(num7, 6, 2)
    WHEN 1 THEN '998' || op || num7
    WHEN 2 THEN '(' || op || ') ' || substr(num7, 1, 3) || ' ' || substr(num7, 4, 2) || ' ' || substr(num7, 6, 2)
    WHEN 3 THEN NULL
    WHEN 4 THEN '+998' || op || num7
    ELSE op || num7
  END,
  TIMESTAMPTZ '2015-03-02 09:00:00+05' + i * INTERVAL '9 days' + ((i * 53) % 480) * INTERVAL '1 minute',
  TIMESTAMPTZ '2024-01-02 09:00:00+05' + (i - 1) * INTERVAL '1 day' + ((i * 37) % 480) * INTERVAL '1 minute'
FROM spelled
ORDER BY i;

-- Addresses of generated patients: none when i % 8 = 7; an older,
-- non-current address as well when i % 10 = 3.
INSERT INTO his.addresses (address_id, patient_id, is_current, region_code, district_code, mahalla_code, street, updated_at)
WITH d AS (
  SELECT ARRAY['1726','1726','1726','1726','1726','1726','1726','1726','1727','1727','1727','1727','1718','1703'] AS reg,
         ARRAY['1726294','1726266','1726269','1726273','1726287','1726290','1726280','1726283',
               '1727237','1727265','1727419','1727248','1718401','1703401'] AS dis,
         ARRAY['Bunyodkor shoh koʻchasi','Amir Temur koʻchasi','Qatortol koʻchasi','Muqimiy koʻchasi',
               'Chilonzor 9-mavze','Yunusobod 4-mavze','Farhod koʻchasi','Navoiy koʻchasi'] AS st_lat,
         ARRAY['ул. Навои','ул. Мукими','массив Чиланзар, квартал 9','ул. Бобура','массив Юнусабад, квартал 4',
               'ул. Шота Руставели','ул. Катартал','ул. Фархадская'] AS st_ru
), a AS (
  SELECT p.patient_id AS i, p.updated_at,
         1 + (p.patient_id * 5) % 14 AS di,
         1 + (p.patient_id * 3) % 8  AS si
  FROM his.patients p WHERE p.patient_id <= 285 AND p.patient_id % 8 <> 7
), ar AS (
  SELECT i, true AS is_current, di, si, updated_at - INTERVAL '30 minutes' AS upd FROM a
  UNION ALL
  SELECT i, false, 1 + (di + 4) % 14, 1 + si % 8, TIMESTAMPTZ '2020-06-01 12:00:00+05' + i * INTERVAL '1 day' FROM a WHERE i % 10 = 3
)
SELECT row_number() OVER (ORDER BY r.i, r.is_current), r.i, r.is_current, d.reg[r.di], d.dis[r.di], NULL,
  CASE WHEN r.i % 10 >= 8
       THEN d.st_ru[r.si] || ', д. ' || (1 + r.i % 47) || CASE WHEN r.i % 3 = 0 THEN ', кв. ' || (1 + r.i % 90) ELSE '' END
       ELSE d.st_lat[r.si] || ', ' || (1 + r.i % 47) || '-uy' || CASE WHEN r.i % 3 = 0 THEN ', ' || (1 + r.i % 90) || '-xonadon' ELSE '' END
  END,
  r.upd
FROM ar r CROSS JOIN d
ORDER BY 1;

-- ---------------------------------------------------------------------------
-- Dirty patients 901..924
-- ---------------------------------------------------------------------------

INSERT INTO his.patients (patient_id, pinfl, passport_series, passport_number, last_name, first_name,
                          middle_name, birth_date, sex_code, phone, created_at, updated_at) VALUES
  -- DIRTY 901: no PINFL, but a local passport -> identifiers passport + MRN
  (901, NULL, 'AB', '1234567', 'Raximova', 'Dilfuza', 'Baxtiyor qizi', '1987-04-12', 'F', '+998 90 111-22-33',
   '2024-11-25 10:01:00+05', '2024-11-25 10:01:00+05'),
  -- DIRTY 902: neither PINFL nor passport -> the MRN is the only identifier
  (902, NULL, NULL, NULL, 'Tojiboyev', 'Sanjar', 'Hamid oʻgʻli', '1992-11-30', 'M', '998911112233',
   '2024-11-25 10:02:00+05', '2024-11-25 10:02:00+05'),
  -- DIRTY 903: birth_date NULL (Patient.birthDate is optional: omitted, no DAR)
  (903, '41507890260123', NULL, NULL, 'Qurbonova', 'Maftuna', 'Ergash qizi', NULL, 'F', NULL,
   '2024-11-25 10:03:00+05', '2024-11-25 10:03:00+05'),
  -- DIRTY 904: sex_code 'X' (not a known code) -> gender via the '*' fallback row: unknown
  (904, '31402790260124', NULL, NULL, 'Alimov', 'Jamshid', 'Rustam oʻgʻli', '1979-02-14', 'X', NULL,
   '2024-11-25 10:04:00+05', '2024-11-25 10:04:00+05'),
  -- DIRTY 905: sex_code NULL -> gender omitted (optional element)
  (905, '40108660260125', NULL, NULL, 'Sultonova', 'Barno', 'Ahmad qizi', '1966-08-01', NULL, NULL,
   '2024-11-25 10:05:00+05', '2024-11-25 10:05:00+05'),
  -- DIRTY 906: sex_code 'U' (explicitly unknown) -> gender unknown
  (906, '32412580260126', NULL, NULL, 'Pulatov', 'Ravshan', NULL, '1958-12-24', 'U', NULL,
   '2024-11-25 10:06:00+05', '2024-11-25 10:06:00+05'),
  -- DIRTY 907: sex_code 'э' (lower-case Uzbek Cyrillic) -> upper -> 'Э' -> male
  (907, '30905710260127', NULL, NULL, 'Ғаниев', 'Бахтиёр', 'Ўктам ўғли', '1971-05-09', 'э', NULL,
   '2024-11-25 10:07:00+05', '2024-11-25 10:07:00+05'),
  -- DIRTY 908: sex_code ' m ' (lower-case Latin, blanks) -> trim, upper -> 'M' -> male
  (908, '30707900260128', NULL, NULL, 'Ismoilov', 'Otabek', 'Baxrom oʻgʻli', '1990-07-07', ' m ', NULL,
   '2024-11-25 10:08:00+05', '2024-11-25 10:08:00+05'),
  -- DIRTY 909: sex_code 'A' in LATIN script (ayol), looks exactly like Cyrillic 'А' -> female
  (909, '40303840260129', NULL, NULL, 'Xoliqova', 'Nargiza', 'Odil qizi', '1984-03-03', 'A', NULL,
   '2024-11-25 10:09:00+05', '2024-11-25 10:09:00+05'),
  -- DIRTY 910: Uzbek Latin name written with ASCII apostrophes (G'ulomov) -> passed unchanged
  (910, '31010750260130', NULL, NULL, 'G''ulomov', 'O''tkir', 'Akmal o''g''li', '1975-10-10', 'M', NULL,
   '2024-11-25 10:10:00+05', '2024-11-25 10:10:00+05'),
  -- DIRTY 911: Uzbek Latin name with U+2018 LEFT SINGLE QUOTATION MARK (Jo‘rayeva) -> passed unchanged
  (911, '41111810260131', NULL, NULL, 'Jo‘rayeva', 'O‘g‘iloy', 'Sobir qizi', '1981-11-11', 'F', NULL,
   '2024-11-25 10:11:00+05', '2024-11-25 10:11:00+05'),
  -- DIRTY 912: Uzbek Latin name with backticks (To`xtayev) -> passed unchanged
  (912, '31212680260132', NULL, NULL, 'To`xtayev', 'G`ayrat', 'Ulug`bek o`g`li', '1968-12-12', 'M', NULL,
   '2024-11-25 10:12:00+05', '2024-11-25 10:12:00+05'),
  -- DIRTY 913: canonical orthography: U+02BB (oʻ, gʻ) and U+02BC tutuq belgisi (Maʼmurova, Raʼno)
  (913, '40101930260133', NULL, NULL, 'Maʼmurova', 'Raʼno', 'Oʻktam qizi', '1993-01-01', 'F', NULL,
   '2024-11-25 10:13:00+05', '2024-11-25 10:13:00+05'),
  -- DIRTY 914: Uzbek Cyrillic with Ў Ғ Қ Ҳ; sex 'А' is CYRILLIC А -> female
  (914, '40202880260134', NULL, NULL, 'Ўринбоева', 'Ғунча', 'Қаҳрамон қизи', '1988-02-02', 'А', NULL,
   '2024-11-25 10:14:00+05', '2024-11-25 10:14:00+05'),
  -- DIRTY 915: Russian name with a Korean surname (no gender inflection), sex 'М' Cyrillic
  (915, '30303650260135', NULL, NULL, 'Ким', 'Виктор', 'Александрович', '1965-03-03', 'М', '+998 71 200-00-15',
   '2024-11-25 10:15:00+05', '2024-11-25 10:15:00+05'),
  -- DIRTY 916: ALL CAPS with surrounding blanks, middle_name '' (empty string) -> trimmed; no given[1]
  (916, '30404600260136', NULL, NULL, '  TOSHMATOV  ', 'BAHODIR ', '', '1960-04-04', 'M', NULL,
   '2024-11-25 10:16:00+05', '2024-11-25 10:16:00+05'),
  -- DIRTY 917: placeholder PINFL '00000000000000' and placeholder birth date 1900-01-01:
  --            the extraction query turns both into NULL -> no PINFL identifier, no birthDate
  (917, '00000000000000', NULL, NULL, 'Yoʻldosheva', 'Zilola', 'Anvar qizi', '1900-01-01', 'F', NULL,
   '2024-11-25 10:17:00+05', '2024-11-25 10:17:00+05'),
  -- DIRTY 918: 13-digit PINFL (typo); char(14) stores it blank-padded -> trimmed, sent as is (no pattern check)
  (918, '3120585123456', NULL, NULL, 'Nurmatov', 'Sherzod', 'Ilhom oʻgʻli', '1985-05-12', 'M', NULL,
   '2024-11-25 10:18:00+05', '2024-11-25 10:18:00+05'),
  -- DIRTY 920: unidentified emergency patient ("NOMAʼLUM" = unknown): no ids, no first name,
  --            no birth date, sex 'U' -> Patient with the MRN only
  (920, NULL, NULL, NULL, 'NOMAʼLUM', NULL, NULL, NULL, 'U', NULL,
   '2024-11-25 10:20:00+05', '2024-11-25 10:20:00+05'),
  -- DIRTY 921: address without region/district codes (free text only) -> address with country + line only
  (921, '30606770260141', NULL, NULL, 'Hamroyev', 'Doniyor', 'Sobir oʻgʻli', '1977-06-06', 'M', NULL,
   '2024-11-25 10:21:00+05', '2024-11-25 10:21:00+05'),
  -- DIRTY 922: passport series without number -> extraction yields no passport; no PINFL -> MRN only
  (922, NULL, 'AA', NULL, 'Yusupova', 'Kamola', 'Rashid qizi', '1995-07-07', 'F', NULL,
   '2024-11-25 10:22:00+05', '2024-11-25 10:22:00+05'),
  -- DIRTY 923: passport typed as 'ad ' + ' 765 43 21' -> extraction normalises to 'AD7654321'
  (923, NULL, 'ad ', ' 765 43 21', 'Abdullayeva', 'Sevara', 'Ilyos qizi', '1991-08-08', 'F', NULL,
   '2024-11-25 10:23:00+05', '2024-11-25 10:23:00+05'),
  -- DIRTY 924: two addresses both flagged current -> extraction takes the newest one (highest address_id)
  (924, '30909820260144', NULL, NULL, 'Sodiqov', 'Alisher', 'Vohid oʻgʻli', '1982-09-09', 'M', NULL,
   '2024-11-25 10:24:00+05', '2024-11-25 10:24:00+05');

-- DIRTY 919: the same person registered twice: same PINFL, name, birth date
--            and sex as patient 1, new MRN 919 -> two Patient resources with
--            the same national id (dhp-import does not deduplicate)
INSERT INTO his.patients (patient_id, pinfl, passport_series, passport_number, last_name, first_name,
                          middle_name, birth_date, sex_code, phone, created_at, updated_at)
SELECT 919, pinfl, NULL, NULL, last_name, first_name, middle_name, birth_date, sex_code, NULL,
       '2024-11-25 10:19:00+05', '2024-11-25 10:19:00+05'
FROM his.patients WHERE patient_id = 1;

INSERT INTO his.addresses (address_id, patient_id, is_current, region_code, district_code, mahalla_code, street, updated_at) VALUES
  (901, 901, true, '1726', '1726294', NULL, 'Chilonzor 19-mavze, 7-uy, 12-xonadon', '2024-11-25 10:01:00+05'),
  (903, 903, true, '1718', '1718401', NULL, 'Registon koʻchasi, 3-uy',             '2024-11-25 10:03:00+05'),
  (915, 915, true, '1726', '1726273', NULL, 'ул. Афросиаб, д. 4, кв. 17',          '2024-11-25 10:15:00+05'),
  -- DIRTY 921 (see above): codes missing
  (921, 921, true, NULL, NULL, NULL, 'Toshkent sh., Yakkasaroy t., Shota Rustaveli koʻchasi, 45-uy', '2024-11-25 10:21:00+05'),
  -- DIRTY 924 (see above): two current addresses; 926 is the newer one
  (924, 924, true, '1727', '1727419', NULL, 'Chirchiq, Amir Temur koʻchasi, 2-uy', '2024-11-25 10:24:00+05'),
  (926, 924, true, '1727', '1727248', NULL, 'Qibray tumani, Bobur koʻchasi, 15-uy', '2024-11-25 10:25:00+05');

-- ---------------------------------------------------------------------------
-- Visits 1..580 (generated)
--   patient = 1 + (i*7) % 285 (every patient 1..285 has two or three visits)
--   i % 10 in (0,1): inpatient, (8,9): emergency, else outpatient
--   admitted on day 2024-01-03 + i*0.55 (local Tashkent time)
--   status: CANCELLED when i % 97 = 0, OPEN when i > 568, else CLOSED
-- ---------------------------------------------------------------------------

INSERT INTO his.visits (visit_id, patient_id, department_id, doctor_id, visit_type, purpose,
                        admitted_at, discharged_at, status, created_at, updated_at)
SELECT i, pid, dept, dept + 8 * (i % 3), vt, purpose, adm, dis, st,
       adm AT TIME ZONE 'Asia/Tashkent',
       (coalesce(dis, adm) + INTERVAL '1 hour') AT TIME ZONE 'Asia/Tashkent'
FROM generate_series(1, 580) AS i
CROSS JOIN LATERAL (
  SELECT 1 + (i * 7) % 285 AS pid,
         CASE WHEN i % 10 IN (0, 1) THEN 'inpatient' WHEN i % 10 IN (8, 9) THEN 'emergency' ELSE 'outpatient' END AS vt,
         CASE WHEN i % 97 = 0 THEN 'CANCELLED' WHEN i > 568 THEN 'OPEN' ELSE 'CLOSED' END AS st
) a
CROSS JOIN LATERAL (
  SELECT
    CASE a.vt
      WHEN 'inpatient' THEN (ARRAY[2, 3, 4, 5])[1 + (i / 10) % 4]
      WHEN 'emergency' THEN 1
      ELSE CASE WHEN a.pid % 2 = 0 AND i % 4 = 0 THEN 7 ELSE 6 END
    END AS dept,
    CASE a.vt
      WHEN 'inpatient' THEN CASE WHEN i % 50 = 0 THEN 'palliativ' WHEN i % 3 = 0 THEN 'diagnostika' ELSE 'lechenie' END
      WHEN 'emergency' THEN 'lechenie'
      ELSE (ARRAY['profilaktika','diagnostika','konsultatsiya','lechenie','skrining','konsultatsiya','diagnostika','ДИСП'])[1 + (i / 3) % 8]
    END AS purpose,
    TIMESTAMP '2024-01-03 00:00' + (i * 55 / 100) * INTERVAL '1 day'
      + CASE a.vt
          WHEN 'outpatient' THEN INTERVAL '08:00' + ((i * 37) % 540) * INTERVAL '1 minute'
          WHEN 'inpatient'  THEN INTERVAL '09:00' + ((i * 13) % 360) * INTERVAL '1 minute'
          ELSE ((i * 97) % 1440) * INTERVAL '1 minute'
        END AS adm
) b
CROSS JOIN LATERAL (
  SELECT CASE WHEN a.st <> 'CLOSED' THEN NULL
              WHEN a.vt = 'inpatient'  THEN b.adm + ((i % 9) + 3) * INTERVAL '1 day' + INTERVAL '2 hours'
              WHEN a.vt = 'outpatient' THEN b.adm + (20 + i % 40) * INTERVAL '1 minute'
              ELSE b.adm + (2 + i % 5) * INTERVAL '1 hour' + INTERVAL '10 minutes'
         END AS dis
) c
ORDER BY i;

-- ---------------------------------------------------------------------------
-- Dirty visits 5001..5013
-- ---------------------------------------------------------------------------

INSERT INTO his.visits (visit_id, patient_id, department_id, doctor_id, visit_type, purpose,
                        admitted_at, discharged_at, status, created_at, updated_at) VALUES
  -- DIRTY 5001: status NULL -> Encounter.status 'unknown' (default, the value set has 'unknown')
  (5001, 12, 6, 6, 'outpatient', 'konsultatsiya', '2024-11-20 10:15', '2024-11-20 10:45', NULL,
   '2024-11-25 11:01:00+05', '2024-11-25 11:01:00+05'),
  -- DIRTY 5002: purpose NULL -> Encounter.type:nationalType cannot take a DAR -> REJECT the visit.
  --             Its vitals 8005, lab 70019 and diagnosis 6009 reference an Encounter that is never sent.
  (5002, 14, 3, 3, 'inpatient', NULL, '2024-11-18 09:40', '2024-11-22 12:00', 'CLOSED',
   '2024-11-25 11:02:00+05', '2024-11-25 11:02:00+05'),
  -- DIRTY 5003 + 5004: duplicate visit: same patient, type, purpose and times, two ids
  --             -> two Encounters (different identifiers); dhp-import does not deduplicate
  (5003, 20, 1, 1, 'emergency', 'lechenie', '2024-11-21 23:05', '2024-11-22 02:10', 'CLOSED',
   '2024-11-25 11:03:00+05', '2024-11-25 11:03:00+05'),
  (5004, 20, 1, 1, 'emergency', 'lechenie', '2024-11-21 23:05', '2024-11-22 02:10', 'CLOSED',
   '2024-11-25 11:04:00+05', '2024-11-25 11:04:00+05'),
  -- DIRTY 5005: status 'ARCHIVED' is not in codes/visit-status.csv (no '*' row) -> REJECT
  (5005, 30, 6, 14, 'outpatient', 'diagnostika', '2024-11-19 09:00', '2024-11-19 09:30', 'ARCHIVED',
   '2024-11-25 11:05:00+05', '2024-11-25 11:05:00+05'),
  -- DIRTY 5006: legacy Cyrillic status 'закрыт' -> upper 'ЗАКРЫТ' -> completed
  (5006, 31, 6, 22, 'outpatient', 'profilaktika', '2024-11-19 11:00', '2024-11-19 11:25', 'закрыт',
   '2024-11-25 11:06:00+05', '2024-11-25 11:06:00+05'),
  -- DIRTY 5007: discharged_at before admitted_at -> sent as is (period invariant per-1 is the platform's check)
  (5007, 33, 6, 6, 'outpatient', 'konsultatsiya', '2024-11-20 15:00', '2024-11-20 14:20', 'CLOSED',
   '2024-11-25 11:07:00+05', '2024-11-25 11:07:00+05'),
  -- DIRTY 5008: purpose 'REABIL' (rehabilitation) not in codes/encounter-type.csv -> REJECT
  (5008, 35, 5, 5, 'inpatient', 'REABIL', '2024-11-11 10:00', '2024-11-21 10:00', 'CLOSED',
   '2024-11-25 11:08:00+05', '2024-11-25 11:08:00+05'),
  -- DIRTY 5009: visit of the MRN-only patient 902 (subject by MRN works without national ids)
  (5009, 902, 6, 14, 'outpatient', 'profilaktika', '2024-11-20 14:00', '2024-11-20 14:40', 'CLOSED',
   '2024-11-25 11:09:00+05', '2024-11-25 11:09:00+05'),
  -- DIRTY 5010: unidentified emergency patient 920, still open (no discharged_at) -> in-progress, no end
  (5010, 920, 1, 9, 'emergency', 'lechenie', '2024-11-24 03:20', NULL, 'OPEN',
   '2024-11-25 11:10:00+05', '2024-11-25 11:10:00+05'),
  -- DIRTY 5011: status ' closed ' (lower case, blanks) -> trim, upper -> completed
  (5011, 40, 2, 2, 'inpatient', 'lechenie', '2024-11-12 09:30', '2024-11-19 11:00', ' closed ',
   '2024-11-25 11:11:00+05', '2024-11-25 11:11:00+05'),
  -- DIRTY 5012: admitted 02:00 local = previous day 21:00 UTC -> must be emitted 2024-03-01T02:00:00+05:00
  (5012, 41, 1, 17, 'emergency', 'lechenie', '2024-03-01 02:00', '2024-03-01 05:30', 'CLOSED',
   '2024-11-25 11:12:00+05', '2024-11-25 11:12:00+05'),
  -- DIRTY 5013: visit of the duplicate-PINFL patient 919
  (5013, 919, 6, 6, 'outpatient', 'diagnostika', '2024-11-22 09:10', '2024-11-22 09:50', 'CLOSED',
   '2024-11-25 11:13:00+05', '2024-11-25 11:13:00+05');

-- ---------------------------------------------------------------------------
-- Vital signs (generated): one session per non-cancelled visit, three for
-- inpatients (admission, day 1, day 2).  Which measurements are taken
-- depends on the visit type; the values cycle deterministically.
-- ---------------------------------------------------------------------------

INSERT INTO his.vital_signs (vital_id, visit_id, measured_at, temperature_c, pulse, resp_rate, systolic, diastolic,
                             spo2, weight_kg, height_cm, recorded_by, updated_at)
SELECT row_number() OVER (ORDER BY v.visit_id, s.n),
       v.visit_id, m.t,
       CASE WHEN v.visit_type <> 'outpatient' OR v.visit_id % 3 = 0 THEN 36.0 + ((m.k * 7) % 27) / 10.0 END,
       56 + (m.k * 11) % 52,
       CASE WHEN v.visit_type <> 'outpatient' THEN 14 + (m.k * 5) % 10 END,
       100 + (m.k * 13) % 71,
       60 + (m.k * 7) % 41,
       CASE WHEN v.visit_type = 'emergency' OR (v.visit_type = 'inpatient' AND s.n = 0) THEN 92 + m.k % 8 END,
       CASE WHEN s.n = 0 AND (v.visit_type = 'inpatient' OR v.purpose IN ('profilaktika', 'skrining', 'ДИСП'))
            THEN 50 + (m.k * 17) % 55 + (m.k % 2) * 0.5 END,
       CASE WHEN s.n = 0 AND (v.visit_type = 'inpatient' OR v.purpose IN ('profilaktika', 'skrining', 'ДИСП'))
            THEN 150 + (m.k * 7) % 41 END,
       v.doctor_id,
       (m.t + INTERVAL '5 minutes') AT TIME ZONE 'Asia/Tashkent'
FROM his.visits v
CROSS JOIN LATERAL generate_series(0, CASE WHEN v.visit_type = 'inpatient' THEN 2 ELSE 0 END) AS s(n)
CROSS JOIN LATERAL (
  SELECT v.visit_id * 3 + s.n AS k,
         v.admitted_at + CASE WHEN s.n = 0 THEN INTERVAL '15 minutes' ELSE s.n * INTERVAL '1 day' + INTERVAL '2 hours' END AS t
) m
WHERE v.visit_id <= 580 AND v.status <> 'CANCELLED'
ORDER BY 1;

INSERT INTO his.vital_signs (vital_id, visit_id, measured_at, temperature_c, pulse, resp_rate, systolic, diastolic,
                             spo2, weight_kg, height_cm, recorded_by, updated_at) VALUES
  -- DIRTY 8001: session with no measurement at all -> the record yields no resource
  (8001, 5001, '2024-11-20 10:20', NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 6, '2024-11-25 12:01:00+05'),
  -- DIRTY 8002: systolic without diastolic -> BP panel, component 8462-4 with dataAbsentReason
  (8002, 5006, '2024-11-19 11:05', NULL, 72, NULL, 150, NULL, NULL, NULL, NULL, 22, '2024-11-25 12:02:00+05'),
  -- DIRTY 8003: temperature typed in Fahrenheit (98.6) -> sent as 98.6 Cel (no range check)
  (8003, 5011, '2024-11-12 09:45', 98.6, 80, 16, 120, 80, NULL, NULL, NULL, 2, '2024-11-25 12:03:00+05'),
  -- DIRTY 8004: SpO2 typed as a fraction (0.97) -> sent as 0.97 % (no range check)
  (8004, 5012, '2024-03-01 02:10', 37.9, 104, 22, 135, 85, 0.97, NULL, NULL, 17, '2024-11-25 12:04:00+05'),
  -- DIRTY 8005: vitals of the rejected visit 5002 (encounter reference to an Encounter never sent)
  (8005, 5002, '2024-11-18 09:55', 36.8, 88, 18, 160, 95, 96, 82.0, 171, 3, '2024-11-25 12:05:00+05'),
  -- DIRTY 8006: only weight and height (no BMI computed) -> two Observations
  (8006, 5009, '2024-11-20 14:05', NULL, NULL, NULL, NULL, NULL, NULL, 74.5, 178, 14, '2024-11-25 12:06:00+05'),
  -- DIRTY 8007: time of measurement not recorded -> pulse and temperature Observations with a
  -- Data Absent Reason (unknown) on effective[x], which the HL7 vital-signs profiles require
  (8007, 5010, NULL, 36.6, 76, NULL, NULL, NULL, NULL, NULL, NULL, 14, '2024-11-25 12:07:00+05');

-- ---------------------------------------------------------------------------
-- Laboratory results (generated).  Panels per visit:
--   inpatient:  CBC + BIO when visit_id % 3 = 0, else CBC + GLU; + ADM when visit_id % 40 = 0
--   emergency:  CBC + CRP when visit_id % 4 = 0; ELEC when visit_id % 4 = 1
--   outpatient: by visit_id % 6: 0 DIAB, 2 URINE, 4 CBC, 5 LIPID + THYR, else none
-- collected_text formats (rule-based, by result_id):
--   % 40 = 11 NULL; % 50 = 7 'DD.MM.YYYY' (date only); else by % 4:
--   0 'DD.MM.YYYY HH24:MI', 1 'YYYY-MM-DD HH24:MI:SS', 2 'DD.MM.YYYY HH24:MI:SS', 3 'YYYY-MM-DDTHH24:MI'
-- status: P for open visits, C when result_id % 83 = 0, else F
-- ---------------------------------------------------------------------------

INSERT INTO his.lab_results (result_id, visit_id, lab_code, value_num, value_text, unit, ref_low, ref_high,
                             collected_text, resulted_at, status, updated_at)
WITH panel(panel, ord, lab_code) AS (VALUES
  ('CBC', 1, 'HGB'), ('CBC', 2, 'WBC'), ('CBC', 3, 'PLT'), ('CBC', 4, 'СОЭ'),
  ('BIO', 1, 'GLU'), ('BIO', 2, 'CREA'), ('BIO', 3, 'ALT'), ('BIO', 4, 'AST'),
  ('GLU', 1, 'GLU'),
  ('DIAB', 1, 'GLU'), ('DIAB', 2, 'HBA1C'),
  ('URINE', 1, 'U-COLOR'), ('URINE', 2, 'U-SG'), ('URINE', 3, 'U-PH'), ('URINE', 4, 'U-PRO'),
  ('ADM', 1, 'ABO'), ('ADM', 2, 'RH'), ('ADM', 3, 'HBSAG'),
  ('LIPID', 1, 'CHOL'), ('THYR', 1, 'TSH'), ('CRP', 1, 'CRP'),
  ('ELEC', 1, 'K'), ('ELEC', 2, 'NA')
), spec(lab_code, base, span, mult, div, dec, unit, ref_low, ref_high) AS (VALUES
  ('HGB',    95, 80,  7,    1, 0, 'г/л',       120,   160),
  ('WBC',    35, 120, 13,  10, 1, '10^9/л',    4.0,   9.0),
  ('PLT',   120, 300, 17,   1, 0, '10^9/л',    180,   320),
  ('СОЭ',     2, 45,  3,    1, 0, 'мм/ч',      2,     15),
  ('GLU',    38, 110, 7,   10, 1, 'ммоль/л',   3.9,   6.1),
  ('HBA1C',  45, 70,  3,   10, 1, '%',         4.0,   6.0),
  ('CREA',   55, 150, 11,   1, 0, 'мкмоль/л',  62,    115),
  ('ALT',     8, 90,  7,    1, 0, 'Ед/л',      NULL,  41),
  ('AST',    10, 80,  5,    1, 0, 'Ед/л',      NULL,  40),
  ('CHOL',   35, 50,  9,   10, 1, 'ммоль/л',   NULL,  5.2),
  ('TSH',     3, 60,  7,   10, 1, 'мМЕ/л',     0.4,   4.0),
  ('CRP',     0, 60,  7,    1, 0, 'мг/л',      NULL,  5),
  ('K',      32, 25,  3,   10, 1, 'ммоль/л',   3.5,   5.1),
  ('NA',    128, 22,  5,    1, 0, 'ммоль/л',   136,   145),
  ('U-SG', 1005, 25,  3, 1000, 3, NULL,        1.010, 1.025),
  ('U-PH',   50, 30,  5,   10, 1, NULL,        4.5,   8.0)
), vp AS (
  SELECT v.visit_id, v.admitted_at, v.status, p.panel, p.pi
  FROM his.visits v
  CROSS JOIN LATERAL unnest(
    CASE v.visit_type
      WHEN 'inpatient' THEN
        CASE WHEN v.visit_id % 3 = 0 THEN ARRAY['CBC', 'BIO'] ELSE ARRAY['CBC', 'GLU'] END
        || CASE WHEN v.visit_id % 40 = 0 THEN ARRAY['ADM'] ELSE ARRAY[]::text[] END
      WHEN 'emergency' THEN
        CASE v.visit_id % 4 WHEN 0 THEN ARRAY['CBC', 'CRP'] WHEN 1 THEN ARRAY['ELEC'] ELSE ARRAY[]::text[] END
      ELSE
        CASE v.visit_id % 6 WHEN 0 THEN ARRAY['DIAB'] WHEN 2 THEN ARRAY['URINE'] WHEN 4 THEN ARRAY['CBC']
                            WHEN 5 THEN ARRAY['LIPID', 'THYR'] ELSE ARRAY[]::text[] END
    END) WITH ORDINALITY AS p(panel, pi)
  WHERE v.visit_id <= 580 AND v.status <> 'CANCELLED'
), r AS (
  SELECT row_number() OVER (ORDER BY vp.visit_id, vp.pi, panel.ord) AS rid,
         vp.visit_id, vp.status AS vstatus, panel.lab_code,
         vp.visit_id * 7 + vp.pi * 3 + panel.ord AS k,
         vp.admitted_at + INTERVAL '40 minutes' + (vp.pi - 1) * INTERVAL '20 hours' AS ct
  FROM vp JOIN panel USING (panel)
)
SELECT r.rid, r.visit_id, r.lab_code,
  round((s.base + (r.k * s.mult) % s.span)::numeric / s.div, s.dec),
  CASE r.lab_code
    WHEN 'U-COLOR' THEN (ARRAY['соломенно-жёлтый', 'жёлтый', 'светло-жёлтый', 'тёмно-жёлтый'])[1 + r.k % 4]
    WHEN 'U-PRO'   THEN (ARRAY['отрицательно', 'отрицательно', 'следы', '0,033 г/л'])[1 + r.k % 4]
    WHEN 'ABO'     THEN (ARRAY['O(I)', 'A(II)', 'B(III)', 'AB(IV)'])[1 + r.k % 4]
    WHEN 'RH'      THEN CASE WHEN r.k % 7 = 0 THEN 'Rh- (отрицательный)' ELSE 'Rh+ (положительный)' END
    WHEN 'HBSAG'   THEN CASE WHEN r.k % 5 = 0 THEN 'manfiy' ELSE 'отрицательно' END
  END,
  s.unit, s.ref_low, s.ref_high,
  CASE WHEN r.rid % 40 = 11 THEN NULL
       WHEN r.rid % 50 = 7  THEN to_char(r.ct, 'DD.MM.YYYY')
       WHEN r.rid % 4 = 0   THEN to_char(r.ct, 'DD.MM.YYYY HH24:MI')
       WHEN r.rid % 4 = 1   THEN to_char(r.ct, 'YYYY-MM-DD HH24:MI:SS')
       WHEN r.rid % 4 = 2   THEN to_char(r.ct, 'DD.MM.YYYY HH24:MI:SS')
       ELSE to_char(r.ct, 'YYYY-MM-DD"T"HH24:MI')
  END,
  (r.ct + INTERVAL '2 hours' + (r.k % 180) * INTERVAL '1 minute') AT TIME ZONE 'Asia/Tashkent',
  CASE WHEN r.vstatus = 'OPEN' THEN 'P' WHEN r.rid % 83 = 0 THEN 'C' ELSE 'F' END,
  (r.ct + INTERVAL '2 hours 1 minute' + (r.k % 180) * INTERVAL '1 minute') AT TIME ZONE 'Asia/Tashkent'
FROM r LEFT JOIN spec s USING (lab_code)
ORDER BY r.rid;

INSERT INTO his.lab_results (result_id, visit_id, lab_code, value_num, value_text, unit, ref_low, ref_high,
                             collected_text, resulted_at, status, updated_at) VALUES
  -- DIRTY 70001: collected_text '31.02.2024 10:00' (no 31 February) -> REJECT (datetime conversion)
  (70001, 5001, 'GLU', 5.4, NULL, 'ммоль/л', 3.9, 6.1, '31.02.2024 10:00', '2024-11-20 13:00:00+05', 'F', '2024-11-25 13:01:00+05'),
  -- DIRTY 70002: collected_text 'вчера' ("yesterday") -> REJECT (datetime conversion)
  (70002, 5001, 'HGB', 131, NULL, 'г/л', 120, 160, 'вчера', '2024-11-20 13:00:00+05', 'F', '2024-11-25 13:02:00+05'),
  -- DIRTY 70003: collected_text '12/03/2024' (slash format, day/month ambiguous) -> REJECT
  (70003, 5006, 'CHOL', 4.9, NULL, 'ммоль/л', NULL, 5.2, '12/03/2024', '2024-11-19 15:00:00+05', 'F', '2024-11-25 13:03:00+05'),
  -- DIRTY 70004: collected_text '' (empty) -> null -> effectiveDateTime omitted
  (70004, 5006, 'GLU', 5.1, NULL, 'ммоль/л', 3.9, 6.1, '', '2024-11-19 15:00:00+05', 'F', '2024-11-25 13:04:00+05'),
  -- DIRTY 70005: collected_text '2024-11-20' (ISO date only) -> effectiveDateTime '2024-11-20'
  (70005, 5009, 'GLU', 4.8, NULL, 'ммоль/л', 3.9, 6.1, '2024-11-20', '2024-11-20 17:00:00+05', 'F', '2024-11-25 13:05:00+05'),
  -- DIRTY 70006: collected_text '20.11.2024 14:30' -> '2024-11-20T14:30:00+05:00'
  (70006, 5009, 'HGB', 142, NULL, 'г/л', 130, 170, '20.11.2024 14:30', '2024-11-20 17:00:00+05', 'F', '2024-11-25 13:06:00+05'),
  -- DIRTY 70007: collected_text '20.11.2024' (dotted date only) -> effectiveDateTime '2024-11-20'
  (70007, 5009, 'WBC', 6.2, NULL, '10^9/л', 4.0, 9.0, '20.11.2024', '2024-11-20 17:00:00+05', 'F', '2024-11-25 13:07:00+05'),
  -- DIRTY 70008: collected_text '202411201430' (YYYYMMDDHHMM) -> '2024-11-20T14:30:00+05:00'
  (70008, 5009, 'PLT', 251, NULL, '10^9/л', 180, 320, '202411201430', '2024-11-20 17:00:00+05', 'F', '2024-11-25 13:08:00+05'),
  -- DIRTY 70009: collected_text '  2024-11-12 10:05  ' (blanks) -> trim -> '2024-11-12T10:05:00+05:00'
  (70009, 5011, 'GLU', 7.9, NULL, 'ммоль/л', 3.9, 6.1, '  2024-11-12 10:05  ', '2024-11-12 13:00:00+05', 'F', '2024-11-25 13:09:00+05'),
  -- DIRTY 70010: collected_text with its own offset (analyser on Moscow time) -> offset kept: '2024-11-12T08:05:00+03:00'
  (70010, 5011, 'CREA', 98, NULL, 'мкмоль/л', 62, 115, '2024-11-12T08:05:00+03:00', '2024-11-12 13:00:00+05', 'F', '2024-11-25 13:10:00+05'),
  -- DIRTY 70011: final result without any value -> no value[x]; dataAbsentReason 'unknown'
  (70011, 5011, 'ALT', NULL, NULL, 'Ед/л', NULL, 41, '12.11.2024 10:05', '2024-11-12 13:00:00+05', 'F', '2024-11-25 13:11:00+05'),
  -- DIRTY 70012: cancelled test (status X) without value -> status cancelled, dataAbsentReason 'not-performed'
  (70012, 5011, 'AST', NULL, '', 'Ед/л', NULL, 40, '12.11.2024 10:05', NULL, 'X', '2024-11-25 13:12:00+05'),
  -- DIRTY 70013: local code VIT-D not in codes/lab-codes.csv -> REJECT (code table)
  (70013, 5006, 'VIT-D', 18.5, NULL, 'нг/мл', 30, 100, '19.11.2024 11:10', '2024-11-20 10:00:00+05', 'F', '2024-11-25 13:13:00+05'),
  -- DIRTY 70014: VIT-D again (second occurrence of the unmapped code) -> REJECT
  (70014, 5009, 'VIT-D', 31.0, NULL, 'нг/мл', 30, 100, '20.11.2024 14:30', '2024-11-21 10:00:00+05', 'F', '2024-11-25 13:14:00+05'),
  -- DIRTY 70015: local code КАЛ-ЯЙЦА (stool for helminth eggs) not in lab-codes.csv -> REJECT
  (70015, 5013, 'КАЛ-ЯЙЦА', NULL, 'не обнаружены', NULL, NULL, NULL, '22.11.2024 09:20', '2024-11-22 15:00:00+05', 'F', '2024-11-25 13:15:00+05'),
  -- DIRTY 70016: numeric result only in value_text with a decimal comma ('5,6') -> valueString "5,6" (not parsed)
  (70016, 5013, 'GLU', NULL, '5,6', 'ммоль/л', 3.9, 6.1, '22.11.2024 09:20', '2024-11-22 15:00:00+05', 'F', '2024-11-25 13:16:00+05'),
  -- DIRTY 70017: censored value '<0.5' in value_text -> valueString "<0.5" (no comparator parsing)
  (70017, 5013, 'CRP', NULL, '<0.5', 'мг/л', NULL, 5, '22.11.2024 09:20', '2024-11-22 15:00:00+05', 'F', '2024-11-25 13:17:00+05'),
  -- DIRTY 70018: status 'R' (unverified) not in the status map -> '*' fallback: unknown
  (70018, 5013, 'HGB', 118, NULL, 'г/л', 120, 160, '22.11.2024 09:20', '2024-11-22 15:00:00+05', 'R', '2024-11-25 13:18:00+05'),
  -- DIRTY 70019: result of the rejected visit 5002 (encounter reference to an Encounter never sent)
  (70019, 5002, 'HGB', 128, NULL, 'г/л', 130, 170, '18.11.2024 10:20', '2024-11-18 13:00:00+05', 'F', '2024-11-25 13:19:00+05'),
  -- DIRTY 70020: lab_code typed ' hgb' -> trim, upper -> HGB (mapped)
  (70020, 5012, ' hgb', 151, NULL, 'г/л', 130, 170, '01.03.2024 02:30', '2024-03-01 04:00:00+05', 'F', '2024-11-25 13:20:00+05'),
  -- DIRTY 70021: both value_num (12.5) and value_text ('повышен') -> valueQuantity only
  (70021, 5012, 'WBC', 12.5, 'повышен', '10^9/л', 4.0, 9.0, '01.03.2024 02:30', '2024-03-01 04:00:00+05', 'F', '2024-11-25 13:21:00+05'),
  -- DIRTY 70022: reference range with a lower bound only -> referenceRange.low only
  (70022, 5012, 'PLT', 175, NULL, '10^9/л', 180, NULL, '01.03.2024 02:30', '2024-03-01 04:00:00+05', 'F', '2024-11-25 13:22:00+05'),
  -- DIRTY 70023: HGB reported in g/dL (13.5) instead of g/L -> UCUM g/dL from codes/units.csv (no conversion)
  (70023, 5012, 'HGB', 13.5, NULL, 'g/dL', 12.0, 16.0, '01.03.2024 02:30', '2024-03-01 04:00:00+05', 'F', '2024-11-25 13:23:00+05'),
  -- DIRTY 70024: unit 'ед.' not in codes/units.csv -> REJECT (code table)
  (70024, 5012, 'ALT', 35, NULL, 'ед.', NULL, 41, '01.03.2024 02:30', '2024-03-01 04:00:00+05', 'F', '2024-11-25 13:24:00+05'),
  -- DIRTY 70025: status 'W' (wrong patient) -> entered-in-error
  (70025, 5012, 'GLU', 6.6, NULL, 'ммоль/л', 3.9, 6.1, '01.03.2024 02:30', '2024-03-01 04:00:00+05', 'W', '2024-11-25 13:25:00+05'),
  -- DIRTY 70026: result of the rejected visit 5008 (encounter reference to an Encounter never sent)
  (70026, 5008, 'CREA', 88, NULL, 'мкмоль/л', 62, 115, '11.11.2024 10:30', '2024-11-11 14:00:00+05', 'F', '2024-11-25 13:26:00+05');

-- ---------------------------------------------------------------------------
-- Diagnoses (generated)
--   main: every non-cancelled inpatient/emergency visit, outpatient when visit_id % 2 = 0
--   secondary: inpatient visit_id % 3 = 0, emergency visit_id % 4 = 0
--   complication: inpatient visit_id % 40 = 1
--   clinical_status: NULL when diagnosis_id % 23 = 0 (21 rows: "forgotten");
--   chronic codes 'хронический' ('ремиссия' when visit_id % 5 = 0,
--   J45.9 'рецидив' when visit_id % 7 = 0); complications 'активный'; closed
--   visits 'выздоровление'; open visits 'активный'
-- ---------------------------------------------------------------------------

INSERT INTO his.diagnoses (diagnosis_id, visit_id, icd10, diagnosis_text, kind, recorded_at, clinical_status, doctor_id, updated_at)
WITH l AS (
  SELECT
    ARRAY['I10','E11.9','J06.9','K29.7','M54.5','N39.0','Z00.0','I25.1','E66.9','D50.9','J45.9','K21.9'] AS out_c,
    ARRAY['Эссенциальная (первичная) гипертензия','Сахарный диабет 2 типа без осложнений',
          'Острая инфекция верхних дыхательных путей неуточнённая','Гастрит неуточнённый','Боль внизу спины',
          'Инфекция мочевыводящих путей без установленной локализации','Общий медицинский осмотр',
          'Атеросклеротическая болезнь сердца','Ожирение неуточнённое','Железодефицитная анемия неуточнённая',
          'Астма неуточнённая','Гастроэзофагеальный рефлюкс без эзофагита'] AS out_t,
    ARRAY['J18.9','I63.9','K80.2','K35.8','I21.9','N18.3','I50.0','K85.9','I11.9','G45.9'] AS inp_c,
    ARRAY['Пневмония неуточнённая','Инфаркт мозга неуточнённый','Камни желчного пузыря без холецистита',
          'Острый аппендицит, другой и неуточнённый','Острый инфаркт миокарда неуточнённый',
          'Хроническая болезнь почек, стадия 3','Застойная сердечная недостаточность','Острый панкреатит неуточнённый',
          'Гипертензивная болезнь сердца без сердечной недостаточности',
          'Транзиторная церебральная ишемическая атака неуточнённая'] AS inp_t,
    ARRAY['J06.9','S52.5','T78.4','R10.4','A09','I10','S06.0','S93.4'] AS emg_c,
    ARRAY['Острая инфекция верхних дыхательных путей неуточнённая','Перелом нижнего конца лучевой кости',
          'Аллергия неуточнённая','Другие и неуточнённые боли в области живота',
          'Диарея и гастроэнтерит предположительно инфекционного происхождения',
          'Эссенциальная (первичная) гипертензия','Сотрясение головного мозга',
          'Растяжение и перенапряжение связок голеностопного сустава'] AS emg_t,
    ARRAY['I10','E11.9','E66.9','D50.9','N18.3'] AS sec_c,
    ARRAY['Эссенциальная (первичная) гипертензия','Сахарный диабет 2 типа без осложнений','Ожирение неуточнённое',
          'Железодефицитная анемия неуточнённая','Хроническая болезнь почек, стадия 3'] AS sec_t,
    ARRAY['J96.0','K65.0','R57.0','J90'] AS cmp_c,
    ARRAY['Острая респираторная недостаточность','Острый перитонит','Кардиогенный шок',
          'Плевральный выпот, не классифицированный в других рубриках'] AS cmp_t,
    ARRAY['I10','E11.9','I25.1','N18.3','J45.9','E66.9','I11.9','K21.9','D50.9'] AS chronic
), dx AS (
  SELECT v.visit_id, v.visit_type, v.admitted_at, v.status, v.doctor_id, k.kind, k.ko,
         CASE WHEN k.kind = 'main' AND v.visit_type = 'outpatient' THEN l.out_c
              WHEN k.kind = 'main' AND v.visit_type = 'inpatient'  THEN l.inp_c
              WHEN k.kind = 'main'                                 THEN l.emg_c
              WHEN k.kind = 'secondary'                            THEN l.sec_c
              ELSE l.cmp_c END AS codes,
         CASE WHEN k.kind = 'main' AND v.visit_type = 'outpatient' THEN l.out_t
              WHEN k.kind = 'main' AND v.visit_type = 'inpatient'  THEN l.inp_t
              WHEN k.kind = 'main'                                 THEN l.emg_t
              WHEN k.kind = 'secondary'                            THEN l.sec_t
              ELSE l.cmp_t END AS texts,
         l.chronic
  FROM his.visits v
  CROSS JOIN (VALUES ('main', 1), ('secondary', 2), ('complication', 3)) AS k(kind, ko)
  CROSS JOIN l
  WHERE v.visit_id <= 580 AND v.status <> 'CANCELLED'
    AND (   (k.kind = 'main' AND (v.visit_type <> 'outpatient' OR v.visit_id % 2 = 0))
         OR (k.kind = 'secondary' AND ((v.visit_type = 'inpatient' AND v.visit_id % 3 = 0)
                                    OR (v.visit_type = 'emergency' AND v.visit_id % 4 = 0)))
         OR (k.kind = 'complication' AND v.visit_type = 'inpatient' AND v.visit_id % 40 = 1))
), picked AS (
  SELECT row_number() OVER (ORDER BY dx.visit_id, dx.ko) AS did, dx.*,
         1 + (dx.visit_id * 7 + dx.ko) % array_length(dx.codes, 1) AS ci
  FROM dx
), coded AS (
  SELECT picked.*, codes[ci] AS icd, texts[ci] AS txt,
         admitted_at + CASE kind WHEN 'main' THEN INTERVAL '25 minutes' WHEN 'secondary' THEN INTERVAL '50 minutes'
                                 ELSE INTERVAL '2 days' END AS rec
  FROM picked
)
SELECT did, visit_id, icd, txt, kind, rec,
  CASE WHEN did % 23 = 0 THEN NULL
       WHEN icd = 'J45.9' AND visit_id % 7 = 0 THEN 'рецидив'
       WHEN icd = ANY (chronic) THEN CASE WHEN visit_id % 5 = 0 THEN 'ремиссия' ELSE 'хронический' END
       WHEN kind = 'complication' THEN 'активный'
       WHEN status = 'CLOSED' THEN 'выздоровление'
       ELSE 'активный'
  END,
  doctor_id,
  (rec + INTERVAL '5 minutes') AT TIME ZONE 'Asia/Tashkent'
FROM coded
ORDER BY did;

INSERT INTO his.diagnoses (diagnosis_id, visit_id, icd10, diagnosis_text, kind, recorded_at, clinical_status, doctor_id, updated_at) VALUES
  -- DIRTY 6001: clinical_status NULL -> clinicalStatus 'unknown' (default; the value set has 'unknown')
  (6001, 5001, 'J06.9', 'Острая инфекция верхних дыхательных путей неуточнённая', 'main', '2024-11-20 10:30', NULL, 6, '2024-11-25 14:01:00+05'),
  -- DIRTY 6002: clinical_status NULL on a chronic diagnosis -> 'unknown' (no guessing from the code)
  (6002, 5011, 'I10', 'Эссенциальная (первичная) гипертензия', 'secondary', '2024-11-12 10:00', NULL, 2, '2024-11-25 14:02:00+05'),
  -- DIRTY 6003: clinical_status 'под вопросом' (not a clinical status) -> '*' fallback: unknown
  (6003, 5006, 'Z00.0', 'Umumiy tibbiy koʻrik', 'main', '2024-11-19 11:20', 'под вопросом', 22, '2024-11-25 14:03:00+05'),
  -- DIRTY 6004: clinical_status ' Активный' (capital, leading blank) -> trim, lower -> active
  (6004, 5009, 'K29.7', 'Gastrit, aniqlanmagan', 'main', '2024-11-20 14:30', ' Активный', 14, '2024-11-25 14:04:00+05'),
  -- DIRTY 6005: ICD-10 code without the dot ('J189') -> sent as is (no ICD-10 code table)
  (6005, 5012, 'J189', 'Пневмония неуточнённая', 'main', '2024-03-01 02:40', 'активный', 17, '2024-11-25 14:05:00+05'),
  -- DIRTY 6006: ICD-10 code ' i10 ' (lower case, blanks) -> trim, upper -> 'I10'
  (6006, 5013, ' i10 ', 'Эссенциальная (первичная) гипертензия', 'main', '2024-11-22 09:30', 'хронический', 6, '2024-11-25 14:06:00+05'),
  -- DIRTY 6007: ICD-10 code 'Е11.9' whose first letter is CYRILLIC Е (U+0415) -> sent as is; only an ICD-10 table would catch it
  (6007, 5009, 'Е11.9', 'Сахарный диабет 2 типа без осложнений', 'secondary', '2024-11-20 14:35', 'хронический', 14, '2024-11-25 14:07:00+05'),
  -- DIRTY 6008: no ICD-10 code, free text only -> Condition.code.text only, no coding
  (6008, 5010, NULL, 'ЧМТ? сотрясение головного мозга под вопросом', 'main', '2024-11-24 03:40', 'активный', 9, '2024-11-25 14:08:00+05'),
  -- DIRTY 6009: diagnosis of the rejected visit 5002 (encounter reference to an Encounter never sent)
  (6009, 5002, 'I11.9', 'Гипертензивная болезнь сердца без сердечной недостаточности', 'main', '2024-11-18 10:05', 'хронический', 3, '2024-11-25 14:09:00+05'),
  -- DIRTY 6010: clinical_status 'ВЫЗДОРОВЛЕНИЕ' (upper case), Uzbek diagnosis text -> lower -> resolved
  (6010, 5003, 'S93.4', 'Boldir boʻgʻimi boylamlarining choʻzilishi', 'main', '2024-11-21 23:30', 'ВЫЗДОРОВЛЕНИЕ', 1, '2024-11-25 14:10:00+05'),
  -- DIRTY 6011: diagnosis of the rejected visit 5005 (encounter reference to an Encounter never sent)
  (6011, 5005, 'K21.9', 'Гастроэзофагеальный рефлюкс без эзофагита', 'main', '2024-11-19 09:20', 'хронический', 14, '2024-11-25 14:11:00+05');

-- ---------------------------------------------------------------------------
-- Sequences: continue after the highest key
-- ---------------------------------------------------------------------------

SELECT setval('his.patients_patient_id_seq',       (SELECT max(patient_id)   FROM his.patients));
SELECT setval('his.addresses_address_id_seq',      (SELECT max(address_id)   FROM his.addresses));
SELECT setval('his.visits_visit_id_seq',           (SELECT max(visit_id)     FROM his.visits));
SELECT setval('his.vital_signs_vital_id_seq',      (SELECT max(vital_id)     FROM his.vital_signs));
SELECT setval('his.lab_results_result_id_seq',     (SELECT max(result_id)    FROM his.lab_results));
SELECT setval('his.diagnoses_diagnosis_id_seq',    (SELECT max(diagnosis_id) FROM his.diagnoses));

COMMIT;

ANALYZE his.patients, his.addresses, his.visits, his.vital_signs, his.lab_results, his.diagnoses;
