# load_e2e.sh: `run` against the local DHP-compatible server (tests/server):
# load, idempotent re-run, one update with If-Match, forced 412, injected
# faults, bisect of an invalid record, token expiry, wrong secret, secrecy.
. "$(dirname "$0")/lib.sh"
use_pg
scratch
SERVER=${DHP_BINDIR}/dhp-testserver
command -v curl >/dev/null || fail "curl is needed to read the test server's statistics"
[ -x "$SERVER" ] || { echo "no $SERVER"; exit 77; }
SECRET=s3cr3t-$RANDOM-value
printf '%s\n' "$SECRET" >"$SCRATCH/secret"
chmod 600 "$SCRATCH/secret"
SRV_PID=""
trap 'if [ -n "$SRV_PID" ]; then kill "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null; fi; rm -rf "$SCRATCH"; true' EXIT

# start_server NAME [FLAGS...]: a fresh server; sets PORT and STATS.
start_server() {
	if [ -n "$SRV_PID" ]; then kill "$SRV_PID" 2>/dev/null; wait "$SRV_PID" 2>/dev/null || true; fi
	local name=$1
	shift
	rm -f "$SCRATCH/$name.port"
	STATS=$SCRATCH/$name.stats
	"$SERVER" --port 0 --port-file "$SCRATCH/$name.port" --client-id etl \
		--client-secret-file "$SCRATCH/secret" --stats-file "$STATS" \
		--log "$SCRATCH/$name.log" "$@" 2>"$SCRATCH/$name.err" &
	SRV_PID=$!
	for _ in $(seq 50); do [ -s "$SCRATCH/$name.port" ] && break; sleep 0.1; done
	PORT=$(cat "$SCRATCH/$name.port")
}

# load MAPPINGS [ARGS...]: `run` into the current server.
load() {
	local maps=$1
	shift
	"$DHP" run --db "$CONNINFO" --mappings "$maps" --base "http://127.0.0.1:$PORT/fhir" \
		--token-url "http://127.0.0.1:$PORT/oauth/token" --client-id etl \
		--client-secret-file "$SCRATCH/secret" --no-progress "$@"
}

stat_of() { # stat_of KEY: an integer from the server's /_stats
	curl -s "http://127.0.0.1:$PORT/_stats" | tr -d ' \n' | sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p"
}
num() { sed -n "s/.*\"$2\": \([0-9]*\).*/\1/p" "$1" | head -1; }

# 1. the sample HIS: every mapped record loaded, counts add up
start_server main
expect_status 3 load "$SRC/mappings/pg" --report "$SCRATCH/r1.json" --rejects "$SCRATCH/rj1.jsonl"
ex=$(num "$SCRATCH/r1.json" extracted) lo=$(num "$SCRATCH/r1.json" loaded)
un=$(num "$SCRATCH/r1.json" unchanged) rj=$(num "$SCRATCH/r1.json" rejected)
[ "$ex" = $((lo + un + rj)) ] || fail "counts do not add up: $ex != $lo + $un + $rj"
[ "$(stat_of creates)" -gt 6000 ] || fail "expected more than 6000 creates"
[ "$(stat_of deletes)" = 0 ] || fail "a DELETE was sent"
grep -q '"where":"patients:919"' "$SCRATCH/rj1.jsonl" || fail "duplicate PINFL patient not rejected"
pass "sample HIS loaded ($lo records), counts add up"

# 2. re-run: nothing created, everything unchanged
creates=$(stat_of creates)
expect_status 3 load "$SRC/mappings/pg" --report "$SCRATCH/r2.json" --rejects "$SCRATCH/rj2.jsonl"
[ "$(stat_of creates)" = "$creates" ] || fail "re-run created resources"
[ "$(num "$SCRATCH/r2.json" loaded)" = 0 ] || fail "re-run loaded records"
[ "$(num "$SCRATCH/r2.json" unchanged)" = $((lo + un)) ] || fail "re-run: expected $((lo + un)) unchanged"
pass "re-run: zero creates, all unchanged"

# 3. one changed row: exactly one PUT with If-Match, version 2
psql -q -c "UPDATE his.patients SET phone = '+998901112233', updated_at = now() WHERE patient_id = 5"
updates=$(stat_of updates)
expect_status 3 load "$SRC/mappings/pg" --report "$SCRATCH/r3.json" --rejects "$SCRATCH/rj3.jsonl"
[ "$(stat_of updates)" = $((updates + 1)) ] || fail "expected exactly one update"
[ "$(num "$SCRATCH/r3.json" updated)" = 1 ] || fail "report: expected updated 1"
[ "$(stat_of version_mismatches)" = 0 ] || fail "a PUT without the right If-Match"
pass "one changed row: one PUT with If-Match"

# A small generated source for the fault tests.
M=$SCRATCH/maps
mkdir -p "$M"
cat >"$M/q.sql" <<'SQL'
SELECT i AS id, CASE WHEN i = 25 THEN 'INVALID-TEST-MARKER' ELSE 'P' || i END AS mrn,
       NULL::text AS sex
FROM generate_series(1, 300) AS i WHERE now() > :since ORDER BY i
SQL
cat >"$M/p.map" <<'MAP'
@query q.sql
@key id
@table people
@resource Patient
identifier[0].system  "https://his.example-hospital.uz/fhir/sid/mrn"
identifier[0].value   mrn
gender                sex
MAP

