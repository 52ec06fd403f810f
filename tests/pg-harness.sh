#!/usr/bin/env bash
# pg-harness.sh: a throwaway PostgreSQL server for tests and the demo.
#
#   tests/pg-harness.sh start DIR      initdb DIR/data, start a server on 127.0.0.1:<free port> and on a
#                                      unix socket in DIR (fsync off), create database `his`, write DIR/env:
#                                        export PGHOST=127.0.0.1 PGPORT=... PGUSER=postgres PGDATABASE=his
#                                      and DIR/conninfo (a libpq conninfo string for the same database).
#   tests/pg-harness.sh load DIR       load sql/his-schema.sql and sql/his-seed.sql into `his`
#   tests/pg-harness.sh load-omop DIR  run sql/omop-load.sql with -v zip=samples/omop/Synthea27Nj_5.4.zip
#   tests/pg-harness.sh psql DIR [ARGS...]   psql on `his` of that server (convenience)
#   tests/pg-harness.sh stop DIR       stop the server (immediate) and delete DIR; does nothing if DIR is gone
#
# DIR must not exist or be empty at `start`. Run as root, the server runs as the `postgres` system user
# if there is one, else as `nobody`: DIR is chowned to that user, so DIR's parents must be traversable by
# it (use /tmp, not /root). The server binaries are found in PATH, else in the highest
# /usr/lib/postgresql/*/bin; PG_HARNESS_BINDIR overrides both (PG_HARNESS_USER: the user, when root).
#
# Typical use:
#   d=$(mktemp -d /tmp/pg.XXXXXX); trap 'tests/pg-harness.sh stop "$d"' EXIT
#   tests/pg-harness.sh start "$d" && tests/pg-harness.sh load "$d" && . "$d/env" && psql -c 'select 1'
set -euo pipefail

ME=pg-harness
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
MARKER=.pg-harness
PORT_MIN=${PG_HARNESS_PORT_MIN:-20000}   # overridable for tests of this script
PORT_MAX=${PG_HARNESS_PORT_MAX:-60000}

say() { printf '%s: %s\n' "$ME" "$*" >&2; }
die() { say "error: $*"; exit 1; }
usage() { sed -n '2,/^set -euo/{/^set -euo/d;s/^# \{0,1\}//;p}' "$0"; }

# --- binaries --------------------------------------------------------------------------------------------

