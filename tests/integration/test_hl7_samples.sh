# hl7_samples.sh: the shipped HL7 v2 mapping set (mappings/hl7v2/) over the
# public sample messages of the shared reference folder, and a few semantic
# checks against the reference conversions of the HL7 v2-to-FHIR project and
# of CDC ReportStream (FHIR R4 there, R5 here: the meaning is compared, not
# the bytes).  Needs no database.  Skipped (77) when the shared folder
# (../shared next to the repository, or $DHP_SHARED) is not there.
. "$(dirname "$0")/lib.sh"

SHARED=${DHP_SHARED:-$SRC/../shared}
HL7=$SHARED/ext-samples/hl7v2
PAIRS=$SHARED/ext-samples/pairs
if [ ! -d "$HL7" ] || [ ! -d "$PAIRS" ]; then
	echo "skipped: no sample messages in $HL7 (set DHP_SHARED)"
	exit 77
fi
scratch

# report_num REPORT KEY: the number of top-level "KEY": in a run report.
report_num() {
	sed -n "s/^  \"$2\": *\([0-9][0-9]*\),*$/\1/p" "$1" | head -n 1
}

# entry_with BUNDLE_DIR TEXT: the bundle entries whose text contains TEXT,
# one line each.  Bundles are JSON with "key": "value" spacing; an entry is
# either one line ('    { "fullUrl": ... },') or, pretty-printed, the lines
# from '    {' to '    },' (then joined into one).
entry_with() {
	cat "$1"/bundle-*.json | awk -v want="$2" '
		/^    \{ .*\},?$/ { if (index($0, want)) print; next }
		/^    \{$/ { buf = ""; inside = 1 }
		inside {
			last = $0 ~ /^    \},?$/
			line = $0
			sub(/^ +/, " ", line)
			buf = buf line
			if (last) { if (index(buf, want)) print buf; inside = 0 }
		}'
}

# refs_in ENTRY_LINE ELEMENT: the number of references in the array ELEMENT.
refs_in() {
	printf '%s\n' "$1" | grep -o "\"$2\": \[[^]]*\]" | grep -o '"reference"' | wc -l
}

# expect_in TEXT_FILE FIXED_STRING WHAT: TEXT_FILE contains the string.
expect_in() {
	grep -qF -- "$2" "$1" || { cat "$1" >&2; fail "$3: '$2' not found"; }
}

# ---- 1. every sample message is converted or rejected ----------------------
mapfile -t FILES < <(find "$HL7" -name '*.hl7' | LC_ALL=C sort)
[ "${#FILES[@]}" -gt 30 ] || fail "expected the sample messages in $HL7, found ${#FILES[@]} files"
# status 3: records were rejected (the malformed python-hl7 samples)
expect_status 3 "$DHP" validate --source hl7v2 --out "$SCRATCH/all" \
	--report "$SCRATCH/all.json" -q "${FILES[@]}"
ext=$(report_num "$SCRATCH/all.json" extracted)
ok=$(report_num "$SCRATCH/all.json" loaded)
rej=$(report_num "$SCRATCH/all.json" rejected)
if [ -z "$ext" ] || [ -z "$ok" ] || [ -z "$rej" ]; then
	cat "$SCRATCH/all.json" >&2
	fail "report lacks counts"
fi
[ "$ext" -eq $((ok + rej)) ] || fail "extracted $ext != loaded $ok + rejected $rej"
[ "$ext" -ge 90 ] || fail "only $ext messages extracted from ${#FILES[@]} files"
lines=$(wc -l <"$SCRATCH/all/rejects.jsonl")
[ "$lines" -eq "$rej" ] || fail "rejects.jsonl has $lines lines, the report says $rej rejected"
pass "samples: $ext messages, $ok converted, $rej rejected"

# ---- 2. the malformed messages are rejected, with their place --------------
# A reject names its file and the message (FILE:msg#N) or, for text that
# belongs to no message (a batch without MSH, a stray segment), the line
# (FILE:LINE).
nbad=0
for f in "${FILES[@]}"; do
	case $f in */python-hl7/sample_bad_*) ;; *) continue ;; esac
	nbad=$((nbad + 1))
	grep -F "\"where\":\"$f:" "$SCRATCH/all/rejects.jsonl" >"$SCRATCH/bad" ||
		fail "no reject located in $f"
	sed 's/^{"where":"[^"]*:\(msg#[0-9][0-9]*\|[0-9][0-9]*\)[:"].*/located/' "$SCRATCH/bad" |
		grep -qvx located && { cat "$SCRATCH/bad" >&2; fail "reject of $f without FILE:msg#N or FILE:LINE"; }
