# determinism.sh: the same input gives byte-identical bundles (deterministic urn:uuid).
. "$(dirname "$0")/lib.sh"
use_pg
scratch
for run in a b; do
	expect_status 3 "$DHP" validate --db "$CONNINFO" --mappings "$SRC/mappings/pg" \
		--out "$SCRATCH/$run" -q --records-per-bundle 20
done
diff -r "$SCRATCH/a" "$SCRATCH/b" >/dev/null || fail "two runs over the same data differ"
n=$(ls "$SCRATCH/a"/bundle-*.json | wc -l)
[ "$n" -gt 150 ] || fail "expected more than 150 bundles of 20 records, got $n"
pass "two runs give identical bundles ($n files)"
