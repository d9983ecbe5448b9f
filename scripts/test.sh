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
bun test --timeout 30000 --reporter=junit --reporter-outfile=.tmp/junit.xml "$@" 2>&1 | tee .tmp/bun-test.log | tail -n 200
# The VM tests' evidence, whatever the tail cut: precomputed vs quoted PCRs, and the refused tampered node.
if grep -q '^pcr  precomputed' .tmp/bun-test.log; then
  printf '== VM tests: PCRs precomputed from the image and quoted by the booted nodes\n'
  grep -A14 '^pcr  precomputed' .tmp/bun-test.log | grep -E '^(pcr  |--$| {0,2}[0-9]{1,2}  )'
  grep -E '^(JoinService on|tampered image refused)' .tmp/bun-test.log | cut -c1-600
fi
bun scripts/junit-summary.ts .tmp/junit.xml "$failed_checks"
