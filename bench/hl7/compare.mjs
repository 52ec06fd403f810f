// bench/hl7/compare.mjs: do dhp-import and the peer write the same Bundles?
//
//   node compare.mjs DHP_OUT PEER_OUT [LIMIT]
//
// Compares bundle-NNNNNN.json of both directories (the first LIMIT of them, default all) as JSON, after
// sorting object keys and turning every dateTime into its UTC instant (dhp-import writes local time with
// its offset, 2024-07-27T16:09:40+05:00; medplum's parseHl7DateTime gives 2024-07-27T11:09:40.000Z).
// Everything else must be equal, fullUrls and references included (both sides name resources with the
// same UUID v5).  Prints one line "compare: N bundles, E equal, D different" and, when some differ, the
// first differing paths; exits 1 when a bundle differs or is missing.
import { readFileSync, readdirSync, existsSync } from 'node:fs';
import { join } from 'node:path';

const [a, b, limitArg] = process.argv.slice(2);
if (!a || !b) {
  console.error('usage: node compare.mjs DHP_OUT PEER_OUT [LIMIT]');
  process.exit(2);
}
const limit = limitArg ? parseInt(limitArg, 10) : Infinity;
const DT = /^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)$/;
function norm(o) {
  if (Array.isArray(o)) return o.map(norm);
  if (o && typeof o === 'object') {
    const r = {};
    for (const k of Object.keys(o).sort()) r[k] = norm(o[k]);
    return r;
  }
  if (typeof o === 'string' && DT.test(o)) return new Date(o).toISOString();
  return o;
}
const diffs = new Map();
function walk(x, y, path) {
  if (JSON.stringify(x) === JSON.stringify(y)) return;
  if (x && y && typeof x === 'object' && typeof y === 'object') {
    for (const k of new Set([...Object.keys(x), ...Object.keys(y)])) walk(x[k], y[k], `${path}.${Array.isArray(x) ? '[]' : k}`);
    return;
  }
  if (!diffs.has(path)) diffs.set(path, { n: 0, dhp: JSON.stringify(x)?.slice(0, 100), peer: JSON.stringify(y)?.slice(0, 100) });
  diffs.get(path).n++;
}
const names = readdirSync(a).filter((f) => /^bundle-\d+\.json$/.test(f)).sort().slice(0, limit);
let equal = 0, different = 0, missing = 0;
for (const f of names) {
  if (!existsSync(join(b, f))) {
    missing++;
    continue;
  }
  const x = norm(JSON.parse(readFileSync(join(a, f), 'utf8')));
  const y = norm(JSON.parse(readFileSync(join(b, f), 'utf8')));
  if (JSON.stringify(x) === JSON.stringify(y)) equal++;
  else {
    different++;
    walk(x, y, '');
  }
}
console.log(`compare: ${names.length} bundles, ${equal} equal, ${different} different${missing ? `, ${missing} missing on the peer side` : ''}`);
let shown = 0;
for (const [p, d] of diffs) {
  if (++shown > 10) break;
  console.log(`  ${d.n}x ${p}\n    dhp-import: ${d.dhp}\n    peer:       ${d.peer}`);
}
process.exit(different || missing || names.length === 0 ? 1 : 0);
