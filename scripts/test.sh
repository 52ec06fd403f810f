#!/usr/bin/env bash
# test.sh: build dhp-import and run its tests, as CI does.
#
#   scripts/test.sh
#
#   1. scripts/setup-debian.sh installs what is missing (SKIP_SETUP=1 skips it)
#   2. build/: configure and build (warnings are errors), then all CTest tests (unit, golden,
#      integration: these start their own throwaway PostgreSQL through tests/pg-harness.sh)
#   3. build-asan/: the same with AddressSanitizer + UndefinedBehaviorSanitizer (-DDHP_SANITIZE=ON),
#      every test again (unit, fuzz corpora, integration: the tool itself runs sanitized, leaks
#      included). QUICK=1 skips this step.
#
# JOBS sets the build and test parallelism (default: the number of CPUs for the build, 2 for tests).
set -euo pipefail

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$REPO"

JOBS=${JOBS:-$(nproc)}
TEST_JOBS=${TEST_JOBS:-2}

step() { printf '\n== test.sh: %s\n' "$*"; }

if [ "${SKIP_SETUP:-0}" != 1 ]; then
	step "setup (scripts/setup-debian.sh)"
	scripts/setup-debian.sh
fi

step "configure + build: build/ (Release)"
cmake -S . -B build -DCMAKE_BUILD_TYPE=Release
cmake --build build -j "$JOBS"

step "tests: ctest --test-dir build"
ctest --test-dir build --output-on-failure --no-tests=error -j "$TEST_JOBS"

if [ "${QUICK:-0}" = 1 ]; then
	step "QUICK=1: sanitizer build skipped"
	exit 0
fi

step "configure + build: build-asan/ (Debug, -DDHP_SANITIZE=ON)"
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DDHP_SANITIZE=ON
cmake --build build-asan -j "$JOBS"

step "all tests again under ASan+UBSan: ctest --test-dir build-asan"
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
ctest --test-dir build-asan --output-on-failure --no-tests=error -j "$TEST_JOBS"
