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
