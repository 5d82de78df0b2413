#!/usr/bin/env bash
# bench/run.sh - what does a hop through sluice cost?
#
# Starts a fast mock OpenAI upstream (the C mock of ../shared/bench-peers, compiled
# into a temp dir) pinned to CPU 0, sluice pinned to CPU 1 with an `openai` provider
# pointing at the mock, optionally nginx (the cheapest possible proxy hop, same
# config as the peer harness) on CPU 1, and measures with wrk (CPU 0):
#   - non-streaming load at 1 and 64 connections, direct to the mock vs through
#     sluice (and nginx), alternating targets, N repetitions, medians;
#   - streaming time to first byte (N sequential SSE requests, one keep-alive connection);
#   - sluice RSS idle (before any request) and after load (VmRSS, VmHWM).
# A second sluice ("sluice-log": logging.level info, access log on) shows what the
# access log costs, and a third ("sluice-nometrics": metrics.enabled false) what
# recording every request's metrics costs (`sluice` has them on, the default).
# Everything listens on 127.0.0.1; every load run is bounded.
#
#   bench/run.sh                          # full: 3 repetitions x 10 s, ~8-10 min
#   bench/run.sh --quick                  # smoke: 1 repetition x 3 s, ~1-2 min
#   bench/run.sh --sluice build-bench/src/sluice --out docs/bench-run.md
#
# Options
#   --sluice PATH        sluice binary (default build/src/sluice; relative to the repo root)
#   --repeats N          repetitions of the whole matrix (default 3); medians are reported
#   --duration S         seconds per wrk run (default 10)
#   --conns "1 64"       connection counts (default "1 64")
#   --warmup S           unrecorded warm-up per target at 16 connections (default 2)
#   --stream-n N         streaming requests per probe (default 200); --no-stream skips
#   --quick              --repeats 1 --duration 3 --warmup 1 --stream-n 50
#   --no-nginx           do not run the nginx reference (default: run it when nginx exists)
#   --no-access-log-run  do not run the second sluice with the access log on
#   --no-metrics-off-run do not run "sluice-nometrics" (metrics.enabled: false)
#   --pool               also run "sluice-pool": the same binary with 3 providers (all at the
#                        mock), weights 3/2/1 and RPM/TPM limits on providers and deployments set
#                        high enough never to refuse: what pool choice and bucket accounting cost
#   --also NAME=PATH     A/B: also run another sluice binary (same config as `sluice`) as target
#                        NAME, in the same alternating runs; repeatable. PATH may be a wrapper
#                        script that ends in `exec /path/to/sluice "$@"` (e.g. to set LD_PRELOAD)
#   --no-hot-cores       do not keep the vCPUs awake with SCHED_IDLE spinners (see below)
#   --no-pin             do not pin with taskset
#   --nice N             run mock, gateways, wrk and the probe at this nice level (default -20
#                        when root, else 0): on a shared machine, other people's CPU-bound jobs
#                        (compilers at nice 0) then barely delay the measured processes
#   --foreign-max PCT    retry a run when other processes used > PCT% of a core (default 15)
#   --max-retries N      retries per run (default 2)
#   --quiet-wait S       before each run, wait up to S s for the machine to be quiet (default 30)
#   --out FILE           also write the markdown summary to FILE
#   --keep               keep the work dir (configs, logs, raw wrk output, results.jsonl)
# Environment: BENCH_PEERS (default <repo>/../shared/bench-peers) locates the mock source
#   and the nginx config template.
#
# Requires: wrk, gcc (+libc6-dev), taskset/chrt (util-linux), node (stream probe),
# python3 (summary), curl; nginx optional. wrk/gcc are installed with apt-get when missing.
set -uo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
BENCH="$ROOT/bench"
PEERS=${BENCH_PEERS:-$ROOT/../shared/bench-peers}

SLUICE_BIN="build/src/sluice"; REPEATS=3; DURATION=10; CONNS="1 64"; WARMUP=2
STREAM_N=200; STREAM_WARMUP=10; STREAM_CHUNKS=20; STREAM_DELAY_MS=2; DO_STREAM=1
DO_NGINX=1; DO_LOGRUN=1; DO_NOMETRICS=1; HOT_CORES=1; PIN=1; FOREIGN_MAX=15; MAX_RETRIES=2
OUT=""; KEEP=0; QUIET_WAIT=30; ALSO=(); DO_POOL=0
NICE=$([ "$(id -u)" = 0 ] && echo -20 || echo 0)
LOADGEN_CPU=0; GW_CPU=1

