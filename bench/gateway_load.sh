#!/usr/bin/env bash
# bench/gateway_load.sh: load benchmark of `dualguard serve` against the local upstream mock, with
# nginx proxy_pass as the no-inspection baseline (issue 4). Results: bench/README.md, section
# "Gateway under load (issue 4)".
#
# What it runs (all on 127.0.0.1, everything in a temp dir, every process it starts killed on exit):
#   upstream   tests/integration/upstream/server.mjs (node), answers "Echo: <prompt>" (~1 KB back);
#              its idle keep-alive timeout raised from 5 s to 1 h (UPSTREAM_KEEPALIVE_MS, see below)
#   nginx      /usr/sbin/nginx, NGINX_WORKERS worker(s) (default 1), proxy_pass to the upstream
#              through an `upstream {}` block with `keepalive 64` (HTTP/1.1, Connection ""),
#              access log off, buffering on (nginx's defaults)
#   dualguard  $BUILD_DIR/dualguard --set gateway.limits.requests_per_minute=0
#              --set gateway.abuse.enabled=false
#              serve --listen 127.0.0.1:0 --upstream <mock> --data-dir <tmp>
#              (rate limit and abuse detection OFF so that the load is not throttled; everything
#              else is config/dualguard.yaml: every detector, the audit log committed per request,
#              I/O threads = one per core)
# and wrk (2 threads, --latency) with bench/wrk/chat.lua and bench/wrk/scan.lua (~1 KB prompts):
#   direct     wrk -> upstream                          /v1/chat/completions, fixed rate
#   nginx      wrk -> nginx -> upstream                 /v1/chat/completions, fixed rate
#   dualguard  wrk -> dualguard -> upstream             /v1/chat/completions, fixed rate
#   scan       wrk -> dualguard /v1/scan, benign prompt,            closed loop (maximum throughput)
#   scan-mix   wrk -> dualguard /v1/scan, 25% injections (blocked, still HTTP 200), closed loop
# Fixed rate: wrk has no rate option; the Lua delay() hook makes each of the CONNECTIONS connections
# wait d = CONNECTIONS/RATE s before each request, so the achieved rate is about RATE * d / (d +
# mean latency): 6-12% below RATE direct and through nginx, 16-21% through dualguard in the runs of
# bench/README.md. The summary reports the achieved rate.
# Per run it also records the CPU time per request of the upstream, nginx and dualguard
# (/proc/PID/stat) and, from the run's audit records (sqlite3, when installed), the gateway's own
# p50/p99 of handler, engine and upstream time.
#
# CPU placement (PIN): the load generator, the upstream, nginx and the gateway all share the
# machine's cores. "unpinned" lets the scheduler place them; "pinned" (taskset, re-applied to every
# thread of the running processes before each run) puts wrk + upstream on core 0 and nginx +
# dualguard on core 1. "both" (default) alternates the two inside every round.
#
# Every configuration runs ROUNDS times, interleaved (round 1: direct, nginx, dualguard, scan,
# scan-mix; round 2: ...); the summary gives medians over rounds, and the added latencies and
# ratios are medians of the per-round (paired, same-minute) differences and ratios. The 1-minute
# load average is recorded before every run.
#
# Knobs (environment):
#   DURATION=20          seconds per fixed-rate run (direct, nginx, dualguard)
#   SCAN_DURATION=10     seconds per /v1/scan run
#   RATE=1000            target requests/s of the fixed-rate runs
#   CONNECTIONS=20       connections of the fixed-rate runs (delay per request = CONNECTIONS/RATE s)
#   SCAN_CONNECTIONS=32  connections of the /v1/scan runs (no delay)
#   THREADS=2            wrk threads
#   ROUNDS=3             interleaved repetitions of every configuration
#   PIN=both             unpinned | pinned | both
#   WARMUP=3             seconds of unmeasured load on each target before the first round
#   NGINX_WORKERS=1      nginx worker_processes
#   GATEWAY_THREADS=0    the gateway's I/O threads (gateway.threads; 0 = one per core)
#   BUILD_DIR=build-load directory of the dualguard binary (relative to the source root, or absolute)
#   CONFIG=config/dualguard.yaml  (passed as DUALGUARD_CONFIG)
#   KEEP=                a directory to copy the raw wrk outputs, results.tsv and logs into
#   UPSTREAM_KEEPALIVE_MS=3600000  idle keep-alive timeout of the upstream mock; "mock" = its own 5 s
#                        (which makes the gateway fail after idle gaps: see the upstream section)
# Defaults take about 9 minutes (3 rounds x 2 placements x (3 x 20 s + 2 x 10 s) + start-up).
#
# Build first (Release, no tests):
#   cmake -S . -B build-load -G Ninja -DCMAKE_BUILD_TYPE=Release -DDG_TESTS=OFF -DDG_BENCH=OFF
#   ninja -C build-load dualguard
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
DURATION=${DURATION:-20}
SCAN_DURATION=${SCAN_DURATION:-10}
RATE=${RATE:-1000}
CONNECTIONS=${CONNECTIONS:-20}
SCAN_CONNECTIONS=${SCAN_CONNECTIONS:-32}
THREADS=${THREADS:-2}
ROUNDS=${ROUNDS:-3}
PIN=${PIN:-both}
WARMUP=${WARMUP:-3}
NGINX_WORKERS=${NGINX_WORKERS:-1}
GATEWAY_THREADS=${GATEWAY_THREADS:-0}
BUILD_DIR=${BUILD_DIR:-build-load}
CONFIG=${CONFIG:-config/dualguard.yaml}
KEEP=${KEEP:-}
NGINX=${NGINX:-/usr/sbin/nginx}
UPSTREAM_KEEPALIVE_MS=${UPSTREAM_KEEPALIVE_MS:-3600000}

