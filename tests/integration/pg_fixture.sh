# pg_fixture.sh start|stop: the CTest fixture owning the tests' PostgreSQL server.
set -euo pipefail
BIN=${DHP_BINDIR:?}
SRC=${DHP_SRCDIR:?}
case $1 in
start)
	if [ -f "$BIN/pgtest.dir" ]; then
		"$SRC/tests/pg-harness.sh" stop "$(cat "$BIN/pgtest.dir")" || true
	fi
	d=$(mktemp -d /tmp/dhp-pgtest.XXXXXX)
	echo "$d" >"$BIN/pgtest.dir"
	"$SRC/tests/pg-harness.sh" start "$d"
	"$SRC/tests/pg-harness.sh" load "$d"
	"$SRC/tests/pg-harness.sh" load-omop "$d"
	;;
stop)
	[ -f "$BIN/pgtest.dir" ] || exit 0
	"$SRC/tests/pg-harness.sh" stop "$(cat "$BIN/pgtest.dir")"
	rm -f "$BIN/pgtest.dir"
	;;
esac
