# errors_pg.sh: bad input gets a located message and the documented exit status.
. "$(dirname "$0")/lib.sh"
use_pg
scratch
M=$SCRATCH/maps
mkdir -p "$M"

# A small mapping set over generated rows.
cat >"$M/q.sql" <<'SQL'
SELECT i AS id, 'P' || i AS mrn, CASE WHEN i % 10 = 0 THEN '31.02.2024' ELSE '2024-03-1' || (i % 9) END AS born
FROM generate_series(1, 30) AS i WHERE now() > :since ORDER BY i
SQL
cat >"$M/p.map" <<'MAP'
@query q.sql
@key id
@table people
@resource Patient
identifier[0].system  "https://his.example-hospital.uz/fhir/sid/mrn"
identifier[0].value   mrn
birthDate             born   date
MAP

# 1. rows with a bad date are rejected with table:key:column; the run goes on; exit 3
expect_status 3 "$DHP" validate --db "$CONNINFO" --mappings "$M" --out "$SCRATCH/out" -q
[ "$(wc -l <"$SCRATCH/out/rejects.jsonl")" = 3 ] || fail "expected 3 rejects"
grep -qF '"where":"people:10:born"' "$SCRATCH/out/rejects.jsonl" || fail "reject lacks people:10:born"
grep -qF "found '31.02.2024'" "$SCRATCH/out/rejects.jsonl" || fail "reject lacks the found value"
pass "bad dates rejected, run went on (exit 3)"

# 2. a mapping error: FILE:LINE:COL, exit 2, nothing written
sed -i 's/^birthDate .*/birthDate             born   decimal/' "$M/p.map"
rm -rf "$SCRATCH/out"
expect_status 2 "$DHP" validate --db "$CONNINFO" --mappings "$M" --out "$SCRATCH/out"
expect_stderr "$M/p.map:7:30: error: 'birthDate' is a date but the row gives a decimal"
[ ! -e "$SCRATCH/out" ] || fail "output written despite a configuration error"
expect_status 2 "$DHP" check --mappings "$M"
expect_stderr "$M/p.map:7:30: error:"
pass "bad mapping: located error, exit 2, no output"

# 3. an unknown column is found when the query is opened, before any output
sed -i 's/^birthDate .*/birthDate             birth  date/' "$M/p.map"
expect_status 2 "$DHP" validate --db "$CONNINFO" --mappings "$M" --out "$SCRATCH/out"
expect_stderr "$M/p.map:7:23: error: column 'birth' is not in the result of"
[ -z "$(ls "$SCRATCH/out" 2>/dev/null)" ] || fail "bundles written despite an unknown column"
pass "unknown column: exit 2 before output"

# 4. an unreachable database: names host and port, exit 1
sed -i 's/^birthDate .*/birthDate             born   date/' "$M/p.map"
expect_status 1 "$DHP" validate --db "host=127.0.0.1 port=1 dbname=his user=postgres connect_timeout=3" \
	--mappings "$M" --out "$SCRATCH/out"
expect_stderr "database host 127.0.0.1 port 1: error: could not connect"
pass "unreachable database: exit 1 naming host and port"

# 5. a query that fails mid-stream: exit 1, the rows before it are kept
cat >"$M/q.sql" <<'SQL'
SELECT i AS id, 'P' || i AS mrn, '2024-01-01' AS born, 1 / (4500 - i) AS boom
FROM generate_series(1, 5000) AS i WHERE now() > :since ORDER BY i
SQL
expect_status 1 "$DHP" validate --db "$CONNINFO" --mappings "$M" --out "$SCRATCH/out" --report "$SCRATCH/r.json"
expect_stderr "query failed while reading rows: ERROR:  division by zero"
grep -q '"status": "failed"' "$SCRATCH/r.json" || fail "report does not say failed"
pass "query failing mid-stream: exit 1, report says failed"

# 6. a bad job file: FILE:LINE, exit 2
printf '[source]\ndb = x\n[output]\nrecords_per_bundle = many\n' >"$SCRATCH/job.conf"
expect_status 2 "$DHP" validate "$SCRATCH/job.conf"
expect_stderr "$SCRATCH/job.conf:4: error: records_per_bundle must be a whole number from 1 to 10000, found 'many'"
printf '[source]\ndbx = x\n' >"$SCRATCH/job.conf"
expect_status 2 "$DHP" validate "$SCRATCH/job.conf"
expect_stderr "$SCRATCH/job.conf:2: error: unknown key 'dbx' in section [source]"
pass "bad job file: FILE:LINE, exit 2"
