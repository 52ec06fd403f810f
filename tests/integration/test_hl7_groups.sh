# test_hl7_groups.sh: @for-each and group-aware ref() on an ORU with two OBRs:
# each DiagnosticReport lists exactly the Observations of its own OBR.
. "$(dirname "$0")/lib.sh"
scratch
expect_status 0 "$DHP" validate --source hl7v2 "$SRC/tests/data/two-obr.hl7" \
	--mappings "$SRC/tests/data/hl7refs" --out "$SCRATCH/b" -q
B=$SCRATCH/b/bundle-000001.json
obs=$(grep -o '"fullUrl": "urn:uuid:[^"]*", "resource": { "resourceType": "Observation"' "$B" |
	sed 's/.*urn:uuid:\([^"]*\)".*/\1/')
[ "$(echo "$obs" | wc -l)" = 3 ] || fail "expected 3 Observations"
o1=$(echo "$obs" | sed -n 1p) o2=$(echo "$obs" | sed -n 2p) o3=$(echo "$obs" | sed -n 3p)
results=$(grep -o '"result": \[[^]]*\]' "$B")
[ "$(echo "$results" | sed -n 1p)" = "\"result\": [ { \"reference\": \"urn:uuid:$o1\" }, { \"reference\": \"urn:uuid:$o2\" } ]" ] ||
	fail "first report should list the two OBX of OBR 1: $results"
[ "$(echo "$results" | sed -n 2p)" = "\"result\": [ { \"reference\": \"urn:uuid:$o3\" } ]" ] ||
	fail "second report should list only the OBX of OBR 2: $results"
# [*] repetitions and the message's location in rejects
grep -q '"identifier": \[ { "system": "urn:test", "value": "111" } \]' "$B" || fail "PID-3[*] identifier"
pass "reports reference the observations of their own OBR"

# a message type no table maps: rejected with the reason, or skipped on request
expect_status 3 "$DHP" validate --source hl7v2 "$SRC/tests/data/siu.hl7" \
	--mappings "$SRC/tests/data/hl7refs" --out "$SCRATCH/u" -q
grep -q "no mapping table for message type 'SIU^S12'" "$SCRATCH/u/rejects.jsonl" || fail "SIU not rejected"
grep -q '"where":"[^"]*siu.hl7:msg#1"' "$SCRATCH/u/rejects.jsonl" || fail "reject lacks FILE:msg#N"
expect_status 0 "$DHP" validate --source hl7v2 "$SRC/tests/data/siu.hl7" \
	--mappings "$SRC/tests/data/hl7refs" --out "$SCRATCH/s" --unmapped skip --report "$SCRATCH/s.json" -q
grep -q '"skipped": 1' "$SCRATCH/s.json" || fail "skip not counted"
grep -q '"rejected": 0' "$SCRATCH/s.json" || fail "skipped message rejected"
pass "unmapped message types: rejected by default, skipped with --unmapped skip"

# a field of a million repetitions read by a [*] row: that message rejected
# at once with the field and the limit (not a quadratic hang), the next one
# converted
{
	printf 'MSH|^~\\&|A|B|||20240101||ORU^R01|BIG|P|2.5\rPID|1||'
	head -c 1000000 /dev/zero | tr '\0' '~'
	printf '1||DOE^JOHN\r'
	printf 'MSH|^~\\&|A|B|||20240101||ORU^R01|SMALL|P|2.5\rPID|1||7||DOE^JANE\r'
} >"$SCRATCH/reps.hl7"
expect_status 3 timeout 60 "$DHP" validate --source hl7v2 "$SCRATCH/reps.hl7" --out "$SCRATCH/r" -q
grep -q '"where":"[^"]*reps.hl7:msg#1:PID-3\[\*\][^"]*".*1000001 repetitions, more than the 1000' \
	"$SCRATCH/r/rejects.jsonl" || fail "million repetitions not rejected with their place"
[ "$(ls "$SCRATCH/r"/bundle-*.json | wc -l)" = 1 ] || fail "the next message was not converted"
pass "a million repetitions: a located reject, the run goes on"

# before v2.3: MSH-9 holds the type alone, an ADT's event is EVN-1; a result
# without any event still finds the ORU table (shipped mappings)
printf 'MSH|^~\\&|ADT|HOSP|||19950101120000||ADT|OLD1|P|2.1\rEVN|A01|19950101120000\rPID|||MRN1||SMITH^ANNA||19701231|F\rPV1|1|I\r' >"$SCRATCH/v21.hl7"
printf 'MSH|^~\\&|LAB|HOSP|||198807050000||ORU|OLD2|P|2.1\rPID|||12345||DOE^JOHN||19600101|M\rOBR|1|ORD1|FIL1|1234^GLUCOSE^L|||198807050800\rOBX|1|NM|1234^GLUCOSE^L||105|mg/dl|70-110|H|||F\r' >>"$SCRATCH/v21.hl7"
expect_status 0 "$DHP" validate --source hl7v2 "$SCRATCH/v21.hl7" --out "$SCRATCH/v21" --report "$SCRATCH/v21.json" -q
grep -q '"resourceType": "Encounter"' "$SCRATCH/v21/bundle-000001.json" || fail "v2.1 ADT (event from EVN-1) built no Encounter"
grep -q '"status": "in-progress"' "$SCRATCH/v21/bundle-000001.json" || fail "v2.1 ADT A01 status"
grep -q '"resourceType": "DiagnosticReport"' "$SCRATCH/v21/bundle-000002.json" || fail "v2.1 ORU (no event) not mapped"
pass "v2.1 messages: the event from EVN-1, a result without event"
