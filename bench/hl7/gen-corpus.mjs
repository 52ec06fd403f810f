// bench/hl7/gen-corpus.mjs: the HL7 v2 corpus of bench/hl7/run.sh.
//
//   node gen-corpus.mjs OUTDIR MESSAGES [PER_FILE] [ORU_PERCENT]
//
// Writes OUTDIR/corpus-0001.hl7, ... with PER_FILE (default 10000) messages each, segments ended by CR
// (no LF anywhere), no batch envelope.  ORU_PERCENT (default 70) of the messages are ORU^R01, the rest
// ADT^A01.  The messages repeat a few realistic templates:
//   ORU A  a hospital laboratory's CBC (complete blood count): 8 NM OBX with UCUM units, ranges and H/L
//          flags, an NTE with escape sequences (\T\, \.br\)
//   ORU B  a biochemistry panel with local unit spellings (mmol/L, umol/L, U/L), one TX comment OBX
//          with \F\ and \.br\ escapes, Cyrillic names (MSH-18 UNICODE UTF-8)
//   ORU C  a public-health lab report (after CDC ReportStream's Example-hl7-file.hl7 and oru_r01-full.hl7
//          in /work/shared/ext-samples): ORC, OBR, 5 CWE OBX with SNOMED answers, OBX-17 with \T\, SPM
//   ADT A  an inpatient admission: EVN, PID, NK1, PV1 (ward/room/bed, attending doctor, visit number,
//          admit date), PV2, DG1 (ICD-10), AL1
//   ADT B  an emergency admission with a Cyrillic name
// and every message varies: MSH-10 (unique), MSH-7, PID-3 (hospital MRN and PINFL), names, birth date,
// sex, address, order numbers, visit number, dates, OBX values and flags.  A seeded PRNG makes the corpus
// the same from run to run (BENCH_SEED, default 1).
import { mkdirSync, openSync, writeSync, closeSync } from 'node:fs';
import { join } from 'node:path';

const [outDir, nArg, perArg, oruArg] = process.argv.slice(2);
if (!outDir || !nArg) {
  console.error('usage: node gen-corpus.mjs OUTDIR MESSAGES [PER_FILE] [ORU_PERCENT]');
  process.exit(2);
}
const N = parseInt(nArg, 10);
const PER = parseInt(perArg ?? '10000', 10);
const ORU_PCT = parseInt(oruArg ?? '70', 10);
if (!(N > 0) || !(PER > 0) || !(ORU_PCT >= 0 && ORU_PCT <= 100)) {
  console.error('gen-corpus: bad arguments');
  process.exit(2);
}

// --- deterministic PRNG (mulberry32) ------------------------------------------------------------------
let seed = (parseInt(process.env.BENCH_SEED ?? '1', 10) >>> 0) || 1;
function rnd() {
  seed = (seed + 0x6d2b79f5) >>> 0;
  let t = seed;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
}
const int = (lo, hi) => lo + Math.floor(rnd() * (hi - lo + 1));
const pick = (a) => a[Math.floor(rnd() * a.length)];
const pad = (n, w) => String(n).padStart(w, '0');
const dec = (lo, hi, d) => (lo + rnd() * (hi - lo)).toFixed(d);

// --- people --------------------------------------------------------------------------------------------
const LAT_FAMILY = ['Karimov', 'Rahimov', 'Yusupov', 'Toshmatov', 'Abdullayev', 'Xolmatov', 'Ergashev',
  'Nazarov', 'Qodirov', 'Sobirov', 'Mirzayev', 'Islomov', "To'xtayev", 'Usmonov', 'Saidov', 'Aliyev',
  "G'ulomov", 'Hamidov', 'Jurayev', 'Normatov'];
const LAT_MALE = ['Aziz', 'Bekzod', 'Jasur', 'Sardor', 'Otabek', 'Rustam', 'Sherzod', 'Dilshod', 'Farrux',
  "Ulug'bek", 'Javlon', 'Bobur', 'Akmal', 'Timur', 'Nodir'];
const LAT_FEMALE = ['Dilnoza', 'Gulnora', 'Malika', 'Nigora', 'Shahnoza', 'Zarina', 'Feruza', 'Madina',
  'Nodira', 'Kamola', 'Sevara', 'Mohira', 'Lola', 'Yulduz', 'Barno'];
const LAT_FATHER = ['Anvar', 'Bahodir', 'Shavkat', 'Erkin', 'Alisher', 'Rustam', 'Abdulla', 'Hamid',
  'Karim', 'Olim'];
