#!/usr/bin/env bash
# selftest.sh: dhp-testserver against the DHP behaviours the loader relies on.
#
#   bash tests/server/selftest.sh [path/to/dhp-testserver]
#
# Uses curl and grep only. Exit 77 (skipped) without curl.
set -euo pipefail

command -v curl >/dev/null || { echo "skip: curl not installed"; exit 77; }
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
export DHP_TESTSERVER=${1:-${DHP_TESTSERVER:-${DHP_BINDIR:-.}/dhp-testserver}}
# shellcheck source=server-lib.sh
. "$HERE/server-lib.sh"

fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
pass() { printf 'ok: %s\n' "$*"; }

OUT=$(mktemp /tmp/dhp-srv-out.XXXXXX)
trap 'srv_cleanup; rm -f "$OUT" "$OUT.h"' EXIT

# req METHOD PATH [curl args...]: body in $OUT, headers in $OUT.h, prints the status.
req() {
	local m=$1 p=$2
	shift 2
	curl -s -o "$OUT" -D "$OUT.h" -w '%{http_code}' -X "$m" \
		-H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/fhir+json' \
		"$@" "$SRV_URL$p"
}
expect() { # expect WANT GOT WHAT
	[ "$1" = "$2" ] || { cat "$OUT" >&2 2>/dev/null; echo >&2; fail "$3: status $2, want $1"; }
}
body_has() { grep -qF -- "$1" "$OUT" || { cat "$OUT" >&2; echo >&2; fail "body lacks: $1"; }; }
body_lacks() { ! grep -qF -- "$1" "$OUT" || { cat "$OUT" >&2; echo >&2; fail "body has: $1"; }; }
hdr_has() { grep -qiF -- "$1" "$OUT.h" || { cat "$OUT.h" >&2; fail "headers lack: $1"; }; }

PROF=https://dhp.uz/fhir/core/StructureDefinition
NI=https://dhp.uz/fhir/core/sid/pid/uz/ni
patient() { # patient PINFL
	printf '{"resourceType":"Patient","meta":{"profile":["%s/uz-core-patient"]},"identifier":[{"system":"%s","value":"%s"}],"gender":"female"}' "$PROF" "$NI" "$1"
}
observation() { # observation SUBJECT-REF [STATUS-JSON]
	printf '{"resourceType":"Observation","meta":{"profile":["%s/uz-core-observation"]},%s"code":{"text":"test"},"subject":{"reference":"%s"}}' "$PROF" "${2-\"status\":\"final\",}" "$1"
}
entry() { # entry FULLURL RESOURCE METHOD URL [extra request members]
	printf '{"fullUrl":"%s","resource":%s,"request":{"method":"%s","url":"%s"%s}}' "$1" "$2" "$3" "$4" "${5:-}"
}
bundle() { # bundle TYPE ENTRY...
	local t=$1 sep='' e
	shift
	printf '{"resourceType":"Bundle","type":"%s","entry":[' "$t"
	for e in "$@"; do printf '%s%s' "$sep" "$e"; sep=,; done
	printf ']}'
}

srv_start --conditional-create dhp
TOKEN=none

# ---- OAuth2 ----
st=$(curl -s -o "$OUT" -w '%{http_code}' -X POST "$SRV_URL/oauth/token" \
	-d "grant_type=client_credentials&client_id=$SRV_CLIENT_ID&client_secret=$SRV_SECRET")
expect 200 "$st" "token"
body_has '"token_type":"Bearer"'
body_has '"expires_in":3600'
st=$(curl -s -o "$OUT" -w '%{http_code}' -X POST "$SRV_URL/oauth/token" \
	-d "grant_type=client_credentials&client_id=$SRV_CLIENT_ID&client_secret=wrong")
