#!/usr/bin/env bash
# setup-debian.sh: install the Debian packages that dhp-import's build, tests and demo need.
#
#   scripts/setup-debian.sh [EXTRA-PACKAGE...]
#
# Installs only what is missing (with apt-get update first; nothing at all when nothing is missing),
# non-interactively, as root or through sudo. Debian 12 (bookworm) or later.
# PostgreSQL's package may create and try to start a system cluster: we never use it (tests and the demo
# run their own throwaway server through tests/pg-harness.sh), so a blocked start is fine.
set -euo pipefail

PACKAGES=(
	build-essential cmake pkg-config clang
	libpq-dev libjson-c-dev libxml2-dev libcurl4-openssl-dev libcunit1-dev libsqlite3-dev
	libinih-dev uuid-dev libssl-dev libmicrohttpd-dev
	postgresql postgresql-client unzip ca-certificates tzdata groff-base curl
)
PACKAGES+=("$@")

say() { printf 'setup-debian: %s\n' "$*"; }
die() { printf 'setup-debian: error: %s\n' "$*" >&2; exit 1; }

if ! command -v dpkg-query >/dev/null || ! command -v apt-get >/dev/null; then
	die "this script is for Debian (or a derivative): no dpkg-query/apt-get here"
fi

installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

missing=()
for p in "${PACKAGES[@]}"; do
	installed "$p" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
	say "all ${#PACKAGES[@]} packages already installed, nothing to do"
	exit 0
fi

if [ "$(id -u)" = 0 ]; then
	SUDO=()
elif command -v sudo >/dev/null; then
	SUDO=(sudo)
	say "not root: using sudo"
else
	die "not root and no sudo: run as root, or install: ${missing[*]}"
fi

export DEBIAN_FRONTEND=noninteractive
APT_OPTS=(-o Acquire::Retries=3 -o DPkg::Lock::Timeout=300)

say "missing: ${missing[*]}"
say "apt-get update"
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" update -q ||
	die "apt-get update failed"
say "apt-get install -y --no-install-recommends ${missing[*]}"
t0=$SECONDS
"${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive apt-get "${APT_OPTS[@]}" install -y -q \
	--no-install-recommends "${missing[@]}" </dev/null || die "apt-get install failed"

still=()
for p in "${missing[@]}"; do
	installed "$p" || still+=("$p")
done
[ ${#still[@]} -eq 0 ] || die "still not installed after apt-get install: ${still[*]}"
say "installed ${#missing[@]} package(s) in $((SECONDS - t0)) s"
