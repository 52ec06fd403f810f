#!/usr/bin/env bash
# bench/load/run.sh: throughput and client cost of `dhp-import run` into the local DHP-compatible
# test server (tests/server), against a raw POST of the same Bundles with curl.
#
#   bench/load/run.sh            (no arguments; see bench/README.md)
#
# Starts its own throwaway PostgreSQL (tests/pg-harness.sh, stopped on exit), loads the sample HIS
# (sql/his-schema.sql, sql/his-seed.sql) and generates his.bench_lab_results with BENCH_RESOURCES rows
# (bench/load/gen-labs.sql): one laboratory result = one Observation.  The mapping set is built at run
# time in the scratch directory: mappings/pg/lab.map + codes/ + labs.sql with its FROM pointed at the
# bench table, so the benchmark measures the current Observation mapping.
#
# Server A (build/dhp-testserver --port 0 --port-file ... --conditional-create dhp), a separate process:
#   seed        dhp-import run of mappings/pg patient.map + encounter.map (the seed's Patients and
#               Encounters, which the Observations refer to by identifier); not part of the figures
#   first load  dhp-import run of the bench mapping set, --records-per-bundle BENCH_PER_BUNDLE: every
#               Observation is created (one search batch + one transaction per bundle)
#   re-run      the same command again: everything unchanged, nothing created (search batches only)
# Then, for comparison (BENCH_BASELINE=0 skips it):
#   validate    dhp-import validate of the same mapping set into a directory: the Bundles on disk
#   raw POST    server B, fresh, gets the same seed; then one curl process POSTs every bundle file
#               (ifNoneExist removed: DHP declares no conditional create for Observation) with a
#               bearer token over one keep-alive connection; conditional references are left for the
#               server to resolve.  No search, no planning, no client logic: the server's ceiling.
# For each: wall time, client user+sys CPU and peak RSS (GNU time, the client process only), server
# CPU (/proc/PID/stat of the test server) and the server's counters (/_stats) before and after.
#
# Environment:
#   BENCH_RESOURCES=100000    rows of the bench table = Observations loaded
#   BENCH_PER_BUNDLE=100      records (= resources) per transaction (--records-per-bundle)
#   BENCH_CONCURRENCY=N       pass --concurrency N to dhp-import run (default: the tool's own default)
#   BENCH_BASELINE=1          0: skip validate and the raw curl POST
#   BENCH_TMP=/tmp            where the scratch directory (cluster, mapping sets, reports) goes
#   BENCH_OUT=DIR             put the baseline's bundle files under DIR instead (e.g. /dev/shm);
#                             about 1.5 kB per resource
#   DHP_IMPORT=build/dhp-import           the client under test
#   DHP_TESTSERVER=build/dhp-testserver   the server
#   BENCH_KEEP=1              keep the scratch directory (cluster and servers are stopped all the same)
# Needs: PostgreSQL server binaries and psql (as for tests/pg-harness.sh), curl, GNU time as
# /usr/bin/time (Debian: apt-get install time).  Prints only; nothing is written into the repository.
set -euo pipefail

ME=bench-load
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$REPO/bench/load
HARNESS=$REPO/tests/pg-harness.sh

N=${BENCH_RESOURCES:-100000}
PER=${BENCH_PER_BUNDLE:-100}
CONC=${BENCH_CONCURRENCY:-}
BASELINE=${BENCH_BASELINE:-1}
TMPBASE=${BENCH_TMP:-/tmp}
DHP=${DHP_IMPORT:-$REPO/build/dhp-import}
SRV=${DHP_TESTSERVER:-$REPO/build/dhp-testserver}
CLIENT_ID=dhp-bench
TBL=his.bench_lab_results

say() { printf '%s: %s\n' "$ME" "$*" >&2; }
die() { say "error: $*"; exit 1; }

