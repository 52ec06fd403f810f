// bench/hl7/peer.mjs: the JavaScript peer of bench/hl7/run.sh.  Does the job of
//   dhp-import validate --source hl7v2 FILE... --out OUT --records-per-bundle 1
// with @medplum/core's HL7 v2 support: one FHIR R5 transaction Bundle per message, one file per Bundle.
//
//   node peer.mjs --codes mappings/hl7v2/codes --out OUT FILE...
//
// For every file: read it whole (UTF-8), cut it into messages at each MSH, and for each message:
//   * Hl7Message.parse() (@medplum/core 4.5.2);
//   * build the resources of the shipped mappings (mappings/hl7v2/oru.map, adt.map), reduced to the
//     elements the bench corpus fills: Patient (PID-3 identifiers with their systems and types, PID-5
//     name, PID-7, PID-8, PID-11 address, PID-13 phone, PD1 doctor and facility as references),
//     Encounter (PV1: visit number, status, class, type, priority, admit date, the doctors of PV1-7/17/8/9
//     and the PV1-3 location as references naming them), for ORU^R01 a DiagnosticReport per OBR (filler/placer ids, status,
//     code, dates, results, specimens), an Observation per OBX (status, code, value by OBX-2: NM
//     Quantity with UCUM unit, SN, CWE/CE CodeableConcept, ST/TX/FT string; interpretation, range,
//     effective date, the note of the NTE after it) and a Specimen per SPM.  Code values go through the same CSV code tables as
//     dhp-import's (mappings/hl7v2/codes);
//   * fullUrl urn:uuid: UUID v5 (SHA-1) of "table|key|FILE:msg#N|type|name|occurrence" in dhp-import's
//     namespace, as dhp-import names its resources (PEER_UUID=random: crypto.randomUUID() instead);
//   * request POST TYPE, ifNoneExist on the official identifier, else the first; a resource without
//     a business identifier gets its own urn:uuid as identifier (system urn:ietf:rfc:3986);
//   * JSON.stringify, one entry per line as dhp-import lays its bundles out, written to
//     OUT/bundle-NNNNNN.json through a temporary name and rename() (dhp-import does the same).
// @medplum/core does NOT decode HL7 escape sequences (Hl7Field.getComponent returns the raw text;
// Hl7Context keeps the escape character but nothing reads it), so the peer decodes them itself, on
// every value it takes (unescape() below; PEER_UNESCAPE=0 turns that off).  Dates go through medplum's
// parseHl7DateTime (UTC ISO instants; local time +05:00 when the value has no offset).
// Prints one JSON line: messages, bundles, rejected, resources by type, bytes written.
import { Hl7Message, parseHl7DateTime } from '@medplum/core';
import { createHash, randomUUID } from 'node:crypto';
import { readFileSync, writeFileSync, renameSync, mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

// --- arguments ------------------------------------------------------------------------------------------
const argv = process.argv.slice(2);
let codesDir = null, outDir = null;
const files = [];
for (let i = 0; i < argv.length; i++) {
  if (argv[i] === '--codes') codesDir = argv[++i];
  else if (argv[i] === '--out') outDir = argv[++i];
  else files.push(argv[i]);
}
if (!codesDir || !outDir || files.length === 0) {
  console.error('usage: node peer.mjs --codes DIR --out DIR FILE...');
  process.exit(2);
}
const RANDOM_UUID = process.env.PEER_UUID === 'random';
const UNESCAPE = process.env.PEER_UNESCAPE !== '0';
const TZ = '+0500'; // the job's time zone (Asia/Tashkent), as dhp-import's default

// --- code tables (the same CSV files dhp-import reads) -----------------------------------------------------
function parseCsvLine(line) {
  const out = [];
  let cur = '', q = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (q) {
      if (c === '"' && line[i + 1] === '"') { cur += '"'; i++; }
      else if (c === '"') q = false;
      else cur += c;
    } else if (c === '"') q = true;
    else if (c === ',') { out.push(cur); cur = ''; }
    else cur += c;
  }
  out.push(cur);
  return out;
}
const tables = {};
for (const f of readdirSync(codesDir)) {
  if (!f.endsWith('.csv')) continue;
  const lines = readFileSync(join(codesDir, f), 'utf8').split(/\r?\n/).filter((l) => l && !l.startsWith('#'));
  const head = parseCsvLine(lines[0]);
  const rows = new Map();
  for (const l of lines.slice(1)) {
    const cols = parseCsvLine(l);
    const row = {};
    head.forEach((h, i) => (row[h] = cols[i] ?? ''));
    rows.set(cols[0], row);
  }
  tables[f.slice(0, -4)] = rows;
}
// code(TABLE[, COLUMN]): the row of the value, else the '*' row; '' -> undefined
function code(table, v, col = 'target') {
  if (v === undefined) return undefined;
  const t = tables[table];
  const row = t.get(v) ?? t.get('*');
  const r = row?.[col];
  return r ? r : undefined;
}
const LOCAL = (name) => tables['local-systems'].get(name).target;

