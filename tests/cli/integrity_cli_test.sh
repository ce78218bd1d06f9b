#!/usr/bin/env bash
# `dualguard sign keygen | sign | verify` on the built binary: the output contract (PREFIX and
# PREFIX.pub, FILE.sig, DIR/MANIFEST + MANIFEST.sig; verify exits 0 only when intact), every tamper
# case with its one-line reason (changed byte, wrong key, missing .sig, swapped file, folder changes),
# and the loader refusing a tampered policy / model of a signed config, naming the file.
# Usage: integrity_cli_test.sh path/to/dualguard   (run from ctest)
set -uo pipefail
dg="$1"
root="$(cd "$(dirname "$0")/../.." && pwd)"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
check() { local name="$1"; shift; if "$@"; then ok "$name"; else bad "$name"; fi; }
run() { out="$(timeout 120 "$@" 2>"$tmp/stderr")"; rc=$?; err="$(cat "$tmp/stderr")"; }
unset DUALGUARD_TRUSTED_KEYS

# --- keygen ---------------------------------------------------------------------------------------
run "$dg" sign keygen --out "$tmp/k"
check "keygen exits 0" test "$rc" -eq 0
check "keygen writes PREFIX and PREFIX.pub" test -s "$tmp/k" -a -s "$tmp/k.pub"
check "secret key is mode 600" test "$(stat -c %a "$tmp/k")" = 600
check "keygen prints the key id" grep -Eq '^key-id: [0-9a-f]{16}$' <<<"$out"
id="$(sed -n 's/^key-id: //p' <<<"$out")"
check "the public key names the same id" grep -q "^key-id: $id$" "$tmp/k.pub"
secret="$(sed -n 's/^secret-key: //p' "$tmp/k")"
check "the secret key file holds a seed" grep -Eqx '[0-9a-f]{64}' <<<"$secret"
check "the secret is not printed" test "$(grep -c -- "$secret" <<<"$out")" -eq 0
run "$dg" sign keygen --out "$tmp/k"
check "keygen does not overwrite" test "$rc" -ne 0
check "  and says so" grep -q "already exists" <<<"$err"
run "$dg" sign keygen --out "$tmp/other"
check "second key pair" test "$rc" -eq 0

# --- file round trip and tamper cases -------------------------------------------------------------
printf 'rules:\n  - id: one\n' >"$tmp/policy.yaml"
run "$dg" sign "$tmp/policy.yaml" --key "$tmp/k"
check "sign exits 0" test "$rc" -eq 0
check "sign writes FILE.sig" test -s "$tmp/policy.yaml.sig"
check "the .sig is self-describing" grep -q '^algorithm: ed25519$' "$tmp/policy.yaml.sig"
run "$dg" verify "$tmp/policy.yaml" --pub "$tmp/k.pub"
check "verify intact: exit 0" test "$rc" -eq 0
check "  OK with the key id" grep -q "OK (signed by key $id)" <<<"$out"

cp "$tmp/policy.yaml" "$tmp/orig.yaml"
printf 'rules:\n  - id: onf\n' >"$tmp/policy.yaml"   # one changed byte
run "$dg" verify "$tmp/policy.yaml" --pub "$tmp/k.pub"
check "changed byte: exit 1" test "$rc" -eq 1
check "  tampered_artifact, one line" test "$(grep -c 'tampered_artifact: content changed since it was signed' <<<"$err")" -eq 1 -a "$(wc -l <<<"$err")" -eq 1
cp "$tmp/orig.yaml" "$tmp/policy.yaml"

run "$dg" verify "$tmp/policy.yaml" --pub "$tmp/other.pub"
check "wrong key: exit 1" test "$rc" -eq 1
check "  untrusted_key" grep -q "untrusted_key: signed by key $id, which is not trusted" <<<"$err"
run "$dg" verify "$tmp/policy.yaml" --pub "$tmp/other.pub" --pub "$tmp/k.pub"
check "one of several keys: exit 0" test "$rc" -eq 0