expect 401 "$st" "token, wrong secret"
body_has '"error":"invalid_client"'
st=$(curl -s -o "$OUT" -w '%{http_code}' -X POST "$SRV_URL/oauth/token" -d "client_id=x")
expect 400 "$st" "token, no grant_type"
body_has '"error":"invalid_request"'
st=$(curl -s -o "$OUT" -w '%{http_code}' -X POST "$SRV_URL/oauth/token" \
	-d "grant_type=password&client_id=$SRV_CLIENT_ID&client_secret=$SRV_SECRET")
expect 400 "$st" "token, password grant"
body_has '"error":"unsupported_grant_type"'
st=$(curl -s -o "$OUT" -w '%{http_code}' -X POST "$SRV_URL/oauth/token" \
	-u "$SRV_CLIENT_ID:$SRV_SECRET" -d grant_type=client_credentials)
expect 200 "$st" "token, HTTP Basic client auth"
st=$(curl -s -o "$OUT" -w '%{http_code}' -X POST "$SRV_URL/oauth/tokens" -H 'Content-Type: application/json' \
	-d "{\"token\":{\"grant_type\":\"client_credentials\",\"client_id\":\"$SRV_CLIENT_ID\",\"client_secret\":\"$SRV_SECRET\"}}")
expect 200 "$st" "token, JSON body on /oauth/tokens"
body_has '"access_token":"'
pass "token endpoint: good/bad secret, missing/unsupported grant, Basic, JSON style"

st=$(req GET "/Patient?identifier=x")
expect 401 "$st" "FHIR call without token"
hdr_has 'WWW-Authenticate: Bearer'
body_has '"resourceType":"OperationOutcome"'
st=$(req GET /metadata)
expect 401 "$st" "metadata without token"
TOKEN=$(srv_token)
[ -n "$TOKEN" ] || fail "no token"
pass "FHIR calls need a bearer token"

# ---- metadata ----
st=$(req GET /metadata)
expect 200 "$st" "metadata"
body_has '"fhirVersion":"5.0.0"'
body_has '"type":"Organization","conditionalCreate":true'
body_has '"type":"Patient","conditionalCreate":false'
body_has '"type":"Observation","conditionalCreate":false'
body_lacks '"conditionalUpdate":true'
pass "metadata: captured CapabilityStatement, conditionalCreate as DHP"

# ---- transaction with urn:uuid references ----
P=urn:uuid:aaaaaaaa-0000-4000-8000-000000000001
E=urn:uuid:aaaaaaaa-0000-4000-8000-000000000002
ENC='{"resourceType":"Encounter","meta":{"profile":["'$PROF'/uz-core-encounter"]},"status":"completed","subject":{"reference":"'$P'"}}'
OBS='{"resourceType":"Observation","meta":{"profile":["'$PROF'/uz-core-observation"]},"status":"final","code":{"text":"t"},"subject":{"reference":"'$P'"},"encounter":{"reference":"'$E'"},"hasMember":[{"reference":"'$P'"}]}'
st=$(req POST / --data-binary "$(bundle transaction \
	"$(entry $P "$(patient 10000000000001)" POST Patient)" \
	"$(entry $E "$ENC" POST Encounter)" \
	"$(entry urn:uuid:aaaaaaaa-0000-4000-8000-000000000003 "$OBS" POST Observation)")")
expect 200 "$st" "transaction"
body_has '"type":"transaction-response"'
[ "$(grep -o '"status":"201 Created"' "$OUT" | wc -l)" = 3 ] || fail "3 creates expected"
body_has '"etag":"W/\"1\""'
PID=$(grep -o '"location":"Patient/[^/]*' "$OUT" | cut -d/ -f2)
EID=$(grep -o '"location":"Encounter/[^/]*' "$OUT" | cut -d/ -f2)
OID=$(grep -o '"location":"Observation/[^/]*' "$OUT" | cut -d/ -f2)
[ -n "$PID" ] && [ -n "$OID" ] || fail "no locations"
st=$(req GET "/Observation/$OID")
expect 200 "$st" "read"
hdr_has 'ETag: W/"1"'
hdr_has 'Last-Modified:'
body_has "\"subject\":{\"reference\":\"Patient/$PID\"}"
body_has "\"encounter\":{\"reference\":\"Encounter/$EID\"}"
body_has "\"hasMember\":[{\"reference\":\"Patient/$PID\"}]"
body_lacks 'urn:uuid'
body_has '"versionId":"1"'
pass "transaction: urn:uuid references rewritten, read with ETag"

