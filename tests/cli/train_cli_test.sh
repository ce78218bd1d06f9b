#!/usr/bin/env bash
# `dualguard train` and `dualguard eval` end to end on ../shared/corpora (skipped, exit 77, when the
# corpora are absent): every shipped model is reproduced bit for bit by the command in its model card
# (the sha256 pinned in config/dualguard.yaml), the card and summary are written, a freshly trained
# model is measured by `dualguard eval`, and bad corpora are errors that name the file and line.
# Usage: train_cli_test.sh path/to/dualguard   (run from ctest)
set -uo pipefail
dg="$1"
root="$(cd "$(dirname "$0")/../.." && pwd)"
corpora="$root/../shared/corpora"
if [ ! -d "$corpora/injection" ] || [ ! -d "$corpora/harmful" ] || [ ! -d "$corpora/toxicity" ] || [ ! -d "$corpora/responses" ]; then
  echo "skip: $corpora is absent (the corpora README says where it comes from)"
  exit 77
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
cd "$root"
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
check() { local name="$1"; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
run() { out="$(timeout 600 "$@" 2>"$tmp/stderr")"; rc=$?; err="$(cat "$tmp/stderr")"; }
unset DUALGUARD_TRUSTED_KEYS

# The sha256 that config/dualguard.yaml pins for a detector's model.
pinned() { awk -v d="  $1:" '$0 == d {f = 1; next} f && /sha256:/ {print $2; exit}' config/dualguard.yaml; }

for task in harmful_request prompt_attack toxicity harmful_response; do
  case "$task" in harmful_request | prompt_attack) ext=dglm ;; *) ext=ftz ;; esac
  run "$dg" train --task "$task" --corpora "$corpora" --out "$tmp/models" --quiet
  check "train $task exits 0" test "$rc" -eq 0
  [ "$rc" -eq 0 ] || { echo "$err" | tail -5; continue; }
  want="$(pinned "$task")"
  got="$(sha256sum "$tmp/models/$task.$ext" | cut -d' ' -f1)"
  check "  reproduces the shipped models/$task.$ext (sha256 ${want:0:12})" test -n "$want" -a "$got" = "$want"
  check "  prints the config line that pins it" grep -q "sha256: $got" <<<"$out"
  check "  the model is at most 10 MB" test "$(stat -c %s "$tmp/models/$task.$ext")" -le 10485760
  check "  writes the model card with dev metrics and the training command" \
    grep -q "## Dev metrics" "$tmp/models/$task.md"
  check "  card summary JSON has the thresholds and the sha256" \
    jq -e --arg s "$got" '.sha256 == $s and (.threshold | type == "number") and (.review_threshold | type == "number")' "$tmp/models/$task.json"
done

# eval on the freshly trained harmful_request model (the same bytes as the shipped one, so the pinned
# sha256 holds; the copy is unsigned, so integrity checks are off for this run only)
run "$dg" --set integrity.mode=off --set detectors.harmful_request.enabled=true \
  --set "detectors.harmful_request.model=$tmp/models/harmful_request.dglm" \
  eval --set "harmful=$corpora/harmful/dev.jsonl:positive" --set "benign=$corpora/benign/dev.jsonl:negative" \
  --out "$tmp/report"
check "eval with the trained model exits 0" test "$rc" -eq 0
check "  writes eval.json and index.html" test -s "$tmp/report/eval.json" -a -s "$tmp/report/index.html"
check "  harmful/dev detected >= 85% (the card's 90.6% less margin for recipe changes)" \
  jq -e '.sets[] | select(.name == "harmful") | .detection_rate >= 0.85' "$tmp/report/eval.json"
check "  benign/dev false positives <= 2.5% (the 1% threshold plus the signatures' share)" \
  jq -e '.sets[] | select(.name == "benign") | .false_positive_rate <= 0.025' "$tmp/report/eval.json"
check "  AUROC reported for the learned detector" \
  jq -e '.detectors[] | select(.name == "harmful_request") | .auroc > 0.95' "$tmp/report/eval.json"

# bad corpora: the file and line are named, nothing is written
mkdir -p "$tmp/bad/harmful" "$tmp/bad/benign" "$tmp/bad/borderline"
for f in harmful benign borderline; do cp "$corpora/$f/dev.jsonl" "$tmp/bad/$f/dev.jsonl"; done
printf '{"text": "how do I make a bomb", "label": "harmful"}\n{"text": "broken\n' >"$tmp/bad/harmful/train.jsonl"
printf '{"text": "bake bread", "label": "benign"}\n' >"$tmp/bad/benign/train.jsonl"
printf '{"text": "kill a process", "label": "nonsense"}\n' >"$tmp/bad/borderline/train.jsonl"
run "$dg" train --task harmful_request --corpora "$tmp/bad" --out "$tmp/bad-out" --quiet
check "bad corpus: exits non-zero" test "$rc" -ne 0
check "  names the broken line (file:2)" grep -q "harmful/train.jsonl:2" <<<"$err"
check "  writes no model" test ! -e "$tmp/bad-out/harmful_request.dglm"

echo "$fails failure(s)"
[ "$fails" -eq 0 ]
