# shellcheck shell=bash
# server-lib.sh: start and stop dhp-testserver from a bash test (sourced).
#
#   . tests/server/server-lib.sh
#   srv_start [dhp-testserver options...]   # sets SRV_URL SRV_PID SRV_DIR SRV_CLIENT_ID SRV_SECRET
#   tok=$(srv_token)
#   curl -H "Authorization: Bearer $tok" "$SRV_URL/metadata"
#   srv_stat creates                        # a counter from GET /_stats
#   srv_stop                                # SIGTERM; $SRV_DIR/stats.json is then final
#
# The server binary is $DHP_TESTSERVER, else $DHP_BINDIR/dhp-testserver. Several servers
# can run at once: srv_start saves the previous one's variables with srv_push/srv_pop.
# Without an EXIT trap of the caller, srv_start sets one that stops every server started
# (and removes their SRV_DIRs); a test with its own EXIT trap calls srv_cleanup from it.

SRV_ALL_PIDS=()
SRV_ALL_DIRS=()

srv_cleanup() {
	local p d
	for p in "${SRV_ALL_PIDS[@]}"; do
		kill "$p" 2>/dev/null && wait "$p" 2>/dev/null
	done
	for d in "${SRV_ALL_DIRS[@]}"; do
		rm -rf "$d"
	done
	SRV_ALL_PIDS=()
	SRV_ALL_DIRS=()
}

srv_start() {
	local bin=${DHP_TESTSERVER:-${DHP_BINDIR:-.}/dhp-testserver}
	[ -x "$bin" ] || { echo "srv_start: no dhp-testserver at $bin" >&2; return 1; }
	SRV_DIR=$(mktemp -d /tmp/dhp-srv.XXXXXX)
	SRV_ALL_DIRS+=("$SRV_DIR")
	SRV_CLIENT_ID=dhp-import-test
	SRV_SECRET=secret-$$-$RANDOM
	printf '%s\n' "$SRV_SECRET" >"$SRV_DIR/secret"
	"$bin" --port 0 --port-file "$SRV_DIR/port" --client-id "$SRV_CLIENT_ID" \
		--client-secret-file "$SRV_DIR/secret" --log "$SRV_DIR/requests.log" \
		--stats-file "$SRV_DIR/stats.json" "$@" 2>"$SRV_DIR/stderr" &
	SRV_PID=$!
	SRV_ALL_PIDS+=("$SRV_PID")
	# Keep a caller's own EXIT trap (it calls srv_cleanup itself).
	[ -n "$(trap -p EXIT)" ] || trap srv_cleanup EXIT
	for _ in $(seq 100); do
		[ -s "$SRV_DIR/port" ] && break
		kill -0 "$SRV_PID" 2>/dev/null || { cat "$SRV_DIR/stderr" >&2; return 1; }
		sleep 0.05
	done
	[ -s "$SRV_DIR/port" ] || { echo "srv_start: no port file after 5 s" >&2; return 1; }
	SRV_URL=http://127.0.0.1:$(cat "$SRV_DIR/port")
}

# Remember the current server's variables, to start another one.
srv_push() {
	SRV_SAVED=("$SRV_URL" "$SRV_PID" "$SRV_DIR" "$SRV_SECRET")
}
srv_pop() {
	SRV_URL=${SRV_SAVED[0]} SRV_PID=${SRV_SAVED[1]} SRV_DIR=${SRV_SAVED[2]} SRV_SECRET=${SRV_SAVED[3]}
}

# An access token for the accepted client.
srv_token() {
	curl -s -X POST "$SRV_URL/oauth/token" \
		--data-urlencode grant_type=client_credentials \
		--data-urlencode "client_id=$SRV_CLIENT_ID" \
		--data-urlencode "client_secret=$SRV_SECRET" |
		sed -n 's/.*"access_token":"\([^"]*\)".*/\1/p'
}

# srv_stat NAME: a counter of GET /_stats (the first key NAME in it; "POST 412" for
# by_method_status, "creates", "transactions_failed", ...). Prints 0 when absent.
srv_stat() {
	local v
	v=$(curl -s "$SRV_URL/_stats" | tr -d '\n' | grep -o "\"$1\": *[0-9]*" | head -1 | sed 's/.*: *//')
	echo "${v:-0}"
}

# Stop the current server (SIGTERM: it writes $SRV_DIR/stats.json and exits). Fails,
# showing the server's stderr, when the server did not exit with status 0 (a crash, or a
# sanitizer report).
srv_stop() {
	local p rc=0 rest=()
	for p in "${SRV_ALL_PIDS[@]}"; do
		[ "$p" = "$SRV_PID" ] || rest+=("$p")
	done
	# Forget the pid first: srv_cleanup must never signal a reused pid.
	SRV_ALL_PIDS=("${rest[@]}")
	kill "$SRV_PID" 2>/dev/null || true
	wait "$SRV_PID" 2>/dev/null || rc=$?
	if [ "$rc" != 0 ]; then
		echo "srv_stop: dhp-testserver exited with status $rc" >&2
		cat "$SRV_DIR/stderr" >&2
	fi
	return "$rc"
}
