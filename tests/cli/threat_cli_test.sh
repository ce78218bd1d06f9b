#!/usr/bin/env bash
# `dualguard threat analyze` on the built binary: formats to stdout and to --out, the JSON contract,
# --fail-on exit codes, schema errors as file:line:col with exit 2, --atlas checking explicit ids.
# Usage: threat_cli_test.sh path/to/dualguard   (run from ctest)
set -uo pipefail
dg="$1"
root="$(cd "$(dirname "$0")/../.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$root"
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
check() { local name="$1"; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
jqe() { jq -e "$1" >/dev/null <<<"$out"; }
run() { out="$(timeout 60 "$@" 2>"$tmp/stderr")"; rc=$?; err="$(cat "$tmp/stderr")"; }
unset DUALGUARD_TRUSTED_KEYS

run "$dg" threat analyze examples/chatbot.yaml --format json
check "json to stdout exits 0" test "$rc" -eq 0
check "  risks carry id, class, rationale" jqe '.risks | length >= 8 and all(.id and (.class | IN("safety","security","hybrid")) and (.rationale | length > 0))'
check "  all three classes" jqe '[.risks[].class] | unique == ["hybrid","safety","security"]'
check "  chokepoints name a control and its safety mechanisms" jqe '.chokepoints | length >= 1 and all(.control and (.safety_mechanisms | length >= 1))'
check "  unprotected safety mechanisms listed" jqe '.unprotected_safety_mechanisms | any(.mechanism == "human-handoff")'
check "  coverage against the live policy" jqe '.coverage.risks.covered | length >= 1'

run "$dg" threat analyze examples/healthcare.yaml --format md
check "markdown to stdout" grep -q '^# Threat analysis: ' <<<"$out"
run "$dg" threat analyze examples/healthcare.yaml --format md,json
check "two formats without --out is a usage error" test "$rc" -eq 2

run "$dg" threat analyze examples/autonomous-vehicle.yaml --out "$tmp/report"
check "--out writes all four formats" test -s "$tmp/report/threat.html" -a -s "$tmp/report/threat.md" -a -s "$tmp/report/threat.json" -a -s "$tmp/report/threat.dot"
check "  html has the svg graph" grep -q '<svg' "$tmp/report/threat.html"
check "  html is self-contained (no scripts, no external assets)" bash -c "! grep -qiE '<script|src=\"http|href=\"http|<link' '$tmp/report/threat.html'"
check "  dot is a digraph" grep -q '^digraph threat {' "$tmp/report/threat.dot"

run "$dg" threat analyze examples/chatbot.yaml --format json --fail-on unprotected-safety-mechanism,unmitigated-risk
check "--fail-on exits 1 when something is found" test "$rc" -eq 1
check "  and names it" grep -q 'unmitigated risk cs-11' <<<"$err"
cat >"$tmp/clean.yaml" <<'YAML'
version: 1
name: clean
components: [{id: app}]
mechanisms:
  - {id: auth, layer: security}
  - {id: filter, layer: safety, depends_on: [auth]}
risks:
  - {id: r1, title: t, cause: c, intent: unintentional, target: app, mitigations: [filter]}
YAML
run "$dg" threat analyze "$tmp/clean.yaml" --format json --fail-on unprotected-safety-mechanism,unmitigated-risk
check "--fail-on exits 0 on a clean model" test "$rc" -eq 0
run "$dg" threat analyze "$tmp/clean.yaml" --fail-on everything
check "bad --fail-on is a usage error" test "$rc" -eq 2

cat >"$tmp/bad.yaml" <<'YAML'
version: 1
name: bad
components: [{id: app}]
risks:
  - {id: r1, title: t, cause: c, intent: sometimes, target: ap}
YAML
run "$dg" threat analyze "$tmp/bad.yaml" --format json
check "schema errors exit 2" test "$rc" -eq 2
check "  as file:line:col: code: message" grep -qF "$tmp/bad.yaml:5:42: threat_schema: intent must be one of: adversarial, unintentional (got 'sometimes')" <<<"$err"
check "  every error at once" grep -qF "$tmp/bad.yaml:5:61: threat_unknown_ref: 'ap' in risk 'r1' target is no component, mechanism or asset of this model" <<<"$err"

atlas="$root/../shared/corpora/catalogs/ATLAS.yaml"
if [ -f "$atlas" ]; then
  run "$dg" threat analyze examples/chatbot.yaml --atlas "$atlas" --format json
  check "--atlas names the techniques" jqe '[.risks[].atlas[] | select(.id == "AML.T0051.001")][0].name == "Indirect"'
  sed 's/AML.T0025/AML.T0999/' examples/chatbot.yaml >"$tmp/chatbot.yaml"
  run "$dg" threat analyze "$tmp/chatbot.yaml" --atlas "$atlas" --format json
  check "an unknown ATLAS id is a located error" grep -q "atlas_unknown_technique: ATLAS technique 'AML.T0999' in risk 'cs-11'" <<<"$err"
  check "  exit 2" test "$rc" -eq 2
else
  echo "skip ATLAS checks: $atlas is absent"
fi

if [ "$fails" -ne 0 ]; then echo "$fails check(s) failed"; exit 1; fi
echo "all threat CLI checks passed"