// --- HL7 values -----------------------------------------------------------------------------------------
// Decode the escape sequences of ctx's encoding characters (what dhp-import's hl7_unescape does for the
// ones a feed uses: \F\ \S\ \T\ \R\ \E\ \Xhh..\ \.br\; highlighting and other formatting dropped).
function unescape(s, ctx) {
  const e = ctx.escapeCharacter;
  if (!UNESCAPE || s.indexOf(e) < 0) return s;
  let out = '';
  let i = 0;
  while (i < s.length) {
    const a = s.indexOf(e, i);
    if (a < 0) { out += s.slice(i); break; }
    const b = s.indexOf(e, a + 1);
    if (b < 0) { out += s.slice(i); break; }
    out += s.slice(i, a);
    const seq = s.slice(a + 1, b);
    switch (seq) {
      case 'F': out += ctx.fieldSeparator; break;
      case 'S': out += ctx.componentSeparator; break;
      case 'T': out += ctx.subcomponentSeparator; break;
      case 'R': out += ctx.repetitionSeparator; break;
      case 'E': out += e; break;
      case '.br': out += '\n'; break;
      case 'H': case 'N': break;
      default:
        if (seq[0] === 'X' && /^X([0-9A-Fa-f]{2})+$/.test(seq)) out += Buffer.from(seq.slice(1), 'hex').toString('utf8');
        else if (seq[0] === '.' || seq[0] === 'Z' || seq[0] === 'C' || seq[0] === 'M') { /* dropped */ }
        else out += e + seq + e;
    }
    i = b + 1;
  }
  return out;
}
// The value at field f, component c (1-based, 0 = the whole repetition), subcomponent s (1-based, 0 = whole), repetition r
// (0-based), unescaped; undefined when empty, absent or the explicit null "".
function val(seg, f, c = 1, s = 0, r = 0) {
  if (!seg) return undefined;
  const field = seg.getField(f);
  if (!field || r >= field.components.length) return undefined;
  // c = 0: the whole repetition; medplum's subcomponent index is 0-based (split()[subcomponent])
  let v = c === 0 ? field.components[r].join(seg.context.componentSeparator)
    : s ? field.getComponent(c, s - 1, r) : field.getComponent(c, undefined, r);
  if (!v || v === '""') return undefined;
  v = unescape(v, seg.context).trim();
  return v === '' ? undefined : v;
}
const reps = (seg, f) => {
  const field = seg?.getField(f);
  if (!field) return 0;
  const n = field.components.length;
  return n === 1 && field.components[0].every((x) => x === '') ? 0 : n;
};
function dateTime(v) {
  return v === undefined ? undefined : parseHl7DateTime(v, { tzOffset: TZ });
}
function date(v) {
  if (v === undefined || v === '0000') return undefined;
  if (v.length >= 8) return `${v.slice(0, 4)}-${v.slice(4, 6)}-${v.slice(6, 8)}`;
  if (v.length >= 6) return `${v.slice(0, 4)}-${v.slice(4, 6)}`;
  return v.slice(0, 4);
}
function decimal(v) {
  if (v === undefined) return undefined;
  const n = Number(v.replace(',', '.'));
  if (!Number.isFinite(n)) throw new Error(`not a decimal: '${v}'`);
  return n;
}
// remove undefined members (what dhp-import's compaction of empty elements does)
function clean(o) {
  if (Array.isArray(o)) {
    const a = o.map(clean).filter((x) => x !== undefined);
    return a.length ? a : undefined;
  }
  if (o !== null && typeof o === 'object') {
    let any = false;
    for (const k of Object.keys(o)) {
      const v = clean(o[k]);
      if (v === undefined) delete o[k];
      else { o[k] = v; any = true; }
    }
    return any ? o : undefined;
  }
  return o;
}
const oidSystem = (kind, uid) => (kind === 'ISO' ? 'urn:oid:' : kind === 'UUID' ? 'urn:uuid:' : '') + uid;
// CWE at seg-f starting at component `at` (1 or 4): a Coding
function coding(seg, f, at) {
  const c = val(seg, f, at);
  if (c === undefined) return undefined;
  const sysName = val(seg, f, at + 2);
  return {
    system: sysName === undefined ? undefined : code('coding-system', sysName) ?? LOCAL('code-system') + sysName,
    code: c,
    display: val(seg, f, at + 1),
    version: val(seg, f, at === 1 ? 7 : 8),
  };
}
function concept(seg, f) {
  const c0 = coding(seg, f, 1), c1 = coding(seg, f, 4);
  return { coding: [c0, c1], text: c0 ? val(seg, f, 9) : val(seg, f, 2) ?? val(seg, f, 9) };
}
function ei(seg, f, typeCode, localName, defaultNs) {
  const value = val(seg, f, 1);
  if (value === undefined) return undefined;
  const ns = val(seg, f, 2), uid = val(seg, f, 3), kind = val(seg, f, 4);
  let system = defaultNs !== undefined ? LOCAL(localName) + defaultNs : undefined;
  if (ns !== undefined) system = LOCAL(localName) + ns;
  if (uid !== undefined) system = oidSystem(kind, uid);
  return {
    type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: typeCode }] },
    system,
    value,
  };
}

