#!/usr/bin/env bash
# bench/hl7/run.sh: HL7 v2 -> FHIR throughput of `dhp-import validate --source hl7v2` against a
# JavaScript peer built on @medplum/core (bench/hl7/peer.mjs), both pinned to one core.
#
#   bench/hl7/run.sh            (no arguments; see bench/README.md)
#
# 1. Installs the peer's one dependency (@medplum/core 4.5.2, package-lock.json) into
#    bench/hl7/node_modules (git-ignored) unless it is there already.
# 2. Generates the corpus (bench/hl7/gen-corpus.mjs): BENCH_MESSAGES messages, 70 % ORU^R01 and 30 %
#    ADT^A01 from five templates with varied ids, names, dates and values, BENCH_PER_FILE messages per
#    file, CR segment terminators.
# 3. One untimed warm-up per side on the first corpus file, whose Bundles are compared
#    (bench/hl7/compare.mjs): the peer must write the same Bundles as dhp-import.
# 4. BENCH_RUNS timed runs per side, alternating (median reported), each pinned to core BENCH_CPU:
#      dhp-import  taskset -c CPU dhp-import validate --source hl7v2 FILES --out DIR --report R
#                  --records-per-bundle 1 -q
#      peer        taskset -c CPU node peer.mjs --codes mappings/hl7v2/codes --out DIR FILES
#    One Bundle file per message on both sides.  Wall time from date +%s.%N around the command
#    (process start and set-up included), user/sys CPU and peak RSS from GNU time.
# Every run writes into a directory of its own, all deleted at the end (see bench/README.md, File systems).
#
# Environment:
#   BENCH_MESSAGES=100000     messages in the corpus
#   BENCH_PER_FILE=10000      messages per corpus file
#   BENCH_ORU_PERCENT=70      share of ORU^R01 (the rest is ADT^A01)
#   BENCH_RUNS=3              timed runs per side (the median is reported)
#   BENCH_CPU=0               the core both sides are pinned to (taskset -c)
#   BENCH_TMP=/tmp            where the scratch directory (corpus, bundles, reports) goes
#   BENCH_OUT=DIR             put the bundles under DIR instead (e.g. /dev/shm: no disk in the figures)
#                             All runs' bundles are kept until the end (~8 kB per message and run,
#                             2 * RUNS runs: ~5 GB with the defaults), except on tmpfs, where each run's
#                             are deleted right after it (~0.8 GB at a time)
#   BENCH_CORPUS=DIR          generate the corpus into DIR and keep it (reused when it already holds
#                             BENCH_MESSAGES messages of the same generator); bench/hl7/corpus is git-ignored
#   DHP_IMPORT=build/dhp-import   the binary under test
#   BENCH_KEEP=1              keep the scratch directory
# Needs: node >= 20 and npm (registry access the first time), GNU time as /usr/bin/time (Debian:
# apt-get install time), taskset (util-linux).  Prints only; writes nothing into the repository except
# bench/hl7/node_modules (and BENCH_CORPUS if pointed there).
set -euo pipefail

ME=bench-hl7
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
HERE=$REPO/bench/hl7

MESSAGES=${BENCH_MESSAGES:-100000}
PER_FILE=${BENCH_PER_FILE:-10000}
ORU_PCT=${BENCH_ORU_PERCENT:-70}
RUNS=${BENCH_RUNS:-3}
CPU=${BENCH_CPU:-0}
TMPBASE=${BENCH_TMP:-/tmp}
DHP=${DHP_IMPORT:-$REPO/build/dhp-import}
MAPS=$REPO/mappings/hl7v2

say() { printf '%s: %s\n' "$ME" "$*" >&2; }
die() { say "error: $*"; exit 1; }

isnum() { [[ $1 =~ ^[1-9][0-9]*$ ]]; }
isnum "$MESSAGES" || die "BENCH_MESSAGES must be a positive integer (got '$MESSAGES')"
isnum "$PER_FILE" || die "BENCH_PER_FILE must be a positive integer (got '$PER_FILE')"
isnum "$RUNS" || die "BENCH_RUNS must be a positive integer (got '$RUNS')"
if ! [[ $ORU_PCT =~ ^[0-9]+$ ]] || [ "$ORU_PCT" -gt 100 ]; then
	die "BENCH_ORU_PERCENT must be 0..100 (got '$ORU_PCT')"
