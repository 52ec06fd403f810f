#!/usr/bin/env bash
# test_man.sh: the manual pages are well-formed and complete.
#
#   1. every long option of src/cli/main.c (long_opts[]) appears in man/dhp-import.1;
#   2. every key of src/core/conf.c (keys[]) is documented in its section of
#      man/dhp-import.conf.5, every key documented there (.BI "key = ") is in keys[],
#      and every option -> key override of main.c (overrides[]) is named as
#      "[section] key" in both pages;
#   3. the pages are ASCII (other characters are written \[uXXXX], so groff renders
#      them without preconv);
#   4. groff -man -Tutf8 -ww -z prints no warning for any page.
#
# 1-3 need only bash, sed and grep. 4 needs groff (Debian: groff-base); without it the
# test exits 77 (skipped) after 1-3 passed. Runs without a database or a build.
set -euo pipefail

SRC=${DHP_SRCDIR:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
MAN1=$SRC/man/dhp-import.1
CONF5=$SRC/man/dhp-import.conf.5
MAP5=$SRC/man/dhp-import-mapping.5
MAIN_C=$SRC/src/cli/main.c
CONF_C=$SRC/src/core/conf.c

failures=0
fail() { printf 'FAIL: %s\n' "$*" >&2; failures=$((failures + 1)); }
pass() { printf 'ok: %s\n' "$*"; }

for f in "$MAN1" "$CONF5" "$MAP5" "$MAIN_C" "$CONF_C"; do
	[ -f "$f" ] || { printf 'FAIL: missing %s\n' "$f" >&2; exit 1; }
done

# Roff source as plain text: comment lines dropped, \- as -, font escapes removed,
# \& and \% dropped, so that `\fB\-\-out\fP` reads `--out`.
plain() {
	sed -e '/^\.\\"/d' -e 's/\\-/-/g' -e 's/\\f\[[A-Z]*\]//g' -e 's/\\f[BIRP]//g' \
		-e 's/\\&//g' -e 's/\\%//g' "$1"
}

# The body of a C array: from the line containing $2 to the first line starting with "};".
c_array() {
	sed -n "/$2/,/^};/p" "$1"
}

# --- 1. long options --------------------------------------------------------------------
mapfile -t opts < <(c_array "$MAIN_C" 'long_opts\[\] = {' | grep -o '{"[a-z][a-z0-9-]*"' | tr -d '{"')
[ ${#opts[@]} -gt 0 ] || fail "no long options found in $MAIN_C (long_opts[] moved?)"
man1_text=$(plain "$MAN1")
missing=()
for o in "${opts[@]}"; do
	grep -qE -- "--${o}([^a-z0-9-]|\$)" <<<"$man1_text" || missing+=("--$o")
done
if [ ${#missing[@]} -eq 0 ]; then
	pass "all ${#opts[@]} long options of main.c are in dhp-import.1"
else
	fail "dhp-import.1 does not mention: ${missing[*]}"
fi

# --- 2. job-file keys, by section -------------------------------------------------------
mapfile -t keys < <(c_array "$CONF_C" 'key_def keys\[\] = {' |
	sed -n 's/.*{"\([a-z_]*\)", "\([a-z_]*\)",.*/\1 \2/p')
[ ${#keys[@]} -gt 0 ] || fail "no keys found in $CONF_C (keys[] moved?)"
conf5_text=$(plain "$CONF5")
missing=()
for sk in "${keys[@]}"; do
	s=${sk% *} k=${sk#* }
	# the lines from ".SS [section]" to the next .SS/.SH must hold "key = "
	block=$(awk -v h=".SS [$s]" '$0 == h { on = 1; next } on && /^\.S[SH]/ { exit } on' <<<"$conf5_text")
	grep -qE "(^|[^a-z_])${k} = " <<<"$block" || missing+=("[$s] $k")
done
if [ ${#missing[@]} -eq 0 ]; then
	pass "all ${#keys[@]} job-file keys of conf.c are documented in their section of dhp-import.conf.5"
else
	fail "dhp-import.conf.5 does not document (in a '.SS [section]' block, as 'key = '): ${missing[*]}"
fi

# ...and the other way round: a key the page documents must be one conf.c accepts
# (otherwise the job file the page describes is refused as "unknown key").
mapfile -t doc_keys < <(awk '/^\.SS \[[a-z]+\]$/ { sec = substr($2, 2, length($2) - 2); next }
	/^\.S[SH]/ { sec = "" }
	sec && match($0, /^\.BI "[a-z_]+ = /) { print sec " " substr($0, 6, RLENGTH - 8) }' <<<"$conf5_text")
[ ${#doc_keys[@]} -gt 0 ] || fail "no '.BI \"key = \"' items found in dhp-import.conf.5"
unknown=()
for sk in "${doc_keys[@]}"; do
	# a here-string, not a pipe: grep -q stops reading at the first match, and
	# under pipefail printf's SIGPIPE would count as not found
	grep -qxF -- "$sk" <<<"$(printf '%s\n' "${keys[@]}")" || unknown+=("[${sk% *}] ${sk#* }")
done
if [ ${#unknown[@]} -eq 0 ]; then
	pass "all ${#doc_keys[@]} keys documented in dhp-import.conf.5 are in keys[] of conf.c"
else
	fail "dhp-import.conf.5 documents keys that conf.c (keys[]) does not accept: ${unknown[*]}"
fi

mapfile -t overrides < <(c_array "$MAIN_C" 'overrides\[\] = {' |
	grep -o '{OPT_[A-Z_]*, "[a-z_]*", "[a-z_]*"}' | sed 's/.*, "\([a-z_]*\)", "\([a-z_]*\)"}/\1 \2/')
[ ${#overrides[@]} -gt 0 ] || fail "no option overrides found in $MAIN_C (overrides[] moved?)"
missing=()
for sk in "${overrides[@]}"; do
	s=${sk% *} k=${sk#* }
	for page in man1_text conf5_text; do
		grep -qF "[$s] $k" <<<"${!page}" || missing+=("'[$s] $k' in ${page%_text}")
	done
done
if [ ${#missing[@]} -eq 0 ]; then
	pass "all ${#overrides[@]} option overrides are named in dhp-import.1 and dhp-import.conf.5"
else
	fail "override not named: ${missing[*]}"
fi

# --- 3. ASCII ---------------------------------------------------------------------------
for f in "$MAN1" "$CONF5" "$MAP5"; do
	if LC_ALL=C grep -nP '[^\x00-\x7F]' "$f" >/dev/null; then
		fail "$(basename "$f") has non-ASCII characters (write them as \\[uXXXX]):" \
			"$(LC_ALL=C grep -nP '[^\x00-\x7F]' "$f" | head -n 3 | cut -c1-60 | tr '\n' ' ')"
	else
		pass "$(basename "$f") is ASCII"
	fi
done

if [ "$failures" -ne 0 ]; then
	printf '%d check(s) failed\n' "$failures" >&2
	exit 1
fi

# --- 4. groff warnings -----------------------------------------------------------------
if ! command -v groff >/dev/null 2>&1; then
	echo "SKIP: groff not installed (Debian: apt-get install groff-base); warnings not checked"
	exit 77
fi
for f in "$MAN1" "$CONF5" "$MAP5"; do
	rc=0
	out=$(groff -man -Tutf8 -ww -z "$f" 2>&1) || rc=$?
	if [ "$rc" -ne 0 ] || [ -n "$out" ]; then
		fail "groff -man -Tutf8 -ww -z $(basename "$f") (status $rc):"$'\n'"$out"
	else
		pass "groff -ww: no warnings in $(basename "$f")"
	fi
done

if [ "$failures" -ne 0 ]; then
	printf '%d check(s) failed\n' "$failures" >&2
	exit 1
fi
echo "all manual page checks passed"
