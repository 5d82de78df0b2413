#!/usr/bin/env bash
# bench/profile.sh - where does a request through sluice spend its time?
#
# Same set-up as bench/run.sh (the C mock upstream of ../shared/bench-peers on CPU 0,
# sluice with an `openai` provider pointing at it on CPU 1, logging.level warn, wrk on
# CPU 0), then for each connection count:
#   1. perf record -e cpu-clock -g of the sluice process while wrk runs (software clock
#      event: works on VMs without hardware counters) -> categories + top symbols
#      (bench/perf_categories.py);
#   2. strace -c of sluice during a short 1-connection run -> syscalls per request,
#      and the same for an nginx worker (the one-hop reference) when nginx exists.
# Without a usable perf, falls back to valgrind --tool=callgrind for a bounded run.
#
#   bench/profile.sh --sluice build-prof/src/sluice [--conns "1 64"] [--duration 10] [--out DIR]
#
# Call graphs need frame pointers; build a profiling binary in its own build dir:
#   cmake -S . -B build-prof -DCMAKE_BUILD_TYPE=Release -DSLUICE_TESTS=OFF \
#     -DCMAKE_CXX_FLAGS="-g -fno-omit-frame-pointer -mno-omit-leaf-frame-pointer"
#   cmake --build build-prof -j2
set -uo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/bench"
PEERS=${BENCH_PEERS:-$ROOT/../shared/bench-peers}
SLUICE_BIN="build/src/sluice"; CONNS="1 64"; DURATION=10; OUT=""; STRACE_S=3

die() { echo "bench/profile.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --sluice) SLUICE_BIN=$2; shift 2;;
    --conns) CONNS=$2; shift 2;;
    --duration) DURATION=$2; shift 2;;
    --out) OUT=$2; shift 2;;
    -h|--help) sed -n '2,21p' "$0"; exit 0;;
    *) die "unknown option '$1'";;
  esac
