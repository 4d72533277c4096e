#!/usr/bin/env bash
# The benchmark command: a release build, then every benchmark side by side with its peer tool.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build -c release --static-swift-stdlib --product seedgen
swift build -c release --static-swift-stdlib --product seedgen-bench
exec .build/release/seedgen-bench "$@"