case $BUILD_DIR in /*) ;; *) BUILD_DIR=$ROOT/$BUILD_DIR ;; esac
case $CONFIG in /*) ;; *) CONFIG=$ROOT/$CONFIG ;; esac
case $KEEP in ""|/*) ;; *) KEEP=$PWD/$KEEP ;; esac
DG=$BUILD_DIR/dualguard
UPSTREAM_JS=$ROOT/tests/integration/upstream/server.mjs
WRK_DIR=$ROOT/bench/wrk

die() { echo "gateway_load: $*" >&2; exit 1; }
[[ -x $DG ]] || die "no $DG (build it: see the top of this script)"
command -v wrk >/dev/null || die "wrk not found (apt-get install wrk)"
command -v node >/dev/null || die "node not found"
[[ -x $NGINX ]] || die "no $NGINX (apt-get install nginx-light)"
[[ -f $UPSTREAM_JS ]] || die "no $UPSTREAM_JS"
case $PIN in unpinned) MODES=(unpinned) ;; pinned) MODES=(pinned) ;; both) MODES=(unpinned pinned) ;;
  *) die "PIN must be unpinned, pinned or both" ;; esac
NCPU=$(nproc)
if [[ $NCPU -lt 2 && $PIN != unpinned ]]; then
  echo "gateway_load: $NCPU CPU: pinning needs 2, running unpinned only" >&2
  MODES=(unpinned)
fi
ALL_CPUS="0-$((NCPU - 1))"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/dg-load.XXXXXX")
cd "$TMP"   # every path used below is absolute; nothing is written to the source tree
PIDS=()       # every long-running process started here
WRK_PID=""
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  [[ -n $WRK_PID ]] && kill "$WRK_PID" 2>/dev/null || true
  local p
  for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${PIDS[@]}"; do
    for _ in $(seq 50); do kill -0 "$p" 2>/dev/null || break; sleep 0.2; done   # <= 10 s each
    kill -9 "$p" 2>/dev/null || true
  done
  if [[ -n $KEEP ]]; then
    mkdir -p "$KEEP" && cp -r "$TMP"/wrk "$TMP"/results.tsv "$TMP"/*.log "$TMP"/nginx.conf "$KEEP"/ 2>/dev/null || true
  fi
  rm -rf "$TMP"
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Waits (<= 30 s) for a line matching $2 in file $1 and prints the port of "http://127.0.0.1:PORT".
wait_port() {
  local file=$1 pattern=$2 pid=$3
  for _ in $(seq 300); do
    if grep -q "$pattern" "$file" 2>/dev/null; then
      grep "$pattern" "$file" | head -1 | sed -n 's/.*http:\/\/127\.0\.0\.1:\([0-9][0-9]*\).*/\1/p'
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || { cat "$file" >&2; die "process $pid exited before it was ready"; }
    sleep 0.1
  done
  die "timed out waiting for '$pattern' in $file"
}