const CYR_FAMILY = ['Каримов', 'Рахимов', 'Юсупов', 'Тошматов', 'Абдуллаев', 'Эргашев', 'Назаров',
  'Кодиров', 'Собиров', 'Мирзаев', 'Исмоилов', 'Усмонов', 'Саидов', 'Алиев', 'Иванов', 'Петров'];
const CYR_MALE = ['Азиз', 'Бекзод', 'Жасур', 'Сардор', 'Отабек', 'Рустам', 'Шерзод', 'Дилшод', 'Тимур',
  'Алексей', 'Сергей'];
const CYR_FEMALE = ['Дилноза', 'Гулнора', 'Малика', 'Нигора', 'Шахноза', 'Зарина', 'Феруза', 'Мадина',
  'Ольга', 'Елена'];
const CYR_FATHER = ['Анвар', 'Баходир', 'Шавкат', 'Эркин', 'Алишер', 'Рустам', 'Абдулла', 'Хамид'];
const STREETS = ["Amir Temur ko'chasi", "Navoiy ko'chasi", "Bobur ko'chasi", "Mustaqillik ko'chasi",
  "Shota Rustaveli ko'chasi", "Bunyodkor shoh ko'chasi", "Chilonzor 9-kvartal", "Yunusobod 4-kvartal"];
const CITIES = [['Toshkent', '100000'], ['Samarqand', '140100'], ['Buxoro', '200100'], ['Namangan', '160100'],
  ['Andijon', '170100'], ["Farg'ona", '150100'], ['Nukus', '230100'], ['Qarshi', '180100']];
const DOCTORS = [['D1001', 'Rasulov', 'Anvar'], ['D1002', 'Ismoilova', 'Gulchehra'], ['D1003', 'Qosimov', 'Botir'],
  ['D1004', 'Xasanova', 'Dilfuza'], ['D1005', 'Yoqubov', 'Sanjar']];

function person(cyr) {
  const male = rnd() < 0.5;
  const family = pick(cyr ? CYR_FAMILY : LAT_FAMILY);
  const father = pick(cyr ? CYR_FATHER : LAT_FATHER);
  const fam = male ? family : family + 'а';
  return {
    sex: male ? 'M' : 'F',
    family: cyr ? fam : male ? family : family + 'a',
    given: pick(cyr ? (male ? CYR_MALE : CYR_FEMALE) : male ? LAT_MALE : LAT_FEMALE),
    middle: cyr ? father + (male ? 'ович' : 'овна') : father + (male ? 'ovich' : 'ovna'),
    dob: `${int(1940, 2020)}${pad(int(1, 12), 2)}${pad(int(1, 28), 2)}`,
    mrn: `MRN${pad(int(1, 99999999), 8)}`,
    pinfl: `${int(3, 6)}${pad(int(0, 9999999999), 10)}${pad(int(0, 999), 3)}`,
    street: `${pick(STREETS)} ${int(1, 120)}`,
    city: pick(CITIES),
    phone: `${pick(["90", "91", "93", "94", "97", "99"])}^${pad(int(0, 9999999), 7)}`,
  };
}

// --- dates ---------------------------------------------------------------------------------------------
// A point in 2023-2024, as YYYYMMDDHHMM[SS]; `plus` minutes later.
function when() {
  return { y: int(2023, 2024), mo: int(1, 12), d: int(1, 28), h: int(0, 23), mi: int(0, 59), s: int(0, 59) };
}
function ts(t, plus = 0, secs = true) {
  const dt = new Date(Date.UTC(t.y, t.mo - 1, t.d, t.h, t.mi + plus, t.s));
  const base = `${dt.getUTCFullYear()}${pad(dt.getUTCMonth() + 1, 2)}${pad(dt.getUTCDate(), 2)}` +
    `${pad(dt.getUTCHours(), 2)}${pad(dt.getUTCMinutes(), 2)}`;
  return secs ? base + pad(dt.getUTCSeconds(), 2) : base;
}

let seq = 0;
const ctrl = (p) => `${p}${pad(++seq, 9)}`;
const pidSeg = (p, withAddr = true) =>
  `PID|1||${p.mrn}^^^HOSP^MR~${p.pinfl}^^^PINFL^NI||${p.family}^${p.given}^${p.middle}^^^^L||${p.dob}|${p.sex}|||` +
  (withAddr ? `${p.street}^^${p.city[0]}^^${p.city[1]}^UZB^H` : '') +
  `||^PRN^PH^^998^${p.phone}`;
const flag = (v, lo, hi) => (v < lo ? 'L' : v > hi ? 'H' : 'N');

