#!/usr/bin/env bash
# demo-load.sh: a full load of the sample hospital database into a local
# DHP-compatible FHIR server (tests/server), then the same load again to show
# that a re-run changes nothing.
#
#   scripts/demo-load.sh
#
# Installs what is missing and builds (as scripts/demo.sh; SKIP_SETUP=1 skips
# the install), starts a throwaway PostgreSQL with the sample HIS and
# dhp-testserver on 127.0.0.1 (free ports), writes a client secret to a 0600
# file, and runs
#   dhp-import run --source pg --db ... --mappings mappings/pg --base URL
#                  --token-url URL --client-id demo --client-secret-file FILE
# Both servers are stopped and their files deleted on exit.
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"
say() { printf '\n== %s\n' "$*"; }

if [ "${SKIP_SETUP:-0}" != 1 ]; then
	say "Installing what is missing (scripts/setup-debian.sh)"
	scripts/setup-debian.sh
fi
say "Building (build/, Release)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build build -j "$(nproc)" >/dev/null

WORK=$(mktemp -d /tmp/dhp-demo-load.XXXXXX)
chmod 755 "$WORK" # the PostgreSQL server (an unprivileged user) must reach pg/
PGDIR=$WORK/pg
SRV_PID=""
# shellcheck disable=SC2317  # called by the trap
cleanup() {
	if [ -n "$SRV_PID" ]; then kill "$SRV_PID" 2>/dev/null || true; fi
	tests/pg-harness.sh stop "$PGDIR" >/dev/null 2>&1 || true
	rm -rf "$WORK"
}
trap cleanup EXIT

say "Starting PostgreSQL with the sample hospital database"
tests/pg-harness.sh start "$PGDIR" >/dev/null
tests/pg-harness.sh load "$PGDIR" >/dev/null
DB=$(cat "$PGDIR/conninfo")

say "Starting the local DHP-compatible server (build/dhp-testserver)"
umask 077
head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$WORK/secret"
./build/dhp-testserver --port 0 --port-file "$WORK/port" --client-id demo \
	--client-secret-file "$WORK/secret" --stats-file "$WORK/stats.json" 2>"$WORK/server.err" &
SRV_PID=$!
for _ in $(seq 50); do [ -s "$WORK/port" ] && break; sleep 0.1; done
PORT=$(cat "$WORK/port")
BASE=http://127.0.0.1:$PORT/fhir
echo "FHIR base $BASE, token endpoint http://127.0.0.1:$PORT/oauth/token"

run() {
	./build/dhp-import run --source pg --db "$DB" --mappings mappings/pg --base "$BASE" \
		--token-url "http://127.0.0.1:$PORT/oauth/token" --client-id demo \
		--client-secret-file "$WORK/secret" --rejects out/load-rejects.jsonl "$@" || true
}
mkdir -p out
say "Loading (first run)"
run --report out/load-report.json
say "Loading again (a re-run creates nothing)"
run
echo
echo "The run report is $REPO/out/load-report.json, the rejects $REPO/out/load-rejects.jsonl."
echo "Status 3 is expected: the sample"
echo "database holds deliberately invalid rows, rejected with their source location."