free_port() {
  node -e 'const s=require("net").createServer();s.listen(0,"127.0.0.1",()=>{console.log(s.address().port);s.close()})'
}

loadavg() { cut -d' ' -f1 /proc/loadavg; }

echo "gateway_load: $(nproc) CPU, load average $(cut -d' ' -f1-3 /proc/loadavg), temp dir $TMP"
echo "gateway_load: $DG ($(stat -c %y "$DG" | cut -d. -f1))"

# ---- upstream mock ----------------------------------------------------------------------------------
# The mock closes idle keep-alive connections after 5 s (server.keepAliveTimeout). The gateway's
# upstream pool reuses such closed connections and its stale-connection retry takes the next idle
# (also closed) one, so after any idle gap > 5 s its proxied requests fail with 502 upstream_error
# and the circuit breaker opens (see bench/README.md, "Gateway under load"). Between the gateway's
# runs its pool idles for 40+ s, so by default the mock is started with a longer keep-alive timeout
# (the same Upstream class, only that property changed). UPSTREAM_KEEPALIVE_MS=mock runs server.mjs
# unchanged.
if [[ $UPSTREAM_KEEPALIVE_MS == mock ]]; then
  node "$UPSTREAM_JS" --port 0 >"$TMP/upstream.log" 2>&1 &
else
  node --input-type=module -e "
    import { Upstream } from '$(printf 'file://%s' "$UPSTREAM_JS")';
    const u = new Upstream();
    u.server.keepAliveTimeout = $UPSTREAM_KEEPALIVE_MS;
    const port = await u.listen(0);
    process.stdout.write('upstream: listening on http://127.0.0.1:' + port + ' (keepAliveTimeout $UPSTREAM_KEEPALIVE_MS ms)\\n');
    const stop = async () => { await u.close(); process.exit(0); };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  " >"$TMP/upstream.log" 2>&1 &
fi
UP_PID=$!; PIDS+=("$UP_PID")
UP_PORT=$(wait_port "$TMP/upstream.log" "upstream: listening" "$UP_PID")
UP=http://127.0.0.1:$UP_PORT

# ---- dualguard --------------------------------------------------------------------------------------
mkdir -p "$TMP/data"
export DUALGUARD_CONFIG=$CONFIG   # the global --config, as an environment variable
"$DG" keys create --role client --name load --data-dir "$TMP/data" >"$TMP/key.out" 2>"$TMP/keys.log" \
  || { cat "$TMP/keys.log" >&2; die "keys create failed"; }
KEY=$(tail -n 1 "$TMP/key.out")
[[ $KEY == dg_* ]] || die "unexpected key line: $KEY"
# --set is a global option: it goes before the subcommand.
"$DG" --set gateway.limits.requests_per_minute=0 --set gateway.abuse.enabled=false \
  --set gateway.threads="$GATEWAY_THREADS" serve --listen 127.0.0.1:0 --upstream "$UP" --data-dir "$TMP/data" \
  >"$TMP/dualguard.log" 2>"$TMP/dualguard.err.log" &
DG_PID=$!; PIDS+=("$DG_PID")
DG_PORT=$(wait_port "$TMP/dualguard.log" "dualguard: listening" "$DG_PID")
DGURL=http://127.0.0.1:$DG_PORT

# ---- nginx ------------------------------------------------------------------------------------------
NG_PORT=$(free_port)
mkdir -p "$TMP/nginx"
cat >"$TMP/nginx.conf" <<EOF
worker_processes $NGINX_WORKERS;
daemon off;
pid $TMP/nginx/nginx.pid;
error_log $TMP/nginx-error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_body_temp_path $TMP/nginx/body;
  proxy_temp_path $TMP/nginx/proxy;
  fastcgi_temp_path $TMP/nginx/fastcgi;
  uwsgi_temp_path $TMP/nginx/uwsgi;
  scgi_temp_path $TMP/nginx/scgi;
  upstream mock {
    server 127.0.0.1:$UP_PORT;
    keepalive 64;
  }
  server {
    listen 127.0.0.1:$NG_PORT;
    location / {
      proxy_pass http://mock;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
    }
  }
}
EOF
"$NGINX" -p "$TMP/nginx" -e "$TMP/nginx-error.log" -c "$TMP/nginx.conf" >"$TMP/nginx.log" 2>&1 &
NG_PID=$!; PIDS+=("$NG_PID")
for _ in $(seq 100); do
  curl -s -o /dev/null "http://127.0.0.1:$NG_PORT/v1/models" && break
  kill -0 "$NG_PID" 2>/dev/null || { cat "$TMP/nginx.log" "$TMP/nginx-error.log" >&2; die "nginx exited"; }
  sleep 0.1
