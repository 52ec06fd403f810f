# bench/lib.sh: helpers the benchmark scripts share (sourced).
#
# Long commands run in the background and are waited for, so that a signal is
# acted on at once (bash defers traps while a foreground command runs); the
# script's cleanup calls stop_child to end what is still running.
CHILD=""
run_bg() {
	"$@" &
	CHILD=$!
	local rc=0
	wait "$CHILD" || rc=$?
	CHILD=""
	return "$rc"
}
stop_child() {
	[ -n "$CHILD" ] || return 0
	local c
	# /usr/bin/time's own child first (the measured program), then the wrapper itself
	for c in $(ps -o pid= --ppid "$CHILD" 2>/dev/null); do kill -TERM "$c" 2>/dev/null || true; done
	kill -TERM "$CHILD" 2>/dev/null || true
	wait "$CHILD" 2>/dev/null || true
}

# Where the Bundles go: a directory of its own under BENCH_OUT (e.g. /dev/shm,
# to leave the disk out of the figures), else the scratch directory WORK.
# Sets OUTBASE; NAME prefixes the directory made under BENCH_OUT.
make_outbase() {
	if [ -n "${BENCH_OUT:-}" ]; then
		OUTBASE=$(mktemp -d "$BENCH_OUT/$1.XXXXXX")
	else
		OUTBASE=$WORK
	fi
}

# Warn when OUTBASE has less than NEED_KB free; WHAT says whose bundles they are.
check_space() {
	local avail_kb
	avail_kb=$(df -Pk "$OUTBASE" | awk 'NR == 2 { print $4 }')
	[ "${avail_kb:-0}" -ge "$1" ] ||
		say "warning: $OUTBASE has $((avail_kb / 1024)) MB free, $2 need ~$(($1 / 1024)) MB"
}

# The last step of a script's cleanup: delete WORK and OUTBASE, or keep
# them when BENCH_KEEP is set.
remove_scratch() {
	local apart=""
	[ -n "$OUTBASE" ] && [ "$OUTBASE" != "$WORK" ] && apart=1
	if [ -n "${BENCH_KEEP:-}" ]; then
		say "scratch kept in $WORK"
		[ -n "$apart" ] && say "bundles kept in $OUTBASE"
	else
		[ -n "$apart" ] && rm -rf "$OUTBASE"
		rm -rf "$WORK"
	fi
	return 0
}