# 4. one invalid record in a 50-record bundle: isolated by bisect
start_server bisect
expect_status 3 load "$M" --report "$SCRATCH/r4.json" --rejects "$SCRATCH/rj4.jsonl"
[ "$(num "$SCRATCH/r4.json" loaded)" = 299 ] || fail "expected 299 loaded"
[ "$(grep -c . "$SCRATCH/rj4.jsonl")" = 1 ] || fail "expected one reject line"
grep -q '"where":"people:25"' "$SCRATCH/rj4.jsonl" || fail "reject lacks its source location"
grep -q 'HTTP 4' "$SCRATCH/rj4.jsonl" || fail "reject lacks the server's status"
pass "invalid record isolated by bisect: 299 loaded, 1 rejected"

# 5. injected 5xx / 429 / dropped connections: everything loaded, counts add up
start_server faults --fail-rate 0.04 --unavailable-rate 0.03 --throttle-rate 0.03 --drop-rate 0.02 --seed 7
expect_status 3 load "$M" --report "$SCRATCH/r5.json" --rejects "$SCRATCH/rj5.jsonl" \
	--records-per-bundle 20
[ "$(num "$SCRATCH/r5.json" loaded)" = 299 ] || fail "faults: expected 299 loaded"
[ "$(num "$SCRATCH/r5.json" retries)" -gt 0 ] || fail "faults: no retries happened"
pass "injected faults: all loaded after $(num "$SCRATCH/r5.json" retries) retries"

# 6. a forced 412 on the first PUT: re-read and success
start_server c412 --force-412-first-put
expect_status 3 load "$M" -q
sed -i "s/NULL::text AS sex/CASE WHEN i = 3 THEN 'male' END AS sex/" "$M/q.sql"
expect_status 3 load "$M" --report "$SCRATCH/r6.json" -q
[ "$(num "$SCRATCH/r6.json" updated)" = 1 ] || fail "412: the update did not land"
[ "$(stat_of forced_412)" = 1 ] || fail "412: the server did not force one"
pass "forced 412: re-read, retried, updated"

# 7. tokens that expire during the run: renewed, no failure
start_server ttl --token-ttl 1 --delay-ms 100
expect_status 3 load "$M" --report "$SCRATCH/r7.json" -q --records-per-bundle 5 --concurrency 1
[ "$(num "$SCRATCH/r7.json" loaded)" = 299 ] || fail "token expiry: not all loaded"
[ "$(stat_of tokens_issued)" -gt 1 ] || fail "token expiry: no new token fetched"
[ "$(num "$SCRATCH/r7.json" tokens)" = "$(stat_of tokens_issued)" ] || fail "report: tokens differ from the server's count"
pass "expiring tokens renewed ($(stat_of tokens_issued) tokens)"

# 8. a wrong secret: exit 1 naming the token URL, nothing sent
printf 'wrong\n' >"$SCRATCH/bad"
chmod 600 "$SCRATCH/bad"
start_server wrong
expect_status 1 "$DHP" run --db "$CONNINFO" --mappings "$M" --base "http://127.0.0.1:$PORT/fhir" \
	--token-url "http://127.0.0.1:$PORT/oauth/token" --client-id etl --client-secret-file "$SCRATCH/bad"
expect_stderr "http://127.0.0.1:$PORT/oauth/token: error: token request refused: HTTP 401: invalid_client"
[ "$(stat_of transactions)" = 0 ] && [ "$(stat_of batches)" = 0 ] || fail "data was sent with a wrong secret"
chmod 644 "$SCRATCH/bad"
expect_status 2 "$DHP" token --token-url "http://127.0.0.1:$PORT/oauth/token" --client-id etl \
	--client-secret-file "$SCRATCH/bad"
expect_stderr "readable by others"
pass "wrong secret: exit 1, nothing sent; loose secret file refused"

# 9. HL7v2 messages: loaded, and a re-run creates nothing (resources without a
# business identifier are found again by their technical identifier)
start_server hl7
expect_status 0 "$DHP" run --source hl7v2 "$SRC"/samples/hl7v2/*.hl7 --base "http://127.0.0.1:$PORT/fhir" \
	--token-url "http://127.0.0.1:$PORT/oauth/token" --client-id etl \
	--client-secret-file "$SCRATCH/secret" -q --report "$SCRATCH/h1.json"
creates=$(stat_of creates)
[ "$creates" -gt 10 ] || fail "hl7: too few creates ($creates)"
expect_status 0 "$DHP" run --source hl7v2 "$SRC"/samples/hl7v2/*.hl7 --base "http://127.0.0.1:$PORT/fhir" \
	--token-url "http://127.0.0.1:$PORT/oauth/token" --client-id etl \
	--client-secret-file "$SCRATCH/secret" -q --report "$SCRATCH/h2.json"
[ "$(stat_of creates)" = "$creates" ] || fail "hl7 re-run created resources"
[ "$(stat_of updates)" = 0 ] || fail "hl7 re-run updated resources"
pass "HL7v2 samples loaded ($creates resources); re-run unchanged"

# 10. a server that keeps failing: the run stops cleanly after max_failures, exit 1
start_server down --fail-rate 1
printf '[target]\nmax_attempts = 5\nmax_failures = 3\n' >"$SCRATCH/down.conf"
expect_status 1 load "$M" "$SCRATCH/down.conf" --report "$SCRATCH/r10.json"
expect_stderr "consecutive failed requests"
grep -q '"status": "failed"' "$SCRATCH/r10.json" || fail "report does not say failed"
[ "$(num "$SCRATCH/r10.json" loaded)" = 0 ] || fail "nothing can have been loaded"
pass "a failing server: stopped after 3 consecutive failures, exit 1"

# 11. the secret never appears in any output or log
for f in "$SCRATCH"/*.log "$SCRATCH"/*.err "$SCRATCH"/*.json "$SCRATCH"/*.jsonl "$SCRATCH/stdout" "$SCRATCH/stderr"; do
	[ -f "$f" ] || continue
	! grep -qF "$SECRET" "$f" || fail "the client secret leaked into $f"
done
pass "the secret appears in no output"