done
[[ "$DURATION" =~ ^[0-9]+$ ]] && [ "$DURATION" -ge 1 ] && [ "$DURATION" -le 60 ] || die "--duration must be 1..60"
[[ "$SLUICE_BIN" == /* ]] || SLUICE_BIN="$ROOT/$SLUICE_BIN"
[ -x "$SLUICE_BIN" ] || die "no sluice binary at $SLUICE_BIN"
for t in wrk gcc taskset python3 curl; do command -v $t >/dev/null || die "$t is required (bench/run.sh installs wrk/gcc)"; done
PERF_OK=0; command -v perf >/dev/null && perf stat -e cpu-clock true >/dev/null 2>&1 && PERF_OK=1
if [ $PERF_OK = 0 ] && ! command -v valgrind >/dev/null; then die "neither a working perf (linux-perf) nor valgrind"; fi

WORK=${OUT:-$(mktemp -d /tmp/sluice-profile.XXXXXX)}; mkdir -p "$WORK"
STARTED=()
cleanup() {
  local i; for ((i=${#STARTED[@]}-1; i>=0; i--)); do kill -TERM "${STARTED[$i]}" 2>/dev/null; done
  sleep 0.5; for p in "${STARTED[@]}"; do kill -0 "$p" 2>/dev/null && kill -KILL "$p" 2>/dev/null; done; wait 2>/dev/null
}
trap cleanup EXIT
trap 'exit 130' INT TERM
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_http() { for _ in $(seq 1 100); do curl -s -o /dev/null --max-time 1 "$1" && return 0; sleep 0.1; done; return 1; }
wrk_run() {  # URL CONNS SECONDS OUT
  timeout $(($3 + 20)) taskset -c 0 wrk -t1 -c"$2" -d"$3s" --timeout 10s -s "$BENCH/chat.lua" "$1/v1/chat/completions" >"$4" 2>&1; }
wrk_reqs() { grep -a '^WRKJSON ' "$1" | sed 's/.*"requests":\([0-9]*\).*/\1/'; }

gcc -O2 -w -o "$WORK/mock-upstream" "$PEERS/mock/mock-upstream.c" -lm || die "cannot build the mock"
MOCK_PORT=$(free_port)
( exec taskset -c 0 "$WORK/mock-upstream" -p "$MOCK_PORT" ) >"$WORK/mock.log" 2>&1 & STARTED+=($!)
wait_http "http://127.0.0.1:$MOCK_PORT/health" || die "mock did not start"

SPORT=$(free_port)
cat >"$WORK/sluice.yaml" <<EOF
server: { listen: "127.0.0.1:$SPORT" }
providers:
  - { name: mock-upstream, type: openai, base_url: "http://127.0.0.1:$MOCK_PORT/v1", max_idle_connections: 256 }
models:
  - { name: gpt-4o-mini, deployments: [ { provider: mock-upstream, model: gpt-4o-mini } ] }
logging: { level: warn }
EOF
start_sluice() {
  if [ "${1:-}" = callgrind ]; then
    ( exec taskset -c 1 valgrind --tool=callgrind --callgrind-out-file="$WORK/callgrind.out" "$SLUICE_BIN" --config "$WORK/sluice.yaml" ) >"$WORK/sluice.log" 2>&1 &
  else
    ( exec taskset -c 1 "$SLUICE_BIN" --config "$WORK/sluice.yaml" ) >"$WORK/sluice.log" 2>&1 &
  fi
  SPID=$!; STARTED+=($SPID)
  wait_http "http://127.0.0.1:$SPORT/healthz" || die "sluice did not start: $(tail -c 300 "$WORK/sluice.log")"
}
SURL="http://127.0.0.1:$SPORT"

echo "# sluice profile ($(date -u +%FT%TZ))"
echo
echo "Binary \`$SLUICE_BIN\`; $(nproc) vCPU \`$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)\`, kernel $(uname -r). Mock + wrk on CPU 0, sluice on CPU 1, logging.level warn, ~1 KB chat body. Work dir: \`$WORK\`."
echo

if [ $PERF_OK = 1 ]; then
  start_sluice
  wrk_run "$SURL" 16 2 "$WORK/warmup.txt"
  for c in $CONNS; do
    wrk_run "$SURL" "$c" $((DURATION + 2)) "$WORK/wrk-c$c.txt" &
    WPID=$!
    sleep 1
    t0=$(awk '{print $14+$15}' "/proc/$SPID/stat"); w0=$(date +%s%N)
    timeout $((DURATION + 20)) perf record -q -e cpu-clock -F 1999 --call-graph fp -o "$WORK/perf-c$c.data" -p "$SPID" -- sleep "$DURATION" >/dev/null 2>&1
    t1=$(awk '{print $14+$15}' "/proc/$SPID/stat"); w1=$(date +%s%N)
    wait $WPID
    reqs=$(wrk_reqs "$WORK/wrk-c$c.txt")
    rps=$(python3 -c "print(round($reqs/($DURATION+2)))")
    echo "## $c connection(s): perf (cpu-clock, 1999 Hz, ${DURATION} s)"
    echo
    echo "wrk: $reqs requests in $((DURATION + 2)) s (~$rps req/s, under perf); sluice used $(python3 -c "print(round(($t1-$t0)/$(getconf CLK_TCK)/(($w1-$w0)/1e9)*100))")% of a core while sampled."
    echo
    python3 "$BENCH/perf_categories.py" "$WORK/perf-c$c.data" --top 20
    echo
  done
else
  echo "perf is not usable here: callgrind of a bounded 1-connection run (instruction counts, not time)."
  echo
  start_sluice callgrind
  wrk_run "$SURL" 1 5 "$WORK/wrk-callgrind.txt"
  kill -TERM "$SPID"; wait "$SPID" 2>/dev/null
  echo "wrk: $(wrk_reqs "$WORK/wrk-callgrind.txt") requests under callgrind"
  echo; echo '```'; callgrind_annotate --inclusive=yes "$WORK/callgrind.out" 2>/dev/null | head -60; echo '```'
  start_sluice
fi

# syscalls per request: sluice, and nginx (one proxy hop) for reference
strace_per_req() {  # NAME PID URL
  command -v strace >/dev/null || { echo "(strace not installed: skipped)"; return; }
  wrk_run "$3" 4 1 /dev/null
  timeout $((STRACE_S + 20)) strace -f -c -o "$WORK/strace-$1.txt" -p "$2" >/dev/null 2>&1 &
  local sp=$!; sleep 1
  wrk_run "$3" 1 "$STRACE_S" "$WORK/wrk-strace-$1.txt"
  sleep 0.3; kill -INT "$sp" 2>/dev/null; wait "$sp" 2>/dev/null
  local n; n=$(wrk_reqs "$WORK/wrk-strace-$1.txt")
  echo "### $1: syscalls per request (strace -c, 1 connection, $n requests)"
  echo
  echo "| syscall | per request |"; echo "|---|---:|"
  awk -v n="$n" '$1 ~ /^[0-9.]+$/ && NF >= 5 && $NF != "total" && $NF != "futex" && $NF != "restart_syscall" {
                   if ($4 / n >= 0.05) { printf "| %s | %.2f |\n", $NF, $4 / n; t += $4 / n } }
                 END { printf "| **total** (futex excluded) | %.2f |\n", t }' "$WORK/strace-$1.txt"
  echo
}
echo "## Syscalls per request"
echo
strace_per_req sluice "$SPID" "$SURL"
NGINX_BIN=$(command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true)
if [ -n "$NGINX_BIN" ] && [ -f "$PEERS/gateways/nginx/nginx.conf.tmpl" ]; then
  NPORT=$(free_port); mkdir -p "$WORK/nginx-tmp"
  sed -e "s#@RUN@#$WORK#g" -e "s#@PORT@#$NPORT#g" -e "s#@UPSTREAM@#127.0.0.1:$MOCK_PORT#g" "$PEERS/gateways/nginx/nginx.conf.tmpl" >"$WORK/nginx.conf"
  ( exec taskset -c 1 "$NGINX_BIN" -p "$WORK" -c "$WORK/nginx.conf" ) >"$WORK/nginx.log" 2>&1 & NGPID=$!; STARTED+=($NGPID)
  if wait_http "http://127.0.0.1:$NPORT/health"; then
    strace_per_req nginx "$(ps -o pid= --ppid "$NGPID" | head -1 | tr -d ' ')" "http://127.0.0.1:$NPORT"
  fi
fi
echo "Raw data: \`$WORK\` (perf-c*.data: \`perf report -i FILE\`)."