isnum() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }
isnum "$N" || die "BENCH_RESOURCES must be a positive integer (got '$N')"
isnum "$PER" && [ "$PER" -le 10000 ] || die "BENCH_PER_BUNDLE must be 1 to 10000 (got '$PER')"
[ -z "$CONC" ] || isnum "$CONC" || die "BENCH_CONCURRENCY must be a positive integer (got '$CONC')"
[ -x "$DHP" ] || die "$DHP is not executable (build first: cmake --build build -j2, or set DHP_IMPORT)"
[ -x "$SRV" ] || die "$SRV is not executable (build first: cmake --build build -j2, or set DHP_TESTSERVER)"
[ -x /usr/bin/time ] && /usr/bin/time -f %M true >/dev/null 2>&1 ||
	die "GNU time is needed as /usr/bin/time for the client's CPU time and peak RSS (Debian: apt-get install time)"
command -v psql >/dev/null || die "psql not found (Debian: apt-get install postgresql-client)"
command -v curl >/dev/null || die "curl not found (Debian: apt-get install curl)"
for f in patient.map patients.sql encounter.map visits.sql lab.map labs.sql codes; do
	[ -e "$REPO/mappings/pg/$f" ] || die "mappings/pg/$f is missing"
done
grep -q '^FROM his\.lab_results r *$' "$REPO/mappings/pg/labs.sql" ||
	die "mappings/pg/labs.sql has no line 'FROM his.lab_results r': cannot point it at the bench table"

T_START=$(date +%s.%N)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
TICK=$(getconf CLK_TCK)

# --- scratch directory, cleanup -----------------------------------------------------------------------------

WORK=$(mktemp -d "$TMPBASE/dhp-bench-load.XXXXXX")
chmod 0755 "$WORK" # the PostgreSQL server runs as postgres when we are root: it must reach $WORK/pg
PGD=$WORK/pg
OUTBASE=""
SRV_PID=""
# shellcheck source=../lib.sh
. "$REPO/bench/lib.sh" # run_bg, stop_child, make_outbase, check_space, remove_scratch
stop_server() {
	[ -n "$SRV_PID" ] || return 0
	kill -TERM "$SRV_PID" 2>/dev/null || true
	wait "$SRV_PID" 2>/dev/null || true
	SRV_PID=""
}
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_child
	stop_server
	"$HARNESS" stop "$PGD" >/dev/null 2>&1 || say "warning: could not stop the cluster in $PGD"
	remove_scratch
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

make_outbase dhp-bench-load-out
if [ "$BASELINE" != 0 ]; then
	need_kb=$((N * 2 + 100000))
	check_space "$need_kb" "the baseline's bundles"
fi

# --- PostgreSQL, data, mapping sets ---------------------------------------------------------------------------

say "scratch $WORK; starting PostgreSQL"
"$HARNESS" start "$PGD" >/dev/null 2>"$WORK/pg-start.log" || { cat "$WORK/pg-start.log" >&2; die "could not start PostgreSQL"; }
run_bg "$HARNESS" load "$PGD" >/dev/null 2>"$WORK/load.log" || { cat "$WORK/load.log" >&2; die "loading the sample HIS failed"; }
CONNINFO=$(cat "$PGD/conninfo")
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -d "$CONNINFO")

t0=$(now)
run_bg "${PSQL[@]}" -v tbl="$TBL" -v rows="$N" -f "$HERE/gen-labs.sql" >/dev/null
say "generated $TBL ($N rows) in $(elapsed "$t0" "$(now)") s"

# The seed's Patients and Encounters: what the Observations refer to.
SEEDMAPS=$WORK/maps-seed
mkdir -p "$SEEDMAPS"
cp "$REPO"/mappings/pg/{patient.map,patients.sql,encounter.map,visits.sql} "$SEEDMAPS/"
cp -r "$REPO/mappings/pg/codes" "$SEEDMAPS/"
# The benchmark: the real Observation mapping over the bench table.
MAPS=$WORK/maps-bench
mkdir -p "$MAPS"
cp "$REPO/mappings/pg/lab.map" "$MAPS/"
cp -r "$REPO/mappings/pg/codes" "$MAPS/"
sed "s/^FROM his\.lab_results r *\$/FROM $TBL r/" "$REPO/mappings/pg/labs.sql" >"$MAPS/labs.sql"

