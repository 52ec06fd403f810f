#!/usr/bin/env bash
# bench/pg/run.sh: throughput and memory of `dhp-import validate` against a raw `psql \copy`.
#
#   bench/pg/run.sh            (no arguments; see bench/README.md)
#
# Starts its own throwaway PostgreSQL (tests/pg-harness.sh, stopped on exit), loads the sample HIS
# (sql/his-schema.sql, sql/his-seed.sql), generates two benchmark copies of his.visits
# (bench/pg/gen-visits.sql): his.bench_visits_<SMALL> and his.bench_visits_<ROWS>, and builds for each
# a scratch mapping set: mappings/pg/encounter.map + codes/ + visits.sql with its FROM pointed at the
# bench table.  For each size, BENCH_RUNS times (median reported):
#   psql        psql -c "\copy (visits.sql, :since -> '-infinity'::timestamptz) to '/dev/null'"
#   dhp-import  dhp-import validate --mappings SCRATCH --out SCRATCH/out --report ... -q
# wall time (date +%s.%N around the command), peak RSS (GNU time %M) of dhp-import, bundles written.
# One untimed \copy per size warms the cache first; `sync` before every timed run.  Every run writes
# its bundles to a directory of its own, all deleted only at the end: deleting many files just before a
# run slows the run's file creation down on some file systems (ext4 without a journal skips inodes freed
# in the last minutes: see bench/README.md).
#
# Environment:
#   BENCH_ROWS=1000000        rows of the big table
#   BENCH_SMALL_ROWS=10000    rows of the small table
#   BENCH_RUNS=3              timed runs per size and side (the median is reported)
#   BENCH_TMP=/tmp            where the scratch directory (cluster, mapping sets, bundles) goes
#   BENCH_OUT=DIR             put the bundles under DIR instead (e.g. /dev/shm: no disk in the figures)
#                             The bundles of all runs are kept until the end: ~1.7 kB per row and run,
#                             (SMALL + ROWS) * RUNS rows in all (defaults: ~5 GB).
#   DHP_IMPORT=build/dhp-import   the binary under test
#   BENCH_KEEP=1              keep the scratch directory (the cluster is stopped all the same)
# Needs: PostgreSQL server binaries and psql (as for tests/pg-harness.sh), GNU time as /usr/bin/time
# (Debian: apt-get install time).  Prints only; nothing is written into the repository.
set -euo pipefail

ME=bench-pg
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$REPO/bench/pg
HARNESS=$REPO/tests/pg-harness.sh

ROWS=${BENCH_ROWS:-1000000}
SMALL=${BENCH_SMALL_ROWS:-10000}
RUNS=${BENCH_RUNS:-3}
TMPBASE=${BENCH_TMP:-/tmp}
DHP=${DHP_IMPORT:-$REPO/build/dhp-import}

say() { printf '%s: %s\n' "$ME" "$*" >&2; }
die() { say "error: $*"; exit 1; }

isnum() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }
isnum "$ROWS" || die "BENCH_ROWS must be a positive integer (got '$ROWS')"
isnum "$SMALL" || die "BENCH_SMALL_ROWS must be a positive integer (got '$SMALL')"
isnum "$RUNS" || die "BENCH_RUNS must be a positive integer (got '$RUNS')"
[ -x "$DHP" ] || die "$DHP is not executable (build first: cmake --build build -j2, or set DHP_IMPORT)"
[ -x /usr/bin/time ] && /usr/bin/time -f %M true >/dev/null 2>&1 ||
	die "GNU time is needed as /usr/bin/time for the peak RSS (Debian: apt-get install time)"
command -v psql >/dev/null || die "psql not found (Debian: apt-get install postgresql-client)"
for f in encounter.map visits.sql codes; do
	[ -e "$REPO/mappings/pg/$f" ] || die "mappings/pg/$f is missing"
done
grep -q '^FROM his\.visits v *$' "$REPO/mappings/pg/visits.sql" ||
	die "mappings/pg/visits.sql has no line 'FROM his.visits v': cannot point it at the bench table"