die() { echo "bench/run.sh: $*" >&2; exit 1; }
while [ $# -gt 0 ]; do
  case "$1" in
    --sluice) SLUICE_BIN=$2; shift 2;;
    --repeats) REPEATS=$2; shift 2;;
    --duration) DURATION=$2; shift 2;;
    --conns) CONNS=$2; shift 2;;
    --warmup) WARMUP=$2; shift 2;;
    --stream-n) STREAM_N=$2; shift 2;;
    --no-stream) DO_STREAM=0; shift;;
    --quick) REPEATS=1; DURATION=3; WARMUP=1; STREAM_N=50; shift;;
    --no-nginx) DO_NGINX=0; shift;;
    --no-access-log-run) DO_LOGRUN=0; shift;;
    --no-metrics-off-run) DO_NOMETRICS=0; shift;;
    --also) ALSO+=("$2"); shift 2;;
    --pool) DO_POOL=1; shift;;
    --no-hot-cores) HOT_CORES=0; shift;;
    --no-pin) PIN=0; HOT_CORES=0; shift;;
    --foreign-max) FOREIGN_MAX=$2; shift 2;;
    --max-retries) MAX_RETRIES=$2; shift 2;;
    --quiet-wait) QUIET_WAIT=$2; shift 2;;
    --nice) NICE=$2; shift 2;;
    --out) OUT=$2; shift 2;;
    --keep) KEEP=1; shift;;
    -h|--help) sed -n '2,47p' "$0"; exit 0;;
    *) die "unknown option '$1' (see --help)";;
  esac
done
for v in REPEATS DURATION WARMUP STREAM_N FOREIGN_MAX MAX_RETRIES QUIET_WAIT; do
  [[ "${!v}" =~ ^[0-9]+$ ]] || die "$v must be a whole number (got '${!v}')"
