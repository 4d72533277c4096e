#!/usr/bin/env bash
# The test command (README "Run the tests"): installs what the tests need, builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build
# The whole suite takes about 3 minutes on 2 cores; a run that hangs fails after 30 instead of
# holding a CI machine (the test process and everything it started are killed).
timeout --kill-after=30s "${SEEDGEN_TEST_TIMEOUT:-30m}" swift test "$@"