BINDIR=""
find_bindir() {
	local b d
	if [ -n "${PG_HARNESS_BINDIR:-}" ]; then
		[ -x "$PG_HARNESS_BINDIR/initdb" ] || die "PG_HARNESS_BINDIR=$PG_HARNESS_BINDIR has no initdb"
		BINDIR=$PG_HARNESS_BINDIR
		return
	fi
	if b=$(command -v initdb 2>/dev/null); then
		d=$(dirname "$(readlink -f "$b")")
		if [ -x "$d/pg_ctl" ] && [ -x "$d/postgres" ]; then BINDIR=$d; return; fi
	fi
	# Debian: /usr/lib/postgresql/<version>/bin, not in PATH; take the highest version
	d=$(printf '%s\n' /usr/lib/postgresql/*/bin | sort -t/ -k5,5V | tail -n1)
	if [ -n "$d" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then BINDIR=$d; return; fi
	die "PostgreSQL server binaries (initdb, pg_ctl) not found in PATH nor in /usr/lib/postgresql/*/bin" \
		"(Debian: apt-get install postgresql, or run scripts/setup-debian.sh)"
}

PSQL=""
find_psql() {
	if [ -n "$BINDIR" ] && [ -x "$BINDIR/psql" ]; then PSQL=$BINDIR/psql; return; fi
	PSQL=$(command -v psql 2>/dev/null) || die "psql not found (Debian: apt-get install postgresql-client)"
}

# --- who runs the server ---------------------------------------------------------------------------------

RUN_USER=""   # empty: this user
pick_user() {
	[ "$(id -u)" = 0 ] || return 0
	if [ -n "${PG_HARNESS_USER:-}" ]; then
		id -u "$PG_HARNESS_USER" >/dev/null 2>&1 || die "PG_HARNESS_USER=$PG_HARNESS_USER: no such user"
		RUN_USER=$PG_HARNESS_USER
	elif id -u postgres >/dev/null 2>&1; then RUN_USER=postgres
	elif id -u nobody >/dev/null 2>&1; then RUN_USER=nobody
	else die "running as root, and there is neither a 'postgres' nor a 'nobody' user to run the server as"
	fi
}

# Run a command as the server's user, from DIR (the caller's cwd may be unreadable to that user).
as_user() {
	if [ -z "$RUN_USER" ]; then
		(cd "$DIR" && "$@")
	elif command -v runuser >/dev/null 2>&1; then
		(cd "$DIR" && runuser -u "$RUN_USER" -- "$@")
	elif command -v setpriv >/dev/null 2>&1; then
		(cd "$DIR" && setpriv --reuid="$RUN_USER" --regid="$(id -g "$RUN_USER")" --init-groups -- "$@")
	else
		die "running as root and neither runuser nor setpriv exists to drop privileges"
	fi
}

# The user that owns an existing cluster (for stop): whoever owns DIR/data.
owner_of_data() {
	local u
	RUN_USER=""
	[ "$(id -u)" = 0 ] || return 0
	u=$(stat -c %U "$DIR/data" 2>/dev/null || echo root)
	[ "$u" = root ] || [ "$u" = UNKNOWN ] || RUN_USER=$u
}

# --- helpers ---------------------------------------------------------------------------------------------

set_dir() {
	[ -n "${1:-}" ] || die "missing DIR (usage: $0 start|load|load-omop|psql|stop DIR)"
	case $1 in
		/*) DIR=$1 ;;
		*) DIR=$(pwd)/$1 ;;
	esac
	DIR=${DIR%/}
	if [ -z "$DIR" ] || [ "$DIR" = / ]; then die "refusing to use / as DIR"; fi
}

log_tail() {
	local f=$DIR/server.log
	[ -s "$f" ] || f=$DIR/initdb.log
	if [ -s "$f" ]; then
		say "last lines of $f:"
		tail -n 25 "$f" | sed 's/^/    /' >&2
	fi
}

fail() { say "error: $*"; log_tail; exit 1; }

# 0 when something accepts connections on 127.0.0.1:$1 (the port is taken).
port_busy() {
	(exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

random_port() {
	local p i
	for ((i = 0; i < 50; i++)); do
		p=$((PORT_MIN + (RANDOM * 32768 + RANDOM) % (PORT_MAX - PORT_MIN + 1)))
		port_busy "$p" || { echo "$p"; return 0; }
	done
	return 1
}

load_env() {
	[ -f "$DIR/env" ] || die "$DIR/env not found: was '$0 start $DIR' run (and did it succeed)?"
	# shellcheck disable=SC1091
	. "$DIR/env"
	export PGCONNECT_TIMEOUT=10
}

run_psql() {
	"$PSQL" -X -v ON_ERROR_STOP=1 -q "$@"
}

# --- commands --------------------------------------------------------------------------------------------

cmd_start() {
	local loc enc_opts port tries=0 conf group sockpath
	set_dir "$@"
	if [ -e "$DIR" ]; then
		[ -d "$DIR" ] || die "$DIR exists and is not a directory"
		[ -z "$(ls -A "$DIR")" ] || die "$DIR is not empty (a running harness? stop it first: $0 stop $DIR)"
	fi
	# the unix socket path DIR/.s.PGSQL.NNNNN must fit in sun_path (107 bytes)
	sockpath="$DIR/.s.PGSQL.$PORT_MAX"
	[ ${#sockpath} -le 100 ] || die "DIR path is too long for a unix socket (${#sockpath} > 100 bytes): $DIR"
	find_bindir
	find_psql
	pick_user
	mkdir -p "$DIR"
	: >"$DIR/$MARKER"
	chmod 0755 "$DIR"
	if [ -n "$RUN_USER" ]; then
		group=$(id -gn "$RUN_USER")
		chown -R "$RUN_USER:$group" "$DIR"
		as_user test -w "$DIR" -a -x "$DIR" 2>/dev/null ||
			die "the server runs as '$RUN_USER' (we are root) and cannot reach $DIR: one of its parent" \
				"directories is not traversable by that user; put DIR under /tmp"
	fi

	# C.UTF-8 when glibc has it (Debian 12 does, even without the locales package); else plain C
	if locale -a 2>/dev/null | grep -qix 'c\.utf-\{0,1\}8'; then loc=C.UTF-8; else loc=C; fi
	enc_opts=(--encoding=UTF8 --locale="$loc")
	say "initdb ($BINDIR, locale $loc, UTF8${RUN_USER:+, as user $RUN_USER}) in $DIR/data"
	as_user env LC_ALL="$loc" LANG="$loc" "$BINDIR/initdb" -D "$DIR/data" -U postgres -A trust \
		"${enc_opts[@]}" --no-sync >"$DIR/initdb.log" 2>&1 || fail "initdb failed"

	conf=$DIR/data/postgresql.conf
	cat >>"$conf" <<EOF

# --- pg-harness: a throwaway test server ---
listen_addresses = '127.0.0.1'
unix_socket_directories = '$DIR'
fsync = off
synchronous_commit = off
full_page_writes = off
max_connections = 50
shared_buffers = 64MB
logging_collector = off
EOF
	# A free port: a connect probe first, then the server's own bind decides; retry on a lost race.
	while :; do
		tries=$((tries + 1))
		port=$(random_port) || fail "no free TCP port found in $PORT_MIN-$PORT_MAX"
		echo "port = $port" >>"$conf"
		: >"$DIR/server.log"
		[ -z "$RUN_USER" ] || chown "$RUN_USER:$group" "$DIR/server.log"
		if as_user env LC_ALL="$loc" "$BINDIR/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
			start >"$DIR/pg_ctl.log" 2>&1; then
			break
		fi
		if grep -q 'Address already in use\|could not create any TCP/IP sockets\|could not bind' \
			"$DIR/server.log" && [ "$tries" -lt 5 ]; then
			say "port $port was taken, trying another"
			continue
		fi
		cat "$DIR/pg_ctl.log" >&2 || true
		fail "the server did not start (pg_ctl start failed)"
	done

	run_psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -c 'CREATE DATABASE his' ||
		fail "could not create database his"
	printf 'export PGHOST=127.0.0.1 PGPORT=%s PGUSER=postgres PGDATABASE=his\n' "$port" >"$DIR/env"
	printf 'host=127.0.0.1 port=%s dbname=his user=postgres\n' "$port" >"$DIR/conninfo"
	say "server up on 127.0.0.1:$port (socket in $DIR); database his; env in $DIR/env"
}

cmd_load() {
	local f
	set_dir "$@"
	find_bindir 2>/dev/null || true
	find_psql
	load_env
	for f in sql/his-schema.sql sql/his-seed.sql; do
		[ -f "$REPO/$f" ] || die "$REPO/$f not found"
	done
	for f in sql/his-schema.sql sql/his-seed.sql; do
		say "loading $f"
		(cd "$REPO" && run_psql -f "$f") || die "loading $f into his on port $PGPORT failed (see psql's message above)"
	done
}

cmd_load_omop() {
	local zip=samples/omop/Synthea27Nj_5.4.zip
	set_dir "$@"
	find_bindir 2>/dev/null || true
	find_psql
	load_env
	[ -f "$REPO/sql/omop-load.sql" ] || die "$REPO/sql/omop-load.sql not found"
	[ -f "$REPO/$zip" ] || die "$REPO/$zip not found"
	say "loading the OMOP sample ($zip) with sql/omop-load.sql"
	(cd "$REPO" && run_psql -v zip="$REPO/$zip" -f sql/omop-load.sql) ||
		die "sql/omop-load.sql failed on port $PGPORT (see psql's message above)"
}

cmd_psql() {
	set_dir "$1"
	shift
	find_bindir 2>/dev/null || true
	find_psql
	load_env
	exec "$PSQL" -X "$@"
}

cmd_stop() {
	set_dir "$@"
	[ -e "$DIR" ] || return 0
	[ -d "$DIR" ] || die "$DIR is not a directory"
	if [ ! -e "$DIR/$MARKER" ] && [ -n "$(ls -A "$DIR")" ]; then
		die "$DIR was not made by $ME start (no $MARKER in it): not deleting it"
	fi
	if [ -f "$DIR/data/postmaster.pid" ]; then
		find_bindir
		owner_of_data
		as_user "$BINDIR/pg_ctl" -D "$DIR/data" -m immediate -w -t 30 stop >/dev/null 2>&1 || {
			# pg_ctl said no: stop the postmaster by its PID if it still runs with this data dir
			local pid
			pid=$(head -n1 "$DIR/data/postmaster.pid" 2>/dev/null || true)
			if [ -n "$pid" ] && grep -qF "$DIR/data" "/proc/$pid/cmdline" 2>/dev/null; then
				kill -QUIT "$pid" 2>/dev/null || true
				sleep 1
				kill -KILL "$pid" 2>/dev/null || true
			fi
		}
	fi
	rm -rf -- "$DIR"
}

case ${1:-} in
	start) shift; cmd_start "$@" ;;
	load) shift; cmd_load "$@" ;;
	load-omop) shift; cmd_load_omop "$@" ;;
	psql) shift; [ $# -ge 1 ] || die "usage: $0 psql DIR [ARGS...]"; cmd_psql "$@" ;;
	stop) shift; cmd_stop "$@" ;;
	-h | --help | help) usage ;;
	*) usage >&2; exit 2 ;;
esac
