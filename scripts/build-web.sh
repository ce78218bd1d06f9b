#!/usr/bin/env bash
# Builds the dashboard (web/ -> web/dist) with the locked npm packages: `npm ci`, then `npm run build`
# (tsc --noEmit, so type errors fail, then vite build). Skips the work when web/dist is newer than
# every source file. Needs node and npm (scripts/deps.sh installs them when missing).
set -euo pipefail
cd "$(dirname "$0")/../web"
if [[ -f dist/index.html ]] && [[ -z "$(find src index.html package.json package-lock.json vite.config.ts tsconfig.json \
      -newer dist/index.html -print -quit 2>/dev/null)" ]]; then
  exit 0
fi
echo "dualguard: building the dashboard (web/ -> web/dist)" >&2
timeout 600 npm ci --no-audit --no-fund --loglevel=error >/dev/null
timeout 600 npm run --silent build >/dev/null
test -f dist/index.html