// ORU A: complete blood count
const CBC = [
  ['718-7', 'Hemoglobin [Mass/volume] in Blood', 'g/L', 90, 175, 0, 120, 160],
  ['789-8', 'Erythrocytes [#/volume] in Blood by Automated count', '10*12/L', 3.2, 5.9, 2, 3.9, 5.5],
  ['6690-2', 'Leukocytes [#/volume] in Blood by Automated count', '10*9/L', 2.5, 14, 1, 4.0, 9.0],
  ['777-3', 'Platelets [#/volume] in Blood by Automated count', '10*9/L', 110, 480, 0, 150, 400],
  ['4544-3', 'Hematocrit [Volume Fraction] of Blood by Automated count', '%', 30, 52, 1, 36, 48],
  ['787-2', 'MCV [Entitic volume] by Automated count', 'fL', 72, 102, 1, 80, 100],
  ['785-6', 'MCH [Entitic mass] by Automated count', 'pg', 24, 35, 1, 27, 33],
  ['30341-2', 'Erythrocyte sedimentation rate', 'mm/h', 2, 45, 0, 2, 20],
];
function oruA() {
  const p = person(false), t = when(), dr = pick(DOCTORS);
  const order = pad(int(1, 99999999), 8);
  const segs = [
    `MSH|^~\\&|LIS^lab.rshcc.uz^DNS|RSHCC_LAB^1.2.860.3.2.1.1001^ISO|DHP^dhp.uz^DNS|DHP|${ts(t, 95)}+0500||ORU^R01^ORU_R01|${ctrl('LAB')}|P|2.5.1|||NE|NE|UZB|UNICODE UTF-8`,
    pidSeg(p),
    `PV1|1|O|LAB^^^RSHCC||||${dr[0]}^${dr[1]}^${dr[2]}`,
    `ORC|RE|ORD${order}^HIS|LAB${order}^LIS|||||||||${dr[0]}^${dr[1]}^${dr[2]}`,
    `OBR|1|ORD${order}^HIS|LAB${order}^LIS|58410-2^CBC panel - Blood by Automated count^LN|||${ts(t)}|||||||||${dr[0]}^${dr[1]}^${dr[2]}||||||${ts(t, 95)}+0500|||F`,
  ];
  CBC.forEach((c, i) => {
    const v = dec(c[3], c[4], c[5]);
    segs.push(`OBX|${i + 1}|NM|${c[0]}^${c[1]}^LN||${v}|${c[2]}^${c[2]}^UCUM|${c[6]}-${c[7]}|${flag(+v, c[6], c[7])}|||F|||${ts(t)}`);
  });
  segs.push(`NTE|1|L|Namuna ${pick(['biroz gemolizlangan', 'toza', 'lipemik'])} \\T\\ qayta tekshirildi.\\.br\\Tasdiqladi: ${dr[1]} ${dr[2]}`);
  return segs;
}

// ORU B: biochemistry, Cyrillic patient
const CHEM = [
  ['2345-7', 'Glucose [Moles/volume] in Serum or Plasma', 'mmol/L', 3.2, 14, 1, 3.9, 6.1],
  ['2160-0', 'Creatinine [Moles/volume] in Serum or Plasma', 'umol/L', 45, 180, 0, 62, 115],
  ['3094-0', 'Urea nitrogen [Moles/volume] in Serum or Plasma', 'mmol/L', 2, 14, 1, 2.5, 8.3],
  ['1742-6', 'Alanine aminotransferase [Enzymatic activity/volume] in Serum or Plasma', 'U/L', 5, 120, 0, 7, 41],
  ['1920-8', 'Aspartate aminotransferase [Enzymatic activity/volume] in Serum or Plasma', 'U/L', 5, 110, 0, 10, 40],
  ['1975-2', 'Bilirubin.total [Moles/volume] in Serum or Plasma', 'umol/L', 3, 60, 1, 3.4, 20.5],
  ['2093-3', 'Cholesterol [Moles/volume] in Serum or Plasma', 'mmol/L', 2.5, 8.5, 2, 3.0, 5.2],
];
function oruB() {
  const p = person(true), t = when(), dr = pick(DOCTORS);
  const order = pad(int(1, 99999999), 8);
  const segs = [
    `MSH|^~\\&|LIS^lab.rshcc.uz^DNS|RSHCC_LAB^1.2.860.3.2.1.1001^ISO|DHP^dhp.uz^DNS|DHP|${ts(t, 140)}+0500||ORU^R01^ORU_R01|${ctrl('BIO')}|P|2.5.1|||NE|NE|UZB|UNICODE UTF-8`,
    pidSeg(p),
    `PV1|1|I|TER^${int(101, 420)}^${int(1, 4)}^RSHCC||||${dr[0]}^${dr[1]}^${dr[2]}`,
    `ORC|RE|ORD${order}^HIS|BIO${order}^LIS`,
    `OBR|1|ORD${order}^HIS|BIO${order}^LIS|24323-8^Comprehensive metabolic 2000 panel - Serum or Plasma^LN|||${ts(t)}|||||||||${dr[0]}^${dr[1]}^${dr[2]}||||||${ts(t, 140)}+0500|||${pick(['F', 'F', 'F', 'P', 'C'])}`,
  ];
  CHEM.forEach((c, i) => {
    const v = dec(c[3], c[4], c[5]);
    segs.push(`OBX|${i + 1}|NM|${c[0]}^${c[1]}^LN||${v}|${c[2]}|${c[6]}-${c[7]}|${flag(+v, c[6], c[7])}|||F|||${ts(t)}`);
  });
  segs.push(`OBX|${CHEM.length + 1}|TX|8251-1^Service comment^LN||Образец: сыворотка \\F\\ ${pick(['натощак', 'не натощак'])}.\\.br\\Повторный анализ через ${int(2, 30)} дней.||||||F|||${ts(t)}`);
  return segs;
}

