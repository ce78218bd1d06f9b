#!/usr/bin/env bash
# Installs the Debian packages dualguard needs to build, test and run. Idempotent; run as root
# (or with sudo available). Every dependency is a Debian 12 package: nothing is downloaded at build time.
set -euo pipefail

packages=(
  build-essential cmake ninja-build pkg-config
  libhyperscan-dev libicu-dev libyaml-cpp-dev nlohmann-json3-dev libcli11-dev libspdlog-dev libfmt-dev libsodium-dev libpcre2-dev libfasttext-dev liblinear-dev libsqlite3-dev libboost1.81-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  clang libclang-rt-14-dev
  jq sqlite3
  chromium  # the dashboard's browser tests (tests/e2e: playwright-core drives /usr/bin/chromium headless)
)

# Node.js and npm run the gateway's integration tests (tests/integration) and build the dashboard; the
# machine image usually has them, Debian's packages are the fallback.
command -v node >/dev/null 2>&1 || packages+=(nodejs)
command -v npm >/dev/null 2>&1 || packages+=(npm)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  exit 0
fi
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "dualguard: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
