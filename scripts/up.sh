#!/usr/bin/env bash
# Set everything up, build the binaries and start the main job. Until the local cluster lands
# (`asterism mini up`), this shows what the CLI can do.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bun scripts/build.ts >/dev/null
./dist/asterism --help