// ORU C: public-health lab report (ReportStream shape)
const ASK = [
  ['95418-0', 'Whether patient is employed in a healthcare setting'],
  ['95417-2', 'First test for condition of interest'],
  ['95421-4', 'Resides in a congregate care setting'],
  ['95419-8', 'Has symptoms related to condition of interest'],
];
function oruC() {
  const p = person(false), t = when();
  const id = `${pad(int(0, 0xffffffff).toString(16), 8)}-${pad(int(0, 0xffff).toString(16), 4)}-4${pad(int(0, 0xfff).toString(16), 3)}`;
  const res = pick([['260415000', 'Not detected'], ['260415000', 'Not detected'], ['260373001', 'Detected']]);
  const when1 = `${ts(t, 0, false)}+0500`;
  const segs = [
    `MSH|^~\\&|CDC PRIME - Atlanta,^2.16.840.1.114222.4.1.237821^ISO|RSSV_LAB^1.2.860.3.2.1.2001^ISO|DHP^dhp.uz^DNS|DHP|${ts(t, 60)}+0500||ORU^R01^ORU_R01|${id}|P|2.5.1|||NE|NE|UZB|UNICODE UTF-8|||PHLabReport-NoAck^ELR_Receiver^2.16.840.1.113883.9.11^ISO`,
    `SFT|Centers for Disease Control and Prevention|0.1-SNAPSHOT|PRIME Data Hub|0.1-SNAPSHOT||202107260000`,
    pidSeg(p),
    `ORC|RE|${id}^RSSV_LAB^1.2.860.3.2.1.2001^ISO|${id}^RSSV_LAB^1.2.860.3.2.1.2001^ISO|||||||||1679892871^Doolittle^Doctor^^^^^^CMS&2.16.840.1.113883.3.249&ISO^^^^NPI||(123)456-7890^WPN^PH^^1^123^4567890|${when1}||||||Winchester House|6789 Main St^^San Jose^CA^95126^^^^06085`,
    `OBR|1|${id}^RSSV_LAB^1.2.860.3.2.1.2001^ISO|${id}^RSSV_LAB^1.2.860.3.2.1.2001^ISO|94558-4^SARS-CoV-2 (COVID-19) Ag [Presence] in Respiratory specimen by Rapid immunoassay^LN^^^^2.68|||${when1}|${when1}||||||||1679892871^Doolittle^Doctor^^^^^^CMS&2.16.840.1.113883.3.249&ISO^^^^NPI|(123)456-7890^WPN^PH^^1^123^4567890|||||${when1}|||F`,
    `OBX|1|CWE|94558-4^SARS-CoV-2 (COVID-19) Ag [Presence] in Respiratory specimen by Rapid immunoassay^LN^^^^2.68||${res[0]}^${res[1]}^SCT|||${res[0] === '260373001' ? 'A^Abnormal' : 'N^Normal'}^HL70078^^^^2.7|||F|||${when1}|05D2222542^ISO||BD Veritor System for Rapid Detection of SARS-CoV-2 \\T\\ Flu A+B^BD Veritor System for Rapid Detection of SARS-CoV-2^99ELR^^^^2.68||${when1}||||Winchester House^^^^^ISO&2.16.840.1.113883.19.4.6&ISO^XX^^^05D2222542|6789 Main St^^San Jose^CA^95126^^^^06085`,
  ];
  ASK.forEach((a, i) => {
    const yn = pick([['N', 'No'], ['N', 'No'], ['Y', 'Yes'], ['UNK', 'Unknown']]);
    segs.push(`OBX|${i + 2}|CWE|${a[0]}^${a[1]}^LN^^^^2.69||${yn[0]}^${yn[1]}^HL70136||||||F|||${when1}|05D2222542||||${when1}||||Winchester House^^^^^ISO&2.16.840.1.113883.19.4.6&ISO^XX^^^05D2222542|6789 Main St^^San Jose^CA^95126-5285^^^^06085|||||QST`);
  });
  segs.push(`SPM|1|${id}&RSSV_LAB&1.2.860.3.2.1.2001&ISO^${id}&RSSV_LAB&1.2.860.3.2.1.2001&ISO||445297001^Swab of internal nose^SCT^^^^2.67||||53342003^Internal nose structure (body structure)^SCT^^^^2020-09-01|||||||||${when1}|${ts(t, 5)}+0500`);
  return segs;
}

