# lib.sh: helpers for the integration tests (sourced).
set -euo pipefail

SRC=${DHP_SRCDIR:?}
BIN=${DHP_BINDIR:?}
DHP=${DHP:?}
PGDIR_FILE=$BIN/pgtest.dir

fail() { printf 'FAIL: %s\n' "$*" >&2; exit 1; }
pass() { printf 'ok: %s\n' "$*"; }

# Connect the environment to the fixture's server (PG* variables).
use_pg() {
	[ -f "$PGDIR_FILE" ] || fail "no database fixture ($PGDIR_FILE missing)"
	# shellcheck disable=SC1090,SC1091
	. "$(cat "$PGDIR_FILE")/env"
	CONNINFO="host=$PGHOST port=$PGPORT dbname=$PGDATABASE user=$PGUSER"
}

# A scratch directory removed at exit.
scratch() {
	SCRATCH=$(mktemp -d /tmp/dhp-it.XXXXXX)
	trap 'rm -rf "$SCRATCH"' EXIT
}

# expect_status WANT CMD...: run CMD, capture stdout/stderr in $SCRATCH/{stdout,stderr}, check the status.
expect_status() {
	local want=$1 got=0
	shift
	"$@" >"$SCRATCH/stdout" 2>"$SCRATCH/stderr" || got=$?
	if [ "$got" != "$want" ]; then
		cat "$SCRATCH/stdout" "$SCRATCH/stderr" >&2
		fail "expected exit status $want, got $got: $*"
	fi
}

# expect_stderr TEXT: the last command's stderr contains TEXT (fixed string).
expect_stderr() {
	grep -qF -- "$1" "$SCRATCH/stderr" || { cat "$SCRATCH/stderr" >&2; fail "stderr lacks: $1"; }
}