// the parts present, separated by a space (dhp-import's join(" ", ...))
const joinPresent = (...parts) => {
  const p = parts.filter((x) => x !== undefined);
  return p.length ? p.join(' ') : undefined;
};
const idSystem = (kind, uid) => (kind === undefined ? undefined
  : (kind === 'ISO' ? 'urn:oid:' : kind === 'UUID' ? 'urn:uuid:' : '') + uid);
// XCN as a reference naming the person (datatypes.map, XCN Reference)
function xcnRef(seg, f) {
  if (val(seg, f, 0) === undefined) return undefined;
  return {
    display: joinPresent(val(seg, f, 6), val(seg, f, 2, 1), val(seg, f, 3), val(seg, f, 4), val(seg, f, 5)),
    identifier: val(seg, f, 9, 2) === undefined ? undefined
      : { system: idSystem(val(seg, f, 9, 3), val(seg, f, 9, 2)), value: val(seg, f, 1) },
  };
}
// XON as a reference naming the organization (XON Reference)
function xonRef(seg, f) {
  if (val(seg, f, 0) === undefined) return undefined;
  return {
    display: val(seg, f, 1),
    identifier: val(seg, f, 6, 2) === undefined ? undefined
      : { system: idSystem(val(seg, f, 6, 3), val(seg, f, 6, 2)), value: val(seg, f, 10) ?? val(seg, f, 3) },
  };
}
// PL as a reference naming the place (PL Reference)
function plRef(seg, f) {
  if (val(seg, f, 0) === undefined) return undefined;
  return { display: joinPresent(val(seg, f, 4, 1), val(seg, f, 7), val(seg, f, 8), val(seg, f, 1), val(seg, f, 2), val(seg, f, 3)) };
}
const PARTICIPANTS = [[7, 'ATND', 'attender'], [17, 'ADM', 'admitter'], [8, 'REF', 'referrer'], [9, 'CON', 'consultant']];

// --- resources ------------------------------------------------------------------------------------------
const PROFILE = (t) => ({ profile: [`https://dhp.uz/fhir/core/StructureDefinition/uz-core-${t}`] });