CONC_ARGS=()
[ -z "$CONC" ] || CONC_ARGS=(--concurrency "$CONC")
CONC_SHOWN=${CONC:-$("$DHP" --help 2>&1 | sed -n 's/.*--concurrency N.*default \([0-9]*\).*/\1/p')}
CONC_SHOWN=${CONC_SHOWN:-?}
[ -n "$CONC" ] && CONC_SHOWN="$CONC_SHOWN (BENCH_CONCURRENCY)" || CONC_SHOWN="$CONC_SHOWN (the tool's default)"

# The repository's profile and code tables, also for a binary outside build/ (DHP_IMPORT).
SHARED=(--profiles "$REPO/mappings/profiles")
[ -d "$REPO/mappings/terminology" ] && SHARED+=(--terminology "$REPO/mappings/terminology")

SECRET=$WORK/client-secret
(umask 077 && printf 'bench-%s-%s' "$$" "$(od -An -N8 -tx8 /dev/urandom | tr -d ' ')" >"$SECRET")

# --- helpers --------------------------------------------------------------------------------------------------

PORT=""
# start_server NAME: a fresh dhp-testserver; sets SRV_PID and PORT.
start_server() {
	stop_server
	local name=$1 pf=$WORK/$1.port
	rm -f "$pf"
	"$SRV" --port 0 --port-file "$pf" --client-id "$CLIENT_ID" --client-secret-file "$SECRET" \
		--conditional-create dhp --stats-file "$WORK/$name.stats" 2>"$WORK/$name.err" &
	SRV_PID=$!
	for _ in $(seq 100); do
		[ -s "$pf" ] && break
		kill -0 "$SRV_PID" 2>/dev/null || { cat "$WORK/$name.err" >&2; die "dhp-testserver exited"; }
		sleep 0.05
	done
	[ -s "$pf" ] || die "dhp-testserver wrote no port file"
	PORT=$(cat "$pf")
}

# stats FILE: the server's /_stats, one line.
stats() { curl -sf "http://127.0.0.1:$PORT/_stats" | tr -d ' \n' >"$1" || die "GET /_stats failed"; }
# stat_of KEY FILE: a top-level integer of a stats snapshot.
stat_of() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" "$2"; }
# delta KEY BEFORE AFTER
delta() { echo $(($(stat_of "$1" "$3") - $(stat_of "$1" "$2"))); }
# server CPU seconds so far (user + sys of the test server)
srv_cpu() { awk -v t="$TICK" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / t }' "/proc/$SRV_PID/stat"; }
json_num() { sed -n "s/^  \"$1\": \([0-9.]*\),*\$/\1/p" "$2" | head -n1; }

# load NAME MAPS: `dhp-import run` into the current server, timed; fills R_* for NAME.
declare -A R_WALL R_USER R_SYS R_RSS R_SCPU R_CREATES R_TX R_BATCH R_SEARCH R_REQ R_UPD
load() {
	local name=$1 maps=$2 rc
	sync
	stats "$WORK/$name.before"
	local c0
	c0=$(srv_cpu)
	set +e
	run_bg /usr/bin/time -f '%e %U %S %M' -o "$WORK/$name.time" "$DHP" run --db "$CONNINFO" \
		--mappings "$maps" "${SHARED[@]}" --base "http://127.0.0.1:$PORT/fhir" \
		--token-url "http://127.0.0.1:$PORT/oauth/token" --client-id "$CLIENT_ID" \
		--client-secret-file "$SECRET" --records-per-bundle "$PER" "${CONC_ARGS[@]}" \
		--report "$WORK/$name.report.json" --rejects "$WORK/$name.rejects.jsonl" -q --no-progress
	rc=$?
	set -e
	local c1
	c1=$(srv_cpu)
	stats "$WORK/$name.after"
	if [ "$rc" != 0 ] && [ "$rc" != 3 ]; then
		tail -n 5 "$WORK/$name.time" >&2
		die "dhp-import run ($name) failed (exit $rc)"
	fi
	local w u s m
	read -r w u s m < <(tail -n1 "$WORK/$name.time")
	R_WALL[$name]=$w R_USER[$name]=$u R_SYS[$name]=$s R_RSS[$name]=$m
	R_SCPU[$name]=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')
	local b=$WORK/$name.before a=$WORK/$name.after
	R_CREATES[$name]=$(delta creates "$b" "$a")
	R_UPD[$name]=$(delta updates "$b" "$a")
	R_TX[$name]=$(delta transactions "$b" "$a")
	R_BATCH[$name]=$(delta batches "$b" "$a")
	R_SEARCH[$name]=$(delta searches "$b" "$a")
	R_REQ[$name]=$(delta requests "$b" "$a")
	return "$rc"
}

