#!/usr/bin/env bash
# End-to-end throughput of `dualguard scan` on a ~50 MB JSONL file with two worker threads.
#
#   bench/throughput.sh                 build-bench/ binaries, 50000 lines, 3 runs, 2 threads
#   LINES=20000 THREADS=1 bench/throughput.sh
#
# The input is made by `dg_bench --generate-jsonl` (the same text mix as the micro-benchmarks: 9 in 10
# lines {"id","text"} of ~1 KB, 1 in 10 an exchange {"id","prompt","response"}), so no Python is
# needed. Timing uses hyperfine when installed (as root, the script installs the Debian package when
# it is missing; DG_NO_INSTALL=1 prevents that), otherwise `date +%s.%N` around each run.
# Prints the median wall time and MB/s, end to end (start-up included: config load and Hyperscan
# databases, from the cache when warm) and the start-up time alone, measured on a one-line file.
#
# Environment: BUILD_DIR (default <repo>/build-bench), LINES (50000), THREADS (2), RUNS (3),
# CONFIG (default <repo>/config/dualguard.yaml), DATA (default ${TMPDIR:-/tmp}/dg-throughput.jsonl).
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
build=${BUILD_DIR:-$root/build-bench}
lines=${LINES:-50000}
threads=${THREADS:-2}
runs=${RUNS:-3}
config=${CONFIG:-$root/config/dualguard.yaml}
data=${DATA:-${TMPDIR:-/tmp}/dg-throughput.jsonl}

if [[ ! -x $build/dualguard || ! -x $build/dg_bench ]]; then
  echo "building dualguard and dg_bench in $build" >&2
  [[ -f $build/build.ninja ]] || cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
  ninja -C "$build" dualguard dg_bench >&2
fi

"$build/dg_bench" --generate-jsonl "$lines" 1 >"$data"
bytes=$(stat -c %s "$data")
one_line="$data.one"
head -n 1 "$data" >"$one_line"
trap 'rm -f "$one_line" "$data.hf.json"' EXIT

if ! command -v hyperfine >/dev/null && [[ $(id -u) == 0 && -z ${DG_NO_INSTALL:-} ]] && command -v apt-get >/dev/null; then
  echo "installing hyperfine (apt)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq hyperfine >/dev/null 2>&1 || true
fi

scan=("$build/dualguard" --config "$config" scan --file)

# Median wall time in seconds of `scan FILE`, over `runs` runs.
median_seconds() {
  local file=$1
  if command -v hyperfine >/dev/null; then
    hyperfine --style none --warmup 1 --runs "$runs" --export-json "$data.hf.json" \
      "${scan[*]} $file --threads $threads > /dev/null" >&2
    # hyperfine's JSON: {"results": [{"command": ..., "mean": ..., "median": ..., ...}]}
    awk -F'[:,]' '/"median"/ { gsub(/ /, "", $2); print $2; exit }' "$data.hf.json"
  else
    local times=() t0 t1
    "${scan[@]}" "$file" --threads "$threads" >/dev/null  # warm-up (page cache, Hyperscan database cache)
    for ((i = 0; i < runs; i++)); do
      t0=$(date +%s.%N)
      "${scan[@]}" "$file" --threads "$threads" >/dev/null
      t1=$(date +%s.%N)
      times+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.6f", b - a }')")
    done
    printf '%s\n' "${times[@]}" | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
  fi
}

echo "input: $data, $lines lines, $bytes bytes; $threads thread(s); median of $runs runs" \
  "($(command -v hyperfine >/dev/null && echo hyperfine || echo date))"
total=$(median_seconds "$data")
startup=$(median_seconds "$one_line")
awk -v b="$bytes" -v t="$total" -v s="$startup" -v th="$threads" 'BEGIN {
  printf "end to end:  %.3f s  %.1f MB/s on %d thread(s)\n", t, b / 1e6 / t, th
  printf "start-up:    %.3f s  (one-line file)\n", s
  if (t > s) printf "steady:      %.1f MB/s (start-up subtracted)\n", b / 1e6 / (t - s)
}'
