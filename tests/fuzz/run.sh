#!/usr/bin/env bash
# Builds the libFuzzer targets (clang, ASan + UBSan) in build-fuzz/ and runs each one for a bounded
# time on a scratch copy of its seed corpus (the committed corpus is never grown). Inputs in
# tests/fuzz/regressions/<target>/ are replayed first. Exits non-zero on a build failure or on any
# crash, leak, sanitizer report, timeout or invariant violation; the crashing inputs are kept in
# build-fuzz/fuzz-artifacts/<target>/.
#
#   tests/fuzz/run.sh                         every target, FUZZ_SECONDS (default 20) each
#   FUZZ_SECONDS=300 tests/fuzz/run.sh fuzz_jsonl
#
# Environment: FUZZ_SECONDS (fuzzing time per target), FUZZ_BUILD_DIR (default build-fuzz),
# FUZZ_JOBS (ninja -j).
#
# libFuzzer counts start-up in -max_total_time. fuzz_engine's start-up loads the config and its
# Hyperscan databases (seconds when the database cache is cold), so it is started once with -runs=0
# first: that fills the cache, and its duration is added to the time budget.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
build=${FUZZ_BUILD_DIR:-$root/build-fuzz}
seconds=${FUZZ_SECONDS:-20}
all_targets=(fuzz_normalizer fuzz_jsonl fuzz_engine fuzz_eval_report fuzz_openai fuzz_linear_model fuzz_ood_profile fuzz_signature fuzz_threat_model fuzz_incident fuzz_audit_journal)
if [[ $# -gt 0 ]]; then targets=("$@"); else targets=("${all_targets[@]}"); fi

for t in "${targets[@]}"; do
  [[ " ${all_targets[*]} " == *" $t "* ]] || { echo "run.sh: unknown target '$t' (${all_targets[*]})" >&2; exit 2; }
done

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DDG_FUZZ=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -gline-tables-only -DNDEBUG" >/dev/null
ninja -C "$build" ${FUZZ_JOBS:+-j "$FUZZ_JOBS"} "${targets[@]}"

# Sanitizer reports must fail the run: UBSan only prints by default.
export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:abort_on_error=1:print_stacktrace=1}

scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
# Targets that need files (fuzz_audit_journal) make them under TMPDIR; libFuzzer can end a run without
# running exit handlers, so they cannot clean up after themselves.
export TMPDIR=$scratch
failed=()
for t in "${targets[@]}"; do
  bin="$build/fuzz/$t"
  corpus="$scratch/$t/corpus"
  artifacts="$build/fuzz-artifacts/$t"
  mkdir -p "$corpus" "$artifacts"
  cp "$root/tests/fuzz/corpus/$t/"* "$corpus/" 2>/dev/null || true
  log="$scratch/$t.log"

  regressions=("$root/tests/fuzz/regressions/$t/"*)
  if [[ -e "${regressions[0]}" ]]; then
    echo "== $t: replaying ${#regressions[@]} regression input(s)"
    if ! "$bin" -runs=1 "${regressions[@]}" >"$log" 2>&1; then
      tail -n 40 "$log"
      failed+=("$t (regression)")
      continue
    fi
  fi

  budget=$seconds
  if [[ $t == fuzz_engine ]]; then
    start=$(date +%s)
    "$bin" -runs=0 >/dev/null 2>&1 || true  # a failing start-up fails the real run below
    budget=$((seconds + $(date +%s) - start + 1))
  fi
  echo "== $t: fuzzing ${seconds}s (max_total_time=${budget}s)"
  if "$bin" -max_total_time="$budget" -max_len=4096 -timeout=30 -rss_limit_mb=4096 -print_final_stats=1 \
      -artifact_prefix="$artifacts/" "$corpus" >"$log" 2>&1; then
    grep -E '^stat::number_of_executed_units|^stat::peak_rss_mb|^#[0-9]+.*DONE' "$log" | sed 's/^/   /' || true
  else
    tail -n 60 "$log"
    echo "== $t: FAILED; reproducer(s) in $artifacts/"
    failed+=("$t")
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "fuzzing failed: ${failed[*]}" >&2
  exit 1
fi
echo "fuzzing passed: ${targets[*]}"
