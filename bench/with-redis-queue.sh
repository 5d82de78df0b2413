#!/usr/bin/env bash
# A bench/run.sh --also wrapper: the same config plus `queue.backend: redis`
# and a `redis:` section naming $BENCH_REDIS_URL, so one run compares the
# direct path with the memory queue (the default) and with the redis queue
# configured and idle:
#   BENCH_REDIS_URL=redis://127.0.0.1:PORT/0 bench/run.sh --also redis-queue=bench/with-redis-queue.sh
: "${BENCH_REDIS_URL:?set BENCH_REDIS_URL to a Redis the benchmark may use}"
exec "$(dirname "$0")/append-config.sh" "$(printf 'queue:\n  backend: redis\nredis:\n  url: "%s"' "$BENCH_REDIS_URL")" "$@"
