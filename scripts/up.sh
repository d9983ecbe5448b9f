#!/usr/bin/env bash
# The README's first command: set everything up, build the binaries, and bring up a local confidential
# cluster (`asterism mini up`) in ./workspace (ASTERISM_WORKSPACE overrides it). Then it says how to
# verify the cluster and take it down. Extra arguments go to `mini up` (e.g. --nodes 3 --workers 2).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
bun scripts/build.ts >/dev/null

ws="${ASTERISM_WORKSPACE:-$PWD/workspace}"
mkdir -p "$ws"
cli="$PWD/dist/asterism"

if [ -f "$ws/asterism-state.yaml" ] && "$cli" mini status -C "$ws" >/dev/null 2>&1 \
  && grep -q '^mini:' "$ws/asterism-state.yaml"; then
  echo "A local cluster already runs in $ws:" >&2
  "$cli" mini status -C "$ws"
  exit 0
fi

"$cli" mini up -C "$ws" "$@"

cat <<EOT

Try it:
  $cli verify -C $ws                 # fresh attestation of every node (exit 0 = all valid)
  $cli mini status -C $ws            # what runs where
  $cli mini down -C $ws              # stop everything (nothing is left running)

Tamper with a node and watch verify name the PCR:
  echo x >> $ws/asterism-mini/nodes/mini-worker-0/boot/kernel
  $cli mini reboot mini-worker-0 -C $ws && $cli verify -C $ws
EOT