done
NGURL=http://127.0.0.1:$NG_PORT

echo "gateway_load: upstream $UP (pid $UP_PID), nginx $NGURL (pid $NG_PID, $NGINX_WORKERS worker), dualguard $DGURL (pid $DG_PID)"

# ---- placement --------------------------------------------------------------------------------------
# taskset -a re-pins every thread of a running process (threads created later inherit it).
pin() {  # pin CPUS PID...
  local cpus=$1 p; shift
  for p in "$@"; do taskset -a -p -c "$cpus" "$p" >/dev/null 2>&1 || true; done
}
nginx_pids() { echo "$NG_PID" $(ps -o pid= --ppid "$NG_PID" 2>/dev/null); }
place() {
  case $1 in
    unpinned) pin "$ALL_CPUS" "$UP_PID" "$DG_PID" $(nginx_pids); WRK_CPUS=$ALL_CPUS ;;
    pinned)   pin 0 "$UP_PID"; pin 1 "$DG_PID" $(nginx_pids); WRK_CPUS=0 ;;
  esac
}

# ---- wrk --------------------------------------------------------------------------------------------
mkdir -p "$TMP/wrk"
DELAY_MS=$(awk -v c="$CONNECTIONS" -v r="$RATE" 'BEGIN { printf "%.4f", 1000 * c / r }')

# run_wrk OUT SECONDS CONNECTIONS DELAY_MS MIX SCRIPT URL [extra env...]
run_wrk() {
  local out=$1 secs=$2 conns=$3 delay=$4 mix=$5 script=$6 url=$7; shift 7
  env DG_KEY="$KEY" DG_DELAY_MS="$delay" DG_MIX="$mix" "$@" \
    timeout $((secs + 30)) taskset -c "$WRK_CPUS" \
    wrk -t "$THREADS" -c "$conns" -d "${secs}s" --timeout 10s --latency -s "$WRK_DIR/$script" "$url" >"$out" 2>&1 &
  WRK_PID=$!
  wait "$WRK_PID" || { WRK_PID=""; cat "$out" >&2; die "wrk failed ($url)"; }
  WRK_PID=""
}

# parse OUT -> "rps p50 p90 p99 non2xx sockerr requests" (latencies in µs)
parse() {
  awk '
    function us(v) {
      if (v ~ /us$/) return v + 0
      if (v ~ /ms$/) return (substr(v, 1, length(v) - 2) + 0) * 1000
      if (v ~ /m$/)  return (substr(v, 1, length(v) - 1) + 0) * 60e6
      if (v ~ /s$/)  return (substr(v, 1, length(v) - 1) + 0) * 1e6
      return v + 0
    }
    /^ +50% / { p50 = us($2) } /^ +90% / { p90 = us($2) } /^ +99% / { p99 = us($2) }
    /^Requests\/sec:/ { rps = $2 }
    /Non-2xx or 3xx responses:/ { non2xx = $NF }
    /Socket errors:/ { gsub(",", ""); err = $4 + $6 + $8 + $10 }
    / requests in / { reqs = $1 }
    END { printf "%.1f %.0f %.0f %.0f %d %d %d\n", rps, p50, p90, p99, non2xx, err, reqs }
  ' "$1"
}

# ---- preflight: every target answers as expected ----------------------------------------------------
WRK_CPUS=$ALL_CPUS
check() {  # check NAME SCRIPT URL MIX EXPECTED_REGEX
  local name=$1 script=$2 url=$3 mix=$4 want=$5 t
  run_wrk "$TMP/wrk/preflight-$name.txt" 1 2 0 "$mix" "$script" "$url" DG_TALLY=1
  t=$(grep '^tally:' "$TMP/wrk/preflight-$name.txt" || true)
  echo "gateway_load: preflight $name: ${t#tally: }"
  [[ $t =~ $want ]] || die "preflight $name: expected $want"
}
check direct chat.lua "$UP/v1/chat/completions" benign '^tally: 200/-=[0-9]+$'
check nginx chat.lua "$NGURL/v1/chat/completions" benign '^tally: 200/-=[0-9]+$'
check dualguard chat.lua "$DGURL/v1/chat/completions" benign '^tally: 200/allow=[0-9]+$'
check scan scan.lua "$DGURL/v1/scan" benign '^tally: 200/allow=[0-9]+$'
check scan-mix scan.lua "$DGURL/v1/scan" inject '^tally: 200/allow=[0-9]+ 200/block=[0-9]+$'

