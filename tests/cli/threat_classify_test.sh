#!/usr/bin/env bash
# `dualguard threat classify` on the built binary with the shipped (signed) model: the per-line
# contract, --eval with its report, --atlas, bad input named by file and line, and a tampered or
# unsigned model refused under the default (enforcing) config.
# Usage: threat_classify_test.sh path/to/dualguard   (run from ctest)
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
run() { out="$(timeout 60 "$@" 2>"$tmp/stderr")"; rc=$?; err="$(cat "$tmp/stderr")"; }
unset DUALGUARD_TRUSTED_KEYS

cat >"$tmp/incidents.jsonl" <<'JSONL'
{"id": "a1", "title": "Hackers Used a Cloned Voice to Steal $35 Million", "description": "Criminals used AI voice cloning to impersonate a company director and tricked a bank manager into transferring funds.", "label": "security"}
{"id": "a2", "title": "Self-Driving Car Failed to Detect a Pedestrian at Night", "description": "The perception system misclassified a pedestrian in low light and the vehicle did not brake, an error the company attributed to a software flaw.", "label": "safety"}
{"id": "a3", "title": "Chatbot Gave Wrong Refund Policy", "description": "An airline chatbot hallucinated a refund policy that did not exist; a tribunal held the airline liable.", "label": "safety"}
JSONL

run "$dg" threat classify --file "$tmp/incidents.jsonl" --field title --field description
check "classify exits 0" test "$rc" -eq 0
check "  one line per incident" test "$(wc -l <<<"$out")" -eq 3
check "  each line has id, class, intent, confidence, rationale" jq -se 'all(.id and (.class | IN("safety","security","hybrid")) and (.intent | IN("intentional","unintentional")) and (.confidence > 0 and .confidence <= 1) and (.rationale | length > 10))' <<<"$out"
check "  a voice-cloning theft is security, by a human" jq -se '.[0].class == "security" and .[0].actor == "human" and .[0].intent == "intentional"' <<<"$out"
check "  its rationale names the attacker cue" jq -se '.[0].cues | any(.cue == "attacker" or .cue == "fraud")' <<<"$out"
check "  a perception failure is safety" jq -se '.[1].class == "safety" and .[1].intent == "unintentional"' <<<"$out"
check "  no labels are echoed without --eval" jq -se 'all(has("label") | not)' <<<"$out"

run "$dg" threat classify --file "$tmp/incidents.jsonl" --field title --field description --eval --report "$tmp/report.json" --out "$tmp/out.jsonl"
check "--eval exits 0" test "$rc" -eq 0
check "  prints accuracy and kappa" grep -q "accuracy .* Cohen's kappa" <<<"$err"
check "  writes the JSONL to --out" test "$(wc -l <"$tmp/out.jsonl")" -eq 3
check "  report has accuracy, kappa, per-class precision / recall" jq -e '.eval.n == 3 and (.eval.accuracy | type == "number") and (.eval.kappa | type == "number") and (.eval.classes.safety | has("precision") and has("recall"))' "$tmp/report.json"
check "  labels echoed with --eval" jq -se 'all(.label)' "$tmp/out.jsonl"

printf '{"id":"x","text":"t","label":"nope"}\n' >"$tmp/badlabel.jsonl"
run "$dg" threat classify --file "$tmp/badlabel.jsonl" --eval
check "unknown label exits 3" test "$rc" -eq 3
check "  and names file and line" grep -q "badlabel.jsonl:1: config_invalid_value: label field 'label' must be safety, security or hybrid (got 'nope')" <<<"$err"
printf '{"id":"x","text":"t"}\nnot json\n' >"$tmp/badjson.jsonl"
run "$dg" threat classify --file "$tmp/badjson.jsonl"
check "a line that is not JSON exits 3 naming the line" bash -c "test $rc -eq 3 && grep -q 'badjson.jsonl:2: config_syntax' <<<\"\$0\"" "$err"
run "$dg" threat classify --file "$tmp/none.jsonl"
check "missing file exits 3" test "$rc" -eq 3
run "$dg" threat classify
check "no input is a usage error" test "$rc" -eq 2

# Integrity: the default config enforces signatures; a changed or unsigned model is refused.
mkdir "$tmp/m"
cp models/incident_class.json models/incident_class.json.sig "$tmp/m/"   # a signature binds the file's base name
run "$dg" threat classify --file "$tmp/incidents.jsonl" --field title --field description --model "$tmp/m/incident_class.json"
check "a copied signed model loads" test "$rc" -eq 0
printf ' ' >>"$tmp/m/incident_class.json"   # one byte more
run "$dg" threat classify --file "$tmp/incidents.jsonl" --field title --field description --model "$tmp/m/incident_class.json"
check "a tampered model is refused" bash -c "test $rc -eq 3 && grep -q 'tampered_artifact' <<<\"\$0\"" "$err"
rm "$tmp/m/incident_class.json.sig"
run "$dg" threat classify --file "$tmp/incidents.jsonl" --field title --field description --model "$tmp/m/incident_class.json"
check "an unsigned model is refused" bash -c "test $rc -eq 3 && grep -q 'signature_missing' <<<\"\$0\"" "$err"

atlas="$root/../shared/corpora/catalogs/ATLAS.yaml"
if [ -f "$atlas" ]; then
  run "$dg" threat classify --atlas "$atlas" --report "$tmp/atlas.json"
  check "--atlas classifies every case study" bash -c "test $rc -eq 0 && test \$(wc -l <<<\"\$0\") -eq \$(jq .atlas.case_studies '$tmp/atlas.json')" "$out"
  check "  and reports how many read as intentional" grep -q "ATLAS case studies: [0-9]*/[0-9]* classified as intentional" <<<"$err"
else
  echo "skip --atlas: ../shared/corpora is absent"
fi

echo "$fails failure(s)"
exit $((fails > 0))
