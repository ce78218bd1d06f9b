#!/usr/bin/env bash
# Browser tests of the dashboard: headless Debian Chromium (playwright-core) against the real
# `dualguard serve` serving web/dist, in front of the scripted upstream of tests/integration.
#
#   tests/e2e/run.sh path/to/dualguard [screenshot-dir]
#
# The dashboard must be built first: (cd web && npm ci && npm run build), or name another build with
# DASHBOARD_DIST. Screenshots go to the second argument (default: build/e2e-screenshots).
# Exit 77 (skipped) when there is no Chromium (apt-get install chromium; CHROMIUM_PATH overrides).
# Every wait in the test is bounded; the whole run is capped below (DUALGUARD_E2E_TIMEOUT seconds).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"

if [[ $# -lt 1 || -z "$1" ]]; then
  echo "usage: tests/e2e/run.sh path/to/dualguard [screenshot-dir]" >&2
  exit 2
fi
if [[ ! -x "$1" ]]; then
  echo "run.sh: $1 is not an executable file" >&2
  exit 2
fi
DUALGUARD_BIN="$(cd "$(dirname "$1")" && pwd)/$(basename "$1")"
shots="${2:-$repo/build/e2e-screenshots}"
mkdir -p "$shots"
DASHBOARD_SCREENSHOT_DIR="$(cd "$shots" && pwd)"
export DUALGUARD_BIN DASHBOARD_SCREENSHOT_DIR

CHROMIUM_PATH="${CHROMIUM_PATH:-/usr/bin/chromium}"
if [[ ! -x "$CHROMIUM_PATH" ]]; then
  echo "run.sh: SKIP: no Chromium at $CHROMIUM_PATH (apt-get install chromium, or set CHROMIUM_PATH)" >&2
  exit 77
fi
export CHROMIUM_PATH

# The built dashboard. A missing or stale build fails: testing old code would pass for the wrong reason.
DASHBOARD_DIST="$(realpath -m "${DASHBOARD_DIST:-$repo/web/dist}")"
if [[ ! -f "$DASHBOARD_DIST/index.html" ]]; then
  echo "run.sh: no built dashboard at $DASHBOARD_DIST: run (cd web && npm ci && npm run build) first" >&2
  exit 2
fi
if [[ "$DASHBOARD_DIST" == "$repo/web/dist" ]]; then
  newer="$(find "$repo/web/src" "$repo/web/index.html" "$repo/web/package.json" "$repo/web/package-lock.json" \
    "$repo/web/vite.config.ts" "$repo/web/tsconfig.json" \
    -newer "$DASHBOARD_DIST/index.html" -print -quit)"
  if [[ -n "$newer" ]]; then
    echo "run.sh: $DASHBOARD_DIST is older than $newer: rebuild with (cd web && npm ci && npm run build)" >&2
    exit 2
  fi
fi
export DASHBOARD_DIST

cd "$here"
npm ci --no-audit --no-fund --loglevel=error >/dev/null

exec timeout --signal=TERM --kill-after=10 "${DUALGUARD_E2E_TIMEOUT:-300}" \
  node --test --test-concurrency=1 --test-reporter=spec dashboard.test.mjs
