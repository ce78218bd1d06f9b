#!/usr/bin/env bash
# `dualguard keys` and `dualguard audit` on the built binary: output contract (the key alone on the
# last line), exit codes, JSON, and `audit verify` on a real log before and after tampering with it
# through the sqlite3 CLI (those steps skip when sqlite3 is not installed).
# Usage: store_cli_test.sh path/to/dualguard [path/to/make_audit_fixture]   (run from ctest)
set -uo pipefail
dg="$1"
fixture="${2:-$(dirname "$dg")/tests/make_audit_fixture}"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
fails=0
ok() { echo "ok   $1"; }
bad() { echo "FAIL $1"; fails=$((fails + 1)); }
check() {  # check NAME COMMAND... : passes when the command succeeds
  local name="$1"; shift
  if "$@"; then ok "$name"; else bad "$name"; fi
}
run() {  # run: sets $out, $err and $rc; every command is bounded
  out="$(timeout 60 "$@" 2>"$tmp/stderr")"; rc=$?
  err="$(cat "$tmp/stderr")"
}
has_jq=1; command -v jq >/dev/null || { has_jq=0; echo "skip JSON checks: jq is not installed"; }
has_sqlite=1; command -v sqlite3 >/dev/null || { has_sqlite=0; echo "skip tampering checks: sqlite3 is not installed"; }

d="$tmp/data"

# --- keys ---------------------------------------------------------------------------------------
run "$dg" keys create --role client --name my-app --data-dir "$d" --requests-per-minute 60 --max-body-bytes 65536
check "create exits 0" test "$rc" -eq 0
key="$(tail -n 1 <<<"$out")"
id="$(sed -n 's/^id: *//p' <<<"$out")"
check "the key alone on the last line" grep -Eqx 'dg_[0-9a-f]{12}_[A-Za-z0-9_-]{43}' <<<"$key"
check "id printed and part of the key" test -n "$id" -a "${key:3:12}" = "$id"
check "role printed" grep -q '^role: *client$' <<<"$out"
check "limits printed" grep -q 'requests_per_minute=60 .*max_body_bytes=65536' <<<"$out"
check "shown-once warning" grep -qi 'shown once' <<<"$out"
check "the key appears once" test "$(grep -c -- "$key" <<<"$out")" -eq 1
check "data dir is owner-only" test "$(stat -c %a "$d")" = 700
check "keys.db is owner-only" test "$(stat -c %a "$d/keys.db")" = 600

run "$dg" keys create --role operator --name ops --data-dir "$d"
check "second key" test "$rc" -eq 0
id2="$(sed -n 's/^id: *//p' <<<"$out")"
key2="$(tail -n 1 <<<"$out")"
check "distinct keys" test "$key" != "$key2"

run "$dg" keys create --role root --name x --data-dir "$d"
check "unknown role is usage (2)" test "$rc" -eq 2
run "$dg" keys create --role client --data-dir "$d"
check "missing --name is usage (2)" test "$rc" -eq 2
run "$dg" keys create --role client --name x --concurrent 0 --data-dir "$d"
check "non-positive limit is usage (2)" test "$rc" -eq 2
check "  with its code" grep -q 'invalid_key_spec' <<<"$err"