if [[ $WARMUP -gt 0 ]]; then
  for u in "$UP" "$NGURL" "$DGURL"; do
    run_wrk "$TMP/wrk/warmup.txt" "$WARMUP" "$CONNECTIONS" "$DELAY_MS" benign chat.lua "$u/v1/chat/completions"
  done
  run_wrk "$TMP/wrk/warmup.txt" "$WARMUP" "$SCAN_CONNECTIONS" 0 inject scan.lua "$DGURL/v1/scan"
fi

# ---- measured runs ----------------------------------------------------------------------------------
# CPU time (user + system, all threads) of a set of processes, in clock ticks.
cpu_ticks() { local p t=0 v; for p in "$@"; do v=$(awk '{ print $14 + $15 }' "/proc/$p/stat" 2>/dev/null || echo 0); t=$((t + v)); done; echo "$t"; }
HZ=$(getconf CLK_TCK)
AUDIT_DB=$TMP/data/audit.db
HAVE_SQLITE=0; command -v sqlite3 >/dev/null && HAVE_SQLITE=1
audit_seq() { [[ $HAVE_SQLITE == 1 ]] && sqlite3 -readonly -cmd ".timeout 5000" "$AUDIT_DB" 'SELECT coalesce(max(seq), 0) FROM audit' 2>/dev/null || echo 0; }
# Gateway-side times of the records (from, to] of route $3 answered 200, µs:
# "total_p50 total_p99 engine_p50 engine_p99 upstream_p50 upstream_p99" (total = request read to answer
# ready, before the audit commit; engine = all scans of the request; upstream = to its last byte).
audit_times() {
  [[ $HAVE_SQLITE == 1 ]] || { echo "- - - - - -"; return; }
  local q="" col pct
  for col in latency_total_us latency_engine_us latency_upstream_us; do
    for pct in 50 99; do
      q+="${q:+, }(SELECT $col FROM r ORDER BY $col LIMIT 1 OFFSET (SELECT c * $pct / 100 FROM n))"
    done
  done
  sqlite3 -readonly -cmd ".timeout 5000" -separator ' ' "$AUDIT_DB" \
    "WITH r AS (SELECT latency_total_us, latency_engine_us, latency_upstream_us FROM audit
                WHERE seq > $1 AND seq <= $2 AND route = '$3' AND http_status = 200),
          n AS (SELECT count(*) AS c FROM r)
     SELECT $q" 2>/dev/null || echo "- - - - - -"
}