T_START=$(date +%s.%N)
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# --- scratch directory and cluster ------------------------------------------------------------------------

WORK=$(mktemp -d "$TMPBASE/dhp-bench.XXXXXX")
chmod 0755 "$WORK" # the server runs as postgres when we are root: it must reach $WORK/pg
PGD=$WORK/pg
OUTBASE=""
# shellcheck source=../lib.sh
. "$REPO/bench/lib.sh" # run_bg, stop_child, make_outbase, check_space, remove_scratch
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_child
	"$HARNESS" stop "$PGD" >/dev/null 2>&1 || say "warning: could not stop the cluster in $PGD"
	remove_scratch
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

make_outbase dhp-bench-out
need_kb=$(( (SMALL + ROWS) * RUNS * 17 / 10 + 200000 ))
check_space "$need_kb" "the bundles of all runs"
say "scratch $WORK, bundles under $OUTBASE; starting PostgreSQL"
"$HARNESS" start "$PGD" >/dev/null
run_bg "$HARNESS" load "$PGD" >/dev/null 2>"$WORK/load.log" || { cat "$WORK/load.log" >&2; die "loading the sample HIS failed"; }
CONNINFO=$(cat "$PGD/conninfo")
PSQL=(psql -X -q -v ON_ERROR_STOP=1 -d "$CONNINFO")

# The repository's profile and code tables, also for a binary outside build/ (DHP_IMPORT).
SHARED=(--profiles "$REPO/mappings/profiles")
[ -d "$REPO/mappings/terminology" ] && SHARED+=(--terminology "$REPO/mappings/terminology")

SIZES=("$SMALL")
[ "$ROWS" != "$SMALL" ] && SIZES+=("$ROWS")

# --- data and mapping sets --------------------------------------------------------------------------------

declare -A COPYSQL
for n in "${SIZES[@]}"; do
	tbl=his.bench_visits_$n
	t0=$(now)
	run_bg "${PSQL[@]}" -v tbl="$tbl" -v rows="$n" -f "$HERE/gen-visits.sql" >/dev/null
	say "generated $tbl ($n rows) in $(elapsed "$t0" "$(now)") s"
	m=$WORK/maps-$n
	mkdir -p "$m"
	cp "$REPO/mappings/pg/encounter.map" "$m/"
	cp -r "$REPO/mappings/pg/codes" "$m/"
	sed "s/^FROM his\.visits v *\$/FROM $tbl v/" "$REPO/mappings/pg/visits.sql" >"$m/visits.sql"
	# The same query for psql: -- comments out, :since bound as dhp-import binds it without --since,
	# on one line (\copy takes the rest of its line).
	COPYSQL[$n]=$(sed -e 's/--.*$//' -e "s/:since/'-infinity'::timestamptz/g" "$m/visits.sql" |
		tr -s ' \t\n' ' ' | sed -e 's/^ *//' -e 's/ *$//')
done
T_SETUP=$(now)

# --- measurements -----------------------------------------------------------------------------------------

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
json_num() { sed -n "s/^  \"$1\": \([0-9.]*\),*\$/\1/p" "$2" | head -n1; }