function patient(msh, pid, pd1) {
  const identifier = [];
  for (let r = 0; r < reps(pid, 3); r++) {
    const value = val(pid, 3, 1, 0, r);
    if (value === undefined) continue;
    const ns = val(pid, 3, 4, 1, r), uid = val(pid, 3, 4, 2, r), kind = val(pid, 3, 4, 3, r);
    let type = val(pid, 3, 5, 0, r);
    let system = val(msh, 4) !== undefined ? LOCAL('patient-id') + val(msh, 4) : undefined;
    if (ns !== undefined) system = LOCAL('patient-id') + ns;
    if (uid !== undefined) system = oidSystem(kind, uid);
    const byAuth = (uid !== undefined && tables['assigning-authority'].get(uid)) ||
      (ns !== undefined && tables['assigning-authority'].get(ns));
    if (byAuth) {
      system = byAuth.target;
      if (byAuth.type) type = byAuth.type;
    }
    if (type === 'NI') system = 'https://dhp.uz/fhir/core/sid/pid/uz/ni';
    identifier.push({
      system,
      value,
      type: type && code('identifier-type', type)
        ? { coding: [{ system: code('identifier-type', type, 'system'), code: code('identifier-type', type),
          display: code('identifier-type', type, 'display') }] }
        : undefined,
      use: type ? code('identifier-type', type, 'use') : undefined,
    });
  }
  const name = [];
  for (let r = 0; r < reps(pid, 5); r++) {
    name.push({
      family: val(pid, 5, 1, 1, r),
      given: [val(pid, 5, 2, 0, r), val(pid, 5, 3, 0, r)],
      suffix: [val(pid, 5, 4, 0, r)],
      prefix: [val(pid, 5, 5, 0, r)],
      use: code('name-use', val(pid, 5, 7, 0, r)),
    });
  }
  const address = [];
  for (let r = 0; r < reps(pid, 11); r++) {
    const use = val(pid, 11, 7, 0, r);
    address.push({
      use: code('address-use', use),
      type: code('address-use', use, 'type'),
      line: [val(pid, 11, 1, 1, r), val(pid, 11, 2, 0, r)],
      city: val(pid, 11, 3, 0, r),
      district: val(pid, 11, 9, 0, r),
      state: val(pid, 11, 4, 0, r),
      postalCode: val(pid, 11, 5, 0, r),
      country: code('country', val(pid, 11, 6, 0, r)),
    });
  }
  const telecom = [];
  for (let r = 0; r < reps(pid, 13); r++) {
    const cc = val(pid, 13, 5, 0, r), area = val(pid, 13, 6, 0, r), local = val(pid, 13, 7, 0, r);
    const email = val(pid, 13, 4, 0, r), equip = val(pid, 13, 3, 0, r);
    let value = val(pid, 13, 1, 0, r);
    if (local !== undefined) value = local;
    if (area !== undefined && local !== undefined) value = `${area} ${local}`;
    if (cc !== undefined) value = `+${cc} ${area ?? ''} ${local ?? ''}`;
    if (val(pid, 13, 12, 0, r) !== undefined) value = val(pid, 13, 12, 0, r);
    if (email !== undefined && (equip === undefined || equip === 'Internet' || equip === 'X.400')) value = email;
    let use = code('telecom-use', val(pid, 13, 2, 0, r)) ?? 'home';
    if (equip === 'CP') use = 'mobile';
    telecom.push({
      value,
      system: equip !== undefined ? code('telecom-system', equip) : email !== undefined ? 'email' : 'phone',
      use,
    });
  }
  const marital = val(pid, 16);
  return {
    resourceType: 'Patient',
    meta: PROFILE('patient'),
    identifier,
    name,
    birthDate: date(val(pid, 7)),
    gender: code('sex', val(pid, 8)),
    address,
    telecom,
    maritalStatus: marital && code('marital-status', marital)
      ? { coding: [{ system: code('marital-status', marital, 'system'), code: code('marital-status', marital),
        display: code('marital-status', marital, 'display') }] }
      : undefined,
    deceasedDateTime: dateTime(val(pid, 29)),
    generalPractitioner: [xcnRef(pd1, 4), xonRef(pd1, 3)],
  };
}

