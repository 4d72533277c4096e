#!/usr/bin/env bash
# The benchmark command: a release build (static Swift runtime, as shipped to air-gapped hosts),
# then every benchmark side by side with its peer tool in the same run.
#   scripts/bench.sh            all of them: iso, hash, download, build
#   scripts/bench.sh build …    one, with its options (see .build-release/release/seedgen-bench help)
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scratch=.build-release
swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product seedgen
swift build -c release --static-swift-stdlib --scratch-path "$scratch" --product seedgen-bench
bench="$scratch/release/seedgen-bench"
if [ $# -gt 0 ]; then
  exec "$bench" "$@"
fi
"$bench" iso
"$bench" hash
"$bench" download
"$bench" build
