#!/usr/bin/env bash
# The benchmark command: a release build (static Swift runtime, as shipped to air-gapped hosts),
# then every benchmark side by side with its peer tool in the same run.
#   scripts/bench.sh            all of them: build, iso, hash, download, upload, apply
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
# build first: the others create and delete thousands of files, and on ext4 without a journal
# every file created in the minutes after that scans the freed inodes (`recently_deleted`). The
# 1000-VM build creates 8,000 files: 1.9-2.4 s last in a full run, 3.9 s right after another run.
"$bench" build
"$bench" iso
"$bench" hash
"$bench" download
"$bench" upload
"$bench" apply --seedgen "$scratch/release/seedgen"