// ADT A / B: admissions
const DIAG = [['I21.9', 'Acute myocardial infarction, unspecified'], ['J18.9', 'Pneumonia, unspecified organism'],
  ['K35.8', 'Other and unspecified acute appendicitis'], ['E11.9', 'Type 2 diabetes mellitus without complications'],
  ['I63.9', 'Cerebral infarction, unspecified'], ['S72.0', 'Fracture of head and neck of femur']];
const WARDS = ['KARD', 'TER', 'XIR', 'NEVR', 'TRAV', 'PULM'];
function adt(cyr, emergency) {
  const p = person(cyr), t = when(), dr = pick(DOCTORS), dg = pick(DIAG);
  const kin = person(cyr);
  const visit = `V${pad(int(1, 999999999), 9)}`;
  return [
    `MSH|^~\\&|HIS^his.rshcc.uz^DNS|RSHCC^1.2.860.3.2.1.1000^ISO|DHP^dhp.uz^DNS|DHP|${ts(t, 2)}+0500||ADT^A01^ADT_A01|${ctrl('ADT')}|P|2.5.1|||AL|NE|UZB|UNICODE UTF-8`,
    `EVN|A01|${ts(t, 2)}+0500|||${dr[0]}^${dr[1]}^${dr[2]}`,
    pidSeg(p),
    `NK1|1|${kin.family}^${kin.given}^${kin.middle}|${pick(['SPO^Spouse', 'PAR^Parent', 'CHD^Child', 'SIB^Sibling'])}^HL70063||^PRN^PH^^998^${kin.phone}`,
    `PV1|1|${emergency ? 'E' : 'I'}|${pick(WARDS)}^${int(101, 420)}^${int(1, 4)}^RSHCC|${emergency ? 'E' : 'R'}|||${dr[0]}^${dr[1]}^${dr[2]}|||${emergency ? 'EMR' : 'MED'}||||${emergency ? '7' : '1'}|||${dr[0]}^${dr[1]}^${dr[2]}|IP|${visit}^^^HOSP^VN|||||||||||||||||||||||||${ts(t)}+0500`,
    `PV2|||${dg[0]}^${dg[1]}^I10`,
    `DG1|1||${dg[0]}^${dg[1]}^I10||${ts(t)}+0500|A`,
    `AL1|1|DA|${pick(['70618^Penicillin', '2670^Codeine', '1191^Aspirin'])}^RXNORM|${pick(['SV', 'MO', 'MI'])}|${pick(['Hives', 'Rash', 'Anaphylaxis'])}`,
  ];
}

const ORU = [oruA, oruB, oruC];
mkdirSync(outDir, { recursive: true });
let fileNo = 0, fd = -1, inFile = 0, oru = 0;
for (let i = 0; i < N; i++) {
  if (fd < 0) {
    fd = openSync(join(outDir, `corpus-${pad(++fileNo, 4)}.hl7`), 'w');
    inFile = 0;
  }
  // exactly ORU_PCT % ORU, interleaved
  const isOru = Math.floor(((i + 1) * ORU_PCT) / 100) > Math.floor((i * ORU_PCT) / 100);
  const segs = isOru ? ORU[oru++ % ORU.length]() : adt(rnd() < 0.3, rnd() < 0.25);
  writeSync(fd, segs.join('\r') + '\r');
  if (++inFile === PER || i === N - 1) {
    closeSync(fd);
    fd = -1;
  }
}
console.log(`${N} messages (${oru} ORU^R01, ${N - oru} ADT^A01) in ${fileNo} files under ${outDir}`);
