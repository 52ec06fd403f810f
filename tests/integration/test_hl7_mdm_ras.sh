# test_hl7_mdm_ras.sh: the shipped HL7 v2 tables mdm.map and ras.map (FHIR R5
# base profiles DocumentReference and MedicationAdministration) over the two
# test messages of tests/data/hl7/: the MDM^T02 sample of the HL7 v2-to-FHIR
# project and a RAS^O17 with three administrations.  Needs no database.
. "$(dirname "$0")/lib.sh"
scratch
DATA=$SRC/tests/data/hl7

# entry TYPE [N]: the Nth (default 1st) bundle entry of resource type TYPE
# (bundles are written one entry per line, "key": "value" spacing).
entry() {
	grep -F "\"resource\": { \"resourceType\": \"$1\"" "$B" | sed -n "${2:-1}p"
}
# has ENTRY TEXT WHAT: the entry line contains the fixed string TEXT.
has() {
	case $1 in *"$2"*) ;; *) printf '%s\n' "$1" >&2; fail "$3: '$2' not found" ;; esac
}
hasnt() {
	case $1 in *"$2"*) printf '%s\n' "$1" >&2; fail "$3: '$2' found" ;; *) ;; esac
}

# Both messages convert, nothing is rejected, no Data Absent Reason is needed.
expect_status 0 "$DHP" validate --source hl7v2 "$DATA/mdm_t02.hl7" "$DATA/ras_o17.hl7" \
	--mappings "$SRC/mappings/hl7v2" --out "$SCRATCH/b" --report "$SCRATCH/r.json" -q
[ ! -s "$SCRATCH/b/rejects.jsonl" ] || { cat "$SCRATCH/b/rejects.jsonl" >&2; fail "rejects"; }
grep -q '"rejected": 0,' "$SCRATCH/r.json" || fail "report: rejected is not 0"
grep -q '"dar": 0,' "$SCRATCH/r.json" || fail "report: Data Absent Reasons were needed"
grep -q '"DocumentReference": 1,' "$SCRATCH/r.json" || fail "report: not 1 DocumentReference"
grep -q '"MedicationAdministration": 3,' "$SCRATCH/r.json" || fail "report: not 3 MedicationAdministrations"
# one Bundle per message (the HL7 default); the checks below read them together
[ -f "$SCRATCH/b/bundle-000002.json" ] || fail "expected one bundle per message"
B=$SCRATCH/all.json
cat "$SCRATCH"/b/bundle-*.json >"$B"
pass "MDM^T02 and RAS^O17 convert without rejects"

# ---- MDM^T02 -> DocumentReference -------------------------------------------
d=$(entry DocumentReference)
[ -n "$d" ] || fail "no DocumentReference entry"
has "$d" '"profile": [ "http://hl7.org/fhir/StructureDefinition/DocumentReference" ]' "profile"
has "$d" '"status": "current"' "status (TXA-19 AV)"
has "$d" '"docStatus": "final"' "docStatus (TXA-17 AU)"
has "$d" '"type": { "coding": [ { "system": "http://terminology.hl7.org/CodeSystem/v2-0270", "code": "PN", "display": "Procedure note" } ] }' "type (TXA-2)"
has "$d" '"use": "official", "system": "https://his.example-hospital.uz/fhir/sid/hl7v2/document/REDDING%20HOSPITAL", "value": "3738931392"' "identifier (TXA-12)"
has "$d" '"value": "PN_Radon_20230820174913.RTF"' "identifier (TXA-16)"
has "$d" '"date": "2023-08-20T17:49:13+05:00"' "date (TXA-6)"
has "$d" '"author": [ { "display": "Radon Nicholas" } ]' "author (TXA-9)"
has "$d" '"party": { "display": "MITCHELL HILA K" }' "attester (TXA-10)"
has "$d" '"securityLabel": [ { "coding": [ { "system": "http://terminology.hl7.org/CodeSystem/v3-Confidentiality", "code": "R"' "securityLabel (TXA-18)"
has "$d" '"contentType": "text/plain"' "attachment content type"
has "$d" '"title": "Procedure note"' "attachment title"
# the subject and the context resolve to the Patient and the Encounter of the bundle
subj=$(printf '%s\n' "$d" | sed -n 's/.*"subject": { "reference": "\(urn:uuid:[^"]*\)" }.*/\1/p')
[ -n "$subj" ] || fail "DocumentReference.subject is not a urn:uuid reference"
grep -qF "\"fullUrl\": \"$subj\"" <<<"$(entry Patient)" || fail "subject $subj is not the Patient of the bundle"
ctx=$(printf '%s\n' "$d" | sed -n 's/.*"context": \[ { "reference": "\(urn:uuid:[^"]*\)" } \].*/\1/p')
[ -n "$ctx" ] || fail "DocumentReference.context is not a urn:uuid reference"
grep -qF "\"fullUrl\": \"$ctx\"" <<<"$(entry Encounter)" || fail "context $ctx is not the Encounter of the bundle"
# the data is the first OBX's text (OBX-5 of OBX|1|TX), UTF-8 in base64
want=$(printf %s 'Transcription Authentication Interface Message Text' | base64 | tr -d '\n')
has "$d" "\"data\": \"$want\"" "attachment data (first OBX, base64)"
pass "DocumentReference: status, docStatus, type, identifiers, references, attachment"