fi
[[ $CPU =~ ^[0-9]+$ ]] || die "BENCH_CPU must be a core number (got '$CPU')"
[ -x "$DHP" ] || die "$DHP is not executable (build first: cmake --build build -j2, or set DHP_IMPORT)"
if ! { [ -x /usr/bin/time ] && /usr/bin/time -f %M true >/dev/null 2>&1; }; then
	die "GNU time is needed as /usr/bin/time for CPU times and peak RSS (Debian: apt-get install time)"
fi
command -v taskset >/dev/null || die "taskset not found (Debian: util-linux)"
taskset -c "$CPU" true 2>/dev/null || die "cannot pin to core $CPU (BENCH_CPU)"
command -v node >/dev/null || die "node not found (Node.js >= 20)"
NODE_MAJOR=$(node -p 'process.versions.node.split(".")[0]')
[ "$NODE_MAJOR" -ge 20 ] || die "Node.js >= 20 needed (@medplum/core 4.5.2), found $(node --version)"
for f in oru.map adt.map codes; do
	[ -e "$MAPS/$f" ] || die "mappings/hl7v2/$f is missing"
done

LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }

# --- the peer's dependency ----------------------------------------------------------------------------------

have_medplum() {
	[ -f "$HERE/node_modules/@medplum/core/package.json" ] &&
		[ "$(node -p 'require(process.argv[1]).version' "$HERE/node_modules/@medplum/core/package.json")" = 4.5.2 ]
}
if ! have_medplum; then
	command -v npm >/dev/null || die "npm not found (needed once to install @medplum/core into bench/hl7/node_modules)"
	say "installing @medplum/core 4.5.2 into bench/hl7/node_modules"
	if [ -f "$HERE/package-lock.json" ]; then
		(cd "$HERE" && npm ci --no-audit --no-fund --loglevel=error >&2)
	else
		(cd "$HERE" && npm install --no-audit --no-fund --loglevel=error >&2)
	fi
	have_medplum || die "@medplum/core 4.5.2 is not in bench/hl7/node_modules after npm"
fi

# --- scratch directory ----------------------------------------------------------------------------------------

