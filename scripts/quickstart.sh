#!/usr/bin/env bash
# Quick start (README): install what seedgen needs, build it, and build the bundled sample VM.
# Needs no network beyond Debian's package mirror: the sample uses the tiny image in samples/images/.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
swift build --product seedgen
.build/debug/seedgen build samples/web01.yaml -o out "$@"
echo
echo "Artifacts for web01 (copy this directory to the Proxmox node and run 'bash deploy.sh' there):"
ls -l out/web01.example.com
(cd out/web01.example.com && sha256sum -c --quiet SHA256SUMS && echo "SHA256SUMS: all files verified")