# ---- RAS^O17 -> MedicationAdministration, one per RXA ------------------------
m1=$(entry MedicationAdministration 1) m2=$(entry MedicationAdministration 2) m3=$(entry MedicationAdministration 3)
[ -n "$m3" ] || fail "expected 3 MedicationAdministration entries"
has "$m1" '"profile": [ "http://hl7.org/fhir/StructureDefinition/MedicationAdministration" ]' "profile"
has "$m1" '"status": "completed"' "status (RXA-20 CP)"
has "$m1" '"medication": { "concept": { "coding": [ { "system": "http://www.whocc.no/atc", "code": "J01CA04", "display": "Amoxicillin 500 mg" } ] } }' "medication (RXA-5)"
has "$m1" '"occurenceDateTime": "2024-11-26T08:00:00+05:00"' "occurence (RXA-3)"
has "$m1" '"dose": { "value": 500, "unit": "milligram", "system": "http://unitsofmeasure.org", "code": "mg" }' "dose (RXA-6, RXA-7)"
has "$m1" '"route": { "coding": [ { "system": "http://terminology.hl7.org/CodeSystem/v2-0162", "code": "PO", "display": "Oral" } ] }' "route (RXR-1)"
has "$m1" '"value": "77001/J01CA04/20241126080000"' "composite identifier"
has "$m1" '"system": "https://his.example-hospital.uz/fhir/sid/hl7v2/order-placer/HIS", "value": "RX-9001"' "request (ORC-2)"
# an infusion (RXA-4 given): a period; its RXR (after the RXA) gives the site,
# the RXR of the RXE (before the RXA) is not read
has "$m2" '"occurencePeriod": { "start": "2024-11-26T09:00:00+05:00", "end": "2024-11-26T09:30:00+05:00" }' "occurence period (RXA-3, RXA-4)"
has "$m2" '"dose": { "value": 1, "unit": "gram", "system": "http://unitsofmeasure.org", "code": "g" }' "dose"
has "$m2" '"code": "IV"' "route of the second RXA"
has "$m2" '"site": { "coding": [ { "system": "http://terminology.hl7.org/CodeSystem/v2-0163", "code": "LA"' "site (RXR-2)"
hasnt "$m1" '"site"' "site of the first RXA"
# a refusal
has "$m3" '"status": "not-done"' "status (RXA-20 RE)"
has "$m3" '"statusReason": [ { "text": "Patient refused the injection" } ]' "statusReason (RXA-18)"
has "$m3" '"code": "B01AB05"' "medication of the third RXA"
has "$m3" '"code": "SC"' "route of the third RXA"
for m in "$m1" "$m2" "$m3"; do
	s=$(printf '%s\n' "$m" | sed -n 's/.*"subject": { "reference": "\(urn:uuid:[^"]*\)" }.*/\1/p')
	[ -n "$s" ] || fail "MedicationAdministration.subject is not a urn:uuid reference"
	grep -qF "\"fullUrl\": \"$s\"" <<<"$(entry Patient 2)" || fail "subject $s is not the RAS Patient"
done
pass "MedicationAdministration: status, medication, occurence, dose, route per RXA"

# ---- the message types left out on purpose are still rejected ---------------
sed 's/MDM^T02^MDM_T02/MDM^T03^MDM_T02/' "$DATA/mdm_t02.hl7" >"$SCRATCH/t03.hl7"
expect_status 3 "$DHP" validate --source hl7v2 "$SCRATCH/t03.hl7" \
	--mappings "$SRC/mappings/hl7v2" --out "$SCRATCH/c" -q
grep -qF "no mapping table for message type 'MDM^T03'" "$SCRATCH/c/rejects.jsonl" ||
	fail "MDM^T03 (notification without content) should have no mapping table"
pass "MDM^T03 stays unmapped"