function encounter(msh, pv1, adt, patientRef) {
  const cls = val(pv1, 2);
  const visit = val(pv1, 19);
  let status = adt ? code('encounter-status', val(msh, 9, 2)) : code('encounter-status-class', cls);
  if (val(pv1, 45) !== undefined) status = 'completed';
  const prio = val(pv1, 4);
  const service = val(pv1, 10);
  return {
    resourceType: 'Encounter',
    meta: PROFILE('encounter'),
    identifier: visit === undefined ? undefined : [{
      use: 'usual',
      type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: 'VN' }] },
      system: val(pv1, 19, 4, 2) !== undefined ? oidSystem(val(pv1, 19, 4, 3), val(pv1, 19, 4, 2))
        : LOCAL('visit') + (val(pv1, 19, 4, 1) ?? val(msh, 4) ?? ''),
      value: visit,
    }],
    status,
    class: [{ coding: [{ system: code('encounter-class', cls, 'system'), code: code('encounter-class', cls),
      display: code('encounter-class', cls, 'display') }] }],
    type: [{ coding: [{ system: 'https://terminology.dhp.uz/fhir/core/CodeSystem/encounter-type-cs',
      code: code('encounter-type-service', service) ?? code('encounter-type', cls),
      display: code('encounter-type-service', service, 'display') ?? code('encounter-type', cls, 'display') }] }],
    priority: prio && code('encounter-priority', prio)
      ? { coding: [{ system: code('encounter-priority', prio, 'system'), code: code('encounter-priority', prio),
        display: code('encounter-priority', prio, 'display') }] }
      : undefined,
    subject: patientRef,
    actualPeriod: { start: dateTime(val(pv1, 44)), end: dateTime(val(pv1, 45)) },
    participant: PARTICIPANTS.map(([f, code, display]) => (val(pv1, f, 0) === undefined ? undefined : {
      type: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ParticipationType', code, display }] }],
      actor: xcnRef(pv1, f),
    })),
    location: [{ location: plRef(pv1, 3) }],
  };
}

function diagnosticReport(msh, obr, refs) {
  const eff = dateTime(val(obr, 7)), end = dateTime(val(obr, 8));
  const svc = val(obr, 24);
  return {
    resourceType: 'DiagnosticReport',
    meta: PROFILE('diagnostic-report'),
    identifier: [ei(obr, 3, 'FILL', 'order-filler', val(msh, 4)), ei(obr, 2, 'PLAC', 'order-placer')],
    status: code('report-status', val(obr, 25)) ?? 'unknown',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0074',
      code: code('diagnostic-service', svc) ?? 'LAB', display: code('diagnostic-service', svc, 'display') ?? 'Laboratory' }] }],
    code: concept(obr, 4),
    effectiveDateTime: end === undefined ? eff : undefined,
    effectivePeriod: end !== undefined ? { start: eff, end } : undefined,
    issued: dateTime(val(obr, 22)),
    subject: refs.patient,
    encounter: refs.encounter,
    result: refs.results,
    specimen: refs.specimens,
  };
}

function quantity(obx, value) {
  const u = val(obx, 6, 1);
  const ucum = val(obx, 6, 3) === 'UCUM';
  return {
    value,
    unit: val(obx, 6, 2) ?? u,
    system: ucum ? 'http://unitsofmeasure.org' : code('units', u, 'system'),
    code: ucum ? u : code('units', u),
  };
}
function observation(obr, obx, refs, nte) {
  const type = val(obx, 2);
  const o = {
    resourceType: 'Observation',
    meta: PROFILE('observation'),
    status: code('observation-status', val(obx, 11)) ?? 'unknown',
    category: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/observation-category',
      code: 'laboratory', display: 'Laboratory' }] }],
    code: concept(obx, 3),
  };
  const whole = val(obx, 5, 0);
  if (whole === undefined) {
    o.dataAbsentReason = { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/data-absent-reason',
      code: { X: 'not-performed', N: 'not-asked' }[val(obx, 11)] ?? 'unknown' }] };
  } else if (type === 'NM') {
    o.valueQuantity = quantity(obx, decimal(whole));
  } else if (type === 'SN') {
    const sep = val(obx, 5, 3);
    if (sep === '-') o.valueRange = { low: quantity(obx, decimal(val(obx, 5, 2))), high: quantity(obx, decimal(val(obx, 5, 4))) };
    else if (sep === ':' || sep === '/') o.valueRatio = { numerator: { value: decimal(val(obx, 5, 2)) }, denominator: { value: decimal(val(obx, 5, 4)) } };
    else o.valueQuantity = { comparator: code('comparator', val(obx, 5, 1)), ...quantity(obx, decimal(val(obx, 5, 2))) };
  } else if (type === 'ST' || type === 'TX' || type === 'FT') {
    o.valueString = whole;
  } else if (['CWE', 'CE', 'CNE', 'CF', 'IS', 'ID'].includes(type)) {
    o.valueCodeableConcept = concept(obx, 5);
  } else if (type === 'DT' || type === 'DTM' || type === 'TS') {
    o.valueDateTime = dateTime(val(obx, 5));
  }
  const interp = [];
  for (let r = 0; r < reps(obx, 8); r++) {
    const f = val(obx, 8, 1, 0, r);
    interp.push({ coding: [{ system: code('interpretation', f, 'system'), code: code('interpretation', f),
      display: code('interpretation', f, 'display') }] });
  }
  o.interpretation = interp;
  o.referenceRange = [{ text: val(obx, 7, 0) }];
  o.effectiveDateTime = dateTime(val(obx, 14) ?? val(obr, 7));
  o.subject = refs.patient;
  o.encounter = refs.encounter;
  if (nte) o.note = [{ text: val(nte, 3) }]; // ORU: the NTE right after the OBX (oru.map)
  return o;
}