# seed: the seed's Patients and Encounters into the current server (untimed for the figures).
seed() {
	local rc=0
	load "seed-$1" "$SEEDMAPS" || rc=$?
	local r=$WORK/seed-$1.report.json
	[ "$(json_num loaded "$r")" -gt 800 ] ||
		die "seed load into server $1: only $(json_num loaded "$r") records loaded (see $WORK/seed-$1.rejects.jsonl)"
	say "server $1 (port $PORT): seed loaded, $(json_num loaded "$r") Patients and Encounters," \
		"$(json_num rejected "$r") dirty seed records rejected (expected; rc $rc)"
}

# --- server A: first load and re-run -------------------------------------------------------------------------

T_SETUP=$(now)
start_server A
seed A

say "first load: $N Observations, $PER per transaction"
load first "$MAPS" || die "first load: rejected records (see $WORK/first.rejects.jsonl; BENCH_KEEP=1 keeps it)"
r=$WORK/first.report.json
[ "$(json_num extracted "$r")" = "$N" ] || die "first load extracted $(json_num extracted "$r") records, expected $N"
[ "$(json_num loaded "$r")" = "$N" ] || die "first load: $(json_num loaded "$r") loaded, expected $N"
[ "${R_CREATES[first]}" = "$N" ] || die "first load: the server counted ${R_CREATES[first]} creates, expected $N"
say "first load: ${R_WALL[first]} s wall, client ${R_USER[first]} s user + ${R_SYS[first]} s sys"

say "re-run: the same command again (everything unchanged)"
load rerun "$MAPS" || die "re-run: rejected records (see $WORK/rerun.rejects.jsonl)"
r=$WORK/rerun.report.json
[ "$(json_num unchanged "$r")" = "$N" ] || die "re-run: $(json_num unchanged "$r") unchanged, expected $N"
[ "${R_CREATES[rerun]}" = 0 ] && [ "${R_UPD[rerun]}" = 0 ] && [ "${R_TX[rerun]}" = 0 ] ||
	die "re-run: ${R_CREATES[rerun]} creates, ${R_UPD[rerun]} updates, ${R_TX[rerun]} transactions (expected none)"
say "re-run: ${R_WALL[rerun]} s wall, client ${R_USER[rerun]} s user + ${R_SYS[rerun]} s sys"
A_RES=$(stat_of resources_total "$WORK/rerun.after")
stop_server

# --- baseline: the same Bundles from disk, POSTed by curl to server B ------------------------------------------

