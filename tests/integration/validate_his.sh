# validate_his.sh: the sample HIS through `validate`; golden_check asserts the meaning.
. "$(dirname "$0")/lib.sh"
use_pg
scratch
expect_status 3 "$DHP" validate --db "$CONNINFO" --mappings "$SRC/mappings/pg" \
	--out "$SCRATCH/bundles" --report "$SCRATCH/report.json" --no-progress
grep -q 'rejected   10 records' "$SCRATCH/stdout" || { cat "$SCRATCH/stdout"; fail "summary lacks the reject count"; }
"${GOLDEN:?}" "$SCRATCH/bundles" "$SCRATCH/report.json" "$CONNINFO"
# the reject file names table:key[:column] for each documented reject
for w in visits:5002 visits:5005:status visits:5008:purpose labs:70001:collected_text \
	labs:70013:lab_code labs:70024:unit; do
	grep -qF "\"where\":\"$w\"" "$SCRATCH/bundles/rejects.jsonl" || fail "no reject at $w"
done
# no patient data in the terminal output or the reject file: no names, no PINFLs
for s in "Ўринбоева" "TOSHMATOV" "Ким"; do
	! grep -qF "$s" "$SCRATCH/stdout" "$SCRATCH/stderr" "$SCRATCH/bundles/rejects.jsonl" ||
		fail "patient name '$s' leaked into logs or rejects"
done
pass "sample HIS: bundles, rejects and report checked"

# incremental: a watermark after the seed's last update yields nothing new
expect_status 0 "$DHP" validate --db "$CONNINFO" --mappings "$SRC/mappings/pg" \
	--out "$SCRATCH/inc" --since "2030-01-01T00:00:00+05:00" --report "$SCRATCH/inc.json" -q
grep -q '"extracted": 0' "$SCRATCH/inc.json" || fail "watermark did not filter"
pass "watermark bound as a parameter filters rows"