function specimen(msh, spm, refs) {
  const sub = (c, s) => val(spm, 2, c, s);
  const id = (c, typeCode, dflt) => {
    const value = sub(c, 1);
    if (value === undefined) return undefined;
    let system = dflt !== undefined ? LOCAL('specimen') + dflt : undefined;
    if (sub(c, 2) !== undefined) system = LOCAL('specimen') + sub(c, 2);
    if (sub(c, 3) !== undefined) system = oidSystem(sub(c, 4), sub(c, 3));
    return { type: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v2-0203', code: typeCode }] }, system, value };
  };
  const start = dateTime(val(spm, 17, 1, 1)), end = dateTime(val(spm, 17, 2, 1));
  return {
    resourceType: 'Specimen',
    meta: PROFILE('specimen'),
    identifier: [id(1, 'PLAC'), id(2, 'FILL', val(msh, 4))],
    type: concept(spm, 4),
    collection: {
      collectedDateTime: end === undefined ? start : undefined,
      collectedPeriod: end !== undefined ? { start, end } : undefined,
      bodySite: val(spm, 8, 3) === 'SCT'
        ? { concept: { coding: [{ system: 'http://snomed.info/sct', code: val(spm, 8, 1), display: val(spm, 8, 2) }] } }
        : undefined,
    },
    receivedTime: dateTime(val(spm, 18)),
    subject: refs.patient,
  };
}

// --- ids, bundles ---------------------------------------------------------------------------------------
const NS = Buffer.from('6b1e390c524f4b7e9d1a3f2c8851a017', 'hex'); // dhp-import's UUID v5 namespace
function uuid(name) {
  if (RANDOM_UUID) return randomUUID();
  const h = createHash('sha1').update(NS).update(name).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.toString('hex', 0, 16);
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}
// "identifier=system|value" of the official identifier (a PINFL), else of the first one; bytes outside
// [A-Za-z0-9-._~:/] percent-encoded, as dhp-import does
const urlPart = (v) => (/^[A-Za-z0-9\-._~:/]*$/.test(v) ? v
  : [...Buffer.from(v)].map((b) => (/[A-Za-z0-9\-._~:/]/.test(String.fromCharCode(b)) ? String.fromCharCode(b)
    : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join(''));
function ifNoneExist(r) {
  const id = r.identifier?.find((i) => i.use === 'official') ?? r.identifier?.[0];
  return id?.system && id.value ? `identifier=${urlPart(id.system)}|${urlPart(id.value)}` : undefined;
}
// A resource without a business identifier gets its own id as one ({"system": "urn:ietf:rfc:3986",
// "value": "urn:uuid:..."}), so that a re-run finds it, as dhp-import does; not where the profile allows
// no more identifiers (UZ Core Encounter: one), not for a Patient whose identifiers have no value.
const MAX_IDENTIFIERS = { Encounter: 1 };
function addTechnicalId(res, id) {
  const have = res.identifier?.length ?? 0;
  if (have >= (MAX_IDENTIFIERS[res.resourceType] ?? Infinity)) return;
  if (res.resourceType === 'Patient' && have && !res.identifier.some((i) => i.value !== undefined)) return;
  (res.identifier ??= []).push({ system: 'urn:ietf:rfc:3986', value: `urn:uuid:${id}` });
}

const stats = { messages: 0, bundles: 0, rejected: 0, resources: {}, bytes: 0 };
// place: "FILE:msg#N", FILE's base name and the message's ordinal in it (dhp-import adds it to the
// UUID name because senders reuse MSH-10)
function toBundle(msg, place) {
  const msh = msg.segments[0];
  const key = val(msh, 10);
  if (key === undefined) throw new Error('record has no key: MSH-10 is empty');
  const type = `${val(msh, 9, 1)}^${val(msh, 9, 2)}`;
  const adt = /^ADT\^A(0[1-8]|11|13)$/.test(type);
  if (!adt && type !== 'ORU^R01') throw new Error(`no mapping table for message type ${type}`);
  const rname = adt ? 'adt' : 'oru';
  const entries = [];
  const occ = {};
  const add = (res) => {
    const t = res.resourceType;
    const n = (occ[t] = (occ[t] ?? -1) + 1);
    const id = uuid(`hl7v2|${key}|${place}|${t}|${rname}|${adt && t !== 'Observation' ? 0 : n}`);
    entries.push({ id, res });
    return { reference: `urn:uuid:${id}` };
  };
  const segs = msg.segments;
  const pid = msg.getSegment('PID');
  const pv1 = msg.getSegment('PV1');
  const refs = {};
  refs.patient = add(patient(msh, pid, msg.getSegment('PD1')));
  if (val(pv1, 2) !== undefined) refs.encounter = add(encounter(msh, pv1, adt, refs.patient));
  if (!adt) {
    // OBR groups: the OBX and SPM after an OBR, up to the next OBR
    for (let i = 0; i < segs.length; i++) {
      if (segs[i].name !== 'OBR') continue;
      const obr = segs[i];
      const dr = { resourceType: 'DiagnosticReport' };
      add(dr); // its id before its results', as dhp-import numbers them
      const results = [], specimens = [];
      for (let j = i + 1; j < segs.length && segs[j].name !== 'OBR'; j++) {
        if (segs[j].name === 'OBX') {
          const next = segs[j + 1];
          results.push(add(observation(obr, segs[j], refs, next?.name === 'NTE' ? next : undefined)));
        }
        else if (segs[j].name === 'SPM') specimens.push(add(specimen(msh, segs[j], refs)));
      }
      Object.assign(dr, diagnosticReport(msh, obr, { ...refs, results, specimens }));
    }
  } else {
    for (const obx of msg.getAllSegments('OBX')) add(observation(undefined, obx, refs));
  }
  // serialise: entries in dhp-import's order (as built), one per line
  let out = '{\n  "resourceType": "Bundle",\n  "type": "transaction",\n  "entry": [\n';
  entries.forEach((e, k) => {
    const res = clean(e.res);
    const req = { method: 'POST', url: res.resourceType };
    let ine = ifNoneExist(res);
    if (!ine) {
      addTechnicalId(res, e.id);
      ine = ifNoneExist(res);
    }
    if (ine) req.ifNoneExist = ine;
    out += `    ${JSON.stringify({ fullUrl: `urn:uuid:${e.id}`, resource: res, request: req })}${k + 1 < entries.length ? ',' : ''}\n`;
    stats.resources[res.resourceType] = (stats.resources[res.resourceType] ?? 0) + 1;
  });
  return out + '  ]\n}\n';
}

mkdirSync(outDir, { recursive: true });
for (const f of files) {
  const text = readFileSync(f, 'utf8');
  const base = f.slice(f.lastIndexOf('/') + 1);
  let ordinal = 0;
  // messages start at an MSH segment (segments end in CR; LF and CRLF are accepted as well)
  for (const m of text.split(/[\r\n]+(?=MSH\|)/)) {
    const t = m.replace(/[\r\n]+$/, '');
    if (!t) continue;
    stats.messages++;
    ordinal++;
    let json;
    try {
      json = toBundle(Hl7Message.parse(t), `${base}:msg#${ordinal}`);
    } catch (e) {
      stats.rejected++;
      if (stats.rejected <= 5) console.error(`peer: ${f}: message ${stats.messages}: ${e.message}`);
      continue;
    }
    const name = `bundle-${String(++stats.bundles).padStart(6, '0')}.json`;
    const tmp = join(outDir, `.${name}.tmp`);
    writeFileSync(tmp, json);
    renameSync(tmp, join(outDir, name));
    stats.bytes += Buffer.byteLength(json);
  }
}
console.log(JSON.stringify(stats));