done
[ "$nbad" -ge 4 ] || fail "expected the python-hl7 sample_bad_* files, found $nbad"
# every other message maps: no reject outside the malformed files (an unmapped
# message type, a code missing from a code table, a bad date would show here)
if grep -vF '/python-hl7/sample_bad_' "$SCRATCH/all/rejects.jsonl" >"$SCRATCH/other-rejects"; then
	cat "$SCRATCH/other-rejects" >&2
	fail "well-formed sample messages were rejected"
fi
pass "malformed messages rejected with FILE:msg#N / FILE:LINE locations ($nbad files)"

# ---- 3. ADT^A01 against the HL7 v2-to-FHIR reference conversion ------------
ADT=$PAIRS/hl7-v2-to-fhir-ig/Message.hl7_ADT_A01.hl7
ADTREF=$PAIRS/hl7-v2-to-fhir-ig/FHIR_bundle.hl7_ADT_A01.json
expect_status 0 "$DHP" validate --source hl7v2 --out "$SCRATCH/adt" -q "$ADT"
entry_with "$SCRATCH/adt" '"resourceType": "Patient"' >"$SCRATCH/adt-patient"
# the reference (tab-indented) has the same values
for s in '"value": "1032702"' '"family": "Everywoman"' '"gender": "female"' '"birthDate": "1970-06-01'; do
	grep -qF -- "$s" "$ADTREF" || fail "reference conversion lacks $s (changed upstream?)"
done
expect_in "$SCRATCH/adt-patient" '"value": "1032702"' "ADT Patient.identifier (PID-3)"
expect_in "$SCRATCH/adt-patient" '"code": "MR"' "ADT Patient.identifier.type (PID-3.5)"
expect_in "$SCRATCH/adt-patient" '"family": "Everywoman"' "ADT Patient.name.family (PID-5)"
expect_in "$SCRATCH/adt-patient" '"birthDate": "1970-06-01"' "ADT Patient.birthDate (PID-7, date only)"
expect_in "$SCRATCH/adt-patient" '"gender": "female"' "ADT Patient.gender (PID-8)"
entry_with "$SCRATCH/adt" '"resourceType": "Encounter"' >"$SCRATCH/adt-encounter"
grep -qF '"value": "81456267"' "$ADTREF" || fail "reference conversion lacks the visit number"
expect_in "$SCRATCH/adt-encounter" '"value": "81456267"' "ADT Encounter.identifier (PV1-19)"
expect_in "$SCRATCH/adt-encounter" '"code": "EMER"' "ADT Encounter.class (PV1-2 E)"
expect_in "$SCRATCH/adt-encounter" '"status": "in-progress"' "ADT Encounter.status (A01)"
expect_in "$SCRATCH/adt-encounter" 'encounter-type-cs' "ADT Encounter.type:nationalType"
expect_in "$SCRATCH/adt-encounter" '"reference": "urn:uuid:' "ADT Encounter.subject"
# PV1-7/PV1-17 doctors and the PV1-3 location: the reference has ATND and ADM
# participants (Practitioner family Doctor) and the EMERG/101/01 location
for s in '"code": "ATND"' '"code": "ADM"' '"family": "Doctor"' '"display": "EMERG"'; do
	grep -qF -- "$s" "$ADTREF" || fail "reference conversion lacks $s (changed upstream?)"
done
expect_in "$SCRATCH/adt-encounter" '"code": "ATND"' "ADT Encounter.participant ATND (PV1-7)"
expect_in "$SCRATCH/adt-encounter" '"code": "ADM"' "ADT Encounter.participant ADM (PV1-17)"
expect_in "$SCRATCH/adt-encounter" '"display": "Dr Doctor Emory E Sr"' "ADT participant actor (XCN)"
expect_in "$SCRATCH/adt-encounter" '"display": "EMERG 101 01"' "ADT Encounter.location (PV1-3, PL)"
expect_in "$SCRATCH/adt-patient" '"display": "East Hospital"' "ADT Patient.generalPractitioner (PD1-3, XON)"
pass "ADT^A01 matches the v2-to-FHIR reference (identifier, name, birth date, gender, visit, doctors, location)"

