#!/usr/bin/env bash
# Re-signs the artifacts shipped in the repository after one of them changed (a rule, the policy, the
# taxonomy, the config, a retrained model): writes FILE.sig next to each file and MANIFEST +
# MANIFEST.sig in each rule folder, then verifies them all. By default with the DEVELOPMENT key
# keys/dev (committed on purpose; docs/integrity.md): the loader enforces signatures, so without a
# re-sign `dualguard scan` and `serve` refuse an edited file and name it.
# Usage: scripts/sign-artifacts.sh [SECRET_KEY]   (env: DG=path/to/dualguard, default build/dualguard)
set -euo pipefail
cd "$(dirname "$0")/.."
key="${1:-keys/dev}"
pub="${key}.pub"
dg="${DG:-build/dualguard}"
[ -x "$dg" ] || { echo "sign-artifacts: $dg not found (build first: ninja -C build dualguard)" >&2; exit 2; }
[ -f "$key" ] || { echo "sign-artifacts: no secret key at $key" >&2; exit 2; }

artifacts=(config/dualguard.yaml config/taxonomy.yaml config/policy.yaml config/alerts.yaml config/signatures)
for m in models/*.dglm models/*.ftz models/incident_class.json; do [ -f "$m" ] && artifacts+=("$m"); done

for a in "${artifacts[@]}"; do "$dg" sign "$a" --key "$key"; done
for a in "${artifacts[@]}"; do "$dg" verify "$a" --pub "$pub" >/dev/null; done
echo "sign-artifacts: ${#artifacts[@]} artifacts signed with $key and verified with $pub"