# ---- update with If-Match ----
PAT=$(patient 10000000000001 | sed "s/^{/{\"id\":\"$PID\",/")
st=$(req PUT "/Patient/$PID" -H 'If-Match: W/"1"' --data-binary "$PAT")
expect 200 "$st" "PUT with the right If-Match"
hdr_has 'ETag: W/"2"'
body_has '"versionId":"2"'
st=$(req PUT "/Patient/$PID" -H 'If-Match: W/"1"' --data-binary "$PAT")
expect 412 "$st" "PUT with a stale If-Match"
body_has '"code":"invalid"'
body_has '"text":"Version is mismatch"'
st=$(req PUT "/Patient/$PID" --data-binary "$PAT")
expect 412 "$st" "PUT without If-Match"
body_has 'Version is mismatch'
st=$(req PUT "/Patient/00000000-0000-4000-8000-000000000000" -H 'If-Match: W/"1"' \
	--data-binary "$(patient 1 | sed 's/^{/{"id":"00000000-0000-4000-8000-000000000000",/')")
expect 404 "$st" "PUT of an unknown id (no update-create)"
pass "PUT: If-Match right 200, stale/missing 412 \"Version is mismatch\", unknown 404"

# ---- search by identifier ----
st=$(req GET "/Patient?identifier=$NI%7C10000000000001")
expect 200 "$st" "search"
body_has '"type":"searchset"'
body_has '"total":1'
body_has "\"fullUrl\":\"$SRV_URL/Patient/$PID\""
body_has '"search":{"mode":"match"}'
st=$(req GET "/Patient?identifier=10000000000001")
body_has '"total":1'
st=$(req GET "/Patient?identifier=$NI%7C99999999999999")
body_has '"total":0'
pass "search by identifier (system|value and value)"

# ---- atomic failure ----
st=$(req POST / --data-binary "$(bundle transaction \
	"$(entry urn:uuid:b1 "$(patient 20000000000001)" POST Patient)" \
	"$(entry urn:uuid:b2 "$(patient INVALID-TEST-MARKER-2)" POST Patient)" \
	"$(entry urn:uuid:b3 "$(observation urn:uuid:b1 '')" POST Observation)")")
expect 400 "$st" "transaction with invalid entries"
body_has '"resourceType":"OperationOutcome"'
body_has '"code":"invariant"'
body_has 'Bundle.entry[1].resource.ofType(Patient).identifier[0].value'
body_has '"code":"required"'
body_has 'Observation.status: minimum required = 1, but only found 0'
body_has '"Bundle.entry[2].resource.ofType(Observation)"'
body_lacks 'entry[0]'
st=$(req GET "/Patient?identifier=20000000000001")
body_has '"total":0'
# A stale ifMatch inside a transaction fails it whole, with 412.
st=$(req POST / --data-binary "$(bundle transaction \
	"$(entry urn:uuid:c1 "$(patient 20000000000002)" POST Patient)" \
	"$(entry "$SRV_URL/Patient/$PID" "$PAT" PUT "Patient/$PID" ',"ifMatch":"W/\"1\""')")")
expect 412 "$st" "transaction with a stale ifMatch"
body_has 'Version is mismatch'
body_has 'Bundle.entry[1].request.ifMatch'
st=$(req GET "/Patient?identifier=20000000000002")
body_has '"total":0'
pass "transaction is atomic: invalid entry 400, stale ifMatch 412, nothing stored"

