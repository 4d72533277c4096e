#!/usr/bin/env bash
# The test command (README "Run the tests"): installs what the tests need, builds, runs every test.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build
swift test "$@"
