#!/usr/bin/env bash
# The test command (README "Run the tests"): installs what the tests need, builds, runs every test.
# With no arguments it then builds the static release binary (as shipped to air-gapped hosts) and
# runs the tests that drive the binary again against it: the optimised build of the same transport
# code the debug tests run. Arguments are passed to `swift test` and skip that second pass.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
# The package's target graph must be the one README.md's Development section allows.
scripts/check-target-graph.py
# The code is formatted by swift-format (the toolchain's) with the repository's .swift-format.
swift-format lint --strict --recursive Sources Tests Plugins Package.swift
swift build
# The whole suite takes about 2 minutes on 2 cores; a run that hangs fails after 30 instead of
# holding a CI machine (the test process and everything it started are killed).
limit="${SEEDGEN_TEST_TIMEOUT:-30m}"
run_limited() {
  local status=0
  timeout --kill-after=30s "$limit" "$@" || status=$?
  if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
    echo "scripts/test.sh: '$*' did not finish within $limit and was stopped (SEEDGEN_TEST_TIMEOUT sets the limit)" >&2
  fi
  return "$status"
}
run_limited swift test "$@"
if [ $# -eq 0 ]; then
  echo "scripts/test.sh: building the static release binary for the tests that run seedgen itself"
  swift build -c release --static-swift-stdlib --scratch-path .build-release --product seedgen
  SEEDGEN_BINARY="$PWD/.build-release/release/seedgen" run_limited swift test --skip-build \
    --filter 'EndToEndTests\.|ImageTests\.ImageCacheTests|ISOTests\.ISOCommandTests'
fi
