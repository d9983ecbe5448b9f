#!/usr/bin/env bash
# Set everything up and run the whole test suite: lint, typecheck, build the binaries, bun test.
# Ends with one line `N passed, N failed` computed from bun test's JUnit report.
set -uo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh || { echo "0 passed, 1 failed"; exit 1; }

mkdir -p .tmp
failed_checks=0
step() { # name, command...
  local name="$1"; shift
  printf '== %s\n' "$name"
  if ! "$@"; then printf '== %s FAILED\n' "$name"; failed_checks=$((failed_checks + 1)); fi
}
step lint bunx biome check .
step typecheck bunx tsc --noEmit -p tsconfig.json
step build bun scripts/build.ts

printf '== bun test\n'
rm -f .tmp/junit.xml
bun test --timeout 30000 --reporter=junit --reporter-outfile=.tmp/junit.xml "$@" 2>&1 | tail -n 200
bun scripts/junit-summary.ts .tmp/junit.xml "$failed_checks"