done
[[ "$NICE" =~ ^-?[0-9]+$ ]] && [ "$NICE" -ge -20 ] && [ "$NICE" -le 19 ] || die "--nice must be -20..19"
[ "$REPEATS" -ge 1 ] && [ "$REPEATS" -le 20 ] || die "--repeats must be 1..20"
[ "$DURATION" -ge 1 ] && [ "$DURATION" -le 120 ] || die "--duration must be 1..120 s"
[ "$STREAM_N" -ge 1 ] && [ "$STREAM_N" -le 5000 ] || die "--stream-n must be 1..5000"
for c in $CONNS; do [[ "$c" =~ ^[0-9]+$ ]] && [ "$c" -ge 1 ] && [ "$c" -le 1024 ] || die "--conns: 1..1024 each"; done
[[ "$SLUICE_BIN" == /* ]] || SLUICE_BIN="$ROOT/$SLUICE_BIN"
[ -x "$SLUICE_BIN" ] || die "sluice binary not found: $SLUICE_BIN (build it, or pass --sluice PATH)"
[ -f "$PEERS/mock/mock-upstream.c" ] || die "mock source not found: $PEERS/mock/mock-upstream.c (set BENCH_PEERS)"
if [ "$(nproc)" -lt 2 ]; then PIN=0; HOT_CORES=0; echo "bench: fewer than 2 CPUs: no pinning"; fi

# ------------------------------------------------------------------ prerequisites
as_root() { if [ "$(id -u)" = 0 ]; then "$@"; elif command -v sudo >/dev/null; then sudo -n "$@"; else return 1; fi; }
need=()
command -v wrk >/dev/null || need+=(wrk)
command -v gcc >/dev/null || need+=(gcc libc6-dev)
command -v taskset >/dev/null && command -v chrt >/dev/null || need+=(util-linux)
command -v curl >/dev/null || need+=(curl)
if [ ${#need[@]} -gt 0 ]; then
  echo "bench: installing Debian packages: ${need[*]}"
  as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${need[@]}" >/dev/null \
    || die "could not install ${need[*]} (run as root or with passwordless sudo)"
fi
command -v node >/dev/null || die "node is required for the streaming probe (Node 20)"
command -v python3 >/dev/null || die "python3 is required for the summary"
NGINX_BIN=$(command -v nginx || { [ -x /usr/sbin/nginx ] && echo /usr/sbin/nginx; } || true)
if [ $DO_NGINX = 1 ] && { [ -z "$NGINX_BIN" ] || [ ! -f "$PEERS/gateways/nginx/nginx.conf.tmpl" ]; }; then
  echo "bench: nginx (Debian nginx-light) or its config template not found: no nginx reference"; DO_NGINX=0
fi

# ------------------------------------------------------------------ work dir, process bookkeeping
WORK=$(mktemp -d /tmp/sluice-bench.XXXXXX)
JSONL="$WORK/results.jsonl"; : >"$JSONL"
CLK=$(getconf CLK_TCK)
STARTED=()
tree_pids() { local p c; for p in "$@"; do [[ "$p" =~ ^[0-9]+$ ]] && [ -d "/proc/$p" ] || continue; echo "$p"
  for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do tree_pids "$c"; done; done; }
cleanup() {
  trap - EXIT INT TERM
  local i pid all=()
  for ((i=${#STARTED[@]}-1; i>=0; i--)); do all+=($(tree_pids "${STARTED[$i]}")); done
  for pid in "${all[@]}"; do kill -TERM "$pid" 2>/dev/null; done
  for pid in "${all[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -0 "$pid" 2>/dev/null && kill -KILL "$pid" 2>/dev/null
  done
  wait 2>/dev/null
  if [ $KEEP = 1 ]; then echo "bench: work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'echo "bench: interrupted"; exit 130' INT TERM

pin() { if [ $PIN = 1 ]; then echo taskset -c "$1"; fi; [ "$NICE" != 0 ] && echo nice -n "$NICE"; }
start_bg() {  # start_bg NAME CPU CMD... -> LAST_PID (the command itself, exec'd)
  local name=$1 cpu=$2; shift 2
  ( exec $(pin "$cpu") "$@" ) >"$WORK/$name.log" 2>&1 &
  LAST_PID=$!; STARTED+=("$LAST_PID")
}
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
wait_http() { for _ in $(seq 1 100); do curl -s -o /dev/null --max-time 1 "$1" && return 0; sleep 0.1; done; return 1; }
status_kb() { awk -v k="$1:" '$1==k{print $2}' "/proc/$2/status" 2>/dev/null || echo 0; }
pids_ticks() { local f=() p; for p in "$@"; do [ -r "/proc/$p/stat" ] && f+=("/proc/$p/stat"); done
  [ ${#f[@]} -eq 0 ] && { echo 0; return; }
  awk '{ s=$0; sub(/^.*\) /, "", s); split(s, a, " "); t += a[12] + a[13] } END { print t+0 }' "${f[@]}" 2>/dev/null || echo 0; }
our_pids() { tree_pids "${STARTED[@]}"; }
busy_ticks() { awk '/^cpu[0-9]+ /{s+=$2+$3+$4} END{print s+0}' /proc/stat; }
jstr() { python3 -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }
emit() { echo "$1" >>"$JSONL"; }

# Wait (<= QUIET_WAIT s) until processes that are not ours use < FOREIGN_MAX % of a core.
wait_quiet() {
  local i b0 b1 o0 o1 ours f
  ours=$(our_pids)
  for i in $(seq 1 "$QUIET_WAIT"); do
    b0=$(busy_ticks); o0=$(pids_ticks $ours); sleep 1; b1=$(busy_ticks); o1=$(pids_ticks $ours)
    f=$(( ((b1-b0) - (o1-o0)) * 100 / CLK ))
    [ "$f" -le "$FOREIGN_MAX" ] && return 0
    [ "$i" = 1 ] && echo "    (other processes are using ${f}% of a core: waiting up to ${QUIET_WAIT} s)"
  done
  return 1
}

# ------------------------------------------------------------------ start processes
echo "== bench: sluice $("$SLUICE_BIN" --version 2>/dev/null | head -1) ($SLUICE_BIN)"
echo "   work dir $WORK"
if [ $HOT_CORES = 1 ]; then
  # On this kind of VM an idle vCPU halts and takes 1-5 ms to wake, which turns
  # 1-connection tails into milliseconds for any cross-core hop. A SCHED_IDLE busy
  # loop per CPU keeps them awake; any normal task preempts it at once. Bounded by
  # `timeout` in case this script is killed with SIGKILL.
  for cpu in $LOADGEN_CPU $GW_CPU; do start_bg "hot-core-$cpu" "$cpu" chrt -i 0 timeout 3600 bash -c 'while :; do :; done'; done
fi

gcc -O2 -w -o "$WORK/mock-upstream" "$PEERS/mock/mock-upstream.c" -lm || die "could not compile the mock upstream"
MOCK_PORT=$(free_port)
start_bg mock "$LOADGEN_CPU" "$WORK/mock-upstream" -p "$MOCK_PORT"; MOCK_PID=$LAST_PID
wait_http "http://127.0.0.1:$MOCK_PORT/health" || die "mock upstream did not start ($(tail -c 300 "$WORK/mock.log"))"

declare -A URL=() ROOTPID=() RSS_IDLE=()
TARGETS=(direct)
URL[direct]="http://127.0.0.1:$MOCK_PORT"; ROOTPID[direct]=$MOCK_PID

write_sluice_config() {  # FILE PORT LEVEL ACCESS_LOG [pool] [METRICS_ENABLED]
  if [ "${5:-}" = pool ]; then
    # Three accounts at the same mock; limits everywhere, far above what the load reaches.
    printf '# generated by bench/run.sh --pool\nserver:\n  listen: "127.0.0.1:%s"\nproviders:\n' "$2" >"$1"
    for i in 1 2 3; do
      printf '  - { name: mock-%s, type: openai, base_url: "http://127.0.0.1:%s/v1", max_idle_connections: 256,\n' "$i" "$MOCK_PORT"
      printf '      rpm: 2000000000, tpm: 2000000000, weight: %s }\n' $((4 - i))
    done >>"$1"
    printf 'models:\n  - name: gpt-4o-mini\n    deployments:\n' >>"$1"
    for i in 1 2 3; do
      printf '      - { provider: mock-%s, model: gpt-4o-mini, rpm: 1000000000, tpm: 2000000000 }\n' "$i"
    done >>"$1"
    printf 'logging:\n  level: %s\n  access_log: %s\nmetrics:\n  enabled: %s\n' "$3" "$4" "${6:-true}" >>"$1"
    return
  fi
  cat >"$1" <<EOF
# generated by bench/run.sh
server:
  listen: "127.0.0.1:$2"
providers:
  - name: mock-upstream
    type: openai
    base_url: http://127.0.0.1:$MOCK_PORT/v1
    max_idle_connections: 256
models:
  - name: gpt-4o-mini
    deployments:
      - { provider: mock-upstream, model: gpt-4o-mini }
logging:
  level: $3
  access_log: $4
metrics:
  enabled: ${6:-true}
EOF
}
start_sluice() {  # NAME LEVEL ACCESS_LOG [BINARY] [pool] [METRICS_ENABLED]
  local name=$1 bin=${4:-$SLUICE_BIN} port; port=$(free_port)
  write_sluice_config "$WORK/$name.yaml" "$port" "$2" "$3" "${5:-}" "${6:-true}"
  "$bin" --check-config --config "$WORK/$name.yaml" >/dev/null || die "generated config rejected by $bin: $WORK/$name.yaml"
  start_bg "$name" "$GW_CPU" "$bin" --config "$WORK/$name.yaml"
  ROOTPID[$name]=$LAST_PID; URL[$name]="http://127.0.0.1:$port"; TARGETS+=("$name")
  wait_http "http://127.0.0.1:$port/healthz" || die "$name did not start ($(tail -c 400 "$WORK/$name.log"))"
}
start_sluice sluice warn true
[ $DO_LOGRUN = 1 ] && start_sluice sluice-log info true
[ $DO_NOMETRICS = 1 ] && start_sluice sluice-nometrics warn true "$SLUICE_BIN" "" false
[ $DO_POOL = 1 ] && start_sluice sluice-pool warn true "$SLUICE_BIN" pool
for a in "${ALSO[@]}"; do
  n=${a%%=*}; b=${a#*=}
  [[ "$n" =~ ^[A-Za-z0-9._-]+$ && "$n" != "$a" ]] || die "--also wants NAME=PATH (got '$a')"
  [[ "$b" == /* ]] || b="$ROOT/$b"
  [ -x "$b" ] || die "--also $n: not executable: $b"
  start_sluice "$n" warn true "$b"
done

if [ $DO_NGINX = 1 ]; then
  NGINX_PORT=$(free_port)
  mkdir -p "$WORK/nginx-tmp"
  sed -e "s#@RUN@#$WORK#g" -e "s#@PORT@#$NGINX_PORT#g" -e "s#@UPSTREAM@#127.0.0.1:$MOCK_PORT#g" \
    "$PEERS/gateways/nginx/nginx.conf.tmpl" >"$WORK/nginx.conf"
  start_bg nginx "$GW_CPU" "$NGINX_BIN" -p "$WORK" -c "$WORK/nginx.conf"
  ROOTPID[nginx]=$LAST_PID; URL[nginx]="http://127.0.0.1:$NGINX_PORT"
  if wait_http "http://127.0.0.1:$NGINX_PORT/health"; then TARGETS+=(nginx)
  else echo "bench: nginx did not start ($(tail -c 300 "$WORK/nginx.log")): no nginx reference"; fi
fi
sleep 2   # settle before the idle memory sample

for t in "${TARGETS[@]}"; do
  RSS_IDLE[$t]=0; for p in $(tree_pids "${ROOTPID[$t]}"); do RSS_IDLE[$t]=$(( ${RSS_IDLE[$t]} + $(status_kb VmRSS "$p") )); done
done

# functional check through every target: a chat.completion and a complete SSE stream
for t in "${TARGETS[@]}"; do
  u="${URL[$t]}/v1/chat/completions"
  code=$(curl -s -o "$WORK/check-$t.json" -w '%{http_code}' --max-time 10 -H 'content-type: application/json' \
         --data-binary @"$BENCH/payloads/chat-request.json" "$u")
  [ "$code" = 200 ] && grep -q '"chat.completion"' "$WORK/check-$t.json" || die "$t: non-streaming check failed: HTTP $code $(head -c 300 "$WORK/check-$t.json")"
  python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); d["stream"]=True; print(json.dumps(d))' "$BENCH/payloads/chat-request.json" >"$WORK/stream-body.json"
  curl -s -N --max-time 10 -H 'content-type: application/json' --data-binary @"$WORK/stream-body.json" "$u" >"$WORK/check-$t.sse"
  grep -q '^data: \[DONE\]' "$WORK/check-$t.sse" || die "$t: streaming check failed: $(head -c 300 "$WORK/check-$t.sse")"
  echo "   $t: ok ${URL[$t]} (idle RSS ${RSS_IDLE[$t]} kB)"
done

emit "$(python3 - "$DURATION" "$CONNS" "$REPEATS" "$PIN" "$HOT_CORES" "$STREAM_N" "$STREAM_CHUNKS" "$STREAM_DELAY_MS" \
  "$(nproc)" "$(awk -F': ' '/model name/{print $2; exit}' /proc/cpuinfo)" "$(uname -r)" "$(wrk -v 2>&1 | head -1)" \
  "$("$SLUICE_BIN" --version 2>&1 | head -1)" "$SLUICE_BIN" "$(node -v)" "$([ -n "$NGINX_BIN" ] && "$NGINX_BIN" -v 2>&1 | head -1)" \
  "$(date -u +%FT%TZ)" "$FOREIGN_MAX" "$(awk '/MemTotal/{print $2}' /proc/meminfo)" "$NICE" <<'EOF'
import json, sys
a = sys.argv[1:]
print(json.dumps({"type": "meta", "duration_s": int(a[0]), "conns": [int(x) for x in a[1].split()], "repeats": int(a[2]),
  "pin": a[3] == "1", "hot_cores": a[4] == "1", "stream_n": int(a[5]), "stream_chunks": int(a[6]), "stream_delay_ms": float(a[7]),
  "nproc": int(a[8]), "cpu": a[9], "kernel": a[10], "wrk": a[11], "sluice": a[12], "sluice_bin": a[13], "node": a[14],
  "nginx": a[15], "date": a[16], "foreign_max_pct": int(a[17]), "mem_kb": int(a[18]), "nice": int(a[19])}))
EOF
)"
for t in "${TARGETS[@]}"; do emit "{\"type\":\"target\",\"name\":\"$t\",\"url\":\"${URL[$t]}\",\"rss_idle_kb\":${RSS_IDLE[$t]}}"; done

# ------------------------------------------------------------------ load runs
run_wrk() {  # TARGET CONNS SECONDS OUTFILE -> W_JSON W_FOREIGN W_CPU
  local t=$1 c=$2 d=$3 out=$4 ours b0 b1 o0 o1 g0 g1 wt
  ours=$(our_pids); g0=$(pids_ticks $(tree_pids "${ROOTPID[$t]}"))
  b0=$(busy_ticks); o0=$(pids_ticks $ours)
  /usr/bin/time -f '%U %S' -o "$WORK/wrk.time" timeout $((d + 30)) $(pin $LOADGEN_CPU) \
    wrk -t1 -c"$c" -d"${d}s" --timeout 10s --latency -s "$BENCH/chat.lua" "${URL[$t]}/v1/chat/completions" >"$out" 2>&1
  b1=$(busy_ticks); o1=$(pids_ticks $ours); g1=$(pids_ticks $(tree_pids "${ROOTPID[$t]}"))
  wt=$(awk -v clk="$CLK" '{printf "%d", ($1+$2)*clk}' "$WORK/wrk.time" 2>/dev/null); wt=${wt:-0}
  W_JSON=$(grep -a '^WRKJSON ' "$out" | head -1 | cut -d' ' -f2-)
  [ -n "$W_JSON" ] || W_JSON='{"error":"wrk produced no result"}'
  W_FOREIGN=$(( ((b1-b0) - (o1-o0) - wt) * 100 / (CLK * d) )); [ "$W_FOREIGN" -lt 0 ] && W_FOREIGN=0
  W_CPU=$((g1-g0))
}
show_load() { python3 -c '
import json,sys; d=json.loads(sys.argv[1]); r=d.get("requests",0)/max(d.get("duration_us",1),1)*1e6
e=sum(d.get(k,0) for k in ("err_connect","err_read","err_write","err_status","err_timeout"))
print("    %-16s %8.0f req/s  p50=%6s p90=%6s p99=%7s us  errors=%d  foreign=%s%%%s" % (sys.argv[2], r, d.get("p50_us"), d.get("p90_us"), d.get("p99_us"), e, sys.argv[3], sys.argv[4]))' "$@"; }

echo "== warm-up: ${WARMUP}s at 16 connections per target (not recorded)"
for t in "${TARGETS[@]}"; do run_wrk "$t" 16 "$WARMUP" "$WORK/warmup-$t.txt"; show_load "$W_JSON" "$t" "$W_FOREIGN" ""; done

stream_probe() {  # TARGET SCENARIO REP
  local t=$1 sc=$2 rep=$3 attempt line ours b0 b1 o0 o1 t0 t1 el pt fp
  for attempt in $(seq 0 "$MAX_RETRIES"); do
    wait_quiet || true
    ours=$(our_pids); b0=$(busy_ticks); o0=$(pids_ticks $ours); t0=$(date +%s%N)
    line=$(/usr/bin/time -f '%U %S' -o "$WORK/probe.time" timeout 300 $(pin $LOADGEN_CPU) node "$BENCH/stream-ttfb.mjs" \
             --url "${URL[$t]}/v1/chat/completions" --n "$STREAM_N" --warmup "$STREAM_WARMUP" --label "$t" \
             2>>"$WORK/stream-$t.err" | grep '^PROBEJSON ' | cut -d' ' -f2-)
    b1=$(busy_ticks); o1=$(pids_ticks $ours); t1=$(date +%s%N)
    pt=$(awk -v clk="$CLK" '{printf "%d", ($1+$2)*clk}' "$WORK/probe.time" 2>/dev/null); pt=${pt:-0}
    el=$(( (t1 - t0) / 10000000 )); [ "$el" -gt 0 ] || el=1                       # 1/100 s
    fp=$(( ((b1-b0) - (o1-o0) - pt) * 10000 / (CLK * el) )); [ "$fp" -lt 0 ] && fp=0
    [ "$el" -lt 200 ] && fp=0     # < 2 s: tick accounting too coarse to judge; keep the attempt
    [ -n "$line" ] || line='{"error":"probe failed"}'
    emit "{\"type\":\"stream\",\"rep\":$rep,\"scenario\":\"$sc\",\"target\":\"$t\",\"attempt\":$attempt,\"foreign_pct\":$fp,\"probe\":$line}"
    python3 -c 'import json,sys; d=json.loads(sys.argv[1]); t=d.get("ttfb_us") or {}; T=d.get("total_us") or {}
print("    %-16s %-6s ok=%s/%s  ttfb p50=%s p99=%s  total p50=%s p99=%s us  events=%s  foreign=%s%%" % (sys.argv[2], sys.argv[3], d.get("ok"), d.get("n"), t.get("p50"), t.get("p99"), T.get("p50"), T.get("p99"), d.get("events_p50"), sys.argv[4]))' "$line" "$t" "$sc" "$fp"
    [ "$fp" -le "$FOREIGN_MAX" ] && break
  done
}
mock_cfg() { curl -s -o /dev/null --max-time 2 "http://127.0.0.1:$MOCK_PORT/__mock/config?$1"; }

NT=${#TARGETS[@]}
for rep in $(seq 1 "$REPEATS"); do
  order=(); for i in $(seq 0 $((NT-1))); do order+=("${TARGETS[$(( (i + rep - 1) % NT ))]}"); done
  for c in $CONNS; do
    echo "== rep $rep/$REPEATS, $c connection(s), ${DURATION}s each: ${order[*]}"
    for t in "${order[@]}"; do
      for attempt in $(seq 0 "$MAX_RETRIES"); do
        wait_quiet || echo "    (machine still busy: measuring anyway; the run is flagged)"
        run_wrk "$t" "$c" "$DURATION" "$WORK/wrk-r$rep-c$c-$t-a$attempt.txt"
        emit "{\"type\":\"load\",\"rep\":$rep,\"conc\":$c,\"target\":\"$t\",\"attempt\":$attempt,\"foreign_pct\":$W_FOREIGN,\"cpu_ticks\":$W_CPU,\"clk_tck\":$CLK,\"wrk\":$W_JSON}"
        show_load "$W_JSON" "$t" "$W_FOREIGN" "$([ "$W_FOREIGN" -gt "$FOREIGN_MAX" ] && echo '  NOISY')"
        [ "$W_FOREIGN" -le "$FOREIGN_MAX" ] && break
        [ "$attempt" -lt "$MAX_RETRIES" ] && { echo "    -> retrying $t (foreign CPU ${W_FOREIGN}%)"; sleep 2; }
      done
    done
  done
  if [ $DO_STREAM = 1 ]; then
    echo "== rep $rep/$REPEATS, streaming TTFB: $STREAM_N sequential requests, $STREAM_CHUNKS chunks"
    for sc in burst paced; do
      if [ $sc = burst ]; then mock_cfg "chunks=$STREAM_CHUNKS&chunk_delay_ms=0"; else mock_cfg "chunks=$STREAM_CHUNKS&chunk_delay_ms=$STREAM_DELAY_MS"; fi
      for t in "${order[@]}"; do stream_probe "$t" "$sc" "$rep"; done
    done
    mock_cfg "reset=1"
  fi
done

for t in "${TARGETS[@]}"; do
  after=0; hwm=0
  for p in $(tree_pids "${ROOTPID[$t]}"); do after=$((after + $(status_kb VmRSS "$p"))); hwm=$((hwm + $(status_kb VmHWM "$p"))); done
  emit "{\"type\":\"memory\",\"target\":\"$t\",\"rss_idle_kb\":${RSS_IDLE[$t]},\"rss_after_kb\":$after,\"hwm_kb\":$hwm}"
done

echo "== summary"
echo
python3 "$BENCH/summarize.py" "$JSONL" ${OUT:+--out "$OUT"} || die "summary failed (raw data: $JSONL; rerun with --keep)"
[ -n "$OUT" ] && echo "bench: wrote $OUT"
# keep the (small) JSON lines next to the report so it can be re-rendered with summarize.py
[ -n "$OUT" ] && cp "$JSONL" "${OUT%.md}.jsonl"
exit 0
