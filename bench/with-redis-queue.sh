#!/usr/bin/env bash
# A bench/run.sh --also wrapper: runs sluice on the config it is given plus
# `queue.backend: redis` and a `redis:` section naming $BENCH_REDIS_URL, so
# one run compares the direct path with the memory queue (the default) and
# with the redis queue configured and idle:
#   BENCH_REDIS_URL=redis://127.0.0.1:PORT/0 SLUICE=build/src/sluice \
#     bench/run.sh --also redis-queue=bench/with-redis-queue.sh
set -euo pipefail
: "${BENCH_REDIS_URL:?set BENCH_REDIS_URL to a Redis the benchmark may use}"
sluice=${SLUICE:-$(dirname "$0")/../build/src/sluice}
args=()
while [ $# -gt 0 ]; do
  if [ "$1" = --config ]; then
    redis_config="${2%.yaml}.redis-queue.yaml"
    { cat "$2"; printf 'queue:\n  backend: redis\nredis:\n  url: "%s"\n' "$BENCH_REDIS_URL"; } >"$redis_config"
    args+=(--config "$redis_config")
    shift 2
  else
    args+=("$1")
    shift
  fi
done
exec "$sluice" "${args[@]}"
