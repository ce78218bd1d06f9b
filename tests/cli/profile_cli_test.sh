#!/usr/bin/env bash
# End-to-end tests of `dualguard profile build | show` and the ood detector on the built binary:
# outputs, exit codes, error messages; and, when ../shared/corpora is present, the issue's measure
# (ood/dev against benign/dev with a profile of benign/train: AUROC >= 0.95 from `dualguard eval`).
# Needs jq. Usage: profile_cli_test.sh path/to/dualguard   (run from ctest)
set -uo pipefail
dg="$1"
root="$(cd "$(dirname "$0")/../.." && pwd)"
cfg="$root/config/dualguard.yaml"
corpora="$root/../shared/corpora"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
check() { local name="$1"; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
run() { out="$("$@" 2>"$tmp/stderr")"; rc=$?; err="$(cat "$tmp/stderr")"; }

# A toy deployment: 300 support questions about a bike shop.
for i in $(seq 1 300); do
  case $((i % 6)) in
    0) t="When does the shop open on day $i of the sale?" ;;
    1) t="Can you fix a flat tyre on my road bike by Friday?" ;;
    2) t="How much does a new chain cost for a mountain bike, order $i?" ;;
    3) t="Do you sell helmets for children, size $i?" ;;
    4) t="My gears slip when I ride uphill, what should I do?" ;;
    5) t="Is there a discount on bike lights this week? Ticket $i" ;;
  esac
  printf '{"text": "%s"}\n' "$t"
done > "$tmp/traffic.jsonl"

run "$dg" -c "$cfg" profile build -q --from "$tmp/traffic.jsonl" --out "$tmp/p.dgood"
check "build exits 0" test "$rc" -eq 0
check "build prints the profile (JSON)" test "$(jq -r '.texts' <<<"$out")" = "300"
check "build prints the config lines" grep -q "sha256: $(sha256sum "$tmp/p.dgood" | cut -d' ' -f1)" <<<"$err"
run "$dg" profile show "$tmp/p.dgood"
check "show exits 0" test "$rc" -eq 0
check "show names the source" test "$(jq -r '.source' <<<"$out")" = "$tmp/traffic.jsonl"

# The profiles built here are unsigned: the shipped config's signature checks are turned off for them
# (docs/integrity.md; a deployment signs its profile with `dualguard sign`).
O=(-c "$cfg" --set integrity.mode=off --set detectors.ood.enabled=true --set "detectors.ood.profile=$tmp/p.dgood")
run "$dg" "${O[@]}" scan "Do you sell bike lights for children?"
check "in-distribution prompt: no ood finding" test "$(jq '[.findings[] | select(.category == "out_of_distribution")] | length' <<<"$out")" = "0"
run "$dg" "${O[@]}" scan "Pursuant to clause 7(b), the indemnifying party shall reimburse all losses hereunder."
check "contract clause: ood finding" test "$(jq -r '[.findings[] | select(.category == "out_of_distribution")][0].severity' <<<"$out")" = "medium"
check "the finding names rare words" grep -q 'rarest words: ' <<<"$(jq -r '.findings[] | select(.category == "out_of_distribution") | .evidence' <<<"$out")"
check "ood is a safety finding; the verdict still allows" test "$(jq -r '.action + " " + ([.findings[] | select(.category == "out_of_distribution")][0].domain)' <<<"$out")" = "allow safety"

# Errors: exit codes and messages that name the file and line.
printf '{"text": "fine"}\n{"body": "no text"}\n' > "$tmp/bad.jsonl"
run "$dg" -c "$cfg" profile build -q --from "$tmp/bad.jsonl" --out "$tmp/x.dgood"
check "missing field: exit 3" test "$rc" -eq 3
check "missing field: file:line" grep -q "bad.jsonl:2: missing_field: no field 'text'" <<<"$err"
run "$dg" -c "$cfg" profile build -q --out "$tmp/x.dgood"
check "no source: exit 2" test "$rc" -eq 2
head -c 100 "$tmp/p.dgood" > "$tmp/cut.dgood"
run "$dg" "${O[@]}" --set "detectors.ood.profile=$tmp/cut.dgood" scan "hello there friend"
check "truncated profile: config error" test "$rc" -eq 2
check "truncated profile: named" grep -q "cut.dgood: model_invalid" <<<"$err"
run "$dg" "${O[@]}" --set "detectors.ood.sha256=$(printf '0%.0s' $(seq 64))" scan "hello there friend"
check "pinned digest mismatch: tampered_artifact" grep -q "tampered_artifact: profile digest" <<<"$err"
run "$dg" -c "$cfg" --set detectors.ood.enabled=true --set detectors.ood.profile= scan "hello there friend"
check "enabled without a profile: missing key" grep -q "config_missing_key: detectors.ood.profile is required" <<<"$err"
run "$dg" -c "$cfg" --set detectors.ood.enabled=true scan "hello there friend"
check "enabled before the default profile exists: config_io, named" grep -q "profiles/traffic.dgood: config_io: cannot read the profile file (build one" <<<"$err"

# The shared corpora: the issue's measure.
if [[ -f "$corpora/ood/dev.jsonl" && -f "$corpora/benign/train.jsonl" && -f "$corpora/benign/dev.jsonl" ]]; then
  run "$dg" -c "$cfg" profile build -q --from "$corpora/benign/train.jsonl" --out "$tmp/benign.dgood"
  check "corpora: profile of benign/train" test "$rc" -eq 0
  # review_threshold near 0: every prompt gets its score reported, so the AUROC ranks them all.
  run "$dg" -c "$cfg" --set integrity.mode=off --set detectors.ood.enabled=true --set "detectors.ood.profile=$tmp/benign.dgood" \
    --set detectors.ood.review_threshold=0.000001 eval --set "ood=$corpora/ood/dev.jsonl:positive" \
    --set "benign=$corpora/benign/dev.jsonl:negative" --out "$tmp/ev"
  auroc="$(jq '.detectors[] | select(.name == "ood") | .auroc' "$tmp/ev/eval.json")"
  echo "     ood/dev vs benign/dev AUROC: $auroc"
  check "corpora: ood AUROC >= 0.95" test "$(jq -n "$auroc >= 0.95")" = "true"
else
  echo "skip corpora: $corpora/ood or benign not present"
fi

echo "$fails failed"
[[ $fails -eq 0 ]]
