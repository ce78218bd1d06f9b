#!/usr/bin/env bash
# Builds dualguard and runs every test: unit, golden, corpus (skipped without ../shared/corpora),
# CLI tests on the built binary, then a short bounded libFuzzer run of every fuzz target.
set -euo pipefail
cd "$(dirname "$0")"

scripts/deps.sh
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DDG_WERROR=ON >/dev/null
ninja -C build
ctest --test-dir build --output-on-failure -j2 --timeout 600

if [ "${DG_SKIP_FUZZ:-0}" != "1" ]; then
  FUZZ_SECONDS="${FUZZ_SECONDS:-15}" tests/fuzz/run.sh
fi
echo "test.sh: all tests passed"