# ---- conditional references and conditional create in a transaction ----
ORG='{"resourceType":"Organization","meta":{"profile":["'$PROF'/uz-core-organization"]},"identifier":[{"system":"urn:test:org","value":"ORG-1"}],"name":"Clinic"}'
st=$(req POST / --data-binary "$(bundle transaction \
	"$(entry urn:uuid:d1 "$ORG" POST Organization ',"ifNoneExist":"identifier=urn:test:org|ORG-1"')" \
	"$(entry urn:uuid:d2 "$(observation "Patient?identifier=$NI|10000000000001")" POST Observation)")")
expect 200 "$st" "transaction with a conditional reference"
ORGID=$(grep -o '"location":"Organization/[^/]*' "$OUT" | cut -d/ -f2)
OID2=$(grep -o '"location":"Observation/[^/]*' "$OUT" | cut -d/ -f2)
st=$(req GET "/Observation/$OID2")
body_has "\"reference\":\"Patient/$PID\""
st=$(req POST / --data-binary "$(bundle transaction \
	"$(entry urn:uuid:e1 "$ORG" POST Organization ',"ifNoneExist":"identifier=urn:test:org|ORG-1"')")")
expect 200 "$st" "conditional create that matches"
body_has '"status":"200 OK"'
body_has "\"location\":\"Organization/$ORGID/_history/1\""
st=$(req POST / --data-binary "$(bundle transaction \
	"$(entry urn:uuid:e2 "$(patient 10000000000001)" POST Patient ',"ifNoneExist":"identifier=10000000000001"')")")
expect 400 "$st" "conditional create where DHP has none"
body_has 'conditional create not supported for Patient'
st=$(req POST /Patient -H 'If-None-Exist: identifier=10000000000001' --data-binary "$(patient 10000000000001)")
expect 400 "$st" "REST conditional create of a Patient"
body_has 'conditional create not supported for Patient'
st=$(req POST / --data-binary "$(bundle transaction \
	"$(entry urn:uuid:f1 "$(observation "Patient?identifier=$NI|nobody")" POST Observation)")")
expect 400 "$st" "conditional reference without a match"
body_has 'matched 0'
st=$(req POST /Organization -H 'If-None-Exist: identifier=urn:test:org|ORG-1' --data-binary "$ORG")
expect 200 "$st" "REST conditional create that matches"
hdr_has "Location: $SRV_URL/Organization/$ORGID/_history/1"
st=$(req POST /Organization --data-binary "$ORG")
expect 201 "$st" "REST create"
hdr_has 'ETag: W/"1"'
st=$(req POST /Organization -H 'If-None-Exist: identifier=urn:test:org|ORG-1' --data-binary "$ORG")
expect 412 "$st" "conditional create with two matches"
pass "conditional references, conditional create per type (200/201/400/412)"

# ---- batch ----
st=$(req POST / --data-binary "$(bundle batch \
	'{"request":{"method":"GET","url":"Patient?identifier='$NI'%7C10000000000001"}}' \
	'{"request":{"method":"GET","url":"Patient/'$PID'"}}' \
	"$(entry urn:uuid:g1 "$(patient 30000000000001)" POST Patient)" \
	"$(entry urn:uuid:g2 "$(observation "Patient/$PID" '')" POST Observation)" \
	'{"request":{"method":"DELETE","url":"Patient/'$PID'"}}')")
expect 200 "$st" "batch"
body_has '"type":"batch-response"'
body_has '"total":1'
body_has '"etag":"W/\"2\""'
body_has '"status":"201 Created"'
body_has '"status":"400 Bad Request"'
body_has '"status":"405 Method Not Allowed"'
st=$(req GET "/Patient?identifier=30000000000001")
body_has '"total":1'
pass "batch: search, read, create, invalid entry alone fails, DELETE refused"