RES=$TMP/results.tsv
printf 'mode\tround\tconfig\tload1\trps\tp50_us\tp90_us\tp99_us\tnon2xx\tsockerr\trequests\tcpu_us_per_req_upstream\tcpu_us_per_req_nginx\tcpu_us_per_req_dualguard\tgw_total_p50\tgw_total_p99\tgw_engine_p50\tgw_engine_p99\tgw_upstream_p50\tgw_upstream_p99\n' >"$RES"
echo "gateway_load: fixed rate $RATE/s = $CONNECTIONS connections x ${DELAY_MS} ms delay, ${DURATION}s; /v1/scan $SCAN_CONNECTIONS connections, ${SCAN_DURATION}s; $THREADS wrk threads; $ROUNDS rounds; placement: ${MODES[*]}"
for round in $(seq "$ROUNDS"); do
  for mode in "${MODES[@]}"; do
    place "$mode"
    for cfg in direct nginx dualguard scan scan-mix; do
      route=/v1/chat/completions
      case $cfg in
        direct)    args=("$DURATION" "$CONNECTIONS" "$DELAY_MS" benign chat.lua "$UP/v1/chat/completions") ;;
        nginx)     args=("$DURATION" "$CONNECTIONS" "$DELAY_MS" benign chat.lua "$NGURL/v1/chat/completions") ;;
        dualguard) args=("$DURATION" "$CONNECTIONS" "$DELAY_MS" benign chat.lua "$DGURL/v1/chat/completions") ;;
        scan)      args=("$SCAN_DURATION" "$SCAN_CONNECTIONS" 0 benign scan.lua "$DGURL/v1/scan"); route=/v1/scan ;;
        scan-mix)  args=("$SCAN_DURATION" "$SCAN_CONNECTIONS" 0 inject scan.lua "$DGURL/v1/scan"); route=/v1/scan ;;
      esac
      l=$(loadavg)
      out=$TMP/wrk/$mode-$round-$cfg.txt
      seq0=$(audit_seq)
      # shellcheck disable=SC2046
      c_up0=$(cpu_ticks "$UP_PID"); c_ng0=$(cpu_ticks $(nginx_pids)); c_dg0=$(cpu_ticks "$DG_PID")
      run_wrk "$out" "${args[@]}"
      # shellcheck disable=SC2046
      c_up1=$(cpu_ticks "$UP_PID"); c_ng1=$(cpu_ticks $(nginx_pids)); c_dg1=$(cpu_ticks "$DG_PID")
      seq1=$(audit_seq)
      read -r rps p50 p90 p99 non2xx err reqs < <(parse "$out")
      per() { awk -v d="$1" -v n="$reqs" -v hz="$HZ" 'BEGIN { printf "%.0f", (n > 0 ? d * 1e6 / hz / n : 0) }'; }
      cu=$(per $((c_up1 - c_up0))); cn=$(per $((c_ng1 - c_ng0))); cg=$(per $((c_dg1 - c_dg0)))
      if [[ $cfg == direct || $cfg == nginx ]]; then gw="- - - - - -"; else gw=$(audit_times "$seq0" "$seq1" "$route"); fi
      printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$mode" "$round" "$cfg" "$l" "$rps" "$p50" "$p90" "$p99" \
        "$non2xx" "$err" "$reqs" "$cu" "$cn" "$cg" "$(tr ' ' '\t' <<<"$gw")" >>"$RES"
      printf 'gateway_load: round %s %-8s %-9s load %5s  %8s req/s  p50 %6s  p90 %6s  p99 %7s us  non-2xx %s  socket errors %s  cpu/req us: upstream %s nginx %s dualguard %s\n' \
        "$round" "$mode" "$cfg" "$l" "$rps" "$p50" "$p90" "$p99" "$non2xx" "$err" "$cu" "$cn" "$cg"
    done
  done
done

