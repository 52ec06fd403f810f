# omop.sh: the OMOP CDM Synthea sample through its own mapping tables.
. "$(dirname "$0")/lib.sh"
use_pg
scratch
expect_status 0 "$DHP" validate --db "$CONNINFO" --mappings "$SRC/mappings/omop" \
	--out "$SCRATCH/bundles" --report "$SCRATCH/report.json" --no-progress
for kv in '"Patient": 28' '"Encounter": 1791' '"Condition": 470' '"rejected": 0'; do
	grep -qF "$kv" "$SCRATCH/report.json" || { cat "$SCRATCH/report.json"; fail "report lacks $kv"; }
done
grep -qF '"system": "http://loinc.org"' "$SCRATCH"/bundles/bundle-*.json || fail "no LOINC coded Observation"
grep -qF '"system": "http://snomed.info/sct"' "$SCRATCH"/bundles/bundle-*.json || fail "no SNOMED coded Condition"
pass "OMOP sample mapped: 28 patients, 1791 encounters, 470 conditions"