run "$dg" keys list --data-dir "$d"
check "list exits 0" test "$rc" -eq 0
check "list shows both ids" test "$(grep -cE "^($id|$id2) " <<<"$out")" -eq 2
check "list never shows a key" test "$(grep -c -e "${key:16}" -e "${key2:16}" <<<"$out")" -eq 0
if (( has_jq )); then
  run "$dg" keys list --data-dir "$d" --format json
  check "json list has 2 keys" test "$(jq length <<<"$out")" -eq 2
  check "json limits (null = default)" test "$(jq -c "map(select(.id==\"$id\"))[0].limits" <<<"$out")" = \
    '{"requests_per_minute":60,"tokens_per_day":null,"concurrent":null,"max_body_bytes":65536}'
fi

run "$dg" keys revoke "$id" --data-dir "$d"
check "revoke exits 0" test "$rc" -eq 0
run "$dg" keys revoke "$id" --data-dir "$d"
check "revoking again is fine" test "$rc" -eq 0 -a -n "$(grep -i 'already' <<<"$out")"
run "$dg" keys revoke 0123456789ab --data-dir "$d"
check "unknown id exits 1" test "$rc" -eq 1
check "  with unknown_key_id" grep -q 'unknown_key_id' <<<"$err"
if (( has_jq )); then
  run "$dg" keys list --data-dir "$d" --format json
  check "list shows the revocation" test "$(jq -r "map(select(.id==\"$id\"))[0].revoked" <<<"$out")" = true
fi

run "$dg" keys list --data-dir "$tmp/empty"
check "list of a missing store exits 3" test "$rc" -eq 3
check "  and creates nothing" test ! -e "$tmp/empty"
run "$dg" keys revoke "$id" --data-dir "$tmp/empty"
check "revoke in a missing store exits 3" test "$rc" -eq 3

# --- audit --------------------------------------------------------------------------------------
run "$dg" audit verify --data-dir "$tmp/empty"
check "verify of a missing log exits 3" test "$rc" -eq 3
check "  and creates nothing" test ! -e "$tmp/empty"

make_log() {  # make_log DIR N : prints "SEQ HASH"
  timeout 60 "$fixture" "$1" "$2"
}
read -r last_seq last_hash < <(make_log "$d" 25)
check "fixture wrote 25 records" test "$last_seq" = 25
run "$dg" audit verify --data-dir "$d"
check "intact log verifies (0)" test "$rc" -eq 0
check "  records checked" grep -q '25 records' <<<"$out"
check "  last hash printed" grep -q "last hash: *$last_hash" <<<"$out"
run "$dg" audit verify --data-dir "$d" --anchor "25:$last_hash"
check "anchor matches (0)" test "$rc" -eq 0
run "$dg" audit verify --data-dir "$d" --anchor "nonsense"
check "bad anchor is usage (2)" test "$rc" -eq 2
if (( has_jq )); then
  run "$dg" audit verify --data-dir "$d" --format json
  check "json verify ok" test "$(jq -c '[.ok,.records_checked,.last_hash]' <<<"$out")" = "[true,25,\"$last_hash\"]"
fi

run "$dg" audit export --data-dir "$d"
check "export exits 0" test "$rc" -eq 0
check "one line per record" test "$(wc -l <<<"$out")" -eq 25
printf '%s\n' "$out" >"$tmp/stdout.jsonl"
run "$dg" audit export --data-dir "$d" --out "$tmp/export.jsonl"
check "--out writes the same JSONL" cmp -s "$tmp/export.jsonl" "$tmp/stdout.jsonl"
run "$dg" audit export --data-dir "$d" --out "$tmp/no/such/dir/x.jsonl"
check "unwritable --out exits 3" test "$rc" -eq 3
if (( has_jq )); then
  check "lines in seq order" test "$(jq -r .seq "$tmp/export.jsonl" | tr '\n' ' ')" = "$(seq 1 25 | tr '\n' ' ')"
  # Independent re-check of a record: its canonical JSON without "hash" (jq -cS sorts keys, compact)
  line="$(sed -n 7p "$tmp/export.jsonl")"
  want="$(jq -r .hash <<<"$line")"
  got="$(jq -cS 'del(.hash)' <<<"$line" | tr -d '\n' | sha256sum | cut -d' ' -f1)"
  check "export re-hashes with jq + sha256sum" test "$got" = "$want"
fi

# --- tampering with the sqlite3 CLI ---------------------------------------------------------------
if (( has_sqlite )); then
  tamper() {  # tamper DIR SQL
    sqlite3 "$1/audit.db" "DROP TRIGGER IF EXISTS audit_no_update; DROP TRIGGER IF EXISTS audit_no_delete; $2"
  }
  sqlite3 "$d/audit.db" "UPDATE audit SET route = 'x' WHERE seq = 3" 2>/dev/null
  check "the database refuses UPDATE" test $? -ne 0

  t="$tmp/edit"; make_log "$t" 12 >/dev/null
  tamper "$t" "UPDATE audit SET action = 'allow', http_status = 200 WHERE seq = 6"
  run "$dg" audit verify --data-dir "$t"
  check "edited record: exit 1" test "$rc" -eq 1
  check "  names record 6" grep -q 'record 6' <<<"$out"
  check "  with audit_chain_broken" grep -q 'audit_chain_broken' <<<"$out"

  t="$tmp/delete"; make_log "$t" 12 >/dev/null
  tamper "$t" "DELETE FROM audit WHERE seq = 5"
  run "$dg" audit verify --data-dir "$t"
  check "deleted record: exit 1, names record 5" test "$rc" -eq 1 -a -n "$(grep 'record 5' <<<"$out")"

  t="$tmp/swap"; make_log "$t" 12 >/dev/null
  tamper "$t" "UPDATE audit SET seq = -1 WHERE seq = 8; UPDATE audit SET seq = 8 WHERE seq = 9; UPDATE audit SET seq = 9 WHERE seq = -1"
  run "$dg" audit verify --data-dir "$t"
  check "swapped records: exit 1, names record 8" test "$rc" -eq 1 -a -n "$(grep 'record 8' <<<"$out")"

  t="$tmp/truncate"; read -r _ anchor_hash < <(make_log "$t" 12)
  tamper "$t" "DELETE FROM audit WHERE seq > 10"
  run "$dg" audit verify --data-dir "$t"
  check "truncated tail passes without an anchor (documented)" test "$rc" -eq 0
  run "$dg" audit verify --data-dir "$t" --anchor "12:$anchor_hash"
  check "truncated tail fails against the anchor" test "$rc" -eq 1

  t="$tmp/schema"; make_log "$t" 2 >/dev/null
  sqlite3 "$t/audit.db" "UPDATE schema_version SET version = 42"
  run "$dg" audit verify --data-dir "$t"
  check "unknown schema version exits 3" test "$rc" -eq 3
  check "  with store_schema" grep -q 'store_schema' <<<"$err"
fi

echo "$fails failure(s)"
exit $(( fails > 0 ))