printf 'other\n' >"$tmp/other.yaml"
run "$dg" verify "$tmp/other.yaml" --pub "$tmp/k.pub"
check "missing .sig: exit 1" test "$rc" -eq 1
check "  signature_missing" grep -q "signature_missing: no signature (other.yaml.sig not found)" <<<"$err"

cp "$tmp/policy.yaml" "$tmp/swapped.yaml"
cp "$tmp/policy.yaml.sig" "$tmp/swapped.yaml.sig"
run "$dg" verify "$tmp/swapped.yaml" --pub "$tmp/k.pub"
check "swapped file: exit 1" test "$rc" -eq 1
check "  signature_invalid, names both" grep -q "signature_invalid: the signature is for 'policy.yaml', not 'swapped.yaml'" <<<"$err"
sed -i 's/^file: policy.yaml$/file: swapped.yaml/' "$tmp/swapped.yaml.sig"
run "$dg" verify "$tmp/swapped.yaml" --pub "$tmp/k.pub"
check "swapped file with the name edited: exit 1" test "$rc" -eq 1
check "  the signature does not verify" grep -q "signature_invalid: the Ed25519 signature does not verify" <<<"$err"

printf 'garbage\n' >"$tmp/policy.yaml.sig"
run "$dg" verify "$tmp/policy.yaml" --pub "$tmp/k.pub"
check "malformed .sig: exit 1" test "$rc" -eq 1
check "  signature_invalid" grep -q "signature_invalid: policy.yaml.sig is not a dualguard signature" <<<"$err"

run "$dg" verify "$tmp/policy.yaml" --pub "$tmp/nope.pub"
check "unreadable key: exit 3" test "$rc" -eq 3
run "$dg" verify "$tmp/policy.yaml" --pub "$tmp/k"
check "a secret key given as --pub: exit 3, key_invalid" test "$rc" -eq 3 -a -n "$(grep key_invalid <<<"$err")"
run "$dg" sign "$tmp/policy.yaml" --key "$tmp/k.pub"
check "a public key given as --key: exit 3" test "$rc" -eq 3
check "  and says so" grep -q 'this is a public key file' <<<"$err"
run "$dg" verify "$tmp/policy.yaml"
check "verify without --pub: usage (2)" test "$rc" -eq 2
run "$dg" sign "$tmp/policy.yaml"
check "sign without --key: usage (2)" test "$rc" -eq 2

# --- folders (datasets) ---------------------------------------------------------------------------
mkdir -p "$tmp/data/train"
printf '{"text":"a"}\n' >"$tmp/data/train/a.jsonl"
printf '{"text":"b"}\n' >"$tmp/data/b.jsonl"
run "$dg" sign "$tmp/data" --key "$tmp/k"
check "sign DIR: exit 0" test "$rc" -eq 0
check "sign DIR writes MANIFEST and MANIFEST.sig" test -s "$tmp/data/MANIFEST" -a -s "$tmp/data/MANIFEST.sig"
check "MANIFEST lines are sha256sum lines" bash -c "cd '$tmp/data' && tail -n +2 MANIFEST | sha256sum -c --quiet"
run "$dg" verify "$tmp/data" --pub "$tmp/k.pub"
check "verify DIR intact: exit 0" test "$rc" -eq 0
printf '{"text":"B"}\n' >"$tmp/data/b.jsonl"
printf '{"text":"c"}\n' >"$tmp/data/c.jsonl"
rm "$tmp/data/train/a.jsonl"
run "$dg" verify "$tmp/data" --pub "$tmp/k.pub"
check "verify DIR changed: exit 1" test "$rc" -eq 1
check "  lists the added file" grep -qx '  added: c.jsonl' <<<"$err"
check "  lists the removed file" grep -qx '  removed: train/a.jsonl' <<<"$err"
check "  lists the changed file" grep -qx '  changed: b.jsonl' <<<"$err"
ln -s /etc/passwd "$tmp/data/link"
run "$dg" sign "$tmp/data" --key "$tmp/k"
check "sign DIR refuses a symlink: exit 3" test "$rc" -eq 3
check "  names it" grep -q 'link: a symlink' <<<"$err"
run "$dg" verify "$tmp/data" --pub "$tmp/k.pub"
check "verify DIR with a symlink: exit 3" test "$rc" -eq 3
check "  config_io, names it" grep -q 'config_io: link: a symlink' <<<"$err"

