#!/usr/bin/env bash
# The test command (README "Run the tests"): installs what the tests need, builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build
# The whole suite takes about 2 minutes on 2 cores; a run that hangs fails after 30 instead of
# holding a CI machine (the test process and everything it started are killed).
limit="${SEEDGEN_TEST_TIMEOUT:-30m}"
status=0
timeout --kill-after=30s "$limit" swift test "$@" || status=$?
if [ "$status" -eq 124 ] || [ "$status" -eq 137 ]; then
  echo "scripts/test.sh: swift test did not finish within $limit and was stopped (SEEDGEN_TEST_TIMEOUT sets the limit)" >&2
fi
exit "$status"