if [ "$BASELINE" != 0 ]; then
	out=$OUTBASE/bundles
	say "baseline: dhp-import validate into $out"
	set +e
	run_bg /usr/bin/time -f '%e %U %S %M' -o "$WORK/validate.time" "$DHP" validate --db "$CONNINFO" \
		--mappings "$MAPS" "${SHARED[@]}" --records-per-bundle "$PER" --out "$out" \
		--report "$WORK/validate.report.json" -q --no-progress
	rc=$?
	set -e
	[ "$rc" = 0 ] || die "dhp-import validate failed (exit $rc)"
	read -r V_WALL V_USER V_SYS V_RSS < <(tail -n1 "$WORK/validate.time")
	NB=$(json_num bundles "$WORK/validate.report.json")
	# DHP (and the test server with --conditional-create dhp) declares no conditional create for
	# Observation: dhp-import run sends none there, and the raw POST must not either.
	for f in "$out"/bundle-*.json; do
		sed -i 's/, "ifNoneExist": "[^"]*"//' "$f"
	done
	BYTES=$(cat "$out"/bundle-*.json | wc -c)

	start_server B
	seed B
	tok=$(curl -sf -d grant_type=client_credentials -d client_id="$CLIENT_ID" \
		--data-urlencode "client_secret@$SECRET" "http://127.0.0.1:$PORT/oauth/token" |
		sed -n 's/.*"access_token" *: *"\([^"]*\)".*/\1/p') || die "no token from server B"
	[ -n "$tok" ] || die "no token from server B"
	# One curl process, one request per bundle file, in order, over a kept-alive connection.
	cfg=$WORK/curl.cfg
	(umask 077 && : >"$cfg")
	first=1
	for f in "$out"/bundle-*.json; do
		[ "$first" = 1 ] || echo next
		first=0
		printf 'url = "http://127.0.0.1:%s/fhir"\nheader = "Authorization: Bearer %s"\n' "$PORT" "$tok"
		printf 'header = "Content-Type: application/fhir+json"\nheader = "Accept: application/fhir+json"\n'
		printf 'data-binary = "@%s"\noutput = "/dev/null"\nwrite-out = "%%{http_code} %%{num_connects}\\n"\n' "$f"
	done >>"$cfg"
	unset tok
	say "baseline: raw POST of $NB bundle files with curl"
	sync
	stats "$WORK/raw.before"
	c0=$(srv_cpu)
	run_bg /usr/bin/time -f '%e %U %S %M' -o "$WORK/raw.time" curl -s -K "$cfg" >"$WORK/raw.codes" ||
		die "curl failed (see $WORK/raw.codes)"
	c1=$(srv_cpu)
	stats "$WORK/raw.after"
	read -r B_WALL B_USER B_SYS B_RSS < <(tail -n1 "$WORK/raw.time")
	B_SCPU=$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.2f", b - a }')
	B_OK=$(awk '$1 ~ /^2/' "$WORK/raw.codes" | wc -l)
	B_CONN=$(awk '{ s += $2 } END { print s + 0 }' "$WORK/raw.codes")
	B_CREATES=$(delta creates "$WORK/raw.before" "$WORK/raw.after")
	B_TX=$(delta transactions "$WORK/raw.before" "$WORK/raw.after")
	B_BATCH=$(delta batches "$WORK/raw.before" "$WORK/raw.after")
	B_SEARCH=$(delta searches "$WORK/raw.before" "$WORK/raw.after")
	B_REQ=$(delta requests "$WORK/raw.before" "$WORK/raw.after")
	[ "$B_OK" = "$NB" ] || die "raw POST: $B_OK of $NB bundles accepted (status codes in $WORK/raw.codes)"
	[ "$B_CREATES" = "$N" ] || die "raw POST: the server counted $B_CREATES creates, expected $N"
	stop_server
fi
T_END=$(now)

# --- report ---------------------------------------------------------------------------------------------------

pgver=$("${PSQL[@]}" -At -c 'show server_version')
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
echo
echo "dhp-import run into dhp-testserver: $N Observations (mappings/pg/lab.map over $TBL), $PER records per transaction"
echo "transactions in flight: --concurrency $CONC_SHOWN; server: a thread per connection, its store behind one lock"
echo "$("$DHP" --version 2>/dev/null | head -n1) ($(sha256sum "$DHP" | cut -c1-12)); PostgreSQL $pgver; curl $(curl --version | awk 'NR == 1 { print $2 }'); $(nproc) CPU ${cpu:-?}"
echo "load average at start $LOAD_START, at end $(cut -d' ' -f1-3 /proc/loadavg) (other work on the host skews the figures)"
echo "client = the one process measured by GNU time (dhp-import, or curl); server = dhp-testserver (/proc/PID/stat)"
echo
printf '%-18s | %8s %11s | %7s %7s %12s %8s | %9s %10s | %8s %6s %7s %8s %8s\n' \
	"" "wall s" "resources/s" "user s" "sys s" "client µs/res" "RSS MB" "server s" "srv µs/res" \
	creates tx batches searches requests