# --- the loader: a signed config refuses a tampered policy or model, naming the file -------------
c="$tmp/cfg"
mkdir -p "$c"
cp "$root/config/taxonomy.yaml" "$root/config/policy.yaml" "$c/"
cp "$root/models/prompt_attack.dglm" "$c/"
sha="$(sha256sum "$c/prompt_attack.dglm" | cut -d' ' -f1)"
cat >"$c/dualguard.yaml" <<YAML
version: 1
integrity:
  mode: enforce
  trusted_keys: [$tmp/k.pub]
detectors:
  signatures:
    enabled: false
  prompt_attack:
    model: prompt_attack.dglm
    sha256: $sha
    threshold: 0.3
YAML
for f in dualguard.yaml taxonomy.yaml policy.yaml prompt_attack.dglm; do "$dg" sign "$c/$f" --key "$tmp/k" >/dev/null; done
run "$dg" -c "$c/dualguard.yaml" scan "hello"
check "signed config: scan works" test "$rc" -eq 0
run "$dg" config validate "$c/dualguard.yaml"
check "signed config validates" test "$rc" -eq 0
check "  and says what it enforces" grep -qx "  integrity: enforce (trusted keys: $id)" <<<"$out"
printf '\n# edited\n' >>"$c/policy.yaml"
run "$dg" -c "$c/dualguard.yaml" scan "hello"
check "tampered policy: scan refuses (2)" test "$rc" -eq 2
check "  names the policy file" grep -q "$c/policy.yaml: tampered_artifact" <<<"$err"
run "$dg" -c "$c/dualguard.yaml" serve --listen 127.0.0.1:0 --data-dir "$tmp/gw-data"
check "tampered policy: the gateway does not start (2)" test "$rc" -eq 2
check "  names the policy file" grep -q "dualguard serve: $c/policy.yaml: tampered_artifact" <<<"$err"
run "$dg" -c "$c/dualguard.yaml" --set integrity.mode=warn scan "hello"
check "warn mode: loads" test "$rc" -eq 0
check "  and warns on stderr" grep -q 'warning (integrity.mode: warn).*policy.yaml: tampered_artifact' <<<"$err"
"$dg" sign "$c/policy.yaml" --key "$tmp/k" >/dev/null
rm "$c/prompt_attack.dglm.sig"
run "$dg" config validate "$c/dualguard.yaml"
check "model without .sig: validate refuses (2)" test "$rc" -eq 2
check "  names the model" grep -q "$c/prompt_attack.dglm: signature_missing" <<<"$err$out"
"$dg" sign "$c/prompt_attack.dglm" --key "$tmp/other" >/dev/null
run "$dg" -c "$c/dualguard.yaml" scan "hello"
check "model signed by another key: untrusted_key, named" grep -q "$c/prompt_attack.dglm: untrusted_key" <<<"$err"
DUALGUARD_TRUSTED_KEYS="$tmp/other.pub" run "$dg" -c "$c/dualguard.yaml" --set integrity.mode=off scan "hello"
check "env anchor: the config must be signed by it, off is ignored" grep -q "$c/dualguard.yaml: untrusted_key" <<<"$err"

# --- the shipped artifacts ------------------------------------------------------------------------
for a in config/dualguard.yaml config/policy.yaml config/taxonomy.yaml config/signatures models/prompt_attack.dglm; do
  run "$dg" verify "$root/$a" --pub "$root/keys/dev.pub"
  check "shipped $a is signed with the development key" test "$rc" -eq 0
done

for c in "sign" "sign keygen" "verify"; do
  run "$dg" $c --help
  check "--help for $c" test "$rc" -eq 0
done

echo "integrity_cli_test: $fails failure(s)"
exit $((fails > 0))