# ---- DELETE, stats, log ----
st=$(req DELETE "/Patient/$PID")
expect 405 "$st" "DELETE"
[ "$(srv_stat deletes)" = 2 ] || fail "deletes counted: $(srv_stat deletes)"
[ "$(srv_stat transactions_failed)" = 4 ] || fail "transactions_failed $(srv_stat transactions_failed)"
[ "$(srv_stat "PUT 412")" = 2 ] || fail "PUT 412 counted"
[ "$(srv_stat token_requests)" = 7 ] || fail "token_requests $(srv_stat token_requests)"
[ "$(srv_stat cond_create_matches)" = 2 ] || fail "cond_create_matches"
creates=$(srv_stat creates)
[ "$creates" = 7 ] || fail "creates $creates"
srv_stop || fail "the server did not stop cleanly"
grep -q '"transactions":' "$SRV_DIR/stats.json" || fail "no stats file on SIGTERM"
grep -q '"Patient":' "$SRV_DIR/stats.json" || fail "stats: no resources by type"
grep -q '^.* PUT /Patient/[^ ]* 412 auth=bearer' "$SRV_DIR/requests.log" || fail "log line"
grep -q 'GET /Patient?identifier 200 auth=bearer' "$SRV_DIR/requests.log" || fail "log: query names"
! grep -qF "$TOKEN" "$SRV_DIR/requests.log" || fail "the log holds a token"
! grep -qF "$SRV_SECRET" "$SRV_DIR/requests.log" || fail "the log holds the secret"
! grep -q '10000000000001' "$SRV_DIR/requests.log" || fail "the log holds an identifier"
pass "stats (/_stats and on SIGTERM), log without credentials or identifiers"

# ---- flags and faults ----
srv_start --conditional-create none,+Patient --force-412-first-put --token-ttl 1
TOKEN=$(srv_token)
st=$(req GET /metadata)
body_has '"type":"Organization","conditionalCreate":false'
body_has '"type":"Patient","conditionalCreate":true'
st=$(req POST /Patient -H 'If-None-Exist: identifier=1' --data-binary "$(patient 1)")
expect 201 "$st" "conditional create switched on for Patient"
id=$(grep -o '"id":"[^"]*"' "$OUT" | head -1 | cut -d'"' -f4)
P1=$(patient 1 | sed "s/^{/{\"id\":\"$id\",/")
st=$(req PUT "/Patient/$id" -H 'If-Match: W/"1"' --data-binary "$P1")
expect 412 "$st" "forced 412 on the first PUT"
st=$(req PUT "/Patient/$id" -H 'If-Match: W/"1"' --data-binary "$P1")
expect 200 "$st" "second PUT"
sleep 1.2
st=$(req GET "/Patient/$id")
expect 401 "$st" "expired token"
hdr_has 'error="invalid_token"'
srv_stop || fail "the server did not stop cleanly"
pass "--conditional-create none,+Patient, --force-412-first-put, --token-ttl"

srv_start --throttle-rate 0.5 --unavailable-rate 0.5 --seed 7
TOKEN=$(srv_token)
for _ in 1 2 3 4 5 6; do
	st=$(req GET /metadata)
	case $st in 429 | 503) hdr_has 'Retry-After: 1' ;; *) fail "fault status $st" ;; esac
done
n429=$(srv_stat "GET 429")
n503=$(srv_stat "GET 503")
[ $((n429 + n503)) = 6 ] && [ "$n429" -gt 0 ] && [ "$n503" -gt 0 ] || fail "fault counts $n429/$n503"
pass "--throttle-rate/--unavailable-rate: 429/503 with Retry-After"

srv_start --drop-rate 1
TOKEN=$(srv_token)
rc=0
curl -s -o /dev/null -H "Authorization: Bearer $TOKEN" "$SRV_URL/metadata" || rc=$?
[ "$rc" = 52 ] || fail "--drop-rate 1: curl exit $rc, want 52 (empty reply)"
[ "$(srv_stat drop)" = 1 ] || fail "drops counted"
srv_stop || fail "the server did not stop cleanly"
pass "--drop-rate: connection closed without an answer"
echo "all dhp-testserver checks passed"
