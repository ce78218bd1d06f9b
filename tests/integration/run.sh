#!/usr/bin/env bash
# Integration tests of `dualguard serve`: the real binary against a scripted upstream, driven by the
# official openai client. Usage: tests/integration/run.sh [path/to/dualguard]
# Without a binary (or one without `serve`) the gateway tests are skipped with the reason and the
# upstream self-test still runs. Every wait in the tests is bounded; the whole run is capped below.
set -euo pipefail

# The binary: $1 (relative to the caller's folder), else $DUALGUARD_BIN, else none (tests skip).
if [[ $# -ge 1 && -n "$1" ]]; then
  if [[ ! -x "$1" ]]; then
    echo "run.sh: $1 is not an executable file" >&2
    exit 2
  fi
  DUALGUARD_BIN="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
  export DUALGUARD_BIN
fi

cd "$(dirname "${BASH_SOURCE[0]}")"

npm ci --no-audit --no-fund --loglevel=error >/dev/null

# --test-concurrency=1: one test file at a time (each starts its own gateways and upstreams).
# Each suite has its own deadline (lib/fixtures.mjs); this cap bounds the whole run.
exec timeout --signal=TERM --kill-after=10 "${DUALGUARD_IT_TIMEOUT:-600}" \
  node --test --test-concurrency=1 --test-reporter=spec \
  upstream/server.test.mjs gateway.test.mjs gateway-limits.test.mjs gateway-resilience.test.mjs gateway-ops.test.mjs gateway-monitor.test.mjs
