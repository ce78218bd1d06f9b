#!/usr/bin/env bash
# Builds dualguard and runs every test: unit, golden, corpus (skipped without ../shared/corpora),
# CLI tests on the built binary, gateway integration and dashboard browser tests (headless Chromium); then the unit tests again under AddressSanitizer + UBSan, and a
# short bounded libFuzzer run of every fuzz target.
#   DG_SKIP_SANITIZE=1  skip the sanitizer pass     DG_SKIP_FUZZ=1  skip fuzzing
#   FUZZ_SECONDS=N      seconds per fuzz target (default 15)
set -euo pipefail
cd "$(dirname "$0")"

scripts/deps.sh
# Compiled rule databases are cached; keep the tests' cache inside the build tree.
export DUALGUARD_CACHE_DIR="$PWD/build/hs-cache"

echo "== build (Release, -Werror)"
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DDG_WERROR=ON >/dev/null
ninja -C build
echo "== dashboard (web/ -> web/dist)"
scripts/build-web.sh
echo "== tests"
ctest --test-dir build --output-on-failure -j2 --timeout 600

if [ "${DG_SKIP_SANITIZE:-0}" != "1" ]; then
  echo "== tests under ASan + UBSan"
  # -O1 -g1: half the compile time of -O2 -g (the coroutine-heavy gateway files take minutes each at
  # -O2 -g under ASan) with line tables for the sanitizer's stack traces.
  cmake -S . -B build-asan -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1 -DNDEBUG" \
    -DDG_SANITIZE=ON -DDG_BENCH=OFF -DDG_WERROR=ON >/dev/null
  ninja -C build-asan
  DUALGUARD_CACHE_DIR="$PWD/build-asan/hs-cache" ASAN_OPTIONS=detect_leaks=1 UBSAN_OPTIONS=print_stacktrace=1 \
    ctest --test-dir build-asan --output-on-failure -j2 --timeout 900
fi

if [ "${DG_SKIP_FUZZ:-0}" != "1" ]; then
  echo "== fuzz (bounded)"
  FUZZ_SECONDS="${FUZZ_SECONDS:-15}" tests/fuzz/run.sh
fi
echo "test.sh: all tests passed"