printf -- '-------------------+----------------------+-----------------------------------------+----------------------+----------------------------------------------\n'
row() { # NAME WALL USER SYS RSS_KB SERVER_CPU CREATES TX BATCHES SEARCHES REQUESTS
	awk -v name="$1" -v n="$N" -v w="$2" -v u="$3" -v s="$4" -v rss="$5" -v sc="$6" \
		-v cr="$7" -v tx="$8" -v ba="$9" -v se="${10}" -v rq="${11}" 'BEGIN {
		printf "%-18s | %8.2f %11.0f | %7.2f %7.2f %13.1f %8.1f | %9.2f %10.1f | %8d %6d %7d %8d %8d\n",
			name, w, n / w, u, s, (u + s) * 1e6 / n, rss / 1024, sc, sc * 1e6 / n, cr, tx, ba, se, rq }'
}
row "dhp-import run" "${R_WALL[first]}" "${R_USER[first]}" "${R_SYS[first]}" "${R_RSS[first]}" "${R_SCPU[first]}" \
	"${R_CREATES[first]}" "${R_TX[first]}" "${R_BATCH[first]}" "${R_SEARCH[first]}" "${R_REQ[first]}"
row "re-run (unchanged)" "${R_WALL[rerun]}" "${R_USER[rerun]}" "${R_SYS[rerun]}" "${R_RSS[rerun]}" "${R_SCPU[rerun]}" \
	"${R_CREATES[rerun]}" "${R_TX[rerun]}" "${R_BATCH[rerun]}" "${R_SEARCH[rerun]}" "${R_REQ[rerun]}"
if [ "$BASELINE" != 0 ]; then
	row "raw POST (curl)" "$B_WALL" "$B_USER" "$B_SYS" "$B_RSS" "$B_SCPU" "$B_CREATES" "$B_TX" "$B_BATCH" "$B_SEARCH" "$B_REQ"
	awk -v n="$N" -v w="$V_WALL" -v u="$V_USER" -v s="$V_SYS" -v rss="$V_RSS" -v nb="$NB" 'BEGIN {
		printf "%-18s | %8.2f %11.0f | %7.2f %7.2f %13.1f %8.1f | %9s %10s | (%d bundle files, no HTTP)\n",
			"dhp-import valid.", w, n / w, u, s, (u + s) * 1e6 / n, rss / 1024, "-", "-", nb }'
fi
echo
awk -v n="$N" -v w="${R_WALL[first]}" -v u="${R_USER[first]}" -v s="${R_SYS[first]}" \
	-v w2="${R_WALL[rerun]}" -v u2="${R_USER[rerun]}" -v s2="${R_SYS[rerun]}" 'BEGIN {
	printf "client CPU per resource: first load %.1f µs, re-run %.1f µs   (design goal: microseconds, the loader is never the bottleneck)\n",
		(u + s) * 1e6 / n, (u2 + s2) * 1e6 / n
	printf "client busy: first load %.0f %% of its wall time, re-run %.0f %% (the rest: waiting for the server and PostgreSQL)\n",
		100 * (u + s) / w, 100 * (u2 + s2) / w2 }'
if [ "$BASELINE" != 0 ]; then
	awk -v n="$N" -v w="${R_WALL[first]}" -v bw="$B_WALL" -v vw="$V_WALL" -v bytes="$BYTES" -v conn="$B_CONN" -v nb="$NB" 'BEGIN {
		printf "ratio dhp-import run / raw POST: %.2fx wall (%.0f vs %.0f resources/s); dhp-import run / (validate + raw POST): %.2fx\n",
			w / bw, n / w, n / bw, w / (vw + bw)
		printf "raw POST: %d requests, %.1f MB of Bundle JSON, %d TCP connection(s)\n", nb, bytes / 1048576, conn }'
fi
echo "server A holds $A_RES resources after the re-run (seed + $N Observations)"
echo "setup (cluster, seed, generation) $(elapsed "$T_START" "$T_SETUP") s; measurements $(elapsed "$T_SETUP" "$T_END") s;" \
	"whole benchmark $(elapsed "$T_START" "$(now)") s"