# ---- summary ----------------------------------------------------------------------------------------
echo
echo "== summary: medians over $ROUNDS interleaved rounds (latency in ms; added = median of paired per-round differences; load average $(awk -F'\t' 'NR > 1 { if (min == "" || $4 < min) min = $4; if ($4 > max) max = $4 } END { print min "-" max }' "$RES") during the runs)"
awk -F'\t' -v rate="$RATE" -v conns="$CONNECTIONS" -v sconns="$SCAN_CONNECTIONS" '
  function median(list,   a, n, i, j, t) {
    n = split(list, a, " ")
    if (n == 0) return "nan"
    for (i = 2; i <= n; i++) { t = a[i] + 0; for (j = i - 1; j >= 1 && a[j] + 0 > t; j--) a[j + 1] = a[j]; a[j + 1] = t }
    return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
  }
  function ms(list,   v) { v = median(list); return v == "nan" ? sprintf("%8s", "-") : sprintf("%8.3f", v / 1000) }
  function x(list, f,   v) { v = median(list); return v == "nan" ? sprintf("%8s", "n/a") : sprintf(f, v) }
  function add(k, v) { if (v != "-" && v != "") L[k] = (k in L) ? L[k] " " v : v }
  NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
  {
    m = $1; r = $2; c = $3
    modes[m] = 1
    for (name in col) add(m SUBSEP c SUBSEP name, $col[name])
    bad[m SUBSEP c] += $9 + $10
    for (q = 6; q <= 8; q++) V[m, r, c, q] = $q
    rounds[m, r] = 1
  }
  END {
    nm = split("unpinned pinned", M, " ")
    for (mi = 1; mi <= nm; mi++) {
      m = M[mi]; if (!(m in modes)) continue
      printf "\n[%s] fixed rate, target %d req/s (%d connections), /v1/chat/completions, ~1 KB prompt\n", m, rate, conns
      printf "  %-30s %7s %8s %8s %8s %7s   %s\n", "config", "req/s", "p50", "p90", "p99", "errors", "CPU us/req: upstream nginx dualguard"
      n = split("direct nginx dualguard", C, " ")
      for (i = 1; i <= n; i++) {
        c = C[i]; k = m SUBSEP c SUBSEP
        printf "  %-30s %7.0f %s %s %s %7d   %8.0f %6.0f %9.0f\n", c, median(L[k "rps"]), ms(L[k "p50_us"]), ms(L[k "p90_us"]), \
          ms(L[k "p99_us"]), bad[m, c], median(L[k "cpu_us_per_req_upstream"]), median(L[k "cpu_us_per_req_nginx"]), \
          median(L[k "cpu_us_per_req_dualguard"])
      }
      for (k = 6; k <= 8; k++) { dn[k] = ""; dd[k] = ""; dg[k] = ""; rl[k] = ""; ra[k] = "" }
      for (key in rounds) {
        split(key, kk, SUBSEP); if (kk[1] != m) continue; r = kk[2]
        for (k = 6; k <= 8; k++) {
          d = V[m, r, "direct", k]; xn = V[m, r, "nginx", k]; g = V[m, r, "dualguard", k]
          dn[k] = dn[k] " " (xn - d); dd[k] = dd[k] " " (g - d); dg[k] = dg[k] " " (g - xn)
          if (xn > 0) rl[k] = rl[k] " " (g / xn)
          if (xn - d > 0) ra[k] = ra[k] " " ((g - d) / (xn - d))
        }
      }
      printf "  %-30s %7s %s %s %s\n", "added by nginx (vs direct)", "", ms(dn[6]), ms(dn[7]), ms(dn[8])
      printf "  %-30s %7s %s %s %s\n", "added by dualguard (vs direct)", "", ms(dd[6]), ms(dd[7]), ms(dd[8])
      printf "  %-30s %7s %s %s %s\n", "dualguard - nginx", "", ms(dg[6]), ms(dg[7]), ms(dg[8])
      printf "  %-30s %7s %s %s %s\n", "latency dualguard / nginx", "", x(rl[6], "%7.2fx"), x(rl[7], "%7.2fx"), x(rl[8], "%7.2fx")
      printf "  %-30s %7s %s %s %s   (rounds where nginx added > 0)\n", "added: dualguard / nginx", "", x(ra[6], "%7.1fx"), x(ra[7], "%7.1fx"), x(ra[8], "%7.1fx")
      k = m SUBSEP "dualguard" SUBSEP
      printf "  inside dualguard (audit log, p50 / p99 ms): handler total %s /%s, engine %s /%s, upstream %s /%s\n", \
        ms(L[k "gw_total_p50"]), ms(L[k "gw_total_p99"]), ms(L[k "gw_engine_p50"]), ms(L[k "gw_engine_p99"]), \
        ms(L[k "gw_upstream_p50"]), ms(L[k "gw_upstream_p99"])
      printf "[%s] /v1/scan, closed loop (no delay), %d connections, ~1 KB prompt\n", m, sconns
      printf "  %-30s %7s %8s %8s %8s %7s   %s\n", "prompts", "req/s", "p50", "p90", "p99", "non-200", "CPU us/req   handler p50/p99 ms   engine p50/p99 ms"
      n = split("scan scan-mix", C, " ")
      for (i = 1; i <= n; i++) {
        c = C[i]; k = m SUBSEP c SUBSEP
        printf "  %-30s %7.0f %s %s %s %7d   %10.0f   %s /%s   %s /%s\n", (c == "scan" ? "benign" : "25% injections"), median(L[k "rps"]), \
          ms(L[k "p50_us"]), ms(L[k "p90_us"]), ms(L[k "p99_us"]), bad[m, c], median(L[k "cpu_us_per_req_dualguard"]), \
          ms(L[k "gw_total_p50"]), ms(L[k "gw_total_p99"]), ms(L[k "gw_engine_p50"]), ms(L[k "gw_engine_p99"])
      }
    }
  }
' "$RES"
echo
echo "raw rows (tab-separated):"
cat "$RES"