# ---- 4. ORU^R01 against the ReportStream reference conversion --------------
ORU=$PAIRS/reportstream-mappinginventory/catchall/orur01/oru_r01-full.hl7
ORUREF=$PAIRS/reportstream-mappinginventory/catchall/orur01/oru_r01-full.fhir
expect_status 0 "$DHP" validate --source hl7v2 --out "$SCRATCH/oru" -q "$ORU"
for s in '"code": "80383-3"' '"code": "260415000"' '"code": "21612-7"' '"code": "a"' '"display": "Year"'; do
	grep -qF -- "$s" "$ORUREF" || fail "reference conversion lacks $s (changed upstream?)"
done
# OBX|1|CWE|80383-3^Flu B^LN||260415000^Not detected^SCT|||N...|||F
entry_with "$SCRATCH/oru" '"code": "80383-3"' >"$SCRATCH/oru-flub"
expect_in "$SCRATCH/oru-flub" '"resourceType": "Observation"' "ORU OBX -> Observation"
expect_in "$SCRATCH/oru-flub" '"system": "http://loinc.org"' "ORU Observation.code system (LN)"
expect_in "$SCRATCH/oru-flub" '"status": "final"' "ORU Observation.status (OBX-11 F)"
expect_in "$SCRATCH/oru-flub" '"valueCodeableConcept"' "ORU Observation.value[x] for CWE"
expect_in "$SCRATCH/oru-flub" '"code": "260415000"' "ORU Observation.valueCodeableConcept (OBX-5)"
expect_in "$SCRATCH/oru-flub" '"system": "http://snomed.info/sct"' "ORU value system (SCT)"
expect_in "$SCRATCH/oru-flub" '"code": "laboratory"' "ORU Observation.category"
# OBX|1|SN|21612-7^Reported Patient Age^LN||^28|a^Year^UCUM
entry_with "$SCRATCH/oru" '"code": "21612-7"' >"$SCRATCH/oru-age"
expect_in "$SCRATCH/oru-age" '"valueQuantity"' "ORU Observation.value[x] for SN"
expect_in "$SCRATCH/oru-age" '"value": 28' "ORU valueQuantity.value (SN.2)"
expect_in "$SCRATCH/oru-age" '"unit": "Year"' "ORU valueQuantity.unit (OBX-6.2)"
expect_in "$SCRATCH/oru-age" '"code": "a"' "ORU valueQuantity.code (OBX-6.1, UCUM)"
expect_in "$SCRATCH/oru-age" '"system": "http://unitsofmeasure.org"' "ORU valueQuantity.system"
# OBR -> DiagnosticReport with its results
entry_with "$SCRATCH/oru" '"resourceType": "DiagnosticReport"' >"$SCRATCH/oru-dr"
expect_in "$SCRATCH/oru-dr" '"code": "68991-9"' "ORU DiagnosticReport.code (OBR-4)"
expect_in "$SCRATCH/oru-dr" '"code": "LAB"' "ORU DiagnosticReport.category"
expect_in "$SCRATCH/oru-dr" '"value": "3015894743_04608717"' "ORU DiagnosticReport.identifier (OBR-3)"
expect_in "$SCRATCH/oru-dr" '"result": [' "ORU DiagnosticReport.result"
# each report lists the results and specimens of its own OBR group: OBR 1 has
# two OBX, an SPM and an OBX after the SPM; OBR 2 one OBX, an SPM and an OBX
dr1=$(grep -F '"code": "68991-9"' "$SCRATCH/oru-dr") dr2=$(grep -F '"code": "100383-9"' "$SCRATCH/oru-dr")
[ "$(refs_in "$dr1" result)" = 3 ] || fail "first report: expected 3 results: $dr1"
[ "$(refs_in "$dr2" result)" = 2 ] || fail "second report: expected 2 results: $dr2"
if [ "$(refs_in "$dr1" specimen)" != 1 ] || [ "$(refs_in "$dr2" specimen)" != 1 ]; then
	fail "each report should reference the one specimen of its group: $dr1 $dr2"
fi
pass "ORU^R01 matches the ReportStream reference (observation codes, values, units)"

# ---- 5. the bundled samples (samples/hl7v2) all convert --------------------
expect_status 0 "$DHP" validate --source hl7v2 --out "$SCRATCH/bundled" \
	--report "$SCRATCH/bundled.json" -q "$SRC"/samples/hl7v2/*.hl7
[ "$(report_num "$SCRATCH/bundled.json" rejected)" = 0 ] || fail "bundled samples rejected"
pass "samples/hl7v2 convert without rejects"