WORK=$(mktemp -d "$TMPBASE/dhp-bench-hl7.XXXXXX")
OUTBASE=""
# shellcheck source=../lib.sh
. "$REPO/bench/lib.sh" # run_bg, stop_child, make_outbase, check_space, remove_scratch
cleanup() {
	local rc=$?
	trap - EXIT INT TERM
	stop_child
	remove_scratch
	exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

make_outbase dhp-bench-hl7-out
need_kb=$((MESSAGES * (RUNS + 1) * 2 * 9))
# On tmpfs a run's bundles are deleted as soon as it is checked (nothing to fear there, and they are
# memory); elsewhere they are kept until the end (ext4 slows file creation right after mass deletes).
OUT_FS=$(findmnt -n -f -o FSTYPE -T "$OUTBASE" 2>/dev/null || stat -f -c %T "$OUTBASE" 2>/dev/null || echo unknown)
if [ "$OUT_FS" = tmpfs ]; then
	need_kb=$((MESSAGES * 2 * 9))
fi
check_space "$need_kb" "the bundles"
say "scratch $WORK, bundles under $OUTBASE ($OUT_FS)"

# Copies of the binary and the mapping set: a rebuild or an edit during the benchmark must not change
# what is measured.
cp "$DHP" "$WORK/dhp-import"
cp -r "$MAPS" "$WORK/maps"
MAPS=$WORK/maps
DHP_SUM=$(sha256sum "$DHP" | cut -c1-12)

# --- corpus ---------------------------------------------------------------------------------------------------

CORPUS=${BENCH_CORPUS:-$WORK/corpus}
STAMP="$MESSAGES $PER_FILE $ORU_PCT ${BENCH_SEED:-1} $(cksum <"$HERE/gen-corpus.mjs" | cut -d' ' -f1)"
t0=$(now)
if [ -n "${BENCH_CORPUS:-}" ] && [ "$(cat "$CORPUS/.stamp" 2>/dev/null)" = "$STAMP" ]; then
	GEN_MSG="reused $CORPUS"
else
	rm -rf "$CORPUS"
	mkdir -p "$CORPUS"
	run_bg node "$HERE/gen-corpus.mjs" "$CORPUS" "$MESSAGES" "$PER_FILE" "$ORU_PCT" >"$WORK/gen.log"
	echo "$STAMP" >"$CORPUS/.stamp"
	GEN_MSG="generated in $(elapsed "$t0" "$(now)") s"
fi
FILES=("$CORPUS"/corpus-*.hl7)
[ -f "${FILES[0]}" ] || die "no corpus files in $CORPUS"
CORPUS_MB=$(cat "${FILES[@]}" | wc -c | awk '{ printf "%.1f", $1 / 1048576 }')
ORU_N=$(((MESSAGES * ORU_PCT) / 100))
say "corpus: $MESSAGES messages ($ORU_N ORU^R01, $((MESSAGES - ORU_N)) ADT^A01) in ${#FILES[@]} files, $CORPUS_MB MB; $GEN_MSG"

# --- one run --------------------------------------------------------------------------------------------------
# run SIDE TAG FILE...: runs one side into $OUTBASE/TAG; sets R_WALL R_USER R_SYS R_RSS_KB R_N R_REJ R_BUNDLES R_BYTES
DHP_CMD=("$WORK/dhp-import" validate --source hl7v2 --mappings "$MAPS" --profiles "$REPO/mappings/profiles")
[ -d "$REPO/mappings/terminology" ] && DHP_CMD+=(--terminology "$REPO/mappings/terminology")
run() {
	local side=$1 tag=$2
	shift 2
	local out=$OUTBASE/$tag tm=$WORK/$tag.time log=$WORK/$tag.log t0 t1
	mkdir -p "$out"
	sync
	if [ "$side" = dhp ]; then
		t0=$(now)
		run_bg /usr/bin/time -f '%U %S %M' -o "$tm" taskset -c "$CPU" "${DHP_CMD[@]}" "$@" \
			--out "$out" --report "$WORK/$tag.report" --records-per-bundle 1 -q >"$log" 2>&1 ||
			{ cat "$log" >&2; die "dhp-import failed ($tag)"; }
		t1=$(now)
		read -r R_N R_REJ R_BUNDLES < <(node -e '
			const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
			console.log(r.extracted, r.rejected, r.bundles)' "$WORK/$tag.report")
	else
		t0=$(now)
		run_bg /usr/bin/time -f '%U %S %M' -o "$tm" taskset -c "$CPU" node "$HERE/peer.mjs" \
			--codes "$MAPS/codes" --out "$out" "$@" >"$log" 2>"$log.err" ||
			{ cat "$log.err" >&2; die "the peer failed ($tag)"; }
		t1=$(now)
		read -r R_N R_REJ R_BUNDLES < <(node -e '
			const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").pop());
			console.log(r.messages, r.rejected, r.bundles)' "$log")
	fi
	R_WALL=$(elapsed "$t0" "$t1")
	read -r R_USER R_SYS R_RSS_KB < <(tail -n 1 "$tm")
	R_BYTES=$(du -sb "$out" | cut -f1)
	local files
	files=$(find "$out" -maxdepth 1 -name 'bundle-*.json' | wc -l)
	[ "$files" -eq "$R_BUNDLES" ] || die "$tag: $files bundle files, but the run reports $R_BUNDLES"
	[ "$R_REJ" -eq 0 ] || say "warning: $tag rejected $R_REJ of $R_N messages (see $WORK/$tag.report or $log.err)"
	if [ "$OUT_FS" = tmpfs ] && [[ $tag != warm-* ]]; then rm -rf "$out"; fi
}

# --- warm-up and equivalence ----------------------------------------------------------------------------------

say "warm-up on ${FILES[0]##*/} (untimed), then comparing the Bundles of both sides"
run dhp warm-dhp "${FILES[0]}"
WARM_N=$R_N
run peer warm-peer "${FILES[0]}"
[ "$R_N" -eq "$WARM_N" ] || die "warm-up: dhp-import read $WARM_N messages, the peer $R_N"
COMPARE=$(node "$HERE/compare.mjs" "$OUTBASE/warm-dhp" "$OUTBASE/warm-peer" 2>&1) ||
	{ printf '%s\n' "$COMPARE" >&2; die "the peer's Bundles differ from dhp-import's: fix peer.mjs first"; }
say "$COMPARE"

# --- timed runs -----------------------------------------------------------------------------------------------

declare -a D_WALL D_USER D_SYS D_RSS P_WALL P_USER P_SYS P_RSS
D_BYTES=0 P_BYTES=0 D_BUNDLES=0 P_BUNDLES=0
RAW=()
for ((i = 1; i <= RUNS; i++)); do
	run dhp "dhp-$i" "${FILES[@]}"
	[ "$R_N" -eq "$MESSAGES" ] || die "dhp-import extracted $R_N messages, expected $MESSAGES"
	D_WALL+=("$R_WALL") D_USER+=("$R_USER") D_SYS+=("$R_SYS") D_RSS+=("$R_RSS_KB")
	D_BYTES=$R_BYTES D_BUNDLES=$R_BUNDLES D_REJ=$R_REJ
	RAW+=("$(printf 'raw run %d dhp-import: wall %s s, user %s s, sys %s s, peak RSS %s kB, %s bundles' \
		"$i" "$R_WALL" "$R_USER" "$R_SYS" "$R_RSS_KB" "$R_BUNDLES")")
	say "${RAW[-1]#raw }"
	run peer "peer-$i" "${FILES[@]}"
	[ "$R_N" -eq "$MESSAGES" ] || die "the peer read $R_N messages, expected $MESSAGES"
	P_WALL+=("$R_WALL") P_USER+=("$R_USER") P_SYS+=("$R_SYS") P_RSS+=("$R_RSS_KB")
	P_BYTES=$R_BYTES P_BUNDLES=$R_BUNDLES P_REJ=$R_REJ
	RAW+=("$(printf 'raw run %d peer:       wall %s s, user %s s, sys %s s, peak RSS %s kB, %s bundles' \
		"$i" "$R_WALL" "$R_USER" "$R_SYS" "$R_RSS_KB" "$R_BUNDLES")")
	say "${RAW[-1]#raw }"
done

# --- the file-writing floor -------------------------------------------------------------------------------
# The same number of files of dhp-import's mean Bundle size, written the way dhp-import writes them and
# nothing else (bench/hl7/floor.c): what one file per message costs by itself on this file system.
FLOOR_WALL="" FLOOR_CPU="" FLOOR_SYS=""
if command -v cc >/dev/null && cc -O2 -o "$WORK/floor-bin" "$HERE/floor.c" 2>"$WORK/floor.log"; then
	sync
	t0=$(now)
	run_bg /usr/bin/time -f '%U %S %M' -o "$WORK/floor.time" taskset -c "$CPU" "$WORK/floor-bin" \
		"$OUTBASE/floor-out" "$MESSAGES" $((D_BYTES / D_BUNDLES)) || die "floor failed"
	FLOOR_WALL=$(elapsed "$t0" "$(now)")
	read -r fu FLOOR_SYS _ < <(tail -n 1 "$WORK/floor.time")
	FLOOR_CPU=$(awk -v a="$fu" -v b="$FLOOR_SYS" 'BEGIN { printf "%.2f", a + b }')
	RAW+=("raw floor: wall $FLOOR_WALL s, user $fu s, sys $FLOOR_SYS s, $MESSAGES files of $((D_BYTES / D_BUNDLES)) bytes")
	say "${RAW[-1]#raw }"
	[ "$OUT_FS" = tmpfs ] && rm -rf "$OUTBASE/floor-out"
else
	say "warning: no C compiler (cc): the file-writing floor is not measured"
fi

median() { printf '%s\n' "$@" | sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }
# CPU seconds (user + sys) of each run
cpu_of() {
	local -n u=$1 s=$2
	local k
	for k in "${!u[@]}"; do awk -v a="${u[$k]}" -v b="${s[$k]}" 'BEGIN { printf "%.2f\n", a + b }'; done
}
DW=$(median "${D_WALL[@]}") PW=$(median "${P_WALL[@]}")
DU=$(median "${D_USER[@]}") PU=$(median "${P_USER[@]}")
DS=$(median "${D_SYS[@]}") PS=$(median "${P_SYS[@]}")
mapfile -t D_CPU < <(cpu_of D_USER D_SYS)
mapfile -t P_CPU < <(cpu_of P_USER P_SYS)
DC=$(median "${D_CPU[@]}") PC=$(median "${P_CPU[@]}")
DR=$(median "${D_RSS[@]}") PR=$(median "${P_RSS[@]}")
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# --- report ---------------------------------------------------------------------------------------------------

f() { awk "BEGIN { printf \"$1\", $2 }"; }
echo
echo "HL7 v2 -> FHIR transaction Bundles, one Bundle file per message, pinned to core $CPU (taskset -c $CPU)"
echo "corpus: $MESSAGES messages ($ORU_N ORU^R01, $((MESSAGES - ORU_N)) ADT^A01), ${#FILES[@]} files of <= $PER_FILE, $CORPUS_MB MB"
echo "dhp-import: $DHP (sha256 $DHP_SUM..., copied at the start); peer: node $(node --version) + @medplum/core 4.5.2 (bench/hl7/peer.mjs)"
echo "medians of $RUNS runs; wall = date around the process; CPU = user + sys (GNU time)"
echo
printf '%-11s | %8s %10s | %7s %7s %7s %10s | %11s | %8s %9s\n' \
	side 'wall s' 'msgs/s' 'user s' 'sys s' 'CPU s' 'msgs/CPU-s' 'peak RSS MB' bundles 'MB out'
echo '------------+---------------------+-------------------------------------+-------------+-------------------'
printf '%-11s | %8.2f %10.0f | %7.2f %7.2f %7.2f %10.0f | %11.1f | %8d %9.1f\n' \
	dhp-import "$DW" "$(f %.3f "$MESSAGES / $DW")" "$DU" "$DS" "$DC" "$(f %.3f "$MESSAGES / $DC")" \
	"$(f %.3f "$DR / 1024")" "$D_BUNDLES" "$(f %.3f "$D_BYTES / 1048576")"
printf '%-11s | %8.2f %10.0f | %7.2f %7.2f %7.2f %10.0f | %11.1f | %8d %9.1f\n' \
	peer "$PW" "$(f %.3f "$MESSAGES / $PW")" "$PU" "$PS" "$PC" "$(f %.3f "$MESSAGES / $PC")" \
	"$(f %.3f "$PR / 1024")" "$P_BUNDLES" "$(f %.3f "$P_BYTES / 1048576")"
echo
echo "messages:                 $MESSAGES (rejected: dhp-import $D_REJ, peer $P_REJ)"
echo "dhp-import msgs/s:        $(f %.0f "$MESSAGES / $DW")"
echo "peer msgs/s:              $(f %.0f "$MESSAGES / $PW")"
echo "ratio dhp-import / peer:  $(f %.2f "$PW / $DW")x wall, $(f %.2f "$PC / $DC")x CPU, $(f %.2f "$PU / $DU")x user CPU only   (goal: >= 10x)"
if [ -n "$FLOOR_CPU" ]; then
	echo "file-writing floor:       $MESSAGES files of $((D_BYTES / D_BUNDLES)) bytes, tmp + rename, nothing else (floor.c):"
	echo "                          wall $FLOOR_WALL s, CPU $FLOOR_CPU s (sys $FLOOR_SYS s): even at zero compute, dhp-import"
	echo "                          could not beat the peer by more than $(f %.1f "$PW / $FLOOR_WALL")x wall, $(f %.1f "$PC / $FLOOR_CPU")x CPU on this file system"
fi
echo "peak RSS:                 dhp-import $(f %.1f "$DR / 1024") MB, peer $(f %.1f "$PR / 1024") MB"
echo "escape sequences:         dhp-import decodes them (hl7_unescape: \\F\\ \\S\\ \\T\\ \\R\\ \\E\\ \\Xhh\\ \\.br\\ ...);"
echo "                          @medplum/core 4.5.2 does not (Hl7Field.getComponent returns the raw text),"
echo "                          the peer decodes them itself (peer.mjs unescape(), on every value it takes)"
echo "equivalence:              warm-up on ${FILES[0]##*/}: ${COMPARE#compare: } (dateTimes compared as instants)"
echo "ids:                      both sides: UUID v5 (SHA-1) of table|key|FILE:msg#N|type|name|occurrence, same namespace"
echo "load average:             start $LOAD_START, end $LOAD_END"
printf '%s\n' "${RAW[@]}"