declare -A P_T D_T D_RSS BUNDLES RAW
for n in "${SIZES[@]}"; do
	m=$WORK/maps-$n
	run_bg "${PSQL[@]}" -c "\\copy (${COPYSQL[$n]}) to '/dev/null'" # warm-up, untimed
	pt=() dt=() dr=()
	for r in $(seq 1 "$RUNS"); do
		t0=$(now)
		run_bg /usr/bin/time -f %M -o "$WORK/time.psql" "${PSQL[@]}" -c "\\copy (${COPYSQL[$n]}) to '/dev/null'"
		t1=$(now)
		pt+=("$(elapsed "$t0" "$t1")")

		out=$OUTBASE/out-$n-$r
		sync
		set +e
		t0=$(now)
		run_bg /usr/bin/time -f %M -o "$WORK/time.dhp" "$DHP" validate --db "$CONNINFO" --mappings "$m" \
			"${SHARED[@]}" --out "$out" --report "$WORK/report.json" -q --no-progress
		rc=$?
		t1=$(now)
		set -e
		[ "$rc" = 0 ] || [ "$rc" = 3 ] || die "dhp-import validate failed (exit $rc) on $n rows"
		dt+=("$(elapsed "$t0" "$t1")")
		dr+=("$(tail -n1 "$WORK/time.dhp")")
		ext=$(json_num extracted "$WORK/report.json")
		rej=$(json_num rejected "$WORK/report.json")
		b=$(json_num bundles "$WORK/report.json")
		files=$(find "$out" -name 'bundle-*.json' | wc -l)
		[ "$ext" = "$n" ] || die "dhp-import extracted $ext records, expected $n"
		[ "$rej" = 0 ] || say "warning: $rej rejected records on $n rows (see $out/rejects.jsonl)"
		[ "$b" = "$files" ] || say "warning: report says $b bundles, $files bundle files in $out"
		BUNDLES[$n]=$b
		say "$n rows, run $r/$RUNS: psql ${pt[-1]} s, dhp-import ${dt[-1]} s, peak RSS ${dr[-1]} kB, $b bundles"
	done
	P_T[$n]=$(printf '%s\n' "${pt[@]}" | median)
	D_T[$n]=$(printf '%s\n' "${dt[@]}" | median)
	D_RSS[$n]=$(printf '%s\n' "${dr[@]}" | median)
	RAW[$n]="psql ${pt[*]} s | dhp-import ${dt[*]} s, ${dr[*]} kB"
done
T_END=$(now)

# --- report -----------------------------------------------------------------------------------------------

pgver=$("${PSQL[@]}" -At -c 'show server_version')
cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n1)
echo
echo "dhp-import validate vs psql \\copy: Encounter from a visits query (mappings/pg/encounter.map)"
echo "$("$DHP" --version 2>/dev/null | head -n1); PostgreSQL $pgver; $(nproc) CPU ${cpu:-?}"
echo "load average at start $LOAD_START, at end $(cut -d' ' -f1-3 /proc/loadavg) (other work on the host skews the figures)"
echo "median of $RUNS runs; ratio = dhp-import time / psql time (how many times slower than the raw copy)"
echo
printf '%10s | %12s %12s | %12s %12s %11s %8s | %7s\n' \
	rows "psql s" "psql rows/s" "dhp s" "dhp rows/s" "peak RSS MB" bundles ratio
printf -- '-----------+---------------------------+------------------------------------------------+--------\n'
for n in "${SIZES[@]}"; do
	awk -v n="$n" -v pt="${P_T[$n]}" -v dt="${D_T[$n]}" -v rss="${D_RSS[$n]}" -v b="${BUNDLES[$n]}" 'BEGIN {
		printf "%10d | %12.3f %12.0f | %12.3f %12.0f %11.1f %8d | %6.1fx\n",
			n, pt, n / pt, dt, n / dt, rss / 1024, b, dt / pt }'
done
echo
if [ "${#SIZES[@]}" = 2 ]; then
	awk -v s="$SMALL" -v l="$ROWS" -v rs="${D_RSS[$SMALL]}" -v rl="${D_RSS[$ROWS]}" 'BEGIN {
		printf "peak RSS %d -> %d rows: %.1f MB -> %.1f MB (x%.2f)   target: flat, under 64 MB\n",
			s, l, rs / 1024, rl / 1024, rl / rs }'
fi
echo "throughput target: within a small factor of psql \\copy (ratio column)"
for n in "${SIZES[@]}"; do echo "raw $n: ${RAW[$n]}"; done
echo "setup (cluster, seed, generation) $(elapsed "$T_START" "$T_SETUP") s; measurements $(elapsed "$T_SETUP" "$T_END") s;" \
	"whole benchmark $(elapsed "$T_START" "$(now)") s"
